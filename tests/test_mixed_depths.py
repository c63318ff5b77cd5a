"""Uniform levels of a different bit depth per channel (RGB332, RGB565): the quantizer estimate's mixed reading
(vidcolor.quantizer.estimation._mixed_levels), and that a true palette is still read as one."""
from __future__ import annotations

import cv2
import numpy as np

from vidcolor.metrics import psnr
from vidcolor.quantizer.estimation import estimate
from vidcolor.quantizer.levels import uniform_channel
from vidcolor.quantizer.reconstruction import Quantizer
from vidcolor.training.degrade import Degradation


def _image(texture: float) -> np.ndarray:
    """A 64x64 colour gradient (R along x, G along y, B along both) with Gaussian noise of ``texture`` levels blurred
    at sigma 0.5 px (0: none), uint8 (64, 64, 3)."""
    y, x = np.mgrid[0:64, 0:64].astype(np.float32)
    img = np.stack([x * 3.6 + 20, y * 3.4 + 25, (x + y) * 1.7 + 20], -1)
    if texture:
        noise = np.random.default_rng(0).normal(0, texture, img.shape).astype(np.float32)
        img += cv2.GaussianBlur(noise, (0, 0), 0.5)
    return np.clip(img, 0, 255).astype(np.uint8)


def _spread(rgb: np.ndarray, bits: tuple[int, int, int]) -> np.ndarray:
    """Each channel to its own bit depth, levels spread over 0..255 (RGB332 and RGB565 as viewers expand them)."""
    out = rgb.astype(np.float64)
    for c, b in enumerate(bits):
        n = 2 ** b - 1
        out[..., c] = np.round(np.round(out[..., c] / 255 * n) * 255 / n)
    return out.astype(np.uint8)


def _gain(found: Quantizer, coarse: np.ndarray, truth: np.ndarray) -> float:
    """PSNR gain (dB) of the consistent reconstruction with no generator correction (the band correction, contour
    estimate and projection alone) at the uniform strength 0.75."""
    out = found.reconstruct(coarse[None], coarse[None].astype(np.float32), 0.75)[0]
    return psnr(out, truth) - psnr(coarse, truth)


def test_rgb332_is_read_per_channel():
    """3/3/2 bits: B's levels 0, 85, 170, 255 fit 4 bits spread, which the single reading took as agreeing with R's and
    G's 3-bit spread levels, and gave B 3-bit cells (36 levels wide where its bins are 85): 'uniform 3/3/3 bits
    (spread)', +1.7 dB here. Read 3/3/2 it gains over 4 dB."""
    truth = _image(10.0)
    coarse = _spread(truth, (3, 3, 2))
    found = estimate(coarse)
    assert (found.kind, found.bits, found.conventions, found.graphics) == (
        "uniform", (3, 3, 2), ("spread",) * 3, False), found.describe()
    assert found.describe(measured=False) == "uniform 3/3/2 bits (spread)"
    assert _gain(found, coarse, truth) > 4.0


def test_a_coarser_channel_under_a_single_depth_is_read_per_channel():
    """4/4/2 bits: B's levels 85 and 170 are 4-bit spread levels too, so the single reading found uniform 4/4/4 and held
    B within 17-level cells where its bins are 85 wide (+1.5 dB here); read 4/4/2 it gains over 4 dB."""
    truth = _image(10.0)
    coarse = _spread(truth, (4, 4, 2))
    found = estimate(coarse)
    assert (found.kind, found.bits, found.conventions) == ("uniform", (4, 4, 2), ("spread",) * 3), found.describe()
    assert _gain(found, coarse, truth) > 4.0


def test_rgb565_is_read_per_channel():
    """5/6/5 bits on a smooth gradient: the single reading found no level set in G (6 bits are not among its depths)
    and read the frame as a palette of 34 colours (+0.65 dB); read 5/6/5 it gains over 3 dB."""
    truth = _image(0.0)
    coarse = _spread(truth, (5, 6, 5))
    found = estimate(coarse)
    assert (found.kind, found.bits, found.conventions) == ("uniform", (5, 6, 5), ("spread",) * 3), found.describe()
    assert _gain(found, coarse, truth) > 3.0


def test_mixed_reading_takes_the_clearest_convention():
    """A lossless 5-bit spread channel (levels 8.23 k) also passes for 5-bit bin middles (8 k + 3.5) over the middle of
    the range; the mixed reading takes the convention of the larger R."""
    values = _spread(_image(0.0), (5, 5, 5))[..., 0].ravel()
    assert uniform_channel(values, (5,), clearest=True)[:2] == (5, "spread")


def test_a_palette_is_still_a_palette():
    """ffmpeg's 16 colours (palettegen, no dither) of the textured gradient, lossless: no channel holds levels of its
    own, so the mixed reading does not apply."""
    coarse = Degradation("ffmpeg", colors=16, crf=None).apply(_image(10.0))
    found = estimate(coarse)
    assert found.kind == "palette" and len(found.palette) == 16, found.describe()


def test_describe_names_each_channels_convention():
    """Different conventions per channel are named per channel (the clip tracker compares these lines)."""
    q = Quantizer("uniform", 1.0, 1.0, (3, 3, 2), ("mid", "mid", "spread"))
    assert q.describe(measured=False) == "uniform 3/3/2 bits (mid/mid/spread)"
    assert Quantizer("uniform", 1.0, 1.0, (4, 0, 4), ("mid", "", "mid")).describe(measured=False) == \
        "uniform 4/0/4 bits (mid)"


def test_ffmpeg_rgb8_gif_levels_are_read_per_channel():
    """ffmpeg's rgb8/bgr8 (a GIF written without a palette: ``ffmpeg -i x.mp4 clip.gif``) writes 3-bit level k as 36 k
    (0..252) and 2-bit level k as 85 k: up to 3 levels below spread levels, beyond the single reading's angle
    (MIXED_MAX_ANGLE). Such a DAVIS GIF was read as palettes of 4 to 8 colours, found on its few flat pixels."""
    truth = _image(10.0).astype(np.float64)
    coarse = np.stack([np.round(truth[..., 0] * 7 / 255) * 36, np.round(truth[..., 1] * 7 / 255) * 36,
                       np.round(truth[..., 2] * 3 / 255) * 85], -1).astype(np.uint8)
    found = estimate(coarse)
    assert (found.kind, found.bits, found.conventions) == ("uniform", (3, 3, 2), ("spread",) * 3), found.describe()
