"""Palettes recovered from pixels through the codec's noise (mode seeking on the colour histogram), the tests a palette
must pass, and the nearest palette colour of a pixel, for :func:`~vidcolor.quantizer.estimation.estimate` and the
projection onto a palette's cells."""
from __future__ import annotations

import numpy as np

from vidcolor.quantizer.stats import LUMA_WEIGHTS

PALETTE_MAX_COLOURS = 256
PALETTE_RADIUS = 6.0
"""Pixels within this RGB distance (levels) of a palette colour count as that colour (codec noise)."""

PALETTE_MIN_COVERAGE = 0.75
"""Share of the pixels within :data:`PALETTE_RADIUS` of the recovered palette needed to accept it."""

PALETTE_MIN_TIGHTNESS = 0.45
"""Of the pixels within :data:`PALETTE_RADIUS` of a palette colour, the share needed within 2.5 levels of
it: palette colours through a codec are tight clusters; the flat patches of an unquantized photo (sky,
walls) fill broad ones. Chosen on the validation rows (benchmarks/dequantize_validation.py, 60
held-back photos, crf 14): unquantized 0.23 / 0.30 / 0.41 (10th / 50th / 90th percentile), in 16
colours 0.48-0.53 / 0.63-0.69 / 0.79-0.85; coverage alone (0.72 median unquantized) did not separate them."""

PALETTE_GRAY_PEAKS = 1.2
PALETTE_GRAY_TOLERANCE = 2.5
"""A black-and-white palette (its colours neutral by :func:`~vidcolor.quantizer.stats.neutral`) must also stand out over
all pixels, not only the flat ones: the pixels whose luma lies within :data:`PALETTE_GRAY_TOLERANCE` levels of one of
its grays must outnumber those within that distance of the midpoints between neighbouring grays by this factor
(:func:`gray_peaks`). Gray values lie on one line, so mode seeking with :data:`PALETTE_RADIUS` tiles any gray
image with about 20 modes, and tightness' chance level there is 2.5 / 6 = 0.42 rather than a colour ball's 0.07:
:data:`PALETTE_MIN_TIGHTNESS` alone read 32 of 60 unquantized gray validation photos as palettes (crf 14; the
worst lost 0.22 dB). A quantized histogram has peaks at the grays and gaps between them; an unquantized one is
smooth, ratio near 1. Chosen on the validation rows (benchmarks/dequantize_validation.py content, gray photos and
gray clip frames): of the 32 unquantized photos that passed the other tests, 26 are below 1.2 (from 1.00; the three
losing 0.19-0.22 dB among them) and six at 1.24-2.08 stay palettes (two of them graphics; the worst of the six loses
0.09 dB), 16 colours 1.20 and above (ffmpeg with and without Bayer dither, median cut; 0 of the 241 non-graphics
images below 1.2), ffmpeg 64 colours mostly 1.0-1.2 (28 of 39 non-graphics photos below, their gains -0.10 to +0.13
dB, +0.19 summed). With the test, on those rows: unquantized gray photos read as palettes 32 -> 6 of 60, mean gain
-0.014 -> -0.004 dB, worst -0.22 -> -0.09; ffmpeg 64 colours 44 -> 14, worst -0.10 -> -0.05; the 16-colour rows
unchanged. Colour
palettes have no such test: on them the same ratio (in luma, or in RGB) did not separate the three colour
photos misread as palettes from 16- and 64-colour ones (stop 67)."""


