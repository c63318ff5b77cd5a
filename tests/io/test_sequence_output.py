"""A clip written as an image sequence (``-o 'out_%06d.tif'``), as a colorist grades a scan: one file a frame, by
FFmpeg's image2 muxer. Before, such an output was refused ('cannot tell the video format from the suffix')."""
from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from helpers import assert_one_line_error, dpx_every_10_bit_code, invoke_cli, vidcolor_warnings
from test_sequences import LEVELS, H, W, _sequence
from vidcolor.io import VideoReader, VideoWriter
from vidcolor.io.convert import WHITE16, full_scale16
from vidcolor.io.writer import default_pix_fmt, removing_made_folders


def _frames(n: int) -> np.ndarray:
    """``n`` W x H uint16 RGB frames of a ramp (each its own offset), black to vidcolor's 16-bit white (WHITE16)."""
    ramp = np.linspace(0, WHITE16, W * H * 3).reshape(H, W, 3)
    return np.stack([(ramp + i * 997) % (WHITE16 + 1) for i in range(n)]).astype(np.uint16)


def test_the_pixel_format_is_the_deep_decision_s(tmp_path):
    """16-bit RGB in PNG and TIFF, 10-bit DPX for a 10-bit source and 16-bit for a deeper one, rgb24 for 8-bit frames,
    JPEG 8 bits; written from ``start_number`` on, read back at their depth."""
    assert default_pix_fmt("png", True) == "rgb48be" and default_pix_fmt("tiff", True) == "rgb48le"
    assert default_pix_fmt("dpx", True, 10) == "gbrp10le" and default_pix_fmt("dpx", True, 12) == "rgb48le"
    assert default_pix_fmt("tiff", False) == "rgb24" and default_pix_fmt("mjpeg", True) == "yuvj444p"
    frames = _frames(3)
    for name, codec, bits in (("a_%04d.tif", "tiff", 16), ("b_%06d.dpx", "dpx", 10)):
        with VideoWriter(tmp_path / name, W, H, Fraction(24), codec=codec, pix_fmt=default_pix_fmt(codec, True, bits),
                         deep=True, start_number=86400) as writer:
            writer.write(frames)
        assert writer.numbers == (86400, 86402)
    # (read by OpenCV and PyAV: VideoReader fails on FFmpeg's TIFF frames, whose side data PyAV does not know)
    tiff = np.stack([cv2.imread(str(tmp_path / f"a_{n}.tif"), cv2.IMREAD_UNCHANGED)[..., ::-1]
                     for n in range(86400, 86403)])
    assert tiff.dtype == np.uint16
    np.testing.assert_array_equal(tiff, full_scale16(frames))
    dpx = []
    for n in range(86400, 86403):
        with av.open(str(tmp_path / f"b_{n:06d}.dpx")) as c:
            frame = next(c.decode(video=0))
        assert frame.format.name == "gbrp10le"
        g, b, r = (np.frombuffer(p, np.uint16).reshape(H, -1)[:, :W] for p in frame.planes)
        dpx.append(np.stack([r, g, b], -1))
    error = np.abs(np.stack(dpx) * (65535 / 1023) - full_scale16(frames))
    assert error.mean() < 32 and error.max() < 64          # within a 10-bit step (8 bits: a mean of 64)


