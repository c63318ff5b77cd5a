"""vidcolor.io.convert: YUV <-> RGB without the truncation bias of swscale's defaults."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import gradient_image
from vidcolor.io import VideoReader, VideoWriter
from vidcolor.io.convert import frame_to_rgb, rgb_to_frame


@pytest.mark.parametrize("rgb", [(200, 128, 128), (17, 240, 90), (128, 128, 128)])
@pytest.mark.parametrize("pix_fmt,size", [("yuv420p", (16, 16)), ("yuv420p", (15, 17)), ("yuv422p", (8, 10)),
                                          ("yuvj420p", (16, 16)), ("yuv444p", (6, 6))])
def test_flat_colour_round_trips_within_one_level(rgb, pix_fmt, size):
    img = np.zeros((*size, 3), np.uint8) + np.array(rgb, np.uint8)
    frame = rgb_to_frame(img, pix_fmt)
    assert frame.format.name == pix_fmt
    back = frame_to_rgb(frame)
    assert back.shape == img.shape
    assert np.abs(back.astype(int) - img).max() <= 1


def test_writer_reader_generation_is_unbiased(tmp_path):
    """Lossless H.264 (crf 0 keeps luma exact) then our reader: no systematic level shift.
    With swscale's default (truncating) conversions this measured about -1 level per channel."""
    frames = np.stack([gradient_image(64, 96)] * 3)
    path = tmp_path / "g.mp4"
    with VideoWriter(path, 96, 64, 24, crf=0, overwrite=True) as w:
        w.write(frames)
    with VideoReader(path) as r:
        got = np.stack(list(r)).astype(np.float64)
    bias = (got - frames).reshape(-1, 3).mean(axis=0)
    assert np.all(np.abs(bias) < 0.3), bias
