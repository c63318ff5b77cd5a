"""``vidcolor eval``: the table, --json, --input, --max-frames, and one-line errors (no features). The table and --help
run as subprocesses, the rest in this process (helpers.invoke_cli, the same entry point)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import assert_one_line_error, invoke_cli, mosaic, run_cli
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
    res = invoke_cli("eval", folders / "out", "--reference-video", folders / "gt", "--json", "--no-features",
                     "--max-frames", "2")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["frames"] == 2 and "input" not in data
    assert data["output"]["mse"] == pytest.approx(9) and data["output"]["mae"] == pytest.approx(3)
    assert data["output"]["pixel_accuracy"] == 1


def test_errors_are_one_line(folders, tmp_path):
    assert_one_line_error(invoke_cli("eval", tmp_path / "missing", "--reference-video", folders / "gt"))
    small = tmp_path / "small.png"
    write_image(small, np.zeros((16, 16, 3), np.uint8))
    res = invoke_cli("eval", small, "--reference-video", folders / "gt", "--no-features")
    assert_one_line_error(res)
    assert "not the same video" in res.stderr


def test_help_says_not_fid():
    res = run_cli("eval", "--help")
    assert res.returncode == 0 and "not the Inception FID" in " ".join(res.stdout.decode().split())


def test_videos_at_other_frame_rates_warn_on_stderr(tmp_path, clip):
    """The same frames tagged 15 fps instead of 10 were scored silently: one warning line on stderr now, and
    in the JSON."""
    from vidcolor.evaluate import load_frames
    from vidcolor.io import VideoWriter

    frames = load_frames(clip)
    with VideoWriter(tmp_path / "fast.mp4", frames.shape[2], frames.shape[1], 15, crf=0) as w:
        w.write(frames)
    res = invoke_cli("eval", tmp_path / "fast.mp4", "--reference-video", clip, "--json", "--no-features")
    assert res.returncode == 0, res.stderr
    assert len(res.stderr_lines) == 1 and res.stderr_lines[0].startswith("vidcolor: warning: frame rates differ")
    data = json.loads(res.stdout)
    assert data["warnings"] == [res.stderr_lines[0].removeprefix("vidcolor: warning: ")]
    assert data["timing"]["output"]["fps"] == 15 and data["timing"]["reference"]["fps"] == 10


def test_vidcolors_output_of_an_mpeg_ts_is_scored_without_a_timing_warning(tmp_path, clip, ffmpeg_exe, tiny_models):
    """`vidcolor dequantize cut.ts -o out.mp4`, then `vidcolor eval out.mp4 --reference-video cut.ts`: the output
    starts at 0 (the TS's start, its audio's 1.4 s, is the output's 0), frame for frame the source's, and eval warned
    on stderr that the first frames were 14 frames apart."""
    from helpers import run_ffmpeg

    run_ffmpeg(ffmpeg_exe, "-i", str(clip), "-c", "copy", str(tmp_path / "cut.ts"))
    res = invoke_cli("dequantize", "cut.ts", "-o", "out.mp4", "--model", tiny_models.lab, "-q", "--preset", "ultrafast",
                     cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = invoke_cli("eval", "out.mp4", "--reference-video", "cut.ts", "--json", "--no-features", cwd=tmp_path)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    data = json.loads(res.stdout)
    assert data["warnings"] == [] and data["timing"]["reference"]["start"] > 1.4
