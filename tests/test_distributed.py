"""--executor ray (vidcolor.distributed) on a local Ray cluster started inside the test run.

The outputs are compared with the local executor's, both written losslessly (FFV1, 4:4:4), so that what
is compared is the pipeline, not two H.264 encodes: every frame must be within 45 dB PSNR of the
local run's (the issue's bar); in practice they are identical or nearly so (the warm-up frames bring
the temporal smoother to the serial run's state).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from helpers import assert_one_line_error, cli_env, damage_packet, decode_all, invoke_cli, run_cli, run_ffmpeg, \
    vidcolor_warnings
from vidcolor.distributed import PLAN_FILE
from vidcolor.errors import VidcolorError, cli_wording
from vidcolor.io import find_ffmpeg

ray = pytest.importorskip("ray")

LOSSLESS = {"codec": "ffv1", "pix_fmt": "yuv444p"}
PSNR_BAR = 45.0


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance with 2 CPUs, no dashboard, for the whole module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def make_film(path: Path, ffmpeg_exe: str, seconds: int) -> Path:
    """``seconds`` of moving testsrc2 (96x64, 24 fps, a keyframe every 12 frames, B-frames) with AAC audio."""
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=24", "-f", "lavfi", "-i",
               "sine=frequency=440:sample_rate=44100", "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
               "-pix_fmt", "yuv420p", "-x264-params", "keyint=12:min-keyint=12:scenecut=0", "-c:a", "aac", str(path))
    return path


@pytest.fixture(scope="module")
def film(tmp_path_factory, ffmpeg_exe) -> Path:
    """4 s of :func:`make_film`."""
    return make_film(tmp_path_factory.mktemp("film") / "film.mp4", ffmpeg_exe, 4)


def colorize(input, output, model, **kw):
    from vidcolor.api import colorize as run

    if kw.get("reference_mode") != "internal":
        kw["render_size"] = 64
    return run(input, output, model=None if model is None else str(model), progress=False, **LOSSLESS, **kw)


def frame_psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    mse = ((a.astype(np.float64) - b) ** 2).reshape(len(a), -1).mean(1)
    return 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-12))


def timestamps(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return [f.pts for f in c.decode(video=0)]


@pytest.fixture(scope="module")
def local_result(tmp_path_factory, film, tiny_colorizers) -> Path:
    out = tmp_path_factory.mktemp("local") / "local.mkv"
    colorize(film, out, tiny_colorizers.fcn)
    return out


def assert_same_as_local(out: Path, local: Path, frames: int = 96) -> None:
    ours, _, has_audio = decode_all(str(out))
    theirs, _, _ = decode_all(str(local))
    assert has_audio
    assert len(ours) == len(theirs) == frames
    assert frame_psnr(ours, theirs).min() >= PSNR_BAR
    assert timestamps(out) == timestamps(local)


def test_ray_output_is_the_local_executors(cluster, tmp_path, film, tiny_colorizers, local_result):
    out = tmp_path / "ray.mkv"
    summary = colorize(film, out, tiny_colorizers.fcn, executor="ray", segment_seconds=1.0, workers=2)
    assert_same_as_local(out, local_result)
    assert "4 segment(s) on 2 worker(s)" in summary.note
    assert [t["index"] for t in summary.segments] == [0, 1, 2, 3]
    assert sum(t["frames"] for t in summary.segments) == 96
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ray.mkv"]     # the work folder is gone


def test_more_workers_than_the_cluster_holds_are_cut_to_it(cluster, tmp_path, film, tiny_colorizers, local_result):
    """An actor the 2-CPU cluster cannot place never runs: its segments waited forever (the run hung)."""
    out = tmp_path / "ray.mkv"
    with vidcolor_warnings() as said:
        summary = colorize(film, out, tiny_colorizers.fcn, executor="ray", segment_seconds=1.0, workers=5)
    assert_same_as_local(out, local_result)
    assert "on 2 worker(s)" in summary.note
    assert len(said) == 1 and "workers=5: the Ray cluster has 2 CPU(s), so 2 worker(s) run" in said[0]


def test_variable_frame_rate_survives_the_split_and_the_join(cluster, tmp_path, ffmpeg_exe, tiny_colorizers):
    """Every frame of a VFR source (every third frame dropped after the first 10) keeps its own time."""
    src = tmp_path / "vfr.mp4"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=24:duration=4",
               "-vf", r"select='not(eq(mod(n\,3)\,1))+lt(n\,10)'", "-fps_mode", "vfr", "-c:v", "libx264",
               "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-x264-params", "keyint=12:min-keyint=12:scenecut=0",
               str(src))
    out = tmp_path / "ray.mp4"
    summary = colorize(src, out, tiny_colorizers.fcn, executor="ray", segment_seconds=1.0, workers=2)
    assert len(summary.segments) > 1
    with av.open(str(src)) as a, av.open(str(out)) as b:
        want = [f.pts * a.streams.video[0].time_base for f in a.decode(video=0)]
        got = [f.pts * b.streams.video[0].time_base for f in b.decode(video=0)]
    assert len(set(np.diff([float(t) for t in want]).round(4))) == 2          # the source is VFR
    assert got == want


def test_a_matroska_sources_rate_is_put_on_its_grid_as_a_local_run_does(cluster, tmp_path, ffmpeg_exe,
                                                                        tiny_colorizers):
    """A 29.97 fps .mkv (milliseconds: frames 33 or 34 ms apart) gave a Ray run an mp4 in 1/1000 of 33 and 34 tick
    frames, where a local run's has 1001 ticks of 1/30000 each (RateGrid); each segment is now put on the grid."""
    src = tmp_path / "src.mkv"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=30000/1001", "-frames:v", "48",
               "-c:v", "libx264", "-preset", "ultrafast", "-x264-params", "keyint=12:min-keyint=12:scenecut=0",
               str(src))
    local, out = tmp_path / "local.mp4", tmp_path / "ray.mp4"
    colorize(src, local, tiny_colorizers.fcn)
    summary = colorize(src, out, tiny_colorizers.fcn, executor="ray", segment_seconds=0.5, workers=2)
    assert len(summary.segments) > 1
    for path in (local, out):
        with av.open(str(path)) as c:
            v = c.streams.video[0]
            assert v.time_base == Fraction(1, 30000) and v.average_rate == Fraction(30000, 1001)
            assert {p.duration for p in c.demux(v) if p.size} == {1001}
    assert timestamps(out) == timestamps(local)


def test_an_alpha_channel_is_warned_about_as_a_local_run_does(cluster, tmp_path, ffmpeg_exe, tiny_colorizers):
    """A Ray run said nothing of an input's alpha channel, which its output drops as a local run's does: it says the
    local run's warning (:func:`vidcolor.io.reader.warn_about_source`), once."""
    src = tmp_path / "png.mov"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=s=32x24:d=1:r=10,format=rgba", "-c:v", "png",
               "-pix_fmt", "rgba", str(src))
    with vidcolor_warnings() as said:
        summary = colorize(src, tmp_path / "ray.mkv", tiny_colorizers.fcn, executor="ray", workers=1)
    assert summary.frames == 10
    assert said == ["png.mov has an alpha channel (rgba), which is dropped (video is read as RGB): the output shows "
                    "the colours stored under its transparent parts"]


