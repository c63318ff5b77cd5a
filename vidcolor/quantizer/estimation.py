"""The quantizer behind decoded frames (:func:`estimate`), estimated from the frames themselves.

The quantizer is unknown and estimated from the decoded frames themselves (:func:`estimate`), through
the codec's noise: uniform levels from the circular moments of each channel's level histogram at the
candidate periods (the same statistic as the generator's level cue), a palette by mode seeking on the
colour histogram. Each estimate has a confidence, and the cells are widened by the codec noise
measured on the frames (a robust spread of the pixels about their nearest level or palette colour).
Where the observed pixel itself lies outside its widened cell (codec smear at an edge), the allowed set
is stretched to contain it, so that leaving a pixel as it is is always allowed.
"""
from __future__ import annotations

import numpy as np

from vidcolor.arrays import check_rgb
from vidcolor.quantizer.graphics import FILM_MIN_GRAYS, GRAPHICS_FLAT, enlarged_factor, soft_film
from vidcolor.quantizer.levels import (MIXED_BITS, UNIFORM_ALL_R, fit_agrees, level_distance, level_index, level_noise,
                                       level_offset, levels_seen, holds_levels, near_level, seen_at_large,
                                       spread_apart, uniform_channel)
from vidcolor.quantizer.palette import (PALETTE_GRAY_PEAKS, PALETTE_RADIUS, gray_peaks, gray_ranks, nearest_colour,
                                        palette_passes, recover_palette)
from vidcolor.quantizer.reconstruction import PALETTE_SMALL, Quantizer
from vidcolor.quantizer.stats import cut_tiles, flat_sample, neutral, neutral_colours

UNIFORM_STRONG_R = 0.6
"""R a channel's level set needs to stand for all three (the others showing none or the same convention)."""

UNIFORM_MAX_OFF_LEVELS = 1.2
"""A bin-floor level set (bit truncation) that some channel does not show by itself is also refused
(:func:`_palette_off_levels`) where a palette passes whose colours, in those channels, lie on average (over the
palette's pixels) more than this many tolerances (max(2, period / 8) levels) from the levels. Under bit truncation the
reconstruction adds the bin-floor offset (:meth:`Quantizer.centre_offset`), so a palette read so is brightened; read
as bin middles or spread levels its cells stay centred on the observed colours and cost little.

Chosen on 190 training photos (every 17th of the training split; ten degradations, libx264 crf 12, one frame): the
141 genuine 4-bit images read at 4 bits that reach the check lie at 0.07-1.10; of the 8 non-uniform images the share
rule (:data:`UNIFORM_MIN_ON_LEVELS`) let through, 3 lie at 1.33-1.49 (ffmpeg's 16 colours of a photo whose gray sky
sits on 4-bit middles, with and without Bayer dither: read as the palette they gain 0.05 and 0.11 dB less; an
8-colour palette read as 4-bit floor levels: +0.25 -> +0.36 dB), the others at 0.19-0.95. Checked on the 170
validation photos: applied to every convention, 12 readings change, mean +0.66 -> +0.51 dB (three genuine 4-bit-mid
photos at 1.24-1.67 lose up to 1.3 dB); applied to floor levels only (kept; the training photos' two mid readings
pointed the same way, so this check is not untouched), 4 change (a photo's 16 colours, plain, Bayer, sierra2 and
median cut, read as 3-bit floor levels), mean +0.13 -> +0.42 dB, worst +0.00 -> +0.13; no genuine floor image of
either split lies above 1.2."""

