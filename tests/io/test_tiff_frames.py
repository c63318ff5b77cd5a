"""TIFF frames read by FFmpeg (a TIFF sequence, ``scan_%04d.tif``): FFmpeg 8 gives each decoded frame its EXIF as side
data of a type PyAV 18 does not know, and listing ``frame.side_data`` raised ``ValueError: 31 is not a valid Type``,
which the reader's orientation check did for the first frame: every TIFF sequence ended in an internal error."""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from PIL import Image

from vidcolor.io import VideoReader
from vidcolor.io.reader import frame_orientation


def test_a_tiff_sequence_is_read_though_pyav_cannot_list_its_side_data(tmp_path):
    levels = (60, 200)
    for n, level in enumerate(levels, start=1):
        Image.fromarray(np.full((16, 24, 3), level, np.uint8)).save(tmp_path / f"scan_{n:04d}.tif")
    with av.open(str(tmp_path / "scan_0001.tif")) as container:         # what the reader meets
        frame = next(container.decode(video=0))
    assert frame_orientation(frame) == (0, False)
    with VideoReader(str(tmp_path / "scan_%04d.tif"), fps=24) as reader:
        frames = list(reader)
    assert [int(f.mean()) for f in frames] == list(levels)


def test_a_gray_16_bit_tiff_frame_made_by_ffmpeg_has_no_turn():
    ctx = av.CodecContext.create("tiff", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 8, 6, "gray16le", Fraction(1, 24)
    data = b"".join(bytes(p) for p in ctx.encode(av.VideoFrame.from_ndarray(
        np.full((6, 8), 30000, np.uint16), format="gray16le")) + ctx.encode(None))
    decoder = av.CodecContext.create("tiff", "r")
    frame = decoder.decode(av.Packet(data))[0]
    assert frame_orientation(frame) == (0, False)
