"""vidcolor.io.images: still images in and out, alpha and palettes kept."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from helpers import cmyk_profile, damaged_image_files, dpx_every_10_bit_code, listing, vidcolor_warnings
from vidcolor.errors import VidcolorError
from vidcolor.io import is_image, list_images_in, read_image, write_image
from vidcolor.io.files import default_file_mode


@pytest.fixture
def rgb():
    return np.random.default_rng(0).integers(0, 256, (13, 17, 3), dtype=np.uint8)


def test_png_round_trip_exact(tmp_path, rgb):
    write_image(tmp_path / "a.png", rgb)
    got, alpha = read_image(tmp_path / "a.png")
    assert alpha is None
    assert got.dtype == np.uint8 and got.shape == (13, 17, 3)
    np.testing.assert_array_equal(got, rgb)
    assert listing(tmp_path) == {"a.png"}                          # no temporary left
    assert ((tmp_path / "a.png").stat().st_mode & 0o777) == default_file_mode()


def test_png_with_alpha_round_trip(tmp_path, rgb):
    alpha = np.random.default_rng(1).integers(0, 256, rgb.shape[:2], dtype=np.uint8)
    write_image(tmp_path / "a.png", rgb, alpha)
    with Image.open(tmp_path / "a.png") as im:
        assert im.mode == "RGBA"
    got, got_alpha = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(got_alpha, alpha)
    np.testing.assert_array_equal(got, rgb)


@pytest.mark.parametrize("name", ["a.png", "a.jpg", "a.webp"])
def test_read_image_gives_writable_arrays(tmp_path, rgb, name):
    """The RGB was a read-only view of Pillow's bytes (``rgb[0, 0] = 0``: 'assignment destination is read-only')
    while the alpha was a writable copy."""
    write_image(tmp_path / name, rgb, np.full(rgb.shape[:2], 7, np.uint8))
    got, alpha = read_image(tmp_path / name)
    got[0, 0] = 0
    assert got.flags.writeable and got.flags.c_contiguous
    assert alpha is None or alpha.flags.writeable


def test_exif_orientation_is_applied_to_the_pixels(tmp_path, rgb):
    """A phone's portrait photo: landscape pixels and orientation 6 (rotate 90 degrees clockwise to show)."""
    alpha = np.random.default_rng(1).integers(0, 256, rgb.shape[:2], dtype=np.uint8)
    im = Image.fromarray(rgb)
    im.putalpha(Image.fromarray(alpha))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "a.png", exif=exif)
    got, got_alpha = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(got, np.rot90(rgb, -1))          # clockwise
    np.testing.assert_array_equal(got_alpha, np.rot90(alpha, -1))


def test_palette_png(tmp_path):
    pal = [255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 250, 250]
    idx = np.random.default_rng(2).integers(0, 4, (9, 11), dtype=np.uint8)
    im = Image.fromarray(idx, "P")
    im.putpalette(pal)
    im.save(tmp_path / "p.png")
    got, alpha = read_image(tmp_path / "p.png")
    assert alpha is None and got.shape == (9, 11, 3)
    np.testing.assert_array_equal(got, np.array(pal, np.uint8).reshape(4, 3)[idx])


def test_palette_png_with_transparency(tmp_path):
    idx = np.array([[0, 1], [1, 0]], np.uint8)
    im = Image.fromarray(idx, "P")
    im.putpalette([10, 20, 30, 200, 100, 0])
    im.save(tmp_path / "t.png", transparency=0)
    got, alpha = read_image(tmp_path / "t.png")
    assert alpha is not None
    np.testing.assert_array_equal(alpha, np.where(idx == 0, 0, 255))
    np.testing.assert_array_equal(got[0, 1], [200, 100, 0])



@pytest.mark.parametrize("mode, key", [("RGB", (10, 20, 30)), ("L", 10)])
def test_a_trns_colour_of_an_rgb_or_grey_png_is_its_alpha(tmp_path, mode, key):
    """optipng and oxipng store a mask as one transparent colour (tRNS) of an RGB or grey PNG, not as RGBA."""
    mask = np.array([[1, 0, 0], [0, 1, 1]], bool)
    grey = np.where(mask, 10, 200).astype(np.uint8)
    pixels = np.where(mask[..., None], np.uint8([10, 20, 30]), np.uint8([200, 100, 0])) if mode == "RGB" else grey
    Image.fromarray(pixels, mode).save(tmp_path / "t.png", transparency=key)
    with Image.open(tmp_path / "t.png") as im:
        assert im.mode == mode and im.info["transparency"] == key
    got, alpha = read_image(tmp_path / "t.png")
    np.testing.assert_array_equal(alpha, np.where(mask, 0, 255))
    np.testing.assert_array_equal(got[0, 1], [200, 100, 0] if mode == "RGB" else [200] * 3)

def test_grey_and_grey_alpha(tmp_path):
    g = np.arange(30, dtype=np.uint8).reshape(5, 6) * 8
    Image.fromarray(g, "L").save(tmp_path / "g.png")
    got, alpha = read_image(tmp_path / "g.png")
    assert alpha is None and got.shape == (5, 6, 3)
    np.testing.assert_array_equal(got, np.repeat(g[..., None], 3, -1))
    la = Image.merge("LA", [Image.fromarray(g), Image.fromarray(255 - g)])
    la.save(tmp_path / "la.png")
    got, alpha = read_image(tmp_path / "la.png")
    np.testing.assert_array_equal(alpha, 255 - g)


def test_jpeg_write_and_read(tmp_path):
    flat = np.full((16, 16, 3), (30, 140, 220), np.uint8)
    write_image(tmp_path / "j.jpg", flat)
    got, alpha = read_image(tmp_path / "j.jpg")
    assert alpha is None and got.shape == flat.shape
    assert np.abs(got.astype(int) - flat).max() <= 3


def test_jpeg_and_webp_are_written_to_keep_what_a_job_restores(tmp_path, rgb):
    """Pillow's defaults (JPEG quality 75 at 4:2:0, WebP lossy at 80) threw away much of dequantize's gain: JPEG is
    written at quality 95 without chroma subsampling, WebP lossless (alpha included)."""
    from PIL import JpegImagePlugin

    from helpers import gradient_image
    from vidcolor.metrics import psnr

    smooth = gradient_image()
    write_image(tmp_path / "a.jpg", smooth)
    with Image.open(tmp_path / "a.jpg") as im:
        assert JpegImagePlugin.get_sampling(im) == 0                          # 4:4:4
    assert psnr(read_image(tmp_path / "a.jpg")[0], smooth) > 45              # 43.3 at Pillow's defaults, 50.6 now
    alpha = np.random.default_rng(1).integers(0, 256, rgb.shape[:2], dtype=np.uint8)
    write_image(tmp_path / "a.webp", rgb, alpha)
    got, got_alpha = read_image(tmp_path / "a.webp")
    np.testing.assert_array_equal(got_alpha, alpha)
    np.testing.assert_array_equal(got[alpha > 0], rgb[alpha > 0])            # WebP may drop fully transparent colour


