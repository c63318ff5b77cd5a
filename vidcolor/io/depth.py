"""16-bit colour samples of still images (PNG, TIFF) rounded to 8 bits: Pillow opens them in mode RGB or RGBA with
the high byte of each sample (``x >> 8``: 0x10FF -> 16, where it is 16.93 levels), OpenCV decodes them whole; or
kept at 16 bits (:func:`colour16`), for a job that processes them so (colorize).

numpy, Pillow and OpenCV alone (tifffile for a planar TIFF; no PyAV, no ffmpeg-python): both readers use it,
:func:`vidcolor.io.images.read_image` and training's :func:`vidcolor.training.data.read_rgb`, which runs on a machine
without PyAV.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vidcolor.errors import VidcolorError
from vidcolor.io.files import round16
from vidcolor.io.limits import MAX_IMAGE_BYTES


def colour16_to_8(im: Image.Image, path: str | Path, strict: bool = True) -> Image.Image:
    """An opened image ``im`` of the file ``path`` with 16-bit colour samples (an RGB, RGBA or gray + alpha PNG, as
    Pillow opens them in mode RGB or RGBA; an RGB or RGBA TIFF's first page) as an 8-bit RGB or RGBA Pillow image,
    each sample ``round(x / 257)`` (:func:`~vidcolor.io.files.round16`; alpha too), carrying ``im``'s EXIF (a PNG's
    whole ``info``); any other image is returned as it is. Its ICC profile is read from ``im``
    (:func:`vidcolor.io.icc.to_srgb`'s ``tags``). The caller has checked the size in the header.

    Raises:
        VidcolorError: a 16-bit colour PNG that OpenCV does not decode (a damaged file); with ``strict`` False,
            Pillow's reading of it (the high bytes) instead, as for a TIFF layout OpenCV does not read.
    """
    if im.format == "PNG" and im.mode in ("RGB", "RGBA") and _png_bit_depth(path) == 16:
        try:
            return _colour16_to_8(path, im.info)
        except VidcolorError:
            if strict:
                raise
            return im
    if im.format == "TIFF" and im.mode in ("RGB", "RGBA") and _tiff_colour16(im):
        return _tiff_colour16_to_8(path, im)
    return im


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
"""How a TIFF file starts: little- or big-endian, classic or BigTIFF."""


def _png_bit_depth(path: str | Path) -> int | None:
    """The bit depth a PNG's IHDR declares (1, 2, 4, 8 or 16), None when the file does not start with one."""
    with open(path, "rb") as f:
        head = f.read(26)
    return head[24] if len(head) == 26 and head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR" else None


def _colour16_to_8(path: str | Path, info: dict, planar: bool = False) -> Image.Image:
    """A 16-bit colour PNG (RGB, RGBA, or gray + alpha, as Pillow opens them in mode RGB or RGBA) or TIFF (the first
    page of an RGB or RGBA one: :func:`_tiff_colour16_to_8`) decoded by OpenCV
    at 16 bits and rounded to 8 (:func:`~vidcolor.io.files.round16`), as an RGB or RGBA Pillow image carrying
    ``info`` (its EXIF; a tRNS colour is already an alpha channel here, as libpng gives it, so ``info``'s is
    dropped). The caller has checked the size in the header (:func:`~vidcolor.io.limits.check_frame_size`).

    Raises:
        VidcolorError: OpenCV cannot decode it (a damaged file).
    """
    x = _decode16(path, planar)
    im = Image.fromarray(np.ascontiguousarray(round16(x[..., 2::-1])))   # BGR(A) -> RGB
    if x.shape[2] == 4:
        im.putalpha(Image.fromarray(round16(x[..., 3])))
    im.info = {k: v for k, v in info.items() if k != "transparency"}
    return im


def _decode16(path: str | Path, planar: bool = False) -> np.ndarray:
    """A 16-bit colour PNG's or TIFF's samples as OpenCV decodes them whole: uint16 BGR or BGRA ``(H, W, 3 | 4)``
    (a PNG's tRNS colour as alpha, as libpng gives it). A ``planar`` TIFF (PlanarConfiguration 2: each colour in a
    plane of its own) is read by tifffile instead, its first page: OpenCV took its planes for interleaved samples
    and left part of its buffer unwritten (five decodes of one file gave five arrays, none the file's).

    Raises:
        VidcolorError: it cannot be decoded (a damaged file, a TIFF layout OpenCV does not read).
    """
    if planar:
        import tifffile             # (a declared dependency; loaded for a planar TIFF alone)
        try:
            x = tifffile.imread(path, key=0)
        except Exception as exc:    # tifffile raises ValueError, KeyError, OSError... for what it cannot read
            raise VidcolorError(f"{path}: cannot read as image ({exc})") from None
        if x.dtype != np.uint16 or x.ndim != 3 or x.shape[0] not in (3, 4):
            raise VidcolorError(f"{path}: cannot read as image (16-bit planar TIFF of {x.dtype} {x.shape})")
        return np.ascontiguousarray(x.transpose(1, 2, 0)[..., [2, 1, 0, 3][:x.shape[0]]])    # RGB(A) -> BGR(A)
    data = _file_bytes(path)
    level = cv2.utils.logging.getLogLevel()         # libtiff's warnings (a scanner's private tags) and its error on
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)   # a first page's next-page pointer past
    try:                                            # the bytes read are not the user's business; a failure is said below
        x = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if x is None or x.dtype != np.uint16 or x.ndim != 3 or x.shape[2] not in (3, 4):
        raise VidcolorError(f"{path}: cannot read as image (16-bit colour image that OpenCV does not decode)")
    return x


