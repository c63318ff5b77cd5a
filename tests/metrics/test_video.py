"""vidcolor.metrics.video: warp error (Lai et al. 2018), CDC (Liu et al. 2021) and CAMBI on small clips."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from vidcolor.metrics.video import cambi, cdc, optical_flow, pair_flows, warp_error

H, W = 64, 96
LN2 = float(np.log(2.0))


def textured_rgb(seed: int = 0, shape=(120, 160)) -> np.ndarray:
    """Smooth random colour texture, uint8 (h, w, 3) spanning about 30..225."""
    noise = np.random.default_rng(seed).normal(size=(*shape, 3)).astype(np.float32)
    t = cv2.GaussianBlur(noise, (0, 0), 3.0)
    t = (t - t.min()) / (t.max() - t.min())
    return (30 + 195 * t).astype(np.uint8)


def translating(n: int = 5, step=(2, 1)) -> np.ndarray:
    """Integer pan over a textured image: uint8 (n, H, W, 3)."""
    img = textured_rgb()
    return np.stack([img[5 + i * step[1]:5 + i * step[1] + H, 5 + i * step[0]:5 + i * step[0] + W]
                     for i in range(n)])


def flickered(clip: np.ndarray, sd: float = 12.0, seed: int = 1) -> np.ndarray:
    """Random per-frame colour shift (per channel) plus a little per-pixel noise."""
    rng = np.random.default_rng(seed)
    out = clip + rng.normal(0, sd, (len(clip), 1, 1, 3)) + rng.normal(0, 3, clip.shape)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def test_static_clip_scores_zero():
    clip = np.stack([textured_rgb()[:H, :W]] * 4)
    assert warp_error(clip) == pytest.approx(0.0, abs=1e-9)
    assert cdc(clip) == 0.0
    assert isinstance(warp_error(clip), float) and isinstance(cdc(clip), float)


def test_warp_error_sees_flicker_not_motion():
    clip = translating()
    still = warp_error(clip)
    assert still < 2e-4                                  # bilinear resampling only (~0.01 of a level^2)
    noisy = flickered(clip)
    e = warp_error(noisy, flow_source=clip)
    assert e > 1000 * still
    # the flow of the clean pan is (-2, -1) exactly: E_warp is the MSE of the integer-aligned frames
    f = noisy.astype(np.float64) / 255.0
    expected = np.mean([np.mean((f[t, 1:, 2:] - f[t + 1, :-1, :-2]) ** 2) for t in range(len(f) - 1)])
    assert e == pytest.approx(expected, rel=0.02)


def test_warp_error_uses_the_flow_of_flow_source():
    # flow from a static clip is zero and nothing is occluded: E_warp is the plain frame-to-frame MSE
    still = np.stack([textured_rgb()[:H, :W]] * 4)
    frames = flickered(still)
    f = frames.astype(np.float64) / 255.0
    expected = np.mean([np.mean((f[t] - f[t + 1]) ** 2) for t in range(3)])
    assert warp_error(frames, flow_source=still) == pytest.approx(expected, rel=1e-3)
    # scoring a moving clip with a static flow source counts the motion as error
    clip = translating()
    assert warp_error(clip, flow_source=np.stack([clip[0]] * len(clip))) > 20 * warp_error(clip)


def test_optical_flow_finds_the_shift():
    clip = translating(2, step=(3, 2))
    flow = optical_flow(clip[1], clip[0])                # frame 1 -> frame 0: content sits 3, 2 px back
    inner = flow[10:-10, 10:-10]
    np.testing.assert_allclose(np.median(inner.reshape(-1, 2), axis=0), [3.0, 2.0], atol=0.1)


def test_small_and_thin_frames():
    # OpenCV's DIS crashes on frames under ~16-32 px high; the flow helper pads them
    img = textured_rgb()
    for h, w in [(8, 12), (12, 140)]:
        clip = np.stack([img[5 + i:5 + i + h, 5 + 2 * i:5 + 2 * i + w] for i in range(3)])
        still = warp_error(clip)
        assert 0.0 <= still < 1e-3
        assert warp_error(flickered(clip), flow_source=clip) > 2 * still
        assert warp_error(np.stack([clip[0]] * 2)) == pytest.approx(0.0, abs=1e-9)


def test_cdc_disjoint_histograms_is_ln2():
    clip = np.stack([np.zeros((H, W, 3), np.uint8), np.full((H, W, 3), 255, np.uint8)])
    assert cdc(clip) == pytest.approx(LN2)
    assert cdc(clip, bins=2) == pytest.approx(LN2)
    assert cdc(np.stack([clip[0], clip[0] + 100]), bins=2) == 0.0   # 0 and 100 share the bin [0, 128)


def test_cdc_two_frames_by_hand():
    a = np.zeros((H, W, 3), np.uint8)
    a[:, : W // 2] = 255                                 # p = (1/2 at 0, 1/2 at 255); q = (1 at 0)
    b = np.zeros((H, W, 3), np.uint8)
    m = np.array([0.75, 0.25])
    kl_p = 0.5 * np.log(0.5 / m[0]) + 0.5 * np.log(0.5 / m[1])
    kl_q = np.log(1.0 / m[0])
    assert cdc(np.stack([a, b])) == pytest.approx(0.5 * (kl_p + kl_q))


def test_cdc_matches_scipy_and_skips_long_gaps():
    clip = np.random.default_rng(2).integers(0, 256, (3, 16, 24, 3), dtype=np.uint8)
    clip[1] //= 2                                        # make the frames differ in distribution
    hist = [[np.bincount(f[..., c].ravel(), minlength=256) for c in range(3)] for f in clip]

    def js(i, j):
        return np.mean([jensenshannon(hist[i][c], hist[j][c]) ** 2 for c in range(3)])

    gap1 = (js(0, 1) + js(1, 2)) / 2
    gap2 = js(0, 2)
    assert cdc(clip, gaps=(1,)) == pytest.approx(gap1)
    assert cdc(clip) == pytest.approx((gap1 + gap2) / 2)   # gap 4 >= T is skipped
    assert 0 < cdc(clip) < LN2


def test_bad_inputs_raise():
    clip = translating(3)
    for bad in [clip[:1], clip.astype(np.float32), clip[..., :2], clip[0]]:
        with pytest.raises(ValueError):
            warp_error(bad)
        with pytest.raises(ValueError):
            cdc(bad)
    with pytest.raises(ValueError):
        warp_error(clip, flow_source=clip[:2])
    with pytest.raises(ValueError):
        warp_error(clip, flow_source=clip.astype(np.int16))
    with pytest.raises(ValueError):
        cdc(clip, gaps=(4, 8))
    with pytest.raises(ValueError):
        cdc(clip, gaps=(0, 1))
    with pytest.raises(ValueError):
        cdc(clip, bins=0)
    with pytest.raises(ValueError):
        optical_flow(clip[0], clip[1, :-1])


def test_warp_error_with_precomputed_flows_equals_flow_source():
    from vidcolor.metrics.video import pair_flows

    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    source = np.stack([np.roll(base, 2 * t, axis=1) for t in range(4)])
    noisy = np.clip(source.astype(int) + rng.integers(-20, 21, source.shape), 0, 255).astype(np.uint8)
    flows = pair_flows(source)
    assert warp_error(noisy, flows=flows) == warp_error(noisy, flow_source=source)
    with pytest.raises(ValueError):
        warp_error(noisy[:3], flows=flows)


def ramp(h: int = 120, w: int = 240, noise: float = 0.0, step: int = 1) -> np.ndarray:
    """A slow grey ramp 40..80 across the width (about 6 px per level at w = 240): uint8 (2, h, w, 3),
    rounded to multiples of ``step`` levels, with Gaussian noise of ``noise`` levels added first."""
    x = np.broadcast_to(np.linspace(40, 80, w)[None, :, None], (h, w, 3))
    x = x + np.random.default_rng(4).normal(0, noise, (2, h, w, 3)) if noise else np.stack([x, x])
    return np.clip(np.round(x / step) * step, 0, 255).astype(np.uint8)


def test_cambi_sees_bands_not_dithered_gradients(tmp_path):
    from vidcolor.io import VideoWriter

    banded, dithered = ramp(), ramp(noise=1.5)       # the same gradient: 1-level steps vs noise-dithered
    b, d = cambi(banded), cambi(dithered)
    assert b > 5.0 and d < 0.1 * b                    # clean 8-bit steps are banding to CAMBI; the noise hides them
    assert cambi(np.full((120, 240, 3), 60, np.uint8)) == 0.0
    # 4-level steps are edges at the default contrast (1 level at 8 bits), bands at max_log_contrast 5
    coarse = cambi(ramp(step=4), max_log_contrast=(2, 5))
    assert isinstance(coarse, tuple) and coarse[0] < 0.5 < 5.0 < coarse[1]
    # a file is scored on its own luma: a lossless encode of the frames scores as the frames
    path = tmp_path / "ramp.mp4"
    with VideoWriter(path, 240, 120, 24, crf=0, overwrite=True) as w:
        w.write(banded)
    assert cambi(path) == pytest.approx(b, rel=0.05)
    # both sides under 216 px: enlarged (nearest) before scoring, instead of libvmaf refusing it
    assert cambi(ramp(100, 150)) > 5.0 > 0.5 > cambi(ramp(100, 150, noise=1.5))
    for bad in [banded.astype(np.float32), banded[..., :2], banded[:0]]:
        with pytest.raises(ValueError):
            cambi(bad)
    with pytest.raises(ValueError):
        cambi(banded, max_log_contrast=6)


def test_cambi_scores_a_files_video_not_its_cover_art(tmp_path):
    """The graph took ``[0:v]``, the first video stream: an MP4 whose cover art FFmpeg lists first was scored on the
    cover (a flat grey picture: 0.0) instead of its banded video."""
    from PIL import Image

    from helpers import cover_art_first
    from vidcolor.io import VideoWriter, find_ffmpeg

    banded = ramp()
    with VideoWriter(tmp_path / "ramp.mp4", 240, 120, 24, crf=0) as w:
        w.write(banded)
    Image.new("RGB", (240, 120), (60, 60, 60)).save(tmp_path / "cover.png")
    covered = cover_art_first(find_ffmpeg(), tmp_path / "ramp.mp4", tmp_path / "cover.png", tmp_path / "covered.mp4")
    alone = cambi(tmp_path / "ramp.mp4")
    assert alone > 5.0 and cambi(covered) == alone


def test_cambi_gives_its_swscale_flags_to_the_filter_graph(monkeypatch):
    """``-sws_flags`` before ``-lavfi`` never reached the complex graph (its scalers ran with ffmpeg's defaults;
    the luma, all CAMBI reads, came out the same): the flags now open the graph (``sws_flags=...;``), where
    ffmpeg does apply them (a 2:1 downscale, shown by ``neighbor`` against the default)."""
    import subprocess

    from vidcolor.io.convert import SWS_FLAGS
    from vidcolor.metrics import video

    calls = []
    real = subprocess.run
    monkeypatch.setattr(video.subprocess, "run", lambda cmd, **kw: calls.append(cmd) or real(cmd, **kw))
    cambi(ramp())
    cmd = calls[-1]
    graph = cmd[cmd.index("-lavfi") + 1]
    assert graph.startswith(f"sws_flags={SWS_FLAGS};") and "-sws_flags" not in cmd
    exe, frames = cmd[0], ramp(16, 24, noise=20)

    def halve(*pre: str, graph: str = "") -> bytes:
        return real([exe, "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "24x16",
                     "-i", "-", *pre, "-lavfi", f"{graph}[0:v]scale=12:8,format=rgb24", "-f", "rawvideo", "-"],
                    input=frames.tobytes(), capture_output=True, check=True).stdout

    assert halve(graph="sws_flags=neighbor;") != halve() == halve("-sws_flags", "neighbor")


def test_temporal_measures_take_a_mask():
    """Pixels outside the mask (transparent) may change freely: warp error and CDC no longer see them."""
    base = np.random.default_rng(6).integers(0, 256, (1, 40, 60, 3), dtype=np.uint8)
    clip = np.repeat(base, 4, 0)
    mask = np.ones(clip.shape[:3], bool)
    mask[:, :, 40:] = False
    noisy = clip.copy()
    noisy[:, :, 40:] = np.array([0, 80, 160, 240], np.uint8)[:, None, None, None]   # a flat colour a frame
    assert warp_error(noisy) > 0.01 and cdc(noisy) > 0.01
    assert warp_error(noisy, flow_source=clip, mask=mask) == pytest.approx(0, abs=1e-6)
    assert cdc(noisy, mask=mask) == pytest.approx(0, abs=1e-9)
    assert cdc(noisy, mask=np.ones_like(mask)) == pytest.approx(cdc(noisy))
    empty = mask.copy()
    empty[1:] = False                                              # no opaque pixel after frame 0: no pair left
    assert np.isnan(cdc(noisy, mask=empty))
    with pytest.raises(ValueError):
        warp_error(noisy, mask=mask[:2])


def test_running_measures_equal_the_stack_functions():
    """Warp error and CDC fed one frame at a time (what `vidcolor eval` does, to hold no clip) give the stack
    functions' values, masks (a frame with none visible among them) included; the errors of a bad feed."""
    from helpers import mosaic
    from vidcolor.metrics.video import RunningCDC, RunningWarpError, flow_pair

    base = mosaic(1, 32, 60, seed=4)[0]
    clip = np.stack([base[:, 2 * i:2 * i + 48] for i in range(6)])
    noisy = np.clip(clip.astype(int) + np.random.default_rng(1).integers(-8, 9, clip.shape), 0, 255).astype(np.uint8)
    mask = np.ones(clip.shape[:3], bool)
    mask[1, 4:20, 8:30] = False
    mask[3] = False
    flows = pair_flows(clip)
    for m in (None, mask):
        warp_run, cdc_run = RunningWarpError(), RunningCDC()
        for t, frame in enumerate(noisy):
            flow = flow_pair(clip[t - 1], clip[t]) if t else None
            if t:
                np.testing.assert_array_equal(flow[0], flows[t - 1][0])
            warp_run.add(frame, flow, None if m is None else m[t])
            cdc_run.add(frame, None if m is None else m[t])
        assert warp_run.pairs == 5 and cdc_run.frames == 6
        assert warp_run.value() == pytest.approx(warp_error(noisy, flows=flows, mask=m), rel=1e-12)
        assert cdc_run.value() == pytest.approx(cdc(noisy, mask=m), rel=1e-12)
    one = RunningWarpError()
    one.add(clip[0])
    with pytest.raises(ValueError, match="two frames"):
        one.value()
    with pytest.raises(ValueError, match="flow"):
        one.add(clip[1])
    with pytest.raises(ValueError, match="differs"):
        one.add(clip[1][:16], flows[0])
    assert math.isnan(RunningCDC().value())
    with pytest.raises(ValueError, match="bins"):
        RunningCDC(bins=0)


