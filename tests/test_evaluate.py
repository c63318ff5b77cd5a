"""vidcolor.evaluate: loading videos, images and folders; the result of evaluate(); the table and JSON."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from helpers import mosaic
from vidcolor.errors import VidcolorError
from vidcolor.evaluate import evaluate, format_table, load_frames, to_json
from vidcolor.io import write_image
from vidcolor.metrics import ACCURACY_THRESHOLD, cdc, ciede2000, colourfulness, psnr, warp_error


@pytest.fixture(scope="module")
def gt():
    """Four 32x48 colour mosaics that move one pixel a frame (a smooth enough 'video')."""
    base = mosaic(1, 32, 64, seed=3)[0]
    return np.stack([base[:, i:i + 48] for i in range(4)])


def _folder(path, frames):
    path.mkdir()
    for i, f in enumerate(frames):
        write_image(path / f"f{i:03d}.png", f)
    return path


# ------------------------------------------------------------------------------------------- loading


def test_load_video(clip, clip_frames):
    frames = load_frames(clip)
    assert frames.dtype == np.uint8 and frames.shape == clip_frames.shape
    np.testing.assert_array_equal(frames, clip_frames)
    np.testing.assert_array_equal(load_frames(clip, max_frames=3), clip_frames[:3])


def test_load_image_and_folder(tmp_path, gt):
    write_image(tmp_path / "one.png", gt[0])
    one = load_frames(tmp_path / "one.png")
    assert one.shape == (1, 32, 48, 3)
    np.testing.assert_array_equal(one[0], gt[0])
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in (3, 0, 2, 1):                                         # written out of order, read sorted by name
        write_image(folder / f"f{i}.png", gt[i])
    (folder / "notes.txt").write_text("not an image")
    np.testing.assert_array_equal(load_frames(folder), gt)
    np.testing.assert_array_equal(load_frames(folder, max_frames=2), gt[:2])


def test_load_errors(tmp_path, gt):
    with pytest.raises(VidcolorError, match="no such file"):
        load_frames(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VidcolorError, match="no images"):
        load_frames(tmp_path / "empty")
    mixed = _folder(tmp_path / "mixed", [gt[0]])
    write_image(mixed / "f9.png", gt[0][:16])
    with pytest.raises(VidcolorError, match="differs"):
        load_frames(mixed)
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    with pytest.raises(VidcolorError):
        load_frames(tmp_path / "bad.mp4")
    with pytest.raises(VidcolorError, match="at least 1"):
        load_frames(tmp_path / "mixed", max_frames=0)


def test_arrays_and_other_values_are_refused_naming_the_clip(gt):
    """An array with an empty side was OpenCV's error text (cvtColor's '!_src.empty()'), a list of frames or None
    Python's ('expected str, bytes or os.PathLike object, not list'), and a float array did not say which clip."""
    with pytest.raises(VidcolorError, match=re.escape("output: expected uint8 RGB (N, H, W, 3) or (H, W, 3), no side "
                                                      "empty, got uint8 (4, 0, 48, 3)") + "$"):
        evaluate(gt[:, :0], gt, features=False)
    with pytest.raises(VidcolorError, match=re.escape("reference: expected uint8 RGB (N, H, W, 3) or (H, W, 3), no "
                                                      "side empty, got float64 (4, 32, 48, 3); floats in [0, 1]? ")):
        evaluate(gt, gt / 255.0, features=False)
    with pytest.raises(VidcolorError, match=r"^input must be a video file, an image, a folder of images or uint8 RGB "
                                            r"frames \(T, H, W, 3\), got list; a list of frames \(H, W, 3\)\? give "
                                            r"np.stack\(frames\)$"):
        evaluate(gt, gt, input=list(gt), features=False)
    with pytest.raises(VidcolorError, match=r"^output must be .* got NoneType$"):
        evaluate(None, gt, features=False)


# ------------------------------------------------------------------------------------------ evaluate


def test_identical_output(gt):
    r = evaluate(gt, gt, features=False)
    out = r["output"]
    assert r["frames"] == 4 and (r["width"], r["height"]) == (48, 32)
    assert out["psnr"] == float("inf") and out["mse"] == 0 and out["mae"] == 0
    assert out["ssim"] == pytest.approx(1) and out["pixel_accuracy"] == 1
    assert out["ciede2000"] == pytest.approx(0, abs=1e-6)
    assert out["colourfulness"] == pytest.approx(colourfulness(gt)) == r["reference"]["colourfulness"]
    assert out["colourfulness_gap"] == 0 and out["colourfulness_ratio"] == 1
    assert "input" not in r and "frechet_effnet" not in out
    assert r["accuracy_threshold"] == ACCURACY_THRESHOLD


