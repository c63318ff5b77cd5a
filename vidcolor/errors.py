"""The one error type for bad user input; the CLI turns it into one line and exit code 1."""


class VidcolorError(Exception):
    """Bad input or an unusable environment (missing file, not a video, no ffmpeg, unknown model)."""
