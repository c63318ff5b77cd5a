"""Plain facts about files: which are images (by their suffix), and the permissions a new one gets. Pillow alone:
importable without PyAV or ffmpeg-python (the training data and weight files need no more)."""
from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import numpy as np
from PIL import Image, features

DAMAGED = (OSError, SyntaxError, IndexError, ValueError, EOFError, struct.error)
"""What Pillow raises on a damaged or truncated image once it has opened it (fuzzed GIF/APNG/WebP: OSError for
truncated data, IndexError or struct.error counting a cut GIF's frames, SyntaxError for an APNG's broken chunks
or frame sequence, ValueError). Here, without PyAV, for :mod:`vidcolor.io.depth` too."""

FFMPEG_IMAGE_SUFFIXES = (".dpx",)
"""Suffixes of the still images vidcolor reads through FFmpeg (:mod:`vidcolor.io.ffmpeg_images`), not Pillow: a film
scan's DPX frames."""

IMAGE_SUFFIXES = ((".png", ".apng", ".jpg", ".jpeg", ".jfif", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".tga", ".ppm",
                   ".pgm", ".pbm", ".pnm")
                  + ((".avif",) if ".avif" in Image.registered_extensions() and features.check("avif") else ())
                  + FFMPEG_IMAGE_SUFFIXES)
"""Suffixes of the image files vidcolor reads (through Pillow; AVIF where Pillow has libavif; DPX through FFmpeg:
:data:`FFMPEG_IMAGE_SUFFIXES`), still or animated (GIF, APNG, WebP, AVIF: :data:`~vidcolor.io.animated.ANIMATED_FORMATS`,
whose files of one frame are stills): a folder lists these files, and one of them given alone is read as an image,
not as a video."""


GRAY16_MODES = ("I;16", "I;16B", "I;16L", "I")
"""Pillow's modes of 16-bit gray images (its ``convert`` to RGB clips their levels at 255). Here, not in
:mod:`vidcolor.io.animated`, which imports PyAV: training (:mod:`vidcolor.training.data`) uses them too."""


def round16(x: np.ndarray) -> np.ndarray:
    """uint16 samples 0..65535 -> uint8, ``round(x / 257)`` in integers (no ties: 257 is odd; 65535 -> 255, 128 -> 0,
    129 -> 1): how 16-bit images and animations are read, and training images (see :data:`GRAY16_MODES`)."""
    return ((x.astype(np.uint32) * 2 + 257) // 514).astype(np.uint8)


def stat_stamp(found: os.stat_result) -> tuple[int, int]:
    """A file's ``(size, modification time in ns)``: what tells that it changed while it was read (a recording
    still being written), or since a Ray run keyed its work folder."""
    return found.st_size, found.st_mtime_ns


def file_stamp(path: str | Path) -> tuple[int, int] | None:
    """:func:`stat_stamp` of the regular file ``path``; None for what is not one or cannot be looked at."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return stat_stamp(found) if stat.S_ISREG(found.st_mode) else None


def is_empty_file(path: str | Path) -> bool:
    """True when ``path`` is a regular file of 0 bytes (:func:`file_stamp`'s size); False for anything else, or what
    cannot be looked at."""
    return (file_stamp(path) or (1,))[0] == 0


def is_image(path: str | Path) -> bool:
    """True when the suffix names a still-image format vidcolor reads."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


IMAGE_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
"""ISO base media ``ftyp`` brands of still images and image sequences (AVIF, HEIF), not video."""


HEAD_BYTES = 377
"""How much of a file :func:`video_head` looks at (three MPEG-TS packets' sync bytes)."""


def holds_video(path: str | Path) -> bool:
    """True for a file named as an image (:func:`is_image`) whose bytes are a video container's
    (:func:`video_head`). A web "GIF" saved as MP4 is one: ffmpeg and players read such a file by its contents, and
    so does vidcolor, as a video. False where it cannot be read."""
    if not is_image(path):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError:
        return False
    return video_head(head)


def video_head(head: bytes) -> bool:
    """True where ``head`` (a file's first :data:`HEAD_BYTES` bytes, fewer for a shorter file) is a video
    container's: MP4 or QuickTime (an ``ftyp`` box of a video brand, or a ``moov``/``mdat``/``wide``/``free`` box
    first), Matroska/WebM, AVI, MPEG-PS, MPEG-TS (three sync bytes 188 apart), FLV, Ogg, ASF, Y4M."""
    box = head[4:8]
    if box == b"ftyp":
        return head[8:12] not in IMAGE_BRANDS
    return (box in (b"moov", b"mdat", b"wide", b"free")
            or head.startswith((b"\x1aE\xdf\xa3", b"\x00\x00\x01\xba", b"FLV\x01", b"OggS", b"YUV4MPEG2",
                                b"0&\xb2u\x8ef\xcf\x11"))
            or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
            or (len(head) == HEAD_BYTES and head[0] == head[188] == head[376] == 0x47))


def umask() -> int:
    """The process's umask (read by setting it and putting it back: the only way POSIX gives)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """Permissions a plainly created file gets (0666 less the umask); mkstemp's are 0600."""
    return 0o666 & ~umask()


def read_once(input: str | Path) -> bool:
    """Whether ``input`` can be read only once, as a stream: ``-`` (stdin), or a path that is neither a regular file
    nor a folder (a FIFO, ``/dev/stdin`` or ``/proc/self/fd/N`` on a pipe, bash's ``<(...)``, a character device).
    Such an input is read as stdin is: its video alone (the encoder cannot open it again for its audio, subtitles
    and metadata, :class:`~vidcolor.io.writer.Passthrough`), and not by the Ray executor, which reads an input
    once a segment. False for a path that does not exist (:func:`~vidcolor.io.paths.check_input` says so)."""
    if str(input) == "-":
        return True
    try:
        mode = os.stat(input).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def name_of(path: str | Path) -> str:
    """How a warning names an input (or output) by itself: ``stdin`` for ``-``, the path as given where it is not a
    regular file (:func:`read_once`: bash's ``<(ffmpeg ...)`` is ``/dev/fd/63``, whose name alone, ``63``, says
    nothing), else the file's name."""
    if str(path) == "-":
        return "stdin"
    return str(path) if read_once(path) else Path(path).name