def first_page_bytes(path: str | Path) -> int | None:
    """How many bytes from its start a TIFF's first page lies in (its header, directory, tag values and pixel data),
    as tifffile reads its first directory (the other pages' are not read); None where tifffile cannot read it."""
    import tifffile
    try:
        with tifffile.TiffFile(path) as tif:
            page, layout = tif.pages.first, tif.tiff
            tags = list(page.tags.values())
            ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts)]
            ends += [t.valueoffset + t.valuebytecount for t in tags]
            ends.append(max((t.offset for t in tags), default=page.offset) + layout.tagsize + layout.offsetsize)
            return max(ends)
    except Exception:       # noqa: BLE001 -- tifffile raises ValueError, KeyError, OSError... for what it cannot read
        return None


def _file_bytes(path: str | Path) -> np.ndarray:
    """The bytes of a 16-bit PNG or TIFF that OpenCV decodes it from (uint8 ``(N,)``): a TIFF's first page alone
    (:func:`first_page_bytes`: a multi-page scan was read whole to decode its first page), the whole of any other
    file, the size checked before anything is read.

    Raises:
        VidcolorError: more than :data:`~vidcolor.io.limits.MAX_IMAGE_BYTES` to read.
    """
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        tiff = f.read(4) in TIFF_SIGNATURES
        need = min(size, first_page_bytes(path) or size) if tiff else size
        if need > MAX_IMAGE_BYTES:
            raise VidcolorError(f"{path}: cannot read as image (" + ("its first page spans" if tiff and need < size else
                                "a file of") + f" {need:,} bytes, more than the {MAX_IMAGE_BYTES:,} that are read to "
                                "decode it at 16 bits)")
        f.seek(0)
        return np.frombuffer(f.read(need), np.uint8)


def colour16(im: Image.Image, path: str | Path) -> np.ndarray | None:
    """The 16-bit samples of an opened image ``im`` of the file ``path`` whose colour samples have 16 bits (those
    :func:`colour16_to_8` rounds: a colour or gray + alpha PNG, an RGB or RGBA TIFF's first page) as OpenCV decodes
    them whole: uint16 RGB or RGBA ``(H, W, 3 | 4)``, 0..65535, as stored (no colour conversion; no EXIF orientation
    applied, but for a TIFF that OpenCV decodes: it turns it upright by its orientation tag, :func:`tiff_planar`). None for any other image, and for a TIFF whose layout OpenCV does not decode (Pillow's 8-bit
    reading of it stands). The caller has checked the size in the header.

    Raises:
        VidcolorError: a 16-bit colour PNG that OpenCV does not decode (a damaged file).
    """
    if im.mode not in ("RGB", "RGBA"):
        return None
    if im.format == "PNG" and _png_bit_depth(path) == 16:
        x = _decode16(path)
    elif im.format == "TIFF" and _tiff_colour16(im):
        try:
            x = _decode16(path, tiff_planar(im))
        except VidcolorError:
            return None
    else:
        return None
    return np.ascontiguousarray(x[..., [2, 1, 0, 3][:x.shape[2]]])       # BGR(A) -> RGB(A)


def _tiff_colour16(im: Image.Image) -> bool:
    """Whether an opened TIFF (mode RGB or RGBA) holds 16-bit unsigned RGB samples, of which Pillow keeps the high
    byte."""
    bits = im.tag_v2.get(258)
    bits = bits if isinstance(bits, tuple) else (bits,)
    fmt = im.tag_v2.get(339, 1)
    return (im.tag_v2.get(262) == 2 and bool(bits) and all(b == 16 for b in bits)
            and all(f == 1 for f in (fmt if isinstance(fmt, tuple) else (fmt,))))


def tiff_planar(im: Image.Image) -> bool:
    """Whether an opened TIFF stores each colour in a plane of its own (PlanarConfiguration, tag 284, is 2): its 16-bit
    samples are read by tifffile, which leaves them as stored, where OpenCV turns the others upright by their
    orientation tag as it decodes them (:func:`colour16`)."""
    return im.tag_v2.get(284, 1) == 2


def _tiff_colour16_to_8(path: str | Path, im: Image.Image) -> Image.Image:
    """A 16-bit RGB(A) TIFF's first page rounded to 8 bits as a PNG's is (:func:`_colour16_to_8`), with its
    orientation tag (as EXIF, for the caller's transpose); Pillow's reading (the high byte of each sample) where
    OpenCV does not decode the layout."""
    exif = Image.Exif()
    if (orientation := im.getexif().get(0x0112)) is not None:
        exif[0x0112] = orientation
    try:
        return _colour16_to_8(path, {"exif": exif.tobytes()} if orientation is not None else {}, tiff_planar(im))
    except VidcolorError:
        return im
