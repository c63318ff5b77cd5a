"""Image quality measures between an output and its ground truth, and colourfulness of one image.

All functions take uint8 RGB arrays ``(..., H, W, 3)`` (a frame or a stack of frames; another dtype, a last axis
other than 3, fewer than 3 dims or an empty array is a ValueError); the two-image measures need equal shapes. Each
takes an optional ``mask``, bool ``(..., H, W)`` of the arrays' leading shape (True: the pixel counts), to score
only some pixels (the opaque ones of an image with alpha); a mask of another dtype counts its nonzero pixels (an
alpha channel: those with alpha > 0); a mask that selects no pixel is a ValueError. Errors name the argument
(``a: expected uint8 RGB ...``, ``a and b differ in shape: ...``). Sources: PSNR/MSE/MAE and pixel accuracy as
listed by seed 003 (its "Evaluation Metric" section), SSIM (Wang et al. 2004), CIEDE2000 (Sharma et al. 2005),
colourfulness (Hasler & Suesstrunk 2003).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

from vidcolor.arrays import check_rgb

__all__ = ["ACCURACY_THRESHOLD", "ab_histogram_intersection", "channel_bias", "ciede2000", "colourfulness", "mae", "mse", "pixel_accuracy",
           "psnr", "ssim"]

SSIM_WINDOW = 7
"""Side of :func:`ssim`'s square window (skimage's default), pixels: the smallest frame it scores."""

ACCURACY_THRESHOLD = 0.05 * 255
"""Default tolerance of :func:`pixel_accuracy`, in 8-bit levels: 5% of the full scale (12.75 levels)."""


def _lab_exact(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB ``(..., H, W, 3)`` -> CIE LAB (D65) float64 of the same shape, L in [0, 100], by
    ``skimage.color.rgb2lab`` in float64: the measures' conversion. The pipeline's :func:`vidcolor.color.rgb_to_lab`
    (OpenCV, float32) is faster but off by up to 0.47 in a or b (neutral grays get up to 0.14 of chroma) and up to
    0.49 in CIEDE2000 (measured over all 256^3 colours), so a one-level gray step measured 0.57 instead of 0.39
    through it."""
    return rgb2lab(rgb)


def _check(a: np.ndarray, b: np.ndarray, names: tuple[str, str] = ("a", "b")) -> None:
    """Raise ValueError naming the argument (``names``) unless ``a`` and ``b`` are uint8 RGB of one shape."""
    check_rgb(a, name=names[0])     # a gray (H, W) image was read by ssim as W channels, an empty one gave nan
    check_rgb(b, name=names[1])
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} differ in shape: {a.shape} and {b.shape}")


def _check_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``mask`` as bool of the pixels' shape ``shape[:-1]`` (a ValueError otherwise, or when it selects none)."""
    mask = np.asarray(mask)
    if mask.shape != tuple(shape[:-1]):
        raise ValueError(f"mask shape {mask.shape} does not match the pixels {tuple(shape[:-1])}")
    mask = mask.astype(bool, copy=False)
    if not mask.any():
        raise ValueError("the mask selects no pixel")
    return mask


