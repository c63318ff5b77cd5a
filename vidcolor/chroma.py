"""Whether frames are in colour, or gray or toned (sepia) film: two measures of their CIELAB chroma
(:func:`colour_spread`) and the line between them (:data:`CLEAR_COLOUR`). colorize's warning on colour input
(:func:`vidcolor.api.process`) asks :func:`in_colour`."""
from __future__ import annotations

import numpy as np

from vidcolor.arrays import described
from vidcolor.color import rgb_to_lab

__all__ = ["CLEAR_COLOUR", "colour_spread", "in_colour"]

CLEAR_COLOUR = (3.0, 4.0)
"""The :func:`colour_spread` (off the tint axis, off the lightness) above both of which frames are in colour.
Measured on the first 8 frames of ../shared/data: gray film (bw/video, H.264 yuv420p) at most (0.13, 0.76), gray
photos (bw/photos/ddcolor_*) (0.40, 0.52); sepia-toned film (bw/video/devc_v39) (1.0, 2.1), sepia photos
(bw/photos/bopbtl_old_w_scratch_*) (2.3, 3.6) at most, ffmpeg's sepia matrix on gray testsrc, clipped at the top
(2.9, 3.8); colour: 16 of the 17 DAVIS clips (3.1 to 14, 5.4 to 23), davis_drift-chicane, a gray road and sky,
(2.5, 4.7), is not said; Big Buck Bunny (6.3, 26); faded colour photos (bopbtl_old_a, c-h) (4.8 to 9.9, 5.0 to 13),
bopbtl_old_b (2.2, 3.8) is not said. Either part alone mistook one for the other: off the tint axis, a tint that
turns with the lightness (a clipped sepia, 2.9) came near colour with one dominant hue (drift-chicane, 2.5); off
the lightness, a sepia's spread within a lightness (3.8) came near colour whose hues each have a lightness of their
own (Ms. Pac-Man's palette, 2.0)."""


def colour_spread(frames: np.ndarray) -> tuple[float, float]:
    """How far ``frames`` are from gray or one tint, in two measures of their CIELAB chroma (RMS over their pixels,
    in CIELAB units, 0 for gray): the chroma off their tint axis (the line through gray along which their ab lie
    closest: the root of the smaller eigenvalue of the ab's second moment), and the chroma that their lightness does
    not explain (ab's spread about its mean in each of 16 bands of L). Gray footage, its codec's chroma noise
    included, measures under 1 in both, toned (sepia) film under 4, colour footage above both parts of
    :data:`CLEAR_COLOUR`. Every 1 in ``s`` rows and columns is looked at, ``s`` = the shorter side // 128 (at
    least 1).

    Args:
        frames: uint8 RGB ``(N, H, W, 3)`` or ``(H, W, 3)``; an alpha channel, ``(..., 4)``, is left out.

    Returns:
        ``(off_tint, off_lightness)``, two floats >= 0.

    Raises:
        ValueError: ``frames`` is not uint8 ``(..., H, W, 3 or 4)``, or is empty.
    """
    if (not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim < 3
            or frames.shape[-1] not in (3, 4) or not frames.size):
        raise ValueError(f"frames must be uint8 RGB (N, H, W, 3), got {described(frames)}")
    step = max(1, min(frames.shape[-3], frames.shape[-2]) // 128)
    lab = rgb_to_lab(np.ascontiguousarray(frames[..., ::step, ::step, :3])).reshape(-1, 3).astype(np.float64)
    ab = lab[:, 1:]
    off_tint = np.sqrt(max(np.linalg.eigvalsh(ab.T @ ab / len(ab))[0], 0.0))
    band = np.minimum((lab[:, 0] * (16 / 100)).astype(np.intp), 15)
    count = np.maximum(np.bincount(band, minlength=16), 1)
    spread = sum((np.bincount(band, c * c, 16) - np.bincount(band, c, 16) ** 2 / count).sum() for c in ab.T)
    return float(off_tint), float(np.sqrt(max(spread, 0.0) / len(ab)))


def in_colour(frames: np.ndarray) -> bool:
    """Whether ``frames`` (uint8 RGB ``(N, H, W, 3)``) are in colour, not gray or toned: both parts of their
    :func:`colour_spread` above :data:`CLEAR_COLOUR`'s. Raises ValueError as :func:`colour_spread` does."""
    return all(m > limit for m, limit in zip(colour_spread(frames), CLEAR_COLOUR))