def test_avif_is_written_as_jpeg_is_to_keep_what_a_job_restores(tmp_path):
    """AVIF was written at Pillow's defaults (quality 75, 4:2:0): as JPEG, it is written at quality 95 without chroma
    subsampling."""
    from PIL import features

    from helpers import gradient_image
    from vidcolor.metrics import psnr

    if not features.check("avif"):
        pytest.skip("this Pillow writes no AVIF")
    smooth = gradient_image()
    Image.fromarray(smooth).save(tmp_path / "default.avif")
    write_image(tmp_path / "a.avif", smooth)
    default, ours = (psnr(read_image(tmp_path / n)[0], smooth) for n in ("default.avif", "a.avif"))
    assert ours > default + 0.5, (ours, default)         # 46.4 dB at the defaults, 47.6 now

def test_write_refuses_overwrite(tmp_path, rgb):
    target = tmp_path / "a.png"
    target.write_bytes(b"keep")
    with pytest.raises(VidcolorError, match="exists"):
        write_image(target, rgb)
    assert target.read_bytes() == b"keep"
    write_image(target, rgb, overwrite=True)
    np.testing.assert_array_equal(read_image(target)[0], rgb)


def test_write_creates_parent_folders(tmp_path, rgb):
    write_image(tmp_path / "x" / "y" / "a.png", rgb)
    assert (tmp_path / "x" / "y" / "a.png").is_file()


