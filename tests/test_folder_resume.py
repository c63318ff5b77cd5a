"""``--skip-existing``: an input whose output exists is left (safety audit D4: a folder run could not be
resumed)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import damage_packet
from vidcolor.api import colorize, dequantize, process
from vidcolor.cli import main
from vidcolor.errors import VidcolorError

FAST = dict(preset="ultrafast", progress=False)


def invert(batch: np.ndarray) -> np.ndarray:
    """A job whose output differs from its input, the same on every run."""
    return 255 - batch


@pytest.fixture
def reels(tmp_path, clip) -> Path:
    """``reels/``: two good clips (a, b) and a third (c) damaged in its fifth frame."""
    folder = tmp_path / "reels"
    folder.mkdir()
    for name in "abc":
        shutil.copy(clip, folder / f"{name}.mp4")
    damage_packet(folder / "c.mp4", 4)
    return folder




def test_a_folder_run_with_nothing_left_to_do_says_so(tmp_path, reels, clip):
    shutil.copy(clip, reels / "c.mp4")
    out = tmp_path / "out"
    process(reels, out, invert, suffix="x", **FAST)
    summary = process(reels, out, lambda b: pytest.fail("an input was processed"), suffix="x", skip_existing=True,
                      **FAST)
    assert str(summary) == f"nothing to do: the outputs of all 3 inputs exist in {out}{os.sep} (--skip-existing)"


def test_skip_existing_does_not_go_with_overwrite(tmp_path, clip, tiny_models):
    with pytest.raises(VidcolorError, match="--skip-existing and --overwrite do not go together"):
        process(clip, tmp_path / "o.mp4", invert, suffix="x", skip_existing=True, overwrite=True, **FAST)
    result = CliRunner().invoke(main, ["dequantize", str(clip), "-o", str(tmp_path / "o.mp4"), "--skip-existing",
                                       "--overwrite", "--model", str(tiny_models.lab), "-q"])
    assert result.exit_code == 1 and result.output == ("vidcolor: error: --skip-existing does not apply with "
                                                       "--overwrite, which replaces the outputs that exist; drop it\n")
    assert not (tmp_path / "o.mp4").exists()


def test_a_file_whose_output_exists_is_left_with_skip_existing(tmp_path, clip, tiny_models, monkeypatch):
    """One line, exit 0, the output untouched and no model loaded."""
    import vidcolor.api

    out = tmp_path / "o.mp4"
    out.write_bytes(b"an earlier run's")
    monkeypatch.setattr(vidcolor.api.Dequantizer, "__init__", lambda *a, **k: pytest.fail("a model was loaded"))
    result = CliRunner().invoke(main, ["dequantize", str(clip), "-o", str(out), "--skip-existing",
                                       "--model", str(tiny_models.lab)])
    assert result.exit_code == 0, result.output
    assert result.output == f"vidcolor: nothing to do: {out} exists (--skip-existing)\n"
    assert out.read_bytes() == b"an earlier run's"



def test_the_ray_executor_leaves_the_clips_whose_outputs_exist(tmp_path, reels, clip, tiny_colorizers, monkeypatch):
    """With skip_existing, the Ray executor gets only the clips without an output (the cluster itself is not
    started here: tests/test_distributed.py runs it); with all there, nothing is started."""
    import vidcolor.distributed
    from vidcolor.pipeline import RunSummary

    shutil.copy(clip, reels / "c.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.mp4").write_bytes(b"done")
    given = []

    def process_clips(clips, spec, **kwargs):
        given.append(clips)
        return RunSummary(20, 1.0, str(out), note="ray: 2 segment(s) on 1 worker(s)")

    monkeypatch.setattr(vidcolor.distributed, "process_clips", process_clips)
    summary = colorize(reels, out, model=str(tiny_colorizers.fcn), executor="ray", skip_existing=True, progress=False)
    assert given == [[(reels / "a.mp4", out / "a.mp4"), (reels / "c.mp4", out / "c.mp4")]]
    assert summary.note == "ray: 2 segment(s) on 1 worker(s); 1 skipped: its output exists"
    for name in "ac":
        (out / f"{name}.mp4").write_bytes(b"done")
    summary = dequantize(reels, out, executor="ray", skip_existing=True, progress=False)
    assert len(given) == 1 and str(summary).startswith("nothing to do: the outputs of all 3 inputs exist")


def test_a_folder_rerun_without_skip_existing_names_it(tmp_path, reels, clip):
    shutil.copy(clip, reels / "c.mp4")
    out = tmp_path / "out"
    process(reels, out, invert, suffix="x", **FAST)
    with pytest.raises(VidcolorError, match=r"a.mp4 exists \(use --overwrite to replace it, or --skip-existing to "
                                            r"leave it and do the rest\)"):
        process(reels, out, invert, suffix="x", **FAST)
