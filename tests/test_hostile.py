"""The hostile-input corpus: every unusual or broken input an archive holds, built here with ffmpeg
(320x240, 2 s unless a case needs otherwise) and run through the ``vidcolor`` command line.

Bad input: exit 1, exactly one ``vidcolor: error:`` line that names the cause, no traceback, and nothing
left in the folder (hidden temporaries included). Valid but unusual input: exit 0, and the output keeps
the source's frame count, per-frame timestamps, video/audio offset and duration. Signals: 128 + the
signal, one line, no partial file. Dequantize runs use the tiny untrained generator (the identity), so
the plumbing is what is tested; colorize runs use the bundled models. The command line runs in this process
(helpers.invoke_cli, its same entry point), as a subprocess where the process matters: stdin, signals, an input
read through /proc/self/fd.
"""
from __future__ import annotations

import fcntl
import io
import os
import shutil
import signal
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from helpers import (assert_one_line_error, assert_terminated, cli_env, damage_packet, decode_all, invoke_cli, listing,
                     mosaic, png_claiming, run_cli, run_ffmpeg, vidcolor_warnings)

FAST = ("-q", "--preset", "ultrafast")
W, H, FPS, SECONDS = 320, 240, 24, 2


def frame_times(path) -> tuple[list, float]:
    """Presentation times (exact fractions of a second) of every decoded frame, and the container duration."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return [f.pts * v.time_base for f in c.decode(v)], c.duration / 1e6


def starts(path) -> tuple[float, float]:
    """Start times (seconds) of the first video and the first audio stream."""
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        return float(v.start_time * v.time_base), float(a.start_time * a.time_base)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, ffmpeg_exe) -> Path:
    """The inputs, one folder (each case runs in its own copy of what it needs)."""
    d = tmp_path_factory.mktemp("corpus")

    def ff(*args):
        run_ffmpeg(ffmpeg_exe, *args)

    testsrc = ["-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r={FPS}:d={SECONDS}"]
    sine = ["-f", "lavfi", "-i", f"sine=d={SECONDS}"]
    h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    ff(*testsrc, *sine, *h264, "-c:a", "aac", str(d / "src.mp4"))
    ff("-i", str(d / "src.mp4"), "-frames:v", "1", str(d / "ref.png"))
    # variable frame rate: the first 10 frames at 24 fps, then every third frame dropped
    ff(*testsrc, *sine, "-vf", r"select='not(eq(mod(n\,3)\,1))+lt(n\,10)'", "-fps_mode", "vfr", *h264,
       "-c:a", "aac", str(d / "vfr.mp4"))
    # the video starts 0.52 s after the audio
    ff("-itsoffset", "0.52", "-i", str(d / "src.mp4"), "-i", str(d / "src.mp4"), "-map", "0:v", "-map", "1:a",
       "-c", "copy", str(d / "late.mp4"))
    # the audio starts 0.4 s after the video
    ff("-i", str(d / "src.mp4"), "-itsoffset", "0.4", "-i", str(d / "src.mp4"), "-map", "0:v", "-map", "1:a",
       "-c", "copy", str(d / "early.mp4"))
    # streams that do not start at 0: MPEG-TS (1.4 s, as broadcast and camcorders write it), every stream moved by 5 s
    ff("-i", str(d / "src.mp4"), "-c", "copy", str(d / "src.ts"))
    ff("-i", str(d / "src.mp4"), "-c", "copy", "-output_ts_offset", "5", str(d / "late5.mkv"))
    # an mp4 cut without re-encoding: it starts at the keyframe before the cut, an edit list hides the frames before it
    ff("-ss", "0.5", "-i", str(d / "src.mp4"), "-c", "copy", str(d / "trimmed.mp4"))
    # an mp4 cut inside its media data (index first, so it still opens)
    ff(*testsrc, *h264, "-movflags", "+faststart", str(d / "full.mp4"))
    data = (d / "full.mp4").read_bytes()
    (d / "cut.mp4").write_bytes(data[: len(data) * 2 // 5])
    (d / "full.mp4").unlink()
    # one frame damaged in the middle (its slice header overwritten: ffmpeg's decoder refuses it and decodes the
    # other 47), in mp4 and in MPEG-TS, which a pipe can carry
    ff(*testsrc, *h264, str(d / "damaged.mp4"))
    shutil.copy(d / "damaged.mp4", d / "damaged_end.mp4")
    damage_packet(d / "damaged.mp4", 20, "slice header")
    ff("-i", str(d / "damaged.mp4"), "-c", "copy", str(d / "damaged.ts"))
    # and its last frame damaged instead
    damage_packet(d / "damaged_end.mp4", FPS * SECONDS - 1, "slice header")
    ff("-i", str(d / "damaged_end.mp4"), "-c", "copy", str(d / "damaged_end.ts"))
    (d / "damaged_end.mp4").unlink()
    # two MPEG-TS streams of different sizes joined as `cat a.ts b.ts` joins them
    for name, size in (("a.ts", f"{W}x{H}"), ("b.ts", "352x288")):
        ff("-f", "lavfi", "-i", f"testsrc2=s={size}:r={FPS}:d=1", *h264, str(d / name))
    (d / "joined.ts").write_bytes((d / "a.ts").read_bytes() + (d / "b.ts").read_bytes())
    # giants: a real 8192x8000 frame, a y4m header claiming 16000x16000, a PNG header claiming 30000x30000
    ff("-f", "lavfi", "-i", "color=c=black:s=8192x8000:d=0.04:r=25", "-frames:v", "1", *h264, str(d / "big.mkv"))
    # the 24 frames of a.ts, then the 8192x8000 frame (above 64 megapixels): a stream that grows past the limit
    ff("-i", str(d / "big.mkv"), "-c", "copy", str(d / "big.ts"))
    (d / "grows.ts").write_bytes((d / "a.ts").read_bytes() + (d / "big.ts").read_bytes())
    (d / "big.ts").unlink()
    (d / "claims.y4m").write_bytes(b"YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(4096))
    png_claiming(d / "bomb.png", 30000, 30000)
    # odd frame size, kept 4:4:4 so that the source holds it exactly
    ff("-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r={FPS}:d=1", "-vf", "scale=321:241", "-c:v", "libx264",
       "-preset", "ultrafast", "-pix_fmt", "yuv444p", str(d / "odd.mp4"))
    # an animated GIF with uneven frame delays
    delays = [100, 40, 40, 300, 60, 120]
    frames = [Image.fromarray(f) for f in mosaic(len(delays), 64, 80)]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:], duration=delays, loop=0)
    # a 16-bit gray PNG (mean level 111 of 255), images smaller than SSIM's 7x7 window
    Image.fromarray(np.full((48, 64), 111 * 257, np.uint16)).save(d / "gray16.png")
    for i, level in enumerate((90, 100)):
        Image.new("RGB", (6, 5), (level, 200, 30)).save(d / f"tiny{i}.png")
    shutil.copy(d / "src.mp4", d / "take1:final.mp4")
    (d / "text.txt").write_text("not a model\n")
    return d


def case_dir(tmp_path: Path, corpus: Path, *names: str) -> Path:
    for name in names:
        shutil.copy(corpus / name, tmp_path / name)
    return tmp_path


# ------------------------------------------------------------------------------------- bad input: one line

ERRORS = [
    pytest.param(["dequantize", "src.mp4", "-o", "/proc/vidcolor-no/out.mp4"], ["src.mp4"], "cannot write there",
                 id="video-into-unwritable-folder"),
    pytest.param(["dequantize", "ref.png", "-o", "/proc/vidcolor-no/out.png"], ["ref.png"], "cannot write there",
                 id="image-into-unwritable-folder"),
    pytest.param(["dequantize", "src.mp4", "-o", "src.mp4/x.mp4"], ["src.mp4"], "src.mp4 is a file, not a folder",
                 id="output-parent-is-a-file"),
    pytest.param(["dequantize", "src.mp4", "-o", "outdir", "--overwrite", "--format", "mp4"], ["src.mp4"],
                 "outdir/src_dequantized.mp4 is a folder", id="output-is-an-existing-folder"),
    pytest.param(["dequantize", "bomb.png"], ["bomb.png"],        # Pillow's refusal, with the size and the limits
                 "bomb.png: frame size 30000x30000 is too large (at most 16384 px a side", id="png-header-30000"),
    pytest.param(["colorize", "src.mp4", "--reference", "bomb.png"], ["src.mp4", "bomb.png"], "too large",
                 id="png-header-30000-as-reference"),
    pytest.param(["eval", "ref.png", "--reference-video", "bomb.png"], ["ref.png", "bomb.png"], "too large",
                 id="png-header-30000-in-eval"),
    pytest.param(["dequantize", "folder"], [], "too large", id="png-header-30000-in-a-folder"),
    pytest.param(["dequantize", "joined.ts"], ["joined.ts"], "frame size changes at frame", id="size-change"),
    pytest.param(["dequantize", "-", "-o", "out.mp4"], ["joined.ts"], "frame size changes", id="size-change-on-stdin"),
    pytest.param(["eval", "joined.ts", "--reference-video", "joined.ts"], ["joined.ts"], "frame size changes",
                 id="size-change-in-eval"),
    pytest.param(["dequantize", "big.mkv"], ["big.mkv"], "8192x8000 is too large", id="8192x8000-frame"),
    # the decoder refuses the last frame unallocated: 24 frames were written and the run ended with 0
    pytest.param(["dequantize", "grows.ts"], ["grows.ts"], "the frame size changes at frame 24 (320x240 -> "
                 "8192x8000), which is too large", id="frame-above-the-limit-at-the-end"),
    pytest.param(["dequantize", "-", "-o", "out.mp4"], ["grows.ts"], "stdin: the frame size changes at frame 24 "
                 "(320x240 -> 8192x8000), which is too large", id="frame-above-the-limit-at-the-end-on-stdin"),
    pytest.param(["dequantize", "claims.y4m"], ["claims.y4m"], "16000x16000 is too large", id="header-claims-16000"),
    pytest.param(["dequantize", "-", "--raw", "100000x100000", "--fps", "12", "-o", "raw.mp4"], [], "too large",
                 id="raw-100000"),
    pytest.param(["dequantize", "cut.mp4"], ["cut.mp4"], "of 48 frames could not be read", id="truncated-mp4"),
    pytest.param(["dequantize", "damaged.mp4"], ["damaged.mp4"], "damaged.mp4: the frame at 0.833 s cannot be decoded "
                 "(Invalid data found when processing input): the input is damaged there; nothing written (--ignore-errors",
                 id="damaged-frame"),
    pytest.param(["dequantize", "-", "-o", "out.mp4"], ["damaged.ts"], "stdin: the frame at 0.833 s cannot be decoded",
                 id="damaged-frame-on-stdin"),
    # the decoder's refusal of the last frame was lost: 47 frames were written and the run ended with 0
    pytest.param(["dequantize", "-", "-o", "out.mp4"], ["damaged_end.ts"], "stdin: 1 frame could not be decoded "
                 "(damaged); nothing written (--ignore-errors keeps the 47 that decoded)", id="damaged-last-frame"),
    pytest.param(["dequantize", "src.mp4", "-o", "out.webm"], ["src.mp4"], "holds only VP8, VP9 and AV1", id="h264-in-webm"),
    pytest.param(["dequantize", "src.mp4", "--preset", "bogus"], ["src.mp4"], "--preset 'bogus' is not one of libx264's",
                 id="bad-preset"),
    pytest.param(["dequantize", "src.mp4", "--codec", "libx265", "--tune", "film"], ["src.mp4"],
                 "--tune film is x264's; libx265 takes", id="tune-x265-lacks"),
    pytest.param(["colorize", "src.mp4", "--reference", "ref.png", "--reference-mode", "internal",
                  "--save-model", "/proc/vidcolor-no/g.safetensors"], ["src.mp4", "ref.png"], "--save-model",
                 id="save-model-into-unwritable-folder"),
    pytest.param(["colorize", "src.mp4", "--model", "text.txt"], ["src.mp4", "text.txt"], "text.txt",
                 id="model-that-is-not-safetensors"),
]


@pytest.mark.parametrize("args, inputs, needle", ERRORS)
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, corpus, tiny_models, args, inputs, needle):
    d = case_dir(tmp_path, corpus, *inputs)
    if "outdir" in args:            # its output's name inside it (a single input's): a folder in the file's place
        (d / "outdir" / "src_dequantized.mp4").mkdir(parents=True)
    if args[1] == "folder":
        (d / "folder").mkdir()
        for name in ("ref.png", "bomb.png"):
            shutil.copy(corpus / name, d / "folder" / name)
    if args[0] == "dequantize":
        args = [*args, "--model", str(tiny_models.lab)]
    before = listing(d)
    started = time.monotonic()
    stills = args[1] == "folder" or args[1].endswith(".png")       # no encoder: its preset would be warned about
    extra = ("--no-features",) if args[0] == "eval" else ("-q",) if "--preset" in args or stills else FAST
    stdin = (d / inputs[0]).read_bytes() if "-" in args and inputs else b"\0" * 1000
    run = run_cli if "-" in args else invoke_cli        # stdin: a pipe of a process of its own
    res = run(*args, *extra, cwd=d, stdin=stdin)
    assert_one_line_error(res)
    assert needle in res.stderr, res.stderr
    assert listing(d) == before                                   # no output, no hidden temporary
    if "too large" in needle:
        assert time.monotonic() - started < 30                    # refused from the header (the interpreter start aside)


def test_the_default_output_beside_an_input_in_an_unwritable_folder_is_one_line(corpus, tiny_models):
    """The input is read through /proc/self/fd/N, a folder no one (root included) can create files in."""
    with open(corpus / "src.mp4", "rb") as f:
        fd = f.fileno()
        proc = subprocess.run([sys.executable, "-m", "vidcolor.cli", "dequantize", f"/proc/self/fd/{fd}",
                               "--model", str(tiny_models.lab), *FAST], pass_fds=(fd,), capture_output=True,
                              env=cli_env(), timeout=120, stdin=subprocess.DEVNULL)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith(f"vidcolor: error: /proc/self/fd/{fd}_dequantized.mp4: "
                                                         "cannot write there"), err


def test_a_giant_header_is_refused_in_under_a_second_and_a_gigabyte(corpus):
    """The size limits act on the header: nothing of the claimed size is allocated (checked in-process)."""
    import resource

    from vidcolor.errors import VidcolorError
    from vidcolor.io import VideoReader, read_image

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for open_it in (lambda: VideoReader(corpus / "claims.y4m"), lambda: VideoReader(corpus / "big.mkv"),
                    lambda: read_image(corpus / "bomb.png")):
        started = time.monotonic()
        with pytest.raises(VidcolorError, match="too large"):
            open_it()
        assert time.monotonic() - started < 1.0
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 1024


# ------------------------------------------------------------------------------ valid input: kept exactly


def run_ok(d: Path, *args) -> None:
    res = invoke_cli(*args, cwd=d)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "error" not in res.stderr.lower(), res.stderr


def test_variable_frame_rate_and_duration_are_kept(tmp_path, corpus, tiny_models):
    d = case_dir(tmp_path, corpus, "vfr.mp4")
    run_ok(d, "dequantize", "vfr.mp4", "--model", tiny_models.lab, *FAST)
    (src, src_duration), (out, out_duration) = frame_times(d / "vfr.mp4"), frame_times(d / "vfr_dequantized.mp4")
    assert len(set(np.round(np.diff([float(t) for t in src]), 4))) == 2      # the source is VFR
    assert out == src                                                          # every frame at its own time
    assert out_duration == pytest.approx(src_duration, abs=0.05)


@pytest.mark.parametrize("name, out, offset", [
    ("late.mp4", "late_dequantized.mp4", 0.52), ("early.mp4", "early_dequantized.mp4", -0.377),  # -0.4 + AAC priming
    ("src.ts", "out.mkv", 0.023), ("src.ts", "out.mp4", 0.023), ("late5.mkv", "out.mp4", 0.0)])
def test_the_offset_between_video_and_audio_is_kept(tmp_path, corpus, tiny_models, name, out, offset):
    """Also where the source's streams start late (MPEG-TS, a moved mkv): the audio was 1.46 s early (mkv) or
    silent (mp4) in the output of a .ts, as ffmpeg's own start-time shift was applied a second time."""
    d = case_dir(tmp_path, corpus, name)
    run_ok(d, "dequantize", name, "-o", out, "--model", tiny_models.lab, *FAST)
    (vi, ai), (vo, ao) = starts(d / name), starts(d / out)
    assert vi - ai == pytest.approx(offset, abs=0.03)                       # the source as made
    assert vo - ao == pytest.approx(vi - ai, abs=0.01) and min(vo, ao) < 0.05
    assert len(frame_times(d / out)[0]) == FPS * SECONDS
    with av.open(str(d / out)) as c:                                        # the audio is all there
        seconds = sum(f.samples for f in c.decode(audio=0)) / c.streams.audio[0].sample_rate
    assert seconds == pytest.approx(SECONDS, abs=0.1)


