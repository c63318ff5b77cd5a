"""VideoWriter's RGB -> YUV conversion uses :data:`~vidcolor.io.convert.SWS_FLAGS` whatever filters its ffmpeg graph
holds.

A source's primaries and transfer (``setparams``) and non-square pixels (``setsar``) add a filter, and ffmpeg-python
then writes a ``-filter_complex`` graph, whose automatic scalers the ``-sws_flags`` output option does not reach:
they converted with ffmpeg's default flags (bicubic chroma, no accurate rounding), up to 42 levels off on 2x2-pixel
colour blocks where the untagged output was within 2. The frames are written losslessly (FFV1), so what comes
back differs from them by the RGB -> YUV -> RGB conversion alone.
"""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from helpers import decode_all
from vidcolor.io import VideoWriter
from vidcolor.metrics import psnr

H, W = 32, 48


@pytest.fixture(scope="module")
def blocks() -> np.ndarray:
    """Random colours in 2x2-pixel blocks (2x pixel art), uint8 ``(2, H, W, 3)``: 4:2:0 keeps their chroma exactly
    with ``area`` downsampling, and a bicubic filter smears it across the blocks."""
    tiles = np.random.default_rng(70).integers(0, 256, (2, H // 2, W // 2, 3), dtype=np.uint8)
    return np.ascontiguousarray(tiles.repeat(2, 1).repeat(2, 2))


def _written(path, frames: np.ndarray, **kw) -> np.ndarray:
    """``frames`` written to ``path`` (FFV1, yuv420p) with the writer's options ``kw``, decoded back."""
    with VideoWriter(path, W, H, Fraction(10), codec="ffv1", **kw) as w:
        for f in frames:
            w.write(f)
    return decode_all(path)[0]


BT709 = {"colorspace": 1, "color_range": 1}


def test_primaries_and_transfer_do_not_change_the_conversion(tmp_path, blocks):
    """A source tagged BT.709 in matrix, primaries and transfer is converted as one tagged with the matrix alone (no
    filter): before, 26.9 dB from the frames, up to 42 levels off, against 52.0 dB."""
    matrix_only = _written(tmp_path / "m.mkv", blocks, colour=BT709)
    tagged = _written(tmp_path / "t.mkv", blocks, colour={**BT709, "color_primaries": 1, "color_trc": 1})
    with av.open(str(tmp_path / "t.mkv")) as c:
        ctx = c.streams.video[0].codec_context
        assert (ctx.color_primaries, ctx.color_trc, ctx.colorspace) == (1, 1, 1)
    assert np.array_equal(tagged, matrix_only)
    assert psnr(tagged, blocks) > 45


def test_non_square_pixels_do_not_change_the_conversion(tmp_path, blocks):
    """Non-square pixels (4:3) are converted as square ones: before, 27.6 dB from the frames (up to 40 levels off)
    against 52.0 dB."""
    square = _written(tmp_path / "s.mkv", blocks)
    wide = _written(tmp_path / "w.mkv", blocks, pixel_aspect=Fraction(4, 3))
    with av.open(str(tmp_path / "w.mkv")) as c:
        assert c.streams.video[0].sample_aspect_ratio == Fraction(4, 3)
    assert np.array_equal(wide, square)
    assert psnr(wide, blocks) > 45
