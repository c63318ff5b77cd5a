"""Colour spaces of still images: a print image's CMYK, and an RGB image's wide gamut (Display P3, Adobe RGB,
ProPhoto), to sRGB through the image's own ICC profile (Pillow's ImageCms, LittleCMS), as viewers show them.

Pillow and numpy alone (no PyAV, no ffmpeg-python): the training data reads photos through it on a machine without
them. :func:`to_srgb` is what both readers call where colours are meant as displayed: a ``--reference`` image
(:func:`vidcolor.io.images.read_image` with ``to_srgb``) and training's photos
(:func:`vidcolor.training.data.read_rgb`). The inputs of ``dequantize`` and ``colorize`` are read as stored (a CMYK
one through :func:`cmyk_to_srgb` alone): quantization happened in their code values, and their output carries their
profile.
"""
from __future__ import annotations

import functools
import io
import struct

import numpy as np
from PIL import ExifTags, Image

D65 = (0.3127, 0.3290)
"""The CIE standard illuminant D65's white point, CIE xy (as sRGB, Rec. 709 and the video standards give it)."""

SRGB_PRIMARIES = (D65, ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06)))
"""sRGB's (and Rec. 709's) white point (D65) and red, green, blue primaries, CIE xy."""

ADOBE_RGB_PRIMARIES = (D65, ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06)))
"""Adobe RGB (1998)'s white point (D65) and primaries, CIE xy (Adobe RGB (1998) Color Image Encoding, 2005, 4.3)."""

ADOBE_RGB_GAMMA = 563 / 256
"""Adobe RGB (1998)'s transfer: a pure power 2.19921875 (ibid. 4.3.4.2), as its own profile's one-entry curve."""

SRGB_TOLERANCE = 1
"""A profile whose transform into sRGB moves no 8-bit sample by more than this many levels (over a 16-step RGB grid,
the gray ramp and each primary's ramp) is taken as sRGB, and its image left byte for byte as it is: vendors' sRGB
profiles differ from LittleCMS's by their colorants' fourth decimal and their curves' sampling. Measured: LittleCMS's
own and one built from sRGB's published numbers (:func:`matrix_profile`) move none (0); sRGB's primaries with a pure
2.2 power curve move 9 levels, and so does a red primary 0.005 off sRGB's in x."""

PNG_SRGB_GAMMA = 1 / 2.2
PNG_GAMMA_SLACK = 0.02
"""A PNG's gAMA within 2 % of 1/2.2 (45455, what the PNG specification tells encoders of sRGB to write beside the sRGB
chunk) is taken as sRGB's curve: an ordinary PNG's, left as it is."""

PNG_GAMMA_RANGE = (0.125, 4.0)
"""A PNG's gAMA outside this (a curve exponent beyond 1/4..8: every sample black or white) is ignored, as if absent:
no image is encoded so, and such a chunk is a writer's mistake."""

PNG_CHROMATICITY_SLACK = 0.01
"""A PNG's cHRM whose white and primaries each lie within this of sRGB's (CIE xy) are sRGB's."""

D50 = (0.9642, 1.0, 0.8249)
"""The ICC profile connection space's white, CIE XYZ (ICC.1:2010, 7.2.16)."""

_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def _s15(x: float) -> bytes:
    """ICC's s15Fixed16Number. Raises ValueError for a value it cannot hold (beyond +-32768, NaN)."""
    if not -32768 <= x < 32768:
        raise ValueError(f"{x} is beyond ICC's s15Fixed16 numbers")
    return struct.pack(">i", round(x * 65536))


def _xyz(x: float, y: float) -> np.ndarray:
    """CIE xy -> XYZ with Y = 1."""
    return np.array([x / y, 1.0, (1 - x - y) / y])


