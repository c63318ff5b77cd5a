"""vidcolor.temporal: streaming ab smoothing (off / ema / flow) and scene cuts (flow helpers: test_flow.py)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidcolor.temporal import MODES, CutDetector, TemporalSmoother, scene_change

H, W = 64, 96


def texture(seed: int, shape=(160, 200), lo: float = 25.0, hi: float = 75.0) -> np.ndarray:
    """Smooth random texture, float32, values spread over [lo, hi] (an L image)."""
    noise = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    t = cv2.GaussianBlur(noise, (0, 0), 2.5)
    t = (t - t.min()) / (t.max() - t.min())
    return lo + (hi - lo) * t


def true_ab(L: np.ndarray) -> np.ndarray:
    """Colour that follows the texture (so misalignment shows as error), float32 (..., H, W, 2)."""
    return np.stack([1.5 * (L - 50.0) + 5.0, -1.1 * (L - 50.0) + 10.0], axis=-1).astype(np.float32)


def translating(n: int, step=(2, 1), seed: int = 0):
    """A textured scene panned by ``step`` (dx, dy) pixels a frame: L (n, H, W), true ab (n, H, W, 2)."""
    canvas = texture(seed)
    L = np.stack([canvas[10 + i * step[1]:10 + i * step[1] + H, 10 + i * step[0]:10 + i * step[0] + W]
                  for i in range(n)])
    return L, true_ab(L)


def flicker(ab: np.ndarray, seed: int = 1, global_sd: float = 6.0, pixel_sd: float = 4.0) -> np.ndarray:
    """Per-frame colour flicker: a random offset per frame and channel plus per-pixel noise."""
    rng = np.random.default_rng(seed)
    out = ab + rng.normal(0, global_sd, (len(ab), 1, 1, 2)) + rng.normal(0, pixel_sd, ab.shape)
    return out.astype(np.float32)


def run(sm: TemporalSmoother, L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    return np.stack([sm(L[i], ab[i]) for i in range(len(L))])


def rmse(a: np.ndarray, b: np.ndarray, start: int = 5, border: int = 6) -> float:
    """RMSE over frames ``start:`` away from the frame border (where new content enters)."""
    d = (a - b)[start:, border:-border, border:-border]
    return float(np.sqrt(np.mean(d ** 2)))


def test_off_returns_input_as_a_new_float32_array():
    L, ab = translating(3)
    sm = TemporalSmoother("off")
    for i in range(3):
        out = sm(L[i], ab[i].astype(np.float64))
        assert out.dtype == np.float32 and out.shape == (H, W, 2)
        np.testing.assert_array_equal(out, ab[i])
    assert out is not ab[2]


@pytest.mark.parametrize("s", [0.3, 0.6])
def test_ema_reduces_static_flicker_by_the_iir_factor(s):
    # iid flicker of variance v through y_t = (1 - s) x_t + s y_{t-1}: temporal variance v (1 - s) / (1 + s)
    # and frame-to-frame difference variance 2 v (1 - s)^2 / (1 + s) (vs 2 v for the input)
    n, burn = 300, 30
    L = np.repeat(texture(0, (32, 48))[None], n, axis=0)
    ab = flicker(np.repeat(true_ab(L[:1]), n, axis=0), global_sd=0.0, pixel_sd=5.0)
    out = run(TemporalSmoother("ema", strength=s), L, ab)[burn:]
    ratio = out.var(axis=0).mean() / ab[burn:].var(axis=0).mean()
    assert ratio == pytest.approx((1 - s) / (1 + s), rel=0.1)
    diff_ratio = np.diff(out, axis=0).var() / np.diff(ab[burn:], axis=0).var()
    assert diff_ratio == pytest.approx((1 - s) ** 2 / (1 + s), rel=0.1)
    np.testing.assert_allclose(out.mean(axis=0), ab.mean(axis=0), atol=1.0)  # no bias


@pytest.mark.parametrize("flow_scale", [1.0, 0.5])
def test_flow_reduces_flicker_and_follows_motion(flow_scale):
    L, gt = translating(16, step=(2, 1))
    ab = flicker(gt)
    off = rmse(run(TemporalSmoother("off"), L, ab), gt)
    ema = rmse(run(TemporalSmoother("ema"), L, ab), gt)
    flow_sm = TemporalSmoother("flow", flow_scale=flow_scale)
    flow = rmse(run(flow_sm, L, ab), gt)
    assert not flow_sm.last_cut
    assert flow < 0.55 * off, (flow, off)  # flicker reduced (about halved at s = 0.6)
    assert flow < 0.75 * ema, (flow, ema)  # and not smeared across the moving texture as ema is


def test_flow_on_a_static_scene_matches_ema():
    L = np.repeat(texture(3, (H, W))[None], 12, axis=0)
    ab = flicker(true_ab(L))
    ema = run(TemporalSmoother("ema"), L, ab)
    flow = run(TemporalSmoother("flow"), L, ab)
    np.testing.assert_allclose(flow, ema, atol=0.05)  # zero flow, full confidence


def test_flow_distrusts_pixels_whose_luminance_changed():
    L, gt = translating(2, step=(0, 0))
    L = L.copy()
    L[1, 20:40, 30:60] += 40.0               # something new appears: warped previous L no longer matches
    ab = gt.copy()
    ab[0] += 30.0                            # previous output very different everywhere
    sm = TemporalSmoother("flow", strength=0.9)
    sm(L[0], ab[0])
    out = sm(L[1], ab[1])
    np.testing.assert_allclose(out[22:38, 32:58], ab[1, 22:38, 32:58], atol=1e-4)  # changed: untouched
    assert np.all(out[45:, :20] > ab[1, 45:, :20] + 20)                          # unchanged: smoothed


@pytest.mark.parametrize("mode", ["ema", "flow"])
def test_scene_cut_resets(mode):
    La, _ = translating(8, seed=0)
    Lb = np.stack([texture(7, (H, W), lo=45.0, hi=95.0)] * 8)   # another, brighter scene
    L = np.concatenate([La, Lb])
    ab = flicker(true_ab(L))
    sm = TemporalSmoother(mode)
    cuts, outs = [], []
    for i in range(len(L)):
        outs.append(sm(L[i], ab[i]))
        cuts.append(sm.last_cut)
    assert cuts == [True] + [False] * 7 + [True] + [False] * 7
    np.testing.assert_array_equal(outs[8], ab[8])      # first frame after the cut: unchanged
    assert not np.array_equal(outs[9], ab[9])          # smoothing resumes right after


def test_size_change_and_reset_restart_the_state():
    L, ab = translating(3)
    sm = TemporalSmoother("ema")
    sm(L[0], ab[0])
    assert not np.array_equal(sm(L[1], ab[1] + 10), ab[1] + 10)
    sm.reset()
    np.testing.assert_array_equal(sm(L[2], ab[2]), ab[2])
    small_L, small_ab = L[0, :32, :48], ab[0, :32, :48] + 5
    np.testing.assert_array_equal(sm(small_L, small_ab), small_ab)
    assert sm.last_cut


@pytest.mark.parametrize("mode", MODES)
def test_inputs_are_never_modified(mode):
    L, gt = translating(4)
    ab = flicker(gt)
    L0, ab0 = L.copy(), ab.copy()
    sm = TemporalSmoother(mode)
    outs = [sm(L[i], ab[i]) for i in range(4)]
    np.testing.assert_array_equal(L, L0)
    np.testing.assert_array_equal(ab, ab0)
    assert all(o.dtype == np.float32 and o.shape == (H, W, 2) for o in outs)
    assert not any(np.shares_memory(o, ab) for o in outs)


def test_state_is_bounded_to_one_previous_frame():
    L, gt = translating(30)
    ab = flicker(gt)
    sm = TemporalSmoother("flow")

    def state_bytes() -> int:
        return sum(v.nbytes for v in vars(sm).values() if isinstance(v, np.ndarray))

    sizes = []
    for i in range(30):
        sm(L[i], ab[i])
        sizes.append(state_bytes())
    assert sizes[5] == sizes[-1]
    # previous L (4 B/px) + ab (8 B/px) + coordinate grid (8 B/px) + small 8-bit images
    assert sizes[-1] <= 21 * H * W + 64 * 64 * 4


@pytest.mark.parametrize("shape", [(1, 1), (8, 12), (20, 200), (200, 20), (40, 64)])
def test_flow_handles_small_and_thin_frames(shape):
    # OpenCV's DIS crashes (segfault) on images under ~32 px high: dis_flow pads them
    rng = np.random.default_rng(0)
    sm = TemporalSmoother("flow", flow_scale=0.5)
    for _ in range(3):
        L, ab = rng.uniform(40, 60, shape), rng.normal(0, 5, (*shape, 2))
        out = sm(L.astype(np.float32), ab.astype(np.float32))
        assert out.shape == (*shape, 2) and np.isfinite(out).all()


@pytest.mark.parametrize("shape", [(4000, 1), (520, 1), (1200, 2), (70000, 3), (1, 4000), (2, 70000)])
def test_cut_detection_takes_frames_of_any_aspect_ratio(shape):
    """The cut test's thumbnails are bounded both ways (thumb_size): a 4000x1 frame's was 64x256000, and the warp
    on it raised OpenCV's "dst.cols < SHRT_MAX" (API audit, stop 63)."""
    from vidcolor.temporal import THUMB_MAX, thumb_size

    w, h = thumb_size(*shape)
    assert 8 <= w <= THUMB_MAX and 8 <= h <= THUMB_MAX
    assert thumb_size(h, w) == (w, h)                     # a thumbnail's thumbnail is itself
    rng = np.random.default_rng(1)
    cut = CutDetector()
    L = [rng.uniform(20, 80, shape).astype(np.float32) for _ in range(3)]
    assert [cut(x) for x in L][0] is False
    assert np.isfinite(scene_change(L[0], L[1]))


