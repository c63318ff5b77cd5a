"""Temporal consistency measures of a video (no ground truth needed): warp error and CDC.

All functions take uint8 RGB clips ``(T, H, W, 3)`` with T >= 2. Lower is more consistent for both.

* :func:`warp_error`: Lai et al. 2018, flicker along the motion (occlusion-masked).
* :func:`cdc`: Liu et al. 2021, drift of the colour histograms over 1, 2 and 4 frames.

Both are blind to *what* the colours are: a grey video scores perfectly. Read them next to a fidelity
measure (``vidcolor.metrics.image``), and against the same clip's ground truth as the floor.
"""
from __future__ import annotations

import cv2
import numpy as np

from vidcolor.temporal import consistency_mask, dis_flow, warp

__all__ = ["cdc", "optical_flow", "pair_flows", "warp_error"]


def optical_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense optical flow from frame ``a`` to frame ``b``: DIS, OpenCV's MEDIUM preset.

    DIS (Kroeger et al. 2016, "Fast Optical Flow using Dense Inverse Search", ECCV) at the MEDIUM preset
    (finest scale 1, patch stride 3, variational refinement) instead of the ULTRAFAST one used for
    smoothing: a measure must be accurate rather than fast, and the flow errors of a cheaper preset
    would be counted as temporal inconsistency. Frames are converted to grey (ITU-R BT.601 luma).

    Args:
        a, b: uint8 ``(H, W, 3)`` RGB or ``(H, W)`` grey frames of one shape.

    Returns:
        float32 ``(H, W, 2)``, pixels: pixel x of ``a`` is seen at ``x + flow(x)`` in ``b``.

    Raises:
        ValueError: if the frames differ in shape or are not uint8.
    """
    if a.shape != b.shape or a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"expected two uint8 frames of one shape, got {a.dtype} {a.shape}, "
                         f"{b.dtype} {b.shape}")
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis_flow(dis, _gray(a), _gray(b))


def pair_flows(clip: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each pair (t, t+1) of ``clip`` (uint8 RGB ``(T, H, W, 3)``): the flow t -> t+1
    (:func:`optical_flow`) and its validity mask (forward-backward consistent and in frame,
    :func:`vidcolor.temporal.consistency_mask`). Compute once, score several videos with
    :func:`warp_error` ``(flows=...)``."""
    _check_clip(clip)
    out = []
    for t in range(len(clip) - 1):
        fwd = optical_flow(clip[t], clip[t + 1])
        out.append((fwd, consistency_mask(fwd, optical_flow(clip[t + 1], clip[t]))))
    return out


def warp_error(frames: np.ndarray, flow_source: np.ndarray | None = None,
               flows: list[tuple[np.ndarray, np.ndarray]] | None = None) -> float:
    """Warp error E_warp (Lai et al. 2018, "Learning Blind Video Temporal Consistency", ECCV, the
    equations for E_warp(V_t, V_t+1) and E_warp(V) of their evaluation).

    For each pair (t, t+1): frame t+1 is warped back to frame t along the flow t -> t+1 (bilinear), and
    ``E_t = sum_x M_t(x) ||V_t(x) - warp(V_{t+1})(x)||^2 / (3 sum_x M_t(x))`` on RGB in [0, 1], i.e. the
    mean squared error over the non-occluded pixels and the three channels. ``M_t`` is 1 where the flow
    passes the forward-backward check (Sundaram et al. 2010, the test Lai et al. use) and stays
    in frame (:func:`vidcolor.temporal.consistency_mask`). The result is the mean of E_t over the T - 1
    pairs; a pair with no valid pixel counts as 0, as in Lai et al.'s reference code.

    Flow (:func:`optical_flow`, DIS MEDIUM) and mask are computed on ``flow_source``: pass the original
    clip to score a processed one with the original's motion (Lai et al. compute the flow on the input
    video); the original's own warp error is then the floor (flow and interpolation error, noise).

    Args:
        frames: uint8 RGB ``(T, H, W, 3)``, T >= 2, the video to score.
        flow_source: uint8 RGB of the same shape, or None for ``frames`` itself.
        flows: :func:`pair_flows` of the flow source, when already computed (then ``flow_source`` is
            not used).

    Returns:
        The warp error, a float in [0, 1] (squared [0, 1] RGB units; multiply by 255^2 for 8-bit levels).

    Raises:
        ValueError: if ``frames`` is not uint8 ``(T, H, W, 3)`` with T >= 2, or ``flow_source`` (or
            ``flows``) does not match it.
    """
    _check_clip(frames)
    if flows is None:
        if flow_source is None:
            flow_source = frames
        elif flow_source.shape != frames.shape or flow_source.dtype != np.uint8:
            raise ValueError(f"flow_source {flow_source.dtype} {flow_source.shape} does not match frames "
                             f"{frames.dtype} {frames.shape}")
        flows = pair_flows(flow_source)
    if len(flows) != len(frames) - 1 or flows[0][0].shape[:2] != frames.shape[1:3]:
        raise ValueError(f"{len(flows)} flows do not match {len(frames)} frames of {frames.shape[1:3]}")
    errors = []
    for t, (fwd, mask) in enumerate(flows):
        n = int(mask.sum())
        if n == 0:
            errors.append(0.0)
            continue
        cur = frames[t].astype(np.float32) / 255.0
        nxt = warp(frames[t + 1].astype(np.float32) / 255.0, fwd)
        errors.append(float(np.sum(((cur - nxt) ** 2)[mask], dtype=np.float64) / (3 * n)))
    return float(np.mean(errors))


