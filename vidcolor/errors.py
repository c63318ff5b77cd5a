"""The one error type for bad user input; the CLI turns it into one line and exit code 1."""


class VidcolorError(Exception):
    """Bad input or an unusable environment (missing file, not a video, no ffmpeg, unknown model)."""


class UnreadableInput(VidcolorError):
    """An input file that cannot be read at all (not a video, damaged before its first frame): a folder run with
    ``--ignore-errors`` skips it with a warning."""


class DamagedInput(VidcolorError):
    """A video frame that cannot be decoded in the middle of a stream (damaged data): a run writes nothing, unless
    ``--ignore-errors`` skips such frames as ffmpeg does (:class:`~vidcolor.io.VideoReader`'s ``keep_going``)."""


def add_note(exc: BaseException, note: str) -> None:
    """Add ``note`` to ``exc``'s notes (``__notes__``, as :meth:`BaseException.add_note` of Python 3.11 does, which
    3.10 lacks): what a failed or interrupted run kept, which the CLI appends to its error or interrupted line and
    a traceback shows."""
    exc.__notes__ = [*getattr(exc, "__notes__", ()), note]
