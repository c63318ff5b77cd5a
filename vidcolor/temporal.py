"""Streaming temporal smoothing of the predicted colour channels (ab), aligned by optical flow.

Per-frame colorization flickers: the same object gets slightly different ab from frame to frame.
:class:`TemporalSmoother` blends each frame's predicted ab with the previous *output* ab, warped to the
current frame by optical flow, wherever the warp is trustworthy; luminance L is never touched. It is
causal and streaming: the state is one previous frame (its L and smoothed ab), so it works on a pipe.

Methods (design card in ``shared/METHODS.md``, "Temporal consistency"; flow, warp and occlusion test
from :mod:`vidcolor.flow`):

* Optical flow: DIS (Kroeger et al. 2016, "Fast Optical Flow using Dense Inverse Search", ECCV),
  OpenCV's ``ULTRAFAST`` preset on 8-bit L at reduced resolution.
* Occlusion: forward-backward consistency (Sundaram et al. 2010, "Dense point trajectories by
  GPU-accelerated large displacement optical flow", ECCV, their occlusion criterion; Ruder et al. 2016
  and Lai et al. 2018 use the same test and constants): x with flow w and reverse flow w'
  is occluded when ``|w(x) + w'(x + w(x))|^2 > 0.01 (|w|^2 + |w'|^2) + 0.5`` (pixels).
* Scene cut: a cheap score on 64-pixel-wide thumbnails of L, see :func:`scene_change`; a step of a fade, the same
  scene with its L scaled, is none (:class:`CutDetector`).

Array conventions: L float32 ``(H, W)`` in [0, 100]; ab float32 ``(H, W, 2)``, roughly [-128, 127];
flow float32 ``(H, W, 2)`` in pixels, ``(dx, dy)``, mapping a pixel x of the reference frame to
``x + flow(x)`` in the other frame.
"""
from __future__ import annotations

import numbers

import cv2
import numpy as np

from vidcolor.flow import consistency_mask, dis_flow, sampling_map, warp

__all__ = ["MODES", "CutDetector", "SCENE_CUT", "TemporalSmoother", "l_histogram", "scene_change"]

MODES = ("off", "ema", "flow")
"""Smoothing modes: none, plain exponential moving average, flow-aligned moving average."""

FLOW_MAX_HEIGHT = 360
"""The flow is never computed above this height (pixels), whatever ``flow_scale`` says."""

LUM_TOL = 8.0
"""L units: the warp is distrusted where warped previous L and current L differ by about this much
(confidence 1 below ``LUM_TOL / 2``, 0 above ``1.5 * LUM_TOL``, linear in between)."""

THUMB_WIDTH = 64
"""Pixels, width of the L thumbnails that :func:`scene_change` compares (:func:`thumb_size`)."""
THUMB_MAX = 1024
"""Pixels, the longest side of a thumbnail (:func:`thumb_size`): frames taller than 16 times their width are
scaled to this height instead of to :data:`THUMB_WIDTH` wide."""
DIM_L = 50.0
"""L units: where neither frame's 95th percentile of L (on its thumbnail) reaches this, :func:`scene_change` first
multiplies both thumbnails' L by one gain that brings the brighter to it (at most :data:`DIM_GAIN_MAX`). The score
is in absolute L units, so a hard cut between two night scenes scored under :data:`SCENE_CUT` and the smoother
carried the first shot's colour into the second: of the 272 ordered cuts between the 17 DAVIS clips (320x180) with
their sRGB values scaled by 0.2 and 0.1, 19 and 100 did (3 and 8 with a gain to 40 L of at most 4; within a clip at
most 0.09). Of the 506 ordered cuts between the DAVIS and film clips (320x180) darkened by ffmpeg ``curves`` to 0.2
and 0.1 of their values, 8 and 15 were still missed at 40 and 4, 4 and 3 at 50 and 8 (those with ``eq`` brightness
-0.35 or gamma 0.4, most frames above this, 65 and 83 at 40, 59 and 74 at 50). The dimmest DAVIS frames (libby, from
44.2) are brightened by at most 1.13: within-clip scores at most 0.2455 as before (motocross-jump), no cut missed."""
DIM_GAIN_MAX = 8.0
"""The largest gain of the dim-frame brightening (:data:`DIM_L`), so that the noise of near-black frames stays small
(4 until the steps of fades could be told from cuts, :class:`CutDetector`; at 8 they are told as well)."""
FADE_MATCH = 0.15
"""Threshold on the score of two frames once their L is brought to one mean and contrast (:class:`CutDetector`):
under it, a frame that :data:`SCENE_CUT` calls a cut is a step of a fade instead."""
FADE_GAIN_MAX = 8.0
"""The largest ratio of two frames' L contrasts (standard deviations) that a fade step may have."""
FADE_SCALE_TOL = 0.25
"""A fade scales L as a whole: the log ratios of the two frames' mean L and of their L contrasts differ by at most
this (at most 0.13 over the steps of fades to and from black of DAVIS clips; 0.46 to 1.1 for the cuts between dark
DAVIS frames that matched under :data:`FADE_MATCH`)."""
FADE_CORRELATION = 0.9
"""A fade keeps the scene: the correlation of the two frames' L, once aligned by flow, is at least this (0.957 or
more over the steps of made fades to and from black of DAVIS clips; at most 0.71 for cuts between darkened DAVIS
clips that scored a fade otherwise)."""
_CUT_BINS = 32
_CUT_RESIDUAL_UNIT = 50.0  # L units of median flow-compensated residual worth 1 score unit


