"""A folder run that fails or is stopped keeps the outputs it finished, and ``--skip-existing`` does the rest
(safety audit D4: one damaged file or a Ctrl-C after 99 of 100 clips threw the 99 finished encodes away)."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from helpers import damage_packet, decode_all, listing, mosaic
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


def test_a_failed_folder_run_keeps_its_finished_outputs_and_the_rerun_does_the_rest(tmp_path, reels, clip):
    """The damaged third clip fails the run: the two clips before it stay, complete, under their names; the
    third's partial file is gone; the error's note says what was kept. Once it is replaced, the rerun with
    skip_existing reads and writes only it, and the folder is what a clean run writes."""
    out = tmp_path / "out"
    with pytest.raises(VidcolorError, match="c.mp4: the frame at 0.400 s cannot be decoded") as caught:
        process(reels, out, invert, suffix="x", **FAST)
    assert caught.value.__notes__ == [f"2 finished outputs kept in {out}{os.sep} (run again with skip_existing "
                                      "to do the rest)"]
    assert listing(out) == {"a.mp4", "b.mp4"}                   # no partial file of c
    before = {name: (out / name).stat().st_mtime_ns for name in ("a.mp4", "b.mp4")}
    shutil.copy(clip, reels / "c.mp4")
    summary = process(reels, out, invert, suffix="x", skip_existing=True, **FAST)
    assert summary.frames == 10 and summary.skipped == 2 and summary.note == "1 clip; 2 skipped: their outputs exist"
    assert {name: (out / name).stat().st_mtime_ns for name in before} == before
    clean = process(reels, tmp_path / "clean", invert, suffix="x", **FAST)
    assert clean.frames == 30 and listing(out) == listing(tmp_path / "clean") == {"a.mp4", "b.mp4", "c.mp4"}
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        np.testing.assert_array_equal(decode_all(str(out / name))[0], decode_all(str(tmp_path / "clean" / name))[0])


def test_a_stills_folder_stopped_half_way_keeps_the_images_it_wrote(tmp_path):
    """Ctrl-C at the third of four images: the first two stay (equal to a clean run's), nothing else is there, and
    the interrupt's note says so; the rerun with skip_existing writes the other two."""
    shots = tmp_path / "shots"
    shots.mkdir()
    for i in range(4):
        Image.fromarray(mosaic(1, 16, 24, seed=i)[0]).save(shots / f"{i}.png")
    out = tmp_path / "out"
    calls = []

    def stopped_at_the_third(batch):
        calls.append(1)
        if len(calls) == 3:             # the first two written (by the caller's thread) before the interrupt
            deadline = time.monotonic() + 30
            while not ((out / "0.png").exists() and (out / "1.png").exists()) and time.monotonic() < deadline:
                time.sleep(0.01)
            raise KeyboardInterrupt
        return invert(batch)

    with pytest.raises(KeyboardInterrupt) as caught:
        process(shots, out, stopped_at_the_third, suffix="x", progress=False)
    assert caught.value.__notes__ == [f"2 finished outputs kept in {out}{os.sep} (run again with skip_existing "
                                      "to do the rest)"]
    assert listing(out) == {"0.png", "1.png"}
    summary = process(shots, out, invert, suffix="x", skip_existing=True, progress=False)
    assert summary.frames == 2 and summary.note == "2 skipped: their outputs exist"
    for i in range(4):
        np.testing.assert_array_equal(np.asarray(Image.open(out / f"{i}.png")), 255 - mosaic(1, 16, 24, seed=i)[0])


def test_two_skip_existing_runs_of_one_folder_share_it_out(tmp_path, reels, clip):
    """Two folder runs into one output folder with skip_existing (a job scheduler's retries, two shells): each
    listed the outputs that existed when it began, so the second failed on the first output the other wrote
    ('exists (use overwrite ...)', or 'another run wrote it while this one worked'), exit 1. Outputs that another
    run writes meanwhile (here by the job itself, as the other run) are now left as it wrote them and counted as
    skipped: before this run reads them (b.png, c.mp4), or while it works on them (a.mp4: its result is dropped)."""
    shutil.copy(clip, reels / "c.mp4")
    for name in ("a", "b"):
        Image.fromarray(mosaic(1, 16, 24, seed=len(name))[0]).save(reels / f"{name}.png")
    out = tmp_path / "out"
    other = b"written by the other run"

    def with_another_run(batch):
        out.mkdir(exist_ok=True)
        if batch.shape[1:3] == (16, 24) and not (out / "b.png").exists():     # the first still
            (out / "b.png").write_bytes(other)
        if batch.shape[1:3] != (16, 24) and not (out / "a.mp4").exists():     # the first clip's first frames
            for name in ("a.mp4", "c.mp4"):
                (out / name).write_bytes(other)
        return invert(batch)

    summary = process(reels, out, with_another_run, suffix="x", skip_existing=True, **FAST)
    assert listing(out) == {"a.png", "b.png", "a.mp4", "b.mp4", "c.mp4"}
    assert all((out / name).read_bytes() == other for name in ("b.png", "a.mp4", "c.mp4"))
    assert summary.skipped == 3 and summary.note == "1 image, 1 clip; 3 skipped: their outputs exist", summary.note
    assert summary.frames == 1 + 10
    np.testing.assert_array_equal(np.asarray(Image.open(out / "a.png")), 255 - mosaic(1, 16, 24, seed=1)[0])


def test_a_file_run_with_skip_existing_leaves_an_output_written_meanwhile(tmp_path, clip):
    """One file, two runs with skip_existing: the one that finished second failed ('another run wrote it while this
    one worked', exit 1); it now leaves the other's output and says so. Without skip_existing it is still refused."""
    out = tmp_path / "out.mp4"

    def with_another_run(batch):
        if not out.exists():
            out.write_bytes(b"other")
        return invert(batch)

    summary = process(clip, out, with_another_run, suffix="x", skip_existing=True, **FAST)
    assert summary.skipped == 1 and str(summary) == (f"nothing to do: {out} exists: another run wrote it while this "
                                                     "one worked (skip_existing)")
    assert out.read_bytes() == b"other" and listing(tmp_path) == {"out.mp4"}
    out.unlink()
    with pytest.raises(VidcolorError, match="another run wrote it while this one worked"):
        process(clip, out, with_another_run, suffix="x", **FAST)
    assert out.read_bytes() == b"other" and listing(tmp_path) == {"out.mp4"}


def test_the_cli_says_an_output_written_meanwhile_is_left_with_skip_existing(tmp_path, clip, tiny_models, monkeypatch):
    """Two `dequantize --skip-existing` runs of one file: the first wrote the output after the second had checked
    it, as the second opened its writer (or finished): the second failed, exit 1; it now exits 0 with one line
    saying so (its quantizer note no longer takes the line's place), the first run's output untouched."""
    import vidcolor.file_run

    out = tmp_path / "o.mp4"
    opens = vidcolor.file_run.VideoWriter.__init__

    def opened_as_another_run_wrote(self, *args, **kwargs):
        out.write_bytes(b"the other run's")
        opens(self, *args, **kwargs)

    monkeypatch.setattr(vidcolor.file_run.VideoWriter, "__init__", opened_as_another_run_wrote)
    result = CliRunner().invoke(main, ["dequantize", str(clip), "-o", str(out), "--skip-existing",
                                       "--model", str(tiny_models.lab)])
    assert result.exit_code == 0, result.output
    assert result.output == (f"vidcolor: nothing to do: {out} exists: another run wrote it while this one worked "
                             "(--skip-existing)\n")
    assert out.read_bytes() == b"the other run's" and listing(tmp_path) == {"o.mp4"}


def test_a_folder_run_with_nothing_left_to_do_says_so(tmp_path, reels, clip):
    shutil.copy(clip, reels / "c.mp4")
    out = tmp_path / "out"
    process(reels, out, invert, suffix="x", **FAST)
    summary = process(reels, out, lambda b: pytest.fail("an input was processed"), suffix="x", skip_existing=True,
                      **FAST)
    assert str(summary) == f"nothing to do: the outputs of all 3 inputs exist in {out}{os.sep} (skip_existing)"
    slashed = process(reels, f"{out}{os.sep}", invert, suffix="x", skip_existing=True, **FAST)   # -o out/ said out//
    assert str(slashed) == str(summary)


def test_a_ray_folder_reruns_existing_output_names_skip_existing(tmp_path, clip):
    """The Ray executor's folder rerun said only 'use --overwrite'; it names --skip-existing as the local one does
    (the target is checked before anything else, so no cluster and no job are needed here)."""
    from vidcolor.distributed import open_work

    (tmp_path / "a.mp4").write_bytes(b"")
    for folder, said in ((True, "or skip_existing to leave it and do the rest"), (False, r"use overwrite to replace it\)")):
        with pytest.raises(VidcolorError, match=said):
            open_work(clip, tmp_path / "a.mp4", None, None, 10.0, False, True, False, folder)


def test_skip_existing_does_not_go_with_overwrite(tmp_path, clip, tiny_models):
    with pytest.raises(VidcolorError, match="^skip_existing and overwrite do not go together"):
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


def test_the_cli_line_of_an_interrupted_folder_run_says_what_it_kept(tmp_path, reels, clip, tiny_models, monkeypatch):
    """Ctrl-C while the third clip opens: ``vidcolor: interrupted; 2 finished outputs kept in out/ (run again with
    --skip-existing to do the rest)``, exit 130; the rerun with --skip-existing counts the two it left."""
    import vidcolor.file_run

    shutil.copy(clip, reels / "c.mp4")
    reader = vidcolor.file_run.VideoReader

    def stopped_at_c(path, **kwargs):
        if Path(path).name == "c.mp4":
            raise KeyboardInterrupt
        return reader(path, **kwargs)

    monkeypatch.setattr(vidcolor.file_run, "VideoReader", stopped_at_c)
    monkeypatch.chdir(tmp_path)
    args = ["dequantize", "reels", "-o", "out", "--model", str(tiny_models.lab), "--preset", "ultrafast"]
    result = CliRunner().invoke(main, [*args, "-q"])
    assert result.exit_code == 130
    assert result.output == (f"vidcolor: interrupted; 2 finished outputs kept in out{os.sep} (run again with "
                             "--skip-existing to do the rest)\n")
    assert listing(tmp_path / "out") == {"a.mp4", "b.mp4"}
    monkeypatch.setattr(vidcolor.file_run, "VideoReader", reader)
    result = CliRunner().invoke(main, [*args, "--skip-existing"])
    assert result.exit_code == 0, result.output
    assert "-> out; 1 clip; 2 skipped: their outputs exist" in result.output
    assert listing(tmp_path / "out") == {"a.mp4", "b.mp4", "c.mp4"}


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
    with pytest.raises(VidcolorError, match=r"a.mp4 exists \(use overwrite to replace it, or skip_existing to "
                                            r"leave it and do the rest\)"):
        process(reels, out, invert, suffix="x", **FAST)


def test_a_failed_overwrite_run_does_not_advise_skipping_an_earlier_runs_outputs(tmp_path, reels, clip):
    """With overwrite, the inputs left may have an earlier run's outputs, which --skip-existing would keep: the
    note advises --overwrite instead."""
    out = tmp_path / "out"
    out.mkdir()
    for name in "abc":
        (out / f"{name}.mp4").write_bytes(b"an earlier run's")
    with pytest.raises(VidcolorError, match="c.mp4") as caught:
        process(reels, out, invert, suffix="x", overwrite=True, **FAST)
    assert caught.value.__notes__ == [f"2 finished outputs kept in {out}{os.sep} (run again with overwrite: 1 of "
                                      "the others has an earlier run's output, which skip_existing would keep)"]
    assert (out / "c.mp4").read_bytes() == b"an earlier run's" and len(decode_all(str(out / "b.mp4"))[0]) == 10


def test_a_folder_is_listed_once_a_run(tmp_path, clip, tiny_models, monkeypatch):
    """With --skip-existing the CLI's checks, the nothing-to-do check, the check against the model and the run
    itself each listed the folder again (and opened its GIFs to see which are animated): 5 listings a run. One
    listing now serves them all, whether there is work left, some or none."""
    from collections import Counter

    import vidcolor.api as api
    from vidcolor import file_run, stills
    from vidcolor.io import folders

    folder, out = tmp_path / "mix", tmp_path / "out"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(clip, folder / name)
    Image.new("RGB", (16, 12), (200, 40, 40)).save(folder / "p.gif")      # a still GIF: is_animated opens it
    calls: Counter = Counter()

    def counting(name, original):
        def counted(path, *args, **kwargs):
            opens = name in ("is_animated", "is_still_image")              # a GIF opened to see if it moves
            if not opens or Path(path).suffix == ".gif":                    # not the clips' own check, one each
                calls[Path(path).name if opens else name] += 1
            return original(path, *args, **kwargs)
        return counted

    for module in (api, file_run, folders, stills):    # wherever a run lists a folder or looks at a file's frames
        for name in ("list_images_in", "list_videos_in", "is_animated", "is_still_image"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, counting(name, getattr(module, name)))
    args = ["dequantize", str(folder), "-o", str(out), "--skip-existing", "--model", str(tiny_models.lab), "-q",
            "--preset", "ultrafast"]
    for written in ({"a.mp4", "b.mp4", "p.png"}, {"b.mp4"}, set()):
        if written == {"b.mp4"}:
            (out / "b.mp4").unlink()
        calls.clear()
        before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()} if out.exists() else {}
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert listing(out) == {"a.mp4", "b.mp4", "p.png"}
        assert {n for n, t in before.items() if (out / n).stat().st_mtime_ns != t} == set()      # none redone
        assert calls == {"list_images_in": 1, "list_videos_in": 1, "p.gif": 1}, (written, calls)