def test_cambi_scores_a_10_bit_file_at_10_bits(tmp_path):
    """A 10-bit file was converted to 8-bit YUV before libvmaf (the graph's format list held 8-bit formats only):
    CAMBI then scored the 8-bit rounding of its luma, not its own samples. A lossless 10-bit gradient (40..80 in
    8-bit levels over 240 px) scored 11.14 where libvmaf on the file's own 10-bit samples gives 8.10; now the same."""
    import json
    import subprocess

    from vidcolor.metrics.video import _vmaf_ffmpeg

    h, w = 120, 240
    x = np.broadcast_to(np.linspace(40 / 255, 80 / 255, w)[None, :, None], (2, h, w, 3))
    path, log = tmp_path / "ramp10.mkv", tmp_path / "log.json"
    run = [_vmaf_ffmpeg(), "-hide_banner", "-loglevel", "error"]
    subprocess.run([*run, "-f", "rawvideo", "-pix_fmt", "rgb48le", "-s", f"{w}x{h}", "-i", "-", "-c:v", "ffv1",
                    "-pix_fmt", "yuv444p10le", str(path)],
                   input=(x * 65535).round().astype("<u2").tobytes(), check=True, capture_output=True)
    # libvmaf takes yuv444p10le as it is: no format filter, the file's own samples
    subprocess.run([*run, "-i", str(path), "-lavfi", f"[0:v]split[a][b];[a][b]libvmaf=model=:feature=name=cambi:"
                    f"log_fmt=json:log_path={log}", "-f", "null", "-"], check=True, capture_output=True)
    own = json.loads(log.read_text())["pooled_metrics"]["cambi"]["mean"]
    assert own > 1.0 and cambi(path) == pytest.approx(own, abs=1e-6)


