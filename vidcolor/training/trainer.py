"""The one training skeleton of every job, in BasicSR's shape (``basicsr/models/base_model.py``: a model
object with ``optimize_parameters`` per job; ``basicsr/train.py``: the loop written once).

A job subclasses :class:`Trainer` and writes only what differs: its data (:meth:`Trainer.data`), its
networks (:meth:`Trainer.build_networks`), its loss criteria (:meth:`Trainer.build_losses`), one
step's losses and updates (:meth:`Trainer.optimize_parameters`) and the output a validation batch
gives (:meth:`Trainer.test`); optimisers (:meth:`Trainer.build_optimizers`) and changes of the model
at a given step (:meth:`Trainer.at_step`) have defaults. :meth:`Trainer.fit` does the rest, the same
for all jobs: seed and threads, resuming from ``checkpoint.pt``, the step loop with its ``log.csv``,
validation on held-back photos, checkpoints, the exported weight file.
"""
from __future__ import annotations

import fcntl
import itertools
import math
import os
import signal
import threading
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from vidcolor.training.data import PhotoStream, check_images
from vidcolor.training.measures import colourfulness_ratio, psnr_batch
from vidcolor.training.pack import held_back_photos, is_pack
from vidcolor.training.run import (STOP_SIGNALS, Recipe, RecipeError, RunDir, RunFolderInUse, TrainingDiverged,
                                   describe_hardware)
from vidcolor.errors import VidcolorError, add_note
from vidcolor.weights import load_generator

VALIDATION_FIELDS = ("psnr_output", "colourfulness_ratio")
"""Columns of ``validation.csv`` after ``step``: means over the validation batches (see :meth:`Trainer.validate`)."""


def start_from(model: nn.Module, init_from: str, what: str, fits: Callable[[dict], bool] | None = None,
               new_layers: tuple[str, ...] = ()) -> None:
    """Load the trained generator ``init_from`` (registry name or path) into ``model``: a longer schedule
    resumed across runs, or a network that starts from another job's (a recipe's ``init_from``).

    Args:
        what: the generator the recipe needs, as the error message names it ("a ... generator").
        fits: a check of the stored ``arch`` record (:func:`~vidcolor.weights.load_generator`).
        new_layers: parameter-name prefixes that ``model`` has and ``init_from`` lacks; they keep their
            initialisation (every other parameter must be loaded).

    Raises:
        ValueError: ``init_from`` is unknown or not a generator weight file (a :class:`~vidcolor.errors.VidcolorError`
            of :func:`~vidcolor.weights.load_generator`, which named no recipe key: it escaped ``vidcolor train``'s
            "bad recipe" line), fails ``fits``, or its tensors do not fit ``model`` (other layers or widths); each
            message starts with ``init_from``.
    """
    try:
        base, arch = load_generator(init_from)
    except VidcolorError as exc:
        raise ValueError(f"init_from: {exc}") from None
    if fits is not None and not fits(arch):
        raise ValueError(f"init_from {init_from}: not {what}")
    try:
        missing, unexpected = model.load_state_dict(base.state_dict(), strict=not new_layers)
    except RuntimeError:                # tensors of other sizes (other widths), or layers the model lacks
        raise ValueError(f"init_from {init_from}: not {what} (its layers have other sizes)") from None
    if unexpected or any(not k.startswith(new_layers) for k in missing):
        raise ValueError(f"init_from {init_from}: not {what} (its layers are others)")


def lock_run_folder(folder: Path) -> int:
    """Take ``folder``'s lock (``flock`` on the folder itself: no file is left) for the run in it; returns the
    descriptor to close when the run ends. Two runs in one folder (a second terminal, a rerun while the first
    still trains) wrote the same checkpoint.pt and log.csv, their rows interleaved and each resuming the other's
    networks.

    Raises:
        RunFolderInUse: another process holds the lock.
    """
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunFolderInUse(f"{folder} is in use by another training run (wait for it to end, or give another "
                             f"--out)") from None
    return fd


