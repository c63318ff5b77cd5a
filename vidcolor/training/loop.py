"""Training loop for the dequantization generators (pix2pix objective, Isola et al. 2017 eq. 4).

``G* = arg min_G max_D  L_cGAN(G, D) + lambda * L_L1(G)`` with lambda = 100, Adam (lr 2e-4,
beta1 0.5). The L1 term is taken on the RGB reconstruction in [-1, 1] (after recombining L and ab for
the LAB modes), so that it rewards what PSNR measures; the discriminator sees (input, output) in the
generator's own colour space (conditional PatchGAN).

Recipes may replace the reconstruction term by the squared error (``loss = "l2"``: what PSNR, the
dequantize target, measures), drop the adversarial term (``adv_weight = 0``: no discriminator is
built, the generator is trained by regression alone), and score images of uniform levels on the consistency
stage's output rather than the generator's own (``consistency = true``, :mod:`vidcolor.training.consistency`).

Modes: ``lab`` (Pix2Pix-FQ with luminance restoration: L and ab corrected), ``ab`` (Pix2Pix-FQ as in
seed 000: only ab corrected, L from the source), ``rgb`` (the pix2pix RGB baseline, same settings).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from vidcolor.color import lab_to_rgb_torch, model_input
from vidcolor.models import PatchGANDiscriminator, UNetGenerator
from vidcolor.models.two_image import gray
from vidcolor.training.consistency import through_stage
from vidcolor.training.data import DequantizationPairs, folder_named, split_retro
from vidcolor.training.degrade import KIND_SHARES, check_kinds
from vidcolor.training.losses import GAN_MODES, GANLoss
from vidcolor.training.measures import from_uint8, psnr_pooled
from vidcolor.training.pack import missing_folder
from vidcolor.training.run import Recipe, check_at_least, check_generator_table, check_shares, training_loader
from vidcolor.training.trainer import Trainer, start_from


MODES = ("lab", "ab", "rgb")
"""A dequantize recipe's ``mode`` (see the module docstring); another value would train as ``lab``."""


@dataclass
class DequantizeRecipe(Recipe):
    """Everything that determines a trained dequantization generator (one TOML file in ``train/``).

    Raises:
        ValueError: as :class:`~vidcolor.training.run.Recipe`, and a ``mode`` not in :data:`MODES`, ``loss`` other
            than ``l1``/``l2``, ``gan_mode`` not in :data:`~vidcolor.training.losses.GAN_MODES`, a negative ``adv_weight``, ``smooth_weight`` or ``lambda_l1``, ``phase_lr`` <= 0,
            ``identity`` or ``identity_pixel_art`` outside [0, 1], ``retro_share`` outside (0, 1), ``kinds`` not a
            non-empty subset of :data:`~vidcolor.training.degrade.KIND_SHARES` (:func:`~vidcolor.training.degrade.check_kinds`), or
            ``generator`` not a table of :class:`~vidcolor.models.UNetGenerator`'s settings
            (:func:`~vidcolor.training.run.check_generator_table`).
    """

    name: str = "dequantize-fq"
    mode: str = "lab"                    # lab | ab | rgb
    lambda_l1: float = 100.0
    gan_mode: str = "lsgan"
    adv_weight: float = 1.0              # 0: no discriminator (regression only)
    loss: str = "l1"                     # reconstruction term on RGB in [-1, 1]: l1 (pix2pix) | l2 (squared error)
    generator: dict = field(default_factory=lambda: {"ngf": 16, "depth": 5, "use_histogram": True})
    phase_lr: float = 2e-3               # Adam lr of the level-phase input layer (generator use_phase), see below
    retro: str = ""                      # folder of pixel art / game frames (split by data.split_retro); "" = none
    retro_share: float = 0.3             # share of the samples drawn from its training images
    identity: float = 0.1                # share of photo/frame samples left unquantized (target = input)
    identity_pixel_art: float = 0.35     # the same for pixel art (natively low-palette: already the target)
    kinds: list = field(default_factory=lambda: list(KIND_SHARES))  # quantizer kinds drawn (degrade.KIND_SHARES)
    init_from: str = ""                  # start from this trained generator (registry name or path); "" = none
    smooth_weight: float = 0.0           # extra reconstruction weight on smooth target pixels (smooth_pixels); 0 = none
    consistency: bool = False            # score images of uniform levels after the consistency stage (training.consistency)
    log_every: int = 10

    RESUME_FREE = Recipe.RESUME_FREE + ("generator",)
    """As :class:`~vidcolor.training.run.Recipe`'s, and ``generator``: a run may be resumed with a new input
    switched on (``use_phase``, whose layer starts from its initialisation); any other change of the generator is
    refused as the checkpoint loads (:meth:`~vidcolor.training.run.RunDir.restore`)."""

    def __post_init__(self):
        super().__post_init__()
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.loss not in ("l1", "l2"):
            raise ValueError(f"loss must be l1 or l2, got {self.loss!r}")
        if self.gan_mode not in GAN_MODES:  # was "unknown GAN loss 'x'" as the run was set up, the key not named
            raise ValueError(f"gan_mode must be one of {', '.join(GAN_MODES)}, got {self.gan_mode!r}")
        check_at_least(self, 0, "adv_weight", "smooth_weight", "lambda_l1")
        check_at_least(self, 0, "phase_lr", strict=True)
        check_shares(self, "identity", "identity_pixel_art")
        check_shares(self, "retro_share", open_low=True)
        check_kinds(self.kinds)   # at load, not in a data worker at the first step
        check_generator_table(self.generator, UNetGenerator, ("in_channels", "out_channels"), "generator")