def test_a_10_bit_dpx_sequence_read_and_written_back_keeps_every_code(tmp_path):
    """A 10-bit DPX sequence read (white at WHITE16, as the YUV encode takes it) and written as DPX again keeps each of
    its 1024 codes; its white was written back as 1020 (512 as 510), and as 65280 in a 16-bit TIFF."""
    codes = dpx_every_10_bit_code(tmp_path / "in_1.dpx")
    with VideoReader(tmp_path / "in_%d.dpx", deep=True, fps=24) as reader:
        frames = np.stack(list(reader))
    for name, fmt in (("out_%d.dpx", "gbrp10le"), ("out_%d.tif", "rgb48le")):
        with VideoWriter(tmp_path / name, 64, 16, Fraction(24), codec="dpx" if fmt == "gbrp10le" else "tiff",
                         pix_fmt=fmt, deep=True) as writer:
            writer.write(frames)
    with av.open(str(tmp_path / "out_1.dpx")) as c:
        back = next(c.decode(video=0))
    for plane in back.planes:
        np.testing.assert_array_equal(np.frombuffer(plane, np.uint16).reshape(16, -1)[:, :64], codes)
    tiff = cv2.imread(str(tmp_path / "out_1.tif"), cv2.IMREAD_UNCHANGED)
    assert tiff.max() == 65535 and np.abs(tiff[..., 1].astype(int) - (codes << 6 | codes >> 4)).max() <= 1


def test_colorize_writes_a_dpx_scan_as_16_bit_tiff_frames_numbered_as_the_scan(tmp_path, tiny_colorizers):
    """A 10-bit DPX scan from 1001 -> out_001001.tif ... out_001005.tif, 16-bit RGB; the summary names the pattern,
    the frame count and the files."""
    _sequence(tmp_path, "dpx")
    res = invoke_cli("colorize", "scan_%06d.dpx", "-o", "out_%06d.tif", "--fps", "24", "--model",
                     tiny_colorizers.fcn, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in tmp_path.glob("out_*")) == [f"out_{n:06d}.tif" for n in range(1001, 1006)]
    frame = cv2.imread(str(tmp_path / "out_001003.tif"), cv2.IMREAD_UNCHANGED)
    assert frame.dtype == np.uint16 and frame.shape == (H, W, 3)
    said = res.stdout.decode() + res.stderr
    assert "5 frames" in said and "-> out_%06d.tif" in said and "frames out_001001.tif to out_001005.tif" in said, said


def test_a_video_with_audio_to_png_frames_from_1_says_the_audio_is_dropped(tmp_path, clip):
    """An ordinary video -> 8-bit PNG frames numbered from 1 (ffmpeg's image2 default), as many as the clip has; its
    AAC track is said dropped, once."""
    res = invoke_cli("dequantize", clip, "-o", tmp_path / "f_%04d.png", "-q")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"f_{n:04d}.png" for n in range(1, 11)]
    assert res.stderr_lines == ["vidcolor: warning: not carried from clip.mp4: audio (aac) (an image sequence holds "
                                "its frames alone; --no-audio drops the audio without naming it)"], res.stderr
    assert cv2.imread(str(tmp_path / "f_0001.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint8


def test_a_frame_that_exists_is_refused_without_overwrite(tmp_path, clip):
    """One existing frame of the pattern (any number) refuses the run, naming how many; --overwrite replaces them and
    says what an earlier, longer sequence leaves beside the new frames."""
    for n in (3, 50):
        (tmp_path / f"f_{n:04d}.png").write_bytes(b"old")
    res = invoke_cli("dequantize", clip, "-o", tmp_path / "f_%04d.png", "-q")
    assert_one_line_error(res)
    assert "f_%04d.png: 2 frames of it exist (f_0003.png to f_0050.png); use --overwrite" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f_0003.png", "f_0050.png"]
    res = invoke_cli("dequantize", clip, "-o", tmp_path / "f_%04d.png", "-q", "--overwrite", "--no-audio")
    assert res.returncode == 0, res.stderr
    assert "1 frame of an earlier sequence is left beside the 10 written (f_0050.png)" in res.stderr, res.stderr
    assert (tmp_path / "f_0003.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("stop", [RuntimeError, KeyboardInterrupt])
def test_a_run_that_fails_half_way_leaves_no_frame_nor_folder(tmp_path, stop):
    """A run that fails (or Ctrl-C) once frames are on disk leaves none of them, nor the folder it made
    (:func:`~vidcolor.io.writer.removing_made_folders`, as a run's file_run does)."""
    made = tmp_path / "made" / "deep"
    with pytest.raises(stop), removing_made_folders(made):
        # at 1 fps, 8 frames outlast ffmpeg's probe of its input (5 s): it writes frames before the end
        with VideoWriter(made / "f_%04d.tif", W, H, Fraction(1), codec="tiff", pix_fmt="rgb48le", deep=True) as w:
            w.write(_frames(8))
            for _ in range(200):
                if len(list(made.iterdir())) >= 2:
                    break
                time.sleep(0.01)
            assert len(list(made.iterdir())) >= 2
            raise stop("stop")
    assert list(tmp_path.iterdir()) == []


def test_what_an_image_sequence_cannot_be_is_one_line(tmp_path, clip):
    """The video encoder's options, --format, a still image's or folder's output, the Ray executor and a pattern
    that names the input's own frames are refused in one line before any work, nothing written."""
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), np.zeros((H, W, 3), np.uint8))
    pattern = _sequence(tmp_path, "png", first=123456)      # scan_%d.png names scan_123456.png too
    for args, said in (((clip, "--codec", "libx265"), "--codec is video output's"),
                       ((clip, "--format", "mp4"), "--format is video output's"),
                       ((still,), "still.png is a still image"),
                       ((clip, "--executor", "ray"), "--executor ray writes video files"),
                       ((pattern, "--fps", "24", "-o", tmp_path / "scan_%d.png", "--overwrite"),
                        "would overwrite the input's frames")):
        out = ["-o", tmp_path / "o_%04d.png"] if "-o" not in args else []
        res = invoke_cli("dequantize", *args, *out, "-q")
        assert_one_line_error(res)
        assert said in res.stderr, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["still.png", *(Path(pattern.replace(
        "%06d", f"{n:06d}")).name for n in range(123456, 123456 + len(LEVELS)))])