def test_an_mp4_cut_with_an_edit_list_is_not_taken_for_a_damaged_one(tmp_path, corpus, tiny_models):
    """Its 48 samples decode to the 36 frames after the cut; it was refused as '12 of 48 frames could not be
    read'."""
    d = case_dir(tmp_path, corpus, "trimmed.mp4")
    with av.open(str(d / "trimmed.mp4")) as c:
        declared = c.streams.video[0].frames
    shown, _ = frame_times(d / "trimmed.mp4")
    assert declared == FPS * SECONDS and len(shown) < declared                 # the source as made
    res = invoke_cli("dequantize", "trimmed.mp4", "--model", tiny_models.lab, *FAST, cwd=d)
    assert res.returncode == 0 and not res.stderr, res.stderr
    out, _ = frame_times(d / "trimmed_dequantized.mp4")
    assert [float(t - out[0]) for t in out] == pytest.approx([float(t - shown[0]) for t in shown])


def test_a_truncated_file_with_ignore_errors_keeps_what_decoded(tmp_path, corpus, tiny_models):
    d = case_dir(tmp_path, corpus, "cut.mp4")
    res = invoke_cli("dequantize", "cut.mp4", "--ignore-errors", "--model", tiny_models.lab, *FAST, cwd=d)
    assert res.returncode == 0 and len(res.stderr.splitlines()) == 1 and "warning" in res.stderr, res.stderr
    assert 0 < len(decode_all(str(d / "cut_dequantized.mp4"))[0]) < FPS * SECONDS