def test_a_folder_of_videos_gives_a_folder_of_outputs(cluster, tmp_path, film, tiny_colorizers, local_result):
    src = tmp_path / "reels"
    src.mkdir()
    shutil.copy(film, src / "a.mp4")
    shutil.copy(film, src / "b.mkv")
    (src / "notes.txt").write_text("not a video")
    began = time.perf_counter()
    summary = colorize(src, tmp_path / "out", tiny_colorizers.fcn, executor="ray", segment_seconds=2.0)
    wall = time.perf_counter() - began
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4", "b.mp4"]
    assert summary.frames == 192
    # the summary as a local folder run's: its clips counted; the seconds the frames' own (they were the whole
    # call's, Ray's start-up and the model's load included, and no start-up was said), the rest start-up and finish
    assert summary.note.startswith("2 clips; ray: "), summary.note
    times = summary.segments
    assert summary.seconds == pytest.approx(max(t["ended"] for t in times) - min(t["began"] for t in times))
    assert summary.startup > 0 and summary.finish > 0
    assert summary.startup + summary.seconds + summary.finish <= wall
    for name in ("a.mp4", "b.mp4"):
        ours = decode_all(str(tmp_path / "out" / name))[0]
        assert frame_psnr(ours, decode_all(str(local_result))[0]).min() >= PSNR_BAR


@pytest.mark.filterwarnings("ignore:the reference:vidcolor.errors.VidcolorWarning")      # an 80x60 reference
def test_reference_features_and_internal_generators_are_shipped_from_the_driver(cluster, tmp_path, film,
                                                                              tiny_colorizers):
    """Fast mode: the workers get the driver's reference features (they have no reference image);
    internal mode: the driver's generators (here loaded from a saved pair; training would happen there too)."""
    reference = tmp_path / "ref.png"
    run_ffmpeg(find_ffmpeg(), "-f", "lavfi", "-i", "testsrc=size=80x60", "-frames:v", "1", str(reference))
    for name, kw in (("fast", {"model": tiny_colorizers.exemplar, "references": [reference]}),
                     ("internal", {"model": None, "reference_mode": "internal", "load_model": _saved_pair(tmp_path)})):
        local, far = tmp_path / f"{name}_local.mkv", tmp_path / f"{name}_ray.mkv"
        model = kw.pop("model")
        colorize(film, local, model, **kw)
        colorize(film, far, model, executor="ray", segment_seconds=2.0, **kw)
        assert_same_as_local(far, local)
    # trained now, on the driver's first frame: the workers get no reference, so this only runs if it ships
    trained = tmp_path / "trained.mkv"
    summary = colorize(film, trained, None, executor="ray", segment_seconds=2.0, reference_mode="internal",
                       references=[reference], internal_iters=1, internal_size=32)
    assert summary.frames == 96 and len(decode_all(str(trained))[0]) == 96


def test_compare_on_ray_is_input_beside_the_local_output(cluster, tmp_path, film, tiny_colorizers, local_result):
    out = tmp_path / "side.mkv"
    colorize(film, out, tiny_colorizers.fcn, executor="ray", segment_seconds=2.0, compare=True)
    both = decode_all(str(out))[0]
    assert both.shape == (96, 64, 192, 3)
    assert np.abs(both[:, :, :96].astype(int) - decode_all(str(film))[0]).max() <= 2     # the input, 4:4:4 round trip
    assert frame_psnr(both[:, :, 96:], decode_all(str(local_result))[0]).min() >= PSNR_BAR


def _saved_pair(folder: Path) -> Path:
    """A two-image generator pair trained for one iteration per scale, saved as --save-model writes it."""
    from vidcolor.internal import TwoImageSettings
    from vidcolor.reference import InternalColorizer

    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    job = InternalColorizer([ref], "cpu", TwoImageSettings(iters=1, size=32), progress=False)
    job.train(ref)
    path = folder / "pair.safetensors"
    job.save(path)
    return path