def test_input_column_and_known_values(gt):
    out = np.clip(gt.astype(int) + 3, 0, 255).astype(np.uint8)
    gray = np.repeat(gt.mean(-1, keepdims=True).round().astype(np.uint8), 3, -1)
    r = evaluate(out, gt, input=gray, features=False)
    assert r["input"]["colourfulness"] == 0
    assert r["input"]["colourfulness_ratio"] == 0
    assert r["input"]["colourfulness_gap"] == pytest.approx(-r["reference"]["colourfulness"])
    assert r["output"]["psnr"] == pytest.approx(psnr(out, gt))
    assert r["output"]["psnr"] > r["input"]["psnr"]
    assert r["output"]["pixel_accuracy"] == 1 and r["input"]["pixel_accuracy"] < 1
    table = format_table(r)
    for text in ("output", "input", "ground truth", "PSNR", "SSIM", "pixel accuracy", "CIEDE2000", "colourfulness"):
        assert text in table
    assert "Frechet" not in table


def test_gray_reference_has_no_ratio(gt):
    gray = np.full_like(gt, 90)
    r = evaluate(gt, gray, features=False)
    assert r["output"]["colourfulness_ratio"] is None and "n/a" in format_table(r)


def test_frame_counts_and_sizes(gt):
    r = evaluate(gt[:3], gt, input=gt, features=False)
    assert r["frames"] == 3 and r["frame_counts"] == {"output": 3, "reference": 4, "input": 4}
    assert "frame counts differ" in format_table(r)
    assert evaluate(gt, gt, max_frames=2, features=False)["frames"] == 2
    with pytest.raises(VidcolorError, match="not the same video"):
        evaluate(gt[:, :16], gt, features=False)
    with pytest.raises(VidcolorError, match="input"):
        evaluate(gt, gt, input=gt[:, :, :40], features=False)
    with pytest.raises(VidcolorError):
        evaluate(gt.astype(np.float32), gt, features=False)


def test_temporal_measures_for_clips_only(gt):
    one = evaluate(gt[:1], gt[:1], features=False)
    assert "warp_error" not in one["output"] and "cdc" not in one["output"]
    # the output flickers: every other frame 20 levels brighter (clipped), the motion is the ground truth's
    flicker = np.clip(gt.astype(int) + np.array([0, 20, -20, 20])[:, None, None, None], 0, 255).astype(np.uint8)
    r = evaluate(flicker, gt, features=False)
    assert r["reference"]["warp_error"] == pytest.approx(warp_error(gt))
    assert r["reference"]["cdc"] == pytest.approx(cdc(gt))
    assert r["output"]["warp_error"] > 100 * r["reference"]["warp_error"]
    assert r["output"]["cdc"] > 10 * r["reference"]["cdc"]
    # the output is warped along the ground truth's flow (all columns alike), not its own
    assert r["output"]["warp_error"] == pytest.approx(warp_error(flicker, flow_source=gt))
    assert r["output"]["warp_error"] != pytest.approx(warp_error(flicker))
    assert "warp error" in format_table(r)


def test_paths_and_json(tmp_path, gt):
    out = _folder(tmp_path / "out", gt)
    write_image(tmp_path / "gt.png", gt[0])
    r = evaluate(out, _folder(tmp_path / "gt", gt), input=tmp_path / "gt.png", features=False)
    assert r["frames"] == 1 and r["frame_counts"]["output"] == 4
    data = json.loads(to_json(r))                                  # strict JSON: inf becomes null
    assert data["output"]["psnr"] is None and data["output"]["mse"] == 0
    with pytest.raises(VidcolorError, match="no such file"):
        evaluate(tmp_path / "nope", gt)


def test_pretrained_frechet(gt):
    """The one test that loads the pretrained EfficientNet-Lite0 (~20 MB): 320-d features, 0 on itself."""
    from vidcolor.metrics.features import load_encoder, pooled_features

    enc = load_encoder()
    assert pooled_features(gt[:2], enc).shape == (2, 320)
    flat = np.full_like(gt, 128)
    r = evaluate(gt, gt, input=flat, encoder=enc)
    assert r["output"]["frechet_effnet"] == pytest.approx(0, abs=1e-6)
    assert r["input"]["frechet_effnet"] > 1
    assert "not FID" in format_table(r)


