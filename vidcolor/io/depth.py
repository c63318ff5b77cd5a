"""16-bit colour samples of still images (PNG, TIFF), decoded whole once, by OpenCV (tifffile for a planar TIFF), not by
Pillow, which opens them in mode RGB or RGBA with the high byte of each sample (``x >> 8``: 0x10FF -> 16, where it is
16.93 levels), and turned upright (:func:`upright16`): kept at 16 bits, for a job that processes them so (colorize),
or rounded to 8 by the reader; and the EXIF of a PNG, read without decoding its pixels (:func:`exif_of`).

numpy, Pillow and OpenCV alone (tifffile for a planar TIFF; no PyAV, no ffmpeg-python): both readers use it,
:func:`vidcolor.io.images.read_image` and training's :func:`vidcolor.training.data.read_rgb`, which runs on a machine
without PyAV.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image

from vidcolor.errors import VidcolorError
from vidcolor.io.files import DAMAGED
from vidcolor.io.limits import MAX_IMAGE_BYTES


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
"""How a TIFF file starts: little- or big-endian, classic or BigTIFF."""


def _png_bit_depth(path: str | Path) -> int | None:
    """The bit depth a PNG's IHDR declares (1, 2, 4, 8 or 16), None when the file does not start with one."""
    with open(path, "rb") as f:
        head = f.read(26)
    return head[24] if len(head) == 26 and head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR" else None


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
    """The 16-bit samples of an opened image ``im`` of the file ``path`` whose colour samples have 16 bits (a colour or
    gray + alpha PNG, an RGB or RGBA TIFF's first page, which Pillow opens in mode RGB or RGBA) as OpenCV decodes
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


def upright16(im: Image.Image, path: str | Path) -> np.ndarray | None:
    """:func:`colour16`'s samples of an opened image ``im`` of the file ``path`` (uint16 RGB or RGBA ``(H, W, 3 | 4)``,
    0..65535, decoded once, by OpenCV or tifffile, not by Pillow) turned upright by its EXIF orientation, as Pillow's
    ``exif_transpose`` turns an 8-bit image: a PNG's (an eXIf, before or after its pixels: :func:`exif_of`) and a
    planar TIFF's tag (:func:`tiff_planar`; OpenCV turns the other TIFFs as it decodes them). What
    :func:`vidcolor.io.images.read_image` and training's :func:`vidcolor.training.data.read_rgb` read a 16-bit colour
    image as, rounded there (:func:`~vidcolor.io.files.round16`) where they read 8 bits. None for any other image
    (:func:`colour16`'s None). The caller has checked the size in the header.

    Raises:
        VidcolorError: as :func:`colour16` (a 16-bit colour PNG that OpenCV does not decode).
    """
    whole = colour16(im, path)
    if whole is not None and (im.format == "PNG" or tiff_planar(im)):
        whole = _upright(whole, exif_of(im, path).get(ExifTags.Base.Orientation))
    return whole


UPRIGHT = {2: np.fliplr, 3: lambda x: np.rot90(x, 2), 4: np.flipud, 5: lambda x: x.swapaxes(0, 1),
           6: lambda x: np.rot90(x, -1), 7: lambda x: np.rot90(x, 2).swapaxes(0, 1), 8: lambda x: np.rot90(x, 1)}
"""EXIF orientation (2..8) -> what turns an array ``(H, W, ...)`` upright, as Pillow's ``ImageOps.exif_transpose``
turns an image (FLIP_LEFT_RIGHT, ROTATE_180, FLIP_TOP_BOTTOM, TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90): for
16-bit colour samples, which no Pillow mode holds."""


def _upright(x: np.ndarray, orientation: int | None) -> np.ndarray:
    """``x`` ``(H, W, C)`` turned upright by its EXIF ``orientation`` (:data:`UPRIGHT`); as it is for 1, None or a
    value EXIF does not define."""
    turn = UPRIGHT.get(orientation)
    return turn(x) if turn is not None else x


PNG_LATE_CHUNKS = (b"eXIf", b"tEXt", b"zTXt", b"iTXt")
"""Chunks that a PNG may hold after its image data (IDAT) and that say its EXIF (an eXIf; ImageMagick's "Raw profile
type exif" text; XMP's orientation in an iTXt), which Pillow reads on decoding the pixels (``load``)."""


def _png_late_info(path: str | Path) -> dict:
    """What a PNG's :data:`PNG_LATE_CHUNKS` after its image data add to Pillow's ``info`` (``exif``, text), parsed by
    Pillow's own chunk handlers (``PngStream``), the image data skipped unread: what ``load`` adds to it without
    decoding the pixels. Empty where there is none, and from the first chunk Pillow cannot parse on."""
    from PIL import PngImagePlugin
    with open(path, "rb") as f:
        if f.read(8) != PNG_SIGNATURE:
            return {}
        png, after = PngImagePlugin.PngStream(f), False
        while True:
            try:
                cid, pos, length = png.read()
                if cid == b"IEND":
                    break
                if after and cid in PNG_LATE_CHUNKS:
                    png.call(cid, pos, length)
                else:
                    f.seek(length, 1)
                f.seek(4, 1)                # its CRC
            except DAMAGED:
                break
            after = after or cid == b"IDAT"
        return png.im_info


def exif_of(im: Image.Image, path: str | Path) -> Image.Exif:
    """The EXIF of an opened image of the file ``path``, as Pillow's ``getexif`` gives it, without decoding its pixels:
    for a PNG whose EXIF is not before its image data (most have none), Pillow's ``getexif`` decodes the whole image
    to read the chunks after it; they are read here by skipping the image data (:func:`_png_late_info`). ``im``'s
    ``info`` gets what they hold, as decoding would give it."""
    if im.format == "PNG" and "exif" not in im.info:
        im.info.update(_png_late_info(path))
        exif = Image.Image.getexif(im)      # (PngImageFile's own getexif would decode it)
        im.info.setdefault("exif", b"")     # read (getexif keeps it): its later getexif calls (to_srgb's EXIF
        return exif                         # Adobe RGB) do not decode it either
    return im.getexif()
