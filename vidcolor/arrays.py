"""Checks of the arrays the library is given, with errors that name what was given (numpy's, OpenCV's and Pillow's
own errors said little, or nothing: a gray image read as W channels, NaN LAB written as white)."""
from __future__ import annotations

import numpy as np

RGB_SHAPES = {None: "(..., H, W, 3)", (3,): "(H, W, 3)", (4,): "(N, H, W, 3)", (3, 4): "(N, H, W, 3) or (H, W, 3)"}
"""How an error names the shapes :func:`check_rgb` takes, by its ``ndims``."""


def described(x) -> str:
    """An argument as an error names it: an array's dtype and shape (``float32 (2, 0, 3)``), else its type's name (a
    list has no dtype)."""
    return f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__


def check_rgb(x, ndims: tuple[int, ...] | None = None, name: str = "") -> np.ndarray:
    """``x`` if it is uint8 RGB: a NumPy uint8 array whose last axis is 3, with ``ndims`` dimensions (None: at least
    3: a frame ``(H, W, 3)`` or a stack of them), none of its sides empty.

    ``ndims`` must be a key of :data:`RGB_SHAPES` (None, ``(3,)``, ``(4,)`` or ``(3, 4)``): with another, a
    rejected ``x`` raises KeyError while the message is made. Returns ``x`` itself (no copy).

    Raises:
        ValueError: anything else, naming it (and ``name``, a file or argument, where given).
    """
    if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.shape[-1:] == (3,) and x.size
            and (x.ndim >= 3 if ndims is None else x.ndim in ndims)):
        raise ValueError(f"{name + ': ' if name else ''}expected uint8 RGB {RGB_SHAPES[ndims]}, no side empty, "
                         f"got {described(x)}")
    return x


def conversion_hint(x, batch: bool = True) -> str:
    """How to give ``x``, an array of frames that :func:`check_rgb` refused, as uint8 RGB, for the common kinds a
    caller has at hand: ``"; gray frames (N, H, W)? give them as RGB: np.repeat(frames[..., None], 3, axis=-1)"``
    (with a leading ``"; "``); empty where none fits. ``batch``: frames ``(N, H, W, 3)`` are expected (else one frame
    ``(H, W, 3)``). Floats are told apart by their values: in [0, 1] (scale by 255), in 0..255 with one above 1
    (round only: scaled they wrapped around), in [-1, 1] with one below 0, NaN or infinite (replace them), else
    none. Raises nothing."""
    name, them = ("frames", "them") if batch else ("frame", "it")
    if isinstance(x, (list, tuple)) and batch:
        return "; a list of frames (H, W, 3)? give np.stack(frames)" if len(x) else " (empty: no frames to process)"
    kind = f"{type(x).__module__.partition('.')[0]}.{type(x).__name__}"
    if kind == "torch.Tensor":
        return f"; a torch tensor? give {name}.cpu().numpy() (uint8, channels last)"
    if kind.startswith("PIL.") and hasattr(x, "convert"):
        return f"; a PIL image? give np.asarray(image.convert('RGB')){'[None]' if batch else ''}"
    if not isinstance(x, np.ndarray) or not x.size:
        return ""
    rgb_axes = 4 if batch else 3
    if x.dtype == np.uint8:
        if batch and x.ndim == 3 and x.shape[-1] == 3:
            return "; one frame (H, W, 3)? give frame[None]"
        if batch and x.ndim == 2:
            return "; one gray frame (H, W)? give it as RGB: np.repeat(frame[None, ..., None], 3, axis=-1)"
        if x.ndim == rgb_axes - 1:
            return (f"; gray {name} {'(N, H, W)' if batch else '(H, W)'}? give {them} as RGB: "
                    f"np.repeat({name}[..., None], 3, axis=-1)")
        if x.ndim == rgb_axes and x.shape[-1] == 1:
            return f"; gray {name}? give {them} as RGB: np.repeat({name}, 3, axis=-1)"
        if x.ndim == rgb_axes and x.shape[-1] == 4:
            return f"; RGBA? give {name}[..., :3] (the alpha is not used)"
        if x.ndim == rgb_axes and x.shape[-3] == 3:
            order = "(0, 2, 3, 1)" if batch else "(1, 2, 0)"
            return f"; channels first? give {name}.transpose{order}"
        return ""
    if x.shape[-1:] != (3,) or x.ndim != rgb_axes:
        return ""
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():        # (NaN * 255).astype(np.uint8) is 0, with numpy's warning at most
            return f"; floats with NaN or infinity: no colour to give; replace them first (np.nan_to_num({name}))"
        low, high = x.min(), x.max()
        if 0 <= low and high <= 1:
            return f"; floats in [0, 1]? give ({name} * 255).round().astype(np.uint8)"
        if 0 <= low and high <= 255:        # scaled by 255 they would wrap around
            return f"; floats in 0..255? give {name}.round().astype(np.uint8)"
        if -1 <= low and high <= 1:
            return f"; floats in [-1, 1]? give (({name} + 1) * 127.5).round().astype(np.uint8)"
        return ""
    if x.dtype == np.uint16:
        return f"; 16 bits? give ({name} / 257).round().astype(np.uint8)"
    return ""
