"""vidcolor.color: LAB conversions (NumPy/OpenCV and torch/kornia), normalisation, recombination."""
from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest
import torch

from vidcolor.color import (AB_SCALE, denormalize_planes, lab_to_rgb, lab_to_rgb_torch, model_input, normalize_lab,
                            recombine, resize_ab, resize_ab_rows, rgb_to_lab)


@pytest.fixture
def random_rgb():
    return np.random.default_rng(1).integers(0, 256, (2, 17, 23, 3), dtype=np.uint8)


def test_round_trip_random_within_one_level(random_rgb):
    lab = rgb_to_lab(random_rgb)
    assert lab.dtype == np.float32 and lab.shape == random_rgb.shape
    back = lab_to_rgb(lab)
    assert back.dtype == np.uint8 and back.shape == random_rgb.shape
    assert np.abs(back.astype(int) - random_rgb).max() <= 1


def test_round_trip_every_grey_and_primary_exact_enough():
    v = np.arange(256, dtype=np.uint8)
    greys = np.stack([v, v, v], -1)[None]                                      # (1, 256, 3)
    prim = np.zeros((1, 6, 3), np.uint8)
    prim[0, [0, 1, 2]] = np.eye(3, dtype=np.uint8) * 255
    prim[0, [3, 4, 5]] = (1 - np.eye(3, dtype=np.uint8)) * 255
    for img in (greys, prim):
        assert np.abs(lab_to_rgb(rgb_to_lab(img)).astype(int) - img).max() <= 1


def test_single_image_and_batched_agree(random_rgb):
    batched = rgb_to_lab(random_rgb)
    for i in range(len(random_rgb)):
        np.testing.assert_allclose(rgb_to_lab(random_rgb[i]), batched[i], atol=1e-4)


def test_known_values():
    lab = rgb_to_lab(np.array([[[255, 255, 255], [0, 0, 0], [128, 128, 128], [255, 0, 0]]], np.uint8))[0]
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab[2], [53.59, 0, 0], atol=0.1)     # sRGB 128 grey: L* = 53.59
    np.testing.assert_allclose(lab[3], [53.24, 80.09, 67.20], atol=0.3)  # sRGB red (D65)
    assert lab[:, 0].min() >= 0 and lab[:, 0].max() <= 100


def test_lab_to_rgb_clips_out_of_gamut():
    out = lab_to_rgb(np.array([[[100, 120, -120], [0, -120, 120], [50, 0, 0]]], np.float32))
    assert out.dtype == np.uint8
    grey = out[0, 2]
    assert np.ptp(grey.astype(int)) <= 1 and 117 <= grey[0] <= 120                # L 50 is sRGB ~119


@pytest.mark.parametrize("bad", [np.zeros((0, 0, 3), np.uint8), np.zeros((0, 4, 4, 3), np.uint8),
                                 np.zeros((0, 5, 3), np.uint8), np.zeros((4, 0, 3), np.uint8), [[[0, 0, 0]]],
                                 np.zeros((4, 4, 3), np.float32), np.zeros((4, 4), np.uint8),
                                 np.zeros((4, 4, 4), np.uint8)])
def test_rgb_to_lab_refuses_what_is_not_uint8_rgb_with_a_value_error(bad):
    """Empty arrays raised numpy's reshape error or a cv2.error, and a list an AttributeError."""
    with pytest.raises(ValueError, match=r"expected uint8 RGB \(\.\.\., H, W, 3\), no side empty"):
        rgb_to_lab(bad)


@pytest.mark.parametrize("bad", [np.zeros((1, 2, 2), np.float32), np.zeros(3, np.float32),
                                 np.zeros((0, 4, 3), np.float32), np.zeros((2, 2, 3), np.uint8),
                                 np.zeros((2, 2, 3), np.int64), [[[50.0, 0.0, 0.0]]]])
def test_lab_to_rgb_refuses_what_is_not_float_lab(bad):
    """A 2-channel or (3,) input raised reshape or IndexError; uint8 RGB was read as L, silently."""
    with pytest.raises(ValueError, match=r"expected float32 LAB \(\.\.\., H, W, 3\), not empty"):
        lab_to_rgb(bad)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("channel", [0, 1])