def scene_change(L_prev: np.ndarray, L: np.ndarray) -> float:
    """Scene-change score between two consecutive frames' luminance; large at a hard cut.

    ``score = TV(h_prev, h) + median|L - warp(L_prev)| / 50`` on 64-pixel-wide area-averaged thumbnails:
    TV is the total-variation distance (half the L1 distance, in [0, 1]) of the 32-bin L histograms,
    and the second term is the median absolute L residual after aligning the previous thumbnail with
    DIS flow (ULTRAFAST), in L units over 50. Two dim frames (neither's 95th percentile of L reaching
    :data:`DIM_L`) are first brightened by one common gain (at most :data:`DIM_GAIN_MAX`). The histogram term alone misses cuts between scenes of
    similar tone, the residual term alone misses cuts between flat scenes (flow "explains" them) and
    fires on fast pans; the sum separated every cut from every within-clip pair on the 17 DAVIS clips
    (see :class:`TemporalSmoother` ``scene_cut`` and ``benchmarks/temporal_probe.py``).

    Args:
        L_prev, L: float32 ``(H, W)``, L in [0, 100], same shape.

    Returns:
        The score, a float >= 0 (about 0.25 separates cuts from motion).

    Raises:
        ValueError: if the shapes differ or are not 2-D, or the frames are empty.
    """
    if L_prev.shape != L.shape or L.ndim != 2 or not L.size:
        raise ValueError(f"expected two non-empty (H, W) L frames of one shape, got {L_prev.shape}, {L.shape}")
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    return _cut_score(_thumb(L_prev), _thumb(L), dis)


SCENE_CUT = 0.25
"""Threshold on :func:`scene_change` above which a frame starts a new scene: on the 17 DAVIS clips (640x360) the
score never exceeds 0.24 between consecutive frames of one clip (motocross-jump, a fast vertical pan) and is at
least 0.27 across any two different clips (also 0.258 or more over every ordered pair of the DAVIS, film and
animation clips of ../shared/data at 320x180, 552 pairs). It was set on all 17 clips, the held-back ones too; on
the 8 training clips alone (``split_clips``) the same gap holds it: within a clip at most 0.246 (motocross-jump), across
the 56 ordered cuts at least 0.292 (the 9 held-back clips: at most 0.123 within, at least 0.345 across)."""


