"""The ``vidcolor`` command line on tiny generated inputs with tiny untrained models: run as a subprocess where the
process matters (the default run, stdin and stdout pipes, terminals, closed streams, start-up time, usage errors),
in this process otherwise (helpers.invoke_cli: the same entry point, without the interpreter's and torch's start).

An untrained generator is the identity, so outputs must look like their inputs (up to LAB rounding and
the H.264 encode); what is checked here is the plumbing: frame count, rate, audio, names, pipes, errors.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from helpers import (CLIP_FPS, CLIP_FRAMES, CLIP_H, CLIP_W, assert_one_line_error, cli_env, decode_all, invoke_cli,
                     listing, make_clip, make_videoless_mkv, mosaic, run_cli, run_ffmpeg, vidcolor_warnings)
from vidcolor.cli import main
from vidcolor.io.convert import frame_to_rgb
from vidcolor.io.writer import CODECS, PIX_FMTS, TUNES
from vidcolor.metrics import psnr

FAST = ("-q", "--preset", "ultrafast")


def assert_clean_success(res) -> None:
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "error" not in res.stderr.lower(), res.stderr


# ------------------------------------------------------------------------------------------- videos


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, clip, tiny_models):
    """``vidcolor dequantize clip.mp4`` in a folder of its own, default output name."""
    d = tmp_path_factory.mktemp("cli_default")
    shutil.copy(clip, d / "clip.mp4")
    res = run_cli("dequantize", "clip.mp4", "--model", tiny_models.lab, "--preset", "ultrafast", cwd=d)
    return d, res


def test_default_output_name_frames_fps_audio(default_run, clip_frames):
    d, res = default_run
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout == b""                                      # only video ever goes to stdout
    assert listing(d) == {"clip.mp4", "clip_dequantized.mp4"}
    frames, rate, has_audio = decode_all(str(d / "clip_dequantized.mp4"))
    assert len(frames) == CLIP_FRAMES and rate == Fraction(CLIP_FPS) and has_audio
    assert frames.shape[1:] == (CLIP_H, CLIP_W, 3)
    assert psnr(frames, clip_frames) > 25                         # identity model: same pictures
    # the summary line goes to stderr when not --quiet
    assert f"{CLIP_FRAMES} frames" in res.stderr and "clip_dequantized.mp4" in res.stderr


def test_the_summary_line_says_how_long_the_start_up_took(tmp_path, clip, tiny_models):
    """It gave the frames' time alone ('30 frames in 3.8 s' for a command that took 7.7 s); the start-up and
    finish now make up the rest of the command's wall time, and the rate is still the frames' own."""
    import time

    began = time.perf_counter()
    res = run_cli("dequantize", clip, "-o", tmp_path / "o.mp4", "--model", tiny_models.lab, "--preset", "ultrafast")
    wall = time.perf_counter() - began
    assert_clean_success(res)
    line = re.search(r"(\d+) frames in ([\d.]+) s \(([\d.]+) fps; ([\d.]+) s start-up(?:, ([\d.]+) s finish)?\) -> ",
                     res.stderr)
    assert line, res.stderr
    frames, seconds, fps, startup, finish = (float(g or 0) for g in line.groups())
    assert frames == CLIP_FRAMES and abs(frames / fps - seconds) <= 0.051       # the rate: of the frames alone
    assert 0.5 * wall < seconds + startup + finish < wall + 0.2     # all but the interpreter's own start


def test_keeps_time_base_and_audio_codec(default_run, clip):
    d, _ = default_run
    with av.open(str(clip)) as a, av.open(str(d / "clip_dequantized.mp4")) as b:
        assert b.streams.video[0].time_base == a.streams.video[0].time_base
        assert b.streams.audio[0].codec_context.name == "aac"
        assert b.streams.video[0].frames == a.streams.video[0].frames


def x264_setting(path, name: str) -> str:
    """An option x264 wrote into its own settings string (SEI user data: ``... crf=14.0 ... deadzone=21,11 ...``)."""
    found = re.search(rb" " + name.encode() + rb"=([^ ]+) ", path.read_bytes())
    assert found, f"{path}: no x264 {name} in its settings string"
    return found.group(1).decode()


def test_output_crf_is_14_for_dequantize_16_for_colorize_and_crf_and_tune_override(default_run, tmp_path, clip,
                                                                                   tiny_models, tiny_colorizers):
    """Untuned by default (x264's dead zones 21,11); ``--tune grain`` reaches x264 (dead zones 6,6)."""
    d, _ = default_run
    assert float(x264_setting(d / "clip_dequantized.mp4", "crf")) == 14
    assert x264_setting(d / "clip_dequantized.mp4", "deadzone") == "21,11"
    res = invoke_cli("dequantize", clip, "-o", tmp_path / "d20.mp4", "--model", tiny_models.lab, "--crf", "20",
                     "--tune", "grain", *FAST)
    assert_clean_success(res)
    assert float(x264_setting(tmp_path / "d20.mp4", "crf")) == 20
    assert x264_setting(tmp_path / "d20.mp4", "deadzone") == "6,6"
    res = invoke_cli("colorize", clip, "-o", tmp_path / "c.mp4", "--model", tiny_colorizers.fcn, *FAST)
    assert_clean_success(res)
    assert float(x264_setting(tmp_path / "c.mp4", "crf")) == 16


def test_dequantize_adds_its_x264_options_to_the_default_preset_only(default_run, tmp_path, clip, tiny_models,
                                                                     tiny_colorizers):
    """At x264's default preset dequantize's output gets ``DEQUANTIZE_X264_PARAMS`` (x264's settings string: no
    inter sub-partitions, ``analyse=0x3:0x3`` instead of medium's ``0x3:0x113``; no DCT decimation, ``decimate=0``);
    ``--x264-params`` replaces them (``''``: none), another preset goes without them (``default_run`` is at
    ultrafast; ``--preset MEDIUM`` and ``5``, x264's medium too, went without them once), and colorize has none. An
    option x264 does not know is a one-line error before anything is written."""
    assert x264_setting(default_run[0] / "clip_dequantized.mp4", "decimate") == "1"
    want = {"default": ("0x3:0x3", "0", "3"), "none": ("0x3:0x113", "1", "3"), "ref2": ("0x3:0x113", "1", "2"),
            "MEDIUM": ("0x3:0x3", "0", "3"), "5": ("0x3:0x3", "0", "3")}    # x264's medium, in its other spellings
    for name, extra in (("default", ()), ("none", ("--x264-params", "")), ("ref2", ("--x264-params", "ref=2")),
                        ("MEDIUM", ("--preset", "MEDIUM")), ("5", ("--preset", "5"))):
        res = invoke_cli("dequantize", clip, "-o", tmp_path / f"{name}.mp4", "--model", tiny_models.lab, "-q", *extra)
        assert_clean_success(res)
        got = tuple(x264_setting(tmp_path / f"{name}.mp4", k) for k in ("analyse", "decimate", "ref"))
        assert got == want[name], name
    res = invoke_cli("colorize", clip, "-o", tmp_path / "c.mp4", "--model", tiny_colorizers.fcn, "-q")
    assert_clean_success(res)
    assert x264_setting(tmp_path / "c.mp4", "decimate") == "1"
    res = invoke_cli("dequantize", clip, "-o", tmp_path / "bad.mp4", "--model", tiny_models.lab, "-q",
                     "--x264-params", "ref=2:bogus=1")
    assert_one_line_error(res)
    assert "'bogus=1'" in res.stderr and not (tmp_path / "bad.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["5.mp4", "MEDIUM.mp4", "c.mp4", "default.mp4", "none.mp4",
                                                          "ref2.mp4"]


def test_no_overwrite_without_flag(default_run, tiny_models):
    d, _ = default_run
    before = (d / "clip_dequantized.mp4").read_bytes()
    res = invoke_cli("dequantize", "clip.mp4", "--model", tiny_models.lab, *FAST, cwd=d)
    assert_one_line_error(res)
    assert "exists" in res.stderr and "--overwrite" in res.stderr
    assert (d / "clip_dequantized.mp4").read_bytes() == before
    assert listing(d) == {"clip.mp4", "clip_dequantized.mp4"}
    res = invoke_cli("dequantize", "clip.mp4", "--model", tiny_models.lab, "--overwrite", *FAST, cwd=d)
    assert_clean_success(res)
    assert listing(d) == {"clip.mp4", "clip_dequantized.mp4"}
    assert len(decode_all(str(d / "clip_dequantized.mp4"))[0]) == CLIP_FRAMES


def test_no_audio_rgb_model_matroska(tmp_path, clip, clip_frames, tiny_models):
    res = invoke_cli("dequantize", clip, "-o", tmp_path / "out.mkv", "--no-audio", "--model", tiny_models.rgb,
                     "--batch-size", "3", *FAST)
    assert_clean_success(res)
    frames, rate, has_audio = decode_all(str(tmp_path / "out.mkv"))
    assert not has_audio
    assert len(frames) == CLIP_FRAMES and rate == Fraction(CLIP_FPS)
    assert psnr(frames, clip_frames) > 25
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert "matroska" in c.format.name
    assert listing(tmp_path) == {"out.mkv"}


def test_stdin_to_stdout(ffmpeg_exe, clip, clip_frames, tiny_models):
    nut = run_ffmpeg(ffmpeg_exe, "-i", str(clip), "-an", "-c", "copy", "-f", "nut", "-")
    res = run_cli("dequantize", "-", "-o", "-", "--model", tiny_models.lab, *FAST, stdin=nut)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    with av.open(io.BytesIO(res.stdout)) as c:
        assert c.format.name == "nut"
        assert Fraction(c.streams.video[0].average_rate) == Fraction(CLIP_FPS)
        frames = np.stack([frame_to_rgb(f) for f in c.decode(video=0)])
    assert len(frames) == CLIP_FRAMES
    assert psnr(frames, clip_frames) > 25


def test_file_to_stdout_keeps_audio(clip, tiny_models):
    res = run_cli("dequantize", clip, "-o", "-", "--format", "matroska", "--model", tiny_models.lab, *FAST)
    assert res.returncode == 0, res.stderr
    frames, rate, has_audio = decode_all(io.BytesIO(res.stdout))
    assert len(frames) == CLIP_FRAMES and rate == Fraction(CLIP_FPS) and has_audio


MOOT_ERRORS = [
    pytest.param(["--codec", "ffv1", "--crf", "10", "--tune", "grain", "--x264-params", "ref=1", "-o", "a.mkv"],
                 "--crf, --tune and --x264-params do not apply to --codec ffv1, which is lossless", id="ffv1-x264"),
    pytest.param(["--codec", "prores", "--preset", "slow", "-o", "a.mov"], "--preset does not apply to --codec prores",
                 id="prores-preset"),
    pytest.param(["--codec", "h264_nvenc", "--tune", "film"], "--tune does not apply to --codec h264_nvenc",
                 id="nvenc-tune"),
    pytest.param(["-o", "a.gif", "--crf", "20", "--pix-fmt", "yuv444p", "--no-audio"],     # --no-audio applies
                 "error: --crf and --pix-fmt do not apply to GIF output", id="gif-encoder"),
    pytest.param(["--temporal", "off", "--temporal-strength", "0.3"], "--temporal-strength does not apply with "
                 "--temporal off", id="strength-without-smoothing"),
    pytest.param(["--model", "{rgb}", "--keep-luminance"], "--keep-luminance does not apply to", id="rgb-keep-l"),
    pytest.param(["--model", "{rgb}", "--restore-luminance"], "--restore-luminance does not apply to", id="rgb-restore-l"),
    pytest.param(["--segment-seconds", "5"], "apply to --executor ray", id="segments-without-ray"),
    pytest.param(["colorize", "--reference-mode", "fast"], "--reference-mode does not apply without a --reference",
                 id="fast-without-reference"),
    pytest.param(["colorize", "--reference", "{ref}", "--internal-iters", "5", "--internal-size", "64"],
                 "--internal-iters and --internal-size do not apply without --reference-mode internal",
                 id="internal-options-in-fast-mode"),
    pytest.param(["colorize", "--reference", "{ref}", "--reference-mode", "internal", "--render-size", "128"],
                 "--render-size does not apply to --reference-mode internal", id="render-size-in-internal-mode"),
    pytest.param(["colorize", "--reference-mode", "internal", "--load-model", "{rgb}", "--reference", "{ref}",
                  "--internal-iters", "5"], "--reference and --internal-iters do not apply with --load-model",
                 id="training-options-with-a-saved-pair"),
    pytest.param(["colorize", "--save-model", "pair.safetensors"], "belong to --reference-mode internal",
                 id="save-model-in-fast-mode"),
]


@pytest.mark.parametrize("args, needle", MOOT_ERRORS)
def test_an_option_the_command_line_leaves_without_effect_is_an_error(tmp_path, clip, tiny_models, args, needle):
    """One rule for options given that cannot apply: where the rest of the command line rules them out, whatever
    the input, an error naming them (--crf with ffv1 and --tune with NVENC were warnings, --preset with ffv1, GIF's
    encoder options, --reference-mode fast without a reference, --internal-iters and --internal-size outside the
    internal mode and --keep-luminance with an RGB model were ignored without a word)."""
    shutil.copy(clip, tmp_path / "clip.mp4")
    Image.fromarray(mosaic(1, 64, 80)[0]).save(tmp_path / "ref.png")
    command, args = (args[0], args[1:]) if args[0] == "colorize" else ("dequantize", args)
    args = [a.format(rgb=tiny_models.rgb, ref="ref.png") for a in args]
    if "--model" not in args and command == "dequantize":
        args += ["--model", str(tiny_models.lab)]
    before = listing(tmp_path)
    res = invoke_cli(command, "clip.mp4", *args, "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert needle in res.stderr
    assert listing(tmp_path) == before


def test_an_option_the_input_leaves_without_effect_is_a_warning(tmp_path, clip, tiny_models):
    """Where the input rules an option out (a still image, a folder of stills alone, stdin's missing audio), the same
    command line applies it to other inputs (a folder's clips, a script's next file): one warning line naming them,
    and the run goes on as without them. They were ignored without a word."""
    Image.fromarray(mosaic(1, 24, 32)[0]).save(tmp_path / "photo.png")
    res = invoke_cli("dequantize", "photo.png", "-o", "p.png", "--crf", "20", "--codec", "libx265", "--preset",
                     "slow", "--pix-fmt", "yuv444p10le", "--no-audio", "--format", "mp4", "--temporal", "ema",
                     "--batch-size", "2", "--model", tiny_models.lab, "-q", cwd=tmp_path)
    assert res.returncode == 0 and res.stderr_lines == [
        "vidcolor: warning: --codec, --crf, --preset, --pix-fmt, --format, --no-audio, --temporal and --batch-size do "
        "not apply to photo.png, a still image, written as an image on its own; ignored"], res.stderr
    with Image.open(tmp_path / "p.png") as im:
        assert im.format == "PNG"
    (tmp_path / "stills").mkdir()
    shutil.copy(tmp_path / "photo.png", tmp_path / "stills" / "a.png")
    res = invoke_cli("dequantize", "stills", "--crf", "20", "--model", tiny_models.lab, "-q", cwd=tmp_path)
    assert res.returncode == 0 and res.stderr_lines == [
        "vidcolor: warning: --crf does not apply to stills, a folder of still images alone, each written as an image "
        "on its own; ignored"], res.stderr
    shutil.copy(clip, tmp_path / "stills" / "b.mp4")            # a clip takes it
    res = invoke_cli("dequantize", "stills", "-o", "both", "--crf", "20", "--model", tiny_models.lab, *FAST,
                     cwd=tmp_path)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    res = run_cli("dequantize", "-", "-o", "piped.mp4", "--no-audio", "--model", tiny_models.lab, *FAST, cwd=tmp_path,
                  stdin=clip.read_bytes())
    assert res.returncode == 0 and res.stderr == "", res.stderr        # stdin's audio, dropped as asked
    res = invoke_cli("dequantize", clip, "-o", tmp_path / "b.mp4", "--crf", "10", "--model", tiny_models.lab, *FAST)
    assert res.returncode == 0 and res.stderr == "", res.stderr


def test_gif_output_names_the_audio_it_leaves_out_unless_no_audio_says_so(tmp_path, clip, tiny_models, ffmpeg_exe):
    """GIF holds no audio: a clip's went without a word, and --no-audio, which says to drop it, was refused with GIF
    output ('--no-audio does not apply to GIF output'). Now one warning names it, and --no-audio drops it unsaid;
    a clip without audio has nothing to name."""
    shutil.copy(clip, tmp_path / "clip.mp4")
    make_clip(ffmpeg_exe, tmp_path / "mute.mp4", frames=3, audio=False)
    res = invoke_cli("dequantize", "clip.mp4", "-o", "a.gif", "--model", tiny_models.lab, "-q", cwd=tmp_path)
    assert res.returncode == 0 and res.stderr_lines == [
        "vidcolor: warning: not carried from clip.mp4: audio (aac) (GIF output holds its frames alone; --no-audio "
        "drops the audio without naming it)"], res.stderr
    for source in ("clip.mp4", "mute.mp4"):
        res = invoke_cli("dequantize", source, "-o", f"{source}.gif", "--model", tiny_models.lab, "-q",
                         *["--no-audio"] * (source == "clip.mp4"), cwd=tmp_path)
        assert res.returncode == 0 and res.stderr == "", res.stderr
    assert {"a.gif", "clip.mp4.gif", "mute.mp4.gif"} <= listing(tmp_path)


def test_a_suffix_that_names_another_format_than_format_is_refused(tmp_path, clip, tiny_models):
    """``-o a5.mkv --format mp4`` wrote MP4 data under a Matroska name (and .mp4 with --format matroska, .gif with
    mp4): one line now, nothing written, from the CLI as from the Ray executor's check; a suffix that names no
    format or the same one is what --format is for. FFV1 in .mp4 (the help said .mkv) is written and decodes to
    the same frames as in .mkv."""
    from vidcolor.ray_work import ray_clips
    from vidcolor.errors import VidcolorError

    for name, fmt in (("a5.mkv", "mp4"), ("a.mp4", "matroska"), ("a.gif", "mp4")):
        res = invoke_cli("dequantize", clip, "-o", name, "--format", fmt, "--model", tiny_models.lab, *FAST,
                         cwd=tmp_path)
        assert_one_line_error(res)
        assert f"{name}: its suffix" in res.stderr and f"--format says {fmt}" in res.stderr
        with pytest.raises(VidcolorError, match=" container says|cannot write GIF"):
            ray_clips(clip, tmp_path / name, "dequantized", {"container": fmt})
    assert listing(tmp_path) == set()
    for name, fmt in (("a.m4v", "mp4"), ("a.bin", "nut")):
        assert_clean_success(invoke_cli("dequantize", clip, "-o", name, "--format", fmt, "--model", tiny_models.lab,
                                        *FAST, cwd=tmp_path))
        with av.open(str(tmp_path / name)) as c:
            assert fmt in c.format.name
    for name in ("ffv1.mp4", "ffv1.mkv"):
        assert_clean_success(invoke_cli("dequantize", clip, "-o", name, "--codec", "ffv1", "--model", tiny_models.lab,
                                        "-q", cwd=tmp_path))
    mp4, mkv = decode_all(str(tmp_path / "ffv1.mp4")), decode_all(str(tmp_path / "ffv1.mkv"))
    assert np.array_equal(mp4[0], mkv[0]) and len(mp4[0]) == CLIP_FRAMES and mp4[1:] == mkv[1:]
    with av.open(str(tmp_path / "ffv1.mp4")) as c:
        assert c.format.name.startswith("mov,mp4") and c.streams.video[0].codec_context.name == "ffv1"


@pytest.mark.parametrize("container", ["mp4", "mov"])
def test_mp4_to_stdout_is_fragmented(clip, tiny_models, container):
    """MP4's faststart seeks back over the file, which a pipe cannot: on stdout it is written fragmented."""
    res = run_cli("dequantize", clip, "-o", "-", "--format", container, "--model", tiny_models.lab, *FAST)
    assert res.returncode == 0, res.stderr
    frames, _, has_audio = decode_all(io.BytesIO(res.stdout))     # no index up front: the mean rate is a guess
    assert len(frames) == CLIP_FRAMES and has_audio
    with av.open(io.BytesIO(res.stdout)) as c:                    # the frames' own times are kept
        stream = c.streams.video[0]
        pts = sorted(p.pts for p in c.demux(stream) if p.pts is not None)
        assert {Fraction(b - a) * stream.time_base for a, b in zip(pts, pts[1:])} == {Fraction(1, CLIP_FPS)}


def test_a_reader_that_closes_stdout_ends_the_run_with_one_line(clip, tiny_models):
    """``vidcolor ... -o - | head -c 100``: exit 1 with one line, as ffmpeg says so and fails (exit 1 alone, no
    word, was hard to tell from any other failure in a script)."""
    proc = subprocess.Popen([sys.executable, "-m", "vidcolor.cli", "dequantize", str(clip), "-o", "-", "--model",
                             tiny_models.lab, *FAST], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
    proc.stdout.close()                                   # the reader goes away before the first byte
    err = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert [ln for ln in err.splitlines() if ln.strip()] == [
        "vidcolor: error: the reader of stdout closed it before the end (broken pipe): the output is cut short"], err


def test_raw_stdin(tmp_path, tiny_models):
    frames = mosaic(5, 32, 48)
    res = run_cli("dequantize", "-", "--raw", "48x32", "--fps", "12", "-o", tmp_path / "raw.mp4",
                  "--model", tiny_models.lab, "--crf", "8", *FAST, stdin=frames.tobytes())
    assert_clean_success(res)
    got, rate, has_audio = decode_all(str(tmp_path / "raw.mp4"))
    assert got.shape == frames.shape and rate == Fraction(12) and not has_audio
    assert psnr(got, frames) > 24


def test_raw_stdin_truncated_leaves_nothing(tmp_path, tiny_models):
    frames = mosaic(3, 32, 48)
    data = frames.tobytes()[: int(2.5 * 48 * 32 * 3)]
    res = run_cli("dequantize", "-", "--raw", "48x32", "--fps", "12", "-o", "raw.mp4", "--model", tiny_models.lab,
                  *FAST, stdin=data, cwd=tmp_path)
    assert_one_line_error(res)
    assert "inside a frame" in res.stderr and "--ignore-errors keeps the 2" in res.stderr
    assert listing(tmp_path) == set()
    res = run_cli("dequantize", "-", "--raw", "48x32", "--fps", "12", "-o", "raw.mp4", "--model", tiny_models.lab,
                  "--ignore-errors", *FAST, stdin=data, cwd=tmp_path)
    assert res.returncode == 0 and "inside a frame" in res.stderr and "warning" in res.stderr, res.stderr
    assert decode_all(str(tmp_path / "raw.mp4"))[0].shape[0] == 2


def test_a_wrong_raw_size_is_told_as_such(tmp_path, tiny_models):
    """--raw 49x32 for 48x32 frames was told as 'truncated', with --ignore-errors (sheared frames) as the advice."""
    res = run_cli("dequantize", "-", "--raw", "49x32", "--fps", "12", "-o", "raw.mp4", "--model", tiny_models.lab,
                  *FAST, stdin=mosaic(3, 32, 48).tobytes(), cwd=tmp_path)
    assert_one_line_error(res)
    assert ("stdin: the raw input ended inside a frame: its 13,824 bytes are no whole number of 49x32 rgb24 frames "
            "(4,704 bytes each, 3 a pixel), so it was cut short (truncated) or that is not its frame size; check --raw "
            "(and that the frames are rgb24): with a wrong size every frame is sheared; nothing written") in res.stderr
    assert listing(tmp_path) == set()


def test_a_y4m_cut_inside_a_frame_is_told_as_raw_input_is(tmp_path, ffmpeg_exe, tiny_models):
    """A y4m whose last frame is cut short (an upstream ffmpeg stopped mid-frame) was a success: ffmpeg's demuxer
    drops the partial frame without a word. It is now the error (or, with --ignore-errors, the warning) that raw
    rgb24 input cut the same way gives, from a pipe and from a file."""
    y4m = run_ffmpeg(ffmpeg_exe, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "48x32", "-r", "12", "-i", "-",
                     "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", "-", stdin=mosaic(3, 32, 48).tobytes())
    frame = 48 * 32 * 3 // 2 + 6                                # 4:2:0 data and its FRAME line
    whole = len(y4m) - 3 * frame
    cut = y4m[:whole + 2 * frame + 100]
    (tmp_path / "cut.y4m").write_bytes(cut)
    told = f"the y4m input ended inside a frame (100 of its {frame:,} bytes) (truncated)"
    res = run_cli("dequantize", "-", "-o", "out.mkv", "--model", tiny_models.lab, *FAST, stdin=cut, cwd=tmp_path)
    assert_one_line_error(res)
    assert f"stdin: {told}; nothing written (--ignore-errors keeps the 2 that decoded)" in res.stderr
    res = invoke_cli("dequantize", "cut.y4m", "-o", "out.mkv", "--model", tiny_models.lab, *FAST, cwd=tmp_path)
    assert_one_line_error(res)
    assert f"cut.y4m: {told}" in res.stderr and listing(tmp_path) == {"cut.y4m"}
    res = invoke_cli("dequantize", "cut.y4m", "-o", "out.mkv", "--model", tiny_models.lab, "--ignore-errors", *FAST,
                     cwd=tmp_path)
    assert res.returncode == 0 and f"warning: cut.y4m: {told}; the 2 that decoded were written" in res.stderr
    assert decode_all(str(tmp_path / "out.mkv"))[0].shape[0] == 2
    (tmp_path / "whole.y4m").write_bytes(y4m)                   # a whole one is no error
    assert_clean_success(invoke_cli("dequantize", "whole.y4m", "-o", "w.mkv", "--model", tiny_models.lab, *FAST,
                                    cwd=tmp_path))


def test_missing_output_folders_are_created_and_a_failed_run_removes_them(tmp_path, clip, tiny_models):
    """``-o nodir/out.mp4``, ``-o nodir_img/x.png`` and ``-o nodir_f/sub/`` create their folders, on purpose (the
    writers' partial_file; `vidcolor export` and --save-model now do too); a run that fails removes those it made
    with its partial output: a video run (truncated raw input, here) left nodir/a/ behind, an image run the folders
    above its output's own."""
    Image.fromarray(mosaic(1, 16, 16)[0]).save(tmp_path / "photo.png")
    (tmp_path / "in").mkdir()
    shutil.copy(tmp_path / "photo.png", tmp_path / "in" / "photo.png")
    for source, output, written in ((clip, "nodir/a/out.mp4", "nodir/a/out.mp4"),
                                    ("photo.png", "nodir_img/b/x.png", "nodir_img/b/x.png"),
                                    ("in", "nodir_f/sub/", "nodir_f/sub/photo.png")):
        res = invoke_cli("dequantize", source, "-o", output, "--model", tiny_models.lab,
                         *(FAST if source == clip else ("-q",)), cwd=tmp_path)
        assert_clean_success(res)
        assert (tmp_path / written).is_file()
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    before = listing(tmp_path)
    res = run_cli("dequantize", "-", "--raw", "48x32", "--fps", "12", "-o", "gone/a/raw.mp4", "--model",
                  tiny_models.lab, *FAST, stdin=mosaic(3, 32, 48).tobytes()[: int(2.5 * 48 * 32 * 3)], cwd=tmp_path)
    assert_one_line_error(res)
    assert "inside a frame" in res.stderr
    res = invoke_cli("dequantize", "broken.png", "-o", "gone/a/x.png", "--model", tiny_models.lab, "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert listing(tmp_path) == before


def test_a_truncated_animated_gif_keeps_its_whole_frames_with_ignore_errors(tmp_path, tiny_models):
    """It failed ('decoding failed at frame 5') with --ignore-errors too, and told nothing of that option."""
    frames = [Image.fromarray(f) for f in mosaic(10, 32, 48)]
    frames[0].save(tmp_path / "full.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    data = (tmp_path / "full.gif").read_bytes()
    (tmp_path / "cut.gif").write_bytes(data[: len(data) * 6 // 10])
    (tmp_path / "full.gif").unlink()
    res = invoke_cli("dequantize", "cut.gif", "-o", "out.mp4", "--model", tiny_models.lab, "--pix-fmt", "yuv444p", *FAST,
                     cwd=tmp_path)     # (4:4:4: the GIF's colour kept, not warned of)
    assert_one_line_error(res)
    assert "frames could not be read" in res.stderr and "--ignore-errors keeps" in res.stderr
    assert listing(tmp_path) == {"cut.gif"}
    res = invoke_cli("dequantize", "cut.gif", "-o", "out.mp4", "--model", tiny_models.lab, "--ignore-errors", "--pix-fmt",
                     "yuv444p", *FAST, cwd=tmp_path)
    assert res.returncode == 0 and "warning" in res.stderr, res.stderr
    assert 3 <= decode_all(str(tmp_path / "out.mp4"))[0].shape[0] < 10


# ------------------------------------------------------------------------------------------- images


def test_still_image_png(tmp_path, tiny_models):
    rng = np.random.default_rng(3)
    rgb = mosaic(1, 29, 37)[0]
    alpha = rng.integers(0, 256, (29, 37), dtype=np.uint8)
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "sprite.png")
    res = invoke_cli("dequantize", "sprite.png", "--model", tiny_models.lab, cwd=tmp_path)
    assert_clean_success(res)
    assert listing(tmp_path) == {"sprite.png", "sprite_dequantized.png"}
    assert "vidcolor: 1 image in " in res.stderr and "fps" not in res.stderr     # was '1 frames in 0.2 s (5.69 fps)'
    with Image.open(tmp_path / "sprite_dequantized.png") as im:
        assert im.size == (37, 29) and im.mode == "RGBA"
        out = np.asarray(im)
    np.testing.assert_array_equal(out[..., 3], alpha)
    assert np.abs(out[..., :3].astype(int) - rgb).max() <= 2     # identity model, LAB round trip


def transparent_animation(path: Path) -> np.ndarray:
    """Four 48x32 mosaic frames, transparent but for an opaque box that moves (a pixel turns opaque and transparent
    again), saved by Pillow in the format of ``path``'s suffix (GIF, APNG, WebP); returns the alpha ``(4, 32, 48)``."""
    rgb = mosaic(4, 32, 48)
    alpha = np.zeros((4, 32, 48), np.uint8)
    for i in range(4):
        alpha[i, 4 + 4 * i:16 + 4 * i, 4 + 6 * i:24 + 6 * i] = 255
    frames = [Image.fromarray(np.dstack([c, a]), "RGBA") for c, a in zip(rgb, alpha)]
    extra = {"disposal": 2} if path.suffix == ".gif" else {"lossless": True} if path.suffix == ".webp" else {}
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0, **extra)
    return alpha


@pytest.mark.parametrize("name", ["a.gif", "a.png", "a.webp"])
def test_an_animations_transparency_is_kept_in_gif_and_composited_on_black_with_a_warning_in_video(
        tmp_path, tiny_models, name):
    """GIF output was opaque, black where the input was transparent, as a video is: now the alpha goes through
    unchanged (GIF holds one bit of it) as a still image's does, and the colour under it is processed; a video
    container holds none, so the frames are composited on black, which a warning says once."""
    from PIL import ImageSequence

    alpha = transparent_animation(tmp_path / name)
    res = invoke_cli("dequantize", name, "-o", "out.gif", "--model", tiny_models.lab, "-q", cwd=tmp_path)
    assert_clean_success(res)
    assert not res.stderr, res.stderr
    with Image.open(tmp_path / "out.gif") as im:
        got = np.stack([np.asarray(f.convert("RGBA"))[..., 3] for f in ImageSequence.Iterator(im)])
    np.testing.assert_array_equal(got > 0, alpha > 0)
    res = invoke_cli("dequantize", name, "-o", "out.mp4", "--model", tiny_models.lab, "--pix-fmt", "yuv444p", *FAST,
                     cwd=tmp_path)     # (4:4:4: its colour kept, not warned of)
    assert res.returncode == 0 and res.stderr_lines == [
        f"vidcolor: warning: {name}: its transparent parts were composited on black (out.mp4 cannot hold "
        "transparency; GIF output keeps it)"], res.stderr
    frames = decode_all(str(tmp_path / "out.mp4"))[0]
    assert len(frames) == 4 and frames[alpha == 0].mean() < 8 < frames[alpha == 255].mean()


def test_an_image_written_to_an_existing_folder_says_so_at_once(tmp_path, tiny_models):
    """``photo.png -o outdir/`` said 'outdir exists (use --overwrite to replace it)', and with --overwrite then
    'outdir is a folder (give the output a file name)'; the second is said at once, as for a video (and for a
    folder of images whose output holds a folder in an image's place). (``outdir/`` is now where the output goes,
    under its default name: a folder in that name's place is the case.)"""
    Image.fromarray(mosaic(1, 16, 16)[0]).save(tmp_path / "photo.png")
    (tmp_path / "outdir" / "photo_dequantized.png").mkdir(parents=True)
    (tmp_path / "in").mkdir()
    shutil.copy(tmp_path / "photo.png", tmp_path / "in" / "photo.png")
    (tmp_path / "out" / "photo.png").mkdir(parents=True)
    before = listing(tmp_path)
    for source, output, folder in (("photo.png", "outdir/", "outdir/photo_dequantized.png"),
                                   ("in", "out", "out/photo.png")):
        for extra in ((), ("--overwrite",)):
            res = invoke_cli("dequantize", source, "-o", output, "--model", tiny_models.lab, "-q", *extra, cwd=tmp_path)
            assert_one_line_error(res)
            assert f"error: {folder} is a folder (give the output a file name)" in res.stderr
    assert listing(tmp_path) == before


def test_a_folder_given_as_a_single_inputs_output_gets_its_default_name_inside(tmp_path, tiny_models):
    """``dequantize audio2.mp4 -o o2/`` (o2 missing) said 'o2: cannot tell the video format from a name without a
    suffix', and ``-o o3`` (a folder) 'o3 is a folder (give the output a file name)': the output is now written
    there under its default name (``o2/audio2_dequantized.mp4``), as a folder input's outputs are. A missing name
    is a folder only with a trailing slash; stdin has no name to give the file in it (the slash kept)."""
    from vidcolor.errors import VidcolorError
    from vidcolor.io.paths import output_for

    (tmp_path / "o3").mkdir()
    for given, expected in (("o2/", "o2/clip_dequantized.mp4"), (tmp_path / "o3", tmp_path / "o3" / "clip_dequantized.mp4"),
                            ("o2", "o2"), ("o2.mkv", "o2.mkv")):
        assert Path(output_for("in/clip.mkv", given, "dequantized")) == Path(expected)
    assert output_for("in/scan_%04d.dpx", "o2/", "dequantized", "matroska") == Path("o2/scan_dequantized.mkv")
    with pytest.raises(VidcolorError, match="^o2/ is a folder; reading stdin, give the output a file name$"):
        output_for("-", "o2/", "dequantized")
    Image.fromarray(mosaic(1, 16, 16)[0]).save(tmp_path / "photo.png")
    for output in ("o2/", "o3"):
        res = invoke_cli("dequantize", "photo.png", "-o", output, "--model", tiny_models.lab, "-q", cwd=tmp_path)
        assert_clean_success(res)
        assert (tmp_path / output / "photo_dequantized.png").is_file()


@pytest.mark.parametrize("name, profile, kept", [("p3.jpg", "sRGB", True), ("p3.png", "sRGB", True),
                                                 ("lab.png", "LAB", False)])
def test_an_images_rgb_colour_profile_is_embedded_in_its_output(tmp_path, tiny_models, name, profile, kept):
    """A phone photo's Display P3 profile was dropped, so colour-managed viewers showed the output as sRGB
    (duller); a profile that does not describe RGB (gray, CMYK, Lab) is not carried."""
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile(profile)).tobytes()
    Image.fromarray(mosaic(1, 29, 37)[0]).save(tmp_path / name, icc_profile=icc)
    out = tmp_path / ("out" + name[name.index("."):])
    assert_clean_success(invoke_cli("dequantize", name, "-o", out, "--model", tiny_models.lab, "-q", cwd=tmp_path))
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == (icc if kept else None)


def test_a_p3_quantized_png_is_dequantized_on_its_code_values_with_its_profile_embedded(tmp_path, tiny_models):
    """Quantization (a 16-colour palette here) happened in the stored code values: dequantize must estimate and
    project on them, and tag its output with the input's profile. 3a0685c converted a Display P3 PNG to sRGB first
    (its levels moved off the palette, P3's wider gamut clipped) and wrote the output untagged. The P3-tagged
    image must give the untagged one's pixels, with its P3 profile embedded."""
    from vidcolor.io.icc import matrix_profile

    p3 = matrix_profile((0.3127, 0.3290), ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)), None, "Display P3")
    x = mosaic(1, 48, 64, seed=5)[0]
    x[:8, :8] = (0, 230, 0)                                          # a P3 green outside sRGB
    quantized = Image.fromarray(x).quantize(16).convert("RGB")
    quantized.save(tmp_path / "p3.png", icc_profile=p3)
    quantized.save(tmp_path / "plain.png")
    for name in ("p3", "plain"):
        assert_clean_success(invoke_cli("dequantize", f"{name}.png", "-o", f"{name}_out.png", "--model",
                                        tiny_models.lab, "-q", cwd=tmp_path))
    with Image.open(tmp_path / "p3_out.png") as tagged, Image.open(tmp_path / "plain_out.png") as plain:
        np.testing.assert_array_equal(np.asarray(tagged), np.asarray(plain))
        assert tagged.info.get("icc_profile") == p3 and plain.info.get("icc_profile") is None


@pytest.mark.parametrize("name, output", [("a.jpg", "out.png"), ("a.png", "out.jpg"), ("a.webp", "out.webp"),
                                          ("a.tif", "out.jpg"), ("a.jpg", "out.tif")])
def test_an_images_exif_is_kept_with_the_orientation_reset_once_the_pixels_are_upright(tmp_path, tiny_models, name,
                                                                                          output):
    """A photo's EXIF (camera, dates, GPS) was dropped from its output; the orientation is 1 there, since the pixels
    were turned upright (a viewer would turn them again), and the ICC profile stays beside it. A TIFF's own layout
    tags (size, strips), which Pillow gives with its EXIF, are not carried into another format."""
    from PIL import ExifTags, ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    with Image.open(_exif_photo(tmp_path / "base.jpg")) as base:
        exif = base.getexif()
    Image.fromarray(mosaic(1, 29, 37)[0]).save(tmp_path / name, exif=exif, icc_profile=icc)
    assert_clean_success(invoke_cli("dequantize", name, "-o", output, "--model", tiny_models.lab, "-q", cwd=tmp_path))
    with Image.open(tmp_path / output) as im:
        got, size, profile = im.getexif(), im.size, im.info.get("icc_profile")
        sub, gps = got.get_ifd(ExifTags.IFD.Exif), got.get_ifd(ExifTags.IFD.GPSInfo)
    assert size == (29, 37) and profile == icc                      # turned upright (orientation 6), profile kept
    assert (got.get(ExifTags.Base.Make), got.get(ExifTags.Base.Model), got.get(ExifTags.Base.Orientation)) == (
        "Canon", "EOS R5", 1)
    assert sub.get(ExifTags.Base.DateTimeOriginal) == "2024:05:06 07:08:09"
    assert (sub.get(ExifTags.Base.ExifImageWidth), sub.get(ExifTags.Base.ExifImageHeight)) == (29, 37)
    assert gps.get(ExifTags.GPS.GPSLatitudeRef) == "N" and tuple(map(float, gps[ExifTags.GPS.GPSLatitude])) == (
        48.0, 51.0, 30.0)
    if not output.endswith(".tif"):
        assert not {256, 257, 273, 279} & set(got)                   # a TIFF's layout is its own


def _exif_photo(path: Path) -> Path:
    """A JPEG whose EXIF has a camera, an orientation of 6 (turn 90 degrees clockwise to show), a date, the
    picture's size and a GPS position, as a phone's portrait photo has."""
    from PIL import ExifTags

    exif = Image.Exif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model], exif[ExifTags.Base.Orientation] = "Canon", "EOS R5", 6
    exif[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: "2024:05:06 07:08:09",
                               ExifTags.Base.ExifImageWidth: 37, ExifTags.Base.ExifImageHeight: 29}
    exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 51.0, 30.0)}
    Image.new("RGB", (37, 29)).save(path, exif=exif)
    return path


