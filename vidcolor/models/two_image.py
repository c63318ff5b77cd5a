"""Networks of the two-image reference colorizer (seed 002, ../shared/METHODS.md section 4).

One generator and one discriminator per pyramid scale, after SinGAN (Shaham et al. 2019) with the
changes of seed 002: the discriminator judges a (gray image, 5-colour palette) pair instead of an
image, and -- vidcolor's addition for video -- the generator also sees the gray frame it colours, so a
pair trained on one key frame colours every other frame.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

PALETTE_SIZE = 5
"""Colours per palette (seed 002: five dominant colours by K-means)."""


def gray(rgb: torch.Tensor) -> torch.Tensor:
    """Luma (BT.601 weights 0.299, 0.587, 0.114, applied to the values as given, no gamma) of RGB
    ``(N, 3, H, W)`` float in [-1, 1] -> ``(N, 1, H, W)`` in [-1, 1] (range assumed, not checked)."""
    return (0.299 * rgb[:, :1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:])


def palette(rgb: torch.Tensor, k: int = PALETTE_SIZE, iters: int = 8) -> torch.Tensor:
    """Dominant colours by K-means (Lloyd's algorithm, k-means++-like farthest-point start).

    The assignments are found without gradient; the centres are then the means of their pixels, so the
    palette is differentiable with respect to the image (the generator learns through it). Centres are
    sorted by luma so that palettes compare position by position; a cluster left empty keeps the centre
    it had before it emptied (without gradient). Seed 002 section 3.2 (palette of 5 dominant colours by
    K-means; 5 clusters, section 4.1).

    Args:
        rgb: ``(N, 3, H, W)`` float in [-1, 1] (assumed, not checked).
        k: colours; iters: Lloyd iterations.

    Returns:
        ``(N, k, 3)`` centres in [-1, 1], sorted by increasing BT.601 luma.
    """
    n = rgb.shape[0]
    x = rgb.flatten(2).transpose(1, 2)                        # (N, P, 3)
    with torch.no_grad():
        xd = x.detach()
        centres = [xd.mean(1)]
        for _ in range(k - 1):                                # farthest point from the chosen centres
            d = torch.cdist(xd, torch.stack(centres, 1)).amin(2)
            centres.append(xd[torch.arange(n), d.argmax(1)])
        c = torch.stack(centres, 1)
        for _ in range(iters):
            assign = torch.cdist(xd, c).argmin(2)             # (N, P)
            onehot = F.one_hot(assign, k).to(xd.dtype)        # (N, P, k)
            count = onehot.sum(1)[..., None]
            c = torch.where(count > 0, onehot.transpose(1, 2) @ xd / count.clamp_min(1), c)
        onehot = F.one_hot(torch.cdist(xd, c).argmin(2), k).to(x.dtype)
        count = onehot.sum(1)[..., None]
    centres = torch.where(count > 0, onehot.transpose(1, 2) @ x / count.clamp_min(1), c)
    order = gray(centres.transpose(1, 2)[..., None])[:, 0, :, 0].argsort(1)
    return torch.gather(centres, 1, order[..., None].expand(-1, -1, 3))


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True))


class ScaleGenerator(nn.Module):
    """G_n: 7 conv blocks (Conv3x3-BN-LeakyReLU 0.2; the last is Conv3x3 + tanh), residual on the
    upsampled coarser output (seed 002 eq. 2-3).

    Shapes:
        ``forward(z (N, 3, H, W), previous (N, 3, H, W), gray (N, 1, H, W)) -> (N, 3, H, W)`` RGB in
        [-1, 1] (clamped); ``previous`` is zeros at the coarsest scale. All float, in [-1, 1] except the
        noise ``z`` (scaled unit Gaussian).
    """

    def __init__(self, width: int = 32, blocks: int = 7):
        super().__init__()
        layers = [_block(3 + 1, width)] + [_block(width, width) for _ in range(blocks - 2)]
        self.body = nn.Sequential(*layers, nn.Conv2d(width, 3, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, previous: torch.Tensor, gray_n: torch.Tensor) -> torch.Tensor:
        """``previous + body(cat(z + previous, gray_n))`` clamped to [-1, 1]; shapes as the class's."""
        return (previous + self.body(torch.cat([z + previous, gray_n], 1))).clamp(-1, 1)


class PaletteDiscriminator(nn.Module):
    """D_n: Markovian (PatchGAN) critic with 11x11 patches (five 3x3 convolutions) on a gray image with
    a palette broadcast as constant channels (seed 002). No normalisation layers: the WGAN-GP penalty
    is taken per sample (Gulrajani et al. 2017, section 4).

    Shapes:
        ``forward(gray (N, 1, H, W), palette (N, k, 3)) -> (N, 1, H, W)`` critic scores (unbounded
        float); gray and palette in [-1, 1] (see :func:`gray`, :func:`palette`).
    """

    def __init__(self, width: int = 32, k: int = PALETTE_SIZE):
        super().__init__()
        chans = [1 + 3 * k, width, width, width, width]
        layers = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 3, 1, 1), nn.LeakyReLU(0.2, True)]
        self.body = nn.Sequential(*layers, nn.Conv2d(width, 1, 3, 1, 1))

    def forward(self, gray_n: torch.Tensor, pal: torch.Tensor) -> torch.Tensor:
        """Per-position critic scores ``(N, 1, H, W)`` of ``gray_n (N, 1, H, W)`` with ``pal (N, k, 3)``
        broadcast as ``3k`` constant channels."""
        n, _, h, w = gray_n.shape
        return self.body(torch.cat([gray_n, pal.reshape(n, -1, 1, 1).expand(-1, -1, h, w)], 1))