def test_lab_to_rgb_refuses_values_that_are_not_finite(value, channel):
    """NaN and +-inf came out white (even L = -inf), with no error."""
    lab = np.full((1, 2, 3), 50.0, np.float32)
    lab[0, 1, channel] = value
    with pytest.raises(ValueError, match="finite"):
        lab_to_rgb(lab)
    assert lab_to_rgb(lab[:, :1].astype(np.float64)).shape == (1, 1, 3)      # float64 is converted


def test_normalize_ranges_and_inverse(random_rgb):
    lab = rgb_to_lab(random_rgb)
    n = normalize_lab(lab)
    assert n.dtype == np.float32
    assert n[..., 0].min() >= -1 - 1e-6 and n[..., 0].max() <= 1 + 1e-6
    assert np.abs(n[..., 1:]).max() <= 128 / AB_SCALE
    np.testing.assert_allclose(n[..., 0], lab[..., 0] / 50 - 1, atol=1e-6)
    np.testing.assert_allclose(n[..., 1:], lab[..., 1:] / AB_SCALE, atol=1e-6)
    planes = n.reshape(-1, *n.shape[-3:]).transpose(0, 3, 1, 2)          # as a network's (N, 3, H, W) output
    L, ab = denormalize_planes(planes[:, 0], planes[:, 1:])
    back = np.concatenate([L[..., None], ab], -1).reshape(n.shape)
    np.testing.assert_allclose(back, lab, atol=1e-4)
    np.testing.assert_allclose(normalize_lab(back), n, atol=1e-6)


def test_denormalize_planes_interleaves_a_networks_output():
    """A network's (N, 3, H, W) output -> L (N, H, W) = 50 (n0 + 1) and contiguous ab (N, H, W, 2) = AB_SCALE n."""
    n = np.random.default_rng(3).uniform(-1.2, 1.2, (2, 3, 17, 23)).astype(np.float32)
    L, ab = denormalize_planes(n[:, 0], n[:, 1:])
    assert L.shape == (2, 17, 23) and ab.shape == (2, 17, 23, 2) and ab.flags.c_contiguous
    assert L.dtype == ab.dtype == np.float32
    np.testing.assert_allclose(L, 50.0 * (n[:, 0] + 1.0), atol=1e-4)
    np.testing.assert_allclose(ab, AB_SCALE * n[:, 1:].transpose(0, 2, 3, 1), atol=1e-4)


def test_recombine_same_resolution_is_lab_to_rgb(random_rgb):
    lab = rgb_to_lab(random_rgb)
    out = recombine(lab[..., 0], lab[..., 1:])
    assert out.shape == random_rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - random_rgb).max() <= 1


def test_recombine_upsamples_low_resolution_ab():
    # a flat colour: ab at a quarter of the resolution upsamples to the same flat ab
    img = np.empty((1, 32, 48, 3), np.uint8)
    img[...] = (200, 90, 40)
    lab = rgb_to_lab(img)
    ab_small = np.ascontiguousarray(lab[:, ::4, ::4, 1:])
    assert ab_small.shape == (1, 8, 12, 2)
    out = recombine(lab[..., 0], ab_small)
    assert out.shape == (1, 32, 48, 3)
    assert np.abs(out.astype(int) - img).max() <= 1
    # and a colour split between halves of the low-resolution ab shows up in the right halves
    lab2 = lab.copy()
    ab2 = ab_small.copy()
    ab2[:, :, 6:] = -ab2[:, :, 6:]
    out2 = recombine(lab2[..., 0], ab2)
    assert np.abs(out2[0, :, :20].astype(int) - img[0, :, :20]).max() <= 1
    assert np.abs(out2[0, :, 28:].astype(int) - img[0, :, 28:]).max() > 50


@pytest.mark.parametrize("sizes", [((8, 14), (61, 97)), ((256, 455), (1081, 1921)), ((13, 7), (100, 3)),
                                   ((20, 30), (17, 41)), ((40, 60), (20, 30)), ((1, 1), (5, 6)), ((9, 9), (9, 9))])