def test_a_command_sets_the_allocator_first(tmp_path, tiny_models, monkeypatch):
    """Every subcommand runs with glibc's freed frame buffers kept for reuse (vidcolor.allocator)."""
    from click.testing import CliRunner

    import vidcolor.cli

    calls = []
    monkeypatch.setattr(vidcolor.cli, "reuse_freed_memory", lambda: calls.append(True) or True)
    Image.fromarray(mosaic(1, 16, 16)[0]).save(tmp_path / "a.png")
    result = CliRunner().invoke(main, ["dequantize", str(tmp_path / "a.png"), "--model", tiny_models.lab, "-q"])
    assert result.exit_code == 0, result.output
    assert calls == [True] and (tmp_path / "a_dequantized.png").exists()


def test_running_out_of_memory_and_closed_streams_are_one_line(tmp_path, tiny_models, monkeypatch, clip):
    """A MemoryError (a --batch-size too large for the machine) was a traceback; a still image to stdout named a
    random temporary suffix; with stderr closed a run failed silently (tqdm wrote to None), with stdout closed
    ``-o -`` was an AttributeError."""
    from click.testing import CliRunner

    import vidcolor.api

    def no_memory(*args, **kwargs):
        raise MemoryError

    Image.fromarray(mosaic(1, 16, 16)[0]).save(tmp_path / "a.png")
    monkeypatch.setattr(vidcolor.api, "dequantize", no_memory)
    result = CliRunner().invoke(main, ["dequantize", str(tmp_path / "a.png"), "-q"])
    assert result.exit_code == 1 and "out of memory" in result.output and "Traceback" not in result.output
    monkeypatch.undo()
    res = invoke_cli("dequantize", "a.png", "-o", "-", "--model", tiny_models.lab, cwd=tmp_path)
    assert_one_line_error(res)
    assert "still image" in res.stderr and listing(tmp_path) == {"a.png"}
    for source, closed, out in (("a.png", "2>&-", "b.png"), (clip, ">&-", "-")):
        done = subprocess.run(f"{sys.executable} -m vidcolor.cli dequantize {source} -o {out} --model {tiny_models.lab} "
                              f"{closed}", shell=True, cwd=tmp_path, capture_output=closed == ">&-", text=True)
        if out == "-":
            assert done.returncode == 1 and "stdout is closed" in done.stderr and "Traceback" not in done.stderr
        else:
            assert done.returncode == 0 and (tmp_path / "b.png").exists()


