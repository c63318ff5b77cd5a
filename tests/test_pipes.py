"""Inputs that can be read only once: stdin, and paths that are not regular files (a FIFO, ``/dev/stdin`` on a
pipe, bash's ``<(...)``). They are read as stdin is, their video alone; nothing opens them a second time."""
from __future__ import annotations

import contextlib
import os
import time
import threading
from pathlib import Path

import av
import pytest

from helpers import CliResult, invoke_cli, make_clip, run_cli, run_ffmpeg, vidcolor_warnings
from vidcolor.api import process
from vidcolor.io.paths import read_once
from vidcolor.errors import VidcolorError

FAST = dict(preset="ultrafast", progress=False)


@pytest.fixture(scope="module")
def mkv_with_audio(tmp_path_factory, ffmpeg_exe) -> Path:
    """H.264 + AAC in Matroska, which reads from a pipe."""
    return make_clip(ffmpeg_exe, tmp_path_factory.mktemp("pipes") / "av.mkv")


def _fifo_fed(tmp_path: Path, data: bytes) -> tuple[Path, threading.Event]:
    """A FIFO that a thread writes ``data`` into, then keeps giving an empty read to whatever opens it again (a
    second reader waited forever for a writer: the encoder did, for the audio) until the event is set."""
    fifo = tmp_path / "feed"
    os.mkfifo(fifo)
    done = threading.Event()

    def feed():
        with open(fifo, "wb") as f:
            f.write(data)
        while not done.is_set():
            with contextlib.suppress(OSError):          # ENXIO: no reader now
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            time.sleep(0.05)
    threading.Thread(target=feed, daemon=True).start()
    return fifo, done