def nearest_colour(px: np.ndarray, pal: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Index of the nearest palette colour (Euclidean RGB) for each pixel ``(P, 3)``, uint8 or float."""
    out = np.empty(len(px), np.int64)
    p2 = (pal ** 2).sum(-1)
    for s in range(0, len(px), chunk):
        x = px[s:s + chunk].astype(np.float32)          # uint8 pixels would wrap round in 2 * x
        out[s:s + chunk] = np.argmin(p2[None] - 2 * x @ pal.T, axis=1)
    return out


def gray_ranks(palette: np.ndarray) -> np.ndarray:
    """Per value 0..255, the rank by brightness (the mean over the channels) of the palette colour whose mean is
    nearest: uint8 ``(256,)``, a table for :func:`cv2.LUT` of each pixel's mean over the channels. For a
    black-and-white palette ``(K, 3)`` this is the gray's index as a level."""
    grays = np.sort(palette.mean(axis=1))
    return np.abs(np.arange(256, dtype=np.float32)[:, None] - grays[None]).argmin(axis=1).astype(np.uint8)


def recover_palette(px: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """Recover a palette from pixels ``(P, 3)`` uint8 through codec noise:
    ``(palette (K, 3), coverage, tightness, noise)``.

    Mode seeking on the colour histogram: the most frequent exact colours are taken greedily as modes,
    each suppressing the others within 2 x :data:`PALETTE_RADIUS`; at most :data:`PALETTE_MAX_COLOURS`
    modes holding at least 0.05% of the pixels each. One Lloyd step moves each mode to the mean of the
    pixels within :data:`PALETTE_RADIUS` of it. Coverage: share of pixels within that radius of their
    nearest mode; tightness: share of those within 2.5 levels of it. Noise: 1.4826 x the median
    distance of those pixels to it, per channel (/ sqrt 3).
    """
    packed = (px[:, 0].astype(np.int64) << 16) | (px[:, 1].astype(np.int64) << 8) | px[:, 2]
    colours, counts = np.unique(packed, return_counts=True)
    order = np.argsort(-counts)[:4096]
    cand = np.stack([(colours[order] >> 16) & 255, (colours[order] >> 8) & 255, colours[order] & 255], 1).astype(np.float32)
    ccount = counts[order]
    modes: list[int] = []
    alive = np.ones(len(cand), bool)
    min_count = max(2, int(0.0005 * len(px)))
    for i in range(len(cand)):
        if not alive[i] or ccount[i] < min_count:
            continue
        modes.append(i)
        if len(modes) > PALETTE_MAX_COLOURS:
            return np.zeros((0, 3), np.float32), 0.0, 0.0, 0.0
        alive &= ((cand - cand[i]) ** 2).sum(-1) > (2 * PALETTE_RADIUS) ** 2
    if not modes:
        return np.zeros((0, 3), np.float32), 0.0, 0.0, 0.0
    pal = cand[modes]
    x = px.astype(np.float32)
    idx = nearest_colour(x, pal)
    dist = np.linalg.norm(x - pal[idx], axis=1)
    near = dist <= PALETTE_RADIUS
    for k in range(len(pal)):                       # one Lloyd step on the pixels near each mode
        sel = near & (idx == k)
        if sel.any():
            pal[k] = x[sel].mean(0)
    idx = nearest_colour(x, pal)
    dist = np.linalg.norm(x - pal[idx], axis=1)
    near = dist <= PALETTE_RADIUS
    if not near.any():
        return pal, 0.0, 0.0, 0.0
    noise = float(1.4826 * np.median(dist[near]) / np.sqrt(3))
    return pal, float(near.mean()), float((dist[near] <= 2.5).mean()), noise


def palette_passes(palette: np.ndarray, coverage: float, tightness: float) -> bool:
    """Whether a palette from :func:`recover_palette` is accepted: at least 2 colours, :data:`PALETTE_MIN_COVERAGE`
    and :data:`PALETTE_MIN_TIGHTNESS`."""
    return len(palette) >= 2 and coverage >= PALETTE_MIN_COVERAGE and tightness >= PALETTE_MIN_TIGHTNESS


def gray_peaks(tiles: np.ndarray, palette: np.ndarray) -> float:
    """How far the luma of every pixel of ``tiles`` ``(T, h, w, 3)`` uint8 peaks at the grays of ``palette``
    ``(K, 3)`` (K >= 2): the share within :data:`PALETTE_GRAY_TOLERANCE` levels of a gray over the share within
    that distance of a midpoint between neighbouring grays (inf where no pixel is near a midpoint). See
    :data:`PALETTE_GRAY_PEAKS`."""
    grays = np.sort(palette @ LUMA_WEIGHTS)
    y = (tiles.reshape(-1, 3) @ LUMA_WEIGHTS).astype(np.float32)

    def near(points: np.ndarray) -> float:               # share of y within the tolerance of a point (sorted)
        i = np.searchsorted(points, y)
        dist = np.minimum(np.abs(y - points[np.maximum(i - 1, 0)]), np.abs(y - points[np.minimum(i, len(points) - 1)]))
        return float((dist <= PALETTE_GRAY_TOLERANCE).mean())

    at_mid = near((grays[1:] + grays[:-1]) / 2)
    return near(grays) / at_mid if at_mid > 0 else float("inf")
