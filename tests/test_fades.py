"""Fades, dissolves and dim cuts as the scene-cut test and the quantizer tracker meet them."""
import cv2
import numpy as np

from vidcolor.color import rgb_to_lab
from vidcolor.temporal import CutDetector, TemporalSmoother


def _rgb_scene(seed: int, shape=(72, 128)) -> np.ndarray:
    """A smooth random colour texture, float32 RGB (H, W, 3) in [20, 235]."""
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.uniform(0, 1, (*shape, 3)).astype(np.float32), (0, 0), 4)
    t = (t - t.min((0, 1))) / (t.max((0, 1)) - t.min((0, 1)))
    return 20 + 215 * t


def _L(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(np.clip(rgb + 0.5, 0, 255).astype(np.uint8))[..., 0]


def _fade(scene: np.ndarray, n: int, out: bool) -> list[np.ndarray]:
    """L of ``n`` frames of ``scene`` fading to black (``out``) or from it, as ffmpeg's fade scales the values."""
    gains = np.linspace(1, 0, n) if out else np.linspace(0, 1, n)
    return [_L(scene * g) for g in gains]


def test_a_fade_through_black_is_not_a_series_of_cuts_but_a_hard_cut_still_is():
    """Every step of a fade to and from black was a cut (made fades of DAVIS clips: 18 of 24 frames, 16 of 16), so
    the smoother restarted and the quantizer was estimated afresh at each: now only the step to or from the black
    frame, which has no contrast to follow, is one."""
    a, b = _rgb_scene(1), _rgb_scene(2)
    frames = _fade(a, 12, out=True) + _fade(b, 12, out=False)[1:]
    det = CutDetector()
    cuts = [i for i, L in enumerate(frames) if det(L)]
    assert set(cuts) <= {11, 12} and cuts, cuts
    det.reset()                                 # a hard cut half way through the fade: still a cut
    assert not det(_L(a * 0.5)) and det(_L(b * 0.4))
    assert not det.last_fade
    sm = TemporalSmoother("flow", 0.6)
    ab = np.zeros((*a.shape[:2], 2), np.float32)
    sm(frames[2], ab)
    sm(frames[3], ab + 10)
    assert not sm.last_cut