def test_resize_ab_rows_are_the_whole_resize_at_every_seam(sizes):
    """Strips of rows (uneven, one-row ones among them) of upsampled, downsampled, halved (OpenCV's 2x2 block
    average) and unchanged ab, joined, are bit for bit the whole frame's bilinear resize."""
    (h, w), (H, W) = sizes
    rng = np.random.default_rng(h * W)
    ab = rng.normal(0, 40, (h, w, 2)).astype(np.float32)
    whole = resize_ab(ab[None], (H, W))[0]
    edges = sorted({0, H, 1, H // 3, H // 3 + 1, H - 1, *rng.integers(0, H, 4).tolist()})
    strips = list(zip(edges, edges[1:]))
    parts = list(resize_ab_rows(ab, (H, W), strips))
    assert [p.shape for p in parts] == [(y1 - y0, W, 2) for y0, y1 in strips]
    assert all(p.dtype == np.float32 for p in parts)
    assert np.array_equal(np.concatenate(parts), whole)
    assert np.array_equal(next(resize_ab_rows(ab, (H, W), [(0, H)])), whole)


def test_lab_to_rgb_torch_agrees_with_opencv(random_rgb):
    lab_n = normalize_lab(rgb_to_lab(random_rgb))
    x = torch.from_numpy(lab_n).permute(0, 3, 1, 2).requires_grad_(True)
    rgb = lab_to_rgb_torch(x)
    assert rgb.shape == (2, 3, 17, 23)
    assert float(rgb.detach().min()) >= 0 and float(rgb.detach().max()) <= 1
    ref = random_rgb.astype(np.float32) / 255
    np.testing.assert_allclose(rgb.detach().permute(0, 2, 3, 1).numpy(), ref, atol=2 / 255)
    rgb.sum().backward()                                        # differentiable
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 3), np.uint16),
                                 np.zeros((4, 4, 4), np.uint8), np.zeros((4, 3), np.uint8)])
def test_rgb_to_lab_rejects_wrong_dtype_or_shape(bad):
    with pytest.raises(ValueError):
        rgb_to_lab(bad)


def test_reinhard_transfer_matches_reference_statistics():
    from vidcolor.color import reinhard_transfer

    rng = np.random.default_rng(0)
    target = rng.integers(60, 200, (32, 32, 3), dtype=np.uint8)
    reference = np.clip(rng.normal((180, 90, 60), 12, (40, 40, 3)), 0, 255).astype(np.uint8)
    out = reinhard_transfer(target, reference)
    lo, lr = rgb_to_lab(out).reshape(-1, 3), rgb_to_lab(reference).reshape(-1, 3)
    assert np.allclose(lo.mean(0), lr.mean(0), atol=1.5)
    assert np.allclose(lo.std(0), lr.std(0), rtol=0.15, atol=1.0)
    # a gray target takes the reference's mean colour
    gray = np.full((8, 8, 3), 128, np.uint8)
    assert np.allclose(rgb_to_lab(reinhard_transfer(gray, reference))[..., 1:].mean((0, 1)), lr[:, 1:].mean(0), atol=1.5)


def test_dark_chroma_is_cut_to_the_gamut_so_that_black_stays_black():
    """Predicted ab on a film's black bars (L 0) came out RGB up to (13, 1, 10) after channel clipping; real
    dark colours keep their chroma (the limit is the sRGB gamut's, hue by hue)."""
    from vidcolor.color import DARK_L, limit_dark_chroma

    rng = np.random.default_rng(0)
    L = np.zeros((1, 8, 8), np.float32)
    ab = rng.uniform(-40, 40, (1, 8, 8, 2)).astype(np.float32)
    limit_dark_chroma(L, ab)
    assert (lab_to_rgb(np.concatenate([L[..., None], ab], -1)) == 0).all()
    dark = rng.integers(0, 24, (1, 64, 64, 3), dtype=np.uint8)       # every dark sRGB colour is in the gamut
    lab = rgb_to_lab(dark)
    assert (lab[..., 0] < DARK_L).mean() > 0.5
    ab = lab[..., 1:].copy()
    limit_dark_chroma(lab[..., 0], ab)
    assert np.abs(ab - lab[..., 1:]).max() < 0.5
    assert np.abs(lab_to_rgb(np.concatenate([lab[..., :1], ab], -1)).astype(int) - dark).max() <= 1


