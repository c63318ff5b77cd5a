"""The colorization job that :func:`~vidcolor.api.colorize`'s options describe (automatic, fast or internal
reference, keyframes), and the checks of its reference images and saved models. :func:`colorizer` is public,
given by :mod:`vidcolor.api`."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from vidcolor.arrays import described
from vidcolor.errors import VidcolorError, option
from vidcolor.jobs import DEFAULTS, RENDER_SIZE
from vidcolor.names import check_named
from vidcolor.pipeline import Colorizer, LabJob, is_integer


INTERNAL, KEYFRAMES = (option("reference_mode='internal'"),
                       option("reference_mode='keyframes'", "--reference without an image (keyframes)"))


def colorizer(model: str | None = None, device: str = "auto", render_size: int = RENDER_SIZE,
              saturation: float | None = None, temperature: float | None = None, blur: bool = False,
              equalize: bool = False, references: str | Path | list[str | Path] | None = None, reference_mode: str = "fast",
              internal_iters: int = 2000, internal_size: int = 256, save_model: str | Path | None = None,
              load_model: str | Path | None = None, progress: bool = True, backend: str = "auto",
              precision: str = "auto") -> LabJob:
    """The colorization job that :func:`~vidcolor.api.colorize`'s options describe (automatic, fast or internal
    reference).

    ``references`` is a list of paths, or one path (:func:`reference_list`). The options are
    :func:`~vidcolor.api.colorize`'s.

    Returns:
        The job (:class:`~vidcolor.pipeline.Colorizer`, :class:`~vidcolor.reference.ReferenceColorizer`,
        :class:`~vidcolor.reference.KeyframeColorizer` or :class:`~vidcolor.reference.InternalColorizer`):
        ``job(frames uint8 RGB (N, H, W, 3)) -> uint8 RGB (N, H, W, 3)``, the output's L the input's; other frames
        raise ValueError.

    One job per thread: a job keeps per-clip state from call to call (the temporal smoother's previous frame, the
    keyframe and internal colorizers' clip), so two threads calling one job mix their clips with no error
    (:class:`~vidcolor.pipeline.Dequantizer` says the same).

    Raises:
        VidcolorError: options that do not go together, unreadable references, an option of another type or
            outside its range, unknown model.
        TypeError: references that are no paths (:func:`reference_list`), a model that is no name or path.
    """
    check_model_files(save_model, load_model)
    references = reference_list(references)
    if reference_mode not in ("fast", "internal", "keyframes"):
        raise VidcolorError(f"unknown {option('reference_mode')} {reference_mode!r} (fast, internal or keyframes)")
    if reference_mode == "keyframes":
        if references or save_model or load_model:
            raise VidcolorError(f"{KEYFRAMES} takes no reference images, "
                                f"{option('save_model')} or {option('load_model')}")
        from vidcolor.reference import KeyframeColorizer   # torch: the reference encoder

        return KeyframeColorizer(DEFAULTS["colorize-reference"] if model is None else model, device=device,
                                 render_size=render_size,
                                 saturation=saturation, temperature=temperature, blur=blur, equalize=equalize,
                                 backend=backend, precision=precision)
    if reference_mode == "internal" and not (references or load_model):
        raise VidcolorError(f"{INTERNAL} needs {option('references', 'a --reference')} (or {option('load_model')})")
    internal = reference_mode == "internal"
    if (save_model or load_model) and not internal:
        raise VidcolorError(f"{option('save_model')} / {option('load_model')} belong to {INTERNAL}")
    if save_model and load_model:
        raise VidcolorError(f"{option('save_model')} saves what internal mode trains, and with {option('load_model')} "
                            "nothing is trained: give one of them")
    if internal:
        if backend not in ("auto", "torch") or precision not in ("auto", "fp32"):
            raise VidcolorError(f"{option('backend')} and {option('precision')} do not apply to {INTERNAL} (torch, fp32)")
        if model is not None:
            raise VidcolorError(f"{option('model')} does not apply to {INTERNAL} (it trains its own)")
        if saturation is not None or temperature is not None or blur or equalize:
            raise VidcolorError(f"{option('saturation')}, {option('temperature')}, {option('blur')} and {option('equalize')} "
                                f"do not apply to {INTERNAL}")
        from vidcolor.internal import TwoImageSettings
        from vidcolor.reference import InternalColorizer, read_references

        if not (is_integer(internal_iters) and is_integer(internal_size) and internal_iters >= 1
                and internal_size >= 32):
            raise VidcolorError(f"{option('internal_iters')} must be an integer >= 1 and {option('internal_size')} one "
                                f">= 32, got {internal_iters!r} and {internal_size!r}")
        refs = read_references(references, longer_side=internal_size) if references else []
        return InternalColorizer(refs, device, TwoImageSettings(iters=internal_iters, size=internal_size),
                                 load_model, save_model, progress=progress)
    if references:
        from vidcolor.reference import ReferenceColorizer, read_references   # torch: the reference encoder

        return ReferenceColorizer(read_references(references, render_size),
                                  DEFAULTS["colorize-reference"] if model is None else model, device,
                                  render_size, saturation, temperature, blur, equalize, backend, precision)
    return Colorizer(DEFAULTS["colorize"] if model is None else model, device, render_size, saturation, temperature,
                     blur, equalize, backend, precision)


def check_model_files(save_model: str | Path | None, load_model: str | Path | None) -> None:
    """Refuse a ``save_model`` or ``load_model`` given as an empty name (:func:`~vidcolor.names.check_named`): ''
    was taken as not given (keyframes, fast mode's save_model), said to be missing (internal load_model) or failed
    after the training (internal save_model). :func:`colorizer` checks, and :func:`~vidcolor.api.colorize` before its
    ``skip_existing`` return."""
    for name, given in (("save_model", save_model), ("load_model", load_model)):
        check_named(given, option(name), "give a file's name, or leave it out")


def reference_list(references: str | Path | Iterable[str | Path] | None) -> list[str | Path]:
    """``references`` as a list: one path (``str`` or ``Path``) is a list of one, not its characters; None is
    empty; a 1-d NumPy array of paths (``np.array(["a.jpg", "b.jpg"])``, strings or objects) is its ``tolist()``.

    Raises:
        TypeError: something else than paths (an image array: os's 'expected str, bytes or os.PathLike object, not
            ndarray', naming no parameter), saying that arrays go to
            :class:`~vidcolor.reference.ReferenceColorizer`.
    """
    if references is None:
        return []
    if isinstance(references, (str, os.PathLike)):
        return [references]
    if isinstance(references, np.ndarray) and references.ndim == 1 and references.dtype.kind in "UO":
        references = references.tolist()        # paths (np.str_ elements); image arrays are refused below
    elif not isinstance(references, np.ndarray):
        with contextlib.suppress(TypeError):
            references = list(references)
    if isinstance(references, list) and all(isinstance(r, (str, os.PathLike)) for r in references):
        return references
    given = next((r for r in references if not isinstance(r, (str, os.PathLike))), references) \
        if isinstance(references, list) else references
    raise TypeError(f"references must be image files (a path, str or pathlib.Path, or a list of them), got "
                    f"{described(given)}" + ("; image arrays uint8 RGB (H, W, 3) go to "
                                             "vidcolor.reference.ReferenceColorizer([image, ...])"
                                             if isinstance(given, np.ndarray) and given.dtype.kind in "biuf" else ""))
