"""Weight registry and safetensors loading: model name -> file + card, never pickle.

A weight file carries its own architecture in the safetensors metadata (``arch`` JSON), so loading
needs no side file: ``{"family": "unet", "kwargs": {...}, "mode": "lab"}``.
"""
from __future__ import annotations

import importlib.resources
import json
import os
from pathlib import Path

from safetensors import SafetensorError, safe_open

from vidcolor.errors import VidcolorError
from vidcolor.io.files import default_file_mode
from vidcolor.names import check_named

WEIGHTS_DIR = Path(str(importlib.resources.files("vidcolor") / "weights"))
"""The bundled weight files and their model cards: package data of ``vidcolor`` (``vidcolor/weights/``, a data
folder beside this module, without ``__init__.py``: ``import vidcolor.weights`` is this module), so an installed
wheel finds them wherever it is installed."""

REGISTRY: dict[str, str] = {
    "dequantize-fq-l2": "dequantize-fq-l2.safetensors",
    "dequantize-pix2pix-rgb": "dequantize-pix2pix-rgb.safetensors",
    "colorize-effnet": "colorize-effnet.safetensors",
    "colorize-effnet-video": "colorize-effnet-video.safetensors",
    "colorize-exemplar": "colorize-exemplar.safetensors",
}
"""Bundled models: name -> file in :data:`WEIGHTS_DIR` (a model card ``<stem>.md`` sits beside each)."""

def _model_files(graphs: bool) -> str:
    """The files that name a model besides a bundled name, as :func:`resolve`'s errors say them."""
    return "a .safetensors path" + (" or an .onnx graph written by vidcolor export" if graphs else "")


def check_model_name(name_or_path, graphs: bool = False) -> None:
    """Refuse an empty model name (:func:`~vidcolor.names.check_named`), in :func:`resolve`'s wording (``graphs``:
    an exported .onnx graph is taken too); anything else, None too, passes.

    Raises:
        VidcolorError: ``"the model name is empty: give a bundled model's name (...) or a .safetensors path"``.
    """
    check_named(name_or_path, "model", f"give a bundled model's name ({', '.join(sorted(REGISTRY))}) or "
                f"{_model_files(graphs)}")


def resolve(name_or_path: str, graphs: bool = False) -> Path:
    """Find a weight file by registry name or filesystem path. ``graphs``: the caller also runs an exported
    ``.onnx`` graph (a job's engine, :func:`vidcolor.engine.load_engine`), and the error says it may be given.

    Raises:
        VidcolorError: if neither a registered name nor an existing file (a folder is said to be one, with the
            weight files it holds); an empty name (:func:`~vidcolor.names.check_named`).
        TypeError: ``name_or_path`` is no ``str`` or path (None, a number: os's "expected str, bytes or os.PathLike
            object, not NoneType", naming no parameter).
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"model must be a bundled model's name or a weight file's path (str or pathlib.Path), got "
                        f"{type(name_or_path).__name__} {name_or_path!r}"[:300])
    check_model_name(name_or_path, graphs)    # was "model '' is a folder, not a model" (the current folder)
    if name_or_path in REGISTRY:
        path = WEIGHTS_DIR / REGISTRY[name_or_path]
    else:
        path = Path(name_or_path)
    if not path.is_file():
        known, given = ", ".join(sorted(REGISTRY)), _model_files(graphs)
        if path.is_dir():               # was "model 'runs/x' not found", of a folder that is there
            held = sorted(p.name for p in path.glob("*.safetensors") if p.is_file())
            inside = f" ({path} holds {', '.join(held[:3])}{', ...' if len(held) > 3 else ''}: give its path)" \
                if held else ""
            raise VidcolorError(f"model {str(name_or_path)!r} is a folder, not a model: a model is a bundled "
                                f"model's name ({known}) or {given}{inside}")
        raise VidcolorError(f"model {str(name_or_path)!r} not found (bundled models: {known}, or give {given})")
    return path


def save_generator(model, path: str | Path, arch: dict, extra: dict | None = None, half: bool = True) -> None:
    """Write a generator's state dict to safetensors (fp16 by default) with its ``arch`` in the metadata.

    Raises:
        VidcolorError: the file cannot be written.
    """
    from safetensors.torch import save_file

    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu()
             for k, v in model.state_dict().items()}
    meta = {"arch": json.dumps(arch)}
    meta.update({k: json.dumps(v) for k, v in (extra or {}).items()})
    try:
        save_file(state, str(path), metadata=meta)
        os.chmod(path, default_file_mode())  # safetensors writes 0600; a weight file is meant to be shared
    except (OSError, SafetensorError) as exc:
        raise VidcolorError(f"{path}: cannot write the weight file ({exc})") from None


def read_arch(name_or_path: str) -> dict:
    """A weight file's ``arch`` record, from its safetensors header alone (no tensor read, no torch).

    Raises:
        VidcolorError: unknown name, missing file, or a file that is not a vidcolor generator.
    """
    path = resolve(name_or_path)
    try:
        with safe_open(str(path), framework="numpy") as f:
            return json.loads((f.metadata() or {})["arch"])
    except (KeyError, ValueError, TypeError, OSError, SafetensorError) as exc:
        raise VidcolorError(f"{path}: not a vidcolor generator weight file ({exc.__class__.__name__})") from None


def load_generator(name_or_path: str, device: str = "cpu") -> tuple:
    """Load a generator in eval mode, float32, on ``device``.

    Returns:
        ``(model, arch)`` where ``arch`` holds ``family``, ``kwargs`` and ``mode`` (``lab``: L and ab
        corrected, ``ab``: ab only, ``rgb``: the pix2pix RGB baseline).

    Raises:
        VidcolorError: unknown name, missing file, or a file that is not a vidcolor generator.
    """
    path = resolve(name_or_path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
        arch = json.loads(meta["arch"])
    except (KeyError, ValueError, TypeError, OSError, SafetensorError) as exc:
        raise VidcolorError(f"{path}: not a vidcolor generator weight file ({exc.__class__.__name__})") from None
    return generator_of(arch, state, path).to(device), arch


def generator_from_bytes(data: bytes, arch: dict, path: str | Path):
    """The generator of a weight file whose bytes, ``data``, the caller has read already (to hash them:
    :func:`vidcolor.engine.cached_onnx`), and whose ``arch`` record it read (:func:`read_arch`), as
    :func:`load_generator` loads it (eval mode, float32, on the CPU), parsed from memory: the file is not read
    again. ``path`` names it in errors.

    Raises:
        VidcolorError: ``data`` is not a vidcolor generator weight file of that ``arch``.
    """
    from safetensors.torch import load

    try:
        state = load(data)
    except (ValueError, TypeError, OSError, SafetensorError) as exc:
        raise VidcolorError(f"{path}: not a vidcolor generator weight file ({exc.__class__.__name__})") from None
    return generator_of(arch, state, path)


def generator_of(arch: dict, state: dict, path: str | Path):
    """The generator that ``arch`` (``family`` and ``kwargs``) describes, with the tensors ``state`` (a state
    dict, any float dtype: made float32) loaded, in eval mode on the CPU. ``path`` names the weight file in errors.

    Raises:
        VidcolorError: an unknown family, or tensors that do not fit it.
    """
    from vidcolor.models import FAMILIES

    try:
        model = FAMILIES[arch["family"]](**arch["kwargs"])
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise VidcolorError(f"{path}: not a vidcolor generator weight file ({exc.__class__.__name__})") from None
    return model.eval()
