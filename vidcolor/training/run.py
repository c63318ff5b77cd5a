"""What every job's training run shares: the recipe fields, the training loader, and the run's directory
(resumable checkpoint, CSV logs, loss-curve PNG). The loop itself is :class:`~vidcolor.training.trainer.Trainer`."""
from __future__ import annotations

import csv
import json
import os
import platform
import signal
import time
import tomllib
from dataclasses import MISSING, asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from vidcolor.training.data import VIDEO_HOLDOUT_EVERY, check_images
from vidcolor.training.pack import recipe_images


def _number(value) -> bool:
    """A TOML number (int or float), not a bool or a string."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value, least: int) -> bool:
    """A TOML integer (not a bool) of at least ``least``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def check_generator_table(table, cls, set_by_recipe: tuple[str, ...], what: str) -> None:
    """Check a recipe's table of generator settings (``generator`` of a dequantize recipe, ``generator_kwargs`` of a
    colorize one) against the keyword arguments of ``cls``, the generator's class, less those the recipe sets itself
    (``set_by_recipe``), so that a misspelled key is refused when the recipe is loaded rather than as a
    ``TypeError`` of the constructor. ``what`` names the table in the message.

    Raises:
        ValueError: ``table`` not a table (dict), a key ``cls`` does not take, or a value unlike the argument's
            default: a bool for a bool, a whole number >= 1 (>= 0 where the default is 0) for an int, a number > 0
            for a float, as many whole numbers >= 1 for a tuple.
    """
    import inspect

    if not isinstance(table, dict):
        raise ValueError(f"{what} must be a table of the generator's settings, e.g. {{ ngf = 8 }}, got {table!r}")
    params = {n: p.default for n, p in inspect.signature(cls).parameters.items() if n not in set_by_recipe}
    unknown = sorted(set(table) - set(params))
    if unknown:
        raise ValueError(f"{what}: unknown keys {unknown} (the generator takes {', '.join(params) or 'none'})")
    for name, value in table.items():           # a value like its default: a width or count of 0 fails in torch
        default = params[name]
        if isinstance(default, bool):
            ok, like = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            least = min(default, 1)
            ok, like = _whole(value, least), f"a whole number >= {least}"
        elif isinstance(default, float):
            ok, like = _number(value) and value > 0, "a number > 0"
        elif isinstance(default, tuple):
            ok = isinstance(value, (list, tuple)) and len(value) == len(default) and all(_whole(v, 1) for v in value)
            like = f"{len(default)} whole numbers >= 1"
        else:
            ok, like = True, ""
        if not ok:
            raise ValueError(f"{what}: {name} must be {like}, got {value!r}")


MIN_CROP = 32
"""The smallest training crop (px): under 24 the PatchGAN discriminators' last convolutions have no input left (a
torch error at the first step), and 32 is the EfficientNet encoder's stride."""


def check_shares(recipe, *names: str, open_low: bool = False) -> None:
    """Check that each field ``names`` of ``recipe`` is a number in [0, 1] ((0, 1) with ``open_low``, a share that
    must leave something on both sides).

    Raises:
        ValueError: naming the first field out of range.
    """
    for name in names:
        value = getattr(recipe, name)
        if not (_number(value) and (0 < value < 1 if open_low else 0 <= value <= 1)):
            raise ValueError(f"{name} ({value!r}) must be in {'(0, 1)' if open_low else '[0, 1]'}")


def check_whole(recipe, least: int, *names: str) -> None:
    """Check that each field ``names`` of ``recipe`` is a whole number (not a bool) >= ``least``.

    Raises:
        ValueError: naming the first field that is not.
    """
    for name in names:
        if not _whole(getattr(recipe, name), least):
            raise ValueError(f"{name} must be a whole number >= {least}, got {getattr(recipe, name)!r}")


def check_at_least(recipe, least: float, *names: str, strict: bool = False) -> None:
    """Check that each field ``names`` of ``recipe`` is a number >= ``least`` (> with ``strict``).

    Raises:
        ValueError: naming the first field out of range.
    """
    for name in names:
        value = getattr(recipe, name)
        if not (_number(value) and (value > least if strict else value >= least)):
            raise ValueError(f"{name} must be a number {'>' if strict else '>='} {least}, got {value!r}")