class StopBetweenSteps:
    """Within the ``with`` block (a run's step loop), a Ctrl-C (SIGINT), SIGTERM or SIGHUP (systemd's stop, a closed
    terminal, ``kill``) is held until the loop asks (:attr:`pending`), between two steps, where the run saves a
    checkpoint of the step it stops at and then stops as the signal would have stopped it (:meth:`stop`: the handler
    it replaced, ``KeyboardInterrupt`` for Python's SIGINT handler, the CLI's ``Terminated`` for SIGTERM and SIGHUP).
    A signal stopped the run wherever it was, maybe inside an optimiser's update, and lost every step since the last
    checkpoint (``checkpoint_every``, 100 steps in the bundled recipes: a run stopped before it could not be resumed
    at all). A second signal while the first is held stops at once, as the first would have (the checkpoint on disk
    stays the last one saved). Only in the main thread (where Python runs signal handlers), and only for the signals
    that are not ignored (a background job's SIGINT, nohup's SIGHUP); the caller's handlers are put back at the end."""

    SIGNALS = STOP_SIGNALS

    def __init__(self):
        self.pending = 0                # the signal held (0: none)
        self._before: dict = {}

    def __enter__(self) -> "StopBetweenSteps":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                before = signal.getsignal(sig)
                if before not in (signal.SIG_IGN, None):
                    self._before[sig] = before
                    signal.signal(sig, self._hold)
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def _restore(self):
        for sig, before in self._before.items():
            signal.signal(sig, before)
        self._before = {}

    def _hold(self, signum, frame) -> None:
        if self.pending:                # a second signal: at once
            self.stop(frame)
        self.pending = signum           # no output here: a print in a signal handler can meet the loop's own print

    def stop(self, frame=None) -> None:
        """Stop as the held signal would have: the replaced handlers are put back and the held signal's is called (it
        raises ``KeyboardInterrupt``, or the CLI's stop); the default action where it was the default."""
        signum, before = self.pending, self._before.get(self.pending)
        self._restore()
        self.pending = 0
        if callable(before):
            before(signum, frame)
        else:
            signal.raise_signal(signum)


def resume_seed(seed: int, step: int) -> int:
    """The torch seed a run resumed at ``step`` (> 0) draws its data stream from, after its networks are built:
    fixed by the recipe's ``seed`` and that step, so a resume is deterministic and draws other samples than
    the run's first steps (which a fresh run draws from ``seed`` itself). The DataLoader workers' samplers are
    not checkpointed, so a resumed run does not draw the batches the uninterrupted run would have."""
    return int(np.random.SeedSequence([seed % 2**63, step]).generate_state(1)[0])