def frames_ffmpeg_decodes(path) -> int:
    """Frames of a damaged file as ffmpeg decodes them: every packet, past one that fails, then the decoder flushed
    (PyAV's ``container.decode`` stops at the error, before the frames the decoder holds)."""
    n = 0
    with av.open(str(path)) as c:
        for packet in c.demux(c.streams.video[0]):
            try:
                n += len(packet.decode())
            except av.FFmpegError:
                pass
    return n


def test_a_truncated_mp4_keeps_every_frame_ffmpeg_decodes_and_the_counts_add_up(tmp_path, ffmpeg_exe, tiny_models):
    """A faststart mp4 with B-frames cut inside its media data: the decoder's frame threads, given the last packet cut
    short, dropped the frames still in them, so vidcolor kept 14 where ffmpeg decodes 16, and the message counted that
    packet as read: '31 of 48 frames could not be read ...; nothing written (--ignore-errors keeps the 14 that
    decoded)'."""
    import re

    from vidcolor.api import process
    from vidcolor.errors import VidcolorError

    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r={FPS}:d={SECONDS}", "-c:v", "libx264",
               "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(tmp_path / "full.mp4"))
    run_ffmpeg(ffmpeg_exe, "-ss", "0.5", "-i", str(tmp_path / "full.mp4"), "-c", "copy", "-movflags", "+faststart",
               str(tmp_path / "trimmed.mp4"))
    for name, part in (("full.mp4", 0.4), ("trimmed.mp4", 0.6)):
        data = (tmp_path / name).read_bytes()
        (tmp_path / name).unlink()
        (tmp_path / f"cut_{name}").write_bytes(data[: int(len(data) * part)])
    # cut after an edit list: the frames it hides are told apart, so that the counts add up
    with pytest.raises(VidcolorError) as told:
        process(tmp_path / "cut_trimmed.mp4", tmp_path / "x.mp4", lambda b: b, suffix="x", progress=False)
    numbers = re.search(r"(\d+) of (\d+) frames could not be read \(truncated or damaged\), and (\d+) more decoded "
                        r"to nothing \(hidden by an edit list, or damaged\); nothing written \(ignore_errors keeps "
                        r"the (\d+) that decoded\)", str(told.value))
    assert numbers, told.value
    missing, declared, hidden, kept = map(int, numbers.groups())
    assert missing + hidden + kept == declared == FPS * SECONDS
    assert kept == frames_ffmpeg_decodes(tmp_path / "cut_trimmed.mp4") > 0 and hidden > 0
    (tmp_path / "cut_full.mp4").rename(tmp_path / "cut.mp4")
    decodable = frames_ffmpeg_decodes(tmp_path / "cut.mp4")
    res = invoke_cli("dequantize", "cut.mp4", "--model", tiny_models.lab, *FAST, cwd=tmp_path)
    assert_one_line_error(res)
    told = re.search(r"(\d+) of (\d+) frames could not be read \(truncated or damaged\); nothing written "
                     r"\(--ignore-errors keeps the (\d+) that decoded\)", res.stderr)
    assert told, res.stderr
    missing, declared, kept = map(int, told.groups())
    assert declared == FPS * SECONDS and missing + kept == declared and kept == decodable > 0
    res = invoke_cli("dequantize", "cut.mp4", "--ignore-errors", "--model", tiny_models.lab, *FAST, cwd=tmp_path)
    assert res.returncode == 0 and f"the {decodable} that decoded were written" in res.stderr, res.stderr
    assert len(decode_all(str(tmp_path / "cut_dequantized.mp4"))[0]) == decodable


