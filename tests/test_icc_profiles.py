"""Colour-managed still images: an RGB image tagged with a wide-gamut space (an embedded ICC profile, PNG gAMA/cHRM,
EXIF's Adobe RGB) is read in sRGB where its colours are meant as displayed (a ``--reference``: read_image's
``to_srgb``; training's read_rgb); sRGB-tagged and untagged images are read byte for byte as before. The inputs of
dequantize and colorize are read as stored (their code values, quantized there), their profile carried into the
output. Expected colours are computed here with numpy from the spaces' published numbers, apart from LittleCMS."""
from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from vidcolor.io import read_image
from vidcolor.io.icc import ADOBE_RGB_PRIMARIES, SRGB_PRIMARIES, matrix_profile, to_srgb
from vidcolor.io.images import image_metadata

D65 = (0.3127, 0.3290)
SPACES = {  # name: (white, primaries, gamma: None = sRGB's curve)
    "p3": (D65, ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)), None),          # Display P3
    "adobe": (*ADOBE_RGB_PRIMARIES, 563 / 256),                                    # Adobe RGB (1998)
    "prophoto": ((0.3457, 0.3585), ((0.7347, 0.2653), (0.1596, 0.8404), (0.0366, 0.0001)), 1.8),
}


def _rgb_to_xyz(white, primaries):
    xyz = lambda x, y: np.array([x / y, 1.0, (1 - x - y) / y])   # noqa: E731
    m = np.stack([xyz(*p) for p in primaries], axis=1)
    return m * np.linalg.solve(m, xyz(*white)), xyz(*white)


def expected_srgb(rgb: np.ndarray, white, primaries, gamma) -> np.ndarray:
    """uint8 RGB ``(..., 3)`` of a space (white, primaries xy; a power ``gamma`` or, None, sRGB's curve) in sRGB,
    relative colorimetric (Bradford-adapted white to white), clipped: numpy, not LittleCMS."""
    v = rgb / 255.0
    srgb_curve = lambda v: np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)   # noqa: E731
    lin = srgb_curve(v) if gamma is None else v ** gamma
    m, w = _rgb_to_xyz(white, primaries)
    s, ws = _rgb_to_xyz(*SRGB_PRIMARIES)
    b = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
    adapt = np.linalg.inv(b) @ np.diag((b @ ws) / (b @ w)) @ b
    out = np.clip(lin @ (np.linalg.inv(s) @ adapt @ m).T, 0, 1)
    return np.rint(255 * np.where(out <= 0.0031308, 12.92 * out, 1.055 * out ** (1 / 2.4) - 0.055)).astype(int)


