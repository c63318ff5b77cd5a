"""Uniform level sets per channel (bit depth, and where the levels sit: ``floor``, ``mid`` or ``spread``): their
arithmetic, and their fit to one channel's values through the codec's noise (the circular moments of the level
histogram), for :func:`~vidcolor.quantizer.estimation.estimate`."""
from __future__ import annotations

import numpy as np

from vidcolor.quantizer.stats import neutral

UNIFORM_BITS = (3, 4, 5)
"""Bit depths tried per channel: 6 bits and more are indistinguishable from codec noise after H.264, and
1 or 2 bits per channel (at most 64 colours) are found as a palette, whose cells are then the same boxes;
a few palette colours can line up with a 1- or 2-bit level set in one channel by chance."""

MIXED_BITS = (2, 3, 4, 5, 6)
"""Bit depths tried per channel where each channel may have its own (:func:`~vidcolor.quantizer.estimation.estimate`'s
mixed reading, fitted on all pixels, so lossless or 4:4:4 frames only): RGB332 (ffmpeg's ``rgb8``/``bgr8``, the pixel
format of a GIF written without a palette) holds 2 bits in B, RGB565 6 bits in G. At 6 bits (period 4) the tolerances
shrink to 1 level about a level and 0.5 about a midpoint (:func:`level_tolerances`), else every value would be near
both."""

MIXED_MAX_ANGLE = 0.55
"""Largest angle (rad) of a channel's circular moment about a candidate level set in the mixed reading
(:func:`uniform_channel` with ``clearest``), where the single reading allows max(0.25 rad, :data:`UNIFORM_MAX_SHIFT`
levels): ffmpeg's ``rgb8``/``bgr8`` (a GIF written without a palette) quantizes to spread levels but writes 3-bit level
k as 36 k (0..252, its systematic palette), up to 3 levels below the spread level 255 k / 7, 0.52 rad at the top level;
the first frame of a 160x90 such GIF of DAVIS footage sits at -0.29 rad in R. Floor and bin-middle levels stay apart
(half a period, pi rad)."""

CONVENTIONS = ("floor", "mid", "spread")

UNIFORM_MIN_R = 0.35
"""Mean resultant length of a channel's levels about a candidate level set needed to accept it."""

UNIFORM_MAX_SHIFT = 1.0
"""Largest shift (levels) of a channel's values about a candidate level set (the angle of their circular
moment, at least 0.25 rad) at which the candidate is accepted. Bin middles sit half a level off the exact
middle in uint8 (4 bits: 8, or 7, for 7.5), and 4:2:0 chroma and the codec move the mean by a few tenths
more: on the validation clips at 4 bits, bin middles, G's levels sat +0.13 to +0.35 rad (0.3 to 0.9 level)
off, so the 0.6 level used before stop 37 missed them on 11 of goat's 12 four-frame batches and read 5 of
scooter-black's as 5 bits at the floor (a finer grid holding the same levels); davis_cows' re-estimate
flipped between those and a palette with the batch size. 1.0 finds 4-bit middles on every validation
photo (24 of 24, 22 before; gray 24, 16 before). Floor and middle stay apart (8 levels at 4 bits, 4 at 5);
on the validation rows (benchmarks/dequantize_validation.py) the strength picks stay uniform 0.5 and
palette 0.1 with the same worst gains; 5 of the 272 palette-quantized photos and clip frames (colour and
gray) are read as uniform levels instead (their rows' gains unchanged to 0.01 dB), and the 2x pixel art
with Bayer-dithered palettes loses 0.02 dB at strength 0.1."""

UNIFORM_MIN_NEAR = 0.6
"""Share of a channel's values within max(2, period / 8) levels of a candidate level needed to accept it."""

UNIFORM_MIN_LEVEL_SHARE = 0.01
"""Share of a channel's values (1..254) that a level of its level set must hold, within max(2, period / 8) levels,
to count as seen (:func:`levels_seen`). The channel that leads the estimate
(:func:`~vidcolor.quantizer.estimation.estimate`) must show values at two levels at least over all pixels (not only the
flat ones: a dark background on one level may fill those while the levels of a quantized texture show over all pixels),
else no level set is read: values at one level have a circular moment of length 1 at every period, so they say nothing
of a period. A single-colour frame (a title card, a solid fill) was read as ``uniform 4/4/4 bits (mid)`` at confidence
1.00, and a dark frame of a fade whose R and G values sat about one 3-bit spread level (36) as 3-bit spread levels, not
graphics, its cells 36 levels wide. A guard, not a tuned value: on those frames no second level holds any value near it;
a genuine level set holds its values at several levels."""