def test_skip_existing_leaves_a_sequence_that_is_there(tmp_path, clip):
    """--skip-existing: a sequence with frames there is the run's output, left (it was refused as existing)."""
    (tmp_path / "f_0001.png").write_bytes(b"old")
    with vidcolor_warnings():
        res = invoke_cli("dequantize", clip, "-o", tmp_path / "f_%04d.png", "--skip-existing")
    assert res.returncode == 0, res.stderr
    assert "nothing to do" in res.stdout.decode() + res.stderr and (tmp_path / "f_0001.png").read_bytes() == b"old"


def test_the_encoder_settings_given_for_an_image_sequence_are_said_ignored(tmp_path, clip):
    """-o 'out_%04d.png' with --crf, --preset or --x264-params ignored them without a word (the library cannot tell
    a default from a given value; the CLI can): one warning naming those given, none where left at their defaults.
    (--skip-existing with a frame there: the run has nothing to do, the warning comes before.)"""
    (tmp_path / "f_0001.png").write_bytes(b"old")
    (tmp_path / "t_0001.tif").write_bytes(b"old")
    for args, said in ((("--crf", "10", "--preset", "fast", "--x264-params", "ref=2"),
                        "--crf, --preset and --x264-params do not apply to PNG frames; ignored"),
                       (("--crf", "10", "-o", tmp_path / "t_%04d.tif"), "--crf does not apply to TIFF frames; ignored"),
                       ((), None)):
        out = ["-o", tmp_path / "f_%04d.png"] if "-o" not in args else []
        res = invoke_cli("dequantize", clip, *out, *args, "--skip-existing", "-q")
        assert res.returncode == 0, res.stderr
        warned = [line for line in res.stderr_lines if "does not apply" in line or "do not apply" in line]
        assert warned == ([] if said is None else [f"vidcolor: warning: {said}"]), res.stderr


