"""CIE LAB (D65) conversions and luminance/colour recombination.

Two families of the same conversion live here:

* NumPy/OpenCV on uint8 RGB for the inference path (``rgb_to_lab``, ``lab_to_rgb``): batched by
  reshaping ``(N, H, W, 3)`` into one tall image, about 40x faster than kornia's on CPU.
* Differentiable torch versions for training losses (``lab_to_rgb_torch``), via kornia.

Channel ranges: L in [0, 100]; a and b in roughly [-128, 127] (sRGB gamut spans about
a in [-86, 98], b in [-108, 95]). Networks see normalised values: ``L / 50 - 1`` and ``ab / 110``
(see :func:`normalize_lab`).
"""
from __future__ import annotations

import functools
from typing import Iterator

import cv2
import numpy as np

from vidcolor.arrays import check_rgb, described

AB_SCALE = 110.0
"""Divisor that maps ab into about [-1, 1] for the networks."""

PEAK = {np.uint8: 255.0, np.uint16: 65535.0}
"""White of RGB samples per dtype: 8-bit frames, and 16-bit ones of sources with more than 8 bits per sample
(:func:`lab_to_rgb`, :func:`lightness16`)."""


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB to CIE LAB (D65).

    Args:
        rgb: uint8 array ``(..., H, W, 3)`` in RGB order, any number of leading dims.

    Returns:
        float32 array of the same shape: L in [0, 100]; over all 256^3 colours a in [-86.2, 98.2] and b in
        [-107.9, 94.5] (measured). OpenCV's float conversion: within 0.19 of L, 0.47 of a and 0.33 of b of
        scikit-image's float64 ``rgb2lab`` over all 256^3 colours (the measures use that one:
        :mod:`vidcolor.metrics.image`); neutral grays get up to 0.14 of chroma.

    Raises:
        ValueError: if ``rgb`` is not a NumPy array, its dtype is not uint8, it has fewer than 3 dims, the last
            is not 3, or it is empty.

    Example:
        >>> rgb_to_lab(np.full((1, 1, 3), 255, np.uint8))[0, 0].round(1)
        array([100.,   0.,   0.], dtype=float32)
    """
    check_rgb(rgb)
    flat = rgb.reshape(-1, rgb.shape[-2], 3).astype(np.float32, order="C")
    flat *= 1.0 / 255.0                             # in place: float32 as ``flat * (1.0 / 255.0)`` is
    return cv2.cvtColor(flat, cv2.COLOR_RGB2LAB, dst=flat).reshape(rgb.shape)   # a pixel at a time: in place too


@functools.lru_cache(maxsize=1)
def _luminance16() -> np.ndarray:
    """float32 ``(3, 65536)``: each 16-bit sRGB sample's contribution to the relative luminance Y (linearized by
    the sRGB transfer function in float64, times its channel's row of OpenCV's sRGB D65 RGB -> XYZ matrix, whose Y
    row is 0.212671, 0.715160, 0.072169)."""
    v = np.arange(65536) / 65535.0
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return (np.array([0.212671, 0.715160, 0.072169])[:, None] * linear).astype(np.float32)


def lightness16(rgb: np.ndarray) -> np.ndarray:
    """CIE L* (D65) of uint16 sRGB ``(..., 3)`` (0..65535: frames of a source of more than 8 bits per sample), float32
    ``(...)`` in [0, 100], from the samples' full precision: Y by :func:`_luminance16`'s tables, then
    ``116 Y^(1/3) - 16`` (``903.3 Y`` at most 0.008856), as OpenCV defines L. OpenCV's float RGB -> LAB, which
    :func:`rgb_to_lab` uses, interpolates a table: of 3,001 grays between 0.1 and 0.9 it gave 410 distinct L (0.23
    off at most), banding what the 16 bits held; its LAB -> RGB (:func:`lab_to_rgb`) is exact to 0.12 of a 16-bit
    level, and gives these grays back. About 13 bytes of temporaries a pixel."""
    table = _luminance16()
    y = table[0][rgb[..., 0]]
    y += table[1][rgb[..., 1]]
    y += table[2][rgb[..., 2]]
    dark = y <= np.float32(0.008856)
    L = np.cbrt(y)
    L *= np.float32(116.0)
    L -= np.float32(16.0)
    L[dark] = y[dark] * np.float32(903.3)
    return L


def lab_to_rgb(lab: np.ndarray, dtype: type = np.uint8, overwrite: bool = False) -> np.ndarray:
    """Convert CIE LAB (D65) to sRGB uint8 (or uint16, 0..65535, with ``dtype``), clipping out-of-gamut colours.

    Args:
        lab: float32 array ``(..., H, W, 3)``: L in [0, 100], a and b in LAB units (about [-128, 127]). Values
            outside are not refused: they clip (L 150 gives white, L -50 black), as out-of-gamut colours do.
        dtype: ``np.uint8`` or ``np.uint16`` (a key of :data:`PEAK`).
        overwrite: ``lab`` may be overwritten (a float32 C-contiguous one is then converted in place, without a
            temporary of its size); False: it is left as it is.

    Returns:
        ``dtype`` array of the same shape, RGB order, rounded to nearest. :func:`rgb_to_lab` then this gives every
        uint8 colour back within 1 level (98.1% of the 256^3 exactly).

    Raises:
        ValueError: if ``lab`` is not a NumPy array of floats (float32; float16 and float64 are converted), has
            fewer than 3 dims, the last is not 3, it is empty, or a value is NaN or infinite.
    """
    if not isinstance(lab, np.ndarray) or not np.issubdtype(lab.dtype, np.floating) or lab.ndim < 3 \
            or lab.shape[-1] != 3 or lab.size == 0:
        raise ValueError(f"expected float32 LAB (..., H, W, 3), not empty, got {described(lab)}")
    flat = np.ascontiguousarray(lab, dtype=np.float32).reshape(-1, lab.shape[-2], 3)
    if not np.isfinite(flat).all():                 # about 1.1 ms a 1080p frame, 7% of the conversion
        raise ValueError("LAB values must be finite numbers: got NaN or infinity")
    # in place where flat is a copy (or the caller said lab may be overwritten): a frame-sized temporary less
    rgb = cv2.cvtColor(flat, cv2.COLOR_LAB2RGB, dst=flat if overwrite or not np.may_share_memory(flat, lab) else None)
    peak = PEAK[np.dtype(dtype).type]
    rgb *= peak                                     # rgb * peak + 0.5, clipped, in place: the same float32 values
    rgb += 0.5
    np.clip(rgb, 0, peak, out=rgb)
    return rgb.astype(dtype).reshape(lab.shape)


_LAB_SCALE = np.array([1.0 / 50.0, 1.0 / AB_SCALE, 1.0 / AB_SCALE], np.float32)
_LAB_SHIFT = np.array([-1.0, 0.0, 0.0], np.float32)


def normalize_lab(lab: np.ndarray) -> np.ndarray:
    """Map LAB ``(..., 3)`` (any float or int array; L in [0, 100], ab in LAB units, not checked) to network
    range: ``L / 50 - 1`` and ``ab / 110`` (about [-1, 1]), a new float32 array of the same shape.

    Raises:
        ValueError: (numpy's broadcasting) the last axis is not 3."""
    out = np.multiply(lab, _LAB_SCALE, dtype=np.float32)
    out += _LAB_SHIFT
    return out


def denormalize_planes(L_n: np.ndarray, ab_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`normalize_lab` on a network's channel-first planes, each channel scaled as a whole
    plane: network range back to L in [0, 100], ab in LAB units.

    Args:
        L_n: float32 ``(N, H, W)``, normalized L (``L / 50 - 1``).
        ab_n: float32 ``(N, 2, H, W)``, normalized a and b (``ab / 110``).

    Returns:
        ``(L, ab)``: contiguous float32 ``(N, H, W)`` (``(L_n + 1) * 50``: in [0, 100] when ``L_n`` is in
        [-1, 1]; not clipped) and ``(N, H, W, 2)`` in LAB units (``ab_n * 110``) (interleaved by OpenCV a frame at a
        time, then scaled in place: no arithmetic on strided views).

    Not checked (the pipeline's own network outputs): ``ab_n`` must have 2 channels on axis 1, as numpy's
    errors say otherwise.
    """
    L = np.subtract(L_n, _LAB_SHIFT[0], dtype=np.float32)
    L /= _LAB_SCALE[0]
    ab = np.empty((*ab_n.shape[:1], *ab_n.shape[2:], 2), np.float32)
    ab_n = np.asarray(ab_n, np.float32)             # OpenCV's merge writes into ab only from planes of its dtype
    for out, planes in zip(ab, ab_n):
        cv2.merge([planes[0], planes[1]], out)      # with the scaling 0.5 ms a 640x360 frame (0.8-1.1 on strided views)
    ab -= _LAB_SHIFT[1]                             # a's and b's shift and scale are one
    ab /= _LAB_SCALE[1]
    return L, ab


def model_input(rgb: np.ndarray, mode: str, channels_first: bool = False) -> np.ndarray:
    """Encode uint8 RGB ``(..., H, W, 3)`` as a generator's input, float32 of the same shape.

    ``mode`` ``rgb``: RGB in [-1, 1] (``x / 127.5 - 1``); ``lab`` / ``ab`` (any mode other than ``rgb``):
    :func:`normalize_lab` of :func:`rgb_to_lab`, ``(L / 50 - 1, a / 110, b / 110)``.
    ``channels_first``: ``(N, H, W, 3)`` in (exactly 4 dims), ``(N, 3, H, W)`` out (a network's layout), the
    scaling done on whole channel planes (about 2x faster than on interleaved pixels).

    Raises:
        ValueError: in a LAB mode, ``rgb`` is not uint8 RGB (:func:`rgb_to_lab`; with ``channels_first``, not 4 dims
            or empty). Mode ``rgb`` does not check the array: any numeric array is taken as 0..255.
    """
    if not channels_first:
        return rgb.astype(np.float32) / 127.5 - 1.0 if mode == "rgb" else normalize_lab(rgb_to_lab(rgb))
    if mode == "rgb":
        x = np.ascontiguousarray(rgb.transpose(0, 3, 1, 2), dtype=np.float32)
    else:       # a frame at a time (one frame's LAB, not the batch's), split into its planes by OpenCV, in place
        check_rgb(rgb, (4,))
        x = np.empty((rgb.shape[0], 3, *rgb.shape[1:3]), np.float32)
        for frame, planes in zip(rgb, x):
            cv2.split(rgb_to_lab(frame), list(planes))
    scale, shift = (np.full(3, 1 / 127.5, np.float32), np.full(3, -1.0, np.float32)) if mode == "rgb" else \
        (_LAB_SCALE, _LAB_SHIFT)
    for c in range(3):
        x[:, c] *= scale[c]
        x[:, c] += shift[c]
    return x


def resize_ab(ab: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize colour channels ``(N, h, w, 2)`` float32 (LAB units) to ``(N, H, W, 2)`` float32 for
    ``size = (H, W)`` pixels (OpenCV bilinear, half-pixel centres; ``ab`` itself when already that size);
    colour is smooth, so predicting it at a working resolution and upsampling loses little (METHODS.md,
    recombination). Not checked (the pipeline's own arrays): a float64 ``ab`` comes back float64; a size with a
    side < 1 or not an integer raises OpenCV's ``cv2.error``."""
    h, w = size
    if ab.shape[1:3] == (h, w):
        return ab
    return np.stack([cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR) for x in ab])


def resize_ab_rows(ab: np.ndarray, size: tuple[int, int], strips: list[tuple[int, int]]) -> Iterator[np.ndarray]:
    """One frame's colour channels resized as :func:`resize_ab` resizes them, a strip of rows at a time, so that
    only a strip is ever at full resolution: bit for bit the rows of the whole-frame resize, at every seam.

    OpenCV's bilinear resize is separable: each source row is resized to the full width (coefficients that depend on
    the widths alone), then each output row ``y`` is ``row[sy] * (1 - fy) + row[sy + 1] * fy`` (float32, rows
    clamped to the image) with ``fy = float32((y + 0.5) * h / H - 0.5)`` and ``sy = floor(fy)`` (the fraction
    ``fy - sy`` in float32). Here the first pass is OpenCV's own (``h`` rows to width ``W``, held while the
    strips are made: ``8 h W`` bytes) and the second is that formula in NumPy on each strip's rows. A frame in one
    strip is resized whole; an exact halving of both sides, which OpenCV averages 2x2 blocks for, takes each
    strip's source rows.

    Args:
        ab: float32 ``(h, w, 2)``, a and b in LAB units.
        size: ``(H, W)``, the frame's height and width.
        strips: half-open row ranges ``(y0, y1)`` within ``0 .. H``.

    Yields:
        float32 ``(y1 - y0, W, 2)`` for each strip, in order: rows ``y0:y1`` of ``resize_ab(ab[None], size)[0]``.
    """
    (h, w), (H, W) = ab.shape[:2], size
    if (h, w) == (H, W) or list(strips) == [(0, H)]:
        whole = resize_ab(ab[None], size)[0]
        yield from (whole[y0:y1] for y0, y1 in strips)
        return
    if (h, w) == (2 * H, 2 * W):        # OpenCV's INTER_AREA fast path: each output pixel from its own 2x2 block
        yield from (cv2.resize(ab[2 * y0:2 * y1], (W, y1 - y0), interpolation=cv2.INTER_LINEAR) for y0, y1 in strips)
        return
    wide = cv2.resize(ab, (W, h), interpolation=cv2.INTER_LINEAR)          # (h, W, 2): the horizontal pass
    fy = ((np.arange(H) + 0.5) * (1.0 / (H / h)) - 0.5).astype(np.float32)  # as OpenCV: 1 / (double(H) / h)
    sy = np.floor(fy)
    fy -= sy
    sy = sy.astype(np.int64)
    above, below = np.clip(sy, 0, h - 1), np.clip(sy + 1, 0, h - 1)
    for y0, y1 in strips:
        rows = wide[above[y0:y1]]
        rows *= (np.float32(1) - fy[y0:y1])[:, None, None]
        lower = wide[below[y0:y1]]
        lower *= fy[y0:y1, None, None]
        rows += lower
        yield rows


def recombine(L: np.ndarray, ab: np.ndarray, dtype: type = np.uint8) -> np.ndarray:
    """Colour entanglement (Pix2Pix-FQ, seed 000 section 3.1): join source L with predicted ab.

    Args:
        L: float32 ``(N, H, W)`` luminance in [0, 100] at full resolution.
        ab: float32 ``(N, h, w, 2)`` colour channels in LAB units; resized (bilinear, :func:`resize_ab`) to
            ``(H, W)`` when the generator worked at another resolution.

        dtype: of the result, ``np.uint8`` or ``np.uint16`` (0..65535: frames of a source with more than 8 bits).

    Returns:
        ``dtype`` RGB ``(N, H, W, 3)`` (out-of-gamut colours clipped, :func:`lab_to_rgb`).

    Raises:
        ValueError: ``L`` is not ``(N, H, W)`` or ``ab`` not ``(N, h, w, 2)`` of the same N (were numpy's
            'not enough values to unpack' or its concatenate's error), or a NaN or infinite value (:func:`lab_to_rgb`).
    """
    if not (isinstance(L, np.ndarray) and isinstance(ab, np.ndarray) and L.ndim == 3 and ab.ndim == 4
            and ab.shape[-1] == 2 and len(ab) == len(L)):
        raise ValueError(f"expected L (N, H, W) and ab (N, h, w, 2) of one N, got L {described(L)}, ab {described(ab)}")
    ab = resize_ab(ab, L.shape[1:])
    if L.dtype == ab.dtype == np.float32:           # OpenCV's interleaving: 6x the speed of np.concatenate's
        lab = cv2.merge([L.reshape(-1, L.shape[-1]), ab.reshape(-1, *ab.shape[-2:])]).reshape(*L.shape, 3)
    else:
        lab = np.concatenate([L[..., None], ab], axis=-1)
    return lab_to_rgb(lab, dtype, overwrite=True)


DARK_L = 8.0
"""Pixels darker than this L get their chroma cut to the sRGB gamut's (:func:`limit_dark_chroma`): there the gamut
narrows to a point at black, and a predicted colour outside it, clipped channel by channel, lifts black."""

_DARK_L_BINS, _DARK_HUE_BINS = 32, 72


@functools.lru_cache(maxsize=1)
def _dark_gamut() -> np.ndarray:
    """The largest chroma per unit of L of any 8-bit sRGB colour in each (L, hue) cell below :data:`DARK_L`
    (float32 ``(L bins, hue bins)``, L bins :data:`DARK_L` / 32 wide, hue bins 5 degrees; near black the gamut's
    chroma grows in proportion to L), each cell taking the largest of itself, its next lighter cell and its two
    hue neighbours, so that no real colour is cut. Made from every colour that can be that dark (R <= 57, G <= 28,
    B <= 99: their Y is 0.0089 at most), through :func:`rgb_to_lab`."""
    rgb = np.stack(np.meshgrid(np.arange(58), np.arange(29), np.arange(100), indexing="ij"), -1).reshape(1, -1, 3)
    lab = rgb_to_lab(rgb.astype(np.uint8))[0]
    lab = lab[(lab[:, 0] < DARK_L) & (lab[:, 0] > 0)]
    li = np.minimum((lab[:, 0] * (_DARK_L_BINS / DARK_L)).astype(np.int64), _DARK_L_BINS - 1)
    hi = np.rint(np.arctan2(lab[:, 2], lab[:, 1]) * (_DARK_HUE_BINS / (2 * np.pi))).astype(np.int64) % _DARK_HUE_BINS
    table = np.zeros((_DARK_L_BINS + 1, _DARK_HUE_BINS), np.float32)
    np.maximum.at(table, (li, hi), np.hypot(lab[:, 1], lab[:, 2]) / lab[:, 0])
    table = np.maximum(table[:-1], table[1:])                                     # the next lighter cell
    return np.maximum(table, np.maximum(np.roll(table, 1, 1), np.roll(table, -1, 1)))   # hue neighbours


def limit_dark_chroma(L: np.ndarray, ab: np.ndarray) -> None:
    """In place: the chroma of pixels darker than :data:`DARK_L` cut to the largest that an sRGB colour of their L
    and hue has (:func:`_dark_gamut` x L), so that black stays black: predicted ab on a film's black bars (L 0) came
    out RGB (2, 0, 6), up to (13, 1, 10), once clipped channel by channel. Real colours keep theirs.

    Args:
        L: float32 ``(..., H, W)`` in [0, 100]; ab: float32 ``(..., H, W, 2)`` in LAB units, changed in place.

    Not checked (the pipeline's own arrays): ``L`` and ``ab``'s leading shapes must agree (numpy's IndexError
    otherwise).
    """
    dark = L < DARK_L
    if not dark.any():
        return
    a, b = ab[dark, 0], ab[dark, 1]
    li = np.minimum((L[dark] * (_DARK_L_BINS / DARK_L)).astype(np.int64), _DARK_L_BINS - 1)
    hi = np.rint(np.arctan2(b, a) * (_DARK_HUE_BINS / (2 * np.pi))).astype(np.int64) % _DARK_HUE_BINS
    scale = np.minimum(1.0, _dark_gamut()[li, hi] * L[dark] / np.maximum(np.hypot(a, b), 1e-6))
    ab[dark] *= scale[:, None]


def reinhard_transfer(target: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Global colour transfer (Reinhard et al. 2001, "Color Transfer between Images", eq. 10-11).

    Each LAB channel of ``target`` is shifted and scaled so that its mean and standard deviation
    match the reference's: ``x' = (x - mu_t) * sigma_r / sigma_t + mu_r``. The paper works in its
    l-alpha-beta space; CIE LAB is used here (the usual variant). For a gray target the a/b spread is
    zero, so its colour becomes the reference's mean colour (a cast): the baseline for exemplar mode.

    Args:
        target: uint8 RGB ``(..., H, W, 3)`` (a frame or a stack, statistics pooled over all of it).
        reference: uint8 RGB ``(H', W', 3)`` (a stack ``(..., H', W', 3)`` is pooled the same way).

    Returns:
        uint8 RGB of ``target``'s shape (L clipped to [0, 100], then out-of-gamut colours clipped).

    Raises:
        ValueError: either is not uint8 RGB (:func:`rgb_to_lab`).
    """
    t, r = rgb_to_lab(target), rgb_to_lab(reference)
    mu_t, sd_t = t.reshape(-1, 3).mean(0), t.reshape(-1, 3).std(0)
    mu_r, sd_r = r.reshape(-1, 3).mean(0), r.reshape(-1, 3).std(0)
    out = (t - mu_t) * (sd_r / np.maximum(sd_t, 1e-3)) + mu_r
    out[..., 0] = np.clip(out[..., 0], 0, 100)
    return lab_to_rgb(out.astype(np.float32))


def ab_gamut_bins(grid: float = 10.0) -> np.ndarray:
    """Centres of the ab grid cells that the sRGB gamut reaches (Zhang et al. 2016, section 2.1).

    Every 4th level of each RGB channel (64^3 colours) is converted to LAB and binned on a square ab
    grid of cell size ``grid``; the cells hit form the output classes of colorizers that classify ab.
    Deterministic: 254 cells for ``grid=10`` (Zhang et al. keep 313 with a looser gamut test; all 256^3
    colours reach 266 cells, the 12 missed here are slivers at the gamut's edge).

    Returns:
        float32 ``(Q, 2)`` ab centres, sorted (a, then b).

    Raises:
        ValueError: ``grid`` is not a finite number > 0 (0 gave one bin, a negative grid mirrored cells, NaN one bin).
    """
    if not 0 < grid < np.inf:
        raise ValueError(f"grid must be a finite number > 0, got {grid}")
    v = np.arange(0, 256, 4, dtype=np.uint8)
    rgb = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(1, -1, 3)
    ab = rgb_to_lab(rgb)[0, :, 1:]
    # one int64 key per (a, b) cell, ordered as the pair is: np.unique on rows (axis=0) took 0.4 s here
    cells = np.floor(ab / grid).astype(np.int64) + _CELL_OFFSET
    keys = np.unique(cells[:, 0] * _CELL_STRIDE + cells[:, 1])
    cells = np.stack([keys // _CELL_STRIDE, keys % _CELL_STRIDE], axis=1) - _CELL_OFFSET
    return ((cells + 0.5) * grid).astype(np.float32)


_CELL_OFFSET, _CELL_STRIDE = 1 << 20, 1 << 21   # cell indices shifted to >= 0 and packed two to a key


def annealed_mean(logits, bins, temperature: float = 0.38):
    """Point estimate of ab from a distribution over ab bins (Zhang et al. 2016, eq. 5).

    ``f_T(z) = exp(log z / T) / sum_q exp(log z_q / T)``, then the expectation of the bin centres.
    T = 1 gives the mean (desaturated), T -> 0 the mode (colourful, patchy); 0.38 is the paper's.

    Args:
        logits: float ``(N, Q, H, W)``, unnormalised scores over the Q bins: a torch tensor (training:
            differentiable) or a NumPy array (inference: no torch needed).
        bins: float ``(Q, 2)`` ab centres (:func:`ab_gamut_bins`), of the same kind as ``logits``.
        temperature: T > 0 (a float; T = inf gives the plain mean of the bins).

    Returns:
        float ``(N, 2, H, W)``, ab in LAB units, of the same kind as ``logits`` (NumPy: float32 for float32
        or float16 logits, float64 for float64), within the convex hull of ``bins``.

    Raises:
        ValueError: ``temperature`` is not > 0 (0 was a ZeroDivisionError; a negative T gave the least likely
            colours, NaN all NaN), or ``bins`` is not ``(Q, 2)`` for the Q of ``logits`` (was matmul's error).
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n, q, h, w = logits.shape
    if tuple(bins.shape) != (q, 2):
        raise ValueError(f"bins must be (Q, 2) for the Q = {q} scores of logits {tuple(logits.shape)}, got "
                         f"{tuple(bins.shape)}")
    if isinstance(logits, np.ndarray):
        with np.errstate(over="ignore", invalid="ignore"):     # a tiny T: see below
            z = logits.reshape(n, q, h * w) * np.float32(1.0 / temperature)
            z -= z.max(1, keepdims=True)
        np.exp(z, out=z)
        ab = np.matmul(bins.T.astype(z.dtype), z)    # the normalisation after the sum: 2 rows, not Q
        ab /= z.sum(1)[:, None]
        if not np.isfinite(ab).all():
            # T so small (1e-40) that logits / T overflowed float32, inf - inf = NaN: the maximum subtracted
            # first, then a finite scale, gives the limit, the mode (its scores 0, every other one -inf).
            z = logits.reshape(n, q, h * w).astype(np.result_type(logits.dtype, np.float32))
            z -= z.max(1, keepdims=True)
            with np.errstate(over="ignore"):
                z *= np.float32(min(1.0 / temperature, float(np.finfo(np.float32).max)))
            np.exp(z, out=z)
            ab = np.matmul(bins.T.astype(z.dtype), z)
            ab /= z.sum(1)[:, None]
        return ab.reshape(n, 2, h, w)
    import torch

    weights = torch.softmax(logits.reshape(n, q, h * w) / temperature, dim=1)
    return torch.matmul(bins.T.to(weights.dtype), weights).reshape(n, 2, h, w)   # a batched GEMM: 2x the einsum's speed


def resultant_length(logits: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Per-pixel agreement in hue of a distribution over ab bins: ``|E[ab]| / E[|ab|]`` under the
    softmax of ``logits`` (T = 1), in [0, 1].

    The chroma-weighted mean resultant length of circular statistics (Mardia & Jupp, "Directional
    Statistics", 2000, chapter 2): 1 when all the mass lies in one hue direction, near 0 when it is spread
    round the hue circle (or sits on gray). :class:`~vidcolor.pipeline.Colorizer` can colour less where it
    is low (its ``confidence``).

    Args:
        logits: float ``(N, Q, H, W)`` NumPy array, unnormalised scores over the Q bins.
        bins: float ``(Q, 2)`` ab centres (:func:`ab_gamut_bins`).

    Returns:
        float32 ``(N, H, W)``.

    Raises:
        ValueError: (numpy's matmul) ``bins`` is not ``(Q, 2)`` for the Q of ``logits``; not checked otherwise.
    """
    n, q, h, w = logits.shape
    z = logits.reshape(n, q, h * w)
    z = np.subtract(z, z.max(1, keepdims=True), dtype=np.float32)   # a new array: the logits stay as they are
    np.exp(z, out=z)
    b = bins.astype(np.float32)
    moments = np.matmul(np.concatenate([b.T, np.hypot(b[:, :1], b[:, 1:]).T]), z)   # E[a], E[b], E[|ab|], unnormalised
    return (np.hypot(moments[:, 0], moments[:, 1]) / np.maximum(moments[:, 2], 1e-12)).reshape(n, h, w)


def lab_to_rgb_torch(lab_n):
    """Differentiable CIE LAB (D65) -> gamma-encoded sRGB conversion for losses (kornia's ``lab_to_rgb``).

    Args:
        lab_n: float tensor ``(N, 3, H, W)`` in network range (``L / 50 - 1``, ``ab / 110``).

    Returns:
        float tensor ``(N, 3, H, W)``, sRGB in [0, 1], clipped (kornia applies the sRGB gamma after the XYZ
        matrix; the gradient is zero where a channel is clipped).

    Raises:
        ImportError: kornia is not installed.
        ValueError: (kornia) ``lab_n`` is not ``(..., 3, H, W)``.
    """
    import kornia.color
    import torch

    lab = torch.cat([(lab_n[:, :1] + 1.0) * 50.0, lab_n[:, 1:] * AB_SCALE], dim=1)
    return kornia.color.lab_to_rgb(lab, clip=True)

