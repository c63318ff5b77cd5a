"""Run-time training of the two-image reference colorizer (``colorize --reference-mode internal``;
seed 002, ../shared/METHODS.md section 4). Part of the runtime path: it imports nothing from
:mod:`vidcolor.training`.

Given a colour reference R and a gray target T (for video: a key frame), image pyramids with scale
factor 0.75 are built and one generator/discriminator pair per scale is trained, coarse to fine, for
``iters`` iterations each with Adam (lr 5e-4). Per iteration (seed 002 eq. 4):

* critic: WGAN-GP (Gulrajani et al. 2017) on (gray, 5-colour K-means palette) pairs: real = (T_n,
  palette(R_n)), fake = (gray(G_n output), palette(G_n output));
* generator: ``L_adv + alpha_r L_rec + alpha_c L_content`` with alpha_r = 10, alpha_c = 30;
  L_rec = MSE between R_n and the generator run on R's gray with the fixed noise maps z* (eq. 5);
  L_content = MSE between T_n and the gray of the output (eq. 6).

Taken from SinGAN (Shaham et al. 2019) where seed 002 is silent: Adam betas (0.5, 0.999), gradient-
penalty weight 0.1, each scale's noise amplitude = 0.1 x RMSE of the upsampled coarser reconstruction
(1 at the coarsest scale), a scale's networks start from the coarser scale's weights, and the
coarsest scale is no smaller than 25 pixels. One critic step per generator step (SinGAN: 3 and 3).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from vidcolor.models.losses import gradient_penalty
from vidcolor.models.two_image import (PaletteDiscriminator, TwoImageColorizer, gray, palette, pyramid_sizes, resize,
                                       to_tensor)


@dataclass
class TwoImageSettings:
    """Hyper-parameters of :func:`train_two_image` (seed 002's values unless marked)."""

    iters: int = 2000            # per scale
    size: int = 256              # longer side of the working images, pixels
    factor: float = 0.75
    min_size: int = 25           # shorter side of the coarsest scale (SinGAN)
    lr: float = 5e-4
    alpha_r: float = 10.0
    alpha_c: float = 30.0
    gp_weight: float = 0.1       # SinGAN
    width: int = 32              # generator / critic channels (SinGAN)
    seed: int = 0


def scale_count(h: int, w: int, settings: TwoImageSettings) -> int:
    """Pyramid levels so that the coarsest shorter side is at least ``min_size`` (at least one level)."""
    n = 1
    while min(h, w) * settings.factor ** n >= settings.min_size:
        n += 1
    return n


def train_two_image(reference: np.ndarray, target: np.ndarray, settings: TwoImageSettings | None = None,
                    progress: bool = True, log: Callable[[str], None] | None = None,
                    device: str | torch.device = "cpu", check: Callable[[], None] | None = None) -> TwoImageColorizer:
    """Train the per-scale generators on a colour reference and a gray (or colour, made gray) target.

    Args:
        reference: uint8 RGB ``(H, W, 3)``, the colours to follow.
        target: uint8 RGB ``(H, W, 3)``, the key frame (only its gray is used).
        settings: see :class:`TwoImageSettings`.
        progress: a tqdm bar per scale on stderr.
        log: called with one line per finished scale (losses).
        device: where to train.
        check: called before each iteration; it raises to stop the training (the pipeline's stop flag: a
            SIGTERM or Ctrl-C while training).

    Returns:
        The trained :class:`~vidcolor.models.two_image.TwoImageColorizer` in eval mode, on ``device``.
    """
    s = settings or TwoImageSettings()
    torch.manual_seed(s.seed)
    R = to_tensor(reference, s.size).to(device)
    T = gray(to_tensor(target, s.size)).to(device)
    scales = scale_count(*T.shape[-2:], s)
    model = TwoImageColorizer(scales, s.width, s.factor).to(device)
    sizes_t, sizes_r = pyramid_sizes(*T.shape[-2:], scales, s.factor), pyramid_sizes(*R.shape[-2:], scales, s.factor)
    z_rec = [torch.randn(1, 3, *size, device=device) for size in sizes_r]   # the fixed noise maps z* (eq. 5)
    D = PaletteDiscriminator(s.width).to(device)
    for n in range(scales):
        G = model.generators[n]
        if n:                                       # start from the coarser scale's weights (SinGAN)
            G.load_state_dict(model.generators[n - 1].state_dict())
        R_n, T_n = resize(R, sizes_r[n]), resize(T, sizes_t[n])
        G_R = gray(R_n)
        with torch.no_grad():
            model.eval()
            prev_rec = resize(model(gray(R), z_rec, scales=n), sizes_r[n]) if n else torch.zeros_like(R_n)
            if n:
                model.noise_amp[n] = 0.1 * F.mse_loss(prev_rec, R_n).sqrt()
            real_pal = palette(R_n)
        G.train()
        opt_g = torch.optim.Adam(G.parameters(), s.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), s.lr, betas=(0.5, 0.999))
        amp = float(model.noise_amp[n])
        bar = tqdm(range(s.iters), desc=f"scale {n + 1}/{scales} {sizes_t[n][1]}x{sizes_t[n][0]}",
                   disable=not progress, leave=False, dynamic_ncols=True)
        for _ in bar:
            if check is not None:
                check()
            with torch.no_grad():
                prev = resize(model(T, [torch.randn(1, 3, *sz, device=device) for sz in sizes_t], scales=n),
                              sizes_t[n]) if n else torch.zeros(1, 3, *sizes_t[n], device=device)
            fake = G(amp * torch.randn(1, 3, *sizes_t[n], device=device), prev, T_n)
            fake_pair = (gray(fake), palette(fake))
            # critic (WGAN-GP)
            detached = tuple(x.detach() for x in fake_pair)
            loss_d = D(*detached).mean() - D(T_n, real_pal).mean() + s.gp_weight * gradient_penalty(D, (T_n, real_pal), detached)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            # generator
            loss_adv = -D(*fake_pair).mean()
            loss_rec = F.mse_loss(G(amp * z_rec[n], prev_rec, G_R), R_n)
            loss_content = F.mse_loss(fake_pair[0], T_n)
            loss_g = loss_adv + s.alpha_r * loss_rec + s.alpha_c * loss_content
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
        bar.close()
        for p in G.parameters():
            p.requires_grad_(False)
        if log:
            log(f"scale {n + 1}/{scales} ({sizes_t[n][1]}x{sizes_t[n][0]}): loss_d={loss_d.item():.4f} "
                f"adv={loss_adv.item():.4f} rec={loss_rec.item():.5f} content={loss_content.item():.5f}")
    return model.eval()