UNIFORM_MIN_ON_LEVELS = 0.1
ON_LEVELS_STRIDE = 4
"""A uniform level set that some channel does not show by itself is kept only if, where a palette also passes
(:func:`recover_palette`), at least this share of the palette's pixels (those within :data:`PALETTE_RADIUS` of a palette
colour) sit at colours whose three channels lie on the levels (within max(2, period / 8) levels, as
:data:`~vidcolor.quantizer.levels.UNIFORM_MIN_NEAR`); below it the frames are read as the palette
(:func:`_palette_off_levels`). A palette of 16 colours whose G values happen to line up with a level set reads as that
level set in G alone (R and B, smeared by 4:2:0, show none and take G's), and under bit truncation the bin-floor offset
(:meth:`Quantizer.centre_offset`) then brightens the whole frame.

Chosen on 190 training photos (every 17th, colour and black and white, never the validation rows) at crf 14, ten
degradations (ffmpeg 8, 16 with and without Bayer and sierra2_4a dither, 32 and 64 colours, vidcolor's median cut
16, 4 bits mid and floor, none), where a palette passes too: of the 35 images read as levels that are not (palettes,
one unquantized photo), 14 hold 0.00-0.09 (+0.18 dB mean, worst -0.39 at the weight file's strengths; read as the
palette +0.23, worst +0.08); of the 609 genuine 4-bit images none is below 0.10 (one 4-bit floor photo read as 3-bit
floor levels holds 0.10, the others 0.18-1.00). The other 21 hold 0.19-0.99 and stay misread, among them palettes
of 5 to 8 colours (black and white, or colour) that line up with 3-bit floor levels (down to -6.5 dB).

The check runs on every ``ON_LEVELS_STRIDE``-th sampled pixel: on 16 frames of a 640x360 4-bit clip 5 ms against 14
on all (the whole estimate 38 ms against 31 without the check), and on 523 colour images (275 of the choice above,
248 validation photos) the reading is the same as on all."""

SAMPLE_PIXELS = 60_000


def _mixed_levels(tiles: np.ndarray) -> list[tuple[int, str, float, float]] | None:
    """Per-channel level sets of colour ``tiles`` ``(T, h, w, 3)`` uint8 of different bit depths (RGB332, RGB565), each
    channel's own: ``[(bits, convention, R, noise)]`` per channel, None where some channel shows none. Each channel is
    fitted on all pixels (:func:`uniform_channel` over :data:`~vidcolor.quantizer.levels.MIXED_BITS`, its clearest
    convention per depth) and must be clear there (R >= :data:`UNIFORM_STRONG_R` and
    :data:`~vidcolor.quantizer.levels.UNIFORM_ALL_R`: the lossless or 4:4:4 branch of
    :func:`~vidcolor.quantizer.levels.seen_at_large`, each channel at its own levels) with values at two of its
    levels at least (:func:`levels_seen`); the depths must differ (one depth is the single reading's to make).
    Black-and-white frames have one depth.

    Why all pixels: a GIF written by ffmpeg without a palette is RGB332 with ordered dither, whose flat pixels hold
    two levels per channel at most, where any period fits; and 4:2:0 smears R and B at every edge, so frames through
    it do not pass (the single reading stays). Graphics (flat or enlarged frames, left as they are whatever is read)
    are not offered to it: the 2x pixel art of the validation rows holds palettes of 3 to 16 colours that line up
    with 2- to 4-bit levels per channel (26 readings of 266 changed, none of them output). The rule is a new reading,
    not a tuned one: on the validation images (benchmarks/dequantize_validation.py content) no reading changes, neither
    at the degradations of DEGRADATIONS (1,064 readings) nor single-depth and lossless (3, 4, 5 bits, floor, mid,
    spread: 1,368; a photo at 3-bit spread levels read 3/3/2, B's 3-bit levels taken for 2-bit middles within
    tolerance, until the fewer levels had to be held by the single depth's, :func:`holds_levels`). Quantized per
    channel to spread levels (3/3/2, 4/4/2, 5/6/5; the weight file's strengths, as stills, PSNR gain over the input,
    mean / worst), the 24 validation photos go from +1.83 / +0.00 to +2.73 / +0.00, +1.26 / +0.05 to +3.51 / +0.78,
    +0.28 / +0.00 to +2.00 / +0.71 dB, the 10 clip frames from +0.98 / +0.00 to +1.23 / +0.00, +1.18 / +0.00 to +2.37
    / +0.00, +0.08 / +0.00 to +2.80 / +2.17; through H.264 crf 14 (4:2:0) 3 of the 102 readings change (at 3/3/2 two
    clip frames -0.02 and -0.03 dB, a photo +0.20 -> +1.68). A 160x90 GIF of DAVIS footage written by ffmpeg without a
    palette: its 12 frames were read as palettes of 5 to 8 colours (+0.64 dB), now 3/3/2 (+6.47)."""
    if neutral(tiles):
        return None
    values = [tiles[..., c].ravel() for c in range(3)]
    fits = [uniform_channel(v, MIXED_BITS, clearest=True) for v in values]
    if any(not f[0] or f[2] < max(UNIFORM_STRONG_R, UNIFORM_ALL_R) for f in fits) or len({f[0] for f in fits}) == 1:
        return None
    if any(levels_seen(v, f[0], f[1]) < 2 for v, f in zip(values, fits)):
        return None
    return fits


