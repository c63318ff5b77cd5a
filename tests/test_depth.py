"""Sources of more than 8 bits per sample through colorize: decoded at 16 bits, L computed from them, written from
16-bit RGB into 10-bit output (stop 68). Before, a 10-bit gray ramp came out on 8-bit levels."""
from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from helpers import run_ffmpeg, vidcolor_warnings
from vidcolor.color import lab_to_rgb, lightness16, rgb_to_lab
from vidcolor.io import VideoWriter
from vidcolor.io.convert import frame_to_rgb

W, H, FRAMES = 512, 16, 3
LOW, HIGH = 300, 600
"""The ramp's limited-range 10-bit Y codes, left to right: 300 levels where 8 bits have 75."""


def _ramp10(ffmpeg_exe: str, path, *encoder: str) -> np.ndarray:
    """A gray horizontal ramp, ``W`` x ``H``, ``FRAMES`` frames, encoded losslessly (FFV1, yuv420p10le, with the
    ``encoder``'s further options: ``-g 1`` marks each frame a keyframe) at ``path``; returns one row of its Y codes as
    decoded."""
    y10 = np.linspace(LOW, HIGH, W)
    g16 = np.round((y10 - 64) / 876 * 65535).astype("<u2")
    run_ffmpeg(ffmpeg_exe, "-f", "rawvideo", "-pix_fmt", "gray16le", "-s", f"{W}x{H}", "-r", "24", "-i", "-",
               "-vf", "scale=out_range=limited:flags=accurate_rnd,format=yuv420p10le", "-c:v", "ffv1", *encoder,
               str(path), stdin=np.tile(g16, (FRAMES, H, 1)).tobytes())
    return _y_rows(path)[0]


