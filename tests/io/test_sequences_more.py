"""Image sequences (``scan_%06d.dpx``) at their edges: a damaged first frame, a DPX cut inside its header, a pattern
FFmpeg's image2 cannot take, a folder of numbered frames given as a folder, and a DPX header's frame rate."""
from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from helpers import assert_one_line_error, invoke_cli, vidcolor_warnings
from test_sequences import LEVELS, H, W, _dpx, _sequence
from vidcolor.errors import DamagedInput, VidcolorError
from vidcolor.io import VideoReader


def _damage(path: Path, keep: int = 60) -> None:
    """Cut ``path`` to its first ``keep`` bytes (a PNG's signature and part of its header: FFmpeg's png decoder
    finds it invalid)."""
    path.write_bytes(path.read_bytes()[:keep])


def test_a_damaged_first_frame_is_skipped_with_ignore_errors_and_named(tmp_path):
    """A damaged first file failed the run even with --ignore-errors ('cannot decode (Invalid data found when
    processing input)'), where a later one is skipped and named. It is skipped as a later one is: the frames after it
    keep their numbers (out_001002.png is scan_001002's), the summary names the number left out; without
    --ignore-errors one line names the file and the option; with every file damaged, one line says so."""
    pattern = _sequence(tmp_path, "png")
    _damage(tmp_path / "scan_001001.png")
    with VideoReader(pattern, keep_going=True) as reader:
        levels = [frame.mean() for frame in reader]
        assert reader.first_number == 1002 and reader.skipped_files == [1001] and reader.missing == 1
    assert levels == list(LEVELS[1:])
    res = invoke_cli("dequantize", pattern, "-o", tmp_path / "o" / "out_%06d.png", "--fps", "24",
                     "--ignore-errors")
    assert res.returncode == 0, res.stderr
    assert "; frames out_001002.png to out_001005.png; out_001001.png left out (could not be decoded); " in \
        res.stderr, res.stderr
    written = sorted((tmp_path / "o").iterdir())
    assert [p.name for p in written] == [f"out_{n:06d}.png" for n in range(1002, 1006)]
    assert [round(np.asarray(Image.open(p)).mean()) for p in written] == list(LEVELS[1:])
    res = invoke_cli("dequantize", pattern, "-o", tmp_path / "v.mp4", "--fps", "24", "-q")
    assert_one_line_error(res)
    assert ("scan_%06d.png: scan_001001.png cannot be decoded (Invalid data found when processing input): the input "
            "is damaged there; nothing written (--ignore-errors skips the frames") in res.stderr, res.stderr
    assert not (tmp_path / "v.mp4").exists()
    for n in range(1002, 1006):
        _damage(tmp_path / f"scan_{n:06d}.png")
    res = invoke_cli("dequantize", pattern, "-o", tmp_path / "v.mp4", "--fps", "24", "--ignore-errors", "-q")
    assert_one_line_error(res)
    assert ("scan_%06d.png: none of its 5 frames can be decoded (damaged or truncated: scan_001001.png, "
            "scan_001002.png, scan_001003.png and 2 more)") in res.stderr, res.stderr


def test_an_empty_first_file_is_named_and_skipped_with_ignore_errors(tmp_path):
    """An empty first file (0 bytes: a copy that stopped) said 'cannot decode: frame size unknown or above the limit'
    with or without --ignore-errors (image2 ends a sequence at an empty file: no frame came). It is named now, and
    skipped with --ignore-errors as a first file the decoder refuses is; all of them empty: one line says so."""
    pattern = _sequence(tmp_path, "png")
    (tmp_path / "scan_001001.png").write_bytes(b"")
    with pytest.raises(DamagedInput, match=r"^\S+scan_%06d\.png: scan_001001\.png is empty \(0 bytes\): the input is "
                       r"damaged there; nothing written \(ignore_errors skips the frames that cannot be decoded"):
        VideoReader(pattern)
    with VideoReader(pattern, keep_going=True) as reader:
        levels = [frame.mean() for frame in reader]
        assert reader.first_number == 1002 and reader.skipped_files == [1001] and reader.missing == 1
    assert levels == list(LEVELS[1:])
    for n in range(1002, 1006):
        (tmp_path / f"scan_{n:06d}.png").write_bytes(b"")
    with pytest.raises(VidcolorError, match=r"scan_%06d\.png: none of its 5 frames can be decoded \(empty, 0 bytes: "
                       r"scan_001001\.png, scan_001002\.png, scan_001003\.png and 2 more\)$"):
        VideoReader(pattern, keep_going=True)


