"""The contour estimate's tables and weights (:meth:`~vidcolor.quantizer.reconstruction.Quantizer.contour_estimate`):
each pixel's distances to the bands one level down and one level up, the estimate's reliability, and its weight by
kind of quantizer and band width."""
from __future__ import annotations

import cv2
import numpy as np

CONTOUR_MAX_DISTANCE = 48.0
"""Distance (pixels) beyond which a neighbouring band does not count for
:meth:`~vidcolor.quantizer.reconstruction.Quantizer.contour_estimate`: a pixel with no band one level up or no band one
level down within it lies in a local extremum or a plateau, where the contours say nothing about where in the bin the
truth lies (weight 0). A first version moved such pixels to their bin's centre instead: that cost 8.6 dB on a
Bayer-dithered pixel-art image of the validation rows read as uniform levels."""


def _contour_pairs(far: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tables over every pair ``(down, up)`` of distances (pixels, clipped at ``far``) from a pixel to the
    bands one level down and one level up, indexed by ``down * 256 + up`` (:func:`contour_pair`'s index; entries with
    ``up > far`` are never looked up), for
    :meth:`~vidcolor.quantizer.reconstruction.Quantizer.contour_estimate`: the pixel's place in its bin,
    ``(down - 0.5) / (down + up - 1)`` (the contour half a pixel before the nearest pixel of each band; both distances
    are >= 1, the pixel's own band not being searched), float32 in [0, 1]; the band's width ``down + up`` (intp, at
    most 255 in the entries never looked up, so that it indexes a table of widths 0..255); and
    whether both bands lie within ``far`` (float32 0 or 1)."""
    down, up = np.divmod(np.arange((far + 1) * 256), 256)
    place = ((down - 0.5) / np.maximum(down + up - 1, 1)).astype(np.float32)
    return place, np.minimum(down + up, 255), (np.maximum(down, up) < far).astype(np.float32)


CONTOUR_PAIRS = _contour_pairs(int(CONTOUR_MAX_DISTANCE))
""":func:`_contour_pairs` at :data:`CONTOUR_MAX_DISTANCE`, made once: ``(place, width, both near)``, each indexed by
:func:`contour_pair`."""


def contour_pair(cls: np.ndarray) -> np.ndarray:
    """Per pixel of a plane of residue classes (uint8 ``(H, W)``, each pixel's level index modulo 4), the index
    into :data:`CONTOUR_PAIRS` (uint16 ``(H, W)``, ``down * 256 + up``) of its distances (city block,
    clipped at :data:`CONTOUR_MAX_DISTANCE`) to the nearest pixel one level down (class ``cls - 1``) and one
    level up (class ``cls + 1``): four distance transforms, one per class, picked per class. The index is the two
    uint8 distances side by side, read as one little-endian uint16 (a merge, where ``down * (far + 1) + up`` took a
    multiplication and an addition in uint16: 640x360, one core, 0.17 -> 0.02 ms a plane)."""
    far = int(CONTOUR_MAX_DISTANCE)
    if cls.size == 1:           # no other pixel: no band near (OpenCV would read the plane as a scalar, as (4, 1))
        return np.full(cls.shape, far * 256 + far, np.uint16)
    if cls.shape == (4, 1):     # OpenCV reads a (4, 1) array beside a scalar as a scalar: its transpose, the same
        return np.ascontiguousarray(contour_pair(np.ascontiguousarray(cls.T)).T)    # distances, is read as an array
    # every plane into buffers made once a call, in place where OpenCV allows (no fresh page-faulted arrays)
    mask, d = np.empty_like(cls), np.empty((4, *cls.shape), np.uint8)
    for r in range(4):
        cv2.distanceTransform(cv2.compare(cls, r, cv2.CMP_NE, dst=mask), cv2.DIST_L1, 3, dst=d[r], dstType=cv2.CV_8U)
        cv2.min(d[r], far, dst=d[r])
    d_down, d_up = d[3].copy(), d[1].copy()
    for r in (1, 2, 3):
        cv2.compare(cls, r, cv2.CMP_EQ, dst=mask)
        cv2.copyTo(d[r - 1], mask, d_down)
        cv2.copyTo(d[(r + 1) % 4], mask, d_up)
    return cv2.merge([d_up, d_down], dst=np.empty((*cls.shape, 2), np.uint8)).view("<u2")[..., 0]


CONTOUR_RELIABLE = (0.125, 0.375)
"""Offsets of the observed value from its level (fractions of the level period) over which the contour
estimate's weight falls from full to none: under 4:2:0 and the codec 10-25% of R's and B's pixels (3-9% of
G's) decode nearer a neighbouring level than to their own (measured on the validation photos, 4 bits, bin
middles, crf 14), mostly between levels, so that a value far from any level says little about its band."""

def contour_reliability(offset: np.ndarray) -> np.ndarray:
    """The contour estimate's reliability of values ``offset`` (float, fractions of the level period, or of the
    distance to the nearest other gray) from their level: 1 up to :data:`CONTOUR_RELIABLE`'s first value, 0 from
    its second, linear between."""
    full, none = CONTOUR_RELIABLE
    return np.clip((none - offset) / (none - full), 0.0, 1.0)


CONTOUR_WEIGHT = {"uniform": 0.35}
"""Weight of the contour estimate (:meth:`~vidcolor.quantizer.reconstruction.Quantizer.contour_estimate`) per kind of
quantizer, pulling the estimate (generator at its strength, band correction added) towards it before the projection.
Picked on validation data only (``benchmarks/dequantize_validation.py --contour-sweep``, crf 14, the 135 images found
uniform, the generator at its strength 0.5), by the strength rule (the largest mean gain with nothing below
-0.1 dB): weights 0, 0.25, 0.3, 0.35, 0.4 gain +1.61, +2.15, +2.24, +2.32, +2.39 dB mean, worst image +0.02,
+0.04, +0.00, -0.06, -0.13. The worst images are ones whose quantizer is misread (a gray 4-bit-mid clip frame
read as 5-bit floor levels, palettes read as 3- or 4-bit levels), where the contours are not the bins'.
Alone, at full weight and without the generator (a prototype with Euclidean distances), the estimate was worse
than the input on the colour photos (-1.2 dB at 4-bit mid: the misdecoded levels of :data:`CONTOUR_RELIABLE`)
and better on the gray ones (+0.8): it helps as one estimate among others, not in place of them. Colour palettes
get none: the same interpolation per channel, with the palette's values in each channel as its levels, lost up to
0.20 dB on a validation image at weight 0.1 (train/dequantize-fq-l2/validation.md). Black-and-white palettes of at
most 16 grays get it along their line of grays since stop 46, weighted by :data:`CONTOUR_PALETTE_WEIGHT`."""

CONTOUR_WIDTH_WEIGHT = ((2.0, 0.06), (3.0, 0.29), (4.0, 0.41), (5.2, 0.49), (7.0, 0.52), (9.5, 0.56), (13.5, 0.61),
                        (20.0, 0.68), (30.0, 0.70), (42.0, 0.72))
"""Weight of the contour estimate at levels in the bin middle or spread over 0..255, by the width (pixels) of the
pixel's band, ``d_down + d_up`` (points ``(width, weight)``, linear between them, the end values beyond);
levels at the bin floor keep :data:`CONTOUR_WEIGHT`. Between contours a few pixels apart (texture, noise)
the distance ratio says little about where in the bin the truth lies; across a wide band of a smooth
gradient it says much. Each point is the least-squares weight of one width class (the weight ``a`` that
minimises the squared error of ``y + a (estimate - y)``, ``y`` the generator at its strength with the band
correction added), fitted on the pixels of full reliability of every validation image found on mid levels
(benchmarks/dequantize_validation.py rows at 4-bit mid: photos, clip frames, their gray versions, gray pixel
art, film frames; crf 14). On the 173 validation images found uniform (the generator at 0.5) the mean gain
goes from +2.560 to +2.626 dB, worst image -0.06 either way: 4-bit-mid photos +0.627 -> +0.656, clip frames
+1.040 -> +1.051, gray clip frames +1.465 -> +1.666, film frames +1.512 -> +1.702, gray pixel art +1.418 ->
+1.929. At the bin floor the fitted weight is about 0.75 at every width, and the strength left in the
generator's correction misses half of the floor's offset, but a misread quantizer then lost up to 0.81 dB
(0.06 at 0.35): 4-bit frames read as 3- or 5-bit floor levels, which
:data:`~vidcolor.quantizer.levels.UNIFORM_MAX_BETWEEN` now reads right, and palettes read as floor levels (a median-cut
photo, a 16-colour clip frame: -0.75 and -0.61 dB), which it does not; so floor levels stay at 0.35."""

WIDTH_WEIGHTS = np.interp(np.arange(256, dtype=np.float32), *np.array(CONTOUR_WIDTH_WEIGHT, np.float32).T
                          ).astype(np.float32)
""":data:`CONTOUR_WIDTH_WEIGHT` at every band width 0..255 (float32 ``(256,)``)."""

CONTOUR_PALETTE_WEIGHT = 0.25
"""Scale of :data:`CONTOUR_WIDTH_WEIGHT` for the contour estimate of black-and-white palettes of at most
:data:`~vidcolor.quantizer.reconstruction.PALETTE_SMALL` grays
(:attr:`~vidcolor.quantizer.reconstruction.Quantizer.contour_palette`), whose colours lie along one line, so that their
bands follow each other as the levels of one channel do. Picked on validation data only, by the strength rule (the
largest mean gain with nothing below -0.1 dB), jointly with the palettes' strength: on the 184 validation images whose
strength key is ``palette`` (116 of them black-and-white palettes of at most 16 grays; crf 14, the generator's outputs
stored, reconstructed as the pipeline does it), at strength 0.1 the scales 0, 0.25, 0.4, 0.5, 0.75, 1 gain +0.255,
+0.341, +0.381, +0.403, +0.444, +0.468 dB mean, worst image -0.081, -0.093, -0.128, -0.169, -0.802, -2.227; at strengths
0.15-0.25 an image without contours already loses 0.18-0.44 dB. So 0.25: on the 116 images +0.320 -> +0.457 dB. The
images it costs are ones whose palette is misread: gray photos quantized to 64 grays and read as at most 16 (at 0.25
-0.016 dB mean against the input, worst -0.057) and an unquantized gray photo read as a palette (-0.093, the worst
image). Colour palettes get none: the interpolation between the midpoints of the two nearest other colours' regions
gained +0.02 dB on the validation photos at 16 colours and lost up to 3.6 dB on other images (a scratch
prototype, stop 46)."""

CONTOUR_CHROMA_WEIGHT = 0.7
"""On colour frames (not :func:`~vidcolor.quantizer.stats.neutral`) the contour estimate's weight in R and B at
bin-middle and spread levels is this share of its default weight (:data:`CONTOUR_WIDTH_WEIGHT`). 4:2:0 keeps G, which
dominates luma, at full resolution, but R and B carry the chroma, which it halves: their band contours are smeared and
displaced, and the distances between them say less about where a value sits in its bin. Chosen on validation data
(train/dequantize-fq-l2/validation.md), the generator's outputs stored: on the 62 colour images found uniform at bin
middles or spread levels (photos and clip frames, crf 14, strength 0.75) 1, 0.9, 0.8, 0.7, 0.6, 0.5 gain +0.832,
+0.847, +0.856, +0.859, +0.856, +0.847 dB (worst image +0.07 to +0.12); on the five validation clips through the
video path (24 frames, after crf 14) 1 and 0.7 gain +0.951 and +0.979 dB at 4-bit mid (worst clip +0.33 either
way), +0.923 and +0.969 at spread levels (+0.23 -> +0.37). Bit truncation keeps its weight (:data:`CONTOUR_WEIGHT`):
there 0.7 lost 0.016 dB on the 35 colour stills and 0.03 on the clips. Black-and-white frames have no chroma."""
