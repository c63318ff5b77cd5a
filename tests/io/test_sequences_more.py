"""Image sequences (``scan_%06d.dpx``) at their edges: a damaged first frame, a DPX cut inside its header, a pattern
FFmpeg's image2 cannot take, a folder of numbered frames given as a folder, and a DPX header's frame rate."""
from __future__ import annotations

import struct

import pytest

from helpers import assert_one_line_error, invoke_cli
from test_sequences import _dpx, _sequence
from vidcolor.errors import VidcolorError


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
