"""Statistics of decoded frames that the quantizer estimate samples: flat pixels, tiles spread over the frames, black
and white (neutral) frames, and luma's weights."""
from __future__ import annotations

import numpy as np

NEUTRAL_CHROMA = 2.0
"""Frames are black and white (:func:`neutral`) where their mean ``|R - G| + |B - G|`` over the pixels is at most
this many levels (see :data:`~vidcolor.quantizer.levels.UNIFORM_GRAY_CONTRAST`)."""

LUMA_WEIGHTS = np.float32([0.299, 0.587, 0.114])
"""R, G, B weights of luma Y' (ITU-R BT.601): the part of a change that
:meth:`~vidcolor.quantizer.reconstruction.Quantizer.chroma_smoothing` removes."""

FLAT_RANGE = 3
FLAT_NEIGHBOURS = 5
"""A pixel is *flat* when at least 5 of its 8 neighbours are within 3 levels of it in every channel."""


def flat_pixels(frames: np.ndarray) -> np.ndarray:
    """Mask ``(N, H, W)`` of pixels that sit in a locally constant patch: at least
    :data:`FLAT_NEIGHBOURS` of their 8 neighbours within :data:`FLAT_RANGE` levels in every channel.

    Inside constant patches 4:2:0 chroma subsampling changes little, so there a quantized value
    survives a yuv420p codec up to its noise; at edges the chroma of neighbouring colours is mixed.
    Statistics on such pixels see the quantizer, not the codec. A quantized gradient is made of such
    patches (its bands); a natural texture mostly is not. Border pixels see their edge replicated.

    Args:
        frames: uint8 RGB ``(N, H, W, 3)`` (not checked; any integer dtype whose values fit int16 works).

    Returns:
        bool ``(N, H, W)``.

    Raises:
        ValueError: ``frames`` is not 4-D (its shape does not unpack to ``(N, H, W, C)``).
    """
    x = frames.astype(np.int16)
    n, h, w, _ = x.shape
    pad = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    count = np.zeros((n, h, w), np.int8)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy == 1 and dx == 1:
                continue
            count += (np.abs(pad[:, dy:dy + h, dx:dx + w] - x).max(-1) <= FLAT_RANGE)
    return count >= FLAT_NEIGHBOURS


def cut_tiles(frames: np.ndarray, tile: int = 64, count: int = 32) -> np.ndarray:
    """Up to ``count`` ``tile`` x ``tile`` tiles ``(T, tile, tile, 3)`` spread evenly over the first and the
    last of ``frames`` ``(N, H, W, 3)``, so that the cost of an estimate does not grow with the frame size.
    Frames smaller than a tile are returned whole."""
    picks = frames[[0, -1]] if len(frames) > 1 else frames
    n, h, w, _ = picks.shape
    if h < tile or w < tile:
        return picks
    ty, tx = h // tile, w // tile
    idx = np.arange(n * ty * tx)
    if len(idx) > count:
        idx = idx[np.linspace(0, len(idx) - 1, count).round().astype(int)]
    return np.stack([picks[i // (ty * tx), (i // tx % ty) * tile:(i // tx % ty + 1) * tile,
                           (i % tx) * tile:(i % tx + 1) * tile] for i in idx])


def flat_sample(tiles: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """Up to ``n`` flat pixels ``(P, 3)`` uint8 of ``tiles`` ``(T, h, w, 3)`` (from :func:`cut_tiles`), and the
    flat share. All pixels are used when under 1% of them are flat."""
    mask = flat_pixels(tiles)
    share = float(mask.mean())
    px = tiles[mask] if share >= 0.01 else tiles.reshape(-1, 3)
    if len(px) > n:
        px = px[np.random.default_rng(seed).choice(len(px), n, replace=False)]
    return px, share


def neutral(tiles: np.ndarray) -> bool:
    """Whether ``tiles`` ``(T, h, w, 3)`` uint8 are black and white: mean ``|R - G| + |B - G|`` at most
    :data:`NEUTRAL_CHROMA` levels."""
    g = tiles[..., 1].astype(np.int16)
    return float((np.abs(tiles[..., 0] - g) + np.abs(tiles[..., 2] - g)).mean()) <= NEUTRAL_CHROMA


def neutral_colours(palette: np.ndarray) -> bool:
    """Whether the colours ``palette`` ``(K, 3)`` (float or integer), taken as one row of pixels, are black and white
    (:func:`neutral`)."""
    return neutral(np.clip(np.round(palette), 0, 255).astype(np.uint8)[None, None])