@dataclass
class Recipe:
    """The fields every training recipe has (one TOML file in ``train/`` per bundled weight file).

    Raises:
        ValueError: a field whose default is a string (``data``, ``video``, a job's ``init_from``, ...) or a bool
            (``consistency``) given another type, an empty ``data``, a field of :data:`COUNTS` not a whole number >= 1, ``workers`` or ``validate_every`` not a
            whole number >= 0, ``lr`` <= 0, ``beta1`` outside [0, 1), ``decay_from`` outside [0, steps),
            ``video_share`` outside (0, 1), ``crop`` under :data:`MIN_CROP`, ``seed`` not a whole number >= 0, or a
            ``name`` that is not a plain file name (empty, ``.``/``..``, or with a slash, backslash or NUL).
    """

    name: str = "run"
    data: str = "../shared/data/train"
    holdout_every: int = 20              # every 20th photo (sorted paths) is never trained on
    video: str = ""                      # folder of colour clips whose frames join the photos ("" = photos only)
    video_holdout_every: int = VIDEO_HOLDOUT_EVERY  # every 2nd clip (sorted) is held back, never trained on
    video_stride: int = 3                # every 3rd frame of a training clip
    video_share: float = 0.3             # share of the training samples drawn from those frames
    steps: int = 2000
    batch_size: int = 16
    crop: int = 128                      # training crops, pixels
    lr: float = 2e-4                     # Adam (pix2pix: 2e-4, beta1 0.5)
    decay_from: int | None = None        # pix2pix's policy: constant lr until this step, then linear to 0 at ``steps``
    beta1: float = 0.5
    ndf: int = 32                        # discriminator width
    seed: int = 0
    threads: int = 2                     # torch threads
    workers: int = 1                     # data-loading processes
    log_every: int = 20
    checkpoint_every: int = 100
    validate_every: int = 0              # a validation.csv row every this many steps (0 = never)
    validate_batches: int = 4            # validation set: this many batches of held-back photos

    COUNTS = ("steps", "batch_size", "crop", "holdout_every", "video_holdout_every", "video_stride", "ndf", "threads",
              "log_every", "checkpoint_every", "validate_batches")
    """Fields that must be whole numbers >= 1 (a 0 would otherwise fail deep in the run, as a division by zero or
    an empty crop, after the run's folder was made)."""

    def __post_init__(self):
        if not (isinstance(self.name, str) and self.name.strip() and self.name not in (".", "..")
                and not any(c in self.name for c in "/\\\0")):
            raise ValueError(f"name must be a plain file name (the weight file is <name>.safetensors), got {self.name!r}")
        for name, f in self.__dataclass_fields__.items():    # a job's fields too: retro, init_from, mode, ...
            if isinstance(f.default, str) and not isinstance(getattr(self, name), str):   # data = 5: a TypeError
                raise ValueError(f"{name} must be a string (quoted in TOML), got {getattr(self, name)!r}")
            if isinstance(f.default, bool) and not isinstance(getattr(self, name), bool):  # "false" was true
                raise ValueError(f"{name} must be true or false (unquoted in TOML), got {getattr(self, name)!r}")
        if not self.data.strip():       # Path("") is the current folder: every image under it was trained on
            raise ValueError(f"data must name a folder of photos (or a pack), got {self.data!r}")
        check_whole(self, 1, *self.COUNTS)
        check_whole(self, 0, "workers", "validate_every")
        if not (_number(self.lr) and self.lr > 0 and _number(self.beta1) and 0 <= self.beta1 < 1):
            raise ValueError(f"lr must be > 0 and beta1 in [0, 1), got {self.lr!r} and {self.beta1!r}")
        if self.decay_from is not None and not (_whole(self.decay_from, 0) and self.decay_from < self.steps):
            raise ValueError(f"decay_from ({self.decay_from!r}) must be in [0, steps) = [0, {self.steps})")
        check_shares(self, "video_share", open_low=True)
        if self.crop < MIN_CROP:
            raise ValueError(f"crop must be at least {MIN_CROP} px, got {self.crop}")
        check_whole(self, 0, "seed")

    FOLDERS = ("data", "video", "retro", "init_from")
    """Fields that name a file or folder: a resume compares them as paths (``os.path.normpath``), so that ``pack/``
    resumes a run of ``pack`` (it was refused as "a run of another recipe")."""

    STEP_MARKS = ("decay_from",)
    """Fields that name a step of the schedule (None or 0: unset); :meth:`with_steps` scales them."""

    RESUME_FREE = ("name", "log_every", "checkpoint_every", "validate_every", "validate_batches", "workers", "threads")
    """Fields a resumed run may change (its folder's ``recipe.json`` then records the new values): they change what
    is logged, checkpointed or validated, the weight file's name, or how fast the run goes, not what is trained.
    ``steps`` and the :data:`STEP_MARKS` may change too while the schedule has not reached them
    (:meth:`resume_differences`); every other field must be the folder's."""

    def resume_differences(self, saved: dict, step: int) -> list[str]:
        """The fields in which this recipe, resuming a run at ``step`` completed steps, differs from the run's
        recipe ``saved`` (its ``recipe.json``) in what is trained, as ``"field X there, Y here"``; empty when the
        resume may go on. Fields of :data:`RESUME_FREE` may differ; a step mark (:data:`STEP_MARKS`) may move
        while both its old and its new place are at or past ``step`` (no update done so far depended on it), and
        ``steps`` may while no step mark of the lr decay (``decay_from``) is before ``step`` (before it, the lr does
        not depend on ``steps``) and not to fewer than ``step`` (the run would stop at once and export its weights of
        ``step`` steps under a recipe.json of fewer). A field ``saved`` lacks (a recipe.json of an older version) counts as its
        default."""
        here = json.loads(json.dumps(asdict(self)))
        def default(f):                          # a field the saved record lacks: the class default
            return json.loads(json.dumps(f.default if f.default is not MISSING else f.default_factory()))

        there = {name: saved[name] if name in saved else default(f) for name, f in self.__dataclass_fields__.items()}

        def unreached(mark) -> bool:
            return mark is None or mark >= step

        def same_folder(a, b) -> bool:       # "pack/" (a shell's completion) and "./pack" name "pack"
            return isinstance(a, str) and isinstance(b, str) and bool(a) and bool(b) and (
                os.path.normpath(a) == os.path.normpath(b))

        out = []
        for name, value in here.items():
            old = there[name]
            if old == value or name in self.RESUME_FREE:
                continue
            if name in self.FOLDERS and same_folder(old, value):
                continue
            if name in self.STEP_MARKS and unreached(old) and unreached(value):
                continue
            if (name == "steps" and value >= step          # fewer steps than done: the run "finished" past its end
                    and unreached(there.get("decay_from")) and unreached(here.get("decay_from"))):
                continue
            out.append(f"{name} {old!r} there, {value!r} here")
        return out

    def with_steps(self, steps: int):
        """This recipe over ``steps`` steps, the schedule's shape kept: each step mark in :data:`STEP_MARKS`
        moves in proportion (``decay_from`` 4500 of 7000 becomes 64 of 100), rounded, and a mark
        before the end stays before it.
        The intervals (``log_every``, ``checkpoint_every``, ``validate_every``) stay as they are.

        Raises:
            ValueError: ``steps`` is not a whole number >= 1 (the recipe's own check, :data:`COUNTS`)."""
        marks = {name: round(mark * steps / self.steps) if mark >= self.steps    # a mark past the end stays past it
                 else min(round(mark * steps / self.steps), steps - 1)
                 for name in self.STEP_MARKS if (mark := getattr(self, name))}
        return replace(self, steps=steps, **marks)

    @classmethod
    def from_toml(cls, path: str | Path, others: bool | set[str] = False):
        """Build the recipe from a TOML file; unknown keys, TOML syntax errors and the values the recipe class refuses
        raise ``ValueError`` (naming ``path``, then the key). ``others``: leave out, rather than refuse, the keys this class lacks (a job's recipe read for the
        fields every job has, as ``vidcolor train pack`` reads it): all of them (True), or those in the set (the
        fields of every job's recipe class: a misspelt key, such as ``holdout_evry``, is still refused rather than
        packed by its default)."""
        with open(path, "rb") as f:
            try:
                raw = tomllib.load(f)
            except tomllib.TOMLDecodeError as exc:   # a ValueError that names no file
                raise ValueError(f"{path}: {exc}") from None
            except UnicodeDecodeError as exc:        # not text (a weight file given as the recipe): no file named
                raise ValueError(f"{path}: not a TOML recipe (not UTF-8 text: {exc.reason} at byte {exc.start})") from None
        unknown = set(raw) - set(cls.__dataclass_fields__)
        refused = unknown if others is False else set() if others is True else unknown - set(others)
        if refused:
            raise ValueError(f"{path}: unknown recipe keys {sorted(refused)}")
        try:
            return cls(**{k: v for k, v in raw.items() if k not in unknown})
        except (ValueError, TypeError) as exc:   # "lr must be > 0": which file said so, in one line
            raise ValueError(f"{path}: {exc}") from None