@pytest.mark.parametrize("keep_going", [False, True])
def test_an_empty_file_in_the_middle_is_named_and_refused(tmp_path, keep_going):
    """An empty file in the middle (scan_001003.png of 1001-1005) ended FFmpeg's image2 there: the error said '3 of 5
    frames could not be read' naming none, and --ignore-errors wrote the 2 before it, dropping the good frames after
    it. The file is named now, with or without keep_going (image2 cannot go on past it)."""
    pattern = _sequence(tmp_path, "png")
    (tmp_path / "scan_001003.png").write_bytes(b"")
    with pytest.raises(VidcolorError, match=r"^\S+scan_%06d\.png: scan_001003\.png is empty \(0 bytes\): FFmpeg's image2 "
                       r"ends the sequence there, so the 2 frames after it cannot be read; nothing written"):
        with VideoReader(pattern, keep_going=keep_going) as reader:
            for _ in reader:
                pass


def test_a_sequence_whose_probe_decodes_none_of_the_files_it_reads_starts_at_its_first_whole_frame(tmp_path):
    """FFmpeg's probe gives up after some 120 files that it cannot decode, and leaves the frame size unknown: with
    keep_going the reader decodes on to the first whole file, and takes the frames' format from it (16-bit gray
    PNG: 16 bits, read deep), not the probe's nothing (8)."""
    for n in range(1, 131):
        (tmp_path / f"f_{n:04d}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    for n in range(131, 134):
        Image.fromarray(np.full((H, W), 300 * n, np.uint16)).save(tmp_path / f"f_{n:04d}.png")
    with VideoReader(tmp_path / "f_%04d.png", keep_going=True, deep=True) as reader:
        frames = list(reader)
        assert reader.first_number == 131 and len(reader.skipped_files) == 130 and reader.info.bits == 16
    assert len(frames) == 3 and reader.deep and frames[0].dtype == np.uint16
    with pytest.raises(VidcolorError, match=r"f_%04d\.png: f_0001\.png cannot be decoded \(Invalid data"):
        VideoReader(tmp_path / "f_%04d.png")


def test_a_dpx_cut_inside_its_header_says_it_is_damaged(tmp_path):
    """A DPX cut inside its header (FFmpeg: 'Packet too small for DPX header') said 'cannot decode: frame size unknown
    or above the limit', as if too large: its decoder finds the data invalid, which is said; a header whose size is
    above the limit is still said to be so."""
    from vidcolor.io import read_image
    from vidcolor.io.reader import probe

    _dpx(tmp_path / "whole.dpx", 30000)
    data = (tmp_path / "whole.dpx").read_bytes()
    (tmp_path / "cut.dpx").write_bytes(data[:1000])
    res = invoke_cli("dequantize", "cut.dpx", "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert res.stderr_lines[0] == ("vidcolor: error: cut.dpx: cannot decode: the file is damaged or truncated (Invalid "
                                   "data found when processing input)")
    with pytest.raises(VidcolorError, match="the file is damaged or truncated"):
        probe(tmp_path / "cut.dpx")
    huge = bytearray(data)
    struct.pack_into("<II" if data[:4] == b"XPDS" else ">II", huge, 0x304, 20000, 20000)   # width, height
    (tmp_path / "huge.dpx").write_bytes(huge)
    with pytest.raises(VidcolorError, match="huge.dpx: cannot decode: frame size unknown or above the limit"):
        read_image(tmp_path / "huge.dpx")


@pytest.mark.parametrize("name, said", [
    ("o_%d_%s.png", "'%s' is no frame number"),
    ("o_%d_%04d.png", "it holds 2 frame numbers (%d, %04d)"),
    ("o_%d_50%.png", "'%.' is no frame number"),
])
def test_a_pattern_image2_cannot_take_is_refused_before_any_work(tmp_path, name, said):
    """A name holding a frame number and another % (``o_%d_%s.png``) was a sequence to vidcolor, which image2 cannot
    take: an output failed once every frame had been processed ('Cannot write filename by pts of the frames'), an
    input said it had no frames. Input and output are refused at once, one line each; ``%%`` is a literal %."""
    from vidcolor.io.sequences import is_sequence

    pattern = _sequence(tmp_path, "png")
    rule = "a pattern holds one frame number (%d, or %06d for 6 digits) and %% for a literal %"
    for args in ((pattern, "-o", name), (name.replace("o_", "scan_"), "-o", "x.mp4")):
        res = invoke_cli("dequantize", *args, "--fps", "24", "-q", cwd=tmp_path)
        assert_one_line_error(res)
        assert f": not an image sequence's pattern: {said}; {rule}" in res.stderr, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"scan_{n:06d}.png" for n in range(1001, 1006)]
    assert is_sequence("o_%d_5%%.png") and is_sequence("50%%/o_%06d.png")


def test_a_percent_with_digits_before_it_is_a_literal_percent_as_image2_reads_it(tmp_path):
    """'o_%5%_%d.png' was refused ("'%5%' is no frame number"), where FFmpeg's image2 (av_get_frame_filename2) reads
    a directive's digits and then its character: '%5%' is a literal %, as '%%' is. It is taken as image2 takes it
    now: the files o_%_0001.png... are its frames, read and named so."""
    from vidcolor.io.sequences import frame_path, is_sequence, pattern_problem, sequence_stem

    assert pattern_problem("o_%5%_%04d.png") is None and is_sequence(tmp_path / "o_%5%_%04d.png")
    assert frame_path("o_%5%_%04d.png", 7).name == "o_%_0007.png" and sequence_stem("a/o_%5%_%04d.png") == "o_%"
    for n, level in enumerate(LEVELS[:3], 1):
        Image.fromarray(np.full((H, W, 3), level, np.uint8)).save(tmp_path / f"o_%_{n:04d}.png")
    with VideoReader(tmp_path / "o_%5%_%04d.png", fps=24) as reader:
        assert [frame.mean() for frame in reader] == list(LEVELS[:3]) and reader.first_number == 1


def _frames(folder: Path, names: list[str], sizes: list[tuple[int, int]] | None = None) -> list[Path]:
    """PNG frames ``names`` in ``folder`` (made), W x H (or ``sizes``, (width, height) each), gray levels 10, 20,
    ...; returns their paths."""
    folder.mkdir()
    for i, (name, (w, h)) in enumerate(zip(names, sizes or [(W, H)] * len(names))):
        Image.fromarray(np.full((h, w, 3), 10 * (i + 1), np.uint8)).save(folder / name)
    return [folder / name for name in names]


def test_a_folder_of_numbered_frames_says_the_pattern_that_reads_them_as_a_clip(tmp_path, monkeypatch):
    """A folder of one sequence's frames is a folder of stills (as documented), which a user of image sequences
    did not see coming: a run says once (its checks and its work list the folder: one listing) which pattern reads
    them as a clip. Not for fewer than a second's frames, a gap, mixed sizes or names, nor outside a run."""
    from vidcolor.io import folders
    from vidcolor.io.folders import folder_contents, sequence_in

    reel = _frames(tmp_path / "reel", [f"scan_{n:06d}.png" for n in range(1, 25)])[0].parent
    (tmp_path / "out").mkdir()
    for n in range(1, 25):                  # outputs there: --skip-existing has nothing to do, and says so at once
        (tmp_path / "out" / f"scan_{n:06d}.png").write_bytes(b"done")
    res = invoke_cli("dequantize", "reel", "-o", "out", "--skip-existing", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    said = [line for line in res.stderr_lines if "look like one image sequence" in line]
    assert said == ["vidcolor: warning: reel: its 24 images, scan_000001.png to scan_000024.png, look like one image "
                    "sequence, and a folder's images are processed as separate stills: pass 'reel/scan_%06d.png' to "
                    "process them as a clip"], res.stderr
    with vidcolor_warnings() as warned:
        folder_contents(reel)                               # outside a run: not said
    assert warned == []
    (reel / "scan_000024.png").unlink()
    assert sequence_in(reel, folder_contents(reel)[0]) is None                      # under a second
    monkeypatch.setattr(folders, "SEQUENCE_HINT_FRAMES", 3)
    for name, names, sizes, pattern in (
            ("padded", ["a_0998.png", "a_0999.png", "a_1000.png"], None, "a_%04d.png"),
            ("plain", ["8.tif", "9.tif", "10.tif"], None, "%d.tif"),
            ("gap", ["a_01.png", "a_02.png", "a_04.png"], None, None),
            ("sizes", ["a_1.png", "a_2.png", "a_3.png"], [(W, H), (W, H), (2 * W, H)], None),
            ("names", ["a_1.png", "a_2.png", "b_3.png"], None, None),
            ("suffixes", ["a_1.png", "a_2.png", "a_3.PNG"], None, None)):
        stills = _frames(tmp_path / name, names, sizes)
        assert sequence_in(stills[0].parent, stills) == (pattern and str(tmp_path / name / pattern)), name


def _with_rate(path: Path, offset: int, rate: float) -> None:
    """Give the DPX ``path`` (FFmpeg's encoder's: a 1664-byte header, no film or television header) the standard
    2048-byte header, its ``offset`` field (1724: the film header's frame rate; 1940: the television header's) a
    float32 ``rate`` in the file's byte order, the rest of the added headers unset (0xFF)."""
    data = path.read_bytes()
    order = "<" if data[:4] == b"XPDS" else ">"
    start = struct.unpack_from(order + "I", data, 4)[0]                 # the offset of the image data
    out = bytearray(data[:start]) + b"\xff" * (2048 - start) + data[start:]
    struct.pack_into(order + "I", out, 4, 2048)
    struct.pack_into(order + "I", out, 16, len(out))                   # the file's size
    struct.pack_into(order + "I", out, 808, 2048)                      # the image element's data offset
    struct.pack_into(order + "f", out, offset, rate)
    path.write_bytes(out)


@pytest.mark.parametrize("offset, rate, read", [(1940, 25.0, Fraction(25)), (1724, 23.976, Fraction(24000, 1001)),
                                                (1940, 59.94, Fraction(60000, 1001)), (1724, 23.97, Fraction(2397, 100))])
def test_a_dpx_sequence_is_read_at_the_rate_its_header_carries(tmp_path, offset, rate, read):
    """A DPX's film or television header may carry its frame rate, which FFmpeg's dpx decoder reads (image2 does
    not: the sequence was read at 24, with a warning that no rate was given). Without --fps it is the sequence's
    rate, said by no warning; --fps still wins; DPX frames without one are read at 24, with the warning. A float
    within 0.01% of an NTSC rate is that rate (23.976 had been FFmpeg's 2997/125, its time base 125/2997),
    and the output's time base counts whole frames of it; 23.97, 0.025% off 24000/1001, stays 2397/100."""
    pattern = _sequence(tmp_path, "dpx")
    with VideoReader(pattern) as plain:
        assert plain.info.fps == 24 and plain.rate_from_frames is None
    for n in range(1001, 1006):
        _with_rate(tmp_path / f"scan_{n:06d}.dpx", offset, rate)
    with VideoReader(pattern) as reader:
        assert reader.info.fps == read and reader.rate_from_frames == read and len(list(reader)) == 5
    with VideoReader(pattern, fps=30) as reader:
        assert reader.info.fps == 30 and reader.rate_from_frames is None
    res = invoke_cli("dequantize", pattern, "-o", tmp_path / "o.mp4")
    assert res.returncode == 0 and "--fps" not in res.stderr, res.stderr
    with av.open(str(tmp_path / "o.mp4")) as c:
        video = c.streams.video[0]
        assert video.average_rate == read and (1 / video.time_base) % read.numerator == 0     # 23.976: 1/48000
