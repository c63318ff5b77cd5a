"""Losses that run outside ``vidcolor.training`` too: the WGAN-GP gradient penalty.

The two-image reference colorizer (:mod:`vidcolor.internal`) trains at run time, so its critic's
penalty lives on the runtime side; the training loops (:mod:`vidcolor.training.colorize`) import it
from here.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def gradient_penalty(critic: nn.Module, real: torch.Tensor | Sequence[torch.Tensor],
                     fake: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """WGAN-GP gradient penalty (Gulrajani et al. 2017, eq. 3): ``E[(||grad D(x_hat)||_2 - 1)^2]``.

    ``x_hat = eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1]`` per sample. A critic that takes
    several inputs (the two-image palette critic: ``(gray, palette)``) gets tuples: each input is mixed
    with the same ``eps`` and the norm is that of the gradient with respect to all of them together.
    Multiply by the penalty weight (lambda = 10 in the paper and seed 001; 0.1 in SinGAN) in the
    critic loss.

    Args:
        critic: called as ``critic(*inputs)``; returns scores ``(N, ...)`` (summed for the gradient).
        real: float tensor ``(N, C, H, W)`` (any ``(N, ...)``), or a sequence of them, one per critic input.
        fake: the same shapes as ``real`` (detached generator outputs).

    Returns:
        Scalar tensor, differentiable (``create_graph=True``) with respect to the critic's parameters.

    Raises:
        ValueError: ``real`` and ``fake`` differ in the number or shapes of their tensors.
        IndexError: ``real`` is an empty sequence.
    """
    reals = (real,) if isinstance(real, torch.Tensor) else tuple(real)
    fakes = (fake,) if isinstance(fake, torch.Tensor) else tuple(fake)
    if len(reals) != len(fakes) or any(r.shape != f.shape for r, f in zip(reals, fakes)):
        raise ValueError("real and fake must be tensors of the same shapes")
    eps = torch.rand(reals[0].shape[0], device=reals[0].device, dtype=reals[0].dtype)
    mixed = [(e * r + (1 - e) * f).requires_grad_(True)
             for r, f in zip(reals, fakes) for e in [eps.view(-1, *[1] * (r.dim() - 1))]]
    grads = torch.autograd.grad(critic(*mixed).sum(), mixed, create_graph=True)
    norm = torch.cat([g.flatten(1) for g in grads], 1).norm(dim=1)
    return (norm - 1).pow(2).mean()