def test_folder_in_folder_out(tmp_path, tiny_models):
    src = tmp_path / "shots"
    src.mkdir()
    a, b = mosaic(1, 24, 40, seed=1)[0], mosaic(1, 33, 17, seed=2)[0]
    Image.fromarray(a).save(src / "a.png")
    Image.fromarray(b).save(src / "b.bmp")
    (src / "notes.txt").write_text("not an image")
    res = invoke_cli("dequantize", "shots", "--model", tiny_models.rgb, "-q", cwd=tmp_path)
    assert_clean_success(res)
    out = tmp_path / "shots_dequantized"
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    for name, ref in (("a.png", a), ("b.png", b)):
        with Image.open(out / name) as im:
            got = np.asarray(im.convert("RGB"))
        assert got.shape == ref.shape
        assert np.abs(got.astype(int) - ref).max() <= 1           # rgb identity is exact up to rounding


def test_a_folder_given_as_dot_is_the_folder_given_by_its_name(tmp_path, tiny_models):
    src = tmp_path / "shots"
    src.mkdir()
    Image.fromarray(mosaic(1, 24, 40, seed=1)[0]).save(src / "a.png")
    res = invoke_cli("dequantize", ".", "--model", tiny_models.rgb, "-q", cwd=src)   # was: internal error, '. has an empty name'
    assert_clean_success(res)
    assert listing(tmp_path) == {"shots", "shots/a.png", "shots_dequantized", "shots_dequantized/a.png"}
    assert_one_line_error(invoke_cli("dequantize", "/", "--model", tiny_models.rgb, "-q"))   # no name: one line