def test_warp_error_with_nothing_matched_is_nan_not_zero():
    """A clip none of whose pairs had a valid pixel (every match failing the forward-backward check or leaving the
    frame: 5x5 crops of DAVIS dog whose frames differ by 25 levels) scored 0.0, the best possible value; it is NaN
    now. A pair with no valid pixel among others still counts as 0 (Lai et al.'s reference code)."""
    clip = flickered(translating(3))
    none = (np.zeros((H, W, 2), np.float32), np.zeros((H, W), bool))
    assert math.isnan(warp_error(clip, flows=[none, none]))
    real = pair_flows(translating(3))
    assert warp_error(clip, flows=[real[0], none]) == pytest.approx(warp_error(clip[:2], flows=real[:1]) / 2)
    assert warp_error(clip[:2], flows=real[:1]) > 0


def test_empty_and_gray_frames_are_refused_by_name():
    """A clip with an empty side was OpenCV's error text in the warp error and a CDC of 0.0 ("perfectly
    consistent", of no pixel); a gray stack (T, H, W) given to optical_flow was OpenCV's 'Bad number of channels'."""
    from vidcolor.metrics.video import RunningCDC, RunningWarpError

    empty = np.zeros((3, 0, 4, 3), np.uint8)
    for measure in (warp_error, cdc):
        with pytest.raises(ValueError, match=r"^frames: expected uint8 RGB \(N, H, W, 3\), no side empty, "
                                             r"got uint8 \(3, 0, 4, 3\)$"):
            measure(empty)
    for running in (RunningWarpError(), RunningCDC()):
        with pytest.raises(ValueError, match=r"^frame: expected uint8 RGB \(H, W, 3\), no side empty"):
            running.add(empty[0])
    gray = translating(3)[..., 0]
    with pytest.raises(ValueError, match=r"^a: expected a uint8 frame, RGB \(H, W, 3\) or grey \(H, W\), no side "
                                         r"empty, got uint8 \(3, 64, 96\)$"):
        optical_flow(gray, gray)
    with pytest.raises(ValueError, match=r"^b: .* got list$"):
        optical_flow(gray[0], list(gray[1]))
    with pytest.raises(ValueError, match=r"^frames: expected uint8 RGB \(N, H, W, 3\), no side empty, got list$"):
        cdc(list(translating(3)))


def test_cambi_scores_the_video_vidcolor_reads_not_a_still_track_before_it(tmp_path):
    """The graph took ``[0:V]``, the first video stream that is not cover art, where the reader takes the stream
    ffmpeg itself picks (the default one): a Matroska whose flat still track (the muxer drops its cover flag) comes
    before the default banded video was scored on the still (0.0). The stream read is mapped by its index now."""
    from PIL import Image

    from helpers import run_ffmpeg
    from vidcolor.io import VideoWriter, find_ffmpeg

    with VideoWriter(tmp_path / "ramp.mp4", 240, 120, 24, crf=0) as w:
        w.write(ramp())
    Image.new("RGB", (240, 120), (60, 60, 60)).save(tmp_path / "still.png")
    both = tmp_path / "still_first.mkv"
    run_ffmpeg(find_ffmpeg(), "-i", str(tmp_path / "still.png"), "-i", str(tmp_path / "ramp.mp4"), "-map", "0",
               "-map", "1:v", "-c:v:0", "mjpeg", "-c:v:1", "copy", "-disposition:v:0", "attached_pic",
               "-disposition:v:1", "default", str(both))
    alone = cambi(tmp_path / "ramp.mp4")
    assert alone > 5.0 and cambi(both) == alone
