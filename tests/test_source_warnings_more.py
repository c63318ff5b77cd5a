"""What a run says of its source, stop 70: a Ray run's summary says the 4:2:0 encode's halving of colour as a local
run's does; animated images (GIF, APNG, lossless WebP) are warned of it as RGB video is; a folder's summary says it
of the files it applies to, and its multi-page TIFFs and transparent clips are said in one line; Display P3 and
DCI-P3 SDR sources are colorized into BT.709 tags, as BT.2020 ones are; ``compare``'s input half is converted into
the output's primaries where colorize retags them."""
from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from helpers import run_ffmpeg, vidcolor_warnings

W, H, FRAMES = 32, 16, 2
HALVED = "the 4:2:0 encode halves their colour resolution"


def _noise(frames: int = FRAMES, seed: int = 0) -> np.ndarray:
    """Noise frames (no quantizer is found in them: they pass unchanged), uint8 ``(frames, H, W, 3)``."""
    return np.random.default_rng(seed).integers(0, 256, (frames, H, W, 3), dtype=np.uint8)


def _clip(ffmpeg_exe: str, path, pix_fmt: str, codec: str = "ffv1") -> None:
    """:func:`_noise` as a clip at ``pix_fmt`` (lossless FFV1 by default), 24 fps."""
    run_ffmpeg(ffmpeg_exe, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", "24", "-i", "-",
               "-pix_fmt", pix_fmt, "-c:v", codec, str(path), stdin=_noise().tobytes())