def test_a_folder_of_videos_and_images_gives_a_folder_of_both(tmp_path, tiny_models, clip, clip_frames):
    src = tmp_path / "reels"
    src.mkdir()
    shutil.copy(clip, src / "a.mp4")
    shutil.copy(clip, src / "b.mkv")
    res = invoke_cli("dequantize", "reels", "--model", tiny_models.rgb, "--no-consistency", "--temporal", "off",
                     "--codec", "ffv1", "--pix-fmt", "yuv444p", "-q", cwd=tmp_path)
    assert_clean_success(res)
    out = tmp_path / "reels_dequantized"
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mp4"]
    for name in ("a.mp4", "b.mp4"):
        frames, _, has_audio = decode_all(str(out / name))
        assert has_audio and len(frames) == CLIP_FRAMES
        assert np.abs(frames.astype(int) - clip_frames).max() <= 2      # identity model, lossless 4:4:4
    # stills and clips together: the stills as PNGs, an animated GIF as a clip (all its frames), the videos
    Image.fromarray(clip_frames[0]).save(src / "still.png")
    Image.fromarray(clip_frames[0]).save(src / "anim.gif", save_all=True, duration=100, loop=0,
                                         append_images=[Image.fromarray(f) for f in clip_frames[1:4]])
    res = invoke_cli("dequantize", "reels", "--model", tiny_models.rgb, "-o", "mixed", "--pix-fmt", "yuv444p", "-q",
                     cwd=tmp_path)     # (4:4:4: the animation's RGB colour kept, not warned of)
    assert_clean_success(res)
    assert sorted(p.name for p in (tmp_path / "mixed").iterdir()) == ["a.mp4", "anim.mp4", "b.mp4", "still.png"]
    assert len(decode_all(str(tmp_path / "mixed" / "anim.mp4"))[0]) == 4
    # a broken clip: the outputs finished before it are kept, and the line says so
    (src / "c.mp4").write_bytes(b"not a video")
    res = invoke_cli("dequantize", "reels", "--model", tiny_models.rgb, "-o", "broken", "--pix-fmt", "yuv444p", "-q",
                     cwd=tmp_path)
    assert_one_line_error(res)
    assert "c.mp4" in res.stderr and "4 finished outputs kept in broken/" in res.stderr
    assert sorted(p.name for p in (tmp_path / "broken").iterdir()) == ["a.mp4", "anim.mp4", "b.mp4", "still.png"]