UNIFORM_MAX_BETWEEN = 0.1
"""Share of a channel's values within max(2, period / 16) levels of the midpoints between a candidate's levels
above which the candidate is refused, and with it the other conventions of its bit depth: a true level set
leaves its midpoints empty but for codec noise, and values there say that the levels are finer (a 4-bit level
set whose values sit mostly on alternate levels otherwise passes for 3 bits; refused as 3-bit middles, the same
values, which cluster on a few levels, could still pass for 3-bit spread levels). Chosen on the validation rows
(benchmarks/dequantize_validation.py, crf 14, flat pixels) and the first frames of the five validation clips of
benchmarks/dequantize_encode.py (crf 12): channels read correctly hold 0.00-0.04 in G and up to 0.08 in R and B
(4:2:0 chroma); the readings refused hold 0.11 (a 4-bit-floor photo read as 3-bit floor levels), 0.12 (a gray
4-bit-mid clip frame read as 5-bit floor levels), 0.16 (scooter-black at 4-bit floor read as 3-bit middles in G:
a dark clip whose nonzero G values sit mostly on 16 and 48) and 0.30 (the same clip's R at 4-bit mid read as
5-bit floor levels)."""

UNIFORM_LUMA_LEAD = 0.03
UNIFORM_ALL_R = 0.6
"""A level set found on the flat pixels must also show in the frames' pixels at large (:func:`seen_at_large`):
in G, the channel that luma (full resolution under 4:2:0) carries most, its mean resultant length over
all pixels exceeds the mean of R's and B's by :data:`UNIFORM_LUMA_LEAD`, or it is at least
:data:`UNIFORM_ALL_R` in every channel (no chroma subsampling: lossless or 4:4:4 footage). Chosen on the
validation rows (benchmarks/dequantize_validation.py, crf 14, 24 photos, 10 clip frames, 38 pixel-art
images, every degradation): the 55 images quantized to 4 bits and found so lead by +0.056 to +0.283
(one more, found as 3-bit middles, a wrong level set, by -0.061); the seven found uniform that lost
0.09-1.70 dB at strength 0.5 (four unquantized photos whose flat pixels are a dark background near one
level, a 64-colour photo, two Bayer-dithered pixel-art images) lead by -0.078 to +0.001."""

UNIFORM_GRAY_CONTRAST = 0.05
"""Neutral frames (black and white: mean ``|R - G| + |B - G|`` over the pixels at most
:data:`~vidcolor.quantizer.stats.NEUTRAL_CHROMA` levels) have no chroma for 4:2:0 to smear, so G leads nothing there.
Their level set must instead stand out over all pixels as a lattice: G's mean resultant length at the level period
exceeds its largest at 0.75 and 1.25 times that period by :data:`UNIFORM_GRAY_CONTRAST` (one narrow
peak, such as a dark background, has about the same length at every period). Measured on gray versions
of the validation rows (crf 14): 4-bit images +0.11 to +0.64, the unquantized photos once found uniform
-0.01 to +0.00."""


def level_tolerances(period: float) -> tuple[float, float]:
    """Distances (levels) within which a value counts as on a level, and as at a midpoint between levels, for a level
    set of ``period``: max(2, period / 8) and max(2, period / 16) (the tolerances of :data:`UNIFORM_MIN_NEAR` and
    :data:`UNIFORM_MAX_BETWEEN`); for periods under 8 (6 bits, :data:`MIXED_BITS` only) 1 and 0.5, so that the two
    do not overlap."""
    if period < 8:
        return 1.0, 0.5
    return max(2.0, period / 8), max(2.0, period / 16)


