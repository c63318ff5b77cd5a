"""U-Net colorizer with the ImageNet-pretrained EfficientNet-Lite0 as its encoder.

The classifier-feature fusion of seed 004 (after Deep Koalarization, Baldassarre et al. 2017): the gray
frame, L replicated to three channels, goes through the pretrained classifier; its features at strides
4, 8, 16 and 32 feed a light U-Net decoder through skip connections, and its globally pooled deepest
features are fused into the bottleneck (a per-channel offset), so that every position sees what the
whole frame shows. The decoder stops at stride 4: colour is smooth, and full-resolution L restores
every edge at recombination (colour entanglement, seed 000 section 3.1).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vidcolor.models.effnet import EfficientNetLite0Features


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))


class EffNetUNetColorizer(nn.Module):
    """EfficientNet-Lite0 encoder + U-Net decoder; predicts ab at 1/4 of the input resolution.

    Args:
        out_channels: 2 (ab regression, ``ab / 110``, tanh) or Q (logits over the ab bins of
            :func:`vidcolor.color.ab_gamut_bins`).
        widths: decoder channels at strides 32, 16, 8, 4 (four ints).
        pretrained: load the ImageNet checkpoint into the encoder (training); loading a vidcolor weight
            file overwrites it anyway, so inference builds with ``False``.
        trainable_stages: encoder stages (from the deepest) left trainable; 0 = frozen encoder.

    Shapes:
        ``forward(L_n (N, 1, H, W)) -> (N, out_channels, ceil(H/4), ceil(W/4))``, float, with
        ``L_n = L / 50 - 1`` (L in [0, 100], so L_n in [-1, 1]; assumed, not checked); any H, W (padded to
        a multiple of 32 inside). Regression output is ``ab / 110`` in (-1, 1) (tanh); Q-bin output is raw
        logits.

    Raises:
        ImportError: as :class:`~vidcolor.models.effnet.EfficientNetLite0Features`.
    """

    def __init__(self, out_channels: int = 2, widths: tuple = (192, 96, 64, 48), pretrained: bool = False,
                 trainable_stages: int = 0):
        super().__init__()
        self.encoder = EfficientNetLite0Features(pretrained=pretrained).freeze(trainable_stages)
        c = self.encoder.channels  # 16, 24, 40, 112, 320
        w32, w16, w8, w4 = widths
        self.bottleneck = _conv(c[4], w32)
        self.fusion = nn.Linear(c[4], w32)
        self.up16 = _conv(w32 + c[3], w16)
        self.up8 = _conv(w16 + c[2], w8)
        self.up4 = _conv(w8 + c[1], w4)
        self.head = nn.Conv2d(w4, out_channels, 1)
        self.regression = out_channels == 2

    def encode(self, L_n: torch.Tensor) -> list[torch.Tensor]:
        """Encoder features at strides 2..32 of ``L_n (N, 1, H, W)`` (``L / 50 - 1``), padded (replicate) to a
        multiple of 32: five maps ``(N, C_i, H' / s, W' / s)``, ``C_i`` = 16, 24, 40, 112, 320 for ``s`` = 2,
        4, 8, 16, 32, with ``H'``, ``W'`` the padded size."""
        h, w = L_n.shape[-2:]
        ph, pw = (-h) % 32, (-w) % 32
        x = F.pad(L_n, (0, pw, 0, ph), mode="replicate") if ph or pw else L_n
        return self.encoder(x.expand(-1, 3, -1, -1))

    def decode(self, feats: list[torch.Tensor], size: tuple[int, int], add8: torch.Tensor | None = None,
               add4: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder: the five maps of :meth:`encode` -> ``(N, out_channels, ceil(H / 4), ceil(W / 4))`` for
        ``size = (H, W)``, the unpadded input size (tanh ``ab / 110`` or logits, as :meth:`forward`).
        ``add8`` / ``add4`` are optional maps added to the decoder's activations at strides 8 and 4, shaped
        ``(N, widths[2], H' / 8, W' / 8)`` and ``(N, widths[3], H' / 4, W' / 4)`` on the padded size (used by
        subclasses)."""
        _, f4, f8, f16, f32 = feats
        y = self.bottleneck(f32) + self.fusion(f32.mean((2, 3)))[:, :, None, None]
        y = self.up16(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), f16], 1))
        y = self.up8(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), f8], 1))
        if add8 is not None:
            y = y + add8
        y = self.up4(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), f4], 1))
        if add4 is not None:
            y = y + add4
        h, w = size
        y = self.head(y)[..., : (h + 3) // 4, : (w + 3) // 4]
        return torch.tanh(y) if self.regression else y

    def forward(self, L_n: torch.Tensor) -> torch.Tensor:
        """``L_n (N, 1, H, W)`` -> ``(N, out_channels, ceil(H / 4), ceil(W / 4))``; see the class's Shapes."""
        return self.decode(self.encode(L_n), L_n.shape[-2:])