# ------------------------------------------------------------------------------------------- errors


def test_an_error_names_the_option_as_its_reader_gives_it(tmp_path, clip, tiny_models):
    """Library errors named the CLI's flags (``dequantize(..., fps=12)`` read '--fps applies to --raw input only', a
    second run 'use --overwrite'): a library caller now reads the parameter (``fps``, ``overwrite``), a CLI user the
    flag, from the one message (:func:`vidcolor.errors.option`); an error built on another, or pickled (Ray), keeps
    both."""
    import pickle

    from vidcolor.api import dequantize
    from vidcolor.errors import VidcolorError, cli_wording, option

    (tmp_path / "o.mp4").write_bytes(b"")
    for kw, library, cli in (({}, "o.mp4 exists (use overwrite to replace it)", "use --overwrite to replace it"),
                             ({"fps": 12}, "fps applies to raw_size input and image sequences only",
                              "--fps applies to --raw input and image sequences only")):
        with pytest.raises(VidcolorError) as told:
            dequantize(clip, tmp_path / "o.mp4", model=tiny_models.lab, progress=False, **kw)
        assert library in str(told.value) and library in told.value.args[0] and "--" not in str(told.value)
        args = [f"--{k.replace('_', '-')}={v}" for k, v in kw.items()]
        res = invoke_cli("dequantize", clip, "-o", tmp_path / "o.mp4", "--model", tiny_models.lab, *args, *FAST)
        assert_one_line_error(res)
        assert cli in res.stderr
    error = VidcolorError(f"{option('executor=' + repr('ray'))} takes files; use {option('raw_size', '--raw')}")
    assert str(error) == "executor='ray' takes files; use raw_size" and repr(error) == f"VidcolorError({str(error)!r})"
    assert cli_wording(error) == "--executor ray takes files; use --raw" == cli_wording(pickle.loads(pickle.dumps(error)))
    assert cli_wording(VidcolorError(f"{error.marked}; more")) == "--executor ray takes files; use --raw; more"
    assert cli_wording(ValueError("plain")) == "plain" == cli_wording(VidcolorError("plain"))