def colours() -> np.ndarray:
    """``(6, 8, 3)`` uint8: saturated and muted colours, grays."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    x[0, :4] = [[255, 0, 0], [0, 200, 0], [30, 60, 220], [128, 128, 128]]
    return x


def save(path, rgb, **kw):
    im = Image.fromarray(rgb)
    fmt = {".jpg": {"quality": 100, "subsampling": 0}, ".webp": {"lossless": True}}.get(path.suffix, {})
    im.save(path, **fmt, **kw)
    with Image.open(path) as back:                       # the samples in the file (JPEG's rounding included)
        return np.asarray(back.convert("RGB")).astype(int)


@pytest.mark.parametrize("space", sorted(SPACES))
@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_a_wide_gamut_image_is_read_in_srgb(tmp_path, space, suffix):
    """A Display P3 / Adobe RGB / ProPhoto image (embedded profile) was read as if it were sRGB: P3's (0, 200, 0)
    as sRGB's, less saturated than it is. Fails without the conversion (off by up to ~100 levels). Without
    ``to_srgb`` (an input of dequantize or colorize) it is read as stored and its profile carried, as on main
    (3a0685c converted it and dropped the profile: quantization cells moved off their grid)."""
    white, primaries, gamma = SPACES[space]
    f = tmp_path / f"a{suffix}"
    icc = matrix_profile(white, primaries, gamma, space)
    samples = save(f, colours(), icc_profile=icc)
    got, alpha = read_image(f, to_srgb=True)
    want = expected_srgb(samples, white, primaries, gamma)
    assert alpha is None and got.dtype == np.uint8 and got.shape == (6, 8, 3)
    assert np.abs(got.astype(int) - want).max() <= 1
    assert np.abs(samples - want).max() > 20                       # the conversion shows
    np.testing.assert_array_equal(read_image(f)[0], samples)       # an input: its code values
    assert image_metadata(f).icc_profile == icc                    # and its profile carried into the output


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
@pytest.mark.parametrize("profile", ["lcms", "built", "none"])
def test_srgb_tagged_and_untagged_images_are_read_as_before(tmp_path, suffix, profile):
    """Any vendor's sRGB profile (LittleCMS's, one built from sRGB's numbers with its parametric curve), or none:
    the bytes Pillow decodes, untouched, and the profile carried into the output as before."""
    icc = {"lcms": ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
           "built": matrix_profile(*SRGB_PRIMARIES, None), "none": None}[profile]
    f = tmp_path / f"a{suffix}"
    samples = save(f, colours(), **({"icc_profile": icc} if icc else {}))
    got, _ = read_image(f, to_srgb=True)
    np.testing.assert_array_equal(got, samples)
    assert image_metadata(f).icc_profile == icc
    with Image.open(f) as im:
        im.load()
        assert to_srgb(im) is im


def test_transparency_and_palettes_survive_the_conversion(tmp_path):
    """RGBA and a palette with a tRNS chunk, tagged P3: colours converted, alpha as it was."""
    white, primaries, gamma = SPACES["p3"]
    icc = matrix_profile(white, primaries, gamma)
    x = colours()
    a = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    Image.fromarray(np.dstack([x, a])).save(tmp_path / "rgba.png", icc_profile=icc)
    got, alpha = read_image(tmp_path / "rgba.png", to_srgb=True)
    np.testing.assert_array_equal(alpha, a)
    assert np.abs(got.astype(int) - expected_srgb(x.astype(int), white, primaries, gamma)).max() <= 1
    pal = Image.fromarray(x).quantize(16)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", icc_profile=icc, transparency=0)
    idx = np.asarray(pal)
    colours_p = np.asarray(pal.convert("RGB")).astype(int)
    got, alpha = read_image(tmp_path / "p.png", to_srgb=True)
    np.testing.assert_array_equal(alpha, np.where(idx == 0, 0, 255))
    assert np.abs(got.astype(int) - expected_srgb(colours_p, white, primaries, gamma)).max() <= 1


def exif_adobe(space: int = 0xFFFF, index: str | None = "R03") -> bytes:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ColorSpace] = space
    if index is not None:                                  # (a dict: Pillow writes it as the interop IFD)
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.IFD.Interop] = {ExifTags.Base.InteropIndex: index}
    return exif.tobytes()


def test_exif_adobe_rgb_without_a_profile_is_read_as_adobe_rgb(tmp_path):
    """A camera set to Adobe RGB writes no profile, only EXIF ColorSpace uncalibrated (0xFFFF) and the
    interoperability index R03 (DCF): it was read as sRGB. As an input it is read as stored, its output's EXIF
    saying Adobe RGB still (ColorSpace uncalibrated, R03), as the samples are."""
    f = tmp_path / "dsc.jpg"
    samples = save(f, colours(), exif=exif_adobe())
    got, _ = read_image(f, to_srgb=True)
    assert np.abs(got.astype(int) - expected_srgb(samples, *SPACES["adobe"])).max() <= 1
    np.testing.assert_array_equal(read_image(f)[0], samples)
    meta = image_metadata(f)
    assert meta.icc_profile is None
    carried = Image.Exif()
    carried.load(meta.exif)
    assert carried.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ColorSpace] == 0xFFFF
    assert carried.get_ifd(ExifTags.IFD.Interop)[ExifTags.Base.InteropIndex] == "R03"


@pytest.mark.parametrize("space, index", [(1, "R98"), (0xFFFF, None), (1, None)])
def test_exif_srgb_or_uncalibrated_alone_is_read_as_before(tmp_path, space, index):
    f = tmp_path / "dsc.jpg"
    samples = save(f, colours(), exif=exif_adobe(space, index))
    np.testing.assert_array_equal(read_image(f, to_srgb=True)[0], samples)


def png_chunks(**chunks) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    if "gamma" in chunks:
        info.add(b"gAMA", struct.pack(">I", round(chunks["gamma"] * 100000)))
    if "chrm" in chunks:
        info.add(b"cHRM", struct.pack(">8I", *(round(v * 100000) for v in chunks["chrm"])))
    if "srgb" in chunks:
        info.add(b"sRGB", bytes([0]))
    return info


def test_png_gama_and_chrm_are_applied_where_they_say_other_than_srgb(tmp_path):
    """gAMA 1/1.8 (an old Mac's PNG) and a P3 cHRM were ignored; gAMA 1/2.2 alone (sRGB's, as encoders write it)
    or an sRGB chunk (which takes precedence over gAMA/cHRM) leave the image as it is. Inputs (no ``to_srgb``) are
    read as stored."""
    x = colours()
    Image.fromarray(x).save(tmp_path / "mac.png", pnginfo=png_chunks(gamma=1 / 1.8))
    got, _ = read_image(tmp_path / "mac.png", to_srgb=True)
    assert np.abs(got.astype(int) - expected_srgb(x.astype(int), *SRGB_PRIMARIES, 1.8)).max() <= 1
    np.testing.assert_array_equal(read_image(tmp_path / "mac.png")[0], x)
    white, primaries, _ = SPACES["p3"]
    Image.fromarray(x).save(tmp_path / "p3.png", pnginfo=png_chunks(gamma=0.45455, chrm=(*white, *sum(primaries, ()))))
    got, _ = read_image(tmp_path / "p3.png", to_srgb=True)
    assert np.abs(got.astype(int) - expected_srgb(x.astype(int), white, primaries, None)).max() <= 1
    np.testing.assert_array_equal(read_image(tmp_path / "p3.png")[0], x)
    for name, chunks in {"g22.png": {"gamma": 0.45455},
                         "srgb.png": {"gamma": 1.0, "srgb": True, "chrm": (*white, *sum(primaries, ()))},
                         "chrm.png": {"gamma": 0.45455, "chrm": (*SRGB_PRIMARIES[0], *sum(SRGB_PRIMARIES[1], ()))}
                         }.items():
        Image.fromarray(x).save(tmp_path / name, pnginfo=png_chunks(**chunks))
        np.testing.assert_array_equal(read_image(tmp_path / name, to_srgb=True)[0], x)


@pytest.mark.parametrize("gamma", [0.00001, 21474.83647])
def test_a_nonsense_png_gamma_is_ignored_not_an_error(tmp_path, gamma):
    """gAMA 0.00001 (a curve exponent of 100000, beyond ICC's curves) made the image unreadable, 'cannot read as
    image (error)'; 21474.8 made every sample white. Such a chunk is ignored: the samples as stored, as before."""
    x = colours()
    Image.fromarray(x).save(tmp_path / "g.png", pnginfo=png_chunks(gamma=gamma))
    np.testing.assert_array_equal(read_image(tmp_path / "g.png", to_srgb=True)[0], x)
    white, primaries, _ = SPACES["p3"]                    # beside a cHRM, the sRGB curve is taken
    Image.fromarray(x).save(tmp_path / "c.png", pnginfo=png_chunks(gamma=gamma, chrm=(*white, *sum(primaries, ()))))
    got = read_image(tmp_path / "c.png", to_srgb=True)[0].astype(int)
    assert np.abs(got - expected_srgb(x.astype(int), white, primaries, None)).max() <= 1


def test_a_gray_image_with_a_gamma_is_read_as_it_is(tmp_path):
    """Left alone (gray images' gAMA and gray profiles): the gray levels as stored."""
    g = np.arange(256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(g).save(tmp_path / "g.png", pnginfo=png_chunks(gamma=1 / 1.8))
    np.testing.assert_array_equal(read_image(tmp_path / "g.png", to_srgb=True)[0], np.dstack([g] * 3))


def test_a_broken_rgb_profile_is_read_as_before(tmp_path):
    """A profile LittleCMS does not read: the samples as stored, no error (as before)."""
    icc = bytearray(matrix_profile(*SPACES["p3"]))
    icc[36:40] = b"xxxx"                                  # no 'acsp' signature
    samples = save(tmp_path / "a.png", colours(), icc_profile=bytes(icc))
    np.testing.assert_array_equal(read_image(tmp_path / "a.png", to_srgb=True)[0], samples)


def test_training_reads_a_wide_gamut_photo_as_the_runtime_does(tmp_path):
    from vidcolor.training.data import read_rgb

    f = tmp_path / "a.jpg"
    save(f, colours(), icc_profile=matrix_profile(*SPACES["p3"]))
    np.testing.assert_array_equal(read_rgb(f), read_image(f, to_srgb=True)[0])
    g = tmp_path / "dsc.jpg"
    save(g, colours(), exif=exif_adobe())
    np.testing.assert_array_equal(read_rgb(g), read_image(g, to_srgb=True)[0])


def test_a_p3_reference_gives_its_colours_in_srgb(tmp_path):
    """--reference read a phone's P3 photo as sRGB: its colours were matched duller than they are."""
    from vidcolor.reference import read_references

    white, primaries, gamma = SPACES["p3"]
    x = np.zeros((64, 64, 3), np.uint8)
    x[:] = (120, 180, 60)                                 # a grass green, inside sRGB
    x[32:] = (60, 90, 200)                                # and a blue: a reference of one hue is warned about
    Image.fromarray(x).save(tmp_path / "ref.png", icc_profile=matrix_profile(white, primaries, gamma))
    (ref,) = read_references([tmp_path / "ref.png"], render_size=None)
    want = expected_srgb(np.array([120, 180, 60]), white, primaries, gamma)
    assert np.abs(ref[0, 0].astype(int) - want).max() <= 1
    assert np.abs(want - (120, 180, 60)).max() > 15                 # greener than read as sRGB


def test_the_matrix_profile_is_what_littlecms_reads():
    """The builder's profile (which the fixtures above use) is checked against numpy through LittleCMS, and
    refuses degenerate primaries."""
    prof = ImageCms.ImageCmsProfile(io.BytesIO(matrix_profile(*SPACES["prophoto"], name="ProPhoto")))
    assert prof.profile.xcolor_space.strip() == "RGB" and prof.profile.is_matrix_shaper
    with pytest.raises(ValueError):
        matrix_profile(D65, ((0.1, 0.1), (0.2, 0.2), (0.3, 0.3)))


def write16(path, x16: np.ndarray, icc: bytes | None = None) -> None:
    """uint16 RGB(A) ``(H, W, 3|4)`` as a 16-bit PNG (OpenCV; ``icc`` spliced in as an iCCP chunk after the IHDR)
    or TIFF (tifffile, scikit-image's dependency; ``icc`` as its tag 34675): Pillow writes no 16-bit colour."""
    import zlib

    import cv2

    if path.suffix == ".tif":
        tifffile = pytest.importorskip("tifffile")
        tifffile.imwrite(path, x16, photometric="rgb", iccprofile=icc)
        return
    cv2.imwrite(str(path), x16[..., [2, 1, 0, 3][:x16.shape[2]]])
    if icc is not None:
        data = path.read_bytes()
        body = b"icc\0\0" + zlib.compress(icc)
        chunk = struct.pack(">I", len(body)) + b"iCCP" + body + struct.pack(">I", zlib.crc32(b"iCCP" + body))
        path.write_bytes(data[:33] + chunk + data[33:])


SAMPLES16 = np.array([[[0x10FF, 0x0180, 0xFEFF], [0x7FFF, 0x00FF, 0x0000], [0xFFFF, 0x8080, 0x3F7F]]], np.uint16)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [3, 4])
def test_training_reads_16_bit_colour_as_the_runtime_does(tmp_path, suffix, channels):
    """read_rgb took Pillow's high byte of a 16-bit colour PNG/TIFF (0x10FF -> 16, 0x00FF -> 0) where read_image
    rounds (17, 1): training saw every such photo half a level darker, its alpha too. Fails without the change."""
    from vidcolor.training.data import read_rgb

    x = SAMPLES16 if channels == 3 else np.dstack([SAMPLES16, np.full(SAMPLES16.shape[:2], 0xFFFF, np.uint16)])
    write16(tmp_path / f"a{suffix}", x)
    want = np.rint(SAMPLES16 / 257).astype(np.uint8)
    np.testing.assert_array_equal(read_image(tmp_path / f"a{suffix}")[0], want)
    np.testing.assert_array_equal(read_rgb(tmp_path / f"a{suffix}"), want)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_a_16_bit_p3_image_is_converted_by_both_readers(tmp_path, suffix):
    """16-bit colour is decoded apart from Pillow's image (OpenCV, which keeps no profile; a TIFF's rounded image
    carries only its orientation): its profile is still the file's. As an input: rounded, not converted."""
    from vidcolor.training.data import read_rgb

    white, primaries, gamma = SPACES["p3"]
    f = tmp_path / f"a{suffix}"
    write16(f, SAMPLES16, matrix_profile(white, primaries, gamma))
    with Image.open(f) as im:
        assert im.info["icc_profile"] == matrix_profile(white, primaries, gamma)
    want = expected_srgb(np.rint(SAMPLES16 / 257), white, primaries, gamma)
    assert np.abs(read_image(f, to_srgb=True)[0].astype(int) - want).max() <= 1
    assert np.abs(read_rgb(f).astype(int) - want).max() <= 1
    np.testing.assert_array_equal(read_image(f)[0], np.rint(SAMPLES16 / 257).astype(np.uint8))


@pytest.mark.parametrize("name", ["gray.png", "gray.jpg", "gray.tif"])
def test_a_gray_images_profile_is_carried_as_rgb_of_its_tone_curve(tmp_path, name):
    """A gray image's gray ICC profile (a scanner's Gray Gamma 1.8) was dropped from its RGB output, which then showed
    as sRGB: its mid gray, 128, at L* 53.6 where the input showed it at 60.7. The output carries an RGB profile of
    the gray profile's tone curve (sRGB's primaries): R = G = B = v shows as the input's gray v did."""
    from helpers import gray_profile
    from vidcolor.api import process

    icc = gray_profile(1.8)
    levels = np.arange(256, dtype=np.uint8)
    Image.fromarray(np.tile(levels, (4, 1))).save(tmp_path / name, icc_profile=icc)
    process(tmp_path / name, tmp_path / "out.png", lambda b: b, suffix="x", progress=False)
    with Image.open(tmp_path / "out.png") as out:
        carried = out.info.get("icc_profile")
    assert carried and carried[16:20] == b"RGB "
    lab = ImageCms.createProfile("LAB")
    was = ImageCms.applyTransform(Image.fromarray(levels[None]), ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(icc)), lab, "L", "LAB"))
    now = ImageCms.applyTransform(Image.fromarray(np.repeat(levels[None, :, None], 3, axis=2)), ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(carried)), lab, "RGB", "LAB"))
    was, now = (np.asarray(x, np.int16) for x in (was, now))
    assert np.abs(was[..., 0] - now[..., 0]).max() <= 1                       # L* (0..255 for 0..100)
    assert np.abs(now[..., 1:].astype(np.uint8).view(np.int8)).max() <= 1      # gray: a* = b* = 0 (Pillow's
                                                                               # LAB: signed bytes)
    srgb = ImageCms.applyTransform(Image.new("RGB", (1, 1), (128,) * 3), ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), lab, "RGB", "LAB")).getpixel((0, 0))[0]      # untagged, as it showed
    assert abs(was[0, 128, 0] / 2.55 - 60.7) < 0.5 and abs(srgb / 2.55 - 53.6) < 0.5
