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
from torch.nn import functional as F

from vidcolor.color import AB_SCALE, ab_gamut_bins, annealed_mean, lab_to_rgb_torch
from vidcolor.models.exemplar import ExemplarColorizer
from vidcolor.training.colorize import ColorizeRecipe, bin_weights, lab_batch
from vidcolor.training.data import ExemplarPairs
from vidcolor.training.losses import ab_cross_entropy, soft_encode
from vidcolor.training.measures import colourfulness_ratio, psnr_batch
from vidcolor.training.run import RunDir, start
from vidcolor.weights import load_generator


@dataclass
class ExemplarRecipe(ColorizeRecipe):
    """A :class:`~vidcolor.training.colorize.ColorizeRecipe` (bins head, no GAN) plus the exemplar's own fields."""

    name: str = "colorize-exemplar"
    init_from: str = "colorize-effnet"    # automatic colorizer (registry name or path) to start from; "" = none
    mismatch: float = 0.2                 # share of references taken from another photo
    max_rotation: float = 15.0            # degrees, reference view
    tau: float = 0.01                     # matching softmax temperature


def build_exemplar(recipe: ExemplarRecipe, pretrained: bool = True) -> tuple[ExemplarColorizer, dict]:
    """The exemplar colorizer a recipe describes, initialised from ``init_from``, and its ``arch`` record.

    Raises:
        ValueError: recipe fields of :class:`ColorizeRecipe` that this loop does not use were changed
            (another generator or head, GAN, feature losses, unfreezing), or ``init_from`` is not an
            EfficientNet U-Net colorizer.
    """
    base_fields = ColorizeRecipe.__dataclass_fields__
    unused = [k for k in ("generator", "head", "gan", "perceptual_weight", "lpips_weight", "unfreeze_stages")
              if getattr(recipe, k) != base_fields[k].default]
    if unused:
        raise ValueError(f"the exemplar loop does not use {', '.join(unused)} (bins head, cross-entropy only)")
    kwargs = dict(recipe.generator_kwargs, out_channels=len(ab_gamut_bins()), tau=recipe.tau)
    model = ExemplarColorizer(pretrained=pretrained and not recipe.init_from, **kwargs)
    if recipe.init_from:
        base, _ = load_generator(recipe.init_from)
        missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
        if unexpected or any(not k.startswith(("hint8.", "hint4.")) for k in missing):
            raise ValueError(f"{recipe.init_from}: not an EfficientNet U-Net colorizer of the same widths")
    model.encoder.freeze(0)
    arch = {"family": "exemplar", "kwargs": kwargs, "mode": "bins", "job": "colorize-reference",
            "temperature": recipe.temperature}
    return model, arch


def train_exemplar(recipe: ExemplarRecipe, out_dir: str | Path, resume: bool = True, progress=print) -> Path:
    """Train (or resume) the exemplar colorizer; returns the exported safetensors path.

    Logs the cross-entropy, the batch PSNR of the output and its colourfulness relative to the ground
    truth into ``out_dir`` (see :class:`~vidcolor.training.run.RunDir`).
    """
    loader = start(recipe, partial(ExemplarPairs, mismatch=recipe.mismatch, max_rotation=recipe.max_rotation))
    G, arch = build_exemplar(recipe)
    opt = torch.optim.Adam([p for p in G.parameters() if p.requires_grad], recipe.lr, betas=(recipe.beta1, 0.999))
    bins = torch.from_numpy(ab_gamut_bins())
    class_w = bin_weights(loader.dataset.paths, bins.numpy(), recipe.rebalance)
    run = RunDir(out_dir, ["loss_ce", "psnr_output", "colourfulness_ratio"], recipe, resume,
                 progress)
    objects = {"G": G, "opt_g": opt}
    run.restore(objects)

    G.train()
    for target, reference in loader:
        if run.step >= recipe.steps:
            break
        L_n, ab = lab_batch(target)
        with torch.no_grad():
            keys, values = G.reference(*lab_batch(reference))
        out = G(L_n, keys, values)
        ab_small = F.adaptive_avg_pool2d(ab, out.shape[-2:])
        loss = ab_cross_entropy(out, soft_encode(ab_small, bins), class_w)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            truth = target.permute(0, 3, 1, 2).float() / 255.0
            ab_pred = annealed_mean(out, bins, recipe.temperature) / AB_SCALE
            fake = lab_to_rgb_torch(torch.cat([L_n, F.interpolate(ab_pred, size=L_n.shape[-2:], mode="bilinear")], 1))
            run.record([loss.item(), psnr_batch(fake, truth), colourfulness_ratio(fake, truth)], recipe.log_every)
        run.save_if_due(objects, recipe)
    return run.export(G, arch, recipe)
