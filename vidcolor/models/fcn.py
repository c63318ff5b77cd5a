"""Fully convolutional LAB colorizer of seed 004 (004_e59b87d98ce6e4cd, section 3).

Encoder of 3x3 convolutions where stride 2 replaces max-pooling (which the seed found better), decoder
of nearest-neighbour upsampling followed by convolutions, BatchNorm and ReLU after every convolution;
it predicts ab from L at the input's resolution and works at any input size.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


class FCNColorizer(nn.Module):
    """Seed 004's fully convolutional network: L -> ab.

    Args:
        width: channels of the first layer; doubled at each of the ``depth`` stride-2 levels.
        depth: stride-2 levels in the encoder (and nearest x2 upsamplings in the decoder).

    Shapes:
        ``forward(L_n (N, 1, H, W)) -> ab_n (N, 2, H, W)`` in [-1, 1] (tanh; ``ab / 110``), with
        ``L_n = L / 50 - 1`` (L in [0, 100]; assumed, not checked). H, W are padded (replicate) to a
        multiple of ``2 ** depth`` inside and the output cropped back to ``(H, W)``.
    """

    def __init__(self, width: int = 32, depth: int = 3):
        super().__init__()
        self.depth = depth
        enc: list[nn.Module] = _conv(1, width)
        ch = width
        for _ in range(depth):
            enc += _conv(ch, 2 * ch, stride=2) + _conv(2 * ch, 2 * ch)
            ch *= 2
        dec: list[nn.Module] = []
        for _ in range(depth):
            dec += [nn.Upsample(scale_factor=2, mode="nearest")] + _conv(ch, ch // 2)
            ch //= 2
        self.net = nn.Sequential(*enc, *dec, nn.Conv2d(ch, 2, 3, 1, 1), nn.Tanh())

    def forward(self, L_n: torch.Tensor) -> torch.Tensor:
        """``L_n (N, 1, H, W)`` float -> ``ab_n (N, 2, H, W)`` in (-1, 1) (``ab / 110``)."""
        h, w = L_n.shape[-2:]
        m = 2 ** self.depth
        ph, pw = (-h) % m, (-w) % m
        x = F.pad(L_n, (0, pw, 0, ph), mode="replicate") if ph or pw else L_n
        return self.net(x)[..., :h, :w]