def _cut_copy(tmp_path, ffmpeg_exe, suffix):
    """A clip with sound in ``suffix``'s container, and a copy cut inside an MPEG-TS packet half way (``head -c``);
    returns the cut's size and the whole file's."""
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r={FPS}:d={SECONDS}", "-f", "lavfi", "-i",
               f"sine=d={SECONDS}", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
               str(tmp_path / f"full{suffix}"))
    data = (tmp_path / f"full{suffix}").read_bytes()
    cut = len(data) // 2 // 188 * 188 + 100                 # inside a packet: not a whole number of them
    (tmp_path / f"cut{suffix}").write_bytes(data[:cut])
    return cut, len(data)


def test_a_matroska_file_cut_short_is_told_as_a_truncated_mp4_is_before_any_work(tmp_path, ffmpeg_exe, tiny_models,
                                                                               monkeypatch):
    """A copy cut short (``head -c``) read to the cut without a word: the run wrote the frames before it as if they
    were the whole clip. Matroska declares no frame count, but its Segment declares its size; so, as for an mp4 that
    lacks frames, nothing is written (said before any frame is processed), and --ignore-errors keeps the frames
    that decode, with a warning."""
    import re

    from vidcolor import file_run

    cut, whole = _cut_copy(tmp_path, ffmpeg_exe, ".mkv")
    assert invoke_cli("dequantize", "full.mkv", "-o", "full.mp4", "--model", tiny_models.lab, *FAST,
                      cwd=tmp_path).stderr == ""                    # the whole file: nothing to say
    before = listing(tmp_path)
    ran = []
    monkeypatch.setattr(file_run, "run", lambda *a, **k: ran.append(1))
    res = invoke_cli("dequantize", "cut.mkv", "-o", "out.mp4", "--model", tiny_models.lab, *FAST, cwd=tmp_path)
    assert_one_line_error(res)
    told = f"it holds {cut:,} of the {whole:,} bytes its Matroska header declares (truncated)"
    assert told in res.stderr and "nothing written (--ignore-errors keeps the frames before the cut)" in res.stderr
    assert listing(tmp_path) == before and not ran
    monkeypatch.undo()
    res = invoke_cli("dequantize", "cut.mkv", "-o", "out.mp4", "--ignore-errors", "--model", tiny_models.lab,
                     *FAST, cwd=tmp_path)
    kept = re.search(r"; the (\d+) that decoded were written", res.stderr)
    assert res.returncode == 0 and len(res.stderr_lines) == 1 and told in res.stderr and kept, res.stderr
    assert 0 < int(kept[1]) == len(decode_all(str(tmp_path / "out.mp4"))[0]) < FPS * SECONDS


def test_an_mpeg_ts_file_that_ends_inside_a_packet_is_processed_with_a_warning(tmp_path, ffmpeg_exe, tiny_models):
    """A transport stream declares neither its length nor a frame count, and captures are split at any byte, so a
    file that ends inside a packet is only a sign of a cut: its frames are written, with a warning that says so
    (before, not a word)."""
    import re

    cut, _ = _cut_copy(tmp_path, ffmpeg_exe, ".ts")
    assert invoke_cli("dequantize", "full.ts", "-o", "full.mp4", "--model", tiny_models.lab, *FAST,
                      cwd=tmp_path).stderr == ""
    res = invoke_cli("dequantize", "cut.ts", "-o", "out.mp4", "--model", tiny_models.lab, *FAST, cwd=tmp_path)
    told = re.search(rf"the file ends inside an MPEG-TS packet \({cut:,} bytes\): it may have been cut short; its "
                     r"(\d+) frames were written", res.stderr)
    assert res.returncode == 0 and len(res.stderr_lines) == 1 and told, res.stderr
    assert 0 < int(told[1]) == len(decode_all(str(tmp_path / "out.mp4"))[0]) < FPS * SECONDS


