"""Losses for the pix2pix family (Isola et al. 2017, eq. 1-4)."""
from __future__ import annotations

import torch
from torch import nn


class GANLoss(nn.Module):
    """Adversarial loss on PatchGAN logits: ``lsgan`` (least squares, Mao et al. 2017) or ``vanilla`` (BCE).

    ``forward(logits (N, 1, h, w), real: bool) -> scalar``.
    """

    def __init__(self, mode: str = "lsgan"):
        super().__init__()
        if mode not in ("lsgan", "vanilla"):
            raise ValueError(f"unknown GAN loss {mode!r}")
        self.loss = nn.MSELoss() if mode == "lsgan" else nn.BCEWithLogitsLoss()

    def forward(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        return self.loss(logits, torch.full_like(logits, 1.0 if real else 0.0))


def psnr_batch(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean PSNR (dB) over a batch of images in [0, 1], ``(N, C, H, W)``."""
    mse = (pred.clamp(0, 1) - target).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(1.0 / mse)).mean())