def test_frames_smaller_than_ssims_window_get_no_ssim(tmp_path):
    """5x6 images: every measure but SSIM (7x7 window), which is n/a in the table and null in JSON."""
    import json

    from PIL import Image

    from vidcolor.evaluate import evaluate, format_table, to_json

    Image.fromarray(np.zeros((5, 6, 3), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.full((5, 6, 3), 9, np.uint8)).save(tmp_path / "b.png")
    result = evaluate(tmp_path / "a.png", tmp_path / "b.png", features=False)
    out = json.loads(to_json(result))["output"]
    assert out["ssim"] is None and abs(out["mae"] - 9.0) < 1e-9
    assert [ln for ln in format_table(result).splitlines() if ln.startswith("| SSIM")][0].split("|")[2].strip() == "n/a"


def test_folders_are_compared_image_by_image_by_name(tmp_path, gt):
    """A folder missing one image was compared by position: 1.png against 2.png (10.8 dB for identical sets)."""
    _folder(tmp_path / "gt", gt[:3])
    _folder(tmp_path / "out", gt[:3])
    (tmp_path / "out" / sorted((tmp_path / "out").iterdir())[1].name).unlink()
    result = evaluate(tmp_path / "out", tmp_path / "gt", features=False)
    assert result["frames"] == 2 and result["paired_by_name"]
    assert result["output"]["mse"] == 0
    assert result["frame_counts"] == {"output": 2, "reference": 3}
    assert "the 2 images of the same name compared" in format_table(result)
    (tmp_path / "other").mkdir()
    write_image(tmp_path / "other" / "zz.png", gt[0])
    with pytest.raises(VidcolorError, match="share no image name"):
        evaluate(tmp_path / "other", tmp_path / "gt", features=False)


def test_a_folder_of_numbered_frames_is_a_clip_in_natural_order(tmp_path):
    """ffmpeg's ``%d.png`` frames (1.png ... 12.png) were read in text order (1, 10, 11, 12, 2, ...): the same
    frames as a video scored 18 dB and the warp error of the folder was that of a shuffled clip."""
    base = mosaic(1, 32, 96, seed=7)[0]
    clip = np.stack([base[:, 4 * i:4 * i + 48] for i in range(12)])
    (tmp_path / "frames").mkdir()
    for i, f in enumerate(clip, 1):
        write_image(tmp_path / "frames" / f"{i}.png", f)
    np.testing.assert_array_equal(load_frames(tmp_path / "frames"), clip)
    r = evaluate(tmp_path / "frames", clip, features=False)
    assert r["output"]["psnr"] == float("inf")
    assert r["output"]["warp_error"] == pytest.approx(r["reference"]["warp_error"])
    # two folders are paired by name, and the pairs follow the frames (2 before 10) for the temporal measures
    (tmp_path / "gt").mkdir()
    for i, f in enumerate(clip, 1):
        write_image(tmp_path / "gt" / f"{i}.png", f)
    r = evaluate(tmp_path / "frames", tmp_path / "gt", features=False)
    assert r["paired_by_name"] and r["output"]["psnr"] == float("inf")
    assert r["reference"]["cdc"] == pytest.approx(cdc(clip))
    assert r["reference"]["warp_error"] == pytest.approx(warp_error(clip))


def test_transparent_pixels_of_the_ground_truth_are_left_out(tmp_path, gt):
    """RGBA images were scored on the hidden RGB of their transparent pixels too (a pixel-art sprite 39%
    transparent: CIEDE2000 7.70 instead of 6.35 on its visible pixels). Pixels with alpha 0 in the ground truth
    now count nowhere; the output's own RGB there does not matter."""
    alpha = np.full(gt.shape[:3], 255, np.uint8)
    alpha[:, 8:24, 10:30] = 0                                      # a transparent hole in every frame
    alpha[:, :, :4] = 128                                          # half transparent: still scored
    hidden = alpha == 0
    out = gt.copy()
    out[hidden] = np.random.default_rng(9).integers(0, 256, (int(hidden.sum()), 3), dtype=np.uint8)
    out[:, :, :4] = np.clip(out[:, :, :4].astype(int) + 6, 0, 255)   # an error where the truth is visible
    for name, frames in (("gt", gt), ("out", out)):
        (tmp_path / name).mkdir()
        for i, (f, a) in enumerate(zip(frames, alpha)):
            write_image(tmp_path / name / f"{i}.png", f, a)
    r = evaluate(tmp_path / "out", tmp_path / "gt", features=False)
    visible = ~hidden
    assert r["transparent"] == pytest.approx(hidden.mean())
    o = r["output"]
    assert o["mse"] == pytest.approx(np.mean((out[visible].astype(float) - gt[visible]) ** 2))
    assert o["psnr"] == pytest.approx(psnr(out[visible][None], gt[visible][None]))
    assert o["ciede2000"] == pytest.approx(ciede2000(out[visible][None], gt[visible][None]), rel=1e-5)
    assert o["pixel_accuracy"] == 1
    assert o["colourfulness"] == pytest.approx(colourfulness(out, visible))
    assert r["reference"]["warp_error"] == pytest.approx(warp_error(gt, mask=visible))
    assert o["cdc"] == pytest.approx(cdc(out, mask=visible))
    assert "transparent (alpha 0): left out of every measure" in format_table(r)
    # a single image too, and an opaque one reports nothing transparent
    single = evaluate(tmp_path / "out" / "0.png", tmp_path / "gt" / "0.png", features=False)
    v = visible[0]
    assert single["output"]["mse"] == pytest.approx(np.mean((out[0][v].astype(float) - gt[0][v]) ** 2))
    assert evaluate(gt, gt, features=False)["transparent"] == 0
    write_image(tmp_path / "clear.png", gt[0], np.zeros(gt.shape[1:3], np.uint8))
    with pytest.raises(VidcolorError, match="transparent everywhere"):
        evaluate(gt[0], tmp_path / "clear.png", features=False)


@pytest.fixture(scope="module")
def retimed(tmp_path_factory, clip, ffmpeg_exe):
    """The 10 fps test clip as ``shifted.mkv`` (the same packets, first frame at 0.1 s: one frame later, as a
    clip whose first frame was cut keeps its place) and ``fast.mp4`` (its frames re-encoded at 15 fps)."""
    from helpers import run_ffmpeg
    from vidcolor.io import VideoWriter

    d = tmp_path_factory.mktemp("retimed")
    run_ffmpeg(ffmpeg_exe, "-i", str(clip), "-an", "-c", "copy", "-output_ts_offset", "0.1", str(d / "shifted.mkv"))
    frames = load_frames(clip)
    with VideoWriter(d / "fast.mp4", frames.shape[2], frames.shape[1], 15, crf=0) as w:
        w.write(frames)
    return d


def test_videos_shown_at_other_times_are_warned(clip, retimed):
    """Frames are paired by position, and a clip that starts a frame later (PSNR 21 dB for the same frames) or
    runs at another frame rate was compared silently: each video's rate and start are now in the result and
    the table, and a warning says when the compared frames are not shown at the same times."""
    same = evaluate(clip, clip, features=False)
    assert same["warnings"] == []
    assert same["timing"] == {"output": {"fps": 10.0, "start": 0.0}, "reference": {"fps": 10.0, "start": 0.0}}
    assert "output 10 fps, ground truth 10 fps" in format_table(same) and "warning" not in format_table(same)
    shifted = evaluate(retimed / "shifted.mkv", clip, features=False)
    assert shifted["timing"]["output"]["start"] == pytest.approx(0.1)
    assert len(shifted["warnings"]) == 1 and "first frame is at 0.100 s" in shifted["warnings"][0]
    table = format_table(shifted)
    assert "(first frame at 0.100 s)" in table and "\nwarning: the output's first frame" in table
    fast = evaluate(clip, clip, input=retimed / "fast.mp4", features=False)
    assert fast["timing"]["input"]["fps"] == 15
    assert len(fast["warnings"]) == 1 and fast["warnings"][0].startswith("frame rates differ (the input 15 fps")
    assert evaluate(retimed / "fast.mp4", clip, max_frames=1, features=False)["warnings"] == []   # one frame: at 0
    arrays = evaluate(load_frames(clip), clip, features=False)                 # an array has no timing
    assert arrays["warnings"] == [] and list(arrays["timing"]) == ["reference"]


@pytest.fixture(scope="module")
def late_sources(tmp_path_factory, clip, ffmpeg_exe):
    """The 10 fps test clip with timestamps that do not start at 0: ``cut.mkv`` (the video alone from 1.2 s, as a
    clip cut there that kept its timestamps), ``cut.ts`` (video and audio, MPEG-TS: the audio from 1.4 s, the
    video a little later) and ``late.mkv`` (the video 0.5 s after its audio, which starts at 0)."""
    from helpers import run_ffmpeg

    d = tmp_path_factory.mktemp("late")
    run_ffmpeg(ffmpeg_exe, "-i", str(clip), "-an", "-c", "copy", "-output_ts_offset", "1.2", str(d / "cut.mkv"))
    run_ffmpeg(ffmpeg_exe, "-i", str(clip), "-c", "copy", str(d / "cut.ts"))
    run_ffmpeg(ffmpeg_exe, "-itsoffset", "0.5", "-i", str(clip), "-i", str(clip), "-map", "0:v", "-map", "1:a",
               "-c", "copy", str(d / "late.mkv"))
    return d


@pytest.mark.parametrize("source, output, audio", [
    ("cut.mkv", "out.mp4", True), ("cut.ts", "out.mp4", True), ("cut.ts", "out.mp4", False),
    ("cut.ts", "out.mkv", True), ("late.mkv", "out.mp4", True), ("late.mkv", "out.mp4", False),
    ("late.mkv", "out.gif", True), ("late.mkv", "out.gif", False)])
def test_vidcolors_own_output_of_a_clip_that_does_not_start_at_0_is_not_warned(tmp_path, late_sources, source,
                                                                                  output, audio):
    """vidcolor re-bases its output as ffmpeg does (the source's earliest stream to 0, the video keeping its
    offset from it), so the output of a clip whose first frame is at 1.2 s (or 1.4 s, MPEG-TS) starts at 0 (or at
    its video's offset from its audio), frame for frame the source's: eval warned that the first frames were 29 to
    34 frames apart. A GIF (no audio) starts at 0 whatever its source's offset. The frames pair as they should (the
    identity job at crf 0: 42.0 dB, the source's frames one frame off: 33.6 dB). (Writing the GIF, vidcolor names
    the audio it leaves out, unless ``audio=False``; eval has nothing to warn about either way.)"""
    import contextlib

    from vidcolor.api import process
    from vidcolor.errors import VidcolorWarning

    out = tmp_path / output
    left_out = output.endswith(".gif") and audio
    with (pytest.warns(VidcolorWarning, match=r"^not carried from late\.mkv: audio \(") if left_out else
          contextlib.nullcontext()):
        process(late_sources / source, out, lambda b: b, suffix="x", crf=0, preset="ultrafast", audio=audio,
                progress=False)
    r = evaluate(out, late_sources / source, features=False)
    assert r["timing"]["reference"]["start"] > 0.45 and r["warnings"] == []
    assert r["frames"] == 10 and r["output"]["psnr"] > (20 if output.endswith(".gif") else 38)


def test_an_output_that_is_no_rebased_copy_is_still_warned(tmp_path, late_sources, ffmpeg_exe):
    """A clip is taken for a re-based copy of the ground truth when its first frame is at 0 or at the ground
    truth's offset from its file's start; elsewhere the first frames' distance is warned about, as before."""
    from helpers import run_ffmpeg

    gt = late_sources / "late.mkv"                                       # video at 0.5 s, audio at 0
    run_ffmpeg(ffmpeg_exe, "-i", str(gt), "-c", "copy", "-output_ts_offset", "0.2", str(tmp_path / "moved.mkv"))
    r = evaluate(tmp_path / "moved.mkv", gt, features=False)             # video at 0.7 s: 2 frames later
    assert len(r["warnings"]) == 1 and "first frame is at 0.700 s, the ground truth's at 0.500 s" in r["warnings"][0]
    assert r["warnings"][0].endswith("has its first frame at 0.500 s or at 0)")
    run_ffmpeg(ffmpeg_exe, "-i", str(gt), "-an", "-c", "copy", "-output_ts_offset", "-0.3", str(tmp_path / "early.mkv"))
    r = evaluate(tmp_path / "early.mkv", gt, features=False)             # video alone at 0.2 s: 3 frames earlier
    assert len(r["warnings"]) == 1 and "first frame is at 0.200 s" in r["warnings"][0]
    cut = late_sources / "cut.mkv"                                       # video alone at 1.2 s
    run_ffmpeg(ffmpeg_exe, "-i", str(cut), "-c", "copy", "-output_ts_offset", "0.2", str(tmp_path / "part.mkv"))
    r = evaluate(tmp_path / "part.mkv", cut, input=gt, features=False)   # 0.2 s: neither 0 nor 1.2 s
    assert [w.split("'")[0] for w in r["warnings"]] == ["the output", "the input"]
    assert r["warnings"][0].endswith("has its first frame at 0)")


@pytest.mark.parametrize("suffix", [".gif", ".png"])
def test_an_animated_image_is_evaluated_as_a_clip(tmp_path, suffix):
    """`vidcolor eval out.gif --reference-video src.mkv` read the GIF as its first frame (frames 1 vs 150)."""
    from PIL import Image

    frames = mosaic(5, 24, 32)
    pil = [Image.fromarray(f) for f in frames]
    pil[0].save(tmp_path / f"a{suffix}", save_all=True, append_images=pil[1:], duration=40, loop=0)
    got = load_frames(tmp_path / f"a{suffix}")
    assert got.shape == (5, 24, 32, 3)
    if suffix == ".png":                                # lossless: every frame exactly
        np.testing.assert_array_equal(got, frames)
    assert load_frames(tmp_path / f"a{suffix}", max_frames=2).shape[0] == 2
    res = evaluate(tmp_path / f"a{suffix}", got, features=False)
    assert res["frames"] == 5 and res["output"]["psnr"] == float("inf")


def test_a_video_named_as_an_image_is_evaluated_as_the_video_it_is(tmp_path, clip):
    """A clip saved as .gif (a web "GIF" that is MP4) was read as a still image: 'cannot read as image
    (UnidentifiedImageError)'; jobs read it as a video, and so does eval."""
    import shutil

    shutil.copy(clip, tmp_path / "web.gif")
    got = load_frames(tmp_path / "web.gif")
    np.testing.assert_array_equal(got, load_frames(clip))


# --------------------------------------------------------------------------- streaming: today's numbers


def _scene(n=6, h=40, w=56):
    """A 6-frame 40x56 mosaic panning 2 px a frame (ground truth); the output, noisy (+-9 levels) and brighter or
    darker by frame; the gray input; and an alpha with holes, a half-transparent strip, an opaque first frame and a
    fully transparent fourth frame."""
    base = mosaic(1, h, w + 2 * n, seed=11)[0]
    gt = np.stack([base[:, 2 * i:2 * i + w] for i in range(n)])
    rng = np.random.default_rng(5)
    shift = np.array([0, 9, -7, 12, 3, -10][:n])[:, None, None, None]
    out = np.clip(gt.astype(int) + rng.integers(-9, 10, gt.shape) + shift, 0, 255).astype(np.uint8)
    gray = np.repeat(gt.mean(-1, keepdims=True).round().astype(np.uint8), 3, -1)
    alpha = np.full(gt.shape[:3], 255, np.uint8)
    alpha[1, 8:24, 10:30] = 0
    alpha[2, 20:, 30:] = 0
    alpha[2, :, :4] = 128
    alpha[3] = 0
    alpha[4, :5, :] = 0
    return gt, out, gray, alpha


# evaluate()'s results on _scene before it streamed (whole stacks in memory, commit 185870c): streaming must give
# the same numbers to within float rounding
_BEFORE = {
    "arrays": {
        "output": {"psnr": 28.536442831301308, "mse": 91.0827380952381, "mae": 7.89766865079365,
                   "ssim": 0.9404707430587078, "pixel_accuracy": 0.5462797619047619, "ciede2000": 3.0191109213652365,
                   "frechet_effnet": 416.1815421075586, "colourfulness": 145.0558653562746,
                   "warp_error": 0.0037078679783215766, "cdc": 0.09583326041565894,
                   "colourfulness_gap": -0.1976965802293762, "colourfulness_ratio": 0.9986389553716019},
        "reference": {"colourfulness": 145.25356193650398, "warp_error": 2.344630187750795e-06,
                      "cdc": 0.03544403678222564},
        "input": {"psnr": 12.294690240741923, "mse": 3833.640079365079, "mae": 50.532936507936505,
                  "ssim": 0.4156916059697715, "pixel_accuracy": 0.0, "ciede2000": 26.738742527133372,
                  "frechet_effnet": 255.64182599034223, "colourfulness": 0.0, "warp_error": 4.018832886647137e-07,
                  "cdc": 0.03711698320381198, "colourfulness_gap": -145.25356193650398, "colourfulness_ratio": 0.0}},
    "short": {
        "output": {"psnr": 28.321832801624435, "mse": 95.69672619047618, "mae": 8.116592261904762,
                   "ssim": 0.940589151900315, "pixel_accuracy": 0.5022321428571429, "ciede2000": 3.0409870277326654,
                   "colourfulness": 145.9504673637082, "warp_error": 0.00436998937632203, "cdc": 0.08632832758497194,
                   "colourfulness_gap": -0.25560876086885287, "colourfulness_ratio": 0.998251722721489},
        "reference": {"colourfulness": 146.20607612457707, "warp_error": 1.1642196624110563e-10,
                      "cdc": 0.01393572156485366},
        "input": {"psnr": 12.253649871972332, "mse": 3870.0392857142856, "mae": 50.86071428571429,
                  "ssim": 0.40421470460401426, "pixel_accuracy": 0.0, "ciede2000": 26.843187673999594,
                  "colourfulness": 0.0, "warp_error": 8.235515877526549e-11, "cdc": 0.014398296429070902,
                  "colourfulness_gap": -146.20607612457707, "colourfulness_ratio": 0.0}},
    "max_frames": {
        "output": {"psnr": 29.545953813595325, "mse": 72.19131944444445, "mae": 6.947371031746032,
                   "ssim": 0.9412822254483109, "pixel_accuracy": 0.6151785714285715, "ciede2000": 2.7498600582537294,
                   "colourfulness": 146.59325721855922, "warp_error": 0.0034213141195706806,
                   "cdc": 0.08391328192648573, "colourfulness_gap": -0.04310937258421177,
                   "colourfulness_ratio": 0.9997060117241966},
        "reference": {"colourfulness": 146.63636659114343, "warp_error": 3.201937449434094e-11,
                      "cdc": 0.016905003988030395},
        "input": {"psnr": 12.235490936667246, "mse": 3886.254761904762, "mae": 51.03095238095238,
                  "ssim": 0.3983677904035192, "pixel_accuracy": 0.0, "ciede2000": 26.892160733716395,
                  "colourfulness": 0.0, "warp_error": 1.733736867936183e-11, "cdc": 0.017237655408688192,
                  "colourfulness_gap": -146.63636659114343, "colourfulness_ratio": 0.0}},
    "masked": {
        "output": {"psnr": 29.318353793363443, "mse": 76.0755291005291, "mae": 7.154761904761905,
                   "ssim": 0.9414536075190318, "pixel_accuracy": 0.6275793650793651, "ciede2000": 2.8360313140251434,
                   "frechet_effnet": 416.1815421075586, "colourfulness": 146.17347892169855,
                   "warp_error": 0.0020406498643418818, "cdc": 0.10549364738470988,
                   "colourfulness_gap": -0.028708477764638474, "colourfulness_ratio": 0.9998036385209053},
        "reference": {"colourfulness": 146.20218739946318, "warp_error": 1.649000094234274e-11,
                      "cdc": 0.08528882819831356},
        "input": {"psnr": 12.278423117348499, "mse": 3848.026455026455, "mae": 50.67724867724868,
                  "ssim": 0.40737554256935826, "pixel_accuracy": 0.0, "ciede2000": 26.85159127036058,
                  "frechet_effnet": 255.64182599034223, "colourfulness": 0.0, "warp_error": 8.269038721171735e-12,
                  "cdc": 0.09046498325036624, "colourfulness_gap": -146.20218739946318, "colourfulness_ratio": 0.0}},
    "masked_single": {
        "output": {"psnr": 29.167090442432084, "mse": 78.7718992248062, "mae": 7.325387596899224,
                   "ssim": 0.9401166262376358, "pixel_accuracy": 0.4982558139534884, "ciede2000": 2.800890745937933,
                   "colourfulness": 153.37179095970473, "colourfulness_gap": 0.19213642418426957,
                   "colourfulness_ratio": 1.0012543207827884},
        "reference": {"colourfulness": 153.17965453552046}},
}


@pytest.fixture(scope="module")
def encoder():
    from vidcolor.metrics.features import load_encoder

    return load_encoder()


def test_the_results_are_todays_to_within_rounding(tmp_path, encoder):
    """evaluate() now reads its clips frame by frame and accumulates every measure; these are its numbers from
    when it held whole stacks (arrays; an output shorter than the truth; --max-frames; folders whose ground truth
    has alpha, with a fully transparent frame; a single image with alpha), every measure, with an input column."""
    gt, out, gray, alpha = _scene()
    for name, frames in (("gt", gt), ("out", out), ("gray", gray)):
        (tmp_path / name).mkdir()
        for i, f in enumerate(frames):
            write_image(tmp_path / name / f"{i}.png", f, alpha[i] if name == "gt" else None)
    got = {"arrays": evaluate(out, gt, input=gray, encoder=encoder),
           "short": evaluate(out[:4], gt, input=gray, features=False),
           "max_frames": evaluate(out, gt, input=gray, max_frames=3, features=False),
           "masked": evaluate(tmp_path / "out", tmp_path / "gt", input=tmp_path / "gray", encoder=encoder),
           "masked_single": evaluate(tmp_path / "out" / "2.png", tmp_path / "gt" / "2.png", features=False)}
    for case, before in _BEFORE.items():
        for column, measures in before.items():
            assert set(got[case][column]) == set(measures), (case, column)
            for key, value in measures.items():
                rel = 1e-6 if key == "frechet_effnet" else 1e-9
                assert got[case][column][key] == pytest.approx(value, rel=rel, abs=1e-15), (case, column, key)
    assert got["short"]["frame_counts"] == {"output": 4, "reference": 6, "input": 6} and got["short"]["frames"] == 4
    assert got["max_frames"]["frame_counts"] == {"output": 3, "reference": 3, "input": 3}
    assert got["masked"]["transparent"] == 0.25 and got["masked_single"]["transparent"] == pytest.approx(13 / 56)
    with pytest.raises(ValueError, match="threshold must be >= 0"):                # as pixel_accuracy said
        evaluate(out, gt, threshold=-1, features=False)


def test_memory_does_not_grow_with_the_clip(tmp_path):
    """evaluate() stacked every frame of each clip and scored whole stacks with float copies (peak RSS 1.51 GB for
    1,500 frames of 160x90, ~20x the frames; traced peak 6.5 MB for 20 frames of 64x80 here, 64.8 MB for 200): it
    now reads a video and a folder frame by frame and keeps running sums, so 10x the frames must not cost much
    more than 20 frames do (1.72 vs 2.06 MB measured; what grows is the folder's listing and the timestamps)."""
    import tracemalloc

    from vidcolor.io import VideoWriter

    def peak(n):
        d = tmp_path / str(n)
        (d / "gt").mkdir(parents=True)
        base = mosaic(1, 64, 80 + 2 * n, seed=2)[0]
        with VideoWriter(d / "out.mp4", 80, 64, 25, crf=0) as w:
            for i in range(n):
                frame = np.ascontiguousarray(base[:, 2 * i:2 * i + 80])
                write_image(d / "gt" / f"{i}.png", frame)
                w.write(frame[None])
        tracemalloc.start()
        try:
            r = evaluate(d / "out.mp4", d / "gt", features=False)
            return r["frames"], tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    (n20, short), (n200, long) = peak(20), peak(200)
    assert (n20, n200) == (20, 200)
    assert long < 1.5 * short, f"traced peak {short / 1e6:.2f} MB for 20 frames, {long / 1e6:.2f} MB for 200"


@pytest.mark.parametrize("options, error, said", [
    ({"max_frames": 2.5}, VidcolorError, "max_frames must be an integer >= 1 or None, got float 2.5"),
    ({"max_frames": True}, VidcolorError, "max_frames must be an integer >= 1 or None, got bool True"),
    ({"threshold": "5"}, ValueError, "threshold must be a number >= 0, got str '5'"),
    ({"features": "no"}, VidcolorError, "features must be True or False, got str 'no'"),
    ({"features": True, "device": "gpu"}, VidcolorError, "unknown device 'gpu' (auto, cpu, cuda or cuda:N"),
], ids=["max_frames_float", "max_frames_bool", "threshold_str", "features_str", "device"])
def test_options_of_another_type_are_refused_naming_them(gt, options, error, said):
    """max_frames=2.5 raised slice's 'indices must be integers', max_frames=True scored 1 frame, threshold='5' raised
    '>=' not supported between instances of 'str' and 'int', features='no' (true) loaded the feature model, and a
    device torch does not take raised torch's own error (before any clip was read)."""
    with pytest.raises(error, match="^" + re.escape(said)):
        evaluate(gt, gt, **{"features": False, **options})
