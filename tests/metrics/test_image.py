"""vidcolor.metrics.image: PSNR, MSE, MAE, SSIM, pixel accuracy, CIEDE2000, channel bias, colourfulness."""
from __future__ import annotations

import re

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, lab2rgb, rgb2lab

from vidcolor.metrics import (ACCURACY_THRESHOLD, ab_histogram_intersection, channel_bias, ciede2000, colourfulness, mae, mse, pixel_accuracy,
                              psnr, ssim)


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


def test_psnr_of_a_list_of_images_of_different_sizes(pair):
    a, b = pair                                                  # each frame: MSE 16 / 3
    small_a = a[0, :2, :2]
    small_b = small_a.copy()                                     # exact, 4 pixels only: weighs as much
    assert psnr([a[0], small_a], [b[0], small_b]) == pytest.approx(10 * np.log10(255 ** 2 / (8 / 3)))
    assert psnr([a[0], a[1]], [b[0], b[1]]) == pytest.approx(psnr(a, b))
    assert psnr([small_a], [small_b]) == float("inf")
    with pytest.raises(ValueError):
        psnr([a[0], a[1]], [b[0]])
    with pytest.raises(ValueError):
        psnr([], [])
    with pytest.raises(ValueError):
        psnr([a[0]], [b[0, :4]])


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


@pytest.mark.parametrize("fn", [mse, psnr, mae, ssim, ciede2000, channel_bias, pixel_accuracy,
                                ab_histogram_intersection])
@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 4), (16, 16, 1), (0, 16, 16, 3), (16, 0, 3)])
def test_metrics_refuse_what_is_not_rgb_or_is_empty(fn, shape):
    """Gray (H, W) and RGBA arrays were measured (ssim of a gray image read W as channels: 0.456 for 0.469), and
    empty arrays gave nan with numpy's warning."""
    a = np.zeros(shape, np.uint8)
    with pytest.raises(ValueError, match=r"expected uint8 RGB \(\.\.\., H, W, 3\), no side empty"):
        fn(a, a.copy())


@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 4), (0, 16, 16, 3), (0, 0, 3)])
def test_colourfulness_refuses_what_is_not_rgb_or_is_empty(shape):
    with pytest.raises(ValueError, match=r"expected uint8 RGB \(\.\.\., H, W, 3\), no side empty"):
        colourfulness(np.zeros(shape, np.uint8))


def test_a_nan_threshold_and_a_bin_size_that_is_not_positive_are_refused(pair):
    """pixel_accuracy(threshold=nan) was 0.0; a bin size of 0 raised ZeroDivisionError, -5 an IndexError."""
    a, b = pair
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        pixel_accuracy(a, b, threshold=float("nan"))
    for bin_size in (0, -5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="bin_size must be a finite number > 0"):
            ab_histogram_intersection(a, b, bin_size=bin_size)


def test_mae_of_a_constant_offset(pair):
    a, b = pair
    assert mae(a, a) == 0
    assert mae(a, b) == pytest.approx(4 / 3)                    # 4 levels on one channel of three
    assert mae(b, a) == mae(a, b)


def test_ssim(pair):
    a, b = pair
    big = np.random.default_rng(1).integers(0, 256, (2, 32, 48, 3), dtype=np.uint8)
    assert ssim(big, big) == pytest.approx(1.0)
    noisy = np.clip(big.astype(int) + np.random.default_rng(2).integers(-40, 41, big.shape), 0, 255).astype(np.uint8)
    s = ssim(big, noisy)
    assert 0 < s < 0.99 and ssim(noisy, big) == pytest.approx(s)
    mixed = noisy.copy()
    mixed[0] = big[0]                                            # stack: the mean over frames
    assert ssim(big, mixed) == pytest.approx((1 + ssim(big[1], noisy[1])) / 2)
    with pytest.raises(ValueError):
        ssim(big, big[:1])