def test_a_warning_and_a_note_name_the_option_as_their_reader_gives_it(tmp_path, ffmpeg_exe, tiny_models, capsys):
    """Library warnings and notes named the CLI's flags, as errors did before (a 10-bit input's warning read 'also
    with --pix-fmt yuv420p10le', ``dequantize(..., skip_existing=True)``'s summary '(--skip-existing)', a failed
    folder run's note 'run again with --skip-existing'): a library call now reads the parameter, the CLI the flag,
    from the one marked text (:func:`vidcolor.errors.worded`, :func:`~vidcolor.errors.warn`)."""
    from vidcolor.api import dequantize
    from vidcolor.errors import VidcolorError, add_note, cli_reader, option, warn, worded

    deep = tmp_path / "deep.mkv"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=32x24:rate=10", "-frames:v", "2", "-c:v", "ffv1",
               "-pix_fmt", "yuv420p10le", str(deep))
    out = tmp_path / "o.mp4"
    with vidcolor_warnings() as said:
        dequantize(deep, out, model=tiny_models.lab, progress=False, preset="ultrafast")
    assert len(said) == 1 and "(also with pix_fmt='yuv420p10le')" in said[0]
    summary = dequantize(deep, out, model=tiny_models.lab, progress=False, skip_existing=True)
    assert str(summary) == f"nothing to do: {out} exists (skip_existing)"
    res = invoke_cli("dequantize", deep, "-o", tmp_path / "cli.mp4", "--model", tiny_models.lab, *FAST)
    assert res.returncode == 0 and "(also with --pix-fmt yuv420p10le)" in res.stderr, res.stderr
    res = invoke_cli("dequantize", deep, "-o", out, "--model", tiny_models.lab, "--skip-existing")
    assert res.stderr == f"vidcolor: nothing to do: {out} exists (--skip-existing)\n"
    said = f"use {option('workers')}"
    for cli, name in ((False, "workers"), (True, "--workers")):
        error = VidcolorError("failed")
        with cli_reader() if cli else contextlib.nullcontext(), vidcolor_warnings() as warned:
            warn(said)
            add_note(error, said)
            assert worded(said) == f"use {name}"
        assert error.__notes__ == [f"use {name}"]
        # the CLI says it on stderr, a library call as a VidcolorWarning
        assert (capsys.readouterr().err, warned) == ((f"vidcolor: warning: use {name}\n", []) if cli else
                                                     ("", [f"use {name}"]))
    assert worded(said) == "use workers"                # the CLI's block is left: a library call again


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory, ffmpeg_exe, clip):
    d = tmp_path_factory.mktemp("bad_inputs")
    shutil.copy(clip, d / "clip.mp4")
    (d / "text.mp4").write_text("hello, I am not a video\n")
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "sine=frequency=440", "-t", "0.3", "-c:a", "aac", str(d / "audio.mp4"))
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=32x24", "-f", "lavfi", "-i", "sine=frequency=440",
               "-map", "0:v", "-map", "1:a", "-frames:v", "1", "-t", "0.3", "-c:v", "mjpeg", "-disposition:v",
               "attached_pic", "-c:a", "libmp3lame", str(d / "song.mp3"))
    make_videoless_mkv(d / "noframes.mkv")
    (d / "bogus.safetensors").write_text("not a safetensors file\n" * 4)
    (d / "folder").mkdir()
    rgba = np.dstack([mosaic(1, 16, 16)[0], np.full((16, 16), 100, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(d / "rgba.png")
    return d


BAD_CASES = [
    pytest.param(["missing.mp4"], "no such file", id="missing-file"),
    pytest.param(["text.mp4"], "text.mp4", id="text-named-mp4"),
    pytest.param(["audio.mp4"], "no video stream", id="audio-only"),
    pytest.param(["song.mp3"], "song.mp3: no video stream (only cover art)", id="audio-with-cover-art"),
    pytest.param(["noframes.mkv"], "no frames", id="video-stream-without-frames"),
    pytest.param(["clip.mp4", "--model", "no-such-model"], "no-such-model", id="unknown-model"),
    pytest.param(["clip.mp4", "-o", "clip.mp4", "--overwrite"], "overwrite the input", id="output-is-input"),
    pytest.param(["clip.mp4", "--fps", "25"], "--fps", id="fps-without-raw"),
    pytest.param(["folder", "--raw", "4x4", "--fps", "10", "-o", "x.mp4"], "folder: cannot read raw frames",
                 id="raw-from-a-folder"),
    pytest.param(["-"], "-o", id="stdin-without-output"),
    pytest.param(["clip.mp4", "--model", "bogus.safetensors"], "bogus.safetensors", id="model-not-safetensors"),
    pytest.param(["rgba.png", "-o", "out.xyz"], "out.xyz", id="unwritable-image-format"),
    pytest.param(["rgba.png", "-o", "out.psd"], "out.psd: cannot write an image with the suffix '.psd'",
                 id="image-format-pillow-only-reads"),
    pytest.param(["rgba.png", "-o", "newdir"], "newdir: cannot write an image without a suffix in its name",
                 id="image-to-a-name-without-suffix"),
    pytest.param(["clip.mp4", "-o", "out.png"], "cannot tell the video format from the suffix '.png'",
                 id="video-to-an-image-name"),
    pytest.param(["clip.mp4", "-o", "out"], "a name without a suffix", id="video-to-a-name-without-suffix"),
]


@pytest.mark.parametrize("args,needle", BAD_CASES)
def test_bad_input_is_one_line_and_leaves_nothing(bad_dir, tiny_models, args, needle):
    before = listing(bad_dir)
    if "--model" not in args:
        args = [*args, "--model", tiny_models.lab]
    run = run_cli if args[0] == "-" else invoke_cli          # stdin: an empty pipe of a process of its own
    res = run("dequantize", *args, *(FAST if not args[0].endswith(".png") else ("-q",)), cwd=bad_dir, stdin=b"")
    assert_one_line_error(res)
    assert needle in res.stderr
    assert res.stdout == b""
    assert listing(bad_dir) == before                              # no output, no .partial


@pytest.mark.parametrize("fps", ["0.0001", "nan", "inf", "1e12", "0"])
def test_a_raw_rate_that_is_no_frame_rate_is_a_usage_error(tmp_path, fps):
    res = run_cli("dequantize", "-", "--raw", "4x4", "--fps", fps, "-o", "x.mp4", cwd=tmp_path, stdin=b"\x00" * 48)
    assert "Traceback" not in res.stderr and res.returncode == 2, res.stderr
    assert len(res.stderr_lines) == 1 and res.stderr_lines[0].startswith(
        f"vidcolor: error: Invalid value for '--fps': {fps} is not a frame rate from 1/1001 to 1,000,000 frames "
        "per second (see '")
    assert listing(tmp_path) == set()


@pytest.mark.parametrize("fps, rate", [("30000/1001", Fraction(30000, 1001)), ("24000:1001", Fraction(24000, 1001)),
                                       ("29.97", Fraction(2997, 100)), ("25", Fraction(25))])
def test_a_raw_rate_is_taken_as_ffmpeg_s_r_takes_it(tmp_path, tiny_models, fps, rate):
    """--fps 30000/1001, as ffprobe prints NTSC's rate, was refused ('not a valid float'): N/D is taken exactly, and a
    decimal is kept as written (29.97 is 2997/100, as ffmpeg -r 29.97 keeps it)."""
    res = invoke_cli("dequantize", "-", "--raw", "48x32", "--fps", fps, "-o", "raw.mkv", "--model", tiny_models.lab,
                     *FAST, cwd=tmp_path, stdin=mosaic(3, 32, 48).tobytes())
    assert_clean_success(res)
    with av.open(str(tmp_path / "raw.mkv")) as c:
        stream = c.streams.video[0]
        pts = [p.pts for p in c.demux(stream) if p.pts is not None]
        assert stream.average_rate == rate
    assert pts[2] * stream.time_base == pytest.approx(float(2 / rate), abs=1e-3)   # Matroska keeps milliseconds


def test_a_raw_rate_that_is_no_number_is_a_usage_error(tmp_path):
    res = run_cli("dequantize", "-", "--raw", "4x4", "--fps", "ntsc-ish", "-o", "x.mp4", cwd=tmp_path,
                  stdin=b"\x00" * 48)
    assert res.returncode == 2 and len(res.stderr_lines) == 1 and res.stderr_lines[0].startswith(
        "vidcolor: error: Invalid value for '--fps': ntsc-ish is not a number (expected a frame rate such as 25, 29.97 "
        "or 30000/1001) (see '")
    assert listing(tmp_path) == set()

def test_version_and_help():
    res = run_cli("--version")
    assert res.returncode == 0 and b"0.1.0" in res.stdout
    res = run_cli("dequantize", "--help")
    assert res.returncode == 0 and b"--raw" in res.stdout and b"--model" in res.stdout
    # -o's help names every default output (images and folders were left out), and training's has its articles
    text = " ".join(res.stdout.decode().split())
    for default in ("<stem>_<job>.mp4", "still image <stem>_<job>.png", "folder <name>_<job>/",
                    "Missing folders on the way are created"):
        assert default in text
    res = run_cli("train", "--help")
    assert res.returncode == 0 and b"Train an exemplar generator" in res.stdout and b"Train a colorize" in res.stdout


@pytest.mark.parametrize("command", ["dequantize", "colorize"])
def test_binary_video_is_not_written_to_a_terminal(tmp_path, clip, tiny_models, tiny_colorizers, command):
    """``-o -`` on a terminal wrote the NUT stream's bytes to it; refused in one line, as gzip does."""
    import pty

    model = tiny_models.lab if command == "dequantize" else tiny_colorizers.fcn
    master, terminal = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "vidcolor.cli", command, str(clip), "-o", "-", "--model",
                               str(model)], stdin=subprocess.DEVNULL, stdout=terminal, stderr=subprocess.PIPE,
                              env=cli_env(), cwd=tmp_path, timeout=120)
    finally:
        os.close(terminal)
        os.close(master)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert err.splitlines() == ["vidcolor: error: -o -: stdout is a terminal, and the output is binary video; "
                                "redirect it (> out.nut) or pipe it (| ffplay -)"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["dequantize", "colorize"])
def test_video_is_not_read_from_a_terminal(tmp_path, tiny_models, tiny_colorizers, command):
    """``-`` as input on a terminal waited, silently, for video typed in; refused in one line."""
    import pty

    model = tiny_models.lab if command == "dequantize" else tiny_colorizers.fcn
    master, terminal = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "vidcolor.cli", command, "-", "-o", "out.mp4", "--model",
                               str(model)], stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=cli_env(), cwd=tmp_path, timeout=120)
    finally:
        os.close(terminal)
        os.close(master)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.startswith("vidcolor: error: -: stdin is a terminal") and len(err.splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_rgba_png_to_jpeg_drops_alpha(bad_dir, tiny_models):
    """Kept, and said (it was silent): the output shows the colour under the transparent parts."""
    res = invoke_cli("dequantize", "rgba.png", "-o", "out.jpg", "--model", tiny_models.lab, *FAST, cwd=bad_dir)
    assert res.returncode == 0, res.stderr
    assert res.stderr_lines[-1] == ("vidcolor: warning: rgba.png: its transparency is dropped (out.jpg is JPEG, which "
                                    "holds none: the output shows the colours under its transparent parts; PNG, WebP "
                                    "and TIFF keep it)")
    assert sum("transparency" in line for line in res.stderr_lines) == 1
    from PIL import Image

    with Image.open(bad_dir / "out.jpg") as im:
        assert im.mode == "RGB" and im.size == (16, 16)


@pytest.mark.parametrize("args, names", [(["dequantize", "x.mp4", "--crf", "99"], "--crf"),
                                         (["dequantize", "--bogus", "x.mp4"], "--bogus"),
                                         (["nothing"], "nothing")])
def test_usage_errors_are_one_line_with_exit_status_2(tmp_path, args, names):
    res = run_cli(*args, cwd=tmp_path)
    assert res.returncode == 2 and len(res.stderr_lines) == 1, res.stderr
    assert res.stderr_lines[0].startswith("vidcolor: error:") and names in res.stderr and "--help" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_encoder_choices_are_the_writers():
    """The CLI spells out the writer's codecs, pixel formats and tunes (so that ``--help`` does not import the
    I/O stack); they must not drift apart."""
    for command in ("dequantize", "colorize"):
        params = {p.name: p.type for p in main.commands[command].params}
        assert tuple(params["codec"].choices) == CODECS
        assert tuple(params["pix_fmt"].choices) == PIX_FMTS
        assert tuple(params["tune"].choices) == TUNES


@pytest.mark.parametrize("command,advice", [
    ("dequantize", "out of memory; give a smaller --batch-size (or --tile for large frames)"),
    ("colorize", "out of memory; give a smaller --batch-size (or a smaller --render-size)")])
def test_the_out_of_memory_advice_names_the_commands_own_options(tmp_path, monkeypatch, command, advice):
    """colorize has no --tile, and its message named it."""
    from click.testing import CliRunner

    import vidcolor.api

    def no_memory(*args, **kwargs):
        raise MemoryError

    Image.fromarray(mosaic(1, 16, 16)[0]).save(tmp_path / "a.png")
    monkeypatch.setattr(vidcolor.api, command, no_memory)
    result = CliRunner().invoke(main, [command, str(tmp_path / "a.png"), "-q"])
    assert result.exit_code == 1 and result.output.strip() == f"vidcolor: error: {advice}", result.output


class _OrtLikeError(Exception):
    """Stands for ONNX Runtime's RuntimeException, which derives from Exception, not RuntimeError."""


_OrtLikeError.__module__ = "onnxruntime.capi.onnxruntime_pybind11_state"


@pytest.mark.parametrize("error", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to "
                 "allocate 4246732800 bytes. Error code 12 (Cannot allocate memory)"),
    RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    _OrtLikeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Conv node. "
                  "Failed to allocate memory for requested buffer of size 4246732800")])