def _streams(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return [s.type for s in c.streams]


def test_read_once_is_stdin_and_paths_that_are_not_regular_files(tmp_path, mkv_with_audio):
    os.mkfifo(tmp_path / "fifo")
    assert read_once("-") and read_once(tmp_path / "fifo") and read_once("/dev/null")
    assert not read_once(mkv_with_audio) and not read_once(tmp_path) and not read_once(tmp_path / "missing")


def test_a_fifo_with_audio_is_read_once_for_its_video(tmp_path, mkv_with_audio):
    fifo, done = _fifo_fed(tmp_path, mkv_with_audio.read_bytes())
    try:
        with vidcolor_warnings() as said:
            summary = process(fifo, tmp_path / "out.mp4", lambda b: b, suffix="x", **FAST)
    finally:
        done.set()
    assert summary.frames == 10 and _streams(tmp_path / "out.mp4") == ["video"]
    assert len(said) == 1 and said[0].startswith(f"not carried from {fifo}: audio"), said


def test_dev_stdin_on_a_pipe_is_read_as_stdin(tmp_path, mkv_with_audio, tiny_models):
    # the encoder used to open /dev/stdin, its own stdin (the frames sent to it), as the audio's source
    res = run_cli("dequantize", "/dev/stdin", "-o", "out.mp4", "--model", tiny_models.lab, "-q", "--preset",
                  "ultrafast", cwd=tmp_path, stdin=mkv_with_audio.read_bytes())
    assert res.returncode == 0, res.stderr
    assert _streams(tmp_path / "out.mp4")[0] == "video" and "audio" not in _streams(tmp_path / "out.mp4")


def test_dev_stdin_on_a_file_keeps_its_audio(tmp_path, mkv_with_audio):
    fd = os.open(mkv_with_audio, os.O_RDONLY)
    try:
        process(f"/proc/self/fd/{fd}", tmp_path / "out.mp4", lambda b: b, suffix="x", **FAST)
    finally:
        os.close(fd)
    assert _streams(tmp_path / "out.mp4") == ["video", "audio"]


def test_ray_refuses_a_pipe(tmp_path):
    from vidcolor.ray_work import ray_clips

    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(VidcolorError, match="not stdin, stdout, a pipe"):
        ray_clips(tmp_path / "fifo", tmp_path / "out.mp4", "x", {})


def test_a_folder_listing_leaves_a_fifo_out(tmp_path, mkv_with_audio):
    from vidcolor.io.folders import folder_contents

    (tmp_path / "reels").mkdir()
    os.mkfifo(tmp_path / "reels" / "live.mkv")
    (tmp_path / "reels" / "a.mkv").write_bytes(mkv_with_audio.read_bytes())
    assert [p.name for p in folder_contents(tmp_path / "reels")[1]] == ["a.mkv"]


def test_stdin_names_the_streams_it_does_not_carry_once(tmp_path, mkv_with_audio, tiny_models):
    args = ("dequantize", "-", "-o", "out.mp4", "--model", tiny_models.lab, "-q", "--preset", "ultrafast",
            "--overwrite")
    res = invoke_cli(*args, cwd=tmp_path, stdin=mkv_with_audio.read_bytes())
    assert res.returncode == 0 and res.stderr_lines == [
        "vidcolor: warning: not carried from stdin: audio (aac) (a pipe is read once, for its video; give the "
        "file's name to keep them)"], res.stderr
    # --no-audio drops it as asked: nothing to say (it said stdin had no audio to copy)
    res = invoke_cli(*args, "--no-audio", cwd=tmp_path, stdin=mkv_with_audio.read_bytes())
    assert res.returncode == 0 and res.stderr == "", res.stderr
    # a pipe of video alone: nothing to say either
    video = tmp_path / "video.mkv"
    with av.open(str(mkv_with_audio)) as src, av.open(str(video), "w") as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    res = invoke_cli(*args, cwd=tmp_path, stdin=video.read_bytes())
    assert res.returncode == 0 and res.stderr == "", res.stderr


def test_a_pipe_without_an_output_is_refused_up_front(tmp_path):
    from vidcolor.io.paths import output_for

    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(VidcolorError, match="a pipe: give the output with -o"):
        output_for(tmp_path / "fifo", None, "dequantized")


def test_a_warning_names_a_pipe_by_its_path(tmp_path):
    """bash's <(ffmpeg ...) is /dev/fd/63: a warning about its 10 bits named it '63'."""
    from types import SimpleNamespace

    from vidcolor.io.paths import name_of
    from vidcolor.io.reader import warn_about_source

    os.mkfifo(tmp_path / "feed")
    for source, name in ((tmp_path / "feed", str(tmp_path / "feed")), ("-", "stdin"), (tmp_path / "a.mkv", "a.mkv")):
        with vidcolor_warnings() as said:
            warn_about_source(name_of(source), SimpleNamespace(alpha=None, bits=10, interlaced=None), "at 8 bits")
        assert len(said) == 1 and said[0].startswith(f"{name} has 10 bits per sample;")


@pytest.mark.parametrize("fmt", ["matroska", "nut"])
def test_stdin_keeps_the_video_s_start_as_the_named_file_does(tmp_path, ffmpeg_exe, tiny_models, fmt):
    """A/V audit, stop 63: a video that starts 0.5 s after its audio started at 0 when it came on stdin (the start
    was taken from the named file only), though the stream says where it starts; the named file with --no-audio
    keeps it."""
    src = tmp_path / "late_video.mkv"
    run_ffmpeg(ffmpeg_exe, "-itsoffset", "0.5", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1",
               "-f", "lavfi", "-i", "sine=duration=1.5", "-c:v", "ffv1", "-c:a", "pcm_s16le", "-f", fmt,
               str(src))
    args = ("--model", tiny_models.lab, "-q", "--preset", "ultrafast", "--no-audio")
    named = invoke_cli("dequantize", src, "-o", "named.mkv", *args, cwd=tmp_path)
    piped = invoke_cli("dequantize", "-", "-o", "piped.mkv", *args, cwd=tmp_path, stdin=src.read_bytes())
    assert named.returncode == piped.returncode == 0, (named.stderr, piped.stderr)
    starts = []
    for name in ("named.mkv", "piped.mkv"):
        with av.open(str(tmp_path / name)) as c:
            starts.append([f.time for f in c.decode(video=0)][0])
    assert starts == [pytest.approx(0.5, abs=1e-3)] * 2


def test_the_readme_s_stdin_example_keeps_a_variable_frame_rate(tmp_path, ffmpeg_exe, tiny_models):
    """A/V audit, stop 63: the README's stdin example (``ffmpeg -i x.mkv -c:v ffv1 -f nut - | vidcolor dequantize -``)
    lost a variable frame rate before vidcolor saw it: ffmpeg encodes FFV1 into NUT on a 1/fps time base. The
    example, as the README gives it, now keeps every frame's time."""
    import shlex

    from helpers import REPO

    line = next(ln for ln in (REPO / "README.md").read_text().splitlines()
                if ln.startswith("ffmpeg -i x.mkv") and "| vidcolor dequantize -" in ln)
    feed, run = (shlex.split(part) for part in line.split("#")[0].split("|"))
    src = tmp_path / "x.mkv"                      # 33 ms a frame, every fourth 12 ms later: off any 1/fps grid
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=30:duration=2", "-vf",
               "settb=1/1000,setpts='N*33+if(eq(mod(N,4),0),12,0)'", "-fps_mode", "passthrough",
               "-enc_time_base", "filter", "-c:v", "ffv1", str(src))
    assert feed[0] == "ffmpeg" and run[:3] == ["vidcolor", "dequantize", "-"]
    piped = run_ffmpeg(ffmpeg_exe, *[str(src) if a == "x.mkv" else a for a in feed[1:]])
    res = invoke_cli(*run[1:], "--model", tiny_models.lab, "-q", "--preset", "ultrafast", cwd=tmp_path, stdin=piped)
    assert res.returncode == 0, res.stderr
    times = []
    for name in ("x.mkv", run[run.index("-o") + 1]):
        with av.open(str(tmp_path / name)) as c:
            times.append([round(float(f.time) - float(c.streams.video[0].start_time * c.streams.video[0].time_base),
                                3) for f in c.decode(video=0)])
    assert len({round(b - a, 3) for a, b in zip(times[0], times[0][1:])}) == 3   # the source is VFR (21, 33, 45 ms)
    assert times[1] == times[0]


