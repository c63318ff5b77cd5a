"""Plain facts about files: which are images (by their suffix), and the permissions a new one gets. Pillow alone:
importable without PyAV or ffmpeg-python (the training data and weight files need no more)."""
from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, features

IMAGE_SUFFIXES = ((".png", ".apng", ".jpg", ".jpeg", ".jfif", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".tga", ".ppm",
                   ".pgm", ".pbm", ".pnm")
                  + ((".avif",) if ".avif" in Image.registered_extensions() and features.check("avif") else ()))
"""Suffixes of the image files vidcolor reads (through Pillow; AVIF where Pillow has libavif), still or animated
(:data:`~vidcolor.io.animated.ANIMATED_SUFFIXES`, one frame of them is a still): a folder lists these files, and one
of them given alone is read as an image, not as a video."""


def is_image(path: str | Path) -> bool:
    """True when the suffix names a still-image format vidcolor reads."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def default_file_mode() -> int:
    """Permissions a plainly created file gets (0666 less the umask); mkstemp's are 0600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