@pytest.mark.parametrize("name", ["damaged.mp4", "damaged.ts"])
def test_a_damaged_frame_with_ignore_errors_is_skipped_as_ffmpeg_skips_it(tmp_path, corpus, tiny_models, ffmpeg_exe,
                                                                          name):
    """The frame after the damage no longer stops the run: the 47 frames that decode are written at their own
    times (the damaged one's place stays empty, so the picture stays in step with the sound), as ffmpeg's own
    transcode writes them, with a warning that counts the lost frame. Without --ignore-errors the run stops at the
    damage (ERRORS); with it, it stopped too ('frame 20 cannot be decoded', before that 'decoding failed (Invalid
    data found when processing input)')."""
    d = case_dir(tmp_path, corpus, name)
    on_stdin = name.endswith(".ts")
    args = ["-", "-o", "out.mp4"] if on_stdin else [name, "-o", "out.mp4"]
    run = run_cli if on_stdin else invoke_cli           # stdin: a pipe of a process of its own
    res = run("dequantize", *args, "--ignore-errors", "--model", tiny_models.lab, *FAST, cwd=d,
              stdin=(d / name).read_bytes() if on_stdin else None)
    shown = "stdin" if on_stdin else name
    count = "1 frame could not be decoded (damaged)" if on_stdin else "1 of 48 frames could not be read"
    assert res.returncode == 0 and res.stderr_lines == [
        f"vidcolor: warning: {shown}: {count}{' (truncated or damaged)' if not on_stdin else ''}; the 47 that "
        "decoded were written"], res.stderr
    run_ffmpeg(ffmpeg_exe, "-i", str(d / name), str(d / "ffmpeg.mp4"))
    (out, _), (theirs, _) = frame_times(d / "out.mp4"), frame_times(d / "ffmpeg.mp4")
    assert len(out) == FPS * SECONDS - 1 and out == theirs


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_an_animated_gif_is_a_clip_with_its_frame_delays(tmp_path, corpus, tiny_models, suffix):
    d = case_dir(tmp_path, corpus, "anim.gif")
    run_ok(d, "dequantize", "anim.gif", "-o", f"out{suffix}", "--model", tiny_models.lab,
           *(FAST if suffix != ".gif" else ("-q",)))                # GIF output has no encoder preset
    times, _ = frame_times(d / f"out{suffix}")
    assert [round(float(t) * 1000) for t in times] == [0, 100, 140, 180, 480, 540]


@pytest.mark.parametrize("job", ["dequantize", "colorize"])
def test_a_16_bit_gray_png_keeps_its_levels(tmp_path, corpus, tiny_models, job):
    d = case_dir(tmp_path, corpus, "gray16.png")
    model = ["--model", str(tiny_models.lab)] if job == "dequantize" else []
    run_ok(d, job, "gray16.png", "-o", "out.png", *model, "-q")
    out = np.asarray(Image.open(d / "out.png").convert("L"), np.float64)
    assert out.mean() == pytest.approx(111, abs=3)                           # was 254.6 (clipped to white)


def test_an_odd_frame_size_is_kept_and_eval_takes_the_output(tmp_path, corpus, tiny_models):
    d = case_dir(tmp_path, corpus, "odd.mp4")
    run_ok(d, "dequantize", "odd.mp4", "--model", tiny_models.lab, *FAST)
    with av.open(str(d / "odd_dequantized.mp4")) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (321, 241)
    res = invoke_cli("eval", "odd_dequantized.mp4", "--reference-video", "odd.mp4", "--no-features", cwd=d)
    assert res.returncode == 0 and "PSNR" in res.stdout.decode(), res.stderr


def test_images_smaller_than_the_ssim_window_are_scored_without_ssim(tmp_path, corpus):
    d = case_dir(tmp_path, corpus, "tiny0.png", "tiny1.png")
    res = invoke_cli("eval", "tiny0.png", "--reference-video", "tiny1.png", "--no-features", "--json", cwd=d)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    import json

    scores = json.loads(res.stdout)
    assert scores["output"]["ssim"] is None                   # undefined below its 7x7 window: left out
    assert scores["output"]["psnr"] > 20 and scores["output"]["ciede2000"] > 0


def test_a_name_with_a_colon_is_a_file(tmp_path, corpus, tiny_models):
    d = case_dir(tmp_path, corpus, "take1:final.mp4")
    run_ok(d, "dequantize", "take1:final.mp4", "--model", tiny_models.lab, *FAST)
    frames, _, has_audio = decode_all(str(d / "take1:final_dequantized.mp4"))
    assert len(frames) == FPS * SECONDS and has_audio


def test_a_video_named_as_an_image_is_read_as_the_video_it_is(tmp_path, corpus, tiny_models):
    """A web "GIF" saved as MP4 (or a clip named .jpg) was read by its suffix alone, as an image: "cannot read as
    image (UnidentifiedImageError)". ffmpeg and players go by the contents: so does vidcolor now, alone or in a
    folder, and the output is the video's (.mp4, every frame, the audio)."""
    d = case_dir(tmp_path, corpus, "src.mp4")
    (d / "src.mp4").rename(d / "reaction.gif")
    shutil.copy(d / "reaction.gif", d / "clip.jpg")
    for name in ("reaction.gif", "clip.jpg"):
        run_ok(d, "dequantize", name, "--model", tiny_models.lab, *FAST)
        frames, _, has_audio = decode_all(str(d / f"{Path(name).stem}_dequantized.mp4"))
        assert len(frames) == FPS * SECONDS and has_audio
    (d / "in").mkdir()
    shutil.move(d / "reaction.gif", d / "in" / "reaction.gif")
    run_ok(d, "dequantize", "in", "-o", "out", "--model", tiny_models.lab, *FAST)
    assert listing(d / "out") == {"reaction.mp4"}
    assert len(decode_all(str(d / "out" / "reaction.mp4"))[0]) == FPS * SECONDS


def test_a_photo_with_damaged_exif_is_read_without_pillows_warnings(tmp_path, tiny_models):
    """A JPEG whose EXIF directory claims more entries than it holds (buggy editing software) is read as viewers
    read it, but Pillow's "UserWarning: Corrupt EXIF data" came out twice per opening, each with its source line
    (four lines of site-packages paths on stderr, one more through --reference's frame count)."""
    import struct
    import warnings

    from vidcolor.reference import _frame_count

    exif = (b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 5) + struct.pack("<HHII", 0x0112, 3, 1, 1))
    Image.fromarray(mosaic(1, 32, 48, seed=3)[0]).save(tmp_path / "photo.jpg", exif=exif)
    res = invoke_cli("dequantize", "photo.jpg", "--model", tiny_models.lab, "-q", cwd=tmp_path)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert (tmp_path / "photo_dequantized.png").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _frame_count(tmp_path / "photo.jpg") == 1