def _run_without_stdin(*args, cwd: Path) -> "CliResult":
    """``python -m vidcolor.cli ARGS <&-``: file descriptor 0 closed, so Python has no ``sys.stdin``."""
    import subprocess
    import sys

    from helpers import cli_env

    proc = subprocess.run([sys.executable, "-m", "vidcolor.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          timeout=120, env=cli_env(), preexec_fn=lambda: os.close(0))
    return CliResult(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))


@pytest.mark.parametrize("raw", [False, True])
def test_a_closed_stdin_is_one_line_and_a_raw_file_is_read_without_it(tmp_path, tiny_models, raw):
    """``vidcolor dequantize - <&-`` ended in a traceback ('NoneType' object has no attribute 'buffer'), as did a
    raw file read with stdin closed (when the reader closed it): one line, as ``-o - >&-`` says 'stdout is closed';
    the raw file is read."""
    from helpers import assert_one_line_error

    extra = ("--raw", "16x16", "--fps", "10") if raw else ()
    res = _run_without_stdin("dequantize", "-", *extra, "-o", "out.mp4", "--model", tiny_models.lab, "-q",
                             cwd=tmp_path)
    assert_one_line_error(res)
    assert res.stderr_lines == ["vidcolor: error: -: stdin is closed"]
    assert os.listdir(tmp_path) == []
    if raw:
        (tmp_path / "in.rgb").write_bytes(bytes(range(256)) * 3 * 4)        # 4 frames of 16x16 rgb24
        res = _run_without_stdin("dequantize", "in.rgb", *extra, "-o", "out.mp4", "--model", tiny_models.lab,
                                 "-q", "--preset", "ultrafast", cwd=tmp_path)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        assert (tmp_path / "out.mp4").stat().st_size > 0


def _run_with_stdin_from(path: Path, *args, cwd: Path) -> "CliResult":
    """``python -m vidcolor.cli ARGS < path``: stdin a regular file, not a pipe."""
    import subprocess
    import sys

    from helpers import cli_env

    with open(path, "rb") as stdin:
        proc = subprocess.run([sys.executable, "-m", "vidcolor.cli", *map(str, args)], cwd=cwd, capture_output=True,
                              timeout=120, env=cli_env(), stdin=stdin)
    return CliResult(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))


def test_stdin_redirected_from_a_file_keeps_its_audio_and_is_not_overwritten(tmp_path, mkv_with_audio, tiny_models):
    """``vidcolor dequantize - -o out.mp4 < in.mkv``: the audio was dropped with a warning that called the file a
    pipe, where ``/dev/stdin`` on the same file kept it; and ``-o in.mkv --overwrite`` replaced the input. The
    encoder takes the rest from the file, and the output may not be it."""
    src = tmp_path / "in.mkv"
    src.write_bytes(mkv_with_audio.read_bytes())
    res = _run_with_stdin_from(src, "dequantize", "-", "-o", "out.mp4", "--model", tiny_models.lab, "-q",
                               "--preset", "ultrafast", cwd=tmp_path)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert _streams(tmp_path / "out.mp4") == ["video", "audio"]
    before = src.read_bytes()
    res = _run_with_stdin_from(src, "dequantize", "-", "-o", "in.mkv", "--overwrite", "--model", tiny_models.lab,
                               "-q", cwd=tmp_path)
    assert res.returncode == 1 and res.stderr_lines == [
        "vidcolor: error: in.mkv would overwrite the input (stdin, redirected from it)"], res.stderr
    assert src.read_bytes() == before


def test_an_empty_pipe_says_that_nothing_came(tmp_path, tiny_models):
    """``ffmpeg -i missing.mp4 -f nut - | vidcolor dequantize - ...``: the upstream command failed, and vidcolor said
    'stdin: cannot read as video (Invalid data found when processing input)', as of a damaged stream."""
    from helpers import assert_one_line_error

    res = run_cli("dequantize", "-", "-o", "out.mp4", "--model", tiny_models.lab, "-q", cwd=tmp_path, stdin=b"")
    assert_one_line_error(res)
    assert res.stderr_lines == ["vidcolor: error: stdin: no data came (0 bytes: did the command before the pipe "
                                "fail?)"]
    res = run_cli("dequantize", "-", "-o", "out.mp4", "--model", tiny_models.lab, "-q", cwd=tmp_path,
                  stdin=b"not a video\n")
    assert res.stderr_lines == ["vidcolor: error: stdin: cannot read as video (Invalid data found when processing "
                                "input)"]
    assert os.listdir(tmp_path) == []