def generator_optimizer(G: UNetGenerator, recipe: DequantizeRecipe) -> torch.optim.Adam:
    """Adam over the generator; the level-phase input layer ``phase_in`` (if any) in a second group at
    ``recipe.phase_lr``. That layer starts at zero and its inputs are small after H.264 (a few tenths),
    so at the generator's 2e-4 it moved by under 0.01 in 200 steps, far from the ~0.1 needed to switch
    the global offset by a bin's half-width; 10x lets it be learned within a fine-tune."""
    phase = list(G.phase_in.parameters()) if G.phase_in is not None else []
    rest = [p for p in G.parameters() if all(p is not q for q in phase)]
    groups = [{"params": rest}] + ([{"params": phase, "lr": recipe.phase_lr}] if phase else [])
    return torch.optim.Adam(groups, recipe.lr, betas=(recipe.beta1, 0.999))


def model_space(rgb: torch.Tensor, mode: str) -> torch.Tensor:
    """uint8 RGB tensor ``(N, H, W, 3)`` (on the CPU) -> the generator's input ``(N, 3, H, W)`` float32.

    LAB modes (``lab``, ``ab``; any mode but ``rgb``): normalised LAB (``L/50-1``, ``ab/110``); ``rgb``: RGB in
    [-1, 1] (:func:`~vidcolor.color.model_input`).
    """
    return torch.from_numpy(model_input(rgb.numpy(), mode)).permute(0, 3, 1, 2)