def _pixels(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None,
            names: tuple[str, str] = ("a", "b")) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` checked (:func:`_check`), and with a ``mask`` only the pixels it selects, ``(1, N, 3)``."""
    _check(a, b, names)
    if mask is None:
        return a, b
    mask = _check_mask(mask, a.shape)
    return a[mask][None], b[mask][None]                          # (1, N, 3): one row of N pixels


def mse(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared error over all pixels (those of ``mask``) and channels, in squared 8-bit levels (0..65025).

    Raises:
        ValueError: shapes differ, an array is not uint8, or a bad ``mask``.
    """
    a, b = _pixels(a, b, mask)
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr(a: np.ndarray | Sequence[np.ndarray], b: np.ndarray | Sequence[np.ndarray],
         mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(255^2 / MSE)``; inf when the MSE is 0.

    Args:
        a, b: uint8 RGB arrays of one shape ``(..., H, W, 3)``: the MSE is pooled over the whole array.
            For a video pass the whole stack: this is the PSNR of the pooled MSE (not the mean of
            per-frame PSNRs). Or two equal-length sequences (lists) of uint8 RGB arrays, of one shape
            pair by pair but of any sizes (photos): the MSE is the mean of the per-pair MSEs (each pair
            weighs the same, whatever its size; for equal sizes the same as pooling).
        mask: arrays only: bool ``(..., H, W)``, the pixels pooled (see the module).

    Raises:
        ValueError: shapes differ, an array is not uint8, the sequences are empty or differ in length, a bad
            ``mask``, or a mask with sequences.
    """
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        m = mse(a, b, mask)
    else:
        if mask is not None:
            raise ValueError("psnr takes a mask with two arrays, not with sequences")
        if len(a) != len(b) or not len(a):
            raise ValueError(f"expected two non-empty sequences of one length, got {len(a)} and {len(b)}")
        m = float(np.mean([mse(x, y) for x, y in zip(a, b)]))
    return float("inf") if m == 0 else float(10.0 * np.log10(255.0 ** 2 / m))


def ciede2000(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean CIEDE2000 colour difference (Sharma et al. 2005) between two sRGB images, in Delta-E units, over
    all pixels (those of ``mask``).

    About 1 is a just-noticeable difference; 0 means identical colours; black against white is 100. LAB by
    :func:`_lab_exact` (float64; until stop 59 OpenCV's float32 conversion, whose error moved a clip's mean by about
    0.01); the difference is ``skimage.color.deltaE_ciede2000``'s, which matches Sharma et al.'s test data to 5e-5
    (their table's rounding).

    Args:
        a, b: uint8 RGB ``(..., H, W, 3)`` of one shape; mask: as the module says.

    Returns:
        A float >= 0, in Delta-E (CIEDE2000) units.

    Raises:
        ValueError: shapes differ, an array is not uint8, or a bad ``mask``.
    """
    a, b = _pixels(a, b, mask)
    return float(np.mean(deltaE_ciede2000(_lab_exact(a), _lab_exact(b))))


def channel_bias(out: np.ndarray, ref: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Mean signed error ``out - ref`` per RGB channel over all pixels (those of ``mask``), float64 ``(3,)`` in
    8-bit levels.

    Raises:
        ValueError: shapes differ, an array is not uint8, or a bad ``mask``.
    """
    out, ref = _pixels(out, ref, mask, ("out", "ref"))
    return (out.astype(np.float64) - ref.astype(np.float64)).reshape(-1, 3).mean(0)


def mae(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute error over all pixels (those of ``mask``) and channels, in 8-bit levels (0..255).

    Seed 003 lists MAE (with MSE/RMSE) among the colorization measures.

    Raises:
        ValueError: shapes differ, an array is not uint8, or a bad ``mask``.
    """
    a, b = _pixels(a, b, mask)
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16)), dtype=np.float64))


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Structural similarity (Wang et al. 2004, eq. 13 with the mean SSIM of eq. 17), in [-1, 1]; 1 = identical.

    Computed by ``skimage.metrics.structural_similarity`` on the RGB image (``channel_axis=-1``, mean over
    the three channels, ``data_range=255``, 7x7 uniform window, sample covariances: skimage's defaults). Not
    Wang et al.'s own settings (11x11 Gaussian window, sigma 1.5: ``gaussian_weights=True,
    use_sample_covariance=False``), which score lower: 0.736 instead of 0.757 on 8 frames of DAVIS dog at 320x180
    through libx264 crf 32, 0.805 instead of 0.823 at 3 bits a channel; quote the window with the value. It
    equals an independent 7x7 implementation to 1e-15 on those frames. For a stack ``(..., H, W, 3)`` it is the
    mean over frames. H and W must be at least 7.

    With a ``mask``, each frame's value is the mean of its SSIM map over the masked pixels (inside the 3-pixel
    border skimage leaves out), over the frames that have any; the 7x7 windows of pixels next to unmasked ones
    still see those.

    Raises:
        ValueError: shapes differ, an array is not uint8, a frame is smaller than 7x7, or a bad ``mask``
            (none of it inside the border).
    """
    _check(a, b)
    if min(a.shape[-3:-1]) < SSIM_WINDOW:       # was skimage's text, which offers a win_size this function lacks
        raise ValueError(f"SSIM needs frames of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels (its window), got "
                         f"{a.shape[-2]}x{a.shape[-3]}")
    fa, fb = a.reshape(-1, *a.shape[-3:]), b.reshape(-1, *b.shape[-3:])
    if mask is None:
        return float(np.mean([structural_similarity(x, y, channel_axis=-1, data_range=255) for x, y in zip(fa, fb)]))
    fm = _check_mask(mask, a.shape).reshape(-1, *a.shape[-3:-1])
    values = []
    for x, y, m in zip(fa, fb, fm):
        inner = m[3:-3, 3:-3]                                   # skimage's mean leaves out (7 - 1) // 2 pixels
        if inner.any():
            smap = structural_similarity(x, y, channel_axis=-1, data_range=255, full=True)[1]
            values.append(smap[3:-3, 3:-3][inner].mean())
    if not values:
        raise ValueError("the mask selects no pixel inside the 3-pixel border of SSIM")
    return float(np.mean(values))


def pixel_accuracy(a: np.ndarray, b: np.ndarray, threshold: float = ACCURACY_THRESHOLD,
                   mask: np.ndarray | None = None) -> float:
    """Fraction of pixels whose colour is correct within ``threshold``, in [0, 1].

    Seed 003 defines accuracy as the percentage of correct pixels "with a certain threshold" (after Deep
    Colorization, Cheng et al. 2015) without fixing the number. Here a pixel is correct when every one
    of its three channels is within ``threshold`` 8-bit levels of the ground truth:
    ``mean_pixels[max_c |a - b| <= threshold]``. The default is 5% of the full scale (12.75 levels);
    quote the threshold with the value. With a ``mask``: the fraction of its pixels.

    Raises:
        ValueError: shapes differ, an array is not uint8, ``threshold`` is negative or NaN, or a bad ``mask``.
    """
    a, b = _pixels(a, b, mask)
    if not threshold >= 0:                                      # NaN fails too: it counted no pixel correct
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    err = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1)
    return float(np.mean(err <= threshold))


def colourfulness(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Colourfulness of Hasler & Suesstrunk (2003; their retained metric M^(3)), unitless (8-bit levels).

    With ``rg = R - G`` and ``yb = (R + G) / 2 - B`` over the pixels of one frame (uint8 values, float64
    arithmetic), ``M = sqrt(s_rg^2 + s_yb^2) + 0.3 sqrt(m_rg^2 + m_yb^2)`` (``s``: population standard
    deviation, ``m``: mean). 0 for a gray image; on the authors' scale about 15 is "slightly", 33
    "moderately", 59 "quite" and 82 "highly" colourful. For a stack ``(..., H, W, 3)``: the mean of the
    per-frame values. With a ``mask``: each frame's value over its masked pixels, the mean over the frames that
    have any.

    Raises:
        ValueError: ``rgb`` is not uint8 with a last dimension of 3, is empty, or a bad ``mask``.
    """
    check_rgb(rgb, name="rgb")
    if mask is not None:
        fm = _check_mask(mask, rgb.shape).reshape(-1, rgb.shape[-3] * rgb.shape[-2])
        frames = rgb.reshape(-1, rgb.shape[-3] * rgb.shape[-2], 3)
        return float(np.mean([colourfulness(x[m][None]) for x, m in zip(frames, fm) if m.any()]))
    x = rgb.reshape(-1, rgb.shape[-3] * rgb.shape[-2], 3).astype(np.float64)
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    m = np.hypot(rg.std(axis=1), yb.std(axis=1)) + 0.3 * np.hypot(rg.mean(axis=1), yb.mean(axis=1))
    return float(m.mean())


def ab_histogram_intersection(a: np.ndarray, b: np.ndarray, bin_size: float = 10.0) -> float:
    """Histogram intersection (Swain & Ballard 1991) of the ab colour distributions of two images.

    Each input's pixels (any sizes: ``(..., H, W, 3)`` uint8 RGB) are binned on an ab grid of
    ``bin_size`` LAB units over [-110, 110]^2, one bin centred on a = b = 0 (neutral pixels, whose ab is 0 up to
    the conversion's rounding, then never straddle a bin edge), and normalised; the result ``sum min(p, q)`` is in
    [0, 1]: 1 for identical colour distributions, 0 for disjoint ones. L is ignored.

    Raises:
        ValueError: an array is not uint8 RGB, or is empty; ``bin_size`` is not a finite number > 0.
    """
    for name, x in (("a", a), ("b", b)):
        check_rgb(x, name=name)
    if not 0 < bin_size < np.inf:
        raise ValueError(f"bin_size must be a finite number > 0, got {bin_size}")
    half = np.ceil(110.0 / bin_size - 0.5)
    edges = (np.arange(-half, half + 2) - 0.5) * bin_size      # ..., -bin/2, bin/2, ...: 0 is a bin's centre

    def hist(x: np.ndarray) -> np.ndarray:
        ab = _lab_exact(x.reshape(1, -1, 3))[0, :, 1:]
        h, _, _ = np.histogram2d(np.clip(ab[:, 0], -110, 110), np.clip(ab[:, 1], -110, 110), bins=(edges, edges))
        return h / h.sum()

    return float(np.minimum(hist(a), hist(b)).sum())
