"""Splice a generated table into README.md between ``<!-- KEY:start ... -->`` and ``<!-- KEY:end -->``.

The benchmarks import :func:`splice_readme` (their ``--readme`` option). Run as a script it checks, without
running any benchmark, that every spliced section of README.md is what its script would splice from the files
that script saved under docs/ (:data:`SOURCES`), and prints a diff where it is not:

    python benchmarks/readme.py --check     # exit status 1 if a section differs from its saved source
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

COLORIZE_SHEET_CAPTION = "![colorize contact sheet](docs/colorize_contact_sheet.png)"
"""What ``colorize_quality.py --readme`` adds under its table."""
STRIP_CAPTION = ("![six consecutive frames, centre crops](docs/temporal_strip.png): per job (dequantize, then colorize) "
                 "`--temporal off` above `--temporal flow`, on the clip where flow lowered the warp error most.")
"""What ``temporal_quality.py --readme`` adds under its tables."""
RAY_TITLE = "# `--executor ray` against `--executor local`\n\nWritten by `benchmarks/ray_scaling.py`.\n\n"
"""The head ``ray_scaling.py --out`` writes above the table it splices."""


def _pattern(key: str) -> re.Pattern:
    return re.compile(rf"(<!-- {re.escape(key)}:start[^>]*-->\n)(.*?)(<!-- {re.escape(key)}:end -->)", re.S)


def splice_readme(key: str, text: str, readme: Path = README) -> None:
    """Replace what lies between the ``key`` markers of README.md with ``text`` (markers kept).

    Raises:
        ValueError: if README.md lacks the markers.
    """
    src = readme.read_text()
    pattern = _pattern(key)
    if not pattern.search(src):
        raise ValueError(f"README.md has no <!-- {key}:start --> / <!-- {key}:end --> markers")
    readme.write_text(pattern.sub(lambda m: m[1] + text + "\n" + m[3], src, count=1))


def readme_section(key: str, readme: Path = README) -> str:
    """What lies between the ``key`` markers of README.md (as :func:`splice_readme` left it: text + newline).

    Raises:
        ValueError: if README.md lacks the markers.
    """
    m = _pattern(key).search(readme.read_text())
    if not m:
        raise ValueError(f"README.md has no <!-- {key}:start --> / <!-- {key}:end --> markers")
    return m[2]


def _ray(docs: Path) -> str:
    text = (docs / "ray_cpu.md").read_text()
    if not text.startswith(RAY_TITLE):
        raise ValueError(f"{docs / 'ray_cpu.md'} does not start as ray_scaling.py writes it")
    return text[len(RAY_TITLE):].split("\n## ", 1)[0].rstrip("\n") + "\n"   # sections kept below it: not spliced


def _results(docs: Path) -> str:
    from dequantize_quality import saved_readme_summary      # heavy imports: only when checked

    return saved_readme_summary(docs / "dequantize_quality.md")


SOURCES = {
    "results": _results,
    "colorize-results": lambda d: (d / "colorize_quality.md").read_text() + "\n" + COLORIZE_SHEET_CAPTION,
    "colorize-tradeoff": lambda d: (d / "colorize_tradeoff.md").read_text().removesuffix("\n"),
    "reference-results": lambda d: (d / "reference_quality.md").read_text().removesuffix("\n"),
    "temporal-results": lambda d: (d / "temporal_quality.md").read_text() + "\n" + STRIP_CAPTION,
    "speed": lambda d: (d / "speed_cpu.md").read_text(),
    "ray": _ray,
}
"""README key -> the text its script splices (without :func:`splice_readme`'s newline), rebuilt from the
files that script saved in a docs folder (the argument)."""


def check(readme: Path = README, docs: Path = DOCS) -> dict[str, list[str]]:
    """Compare every README section of :data:`SOURCES` with its saved source.

    Returns:
        key -> unified diff lines (saved source -> README), for the sections that differ (empty: all agree).

    Raises:
        ValueError: if README.md lacks a key's markers, or a saved file is not as its script writes it.
        FileNotFoundError: if a saved file is missing.
    """
    out = {}
    for key, source in SOURCES.items():
        want, have = source(docs) + "\n", readme_section(key, readme)
        if want != have:
            out[key] = list(difflib.unified_diff(want.splitlines(), have.splitlines(), f"saved ({key})",
                                                 f"README.md ({key})", lineterm="", n=1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="compare README.md's spliced sections with the saved docs/ files (no benchmark runs)")
    args = ap.parse_args()
    if not args.check:
        ap.error("nothing to do: give --check (the benchmarks splice with their own --readme)")
    diffs = check()
    for key in SOURCES:
        print(f"{key}: {'differs' if key in diffs else 'as saved'}")
        for line in diffs.get(key, []):
            print("    " + line)
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