def to_rgb01(x_in: torch.Tensor, g_out: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Assemble the full output in model space and its sRGB [0, 1] rendering (differentiable).

    Args:
        x_in: generator input ``(N, 3, H, W)`` (:func:`model_space`); g_out: generator output ``(N, C, H, W)``,
            C = 2 (corrected ab) in mode ``ab``, else 3; mode: ``lab``, ``ab`` or ``rgb``.

    Returns:
        ``(full (N, 3, H, W) in model space (unclamped), rgb (N, 3, H, W) in [0, 1])``: ``rgb`` is ``full``
        clamped to [-1, 1] and rescaled in mode ``rgb``, else :func:`~vidcolor.color.lab_to_rgb_torch` (clipped).
    """
    full = torch.cat([x_in[:, :1], g_out], 1) if mode == "ab" else g_out
    rgb = (full.clamp(-1, 1) + 1) / 2 if mode == "rgb" else lab_to_rgb_torch(full)
    return full, rgb


SMOOTH_STD = 2.0 / 255.0
"""Local standard deviation of the target's luma (RGB in [0, 1]; 2 levels of 255) under which a pixel counts as
smooth for ``smooth_weight``: where a gradient's false contours can be undone, against texture whose detail
the quantizer erased (stop 40, ``benchmarks/dequantize_error_split.py``: on the validation clip frames at 4-bit
mid, such pixels (16%) keep 74% of their input's squared error after the default pipeline)."""


def smooth_pixels(rgb: torch.Tensor, size: int = 5) -> torch.Tensor:
    """1 where the BT.601 luma of ``rgb`` (float ``(N, 3, H, W)`` in [0, 1]) has a local standard deviation
    (``size`` x ``size`` box, replicate padding) under :data:`SMOOTH_STD`, else 0: float ``(N, 1, H, W)``."""
    y = gray(rgb)
    pad = torch.nn.functional.pad(y, [size // 2] * 4, mode="replicate")
    mean = torch.nn.functional.avg_pool2d(pad, size, 1)
    var = torch.nn.functional.avg_pool2d(pad * pad, size, 1) - mean * mean
    return (var < SMOOTH_STD ** 2).float()


def build_generator(recipe: DequantizeRecipe) -> tuple[UNetGenerator, dict]:
    """The generator a recipe describes, and the ``arch`` record stored with its weights; with
    ``recipe.init_from``, its weights are that trained generator's (a longer schedule resumed across runs).

    Raises:
        ValueError: ``init_from`` is not a dequantization U-Net of the recipe's mode and generator settings, or
            the U-Net's constructor refuses a value of ``recipe.generator`` (a ``TypeError`` there).
    """
    kwargs = dict(in_channels=3, out_channels=2 if recipe.mode == "ab" else 3, **recipe.generator)
    try:
        G = UNetGenerator(**kwargs)
    except TypeError as exc:            # a value of the wrong type (the keys are checked with the recipe)
        raise ValueError(f"generator {recipe.generator}: {exc}") from None
    if recipe.init_from:
        start_from(G, recipe.init_from, f"a dequantization U-Net with mode {recipe.mode!r} and {kwargs}",
                   lambda a: (a.get("family"), a.get("job", "dequantize"), a.get("mode"), a.get("kwargs"))
                   == ("unet", "dequantize", recipe.mode, kwargs))
    return G, {"family": "unet", "kwargs": kwargs, "mode": recipe.mode, "job": "dequantize"}


class DequantizeTrainer(Trainer):
    """The dequantization job on the :class:`~vidcolor.training.trainer.Trainer` skeleton.

    Data: :class:`~vidcolor.training.data.DequantizationPairs` (``(coarse, fine, cue)`` batches: uint8
    ``(N, crop, crop, 3)`` twice and float32 ``(N, CUE_DIM)``; with ``recipe.consistency`` also the stage's terms,
    float32 ``(N, crop, crop, TERMS)``, and a float32 ``(N,)`` flag), with pixel art from ``recipe.retro``.
    Networks: the U-Net generator ``G`` of :func:`build_generator` and, unless ``adv_weight`` is 0, a
    conditional PatchGAN ``D`` on (input, output) pairs, 6 channels. Step: pix2pix (eq. 4), see the module
    docstring. The log's ``loss_rec`` is the reconstruction term (L1 or squared error, RGB in [-1, 1]);
    ``psnr_input`` / ``psnr_output`` are pooled over the batch (:func:`~vidcolor.training.measures.psnr_pooled`).

    Raises (from :meth:`~vidcolor.training.trainer.Trainer.fit`):
        ValueError: ``recipe.retro`` names a folder without training images.
    """

    fields = ("loss_rec", "loss_g_adv", "loss_d", "psnr_input", "psnr_output")

    @property
    def adversarial(self) -> bool:
        """Whether the recipe trains with a discriminator (``adv_weight > 0``)."""
        return self.recipe.adv_weight > 0

    def data(self) -> torch.utils.data.DataLoader:
        """Batches of :class:`~vidcolor.training.data.DequantizationPairs` (see the class docstring), with the
        training images of ``recipe.retro`` as pixel art."""
        r = self.recipe
        pixel_art = split_retro(r.retro)[0] if r.retro else None
        if r.retro and not pixel_art:
            raise ValueError(f"retro: no training images under {folder_named(r.retro)}{missing_folder(r.retro)}")
        return training_loader(r, DequantizationPairs, pixel_art, r.retro_share, identity=r.identity,
                               identity_pixel_art=r.identity_pixel_art, kinds=tuple(r.kinds),
                               consistency=r.consistency)

    def build_networks(self) -> tuple[dict[str, torch.nn.Module], dict]:
        """``{"G": U-Net generator, "D": conditional PatchGAN on 6 channels}`` (no ``D`` when ``adv_weight`` is 0)
        and the generator's ``arch``."""
        G, arch = build_generator(self.recipe)
        nets = {"G": G}
        if self.adversarial:
            nets["D"] = PatchGANDiscriminator(in_channels=6, ndf=self.recipe.ndf)
        return nets, arch

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """``opt_g`` (:func:`generator_optimizer`) and, with a discriminator, ``opt_d``
        (:meth:`~vidcolor.training.trainer.Trainer.adam`)."""
        opts = {"opt_g": generator_optimizer(self.generator, self.recipe)}
        if self.adversarial:
            opts["opt_d"] = self.adam(self.networks["D"].parameters())
        return opts

    def build_losses(self, loader) -> None:
        """The GAN criterion of ``recipe.gan_mode`` (:class:`~vidcolor.training.losses.GANLoss`)."""
        self.gan = GANLoss(self.recipe.gan_mode)

    def optimize_parameters(self, batch) -> list[float]:
        """One pix2pix step on a :class:`~vidcolor.training.data.DequantizationPairs` batch: the discriminator's
        update (if any), then the generator's on ``adv_weight * adversarial + lambda_l1 * reconstruction``;
        returns the values of :attr:`fields` (losses; pooled PSNR in dB of input and output)."""
        r, G, D = self.recipe, self.generator, self.networks.get("D")
        opt_g = self.optimizers["opt_g"]
        coarse, fine, cue = batch[:3]
        x, cue, in_rgb, target_rgb = self.put(model_space(coarse, r.mode), cue, from_uint8(coarse), from_uint8(fine))
        fake, fake_rgb = to_rgb01(x, G(x, cue), r.mode)
        if r.consistency:                  # images of uniform levels: scored after the consistency stage
            terms, has = self.put(batch[3].permute(0, 3, 1, 2), batch[4].view(-1, 1, 1, 1))
            staged = through_stage(fake_rgb, in_rgb, terms)
            fake_rgb = torch.where(has > 0, staged, fake_rgb)
        loss_adv = loss_d = torch.zeros(())
        if D is not None:
            # discriminator: real (x, y) vs fake (x, G(x))
            opt_d = self.optimizers["opt_d"]
            y = self.put(model_space(fine, r.mode))
            opt_d.zero_grad(set_to_none=True)
            loss_d = 0.5 * (self.gan(D(torch.cat([x, y], 1)), True) + self.gan(D(torch.cat([x, fake.detach()], 1)), False))
            loss_d.backward()
            opt_d.step()
        # generator: fool D + lambda * reconstruction on RGB in [-1, 1]
        opt_g.zero_grad(set_to_none=True)
        if D is not None:
            loss_adv = self.gan(D(torch.cat([x, fake], 1)), True)
        diff = 2.0 * (fake_rgb - target_rgb)
        err = diff.abs() if r.loss == "l1" else diff.square()
        if r.smooth_weight:
            w = 1.0 + r.smooth_weight * smooth_pixels(target_rgb)
            loss_rec = (err * w).sum() / (w.sum() * err.shape[1])
        else:
            loss_rec = err.mean()
        (r.adv_weight * loss_adv + r.lambda_l1 * loss_rec).backward()
        opt_g.step()
        return [loss_rec.item(), loss_adv.item(), loss_d.item(), psnr_pooled(in_rgb, target_rgb),
                psnr_pooled(fake_rgb, target_rgb)]

    def validation_stream(self, paths: list[Path]) -> DequantizationPairs:
        """Quantized held-back photos only (no identity samples: their PSNR says nothing)."""
        return DequantizationPairs(paths, self.recipe.crop, self.recipe.seed, identity=0.0)

    def test(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The generator's output (not through the consistency stage) and the ground truth of a ``(coarse, fine,
        cue)`` batch, sRGB ``(N, 3, H, W)`` in [0, 1]."""
        coarse, fine, cue = batch
        x, cue = self.put(model_space(coarse, self.recipe.mode), cue)
        return to_rgb01(x, self.generator(x, cue), self.recipe.mode)[1], self.put(from_uint8(fine))


def train_dequantize(recipe: DequantizeRecipe, out_dir: str | Path, resume: bool = True,
                     progress=print, device: str = "cpu") -> Path:
    """Train (or resume) a dequantization generator (:class:`DequantizeTrainer`); returns the exported
    safetensors path.

    Writes into ``out_dir``: ``checkpoint.pt`` (G, D, optimisers, step; resumable), ``log.csv``
    (step, seconds, losses, batch PSNR of input and output), ``loss.png`` and ``<name>.safetensors``.

    Raises:
        ValueError: see :class:`DequantizeTrainer` and :meth:`~vidcolor.training.trainer.Trainer.fit`.
    """
    return DequantizeTrainer(recipe, out_dir, resume, progress, device).fit()
