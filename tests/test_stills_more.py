"""More of still images (vidcolor.io.images, vidcolor.io.icc): a 16-bit PNG's ICC profile and EXIF, a gray profile that
cannot be carried."""
from __future__ import annotations

import numpy as np
from PIL import ExifTags, Image

from helpers import _icc_v2, vidcolor_warnings
from vidcolor.io import images
from vidcolor.io.icc import ADOBE_RGB_PRIMARIES, matrix_profile
from vidcolor.io.images import image_metadata, write_image


class DeepIdentity:
    """A job that takes 16-bit frames (:attr:`~vidcolor.pipeline.LabJob.DEEP`) and gives them back as they are."""

    DEEP = True

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        return frames


def camera_exif() -> bytes:
    """A camera's EXIF: make and model, an exposure time in its Exif directory, a latitude in its GPS one."""
    exif = Image.Exif()
    exif.update({271: "Canon", 272: "EOS"})
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ExposureTime] = 0.01
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    return exif.tobytes()


def test_a_16_bit_png_is_written_at_16_bits_with_its_icc_profile_and_exif(tmp_path):
    """A 16-bit PNG with an ICC profile or EXIF was refused at 16 bits (OpenCV's imencode writes neither), so its
    caller wrote it at 8. OpenCV's imencodeWithMetadata writes them (iCCP, eXIf): the samples whole, the profile as
    given, the EXIF with its Exif and GPS directories (which a 16-bit TIFF cannot hold), as Pillow reads them."""
    import cv2

    icc = matrix_profile(*ADOBE_RGB_PRIMARIES, gamma=2.2)
    x = np.random.default_rng(1).integers(0, 65536, (6, 9, 3)).astype(np.uint16)
    a = np.random.default_rng(2).integers(0, 65536, (6, 9)).astype(np.uint16)
    assert images.deep_refusal("PNG", icc, camera_exif()) is None
    write_image(tmp_path / "a.png", x, a, icc_profile=icc, exif=camera_exif())
    got = cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got[..., [2, 1, 0, 3]], np.concatenate([x, a[..., None]], axis=2))
    assert image_metadata(tmp_path / "a.png").icc_profile == icc
    exif = Image.open(tmp_path / "a.png").getexif()
    assert (exif[271], exif[272]) == ("Canon", "EOS")
    assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ExposureTime] == 0.01
    assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"


def test_an_opencv_without_metadata_writing_still_gives_8_bits_with_the_profile(monkeypatch):
    """Where this OpenCV cannot write them (before 4.12: no imencodeWithMetadata), the refusal stands: 8 bits with the
    profile, as before."""
    import cv2

    monkeypatch.delattr(cv2, "imencodeWithMetadata")
    images._png16_keeps.cache_clear()
    try:
        icc = matrix_profile(*ADOBE_RGB_PRIMARIES, gamma=2.2)
        assert images.deep_refusal("PNG", icc, None) == (
            f"its ICC profile is carried into the PNG at 8 bits (OpenCV {cv2.__version__} writes no 16-bit PNG with "
            "them; .tif keeps 16 bits with them)")
        assert images.deep_refusal("PNG", None, None) is None
    finally:
        images._png16_keeps.cache_clear()


def test_a_16_bit_scan_keeps_16_bits_and_its_profile_in_png(tmp_path):
    """A 16-bit scan (TIFF) with an RGB profile and a scanner's tags, processed by a job that takes 16 bits into PNG:
    it was written at 8 bits, which a warning said ('carried into the PNG at 8 bits (OpenCV writes 16-bit PNG
    without them...'); now at 16, with both, and no warning."""
    import cv2
    import tifffile

    from vidcolor.api import process

    icc = matrix_profile(*ADOBE_RGB_PRIMARIES, gamma=2.2)
    x = np.random.default_rng(3).integers(0, 65536, (8, 12, 3)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "scan.tif", x, photometric="rgb", iccprofile=icc, metadata=None, resolution=(600, 600),
                     resolutionunit=2, extratags=[(271, "s", 0, "Epson", True)])
    with vidcolor_warnings() as said:
        process(tmp_path / "scan.tif", tmp_path / "out.png", DeepIdentity(), suffix="x", progress=False)
    assert said == []
    got = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got[..., ::-1], x)
    assert image_metadata(tmp_path / "out.png").icc_profile == icc
    exif = Image.open(tmp_path / "out.png").getexif()
    assert (exif[271], exif[282], exif[296]) == ("Epson", 600.0, 2)


def gray_lut_profile() -> bytes:
    """A gray ICC profile of lookup tables alone (an AToB0 lut16 from gray to Lab, no kTRC), as some scanners' are."""
    import struct

    lut = (b"mft2" + bytes(4) + bytes([1, 3, 2, 0]) + struct.pack(">9i", 65536, 0, 0, 0, 65536, 0, 0, 0, 65536)
           + struct.pack(">HH", 2, 2) + struct.pack(">2H", 0, 65535)
           + struct.pack(">6H", 0, 0x8000, 0x8000, 0xFF00, 0x8000, 0x8000) + struct.pack(">6H", *[0, 65535] * 3))
    return _icc_v2(b"scnr", b"GRAY", b"Lab ", b"Gray LUT", [(b"A2B0", lut)])


def test_a_gray_profile_without_a_tone_curve_is_said_to_be_dropped(tmp_path):
    """A gray image's gray ICC profile is carried into its RGB output as an RGB profile of its tone curve (kTRC); one
    without (a lookup-table profile) was dropped without a word, the output untagged. Now one warning names the
    file; a gray profile with a curve is carried without one."""
    from helpers import gray_profile
    from vidcolor.api import process

    levels = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (4, 1))
    Image.fromarray(levels).save(tmp_path / "lut.png", icc_profile=gray_lut_profile())
    Image.fromarray(levels).save(tmp_path / "curve.png", icc_profile=gray_profile(1.8))
    with vidcolor_warnings() as said:
        process(tmp_path / "lut.png", tmp_path / "lut_out.png", lambda b: b, suffix="x", progress=False)
        process(tmp_path / "curve.png", tmp_path / "curve_out.png", lambda b: b, suffix="x", progress=False)
    assert said == [f"{tmp_path / 'lut.png'}: its gray ICC profile is not carried into the output (it has no tone "
                    "curve, kTRC, to make an RGB profile of: a lookup-table profile); the output is untagged, shown as "
                    "sRGB"]
    assert image_metadata(tmp_path / "lut_out.png").icc_profile is None
    assert image_metadata(tmp_path / "curve_out.png").icc_profile[16:20] == b"RGB "


def test_a_folder_s_gray_profiles_without_a_tone_curve_are_said_in_one_line(tmp_path):
    """Each gray image of a folder whose gray profile cannot be carried had a line of its own (4 scans, 4 lines),
    where a folder's multi-page TIFFs and 16-bit stills are said once for all: so are they now."""
    from vidcolor.api import process

    folder = tmp_path / "in"
    folder.mkdir()
    levels = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (4, 1))
    for i in range(4):
        Image.fromarray(levels).save(folder / f"s{i}.png", icc_profile=gray_lut_profile())
    with vidcolor_warnings() as said:
        process(folder, tmp_path / "out", lambda b: b, suffix="x", progress=False)
    assert said == ["4 images have a gray ICC profile without a tone curve (s0.png, s1.png, s2.png and 1 more: "
                    "lookup-table profiles, no kTRC to make an RGB profile of): not carried into their outputs, which "
                    "are untagged, shown as sRGB"]