def rgb_to_xyz(white: tuple[float, float], primaries: tuple[tuple[float, float], ...]) -> np.ndarray:
    """The 3x3 matrix from linear RGB of the space given by ``white`` and ``primaries`` (CIE xy, as
    :func:`matrix_profile` takes them) to CIE XYZ: R = G = B = 1 is the white, of Y = 1.

    Raises:
        ValueError: primaries that span no RGB space (collinear, or a y of 0).
    """
    if white[1] <= 0 or any(y <= 0 for _, y in primaries):
        raise ValueError("chromaticities with a y of 0 describe no colour")
    m = np.stack([_xyz(*p) for p in primaries], axis=1)
    if abs(np.linalg.det(m)) < 1e-9:
        raise ValueError("primaries that lie on one line span no RGB space")
    return m * np.linalg.solve(m, _xyz(*white))


def bradford(white: tuple[float, float], to: tuple[float, float, float] | tuple[float, float]) -> np.ndarray:
    """The 3x3 Bradford adaptation of CIE XYZ from the white ``white`` (CIE xy) to ``to`` (XYZ, as :data:`D50`, or
    xy), as ICC profiles adapt their colorants to D50."""
    w = _xyz(*white)
    t = np.array(to) if len(to) == 3 else _xyz(*to)
    return np.linalg.inv(_BRADFORD) @ np.diag(_BRADFORD @ t / (_BRADFORD @ w)) @ _BRADFORD


