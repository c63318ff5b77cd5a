"""``vidcolor eval``: the table, --json, --input, --max-frames, and one-line errors (subprocesses, no features)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import assert_one_line_error, mosaic, run_cli
from vidcolor.io import write_image


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """gt/, out/ (gt + 3 levels) and gray/ (the gray input): three 32x48 frames each."""
    d = tmp_path_factory.mktemp("eval")
    gt = mosaic(3, 32, 48, seed=5) // 2 + 60                      # no clipping at +3
    out = np.clip(gt.astype(int) + 3, 0, 255).astype(np.uint8)
    gray = np.repeat(gt.mean(-1, keepdims=True).round().astype(np.uint8), 3, -1)
    for name, frames in (("gt", gt), ("out", out), ("gray", gray)):
        (d / name).mkdir()
        for i, f in enumerate(frames):
            write_image(d / name / f"{i:02d}.png", f)
    return d


def test_table(folders):
    res = run_cli("eval", folders / "out", "--reference-video", folders / "gt", "--input", folders / "gray",
                  "--no-features")
    assert res.returncode == 0, res.stderr
    table = res.stdout.decode()
    assert "| measure" in table and "output" in table and "input" in table and "ground truth" in table
    assert "PSNR" in table and "38.59" in table                    # 10 log10(255^2 / 9)
    assert "Frechet" not in table


def test_json_and_max_frames(folders):
    res = run_cli("eval", folders / "out", "--reference-video", folders / "gt", "--json", "--no-features",
                  "--max-frames", "2")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["frames"] == 2 and "input" not in data
    assert data["output"]["mse"] == pytest.approx(9) and data["output"]["mae"] == pytest.approx(3)
    assert data["output"]["pixel_accuracy"] == 1


def test_errors_are_one_line(folders, tmp_path):
    assert_one_line_error(run_cli("eval", tmp_path / "missing", "--reference-video", folders / "gt"))
    small = tmp_path / "small.png"
    write_image(small, np.zeros((16, 16, 3), np.uint8))
    res = run_cli("eval", small, "--reference-video", folders / "gt", "--no-features")
    assert_one_line_error(res)
    assert "not the same video" in res.stderr


def test_help_says_not_fid():
    res = run_cli("eval", "--help")
    assert res.returncode == 0 and "not the Inception FID" in " ".join(res.stdout.decode().split())
