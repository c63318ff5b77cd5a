"""Frame-size limits, checked from headers before anything is decoded or allocated."""
from __future__ import annotations

from vidcolor.errors import VidcolorError

MAX_SIDE = 16384
"""Longest frame side accepted, pixels."""

MAX_PIXELS = 64_000_000
"""Largest frame area accepted, pixels (64 megapixels: one uint8 RGB frame is then 192 MB)."""


MAX_IMAGE_BYTES = 1 << 30
"""Most bytes of a still image file read into memory to decode it at 16 bits (OpenCV decodes from memory): 1 GiB,
twice a 64-megapixel frame of 16-bit RGBA uncompressed (512 MB), room for its metadata. A TIFF's first page alone is
read (:func:`vidcolor.io.depth.first_page_bytes`); a file that would need more is refused."""


def check_frame_size(width: int, height: int, what: str) -> None:
    """Refuse a frame size before a frame of it is allocated.

    Args:
        width, height: pixels, as a header or an option declares them.
        what: the source, for the message (a path, ``--raw``).

    Raises:
        VidcolorError: a side above :data:`MAX_SIDE`, an area above :data:`MAX_PIXELS`, or a side < 1.
    """
    if width < 1 or height < 1:
        raise VidcolorError(f"{what}: frame size {width}x{height} is empty")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise VidcolorError(f"{what}: frame size {width}x{height} is too large (at most {MAX_SIDE} px a side "
                            f"and {MAX_PIXELS // 1_000_000} megapixels)")
