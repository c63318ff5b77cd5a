"""Sources of more than 8 bits per sample through colorize: decoded at 16 bits, L computed from them, written from
16-bit RGB into 10-bit output (stop 68). Before, a 10-bit gray ramp came out on 8-bit levels."""
from __future__ import annotations

import av
import numpy as np
import pytest

from vidcolor.color import lab_to_rgb, lightness16, rgb_to_lab
from vidcolor.io import VideoWriter
from vidcolor.io.convert import frame_to_rgb


def test_10_bit_colour_decodes_at_16_bits_with_its_chroma_replicated():
    """swscale's full chroma interpolation wrote R and G as 0 converting 10-bit 4:2:0 to rgb48le (rgb24 (54, 88, 125)
    came out (0, 0, 31935)); the 16-bit decode replicates the chroma, as the 8-bit decode of 8-bit 4:2:0 does, and
    comes within a level (of 8 bits) of BT.601's RGB of the 10-bit samples (swscale's 16-bit white is 65280)."""
    rng = np.random.default_rng(0)
    y, u, v = (rng.integers(64, 941, (32, 32)), rng.integers(300, 724, (16, 16)), rng.integers(300, 724, (16, 16)))
    frame = av.VideoFrame(32, 32, "yuv420p10le")
    for plane, samples in zip(frame.planes, (y, u, v)):
        padded = np.zeros((plane.height, plane.line_size // 2), np.uint16)
        padded[:, :samples.shape[1]] = samples
        plane.update(padded)
    y, (u, v) = (y - 64) / 876, ((c.repeat(2, 0).repeat(2, 1) - 512) / 896 for c in (u, v))
    bt601 = np.clip(np.stack([y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u], -1), 0, 1) * 255
    deep = frame_to_rgb(frame, deep=True)
    assert deep.dtype == np.uint16 and np.abs(deep / 257.0 - bt601).max() < 1


def test_lightness16_is_exact_where_opencv_s_float_lab_is_not():
    """OpenCV's float RGB -> LAB interpolates a table (410 distinct L of 3,001 grays); the 16-bit L is exact: every
    gray keeps an L of its own, lab_to_rgb at 16 bits gives the gray back, and 8-bit colours' L is OpenCV's within
    0.2."""
    gray = np.repeat(np.linspace(6554, 58982, 3001).round().astype(np.uint16)[None, :, None], 3, -1)
    L = lightness16(gray)
    assert np.unique(L).size == 3001
    lab = np.concatenate([L[..., None], np.zeros((*L.shape, 2), np.float32)], -1)
    assert np.abs(lab_to_rgb(lab, np.uint16).astype(np.int64) - gray).max() <= 1
    rgb8 = np.random.default_rng(1).integers(0, 256, (32, 32, 3), np.uint8)
    assert np.abs(lightness16(rgb8.astype(np.uint16) * 257) - rgb_to_lab(rgb8)[..., 0]).max() < 0.2


def test_a_deep_writer_takes_16_bit_frames_alone(tmp_path):
    """VideoWriter(deep=True) gives ffmpeg rgb48le: the 10-bit output keeps levels between the 8-bit ones, and uint8
    frames are refused (naming the dtype it takes)."""
    ramp = np.repeat(np.tile(np.linspace(16384, 32768, 256).round().astype(np.uint16), (16, 1))[..., None], 3, -1)
    out = tmp_path / "deep.mkv"
    with VideoWriter(out, 256, 16, 24, codec="ffv1", pix_fmt="yuv444p10le", deep=True) as w:
        with pytest.raises(ValueError, match="expected uint16"):
            w.write(np.zeros((16, 256, 3), np.uint8))
        w.write(ramp)
    with av.open(str(out)) as c:
        back = frame_to_rgb(next(c.decode(video=0)), deep=True)
    assert np.unique(back[8, :, 1]).size > 200 and np.abs(back.astype(np.int64) - ramp).max() < 300