def _y_rows(path) -> np.ndarray:
    """The middle row of each frame's Y plane, in 10-bit codes (an 8-bit output's times 4), and the pixel format."""
    rows = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            p = f.planes[0]
            deep = f.format.name.endswith("10le")
            a = np.frombuffer(p, np.uint16 if deep else np.uint8).reshape(p.height, -1)[H // 2, :W].astype(np.int64)
            rows.append(a if deep else a * 4)
    return np.stack(rows)


def _pix_fmt(path) -> str:
    with av.open(str(path)) as c:
        return c.streams.video[0].codec_context.pix_fmt


@pytest.mark.parametrize("reference", [False, True], ids=["automatic", "reference"])
def test_a_10_bit_ramp_keeps_its_levels_through_colorize(tmp_path, ffmpeg_exe, tiny_colorizers, reference):
    """Colorize decoded a 10-bit source to 8-bit RGB: at saturation 0 (its output's L the input's, no colour) a ramp
    of 300 10-bit levels came out on 75 8-bit ones, even written at yuv420p10le. Its frames are now decoded at 16
    bits, L computed from them and written from 16-bit RGB, and the default output is yuv420p10le: the ramp comes out
    as it went in, code for code."""
    from vidcolor.api import colorize

    src = tmp_path / "ramp10.mkv"
    row = _ramp10(ffmpeg_exe, src)
    assert np.unique(row).size > 256
    kw = {}
    if reference:
        ref = np.full((64, 64, 3), (200, 120, 60), np.uint8)
        ref[32:] = (60, 90, 200)                            # two hues: one alone is warned about (toned)
        Image.fromarray(ref).save(tmp_path / "ref.png")
        kw = dict(references=[tmp_path / "ref.png"], model=str(tiny_colorizers.exemplar))
    else:
        kw = dict(model=str(tiny_colorizers.fcn))
    out = tmp_path / "out.mkv"
    with vidcolor_warnings() as said:
        colorize(src, out, saturation=0, render_size=32, codec="ffv1", temporal="off", progress=False,
                 backend="torch", **kw)
    assert said == []                                       # nothing lost: no warning of 8 bits
    assert _pix_fmt(out) == "yuv420p10le"
    rows = _y_rows(out)
    assert len(rows) == FRAMES and np.unique(rows[0]).size > 256
    np.testing.assert_array_equal(rows, np.tile(row, (FRAMES, 1)))


def test_an_8_bit_pix_fmt_given_keeps_8_bits_and_says_why(tmp_path, ffmpeg_exe, tiny_colorizers):
    """An explicit pixel format wins: yuv420p output of a 10-bit source is processed at 8 bits, as before, and the
    warning says that the output format holds 8 bits (it had said vidcolor processes frames at 8 bits, which
    colorize no longer does)."""
    from vidcolor.api import colorize

    src = tmp_path / "ramp10.mkv"
    _ramp10(ffmpeg_exe, src)
    out = tmp_path / "out.mkv"
    with vidcolor_warnings() as said:
        colorize(src, out, model=str(tiny_colorizers.fcn), saturation=0, render_size=32, codec="ffv1",
                 pix_fmt="yuv420p", temporal="off", progress=False, backend="torch")
    assert said == ["ramp10.mkv has 10 bits per sample; ffv1 at yuv420p holds 8 bits, so the frames are processed "
                    "at 8 (pix_fmt='yuv420p10le' keeps more)"]
    assert _pix_fmt(out) == "yuv420p" and np.unique(_y_rows(out)[0]).size <= 256


def test_compare_keeps_a_deep_source_s_levels_on_both_sides(tmp_path, ffmpeg_exe, tiny_colorizers):
    """--compare (SideBySide) around a 16-bit job takes its uint16 frames, ``(N, H, W, 3)``, and gives
    ``(N, H, 2 W, 3)`` uint16: at saturation 0 both halves of the 10-bit output are the ramp, code for code."""
    from vidcolor.api import colorize

    src = tmp_path / "ramp10.mkv"
    row = _ramp10(ffmpeg_exe, src)
    out = tmp_path / "out.mkv"
    with vidcolor_warnings() as said:
        colorize(src, out, model=str(tiny_colorizers.fcn), saturation=0, render_size=32, codec="ffv1",
                 temporal="off", progress=False, backend="torch", compare=True)
    assert said == [] and _pix_fmt(out) == "yuv420p10le"
    with av.open(str(out)) as c:
        for f in c.decode(video=0):
            p = f.planes[0]
            y = np.frombuffer(p, np.uint16).reshape(p.height, -1)[H // 2, :2 * W].astype(np.int64)
            np.testing.assert_array_equal(y, np.concatenate([row, row]))


def test_a_job_of_8_bit_frames_says_so(tmp_path, ffmpeg_exe):
    """A job that takes 8-bit frames alone (dequantize, colorize's internal mode, a function of one's own) is given
    8-bit frames of a 10-bit source, and the warning names it."""
    from vidcolor.api import process

    src = tmp_path / "ramp10.mkv"
    _ramp10(ffmpeg_exe, src)
    seen = []

    def job(frames):
        seen.append(frames.dtype)
        return frames

    with vidcolor_warnings() as said:
        process(src, tmp_path / "out.mkv", job, suffix="x", codec="ffv1", pix_fmt="yuv420p10le", progress=False)
    assert seen == [np.uint8] and said == [
        "ramp10.mkv has 10 bits per sample; the job processes frames at 8 bits, so the output keeps 8 bits of "
        "precision (also with pix_fmt='yuv420p10le')"]


@pytest.mark.parametrize("fmt, bits", [("yuv420p10le", 10), ("yuv420p9le", 9), ("yuv420p14le", 14)])
def test_10_bit_colour_decodes_at_16_bits_with_its_chroma_replicated(fmt, bits):
    """swscale's full chroma interpolation wrote R and G as 0 converting 10-bit 4:2:0 to rgb48le (rgb24 (54, 88, 125)
    came out (0, 0, 31935)); the 16-bit decode replicates the chroma, as the 8-bit decode of 8-bit 4:2:0 does, and
    comes within a level (of 8 bits) of BT.601's RGB of the 10-bit samples (swscale's 16-bit white is 65280)."""
    rng = np.random.default_rng(0)
    y, u, v = (rng.integers(64, 941, (32, 32)), rng.integers(300, 724, (16, 16)), rng.integers(300, 724, (16, 16)))
    frame = av.VideoFrame(32, 32, fmt)          # 9 and 14 bits (interpolated by swscale, 61 levels off): the same
    y, u, v = (np.round(c * 2.0 ** (bits - 10)).astype(np.int64) for c in (y, u, v))
    for plane, samples in zip(frame.planes, (y, u, v)):
        padded = np.zeros((plane.height, plane.line_size // 2), np.uint16)
        padded[:, :samples.shape[1]] = samples
        plane.update(padded)
    k = 2.0 ** (bits - 8)
    y, (u, v) = (y - 16 * k) / (219 * k), ((c.repeat(2, 0).repeat(2, 1) - 128 * k) / (224 * k) for c in (u, v))
    bt601 = np.clip(np.stack([y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u], -1), 0, 1) * 255
    deep = frame_to_rgb(frame, deep=True)
    assert deep.dtype == np.uint16 and np.abs(deep / 257.0 - bt601).max() < 1


def test_lightness16_is_exact_where_opencv_s_float_lab_is_not():
    """OpenCV's float RGB -> LAB interpolates a table (410 distinct L of 3,001 grays); the 16-bit L is exact: every
    gray keeps an L of its own, lab_to_rgb at 16 bits gives the gray back, and 8-bit colours' L is OpenCV's within
    0.2."""
    gray = np.repeat(np.linspace(6554, 58982, 3001).round().astype(np.uint16)[None, :, None], 3, -1)
    L = lightness16(gray)
    assert np.unique(L).size == 3001
    lab = np.concatenate([L[..., None], np.zeros((*L.shape, 2), np.float32)], -1)
    assert np.abs(lab_to_rgb(lab, np.uint16).astype(np.int64) - gray).max() <= 1
    rgb8 = np.random.default_rng(1).integers(0, 256, (32, 32, 3), np.uint8)
    assert np.abs(lightness16(rgb8.astype(np.uint16) * 257) - rgb_to_lab(rgb8)[..., 0]).max() < 0.2


def test_a_deep_writer_takes_16_bit_frames_alone(tmp_path):
    """VideoWriter(deep=True) gives ffmpeg rgb48le: the 10-bit output keeps levels between the 8-bit ones, and uint8
    frames are refused (naming the dtype it takes)."""
    ramp = np.repeat(np.tile(np.linspace(16384, 32768, 256).round().astype(np.uint16), (16, 1))[..., None], 3, -1)
    out = tmp_path / "deep.mkv"
    with VideoWriter(out, 256, 16, 24, codec="ffv1", pix_fmt="yuv444p10le", deep=True) as w:
        with pytest.raises(ValueError, match="expected uint16"):
            w.write(np.zeros((16, 256, 3), np.uint8))
        w.write(ramp)
    with av.open(str(out)) as c:
        back = frame_to_rgb(next(c.decode(video=0)), deep=True)
    assert np.unique(back[8, :, 1]).size > 200 and np.abs(back.astype(np.int64) - ramp).max() < 300


def test_a_batch_of_16_bit_frames_is_counted_in_bytes():
    """uint16 frames take twice the bytes of uint8 ones in every queue of a run: the automatic batch holds half the
    pixels (CPU 640x360: 2 frames, not 4), and a batch size given may hold half the pixels (32 megapixels)."""
    from vidcolor.errors import VidcolorError
    from vidcolor.pipeline import auto_batch_size, check_batch_pixels

    assert (auto_batch_size(640, 360), auto_batch_size(640, 360, sample_bytes=2)) == (4, 2)
    check_batch_pixels(277, 640, 360)                       # 63.8 megapixels of 8-bit frames
    check_batch_pixels(138, 640, 360, sample_bytes=2)
    with pytest.raises(VidcolorError, match=r"\(32 megapixels of 16-bit frames\): at most 138 at this size"):
        check_batch_pixels(139, 640, 360, sample_bytes=2)


@pytest.mark.parametrize("fmt, colour_range, top", [("gray10le", 2, 1023), ("gray16le", 2, 65535),
                                                    ("yuv444p10le", 2, 1023), ("gbrp12le", 2, 4095)])
def test_gray_full_range_and_rgb_decode_at_16_bits_to_the_encode_s_white(fmt, colour_range, top):
    """swscale scales gray, full-range YUV and RGB samples to rgb48le by their codes (gray10le 1023 -> 65472, 16 bits
    as they are, RGB bits repeated to 65535), while the encode from rgb48le takes 65280 as white (Y 940; 65535 gave
    943): such a source came out brighter by up to 0.4% (a gray16le at 10-bit Y 368: 369.2). Each code now decodes
    to its fraction of 65280, as limited-range YUV does."""
    codes = np.linspace(0, top, 8).round().astype(np.uint16)
    frame = av.VideoFrame(8, 2, fmt)
    for i, plane in enumerate(frame.planes):
        padded = np.zeros((plane.height, plane.line_size // 2), np.uint16)
        padded[:, :8] = codes if i == 0 or fmt.startswith("gbr") else (top + 1) // 2
        plane.update(padded)
    frame.color_range = colour_range
    rgb = frame_to_rgb(frame, deep=True)
    expected = codes / top * 65280
    assert np.abs(rgb[0].astype(np.int64) - expected[:, None]).max() <= 1, rgb[0, :, 0]


def test_a_16_bit_gray_source_keeps_its_brightness_through_colorize(tmp_path, ffmpeg_exe, tiny_colorizers):
    """A gray16le FFV1 source (an archive's scan) at saturation 0 comes out at its own Y, code for code at 10 bits
    (it came out 1.2 codes brighter at mid-gray and its white at 943)."""
    from vidcolor.api import colorize

    g16 = np.linspace(0, 65535, W).round().astype("<u2")
    src = tmp_path / "gray16.mkv"
    run_ffmpeg(ffmpeg_exe, "-f", "rawvideo", "-pix_fmt", "gray16le", "-s", f"{W}x{H}", "-r", "24", "-i", "-",
               "-c:v", "ffv1", str(src), stdin=np.tile(g16, (FRAMES, H, 1)).tobytes())
    out = tmp_path / "out.mkv"
    with vidcolor_warnings() as said:
        colorize(src, out, saturation=0, render_size=32, codec="ffv1", temporal="off", progress=False,
                 backend="torch", model=str(tiny_colorizers.fcn))
    rows = _y_rows(out)
    assert np.abs(rows - (64 + 876 * g16.astype(np.float64) / 65535)).max() <= 0.51
    # the run says what the 10-bit output keeps of the 16 bits (it wrote them at 10 without a word)
    assert said == ["gray16.mkv has 16 bits per sample; it is processed at 16, but ffv1 at yuv420p10le holds 10, so "
                    "the output keeps 10 bits of precision"]


@pytest.mark.parametrize("trc, said", [("smpte2084", "PQ, smpte2084"), ("arib-std-b67", "HLG, arib-std-b67")])
def test_an_hdr_source_is_told_that_it_is_processed_as_sdr(tmp_path, ffmpeg_exe, tiny_colorizers, trc, said):
    """A 10-bit BT.2020 source tagged PQ or HLG was colourised as SDR without a word (the start code told its 10 bits
    alone), and its output tagged PQ/HLG: an HDR player shows the colours made for SDR through that transfer. A
    warning says so and how to tone-map it first; the tags are kept as before."""
    from vidcolor.api import colorize

    src = tmp_path / "hdr.mkv"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "gradients=s=64x32:d=0.125:r=24", "-vf",
               f"setparams=color_primaries=bt2020:color_trc={trc}:colorspace=bt2020nc", "-pix_fmt", "yuv420p10le",
               "-c:v", "ffv1", str(src))
    out = tmp_path / "out.mkv"
    with vidcolor_warnings() as warned:
        colorize(src, out, saturation=0, render_size=32, codec="ffv1", temporal="off", progress=False,
                 backend="torch", model=str(tiny_colorizers.fcn))
    assert [w for w in warned if "HDR" in w] == [
        f"hdr.mkv is HDR video ({said} transfer); vidcolor processes its samples as SDR video's (sRGB), and the output "
        "keeps its tags, so an HDR player shows the colours through that transfer, not as made: tone-map it to SDR "
        "first (ffmpeg -i in.mkv -vf zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=hable:desat=0,"
        "zscale=t=bt709:m=bt709:r=tv,format=yuv420p10le -c:v ffv1 sdr.mkv)"]
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.color_trc == {"smpte2084": 16, "arib-std-b67": 18}[trc]


@pytest.mark.parametrize("trc, code", [("bt709", 1), ("bt2020-10", 14)])
def test_a_bt2020_sdr_source_is_colorized_into_bt709_tags_and_dequantized_into_its_own(tmp_path, ffmpeg_exe,
                                                                                     tiny_colorizers, tiny_models,
                                                                                     trc, code):
    """A BT.2020 source with an SDR transfer (a wide-gamut master, HEVC as such masters come) is decoded with its own
    matrix into RGB that colorize takes as BT.709's (sRGB) and makes its colours in; its output kept the source's
    BT.2020 tags without a word, so a player showed them more saturated than made (mean CIELAB chroma 7.9 made, 11.9
    shown). Colorize's output is tagged BT.709 (primaries, matrix; bt2020-10 is BT.709's curve) and a warning says
    so, in a local run and in a Ray run's plan alike; dequantize's keeps the source's tags (its values are the
    source's colours), without a warning."""
    from vidcolor import distributed
    from vidcolor.api import build_job, colorize, dequantize

    src = tmp_path / f"{trc}.mp4"       # (libx265 took -color_primaries and -color_trc as unknown here: x265's own)
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "3", "-c:v", "libx265",
               "-x265-params", f"log-level=error:colorprim=bt2020:transfer={trc}:colormatrix=bt2020nc", "-pix_fmt",
               "yuv420p", str(src))
    source = (9, 9, code)
    said = [f"{trc}.mp4 is BT.2020 video with an SDR transfer (a wide-gamut master); colorize makes its colours in "
            "BT.709 (sRGB), as its networks were trained, so the output is tagged BT.709, not BT.2020, and shows them "
            "as made (convert it to BT.2020 afterwards if it must be delivered so)"]
    with av.open(str(src)) as c:
        ctx = c.streams.video[0].codec_context
        assert (ctx.color_primaries, ctx.colorspace, ctx.color_trc) == source
    with vidcolor_warnings() as warned:
        colorize(src, tmp_path / "c.mkv", saturation=0, render_size=32, codec="ffv1", temporal="off",
                 progress=False, backend="torch", model=str(tiny_colorizers.fcn))
    assert [w for w in warned if "BT.2020" in w] == said
    with vidcolor_warnings() as warned:
        dequantize(src, tmp_path / "d.mkv", model=str(tiny_models.lab), device="cpu", codec="ffv1", progress=False)
    assert not [w for w in warned if "BT.2020" in w]
    for out, want in (("c.mkv", (1, 1, 1)), ("d.mkv", source)):
        with av.open(str(tmp_path / out)) as c:
            ctx = c.streams.video[0].codec_context
            assert (ctx.color_primaries, ctx.colorspace, ctx.color_trc) == want, out
    for colours, want in ((True, {"colorspace": 1, "color_range": 1, "color_primaries": 1, "color_trc": 1}),
                          (False, {"colorspace": 9, "color_range": 1, "color_primaries": 9, "color_trc": code})):
        spec = distributed.JobSpec(build_job, {"kind": "colorize" if colours else "dequantize", "options": {}},
                                   eight_bits=None, colours=colours)
        with vidcolor_warnings() as warned:
            plan = distributed.open_work(src, tmp_path / f"r{colours}.mkv", spec, distributed.Encoding("ffv1"), 1.0,
                                         False, False, False)
        assert dict(plan.clip.colour) == want and [w for w in warned if "BT.2020" in w] == (said if colours else [])


def test_a_source_deeper_than_its_output_is_told_the_bits_that_the_output_keeps():
    """A 12-bit ProRes 4444 or a 16-bit FFV1 scan, decoded at 16 bits, was written at 10 without a word (the start code
    had said 8). encoded_bits names what the encoder is given (ProRes: 4:2:2 or 4:4:4 at 10 bits), and
    warn_about_source, given it, says what the output keeps; nothing where the output holds the source's bits."""
    from types import SimpleNamespace

    from vidcolor.io.reader import warn_about_source
    from vidcolor.io.writer import encoded_bits

    assert encoded_bits("prores", "yuv420p10le") == ("yuv422p10le", 10)
    assert encoded_bits("ffv1", "yuv444p10le") == ("yuv444p10le", 10)
    info = SimpleNamespace(alpha=None, bits=12, interlaced=None, colour={})
    with vidcolor_warnings() as said:
        warn_about_source("scan.mov", info, None, ("prores", *encoded_bits("prores", "yuv420p10le")))
        warn_about_source("ten.mov", SimpleNamespace(alpha=None, bits=10, interlaced=None, colour={}), None,
                          ("prores", *encoded_bits("prores", "yuv420p10le")))
    assert said == ["scan.mov has 12 bits per sample; it is processed at 16, but prores at yuv422p10le holds 10, so the "
                    "output keeps 10 bits of precision"]


EIGHT = "the job processes frames at 8 bits, so the output keeps 8 bits of precision"
"""A reason for 8 bits, as :attr:`vidcolor.distributed.JobSpec.eight_bits` takes it."""


def _work(clip, target, eight_bits, pix_fmt, keep):
    """:func:`vidcolor.distributed.open_work` of ``clip`` (no Ray) for a colorize spec whose ``eight_bits`` is given
    and an FFV1 encoding at ``pix_fmt``; with ``keep``, a part is put in the work folder after, whether one was there
    before (the folder kept: the same key) returned with the plan and the warnings."""
    from vidcolor import distributed
    from vidcolor.api import build_job

    spec = distributed.JobSpec(build_job, {"kind": "colorize", "options": {}, "temporal": ["off", 0.6]},
                               eight_bits=eight_bits)
    with vidcolor_warnings() as said:
        plan = distributed.open_work(clip, target, spec, distributed.Encoding("ffv1", pix_fmt=pix_fmt), 1.0, False,
                                     False, False)
    part = plan.work / "segment-00000.nut"
    kept = part.exists()
    part.touch()
    return plan, said, kept


def test_a_ray_run_plans_a_deep_source_at_16_bits_and_keeps_8_bit_keys(tmp_path, ffmpeg_exe):
    """A Ray run's work (:func:`vidcolor.distributed.open_work`) decoded every source at 8 bits and said so. Where the
    job keeps the depth (``JobSpec.eight_bits`` None) a 10-bit source's clip is now decoded at 16 bits, its default
    pix_fmt is 10 bits and nothing is said, as a local run; its key is not the 8-bit run's (its parts are not those).
    An 8-bit source's key stays what it was: a run stopped before, with ``pix_fmt='yuv420p'`` given for the default,
    resumes."""
    deep_src, flat = tmp_path / "ramp10.mkv", tmp_path / "flat8.mkv"
    _ramp10(ffmpeg_exe, deep_src)
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=24", "-frames:v", "2", "-c:v", "ffv1",
               str(flat))
    plan, said, _ = _work(flat, tmp_path / "f.mkv", EIGHT, "yuv420p", True)          # as the runs before did
    assert not plan.clip.deep and said == []
    plan, said, kept = _work(flat, tmp_path / "f.mkv", None, None, True)
    assert kept and not plan.clip.deep and plan.encoding.pix_fmt == "yuv420p"       # the same key: resumed
    plan, said, _ = _work(deep_src, tmp_path / "r.mkv", EIGHT, None, True)
    assert not plan.clip.deep and plan.encoding.pix_fmt == "yuv420p"
    assert said == [f"ramp10.mkv has 10 bits per sample; {EIGHT}"]
    plan, said, kept = _work(deep_src, tmp_path / "r.mkv", None, None, True)
    assert not kept and plan.clip.deep and plan.encoding.pix_fmt == "yuv420p10le" and said == []


def test_a_ray_encoding_left_at_its_default_takes_each_clip_s_default_pix_fmt(tmp_path, ffmpeg_exe):
    """distributed.Encoding's pix_fmt was ``"yuv420p"`` by default, a copy of default_pix_fmt's 8-bit answer: a
    10-bit clip whose job keeps the depth was decoded at 16 bits into 8-bit FFV1, where a local run writes
    yuv420p10le. Its default is None now, resolved by open_work with default_pix_fmt; an 8-bit clip's is yuv420p
    and its key the one an explicit yuv420p gives (its part kept)."""
    from vidcolor import distributed
    from vidcolor.api import build_job

    deep_src, flat = tmp_path / "ramp10.mkv", tmp_path / "flat8.mkv"
    _ramp10(ffmpeg_exe, deep_src)
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=24", "-frames:v", "2", "-c:v", "ffv1",
               str(flat))
    spec = distributed.JobSpec(build_job, {"kind": "colorize", "options": {}, "temporal": ["off", 0.6]},
                               eight_bits=None)
    plan = distributed.open_work(deep_src, tmp_path / "r.mkv", spec, distributed.Encoding("ffv1"), 1.0, False, False,
                                 False)
    assert plan.clip.deep and plan.encoding.pix_fmt == "yuv420p10le"
    (plan.work / "segment-00000.nut").touch()
    plan = distributed.open_work(flat, tmp_path / "f.mkv", spec, distributed.Encoding(pix_fmt="yuv420p"), 1.0, False,
                                 False, False)
    (plan.work / "segment-00000.nut").touch()
    plan = distributed.open_work(flat, tmp_path / "f.mkv", spec, distributed.Encoding(), 1.0, False, False, False)
    assert plan.encoding.pix_fmt == "yuv420p" and (plan.work / "segment-00000.nut").exists()


def test_a_segment_of_a_deep_source_decodes_at_16_bits_as_the_reader_does(tmp_path, ffmpeg_exe):
    """A Ray worker's segment (:func:`vidcolor.io.segments.read_segment`) was decoded to uint8 alone; ``deep`` gives
    the local reader's uint16 frames."""
    from vidcolor.io import VideoReader
    from vidcolor.io.segments import plan_segments, read_segment

    src = tmp_path / "ramp10.mkv"
    _ramp10(ffmpeg_exe, src)
    (segment,), _ = plan_segments(src, 1.0)
    with VideoReader(src, deep=True) as reader:
        want = np.stack(list(reader))
    got = np.stack(list(read_segment(src, segment, deep=True)))
    assert got.dtype == np.uint16 and np.unique(got[0, 8, :, 0]).size > 256
    np.testing.assert_array_equal(got, want)


def _ramp16(path, channels: int = 3) -> np.ndarray:
    """A 16-bit gray horizontal ramp, 256 x 8, 0..65535 in 512 levels (8 bits have 256), written by OpenCV at
    ``path`` (PNG or TIFF; ``channels`` 1 gray, 3 RGB); returns its gray levels ``(8, 256)``."""
    import cv2

    g = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (8, 1))
    g[1::2] += 61                                                   # odd rows between the even rows' levels
    assert cv2.imwrite(str(path), g if channels == 1 else np.repeat(g[..., None], channels, axis=2))
    return g


@pytest.mark.parametrize("name, channels, out", [("ramp16.png", 3, "out.png"), ("gray16.png", 1, "out.png"),
                                                 ("ramp16.tif", 3, "out.tif")])
def test_a_16_bit_still_keeps_its_levels_through_colorize(tmp_path, tiny_colorizers, name, channels, out):
    """A 16-bit PNG or TIFF (an archive's scan) was read at 8 bits and written as an 8-bit image without a word: at
    saturation 0 a ramp of 512 levels came out on 256, 128 16-bit units off. It is now read, processed and written at
    16 bits (PNG through OpenCV, TIFF through tifffile): its levels come out within a few units (5 measured, 8 allowed)."""
    import cv2

    from vidcolor.api import colorize

    g = _ramp16(tmp_path / name, channels)
    with vidcolor_warnings() as said:
        colorize(tmp_path / name, tmp_path / out, model=str(tiny_colorizers.fcn), saturation=0, render_size=32,
                 progress=False, backend="torch")
    assert said == []
    x = cv2.imread(str(tmp_path / out), cv2.IMREAD_UNCHANGED)
    assert x.dtype == np.uint16 and x.shape == (8, 256, 3)
    assert np.unique(x[..., 0]).size > 400 and (x[..., 0] == x[..., 2]).all()
    assert np.abs(x[..., 0].astype(int) - g).max() <= 8


def test_a_folder_of_16_bit_stills_processed_at_8_bits_says_it_once(tmp_path):
    """A folder of 16-bit scans said one identical sentence per image (three PNGs: three warnings that differ by the
    name alone, which Python's warnings filter does not merge); it is said once a reason, counting and naming the
    images (up to three), and one image's as before. The 8-bit image among them is not counted."""
    from vidcolor.api import process

    (tmp_path / "in").mkdir()
    for k in range(5):
        _ramp16(tmp_path / "in" / f"s{k}.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "in" / "e.png")
    with vidcolor_warnings() as said:
        process(tmp_path / "in", tmp_path / "out", lambda b: b, suffix="x", progress=False)
    assert said == ["5 images have 16 bits per sample (s0.png, s1.png, s2.png and 2 more); the job processes images at "
                    "8 bits, so their outputs keep 8 bits of precision"]
    (tmp_path / "one").mkdir()
    _ramp16(tmp_path / "one" / "a.png")
    with vidcolor_warnings() as said:
        process(tmp_path / "one", tmp_path / "out1", lambda b: b, suffix="x", progress=False)
    assert said == ["a.png has 16 bits per sample; the job processes images at 8 bits, so the output keeps 8 bits of "
                    "precision"]


@pytest.mark.parametrize("out, said", [
    ("out.jpg", "JPEG holds 8 bits (.png and .tif hold 16)"),
    ("out.png", "the job processes images at 8 bits")])
def test_a_16_bit_still_processed_at_8_bits_says_why(tmp_path, tiny_colorizers, out, said):
    """A 16-bit still processed at 8 bits (an output format of 8 bits; a job of 8-bit frames: dequantize, a function
    of one's own) says so in one warning, as a video does; its frames are those the 8-bit reading gave, rounded
    round(x / 257)."""
    import cv2

    from vidcolor.api import colorize, process
    from vidcolor.io import read_image

    src = tmp_path / "ramp16.png"
    _ramp16(src)
    seen = []

    def job(frames):
        seen.append(frames.copy())
        return frames

    with vidcolor_warnings() as warned:
        if out.endswith(".png"):
            process(src, tmp_path / out, job, suffix="x", progress=False)
        else:
            colorize(src, tmp_path / out, model=str(tiny_colorizers.fcn), saturation=0, render_size=32,
                     progress=False, backend="torch")
    assert warned == [f"ramp16.png has 16 bits per sample; {said}, so the output keeps 8 bits of precision"]
    if seen:
        np.testing.assert_array_equal(seen[0][0], read_image(src)[0])
        assert cv2.imread(str(tmp_path / out), cv2.IMREAD_UNCHANGED).dtype == np.uint8


def test_a_16_bit_still_s_profile_is_kept_at_16_bits_in_tiff_and_png(tmp_path, tiny_colorizers):
    """A 16-bit scan's RGB ICC profile and EXIF (make, resolution) are carried into its output, as an 8-bit image's
    are, at 16 bits: in a TIFF (tifffile) and in a PNG (OpenCV's imencodeWithMetadata). The PNG was written at 8 bits
    with them, which one warning said ('OpenCV writes 16-bit PNG without them'), until OpenCV wrote them."""
    import cv2
    import tifffile

    from vidcolor.api import colorize
    from vidcolor.io.icc import ADOBE_RGB_PRIMARIES, matrix_profile
    from vidcolor.io.images import image_metadata

    icc = matrix_profile(*ADOBE_RGB_PRIMARIES, gamma=2.2)
    g = np.repeat(_ramp16(tmp_path / "plain.png")[..., None], 3, axis=2)
    tifffile.imwrite(tmp_path / "scan.tif", g, photometric="rgb", iccprofile=icc, metadata=None, resolution=(600, 600),
                     resolutionunit=2, extratags=[(271, "s", 0, "Epson", True)])    # a scanner's tags: its EXIF
    kw = dict(model=str(tiny_colorizers.fcn), saturation=0, render_size=32, progress=False, backend="torch")
    with vidcolor_warnings() as said:
        colorize(tmp_path / "scan.tif", tmp_path / "out.tif", **kw)
        colorize(tmp_path / "scan.tif", tmp_path / "out.png", **kw)
    assert said == []
    assert cv2.imread(str(tmp_path / "out.tif"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert image_metadata(tmp_path / "out.tif").icc_profile == icc == image_metadata(tmp_path / "out.png").icc_profile
    for out in ("out.tif", "out.png"):
        exif = Image.open(tmp_path / out).getexif()
        assert (exif[271], exif[282], exif[296]) == ("Epson", 600.0, 2)


def test_the_default_codec_writes_a_10_bit_source_as_h264_that_plays(tmp_path, ffmpeg_exe, tiny_colorizers):
    """With no codec or pix_fmt given, a 10-bit source (10-bit HEVC phone footage) was colorized into libx264 at
    yuv420p10le, H.264 High 10, which browsers, QuickTime and most hardware decoders do not play (before the 16-bit
    decode it gave 8-bit H.264). libx264's default stays yuv420p for every source, and the warning says how to keep
    10 bits and what that costs; libx265 and ffv1 keep 10 bits by default (HEVC Main10 plays on most)."""
    from vidcolor.api import colorize
    from vidcolor.errors import VidcolorError, cli_wording
    from vidcolor.io.writer import default_pix_fmt
    from vidcolor.source_warnings import eight_bit_reason

    src = tmp_path / "ramp10.mkv"
    _ramp10(ffmpeg_exe, src)
    out = tmp_path / "out.mp4"
    with vidcolor_warnings() as said:
        colorize(src, out, model=str(tiny_colorizers.fcn), saturation=0, render_size=32, preset="ultrafast",
                 temporal="off", progress=False, backend="torch")
    assert _pix_fmt(out) == "yuv420p"
    assert said == ["ramp10.mkv has 10 bits per sample; libx264 at yuv420p holds 8 bits (plays everywhere), so the "
                    "frames are processed at 8 (pix_fmt='yuv420p10le' keeps 10, H.264 High 10, which most hardware "
                    "decoders and browsers do not play; or codec='libx265')"]
    job = type("Job", (), {"DEEP": True})()
    assert cli_wording(VidcolorError(eight_bit_reason(job, "libx264", "yuv420p", False))).endswith(
        "(--pix-fmt yuv420p10le keeps 10, H.264 High 10, which most hardware decoders and browsers do not play; or "
        "--codec libx265)")
    assert [default_pix_fmt(c, True) for c in ("libx264", "libx265", "ffv1")] == ["yuv420p", *["yuv420p10le"] * 2]


def test_the_reason_for_8_bits_is_given_by_every_caller():
    """warn_about_source and distributed.JobSpec took ``eight_bits=""`` by default, a sentence of their own ("it is
    processed at 8 bits ... (also with --pix-fmt yuv420p10le)") beside None (the depth kept) and a caller's reason;
    every caller gives None or the reason (eight_bit_reason's) now, and one that gives neither is a TypeError. The
    reason is not in the Ray key: an 8-bit source's key is the one it was."""
    from types import SimpleNamespace

    from vidcolor.distributed import JobSpec
    from vidcolor.io.reader import warn_about_source

    with pytest.raises(TypeError, match="eight_bits"):
        warn_about_source("a.mkv", SimpleNamespace(alpha=None, bits=10, interlaced=None, colour={}))
    with pytest.raises(TypeError, match="eight_bits"):
        JobSpec(len, {})
    assert JobSpec(len, {}, eight_bits=None).key() == JobSpec(len, {}, eight_bits=EIGHT).key()
