"""GIF output: one palette for the whole clip, made in two passes through temporary files, so that ffmpeg's memory
does not grow with the clip; the temporary files go away on every exit path."""
from __future__ import annotations

import os
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

from helpers import cli_env, listing, mosaic, vidcolor_warnings
from vidcolor.errors import VidcolorError
from vidcolor.io import AnimatedImageReader, VideoWriter
from vidcolor.io.convert import SWS_FLAGS
from vidcolor.io.timing import Timeline

W, H = 48, 32


def vfr_timeline(n: int, time_base=Fraction(1, 1000)) -> Timeline:
    """``n`` frames at uneven intervals (40, 100, 70, 40, 100, 70... ms)."""
    timeline = Timeline.of(Fraction(15), time_base)
    t = 0
    for i in range(n):
        timeline.add(round(t / 1000 / time_base))
        t += (40, 100, 70)[i % 3]
    return timeline


def one_graph_gif(exe: str, frames: np.ndarray, timeline: Timeline, loop: int, out: Path) -> bytes:
    """The GIF the writer made before it had two passes: the frames (rgb24 in NUT with their timestamps, as the
    writer sends them) through one graph, split -> palettegen stats_mode=full -> paletteuse sierra2_4a."""
    nut = out.with_suffix(".nut")
    with av.open(str(nut), "w", format="nut") as mux:
        stream = mux.add_stream("rawvideo", rate=15)
        stream.width, stream.height, stream.pix_fmt = W, H, "rgb24"
        stream.time_base = stream.codec_context.time_base = timeline.time_base
        for i, frame in enumerate(frames):
            packet = av.Packet(frame.tobytes())
            packet.stream, packet.time_base = stream, timeline.time_base
            packet.pts = packet.dts = timeline.pts_of(i)
            mux.mux(packet)
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-f", "nut", "-i", str(nut), "-filter_complex",
                    "[0]split=2[a][b];[b]palettegen=stats_mode=full[p];[a][p]paletteuse=dither=sierra2_4a",
                    "-f", "gif", "-loop", str(loop), "-fps_mode", "passthrough", "-enc_time_base", "demux",
                    "-sws_flags", SWS_FLAGS, "-y", str(out)], check=True)
    return out.read_bytes()


