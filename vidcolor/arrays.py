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