def matrix_profile(white: tuple[float, float], primaries: tuple[tuple[float, float], ...],
                   gamma: float | None = None, name: str = "RGB", trc: bytes | None = None) -> bytes:
    """An ICC v2 RGB display profile (matrix/TRC, as Display P3's, Adobe RGB's and ProPhoto's are) of an RGB space
    given by its white point and red, green, blue primaries (CIE xy: ``white = (x, y)``, ``primaries = ((xr, yr),
    (xg, yg), (xb, yb))``) and its transfer: a pure power ``gamma`` (linear = code ** gamma, e.g. 2.2; stored as ICC's
    8.8 fixed-point curve, 1/256 apart), or sRGB's piecewise curve (IEC 61966-2-1) where ``gamma`` is None. The
    colorants are adapted to the PCS's D50 by Bradford, as ICC requires. For what LittleCMS cannot be given through
    Pillow (``ImageCms.createProfile`` makes only sRGB, Lab and XYZ): Adobe RGB declared by EXIF alone, a PNG's
    gAMA/cHRM. ``trc``, where given, is the three curves' tag body (an ICC ``curv`` or ``para``, as a gray profile's
    kTRC: :func:`gray_as_rgb`), ``gamma`` unused.

    Raises:
        ValueError: primaries that span no RGB space (collinear, or a y of 0), or numbers a profile cannot hold (a
            colorant beyond +-32768, a gamma not in 1/256..255).
    """
    m = bradford(white, D50) @ rgb_to_xyz(white, primaries)           # adapted to D50
    if trc is not None:
        curve = trc
    elif gamma is None:                                    # ICC parametric curve 3: sRGB's
        curve = b"para" + bytes(4) + struct.pack(">HH", 3, 0) + b"".join(
            _s15(v) for v in (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    elif 0 < round(gamma * 256) < 65536:
        curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    else:
        raise ValueError(f"a gamma of {gamma} is beyond ICC's 8.8 fixed-point curve")
    text = name.encode("ascii", "replace")
    xyz_tag = lambda v: b"XYZ " + bytes(4) + b"".join(_s15(c) for c in v)     # noqa: E731
    tags = [(b"desc", b"desc" + bytes(4) + struct.pack(">I", len(text) + 1) + text + bytes(1 + 8 + 3 + 67)),
            (b"cprt", b"text" + bytes(4) + b"No copyright, use freely\0"),
            (b"wtpt", xyz_tag(D50)), (b"rXYZ", xyz_tag(m[:, 0])), (b"gXYZ", xyz_tag(m[:, 1])),
            (b"bXYZ", xyz_tag(m[:, 2])), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset, table, data, placed = 132 + 12 * len(tags), b"", b"", {}
    for sig, body in tags:
        if body not in placed:                             # the three curves share one body, as profiles do
            placed[body] = offset + len(data)
            data += body + bytes(-len(body) % 4)
        table += sig + struct.pack(">II", placed[body], len(body))
    header = (struct.pack(">I", offset + len(data)) + bytes(4) + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + bytes(12) + b"acsp" + bytes(24) + struct.pack(">I", 1) + b"".join(_s15(c) for c in D50)
              + bytes(48))                                 # rendering intent 1: relative colorimetric
    return header + struct.pack(">I", len(tags)) + table + data


@functools.lru_cache(maxsize=8)
def gray_as_rgb(icc: bytes) -> bytes | None:
    """An RGB profile (:func:`matrix_profile`: sRGB's primaries and white) whose gray axis, R = G = B = v, shows as the
    gray ICC profile ``icc`` shows gray level v: its tone curve (kTRC) copied as the three curves. For a gray image
    colorized (or dequantized) to RGB, whose samples keep their code values as an RGB image's do: a gray profile
    cannot describe the RGB output, which untagged is shown as sRGB (a Gray Gamma 1.8 scan's mid gray, 128, at L* 54
    where its profile says 61). The colours made around that gray axis are sRGB's, as the model's. None where ``icc``
    is no gray profile or has no kTRC (a lookup-table gray profile) or one that is no ``curv`` or ``para`` curve.
    Cached: a folder of one scanner's images carries one profile."""
    if len(icc) < 132 or icc[16:20] != b"GRAY":
        return None
    count = int.from_bytes(icc[128:132], "big")
    for i in range(min(count, (len(icc) - 132) // 12)):
        sig, start, size = struct.unpack_from(">4sII", icc, 132 + 12 * i)
        if sig == b"kTRC" and 12 <= size and start + size <= len(icc) and icc[start:start + 4] in (b"curv", b"para"):
            return matrix_profile(*SRGB_PRIMARIES, name="RGB from a gray profile's tone curve",
                                  trc=icc[start:start + size])
    return None


@functools.lru_cache(maxsize=1)
def adobe_rgb_profile() -> bytes:
    """Adobe RGB (1998) as a matrix/TRC profile (:func:`matrix_profile`), for an image that declares it by EXIF
    alone."""
    return matrix_profile(*ADOBE_RGB_PRIMARIES, gamma=ADOBE_RGB_GAMMA, name="Adobe RGB (1998) (from EXIF)")


def _srgb():
    """LittleCMS's sRGB profile: a new one each time, as every profile here (LittleCMS reads a profile's tags
    lazily, so one shared by two threads building transforms at once is not safe)."""
    from PIL import ImageCms        # (LittleCMS: loaded for such an image alone)
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _probe() -> Image.Image:
    """RGB samples that a transform into sRGB must leave where they are for its profile to be sRGB's."""
    grid = np.stack(np.meshgrid(*[np.r_[0:256:17]] * 3, indexing="ij"), -1).reshape(-1, 3)
    ramp = np.arange(256)[:, None]
    ramps = [ramp * np.array(c) for c in ((1, 1, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1))]
    return Image.fromarray(np.concatenate([grid, *ramps]).astype(np.uint8)[None])


def _profile(icc: bytes):
    """A LittleCMS profile (a new one: :func:`_srgb`) of ICC bytes describing RGB other than sRGB
    (:func:`_other_than_srgb`), else None."""
    from PIL import ImageCms
    return ImageCms.ImageCmsProfile(io.BytesIO(icc)) if _other_than_srgb(icc) else None


@functools.lru_cache(maxsize=32)
def _other_than_srgb(icc: bytes) -> bool:
    """Whether ICC bytes describe RGB that differs from sRGB by more than :data:`SRGB_TOLERANCE`: False for sRGB's
    own (any vendor's) and for bytes that are no RGB profile or that LittleCMS does not read or transform (read as
    before: as sRGB). Cached: a folder of one phone's photos carries one profile (the probe's transform is built
    once)."""
    from PIL import ImageCms
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if profile.profile.xcolor_space.strip() != "RGB":
            return False
        probe = _probe()
        out = ImageCms.profileToProfile(probe, profile, _srgb(), ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                        outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False
    return int(np.abs(np.asarray(out, np.int16) - np.asarray(probe, np.int16)).max()) > SRGB_TOLERANCE


def _exif_adobe_rgb(im: Image.Image) -> bool:
    """Whether an image's EXIF declares Adobe RGB without a profile, as cameras set to it do (DCF 2.0: ColorSpace
    0xFFFF, uncalibrated, and the interoperability index R03; ExifTool's ColorSpace 2, Adobe RGB, too)."""
    try:
        exif = im.getexif()
        space = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.ColorSpace)
        if space == 2:
            return True
        index = exif.get_ifd(ExifTags.IFD.Interop).get(ExifTags.Base.InteropIndex)   # (tag 1 of the interop IFD)
    except Exception:       # noqa: BLE001 (EXIF that Pillow cannot parse declares nothing)
        return False
    if isinstance(index, bytes):
        index = index.decode("ascii", "replace")
    return space == 0xFFFF and isinstance(index, str) and index.strip("\0 ") == "R03"


def _png_profile(info: dict) -> bytes | None:
    """A matrix/TRC profile (:func:`matrix_profile`) of a PNG's gAMA and cHRM chunks (as Pillow gives them:
    ``info["gamma"]``, the file's encoding exponent, and ``info["chromaticity"]``, white then R, G, B as CIE xy),
    where they describe other than sRGB; None where they are absent or sRGB's (:data:`PNG_GAMMA_SLACK`,
    :data:`PNG_CHROMATICITY_SLACK`) or describe nothing (degenerate primaries); a gAMA outside
    :data:`PNG_GAMMA_RANGE` is ignored."""
    gamma, chrm = info.get("gamma"), info.get("chromaticity")
    if gamma is not None and not PNG_GAMMA_RANGE[0] <= gamma <= PNG_GAMMA_RANGE[1]:
        gamma = None                                                      # nonsense: ignored
    if gamma is not None and abs(gamma / PNG_SRGB_GAMMA - 1) <= PNG_GAMMA_SLACK:
        gamma = None                                                      # sRGB's curve
    points = None
    if chrm is not None and len(chrm) == 8:
        ours = (SRGB_PRIMARIES[0], *SRGB_PRIMARIES[1])
        points = tuple(zip(chrm[::2], chrm[1::2]))
        if all(abs(a - b) <= PNG_CHROMATICITY_SLACK for p, q in zip(points, ours) for a, b in zip(p, q)):
            points = None
    if gamma is None and points is None:
        return None
    white, primaries = (points[0], points[1:]) if points else SRGB_PRIMARIES
    try:
        return matrix_profile(white, primaries, None if gamma is None else 1 / gamma, name="PNG gAMA/cHRM")
    except ValueError:
        return None


def source_profile(im: Image.Image):
    """The colour space of an opened RGB image's samples where it is not sRGB, as a LittleCMS profile
    (``ImageCms.ImageCmsProfile``); None where they are sRGB or nothing says otherwise. In order, as viewers take
    them:

    1. an embedded ICC profile (a JPEG's APP2, a PNG's iCCP, a TIFF's, a WebP's ICCP) describing RGB: a phone's
       Display P3, a camera's Adobe RGB, ProPhoto. Any vendor's sRGB profile is sRGB (:data:`SRGB_TOLERANCE`); one
       that LittleCMS cannot read is ignored (the image is read as sRGB, as before);
    2. a PNG's sRGB chunk: sRGB; else its gAMA and cHRM chunks (:func:`_png_profile`);
    3. EXIF declaring Adobe RGB without a profile (:func:`_exif_adobe_rgb`).

    Only RGB, RGBA, palette (P, PA) images: a gray image's profile or gAMA is not applied (its gray levels are read
    as they are)."""
    if im.mode not in ("RGB", "RGBA", "P", "PA"):
        return None
    icc = im.info.get("icc_profile")
    if icc:
        return _profile(bytes(icc))
    if im.format == "PNG":
        if "srgb" in im.info:
            return None
        if (png := _png_profile(im.info)) is not None:
            return _profile(png)
    return _profile(adobe_rgb_profile()) if _exif_adobe_rgb(im) else None


def to_srgb(im: Image.Image, tags: Image.Image | None = None) -> Image.Image:
    """An opened, loaded image with its samples in sRGB, as a reference and training take it: CMYK through its profile
    (:func:`cmyk_to_srgb`); RGB, RGBA and palette images whose ``tags`` (``im`` itself by default; the opened
    file where ``im`` was decoded from it apart, a 16-bit PNG's or TIFF's rounded samples) say they are in another
    space (:func:`source_profile`) converted through LittleCMS, relative colorimetric, as an RGB or RGBA image
    (a palette's or a tRNS colour's transparency as alpha, which is kept as it is) without the profile, gAMA and cHRM
    in its ``info``. Any other image (sRGB-tagged, untagged, gray) is returned as it is: the same object, the same
    bytes.

    Relative colorimetric: a colour inside sRGB comes out as the one measured (a reference's colours are matched
    as they are), one outside it is clipped to sRGB's edge. P3, Adobe RGB and ProPhoto profiles are matrix/TRC
    ones with no perceptual table, so LittleCMS's perceptual intent computes the same transform for them; for a
    table-based profile perceptual would compress the whole gamut, shifting colours that sRGB holds.
    """
    if im.mode == "CMYK":
        return cmyk_to_srgb(im)
    source = source_profile(tags if tags is not None else im)
    if source is None or im.mode not in ("RGB", "RGBA", "P", "PA"):
        return im
    from PIL import ImageCms
    if im.mode in ("P", "PA") or "transparency" in im.info:
        im = im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
    alpha = im.getchannel("A") if im.mode == "RGBA" else None
    try:
        out = ImageCms.profileToProfile(im.convert("RGB") if alpha is not None else im, source, _srgb(),
                                        ImageCms.Intent.RELATIVE_COLORIMETRIC, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return im
    if alpha is not None:
        out.putalpha(alpha)
    out.info = {k: v for k, v in im.info.items() if k not in ("icc_profile", "gamma", "chromaticity", "transparency")}
    return out


def cmyk_to_srgb(im: Image.Image) -> Image.Image:
    """A CMYK image with an embedded ICC profile (a print JPEG or TIFF: SWOP, FOGRA) in sRGB through that profile
    (Pillow's ImageCms, littleCMS; the profile's own rendering intent), as viewers show it; Pillow's ``convert("RGB")``
    takes ``255 - C - K`` for R and so on, which shows a press's CMYK far too saturated and dark. A profile that
    cannot be read, or is not a CMYK one, leaves the image to that naive conversion; any other image (not CMYK, or
    CMYK without a profile) is returned as it is. ``im`` must be loaded. :func:`to_srgb` calls it."""
    if im.mode != "CMYK" or not im.info.get("icc_profile"):
        return im
    from PIL import ImageCms        # (littleCMS: loaded for such an image alone)

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
        if profile.profile.xcolor_space.strip() != "CMYK":
            return im
        out = ImageCms.profileToProfile(im, profile, _srgb(), outputMode="RGB",
                                        renderingIntent=ImageCms.Intent(profile.profile.rendering_intent))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return im
    out.info = {k: v for k, v in im.info.items() if k != "icc_profile"}
    return out
