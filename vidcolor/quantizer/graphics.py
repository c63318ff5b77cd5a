"""Graphics told apart from quantized natural footage, and left as they are.

Graphics (game footage, pixel art, flat-colour art: most pixels in constant patches, see
:data:`GRAPHICS_FLAT`, or enlarged by nearest neighbour, see :func:`enlarged_by`) are told apart from
quantized natural footage: their few colours are usually the truth itself (a hardware or artist's
palette), not a reduction of richer colour, and nothing in a frame says where in the cell the truth
lies; a level set can even line up with a bit depth by chance. Such frames are treated like frames with no quantizer: left as they are (``none_margin``).
On the validation rows a cell shrunk to the codec noise about the palette colour (a pull towards it
allowed) still cost up to 2 dB on clean Atari frames, a false 3-bit floor level set on flat art 10 dB.
"""
from __future__ import annotations

import numpy as np

from vidcolor.quantizer.stats import cut_tiles, neutral

GRAPHICS_FLAT = 0.6
"""Share of flat pixels (:func:`~vidcolor.quantizer.stats.flat_pixels`) from which frames are treated as graphics.
Chosen on the validation rows (benchmarks/dequantize_validation.py): held-back photos, quantized or not and after
H.264, have at most 0.46; held-back Atari frames at native size 0.66-0.90, and 0.97 enlarged 2x;
held-back supertux art 0.80-0.83. Black-and-white frames found on uniform levels whose level changes are
mostly single steps (:func:`soft_film`) are not graphics for their flat share (enlarged ones still are):
soft film quantized to 4 bits is mostly flat bands (the validation film frames 0.75-0.83; unquantized,
0.68-0.85, and found as palettes), and a neutral level lattice must pass
:data:`~vidcolor.quantizer.levels.UNIFORM_GRAY_CONTRAST`. Chosen on the validation rows
(benchmarks/dequantize_validation.py, crf 14, strength 0.5): film frames at 4-bit mid +0.31 -> +1.51 dB (worst +0.00 ->
+1.15), at 4-bit floor +1.07 -> +4.27 (worst +0.00 -> +4.07); gray clip frames at 4-bit mid +1.11 -> +1.47 (worst -0.06
either way), at 4-bit floor +3.84 -> +4.96 (worst +0.00 -> +3.62); gray pixel art (smooth-shaded, not found enlarged)
+1.46 at 4-bit floor, +0.34 at mid (worst +0.00); no colour row changes. Since stop 46 the same holds for
black-and-white palettes of :data:`FILM_MIN_GRAYS` to :data:`~vidcolor.quantizer.reconstruction.PALETTE_SMALL` grays,
their grays ranked by brightness as levels."""

FILM_SINGLE_STEPS = 0.75
"""Share of single-level steps among the level changes between neighbouring pixels from which black-and-white
frames on uniform levels count as soft footage, not graphics, whatever their flat share (:func:`soft_film`).
Chosen on the validation rows (benchmarks/dequantize_validation.py, 4 bits, crf 14): film frames 0.86-0.92,
gray DAVIS frames with at least GRAPHICS_FLAT flat pixels 0.80; gray pixel art found graphics 0.00-0.63 (one
enlarged two-level image 1.00); synthetic gray graphics, which without this test lost 3.7 dB (an intertitle at
4-bit floor) and 0.6 dB (a user interface at 4-bit mid) at uniform strength 0.5 (6.6 and 1.2 at 0.75), 0.23
and 0.21."""

FILM_MIN_GRAYS = 8
"""Fewest grays of a black-and-white palette (up to :data:`~vidcolor.quantizer.reconstruction.PALETTE_SMALL`) that
:func:`soft_film` may read as soft footage (stop 46): with a few grays a high share of single steps comes by chance. 8
is the fewest levels of a uniform level set here (3 bits, :data:`~vidcolor.quantizer.levels.UNIFORM_BITS`). On the
validation rows (benchmarks/dequantize_validation.py, crf 14) the 159 images found as black-and-white palettes of 3 to
16 grays and as graphics split into 37 with a single-step share of at least FILM_SINGLE_STEPS and 4 grays or more, which
gain +0.467 dB mean at the palettes' strength 0.1 once dequantized (worst -0.024: film frames at 16 colours +0.60 to
+0.72, with median cut +0.22 to +0.55; gray photos, smooth-shaded gray pixel art +0.25 to +0.66), and one 3-gray
pixel-art image (share 0.88 in each of its four rows), which would lose 7.5 to 9.5 dB. From 8 grays 33 images are read
as footage (+0.486 mean, worst -0.024)."""

