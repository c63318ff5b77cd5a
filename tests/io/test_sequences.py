"""Numbered image files read as one clip through FFmpeg's image2 demuxer (``scan_%06d.dpx``), as film scans come:
before, a pattern was 'no such file or folder', and a folder of .dpx frames was refused."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from helpers import assert_one_line_error, invoke_cli, vidcolor_warnings
from vidcolor.io import VideoReader
from vidcolor.io.paths import default_output
from vidcolor.io.sequences import find_sequence, is_sequence, sequence_stem

W, H = 64, 48
LEVELS = (40, 90, 140, 190, 240)
"""Each frame's gray level, 8-bit, in frame order."""


def _dpx(path: Path, level16: int) -> None:
    """A 10-bit RGB DPX file (FFmpeg's dpx encoder, gbrp10le), W x H, all samples ``level16`` (0..65535)."""
    ctx = av.CodecContext.create("dpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = W, H, "gbrp10le", Fraction(1, 24)
    rgb = np.full((H, W, 3), level16, np.uint16)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le").reformat(format="gbrp10le")
    path.write_bytes(b"".join(bytes(p) for p in ctx.encode(frame) + ctx.encode(None)))


def _sequence(folder: Path, kind: str, first: int = 1001, numbers=None) -> str:
    """Frames ``scan_<n:06d>.<kind>`` from ``first`` on (or at ``numbers``), one a level of :data:`LEVELS`; returns
    the pattern."""
    for n, level in zip(numbers or range(first, first + len(LEVELS)), LEVELS):
        path = folder / f"scan_{n:06d}.{kind}"
        if kind == "dpx":
            _dpx(path, level * 257)
        else:
            Image.fromarray(np.full((H, W, 3), level, np.uint8)).save(path)
    return str(folder / f"scan_%06d.{kind}")


def test_a_pattern_names_a_sequence_and_its_output(tmp_path):
    """``scan_%06d.dpx`` is a sequence (a file of that very name is not); its default output is ``scan_<job>.mp4``
    beside the frames, not ``scan_%06d_colorized.mp4``; ``%04d.png`` alone takes its folder's name."""
    assert is_sequence("scan_%06d.dpx") and is_sequence("a/%d.TIF") and not is_sequence("scan_%06d.mov")
    assert not is_sequence("scan_000001.dpx") and not is_sequence("100%%.png")     # (two numbers: refused)
    (tmp_path / "50%d.png").touch()
    assert not is_sequence(tmp_path / "50%d.png")
    assert sequence_stem("reel1.%04d.tif") == "reel1"
    assert default_output("/s/scan_%06d.dpx", "colorized") == Path("/s/scan_colorized.mp4")
    assert default_output(tmp_path / "reel" / "%04d.png", "dequantized", "matroska") == \
        tmp_path / "reel" / "reel_dequantized.mkv"


def test_a_10_bit_dpx_sequence_is_one_clip_read_from_its_first_number(tmp_path):
    """Frames numbered from 1001 (image2 alone looks from 0 to 4) are read in order, at 24 fps without a rate given
    and at the one given, at 16 bits where asked (10-bit DPX: the deep path of any 10-bit video)."""
    pattern = _sequence(tmp_path, "dpx")
    assert find_sequence(pattern)[1:] == (1001, 5, None, 0)
    with VideoReader(pattern, deep=True) as reader:
        frames = np.stack(list(reader))
        assert reader.deep and reader.info.fps == 24 and reader.info.frames == 5 and reader.missing == 0
    assert frames.shape == (5, H, W, 3) and frames.dtype == np.uint16
    np.testing.assert_allclose(frames.mean(axis=(1, 2, 3)) / 257, LEVELS, atol=1)     # 10-bit steps
    with VideoReader(pattern, fps="30000/1001") as reader:
        assert reader.info.fps == Fraction(30000, 1001) and len(list(reader)) == 5


@pytest.mark.parametrize("kind", ["png", "dpx"])
def test_colorize_writes_a_sequence_as_one_clip(tmp_path, tiny_colorizers, kind):
    """``vidcolor colorize 'scan_%06d.<kind>'`` writes one clip, scan_colorized.mp4, of all the frames, saying once
    that it read them at 24 fps; --fps gives the rate (it applied to --raw input only)."""
    _sequence(tmp_path, kind)
    res = invoke_cli("colorize", f"scan_%06d.{kind}", "--model", tiny_colorizers.fcn, "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("no --fps given: the sequence is read at 24 fps") == 1, res.stderr
    res = invoke_cli("colorize", f"scan_%06d.{kind}", "-o", "25.mp4", "--fps", "25", "--model",
                     tiny_colorizers.fcn, "-q", cwd=tmp_path)
    assert res.returncode == 0 and "--fps" not in res.stderr, res.stderr
    for name, rate in (("scan_colorized.mp4", 24), ("25.mp4", 25)):
        with av.open(str(tmp_path / name)) as c:
            assert c.streams.video[0].average_rate == rate and sum(1 for _ in c.decode(video=0)) == 5


def test_a_sequence_with_a_gap_or_no_frames_is_one_line_and_nothing_written(tmp_path):
    """A pattern no file matches, and a sequence missing a frame (image2 stops there: the rest were dropped
    silently), are one line each and write nothing; --ignore-errors keeps the frames before the gap."""
    from vidcolor.api import process

    res = invoke_cli("dequantize", "none_%04d.png", "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert "none_%04d.png: no frames: no file in . is named as the pattern gives (none_0001.png" in res.stderr
    pattern = _sequence(tmp_path, "png", numbers=[7, 8, 10, 11, 12])
    res = invoke_cli("dequantize", pattern, "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert "frame 9 is missing: the 2 frames from 7 are read, not the 3 after it" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("scan_0")) == []
    with vidcolor_warnings() as said:
        summary = process(pattern, tmp_path / "kept.mp4", lambda x: x, suffix="x", fps=24, ignore_errors=True,
                          progress=False)
    assert summary.frames == 2 and any("frame 9 is missing" in s for s in said)


def test_a_gap_that_image2_would_jump_ends_the_reading_there(tmp_path):
    """Frames 1, 2, 3, 5, 6: image2 finds the last number by probing 1, 2, 4, 8... ahead, so it takes 6 as the last
    and failed at 4 ('decoding failed (No such file or directory)', with --ignore-errors too, video or sequence
    output). The reader stops at the gap: the 3 frames before it are the clip; without --ignore-errors the gap is
    the one-line error it was."""
    pattern = _sequence(tmp_path, "png", numbers=[1, 2, 3, 5, 6])
    with VideoReader(pattern, keep_going=True) as reader:
        assert len(list(reader)) == 3 and reader.missing == 0
    res = invoke_cli("dequantize", pattern, "-o", "o.mp4", "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert "frame 4 is missing: the 3 frames from 1 are read, not the 2 after it; nothing written" in res.stderr
    res = invoke_cli("dequantize", pattern, "-o", "o/x_%04d.png", "--fps", "24", "--ignore-errors", "-q",
                     cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["x_0001.png", "x_0002.png", "x_0003.png"]


def test_fps_is_still_refused_for_a_video_file(tmp_path, clip):
    """--fps on a file that carries its rate stays an error, now naming sequences too."""
    res = invoke_cli("dequantize", clip, "-o", tmp_path / "o.mp4", "--fps", "24", "-q")
    assert_one_line_error(res)
    assert "--fps applies to --raw input and image sequences only" in res.stderr


def test_a_dpx_file_alone_is_a_still_read_at_16_bits(tmp_path):
    """A single .dpx was read as a one-frame video (scan_colorized.mp4), and a folder's .dpx files were refused; it
    is a still image now, as a .tif is: read through FFmpeg at 16 bits (``deep``; 8 bits its round16, byte for
    byte), listed in a folder, written as a 16-bit PNG by colorize."""
    from vidcolor.io import is_still_image, read_image
    from vidcolor.io.files import round16
    from vidcolor.io.folders import folder_contents

    _sequence(tmp_path, "dpx")
    one = tmp_path / "scan_001002.dpx"
    deep, alpha = read_image(one, deep=True)
    assert deep.dtype == np.uint16 and deep.shape == (H, W, 3) and alpha is None
    assert abs(deep.mean() / 257 - LEVELS[1]) < 1
    np.testing.assert_array_equal(read_image(one)[0], round16(deep))
    assert is_still_image(one) and len(folder_contents(tmp_path)[0]) == 5
    assert default_output(one, "colorized") == tmp_path / "scan_001002_colorized.png"


def test_colorize_writes_a_dpx_still_as_a_16_bit_png(tmp_path, tiny_colorizers):
    """``vidcolor colorize scan.dpx`` gives scan_colorized.png (it gave an mp4), at 16 bits."""
    import cv2

    _dpx(tmp_path / "scan.dpx", 30000)
    res = invoke_cli("colorize", "scan.dpx", "--model", tiny_colorizers.fcn, "-q", cwd=tmp_path)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    out = cv2.imread(str(tmp_path / "scan_colorized.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (H, W, 3)


def test_a_dpx_still_s_errors_and_warnings_are_an_image_s(tmp_path):
    """A single .dpx is a still: an empty one was 'cannot read as video', its dropped alpha was said with its whole
    path (a warning names a file by its name, name_of)."""
    from vidcolor.errors import VidcolorError
    from vidcolor.io import read_image

    (tmp_path / "empty.dpx").write_bytes(b"")
    with pytest.raises(VidcolorError, match=r"empty\.dpx: cannot read as image \(an empty file, 0 bytes\)$"):
        read_image(tmp_path / "empty.dpx")
    ctx = av.CodecContext.create("dpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = W, H, "rgba", Fraction(1, 24)
    frame = av.VideoFrame.from_ndarray(np.full((H, W, 4), 128, np.uint8), format="rgba")
    (tmp_path / "a.dpx").write_bytes(b"".join(bytes(p) for p in ctx.encode(frame) + ctx.encode(None)))
    with vidcolor_warnings() as said:
        assert read_image(tmp_path / "a.dpx")[0].shape == (H, W, 3)
    assert said == ["a.dpx: its alpha channel (rgba) is dropped"]