def uniform_channel(values: np.ndarray, depths: tuple[int, ...] = UNIFORM_BITS,
                    clearest: bool = False) -> tuple[int, str, float, float]:
    """Best uniform level set of one channel's values: ``(bits, convention, R, noise)``, bits 0 if none.

    For each candidate (bits, convention), the levels' circular moment at the level period p with the
    convention's phase removed, ``z = mean exp(2 pi i (v - offset) / p)``; its length R (1 = every value on
    a level, about 0 for values spread evenly) and its angle (about 0 when the levels are the
    candidate's). The coarsest candidate wins whose R >= :data:`UNIFORM_MIN_R`, whose angle is within
    max(0.25 rad, :data:`UNIFORM_MAX_SHIFT` levels) (uint8 rounding moves bin middles by half a level), and
    which has at least :data:`UNIFORM_MIN_NEAR` of the values within max(2, p / 8) levels of a level (so that a
    few palette levels that happen to line up are not taken for a bit depth) and at most
    :data:`UNIFORM_MAX_BETWEEN` of them near the midpoints between its levels (finer levels: then the next bit
    depth is tried): a 4-bit channel also fits 5 bits, so coarsest first; distances are to the levels that exist
    (:func:`level_distance`), so that values near 255 do not stand for a ``floor`` level at 256. Values 0 and
    255 (black borders, clipped highlights) are left out. Noise: 1.4826 x the median absolute distance to the
    nearest level. ``depths``: the bit depths tried, coarsest first (:data:`UNIFORM_BITS`; :data:`MIXED_BITS` for
    the mixed reading; tolerances by :func:`level_tolerances`). ``clearest`` (the mixed reading): angles up to
    :data:`MIXED_MAX_ANGLE` pass, and of a depth's conventions that pass the one of largest R (a convention with
    values at its midpoints only skipped); else the first that passes, in :data:`CONVENTIONS` order (at 5 bits
    spread levels 8.23 k sit within a level of bin middles 8 k + 3.5 over k = 8..23, so a lossless 5-bit spread
    channel, R 0.98, passed for bin middles, R 0.75).
    """
    counts = _level_counts(values)
    if counts.sum() < 64:
        return 0, "", 0.0, 0.0
    p = counts / counts.sum()
    v = np.arange(256, dtype=np.float64)
    for bits in depths:
        passed = []
        for conv in CONVENTIONS:
            period, offset = level_offset(bits, conv)
            z = _level_moment(p, period, offset)
            if abs(z) < UNIFORM_MIN_R or abs(np.angle(z)) > max(MIXED_MAX_ANGLE if clearest else 0.25,
                                                                2 * np.pi * UNIFORM_MAX_SHIFT / period):
                continue
            if p @ near_level(v, bits, conv) < UNIFORM_MIN_NEAR:
                continue
            midpoints = offset + period * (np.arange(2 ** bits - 1) + 0.5)
            if p @ (np.abs(v[:, None] - midpoints).min(1) <= level_tolerances(period)[1]) > UNIFORM_MAX_BETWEEN:
                if clearest:
                    continue
                break                   # finer levels than this depth's: the next depth, not another convention
            if not clearest:
                return bits, conv, float(abs(z)), level_noise(values, bits, conv)
            passed.append((abs(z), conv))
        if passed:
            r, conv = max(passed)
            return bits, conv, float(r), level_noise(values, bits, conv)
    return 0, "", 0.0, 0.0


def levels_seen(values: np.ndarray, bits: int, conv: str) -> int:
    """How many levels of the level set ``(bits, conv)`` hold at least :data:`UNIFORM_MIN_LEVEL_SHARE` of a channel's
    uint8 ``values`` (0 and 255 left out, as :func:`_level_counts`) within max(2, period / 8) levels
    (:func:`near_level`)."""
    counts = _level_counts(values)
    if not counts.sum():
        return 0
    v = np.arange(256, dtype=np.float64)
    held = np.bincount(level_index(v, bits, conv).astype(np.intp), counts * near_level(v, bits, conv),
                       minlength=2 ** bits)
    return int((held >= UNIFORM_MIN_LEVEL_SHARE * counts.sum()).sum())


def seen_at_large(tiles: np.ndarray, bits: int, conv: str) -> bool:
    """Whether the level set ``(bits, conv)``, found on flat pixels, also shows in all pixels of ``tiles``
    ``(T, h, w, 3)`` (see :data:`UNIFORM_LUMA_LEAD`; for neutral frames :data:`UNIFORM_GRAY_CONTRAST`).
    Flat pixels of a narrow range (a dark background) sit near one level of any period by chance; true
    quantization puts every pixel on a level, and after 4:2:0 the levels survive best in G, whose share of
    luma is the largest."""
    period, offset = level_offset(bits, conv)
    hist = []
    for c in range(3):
        counts = _level_counts(tiles[..., c].ravel())
        hist.append(counts / counts.sum() if counts.sum() else counts)
    length = lambda p, per: abs(_level_moment(p, per, offset))  # noqa: E731
    if neutral(tiles):
        return length(hist[1], period) - max(length(hist[1], 0.75 * period),
                                             length(hist[1], 1.25 * period)) >= UNIFORM_GRAY_CONTRAST
    r = [length(p, period) for p in hist]
    return min(r) >= UNIFORM_ALL_R or r[1] - (r[0] + r[2]) / 2 >= UNIFORM_LUMA_LEAD


def _level_counts(values: np.ndarray) -> np.ndarray:
    """Histogram float64 ``(256,)`` of uint8 ``values``, with 0 and 255 (black borders, clipped highlights)
    left out."""
    counts = np.bincount(values, minlength=256).astype(np.float64)
    counts[[0, 255]] = 0
    return counts


