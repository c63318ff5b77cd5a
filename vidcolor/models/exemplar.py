"""Exemplar-guided colorizer: the EfficientNet U-Net colorizer conditioned on a reference's colours.

The reference's colours reach the frame through feature matching (the correspondence step of deep
exemplar-based colorization, He et al. 2018, and CoCosNet, Zhang et al. 2020 eq. 1-2): every frame
position at stride 8 is described by the encoder's stride-8 and stride-16 features of its luminance,
each L2-normalised; its cosine similarity to every reference position is turned into softmax weights
(temperature ``tau``), and the weighted mean of the reference's ab is the position's *hint*. The
highest similarity is the hint's *confidence*. (hint a, hint b, confidence) go through two small
convolution branches into the decoder at strides 8 and 4, so the network learns where to follow the
hint and where to fall back to its own (automatic) colours. The branches' last layers start at zero:
an untrained exemplar model is exactly the automatic colorizer it was initialised from.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vidcolor.models.effnet_unet import EffNetUNetColorizer

HINT_SCALE = 110.0
"""Hint ab are given to the network as ``ab / 110`` (the colorizers' ``AB_SCALE``)."""


def _branch(width: int, out: int) -> nn.Sequential:
    last = nn.Conv2d(width, out, 3, 1, 1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Conv2d(3, width, 3, 1, 1), nn.ReLU(True), nn.Conv2d(width, width, 3, 1, 1),
                         nn.ReLU(True), last)


class ExemplarColorizer(EffNetUNetColorizer):
    """:class:`EffNetUNetColorizer` plus reference matching and hint branches.

    Args:
        tau: softmax temperature of the matching (cosine similarity units; 0.01 as in He et al. 2018).
        hint_width: channels of the two hint branches.
        others: as :class:`EffNetUNetColorizer` (whose ImportError this raises too).

    Shapes:
        ``reference(L_n (1, 1, h, w), ab (1, 2, h, w) in LAB units) -> (keys (1, M, C), values (1, M, 2))``,
        M = positions at stride 8, C = 152 (40 stride-8 + 112 stride-16 encoder channels); several
        references: concatenate along M.
        ``forward(L_n (N, 1, H, W), keys (N or 1, M, C), values (N or 1, M, 2)) -> logits or ab_n``
        ``(N, out_channels, ceil(H/4), ceil(W/4))``, as the parent class; ``L_n = L / 50 - 1`` (L in
        [0, 100], assumed); ab (and values) in LAB units, roughly [-128, 127], not checked.
    """

    def __init__(self, out_channels: int = 2, widths: tuple = (192, 96, 64, 48), pretrained: bool = False,
                 trainable_stages: int = 0, tau: float = 0.01, hint_width: int = 32):
        super().__init__(out_channels, widths, pretrained, trainable_stages)
        self.tau = tau
        self.hint8 = _branch(hint_width, widths[2])
        self.hint4 = _branch(hint_width, widths[3])

    @staticmethod
    def match_features(feats: list[torch.Tensor]) -> torch.Tensor:
        """Matching descriptors ``(N, 152, H'/8, W'/8)`` from the five maps of
        :meth:`~vidcolor.models.effnet_unet.EffNetUNetColorizer.encode` (``H'``, ``W'``: the input padded to a multiple
        of 32), unit length along C: L2-normalised stride-8 (40 channels) and bilinearly upsampled stride-16 (112
        channels) features, concatenated and scaled by 1/sqrt(2)."""
        f8, f16 = feats[2], feats[3]
        f16 = F.interpolate(f16, size=f8.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([F.normalize(f8, dim=1), F.normalize(f16, dim=1)], 1) * 0.5 ** 0.5

    def reference(self, L_n: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of reference images (computed once per reference).

        Args:
            L_n: ``(N, 1, H, W)``, ``L / 50 - 1``; ab: ``(N, 2, H, W)`` in LAB units.

        Returns:
            keys ``(N, M, C)`` and values ``(N, M, 2)`` (ab averaged over each 8x8 cell, LAB units),
            ``M = ceil(H / 8) * ceil(W / 8)`` (the padding added for the encoder is left out).
        """
        h, w = L_n.shape[-2:]
        keys = self.match_features(self.encode(L_n))
        ph, pw = keys.shape[-2] * 8 - h, keys.shape[-1] * 8 - w
        values = F.avg_pool2d(F.pad(ab, (0, pw, 0, ph), mode="replicate"), 8)
        hk, wk = (h + 7) // 8, (w + 7) // 8
        keys, values = keys[..., :hk, :wk], values[..., :hk, :wk]
        return keys.flatten(2).transpose(1, 2), values.flatten(2).transpose(1, 2)

    def hint(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """``query (N, C, h, w)`` (:meth:`match_features`), ``keys (N or 1, M, C)``, ``values (N or 1, M, 2)``
        (LAB units) -> ``(N, 3, h, w)``: the softmax-weighted (temperature ``tau``) mean of ``values``, as
        ``ab / 110``, and the confidence, the highest cosine similarity, in [-1, 1]."""
        n, c, h, w = query.shape
        # (N, K, C) @ (1 or N, C, M): a batched matrix product that broadcasts the references over the
        # batch (ONNX MatMul; an einsum over expanded keys took 19% of the exported network's time), with
        # 1 / tau folded into the query (K x C products, not K x M)
        logits = (query.flatten(2).transpose(1, 2) * (1.0 / self.tau)) @ keys.transpose(1, 2)
        ab = torch.softmax(logits, dim=-1) @ values.to(logits.dtype)
        conf = logits.amax(-1, keepdim=True) * self.tau
        return torch.cat([ab / HINT_SCALE, conf], -1).transpose(1, 2).reshape(n, 3, h, w)

    def forward(self, L_n: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """``L_n (N, 1, H, W)`` with the :meth:`reference` ``keys``, ``values`` -> ``(N, out_channels,
        ceil(H/4), ceil(W/4))``: tanh ``ab / 110`` or logits; see the class's Shapes."""
        feats = self.encode(L_n)
        h8 = self.hint(self.match_features(feats), keys, values)
        h4 = F.interpolate(h8, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.decode(feats, L_n.shape[-2:], self.hint8(h8), self.hint4(h4))