class CutDetector:
    """Hard cuts in a stream of frames, one call per frame in display order: :func:`scene_change` between each
    frame and the one before, on thumbnails (the state is the previous thumbnail).

    Args:
        threshold: on :func:`scene_change` (> 0; default :data:`SCENE_CUT`).

    ``__call__(L float32 (H, W) in [0, 100]) -> bool``: whether the frame starts a new scene (False for the
    first frame after construction or :meth:`reset`, and True when the frame size changes); ``L`` not 2-D, or
    empty, raises ValueError.

    A step of a fade to or from black scores above the threshold too (its L histogram shifts) but is no cut: where
    the two frames' L, brought to one mean and contrast, score under :data:`FADE_MATCH`, their contrasts differ at
    most :data:`FADE_GAIN_MAX` times, mean and contrast scale alike (:data:`FADE_SCALE_TOL`) and the flow-aligned
    frames correlate (:data:`FADE_CORRELATION`), the frame continues the scene. Only the steps to and from a black
    frame, which has no contrast to match, remain cuts. (Made fades of DAVIS clips had been 18 cuts in the 48 steps of a
    24+24-frame fade out and in, from its first faded frame to the first frame after it, and all 16 of an 8+8 one; now 2
    each; cross-dissolves were and are none.)

    Attributes:
        last_score: the latest call's score (0 for a first frame).
        last_fade: whether the latest frame scored above the threshold but was taken as a step of a fade.

    Raises:
        ValueError: ``threshold`` <= 0.
    """

    def __init__(self, threshold: float = SCENE_CUT):
        if not threshold > 0.0:
            raise ValueError(f"threshold must be > 0, got {threshold}")
        self.threshold = float(threshold)
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.last_score, self.last_fade = 0.0, False
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame."""
        self._prev: np.ndarray | None = None

    def __call__(self, L: np.ndarray) -> bool:
        if np.ndim(L) != 2 or not np.size(L):
            raise ValueError(f"expected a non-empty (H, W) L frame, got shape {np.shape(L)}")
        thumb = _thumb(L)
        prev, self._prev = self._prev, thumb
        if prev is None:
            self.last_score, self.last_fade = 0.0, False
            return False
        if prev.shape != thumb.shape:
            self.last_score, self.last_fade = 0.0, False
            return True
        self.last_score = _cut_score(prev, thumb, self._dis)
        self.last_fade = self.last_score > self.threshold and _fade_score(prev, thumb, self._dis) < FADE_MATCH
        return self.last_score > self.threshold and not self.last_fade


def check_mode(mode: str, strength: float) -> None:
    """:class:`TemporalSmoother`'s check of ``mode`` (one of :data:`MODES`) and ``strength`` (a number in [0, 1)).

    Raises:
        ValueError: naming what is wrong (``unknown temporal mode 'median'; ...``, ``strength must be in [0, 1), got
            1.0``).
    """
    if mode not in MODES:
        raise ValueError(f"unknown temporal mode {mode!r}; expected one of {MODES}")
    if isinstance(strength, (bool, np.bool_)) or not isinstance(strength, numbers.Real):   # "0.5": a TypeError
        raise ValueError(f"strength must be a number in [0, 1), got {type(strength).__name__} {strength!r}")
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"strength must be in [0, 1), got {strength}")


class TemporalSmoother:
    """Causal temporal smoothing of predicted ab; one call per frame, in display order.

    Modes:
        ``off``: ab returned unchanged (a copy).
        ``ema``: ``out = (1 - s) ab + s prev_out``, no alignment (static shots only: smears motion).
        ``flow``: ``out = ab + s m (warp(prev_out) - ab)``, with ``warp`` along the backward DIS flow
        (current -> previous frame, computed on 8-bit L at reduced resolution and upscaled) and ``m`` in
        [0, 1] the per-pixel confidence: 0 where the flow fails the forward-backward occlusion test of
        Sundaram et al. 2010 (:func:`vidcolor.flow.consistency_mask`) or points out of frame, and ramping from 1
        to 0 as the warped previous L differs from the current L by ``LUM_TOL / 2`` to ``1.5 * LUM_TOL`` L
        units (:data:`LUM_TOL`; 4 to 12).

    Both ``ema`` and ``flow`` reset (return ab unchanged and restart from it) at a scene cut,
    ``scene_change(prev L, L) > scene_cut`` unless the frame is a step of a fade (:class:`CutDetector`), and when
    the frame size changes. This is a recursive
    (first-order IIR) filter: with ``m = 1`` frame-to-frame flicker of variance v in ab becomes
    ``v (1 - s) / (1 + s)`` in the output's temporal variance (a quarter at ``s = 0.6``).

    Args:
        mode: one of :data:`MODES`.
        strength: s in [0, 1): weight of the (warped) previous output. 0 disables smoothing.
        scene_cut: threshold on :func:`scene_change` (:class:`CutDetector`; default :data:`SCENE_CUT`).
        flow_scale: factor in (0, 1] applied to the frame size before computing the flow, further
            capped so the flow works at most :data:`FLOW_MAX_HEIGHT` pixels high. Default 0.5 (320x180
            at 640x360): DIS already works coarse-to-fine, so this costs little accuracy for ab.

    Raises:
        ValueError: for an unknown mode, strength outside [0, 1), scene_cut <= 0, flow_scale outside
            (0, 1], and (on call) L not ``(H, W)`` or ab not ``(H, W, 2)``, or an empty frame.

    State: the previous frame's L ``(H, W)`` and output ab ``(H, W, 2)`` (float32 copies), its L at
    flow resolution (uint8) and as a thumbnail (:class:`CutDetector`), and a cached pixel-coordinate grid ``(H, W, 2)``;
    nothing else is kept between frames (about 21 bytes a pixel). A ``flow`` call's temporaries peak at about 28 bytes
    a pixel more (the new output and state included; the old state is let go first).
    """

    def __init__(self, mode: str = "flow", strength: float = 0.6, scene_cut: float = SCENE_CUT,
                 flow_scale: float = 0.5):
        check_mode(mode, strength)
        if not 0.0 < flow_scale <= 1.0:
            raise ValueError(f"flow_scale must be in (0, 1], got {flow_scale}")
        if not scene_cut > 0.0:                 # named as here (CutDetector calls it threshold)
            raise ValueError(f"scene_cut must be > 0, got {scene_cut}")
        self.mode, self.strength = mode, float(strength)
        self.cuts = CutDetector(scene_cut)
        """The scene-cut test (its own DIS instance: one resized between thumbnail and flow size re-allocates,
        see dis_flow)."""
        self.scene_cut, self.flow_scale = self.cuts.threshold, float(flow_scale)
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.last_cut: bool = False
        """Whether the latest call reset the state (scene cut, first frame or size change)."""
        self._grid: np.ndarray | None = None  # pixel coordinates (H, W, 2), cached per frame size
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame: the next call returns its ab unchanged (start of a new shot)."""
        self._prev_L: np.ndarray | None = None      # (H, W) float32, L of the previous frame
        self._prev_ab: np.ndarray | None = None     # (H, W, 2) float32, its smoothed ab
        self._prev_small: np.ndarray | None = None  # uint8 L at flow resolution (flow mode)
        self.cuts.reset()

    def __call__(self, L: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """Smooth one frame's ab.

        Args:
            L: float32 ``(H, W)``, luminance of the output frame in [0, 100] (read only).
            ab: float ``(H, W, 2)``, this frame's predicted colour channels (LAB units).

        Returns:
            float32 ``(H, W, 2)``, a new array: the smoothed ab.

        Raises:
            ValueError: if the shapes do not match or the frame is empty.
        """
        if L.ndim != 2 or ab.shape != (*L.shape, 2) or not L.size:
            raise ValueError(f"expected non-empty L (H, W) and ab (H, W, 2), got {L.shape} and {ab.shape}")
        ab = np.array(ab, dtype=np.float32)  # always a copy: the caller's array is never aliased
        if self.mode == "off":
            return ab
        L = np.asarray(L, dtype=np.float32)
        small = _to8(cv2.resize(L, self._flow_size(L.shape), interpolation=cv2.INTER_AREA)) \
            if self.mode == "flow" else None
        fresh = self._prev_L is None or self._prev_L.shape != L.shape
        self.last_cut = self.cuts(L) or fresh
        s = self.strength
        if self.last_cut or s == 0.0:
            out = ab
        elif self.mode == "ema":
            out = (1.0 - s) * ab + s * self._prev_ab
        else:
            out, m = self._align(L, small)   # ab + s m (warped ab - ab), in place: no frame-sized temporaries
            m *= s
            out -= ab
            out *= m[..., None]
            out += ab
            del m
        self._prev_L = self._prev_ab = None                  # the old state goes before the new is copied
        self._prev_L, self._prev_ab = L.copy(), out.copy()  # the caller may reuse or edit its arrays
        self._prev_small = small
        return out

    def _flow_size(self, shape: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the flow computation for frames of ``shape`` (H, W)."""
        h, w = shape
        f = min(self.flow_scale, FLOW_MAX_HEIGHT / h)
        return max(1, round(w * f)), max(1, round(h * f))

    def _align(self, L: np.ndarray, small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Warp the previous output ab to this frame; return it and the confidence m ``(H, W)`` in [0, 1]."""
        h, w = L.shape
        fh, fw = small.shape
        back = dis_flow(self._dis, small, self._prev_small)   # current -> previous
        fwd = dis_flow(self._dis, self._prev_small, small)    # previous -> current
        m = consistency_mask(back, fwd).astype(np.float32)
        del fwd
        if (fh, fw) != (h, w):
            back *= np.array([w / fw, h / fh], np.float32)
            back = cv2.resize(back, (w, h), interpolation=cv2.INTER_LINEAR)
            m = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
        if self._grid is None or self._grid.shape[:2] != (h, w):
            self._grid = sampling_map(np.zeros((h, w, 2), np.float32))
        back += self._grid  # absolute sampling positions in the previous frame
        # m *= clip(1.5 - |warp(prev L) - L| / LUM_TOL, 0, 1), in place, before the ab is warped (peak memory)
        d = cv2.remap(self._prev_L, back, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        d -= L
        np.abs(d, out=d)
        d *= 1.0 / LUM_TOL
        np.subtract(1.5, d, out=d)
        np.clip(d, 0.0, 1.0, out=d)
        m *= d
        del d
        warped_ab = cv2.remap(self._prev_ab, back, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return warped_ab, m


def _to8(L: np.ndarray) -> np.ndarray:
    """L in [0, 100] -> uint8 in [0, 255] (``L * 2.55``, rounded)."""
    return np.clip(L * 2.55 + 0.5, 0, 255).astype(np.uint8)


def thumb_size(h: int, w: int) -> tuple[int, int]:
    """``(width, height)`` of the thumbnail of an ``h`` x ``w`` frame: :data:`THUMB_WIDTH` wide, the aspect ratio
    kept, but at most :data:`THUMB_MAX` high (then narrower), and at least 8 pixels each way. Always 64 wide, a
    4000x1 frame's was 64x256000, past OpenCV's 32767 in the cut test's warp (a raw ``cv2.error`` from
    ``remap``, API audit, stop 63)."""
    tw, th = THUMB_WIDTH, h * THUMB_WIDTH / w
    if th > THUMB_MAX:
        tw, th = w * THUMB_MAX / h, THUMB_MAX
    return max(8, round(tw)), max(8, round(th))


def _thumb(L: np.ndarray) -> np.ndarray:
    """Area-averaged L thumbnail (:func:`thumb_size`)."""
    return cv2.resize(np.asarray(L, np.float32), thumb_size(*L.shape), interpolation=cv2.INTER_AREA)


def l_histogram(L: np.ndarray) -> np.ndarray:
    """The 32-bin histogram of L ``(H, W)`` (any shape) in [0, 100]: float64 ``(32,)`` summing to 1 over the
    values inside [0, 100] (values outside are not counted; all zeros when none is inside)."""
    h = np.histogram(L, bins=_CUT_BINS, range=(0.0, 100.0))[0].astype(np.float64)
    return h / max(h.sum(), 1.0)


def _cut_score(prev: np.ndarray, cur: np.ndarray, dis) -> float:
    """:func:`scene_change` on two thumbnails from :func:`_thumb`; two dim ones are first brightened (:data:`DIM_L`)."""
    return _tv_residual(*_brightened(prev, cur), dis)


def _brightened(prev: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two thumbnails, both brightened by one gain where they are dim (:data:`DIM_L`), else as they are."""
    top = max(float(np.percentile(prev, 95)), float(np.percentile(cur, 95)))
    if top < DIM_L:
        gain = min(DIM_L / max(top, 1e-6), DIM_GAIN_MAX)
        prev, cur = np.minimum(prev * gain, 100.0), np.minimum(cur * gain, 100.0)  # (the histogram's range)
    return prev, cur


def _fade_score(prev: np.ndarray, cur: np.ndarray, dis) -> float:
    """:func:`scene_change`'s score of two thumbnails once the one of lower contrast is brought to the other's mean
    and standard deviation of L (after the dim gain, :func:`_brightened`); inf where the contrasts differ more than
    :data:`FADE_GAIN_MAX` times (a flat, black frame has none to match)."""
    prev, cur = _brightened(prev, cur)
    sp, sc = float(prev.std()), float(cur.std())
    low, high = (cur, prev) if sc <= sp else (prev, cur)
    s_low, s_high = min(sp, sc), max(sp, sc)
    if not s_low * FADE_GAIN_MAX >= s_high > 0.0 or abs(np.log(max(float(cur.mean()), 1e-3) / max(float(
            prev.mean()), 1e-3)) - np.log(sc / sp)) > FADE_SCALE_TOL:  # a fade scales mean and contrast alike
        return float("inf")
    matched = np.clip((low - low.mean()) * (s_high / s_low) + high.mean(), 0.0, 100.0).astype(np.float32)
    prev, cur = (prev, matched) if low is cur else (matched, cur)
    aligned = warp(prev, dis_flow(dis, _to8(cur), _to8(prev)))
    if float(np.corrcoef(aligned.ravel(), cur.ravel())[0, 1]) < FADE_CORRELATION:   # not one scene's structure
        return float("inf")
    return _tv_residual(prev, cur, dis, aligned)


def _tv_residual(prev: np.ndarray, cur: np.ndarray, dis, aligned: np.ndarray | None = None) -> float:
    """The histogram and residual terms of :func:`scene_change` on two thumbnails, as they are; ``aligned``: ``prev``
    warped onto ``cur`` by DIS flow where the caller has it already (else computed here)."""
    tv = 0.5 * np.abs(l_histogram(prev) - l_histogram(cur)).sum()
    if aligned is None:
        aligned = warp(prev, dis_flow(dis, _to8(cur), _to8(prev)))  # flow current -> previous
    residual = float(np.median(np.abs(aligned - cur)))
    return float(tv + residual / _CUT_RESIDUAL_UNIT)