def test_read_errors(tmp_path):
    with pytest.raises(VidcolorError, match="no such file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "fake.png").write_text("not an image")
    with pytest.raises(VidcolorError, match="not an image file"):
        read_image(tmp_path / "fake.png")


def test_an_image_cut_short_says_what_pillow_found(tmp_path, rgb):
    """A JPEG or PNG cut in half was refused as "cannot read as image (OSError)", which does not say it is
    truncated; where Pillow's message says so, the error does."""
    for name in ("cut.jpg", "cut.png"):
        Image.fromarray(rgb).save(tmp_path / name)
        whole = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(whole[:len(whole) // 2])
        ends = r"cannot read as image \(OSError: the file ends early \(truncated\)\)$"
        with pytest.raises(VidcolorError, match=rf"{name}: {ends}"):
            read_image(tmp_path / name)
    (tmp_path / "fake.png").write_text("not an image")
    with pytest.raises(VidcolorError, match=r"fake.png: not an image file of a format vidcolor reads$"):
        read_image(tmp_path / "fake.png")


def test_an_image_whose_format_pillow_knows_but_cannot_open_says_it_looks_damaged(tmp_path, rgb):
    """A PNG whose header chunk's CRC is broken and a GIF cut inside its header said "cannot read as image
    (UnidentifiedImageError)", as a file of no image format does: they start with a known signature, so they now
    say they look damaged or truncated; a file of no image format keeps Pillow's class name."""
    for name, fmt in damaged_image_files(tmp_path, [Image.fromarray(rgb)]).items():
        with pytest.raises(VidcolorError, match=rf"{name}: cannot read as image \(it starts as a {fmt} does but looks "
                           r"damaged or truncated\)$"):
            read_image(tmp_path / name)
    with pytest.raises(VidcolorError, match=r"fake.gif: not an image file of a format vidcolor reads$"):
        read_image(tmp_path / "fake.gif")


def test_is_image_and_listing(tmp_path, rgb):
    assert is_image("a.PNG") and is_image("b.jpeg") and is_image("c.gif") and is_image("d.webp")
    assert not is_image("clip.mp4") and not is_image("notes.txt") and not is_image("png")
    for name in ("b.png", "a.jpg", "c.txt", "d.mp4"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.png").write_bytes(b"")
    assert [p.name for p in list_images_in(tmp_path)] == ["a.jpg", "b.png"]


def test_folders_list_in_natural_order(tmp_path):
    """ffmpeg's ``%d.png`` frames were listed as text (1, 10, 11, 12, 2, ...): a folder of frames came out of
    order. Numbers now compare as numbers, and names equal as numbers keep a fixed (text) order."""
    from vidcolor.io.folders import folder_contents
    from vidcolor.io import list_videos_in

    names = ["10.png", "2.png", "1.png", "f10.png", "f9.png", "01.png", "x.jpg"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    for name in ("clip10.mp4", "clip2.mp4", "clip1.mkv"):
        (tmp_path / name).write_bytes(b"")
    want = ["01.png", "1.png", "2.png", "10.png", "f9.png", "f10.png", "x.jpg"]
    assert [p.name for p in list_images_in(tmp_path)] == want
    assert [p.name for p in list_videos_in(tmp_path)] == ["clip1.mkv", "clip2.mp4", "clip10.mp4"]
    stills, clips = folder_contents(tmp_path)
    assert [p.name for p in stills] == want and [p.name for p in clips] == ["clip1.mkv", "clip2.mp4", "clip10.mp4"]


def test_every_listed_suffix_is_an_image_pillow_reads(tmp_path):
    """One list (IMAGE_SUFFIXES) says what a folder lists and what a single file is read as: each suffix on it
    opens here (through Pillow; DPX, FFMPEG_IMAGE_SUFFIXES, through FFmpeg), and the animated formats are among
    them."""
    from fractions import Fraction

    import av

    from vidcolor.io.files import FFMPEG_IMAGE_SUFFIXES, IMAGE_SUFFIXES

    assert {".apng", ".jfif", ".tga", ".ppm", ".pgm", ".pbm", ".pnm"} <= set(IMAGE_SUFFIXES)
    assert {".gif", ".png", ".apng", ".webp"} <= set(IMAGE_SUFFIXES)          # (.avif only where Pillow reads it)
    flat = np.full((6, 5, 3), (40, 120, 200), np.uint8)
    for suffix in IMAGE_SUFFIXES:
        path = tmp_path / f"a{suffix}"
        im = Image.fromarray(flat)
        if suffix in FFMPEG_IMAGE_SUFFIXES:                 # Pillow writes none: FFmpeg's encoder does
            ctx = av.CodecContext.create(suffix[1:], "w")
            ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 5, 6, "rgb24", Fraction(1, 25)
            frame = av.VideoFrame.from_ndarray(flat, format="rgb24")
            path.write_bytes(b"".join(bytes(p) for p in ctx.encode(frame) + ctx.encode(None)))
        else:
            im.convert("1" if suffix == ".pbm" else "L" if suffix == ".pgm" else "RGB").save(
                path, Image.registered_extensions()[suffix], **({"quality": 100} if suffix == ".avif" else {}))
        assert is_image(path) and is_image(path.with_suffix(suffix.upper()))
        got, alpha = read_image(path)
        assert got.shape == (6, 5, 3) and got.dtype == np.uint8 and alpha is None, suffix
    assert [p.name for p in list_images_in(tmp_path)] == sorted(f"a{s}" for s in IMAGE_SUFFIXES)

@pytest.mark.parametrize("name", ["a.jpg", "a.jpeg", "a.jfif", "a.bmp", "a.ppm"])
def test_alpha_is_dropped_for_formats_without_it(tmp_path, name):
    rgb = np.full((13, 17, 3), (200, 100, 50), np.uint8)         # flat: JPEG keeps it within a few levels
    write_image(tmp_path / name, rgb, np.full(rgb.shape[:2], 128, np.uint8))
    assert listing(tmp_path) == {name}
    got, alpha = read_image(tmp_path / name)
    assert alpha is None and got.shape == rgb.shape
    assert np.abs(got.astype(int) - rgb).max() <= (0 if name.endswith(".bmp") else 3)


@pytest.mark.parametrize("alpha", [False, True])
def test_write_unknown_format_is_a_vidcolor_error(tmp_path, rgb, alpha):
    with pytest.raises(VidcolorError, match="cannot write an image with the suffix"):
        write_image(tmp_path / "a.xyz", rgb, np.full(rgb.shape[:2], 128, np.uint8) if alpha else None)
    assert listing(tmp_path) == set()                              # no file, no temporary left


def test_write_image_refuses_what_is_not_uint8_rgb_and_sizes_read_image_refuses(tmp_path, rgb):
    """No validation: float/uint16 and (1, H, W, 3) gave Pillow's TypeError, a wrong alpha Pillow's ValueError
    ('images do not match', 'illegal image mode'), gray (H, W) and RGBA (H, W, 4) were written as such, and a
    20000x20000 image was written (1.2 GB), which read_image then refuses."""
    alpha = np.full(rgb.shape[:2], 128, np.uint8)
    for bad in (rgb.astype(np.float32), rgb.astype(np.int16), rgb[None], rgb[..., 0],   # (uint16: 16-bit output)
                np.concatenate([rgb, alpha[..., None]], -1), rgb.tolist()):
        with pytest.raises(ValueError, match=r"expected uint8 RGB \(H, W, 3\), no side empty, got"):
            write_image(tmp_path / "a.png", bad)
    for bad in (alpha[:5], alpha.astype(np.float32), alpha[..., None]):
        with pytest.raises(ValueError, match=r"expected a uint8 alpha \(13, 17\)"):
            write_image(tmp_path / "a.png", rgb, bad)
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (20000, 20000, 3))     # no memory behind it
    with pytest.raises(VidcolorError, match="frame size 20000x20000 is too large"):
        write_image(tmp_path / "a.png", huge)
    with pytest.raises(ValueError, match=r"no side empty, got uint8 \(0, 0, 3\)"):
        write_image(tmp_path / "a.png", rgb[:0, :0])
    assert listing(tmp_path) == set()


@pytest.mark.parametrize("size", [(30000, 30000), (20000, 100), (9000, 9000)])
def test_a_header_claiming_a_huge_image_is_refused_before_decoding(tmp_path, size):
    import resource
    import time

    from vidcolor.errors import VidcolorError
    from vidcolor.io import read_image

    from helpers import png_claiming

    path = tmp_path / "bomb.png"
    png_claiming(path, *size)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with pytest.raises(VidcolorError, match="too large"):
        read_image(path)
    assert time.perf_counter() - t < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000   # KB: nothing allocated


def test_frame_size_limits():
    from vidcolor.errors import VidcolorError
    from vidcolor.io.limits import MAX_PIXELS, MAX_SIDE, check_frame_size

    check_frame_size(MAX_SIDE, MAX_PIXELS // MAX_SIDE, "ok")
    for w, h in ((MAX_SIDE + 1, 2), (2, MAX_SIDE + 1), (8001, 8001), (0, 5)):
        with pytest.raises(VidcolorError):
            check_frame_size(w, h, "x")


def test_a_16_bit_gray_png_keeps_its_levels(tmp_path):
    """A 16-bit grayscale PNG (Pillow mode I;16) comes in at its levels / 257, not clipped to white."""
    levels = np.linspace(0, 65535, 64 * 48).reshape(48, 64).astype(np.uint16)
    Image.fromarray(levels).save(tmp_path / "g16.png")
    rgb, alpha = read_image(tmp_path / "g16.png")
    want = np.round(levels / 257.0).astype(np.uint8)
    assert alpha is None and rgb.shape == (48, 64, 3)
    assert np.abs(rgb[..., 0].astype(int) - want).max() <= 1 and (rgb[..., 0] == rgb[..., 2]).all()
    assert 126 < rgb.mean() < 129                      # the ramp's middle (was 254.6 when clipped)
    Image.fromarray(levels).save(tmp_path / "g16t.png", transparency=int(levels[3, 5]))   # its tRNS grey level
    rgb_t, alpha = read_image(tmp_path / "g16t.png")                                    # was dropped: opaque
    np.testing.assert_array_equal(rgb_t, rgb)
    assert alpha is not None and (alpha == 0).sum() == (levels == levels[3, 5]).sum() and alpha[3, 5] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_float_gray_tiff_is_read_as_0_to_1(tmp_path, dtype):
    """A floating-point gray TIFF (Pillow mode F) came in all black: Pillow's convert clips its 0..1 samples to 0 or
    1. Its samples are read as image tools read them, 0.0 black to 1.0 white."""
    levels = np.linspace(0, 1, 64 * 48).reshape(48, 64).astype(dtype)
    Image.fromarray(levels).save(tmp_path / "f.tif")
    rgb, alpha = read_image(tmp_path / "f.tif")
    assert alpha is None and rgb.shape == (48, 64, 3) and (rgb[..., 0] == rgb[..., 2]).all()
    np.testing.assert_array_equal(rgb[..., 0], np.rint(levels.astype(np.float64) * 255).astype(np.uint8))
    Image.fromarray(levels * np.float32(1 + 0.4 / 255) - np.float32(0.4 / 255)).save(tmp_path / "slack.tif")
    assert read_image(tmp_path / "slack.tif")[0][..., 0].max() == 255     # rounding slack is clipped


@pytest.mark.parametrize("name, samples, says", [
    ("f255.tif", np.linspace(0, 255, 12, dtype=np.float32).reshape(3, 4), "floating-point samples from 0 to 255"),
    ("nan.tif", np.array([[0.5, np.nan]], np.float32), "NaN or infinite"),
    ("i32.tif", np.array([[0, 70000]], np.int32), "32-bit integer samples from 0 to 70000"),
    ("neg.tif", np.array([[-5, 100]], np.int32), "32-bit integer samples from -5 to 100")])
def test_gray_tiff_samples_that_would_be_clipped_are_refused(tmp_path, name, samples, says):
    """Float samples outside 0..1 came out clipped (0..255 floats: white), 32-bit integers beyond 16 bits wrapped
    around: each is refused in one line that names the range."""
    Image.fromarray(samples).save(tmp_path / name)
    with pytest.raises(VidcolorError, match=says) as err:
        read_image(tmp_path / name)
    assert "\n" not in str(err.value)


def test_a_float_rgb_tiff_is_refused_as_such(tmp_path):
    """Pillow does not read floating-point RGB TIFF: the error said only 'UnidentifiedImageError'."""
    import cv2

    cv2.imwrite(str(tmp_path / "rgbf.tif"), np.full((6, 8, 3), 0.5, np.float32))
    with pytest.raises(VidcolorError, match="a TIFF layout that Pillow does not read, such as 32-bit float RGB"):
        read_image(tmp_path / "rgbf.tif")


def test_a_tiff_cut_short_is_called_truncated_not_an_unread_layout(tmp_path, recwarn):
    """A TIFF cut in half (its directory, after the pixels, gone) was refused as "a TIFF layout that Pillow does not
    read, such as 32-bit float RGB: convert it to 8 or 16 bits", after Pillow's "Corrupt EXIF data" warning: the
    error now says that it is truncated, and where its directory was."""
    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(tmp_path / "scan.tif", compression="tiff_lzw")
    whole = (tmp_path / "scan.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(VidcolorError, match=r"cut.tif: cannot read as image \(a TIFF cut short: its directory.* "
                                            r"past the end of its [\d,]+ bytes \(truncated\)\)$"):
        read_image(tmp_path / "cut.tif")
    (tmp_path / "head.tif").write_bytes(whole[:5])
    with pytest.raises(VidcolorError, match=r"a TIFF cut short: 5 bytes, not even its header"):
        read_image(tmp_path / "head.tif")
    assert not [w for w in recwarn if "EXIF" in str(w.message)]


def _png16(path, samples: np.ndarray, colour_type: int, chunks: dict | None = None, after: dict | None = None) -> None:
    """Write a 16-bit PNG by hand (Pillow cannot write 16-bit colour): ``samples`` uint16 ``(H, W, C)`` in the
    order of ``colour_type`` (2 RGB, 4 gray + alpha, 6 RGBA), ``chunks`` (name -> data) before the pixels, ``after``
    after them."""
    import struct
    import zlib

    def chunk(name: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + name + data + struct.pack(">I", zlib.crc32(name + data))

    h, w = samples.shape[:2]
    rows = samples.astype(">u2").reshape(h, -1)
    pixels = b"".join(b"\0" + row.tobytes() for row in rows)
    extra, late = (b"".join(chunk(k, v) for k, v in (c or {}).items()) for c in (chunks, after))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
                     + extra + chunk(b"IDAT", zlib.compress(pixels)) + late + chunk(b"IEND", b""))


def test_16_bit_colour_pngs_are_rounded_as_gray_is(tmp_path):
    """A 16-bit RGB(A) PNG was read by truncation (Pillow keeps x >> 8: a mean 0.5 level low, 1 level off for
    half the samples) while 16-bit gray was rounded (x / 257); every 16-bit sample is now rounded, alpha too."""
    rng = np.random.default_rng(4)
    x = rng.integers(0, 65536, (9, 11, 4)).astype(np.uint16)
    x[0, :3, 0] = [128, 129, 65535]                              # round: 0, 1, 255 (truncation: 0, 0, 255)
    want = np.round(x / 257.0).astype(np.uint8)
    _png16(tmp_path / "rgb.png", x[..., :3], 2)
    rgb, alpha = read_image(tmp_path / "rgb.png")
    assert alpha is None and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, want[..., :3])
    assert list(rgb[0, :3, 0]) == [0, 1, 255]
    _png16(tmp_path / "rgba.png", x, 6)
    rgb, alpha = read_image(tmp_path / "rgba.png")
    np.testing.assert_array_equal(rgb, want[..., :3])
    np.testing.assert_array_equal(alpha, want[..., 3])
    _png16(tmp_path / "la.png", x[..., [0, 3]], 4)                # gray + alpha
    rgb, alpha = read_image(tmp_path / "la.png")
    np.testing.assert_array_equal(rgb, np.repeat(want[..., :1], 3, -1))
    np.testing.assert_array_equal(alpha, want[..., 3])
    Image.fromarray(x[..., 0]).save(tmp_path / "gray.png")       # the same samples as 16-bit gray: the same levels
    np.testing.assert_array_equal(read_image(tmp_path / "gray.png")[0][..., 0], rgb[..., 0])


def test_16_bit_colour_tiffs_are_rounded_as_pngs_are(tmp_path, capfd):
    """A 48-bit RGB TIFF (a scanner's) was read by truncation, Pillow's x >> 8 (one level low for half the
    samples), though the README says a scan's 16-bit samples are rounded to 8; they are now, alpha too, the TIFF's
    orientation tag is still applied, and libtiff's warnings through OpenCV are not printed."""
    import cv2

    x = np.random.default_rng(6).integers(0, 65536, (5, 7, 4)).astype(np.uint16)
    x[0, :3, 0] = [128, 129, 65535]                              # round: 0, 1, 255 (truncation: 0, 0, 255)
    want = np.round(x / 257.0).astype(np.uint8)
    assert cv2.imwrite(str(tmp_path / "rgb.tif"), x[..., 2::-1])
    rgb, alpha = read_image(tmp_path / "rgb.tif")
    assert alpha is None
    np.testing.assert_array_equal(rgb, want[..., :3])
    assert cv2.imwrite(str(tmp_path / "rgba.tif"), x[..., [2, 1, 0, 3]])
    capfd.readouterr()
    rgb, alpha = read_image(tmp_path / "rgba.tif")
    np.testing.assert_array_equal(rgb, want[..., :3])
    np.testing.assert_array_equal(alpha, want[..., 3])
    assert capfd.readouterr().err == ""         # libtiff's warning (no ExtraSamples tag) is not printed
    _tiff16(tmp_path / "turned.tif", x[..., :3], orientation=6)  # the same samples, turned by its orientation tag
    with Image.open(tmp_path / "turned.tif") as im:
        assert im.getexif().get(0x0112) == 6 and im.mode == "RGB"
    rgb, _ = read_image(tmp_path / "turned.tif")
    np.testing.assert_array_equal(rgb, np.rot90(want[..., :3], -1))


def _tiff16(path, rgb, orientation):
    """A little-endian uncompressed 16-bit RGB TIFF of ``rgb`` (uint16 (H, W, 3)) with an orientation tag (OpenCV
    writes none, Pillow no 16-bit RGB)."""
    import struct

    h, w, _ = rgb.shape
    data = rgb.astype("<u2").tobytes()
    tags = [(256, 3, 1, w), (257, 3, 1, h), (258, 3, 3, 8 + len(data)), (259, 3, 1, 1), (262, 3, 1, 2),
            (273, 4, 1, 8), (274, 3, 1, orientation), (277, 3, 1, 3), (278, 3, 1, h), (279, 4, 1, len(data)),
            (284, 3, 1, 1)]
    ifd = 8 + len(data) + 6
    head = b"II*\x00" + struct.pack("<I", ifd) + data + struct.pack("<3H", 16, 16, 16)
    entries = b"".join(struct.pack("<HHI", tag, kind, count) + (struct.pack("<I", value) if kind == 4 or tag == 258
                                                               else struct.pack("<HH", value, 0))
                       for tag, kind, count, value in tags)
    path.write_bytes(head + struct.pack("<H", len(tags)) + entries + b"\x00\x00\x00\x00")


def test_16_bit_rgb_png_keeps_its_trns_colour_and_orientation(tmp_path):
    """The one transparent colour of a 16-bit RGB PNG (tRNS, 16-bit values) becomes alpha 0 there, and an eXIf
    orientation is applied, as for 8 bits."""
    import struct

    x = np.random.default_rng(5).integers(0, 65536, (6, 8, 3)).astype(np.uint16)
    x[2, 3] = x[4, 1] = [1000, 2000, 3000]
    x[5, 5] = [1000, 2000, 3001]                                   # one level off at 16 bits: opaque
    exif = Image.Exif()
    exif[0x0112] = 6
    _png16(tmp_path / "t.png", x, 2, {b"tRNS": struct.pack(">HHH", 1000, 2000, 3000),
                                       b"eXIf": exif.tobytes()[6:]})
    rgb, alpha = read_image(tmp_path / "t.png")
    want_alpha = np.where((x == [1000, 2000, 3000]).all(-1), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(alpha, np.rot90(want_alpha, -1))
    np.testing.assert_array_equal(rgb, np.rot90(np.round(x / 257.0).astype(np.uint8), -1))


DAMAGED_NETPBM = {"p16.ppm": b"P6\n20 24\n65535\n" + bytes(100),       # ValueError: not enough image data
                  "g16.pgm": b"P5\n20\x8724\n65535\n" + bytes(960),          # ValueError: a stray byte in the header
                  "plain.pbm": b"P1\n4 2\n1 0 7 0 1 1 0 0",             # ValueError: invalid token
                  "header.ppm": b"P6\n20"}                               # ValueError: EOF while reading header


@pytest.mark.parametrize("name", sorted(DAMAGED_NETPBM))
def test_a_damaged_netpbm_image_is_one_error(tmp_path, name):
    """Pillow raises ValueError for these (16-bit PPM/PGM, plain PBM, cut headers): it went up as a traceback from
    read_image and rgb_profile (now image_metadata)."""
    from vidcolor.io.images import image_metadata

    (tmp_path / name).write_bytes(DAMAGED_NETPBM[name])
    with pytest.raises(VidcolorError, match=rf"{name}: cannot read as image \(ValueError\)"):
        read_image(tmp_path / name)
    assert image_metadata(tmp_path / name).icc_profile is None


def test_a_folder_skips_a_damaged_netpbm_image_with_ignore_errors(tmp_path):
    from helpers import run_cli

    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(np.full((24, 20, 3), 90, np.uint8)).save(d / "a.png")
    for name, data in DAMAGED_NETPBM.items():
        (d / name).write_bytes(data)
    res = run_cli("dequantize", "in", "-o", "out", "-q", cwd=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr
    assert "cannot read as image (ValueError)" in res.stderr and "1 finished output kept in out/" in res.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]
    res = run_cli("dequantize", "in", "-o", "out", "-q", "--ignore-errors", "--skip-existing", cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.count("; skipped") == len(DAMAGED_NETPBM)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


@pytest.mark.parametrize("size", [(60000, 60000), (12000, 12000), (16384, 16384)])
def test_a_size_pillow_refuses_or_warns_of_is_refused_as_others_are(tmp_path, size):
    """Past Pillow's 179 megapixels the refusal gave neither the size nor the limit ('its header declares more
    pixels than Pillow opens'), and from 89 Pillow's DecompressionBombWarning (with its source line) came above
    vidcolor's own one-line refusal: both now read as every other frame-size refusal, without the warning."""
    import warnings

    from helpers import assert_one_line_error, invoke_cli, png_claiming

    png_claiming(tmp_path / "big.png", *size)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(VidcolorError, match=rf"big.png: frame size {size[0]}x{size[1]} is too large "
                                                r"\(at most 16384 px a side and 64 megapixels\)$"):
            read_image(tmp_path / "big.png")
    res = invoke_cli("dequantize", "big.png", "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert f"frame size {size[0]}x{size[1]} is too large" in res.stderr
    assert listing(tmp_path) == {"big.png"}


def test_a_gif_screen_pillow_refuses_is_refused_with_its_size(tmp_path):
    import struct

    Image.new("L", (4, 4)).save(tmp_path / "a.gif")
    data = bytearray((tmp_path / "a.gif").read_bytes())
    data[6:10] = struct.pack("<HH", 65535, 65535)                 # the logical screen
    (tmp_path / "a.gif").write_bytes(bytes(data))
    with pytest.raises(VidcolorError, match=r"a.gif: frame size 65535x65535 is too large \(at most 16384 px"):
        read_image(tmp_path / "a.gif")


def test_a_pillow_refusal_without_its_size_gives_the_pixel_count_and_the_limit():
    from vidcolor.io.animated import bomb_refusal

    exc = Image.DecompressionBombError("Image size (3600000000 pixels) exceeds limit of 178956970 pixels, could be "
                                       "decompression bomb DOS attack.")
    assert str(bomb_refusal(exc, "x.png")) == ("x.png: image too large (its header declares 3,600,000,000 pixels; "
                                               "at most 16384 px a side and 64 megapixels)")
    assert "more pixels than Pillow opens; at most 16384" in str(bomb_refusal(Image.DecompressionBombError("?"), "x"))


def test_a_multi_page_tiff_is_its_first_page_with_a_warning(tmp_path, rgb):
    """A 3000-page TIFF was processed as its first page without a word."""
    from vidcolor.api import process
    from vidcolor.io.images import image_metadata

    pages = [Image.fromarray(np.roll(rgb, k, 0)) for k in range(3)]
    pages[0].save(tmp_path / "a.tif", save_all=True, append_images=pages[1:])
    Image.fromarray(rgb).save(tmp_path / "one.tif")
    assert [image_metadata(tmp_path / name).pages for name in ("a.tif", "one.tif", "missing.tif")] == [3, 1, 1]
    with vidcolor_warnings() as said:
        process(tmp_path / "a.tif", tmp_path / "out.png", lambda b: b, suffix="x", progress=False)
    assert said == [f"{tmp_path / 'a.tif'} has 3 pages: only the first is processed"]
    assert np.array_equal(read_image(tmp_path / "out.png")[0], rgb)
    with vidcolor_warnings() as said:
        process(tmp_path / "one.tif", tmp_path / "one.png", lambda b: b, suffix="x", progress=False)
    assert said == []


@pytest.mark.parametrize("name, said", [("out.jpg", "JPEG"), ("out.bmp", "BMP"), ("out.ppm", "PPM"), ("out.png", None),
                                        ("out.webp", None), ("out.tif", None)])
def test_a_transparent_image_written_without_alpha_says_so(tmp_path, rgb, name, said):
    """Alpha dropped for JPEG, BMP and PPM without a word; an opaque alpha (all 255) loses nothing and is not said."""
    from vidcolor.api import process

    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    write_image(tmp_path / "opaque.png", rgb, alpha)
    alpha[0, 0] = 0
    write_image(tmp_path / "a.png", rgb, alpha)
    with vidcolor_warnings() as opaque:
        process(tmp_path / "opaque.png", tmp_path / f"o_{name}", lambda b: b, suffix="x", progress=False)
    assert opaque == []
    with vidcolor_warnings() as warned:
        process(tmp_path / "a.png", tmp_path / name, lambda b: b, suffix="x", progress=False)
    assert warned == ([] if said is None else
                      [f"{tmp_path / 'a.png'}: its transparency is dropped ({name} is {said}, which holds none: the "
                       "output shows the colours under its transparent parts; PNG, WebP and TIFF keep it)"])


@pytest.mark.parametrize("name", ["a.jpg", "a.png", "a.webp", "a.tif"])
def test_compare_writes_the_exif_pixel_size_of_the_image_written(tmp_path, rgb, name):
    """--compare's output, input | output, is twice as wide as the input, but carried the input's ExifImageWidth."""
    from PIL import ExifTags

    from vidcolor.api import process

    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.IFD.Exif] = {ExifTags.Base.ExifImageWidth: 17, ExifTags.Base.ExifImageHeight: 13,
                               ExifTags.Base.DateTimeOriginal: "2024:05:06 07:08:09"}
    Image.fromarray(rgb).save(tmp_path / "in.jpg", exif=exif)
    process(tmp_path / "in.jpg", tmp_path / f"side_{name}", lambda b: b, suffix="x", compare=True, progress=False)
    with Image.open(tmp_path / f"side_{name}") as im:
        got, size = im.getexif(), im.size
        sub = got.get_ifd(ExifTags.IFD.Exif)
    assert size == (34, 13) and got[ExifTags.Base.Make] == "Canon"
    assert (sub[ExifTags.Base.ExifImageWidth], sub[ExifTags.Base.ExifImageHeight]) == (34, 13)
    assert sub[ExifTags.Base.DateTimeOriginal] == "2024:05:06 07:08:09"


def test_a_folders_listing_opens_each_image_once(tmp_path, monkeypatch):
    """Listing a folder opened each image twice, once for Pillow to see whether it is animated, once to see whether it
    is a video named as an image (0.10 s became 0.38 s for 3,000 JPEGs). One open now tells both, and the same stills
    and clips are found: an animated GIF named .jpg and a video named .gif are clips, a JPEG, a PNG and a still GIF
    stills."""
    import builtins
    from collections import Counter

    from vidcolor.io.folders import folder_contents

    red, green = Image.new("RGB", (8, 6), (200, 0, 0)), Image.new("RGB", (8, 6), (0, 200, 0))
    red.save(tmp_path / "a.jpg")
    red.save(tmp_path / "b.png")
    red.save(tmp_path / "c.gif")
    red.save(tmp_path / "d.jpg", format="GIF", save_all=True, append_images=[green])
    (tmp_path / "e.gif").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(500))       # an MP4's first box
    opened: Counter = Counter()
    real = builtins.open

    def counted(file, *args, **kwargs):
        opened[Path(file).name] += 1
        return real(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counted)
    stills, clips = folder_contents(tmp_path)
    assert [p.name for p in stills] == ["a.jpg", "b.png", "c.gif"] and [p.name for p in clips] == ["d.jpg", "e.gif"]
    assert opened == {name: 1 for name in ("a.jpg", "b.png", "c.gif", "d.jpg", "e.gif")}


@pytest.mark.parametrize("name", ["a.jpg", "a.tif"])
def test_a_cmyk_image_is_read_through_its_icc_profile(tmp_path, name):
    """A print CMYK JPEG or TIFF with its ICC profile was converted as Pillow converts CMYK, 255 - C - K, whatever its
    profile said (a press's colours far too saturated and dark); it is now read through the profile, as viewers show
    it. Without a profile the naive conversion stays (there is nothing better to go by)."""
    im = Image.new("CMYK", (3, 1))
    for x, ink in enumerate([(0, 0, 0, 0), (255, 0, 0, 0), (0, 0, 0, 255)]):
        im.putpixel((x, 0), ink)
    im.save(tmp_path / name, icc_profile=cmyk_profile(), **({"quality": 100} if name.endswith("jpg") else {}))
    rgb, alpha = read_image(tmp_path / name)
    white, c, black = rgb[0].astype(int)
    assert alpha is None and min(white) >= 250 and max(black) <= 5
    assert c[0] > c[1] + 60 and c[0] > c[2] + 30                   # the profile's red, not cyan (0, 255, 255)
    im.save(tmp_path / f"bare{Path(name).suffix}")
    assert read_image(tmp_path / f"bare{Path(name).suffix}")[0][0, 1].tolist() == [0, 255, 255]


@pytest.mark.parametrize("transparent", [True, False])
def test_a_gif_keeps_a_transparent_images_colours_and_one_bit_of_its_alpha(tmp_path, transparent):
    """An image with alpha written as .gif went through Pillow's RGBA -> palette (octree): a 148-colour sprite came
    out with 20 colours, 89 % of its pixels changed by up to 15 levels, and only alpha 0 was transparent. Now its
    opaque colours are kept exactly where they fit the palette (200 here), and alpha below 128 is transparent, as
    a clip's GIF output has it."""
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (200, 3)).astype(np.uint8)
    rgb = colours[np.arange(48 * 40).reshape(40, 48) % 200]
    alpha = np.full((40, 48), 255, np.uint8)
    if transparent:
        alpha[:5] = 0
        alpha[5:8] = 100            # below 128: transparent
        alpha[8:10] = 200           # opaque
    out = tmp_path / "sprite.gif"
    write_image(out, rgb, alpha)
    with Image.open(out) as im:
        back = np.asarray(im.convert("RGBA"))
    opaque = alpha >= 128
    assert ((back[..., 3] >= 128) == opaque).all()
    assert (back[..., :3][opaque] == rgb[opaque]).all()


def _tifffile16(path, samples: np.ndarray, orientation: int = 1, icc: bytes | None = None) -> None:
    """A 16-bit RGB(A) TIFF through tifffile: ``samples`` uint16 ``(H, W, 3 | 4)`` (alpha unassociated), with an
    EXIF orientation tag and an ICC profile."""
    import tifffile

    tifffile.imwrite(path, samples, photometric="rgb", metadata=None, iccprofile=icc,
                     extrasamples=("unassalpha",) if samples.shape[2] == 4 else None,
                     extratags=[(274, "H", 1, orientation, True)])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_16_bit_image_read_whole_is_upright_and_rounds_to_the_8_bit_reading(tmp_path, orientation):
    """read_image(deep=True) keeps a 16-bit image's samples (colorize processes them so), turned upright by its EXIF
    orientation as Pillow turns the 8-bit reading (no Pillow mode holds 16-bit RGB: numpy turns it), and rounded
    (round16) they are that reading, byte for byte, alpha too."""
    from vidcolor.io.files import round16

    x = np.random.default_rng(orientation).integers(0, 65536, (5, 7, 4)).astype(np.uint16)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    _png16(tmp_path / "a.png", x, 6, {b"eXIf": exif.tobytes()[6:]})     # (a PNG's eXIf: no Exif\0\0 before it)
    _tifffile16(tmp_path / "a.tif", x, orientation)     # (Pillow turns a TIFF as it loads it, OpenCV as it decodes)
    for name in ("a.png", "a.tif"):
        rgb, alpha = read_image(tmp_path / name, deep=True)
        assert rgb.dtype == alpha.dtype == np.uint16 and rgb.flags.writeable
        want, want_alpha = read_image(tmp_path / name)
        np.testing.assert_array_equal(round16(rgb), want)
        np.testing.assert_array_equal(round16(alpha), want_alpha)
        assert sorted(rgb.reshape(-1, 3).tolist()) == sorted(x[..., :3].reshape(-1, 3).tolist())   # all kept
    _png16(tmp_path / "g.png", x[..., :1], 0, {b"tRNS": int(x[0, 0, 0]).to_bytes(2, "big")})     # gray, its tRNS
    rgb, alpha = read_image(tmp_path / "g.png", deep=True)
    np.testing.assert_array_equal(rgb, np.repeat(x[..., :1], 3, axis=2))
    assert alpha.dtype == np.uint16 and alpha[0, 0] == 0 and set(alpha.ravel()) <= {0, 65535}
    eight = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)     # 8 bits: read as before
    write_image(tmp_path / "e.png", eight)
    assert read_image(tmp_path / "e.png", deep=True)[0].dtype == np.uint8


def test_16_bit_png_and_tiff_are_written_whole_with_the_profile_that_tiff_holds(tmp_path):
    """write_image writes uint16 RGB(A) at 16 bits: PNG through OpenCV, TIFF through tifffile with its ICC profile
    (Pillow has no 16-bit RGB mode); a format or metadata it cannot hold at 16 bits is refused (the caller rounds
    to 8 and says why: deep_refusal), nothing written. (A PNG's ICC profile was refused until OpenCV wrote it:
    tests/test_stills_more.py.)"""
    import cv2

    from vidcolor.io.icc import ADOBE_RGB_PRIMARIES, matrix_profile
    from vidcolor.io.images import image_metadata

    icc = matrix_profile(*ADOBE_RGB_PRIMARIES, gamma=2.2)
    x = np.random.default_rng(5).integers(0, 65536, (6, 9, 3)).astype(np.uint16)
    a = np.random.default_rng(6).integers(0, 65536, (6, 9)).astype(np.uint16)
    write_image(tmp_path / "a.png", x, a)
    write_image(tmp_path / "a.tif", x, a, icc_profile=icc)
    for name in ("a.png", "a.tif"):
        got = cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED)
        assert got.dtype == np.uint16
        np.testing.assert_array_equal(got[..., [2, 1, 0, 3]], np.concatenate([x, a[..., None]], axis=2))
    assert image_metadata(tmp_path / "a.tif").icc_profile == icc
    scanner = Image.Exif()          # a scanner's tags, in the TIFF's first directory, as Pillow writes them at 8 bits
    scanner.update({271: "Epson", 272: "V850", 305: "Epson Scan", 306: "2020:01:02 03:04:05", 282: 600.0,
                    283: 600.0, 296: 2, 274: 1})
    write_image(tmp_path / "s.tif", x, exif=scanner.tobytes())
    assert {k: v for k, v in Image.open(tmp_path / "s.tif").getexif().items() if k in scanner} == dict(scanner)
    camera = Image.Exif()           # a camera's: an Exif directory, which tifffile does not write
    camera.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ExposureTime] = 0.01
    for name, kw, why in [("b.jpg", {}, r"JPEG holds 8 bits \(\.png and \.tif hold 16\)"),
                          ("b.tif", {"exif": camera.tobytes()}, "its EXIF is carried into the TIFF at 8 bits")]:
        with pytest.raises(ValueError, match="cannot write 16 bits per sample: " + why):
            write_image(tmp_path / name, x, **kw)
    with pytest.raises(ValueError, match=r"expected a uint16 alpha \(6, 9\)"):
        write_image(tmp_path / "c.png", x, a.astype(np.uint8))
    assert listing(tmp_path) == {"a.png", "a.tif", "s.tif"}


@pytest.mark.parametrize("channels", [3, 4])
def test_a_planar_16_bit_tiff_is_read_as_its_samples(tmp_path, channels):
    """A 16-bit TIFF whose colours lie in planes of their own (PlanarConfiguration 2) went to OpenCV, which took the
    planes for interleaved samples and left part of its buffer unwritten: each read gave other values, none the
    file's, at 8 bits as at 16. tifffile reads it now: the samples whole, and rounded to 8 as a PNG's are."""
    import tifffile

    from vidcolor.io.files import round16

    x = np.random.default_rng(3).integers(0, 65536, (5, 7, channels)).astype(np.uint16)
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, x.transpose(2, 0, 1), photometric="rgb", planarconfig="separate",
                     extrasamples=("unassalpha",) if channels == 4 else None)
    rgb, alpha = read_image(path, deep=True)
    np.testing.assert_array_equal(rgb, x[..., :3])
    assert (alpha is None) == (channels == 3)
    if channels == 4:
        np.testing.assert_array_equal(alpha, x[..., 3])
    rgb8, _ = read_image(path)
    np.testing.assert_array_equal(rgb8, round16(x[..., :3]))


def test_a_16_bit_image_and_its_metadata_are_decoded_once_by_opencv_not_pillow(tmp_path, monkeypatch):
    """read_image(deep=True) decoded a 16-bit PNG or TIFF with Pillow (its 8-bit reading, unused) and then with OpenCV,
    and image_metadata decoded a PNG with Pillow again to look for EXIF after its pixels: three decodes, where
    OpenCV's alone is used (a 4000x3000 PNG: 1.49 s -> 0.71 s). Pillow now opens them lazily; an eXIf (and text)
    after the pixels is still read, and the output's EXIF is what Pillow's decoding gave."""
    from PIL import ImageFile
    from vidcolor.io.images import image_metadata

    x = np.random.default_rng(1).integers(0, 65536, (5, 7, 3)).astype(np.uint16)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "Scanner"
    _png16(tmp_path / "a.png", x, 2, after={b"eXIf": exif.tobytes()[6:], b"tEXt": b"Comment\0late"})
    _tifffile16(tmp_path / "a.tif", x, 6)
    import tifffile         # a planar one: tifffile reads it, leaving it as stored; turned upright as the others
    tifffile.imwrite(tmp_path / "p.tif", x.transpose(2, 0, 1), photometric="rgb", planarconfig="separate",
                     metadata=None, extratags=[(274, "H", 1, 6, True)])
    want = {name: image_metadata(tmp_path / name) for name in ("a.png", "a.tif", "p.tif")}   # (Pillow decodes them here:
    with Image.open(tmp_path / "a.png") as im:                                         # what it carried before)
        im.load()
        assert im.getexif()[ExifTags.Base.Make] == "Scanner"
    loads = []
    real = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda im: (loads.append(im.format), real(im))[1])
    for name in ("a.png", "a.tif", "p.tif"):
        rgb, _ = read_image(tmp_path / name, deep=True)
        np.testing.assert_array_equal(rgb, np.rot90(x, -1))           # orientation 6 (a PNG's after the pixels)
        meta = image_metadata(tmp_path / name)
        assert meta == want[name] and Image.Exif().load(meta.exif) is None
    assert loads == []
    tags = Image.Exif()
    tags.load(image_metadata(tmp_path / "a.png").exif)
    assert tags[ExifTags.Base.Make] == "Scanner" and tags[ExifTags.Base.Orientation] == 1


