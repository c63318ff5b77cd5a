"""Image and video quality measures (evaluation only; the runtime path never imports this).

All functions take uint8 RGB arrays ``(..., H, W, 3)`` of equal shape (a frame or a stack of frames).
"""
from __future__ import annotations

import numpy as np
from skimage.color import deltaE_ciede2000

from vidcolor.color import rgb_to_lab


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError("expected uint8 RGB arrays")


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error over all pixels and channels, in squared 8-bit levels (0..65025)."""
    _check(a, b)
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(255^2 / MSE)`` over the whole array; inf when equal.

    For a video pass the whole stack: this is the PSNR of the pooled MSE (not the mean of per-frame PSNRs).
    """
    m = mse(a, b)
    return float("inf") if m == 0 else float(10.0 * np.log10(255.0 ** 2 / m))


def ciede2000(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference (Sharma et al. 2005) between two sRGB images, in Delta-E units.

    About 1 is a just-noticeable difference; 0 means identical colours.
    """
    _check(a, b)
    return float(np.mean(deltaE_ciede2000(rgb_to_lab(a), rgb_to_lab(b))))


def channel_bias(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Mean signed error ``out - ref`` per RGB channel, float64 ``(3,)`` in 8-bit levels."""
    _check(out, ref)
    return (out.astype(np.float64) - ref.astype(np.float64)).reshape(-1, 3).mean(0)
