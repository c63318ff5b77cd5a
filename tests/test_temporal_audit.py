"""Temporal smoothing as a user's footage meets it: cuts, fades, dim scenes (audit of vidcolor.temporal)."""
import cv2
import numpy as np
import pytest

from vidcolor.temporal import SCENE_CUT, CutDetector, TemporalSmoother, scene_change


def _scene(seed, sigma, shape=(72, 128), lo=3.0, hi=13.0):
    """A smooth random texture (blurred by ``sigma`` px) with L in [lo, hi]: a dim (night) frame."""
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.uniform(0, 1, shape).astype(np.float32), (0, 0), sigma)
    t = (t - t.min()) / (t.max() - t.min())
    return (lo + (hi - lo) * t).astype(np.float32)


def test_a_hard_cut_between_two_dim_scenes_resets_the_smoother():
    """The cut score is in absolute L units: two night scenes (L under 15) scored under SCENE_CUT, so the first
    shot's colour was carried into the second. Dim frames are now brightened together before scoring (DIM_L)."""
    a, b = _scene(1, 3), _scene(2, 6)
    assert scene_change(a, b) > SCENE_CUT                 # 0.31 (0.18 before)
    moved = np.roll(a, 2, axis=1)                        # the same dim scene panning: still no cut
    assert scene_change(a, moved) < SCENE_CUT
    sm = TemporalSmoother("flow", 0.6)
    ab_a, ab_b = np.full((*a.shape, 2), 30.0, np.float32), np.full((*a.shape, 2), -30.0, np.float32)
    sm(a, ab_a)
    out = sm(b, ab_b)
    assert sm.last_cut and np.array_equal(out, ab_b)


@pytest.mark.parametrize("shape", [(4, 4, 3), (5,), (0, 5), (3, 0)])
def test_frames_that_are_not_2d_or_are_empty_raise_value_error(shape):
    """CutDetector's docstring promised ValueError for L not 2-D; it raised thumb_size's TypeError, and an empty
    frame raised cv2.error (CutDetector, scene_change) or ZeroDivisionError (TemporalSmoother)."""
    L = np.zeros(shape, np.float32)
    with pytest.raises(ValueError):
        CutDetector()(L)
    with pytest.raises(ValueError):
        scene_change(L, L)
    with pytest.raises(ValueError):
        TemporalSmoother("flow")(L, np.zeros((*shape, 2), np.float32))


def test_a_flow_call_peaks_at_under_30_bytes_a_pixel_of_new_memory():
    """Large frames: the flow blend and the luminance test made frame-sized temporaries (41 bytes a pixel of new
    memory at the peak of a call, beside the 20 the state keeps); now in place, bit for bit the same output."""
    import tracemalloc

    rng = np.random.default_rng(0)
    h, w = 240, 320
    L = [np.clip(np.cumsum(rng.normal(0, 1, (h, w)), 1) % 60 + 20, 0, 100).astype(np.float32) for _ in range(3)]
    ab = [rng.normal(0, 5, (h, w, 2)).astype(np.float32) for _ in range(3)]
    sm = TemporalSmoother("flow", 0.6)
    sm(L[0], ab[0])
    sm(L[1], ab[1])
    tracemalloc.start()
    try:
        out = sm(L[2], ab[2])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not sm.last_cut and not np.array_equal(out, ab[2])     # the flow blend ran
    assert peak < 30 * h * w
