"""The job registry: every job vidcolor runs or trains, by name, in one place.

A job's name is what its weight files declare (``arch["job"]``); the registry gives its default bundled
model, the suffix of its default output name, and, for jobs with bundled weights, the ``vidcolor train``
command and where its recipe class and training loop live. Training code is named, not imported, so
the runtime path never loads :mod:`vidcolor.training` (:func:`training_loop` imports it on demand).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Job:
    """One job.

    Attributes:
        name: the ``arch["job"]`` of its weight files.
        model: default bundled model (registry name in :mod:`vidcolor.weights`); None for jobs that train
            their network at run time.
        suffix: default output ``<stem>_<suffix>.mp4`` (``.png`` for images, ``<folder>_<suffix>/``).
        train: name of its ``vidcolor train`` command; None when it has no bundled weights to reproduce.
        loop: ``"module:RecipeClass:train_function"`` of its training loop.
    """

    name: str
    model: str | None
    suffix: str
    train: str | None = None
    loop: str | None = None


JOBS: dict[str, Job] = {j.name: j for j in (
    Job("dequantize", "dequantize-fq-l2", "dequantized", "dequantize", "vidcolor.training.loop:DequantizeRecipe:train_dequantize"),
    Job("colorize", "colorize-effnet-video", "colorized", "colorize",
        "vidcolor.training.colorize:ColorizeRecipe:train_colorize"),
    Job("colorize-reference", "colorize-exemplar", "colorized", "exemplar",
        "vidcolor.training.exemplar:ExemplarRecipe:train_exemplar"),
    Job("colorize-internal", None, "colorized"),
)}

DEFAULTS: dict[str, str] = {name: job.model for name, job in JOBS.items() if job.model}
"""Default model per job (a view of :data:`JOBS`)."""

TRAINABLE: dict[str, Job] = {job.train: job for job in JOBS.values() if job.train}
"""``vidcolor train`` command name -> job."""


def training_loop(train: str) -> tuple[type, Callable]:
    """``(recipe dataclass with from_toml, training function (recipe, out_dir, resume, progress))`` of the
    ``vidcolor train`` command ``train``, imported now.

    Raises:
        KeyError: no such training command.
    """
    module, recipe, fn = TRAINABLE[train].loop.split(":")
    mod = importlib.import_module(module)
    return getattr(mod, recipe), getattr(mod, fn)