def pyramid_sizes(h: int, w: int, scales: int, factor: float = 0.75) -> list[tuple[int, int]]:
    """Sizes ``(h, w)`` in pixels of an image pyramid with ``scales`` levels, coarsest first, level n (from the
    finest, 0) ``round(h * factor ** n)`` (at least 1); the last is ``(h, w)`` (seed 002 section 4.1: factor 0.75)."""
    return [(max(1, round(h * factor ** n)), max(1, round(w * factor ** n))) for n in reversed(range(scales))]


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of float ``(N, C, H, W)`` to ``(N, C, *size)`` (antialiased when shrinking; ``x`` itself
    when the size is already ``size``). Bicubic may overshoot the input's range slightly: not clamped."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


def to_tensor(rgb: np.ndarray, size: int) -> torch.Tensor:
    """uint8 RGB ``(H, W, 3)`` -> float32 ``(1, 3, h, w)`` in [-1, 1] (``x / 127.5 - 1``; the bicubic
    resize may overshoot slightly, not clamped), resized (up or down) so that the longer side is ``size``
    pixels, aspect kept (rounded, sides at least 1). The dtype is not checked: any numeric array is taken
    as 0..255."""
    x = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None] / 127.5 - 1.0   # a copy: frames may be read-only
    h, w = x.shape[-2:]
    s = size / max(h, w)
    return resize(x, (max(1, round(h * s)), max(1, round(w * s))))


class TwoImageColorizer(nn.Module):
    """The trained pyramid of generators (coarsest first) with each scale's noise amplitude.

    Args:
        scales: pyramid levels (N + 1 in seed 002's notation).
        width: channels of every generator.
        factor: scale factor between levels (0.75).

    Shapes:
        ``forward(gray (N, 1, H, W) in [-1, 1], noise=None | list of (N, 3, h_n, w_n)) -> (N, 3, H, W)``,
        RGB in [-1, 1]. ``noise=None`` draws a fixed noise pattern (seeded), so the same frame always gets
        the same colours and consecutive frames do not flicker from noise.
    """

    def __init__(self, scales: int, width: int = 32, factor: float = 0.75):
        super().__init__()
        self.factor = factor
        self.generators = nn.ModuleList(ScaleGenerator(width) for _ in range(scales))
        self.register_buffer("noise_amp", torch.ones(scales))

    def sizes(self, h: int, w: int) -> list[tuple[int, int]]:
        """The pyramid's ``(h, w)`` sizes for a frame of ``h x w`` pixels, coarsest first (:func:`pyramid_sizes`
        with this model's scales and factor)."""
        return pyramid_sizes(h, w, len(self.generators), self.factor)

    def fixed_noise(self, n: int, h: int, w: int, seed: int = 0) -> list[torch.Tensor]:
        """One noise map per scale ``(n, 3, h_s, w_s)``, float32 on the CPU, standard normal (the same draw
        expanded over the ``n`` frames, seeded by ``seed``), coarsest first."""
        g = torch.Generator().manual_seed(seed)
        return [torch.randn(1, 3, *s, generator=g).expand(n, -1, -1, -1) for s in self.sizes(h, w)]

    def forward(self, gray_img: torch.Tensor, noise: list[torch.Tensor] | None = None,
                scales: int | None = None) -> torch.Tensor:
        """Run the first ``scales`` generators (all by default); the output, RGB ``(N, 3, h_s, w_s)`` in
        [-1, 1], has the size of that scale. ``gray_img (N, 1, H, W)`` in [-1, 1] (:func:`gray`); ``noise``
        one map ``(N or 1, 3, h_n, w_n)`` per scale (at least ``scales``), else :meth:`fixed_noise`."""
        n, _, h, w = gray_img.shape
        sizes = self.sizes(h, w)
        noise = self.fixed_noise(n, h, w) if noise is None else noise
        out = torch.zeros(n, 3, *sizes[0], device=gray_img.device, dtype=gray_img.dtype)
        for i, (g, size) in enumerate(zip(self.generators[:scales], sizes)):
            out = g(self.noise_amp[i] * noise[i].to(out), resize(out, size), resize(gray_img, size))
        return out