def cdc(frames: np.ndarray, gaps=(1, 2, 4), bins: int = 256) -> float:
    """Colour distribution consistency (Liu et al. 2021, "Temporally consistent video colorization with
    deep feature propagation and self-regularization learning", arXiv:2110.04562 / CVMJ 2024, the CDC
    equation of their evaluation).

    ``CDC = mean_{d in gaps} mean_i mean_{c in R,G,B} JS(P_c(I_i), P_c(I_{i+d}))``, with ``P_c`` the
    normalised histogram of channel c (``bins`` equal bins over 0..255) and JS the Jensen-Shannon
    divergence ``JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2``, ``m = (p + q) / 2``, in natural log (as
    the authors' code, scipy.stats.entropy): each JS, hence CDC, lies in [0, ln 2]. Gaps >= T are
    skipped.

    Args:
        frames: uint8 RGB ``(T, H, W, 3)``, T >= 2.
        gaps: positive frame distances d (the paper uses 1, 2, 4).
        bins: histogram bins per channel, 1..256.

    Returns:
        CDC, a float in [0, ln 2] (0.693); 0 when every compared pair has equal histograms.

    Raises:
        ValueError: for a bad clip, a gap < 1, bins outside 1..256, or no gap < T.
    """
    _check_clip(frames)
    if not 1 <= bins <= 256:
        raise ValueError(f"bins must be in 1..256, got {bins}")
    if any(int(d) != d or d < 1 for d in gaps):
        raise ValueError(f"gaps must be positive integers, got {gaps}")
    used = [int(d) for d in gaps if d < len(frames)]
    if not used:
        raise ValueError(f"no gap in {gaps} is shorter than the clip ({len(frames)} frames)")
    hist = np.stack([_histograms(f, bins) for f in frames])  # (T, 3, bins), each row sums to 1
    return float(np.mean([np.mean(_js(hist[:-d], hist[d:])) for d in used]))


def _histograms(frame: np.ndarray, bins: int) -> np.ndarray:
    """Normalised per-channel histograms of a uint8 ``(H, W, 3)`` frame: float64 ``(3, bins)``.

    Bin k holds the values v with ``floor(v * bins / 256) == k`` (equal bins over 0..255).
    """
    idx = (frame.reshape(-1, 3).astype(np.int32) * bins) >> 8
    idx += np.arange(3, dtype=np.int32) * bins
    counts = np.bincount(idx.ravel(), minlength=3 * bins).reshape(3, bins).astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


def _js(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (natural log) along the last axis of two stacks of distributions."""
    m = 0.5 * (p + q)
    return 0.5 * (_kl(p, m) + _kl(q, m))


def _kl(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    """KL(p || m) along the last axis, with 0 log 0 = 0 (m > 0 wherever p > 0 here)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / m), 0.0)
    return terms.sum(axis=-1)


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame


def _check_clip(frames: np.ndarray) -> None:
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) < 2:
        raise ValueError(f"expected uint8 RGB (T, H, W, 3) with T >= 2, got {frames.dtype} {frames.shape}")