def test_a_bad_threshold_is_named_as_the_parameter_it_was_given_as():
    """CutDetector(0) said "scene_cut must be > 0", the name of TemporalSmoother's parameter, not its own."""
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="^threshold must be > 0"):
            CutDetector(bad)
        with pytest.raises(ValueError, match="^scene_cut must be > 0"):
            TemporalSmoother(scene_cut=bad)


def test_bad_arguments_raise():
    for kwargs in [{"mode": "median"}, {"strength": 1.0}, {"strength": -0.1}, {"scene_cut": 0.0},
                   {"flow_scale": 0.0}, {"flow_scale": 1.5}]:
        with pytest.raises(ValueError):
            TemporalSmoother(**kwargs)
    sm = TemporalSmoother()
    L = np.zeros((H, W), np.float32)
    with pytest.raises(ValueError):
        sm(L, np.zeros((H, W, 3), np.float32))
    with pytest.raises(ValueError):
        sm(L, np.zeros((H, W + 1, 2), np.float32))
    with pytest.raises(ValueError):
        sm(L[None], np.zeros((1, H, W, 2), np.float32))


def test_scene_change_score():
    a = texture(5, (H, W))
    L, _ = translating(2)
    assert scene_change(a, a) == pytest.approx(0.0, abs=1e-6)
    assert scene_change(L[0], L[1]) < 0.1
    assert scene_change(a, texture(6, (H, W), lo=45.0, hi=95.0)) > 0.5
    with pytest.raises(ValueError):
        scene_change(a, a[:-1])
