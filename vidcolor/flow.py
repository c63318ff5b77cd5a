"""Dense optical flow between two frames, backward warping along it, and its occlusion mask.

Shared by the temporal smoother (:mod:`vidcolor.temporal`) and the temporal measures
(:mod:`vidcolor.metrics.video`); neither depends on the other.

* Flow: DIS (Kroeger et al. 2016, "Fast Optical Flow using Dense Inverse Search", ECCV), OpenCV's
  ``cv2.DISOpticalFlow`` (the caller picks the preset), made safe for frames OpenCV cannot take.
* Warp: bilinear backward warping with ``cv2.remap`` (borders replicated).
* Occlusion: the forward-backward consistency test of Sundaram et al. 2010 ("Dense point
  trajectories by GPU-accelerated large displacement optical flow", ECCV), as used by Ruder et al.
  2016 and Lai et al. 2018.

Conventions: a flow is float32 ``(H, W, 2)`` in pixels, ``(dx, dy)``, from a reference frame to
another frame: pixel x of the reference frame is seen at ``x + flow(x)`` in the other frame.
"""
from __future__ import annotations

import cv2
import numpy as np

from vidcolor.arrays import described

__all__ = ["DIS_MIN_SIZE", "consistency_mask", "dis_flow", "sampling_map", "warp"]

DIS_MIN_SIZE = 32
"""Pixels: the smallest height and width handed to DIS; smaller frames are padded (see :func:`dis_flow`)."""


def dis_flow(dis, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense optical flow from ``a`` to ``b`` with an OpenCV DIS instance, safe for small frames.

    OpenCV 5.0's DIS segfaults on images under 32 (ULTRAFAST) or 16 (MEDIUM) pixels high and raises on
    ones under 12 wide: frames are padded (border replicated) to at least :data:`DIS_MIN_SIZE` pixels a
    side, the flow cropped back.

    Args:
        dis: a ``cv2.DISOpticalFlow`` (any preset). Keep one instance per frame size: one instance
            alternating between two sizes cost about 15 ms a call at 320x180 here (1 ms otherwise).
        a, b: uint8 ``(H, W)`` grey frames of one shape (not checked here).

    Returns:
        float32 ``(H, W, 2)``, pixels: pixel x of ``a`` is seen at ``x + flow(x)`` in ``b``.

    Raises:
        cv2.error: (OpenCV's assertion) ``a`` and ``b`` differ in shape or are not uint8.
        ValueError: ``a`` is not 2-D (its shape does not unpack to ``(H, W)``).
    """
    h, w = a.shape
    ph, pw = max(0, DIS_MIN_SIZE - h), max(0, DIS_MIN_SIZE - w)
    if ph or pw:
        a = cv2.copyMakeBorder(a, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
        b = cv2.copyMakeBorder(b, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(dis.calc(a, b, None)[:h, :w])
    return dis.calc(a, b, None)


def warp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: sample ``img`` at ``x + flow(x)`` for every pixel x (bilinear, borders replicated).

    Args:
        img: ``(H, W)`` or ``(H, W, C)`` array (C <= 4), float32 or uint8 (uint16, int16 and float64 are warped
            too), the frame being warped.
        flow: float32 ``(H, W, 2)`` in pixels, from the reference frame to ``img``.

    Returns:
        Array of ``img``'s shape and dtype, aligned to the reference frame. Pixels whose source lies
        outside ``img`` get the nearest border value: mask them with :func:`consistency_mask`.

    Raises:
        ValueError: if the spatial shapes differ, ``flow`` is not float32 or ``img`` of another dtype (were
            OpenCV's assertion texts).
    """
    _check_flow(flow, "flow")
    if img.shape[:2] != flow.shape[:2]:
        raise ValueError(f"flow {flow.shape} does not match image {img.shape}")
    if img.dtype not in _REMAP_DTYPES:
        raise ValueError(f"img must be uint8, uint16, int16, float32 or float64, got {img.dtype}")
    return cv2.remap(img, sampling_map(flow), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistency_mask(flow: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
    """Pixels where ``flow`` is trustworthy: in frame and forward-backward consistent.

    The occlusion criterion of Sundaram et al. 2010 (ECCV), as used for the warp error of Lai et al.
    2018 ("Learning Blind Video Temporal Consistency", ECCV): with ``w = flow(x)`` and
    ``w' = flow_back(x + w)`` (bilinear), x is occluded when ``|w + w'|^2 > 0.01 (|w|^2 + |w'|^2) + 0.5``
    (squared pixels). Pixels whose target ``x + w`` leaves the frame are also rejected.

    Args:
        flow: float32 ``(H, W, 2)``, reference frame -> other frame, pixels.
        flow_back: float32 ``(H, W, 2)``, other frame -> reference frame, pixels.

    Returns:
        bool ``(H, W)``: True where the flow can be used.

    Raises:
        ValueError: if the shapes differ or are not ``(H, W, 2)`` float32 with no side empty (another dtype or an
            empty side was OpenCV's assertion text).
    """
    _check_flow(flow, "flow")
    _check_flow(flow_back, "flow_back")
    if flow.shape != flow_back.shape:
        raise ValueError(f"flows must both be (H, W, 2), got {flow.shape} and {flow_back.shape}")
    h, w = flow.shape[:2]
    target = sampling_map(flow)
    back = cv2.remap(flow_back, target, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    tol = 0.01 * (_sq_norm(flow) + _sq_norm(back)) + 0.5
    back += flow
    tx, ty = target[..., 0], target[..., 1]
    return (_sq_norm(back) <= tol) & (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)


def sampling_map(flow: np.ndarray) -> np.ndarray:
    """Absolute sampling coordinates ``x + flow(x)`` for ``cv2.remap``.

    Args:
        flow: float32 ``(H, W, 2)`` in pixels, ``(dx, dy)``.

    Returns:
        float32 ``(H, W, 2)``, a new array: ``(column + dx, row + dy)`` of every pixel, in pixels. For a
        zero flow it is the pixel-coordinate grid. Not checked (callers check the flow: :func:`warp`,
        :func:`consistency_mask`): another dtype gives that dtype's sum.
    """
    h, w = flow.shape[:2]
    grid = np.empty((h, w, 2), np.float32)
    grid[..., 0] = np.arange(w, dtype=np.float32)
    grid[..., 1] = np.arange(h, dtype=np.float32)[:, None]
    return grid + flow


_REMAP_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64))
"""The dtypes ``cv2.remap`` warps (:func:`warp`)."""


def _check_flow(flow, name: str) -> None:
    """Raise ValueError, naming ``name``, unless ``flow`` is a float32 ``(H, W, 2)`` array with no side empty."""
    if not (isinstance(flow, np.ndarray) and flow.dtype == np.float32 and flow.ndim == 3 and flow.shape[2] == 2
            and flow.size):
        raise ValueError(f"{name} must be float32 (H, W, 2), no side empty, got {described(flow)}")


def _sq_norm(v: np.ndarray) -> np.ndarray:
    """Squared length of 2-vectors ``(H, W, 2)`` -> ``(H, W)``."""
    x, y = cv2.split(v)
    return x * x + y * y