def _animation(path, **save) -> None:
    """:func:`_noise`'s frames as an animated image (the format by ``path``'s suffix)."""
    frames = [Image.fromarray(f) for f in _noise(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0, **save)


def _dequantize(src, out, tiny_models, **kw):
    from vidcolor.api import dequantize

    return dequantize(src, out, model=str(tiny_models.lab), temporal="off", progress=False, **kw)


@pytest.mark.parametrize("name, save, fmt", [("a.gif", {}, "pal8"), ("a.apng", {}, "rgb24"),
                                             ("a.webp", {"lossless": True}, "rgba")])
def test_an_animated_image_s_full_colour_into_4_2_0_is_told(tmp_path, tiny_models, name, save, fmt):
    """A GIF (a palette of RGB colours), an APNG (RGB) and a lossless WebP (ARGB) have colour at full resolution, which
    the default 4:2:0 encode halves; their reader gave no pixel format, so nothing was said of them (an RGB clip is
    told, stop 69), and their summary said 'every frame passed unchanged' alone (a GIF's palette is a quantizer:
    its frames are corrected, and the summary says that)."""
    _animation(tmp_path / name, **save)
    with vidcolor_warnings() as warned:
        summary = _dequantize(tmp_path / name, tmp_path / "out.mp4", tiny_models)
    assert [w for w in warned if "colour resolution" in w] == [
        f"{name} has full-resolution colour (RGB, {fmt}); libx264 at yuv420p (plays everywhere) halves its colour "
        "resolution (4:2:0), so thin coloured detail (text, pixel art, edges) blurs and changes colour; "
        "pix_fmt='yuv444p' keeps it (H.264 High 4:4:4 Predictive, which browsers and most hardware decoders do not "
        "play)"]
    if fmt != "pal8":
        assert summary.note.endswith(f"every frame passed unchanged ({HALVED})")


def test_a_lossy_webp_animation_is_4_2_0_already_and_not_told(tmp_path, tiny_models):
    """A lossy WebP's frames are VP8, 4:2:0 alone: the encode halves nothing of them."""
    from vidcolor.io.animated import AnimatedImageReader

    _animation(tmp_path / "a.webp", quality=80)
    with AnimatedImageReader(tmp_path / "a.webp") as reader:
        assert reader.info.pix_fmt == "yuv420p"
    with vidcolor_warnings() as warned:
        _dequantize(tmp_path / "a.webp", tmp_path / "out.mp4", tiny_models)
    assert warned == []


def test_a_folder_s_summary_says_the_halving_of_the_files_it_applies_to(tmp_path, ffmpeg_exe, tiny_models):
    """A folder of an RGB clip (its 4:2:0 encode halves its colour) and a 4:2:0 one: the summary said nothing of it,
    since not every file was halved; it says which share of the files it applies to."""
    folder = tmp_path / "in"
    folder.mkdir()
    _clip(ffmpeg_exe, folder / "rgb.mkv", "bgr0")
    _clip(ffmpeg_exe, folder / "yuv.mkv", "yuv420p")
    with vidcolor_warnings():
        summary = _dequantize(folder, tmp_path / "out", tiny_models)
    assert summary.note.endswith(f"every frame passed unchanged ({HALVED} in 1 of 2 files)")


def test_a_folder_s_note_of_halving_counts_the_files_of_each():
    from vidcolor.pipeline import Found
    from vidcolor.summaries import files_unchanged_note

    rgb = [Found("no quantizer found", 10, "", halved=HALVED)]
    yuv422 = [Found("no quantizer found", 10, "", halved="the 4:2:0 encode halves their vertical colour resolution")]
    still, corrected = [Found("no quantizer found", 1, "")], [Found("palette of 4 colours", 10, None)]
    assert files_unchanged_note([rgb, rgb]) == f"every frame passed unchanged ({HALVED})"
    assert files_unchanged_note([rgb, still, yuv422, rgb]) == (
        f"every frame passed unchanged ({HALVED} in 2 of 4 files; the 4:2:0 encode halves their vertical colour "
        "resolution in 1 of 4 files)")
    assert files_unchanged_note([rgb, corrected]) == ""         # (the quantizers say which)
    assert files_unchanged_note([still, still], "image") == "every image passed unchanged"


def test_stills_after_an_rgb_clip_are_not_said_halved(tmp_path, ffmpeg_exe, tiny_models):
    """One Dequantizer given an RGB clip, then a folder of stills (written as PNG, nothing halved): the clip's halving
    stayed on the job, and the stills' summary said it."""
    from vidcolor.api import Dequantizer, process

    _clip(ffmpeg_exe, tmp_path / "rgb.mkv", "bgr0")
    stills = tmp_path / "stills"
    stills.mkdir()
    for i, frame in enumerate(_noise(2)):
        Image.fromarray(frame).save(stills / f"s{i}.png")
    job = Dequantizer(str(tiny_models.lab))
    with vidcolor_warnings():
        process(tmp_path / "rgb.mkv", tmp_path / "rgb.mp4", job, suffix="x", progress=False)
        assert job.found_totals()[0].halved == HALVED
        summary = process(stills, tmp_path / "out", job, suffix="x", progress=False)
    assert summary.note.endswith("every image passed unchanged"), summary.note


def test_a_folder_s_multi_page_tiffs_are_said_in_one_line(tmp_path, tiny_models):
    """Each multi-page TIFF of a folder had a line of its own ('a.tif has 2 pages: only the first is processed'), as
    16-bit stills had before stop 67: said once for them all, as those are."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i, frame in enumerate(_noise(5)):
        pages = [Image.fromarray(frame), Image.fromarray(frame[::-1])]
        pages[0].save(folder / f"p{i}.tif", save_all=True, append_images=pages[1:])
    with vidcolor_warnings() as warned:
        _dequantize(folder, tmp_path / "out", tiny_models)
    assert warned == ["5 images have several pages (p0.tif, p1.tif, p2.tif and 2 more): only the first page of each "
                      "is processed"]
    with vidcolor_warnings() as warned:                 # one image: as before
        _dequantize(folder / "p0.tif", tmp_path / "one.png", tiny_models)
    assert warned == [f"{folder / 'p0.tif'} has 2 pages: only the first is processed"]


def test_a_folder_s_transparent_clips_are_said_in_one_line(tmp_path, tiny_models):
    """Each transparent animation of a folder written to MP4 had its line ('a.apng: its transparent parts were
    composited on black (a.mp4 cannot hold transparency; GIF output keeps it)'): one for them all."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.apng", "b.apng"):
        frames = [np.dstack([f, np.full((H, W), 128, np.uint8)]) for f in _noise(2)]
        images = [Image.fromarray(f, "RGBA") for f in frames]
        images[0].save(folder / name, save_all=True, append_images=images[1:], duration=100, loop=0)
    with vidcolor_warnings() as warned:
        _dequantize(folder, tmp_path / "out", tiny_models, pix_fmt="yuv444p")
    assert warned == ["2 clips had transparent parts (a.apng, b.apng): composited on black (their outputs cannot hold "
                      "transparency; GIF output keeps it)"]


def _p3_clip(ffmpeg_exe: str, path, primaries: str = "smpte432", trc: str = "iec61966-2-1") -> None:
    """testsrc2 (colour), 3 frames, H.264 tagged ``primaries`` (x264's own tags: -color_primaries is not taken here)."""
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "3", "-c:v", "libx264",
               "-pix_fmt", "yuv420p", "-x264-params", f"log-level=error:colorprim={primaries}:transfer={trc}:"
               "colormatrix=bt709", str(path))


def _tags(path) -> tuple[int, int, int]:
    with av.open(str(path)) as c:
        ctx = c.streams.video[0].codec_context
        return ctx.color_primaries, ctx.colorspace, ctx.color_trc


@pytest.mark.parametrize("primaries, code, what, kind", [
    ("smpte432", 12, "Display P3 (SMPTE 432)", "a phone's or a Mac's wide-gamut clip"),
    ("smpte431", 11, "DCI-P3 (SMPTE 431)", "a cinema master")])
def test_a_p3_sdr_source_is_colorized_into_bt709_tags(tmp_path, ffmpeg_exe, tiny_colorizers, tiny_models, primaries,
                                                      code, what, kind):
    """A Display P3 (a phone's) or DCI-P3 SDR source was colorized into its own P3 tags without a word, so a player
    showed colorize's BT.709 colours more saturated than made, where a BT.2020 one is tagged BT.709 with a warning
    (stop 68): P3 is now handled alike; dequantize keeps the source's tags (its values are the source's colours).
    The warning says what such a source is per space (it had called a phone's P3 clip 'a wide-gamut master', as
    BT.2020's says)."""
    from vidcolor.api import colorize

    src = tmp_path / "p3.mp4"
    _p3_clip(ffmpeg_exe, src, primaries)
    assert _tags(src) == (code, 1, 13)
    with vidcolor_warnings() as warned:
        colorize(src, tmp_path / "c.mp4", saturation=0, render_size=32, temporal="off", progress=False,
                 backend="torch", model=str(tiny_colorizers.fcn))
    assert [w for w in warned if "P3" in w] == [
        f"p3.mp4 is {what} video with an SDR transfer ({kind}); colorize makes its colours in BT.709 "
        f"(sRGB), as its networks were trained, so the output is tagged BT.709, not {what}, and shows them as made "
        f"(convert it to {what} afterwards if it must be delivered so)"]
    assert _tags(tmp_path / "c.mp4") == (1, 1, 13)          # BT.709 primaries, sRGB's curve kept: sRGB
    with vidcolor_warnings() as warned:
        _dequantize(src, tmp_path / "d.mp4", tiny_models)
    assert not [w for w in warned if "P3" in w] and _tags(tmp_path / "d.mp4") == (code, 1, 13)


def test_compare_converts_its_input_half_into_the_output_s_primaries(tmp_path, ffmpeg_exe, tiny_colorizers):
    """colorize --compare of a colour BT.2020 SDR source: its output is tagged BT.709 (colorize's colours are made so),
    and the input half, the source's BT.2020 values as they are, showed under those tags duller than the source (its
    pure red, BT.2020's, shown as BT.709's). It is converted into BT.709 (clipped to its gamut): the source's own
    colours, as a player shows the source."""
    from vidcolor.api import colorize
    from vidcolor.io import VideoReader
    from vidcolor.side_by_side import primaries_matrix

    src = tmp_path / "bt2020.mp4"
    rgb = np.zeros((2, 16, 32, 3), np.uint8)
    rgb[..., :16, 0] = 200                              # red on the left, a BT.2020 teal (within BT.709) on the right
    rgb[..., 16:, :] = (40, 120, 110)
    run_ffmpeg(ffmpeg_exe, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "32x16", "-r", "24", "-i", "-", "-c:v",
               "libx264rgb", "-qp", "0", "-x264-params", "log-level=error:colorprim=bt2020:transfer=bt709", str(src),
               stdin=rgb.tobytes())
    assert _tags(src)[0] == 9
    with vidcolor_warnings():
        colorize(src, tmp_path / "c.mkv", saturation=0, render_size=32, temporal="off", progress=False,
                 backend="torch", model=str(tiny_colorizers.fcn), compare=True, codec="ffv1", pix_fmt="yuv444p")
    assert _tags(tmp_path / "c.mkv")[0] == 1
    with VideoReader(tmp_path / "c.mkv") as reader:
        shown = next(iter(reader))[:, :32].astype(int)
    # the matrices themselves, as published (not made by the code under test): BT.2020 -> BT.709 (ITU-R BT.2087),
    # Display P3 -> BT.709 (the same D65 white: rows sum to 1)
    np.testing.assert_allclose(primaries_matrix(9, 1), [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083],
                                                        [-0.0182, -0.1006, 1.1187]], atol=1e-4)
    np.testing.assert_allclose(primaries_matrix(12, 1), [[1.2249, -0.2249, 0], [-0.0421, 1.0421, 0],
                                                         [-0.0196, -0.0786, 1.0983]], atol=1e-4)
    linear = (rgb[0] / 255.0) ** 2.4 @ primaries_matrix(9, 1).T
    want = np.rint(np.clip(linear, 0, 1) ** (1 / 2.4) * 255)
    assert np.abs(shown - want).max() <= 2                    # (the 4:4:4 YUV encode's rounding)
    assert shown[0, 0, 0] >= 240 and np.abs(shown[0, 20] - (40, 120, 110)).max() > 10


