"""The order of a folder's files: natural (numbers as numbers), as a file manager shows them."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from natsort import natsorted, ns

T = TypeVar("T", str, Path)


def natural_sorted(names: Iterable[T]) -> list[T]:
    """``names`` (paths or strings) in natural order: runs of digits compare as numbers, so ffmpeg's ``%d.png``
    frames come as 1, 2, ..., 9, 10 (not 1, 10, 2), and ``f9`` before ``f10``; the suffix is compared last
    (natsort's ``ns.PATH``). Names equal as numbers (``01.png``, ``1.png``) keep their text order, so the
    result never depends on the order ``names`` came in."""
    return natsorted(sorted(names), alg=ns.PATH)