def test_recombine_annealed_mean_and_gamut_bins_refuse_what_they_cannot_use():
    """recombine of one frame (H, W) said numpy's 'not enough values to unpack', of two N concatenate's error;
    annealed_mean with T = 0 raised ZeroDivisionError and with T < 0 gave the least likely colours; ab_gamut_bins(0)
    gave one bin and a negative grid mirrored cells."""
    from vidcolor.color import ab_gamut_bins, annealed_mean

    L, ab = np.full((2, 4, 4), 50, np.float32), np.zeros((2, 2, 2, 2), np.float32)
    for bad_L, bad_ab in [(L[0], ab[0]), (L[:1], ab), (L, ab[..., :1])]:
        with pytest.raises(ValueError, match=r"^expected L \(N, H, W\) and ab \(N, h, w, 2\) of one N, got L float32"):
            recombine(bad_L, bad_ab)
    logits, bins = np.random.default_rng(0).normal(size=(1, 4, 2, 2)).astype(np.float32), np.eye(4, 2, dtype=np.float32)
    for t in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"^temperature must be > 0, got"):
            annealed_mean(logits, bins, t)
    with pytest.raises(ValueError, match=r"^bins must be \(Q, 2\) for the Q = 4 scores of logits \(1, 4, 2, 2\), "
                                         r"got \(5, 2\)$"):
        annealed_mean(logits, np.zeros((5, 2), np.float32))
    for grid in (0, -5.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"^grid must be a finite number > 0, got"):
            ab_gamut_bins(grid)