def test_a_ray_plan_knows_what_its_encode_halves(tmp_path, ffmpeg_exe):
    """A Ray run's summary rebuilt the frames' findings without the halving a local run's says: each clip's plan holds
    it (as the local run's job does), for the summary (:func:`vidcolor.distributed.process_clips`)."""
    from vidcolor import distributed
    from vidcolor.api import build_job

    for pix_fmt, halved in (("bgr0", HALVED), ("yuv420p", "")):
        _clip(ffmpeg_exe, tmp_path / f"{pix_fmt}.mkv", pix_fmt)
        spec = distributed.JobSpec(build_job, {"kind": "dequantize", "options": {}}, eight_bits="8 bits")
        with vidcolor_warnings():
            plan = distributed.open_work(tmp_path / f"{pix_fmt}.mkv", tmp_path / f"{pix_fmt}.mp4", spec,
                                         distributed.Encoding("libx264"), 1.0, False, False, False)
        assert plan.halved == halved


@pytest.mark.slow
def test_a_ray_run_s_summary_says_the_halving_as_a_local_run_s(tmp_path, ffmpeg_exe, tiny_models):
    """An RGB clip dequantized by Ray: its summary said 'every frame passed unchanged' where a local run's adds
    '(the 4:2:0 encode halves their colour resolution)'; now both say it (a folder's, of the files it applies to)."""
    ray = pytest.importorskip("ray")
    folder = tmp_path / "in"
    folder.mkdir()
    _clip(ffmpeg_exe, folder / "rgb.mkv", "bgr0")
    _clip(ffmpeg_exe, folder / "yuv.mkv", "yuv420p")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        with vidcolor_warnings():
            local = _dequantize(folder / "rgb.mkv", tmp_path / "local.mp4", tiny_models)
            one = _dequantize(folder / "rgb.mkv", tmp_path / "ray.mp4", tiny_models, executor="ray", workers=1)
            both = _dequantize(folder, tmp_path / "out", tiny_models, executor="ray", workers=1)
    finally:
        ray.shutdown()
    assert local.note.endswith(f"every frame passed unchanged ({HALVED})")
    assert one.note.endswith(local.note), (one.note, local.note)
    assert both.note.endswith(f"every frame passed unchanged ({HALVED} in 1 of 2 files)"), both.note