class Trainer:
    """One training run of a job: build, resume, step, log, validate, checkpoint, export.

    Args:
        recipe: the run's :class:`~vidcolor.training.run.Recipe` (a job's subclass).
        out_dir: the run's folder (see :class:`~vidcolor.training.run.RunDir`); created if missing.
        resume: continue from ``out_dir/checkpoint.pt`` when it exists; else start over.
        progress: called with one line per log row, per validation and on resuming.
        device: where the networks train, ``"cpu"`` or ``"cuda"`` (a resolved name:
            :func:`~vidcolor.device.pick_device`). The loader's batches stay on the CPU; each job moves
            what its networks take with :meth:`put`. A recipe gives the same weights again on the same
            device, torch build and ``threads``; a checkpoint resumes on either device.

    Subclasses set :attr:`fields` and override the per-job methods. The networks are named in the
    checkpoint as :meth:`build_networks` names them (``"G"``, the generator that is exported, and
    ``"D"``), the optimisers as :meth:`build_optimizers` does (``"opt_g"``, ``"opt_d"``), so runs saved
    before this skeleton existed resume unchanged.
    """

    fields: tuple[str, ...] = ()
    """Names of the values :meth:`optimize_parameters` returns, logged in this order in ``log.csv``."""

    def __init__(self, recipe: Recipe, out_dir: str | Path, resume: bool = True,
                 progress: Callable[[str], None] = print, device: str = "cpu"):
        self.recipe, self.out_dir, self.resume, self.progress = recipe, Path(out_dir), resume, progress
        self.device = torch.device(device)
        self.networks: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.arch: dict = {}

    # ------------------------------------------------------------------------------------ per job

    def data(self) -> torch.utils.data.DataLoader:
        """The training batches (usually :func:`~vidcolor.training.run.training_loader`); called after
        the seed is set and before the networks are built."""
        raise NotImplementedError

    def build_networks(self) -> tuple[dict[str, nn.Module], dict]:
        """The networks by checkpoint name (``"G"``: the generator, exported at the end) and the ``arch``
        record stored with the exported weights."""
        raise NotImplementedError

    def betas(self) -> tuple[float, float]:
        """Adam's betas for :meth:`adam`: pix2pix's ``(recipe.beta1, 0.999)`` unless a job says otherwise."""
        return self.recipe.beta1, 0.999

    def adam(self, params: Iterable) -> torch.optim.Adam:
        """Adam at the recipe's learning rate with :meth:`betas` over ``params`` (tensors or groups)."""
        return torch.optim.Adam(params, self.recipe.lr, betas=self.betas())

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One :meth:`adam` per network over its trainable parameters, named ``opt_<network name in lower case>``."""
        return {f"opt_{name.lower()}": self.adam([p for p in net.parameters() if p.requires_grad])
                for name, net in self.networks.items()}

    def build_losses(self, loader: torch.utils.data.DataLoader) -> None:
        """Build the loss criteria and constants the steps need (kept on ``self``); called after the
        optimisers. Default: none."""

    def at_step(self, step: int) -> None:
        """Bring networks and optimisers to the configuration they have from ``step`` completed steps
        on (e.g. unfreezing encoder stages). Called before every step, and with the checkpoint's step
        before resuming (so the optimisers have the parameter groups that were saved): it must be
        idempotent. Default: nothing changes."""

    def optimize_parameters(self, batch) -> list[float]:
        """One training step on ``batch`` (as the loader yields it): losses, backward passes, optimiser
        steps. Returns the values of :attr:`fields` for the log."""
        raise NotImplementedError

    def validation_stream(self, paths: list[Path]) -> PhotoStream:
        """The job's sample stream over the held-back photos ``paths`` (see :meth:`validate`)."""
        raise NotImplementedError

    def test(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The generator's output on a validation ``batch`` and its ground truth, both sRGB ``(N, 3, H, W)``
        float in [0, 1]; called in eval mode without gradients."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------- shared

    def put(self, *tensors: torch.Tensor):
        """``tensors`` on the run's device (themselves on the CPU): one tensor for one, else a tuple."""
        moved = tuple(t.to(self.device) for t in tensors)
        return moved[0] if len(moved) == 1 else moved

    @property
    def generator(self) -> nn.Module:
        """The network that is exported (``networks["G"]``)."""
        return self.networks["G"]

    def validation_batches(self) -> list:
        """``recipe.validate_batches`` batches of ``recipe.batch_size`` samples of :meth:`validation_stream`
        over the held-back photos (:func:`~vidcolor.training.pack.held_back_photos`: of ``recipe.data``, or a pack's),
        drawn once in this process (no torch random numbers are used, so validating leaves the training
        run as it would be without). There is always one: the split holds back the first photo.

        Raises:
            ValueError: a held-back photo that cannot be read, or none as large as the crop
                (:func:`~vidcolor.training.data.check_images`: the stream would look for one forever).
        """
        r = self.recipe
        held = held_back_photos(r)
        check_images(held, r.crop, what="held-back (validation) photo")
        samples = iter(self.validation_stream(held))
        return [torch.utils.data.default_collate(list(itertools.islice(samples, r.batch_size)))
                for _ in range(r.validate_batches)]

    @torch.no_grad()
    def validate(self, batches: list) -> list[float]:
        """Mean PSNR (dB, capped at 100) and colourfulness ratio of the generator's outputs on ``batches``
        against their ground truth (:mod:`vidcolor.training.measures`), in eval mode; the networks are
        put back in training mode."""
        for net in self.networks.values():
            net.eval()
        try:
            pairs = [self.test(batch) for batch in batches]
        finally:
            for net in self.networks.values():
                net.train()
        output, truth = torch.cat([o for o, _ in pairs]), torch.cat([t for _, t in pairs])
        return [psnr_batch(output, truth), colourfulness_ratio(output, truth)]

    def check_finite(self, run: RunDir, step: int) -> None:
        """Refuse to save or export networks holding a non-finite (NaN or inf) weight: an update can make them so
        from a loss that was still finite (a huge gradient), and the checkpoint it would have overwritten is the last
        good one.

        Raises:
            TrainingDiverged: naming the first such tensor (:meth:`~vidcolor.training.run.RunDir.diverged`).
        """
        bad = self.non_finite()
        if bad:
            raise run.diverged(step, f"the weights {bad} are not finite after its update")

    def non_finite(self) -> str:
        """The first tensor of the networks (parameter or float buffer) holding a NaN or inf, as ``G.name``; empty
        when every one is finite."""
        for name, net in self.networks.items():
            for key, t in itertools.chain(net.named_parameters(), net.named_buffers()):
                if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                    return f"{name}.{key}"
        return ""

    def check_out_dir(self) -> None:
        """Refuse a run folder inside a folder of images the recipe reads (``data``, unless a pack, and a dequantize
        recipe's ``retro``): those are listed recursively, so the run's ``loss.png`` joined the training images of
        its resume or of the next run, and shifted the holdout split (a held-back photo trained on).

        Raises:
            ValueError: naming both folders.
        """
        out = self.out_dir.resolve()
        for field in ("data", "retro"):
            folder = getattr(self.recipe, field, "")
            if folder and not is_pack(folder) and out.is_relative_to(Path(folder).resolve()):
                raise ValueError(f"the run folder {self.out_dir} is inside the recipe's {field} folder {folder}: its "
                                 f"loss.png would be read as a training image; give an --out outside it")

    def fit(self) -> Path:
        """Train (or resume) to ``recipe.steps`` steps; returns the exported ``<name>.safetensors`` path.

        In order: torch threads and seed from the recipe, :meth:`data`, :meth:`build_networks`,
        :meth:`build_optimizers`, :meth:`build_losses`, resume (a resumed run then reseeds torch with
        :func:`resume_seed`: its data stream is new and deterministic, not the uninterrupted run's); then per
        step :meth:`at_step`, :meth:`optimize_parameters`, a ``log.csv`` row every ``recipe.log_every`` steps, a
        ``validation.csv`` row every ``recipe.validate_every`` steps (0: never), a checkpoint every
        ``recipe.checkpoint_every`` steps and at the last; finally the export and ``loss.png``.

        Raises:
            RecipeError: the recipe cannot be set up (its data, generator, losses or ``init_from``); nothing is
                written.
            CheckpointError: the run folder's checkpoint cannot be read or does not fit the networks (see
                :meth:`~vidcolor.training.run.RunDir.restore`; a ``ValueError``).
            TrainingDiverged: a loss (a field of :attr:`fields` named ``loss...``) that is not finite, at the first
                step that gives one, or networks whose weights are not finite when a checkpoint or the export is
                due (:meth:`check_finite`); the folder's checkpoint stays the last good one, and no weight file is
                written.
        """
        r = self.recipe
        torch.set_num_threads(r.threads)
        torch.manual_seed(r.seed)
        try:                        # the setup checks the recipe against its data, generator and init_from
            self.check_out_dir()
            loader = self.data()
            self.networks, self.arch = self.build_networks()
            for net in self.networks.values():
                net.to(self.device)
            self.optimizers = self.build_optimizers()
            self.build_losses(loader)
            validation = self.validation_batches() if r.validate_every else []
        except ValueError as exc:
            raise RecipeError(str(exc)) from exc
        run = RunDir(self.out_dir, list(self.fields), r, self.resume, self.progress, describe_hardware(self.device))
        lock = lock_run_folder(run.out)
        try:
            objects = {**self.networks, **self.optimizers}
            run.restore(objects, before_optimizers=self.at_step)
            if run.step and (bad := self.non_finite()):   # saved by a run that diverged (before runs stopped at it)
                raise TrainingDiverged(f"{run.ckpt} of step {run.step} holds non-finite weights ({bad}): that run "
                                       f"diverged; start over with --fresh (and a lower lr)")
            if run.step:            # resumed: a new data stream (and torch stream), not a replay of steps 1, 2, ...
                torch.manual_seed(resume_seed(r.seed, run.step))
            for net in self.networks.values():
                net.train()
            with StopBetweenSteps() as interrupt:
                self.step_loop(loader, run, objects, validation, interrupt)
            self.check_finite(run, run.step)
            return run.export(self.generator, self.arch, r)
        finally:
            os.close(lock)

    def step_loop(self, loader, run: RunDir, objects: dict, validation: list, interrupt: StopBetweenSteps) -> None:
        """:meth:`fit`'s step loop, to ``recipe.steps``; a signal held by ``interrupt`` (Ctrl-C, SIGTERM, SIGHUP) saves the step the run has
        reached (unless saved) and stops the run there, with a note on the exception that the run resumes from it."""
        r = self.recipe

        def stop_if_interrupted():
            if not interrupt.pending or run.step >= r.steps:   # every step done (and saved): fit writes the weights
                return
            if run.step and run.saved != run.step:     # step 0: nothing trained, nothing to keep
                self.check_finite(run, run.step)
                run.save(objects)
            try:
                interrupt.stop()
            except BaseException as exc:
                if run.saved is not None:
                    add_note(exc, f"{run.ckpt} holds step {run.saved} of {r.steps}: the same command resumes the run")
                raise

        for batch in loader:
            stop_if_interrupted()
            if run.step >= r.steps:
                break
            self.at_step(run.step)
            values = self.optimize_parameters(batch)
            bad = next(((k, v) for k, v in zip(self.fields, values) if k.startswith("loss")
                        and not math.isfinite(v)), None)
            if bad:             # stop here: the step's update was made from it, and nothing after it is saved
                raise run.diverged(run.step + 1, f"{bad[0]} is {bad[1]}")
            run.record(values, r.log_every)
            if validation and run.step % r.validate_every == 0:
                run.record_validation(list(VALIDATION_FIELDS), self.validate(validation))
            if run.save_due(r):
                self.check_finite(run, run.step)
                run.save(objects)
        stop_if_interrupted()               # held in the step a loader that ran out ended on
