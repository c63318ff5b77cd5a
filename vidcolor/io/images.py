"""Still images in and out (PNG, JPEG, WebP, BMP...), alpha kept for pixel art."""
from __future__ import annotations

import functools
import io
import os
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageOps, TiffTags, UnidentifiedImageError

from vidcolor.arrays import check_rgb, described
from vidcolor.errors import VidcolorError
from vidcolor.io.animated import DAMAGED, pillow_reason, pillow_sizes
from vidcolor.io.depth import TIFF_SIGNATURES, exif_of, upright16
from vidcolor.io.icc import cmyk_to_srgb, gray_as_rgb, to_srgb as convert_to_srgb
from vidcolor.io.files import GRAY16_MODES, round16
from vidcolor.io.limits import check_frame_size
from vidcolor.io.naming import natural_sorted
from vidcolor.io.files import is_image
from vidcolor.io.ffmpeg_images import is_ffmpeg_image, read_ffmpeg_image
from vidcolor.io.partial import discard, partial_file
from vidcolor.io.writer import check_target, move_into_place

SAVE_OPTIONS = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"lossless": True},
                "AVIF": {"quality": 95, "subsampling": "4:4:4"}}
"""Pillow format -> save options, where Pillow's defaults (JPEG quality 75 at 4:2:0, WebP lossy at 80, AVIF quality 75
at 4:2:0) would throw away much of what a job restores: on a 4-bit gradient, dequantize's gain over the input was +5.8
dB as PNG, +3.9 as JPEG and +3.3 as WebP with the defaults. AVIF as JPEG (Pillow 13 writes no lossless AVIF): on a
640x360 noisy gradient 42.5 dB against the default's 41.2 (quality 100: 48.7 dB at 3.6x the bytes)."""