def _palette_off_levels(px: np.ndarray, bits: int, conv: str, alone: list[int]) -> bool:
    """Whether pixels ``(P, 3)`` uint8 are better read as a palette than as the level set ``(bits, conv)`` that the
    channels not in ``alone`` show (the channels ``alone`` show none of their own): a palette passes
    (:func:`recover_palette`, :func:`palette_passes`) and either under :data:`UNIFORM_MIN_ON_LEVELS` of its pixels
    (those within :data:`PALETTE_RADIUS` of their colour) sit at colours that lie on the levels in all three channels
    (each within max(2, period / 8) levels of a level, the tolerance of
    :data:`~vidcolor.quantizer.levels.UNIFORM_MIN_NEAR`), or, for bin-floor levels (bit truncation), in the channels
    ``alone`` its colours lie, on average over those pixels, more than :data:`UNIFORM_MAX_OFF_LEVELS` tolerances from
    the levels. Genuine uniform levels put the colours that mode seeking finds on them, within the codec's noise; a
    palette that lines up with a level set in one channel does not, even where one of its colours (a gray sky) happens
    to lie on the levels in all three."""
    palette, coverage, tightness, _ = recover_palette(px)
    if not palette_passes(palette, coverage, tightness):
        return False
    values = palette.astype(np.float64)
    on = np.all(near_level(values, bits, conv), axis=1)
    x = px.astype(np.float32)
    idx = nearest_colour(x, palette)
    near = np.linalg.norm(x - palette[idx], axis=1) <= PALETTE_RADIUS
    if not near.any():
        return False
    if float(on[idx[near]].mean()) < UNIFORM_MIN_ON_LEVELS:
        return True
    if not alone or conv != "floor":        # only bit truncation's bin-floor offset makes the misreading costly
        return False
    tolerance = max(2.0, level_offset(bits, conv)[0] / 8)
    off = level_distance(values[:, alone], bits, conv).mean(axis=1)         # per colour, levels
    return float(off[idx[near]].mean()) > UNIFORM_MAX_OFF_LEVELS * tolerance


