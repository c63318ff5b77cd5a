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
    """Most steps of a fade to and from black were cuts (made fades of DAVIS clips: 18 of the 48 steps of a 24+24
    one, all 16 of an 8+8 one), so the smoother restarted and the quantizer was estimated afresh at each: now only
    the step to or from the black frame, which has no contrast to follow, is one."""
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


def test_a_palette_that_changes_without_a_cut_is_estimated_again_at_once():
    """A settled palette was re-estimated only every 64 frames, so a palette switched mid-shot (a game's, a GIF's)
    was projected onto the old one until then (Atari clips with R, G, B rotated from frame 100: followed at frame
    128). Now a frame of which a quarter more pixels leave the palette than at its estimate is estimated at once."""
    from vidcolor.quantizer.tracker import QuantizerTracker

    rng = np.random.default_rng(3)
    palette = rng.integers(0, 256, (8, 3)).astype(np.uint8)
    frames = [np.repeat(np.repeat(palette[rng.integers(0, 8, (12, 16))], 8, 0), 8, 1) for _ in range(8)]
    frames[4:] = [f[..., [2, 0, 1]] for f in frames[4:]]        # the palette switches at frame 4, no cut
    tracker = QuantizerTracker(every=64)
    found = [tracker(f[None]) for f in frames]
    assert found[0].kind == "palette" and found[3] is found[0]
    assert found[4] is not found[0]
    new = {tuple(c) for c in np.rint(found[4].palette).astype(int)}
    assert {tuple(c) for c in palette[:, [2, 0, 1]].astype(int)} <= new
    assert found[7] is found[4]                                  # and then it holds


def test_a_coded_palette_clip_is_estimated_once():
    """After H.264 the pixels of a 16-colour picture's edges leave the palette's radius, so all its pixels are far
    less covered than the flat ones the estimate's confidence counts: compared with that confidence, PALETTE_LEFT
    fired on the estimate's own frame, and a coded palette clip was estimated on every frame (davis_cows at crf 18:
    36 of 40), its palette changing from frame to frame. The coverage is now compared with the estimate frame's."""
    from vidcolor.quantizer.tracker import QuantizerTracker
    from vidcolor.training.degrade import h264_roundtrip, quantize_palette

    y, x = np.mgrid[0:96, 0:160].astype(np.float32)
    picture = np.stack([128 + 100 * np.sin(x / 20 + y / 36), 128 + 90 * np.cos(y / 16), 128 + 80 * np.sin((x - y) / 28)],
                       -1).clip(0, 255).astype(np.uint8)
    frames = [h264_roundtrip(quantize_palette(np.roll(picture, 2 * i, 1), 16), 18) for i in range(6)]
    tracker = QuantizerTracker(every=64)
    found = [tracker(f[None]) for f in frames]
    assert found[0].kind == "palette", found[0].describe()
    assert all(f is found[0] for f in found), [f.describe() for f in found]


def _first_frame(path) -> np.ndarray:
    """The first frame of a clip, uint8 RGB, area-scaled to 320x180."""
    import av

    from vidcolor.io.convert import frame_to_rgb

    with av.open(str(path)) as box:
        rgb = frame_to_rgb(next(box.decode(video=0)))
    return cv2.resize(rgb, (320, 180), interpolation=cv2.INTER_AREA)


def test_hard_cuts_between_darkened_clips_are_found(shared_data):
    """Cuts between DAVIS frames with their sRGB values scaled to 0.2 and 0.1 (night scenes) scored under SCENE_CUT:
    these four were missed with the dim gain to 40 L of at most 4 (of the 272 first-frame pairs, 4 and 7 were; 1 and 3
    now). The same dim scene moved by 2 pixels is still no cut."""
    F = {k: _first_frame(shared_data / "video" / f"davis_{k}.mp4")
         for k in ("paragliding-launch", "parkour", "car-roundabout", "dog", "horsejump-high")}
    for scale, a, b in [(0.2, "paragliding-launch", "parkour"), (0.1, "paragliding-launch", "parkour"),
                        (0.1, "car-roundabout", "dog"), (0.1, "horsejump-high", "parkour")]:
        La, Lb = (_L(F[k].astype(np.float32) * scale) for k in (a, b))
        det = CutDetector()
        det(La)
        assert det(Lb), (scale, a, b, det.last_score)
        det.reset()
        det(La)
        assert not det(np.roll(La, 2, axis=1)), (scale, a)
