"""The consistency stage as a training target: the generator is trained on what the pipeline makes of its output.

At inference the generator's correction of frames of uniform levels is not the output: the consistency stage
(:meth:`vidcolor.quantizer.reconstruction.Quantizer.reconstruct`) adds the bins' centre offsets and the band filter's
correction, pulls the result towards the contour estimate and clips it to the quantization cells. A generator
trained on its own output alone learns what those steps already do (the band filter's smoothing, the centre
offset) and is then scaled down to make room for them (strength 0.75). Trained through the stage, it is
scored on the pipeline's output and learns what the steps miss; where the clip to the cell binds, its error
has no gradient: the projection onto the quantization constraint set (consistent reconstruction, Yang,
Galatsanos & Katsaggelos 1995, cited in :mod:`vidcolor.quantizer`) becomes part of the trained model's output.

With ``y`` the generator's output (RGB levels 0..255), ``q`` the observed frame, ``base = q + centre_offset +
band_correction`` (:func:`consistency_terms`, at strength 1: the floor offset's share ``1 - strength`` is 0),
``w`` and ``e`` the contour estimate's weight and value, and ``[lo, hi]`` the cell:
``out = clip(clip(base + (y - q) + w * (e - (base + (y - q))), lo, hi), 0, 255)`` (:func:`through_stage`), the inference
pipeline's arithmetic before rounding, less its colour-difference smoothing
(:meth:`~vidcolor.quantizer.reconstruction.Quantizer.chroma_smoothing`), which inference runs where the output keeps its
chroma (stills, lossless 4:4:4 video) and these terms leave out.

Measured (stop 52, ablation ``train/ablation/dequantize-fq-l2-staged``: the default resumed for 2000 steps with
``consistency = true``): no gain where the 4-bit target is, +1.004 -> +1.011 dB on the validation clips at 4-bit mid
after x264 crf 14; not bundled. The option stays for recipes.
"""
from __future__ import annotations

import numpy as np
import torch

from vidcolor.quantizer.estimation import estimate

TERMS = 15
"""Channels of :func:`consistency_terms`: base, contour weight, contour estimate, cell low end, cell high end
(3 each, RGB)."""


def consistency_terms(coarse: np.ndarray) -> np.ndarray | None:
    """The consistency stage's terms for one degraded image, as inference finds them on it.

    The quantizer is estimated on the image (:func:`~vidcolor.quantizer.estimation.estimate`, as a still); only uniform
    levels that are not graphics have a stage that these terms describe.

    Args:
        coarse: uint8 RGB ``(H, W, 3)``, the degraded image (after its codec round trip); ValueError from
            :func:`~vidcolor.quantizer.estimation.estimate` otherwise.

    Returns:
        float32 ``(H, W, 15)`` (:data:`TERMS`): ``base`` (levels), the contour weight in [0, 1], the contour
        estimate (levels), the cell's low and high ends (levels), RGB each; None where the image is not found
        to hold uniform levels.
    """
    q = estimate(coarse[None])
    if q.kind != "uniform" or q.graphics:
        return None
    obs = coarse[None]
    base = coarse.astype(np.float32) + q.centre_offset(obs, 0.0)[0] + q.band_correction(obs)[0]
    est, weight = q.contour_estimate(obs)
    lo, hi = q.cell_bounds(coarse)
    return np.concatenate([base, weight[0], est[0], lo, hi], axis=-1)


def through_stage(rgb01: torch.Tensor, coarse01: torch.Tensor, terms: torch.Tensor) -> torch.Tensor:
    """The generator's output after the consistency stage, differentiable (see the module docstring).

    Args:
        rgb01: float ``(N, 3, H, W)`` RGB in [0, 1], the generator's output.
        coarse01: float ``(N, 3, H, W)`` RGB in [0, 1], the observed frames.
        terms: float ``(N, 15, H, W)``, :func:`consistency_terms` channels first.

    Returns:
        float ``(N, 3, H, W)`` RGB in [0, 1] (levels / 255), not rounded.
    """
    base, weight, est, lo, hi = terms.split(3, dim=1)
    y = base + (rgb01 - coarse01) * 255.0
    y = y + weight * (est - y)
    return torch.minimum(torch.maximum(y, lo), hi).clamp(0.0, 255.0) / 255.0