def training_loader(recipe: Recipe, stream_cls, pixel_art: list[Path] | None = None, pixel_art_share: float = 0.0,
                    **stream_kwargs) -> torch.utils.data.DataLoader:
    """A loader of ``recipe.batch_size`` batches of ``stream_cls`` samples
    (a :class:`~vidcolor.training.data.PhotoStream`) over the training split of the recipe's photos and,
    when the recipe names a ``video`` folder, the frames of its training clips (drawn ``video_share`` of
    the time). ``pixel_art`` images (dequantization only) are drawn ``pixel_art_share`` of the time and
    flagged to the stream (``pixel_art=`` flags); other ``stream_kwargs`` go to ``stream_cls``. The streams
    draw from the torch seed in force (``Trainer.fit`` sets the recipe's).

    Raises:
        ValueError: a photo folder without training images, a video folder without training clips, shares
            that leave no room for the photos, or images that cannot be read or are all smaller than the crop
            (:func:`~vidcolor.training.data.check_images`).
    """
    groups = recipe_images(recipe)
    if pixel_art:
        groups.append((pixel_art, pixel_art_share))
    p = None
    if len(groups) > 1:
        rest = 1.0 - sum(share for _, share in groups[1:])
        if rest <= 0:
            raise ValueError("video_share and the pixel-art share leave nothing for the photos")
        p = [w for group, share in groups for w in [(rest if share is None else share) / len(group)] * len(group)]
    all_paths = [q for group, _ in groups for q in group]
    flags = [False] * (len(all_paths) - len(pixel_art or [])) + [True] * len(pixel_art or [])
    check_images(all_paths, recipe.crop, flags)
    if pixel_art:
        stream_kwargs["pixel_art"] = flags
    stream = stream_cls(all_paths, recipe.crop, recipe.seed, p, **stream_kwargs)
    return torch.utils.data.DataLoader(stream, batch_size=recipe.batch_size, num_workers=recipe.workers,
                                       persistent_workers=recipe.workers > 0,
                                       worker_init_fn=ignore_interrupts if recipe.workers > 0 else None)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""The signals that stop a training run between two steps, saving the step it stops at