@pytest.mark.parametrize("name,kind", [("clip.mp4", "video"), ("photo.png", "image"), ("anim.gif", "image")])
def test_an_empty_file_is_called_empty(tmp_path, tiny_models, name, kind):
    """A failed download leaves a 0-byte file: it was "cannot read as video (Invalid data found when processing
    input)" or "cannot read as image (UnidentifiedImageError)", as if it held something else."""
    (tmp_path / name).write_bytes(b"")
    res = invoke_cli("dequantize", name, "--model", tiny_models.lab, "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert f"{name}: cannot read as {kind} (an empty file, 0 bytes)" in res.stderr
    assert listing(tmp_path) == {name}


def test_a_file_name_that_is_not_utf_8_is_read_and_written(tmp_path, corpus, tiny_models):
    """An old archive's Latin-1 name (b"caf\\xe9.mp4"; Python holds its byte as the surrogate escape \\udce9) was
    read, then the writer's ffmpeg-python graph, which hashes its arguments as strict UTF-8, raised
    UnicodeEncodeError: a traceback. The name's own bytes now reach ffmpeg, for the output, the audio copied
    from the source and a GIF's temporaries."""
    name = os.fsdecode(b"caf\xe9.mp4")
    try:
        shutil.copy(corpus / "src.mp4", tmp_path / name)
    except (OSError, UnicodeError):
        pytest.skip("the file system takes no name that is not UTF-8")
    run_ok(tmp_path, "dequantize", name, "--model", tiny_models.lab, *FAST)
    frames, _, has_audio = decode_all(str(tmp_path / os.fsdecode(b"caf\xe9_dequantized.mp4")))
    assert len(frames) == FPS * SECONDS and has_audio
    gif = os.fsdecode(b"\xe9t\xe9.gif")
    run_ok(tmp_path, "dequantize", name, "-o", gif, "--model", tiny_models.lab, "-q")
    with Image.open(tmp_path / gif) as im:
        assert im.n_frames == FPS * SECONDS
    assert listing(tmp_path) == {name, os.fsdecode(b"caf\xe9_dequantized.mp4"), gif}


def test_a_folder_of_folders_says_its_subfolders_are_not_looked_into(tmp_path, tiny_models):
    """A folder holding one folder of frames per shot (and a text file) was refused as 'no images or videos in
    folder', though it holds hundreds: subfolders are not looked into, which the error now says."""
    for shot in ("shot1", "shot2"):
        (tmp_path / "film" / shot).mkdir(parents=True)
        Image.fromarray(mosaic(1, 24, 32)[0]).save(tmp_path / "film" / shot / "1.png")
    (tmp_path / "film" / "notes.txt").write_text("cut list")
    res = invoke_cli("dequantize", "film", "--model", tiny_models.lab, "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert ("film: no images or videos in folder (its 2 subfolders, shot1/, shot2/, are not looked into: give each)"
            in res.stderr)
    assert not (tmp_path / "film_dequantized").exists()


def test_a_folder_of_frames_in_a_format_vidcolor_does_not_read_names_them(tmp_path, tiny_models):
    """A folder of frames vidcolor does not read (a VFX plate's .exr; a film scan's .dpx frames are read now) was
    refused as 'no images or videos in folder', as if empty: the files it holds are named by their suffix, with the
    formats vidcolor reads."""
    (tmp_path / "scan").mkdir()
    for i in range(3):
        (tmp_path / "scan" / f"f{i:04d}.exr").write_bytes(b"v/1\x01" + bytes(60))
    (tmp_path / "scan" / "notes.txt").write_text("reel 1")
    res = invoke_cli("dequantize", "scan", "--model", tiny_models.lab, "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert "scan: no images or videos in folder (it holds 3 .exr files, 1 .txt file, not formats vidcolor reads: " \
           "images .png .apng .jpg" in res.stderr and "videos .mp4 .m4v" in res.stderr
    assert listing(tmp_path) == {"scan", *(f"scan/f{i:04d}.exr" for i in range(3)), "scan/notes.txt"}


def test_a_folder_with_a_corrupt_image_keeps_the_images_before_it_and_the_rerun_works(tmp_path, corpus, tiny_models):
    d = tmp_path
    (d / "in").mkdir()
    for i in range(3):
        Image.fromarray(mosaic(1, 32, 48, seed=i)[0]).save(d / "in" / f"img{i}.png")
    (d / "in" / "img3.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    res = invoke_cli("dequantize", "in", "-o", "out", "--model", tiny_models.lab, "-q", cwd=d)
    assert_one_line_error(res)
    assert "img3.png" in res.stderr and "3 finished outputs kept in out/" in res.stderr
    assert sorted(p.name for p in (d / "out").iterdir()) == ["img0.png", "img1.png", "img2.png"]
    res = invoke_cli("dequantize", "in", "-o", "out", "--ignore-errors", "--skip-existing", "--model", tiny_models.lab,
                     "-q", cwd=d)
    assert res.returncode == 0, res.stderr                   # --ignore-errors: the broken image is skipped, named
    assert "warning" in res.stderr and "img3.png" in res.stderr and "skipped" in res.stderr
    assert sorted(p.name for p in (d / "out").iterdir()) == ["img0.png", "img1.png", "img2.png"]
    shutil.rmtree(d / "out")
    (d / "in" / "img3.png").unlink()
    run_ok(d, "dequantize", "in", "-o", "out", "--model", tiny_models.lab, "-q")
    assert sorted(p.name for p in (d / "out").iterdir()) == ["img0.png", "img1.png", "img2.png"]


@pytest.mark.parametrize("out", ["f.mp4", "f.png", "-"])
def test_a_folder_is_not_written_to_one_file_or_stdout(tmp_path, tiny_models, out):
    (tmp_path / "in").mkdir()
    Image.fromarray(mosaic(1, 32, 48)[0]).save(tmp_path / "in" / "img0.png")
    res = invoke_cli("dequantize", "in", "-o", out, "--model", tiny_models.lab, "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert "is a folder, so its output is a folder" in res.stderr and res.stdout == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_an_extreme_aspect_ratio_is_colorized_at_a_bounded_render_size(tmp_path):
    Image.fromarray(np.tile(mosaic(1, 16, 64)[0], (1, 63, 1))).save(tmp_path / "strip.png")     # 4032x16
    started = time.monotonic()
    run_ok(tmp_path, "colorize", "strip.png", "-o", "out.png", "-q")
    assert time.monotonic() - started < 60                       # was 94 s a frame at a 64000x256 render
    assert Image.open(tmp_path / "out.png").size == (4032, 16)


# ---------------------------------------------------------------------------------------------- signals


@pytest.mark.parametrize("signame, code, line, output", [("SIGINT", 130, "vidcolor: interrupted", "out.mp4"),
                                                        ("SIGTERM", 143, "vidcolor: terminated (SIGTERM)", "out.mp4"),
                                                        pytest.param("SIGHUP", 129, "vidcolor: terminated (SIGHUP)",
                                                                     "out.mp4", marks=pytest.mark.slow),
                                                        pytest.param("SIGTERM", 143, "vidcolor: terminated (SIGTERM)",
                                                                     "out.gif", marks=pytest.mark.slow)])
def test_signals_exit_cleanly_and_remove_partial(tmp_path, tiny_models, signame, code, line, output):
    """A signal while the CLI waits for more raw frames on stdin: one line, 128 + signal, no partial output
    (hidden temporaries included: GIF output's temporary frames and palette too)."""
    proc = subprocess.Popen([sys.executable, "-m", "vidcolor.cli", "dequantize", "-", "--raw", "48x32", "--fps", "10",
                             "-o", output, "--model", str(tiny_models.lab),
                             *(FAST if output != "out.gif" else ("-q",))], cwd=tmp_path,   # GIF: no preset
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
                            # a test run started in the background (`cmd &`) ignores SIGINT, and one under nohup
                            # SIGHUP, and so would the child: Python then installs no KeyboardInterrupt handler,
                            # and the CLI rightly keeps an ignored SIGHUP ignored. Give both their default back.
                            preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGHUP)])
    err = _signalled_mid_run(proc, tmp_path, signame)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert [ln for ln in err.splitlines() if ln.strip()] == [line]
    assert listing(tmp_path) == set()


def _signalled_mid_run(proc: subprocess.Popen, folder: Path, signame: str) -> str:
    """Feed ``proc`` (a CLI run reading one 48x32 raw frame on stdin) a frame, send it ``signame`` once its writer is
    open (a ``.partial`` file in ``folder``), and return its stderr once it has ended (killed if it had not within a
    minute)."""
    try:
        proc.stdin.write(mosaic(1, 32, 48).tobytes())
        proc.stdin.flush()
        deadline = time.monotonic() + 90
        while not any(".partial" in p for p in listing(folder)):      # the writer is open: mid-run
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the CLI never started writing"
            time.sleep(0.1)
        time.sleep(0.3)
        proc.send_signal(getattr(signal, signame))
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return err.decode(errors="replace")


_SECOND_SIGNAL = """
import os, signal, sys
from vidcolor.io import writer
original = writer.VideoWriter.abort
def abort(self):                    # a second signal while the first one's unwinding stops ffmpeg
    os.kill(os.getpid(), getattr(signal, os.environ["SECOND_SIGNAL"]))
    original(self)
writer.VideoWriter.abort = abort
from vidcolor.cli import main
sys.argv[0] = "vidcolor"
main()
"""


@pytest.mark.parametrize("first, second, code, line", [("SIGINT", "SIGINT", 130, "vidcolor: interrupted"),
                                                       pytest.param("SIGTERM", "SIGINT", 143, "vidcolor: terminated (SIGTERM)",
                                                                    marks=pytest.mark.slow),
                                                       pytest.param("SIGINT", "SIGTERM", 130, "vidcolor: interrupted",
                                                                    marks=pytest.mark.slow)])
def test_a_second_signal_while_the_first_unwinds_is_ignored(tmp_path, tiny_models, first, second, code, line):
    """A second Ctrl-C (or SIGTERM) while the first signal's clean-up ran raised again inside it: the partial
    output was left beside the output and the exit status was SIGINT's own (-2, no line), or a traceback followed.
    Later signals are ignored while the first unwinds, as ffmpeg ignores them: its one line, its status, nothing
    left."""
    proc = subprocess.Popen([sys.executable, "-c", _SECOND_SIGNAL, "dequantize", "-", "--raw", "48x32", "--fps", "10",
                             "-o", "out.mp4", "--model", str(tiny_models.lab), *FAST], cwd=tmp_path,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**cli_env(), "SECOND_SIGNAL": second},
                            preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGHUP)])
    err = _signalled_mid_run(proc, tmp_path, first)
    assert proc.returncode == code, err
    assert [ln for ln in err.splitlines() if ln.strip()] == [line]
    assert listing(tmp_path) == set()


