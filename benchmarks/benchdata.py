"""The shared data folder the benchmarks read (``../shared/data`` beside the repository), and the check that
it is there: a benchmark run without it scored zero clips and printed an empty table with exit status 0
(dequantize_temporal.py), a NaN table (dequantize_error_split.py), or died on an unrelated-looking error
(an IndexError, ``min() arg is an empty sequence``, a division by zero)."""
from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def require_data(*folders: Path) -> None:
    """Exit non-zero, naming the folder, when one of ``folders`` is absent or holds no file.

    Raises:
        SystemExit: with a message saying the benchmark would score nothing.
    """
    for folder in folders:
        if not folder.is_dir() or not any(p.is_file() for p in folder.rglob("*")):
            raise SystemExit(f"{folder.resolve()}: no such folder, or an empty one (the shared data folder, "
                             f"../shared/data beside the repository): the benchmark would score no clip")


def require(items: list, what: str) -> list:
    """``items`` when there is at least one; otherwise exit non-zero saying that ``what`` matched nothing."""
    if not items:
        raise SystemExit(f"no {what}: the benchmark would score no clip")
    return items
