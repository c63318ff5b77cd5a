"""vidcolor.metrics: PSNR, MSE, CIEDE2000, channel bias on uint8 RGB."""
from __future__ import annotations

import numpy as np
import pytest

from vidcolor.metrics import channel_bias, ciede2000, mse, psnr


@pytest.fixture
def pair():
    a = np.random.default_rng(0).integers(10, 240, (2, 8, 8, 3), dtype=np.uint8)
    b = a.copy()
    b[..., 0] += 4                                               # red +4 everywhere
    return a, b


def test_mse_and_psnr(pair):
    a, b = pair
    assert mse(a, a) == 0 and psnr(a, a) == float("inf")
    assert mse(a, b) == pytest.approx(16 / 3)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255 ** 2 / (16 / 3)))
    assert psnr(a, b) == psnr(b, a)


def test_psnr_pools_over_a_stack(pair):
    a, b = pair
    b2 = b.copy()
    b2[1] = a[1]                                                 # second frame exact
    assert psnr(a, b2) == pytest.approx(10 * np.log10(255 ** 2 / (8 / 3)))


def test_ciede2000(pair):
    a, b = pair
    assert ciede2000(a, a) == pytest.approx(0, abs=1e-6)
    d = ciede2000(a, b)
    assert 0.3 < d < 5
    grey = np.full((1, 1, 3), 128, np.uint8)
    red = np.array([[[255, 0, 0]]], np.uint8)
    assert ciede2000(grey, red) > 30


def test_channel_bias(pair):
    a, b = pair
    np.testing.assert_allclose(channel_bias(b, a), [4, 0, 0])
    np.testing.assert_allclose(channel_bias(a, b), [-4, 0, 0])


def test_metrics_reject_mismatch(pair):
    a, _ = pair
    with pytest.raises(ValueError):
        psnr(a, a[:1])
    with pytest.raises(ValueError):
        ciede2000(a.astype(np.float32), a.astype(np.float32))