def _children(pid: int) -> set[int]:
    """The processes that ``pid``'s threads started (Linux ``/proc``)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return found


def _running(pid: int) -> bool:
    """Whether the process ``pid`` runs (exists, and is not a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("output", ["out.mp4", pytest.param("out.gif", marks=pytest.mark.slow)])   # GIF: 10 s
def test_a_killed_runs_partial_files_are_removed_by_the_next_run(tmp_path, tiny_models, output):
    """A run killed with SIGKILL (the out-of-memory killer, kill -9) could remove nothing: its hidden partial file
    (GIF: and the temporary frames and palette) stayed in the output's folder for ever, and the next run writing the
    same output left it too. Each partial file is now locked by its run (the lock dies with the process), and the
    next run writing that output removes those nobody locks; the partial file of a run that is alive (here one this
    test locks, as another process) stays. The killed run's ffmpeg dies with it (PR_SET_PDEATHSIG), so it neither
    writes on nor keeps anything open."""
    args = ["dequantize", "-", "--raw", "48x32", "--fps", "10", "-o", output, "--model", str(tiny_models.lab),
            *(FAST if output != "out.gif" else ("-q",))]
    live = tmp_path / f".out.livelive.partial{Path(output).suffix}"      # another run's, alive: locked
    live.write_bytes(b"x")
    other = tmp_path / ".other.deaddead.partial.mp4"                    # another output's: not looked at
    other.write_bytes(b"y")
    held = os.open(live, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)
    proc = subprocess.Popen([sys.executable, "-m", "vidcolor.cli", *args], cwd=tmp_path, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env())
    try:
        proc.stdin.write(mosaic(1, 32, 48).tobytes())
        proc.stdin.flush()
        before = listing(tmp_path)
        deadline = time.monotonic() + 90
        while not listing(tmp_path) - before:                            # the writer is open: mid-run
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the CLI never started writing"
            time.sleep(0.1)
        time.sleep(0.5)
        ffmpegs = _children(proc.pid)
        assert ffmpegs
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stderr.close()
    left = listing(tmp_path) - before
    assert left and all(name.startswith(".out.") for name in left), left      # what SIGKILL leaves
    deadline = time.monotonic() + 10
    while any(_running(p) for p in ffmpegs):
        assert time.monotonic() < deadline, "ffmpeg outlived the killed run"
        time.sleep(0.1)

    res = run_cli(*args, cwd=tmp_path, stdin=mosaic(3, 32, 48).tobytes())
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "warning" not in res.stderr, res.stderr
    assert listing(tmp_path) == {output, live.name, other.name}           # the dead run's files are gone
    os.close(held)


def _live_nut(n: int) -> bytes:
    """``n`` 48x32 mosaic frames as FFV1 in NUT at 2 fps (what ``ffmpeg -re ... -f nut -`` sends), without the
    index NUT ends with: the stream of an upstream that has more to send."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="nut") as out:
        stream = out.add_stream("ffv1", rate=2)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for img in mosaic(n, 32, 48):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode())
        size = buf.tell()               # before the index written at close
    return buf.getvalue()[:size]


def _signal_while_stdin_waits(cwd: Path, data: bytes, args: tuple, signame: str, mid_run: bool):
    """Run ``vidcolor dequantize - ARGS`` with ``data`` on a stdin whose writer then stays silent (a stalled or live
    upstream: no end of the stream); once it has read all of it (and, ``mid_run``, opened its output), send the
    signal. Returns (exit status, stderr, seconds from the signal to the exit)."""
    r, w = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "vidcolor.cli", "dequantize", "-", *args], cwd=cwd, stdin=r,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
                                preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL)
                                                    for s in (signal.SIGINT, signal.SIGHUP)])
    finally:
        os.close(r)
    feeder = threading.Thread(target=lambda: open(w, "wb", closefd=False).write(data), daemon=True)
    feeder.start()
    try:
        deadline = time.monotonic() + 60
        while (feeder.is_alive() or int.from_bytes(fcntl.ioctl(w, termios.FIONREAD, b"\0" * 4), "little")
               or mid_run and not any(".partial" in p for p in listing(cwd))):    # all read: it waits for more
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the CLI never read its input"
            time.sleep(0.1)
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(getattr(signal, signame))
        _, err = proc.communicate(timeout=20)       # stdin stays open: the upstream is silent, not gone
        return proc.returncode, err.decode(errors="replace"), time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(w)


@pytest.mark.parametrize("signame, code, line, nut, flags, mid_run", [
    # raw frames, the decode thread waiting for the next: it stayed blocked in the read, and Python aborted at
    # exit (SIGABRT, 134) after a 10 s wait
    ("SIGTERM", 143, "vidcolor: terminated (SIGTERM)", False, (), True),
    # NUT still probed (the signal in PyAV's read callback, which dropped it): "frame N cannot be decoded ... the
    # input is damaged", exit 1; with --ignore-errors the signal was lost
    pytest.param("SIGINT", 130, "vidcolor: interrupted", 3, (), False, marks=pytest.mark.slow),
    ("SIGTERM", 143, "vidcolor: terminated (SIGTERM)", 3, ("--ignore-errors",), False),
    # NUT mid-run, the decode thread inside PyAV's read
    ("SIGTERM", 143, "vidcolor: terminated (SIGTERM)", 160, ("--ignore-errors",), True)])
def test_a_signal_while_stdin_waits_ends_the_run(tmp_path, tiny_models, signame, code, line, nut, flags, mid_run):
    """SIGINT / SIGTERM while the run waits for more of a pipe that stays open: within a moment, one line,
    128 + the signal, no output, whatever reads stdin (the probe, the decode thread, raw or through PyAV)."""
    data = _live_nut(nut) if nut else mosaic(2, 32, 48).tobytes()
    args = ("-o", "out.mp4", "--model", str(tiny_models.lab), *FAST, *flags,
            *(() if nut else ("--raw", "48x32", "--fps", "10")))
    rc, err, took = _signal_while_stdin_waits(tmp_path, data, args, signame, mid_run)
    assert rc == code, err
    assert [ln for ln in err.splitlines() if ln.strip()] == [line], err
    assert listing(tmp_path) == set()
    assert took < 5, f"{took:.1f} s from the signal to the exit"


def test_a_signal_while_ffmpeg_waits_on_a_named_pipe_ends_the_run(tmp_path, tiny_models):
    """A named pipe given by its path is read by FFmpeg itself, which no stop reaches: the stopped run leaves its
    decode thread waiting (executor.JOIN_S, 1 s here), and the reader, still demuxing there, is not closed under
    it ("generator already executing" took the signal's place: a traceback and exit 1). One line, 143, no output."""
    (tmp_path / "run").mkdir()
    fifo = tmp_path / "live.nut"
    os.mkfifo(fifo)
    (tmp_path / "data.nut").write_bytes(_live_nut(160))
    upstream = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1], 'wb'); "
                                 "f.write(open(sys.argv[2], 'rb').read()); f.flush(); time.sleep(60)",
                                 str(fifo), str(tmp_path / "data.nut")])
    proc = subprocess.Popen([sys.executable, "-c", "import sys, vidcolor.executor as ex; ex.JOIN_S = 1; "
                             "from vidcolor.cli import main; sys.argv[0] = 'vidcolor'; main()",
                             "dequantize", str(fifo), "-o", "out.mp4", "--model", str(tiny_models.lab), *FAST],
                            cwd=tmp_path / "run", stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
    try:
        deadline = time.monotonic() + 60
        while not listing(tmp_path / "run"):                    # the writer is open
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the CLI never started writing"
            time.sleep(0.1)
        time.sleep(1.5)                                         # every frame sent is written: FFmpeg waits
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        for p in (proc, upstream):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert_terminated(proc.returncode, err)
    assert listing(tmp_path / "run") == set()


def test_an_input_that_grows_while_it_is_read_is_warned_about(tmp_path, clip):
    """A recording in progress (Matroska, MPEG-TS read as far as they are written) was processed up to where it had
    got, exit 0 and no word of it (a 20 s test-pattern mkv being recorded: 60 frames of the 200 it came to). The
    run now warns that the input changed while it was read; an input that stays as it was gets no warning."""
    from vidcolor.api import process

    src = tmp_path / "recording.mp4"
    shutil.copy(clip, src)

    def recorder_appends(batch):
        with open(src, "ab") as f:
            f.write(b"\0" * 16)
        return batch

    with vidcolor_warnings() as said:
        summary = process(src, tmp_path / "out.mp4", recorder_appends, suffix="x", preset="ultrafast", progress=False)
    assert len(said) == 1 and said[0].startswith(f"{src} changed while it was read"), said
    assert f"the output has the {summary.frames} frames read" in said[0]
    with vidcolor_warnings() as said:
        process(clip, tmp_path / "again.mp4", lambda b: b, suffix="x", preset="ultrafast", progress=False)
    assert said == []
