"""Splice a generated table into README.md between ``<!-- KEY:start ... -->`` and ``<!-- KEY:end -->``."""
from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def splice_readme(key: str, text: str, readme: Path = README) -> None:
    """Replace what lies between the ``key`` markers of README.md with ``text`` (markers kept).

    Raises:
        ValueError: if README.md lacks the markers.
    """
    src = readme.read_text()
    pattern = re.compile(rf"(<!-- {re.escape(key)}:start[^>]*-->\n).*?(<!-- {re.escape(key)}:end -->)", re.S)
    if not pattern.search(src):
        raise ValueError(f"README.md has no <!-- {key}:start --> / <!-- {key}:end --> markers")
    readme.write_text(pattern.sub(lambda m: m[1] + text + "\n" + m[2], src, count=1))
