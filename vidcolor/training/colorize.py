"""Training loop for the colorization generators (self-supervised: the gray input is a colour photo's L).

One recipe switches every ingredient of the ablation (../shared/METHODS.md sections 2-3):

* generator: ``effnet_unet`` (pretrained EfficientNet-Lite0 encoder, seed 004's classifier fusion),
  ``unet`` (pix2pix, seeds 001/003) or ``fcn`` (seed 004);
* head: ``ab`` regression (``ab / 110``) or ``bins``: classification over the in-gamut ab bins with
  soft-encoded targets and optional class rebalancing (Zhang et al. 2016), decoded by the annealed mean;
* losses: L1 (x100, pix2pix eq. 4) on ab, cross-entropy over bins, adversarial on a conditional
  PatchGAN (``lsgan``/``vanilla``, or ``wgan-gp``: lambda 10, 5 critic steps, Gulrajani et al. 2017),
  perceptual and LPIPS-style feature losses on EfficientNet-Lite0 (seeds 001, 003, 004);
* a frozen encoder, optionally unfrozen (top stages) from a given step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from vidcolor.color import AB_SCALE, ab_gamut_bins, annealed_mean, lab_to_rgb_torch, rgb_to_lab
from vidcolor.models import FAMILIES, EffNetUNetColorizer, PatchGANDiscriminator
from vidcolor.models.losses import gradient_penalty
from vidcolor.training.data import ColorizationCrops, read_rgb
from vidcolor.training.losses import GAN_MODES, FeatureLoss, GANLoss, ab_cross_entropy, soft_encode
from vidcolor.training.measures import colourfulness_ratio, from_uint8, psnr_batch
from vidcolor.training.run import (Recipe, check_at_least, check_generator_table, check_shares, check_whole,
                                   training_loader)
from vidcolor.training.trainer import Trainer, start_from

FAMILY_OF = {"effnet_unet": "effnet_unet", "unet": "unet_colorizer", "fcn": "fcn"}
"""Recipe ``generator`` -> architecture family in :data:`vidcolor.models.FAMILIES`."""

HEADS = ("bins", "ab")
"""A colorize recipe's ``head``: classification over ab bins, or ab regression (another value would train as ``ab``
and be stored as an unknown mode)."""

GANS = ("none", *GAN_MODES, "wgan-gp")
"""A colorize recipe's ``gan``: none, the PatchGAN losses of :class:`~vidcolor.training.losses.GANLoss`, or WGAN-GP."""


