"""The benchmarks' bookkeeping, without running a benchmark: README's spliced sections against the files the
scripts saved, and the provenance lines the scripts write above their tables."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import readme  # noqa: E402  (benchmarks/readme.py)


def test_every_readme_section_is_what_its_script_saved():
    """Each spliced section of README.md equals what its script splices, rebuilt from the docs/ files that run
    saved (``readme.py --check``): no section edited by hand, none left behind a regenerated docs file."""
    assert readme.check() == {}


def test_the_check_sees_a_section_edited_by_hand(tmp_path):
    copy = tmp_path / "README.md"
    text = readme.README.read_text()
    section = readme.readme_section("reference-results")
    edited = section.replace("| fast |", "| fast (edited) |", 1)
    assert edited != section
    copy.write_text(text.replace(section, edited, 1))
    diffs = readme.check(readme=copy)
    assert set(diffs) == {"reference-results"}
    assert any("(edited)" in line for line in diffs["reference-results"])


def test_splice_then_read_back(tmp_path):
    copy = tmp_path / "README.md"
    copy.write_text("a\n<!-- k:start (x.py) -->\nold\n<!-- k:end -->\nb\n")
    readme.splice_readme("k", "new | 1", copy)
    assert readme.readme_section("k", copy) == "new | 1\n"
    assert copy.read_text() == "a\n<!-- k:start (x.py) -->\nnew | 1\n<!-- k:end -->\nb\n"
    with pytest.raises(ValueError, match="no <!-- other:start"):
        readme.splice_readme("other", "x", copy)


def test_the_ray_section_ignores_the_sections_kept_below_the_table(tmp_path):
    shutil.copy(ROOT / "docs" / "ray_cpu.md", tmp_path / "ray_cpu.md")
    saved = readme.SOURCES["ray"](tmp_path)
    assert saved.startswith("CPU: ") and "\n## " not in saved
    (tmp_path / "ray_cpu.md").write_text("# something else\n\n" + saved)
    with pytest.raises(ValueError, match="ray_scaling.py"):
        readme.SOURCES["ray"](tmp_path)


def test_the_speed_table_names_the_command_that_made_it():
    """speed.py's first line is the command as run (it read ``python benchmarks/speed.py`` above tables made
    with ``--sizes 360p --frames 90``, which that bare command does not reproduce)."""
    import speed

    line = speed.header(["--sizes", "360p", "--frames", "4", "--out", "a b.md"], "CPU X (2 cores)", 2, 4,
                        "davis_cows.mp4")
    assert line.startswith("`python benchmarks/speed.py --sizes 360p --frames 4 --out 'a b.md'` on CPU X (2 cores), ")
    assert "torch threads 2, 4 frames of davis_cows.mp4" in line
    assert speed.header([], "h", 1, 48, "c.mp4").startswith("`python benchmarks/speed.py` on h,")


def test_every_benchmark_script_parses_its_options():
    """A script without an argument parser ran its whole benchmark on ``--help`` (colorize_confidence.py,
    reference_edges.py: minutes of CPU) and ignored a mistyped option: every script under benchmarks/ builds
    an ArgumentParser."""
    missing = [p.name for p in sorted((ROOT / "benchmarks").glob("*.py")) if "ArgumentParser(" not in p.read_text()]
    assert missing == []


def test_reference_edges_reports_the_worst_pair_beside_the_mean():
    import numpy as np

    reference_edges = pytest.importorskip("reference_edges")    # kornia, skimage
    text = reference_edges.table({("same clip", "fast"): [("cows", 5.0, 6.0), ("cows", 7.0, 8.0), ("dog", 3.0, 4.0)],
                                  ("same clip", "gray input"): [("cows", 9.0, 9.5), ("dog", 11.0, 12.0)]})
    rows = text.splitlines()[2:]
    assert rows[0] == f"| same clip | fast | 3 | {np.mean([5, 7, 3]):.3f} | {np.mean([6, 8, 4]):.3f} | cows 6.000 |"
    assert rows[1] == "| same clip | gray input | 2 | 10.000 | 10.750 | dog 11.000 |"