def test_pixel_accuracy_known_fraction():
    a = np.full((10, 10, 3), 100, np.uint8)
    b = a.copy()
    b.reshape(-1, 3)[:23, 2] = 113                              # 23 pixels off by 13 levels (> 12.75)
    b.reshape(-1, 3)[23:40, 0] = 88                             # 17 pixels off by 12 levels (within)
    assert ACCURACY_THRESHOLD == pytest.approx(12.75)
    assert pixel_accuracy(a, b) == pytest.approx(0.77)
    assert pixel_accuracy(b, a) == pytest.approx(0.77)
    assert pixel_accuracy(a, b, threshold=13) == 1.0
    assert pixel_accuracy(a, b, threshold=0) == pytest.approx(0.60)
    assert pixel_accuracy(a, a, threshold=0) == 1.0
    with pytest.raises(ValueError):
        pixel_accuracy(a, b, threshold=-1)


def test_colourfulness_of_gray_is_zero():
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    assert colourfulness(ramp) == 0
    assert colourfulness(np.full((2, 4, 4, 3), 77, np.uint8)) == 0


def test_colourfulness_hand_computed():
    # half red (255, 0, 0), half blue (0, 0, 255):
    #   rg = 255 | 0       -> mean 127.5, std 127.5
    #   yb = 127.5 | -255  -> mean -63.75, std 191.25
    img = np.zeros((4, 4, 3), np.uint8)
    img[:2, :, 0] = 255
    img[2:, :, 2] = 255
    expected = np.sqrt(127.5 ** 2 + 191.25 ** 2) + 0.3 * np.sqrt(127.5 ** 2 + 63.75 ** 2)
    assert colourfulness(img) == pytest.approx(expected)             # 272.62...
    red = np.zeros((3, 3, 3), np.uint8)
    red[..., 0] = 255                                                # flat: only the mean term
    assert colourfulness(red) == pytest.approx(0.3 * np.hypot(255, 127.5))
    stack = np.stack([np.full((4, 4, 3), 128, np.uint8), img])       # stack: mean over frames
    assert colourfulness(stack) == pytest.approx(expected / 2)
    with pytest.raises(ValueError):
        colourfulness(img.astype(np.float32))


def test_ab_histogram_intersection_identical_disjoint_and_partial():
    from vidcolor.metrics import ab_histogram_intersection
    red = np.full((4, 4, 3), (200, 20, 20), np.uint8)
    blue = np.full((6, 5, 3), (20, 20, 200), np.uint8)
    assert ab_histogram_intersection(red, red) == pytest.approx(1.0)
    assert ab_histogram_intersection(red, blue) == pytest.approx(0.0)
    half = np.concatenate([red, np.full((4, 4, 3), (20, 20, 200), np.uint8)], 1)   # half red, half blue
    assert ab_histogram_intersection(half, red) == pytest.approx(0.5)
    gray = np.full((3, 3, 3), 128, np.uint8)
    assert ab_histogram_intersection(gray, np.full((2, 2, 3), 40, np.uint8)) == pytest.approx(1.0)  # L is ignored


def test_a_mask_scores_only_its_pixels():
    """The transparent pixels of an image with alpha were scored (their hidden RGB): with a mask every measure
    counts only the masked pixels, whatever the others hold."""
    rng = np.random.default_rng(3)
    ref = rng.integers(20, 230, (2, 24, 30, 3), dtype=np.uint8)
    out = np.clip(ref.astype(int) + rng.integers(-6, 7, ref.shape), 0, 255).astype(np.uint8)
    mask = np.zeros(ref.shape[:3], bool)
    mask[:, 4:20, 5:25] = True
    mask[1, :, :3] = True
    junk = out.copy()
    junk[~mask] = rng.integers(0, 256, (int((~mask).sum()), 3), dtype=np.uint8)   # only the hidden pixels change
    sel_out, sel_ref = out[mask][None], ref[mask][None]
    for fn in (mse, psnr, mae, ciede2000, pixel_accuracy):
        assert fn(junk, ref, mask=mask) == pytest.approx(fn(sel_out, sel_ref)), fn.__name__
        assert fn(junk, ref) != pytest.approx(fn(sel_out, sel_ref)), fn.__name__
    np.testing.assert_allclose(channel_bias(junk, ref, mask), channel_bias(sel_out, sel_ref))
    assert colourfulness(junk, mask) == pytest.approx(np.mean([colourfulness(f[m][None]) for f, m in zip(out, mask)]))
    assert ssim(out, ref, np.ones_like(mask)) == pytest.approx(ssim(out, ref))
    assert ssim(ref, ref, mask) == pytest.approx(1) and ssim(junk, ref, mask) > ssim(junk, ref)
    for bad in (mask[0], np.zeros_like(mask)):
        with pytest.raises(ValueError):
            mse(out, ref, bad)
    with pytest.raises(ValueError):
        psnr(list(out), list(ref), mask)