def test_a_16_bit_image_read_at_8_bits_is_decoded_once_and_turned_upright(tmp_path, monkeypatch):
    """read_image at 8 bits (a --reference, with to_srgb; vidcolor eval, without) decoded a 16-bit PNG or TIFF with
    Pillow (load) and then with OpenCV or tifffile, whose samples it kept; and a planar TIFF was left as stored, its
    orientation tag removed by Pillow's load before it was looked for (360x482 where deep=True gave 482x360). It now
    takes deep=True's single decode, rounded (round16), upright, and Pillow loads nothing."""
    from PIL import ImageFile
    from vidcolor.io.files import round16

    x = np.random.default_rng(3).integers(0, 65536, (5, 7, 3)).astype(np.uint16)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    _png16(tmp_path / "a.png", x, 2, after={b"eXIf": exif.tobytes()[6:]})
    _png16(tmp_path / "b.png", x, 2)                           # no EXIF at all: to_srgb's EXIF look decoded it
    _tifffile16(tmp_path / "a.tif", x, 6)
    import tifffile
    tifffile.imwrite(tmp_path / "p.tif", x.transpose(2, 0, 1), photometric="rgb", planarconfig="separate",
                     metadata=None, extratags=[(274, "H", 1, 6, True)])
    loads = []
    real = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda im: (loads.append(im.format), real(im))[1])
    for name in ("a.png", "b.png", "a.tif", "p.tif"):
        for to_srgb in (False, True):
            rgb, alpha = read_image(tmp_path / name, to_srgb=to_srgb)
            want = round16(x if name == "b.png" else np.rot90(x, -1))
            assert alpha is None and rgb.dtype == np.uint8 and rgb.flags.writeable, (name, to_srgb)
            np.testing.assert_array_equal(rgb, want, err_msg=f"{name} to_srgb={to_srgb}")
    assert loads == []