def test_an_allocation_that_torch_or_onnx_runtime_refuses_is_the_out_of_memory_line(tmp_path, monkeypatch, error):
    """torch and ONNX Runtime say that an allocation failed with their own errors, not MemoryError: a 4K frame
    with --tile 0 under a memory limit printed their 60-line traceback. Other errors of theirs are an internal
    error's line (test_cli_errors2.py)."""
    from click.testing import CliRunner

    import vidcolor.api

    def no_memory(*args, **kwargs):
        raise error

    Image.fromarray(mosaic(1, 16, 16)[0]).save(tmp_path / "a.png")
    monkeypatch.setattr(vidcolor.api, "dequantize", no_memory)
    result = CliRunner().invoke(main, ["dequantize", str(tmp_path / "a.png"), "-q"])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == "vidcolor: error: out of memory; give a smaller --batch-size (or --tile for large " \
                                    "frames)", result.output
    monkeypatch.setattr(vidcolor.api, "dequantize", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("a bug")))
    result = CliRunner().invoke(main, ["dequantize", str(tmp_path / "a.png"), "-q"])
    assert result.exit_code == 1 and result.output.startswith("vidcolor: error: internal error (RuntimeError: a bug)")


def test_a_batch_larger_than_the_largest_frame_is_refused_before_any_work(tmp_path, clip, tiny_models):
    """--batch-size 100000 on a 640x360 clip grew to 12.9 GB before running out of memory, nothing written: a batch
    may hold as many pixels as the largest frame accepted (64 megapixels), one frame always."""
    from vidcolor.io.limits import MAX_PIXELS

    largest = MAX_PIXELS // (64 * 48)
    res = invoke_cli("dequantize", str(clip), "-o", "out.mp4", "--model", tiny_models.lab, "--batch-size",
                     str(largest + 1), cwd=tmp_path)
    assert_one_line_error(res)
    assert f"batch size {largest + 1} of 64x48 frames holds more pixels than vidcolor takes at once (64 megapixels): " \
           f"at most {largest} at this size (--batch-size)" in res.stderr, res.stderr
    assert not list(tmp_path.iterdir())
    res = invoke_cli("dequantize", str(clip), "-o", "out.mp4", "--model", tiny_models.lab, "--batch-size",
                     str(largest), "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr


def test_eval_out_of_memory_does_not_advise_max_frames(tmp_path, monkeypatch):
    """eval said 'give a smaller --max-frames' when out of memory, but it reads frame by frame: its memory follows
    the frame size (1,500 frames of 160x90: 131 MB, as 2 frames), so fewer frames would not help."""
    from click.testing import CliRunner

    import vidcolor.evaluate

    def no_memory(*args, **kwargs):
        raise MemoryError

    Image.fromarray(mosaic(1, 16, 16)[0]).save(tmp_path / "a.png")
    monkeypatch.setattr(vidcolor.evaluate, "evaluate", no_memory)
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "a.png"), "--reference-video", str(tmp_path / "a.png"),
                                       "--no-features"])
    assert result.exit_code == 1 and result.output.strip() == "vidcolor: error: out of memory", result.output


def test_compare_wider_than_the_encoder_is_refused_before_encoding(tmp_path, ffmpeg_exe, tiny_models):
    """A 16384-wide input with --compare failed inside libx264 (32768x16) after the job had run."""
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "color=s=16384x16:d=0.2", "-c:v", "ffv1", str(tmp_path / "wide.mkv"))
    res = invoke_cli("dequantize", "wide.mkv", "-o", "out.mp4", "--compare", "--model", tiny_models.lab, *FAST,
                     cwd=tmp_path)
    assert_one_line_error(res)
    assert "--compare writes input | output side by side, 32768x16, wider than the encoder's 16384 px" in res.stderr
    assert listing(tmp_path) == {"wide.mkv"}


def test_compare_on_a_still_image_wider_than_the_limit_is_refused_before_the_job_runs(tmp_path):
    """A still image 8200 px wide with --compare was processed and then failed on its 16400 px output ('frame size
    16400x16 is too large'), not naming --compare; a video is refused up front (the test above), and so is it now."""
    from vidcolor import api
    from vidcolor.errors import VidcolorError

    Image.fromarray(np.zeros((16, 8200, 3), np.uint8)).save(tmp_path / "wide.png")
    calls = []

    def job(frames):
        calls.append(len(frames))
        return frames

    with pytest.raises(VidcolorError) as err:
        api.process(tmp_path / "wide.png", tmp_path / "out.png", job, suffix="_x", compare=True, progress=False)
    assert str(err.value) == (f"{tmp_path / 'wide.png'}: compare writes input | output side by side, 16400x16, wider "
                              "than the encoder's 16384 px; drop compare or crop the input")
    assert calls == [] and listing(tmp_path) == {"wide.png"}


@pytest.mark.parametrize("args, range_", [(["--executor", "ray", "--segment-seconds"], "x>=1"),
                                          (["--temporal-strength"], "0<=x<1"), (["colorize", "--saturation"], "x>=0"),
                                          (["colorize", "--temperature"], "x>0")])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_nan_and_infinity_are_outside_every_float_options_range(tmp_path, args, range_, value):
    """--segment-seconds nan said '--segment-seconds must be > 0' (its check in io/segments.py, after Ray started)
    while --help says x>=1, and inf was taken (one segment): click's FloatRange lets NaN through every bound and
    infinity through a range without a maximum."""
    command = ["dequantize"] if args[0] != "colorize" else []
    res = invoke_cli(*command, *args, value, "in.mp4", cwd=tmp_path)
    assert "Traceback" not in res.stderr and res.returncode == 2 and len(res.stderr_lines) == 1, res.stderr
    assert re.search(rf"'{args[-1]}': {value} is not (a finite number )?in the range {re.escape(range_)}\. \(see",
                     res.stderr), res.stderr
    assert listing(tmp_path) == set()


def test_a_float_options_range_is_worded_without_clicks_private_helper(monkeypatch):
    """FiniteRange's refusal took its range from click's private ``_describe_range``, which a click release may
    rename or drop: it words the range from the public bounds, in the words click's help and refusals use."""
    import click

    from vidcolor.cli import FiniteRange

    bounds = [{"min": 0, "max": 1, "max_open": True}, {"min": 1}, {"min": 0}, {"min": 0, "min_open": True},
              {"max": 2}, {"max": 2, "max_open": True}, {"min": -1, "max": 1, "min_open": True}]
    clicks = [click.FloatRange(**kw)._describe_range() for kw in bounds]      # click's words, while it has them
    monkeypatch.delattr(click.types._NumberRangeBase, "_describe_range")
    for kw, words in zip(bounds, clicks):
        with pytest.raises(click.BadParameter, match=rf"^nan is not a finite number in the range {re.escape(words)}\.$"):
            FiniteRange(**kw).convert("nan", None, None)


# ------------------------------------------------------------------------------------------- README audit, stop 63


def _help_text(*command: str) -> str:
    res = invoke_cli(*command, "--help")
    assert res.returncode == 0, res.stderr
    return " ".join(res.stdout.decode().split())


def test_tile_help_and_refusal_give_the_smallest_tile_the_engine_takes(tmp_path):
    """--tile's help showed click's ``[x>=0]`` while the engine refused 1 to 95 ('must be 0 (off) or at least 96
    pixels'): the help says '0 (off) or >= 96', and 1 to 95 are refused at the command line as -5 is, both from
    vidcolor.jobs.MIN_TILE (the engine's bound too)."""
    from vidcolor.jobs import MIN_TILE

    text = _help_text("dequantize")
    assert f"(default 1024): 0 (off) or >= {MIN_TILE}." in text and "[x>=0]" not in text, text
    for value in ("50", "-5", str(MIN_TILE - 1)):
        res = invoke_cli("dequantize", "in.mp4", "--tile", value, cwd=tmp_path)
        assert res.returncode == 2 and len(res.stderr_lines) == 1, res.stderr
        assert f"Invalid value for '--tile': {value} is not 0 (off) or at least {MIN_TILE}." in res.stderr, res.stderr
    assert listing(tmp_path) == set()