def list_images_in(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, in natural order of their names (1.png, 2.png, ..., 10.png:
    :func:`~vidcolor.io.naming.natural_sorted`), the order of a folder of frames. Hidden files (a name starting with
    ``.``: a Mac's ``._1.png``, the temporary file of a killed run) are not taken."""
    return natural_sorted(p for p in Path(folder).iterdir()
                          if not p.name.startswith(".") and p.is_file() and is_image(p))


def read_image(path: str | Path, to_srgb: bool = False,
               deep: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image as uint8 RGB ``(H, W, 3)`` plus its uint8 alpha ``(H, W)`` (None when opaque): new writable
    arrays, the caller's own. With ``deep``, an image of 16 bits per sample (a gray, gray + alpha, RGB or RGBA PNG;
    a gray, RGB or RGBA TIFF that OpenCV decodes; a 32-bit integer gray TIFF in 0..65535) is read whole instead:
    uint16 RGB ``(H, W, 3)``, 0..65535, and uint16 alpha, which :func:`~vidcolor.io.files.round16` takes to what
    ``deep=False`` gives, byte for byte; any other image comes as uint8 as without it (``deep`` with ``to_srgb`` is
    not supported: a reference is read at 8 bits).

    Palette and grayscale images are expanded to RGB. 16 bits per sample (a gray, gray + alpha, RGB or RGBA PNG; a
    gray, RGB or RGBA TIFF, as a scanner writes) are rounded to 8 bits, ``round(x / 257)`` (65535 -> 255, 257 -> 1, 128 -> 0), alpha too; so are a 32-bit
    integer gray TIFF's samples, which must lie in 0..65535. 16-bit colour is decoded once, by OpenCV (tifffile for a
    planar TIFF), with or without ``deep`` (:func:`~vidcolor.io.depth.upright16`), and rounded there. A floating-point
    gray TIFF's samples (32 or 64 bits)
    are read as image tools read them, 0.0 black to 1.0 white: ``round(x * 255)`` (:func:`_float_levels`). Transparency is kept
    from an alpha channel and from a PNG's tRNS chunk (a palette's alphas, or the one transparent colour of an RGB
    or grey image). A CMYK image with an ICC profile is read through it (:func:`~vidcolor.io.icc.cmyk_to_srgb`).
    An RGB image's samples are its code values as stored, whatever its colour space: ``dequantize`` and
    ``colorize`` work on them (a palette or bit truncation happened there) and embed the input's RGB profile in
    the output (:func:`image_metadata`), which then shows as the input does. With ``to_srgb`` (a ``--reference``
    image, whose colours are meant as displayed) an RGB image whose embedded ICC profile (a phone's Display P3, a
    camera's Adobe RGB, ProPhoto), PNG gAMA/cHRM chunks or EXIF (Adobe RGB) say another space is converted to sRGB
    through LittleCMS, relative colorimetric (at 8 bits, after a 16-bit image's rounding;
    :func:`~vidcolor.io.icc.to_srgb`); sRGB-tagged and untagged images are left as they are. An EXIF orientation (a
    phone's portrait photo) is applied to the pixels, as a viewer shows the image and as a video's display rotation
    is. The size in the header is checked (:func:`~vidcolor.io.limits.check_frame_size`) before the pixels are
    decoded.

    Raises:
        VidcolorError: unreadable (not an image, truncated or damaged: whatever Pillow raises for it,
            :data:`~vidcolor.io.files.DAMAGED`; a TIFF whose layout Pillow does not read, floating-point RGB among
            them), larger than the frame-size limits, or gray samples outside the ranges above (float samples not
            in 0..1, NaN or infinite; 32-bit integers beyond 0..65535), which would come out clipped.
    """
    if is_ffmpeg_image(path):           # a film scan's DPX: Pillow reads none
        return read_ffmpeg_image(path, deep=deep and not to_srgb)
    try:
        with pillow_sizes(str(path)), Image.open(path) as im:   # Pillow's size refusal is vidcolor's
            check_frame_size(*im.size, str(path))
            opened = im                 # its tags say its colour space (to_srgb) where im is decoded apart
            try:                        # 16-bit colour: decoded by OpenCV (tifffile) alone, not by Pillow, which
                whole = upright16(im, path)     # keeps the high byte of each sample (x >> 8); upright
            except VidcolorError:
                im.load()               # Pillow's reason where it has one (a truncated PNG), as before
                raise
            if whole is not None:
                if deep and not to_srgb:        # kept at 16 bits
                    return (np.ascontiguousarray(whole[..., :3]),
                            np.ascontiguousarray(whole[..., 3]) if whole.shape[2] == 4 else None)
                im = Image.fromarray(round16(whole))    # RGB or RGBA, 8 bits, upright; its tags stay on opened
            else:
                im.load()
                ImageOps.exif_transpose(im, in_place=True)   # without a copy of every image that has none
            if to_srgb:                 # CMYK through its profile too; P3, Adobe RGB... converted
                im = convert_to_srgb(im, opened)
            else:                       # through its profile, not Pillow's naive 255 - C - K
                im = cmyk_to_srgb(im)
            if im.mode == "F":            # float gray (a 32-bit TIFF's): Pillow's convert clips it to 0 or 1
                im = Image.fromarray(_float_levels(np.asarray(im), path))
            if im.mode in GRAY16_MODES:   # 16-bit gray: Pillow's convert would clip at 255
                levels, key = np.asarray(im), im.info.get("transparency")
                if im.mode == "I" and levels.size and (levels.min() < 0 or levels.max() > 65535):
                    raise VidcolorError(f"{path}: cannot read as image (32-bit integer samples from {levels.min()} "
                                        f"to {levels.max()}, beyond 16 bits: convert it to 16 or 8 bits)")
                if deep and not to_srgb:   # kept at 16 bits, as RGB; its tRNS grey level as alpha
                    levels = levels.astype(np.uint16)
                    return (np.repeat(levels[..., None], 3, axis=2),
                            np.where(levels == key, 0, 65535).astype(np.uint16) if isinstance(key, int) else None)
                im = Image.fromarray(round16(levels))
                if isinstance(key, int):                       # its tRNS grey level, as an alpha channel
                    im.putalpha(Image.fromarray(np.where(levels == key, 0, 255).astype(np.uint8)))
            # a tRNS chunk (one transparent colour or grey level, as optipng writes, or a palette's alphas)
            has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
            rgba = im.convert("RGBA") if has_alpha else None
            # np.array, not np.asarray (a read-only view of Pillow's bytes): the caller's own writable array, as
            # the alpha is; the copy does not raise the peak (a 16 MP PNG: 283 MB either way)
            rgb = np.array((rgba or im).convert("RGB"))
            alpha = np.asarray(rgba)[..., 3].copy() if rgba is not None else None
    except FileNotFoundError:
        raise VidcolorError(f"{path}: no such file") from None
    except (UnidentifiedImageError, *DAMAGED) as exc:     # a damaged netpbm raises ValueError, an APNG SyntaxError
        tiff = isinstance(exc, UnidentifiedImageError) and _is_tiff(path)
        cut = _tiff_cut(path) if tiff else None
        empty = isinstance(exc, UnidentifiedImageError) and _size(path) == 0
        known = signature_format(path) if isinstance(exc, UnidentifiedImageError) and not (empty or tiff) else None
        if not (empty or cut or tiff or known) and isinstance(exc, UnidentifiedImageError):
            raise VidcolorError(f"{path}: {pillow_reason(exc)}") from None   # was '(UnidentifiedImageError)'
        raise VidcolorError(f"{path}: cannot read as image (" + (
            "an empty file, 0 bytes" if empty else
            cut if cut else
            "a TIFF layout that Pillow does not read, such as 32-bit float RGB: convert it to 8 or 16 bits"
            if tiff else
            f"it starts as a {known} does but looks damaged or truncated" if known else pillow_reason(exc)) + ")"
        ) from None
    return rgb, alpha


FLOAT_SLACK = 0.5 / 255
"""How far outside 0..1 a floating-point sample may lie and still be read (clipped to it): half an 8-bit level, the
rounding of a float image computed from an 8-bit one."""


def _float_levels(x: np.ndarray, path: str | Path) -> np.ndarray:
    """Floating-point gray samples ``(H, W)``, 0.0 black to 1.0 white (as image tools read a float TIFF), as uint8
    levels ``(H, W)``: ``round(x * 255)``; a sample within :data:`FLOAT_SLACK` outside 0..1 is clipped to it.

    Raises:
        VidcolorError: a sample further outside 0..1 (a float image in 0..255, or HDR: it would come out clipped;
            scaling by its maximum would change its brightness), NaN or infinite, naming the range found.
    """
    if not np.isfinite(x).all():
        raise VidcolorError(f"{path}: cannot read as image (floating-point samples that are NaN or infinite)")
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if lo < -FLOAT_SLACK or hi > 1 + FLOAT_SLACK:
        raise VidcolorError(f"{path}: cannot read as image (floating-point samples from {lo:g} to {hi:g}: they are "
                            "read as 0.0 black to 1.0 white; scale it to 0..1 or convert it to 8 or 16 bits)")
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _is_tiff(path: str | Path) -> bool:
    """Whether the file at ``path`` starts as a TIFF does (:data:`TIFF_SIGNATURES`); False where it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read(4) in TIFF_SIGNATURES
    except OSError:
        return False


def signature_format(path: str | Path) -> str | None:
    """The image format whose signature the file at ``path`` starts with (``PNG``, ``GIF``: one of Pillow's plugins
    accepts its first 16 bytes, as ``Image.open`` asks them), None where none does or it cannot be read. Pillow
    says ``UnidentifiedImageError`` both of a file of no image format and of one whose format's plugin failed to
    open it (a PNG whose header chunk's CRC is broken, a GIF cut inside its header): a signature found tells the
    second, damage."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    Image.init()                                # every plugin registered, as Image.open has by then
    for fmt, (_, accept) in list(Image.OPEN.items()):
        try:
            found = accept(head) if accept else False       # a plugin without a signature accepts anything
        except Exception:                                   # noqa: BLE001 -- a plugin's check of 16 bytes
            found = False
        if found and not isinstance(found, str):            # (a string: Pillow's note that it cannot read it)
            return fmt
    return None


def _size(path: str | Path) -> int | None:
    """The file's size in bytes, None where it cannot be looked at."""
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _tiff_cut(path: str | Path) -> str | None:
    """What is missing of a TIFF whose first directory (IFD) lies past the end of the file, which Pillow cannot
    identify (a download or copy cut short: most writers put the directory after the pixels), else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            size = f.seek(0, 2)
    except OSError:
        return None
    order = "<" if head[:2] == b"II" else ">"
    big = head[2:4] in (b"+\x00", b"\x00+")                       # BigTIFF: an 8-byte offset at byte 8
    if len(head) < (16 if big else 8):
        return f"a TIFF cut short: {size} bytes, not even its header (truncated)"
    offset = int.from_bytes(head[8:16] if big else head[4:8], "little" if order == "<" else "big")
    if offset + 2 <= size:
        return None
    return (f"a TIFF cut short: its directory, which says what the file holds, starts at byte {offset:,}, past the "
            f"end of its {size:,} bytes (truncated)")


OPAQUE_FORMATS = ("JPEG", "BMP", "PPM")
"""Pillow formats that hold no alpha: :func:`write_image` drops it there (PPM is also .pgm, .pbm and .pnm)."""

ICC_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")
"""Pillow formats whose files vidcolor writes an ICC profile and EXIF into (:func:`write_image`)."""


def _rgb_profile(im: Image.Image) -> bytes | None:
    """The ICC profile embedded in an opened image when it describes RGB (a phone's Display P3, Adobe RGB); for a gray
    one on a gray image, an RGB profile of its tone curve (:func:`~vidcolor.io.icc.gray_as_rgb`); else None (no
    profile, or a CMYK one: :func:`read_image` converts CMYK to sRGB; a gray one without such a curve,
    :func:`_gray_profile_dropped`). The pixels keep their values through a job
    (:func:`read_image` without ``to_srgb``), so an output tagged with this profile shows as the input does (a gray
    input's gray axis, its colours around it in sRGB)."""
    icc = im.info.get("icc_profile")
    if _gray_profile_on_gray(im):
        return gray_as_rgb(bytes(icc))
    return icc if icc and icc[16:20] == b"RGB " else None          # the ICC header's data colour space


def _gray_profile_on_gray(im: Image.Image) -> bool:
    """Whether an opened image is gray and embeds a gray ICC profile (the ICC header's data colour space)."""
    icc = im.info.get("icc_profile")
    return bool(icc) and icc[16:20] == b"GRAY" and im.mode in ("1", "L", "LA", "F", *GRAY16_MODES)


def _gray_profile_dropped(im: Image.Image, path: str | Path, carried: bytes | None) -> str | None:
    """The warning that the gray ICC profile of the gray image ``im`` (the file ``path``) is not carried into its
    output, where it has no tone curve that an RGB profile can be made of (:func:`~vidcolor.io.icc.gray_as_rgb`: a
    lookup-table profile, AToB0 without kTRC): the output is untagged, shown as sRGB. ``carried``: the profile its
    output carries (:func:`_rgb_profile`, None where none). None where there is nothing to say (no gray profile, or
    one that is carried). It was dropped without a word, where a dropped alpha or page is said."""
    if carried is not None or not _gray_profile_on_gray(im):
        return None
    return (f"{path}: its gray ICC profile is not carried into the output (it has no tone curve, kTRC, to make an RGB "
            "profile of: a lookup-table profile); the output is untagged, shown as sRGB")


TIFF_OWN_TAGS = frozenset({254, 255, 256, 257, 258, 259, 262, 263, 264, 265, 266, 273, 277, 278, 279, 280, 281, 284,
                           317, 320, 322, 323, 324, 325, 330, 338, 339, 340, 341, 347, *range(512, 522), 530, 532,
                           34675})
"""Tags of a TIFF file's first IFD that describe the file, not the picture: how its pixels are laid out (size, bits,
compression, strips and tiles, extra samples...) and its ICC profile (carried apart, :func:`image_metadata`). A TIFF's
first IFD is also its EXIF's, so Pillow's ``getexif()`` gives them with the camera's tags; :func:`image_metadata`
leaves them out."""


def _carried_exif(im: Image.Image, path: str | Path) -> bytes | None:
    """The EXIF of an opened image (of the file ``path``; :func:`exif_of`, its pixels not decoded) that its output carries (camera and lens, dates, GPS, exposure...), serialised as
    Pillow's ``save(exif=...)`` takes it; None when it has none.

    Its orientation, where it has one, is set to 1 (top-left): :func:`read_image` turns the pixels upright, so the
    output must not be turned again; the pixel dimensions of the EXIF sub-IFD are swapped with the picture's where
    that turns it by 90 degrees. A TIFF's own layout tags are left out (:data:`TIFF_OWN_TAGS`); so is the thumbnail
    (IFD1, which shows the input). EXIF that Pillow cannot read or serialise again is not carried.
    """
    try:
        exif = exif_of(im, path)
        for tag in TIFF_OWN_TAGS & set(exif):
            del exif[tag]
        if not exif:
            return None
        orientation = exif.get(ExifTags.Base.Orientation)
        if orientation is not None:
            exif[ExifTags.Base.Orientation] = 1
        sub = exif.get_ifd(ExifTags.IFD.Exif)            # read now: a TIFF's is read from the open file
        size = (ExifTags.Base.ExifImageWidth, ExifTags.Base.ExifImageHeight)
        if orientation in (5, 6, 7, 8) and all(t in sub for t in size):
            sub[size[0]], sub[size[1]] = sub[size[1]], sub[size[0]]
        return exif.tobytes()
    except (KeyError, TypeError, *DAMAGED):
        return None


def _pages(im: Image.Image) -> int:
    """How many pages an opened TIFF holds (Pillow's ``n_frames``), of which :func:`read_image` reads the first; 1
    for any other format, and where its pages cannot be counted."""
    try:
        return im.n_frames if im.format == "TIFF" else 1
    except DAMAGED:
        return 1


class ImageMetadata(NamedTuple):
    """What an image's output carries from it, and its page count: :func:`image_metadata`."""

    icc_profile: bytes | None
    """Its ICC profile where it describes RGB, else None."""
    exif: bytes | None
    """Its EXIF as the output carries it (orientation 1), else None."""
    pages: int
    """Its pages (a multi-page TIFF), of which the first is read; 1 for other formats."""
    dropped: str | None = None
    """A warning, one line naming the file, that its colour profile is not carried (:func:`_gray_profile_dropped`),
    for the caller that writes its output to say; None where there is none."""


def image_metadata(path: str | Path) -> ImageMetadata:
    """What an image file's output carries from it (its RGB ICC profile, its EXIF), its page count and what of its
    profile it cannot carry, from one opening of its header: ``(None, None, 1, None)`` for a file that does not open
    (:func:`read_image` says why)."""
    try:
        with pillow_sizes(str(path)), Image.open(path) as im:
            icc = _rgb_profile(im)
            return ImageMetadata(icc, _carried_exif(im, path), _pages(im), _gray_profile_dropped(im, path, icc))
    except (UnidentifiedImageError, VidcolorError, *DAMAGED):
        return ImageMetadata(None, None, 1)


def exif_sized(exif: bytes, width: int, height: int) -> bytes:
    """``exif`` (as :func:`image_metadata` gives it) with the pixel dimensions of its EXIF sub-IFD (ExifImageWidth,
    ExifImageHeight), where it has them, set to ``width`` and ``height``: those of the image it goes into, which
    may differ from the input's (``--compare`` writes input and output side by side, twice as wide). Unchanged
    where it has neither."""
    tags = Image.Exif()
    tags.load(exif)
    sub = tags.get_ifd(ExifTags.IFD.Exif)
    size = {ExifTags.Base.ExifImageWidth: width, ExifTags.Base.ExifImageHeight: height}
    if not size.keys() & set(sub):
        return exif
    for tag, pixels in size.items():
        if tag in sub:
            sub[tag] = pixels
    return tags.tobytes()


def image_format(path: str | Path) -> str:
    """The Pillow format an image named ``path`` is written in, from its suffix.

    Raises:
        VidcolorError: a suffix that names no format Pillow writes (``.xyz``; ``.psd``, which it only reads) or none
            (Pillow would guess from the temporary file's random suffix).
    """
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt not in Image.SAVE:
        what = f"with the suffix {path.suffix!r}" if path.suffix else "without a suffix in its name"
        raise VidcolorError(f"{path}: cannot write an image {what}; name it .png (or .jpg, .webp, .tif, .bmp)")
    return fmt


def gif_image(rgb: np.ndarray, alpha: np.ndarray) -> Image.Image:
    """uint8 RGB ``(H, W, 3)`` and its alpha ``(H, W)`` as a palette image for GIF, which holds one bit of alpha:
    transparent below 128 (as a clip's GIF output, ffmpeg's ``paletteuse``), one palette entry. The opaque pixels'
    colours are reduced to 255 as an opaque image's are (Pillow's median cut: exact where there are at most 255 of
    them, a sprite's). Pillow's own RGBA -> GIF reduced a 148-colour sprite to 20 colours (octree), changing 89 % of
    its pixels by up to 15 levels, and made only alpha 0 transparent."""
    clear = alpha < 128
    filled = rgb.copy()
    filled[clear] = rgb[~clear][0] if not clear.all() else 0      # no colour of their own: no palette entry
    palette_image = Image.fromarray(filled).convert("P", palette=Image.Palette.ADAPTIVE, colors=255)
    if not clear.any():
        return palette_image
    index = np.asarray(palette_image).copy()
    index[clear] = 255
    out = Image.fromarray(index, "P")
    colours = palette_image.getpalette()[:255 * 3]
    out.putpalette(colours + [0] * (256 * 3 - len(colours)))
    out.info["transparency"] = 255
    return out


DEEP_FORMATS = ("PNG", "TIFF")
"""Pillow formats that :func:`write_image` writes at 16 bits per sample (uint16 RGB): Pillow has no 16-bit RGB mode
(``Image.fromarray`` refuses uint16 ``(H, W, 3)``; PyAV's PNG encoder is given no ICC profile from Python), so PNG is
written by OpenCV (``cv2.imencode``; with an ICC profile or EXIF, ``cv2.imencodeWithMetadata``: its iCCP and eXIf
chunks, :func:`_png16_with`) and TIFF by tifffile (its ``iccprofile``, and the EXIF tags of its first directory,
:func:`_tiff_tags`; no Exif or GPS directory)."""


def _png16_with(rgb: np.ndarray, icc_profile: bytes | None, exif: bytes | None) -> bytes | None:
    """uint16 RGB(A) ``(H, W, 3 or 4)`` encoded as a 16-bit PNG by OpenCV with ``icc_profile`` (its iCCP chunk) and
    ``exif`` (Pillow's serialisation, whose ``Exif\\0\\0`` header the eXIf chunk goes without, as Pillow writes it at 8
    bits); None where this OpenCV cannot: no ``imencodeWithMetadata`` (before 4.12), or a PNG that does not hold them
    as given (an OpenCV that drops ICC, before its PNG encoder wrote iCCP, opencv/opencv#27503, 2025; a profile that
    libpng refuses, 'Incorrect data in iCCP', which it also prints on stderr). Verified with OpenCV 5.1."""
    if not hasattr(cv2, "imencodeWithMetadata"):
        return None
    body = exif[6:] if exif and exif.startswith(b"Exif\0\0") else exif
    kinds, data = [], []
    for kind, value in ((cv2.IMAGE_METADATA_ICCP, icc_profile), (cv2.IMAGE_METADATA_EXIF, body)):
        if value:
            kinds.append(kind)
            data.append(np.frombuffer(value, np.uint8))
    try:
        ok, buf = cv2.imencodeWithMetadata(".png", rgb[..., [2, 1, 0, 3][:rgb.shape[2]]], kinds, data)  # RGB(A) -> BGR(A)
        if not ok:
            return None
        png = buf.tobytes()
        with Image.open(io.BytesIO(png)) as written:          # its header chunks alone, not its pixels
            info = written.info
    except (cv2.error, UnidentifiedImageError, *DAMAGED):
        return None
    if info.get("icc_profile") != (icc_profile or None) or info.get("exif") != (b"Exif\0\0" + body if body else None):
        return None
    return png


@functools.lru_cache(maxsize=8)
def _png16_keeps(icc_profile: bytes | None, exif: bytes | None) -> bool:
    """Whether :func:`_png16_with` writes a 16-bit PNG with ``icc_profile`` and ``exif`` (tried on one pixel). Cached:
    a folder of one scanner's images carries one profile."""
    return _png16_with(np.zeros((1, 1, 3), np.uint16), icc_profile, exif) is not None


def deep_refusal(fmt: str, icc_profile: bytes | None, exif: bytes | None) -> str | None:
    """Why :func:`write_image` cannot write an image of 16 bits per sample in the Pillow format ``fmt`` with the ICC
    profile and EXIF that its output carries (:func:`image_metadata`), as the end of a sentence
    (``"JPEG holds 8 bits (.png and .tif hold 16)"``); None where it can (:data:`DEEP_FORMATS`; a PNG with them where
    OpenCV writes them, :func:`_png16_keeps`: 5.1 here, a profile libpng takes). The metadata wins:
    an output at 8 bits with them is what an 8-bit one was, where one at 16 without them would show its colours
    otherwise (a Display P3 scan read as sRGB) or lose its camera, dates and GPS."""
    if fmt not in DEEP_FORMATS:
        return f"{fmt} holds 8 bits (.png and .tif hold 16)"
    if fmt == "PNG" and (icc_profile or exif) and not _png16_keeps(icc_profile, exif):
        what = " and ".join(w for w, v in (("ICC profile", icc_profile), ("EXIF", exif)) if v)
        tiff = not exif or _tiff_tags(exif) is not None
        return (f"its {what} {'are' if ' and ' in what else 'is'} carried into the PNG at 8 bits (OpenCV "
                f"{cv2.__version__} writes no 16-bit PNG with them" + ("; .tif keeps 16 bits with them)" if tiff else ")"))
    if fmt == "TIFF" and exif and _tiff_tags(exif) is None:
        return ("its EXIF is carried into the TIFF at 8 bits (tifffile writes a 16-bit TIFF with its first directory's "
                "tags, not with its Exif or GPS ones)")
    return None


TIFF_TYPES = {1: "B", 2: "s", 3: "H", 4: "I", 6: "b", 7: "B", 8: "h", 9: "i", 11: "f", 12: "d"}
"""TIFF field types (as Pillow's ``TiffTags`` names a tag's) -> tifffile's ``extratags`` dtype, where a value is
written as Pillow reads it; RATIONAL (5) and SRATIONAL (10) as numerator, denominator pairs."""


RESOLUTION_TAGS = (282, 283, 296)
"""XResolution, YResolution, ResolutionUnit: tifffile writes them itself (its ``resolution``, ``resolutionunit``)."""


def _tiff_tags(exif: bytes) -> dict | None:
    """``exif`` (:func:`image_metadata`'s, orientation 1, a TIFF's own layout tags left out) as tifffile's ``imwrite``
    arguments for a 16-bit TIFF's first directory: ``extratags`` (make, model, dates, software, artist...: a
    scanner's) and ``resolution``, ``resolutionunit`` where it has them; None where it holds what tifffile cannot
    write there: an Exif, GPS or interoperability directory with tags in it (a camera's; tifffile writes no nested
    directory), or a tag of a type Pillow's ``TiffTags`` does not know."""
    tags = Image.Exif()
    tags.load(exif)
    nested = (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop)
    if any(tags.get_ifd(ifd) for ifd in nested):
        return None
    out = []
    for tag, value in tags.items():
        if tag in nested or tag in TIFF_OWN_TAGS or tag in RESOLUTION_TAGS:
            continue
        kind = TiffTags.lookup(tag).type
        values = value if isinstance(value, tuple) else (value,)
        if kind in (5, 10):
            pairs = [(Fraction(v).limit_denominator(2 ** 31 - 1)) for v in values]
            out.append((tag, "2I" if kind == 5 else "2i", len(pairs),
                        tuple(n for f in pairs for n in (f.numerator, f.denominator)), True))
        elif kind == 2 and isinstance(value, str):
            out.append((tag, "s", 0, value, True))
        elif kind in TIFF_TYPES and kind != 2:
            data = value if isinstance(value, bytes) else values
            out.append((tag, TIFF_TYPES[kind], len(data), data, True))
        else:
            return None
    x, y, unit = (tags.get(t) for t in RESOLUTION_TAGS)
    where = {"resolution": (float(x), float(y)), "resolutionunit": unit or 2} if x and y else {}
    return {"extratags": out, **where}


def _write_deep(tmp: Path, fmt: str, rgb: np.ndarray, alpha: np.ndarray | None, icc_profile: bytes | None,
                exif: bytes | None) -> None:
    """uint16 RGB ``(H, W, 3)`` (+ uint16 alpha ``(H, W)``) into ``tmp`` as ``fmt`` (:data:`DEEP_FORMATS`): a PNG
    through OpenCV (with ``icc_profile`` and ``exif``, :func:`_png16_with`), a TIFF through tifffile (uncompressed, as Pillow writes an 8-bit one; alpha unassociated, with
    ``icc_profile`` and ``exif``'s tags, :func:`_tiff_tags`; tifffile's resolution 1 x 1, no unit, where it has
    none). Raises OSError where it cannot be written."""
    data = rgb if alpha is None else np.concatenate([rgb, alpha[..., None]], axis=2)
    if fmt == "PNG" and (icc_profile or exif):
        png = _png16_with(data, icc_profile, exif)
        if png is None:
            raise OSError("OpenCV's PNG encoder failed, or did not keep the ICC profile or EXIF")
        tmp.write_bytes(png)
        return
    if fmt == "PNG":
        ok, buf = cv2.imencode(".png", data[..., [2, 1, 0, 3][:data.shape[2]]])         # RGB(A) -> BGR(A)
        if not ok:
            raise OSError("OpenCV's PNG encoder failed")
        buf.tofile(tmp)
        return
    import tifffile                 # loaded for a 16-bit TIFF alone
    tifffile.imwrite(tmp, data, photometric="rgb", extrasamples=("unassalpha",) if alpha is not None else None,
                     iccprofile=icc_profile, metadata=None, software=False, **(_tiff_tags(exif) if exif else {}))


def write_image(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None, overwrite: bool = False,
                icc_profile: bytes | None = None, exif: bytes | None = None) -> None:
    """Write uint8 RGB ``(H, W, 3)`` (+ alpha ``(H, W)``) atomically; the format follows the suffix. uint16 RGB
    (+ uint16 alpha), 0..65535, is written at 16 bits per sample where :func:`deep_refusal` finds nothing against it
    (PNG with ``icc_profile`` and ``exif`` where OpenCV writes them, :func:`_png16_keeps`; TIFF with them, but for an
    ``exif`` with Exif or GPS directories: :data:`DEEP_FORMATS`).

    Alpha is dropped for formats without it (:data:`OPAQUE_FORMATS`: JPEG, BMP, PPM); GIF keeps one bit of it
    (:func:`gif_image`). JPEG is written at quality
    95 without chroma subsampling and WebP lossless (:data:`SAVE_OPTIONS`). ``icc_profile`` (an RGB profile,
    :func:`image_metadata`) and ``exif`` (EXIF as Pillow serialises it, :func:`image_metadata`) are embedded where the
    format holds them (:data:`ICC_FORMATS`), the EXIF's pixel dimensions those written (:func:`exif_sized`).

    Raises:
        ValueError: ``rgb`` is not a uint8 array ``(H, W, 3)`` (a gray ``(H, W)``, an RGBA ``(H, W, 4)`` or a batch
            ``(1, H, W, 3)`` included) nor a uint16 one that the format holds with what it carries
            (:func:`deep_refusal`), or ``alpha`` not an array ``(H, W)`` of its size and dtype.
        VidcolorError: if ``path`` exists and ``overwrite`` is False, its suffix names no format Pillow writes, or
            the size is outside :func:`~vidcolor.io.limits.check_frame_size`'s limits (which :func:`read_image`
            would refuse) (all checked before anything is written).
    """
    path = Path(path)
    deep = isinstance(rgb, np.ndarray) and rgb.dtype == np.uint16
    if not deep:
        check_rgb(rgb, (3,), str(path))
    elif rgb.ndim != 3 or rgb.shape[2] != 3 or not rgb.size:
        raise ValueError(f"{path}: expected uint16 RGB (H, W, 3), no side empty, got {described(rgb)}")
    dtype = np.uint16 if deep else np.uint8
    if alpha is not None and (not isinstance(alpha, np.ndarray) or alpha.dtype != dtype
                              or alpha.shape != rgb.shape[:2]):
        raise ValueError(f"{path}: expected a {np.dtype(dtype).name} alpha {rgb.shape[:2]} (H, W of the image), got "
                         f"{described(alpha)}")
    check_frame_size(rgb.shape[1], rgb.shape[0], str(path))
    check_target(path, overwrite)
    fmt = image_format(path)
    if deep and (refusal := deep_refusal(fmt, icc_profile, exif)):
        raise ValueError(f"{path}: cannot write 16 bits per sample: {refusal}")
    im = None if deep else Image.fromarray(rgb)
    if alpha is not None and fmt == "GIF":
        im = gif_image(rgb, alpha)
    elif alpha is not None and fmt not in OPAQUE_FORMATS and not deep:
        im.putalpha(Image.fromarray(alpha))
    tmp = partial_file(path, f".partial{path.suffix}")   # the format is the suffix's; .partial marks the name
    try:
        exif = exif_sized(exif, rgb.shape[1], rgb.shape[0]) if exif and fmt in ICC_FORMATS else exif
        if deep:
            _write_deep(tmp, fmt, rgb, alpha, icc_profile, exif)
        else:
            tags = {k: v for k, v in (("icc_profile", icc_profile), ("exif", exif)) if v} if fmt in ICC_FORMATS else {}
            im.save(tmp, **SAVE_OPTIONS.get(fmt, {}), **tags)
    except (OSError, ValueError) as exc:
        discard(tmp)
        raise VidcolorError(f"{path}: cannot write image ({exc})") from None
    except BaseException:
        discard(tmp)
        raise
    move_into_place(tmp, path, overwrite)