@pytest.mark.parametrize("time_base", [Fraction(1, 1000), Fraction(1, 12288)])
def test_the_two_passes_write_the_gif_the_one_graph_wrote(tmp_path, ffmpeg_exe, time_base):
    """Same bytes as split -> palettegen -> paletteuse in one ffmpeg: the palette, the dithering, every frame's
    delay (variable, in a time base of ms and of a video's 1/12288) and the loop count."""
    frames = mosaic(9, H, W, seed=3)
    with VideoWriter(tmp_path / "two.gif", W, H, Fraction(15), timeline=vfr_timeline(9, time_base), loop=3) as w:
        w.write(frames)
    (tmp_path / "ref").mkdir()
    ref = one_graph_gif(ffmpeg_exe, frames, vfr_timeline(9, time_base), 3, tmp_path / "ref" / "one.gif")
    assert (tmp_path / "two.gif").read_bytes() == ref
    with AnimatedImageReader(tmp_path / "two.gif") as r:
        assert r.info.frames == 9 and r.info.loop == 3
        assert [r.timeline.pts_of(i) for i in range(9)] == [0, 40, 140, 210, 250, 350, 420, 460, 560]
    assert listing(tmp_path) == {"two.gif", "ref", "ref/one.gif", "ref/one.nut"}


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM")) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/PID/status (Linux)")
def test_the_ffmpeg_taking_the_frames_does_not_grow_with_the_clip(tmp_path):
    """The one-graph GIF writer's ffmpeg held every frame until the end: +0.23 MB a frame at 320x180 (about +90 MB
    over the 400 frames below). Now the frames go to a temporary FFV1 file as they come."""
    w, h = 320, 180
    writer = VideoWriter(tmp_path / "long.gif", w, h, Fraction(25))
    try:
        for seed in range(2):          # warm up: the encoder's and the palette's buffers
            writer.write(mosaic(10, h, w, seed) // 64 * 64)   # few colours: palettegen's histogram stays small
        time.sleep(0.3)
        start = _peak_rss_mb(writer._proc.pid)
        for seed in range(2, 42):
            writer.write(mosaic(10, h, w, seed) // 64 * 64)
        time.sleep(0.3)
        grown = _peak_rss_mb(writer._proc.pid) - start
        assert writer._proc.poll() is None
    finally:
        writer.abort()
    assert grown < 25, f"ffmpeg grew by {grown:.0f} MB over 400 frames"
    assert listing(tmp_path) == set()


def test_gif_temporaries_exist_only_while_writing(tmp_path):
    with VideoWriter(tmp_path / "a.gif", W, H, Fraction(15)) as w:
        w.write(mosaic(3, H, W))
        during = listing(tmp_path)
    assert any(p.endswith(".frames.nut") for p in during) and any(p.endswith(".partial.gif") for p in during)
    assert listing(tmp_path) == {"a.gif"}
    w = VideoWriter(tmp_path / "b.gif", W, H, Fraction(15))
    w.write(mosaic(3, H, W))
    w.abort()
    assert listing(tmp_path) == {"a.gif"}


@pytest.mark.parametrize("width, height", [(1, 520), (1, 2)])
def test_a_gif_one_pixel_wide(tmp_path, width, height):
    """FFV1 level 3 (the frames' temporary file) finds no slices for a frame 1 pixel wide and taller than 1:
    "ffmpeg failed (218): ffv1: Unsupported number 0 of slices requested" (API audit, stop 63); level 1 there."""
    frames = (np.random.default_rng(2).integers(0, 4, (3, height, width, 3)) * 80).astype(np.uint8)
    with VideoWriter(tmp_path / "a.gif", width, height, Fraction(10)) as w:
        for frame in frames:
            w.write(frame)
    with av.open(str(tmp_path / "a.gif")) as c:
        got = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(got) == 3 and got[0].shape == (height, width, 3)
    assert listing(tmp_path) == {"a.gif"}


def test_a_failing_last_pass_is_one_error_and_leaves_nothing(tmp_path):
    w = VideoWriter(tmp_path / "a.gif", W, H, Fraction(15))
    w.write(mosaic(3, H, W))
    w._last_pass = w._last_pass[:-1] + ["-no-such-option", "1", w._last_pass[-1]]
    with pytest.raises(VidcolorError, match=r"^ffmpeg failed: .*no-such-option") as err:
        w.close()
    assert "\n" not in str(err.value)
    assert listing(tmp_path) == set()


def test_a_signal_during_the_last_pass_stops_it_and_leaves_nothing(tmp_path):
    """The CLI turns SIGTERM into an exception (SIGINT: KeyboardInterrupt) wherever Python is: here while close()
    waits for the pass that writes the GIF. It is stopped and the partial GIF and temporaries are removed."""
    class Terminated(Exception):
        pass

    def terminate(signum, frame):
        raise Terminated

    w = VideoWriter(tmp_path / "a.gif", W, H, Fraction(15))
    w.write(mosaic(3, H, W))
    w._last_pass = [sys.executable, "-c", "import time; time.sleep(60)"]
    before = signal.signal(signal.SIGUSR1, terminate)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        timer.start()
        started = time.monotonic()
        with pytest.raises(Terminated):
            w.close()
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, before)
    assert time.monotonic() - started < 30 and w._proc.poll() is not None
    assert listing(tmp_path) == set()


def test_gif_on_stdout_keeps_its_temporaries_in_the_temporary_folder_and_removes_them(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    script = ("import sys; from fractions import Fraction; sys.path.insert(0, sys.argv[1]); from helpers import mosaic; "
              "from vidcolor.io import VideoWriter\n"
              f"with VideoWriter('-', {W}, {H}, Fraction(10), container='gif') as w:\n"
              f"    w.write(mosaic(4, {H}, {W}))")
    done = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parents[1])], capture_output=True,
                          env={**cli_env(), "TMPDIR": str(scratch)}, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout[:6] == b"GIF89a"
    (tmp_path / "out.gif").write_bytes(done.stdout)
    with AnimatedImageReader(tmp_path / "out.gif") as r:
        assert r.info.frames == 4
    assert listing(scratch) == set()


def test_gif_temporaries_are_removed_when_the_log_file_cannot_be_made(tmp_path, monkeypatch):
    import tempfile

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    with pytest.raises(VidcolorError, match=r"cannot create a temporary file \(No space left on device\)"):
        VideoWriter(tmp_path / "a.gif", W, H, Fraction(15))
    assert listing(tmp_path) == set()