def test_ciede2000_of_a_one_level_gray_step_is_the_exact_conversions():
    # sRGB gray 125 -> 126 is 0.386 CIEDE2000 (float64 conversion); OpenCV's float32 conversion measured 0.570
    a, b = np.full((4, 4, 3), 125, np.uint8), np.full((4, 4, 3), 126, np.uint8)
    assert ciede2000(a, b) == pytest.approx(0.386, abs=0.002)


def test_ciede2000_of_sharma_pair_through_srgb():
    # Sharma et al. 2005, table 1, pair 1: (50, 2.6772, -79.7751) vs (50, 0, -82.7485) -> 2.0425. Both lie outside
    # sRGB, so the pair is scaled into it (a, b x 0.5) and the reference is recomputed on the 8-bit colours.
    lab = np.array([[[50, 1.3386, -39.8876]], [[50, 0.0, -41.3743]]])
    rgb = np.rint(lab2rgb(lab) * 255).astype(np.uint8)
    want = deltaE_ciede2000(rgb2lab(rgb[0]), rgb2lab(rgb[1]))[0]
    assert ciede2000(rgb[0:1], rgb[1:2]) == pytest.approx(float(want), abs=1e-6)
    assert deltaE_ciede2000(np.array([50, 2.6772, -79.7751]), np.array([50, 0.0, -82.7485])) == pytest.approx(2.0425, abs=1e-4)


def test_neutral_grays_have_no_chroma_in_the_ab_histogram():
    grays = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)   # (1, 256, 3): every gray
    red = np.zeros_like(grays); red[..., 0] = 255
    assert ab_histogram_intersection(grays, np.full((1, 1, 3), 128, np.uint8)) == pytest.approx(1.0)
    assert ab_histogram_intersection(grays, red) == pytest.approx(0.0)


def test_errors_name_the_argument_and_ssim_says_its_own_window(pair):
    """'shape mismatch: (2, 8, 8, 3) vs (1, 8, 8, 3)' named neither argument; a frame under 7x7 in ssim gave
    skimage's text, which offers a win_size that ssim does not take; a float frame did not say which one."""
    a, _ = pair
    with pytest.raises(ValueError, match=re.escape(f"a and b differ in shape: {a.shape} and {a[:1].shape}") + "$"):
        psnr(a, a[:1])
    with pytest.raises(ValueError, match=re.escape(f"out and ref differ in shape: {a[:1].shape} and {a.shape}")):
        channel_bias(a[:1], a)
    with pytest.raises(ValueError, match=r"^b: expected uint8 RGB \(\.\.\., H, W, 3\), no side empty, got float64"):
        ciede2000(a, a / 255.0)
    with pytest.raises(ValueError, match=r"^rgb: expected uint8 RGB"):
        colourfulness(a[..., 0])
    small = np.zeros((2, 6, 20, 3), np.uint8)
    with pytest.raises(ValueError, match=r"^SSIM needs frames of at least 7x7 pixels \(its window\), got 20x6$"):
        ssim(small, small)