ENLARGED_FACTORS = (2, 3, 4)
ENLARGED_MAX_RATIO = 0.25
"""Frames enlarged by nearest neighbour (pixel art and game footage as it is shown) are graphics even
without flat patches (a dense checker or a dithered sprite): see :func:`enlarged_by`. Chosen on the
validation rows (benchmarks/dequantize_validation.py, crf 14, every degradation): the held-back photos
and DAVIS clip frames score 0.85-0.97, the held-back pixel art enlarged 2x 0.004-0.38, and its one image
with few flat pixels (supertux's missing-texture checker) 0.010-0.018. A bilinear 2x enlargement of
white noise, the least favourable smooth one, scores 0.51 (bicubic 0.59), with or without H.264."""

ENLARGED_EDGE = 2.0
"""Mean block-boundary luma difference (levels) a tile needs to take part: flat tiles say nothing about
block structure."""


def enlarged_by(frames: np.ndarray) -> int:
    """The factor by which ``frames`` were enlarged by nearest neighbour (pixel replication), or 1.

    Inside a replicated f x f block neighbouring pixels are equal up to the codec's noise; across a block
    boundary they differ as the art does. Measured on luma (BT.601), which 4:2:0 keeps at full resolution
    (its chroma, subsampled 2x2, smears across 3x blocks): per tile (:func:`cut_tiles`), for each factor f in
    :data:`ENLARGED_FACTORS` and each phase of the block grid, the ratio of the mean difference between
    horizontal neighbours inside blocks to that across block boundaries (at its smallest over the
    phases), and the same vertically; the tile's score is the larger of the two. A factor is found when the
    median score over the tiles with boundary differences (:data:`ENLARGED_EDGE`, at least 4 tiles) is at
    most :data:`ENLARGED_MAX_RATIO`; natural footage scores about 0.9, since its neighbouring pixels differ
    alike wherever they are. Of the factors found, the one with the smallest score is returned (4x blocks
    also pass as 2x ones, and 2x blocks as 4x ones, each with a larger score than the true factor's).

    Args:
        frames: uint8 RGB ``(N, H, W, 3)``; the first and last frame's tiles are used.

    Returns:
        int: 1, or a factor of :data:`ENLARGED_FACTORS`.
    """
    return enlarged_factor(cut_tiles(frames))


def enlarged_factor(tiles: np.ndarray) -> int:
    """:func:`enlarged_by` on tiles ``(T, h, w, 3)`` already cut by :func:`cut_tiles`."""
    scores = _enlarged_scores(tiles)
    f = min(scores, key=scores.get)
    return f if scores[f] <= ENLARGED_MAX_RATIO else 1


def _enlarged_scores(tiles: np.ndarray) -> dict[int, float]:
    """``{f: median tile score}`` of :func:`enlarged_by` on tiles ``(T, h, w, 3)`` (inf where under 4 tiles
    have boundary differences, or the tiles are under 4 f pixels a side)."""
    y = tiles.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)   # (T, h, w) luma
    profiles = (np.abs(np.diff(y, axis=2)).mean(1),      # (T, w - 1): one per column gap
                np.abs(np.diff(y, axis=1)).mean(2))      # (T, h - 1): one per row gap
    out = {}
    for f in ENLARGED_FACTORS:
        if min(y.shape[1:]) < 4 * f:                        # too small to show blocks of f
            out[f] = np.inf
            continue
        per_axis = []
        for prof in profiles:
            gap = np.arange(prof.shape[1])
            best = np.full(len(prof), np.inf)
            for phase in range(f):
                edge = (gap - phase) % f == f - 1                # the gap after a block's last pixel
                across = prof[:, edge].mean(1)
                ratio = np.where(across >= ENLARGED_EDGE, prof[:, ~edge].mean(1) / np.maximum(across, 1e-6), np.inf)
                best = np.minimum(best, ratio)
            per_axis.append(best)
        score = np.maximum(*per_axis)
        score = score[np.isfinite(score)]
        out[f] = float(np.median(score)) if len(score) >= 4 else np.inf
    return out


def soft_film(tiles: np.ndarray, levels: np.ndarray) -> bool:
    """Whether ``tiles`` ``(T, h, w, 3)`` uint8, quantized to levels whose index per pixel is ``levels`` (int
    ``(T, h, w)``: a uniform level set's in G, or a black-and-white palette's gray by brightness,
    :func:`~vidcolor.quantizer.palette.gray_ranks`), look like soft black-and-white footage rather than flat art:
    neutral (:func:`neutral`), and among the neighbouring pixels (horizontal and vertical) whose levels differ, at least
    :data:`FILM_SINGLE_STEPS` differ by one level, as the false contours of smooth gradients do; the edges of
    text, line art and sprites jump several levels."""
    if not neutral(tiles):
        return False
    k = levels.astype(np.int16)
    steps = np.abs(np.concatenate([np.diff(k, axis=1).ravel(), np.diff(k, axis=2).ravel()]))
    steps = steps[steps > 0]
    return len(steps) > 0 and float((steps == 1).mean()) >= FILM_SINGLE_STEPS