def test_alpha_is_written_to_gif_only_and_given_to_the_writer_in_reading_order(tmp_path):
    """The writer takes RGBA frames for GIF; a video container holds no alpha (refused before anything is made). The
    reader of an animation with transparency gives each frame's alpha, in order, to the writer."""
    from PIL import Image

    with pytest.raises(ValueError, match="alpha is written to GIF only, not to mp4"):
        VideoWriter(tmp_path / "a.mp4", W, H, Fraction(10), alpha=True)
    assert listing(tmp_path) == set()
    rgb, alpha = mosaic(3, H, W), np.zeros((3, H, W), np.uint8)
    alpha[:, :, : W // 2] = 255
    alpha[1, :8] = 0
    frames = [Image.fromarray(np.dstack([c, a]), "RGBA") for c, a in zip(rgb, alpha)]
    frames[0].save(tmp_path / "a.png", save_all=True, append_images=frames[1:], duration=100)
    written = []
    with AnimatedImageReader(tmp_path / "a.png", keep_alpha=True) as r:
        write = r.with_alpha(written.append)
        for frame in r:
            write(frame)
    got = np.stack(written)
    np.testing.assert_array_equal(got[..., 3], alpha)
    np.testing.assert_array_equal(got[..., :3][alpha == 255], rgb[alpha == 255])
    with AnimatedImageReader(tmp_path / "a.png") as r:            # composited on black
        assert not r.keeps_alpha and np.stack(list(r))[alpha == 0].max() == 0 and r.composited
        with pytest.raises(ValueError, match="keeps no alpha"):
            r.with_alpha(written.append)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a killed orphan waits as one until init reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_hard_kill_during_the_last_pass_takes_its_ffmpeg_with_it(tmp_path):
    """``kill -9`` (or the out-of-memory killer) on vidcolor while :meth:`close` waits for the pass that writes the
    GIF: the child it started dies with it (it went on working, re-parented to init)."""
    script = ("import sys, threading, time; from fractions import Fraction; sys.path.insert(0, sys.argv[1]); "
              "from helpers import mosaic; from vidcolor.io import VideoWriter\n"
              f"w = VideoWriter(sys.argv[2], {W}, {H}, Fraction(15))\n"
              f"w.write(mosaic(3, {H}, {W}))\n"
              "w._last_pass = ['sleep', '60']\n"
              "def tell():\n"
              "    while getattr(w._proc, 'args', None) != w._last_pass:\n"
              "        time.sleep(0.01)\n"
              "    print(w._proc.pid, flush=True)\n"
              "threading.Thread(target=tell, daemon=True).start()\n"
              "w.close()\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(Path(__file__).parents[1]), str(tmp_path / "a.gif")],
                            stdout=subprocess.PIPE, env=cli_env(), cwd=tmp_path)
    child = None
    try:
        child = int(proc.stdout.readline())
        assert _running(child)
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(child), "the last pass's child outlived the killed vidcolor"
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        if child is not None and _running(child):
            os.kill(child, signal.SIGKILL)


def test_every_ffmpeg_the_writer_starts_is_tied_to_it(tmp_path, monkeypatch):
    """Both GIF passes (and any other output's one ffmpeg) are started with :func:`child_options`."""
    from vidcolor.io import writer as writer_module

    seen = []
    real = subprocess.Popen

    def popen(args, **kwargs):
        if "-version" not in args:      # imageio-ffmpeg's check of its executable
            seen.append(kwargs.get("preexec_fn"))
        return real(args, **kwargs)

    monkeypatch.setattr(writer_module.subprocess, "Popen", popen)
    with VideoWriter(tmp_path / "a.gif", W, H, Fraction(15)) as w:
        w.write(mosaic(3, H, W))
    with VideoWriter(tmp_path / "a.mkv", W, H, Fraction(15)) as w:
        w.write(mosaic(3, H, W))
    assert len(seen) == 3
    assert all(seen) if sys.platform.startswith("linux") else not any(seen)


@pytest.mark.parametrize("pixel_aspect, size", [(Fraction(4, 3), (64, 32)), (Fraction(3, 4), (48, 43)),
                                                (Fraction(1), (W, H))])
def test_non_square_pixels_are_made_square_in_a_gif(tmp_path, pixel_aspect, size):
    """GIF cannot mark a sample aspect ratio (an anamorphic source showed squeezed): the short side is lengthened to
    square pixels, rounded to the nearest pixel; the frames and their timing are kept."""
    from PIL import Image

    frames = mosaic(3, H, W)
    with VideoWriter(tmp_path / "a.gif", W, H, Fraction(15), pixel_aspect=pixel_aspect) as w:
        w.write(frames)
    assert listing(tmp_path) == {"a.gif"}
    with Image.open(tmp_path / "a.gif") as im:
        assert im.size == size and im.n_frames == 3
        first = np.asarray(im.convert("RGB").resize((W, H), Image.BOX), np.float32)
    assert np.abs(first - frames[0]).mean() < 12      # the picture itself, stretched back


@pytest.mark.parametrize("fps, short", [(60, 2), (50, 0), (Fraction(100), 8)])
def test_gif_frames_that_browsers_slow_down_are_warned_of(tmp_path, fps, short):
    """GIF holds delays in 1/100 s and the gif muxer rounds each frame's time to it: a 60 fps clip's frames last 20,
    10, 20, 20, 10... ms, and browsers show 0 and 10 ms frames for 100 ms, so such a GIF played about 3x slower there,
    without a word. The writer counts them (the last frame's own delay too) and warns; 50 fps gives none."""
    from PIL import Image, ImageSequence

    with vidcolor_warnings() as said:
        with VideoWriter(tmp_path / "a.gif", W, H, Fraction(fps)) as w:
            w.write(mosaic(8, H, W))
    with Image.open(tmp_path / "a.gif") as im:
        delays = [frame.info["duration"] for frame in ImageSequence.Iterator(im)]
    assert len(delays) == 8 and sum(d < 20 for d in delays) == short
    assert said == ([f"{tmp_path / 'a.gif'}: {short} of its 8 frames last under 20 ms (GIF holds delays in 1/100 s: "
                     "a 60 fps source's every third frame gets 10 ms), which browsers show for 100 ms each, so it "
                     "plays slower there; make the input 50 fps or less first (ffmpeg -vf fps=50)"] if short else [])