@dataclass
class ColorizeRecipe(Recipe):
    """Everything that determines a trained colorization generator (one TOML file in ``train/``).

    Raises:
        ValueError: as :class:`~vidcolor.training.run.Recipe`, and an unknown ``generator``, ``head`` (:data:`HEADS`) or
            ``gan`` (:data:`GANS`),
            ``generator_kwargs`` not a table of its settings (:func:`~vidcolor.training.run.check_generator_table`), ``temperature``
            <= 0, a negative loss weight, ``rebalance`` outside [0, 1], ``critic_steps`` not a whole number >= 1,
            ``unfreeze_stages`` or ``unfreeze_at`` not a whole number >= 0, or ``unfreeze_stages`` on another generator
            than ``effnet_unet`` (the only one with an encoder to unfreeze).
    """

    name: str = "colorize-effnet"
    generator: str = "effnet_unet"        # effnet_unet | unet | fcn
    generator_kwargs: dict = field(default_factory=dict)
    head: str = "bins"                    # bins (classification over ab bins) | ab (regression)
    lambda_l1: float = 100.0              # L1 on ab / 110 (regression head)
    ce_weight: float = 1.0                # cross-entropy over bins (bins head)
    rebalance: float = 1.0                # Zhang's lambda: 1 = no rebalancing, 0.5 = the paper's
    temperature: float = 0.38             # annealed mean (training path and the inference default)
    gan: str = "none"                     # none | lsgan | vanilla | wgan-gp
    adv_weight: float = 1.0
    critic_steps: int = 5                 # WGAN-GP critic updates per generator update
    gp_weight: float = 10.0
    perceptual_weight: float = 0.0
    lpips_weight: float = 0.0
    unfreeze_stages: int = 0              # EfficientNet stages (from the top) unfrozen at ``unfreeze_at``
    unfreeze_at: int = 0
    init_from: str = ""                   # start from this trained generator (registry name or path); "" = none
    checkpoint_every: int = 200

    STEP_MARKS = ("decay_from", "unfreeze_at")

    def __post_init__(self):
        super().__post_init__()
        if self.generator not in FAMILY_OF:
            raise ValueError(f"unknown generator {self.generator!r} (choose {', '.join(FAMILY_OF)})")
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r} (choose {', '.join(HEADS)})")
        if self.gan not in GANS:            # was "unknown GAN loss 'x'" as the run was set up, the key not named
            raise ValueError(f"gan must be one of {', '.join(GANS)}, got {self.gan!r}")
        check_generator_table(self.generator_kwargs, *self.generator_class(), "generator_kwargs")
        check_at_least(self, 0, "temperature", strict=True)
        check_at_least(self, 0, "lambda_l1", "ce_weight", "adv_weight", "gp_weight", "perceptual_weight",
                       "lpips_weight")
        check_shares(self, "rebalance")
        check_whole(self, 1, "critic_steps")
        check_whole(self, 0, "unfreeze_stages", "unfreeze_at")
        if self.unfreeze_stages and self.generator != "effnet_unet":   # was an AttributeError at step unfreeze_at
            raise ValueError(f"unfreeze_stages ({self.unfreeze_stages}) unfreezes stages of the pretrained encoder, "
                             f"which only generator 'effnet_unet' has, not {self.generator!r}: leave it out or 0")

    def generator_class(self) -> tuple[type, tuple[str, ...]]:
        """The class of the recipe's generator and the keyword arguments the recipe sets itself (the rest come
        from ``generator_kwargs``)."""
        if self.generator == "effnet_unet":
            return EffNetUNetColorizer, ("out_channels", "pretrained")
        return FAMILIES[FAMILY_OF[self.generator]], ()


def build_colorizer(recipe: ColorizeRecipe, pretrained: bool = True) -> tuple[torch.nn.Module, dict]:
    """The generator a recipe describes and its ``arch`` record (stored with the weights); with
    ``recipe.init_from``, its weights are that trained generator's (:func:`~vidcolor.training.trainer.start_from`).

    Raises:
        ValueError: an unknown ``recipe.generator``, the ``bins`` head on another generator than ``effnet_unet``,
            an ``init_from`` of another family, head or widths, or a ``generator_kwargs`` value the generator's
            constructor refuses (a ``TypeError`` there).
        VidcolorError: ``init_from`` is unknown or not a generator weight file.
    """
    if recipe.generator not in FAMILY_OF:
        raise ValueError(f"unknown generator {recipe.generator!r} (choose {', '.join(FAMILY_OF)})")
    kwargs = dict(recipe.generator_kwargs)
    try:                                # TypeError: a value of the wrong type (the keys are checked with the recipe)
        if recipe.generator == "effnet_unet":
            kwargs["out_channels"] = len(ab_gamut_bins()) if recipe.head == "bins" else 2
            model = EffNetUNetColorizer(pretrained=pretrained and not recipe.init_from, **kwargs)
        elif recipe.head == "bins":
            raise ValueError(f"the bins head needs generator 'effnet_unet', not {recipe.generator!r}")
        else:
            model = FAMILIES[FAMILY_OF[recipe.generator]](**kwargs)
    except TypeError as exc:
        raise ValueError(f"generator_kwargs {recipe.generator_kwargs}: {exc}") from None
    if recipe.init_from:
        start_from(model, recipe.init_from, f"a {recipe.generator} generator with the {recipe.head} head and "
                   f"generator_kwargs {recipe.generator_kwargs}",
                   lambda a: (a.get("family"), a.get("mode")) == (FAMILY_OF[recipe.generator], recipe.head))
    arch = {"family": FAMILY_OF[recipe.generator], "kwargs": kwargs, "mode": recipe.head, "job": "colorize",
            "temperature": recipe.temperature}
    return model, arch


