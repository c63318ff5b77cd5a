"""Training loop for the exemplar-guided colorizer (``colorize --reference``, fast mode).

Self-supervised on colour photos: the target is a crop's L, the reference another view of the same
photo (or, sometimes, of another photo: :class:`~vidcolor.training.data.ExemplarPairs`), the loss the
cross-entropy over ab bins against the target's own colours (Zhang et al. 2016, eq. 2). The network
starts from a trained automatic colorizer (``init_from``) whose encoder stays frozen, so only the
decoder and the hint branches train: a CPU-sized run.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from vidcolor.color import AB_SCALE, ab_gamut_bins, annealed_mean, lab_to_rgb_torch
from vidcolor.models.exemplar import ExemplarColorizer
from vidcolor.training.colorize import ColorizeRecipe, bin_weights, bins_loss, lab_batch, render
from vidcolor.training.data import ExemplarPairs
from vidcolor.training.measures import colourfulness_ratio, from_uint8, psnr_batch
from vidcolor.training.run import check_at_least, check_shares, training_loader
from vidcolor.training.trainer import Trainer, start_from


@dataclass
class ExemplarRecipe(ColorizeRecipe):
    """A :class:`~vidcolor.training.colorize.ColorizeRecipe` (bins head, no GAN) plus the exemplar's own fields.

    Raises:
        ValueError: as :class:`~vidcolor.training.colorize.ColorizeRecipe`, and ``mismatch`` outside [0, 1], a
            negative ``max_rotation`` or ``tau`` <= 0.
    """

    name: str = "colorize-exemplar"
    init_from: str = "colorize-effnet"    # automatic colorizer (registry name or path) to start from; "" = none
    mismatch: float = 0.2                 # share of references taken from another photo
    max_rotation: float = 15.0            # degrees, reference view
    tau: float = 0.01                     # matching softmax temperature

    def __post_init__(self):
        super().__post_init__()
        check_shares(self, "mismatch")
        check_at_least(self, 0, "max_rotation")
        check_at_least(self, 0, "tau", strict=True)

    def generator_class(self) -> tuple[type, tuple[str, ...]]:
        """:class:`~vidcolor.models.exemplar.ExemplarColorizer`, whose ``out_channels``, ``pretrained`` and
        ``tau`` the recipe sets."""
        return ExemplarColorizer, ("out_channels", "pretrained", "tau")


def build_exemplar(recipe: ExemplarRecipe, pretrained: bool = True) -> tuple[ExemplarColorizer, dict]:
    """The exemplar colorizer a recipe describes, initialised from ``init_from``, and its ``arch`` record.

    Raises:
        ValueError: recipe fields of :class:`ColorizeRecipe` that this loop does not use were changed
            (another generator or head, GAN and critic settings, loss weights: the loss is the cross-entropy alone,
            unweighted; feature losses, unfreezing), or ``init_from`` is not an
            EfficientNet U-Net colorizer.
    """
    base_fields = ColorizeRecipe.__dataclass_fields__
    unused = [k for k in ("generator", "head", "gan", "perceptual_weight", "lpips_weight", "unfreeze_stages",
                          "ce_weight", "lambda_l1", "adv_weight", "critic_steps", "gp_weight", "ndf")
              if getattr(recipe, k) != base_fields[k].default]      # ce_weight & co. were silently ignored
    if unused:
        raise ValueError(f"the exemplar loop does not use {', '.join(unused)} (bins head, cross-entropy only)")
    kwargs = dict(recipe.generator_kwargs, out_channels=len(ab_gamut_bins()), tau=recipe.tau)
    try:
        model = ExemplarColorizer(pretrained=pretrained and not recipe.init_from, **kwargs)
    except TypeError as exc:            # a value of the wrong type (the keys are checked with the recipe)
        raise ValueError(f"generator_kwargs {recipe.generator_kwargs}: {exc}") from None
    if recipe.init_from:
        start_from(model, recipe.init_from, "an EfficientNet U-Net colorizer of the same widths",
                   new_layers=("hint8.", "hint4."))
    model.encoder.freeze(0)
    arch = {"family": "exemplar", "kwargs": kwargs, "mode": "bins", "job": "colorize-reference",
            "temperature": recipe.temperature}
    return model, arch


class ExemplarTrainer(Trainer):
    """The exemplar colorizer on the :class:`~vidcolor.training.trainer.Trainer` skeleton.

    Data: :class:`~vidcolor.training.data.ExemplarPairs` (``(target, reference)`` batches, uint8 RGB
    ``(N, crop, crop, 3)`` each). Network: ``G`` of :func:`build_exemplar` alone (no critic). Step: the
    cross-entropy over ab bins of the target's colours given the reference's (module docstring).
    """

    fields = ("loss_ce", "psnr_output", "colourfulness_ratio")

    def data(self) -> torch.utils.data.DataLoader:
        """Batches of ``(target, reference)``, uint8 RGB ``(N, crop, crop, 3)`` each
        (:class:`~vidcolor.training.data.ExemplarPairs`)."""
        r = self.recipe
        return training_loader(r, partial(ExemplarPairs, mismatch=r.mismatch, max_rotation=r.max_rotation))

    def build_networks(self) -> tuple[dict[str, torch.nn.Module], dict]:
        """``{"G": the exemplar colorizer of :func:`build_exemplar`}`` and its ``arch``."""
        G, arch = build_exemplar(self.recipe)
        return {"G": G}, arch

    def build_losses(self, loader) -> None:
        """The ab bins (float32 ``(Q, 2)``) and their rebalancing weights (:func:`bin_weights`)."""
        bins = ab_gamut_bins()
        self.bins, self.class_w = self.put(torch.from_numpy(bins), bin_weights(loader.dataset.paths, bins, self.recipe.rebalance))

    def predict(self, target: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logits (N, Q, h, w), sRGB output (N, 3, H, W) in [0, 1], ground-truth ab (N, 2, H, W))`` for
        uint8 target and reference batches; the reference's features are taken without gradients."""
        L_n, ab = self.put(*lab_batch(target))
        with torch.no_grad():
            keys, values = self.generator.reference(*self.put(*lab_batch(reference)))
        out = self.generator(L_n, keys, values)
        with torch.no_grad():
            fake = lab_to_rgb_torch(render(L_n, annealed_mean(out, self.bins, self.recipe.temperature) / AB_SCALE))
        return out, fake, ab

    def optimize_parameters(self, batch) -> list[float]:
        """One step on a ``(target, reference)`` batch: the cross-entropy's update; returns the values of
        :attr:`fields` (loss; PSNR in dB and colourfulness ratio of the output)."""
        target, reference = batch
        opt = self.optimizers["opt_g"]
        out, fake, ab = self.predict(target, reference)
        loss = bins_loss(out, ab, self.bins, self.class_w)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        truth = self.put(from_uint8(target))
        return [loss.item(), psnr_batch(fake, truth), colourfulness_ratio(fake, truth)]

    def validation_stream(self, paths: list[Path]) -> ExemplarPairs:
        """:class:`~vidcolor.training.data.ExemplarPairs` over the held-back ``paths``, the recipe's settings."""
        r = self.recipe
        return ExemplarPairs(paths, r.crop, r.seed, mismatch=r.mismatch, max_rotation=r.max_rotation)

    def test(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The output and the target's ground truth of a ``(target, reference)`` batch, sRGB ``(N, 3, H, W)`` in
        [0, 1]."""
        target, reference = batch
        return self.predict(target, reference)[1], self.put(from_uint8(target))


def train_exemplar(recipe: ExemplarRecipe, out_dir: str | Path, resume: bool = True, progress=print,
                   device: str = "cpu") -> Path:
    """Train (or resume) the exemplar colorizer (:class:`ExemplarTrainer`); returns the exported
    safetensors path.

    Logs the cross-entropy, the batch PSNR of the output and its colourfulness relative to the ground
    truth into ``out_dir`` (see :class:`~vidcolor.training.run.RunDir`).

    Raises:
        ValueError: see :func:`build_exemplar` and :meth:`~vidcolor.training.trainer.Trainer.fit`.
    """
    return ExemplarTrainer(recipe, out_dir, resume, progress, device).fit()