def _peak_bytes_per_pixel(fn, pixels: int) -> float:
    """Peak bytes that ``fn()`` allocates (NumPy's and OpenCV's arrays both: tracemalloc sees them), per pixel."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / pixels
    finally:
        tracemalloc.stop()


def test_conversions_are_opencvs_formulas_bit_for_bit_with_fewer_temporaries():
    """rgb_to_lab, lab_to_rgb and recombine convert in place (stop 71): the same arrays as the plain formulas (8-bit
    colours, and LAB beyond the gamut), without their frame-sized temporaries (12 bytes a pixel each): rgb_to_lab
    had 24 bytes a pixel at its peak, lab_to_rgb 36, recombine 48."""
    v = np.arange(256, dtype=np.uint8)
    rgb = np.stack(np.meshgrid(v[::15], v, v, indexing="ij"), -1)      # 18 frames of 256x256: all G and B, R by 15
    lab = rgb_to_lab(rgb)
    assert np.array_equal(lab, cv2.cvtColor((rgb.astype(np.float32) * (1.0 / 255.0)).reshape(-1, 256, 3),
                                            cv2.COLOR_RGB2LAB).reshape(rgb.shape))
    lab = np.concatenate([lab, lab * np.float32(1.3) + np.float32(2.0)])    # out of gamut, clipped
    kept = lab.copy()
    for dtype, peak in ((np.uint8, 255.0), (np.uint16, 65535.0)):
        plain = np.clip(cv2.cvtColor(lab.reshape(-1, 256, 3), cv2.COLOR_LAB2RGB) * peak + 0.5, 0, peak).astype(dtype)
        assert np.array_equal(lab_to_rgb(lab, dtype), plain.reshape(lab.shape))
        assert np.array_equal(lab, kept)                                  # overwrite=False: left as it was
        assert np.array_equal(recombine(lab[..., 0], lab[..., 1:], dtype), plain.reshape(lab.shape))
    small = lab[:2, :64, :64]
    px = small.size // 3
    L, ab, part = np.ascontiguousarray(small[..., 0]), np.ascontiguousarray(small[..., 1:]), rgb[:2, :64, :64].copy()
    assert _peak_bytes_per_pixel(lambda: rgb_to_lab(part), px) < 12.5
    assert _peak_bytes_per_pixel(lambda: lab_to_rgb(small), px) < 15.5            # its RGB, then the uint8
    assert _peak_bytes_per_pixel(lambda: recombine(L, ab), px) < 15.5             # its LAB, then the uint8
    copy = small.copy()
    lab_to_rgb(copy, overwrite=True)
    assert not np.array_equal(copy, small)                                       # converted where it was


def test_recombine_takes_any_layout_and_float_dtype_as_the_concatenation(random_rgb):
    """recombine interleaves float32 L and ab with OpenCV's merge; strided, reversed and float64 or float16 arrays give
    what the concatenation of L and ab did."""
    lab = rgb_to_lab(random_rgb)
    want = lab_to_rgb(lab)
    L, ab = lab[..., 0], lab[..., 1:]                                 # strided views
    assert np.array_equal(recombine(L, ab), want)
    assert np.array_equal(recombine(L[:, ::-1], ab[:, ::-1]), want[:, ::-1])
    assert np.array_equal(recombine(L[:1, :, ::-1], ab[:1, :, ::-1]), want[:1, :, ::-1])
    planar = np.ascontiguousarray(ab.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)   # a network's layout
    assert np.array_equal(recombine(L, planar), want) and np.array_equal(recombine(L[:1], planar[:1]), want[:1])
    for dtype in (np.float64, np.float16):
        plain = lab_to_rgb(np.concatenate([L.astype(dtype)[..., None], ab.astype(dtype)], -1))
        assert np.array_equal(recombine(L.astype(dtype), ab.astype(dtype)), plain)
    assert np.array_equal(recombine(L.astype(np.float64), ab), want)


@pytest.mark.parametrize("mode", ["lab", "ab", "rgb"])
def test_model_input_channels_first_is_the_formula_on_each_plane(random_rgb, mode):
    """The network's layout, (N, 3, H, W), is the formula on the frames' planes bit for bit (LAB planes split by OpenCV
    into the output, then scaled in place)."""
    x = model_input(random_rgb, mode, channels_first=True)
    assert x.shape == (2, 3, 17, 23) and x.dtype == np.float32 and x.flags.c_contiguous
    if mode == "rgb":
        want = random_rgb.astype(np.float32) * np.float32(1 / 127.5) + np.float32(-1.0)
    else:
        lab = rgb_to_lab(random_rgb)
        want = lab * np.array([1 / 50, 1 / AB_SCALE, 1 / AB_SCALE], np.float32) + np.array([-1.0, 0, 0], np.float32)
    assert np.array_equal(x, want.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(x.transpose(0, 2, 3, 1), model_input(random_rgb, mode), atol=1e-6)
    if mode != "rgb":       # one frame's LAB at a time besides the output: the batch's had been 24 bytes a pixel
        frames = np.random.default_rng(5).integers(0, 256, (8, 64, 96, 3), dtype=np.uint8)
        assert _peak_bytes_per_pixel(lambda: model_input(frames, mode, channels_first=True), frames.size // 3) < 16
        with pytest.raises(ValueError, match="uint8"):
            model_input(random_rgb[0], mode, channels_first=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_denormalize_planes_is_the_formula_on_each_plane_bit_for_bit(dtype):
    """ab interleaved by OpenCV's merge, then shifted and scaled in place: what the plane-by-plane formula gives, for a
    network's (N, 3, H, W) output's last two channels (a strided view) and for half and double precision."""
    y = np.random.default_rng(4).uniform(-1.3, 1.3, (2, 3, 17, 23)).astype(dtype)
    y[0, 1, 0, :3] = (0.0, -0.0, 1.0)
    L, ab = denormalize_planes(y[:, 0], y[:, 1:])
    f = y.astype(np.float32)
    assert np.array_equal(L, (f[:, 0] - np.float32(-1.0)) / np.float32(1 / 50))
    want = (f[:, 1:] - np.float32(0.0)) / np.float32(1 / AB_SCALE)
    assert ab.dtype == np.float32 and ab.flags.c_contiguous and np.array_equal(ab, want.transpose(0, 2, 3, 1))