def test_colorize_model_help_and_an_unknown_model_name_an_exported_onnx_graph(tmp_path):
    """colorize's --model help and the unknown-model error ('... or give a .safetensors path') left out the .onnx
    graph that `vidcolor export` writes and the jobs run, as dequantize's help gives it; a missing .onnx said
    'cannot read ONNX graph (NoSuchFile)'. export, which takes no graph, and --reference, which needs the weight
    file, are not offered one."""
    assert "--model NAME|PATH Bundled model name, .safetensors path or exported .onnx (default:" in _help_text("colorize")
    Image.fromarray(mosaic(1, 16, 16)[0]).save(tmp_path / "a.png")
    graphs = "or give a .safetensors path or an .onnx graph written by vidcolor export)"
    for command, model, extra, ends in [("colorize", "nosuch", (), graphs), ("dequantize", "nosuch", (), graphs),
                                        ("colorize", "missing.onnx", (), graphs),
                                        ("colorize", "nosuch", ("--reference",), "or give a .safetensors path)")]:
        res = invoke_cli(command, "a.png", "-o", "out.png", "--model", model, *extra, "-q", cwd=tmp_path)
        assert_one_line_error(res)
        assert res.stderr_lines[0].startswith(f"vidcolor: error: model '{model}' not found (bundled models: "), res.stderr
        assert res.stderr_lines[0].endswith(ends), res.stderr
    res = invoke_cli("export", "nosuch", "x.onnx", cwd=tmp_path)
    assert_one_line_error(res)
    assert res.stderr_lines[0].endswith("or give a .safetensors path)"), res.stderr
    assert listing(tmp_path) == {"a.png"}


def test_a_colorizer_given_to_the_other_colorize_mode_is_named_in_the_readmes_words(tmp_path, tiny_colorizers):
    """'model ... is a colorize-reference model, not a colorize model': that job name appears nowhere users read.
    The README's words, with what to give instead, the options by their flags."""
    Image.fromarray(mosaic(1, 64, 64)[0]).save(tmp_path / "a.png")
    exemplar, automatic = str(tiny_colorizers.exemplar), str(tiny_colorizers.effnet_bins)
    for extra, said in [(("--model", exemplar),
                         f"model '{exemplar}' is an exemplar model for --reference, not an automatic colorize model; "
                         "give it with --reference IMG (or --reference alone for keyframes)"),
                        (("--model", automatic, "--reference", "a.png"),
                         f"model '{automatic}' is an automatic colorize model, not an exemplar model for --reference; "
                         "with --reference, --model names the exemplar model (colorize-exemplar)")]:
        res = invoke_cli("colorize", "a.png", "-o", "out.png", *extra, "-q", cwd=tmp_path)
        assert_one_line_error(res)
        assert res.stderr_lines[0] == f"vidcolor: error: {said}", res.stderr
    assert listing(tmp_path) == {"a.png"}


def test_shared_options_are_worded_for_each_job_and_keyframe_means_the_colour_keyframe():
    """colorize --help carried dequantize's wording in the options both jobs share: --pix-fmt 'keeps the restored
    colour ... restored gradients', --temporal '(dequantize: not on frames found on uniform levels)'; and
    --executor's 'segments at keyframes' meant codec I-frames, where --reference's keyframes are colour keyframes."""
    colorize, dequantize = _help_text("colorize"), _help_text("dequantize")
    assert "restored" not in colorize and "uniform levels" not in colorize, colorize
    assert "4:4:4 keeps the added colour at full resolution; 10 bits keep smooth gradients from banding in the " \
           "encode" in colorize, colorize
    assert "4:4:4 keeps the restored colour at full resolution; 10 bits keep restored gradients from banding " \
           "again" in dequantize and "(frames found on uniform levels are not smoothed)" in dequantize, dequantize
    for text in (colorize, dequantize):
        assert "segments at I-frames (codec keyframes)" in text and "at keyframes" not in text, text


def test_missing_files_and_the_overwritten_input_are_named_with_their_option(tmp_path, clip, tiny_models):
    """A missing --reference image said 'missing.jpg: no such file' without the option; a missing --load-model was
    click's usage error (exit 2, 'Invalid value for '--load-model': File ... does not exist.') where other missing
    files are vidcolor's line (exit 1); -o naming the input said 'output would overwrite the input' without a name.
    --raw's help did not say that --fps goes with it, nor --fps's that it is needed there."""
    Image.fromarray(mosaic(1, 64, 64)[0]).save(tmp_path / "a.png")
    shutil.copy(clip, tmp_path / "in.mp4")
    for args, said in [(("colorize", "a.png", "-o", "out.png", "--reference", "missing.jpg"),
                        "missing.jpg: no such file (--reference)"),
                       (("colorize", "a.png", "-o", "out.png", "--reference-mode", "internal", "--load-model",
                         "missing.safetensors"), "missing.safetensors: no such file (--load-model)"),
                       (("dequantize", "in.mp4", "-o", "in.mp4", "--overwrite", "--model", tiny_models.lab),
                        "in.mp4 would overwrite the input"),
                       (("dequantize", "in.mp4", "-o", "./in.mp4", "--overwrite", "--model", tiny_models.lab),
                        "./in.mp4 would overwrite the input (in.mp4)")]:
        res = invoke_cli(*args, "-q", cwd=tmp_path)
        assert_one_line_error(res)
        assert res.stderr_lines[0] == f"vidcolor: error: {said}", res.stderr
    assert listing(tmp_path) == {"a.png", "in.mp4"}
    text = _help_text("dequantize")
    assert "--raw WxH Input is raw rgb24 frames of this size; give their rate with --fps." in text, text
    assert ("--fps RATE Frame rate of --raw input (needed with it) and of an image sequence (default: a DPX header's "
            "own, else 24, film's; other input carries its own)") in text, text


def test_a_reference_that_cannot_be_read_names_the_option_in_a_library_call(tmp_path, monkeypatch):
    """The library's reader reads the parameter (references), as the CLI's the flag."""
    from vidcolor.api import colorizer
    from vidcolor.errors import VidcolorError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(VidcolorError, match=r"^missing\.jpg: no such file \(references\)$"):
        colorizer(device="cpu", references="missing.jpg")
    with pytest.raises(VidcolorError, match=r"^missing\.safetensors: no such file \(load_model\)$"):
        colorizer(device="cpu", reference_mode="internal", load_model="missing.safetensors")


@pytest.mark.parametrize("columns", ["80", "50"])
def test_every_command_summary_is_a_whole_phrase(monkeypatch, columns):
    """`vidcolor --help` cut the commands' summaries mid-phrase ('Colour black-and-white INPUT (video, image,
    folder, or -...'), click's default short help from the docstring: each command has a short_help of its own,
    listed whole (wrapped, not cut, on a narrow terminal)."""
    monkeypatch.setenv("COLUMNS", columns)
    for group, args in ((main, ()), (main.commands["train"], ("train",))):
        res = invoke_cli(*args, "--help")
        assert res.returncode == 0, res.stderr
        listing_ = res.stdout.decode().split("Commands:", 1)[1]
        assert "..." not in listing_, listing_
        for name, command in group.commands.items():
            assert command.short_help and command.short_help.endswith("."), name
            assert " ".join(command.short_help.split()) in " ".join(listing_.split()), (name, listing_)


def test_a_library_warning_points_at_the_callers_line(tmp_path):
    """Library calls printed their warnings on stderr ('vidcolor: warning: ...'), which a caller could neither
    filter, record nor turn into an error. They are now VidcolorWarnings, shown at the caller's line that called
    into vidcolor, not at vidcolor's own."""
    import warnings

    from vidcolor.errors import VidcolorWarning
    from vidcolor.reference import read_references

    Image.fromarray(np.full((16, 16, 3), 100, np.uint8)).save(tmp_path / "tiny.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", VidcolorWarning)
        read_references([tmp_path / "tiny.png"]); line = sys._getframe().f_lineno    # noqa: E702
    assert [(w.category, w.filename, w.lineno) for w in caught] == [(VidcolorWarning, __file__, line)] * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", VidcolorWarning)
        with pytest.raises(VidcolorWarning, match="tiny.png is only 16x16 pixels"):
            read_references([tmp_path / "tiny.png"])


def test_a_warning_from_a_pipeline_thread_points_at_vidcolor_not_at_threading(tmp_path):
    """Review, stop 64: a warning issued in a stage's thread (an unreadable still skipped, said as the images are
    read) pointed at threading.py, the first frame outside vidcolor, with 'self._target(*self._args...)' as its line."""
    import warnings

    from vidcolor.api import process
    from vidcolor.errors import VidcolorWarning

    folder = tmp_path / "shots"
    folder.mkdir()
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(folder / "a.png")
    (folder / "b.png").write_bytes(b"junk")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", VidcolorWarning)
        process(folder, tmp_path / "out", lambda b: b, suffix="x", progress=False, ignore_errors=True)
    said = [w for w in caught if issubclass(w.category, VidcolorWarning)]
    assert len(said) == 1 and "b.png" in str(said[0].message)
    assert Path(said[0].filename).parent.name == "vidcolor", said[0].filename


def test_a_cli_call_from_python_gives_back_the_callers_signal_handlers(tmp_path):
    """The CLI installs its own handler of SIGINT, SIGTERM and SIGHUP for a run; called from Python (click's
    CliRunner, ``main.main(args=[...])``) it gives the caller's back afterwards, failed run or not. The handler was
    left in place: the caller's next Ctrl-C raised no KeyboardInterrupt after an interrupted run, and a test of
    Python's own SIGINT handler failed after any in-process CLI test."""
    import signal

    from click.testing import CliRunner

    from vidcolor.cli import main

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    result = CliRunner().invoke(main, ["dequantize", str(tmp_path / "missing.mp4"), "-q"])
    assert result.exit_code == 1 and "missing.mp4" in result.output
    assert {s: signal.getsignal(s) for s in before} == before


def test_said_once_and_kept_warnings_blocks_of_two_threads_leave_no_state_behind():
    """Ray's said_once and kept_warnings blocks may overlap in two threads of a process (two runs at once): thread A
    opens, B opens, A closes, B closes. Each block saved the state it found and put it back on closing, so the last
    to close left A's record in place for good: every later warning of the process was said once only, or went into
    a closed block's list."""
    import threading

    from vidcolor import errors

    def overlapped(block):
        a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

        def a():
            with block():
                a_in.set()
                b_in.wait(5)
            a_out.set()

        def b():
            a_in.wait(5)
            with block():
                b_in.set()
                a_out.wait(5)

        threads = [threading.Thread(target=a), threading.Thread(target=b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)

    overlapped(errors.said_once)
    overlapped(errors.kept_warnings)
    with vidcolor_warnings() as got:
        errors.warn("twice")
        errors.warn("twice")
    assert got == ["twice", "twice"]
    with errors.kept_warnings() as kept:       # a block's own list, nested or not
        with errors.kept_warnings() as inner:
            errors.warn("inner")
        errors.warn("outer")
    assert (inner, kept) == (["inner"], ["outer"])