def test_a_damaged_frame_skipped_leaves_its_number_out(tmp_path):
    """--ignore-errors skips a damaged input frame: the frames after it kept the input's numbers only until then
    (scan_001003.png damaged: out_001003.png was scan_001004's frame, the last number not written), where a conform
    looks a frame up by its number. Each is numbered by its timestamp now (image2's -frame_pts): 1003 is left out,
    and an earlier frame there is said to be left beside the new ones. The summary said 'frames out_001001.png to
    out_001005.png' alone: it names the number left out. A rerun with --skip-existing --ignore-errors took the number
    left out for a killed run's ('4 frames of it exist, but out_001003.png is missing: not a finished run's output');
    it has nothing to do, and says the number absent."""
    pattern = _sequence(tmp_path, "png")
    damaged = tmp_path / "scan_001003.png"
    damaged.write_bytes(damaged.read_bytes()[:60])
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "out_001003.png").write_bytes(b"old")
    out = tmp_path / "o" / "out_%06d.png"
    res = invoke_cli("dequantize", pattern, "-o", out, "--fps", "24", "--ignore-errors", "--overwrite")
    assert res.returncode == 0, res.stderr
    assert "1 frame of an earlier sequence is left beside the 4 written (out_001003.png)" in res.stderr, res.stderr
    assert "; frames out_001001.png to out_001005.png; out_001003.png left out (could not be decoded); " in \
        res.stderr, res.stderr
    levels = {p.name: cv2.imread(str(p)).mean() for p in (tmp_path / "o").glob("out_00100[!3].png")}
    kept = (1001, 1002, 1004, 1005)
    assert levels == {f"out_{n:06d}.png": LEVELS[n - 1001] for n in kept}
    (tmp_path / "o" / "out_001003.png").unlink()           # the earlier run's frame: the output is this run's alone
    written = {p: p.stat().st_mtime_ns for p in (tmp_path / "o").iterdir()}
    res = invoke_cli("dequantize", pattern, "-o", out, "--fps", "24", "--ignore-errors", "--skip-existing")
    assert res.returncode == 0, res.stderr
    assert ("nothing to do: " + f"{out}: 4 of its 5 frames exist (out_001001.png to out_001005.png; out_001003.png "
            "absent: skipped by --ignore-errors, or left by a killed run) (--skip-existing)") in res.stderr, res.stderr
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "o").iterdir()} == written


def test_skip_existing_with_ignore_errors_takes_numbers_absent_from_an_input_sequence_s_output(tmp_path, clip):
    """With --ignore-errors, an input sequence's output that lacks numbers (its last frame damaged, and skipped: 1005
    never written) is a finished run's, the numbers named; without it, or where none of the input's numbers is there
    (another sequence's frames), or for a video's output (numbered one by one, damaged frames or not), a number
    missing is refused as before."""
    from vidcolor.io.sequences import frame_names

    pattern = _sequence(tmp_path, "png")
    (tmp_path / "o").mkdir()
    for n in range(1001, 1005):
        (tmp_path / "o" / f"x_{n}.png").write_bytes(b"old")
    out = tmp_path / "o" / "x_%d.png"
    res = invoke_cli("dequantize", pattern, "-o", out, "--fps", "24", "--skip-existing", "--ignore-errors")
    assert res.returncode == 0, res.stderr
    assert "4 of its 5 frames exist (x_1001.png to x_1005.png; x_1005.png absent: skipped by --ignore-errors" in \
        res.stderr, res.stderr
    res = invoke_cli("dequantize", pattern, "-o", out, "--fps", "24", "--skip-existing", "-q")
    assert_one_line_error(res)
    assert "4 frames of it exist, but x_1005.png is missing: not a finished run's output" in res.stderr
    for n in (1, 2, 4):
        (tmp_path / "o" / f"x_{n}.png").write_bytes(b"old")          # none of 1001..1005 (after they are gone)
        (tmp_path / "o" / f"v_{n}.png").write_bytes(b"old")
    for n in range(1001, 1005):
        (tmp_path / "o" / f"x_{n}.png").unlink()
    for args, said in (((pattern, "--fps", "24", "-o", out), "3 frames of it exist, but x_1001.png and 4 more are "
                        "missing"),
                       ((clip, "-o", tmp_path / "o" / "v_%d.png"), "3 frames of it exist, but v_3.png is missing")):
        res = invoke_cli("dequantize", *args, "--skip-existing", "--ignore-errors", "-q")
        assert_one_line_error(res)
        assert said in res.stderr, res.stderr
    assert frame_names(out, [3, 5, 6, 9, 10]) == "x_3.png, x_5.png, x_6.png and 2 more"


