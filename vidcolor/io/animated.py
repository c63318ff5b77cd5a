"""Animated images (GIF, APNG, animated WebP and AVIF) read as video: frames through Pillow, which composes each
frame from the disposal and blending rules of its format (FFmpeg cannot decode animated WebP)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from vidcolor.errors import VidcolorError
from vidcolor.io.limits import check_frame_size
from vidcolor.io.reader import VideoInfo
from vidcolor.io.timing import Timeline

ANIMATED_SUFFIXES = (".gif", ".png", ".apng", ".webp", ".avif")
"""The suffixes of :data:`~vidcolor.io.images.IMAGE_SUFFIXES` whose formats hold animations (a multi-page TIFF is
not one: its first page is read as a still)."""

DEFAULT_DELAY_MS = 100
"""Frame delay assumed where an animation gives none (browsers show such GIFs at about 10 fps)."""


def is_animated(path: str | Path) -> bool:
    """True for an image file of more than one frame (animated GIF, APNG, animated WebP or AVIF)."""
    if Path(path).suffix.lower() not in ANIMATED_SUFFIXES or not Path(path).is_file():
        return False
    try:
        with Image.open(path) as im:
            return getattr(im, "n_frames", 1) > 1
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return False


def _delay(frame: Image.Image) -> float | None:
    """A frame's delay in ms (WebP sets it only once the frame is loaded)."""
    if "duration" not in frame.info:
        frame.load()
    return frame.info.get("duration")


class AnimatedImageReader:
    """An animated image's frames as uint8 RGB ``(H, W, 3)``, with :class:`~vidcolor.io.VideoInfo`
    like :class:`~vidcolor.io.VideoReader` (the frame rate is the mean of the frame delays, exact to
    1/1000 s; ``timeline`` holds every frame's own time, from the delays, in ms; transparency is
    composited on black; no audio).

    Raises:
        VidcolorError: unreadable, or a frame larger than the frame-size limits (each frame's size is checked
            before it is decoded: a GIF frame may reach beyond the header's size).
    """

    raw_size = None
    missing = 0
    """Frames that could not be decoded (a truncated file: the iteration stops at the first), once it has ended."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._im = Image.open(self.path)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise VidcolorError(f"{path}: cannot read as an animation ({exc.__class__.__name__})") from None
        try:
            check_frame_size(*self._im.size, str(self.path))
            n = getattr(self._im, "n_frames", 1)
            delays = []
            for frame in ImageSequence.Iterator(self._im):
                # a GIF frame may reach beyond the header's size, and Pillow then grows the canvas: the size
                # after the seek, before the frame is loaded (the next seek loads it), is what it will decode
                check_frame_size(*frame.size, f"{self.path} (frame {len(delays)})")
                delays.append(max(int(_delay(frame) or DEFAULT_DELAY_MS), 10))
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            self._im.close()
            raise VidcolorError(f"{path}: cannot read as an animation ({exc.__class__.__name__})") from None
        except VidcolorError:
            self._im.close()
            raise
        fps = Fraction(1000 * n, sum(delays)).limit_denominator(1000)
        loop = self._im.info.get("loop")        # no NETSCAPE block (GIF) or num_plays (APNG): played once
        self.info = VideoInfo(width=self._im.size[0], height=self._im.size[1], fps=fps, frames=n,
                              duration=sum(delays) / 1000, loop=-1 if loop is None else int(loop))
        self.timeline = Timeline.of(fps, Fraction(1, 1000))
        for shown in np.cumsum([0] + delays[:-1]).tolist():
            self.timeline.add(shown)
        self.decoded = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            for frame in ImageSequence.Iterator(self._im):
                rgba = frame.convert("RGBA")
                rgb = Image.new("RGB", rgba.size)              # black, under the frame's alpha
                rgb.paste(rgba, mask=rgba)
                self.decoded += 1
                yield np.asarray(rgb)
        except OSError:             # a truncated file: the frames before are whole (see `missing`)
            self.missing = self.info.frames - self.decoded

    def close(self) -> None:
        self._im.close()

    def __enter__(self) -> "AnimatedImageReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