(:class:`~vidcolor.training.trainer.StopBetweenSteps`): Ctrl-C, and SIGTERM and SIGHUP (systemd's stop, ``kill``, a
closed terminal)."""


def ignore_interrupts(worker_id: int) -> None:
    """A data worker's ``worker_init_fn``: ignore the :data:`STOP_SIGNALS`. Each of them may reach the whole
    process group, or the whole service (a terminal's Ctrl-C, its SIGHUP when closed, ``kill -TERM -PGID``,
    systemd's stop of every process of a unit): a worker that got SIGINT ended (torch's worker loop takes the
    KeyboardInterrupt as its stop), and the training process, which saves the step it stops at
    (:class:`~vidcolor.training.trainer.StopBetweenSteps`), then waited on a worker that was gone; one that got
    SIGTERM or SIGHUP died, and torch's SIGCHLD check stopped the training process at once with 'internal error
    (RuntimeError: DataLoader worker (pid(s) ...) exited unexpectedly)', leaving no checkpoint. The training process
    ends its workers itself (torch's loader tells them to stop when it is closed), and a worker whose training
    process is gone stops by itself (torch's watchdog)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


class RecipeError(ValueError):
    """A recipe whose values are each well-formed but that cannot be set up: an unknown generator or loss, a head
    the generator lacks, an ``init_from`` model of another architecture, a data folder without images. Raised by
    :meth:`~vidcolor.training.trainer.Trainer.fit` before the run's folder is made."""


class CheckpointError(ValueError):
    """A run folder's ``checkpoint.pt`` that cannot be read, or that holds other networks than the recipe's (a
    run folder reused for another recipe); raised before the folder's ``recipe.json`` is touched."""


class RunFolderInUse(OSError):
    """A run folder another training run is using (:func:`~vidcolor.training.trainer.lock_run_folder`)."""


class TrainingDiverged(RuntimeError):
    """A run whose loss, or whose networks' weights, became non-finite (NaN or inf): a learning rate too high for the
    recipe, or bad data. Raised by :meth:`~vidcolor.training.trainer.Trainer.fit` at the first such step, before
    anything of it is saved: the folder's ``checkpoint.pt`` stays the last good one (a NaN run trained on silently to
    its end, overwriting it and exporting NaN weights)."""


def describe_hardware(device: str | torch.device = "cpu") -> str:
    """Where this process trains, as a weight file's card gives it: ``"CPU: AMD EPYC 9R14 (2 cores)"``, or with
    ``device`` ``cuda`` ``"GPU: NVIDIA H200; CPU: ... (16 cores)"``; the CPU's model name from ``/proc/cpuinfo``
    (Linux), else :func:`platform.processor` or the machine type, and the cores this process may use
    (:func:`os.sched_getaffinity` where there is one, else :func:`os.cpu_count`)."""
    name = ""
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    name = name or platform.processor() or platform.machine() or "unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpu = f"CPU: {name} ({cores} core{'' if cores == 1 else 's'})"
    if torch.device(device).type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(torch.device(device))}; {cpu}"
    return cpu


class RunDir:
    """``out_dir`` of one run: ``checkpoint.pt`` (modules, optimisers, step, seconds), ``log.csv``
    (means over ``log_every`` steps of the named fields), ``validation.csv`` (when validating),
    ``recipe.json`` and ``loss.png``.

    Args:
        out_dir: created if missing.
        fields: logged values after ``step`` and ``seconds``.
        recipe: the run's recipe dataclass (written as JSON).
        resume: continue from ``checkpoint.pt`` when present; a run that starts over removes the folder's
            checkpoint, weight file and ``loss.png`` when it starts (:meth:`restore`).
        progress: called with each log line.
        hardware: where this session trains (:func:`describe_hardware`); the checkpoint keeps the sessions' (each
            kind once, in the order first used), and the weight file's metadata gets them (``hardware``, a JSON
            list), so that a run resumed on a GPU after CPU steps says both.
    """

    def __init__(self, out_dir: str | Path, fields: list[str], recipe, resume: bool = True, progress=print,
                 hardware: str = ""):
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.fields, self.progress = fields, progress
        self.ckpt, self.log = self.out / "checkpoint.pt", self.out / "log.csv"
        self.validation_log = self.out / "validation.csv"
        self.resume = resume and self.ckpt.exists()
        self.step, self.t0 = 0, time.time()
        self._acc, self._n = np.zeros(len(fields)), 0
        self.recipe, self._optimizers = recipe, []
        self.hardware = [hardware] if hardware else []
        self.saved: int | None = None       # the step of the folder's checkpoint of this run (None: none yet)

    def _checkpoint(self) -> dict:
        """``checkpoint.pt``'s contents; :class:`CheckpointError` when it cannot be read."""
        try:
            return torch.load(self.ckpt, map_location="cpu", weights_only=True)   # loading puts each tensor in place
        except Exception as exc:            # truncated, not a torch file, unpickling refused: all one case here
            raise CheckpointError(f"{self.ckpt} cannot be read ({type(exc).__name__})") from exc

    def _check_recipe(self, step: int) -> None:
        """Refuse to resume, at ``step``, a run whose ``recipe.json`` differs from this recipe in what is trained
        (:meth:`Recipe.resume_differences`): :class:`CheckpointError`. A folder without ``recipe.json`` is not
        checked (the networks still are, as they load)."""
        record = self.out / "recipe.json"
        if not record.exists():
            return
        try:
            saved = json.loads(record.read_text())
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{record} cannot be read ({type(exc).__name__})") from None
        differences = self.recipe.resume_differences(saved, step)
        if differences:
            raise CheckpointError(f"{self.out} holds a run of another recipe ({'; '.join(differences[:3])}"
                                  f"{'; ...' if len(differences) > 3 else ''})")

    def restore(self, objects: dict, before_optimizers=None) -> dict:
        """Load the state of ``objects`` (name -> module/optimiser) from the checkpoint if resuming;
        returns the checkpoint's ``extra`` dict (empty when starting fresh). The checkpoint is read once.

        A module may have *grown* since the checkpoint (a recipe switched on a new input such as the
        generator's ``use_phase``): parameters missing from the checkpoint keep their initialisation
        and their optimiser state starts empty; they must be registered after the old ones. Any
        other mismatch raises :class:`CheckpointError`, before ``recipe.json`` is written.

        A recipe that differs from the folder's ``recipe.json`` in what is trained is refused first
        (:meth:`Recipe.resume_differences`, :class:`CheckpointError`).

        When resuming, the rows of ``log.csv`` and ``validation.csv`` past the checkpoint's step are dropped (the
        run logs those steps again).

        ``before_optimizers(step)``, when given and resuming, is called with the checkpoint's step after
        every other object has loaded and before the optimisers do: where a recipe changes its optimiser
        at a step (colorize's unfreezing adds a parameter group), the optimiser must have that shape to
        take its saved state, and nothing is announced for a checkpoint that is then refused.

        The optimisers among ``objects`` then follow the recipe's learning-rate schedule
        (:func:`lr_factor`), set here and after every :meth:`record`."""
        extra: dict = {}
        if self.resume:
            state = self._checkpoint()
            self._check_recipe(int(state["step"]))
            grown: list[str] = []
            optimizers = {k: o for k, o in objects.items() if isinstance(o, torch.optim.Optimizer)}
            try:
                for name, obj in objects.items():
                    if isinstance(obj, torch.nn.Module):
                        grown += [f"{name}.{k}" for k in _load_grown(obj, state[name])]
                    elif name not in optimizers:
                        obj.load_state_dict(state[name])
                if before_optimizers is not None:
                    before_optimizers(int(state["step"]))
                for name, opt in optimizers.items():
                    _load_optimizer_grown(opt, state[name])
            except (KeyError, RuntimeError, ValueError) as exc:  # load_state_dict: RuntimeError on other shapes
                detail = " ".join(line.strip() for line in str(exc).strip().splitlines()[:2])[:160]
                raise CheckpointError(f"{self.ckpt} holds other networks than this recipe's ({detail})") from exc
            self.step, extra = state["step"], state.get("extra", {})
            self.saved = self.step
            self.t0 = time.time() - state["elapsed"]
            earlier = list(state.get("hardware", []))      # absent in checkpoints written before stop 64
            self.hardware = earlier + [h for h in self.hardware if h not in earlier]
            self.progress(f"resumed at step {self.step}"
                          + (f"; new parameters start from their initialisation: {', '.join(grown)}" if grown else ""))
        if not self.resume:         # starting over: what an earlier run left is not this run's
            self._clear_earlier_run()
        (self.out / "recipe.json").write_text(json.dumps(asdict(self.recipe), indent=2))
        if not self.resume or not self.log.exists():
            with open(self.log, "w", newline="") as f:
                csv.writer(f).writerow(["step", "seconds"] + self.fields)
        if not self.resume:
            self.validation_log.unlink(missing_ok=True)
        else:                       # rows logged after the checkpoint are done again: keep them once
            for log in (self.log, self.validation_log):
                _drop_rows_after(log, self.step)
        self._optimizers = [o for o in objects.values() if isinstance(o, torch.optim.Optimizer)]
        self._schedule_lr()
        return extra

    def _clear_earlier_run(self) -> None:
        """Remove, before a run starts over in this folder (``--fresh``, or no checkpoint), the files an earlier run
        left that this one writes only later: ``checkpoint.pt`` (and a ``.tmp`` of a save cut short), the weight file
        ``<name>.safetensors`` and ``loss.png``. A ``--fresh`` run stopped before its first checkpoint left the
        earlier run's checkpoint beside its own ``recipe.json``, which the next plain resume then continued (the
        earlier networks, step and schedule, under the new recipe, its log a mix of both runs); and a weight file
        of the earlier run beside the new run's log and recipe was published as this run's. Only in a folder that
        holds a run (its ``recipe.json``): another folder's files (``--out`` a folder of weight files) stay until
        the export overwrites the one of this name."""
        if not (self.out / "recipe.json").is_file():
            return
        for stale in (self.ckpt, self.ckpt.with_suffix(".tmp"), self.out / f"{self.recipe.name}.safetensors",
                      self.out / "loss.png"):
            stale.unlink(missing_ok=True)

    def _schedule_lr(self) -> None:
        """Set every parameter group's ``lr`` to its ``initial_lr`` (the lr it was created with, kept in the
        optimiser's state across resumes) times :func:`lr_factor`. Written out rather than a
        ``torch.optim.lr_scheduler.LambdaLR`` because groups can be added mid-run (colorize's unfreezing)."""
        factor = lr_factor(self.recipe, self.step)
        for opt in self._optimizers:
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * factor

    @property
    def seconds(self) -> float:
        """Wall-clock seconds of training so far, those of the runs it resumes included."""
        return time.time() - self.t0

    def record(self, values: list[float], log_every: int) -> None:
        """Count one step with its logged values; every ``log_every`` steps, and at the recipe's last step, append
        their mean to the CSV (a run shorter than ``log_every`` still logs a row, and so draws ``loss.png``)."""
        self.step += 1
        self._schedule_lr()
        self._acc += values
        self._n += 1
        if self.step % log_every == 0 or self.step == self.recipe.steps:
            row = [self.step, round(self.seconds, 1)] + [round(v, 5) for v in self._acc / self._n]
            with open(self.log, "a", newline="") as f:
                csv.writer(f).writerow(row)
            self.progress(" ".join(f"{k}={v}" for k, v in zip(["step", "seconds"] + self.fields, row)))
            self._acc[:], self._n = 0, 0

    def record_validation(self, fields: list[str], values: list[float]) -> None:
        """Append the current step and ``values`` (named ``fields``) to ``validation.csv`` and report them."""
        new = not self.validation_log.exists()
        with open(self.validation_log, "a", newline="") as f:
            if new:
                csv.writer(f).writerow(["step"] + fields)
            csv.writer(f).writerow([self.step] + [round(v, 5) for v in values])
        self.progress("validation " + " ".join(f"{k}={round(v, 5)}" for k, v in zip(["step"] + fields, [self.step] + values)))

    def save(self, objects: dict, extra: dict | None = None) -> None:
        """Write the checkpoint (atomic rename; a save cut short leaves the previous checkpoint and no ``.tmp``)."""
        state = {name: obj.state_dict() for name, obj in objects.items()}
        state.update(step=self.step, elapsed=self.seconds, extra=extra or {}, hardware=self.hardware)
        tmp = self.ckpt.with_suffix(".tmp")
        try:
            torch.save(state, tmp)
            tmp.replace(self.ckpt)
        except BaseException:           # Ctrl-C, SIGTERM or a full disk mid-save: the checkpoint stays the last
            tmp.unlink(missing_ok=True)  # whole one, and no partial checkpoint.tmp is left beside it
            raise
        self.saved = self.step

    def save_due(self, recipe: Recipe) -> bool:
        """Whether a checkpoint is due now: every ``recipe.checkpoint_every`` steps and at the last step."""
        return self.step % recipe.checkpoint_every == 0 or self.step == recipe.steps

    def save_if_due(self, objects: dict, recipe: Recipe) -> None:
        """Checkpoint every ``recipe.checkpoint_every`` steps and at the last step (:meth:`save_due`)."""
        if self.save_due(recipe):
            self.save(objects)

    def diverged(self, step: int, what: str) -> TrainingDiverged:
        """The error of a run that diverged at ``step`` (``what``: the loss or weight that is not finite), in one line
        that says which checkpoint is kept."""
        kept = (f"{self.ckpt} of step {self.saved} is kept" if self.saved is not None
                else "no checkpoint was saved before it")
        return TrainingDiverged(f"training diverged at step {step}: {what}; nothing of it was saved ({kept}); lower "
                                f"the recipe's lr (now {self.recipe.lr:g}) or check its data")

    def export(self, generator: torch.nn.Module, arch: dict, recipe: Recipe) -> Path:
        """Write ``<name>.safetensors`` (fp16, ``arch``, steps, seconds, the sessions' hardware and the recipe in its
        metadata) and ``loss.png``; returns the weight file's path."""
        from vidcolor.weights import save_generator

        weights = self.out / f"{recipe.name}.safetensors"
        save_generator(generator, weights, arch, extra={"steps": self.step, "train_seconds": round(self.seconds),
                                                        "hardware": self.hardware, "recipe": asdict(recipe)})
        plot_log(self.log, self.out / "loss.png")
        return weights


def _drop_rows_after(log_csv: Path, step: int) -> None:
    """Remove the rows of ``log_csv`` (a ``log.csv`` or ``validation.csv``; absent: nothing) whose step is past
    ``step``, the checkpoint's: the run resumes there and logs those steps again."""
    if not log_csv.exists():
        return
    with open(log_csv, newline="") as f:
        rows = list(csv.reader(f))
    kept = rows[:1] + [row for row in rows[1:] if row and float(row[0]) <= step]
    if len(kept) < len(rows):
        with open(log_csv, "w", newline="") as f:
            csv.writer(f).writerows(kept)


def lr_factor(recipe: Recipe, step: int) -> float:
    """Learning-rate multiplier for the update after ``step`` completed steps: 1 without
    ``recipe.decay_from``; else pix2pix's ``linear`` policy (Isola et al. 2017, code: ``n_epochs`` at the
    base rate, then ``n_epochs_decay`` decaying linearly towards 0), here in steps: 1 until
    ``decay_from``, then ``(steps - step) / (steps - decay_from)``, so the last update gets
    ``1 / (steps - decay_from)`` (the recipe checks ``0 <= decay_from < steps``)."""
    start = recipe.decay_from
    if start is None or step < start:
        return 1.0
    return max(0.0, (recipe.steps - step) / (recipe.steps - start))


def _load_grown(module: torch.nn.Module, state: dict) -> list[str]:
    """Load ``state`` into ``module``, allowing the model's newest (last registered) parameters to be
    missing from the checkpoint; returns their names. Anything else missing or extra raises ``ValueError``."""
    result = module.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise ValueError(f"checkpoint has parameters the model lacks: {result.unexpected_keys}")
    missing = list(result.missing_keys)
    names = [n for n, _ in module.named_parameters()]
    if missing and names[-len(missing):] != missing:
        raise ValueError(f"checkpoint lacks entries that are not the model's newest parameters: {missing}")
    return missing


def _load_optimizer_grown(opt: torch.optim.Optimizer, state: dict) -> None:
    """Load an optimiser's state saved when its model had fewer parameters: new ones trailing in a
    group, or in new trailing groups (which keep their current settings)."""
    groups = state["param_groups"]
    if len(groups) > len(opt.param_groups):
        raise ValueError("checkpoint optimiser has more parameter groups than the model's")
    next_id = sum(len(g["params"]) for g in groups)
    for saved, current in zip(groups, opt.param_groups):
        extra = len(current["params"]) - len(saved["params"])
        if extra < 0:
            raise ValueError("checkpoint optimiser has more parameters than the model")
        saved["params"] = list(saved["params"]) + list(range(next_id, next_id + extra))
        next_id += extra
    for current in opt.param_groups[len(groups):]:
        n = len(current["params"])
        groups.append({**{k: v for k, v in current.items() if k != "params"}, "params": list(range(next_id, next_id + n))})
        next_id += n
    opt.load_state_dict(state)


def plot_log(log_csv: str | Path, png: str | Path) -> None:
    """Draw every logged column of a ``log.csv`` against the step, one panel each, into a PNG (columns that
    are 0 throughout, i.e. losses the recipe does not use, are left out)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(log_csv) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    cols = [k for k in rows[0] if k not in ("step", "seconds") and any(float(r[k]) for r in rows)]  # unused: all 0
    step = np.array([float(r["step"]) for r in rows])
    fig, axes = plt.subplots(1, len(cols), figsize=(3.3 * len(cols), 3.2), squeeze=False)
    for ax, k in zip(axes[0], cols):
        ax.plot(step, [float(r[k]) for r in rows])
        ax.set_title(k, fontsize=9)
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(png, dpi=80)
    plt.close(fig)