def estimate(frames: np.ndarray, none_margin: float = 0.0, max_margin: float = 4.0) -> Quantizer:
    """Estimate the quantizer behind decoded frames (one clip, or one scene of it).

    Statistics are taken on flat pixels (:func:`~vidcolor.quantizer.stats.flat_pixels`). Uniform levels are tried first:
    among the channels with a clear level set (R >= :data:`UNIFORM_STRONG_R`), the coarsest, then the clearest, sets
    bit depth and convention for all three, unless its values sit at one level alone
    (:data:`~vidcolor.quantizer.levels.UNIFORM_MIN_LEVEL_SHARE`) or another channel shows a level set that does not
    contain it (:func:`fit_agrees`); after 4:2:0 the levels survive best in G, which dominates luma. Where some channel
    shows no level set of its own, a palette that also passes and whose colours are not on those levels overrules them
    (:data:`UNIFORM_MIN_ON_LEVELS`; for bin-floor levels also where its colours lie far from them in those channels,
    :data:`UNIFORM_MAX_OFF_LEVELS`). Where no single depth is read, a channel's own spread levels are of another
    depth (:func:`~vidcolor.quantizer.levels.spread_apart`), or a channel shows fewer levels that the single depth's
    hold (:func:`~vidcolor.quantizer.levels.holds_levels`: 4/4/2's B), each channel may have its own (RGB332, RGB565:
    :func:`_mixed_levels`; lossless or 4:4:4 frames, not graphics), which then holds. Then a palette (at most
    :data:`~vidcolor.quantizer.palette.PALETTE_MAX_COLOURS` colours covering
    :data:`~vidcolor.quantizer.palette.PALETTE_MIN_COVERAGE` of the pixels in clusters of
    :data:`~vidcolor.quantizer.palette.PALETTE_MIN_TIGHTNESS`; a black-and-white one whose grays also stand out over all
    pixels, :data:`PALETTE_GRAY_PEAKS`); otherwise ``none``. Frames with at least :data:`GRAPHICS_FLAT` flat pixels
    (soft black-and-white footage on uniform levels or on a palette of :data:`FILM_MIN_GRAYS` to :data:`PALETTE_SMALL`
    grays excepted, :func:`soft_film`), or enlarged by nearest neighbour
    (:func:`~vidcolor.quantizer.graphics.enlarged_by`), are marked ``graphics``. The margin is 2.5 x the measured codec
    noise, at least 1 and at most ``max_margin`` levels.

    Args:
        frames: uint8 RGB ``(N, H, W, 3)`` or ``(H, W, 3)``; up to :data:`SAMPLE_PIXELS` pixels are used.
        none_margin: half-width (levels) of the cell of values with no quantizer found.
        max_margin: upper bound of the codec-noise margin (levels).

    Returns:
        :class:`Quantizer`.

    Raises:
        ValueError: ``frames`` is not such an array, or is empty (:func:`~vidcolor.arrays.check_rgb`).
    """
    frames = check_rgb(frames, (3, 4))
    frames = frames if frames.ndim == 4 else frames[None]
    tiles = cut_tiles(frames)
    px, flat = flat_sample(tiles, SAMPLE_PIXELS)
    enlarged, flat_art = enlarged_factor(tiles) > 1, flat >= GRAPHICS_FLAT
    fits = [uniform_channel(px[:, c]) for c in range(3)]
    strong = [c for c in range(3) if fits[c][0] and fits[c][2] >= UNIFORM_STRONG_R]
    # the coarsest clear level set (then the clearest): a finer fit of another channel may contain it
    best = min(strong, key=lambda c: (fits[c][0], -fits[c][2]), default=None)
    bits, conv, r, _ = fits[best] if best is not None else (0, "", 0.0, 0.0)
    # values at one level have R = 1 at every period: no evidence of a level set (UNIFORM_MIN_LEVEL_SHARE)
    uniform = (bool(bits) and levels_seen(tiles[..., best].ravel(), bits, conv) >= 2
               and all(fit_agrees(f, bits, conv) for f in fits) and seen_at_large(tiles, bits, conv))
    if uniform and not all(f[0] for f in fits):     # a channel without levels of its own: a palette may fit better
        uniform = not _palette_off_levels(px[::ON_LEVELS_STRIDE], bits, conv, [c for c in range(3) if not fits[c][0]])
    # no single depth, a channel's own spread levels of another depth (RGB332's B), or a channel whose fewer levels
    # the single depth's hold (4/4/2's B: 85 and 170 are 4-bit spread levels): each channel its own depth
    mixed = None if enlarged or flat_art else _mixed_levels(tiles)
    if mixed is not None and uniform and not any(spread_apart(f, bits, conv) for f in fits) \
            and not any(m[0] < bits and holds_levels((bits, conv), m[0], m[1]) for m in mixed):
        mixed = None
    if mixed is not None:
        noise = max(f[3] for f in mixed)
        return Quantizer("uniform", min(f[2] for f in mixed), float(np.clip(2.5 * noise, 1.0, max_margin)),
                         tuple(f[0] for f in mixed), tuple(f[1] for f in mixed), none_margin=none_margin)
    if uniform:
        # a channel without a level set of its own (the chroma-heavy R and B after 4:2:0), or with a finer
        # one that contains it, takes the leading channel's, with its own noise about those levels as margin
        noise = max(level_noise(px[:, c], bits, conv) for c in range(3))
        return Quantizer("uniform", r, float(np.clip(2.5 * noise, 1.0, max_margin)), (bits,) * 3, (conv,) * 3,
                         none_margin=none_margin,
                         graphics=enlarged or (flat_art and not soft_film(
                             tiles, level_index(tiles[..., 1].astype(np.float32), bits, conv))))
    pal, coverage, tightness, noise = recover_palette(px)
    if palette_passes(pal, coverage, tightness) and (not neutral_colours(pal)
                                                     or gray_peaks(tiles, pal) >= PALETTE_GRAY_PEAKS):
        soft = flat_art and FILM_MIN_GRAYS <= len(pal) <= PALETTE_SMALL and soft_film(
            tiles, gray_ranks(pal).take(np.rint(tiles.mean(axis=-1)).astype(np.uint8)))
        return Quantizer("palette", coverage, float(np.clip(2.5 * noise, 1.0, max_margin)), palette=pal,
                         none_margin=none_margin, graphics=enlarged or (flat_art and not soft))
    return Quantizer("none", 0.0, 0.0, none_margin=none_margin)
