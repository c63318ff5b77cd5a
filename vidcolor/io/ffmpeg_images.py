"""Still images that Pillow does not read and FFmpeg does: a film scan's DPX frame (8, 10, 12 or 16 bits per
sample), read as a one-frame video by :class:`~vidcolor.io.VideoReader`, so its samples deeper than 8 bits take the
path a 10-bit video's take (:func:`~vidcolor.io.convert.frame_to_rgb` with ``deep``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vidcolor.errors import VidcolorError, warn
from vidcolor.io.convert import full_scale16
from vidcolor.io.files import FFMPEG_IMAGE_SUFFIXES, name_of, round16
from vidcolor.io.reader import VideoReader, container_info, open_input


def is_ffmpeg_image(path: str | Path) -> bool:
    """True for a file named as an image that FFmpeg reads for vidcolor
    (:data:`~vidcolor.io.files.FFMPEG_IMAGE_SUFFIXES`)."""
    return Path(path).suffix.lower() in FFMPEG_IMAGE_SUFFIXES


def read_ffmpeg_image(path: str | Path, deep: bool = False) -> tuple[np.ndarray, None]:
    """``path``'s first frame as :func:`~vidcolor.io.images.read_image` gives an image: uint8 RGB ``(H, W, 3)``, or
    with ``deep``, for more than 8 bits per sample, uint16 RGB 0..65535, white at 65535 as a 16-bit PNG's or TIFF's
    (:func:`~vidcolor.io.convert.full_scale16` of the decode's, whose white is 65280: a 10-bit scan's code ``c`` is
    ``c * 65535 / 1023``, rounded; it was 0.4% dark, white 65280, 254 at 8 bits; ``deep=False`` gives its
    :func:`~vidcolor.io.files.round16`, byte for byte); alpha None (an alpha channel is dropped, with a warning).
    The frame-size limits are FFmpeg's probe's (:func:`~vidcolor.io.reader.open_input`).

    Raises:
        VidcolorError: what :class:`~vidcolor.io.VideoReader` raises for it (not an image FFmpeg decodes, damaged,
            above the frame-size limits), as an image's: ``scan.dpx: cannot read as image (an empty file, 0 bytes)``
            (its 'cannot read as video' said a video was given).
    """
    try:
        reader = VideoReader(path, deep=True)
    except VidcolorError as exc:
        said, video = exc.marked or str(exc), f"{path}: cannot read as video"
        if not said.startswith(video):
            raise
        raise type(exc)(f"{path}: cannot read as image{said[len(video):]}") from None
    with reader:
        rgb = next(iter(reader))
        if reader.info.alpha:
            warn(f"{name_of(path)}: its alpha channel ({reader.info.alpha}) is dropped")
    if rgb.dtype == np.uint8:
        return rgb, None
    rgb = full_scale16(rgb)             # white at 65535, as a 16-bit PNG or TIFF is read (the decode's is WHITE16)
    return (rgb if deep else round16(rgb)), None


def deep_image_bits(path: str | Path) -> int:
    """Bits per sample of an image that :func:`~vidcolor.io.images.read_image` reads at 16 (``deep``, uint16): an
    FFmpeg image's own, from FFmpeg's probe of it (a 10-bit DPX: 10; :attr:`~vidcolor.io.VideoInfo.bits`), 16 for the
    others (Pillow reads a PNG or TIFF of 16 bits alone so). For the warning of one processed at 8
    (:func:`~vidcolor.source_warnings.warn_still_at_8_bits`).

    Raises:
        VidcolorError: an FFmpeg image that cannot be opened (:func:`~vidcolor.io.reader.open_input`).
    """
    if not is_ffmpeg_image(path):
        return 16
    container = open_input(path)
    try:
        return container_info(container, path).bits
    finally:
        container.close()