def _level_moment(p: np.ndarray, period: float, offset: float) -> complex:
    """Circular moment ``sum_v p[v] exp(2 pi i (v - offset) / period)`` of a histogram ``p`` ``(256,)`` over
    the values 0..255: its length is the mean resultant length R of the values about the level set with
    that period and offset (1 = every value on a level), its angle 0 when they sit on the levels."""
    return complex(p @ np.exp(2j * np.pi * (np.arange(256, dtype=np.float64) - offset) / period))


def fit_agrees(fit: tuple, bits: int, conv: str) -> bool:
    """Whether a channel's own fit (:func:`uniform_channel`) agrees with the level set ``(bits, conv)``
    of the strongest channel: no fit, the same convention, or a finer level set that contains every level
    of ``(bits, conv)`` within one level (4-bit bin middles 7.5 + 16 k are 5-bit floor levels 8 j: a noisy
    channel whose 4-bit fit falls just short takes the 5-bit one). Such a channel is then given the coarser
    cells, which contain its own, so the projection stays consistent."""
    own_bits, own_conv = fit[0], fit[1]
    if not own_bits or own_conv == conv:
        return True
    return own_bits > bits and holds_levels((own_bits, own_conv), bits, conv)


def spread_apart(fit: tuple, bits: int, conv: str) -> bool:
    """Whether a channel's own fit (:func:`uniform_channel`) is spread levels of another depth than the spread level set
    ``(bits, conv)`` of the leading channel, not holding its levels (:func:`fit_agrees` lets any fit of the same
    convention agree). Spread bins of different depths do not nest: RGB332's B (2-bit spread levels 0, 85, 170, 255)
    fits 4 bits spread, and given R's and G's 3/3/3 cells its 85 was held within 55..91 where its bin is 42.5..127.5.
    Such frames are offered to the mixed reading (:func:`~vidcolor.quantizer.estimation.estimate`), and keep the single
    reading where that finds nothing (through 4:2:0)."""
    own_bits, own_conv = fit[0], fit[1]
    if conv != "spread" or own_conv != "spread" or own_bits == bits:
        return False
    return not (own_bits > bits and holds_levels((own_bits, own_conv), bits, conv))


def holds_levels(fine: tuple, bits: int, conv: str) -> bool:
    """Whether the level set ``fine`` ``(bits, convention)`` holds every level of ``(bits, conv)`` within one level
    (4-bit bin middles 7.5 + 16 k are 5-bit floor levels 8 j; 2-bit spread levels 85 k are 4-bit spread levels 17 j)."""
    period, offset = level_offset(bits, conv)
    return bool((level_distance(offset + period * np.arange(2 ** bits), *fine) <= 1.0).all())


def level_offset(bits: int, conv: str) -> tuple[float, float]:
    """Level period and offset (levels) of a uniform quantizer: levels at ``offset + k * period``."""
    if conv == "spread":
        return 255.0 / (2 ** bits - 1), 0.0
    period = 2.0 ** (8 - bits)
    return period, 0.0 if conv == "floor" else period / 2 - 0.5


def level_noise(values: np.ndarray, bits: int, conv: str) -> float:
    """1.4826 x the median absolute distance of ``values`` (1..254) to the nearest level of the quantizer."""
    v = values[(values > 0) & (values < 255)].astype(np.float64)
    if not len(v):
        return 0.0
    return float(1.4826 * np.median(level_distance(v, bits, conv)))


def level_distance(v: np.ndarray, bits: int, conv: str) -> np.ndarray:
    """Distance (levels) of values ``v`` (float) to the nearest of the quantizer's ``2**bits`` levels.

    Only levels that exist count: under ``floor`` the level above the top one (256) is not a level, so a
    value near 255 is far from every level (it is near one only on the circle of the level moment)."""
    period, offset = level_offset(bits, conv)
    return np.abs(v - offset - level_index(v, bits, conv) * period)


def near_level(v: np.ndarray, bits: int, conv: str) -> np.ndarray:
    """Whether values ``v`` (float) lie within max(2, period / 8) levels (1 at 6 bits, :func:`level_tolerances`) of one
    of the quantizer's levels (:func:`level_distance`): the tolerance of :data:`UNIFORM_MIN_NEAR` and
    :data:`~vidcolor.quantizer.estimation.UNIFORM_MIN_ON_LEVELS`."""
    period, _ = level_offset(bits, conv)
    return level_distance(v, bits, conv) <= level_tolerances(period)[0]


def level_index(v: np.ndarray, bits: int, conv: str) -> np.ndarray:
    """Index 0..2**bits - 1 (float) of the quantizer's level nearest to each value of ``v`` (float levels)."""
    period, offset = level_offset(bits, conv)
    return np.clip(np.round((v - offset) / period), 0, 2 ** bits - 1)
