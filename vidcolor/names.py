"""A name or path given empty (an unset variable: ``--model "$MODEL"``, ``-o "$OUT"``): refused by the library
function that takes it, in one rule (:func:`check_named`), never read as the current folder or as "use the
default"."""
from __future__ import annotations

from vidcolor.errors import VidcolorError

__all__ = ["check_named"]


def check_named(name, what: str, give: str) -> None:
    """Raise ``VidcolorError("the {what} name is empty: {give}")`` where ``name`` is an empty ``str`` (or bytes);
    anything else, None too, passes (its own checks follow). A ``pathlib.Path("")`` is ``Path(".")`` already and
    cannot be told from it.

    >>> check_named("", "model", "give a bundled model's name or a .safetensors path")
    Traceback (most recent call last):
    ...
    vidcolor.errors.VidcolorError: the model name is empty: give a bundled model's name or a .safetensors path
    """
    if isinstance(name, (str, bytes)) and not name:
        raise VidcolorError(f"the {what} name is empty: {give}")