def test_a_16_bit_multi_page_tiff_is_decoded_from_its_first_page_alone(tmp_path, monkeypatch):
    """A multi-page 16-bit TIFF was read whole into memory (np.fromfile) to decode its first page (a 40-page 48 MB
    scan: 49 MB traced at peak, 3.6 MB now). OpenCV gets the first page's bytes alone, and what a file would need
    beyond MAX_IMAGE_BYTES is refused before anything is read, in one line."""
    import cv2
    import tifffile
    from vidcolor.io import depth

    x = np.random.default_rng(2).integers(0, 65536, (20, 30, 3)).astype(np.uint16)
    with tifffile.TiffWriter(tmp_path / "m.tif") as tif:
        for k in range(5):
            tif.write(np.roll(x, k, 0), photometric="rgb", metadata=None)
    given, real = [], cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda data, flags: (given.append(data.size), real(data, flags))[1])
    rgb, _ = read_image(tmp_path / "m.tif", deep=True)
    np.testing.assert_array_equal(rgb, x)
    size = (tmp_path / "m.tif").stat().st_size
    assert len(given) == 1 and x.nbytes < given[0] < size / 4
    _png16(tmp_path / "a.png", x, 2)
    monkeypatch.setattr(depth, "MAX_IMAGE_BYTES", 1000)
    with pytest.raises(VidcolorError, match=r"a\.png: cannot read as image \(a file of [\d,]+ bytes, more than the "
                                            r"1,000 that are read to decode it at 16 bits\)$"):
        read_image(tmp_path / "a.png", deep=True)
    assert len(given) == 1


def test_a_10_bit_dpx_still_comes_back_code_for_code_through_a_16_bit_png_and_tiff(tmp_path):
    """A single 10-bit DPX read as a still (read_image, deep) had its white at 65280, the decode's WHITE16, where a
    16-bit PNG or TIFF is read with white at 65535, so a 16-bit PNG written from it was 0.4% dark (and 254 its white
    at 8 bits). Now full_scale16's, as the image-sequence output's: each of the 1024 codes within 1 of its bit
    replication, and read back from the PNG and TIFF code for code; at 8 bits, white 255."""
    import cv2

    codes = dpx_every_10_bit_code(tmp_path / "scan.dpx")
    rgb, _ = read_image(tmp_path / "scan.dpx", deep=True)
    assert rgb.dtype == np.uint16 and np.abs(rgb[..., 1].astype(int) - (codes << 6 | codes >> 4)).max() <= 1
    for name in ("out.png", "out.tif"):
        write_image(tmp_path / name, rgb)
        back = cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED)
        assert back.dtype == np.uint16
        np.testing.assert_array_equal((back.astype(np.int64) * 1023 + 32767) // 65535, np.stack([codes] * 3, -1))
    assert read_image(tmp_path / "scan.dpx")[0].max() == 255