def test_a_percent_sign_in_a_folder_s_name_is_no_pattern(tmp_path):
    """image2 reads every % of the whole path as the pattern's: 'p 50%/f_%d.png' could not be read ('cannot read the
    sequence'), and written its first frame to the file 'p 50%/o_%d.png' and failed ('Cannot write more than one
    file'), which was left. The folder's % is escaped (%%): both are read and written."""
    folder = tmp_path / "p 50%"
    folder.mkdir()
    pattern = _sequence(folder, "png", first=1)
    res = invoke_cli("dequantize", pattern, "-o", folder / "o_%d.png", "--fps", "24", "-q")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in folder.glob("o_*")) == [f"o_{n}.png" for n in range(1, 6)]
    with VideoReader(folder / "o_%d.png") as reader:
        np.testing.assert_allclose([frame.mean() for frame in reader], LEVELS)


def test_a_pattern_image2_cannot_name_by_leaves_no_file(tmp_path):
    """A pattern image2 cannot read ('%s' beside the number): its first frame went to the file of the pattern's own
    name, which the failed run left ('Cannot write more than one file'; abort removed it). It is now refused before
    ffmpeg starts (tests/io/test_sequences_more.py has the CLI's line)."""
    from vidcolor.errors import VidcolorError

    with pytest.raises(VidcolorError, match="o_%d_%s.png: not an image sequence's pattern: '%s' is no frame number"):
        with VideoWriter(tmp_path / "o_%d_%s.png", W, H, Fraction(24), codec="png", pix_fmt="rgb24") as writer:
            writer.write(np.zeros((3, H, W, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_skip_existing_takes_a_whole_sequence_alone(tmp_path, clip):
    """--skip-existing took any one frame of the output as the finished run's: 480 written, one deleted, the run had
    nothing to do. An input sequence's frames must all be there, a video's numbers from 1 with none missing (its count
    is not known before it is read: the summary says so); else one line names the first missing, before any work."""
    pattern = _sequence(tmp_path, "png")
    out = tmp_path / "o" / "x_%06d.png"
    res = invoke_cli("dequantize", pattern, "-o", out, "--fps", "24", "-q")
    assert res.returncode == 0, res.stderr
    res = invoke_cli("dequantize", pattern, "-o", out, "--fps", "24", "--skip-existing")
    assert res.returncode == 0 and "all 5 frames of it exist (x_001001.png to x_001005.png)" in res.stderr, res.stderr
    (tmp_path / "o" / "x_001003.png").unlink()
    res = invoke_cli("dequantize", pattern, "-o", out, "--fps", "24", "--skip-existing", "-q")
    assert_one_line_error(res)
    assert "4 frames of it exist, but x_001003.png is missing: not a finished run's output" in res.stderr
    for n in (1, 2, 4):
        (tmp_path / f"v_{n}.png").write_bytes(b"old")
    res = invoke_cli("dequantize", clip, "-o", tmp_path / "v_%d.png", "--skip-existing", "-q")
    assert_one_line_error(res)
    assert "3 frames of it exist, but v_3.png is missing" in res.stderr


def test_overwrite_says_a_failed_run_loses_the_frames_it_reached():
    """With --overwrite a failed or stopped run removes the frames it wrote over (they are written in place, where a
    video is renamed into place once whole), which nothing said: --overwrite's help and README say it now."""
    res = invoke_cli("dequantize", "--help")
    said = " ".join(res.stdout.decode().split())
    assert ("an image sequence's frames one by one as they are written, so a run that fails or is stopped loses the "
            "earlier frames of the numbers it reached") in said, said
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    assert "with `--overwrite`, a run that fails or is stopped has replaced, and then removed, the earlier" in readme


def test_a_deep_sequence_s_warnings_name_what_applies(tmp_path):
    """dequantize of a 10-bit DPX sequence into DPX frames suggested '--pix-fmt yuv420p10le', which sequence output
    refuses, and that refusal said the frames go out 'at 16 bits where the source has more than 8', which dequantize
    does not do; a folder's 10-bit DPX stills were said to have 16 bits per sample. An mp4 keeps the suggestion."""
    pattern = _sequence(tmp_path, "dpx")
    res = invoke_cli("dequantize", pattern, "-o", tmp_path / "o" / "d_%04d.dpx", "--fps", "24", "-q")
    assert res.returncode == 0, res.stderr
    assert res.stderr_lines == ["vidcolor: warning: scan_%06d.dpx has 10 bits per sample; dequantize processes frames "
                                "at 8 bits, so the output keeps 8 bits of precision"], res.stderr
    res = invoke_cli("dequantize", pattern, "-o", tmp_path / "d.mp4", "--fps", "24", "-q")
    assert "(also with --pix-fmt yuv420p10le)" in res.stderr, res.stderr
    res = invoke_cli("dequantize", pattern, "-o", tmp_path / "p_%04d.dpx", "--pix-fmt", "yuv444p", "--fps", "24", "-q")
    assert_one_line_error(res)
    assert "in RGB, at the source's depth where colorize keeps it (16-bit PNG and TIFF, 10- or 16-bit DPX), else at " \
           "8 bits" in res.stderr, res.stderr
    (tmp_path / "stills").mkdir()
    for n in (1001, 1002):
        (tmp_path / "stills" / f"s{n}.dpx").write_bytes((tmp_path / f"scan_00{n}.dpx").read_bytes())
    res = invoke_cli("dequantize", tmp_path / "stills", "-o", tmp_path / "out", "-q")
    assert res.returncode == 0, res.stderr
    assert "2 images have 10 bits per sample (s1001.dpx, s1002.dpx); dequantize processes images at 8 bits" in \
        res.stderr, res.stderr


def test_a_second_video_stream_is_said_left_out_of_an_image_sequence(tmp_path, ffmpeg_exe):
    """An image sequence's warning of what a video carries besides its frames was GIF output's written again
    (file_run.warn_frames_only), without the streams that GIF's names (VideoInfo.others): a Matroska file's second
    video stream went unsaid. One helper (warn_frames_alone) says both."""
    from helpers import run_ffmpeg

    two = tmp_path / "two.mkv"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", f"testsrc=size={W}x{H}:rate=10", "-f", "lavfi", "-i",
               f"color=size={W}x{H}:rate=10", "-map", "0", "-map", "1", "-frames:v", "3", "-c:v", "ffv1", str(two))
    res = invoke_cli("dequantize", two, "-o", tmp_path / "f_%04d.png", "-q")
    assert res.returncode == 0, res.stderr
    assert res.stderr_lines == ["vidcolor: warning: not carried from two.mkv: video stream 1 (ffv1) (an image sequence "
                                "holds its frames alone)"], res.stderr


def test_dequantize_s_summary_names_the_first_and_last_frame(tmp_path, clip):
    """The summary names the first and last file of an image sequence written (README); dequantize put its quantizer
    note in place of that note: '10 frames ... -> f_%04d.png; quantizer: ...'."""
    res = invoke_cli("dequantize", clip, "-o", tmp_path / "f_%04d.png", "--no-audio")
    assert res.returncode == 0, res.stderr
    said = res.stdout.decode() + res.stderr
    assert "-> " + str(tmp_path / "f_%04d.png") + "; frames f_0001.png to f_0010.png; quantizer: " in said, said
