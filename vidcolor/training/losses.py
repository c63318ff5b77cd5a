"""Losses of the training loops: the pix2pix family (Isola et al. 2017, eq. 1-4), ab classification,
feature losses. The WGAN-GP gradient penalty is :func:`vidcolor.models.losses.gradient_penalty` (the
run-time two-image trainer uses it too)."""
from __future__ import annotations

import torch
from torch import nn


GAN_MODES = ("lsgan", "vanilla")
"""The adversarial losses of :class:`GANLoss` (a dequantize recipe's ``gan_mode``)."""


class GANLoss(nn.Module):
    """Adversarial loss on PatchGAN logits: ``lsgan`` (least squares, Mao et al. 2017) or ``vanilla`` (BCE).

    ``forward(logits (N, 1, h, w), real: bool) -> scalar``: the mean over every logit of ``(logit - t)^2``
    (``lsgan``) or ``BCE(sigmoid(logit), t)`` (``vanilla``), with target ``t`` 1 for real, 0 for fake.

    Raises:
        ValueError: an unknown ``mode``.
    """

    def __init__(self, mode: str = "lsgan"):
        super().__init__()
        if mode not in GAN_MODES:
            raise ValueError(f"unknown GAN loss {mode!r}")
        self.loss = nn.MSELoss() if mode == "lsgan" else nn.BCEWithLogitsLoss()

    def forward(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        """Scalar loss of raw discriminator scores ``logits`` (any shape) against the all-real (``real``) or
        all-fake target; see the class docstring."""
        return self.loss(logits, torch.full_like(logits, 1.0 if real else 0.0))


def soft_encode(ab: torch.Tensor, bins: torch.Tensor, k: int = 5, sigma: float = 5.0) -> torch.Tensor:
    """Soft-encoded ab targets (Zhang et al. 2016, section 2.1): the k nearest bins of each pixel get
    Gaussian weights ``exp(-d^2 / 2 sigma^2)`` (sigma 5, ab units), normalised to sum 1.

    Args:
        ab: float ``(N, 2, H, W)`` ab in LAB units; bins: ``(Q, 2)`` bin centres (LAB units,
            :func:`~vidcolor.color.ab_gamut_bins`), Q >= ``k``.

    Returns:
        ``(N, Q, H, W)`` target distribution of ``ab``'s dtype: per pixel k nonzero entries in (0, 1),
        summing to 1.

    Raises:
        RuntimeError: (torch) ``k`` > Q.
    """
    n, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    d2 = torch.cdist(flat, bins.to(flat.dtype)).pow(2)
    near_d2, near = d2.topk(k, dim=1, largest=False)
    wts = torch.softmax(-near_d2 / (2 * sigma ** 2), dim=1)
    target = torch.zeros(flat.shape[0], bins.shape[0], dtype=flat.dtype, device=flat.device)
    target.scatter_(1, near, wts)
    return target.reshape(n, h, w, -1).permute(0, 3, 1, 2)


def ab_cross_entropy(logits: torch.Tensor, target: torch.Tensor, class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Multinomial cross-entropy over ab bins (Zhang et al. 2016, eq. 2), optionally class-rebalanced.

    ``L = -mean_nhw v(Z_hw) sum_q Z_hwq log softmax(logits)_hwq`` (the paper's eq. 2 sums over the pixels;
    here the mean over the batch and the pixels, a scalar); ``v`` is the weight of each pixel's most likely
    bin (eq. 3-4), or 1 without rebalancing. Shapes: logits and target ``(N, Q, H, W)`` (target a
    distribution over Q, :func:`soft_encode`), ``class_weights`` ``(Q,)``.
    """
    ce = -(target * torch.log_softmax(logits, dim=1)).sum(1)
    if class_weights is not None:
        ce = ce * class_weights[target.argmax(1)]
    return ce.mean()


class FeatureLoss(nn.Module):
    """Feature losses on a frozen ImageNet-pretrained EfficientNet-Lite0 (RGB in [0, 1] inputs).

    ``perceptual`` (seeds 003, 004; Johnson et al. 2016 eq. 2): mean squared difference of the
    features at strides 4, 8 and 16, summed over the layers.
    ``lpips`` (in the style of Zhang et al. 2018, LPIPS eq. 1): features unit-normalised along the
    channels, squared differences averaged over positions and summed over the layers, with uniform
    instead of learned channel weights. Seed 001's LPIPS needs AlexNet/VGG weights and the learned
    linear layers, which cannot be had offline here: this is a stand-in, not LPIPS.

    ``forward(pred (N, 3, H, W), target (N, 3, H, W)) -> scalar``, both sRGB float in [0, 1] (not checked);
    the target's features are taken without gradient. ``encoder``: a replacement for the default (depth 4,
    pretrained), frozen here; its maps after the first are the ones compared.

    Raises:
        ValueError: an unknown ``kind``.
        ImportError: the EfficientNet packages are not installed (default encoder).
    """

    def __init__(self, kind: str = "perceptual", encoder: nn.Module | None = None):
        super().__init__()
        if kind not in ("perceptual", "lpips"):
            raise ValueError(f"unknown feature loss {kind!r}")
        from vidcolor.models.effnet import EfficientNetLite0Features

        self.kind = kind
        self.encoder = (encoder or EfficientNetLite0Features(pretrained=True, depth=4)).freeze(0).eval()

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar loss of ``pred`` against ``target``, sRGB ``(N, 3, H, W)`` in [0, 1]; see the class docstring."""
        from vidcolor.models.effnet import normalize_rgb

        fp = self.encoder(normalize_rgb(pred))[1:]
        with torch.no_grad():
            ft = self.encoder(normalize_rgb(target))[1:]
        total = pred.new_zeros(())
        for a, b in zip(fp, ft):
            if self.kind == "lpips":
                a = a / (a.norm(dim=1, keepdim=True) + 1e-10)
                b = b / (b.norm(dim=1, keepdim=True) + 1e-10)
                total = total + (a - b).pow(2).sum(1).mean()
            else:
                total = total + (a - b).pow(2).mean()
        return total