def lab_batch(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 RGB tensor ``(N, H, W, 3)`` (on the CPU) -> float32 tensors ``(L_n (N, 1, H, W) = L/50 - 1`` in
    [-1, 1], ``ab (N, 2, H, W) in LAB units)``. ValueError when ``rgb`` is not uint8 RGB
    (:func:`~vidcolor.color.rgb_to_lab`)."""
    lab = torch.from_numpy(rgb_to_lab(rgb.numpy())).permute(0, 3, 1, 2)
    return lab[:, :1] / 50.0 - 1.0, lab[:, 1:]


def bin_weights(paths: list[Path], bins: np.ndarray, lam: float, n: int = 300) -> torch.Tensor:
    """Class-rebalancing weights (Zhang et al. 2016, eq. 4): ``w ~ ((1 - lam) p + lam / Q)^-1``,
    normalised so that ``E_p[w] = 1``; ``p`` is the ab-bin distribution of ``n`` training photos
    (Gaussian-smoothed over the grid, sigma 5). ``lam = 1`` gives uniform weights.

    Args:
        paths: training photos (at least one when ``lam < 1``; each read at 64 x 64 pixels).
        bins: float ``(Q, 2)`` ab bin centres (:func:`~vidcolor.color.ab_gamut_bins`).
        lam: Zhang's lambda in [0, 1] (0.5 in the paper).
        n: photos sampled, evenly spaced.

    Returns:
        float32 tensor ``(Q,)``, positive.
    """
    q = len(bins)
    if lam >= 1.0:
        return torch.ones(q)
    from PIL import Image

    counts = np.zeros(q)
    for p in paths[:: max(1, len(paths) // n)][:n]:       # read as the stream reads them (upright, 16-bit gray)
        ab = rgb_to_lab(np.asarray(Image.fromarray(read_rgb(p)).resize((64, 64))))[..., 1:].reshape(-1, 2)
        counts += np.bincount(((ab[:, None, :] - bins[None]) ** 2).sum(-1).argmin(1), minlength=q)
    d2 = ((bins[:, None] - bins[None]) ** 2).sum(-1)
    prob = np.exp(-d2 / (2 * 5.0 ** 2)) @ (counts / counts.sum())
    prob /= prob.sum()
    w = 1.0 / ((1 - lam) * prob + lam / q)
    return torch.tensor(w / (prob * w).sum(), dtype=torch.float32)


def bins_loss(logits: torch.Tensor, ab: torch.Tensor, bins: torch.Tensor,
              class_weights: torch.Tensor | None) -> torch.Tensor:
    """Cross-entropy (Zhang et al. 2016, eq. 2) of bin logits ``(N, Q, h, w)`` against the soft-encoded
    ab ``(N, 2, H, W)`` (LAB units) of the ground truth, area-averaged to the logits' ``(h, w)``."""
    return ab_cross_entropy(logits, soft_encode(F.adaptive_avg_pool2d(ab, logits.shape[-2:]), bins), class_weights)


def render(L_n: torch.Tensor, ab_n: torch.Tensor) -> torch.Tensor:
    """Join ``L_n`` ``(N, 1, H, W)`` (``L/50 - 1``) and predicted ``ab_n`` ``(N, 2, h, w)`` (``ab / 110``,
    bilinearly resized to ``(H, W)`` whenever its size differs) into normalised LAB ``(N, 3, H, W)``."""
    if ab_n.shape[-2:] != L_n.shape[-2:]:
        ab_n = F.interpolate(ab_n, size=L_n.shape[-2:], mode="bilinear", align_corners=False)
    return torch.cat([L_n, ab_n], 1)


class ColorizeTrainer(Trainer):
    """The automatic colorization job on the :class:`~vidcolor.training.trainer.Trainer` skeleton.

    Data: :class:`~vidcolor.training.data.ColorizationCrops` (uint8 RGB batches ``(N, crop, crop, 3)``).
    Networks: the generator ``G`` of :func:`build_colorizer` and a PatchGAN critic ``D`` on LAB
    (3 channels; no normalisation for WGAN-GP), kept (and checkpointed) even without a GAN loss.
    Step: see the module docstring; the top encoder stages unfreeze at ``recipe.unfreeze_at``.
    """

    fields = ("loss_main", "loss_g_adv", "loss_d", "loss_feature", "psnr_output", "colourfulness_ratio")

    def data(self) -> torch.utils.data.DataLoader:
        """Batches of uint8 RGB crops ``(N, crop, crop, 3)`` (:class:`~vidcolor.training.data.ColorizationCrops`)."""
        return training_loader(self.recipe, ColorizationCrops)

    def build_networks(self) -> tuple[dict[str, torch.nn.Module], dict]:
        """``{"G": generator, "D": PatchGAN on normalised LAB (N, 3, H, W)}`` and the generator's ``arch``."""
        G, arch = build_colorizer(self.recipe)
        D = PatchGANDiscriminator(in_channels=3, ndf=self.recipe.ndf, norm="none" if self.wgan else "batch")
        return {"G": G, "D": D}, arch

    @property
    def wgan(self) -> bool:
        """Whether the recipe's GAN loss is WGAN-GP (``gan = "wgan-gp"``)."""
        return self.recipe.gan == "wgan-gp"

    def betas(self) -> tuple[float, float]:
        """``(0, 0.9)`` for WGAN-GP (Gulrajani et al. 2017, Algorithm 1), else the recipe's pix2pix betas."""
        return (0.0, 0.9) if self.wgan else super().betas()    # Gulrajani et al. 2017, Algorithm 1

    def build_losses(self, loader) -> None:
        """The GAN criterion (lsgan / vanilla), the feature losses with weight > 0, the ab bins (``bins`` head)
        and their rebalancing weights (:func:`bin_weights` over the loader's photos)."""
        r = self.recipe
        self.gan = GANLoss(r.gan) if r.gan not in ("none", "wgan-gp") else None
        self.feature_losses = [(w, FeatureLoss(kind).to(self.device)) for w, kind in ((r.perceptual_weight, "perceptual"),
                                                                                       (r.lpips_weight, "lpips")) if w > 0]
        self.bins = self.class_w = None
        if r.head == "bins":
            bins = ab_gamut_bins()
            self.bins, self.class_w = self.put(torch.from_numpy(bins), bin_weights(loader.dataset.paths, bins, r.rebalance))

    def at_step(self, step: int) -> None:
        """From ``unfreeze_at`` on, the top encoder stages train too, at a tenth of the learning rate. Says so
        when it happens; a run resumed past ``unfreeze_at`` says since when they train."""
        r, G, opt_g = self.recipe, self.generator, self.optimizers["opt_g"]
        if not (r.unfreeze_stages and step >= r.unfreeze_at and len(opt_g.param_groups) == 1):
            return
        frozen = [p for p in G.parameters() if not p.requires_grad]
        G.encoder.freeze(r.unfreeze_stages)
        opt_g.add_param_group({"params": [p for p in frozen if p.requires_grad], "lr": r.lr * 0.1})
        G.train()
        if step == r.unfreeze_at:
            self.progress(f"unfroze the top {r.unfreeze_stages} encoder stages at step {step}")
        else:                           # resuming past it: the run unfroze them at unfreeze_at, before the checkpoint
            self.progress(f"the top {r.unfreeze_stages} encoder stages train since step {r.unfreeze_at} (unfreeze_at)")

    def predict(self, L_n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The generator's raw output on ``L_n`` ``(N, 1, H, W)`` and its ab ``(N, 2, h, w)`` / 110 (bins:
        the annealed mean at ``recipe.temperature``)."""
        out = self.generator(L_n)
        return out, (annealed_mean(out, self.bins, self.recipe.temperature) / AB_SCALE if self.bins is not None else out)

    def optimize_parameters(self, rgb) -> list[float]:
        """One step on a uint8 RGB batch ``(N, H, W, 3)``: the critic's update(s) (``critic_steps`` for WGAN-GP),
        then the generator's; returns the values of :attr:`fields` (losses; PSNR in dB and colourfulness ratio
        of the batch's rendered output)."""
        r, D = self.recipe, self.networks["D"]
        opt_g, opt_d = self.optimizers["opt_g"], self.optimizers["opt_d"]
        L_n, ab, target_rgb = self.put(*lab_batch(rgb), from_uint8(rgb))
        out, ab_pred = self.predict(L_n)
        fake, real = render(L_n, ab_pred), torch.cat([L_n, ab / AB_SCALE], 1)
        if self.bins is not None:
            loss_main = r.ce_weight * bins_loss(out, ab, self.bins, self.class_w)
        else:
            loss_main = r.lambda_l1 * (fake[:, 1:] - ab / AB_SCALE).abs().mean()
        fake_rgb = lab_to_rgb_torch(fake)
        loss_d = loss_adv = torch.zeros(())
        if r.gan != "none":
            for _ in range(r.critic_steps if self.wgan else 1):
                opt_d.zero_grad(set_to_none=True)
                if self.wgan:
                    fake_d = fake.detach()
                    loss_d = D(fake_d).mean() - D(real).mean() + r.gp_weight * gradient_penalty(D, real, fake_d)
                else:
                    loss_d = 0.5 * (self.gan(D(real), True) + self.gan(D(fake.detach()), False))
                loss_d.backward()
                opt_d.step()
            loss_adv = -D(fake).mean() if self.wgan else self.gan(D(fake), True)
        loss_feat = sum((w * fl(fake_rgb, target_rgb) for w, fl in self.feature_losses), torch.zeros(()))
        opt_g.zero_grad(set_to_none=True)
        (loss_main + r.adv_weight * loss_adv + loss_feat).backward()
        opt_g.step()
        return [loss_main.item(), loss_adv.item(), loss_d.item(), loss_feat.item(),
                psnr_batch(fake_rgb, target_rgb), colourfulness_ratio(fake_rgb, target_rgb)]

    def validation_stream(self, paths: list[Path]) -> ColorizationCrops:
        """:class:`~vidcolor.training.data.ColorizationCrops` over the held-back ``paths``, the recipe's seed."""
        return ColorizationCrops(paths, self.recipe.crop, self.recipe.seed)

    def test(self, rgb) -> tuple[torch.Tensor, torch.Tensor]:
        """The rendered output and the ground truth of a uint8 RGB batch, sRGB ``(N, 3, H, W)`` in [0, 1]."""
        L_n = self.put(lab_batch(rgb)[0])
        return lab_to_rgb_torch(render(L_n, self.predict(L_n)[1])), self.put(from_uint8(rgb))


def train_colorize(recipe: ColorizeRecipe, out_dir: str | Path, resume: bool = True, progress=print,
                   device: str = "cpu") -> Path:
    """Train (or resume) a colorization generator (:class:`ColorizeTrainer`); returns the exported
    safetensors path.

    Writes ``checkpoint.pt``, ``log.csv`` (losses, batch PSNR, colourfulness of output / ground truth),
    ``loss.png`` and ``<name>.safetensors`` into ``out_dir`` (see :class:`~vidcolor.training.run.RunDir`).

    Raises:
        ValueError: see :func:`build_colorizer` and :meth:`~vidcolor.training.trainer.Trainer.fit`.
    """
    return ColorizeTrainer(recipe, out_dir, resume, progress, device).fit()
