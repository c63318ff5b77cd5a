"""What the training logs measure on a batch: the definitions of :mod:`vidcolor.metrics.image` (PSNR,
Hasler & Suesstrunk colourfulness) applied to torch batches, so that a run's log and ``vidcolor eval``
measure the same thing. Batches are rounded to 8-bit, as every output is before it is seen.
"""
from __future__ import annotations

import numpy as np
import torch

from vidcolor.metrics.image import colourfulness, psnr

PSNR_CAP = 100.0
"""dB: an image equal to its ground truth (PSNR infinite) counts as this much in a batch mean, so that
one identity sample does not make the mean infinite."""


def from_uint8(rgb: torch.Tensor) -> torch.Tensor:
    """A loader's uint8 RGB batch ``(N, H, W, 3)`` -> sRGB ``(N, 3, H, W)`` float32 in [0, 1]."""
    return rgb.permute(0, 3, 1, 2).float() / 255.0


def to_uint8(rgb01: torch.Tensor) -> np.ndarray:
    """sRGB ``(N, 3, H, W)`` float in [0, 1] (values outside are clipped) -> uint8 ``(N, H, W, 3)``, rounded
    to nearest like :func:`vidcolor.color.lab_to_rgb`."""
    return (rgb01.detach().clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def _uint8_pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Both batches as uint8 ``(N, H, W, 3)`` (:func:`to_uint8`); ValueError when their shapes differ."""
    a, b = to_uint8(pred), to_uint8(target)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {tuple(pred.shape)} vs {tuple(target.shape)}")
    return a, b


def psnr_batch(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over the images of a batch of their PSNR (:func:`vidcolor.metrics.image.psnr`, dB, each
    capped at :data:`PSNR_CAP`).

    Args:
        pred, target: sRGB ``(N, 3, H, W)`` float in [0, 1] (``pred`` is clipped), rounded to 8-bit.

    Raises:
        ValueError: the shapes differ.
    """
    a, b = _uint8_pair(pred, target)
    return float(np.mean([min(psnr(x, y), PSNR_CAP) for x, y in zip(a, b)]))


def psnr_pooled(pred: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR (dB, capped at :data:`PSNR_CAP`) of a whole batch: one mean squared error over every pixel of
    every image, as ``benchmarks/dequantize_quality.py`` pools a clip. Unlike :func:`psnr_batch`, images
    equal to their ground truth (identity samples) do not dominate it: in a per-image mean each such image
    counts :data:`PSNR_CAP`, and a change of one level on it costs tens of dB.

    Args:
        pred, target: sRGB ``(N, 3, H, W)`` float in [0, 1] (``pred`` is clipped), rounded to 8-bit.

    Raises:
        ValueError: the shapes differ.
    """
    a, b = _uint8_pair(pred, target)
    return min(psnr(a, b), PSNR_CAP)


def colourfulness_ratio(output: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean colourfulness (:func:`vidcolor.metrics.image.colourfulness`, Hasler & Suesstrunk 2003 M^(3))
    of a batch of outputs over that of their ground truth: the logged guard against the sepia average.

    Args:
        output, truth: sRGB ``(N, 3, H, W)`` float in [0, 1], rounded to 8-bit (any batch sizes).

    Returns:
        The ratio; 0 for gray outputs, and the ground truth's colourfulness is floored at 1e-6.
    """
    return colourfulness(to_uint8(output)) / max(colourfulness(to_uint8(truth)), 1e-6)
