"""Conditional PatchGAN discriminator (pix2pix, Isola et al. 2017, section 3.2.2; seed 000/001/003)."""
from __future__ import annotations

import torch
from torch import nn


class PatchGANDiscriminator(nn.Module):
    """70x70 PatchGAN: classifies each overlapping patch of (condition, image) as real or fake.

    Args:
        in_channels: channels of condition and image together (e.g. 3 + 3).
        ndf: channels of the first layer.
        n_layers: stride-2 layers; 3 gives the 70x70 receptive field (a 30x30 map for 256x256 input).
        norm: ``batch`` (pix2pix) or ``none`` (a WGAN-GP critic: the gradient penalty is per sample,
            which batch statistics would break; Gulrajani et al. 2017 section 4).

    Shapes:
        ``forward(x (N, in_channels, H, W)) -> (N, 1, H // 2**n_layers - 2, W // 2**n_layers - 2)`` raw
        float scores (logits; unbounded); with the default ``n_layers=3``, ``H // 8 - 2`` (30 for 256).
        H and W must be at least ``3 * 2**n_layers`` (24 for the default); smaller inputs make torch raise
        RuntimeError.

    Raises:
        ValueError: ``norm`` other than ``batch`` or ``none``.
    """

    def __init__(self, in_channels: int = 6, ndf: int = 32, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        if norm not in ("batch", "none"):
            raise ValueError(f"unknown norm {norm!r}")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = ndf
        for i in range(1, n_layers + 1):
            nxt = ndf * min(2 ** i, 8)
            layers += [nn.Conv2d(ch, nxt, 4, 2 if i < n_layers else 1, 1, bias=norm == "none"),
                       nn.BatchNorm2d(nxt) if norm == "batch" else nn.Identity(), nn.LeakyReLU(0.2, True)]
            ch = nxt
        layers.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (N, in_channels, H, W)`` (condition and image concatenated on C) -> per-patch logits
        ``(N, 1, H // 2**n_layers - 2, W // 2**n_layers - 2)``."""
        return self.net(x)