def _segment_workers() -> list[int]:
    """Pids of processes whose title Ray set to one of our actors running a segment."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"ray::SegmentWorker.run"):
                pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds Ray's worker processes through /proc")
def test_a_killed_worker_is_restarted_and_the_output_is_unchanged(cluster, tmp_path, film, tiny_colorizers,
                                                                  local_result):
    out = tmp_path / "ray.mkv"
    killed: list[int] = []

    def killer():
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            pids = _segment_workers()
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)

    t = threading.Thread(target=killer)
    t.start()
    try:
        colorize(film, out, tiny_colorizers.fcn, executor="ray", segment_seconds=1.0, workers=2)
    finally:
        t.join()
    assert killed, "no worker was running a segment"
    assert_same_as_local(out, local_result)


def test_an_interrupted_run_resumes_with_only_the_missing_segments(tmp_path, ffmpeg_exe, tiny_colorizers):
    """A CLI run stopped by SIGINT once some segments are done keeps them; the rerun redoes only the rest.

    An 8 s film, so 8 segments of 1 s: the interrupt takes effect about a segment after the signal (the driver
    waits on Ray), and with the 4 segments of ``film`` the rest of the run could finish first (exit 0). The
    run gets SIGINT's default action, as in a terminal: a test run started in the background by a
    non-interactive shell has SIGINT ignored, and the child would inherit that and finish (exit 0)."""
    film = make_film(tmp_path / "long.mp4", ffmpeg_exe, 8)
    out = tmp_path / "ray.mkv"
    args = [sys.executable, "-m", "vidcolor.cli", "colorize", str(film), "-o", str(out), "--model",
            str(tiny_colorizers.fcn), "--render-size", "64", "--codec", "ffv1", "--pix-fmt", "yuv444p",
            "--executor", "ray", "--segment-seconds", "1", "--workers", "1", "-q"]
    work = tmp_path / f".{out.name}.vidcolor-work"
    proc = subprocess.Popen(args, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and len(list(work.glob("segment-*"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    said, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 130, err
    assert said == b""                   # Ray's lines about the actors it stopped went nowhere, not to stdout
    assert not list(work.glob(".*"))     # nor the partial file of the segment being written
    kept = sorted(p.name for p in work.glob("segment-*"))
    assert len(json.loads((work / PLAN_FILE).read_text())) == 8
    assert 2 <= len(kept) < 8, err
    assert not out.exists() and not list(tmp_path.glob(".ray*partial*"))    # nothing under the output name
    assert "the same command resumes" in err
    res = run_cli(*args[3:-1])
    assert res.returncode == 0, res.stderr
    assert f"{len(kept)} reused from an earlier run" in res.stderr
    colorize(film, tmp_path / "local.mkv", tiny_colorizers.fcn)
    assert_same_as_local(out, tmp_path / "local.mkv", frames=192)
    assert not work.exists()


def test_a_segment_that_cannot_be_read_leaves_no_work_for_a_rerun_that_would_fail_the_same(cluster, tmp_path, film,
                                                                                          tiny_colorizers, capsys,
                                                                                          monkeypatch):
    """A/V audit, stop 63: a segment that could not be read (here a damaged frame in the last one) left the finished
    segments and said 'the same command resumes', though the same command fails there again. Now the error alone,
    and no work folder. The error is a local run's (where, that the input is damaged there, that nothing is written,
    and what keeps the rest), naming the input as given: it said '/abs/path/damaged.mp4: decoding failed (Invalid
    data found when processing input)', the worker's absolute path, where a local run says 'damaged.mp4: the frame
    at 3.750 s cannot be decoded (...): the input is damaged there; nothing written (--ignore-errors ...)'."""
    src = tmp_path / "damaged.mp4"
    shutil.copy(film, src)
    damage_packet(src, 90, "slice header")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(VidcolorError, match=r"^damaged\.mp4: a frame after 3\.\d{3} s cannot be decoded \(.+\): the "
                       r"input is damaged there; nothing written \(ignore_errors with executor='local' skips") as caught:
        colorize(Path("damaged.mp4"), Path("ray.mkv"), tiny_colorizers.fcn, executor="ray", segment_seconds=1.0,
                 workers=1)
    assert "resumes" not in capsys.readouterr().err and not getattr(caught.value, "__notes__", None)
    assert "--ignore-errors with --executor local skips" in cli_wording(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.mp4"]


def test_an_interrupt_after_the_join_is_a_finished_run(cluster, tmp_path, film, tiny_colorizers, local_result,
                                                       monkeypatch):
    """Ctrl-C or SIGTERM while Ray stops (here as the session ends), after the output was joined: the run said
    'interrupted' and exited 130 though its output was complete, and its segments were gone. Now it succeeds, and
    says so. (The CLI's SIGTERM exception stands in for both: a KeyboardInterrupt would stop pytest.)"""
    from vidcolor import distributed
    from vidcolor.cli import Terminated

    leave = distributed._cluster.__exit__

    def interrupted(self, *exc):
        leave(self, *exc)
        raise Terminated(signal.SIGTERM)

    monkeypatch.setattr(distributed._cluster, "__exit__", interrupted)
    out = tmp_path / "ray.mkv"
    summary = colorize(film, out, tiny_colorizers.fcn, executor="ray", segment_seconds=1.0, workers=2)
    assert "interrupted while Ray stopped, after the output was written" in summary.note
    assert_same_as_local(out, local_result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ray.mkv"]


@pytest.mark.slow
def test_a_rerun_that_only_joins_says_so_not_zero_workers(cluster, tmp_path, film, tiny_colorizers, local_result,
                                                          monkeypatch):
    """Stopped after every segment was done, before the join ('2 of 2 segments ... kept'), the rerun only joins, Ray
    not started: its summary said 'ray: 2 segment(s) on 0 worker(s), 2 reused from an earlier run'. Now 'ray: all 2
    segment(s) were done already (by an earlier run)', and no rate (the join's). (The CLI's SIGTERM exception stands in
    for Ctrl-C, as above.)"""
    from vidcolor import distributed
    from vidcolor.cli import Terminated

    def stopped(*args, **kwargs):
        raise Terminated(signal.SIGTERM)

    out = tmp_path / "ray.mkv"
    with monkeypatch.context() as patched:
        patched.setattr(distributed, "_join", stopped)
        with pytest.raises(Terminated):
            colorize(film, out, tiny_colorizers.fcn, executor="ray", segment_seconds=2.0, workers=2)
    summary = colorize(film, out, tiny_colorizers.fcn, executor="ray", segment_seconds=2.0, workers=2)
    assert summary.note == "ray: all 2 segment(s) were done already (by an earlier run)"
    assert summary.joined_only and "fps" not in str(summary)
    assert_same_as_local(out, local_result)


def test_a_run_stopped_in_a_segment_leaves_no_partial_file_and_nothing_on_stdout(cluster, tmp_path, film,
                                                                                 tiny_colorizers, monkeypatch, capsys):
    """Interrupted while a worker wrote its second segment: the killed actor's partial file stayed in the work
    folder (a 0-byte .segment-00001.*.partial.nut); and what Ray prints on the driver's stdout (its error lines,
    e.g. '(raylet) Task SegmentWorker.run failed...', whatever log_to_driver says) went to stdout."""
    from vidcolor import distributed

    out = tmp_path / "ray.mkv"
    work = tmp_path / f".{out.name}.vidcolor-work"

    result = distributed._result

    def interrupt_in_a_segment(ray_, pool):      # once a segment is done and the next one is being written
        print("(raylet) a line Ray prints on the driver", file=sys.stdout)       # as ray's listener thread does
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            if (work / "segment-00000.nut").exists() and list(work.glob(".segment-*")):
                raise KeyboardInterrupt
            time.sleep(0.002)
        return result(ray_, pool)

    monkeypatch.setattr(distributed, "_result", interrupt_in_a_segment)
    with pytest.raises(KeyboardInterrupt):
        colorize(film, out, tiny_colorizers.fcn, executor="ray", segment_seconds=1.0, workers=1)
    said = capsys.readouterr()
    assert "a line Ray prints" not in said.out and "a line Ray prints" in said.err
    assert not out.exists()
    kept = sorted(p.name for p in work.iterdir() if p.name.startswith(("segment-", ".")))
    assert kept and all(name.startswith("segment-") for name in kept), kept
    time.sleep(1)                       # nothing of the killed worker's comes back
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(("segment-", "."))) == kept


def test_sigterm_during_a_ray_run_is_the_clis_one_line(tmp_path, film, tiny_colorizers):
    """ray.init replaced the CLI's SIGTERM handler with its own (sys.exit(15)), wrapped by its C++ core in a stack
    dump: SIGTERM during a Ray run exited 15 with '*** SIGTERM received at time=... ***' and 'PC: @ 0x...' lines and
    no word of vidcolor's. Now as elsewhere: exit 143, 'vidcolor: terminated (SIGTERM)', finished segments kept,
    which that one line says (they were said on a line of their own before it, where a local folder run's line
    says what it kept)."""
    out = tmp_path / "ray.mkv"
    work = tmp_path / f".{out.name}.vidcolor-work"
    proc = subprocess.Popen([sys.executable, "-m", "vidcolor.cli", "colorize", str(film), "-o", str(out), "--model",
                             str(tiny_colorizers.fcn), "--render-size", "64", "--executor", "ray", "--segment-seconds",
                             "1", "--workers", "1", "-q"], env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not list(work.glob("segment-*")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    said, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 128 + signal.SIGTERM, err
    kept = len(list(work.glob("segment-*")))
    assert kept
    assert err.splitlines() == [f"vidcolor: terminated (SIGTERM); {kept} of 4 segments of {film} kept in {work}; the "
                                "same command resumes"], err
    assert said == b"" and not out.exists()


WORKERS_CANNOT_START = """import resource
with open("/proc/self/cmdline", "rb") as f:
    if b"default_worker.py" in f.read():      # Ray's worker processes only, not the driver
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
"""


def _env_with_sitecustomize(tmp_path, source: str, **extra: str) -> dict:
    """:func:`cli_env` (with ``extra`` variables) for a run whose Ray workers run ``source`` as their
    ``sitecustomize.py`` (written under ``tmp_path / "site"``, first on PYTHONPATH, which the workers inherit), and
    no ``RAY_ADDRESS``: the run starts a cluster of its own."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(source)
    env = {**cli_env(), **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env.pop("RAY_ADDRESS", None)
    return env


def _run_whose_workers_cannot_start(tmp_path, film, terminate: bool = False) -> tuple:
    """The CLI's Ray run (its own local instance) whose Ray worker processes die as they start, as under the
    README audit's ``ulimit -v 8000000``: a ``sitecustomize`` caps their address space below the object store that
    each maps (``shared_memory.cc:46: mmap failed``), the driver's left as it is; the start-up check shortened to
    5 s (60 s with ``terminate``). Returns (exit status, stderr, seconds); with ``terminate``, SIGTERM once a
    worker has died (ray.init is done then: the driver is waiting for its actors)."""
    env = _env_with_sitecustomize(tmp_path, WORKERS_CANNOT_START)
    env.pop("RAY_TMPDIR", None)         # Ray's logs in /tmp/ray/session_*_<driver pid>/logs
    code = (f"import sys; sys.argv[0] = 'vidcolor'; import vidcolor.distributed as d; "
            f"d.START_WAIT = {60.0 if terminate else 5.0}; from vidcolor.cli import main; main()")
    began = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", code, "dequantize", str(film), "-o", str(tmp_path / "out.mp4"),
                             "--executor", "ray", "-q"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=tmp_path)
    try:
        if terminate:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None and not any(
                    "mmap failed" in f.read_text(errors="replace")
                    for f in Path("/tmp/ray").glob(f"session_*_{proc.pid}/logs/worker-*.err")):
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:         # the run hung (in ray.init, waiting for workers that never register)
            proc.terminate()            # Ray's own handler then: its processes stop with it
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    return proc.returncode, err.decode(errors="replace"), time.monotonic() - began


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="tells Ray's worker processes by /proc/self/cmdline")
def test_workers_that_cannot_start_are_one_error_not_a_hang(tmp_path, film):
    """Ray's worker processes that die as they start (mmap of the object store refused under an address-space
    limit): ray.init waited for ever for the workers it prestarts for the first driver (ray-project/ray#40131), and
    the run hung without a word; SIGTERM then gave Ray's stack dump. Now ray.init does not wait for them, and the
    actors that do not start within the start-up check are one error, with the worker's fatal line and where Ray's
    logs are; nothing left (no output, no work folder)."""
    code, err, seconds = _run_whose_workers_cannot_start(tmp_path, film)
    assert code == 1, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error: Ray's workers could not start: "), err
    assert "not started after 5 s (a worker said: shared_memory.cc:46: mmap failed); Ray's logs are in " in err, err
    assert seconds < 60, seconds
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="tells Ray's worker processes by /proc/self/cmdline")
def test_sigterm_while_workers_cannot_start_is_the_clis_one_line(tmp_path, film):
    """SIGTERM while the driver waits for its actors (in ray.wait): Ray runs the CLI's handler there and returned
    with its Terminated still set: 'SystemError: <cyfunction CoreWorker.wait ...> returned a result with an
    exception set' and a traceback. Now the CLI's line, exit 143, nothing left."""
    code, err, _ = _run_whose_workers_cannot_start(tmp_path, film, terminate=True)
    assert code == 128 + signal.SIGTERM, err
    assert err.splitlines()[-1] == "vidcolor: terminated (SIGTERM)", err
    assert "SIGTERM received" not in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="address-space limits as Linux sets them")
def test_a_run_under_an_address_space_limit_finishes(tmp_path, film):
    """The README audit's ``ulimit -v 8000000``: every Ray process maps the whole object store, 30% of the memory
    (7 GB of 24 GB), and none fitted: the workers died as they started, and the run hung in ray.init. A local
    instance under a limit gets an object store that fits beside the process, and the run finishes."""
    import resource

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (8_000_000 * 1024, 8_000_000 * 1024))

    env = cli_env()
    env.pop("RAY_ADDRESS", None)
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "vidcolor.cli", "dequantize", str(film), "-o", str(out),
                             "--executor", "ray", "-q"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=limited)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:         # hung in ray.init
            proc.terminate()
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err.decode(errors="replace")
    assert len(decode_all(str(out))[0]) == 96
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


WORKER_CLOCK_BEHIND = """import time
with open("/proc/self/cmdline", "rb") as f:
    if b"default_worker.py" in f.read():      # Ray's worker processes only: a node whose clock is 1000 s behind
        _time = time.time
        time.time = lambda: _time() - 1000.0
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="tells Ray's worker processes by /proc/self/cmdline")
def test_the_summary_is_timed_on_the_drivers_clock_whatever_the_workers_say(tmp_path, film):
    """The summary's seconds, start-up and finish took the segments' start and end from the workers' clocks
    (time.time() on their nodes) and set them against the driver's: a node 1000 s behind gave 'finish 1000 s' and no
    start-up. The workers' times are now put on the driver's clock (_on_driver_clock): the three add up to the
    call's wall time."""
    env = _env_with_sitecustomize(tmp_path, WORKER_CLOCK_BEHIND)
    code = ("import sys, time, json; from vidcolor.api import dequantize; t = time.perf_counter(); "
            f"s = dequantize({str(film)!r}, {str(tmp_path / 'out.mkv')!r}, executor='ray', workers=2, progress=False); "
            "print(json.dumps([s.seconds, s.startup, s.finish, time.perf_counter() - t, s.segments]))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=180)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    seconds, startup, finish, wall, segments = json.loads(proc.stdout.decode().splitlines()[-1])
    assert len(segments) == 2 and 0 < seconds < wall and 0 < finish < wall and 0 < startup < wall, (seconds, startup, finish, wall)
    assert seconds + startup + finish == pytest.approx(wall, abs=0.5)
    assert abs(min(t["began"] for t in segments) - time.time()) < 300           # the driver's clock's times


def test_relative_paths_reach_workers_whose_folder_is_another(cluster, tmp_path, film, tiny_colorizers, local_result,
                                                              monkeypatch):
    """A worker's current folder is not the driver's (on another node, or here the one the cluster started in):
    relative names were read and written from there ('film.mp4: no such file' on a cluster started elsewhere)."""
    shutil.copy(film, tmp_path / "film.mp4")
    monkeypatch.chdir(tmp_path)
    colorize(Path("film.mp4"), Path("out") / "ray.mkv", tiny_colorizers.fcn, executor="ray", segment_seconds=1.0,
             workers=2)
    assert_same_as_local(tmp_path / "out" / "ray.mkv", local_result)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ray.mkv"]


def test_an_output_name_near_the_file_systems_limit_gets_a_work_folder(cluster, tmp_path, film, tiny_colorizers,
                                                                     local_result):
    """An output name of 250 bytes (the file system takes 255): its work folder, '.<name>.vidcolor-work', was
    265 bytes, and the run failed ('cannot write the work folder (File name too long)')."""
    out = tmp_path / ("é" * 121 + "ray.mkv")           # 249 bytes in UTF-8
    colorize(film, out, tiny_colorizers.fcn, executor="ray", segment_seconds=1.0, workers=2)
    assert_same_as_local(out, local_result)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_long_output_names_get_distinct_work_folders_the_file_system_takes(tmp_path):
    """Shortened work-folder names keep a hash of the whole output name: two outputs whose names differ only
    past the cut get two folders."""
    from vidcolor.distributed import WORK_SUFFIX, work_folder
    from vidcolor.io.partial import name_max

    assert work_folder(tmp_path / "a.mp4") == tmp_path / f".a.mp4{WORK_SUFFIX}"
    a, b = (work_folder(tmp_path / ("x" * 240 + tail)) for tail in ("1.mp4", "2.mp4"))
    assert a != b and a.parent == b.parent == tmp_path
    for w in (a, b):
        assert w.name.startswith(".x") and w.name.endswith(WORK_SUFFIX)
        assert len(os.fsencode(w.name)) <= name_max(tmp_path)
        w.mkdir()


def tiny_clip(path: Path, ffmpeg_exe: str, frames: int) -> Path:
    """``frames`` frames of 32x32 testsrc2 at 24 fps in FFV1 (every frame a keyframe): a clip to plan, not to run."""
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=24", "-frames:v", str(frames), "-c:v",
               "ffv1", str(path))
    return path


def test_an_interrupt_as_the_work_folder_is_made_leaves_none(tmp_path, ffmpeg_exe, monkeypatch):
    """Ctrl-C between the making of a clip's work folder and its registration for the cleanup (here as the strays of
    an earlier run are looked for, the first thing after the folder is made) left the folder behind, with its key file:
    the run had no plan for it yet. Now the plan is registered before the folder is made, and the cleanup clears it,
    and the output folder the run made. A folder of an earlier run under the same key, with a finished segment, is
    kept, and said. No Ray: it is not imported (the interrupt comes before it would start)."""
    from vidcolor import distributed

    clip = tiny_clip(tmp_path / "c.mkv", ffmpeg_exe, 4)
    target = tmp_path / "new" / "out.mkv"
    spec = distributed.JobSpec(len, {}, eight_bits=None)
    interrupts = []

    def interrupted(work):
        if not interrupts:
            interrupts.append(work)
            raise KeyboardInterrupt

    monkeypatch.setattr(distributed, "import_ray", lambda: None)
    monkeypatch.setattr(distributed, "_remove_strays", interrupted)
    with pytest.raises(KeyboardInterrupt):
        distributed.process_clips([(clip, target)], spec, progress=False)
    assert interrupts == [distributed.work_folder(target)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mkv"]

    # an earlier run's folder, one segment done: kept, and the note says so
    plan = distributed.open_work(clip, target, spec, distributed.Encoding(), 1.0, False, False, False)
    distributed.make_plan(plan, 1.0, 2, distributed.Encoding())
    plan.parts[0].touch()
    interrupts.clear()
    with pytest.raises(KeyboardInterrupt) as caught:
        distributed.process_clips([(clip, target)], spec, seconds=1.0, progress=False)
    assert plan.parts[0].is_file()
    assert caught.value.__notes__ == [f"1 of {len(plan.parts)} segments of {clip} kept in {plan.work}; the same "
                                      "command resumes"]


def test_a_rerun_that_only_joins_gives_no_rate(tmp_path, ffmpeg_exe, monkeypatch):
    """A rerun that found every segment done (an earlier run stopped before its join) only joins them, Ray not started;
    its line gave the rate of the call's fraction of a second (a 4 s clip's: '96 frames in 0.3 s (376.70 fps)'), a
    throughput of nothing. Now it says the frames were joined, and no rate. No Ray: the join is a stand-in (the summary
    is what is checked)."""
    from vidcolor import distributed

    clip = tiny_clip(tmp_path / "c.mkv", ffmpeg_exe, 4)
    target = tmp_path / "out.mkv"
    spec = distributed.JobSpec(len, {}, eight_bits=None)
    plan = distributed.open_work(clip, target, spec, distributed.Encoding(), 1.0, False, False, False)
    distributed.make_plan(plan, 1.0, 2, distributed.Encoding())
    for part in plan.parts:
        part.touch()
    monkeypatch.setattr(distributed, "import_ray", lambda: None)            # (Ray would fail there: never started)
    monkeypatch.setattr(distributed, "_join", lambda plan, *args: plan.clip.target.touch())
    summary = distributed.process_clips([(clip, target)], spec, seconds=1.0, progress=False)
    n = len(plan.parts)
    assert summary.joined_only and summary.fps == 0.0 and summary.frames == 4
    assert str(summary) == (f"4 frames joined in {summary.seconds:.1f} s -> {target}; ray: all {n} segment(s) were "
                            "done already (by an earlier run)")
    assert target.is_file() and not plan.work.exists()


def test_the_work_folders_key_holds_the_timing_grid_and_the_parts_format(tmp_path, ffmpeg_exe, monkeypatch):
    """The resume key had neither the timing grid nor a parts-format version: parts cached before segments were
    timestamped on the clip's grid (commit b0134e5) were kept and joined with spans on it. A key that differs
    empties the work folder (its parts do not apply); the same key keeps it. No Ray: open_work alone."""
    from vidcolor import distributed
    from vidcolor.io.timing import RateGrid

    clip = tiny_clip(tmp_path / "c.mp4", ffmpeg_exe, 2)
    target = tmp_path / "out.mkv"
    part = distributed.work_folder(target) / "segment-00000.mkv"

    def run_keeps_part(grid, version) -> bool:
        monkeypatch.setattr(distributed, "rate_grid", lambda path: grid)
        monkeypatch.setattr(distributed, "PARTS_FORMAT", version)
        distributed.open_work(clip, target, distributed.JobSpec(len, {}, eight_bits=None), distributed.Encoding(), 1.0,
                              False, False, False)
        kept = part.exists()
        part.touch()                                        # a part written under this key
        return kept

    grid = RateGrid(Fraction(1, 30000), 30, 1001)
    assert not run_keeps_part(None, 1)
    assert run_keeps_part(None, 1)                          # the same key: the parts are reused
    assert not run_keeps_part(grid, 1)                      # another grid
    assert run_keeps_part(grid, 1)
    assert not run_keeps_part(grid, 2)                      # another parts format


def test_what_ray_cannot_take_is_one_line(tmp_path, film, tiny_colorizers):
    model = str(tiny_colorizers.fcn)
    res = invoke_cli("colorize", film, "--model", model, "--executor", "ray", "-o", "-")
    assert_one_line_error(res)
    assert "--executor local" in res.stderr
    for output, extra, what in (("-", {}, "stdin, stdout"), (tmp_path / "x.gif", {}, "GIF"),
                                (tmp_path / "y.mkv", {"ignore_errors": True}, "^ignore_errors applies to executor='local'"),
                                (tmp_path / "y.mkv", {"executor": "dask"}, "unknown executor"),
                                (tmp_path / "y.txt", {}, "cannot tell the video format"),
                                (tmp_path / "y.avi", {}, "AVI has no timestamps"),
                                *((tmp_path / "y.mkv", {"segment_seconds": v}, "segment_seconds must be a finite")
                                  for v in (float("nan"), float("inf"), 0))):   # nan was refused after Ray started
        with pytest.raises(VidcolorError, match=what):
            colorize(film, output, model, **{"executor": "ray", **extra})
    res = invoke_cli("colorize", film, "--model", model, "--workers", "2")
    assert_one_line_error(res)
    assert "apply to --executor ray" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_output_folder_that_cannot_be_made_is_said_as_a_local_run_says_it(tmp_path, film, tiny_colorizers):
    """-o through a file (blocked.txt/out.mkv): the local run says 'blocked.txt/out.mkv: cannot write there (blocked.txt
    is a file, not a folder)'; the Ray run said '.../blocked.txt/.out.mkv.vidcolor-work: cannot write the work folder
    (Not a directory)', naming a hidden folder the user never gave. Now both lines are the same, before Ray starts."""
    (tmp_path / "blocked.txt").write_text("a file")
    target = tmp_path / "blocked.txt" / "out.mkv"
    said = {}
    for executor in ("local", "ray"):
        with pytest.raises(VidcolorError) as told:
            colorize(film, target, tiny_colorizers.fcn, executor=executor)
        said[executor] = str(told.value)
    assert said["ray"] == said["local"] == f"{target}: cannot write there ({tmp_path / 'blocked.txt'} is a file, not a folder)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked.txt"]


def test_without_ray_the_error_says_how_to_install_it(tmp_path, film, tiny_colorizers, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)       # import ray -> ImportError
    with pytest.raises(VidcolorError, match=r"^executor='ray' needs Ray: pip install 'vidcolor\[ray\]'$") as told:
        colorize(film, tmp_path / "y.mkv", tiny_colorizers.fcn, executor="ray")
    assert cli_wording(told.value) == "--executor ray needs Ray: pip install 'vidcolor[ray]'"   # the CLI's line
    assert list(tmp_path.iterdir()) == []


def test_a_cluster_that_cannot_be_reached_is_one_error(tmp_path, film, tiny_colorizers, monkeypatch):
    """What ray.init raises when RAY_ADDRESS names no cluster (a ConnectionError, after Ray's bounded wait, stood in
    for here) becomes one VidcolorError naming the address; nothing is left."""
    def refuse(*args, **kwargs):
        raise ConnectionError("Failed to connect to Ray cluster at 127.0.0.1:9\nmore detail")

    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(VidcolorError, match=r"RAY_ADDRESS=127\.0\.0\.1:9 \(Failed to connect to Ray cluster at 127\.0\.0\.1:9\)$"):
        colorize(film, tmp_path / "x.mkv", tiny_colorizers.fcn, executor="ray")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_run_removes_every_output_folder_it_made(tmp_path, film, tiny_colorizers, monkeypatch):
    """-o new/sub/x.mkv where neither folder exists: a Ray run that failed (a damaged segment, a cluster that cannot
    be reached: stood in for here) removed new/sub but left new/ behind, empty; the local run removes both."""
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: (_ for _ in ()).throw(ConnectionError("refused")))
    with pytest.raises(VidcolorError, match="RAY_ADDRESS=127.0.0.1:9"):
        colorize(film, tmp_path / "new" / "sub" / "x.mkv", tiny_colorizers.fcn, executor="ray")
    assert list(tmp_path.iterdir()) == []


def test_ray_is_imported_with_a_bounded_wait_for_the_cluster(monkeypatch):
    """Where RAY_ADDRESS names a cluster, Ray is imported with one attempt to reach it, of at most 20 s (it made
    20 of about 41 s: 14 minutes); a user's own setting is kept; a local instance changes nothing."""
    code = ("import os, vidcolor.distributed as d; ray = d.import_ray(); "
            "print(os.environ.get('RAY_gcs_server_port_wait_time_s'), ray._config.py_gcs_connect_timeout_s())")
    for name in ("RAY_gcs_server_port_wait_time_s", "RAY_py_gcs_connect_timeout_s", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)

    def imported(**env) -> str:
        done = subprocess.run([sys.executable, "-c", code], env={**cli_env(), **env}, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode().strip()

    assert imported(RAY_ADDRESS="10.0.0.1:6379") == "1 20"
    assert imported(RAY_ADDRESS="10.0.0.1:6379", RAY_py_gcs_connect_timeout_s="45") == "1 45"
    assert imported() == "None 30"          # Ray's defaults


def _unreachable(tmp_path, film, monkeypatch, **env) -> tuple:
    """The CLI's Ray run with RAY_ADDRESS on a port where nothing listens: (its result, seconds)."""
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    began = time.monotonic()
    res = run_cli("dequantize", film, "-o", tmp_path / "y.mp4", "--executor", "ray", timeout=90)
    return res, time.monotonic() - began


def test_an_unreachable_cluster_is_one_line_soon(tmp_path, film, monkeypatch):
    """RAY_ADDRESS=127.0.0.1:1 ran for more than 5.5 minutes, printing Ray's GCS warnings (Ray retried the
    address 20 times). Now one attempt: with Ray's per-attempt waits shortened here by the user's own settings
    (1 s for the GCS channel, 2 s for the cluster ID), the run ends in seconds (still running after 90 s before);
    one line, nothing of Ray's, nothing left."""
    res, seconds = _unreachable(tmp_path, film, monkeypatch, RAY_gcs_rpc_server_connect_timeout_s="1",
                                RAY_py_gcs_connect_timeout_s="2")
    assert_one_line_error(res)
    assert "cannot start or reach the Ray cluster at RAY_ADDRESS=127.0.0.1:1" in res.stderr
    assert "Failed to get cluster ID from GCS server" in res.stderr      # Ray's last word on it, held back till then
    assert seconds < 45, seconds
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_an_unreachable_cluster_is_given_up_in_half_a_minute(tmp_path, film, monkeypatch):
    """vidcolor's own bounds, Ray's waits as they are: about 31 s (5 s GCS channel, 5 s pubsub, 20 s cluster ID)."""
    for name in ("RAY_gcs_rpc_server_connect_timeout_s", "RAY_py_gcs_connect_timeout_s",
                 "RAY_gcs_server_port_wait_time_s"):
        monkeypatch.delenv(name, raising=False)
    res, seconds = _unreachable(tmp_path, film, monkeypatch)
    assert_one_line_error(res)
    assert seconds < 60, seconds
    assert list(tmp_path.iterdir()) == []


def test_a_folder_with_a_broken_video_leaves_nothing(tmp_path, film, tiny_colorizers):
    src = tmp_path / "reels"
    src.mkdir()
    shutil.copy(film, src / "a.mp4")
    (src / "b.mp4").write_bytes(b"not a video at all")
    with pytest.raises(VidcolorError, match="b.mp4: cannot read as video"):
        colorize(src, tmp_path / "out", tiny_colorizers.fcn, executor="ray")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reels"]       # no output folder, no work folder


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl")
def test_strays_of_a_run_still_writing_into_the_work_folder_are_kept(tmp_path):
    """The work folder's hidden files were all removed when a run began or stopped, the partial file of a segment
    that another run of the same command (here or on another host) was still writing included. Now only those no
    process locks (their writer is dead) go."""
    import fcntl

    from vidcolor.distributed import _remove_strays

    live, dead = tmp_path / ".segment-00001.abcdefgh.partial.nut", tmp_path / ".segment-00002.abcdefgh.partial.nut"
    for stray in (live, dead):
        stray.write_bytes(b"")
        os.chmod(stray, 0o600)                      # as mkstemp makes a partial file
    (tmp_path / "segment-00000.nut").write_bytes(b"")
    held = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        _remove_strays(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "segment-00000.nut"]
    finally:
        os.close(held)
    _remove_strays(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segment-00000.nut"]


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl")
def test_the_stray_of_a_worker_still_dying_is_removed_when_its_lock_goes(tmp_path):
    """A full test run left the killed worker's partial file in the work folder about once in three
    (test_a_run_stopped_in_a_segment_leaves_no_partial_file_and_nothing_on_stdout): Ray's worker process still held
    its lock for a moment after ray.kill. _remove_strays tries a locked stray again until STRAY_WAIT has passed."""
    import fcntl
    import threading

    from vidcolor.distributed import STRAY_WAIT, _remove_strays

    dying = tmp_path / ".segment-00001.abcdefgh.partial.nut"
    dying.write_bytes(b"")
    os.chmod(dying, 0o600)
    held = os.open(dying, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)
    threading.Timer(STRAY_WAIT / 4, os.close, (held,)).start()     # the worker's process exits a moment later
    _remove_strays(tmp_path)
    assert not dying.exists()


WORKERS_CANNOT_CACHE = """import os
with open("/proc/self/cmdline", "rb") as f:
    if b"default_worker.py" in f.read():      # Ray's worker processes only: a node whose cache is not writable
        os.environ["VIDCOLOR_CACHE"] = os.path.join(os.environ["VIDCOLOR_CACHE"], "not-a-folder", "cache")
"""

OWN_SESSION = """import json, sys, warnings, ray
from vidcolor.api import dequantize
from vidcolor.errors import VidcolorWarning
ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")      # log_to_driver, as Ray's default
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", VidcolorWarning)
    dequantize(sys.argv[1], sys.argv[2], backend="onnxruntime", executor="ray", segment_seconds=1.0, workers=2,
               progress=False)
ray.shutdown()
print(json.dumps([str(w.message) for w in caught if issubclass(w.category, VidcolorWarning)]))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="tells Ray's worker processes by /proc/self/cmdline")
def test_a_workers_warning_is_said_once_as_a_local_run_says_it(tmp_path, film):
    """A warning issued inside a Ray worker (here: a worker node whose ONNX cache cannot be written; the driver's
    can) was lost from the CLI's run (Ray's log, log_to_driver off), and in a caller's own session (log_to_driver
    on) printed as a raw Python warning line per worker ('(SegmentWorker pid=...) .../tracing_helper.py:487:
    VidcolorWarning: ...' and the source line under it). Now the driver says it once, as a local run: the CLI's
    one line, a library caller's one VidcolorWarning."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "not-a-folder").write_bytes(b"")
    env = _env_with_sitecustomize(tmp_path, WORKERS_CANNOT_CACHE, VIDCOLOR_CACHE=str(cache))
    said = "cannot cache the ONNX graph ("
    cli = subprocess.run([sys.executable, "-m", "vidcolor.cli", "dequantize", str(film), "-o", str(tmp_path / "a.mp4"),
                          "--backend", "onnxruntime", "--executor", "ray", "--segment-seconds", "1", "--workers", "2",
                          "-q"], env=env, capture_output=True, timeout=300)
    err = cli.stderr.decode(errors="replace")
    assert cli.returncode == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vidcolor: warning: {said}"), err
    assert lines[0].endswith("); exporting it each run"), err
    own = subprocess.run([sys.executable, "-c", OWN_SESSION, str(film), str(tmp_path / "b.mp4")], env=env,
                         capture_output=True, timeout=300)
    err = own.stderr.decode(errors="replace")
    assert own.returncode == 0, err
    warned = json.loads(own.stdout.decode().splitlines()[-1])
    assert len(warned) == 1 and warned[0].startswith(said), warned
    assert "VidcolorWarning" not in err and "SegmentWorker" not in err, err


def test_an_input_that_grows_while_it_is_read_is_warned_about_as_a_local_run_does(cluster, tmp_path, ffmpeg_exe,
                                                                                  tiny_colorizers, monkeypatch):
    """A recording still being written (Matroska reads as far as it is written), grown after the segments were
    planned: a local run writes the frames it read and warns that the input changed while it was read; the Ray run
    failed ('segment 3 decoded 68 of its 17 frames (damaged file or inexact seeking; use executor='local')': its last
    segment read to the new end), and said nothing of the change where no frame was added. Now it writes the frames
    planned and says the local run's warning, once."""
    from vidcolor import distributed

    whole = tmp_path / "whole.mkv"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=24", "-t", "4", "-c:v", "libx264", "-preset",
               "ultrafast", "-pix_fmt", "yuv420p", "-x264-params", "keyint=12:min-keyint=12:scenecut=0", str(whole))
    src = tmp_path / "recording.mkv"
    src.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    planned = len(decode_all(str(src))[0])
    plan = distributed.make_plan

    def recorder_writes_on(*args, **kwargs):
        plan(*args, **kwargs)
        shutil.copy(whole, src)

    monkeypatch.setattr(distributed, "make_plan", recorder_writes_on)
    with vidcolor_warnings() as said:
        summary = colorize(src, tmp_path / "ray.mkv", tiny_colorizers.fcn, executor="ray", segment_seconds=0.5,
                           workers=2)
    assert summary.frames == planned < 96
    assert len(decode_all(str(tmp_path / "ray.mkv"))[0]) == planned
    assert said == [f"{src} changed while it was read (still being recorded or copied?): the output has the {planned} "
                    "frames read; run again on the finished file for the rest"], said


def test_an_output_another_run_writes_meanwhile_is_left_with_skip_existing(cluster, tmp_path, film, tiny_colorizers,
                                                                           monkeypatch):
    """Two runs of one folder with skip_existing (a scheduler's retries): a local run leaves an output that the other
    wrote while it worked and counts its input as skipped (test_folder_resume); the Ray run failed at that output's
    join ('out/b.mp4 exists (use overwrite to replace it)'), the outputs it
    had still to join lost. Now it leaves it as the other run wrote it, as a local run does; a file's run is
    'nothing to do', as a local one's."""
    from vidcolor import distributed

    src = tmp_path / "reels"
    src.mkdir()
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(film, src / name)
    out = tmp_path / "out"
    plan = distributed.make_plan

    def another_run_writes(work_plan, *args, **kwargs):       # once this run has listed and opened its clips
        plan(work_plan, *args, **kwargs)
        if work_plan.clip.input.name == "b.mp4":
            work_plan.clip.target.parent.mkdir(exist_ok=True)
            work_plan.clip.target.write_bytes(b"the other run's")

    monkeypatch.setattr(distributed, "make_plan", another_run_writes)
    summary = colorize(src, out, tiny_colorizers.fcn, executor="ray", segment_seconds=2.0, skip_existing=True)
    assert summary.frames == 96 and summary.skipped == 1, summary
    assert summary.note.endswith("; 1 skipped: its output exists"), summary.note
    assert (out / "b.mp4").read_bytes() == b"the other run's"
    assert len(decode_all(str(out / "a.mp4"))[0]) == 96
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mp4"]        # no work folder left
    (out / "b.mp4").unlink()
    (src / "a.mp4").unlink()
    summary = colorize(src, out, tiny_colorizers.fcn, executor="ray", skip_existing=True)     # its one clip
    assert str(summary) == "nothing to do: 1 skipped: its output exists", str(summary)      # as a local run's
    one = tmp_path / "one" / "b.mp4"
    summary = colorize(src / "b.mp4", one, tiny_colorizers.fcn, executor="ray", skip_existing=True)
    assert str(summary) == f"nothing to do: {one} exists: another run wrote it while this one worked (skip_existing)"
    assert one.read_bytes() == b"the other run's" and sorted(p.name for p in one.parent.iterdir()) == ["b.mp4"]


def test_a_ray_runs_summary_says_the_quantizers_found_as_a_local_run_does(cluster, tmp_path, film):
    """Dequantize's summary says what quantizer was found (and what passed unchanged); a Ray run's said only its
    segments ('ray: 1 segment(s) on 1 worker(s)'). Now the workers' findings, their warm-up frames left out, joined
    across segments: one segment gives the local run's note."""
    from vidcolor.api import dequantize

    local = dequantize(film, tmp_path / "local.mkv", progress=False, **LOSSLESS)
    assert local.note.startswith("quantizer: "), local.note
    ray_run = dequantize(film, tmp_path / "ray.mkv", progress=False, executor="ray", workers=1, segment_seconds=10.0,
                         **LOSSLESS)
    assert ray_run.note == f"ray: 1 segment(s) on 1 worker(s); {local.note}"


def test_segments_findings_lose_their_warm_up_and_join_where_they_go_on():
    from vidcolor.distributed import _after_warmup, _joined_found
    from vidcolor.pipeline import Found

    first = [Found("palette of 16 colours", 20, None, "palette of 16 colours, confidence 0.9")]
    second = [Found("palette of 16 colours", 5, None, "m"), Found("no quantizer found", 3, "", "n"),
              Found("palette of 16 colours", 12, None, "m")]
    assert _after_warmup(second, 8) == [Found("palette of 16 colours", 12, None, "m")]
    assert _after_warmup(second, 4) == [Found("palette of 16 colours", 1, None, "m"), *second[1:]]
    assert _joined_found([first, _after_warmup(second, 4)]) == [
        Found("palette of 16 colours", 21, None, "palette of 16 colours, confidence 0.9"),
        Found("no quantizer found", 3, "", "n"), Found("palette of 16 colours", 12, None, "m")]
    assert first[0].frames == 20                # the parts are left as they were


def test_a_weight_file_replaced_at_its_path_is_not_resumed_from(tmp_path, film, tiny_colorizers, monkeypatch):
    """The work folder's key held the model's name, not its file: a run stopped half way, the model retrained at the
    same path (or a bundled one updated), and the same command joined the old model's segments to the new one's.
    Now the weight file is in the key (its contents since stop 70; its size and modification time before)."""
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    from vidcolor import distributed
    from vidcolor.pipeline import RunSummary

    model = tmp_path / "model.safetensors"
    shutil.copy(tiny_colorizers.fcn, model)
    keys = []

    def keyed(clips, spec, **kw):           # the driver's spec, as open_work keys the work folder with it
        keys.append(spec.key())
        return RunSummary(0, 0.0, str(clips[0][1]))

    monkeypatch.setattr(distributed, "process_clips", keyed)
    for _ in range(2):
        colorize(film, tmp_path / "out.mkv", model, executor="ray")
    with safe_open(str(model), "np") as f:                          # retrained: other weights, the same arch
        metadata = f.metadata()
    weights = {name: np.asarray(value * 0.5 if value.dtype.kind == "f" else value, value.dtype)
               for name, value in load_file(model).items()}
    save_file(weights, model, metadata=metadata)
    colorize(film, tmp_path / "out.mkv", model, executor="ray")
    assert keys[0] == keys[1] != keys[2]


@pytest.mark.slow
def test_a_warning_said_while_the_bar_is_drawn_has_a_line_of_its_own(tmp_path, film, ffmpeg_exe):
    """A Ray run says warnings while its progress bar is drawn (the joins' 'not carried' here, its workers'): the line
    began after the bar ('100%|#####| 48/48 [00:03<00:00, 12.57frame/s]vidcolor: warning: not carried from ...').
    Now the bar is cleared for the line and drawn again."""
    src = tmp_path / "two.mkv"
    run_ffmpeg(ffmpeg_exe, "-i", str(film), "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2", "-map", "0",
               "-map", "1", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", str(src))
    res = run_cli("dequantize", src, "-o", tmp_path / "out.mkv", "--executor", "ray", "--workers", "1", timeout=300)
    assert res.returncode == 0, res.stderr
    said = [piece for piece in re.split(r"[\r\n]", res.stderr) if "vidcolor: warning" in piece]
    assert said == ["vidcolor: warning: not carried from two.mkv: video stream 2 (h264) (the output holds the "
                    "processed video, audio, subtitles and attachments)"], res.stderr


@pytest.mark.parametrize("options", [{}, {"references": ["ref.png"]}, {"reference_mode": "keyframes"}])
def test_the_key_holds_the_default_weight_file_and_the_reference_images(tmp_path, monkeypatch, options):
    """Review of the stop's diff: the resume key held the weight file only when a model path was given (the bundled
    default of colorize, or a keyframes run's automatic model, was not keyed), and no reference image given by
    path: one replaced at its path reused the old segments. JobSpec.key is pure: no Ray started. (The key holds the
    files' contents since stop 70, so each is rewritten with other bytes; it held their modification times.)"""
    from vidcolor import api, weights
    from vidcolor.distributed import JobSpec
    from vidcolor.jobs import DEFAULTS
    from vidcolor.ray_work import job_files

    bundled = tmp_path / "weights"
    bundled.mkdir()
    for name in weights.REGISTRY.values():
        (bundled / name).write_bytes(b"w")
    monkeypatch.setattr(weights, "WEIGHTS_DIR", bundled)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ref.png").write_bytes(b"r")
    opts = {"model": None, "device": "cpu", **options}

    def key() -> str:
        return JobSpec(api.build_job, {"kind": "colorize", "options": opts}, {}, job_files("colorize", opts),
                       eight_bits=None).key()

    def touched(path):                      # rewritten: other contents, a later modification time
        st = path.stat()
        path.write_bytes(path.read_bytes() + b"+")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    first = key()
    assert key() == first
    touched(bundled / weights.REGISTRY[DEFAULTS["colorize"]])   # the automatic model (keyframes: its keyframes')
    if not options.get("references"):
        assert key() != first
    if options:
        second = key()
        touched(bundled / weights.REGISTRY[DEFAULTS["colorize-reference"]])
        assert key() != second
    if options.get("references"):
        second = key()
        touched(tmp_path / "ref.png")
        assert key() != second


def test_segments_of_nodes_whose_clocks_differ_are_put_on_the_drivers():
    """Two nodes, one 100 s ahead of the driver, one in step, each segment received 0.01-0.3 s after its end: the
    segments' times come out on the driver's clock, each node's by its least lag, so the frames' span is the one
    the driver saw (2.0 s), not 102 s across the two clocks."""
    from vidcolor.distributed import _on_driver_clock

    def timing(node, ahead, began, ended, lag):      # began, ended: the driver's clock; the worker says its own
        return {"node": node, "began": began + ahead, "ended": ended + ahead, "received": ended + lag}

    timings = [timing("a", 100.0, 10.0, 11.0, 0.01), timing("b", 0.0, 10.2, 11.5, 0.02),
               timing("a", 100.0, 11.0, 12.0, 0.3), timing("b", 0.0, 11.5, 11.9, 0.02)]
    _on_driver_clock(timings)
    assert max(t["ended"] for t in timings) - min(t["began"] for t in timings) == pytest.approx(2.0, abs=0.02)
    assert [round(t["began"], 2) for t in timings] == [10.01, 10.22, 11.01, 11.52]
    assert all("received" not in t for t in timings)


def test_a_signal_while_ray_stops_is_raised_once_it_has_stopped(monkeypatch):
    """Ctrl-C during ray.shutdown (a second one, while a stopped run waits for Ray) raised KeyboardInterrupt inside it:
    with real Ray, SIGINT 0.05 s into shutdown left its raylet and GCS server running in a process that went on, and
    a later ray.init could connect to them. Now the local instance vidcolor started is stopped whole, and the
    KeyboardInterrupt comes after (a Ray stand-in whose shutdown is interrupted by the signal it sends itself)."""
    import types

    from vidcolor.distributed import _cluster

    stopped = []

    def shutdown():
        os.kill(os.getpid(), signal.SIGINT)       # its handler runs at the next bytecode, inside shutdown
        for _ in range(100):
            time.sleep(0.001)
        stopped.append(True)

    fake = types.SimpleNamespace(is_initialized=lambda: False, shutdown=shutdown,
                                 init=lambda **kw: types.SimpleNamespace(address_info={}))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(KeyboardInterrupt):
        with _cluster(fake):
            pass
    assert stopped == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_gpu_index_is_refused_with_ray_before_ray_starts(monkeypatch):
    """process_clips checked ``device == "cuda"``: ``cuda:0`` skipped the 'cluster has no GPU' check and every worker,
    each given its own GPU by Ray, would be told the same index (``cpu:0`` asked for GPUs). An index is now refused
    with one line, before Ray is started; ``cpu:N`` is the CPU. No Ray is started here."""
    import torch

    from vidcolor import distributed
    from vidcolor.distributed import JobSpec, process_clips

    def no_ray():
        raise AssertionError("Ray was started")

    monkeypatch.setattr(distributed, "import_ray", no_ray)
    for device in ("cuda:0", "cuda:1", torch.device("cuda", 1)):
        with pytest.raises(VidcolorError, match="not a GPU index") as info:
            process_clips([], JobSpec(dict, {}, eight_bits=None), device=device)
        assert cli_wording(info.value).startswith("--device cuda:"), cli_wording(info.value)
    from vidcolor.distributed import check_device

    assert [check_device(d) for d in ("auto", "cpu", "cpu:0", "cpu:3", "cuda")] == ["auto", "cpu", "cpu", "cpu", "cuda"]
    with pytest.raises(VidcolorError, match="auto, cpu or cuda"):
        check_device("gpu")


def test_the_cli_takes_a_gpu_index_and_ray_refuses_it_in_one_line(film):
    """``--device`` offered auto, cpu and cuda alone (``cuda:1`` a usage error) while the library took any torch
    device of type cpu or cuda: the CLI now takes ``cuda:N`` (and ``cpu:N``), refuses other forms as a usage error
    naming what it takes, and with ``--executor ray`` refuses an index in one line before Ray starts."""
    res = invoke_cli("dequantize", film, "--executor", "ray", "--device", "cuda:1")
    assert_one_line_error(res)
    assert "--device cuda:1: with the Ray executor give cuda, not a GPU index" in res.stderr, res.stderr
    for bad in ("cuda:01", "gpu", "CUDA", "cuda:"):
        res = invoke_cli("dequantize", film, "--device", bad)
        assert res.returncode == 2 and len(res.stderr_lines) == 1, res.stderr
        assert "is not auto, cpu, cuda or cuda:N" in res.stderr, res.stderr


@pytest.mark.slow
def test_a_10_bit_source_keeps_its_levels_through_ray_segments_and_their_join(cluster, tmp_path, ffmpeg_exe,
                                                                              tiny_colorizers):
    """A Ray run decoded a 10-bit source at 8 bits, whatever the local run did: a gray 10-bit ramp at saturation 0
    (output L = input L) came out on 8-bit levels. Where the job keeps the depth (:func:`vidcolor.api.colorize` hands
    Ray ``JobSpec.eight_bits`` None for a colorize job into output that holds it), each segment is now decoded,
    processed and encoded at 16 bits, the default output is yuv420p10le, and the parts are joined as they are: code
    for code, in 3 segments, without a warning."""
    from test_depth import FRAMES, _pix_fmt, _ramp10, _y_rows
    from vidcolor.api import colorize as run_colorize

    src, out = tmp_path / "ramp10.mkv", tmp_path / "out.mkv"
    row = _ramp10(ffmpeg_exe, src, "-g", "1")                # a keyframe each: 3 segments
    with vidcolor_warnings() as said:
        summary = run_colorize(src, out, model=str(tiny_colorizers.fcn), saturation=0, render_size=32, backend="torch",
                               codec="ffv1", temporal="off", executor="ray", segment_seconds=1 / 24, workers=2,
                               progress=False)
    assert said == [] and len(summary.segments) == FRAMES
    assert _pix_fmt(out) == "yuv420p10le"
    np.testing.assert_array_equal(_y_rows(out), np.tile(row, (FRAMES, 1)))
