"""vidcolor.quantizer: quantizer estimation through codec noise, and projection onto the quantization cells."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidcolor.quantizer import estimation
from vidcolor.quantizer.contours import (CONTOUR_CHROMA_WEIGHT, CONTOUR_MAX_DISTANCE, CONTOUR_PAIRS,
                                         CONTOUR_PALETTE_WEIGHT, CONTOUR_WEIGHT, CONTOUR_WIDTH_WEIGHT, contour_pair)
from vidcolor.quantizer.estimation import estimate
from vidcolor.quantizer.graphics import FILM_MIN_GRAYS, GRAPHICS_FLAT, enlarged_by
from vidcolor.quantizer.levels import uniform_channel
from vidcolor.quantizer.palette import PALETTE_GRAY_PEAKS, gray_peaks, nearest_colour
from vidcolor.quantizer.reconstruction import BAND_WEIGHT, CENTRE_AGREEMENT, PALETTE_SMALL, Quantizer
from vidcolor.quantizer.stats import LUMA_WEIGHTS, flat_pixels
from vidcolor.quantizer.tracker import QuantizerTracker
from vidcolor.training.degrade import h264_roundtrip, quantize_palette, quantize_uniform


PALETTE = np.array([[20, 30, 200], [220, 40, 40], [30, 190, 60], [240, 230, 210], [10, 10, 10], [140, 90, 30],
                    [250, 160, 0], [90, 90, 160]], np.uint8)


@pytest.fixture(scope="module")
def game_frame() -> np.ndarray:
    """Flat blocks of 8 palette colours, 2x nearest-neighbour enlarged: pixel-art like, uint8 (96, 128, 3)."""
    rng = np.random.default_rng(1)
    idx = rng.integers(0, len(PALETTE), (12, 16))
    return np.repeat(np.repeat(PALETTE[idx], 8, 0), 8, 1)


@pytest.mark.parametrize("convention", ["floor", "mid", "spread"])
@pytest.mark.parametrize("crf", [None, 12])
def test_uniform_levels_found(gradient, convention, crf):
    q = quantize_uniform(gradient, 4, convention)
    if crf is not None:
        q = h264_roundtrip(q, crf)
    est = estimate(q)
    assert est.kind == "uniform", est.describe()
    assert est.bits == (4, 4, 4) and set(est.conventions) == {convention}
    assert 1.0 <= est.margin <= 4.0 and est.confidence > 0.5


def test_bin_middles_a_level_off_are_still_bin_middles(gradient):
    """4-bit bin middles written as 7 + 16 k (a tool that rounds 7.5 down) or 8 + 16 k (numpy, ffmpeg's
    ``x*16+8``), then moved by a few tenths of a level (4:2:0, the codec): still 4 bits at the middle, not
    5 bits at the floor (a finer grid holding the same levels) and not a palette."""
    k = gradient.astype(np.int16) // 16 * 16
    rng = np.random.default_rng(2)
    for base in (7, 8):
        drift = np.where(rng.random(k.shape) < 0.3, 1, 0)       # 0.3 level more: 0.8 level from 7.5
        q = np.clip(k + base + (drift if base == 8 else -drift), 0, 255).astype(np.uint8)
        est = estimate(q)
        assert est.kind == "uniform" and est.bits == (4, 4, 4) and est.conventions == ("mid",) * 3, est.describe()


def test_a_channel_on_a_finer_level_set_that_contains_the_others_levels_is_no_conflict(gradient):
    """G and B at 4 bits (bin middles); R on multiples of 8 (5-bit floor levels), which contain every
    4-bit bin middle (7.5 + 16 k, within a level). A noisy chroma channel of a 4-bit clip fits so after
    4:2:0; it used to be read as a second convention and the frames as a palette. The cells given to R
    (4-bit boxes) contain its own 5-bit ones."""
    q = quantize_uniform(gradient, 4, "mid")
    q[..., 0] = gradient[..., 0] // 8 * 8
    est = estimate(q)
    assert est.kind == "uniform" and est.bits == (4, 4, 4) and est.conventions == ("mid",) * 3, est.describe()
    lo, hi = est._box(q[..., 0].astype(np.float32), 0)
    assert (lo <= q[..., 0] // 8 * 8).all() and (hi >= q[..., 0] // 8 * 8 + 7).all()
    q[..., 0] = gradient[..., 0] // 16 * 16            # 4-bit floor levels against 4-bit middles: a conflict
    assert estimate(q).kind != "uniform"


@pytest.mark.parametrize("crf", [None, 12])
def test_palette_found(game_frame, crf):
    frame = game_frame if crf is None else h264_roundtrip(game_frame, crf)
    est = estimate(frame)
    assert est.kind == "palette", est.describe()
    assert len(est.palette) == len(PALETTE)
    # every true colour recovered within a few levels
    d = np.linalg.norm(est.palette[:, None].astype(float) - PALETTE[None].astype(float), axis=-1)
    assert d.min(axis=0).max() < 4


@pytest.mark.parametrize("crf", [None, 12])
def test_a_palette_lined_up_with_levels_in_g_alone_is_a_palette(gradient, crf, monkeypatch):
    """16 colours whose G values are 4-bit floor levels and whose R and B values are random: G alone shows a
    level set, which R and B (no level set of their own) would take. Few of the palette's colours are on the
    levels in all three channels, so the frame is read as the palette (without the check: as bit truncation,
    whose bin-floor offset would brighten it)."""
    rng = np.random.default_rng(0)
    pal = np.stack([rng.integers(0, 256, 16), 16 * np.arange(16), rng.integers(0, 256, 16)], 1).astype(np.float32)
    q = pal[nearest_colour(gradient.reshape(-1, 3).astype(np.float32), pal)].reshape(gradient.shape).astype(np.uint8)
    frame = q if crf is None else h264_roundtrip(q, crf)
    est = estimate(frame)
    assert est.kind == "palette", est.describe()
    assert np.linalg.norm(est.palette[:, None] - pal[None], axis=-1).min(axis=1).max() < 4   # its colours
    monkeypatch.setattr(estimation, "UNIFORM_MIN_ON_LEVELS", 0.0)
    monkeypatch.setattr(estimation, "UNIFORM_MAX_OFF_LEVELS", np.inf)      # neither check: bit truncation
    assert estimate(frame).strength_key == "uniform floor"


@pytest.mark.parametrize("crf", [None, 12])
def test_a_palette_with_a_gray_on_the_levels_is_still_a_palette(gradient, crf, monkeypatch):
    """As above, but a gray of the palette that lies on the levels in all three channels (160, a sky) covers an eighth
    of the frame, so that the share of pixels on the levels passes :data:`UNIFORM_MIN_ON_LEVELS`; in R and B the
    other colours lie far from the levels (ffmpeg's 16 colours of a DAVIS clip were read as 4-bit bit truncation so,
    and lost most of their gain to the bin-floor offset)."""
    rng = np.random.default_rng(0)
    pal = np.stack([rng.integers(0, 256, 16), 16 * np.arange(16), rng.integers(0, 256, 16)], 1).astype(np.float32)
    pal[10] = 160                                       # the gray, on 4-bit floor levels in R, G and B
    q = pal[nearest_colour(gradient.reshape(-1, 3).astype(np.float32), pal)].reshape(gradient.shape).astype(np.uint8)
    q[:12] = 160                                        # an eighth of the frame: R and B show no level set
    frame = q if crf is None else h264_roundtrip(q, crf)
    assert estimate(frame).kind == "palette", estimate(frame).describe()
    monkeypatch.setattr(estimation, "UNIFORM_MAX_OFF_LEVELS", np.inf)      # the share rule alone: bit truncation
    assert estimate(frame).strength_key == "uniform floor"


def test_values_near_255_are_no_floor_level():
    """supertux's missing-texture tile: a pixel checker of black and white, red or blue (levels 0 and 255
    only), 2x enlarged, after H.264. Its codec noise below 255 lay near the level moment's floor level at
    256 (not a level) and once made it 3-bit floor (32-level cells); it is a palette of its colours."""
    y, x = np.mgrid[0:128, 0:128]
    colour = np.where((x // 4 + y // 4) % 2 == 0, 1, np.where(y < 64, 2, 3))
    colours = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]], np.uint8)
    frame = h264_roundtrip(colours[np.where((x + y) % 2 == 0, colour, 0)].repeat(2, 0).repeat(2, 1), 14)
    est = estimate(frame)
    assert est.kind == "palette", est.describe()
    d = np.linalg.norm(est.palette[:, None].astype(float) - colours[None].astype(float), axis=-1)
    assert d.min(axis=0).max() < 10           # within the smear of H.264 on a pixel checker


@pytest.mark.parametrize("gray", [False, True])
@pytest.mark.parametrize("crf", [None, 12])
def test_a_dark_background_near_one_level_is_no_bit_depth(crf, gray):
    """An unquantized frame whose flat pixels are a dark background that happens to sit near one 4-bit bin
    middle (8): on the flat pixels alone that reads as 4 bits (it did, for four held-back photos); over
    all pixels the levels do not show (``seen_at_large``). The same frame quantized to 4 bits is found,
    in colour (G's levels lead R's and B's after 4:2:0, or all three hold them) and in black and white
    (no chroma: the levels stand out as a lattice)."""
    rng = np.random.default_rng(4)
    g = cv2.GaussianBlur(rng.uniform(0, 255, (96, 128)).astype(np.float32), (0, 0), 1.5)
    g = (g - g.mean()) * 5                                   # luma-led texture, like a photo's
    img = np.stack([g + 120] * 3 if gray else [g * 0.9 + 140, g + 120, g * 0.8 + 90], -1)
    img = np.clip(img, 20, 250)
    img[:, :48] = 8 + (rng.normal(0, 0.5, (96, 48, 1)) if gray else rng.normal(0, 0.5, (96, 48, 3)))
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    q = quantize_uniform(img, 4, "mid")
    if crf is not None:
        img, q = h264_roundtrip(img, crf), h264_roundtrip(q, crf)
    assert estimate(img).kind != "uniform", estimate(img).describe()
    est = estimate(q)
    assert est.kind == "uniform" and est.bits == (4, 4, 4) and est.conventions == ("mid",) * 3, est.describe()


def test_nothing_found_on_rich_frames(gradient):
    noisy = np.clip(gradient.astype(int) + np.random.default_rng(2).integers(-6, 7, gradient.shape), 0, 255)
    assert estimate(h264_roundtrip(noisy.astype(np.uint8), 12)).kind == "none"
    rand = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert estimate(rand).kind == "none"


def test_flat_pixels_mark_constant_patches(game_frame):
    mask = flat_pixels(game_frame[None])[0]
    assert mask.mean() > 0.7                                    # inside the blocks
    rand = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert flat_pixels(rand[None]).mean() < 0.01


def test_box_projection_is_consistent_and_never_farther_from_the_truth(gradient):
    coarse = quantize_uniform(gradient, 4, "floor")
    qz = Quantizer("uniform", 1.0, 0.0, (4, 4, 4), ("floor",) * 3)
    rng = np.random.default_rng(5)
    guess = np.clip(coarse.astype(int) + rng.integers(-30, 31, coarse.shape), 0, 255).astype(np.uint8)
    out = qz.project(coarse, guess)
    np.testing.assert_array_equal(out >> 4, coarse >> 4)         # re-quantizes to the observation
    assert not np.array_equal(out, guess)
    err_in = np.abs(guess.astype(int) - gradient)
    err_out = np.abs(out.astype(int) - gradient)
    assert (err_out <= err_in).all()                             # POCS: the truth is in the cell
    np.testing.assert_array_equal(qz.project(coarse, gradient), gradient)   # the truth is left alone


@pytest.mark.parametrize("bits, conventions, margin", [((4, 4, 4), ("mid",) * 3, 4.0),
                                                       ((5, 4, 3), ("floor", "spread", "mid"), 1.3),
                                                       ((4, 0, 4), ("mid", "", "mid"), 2.0)])
def test_box_projection_by_table_equals_the_box_of_each_pixel(bits, conventions, margin):
    """project() looks the box up per observed level; it must equal clipping each pixel to its own _box."""
    rng = np.random.default_rng(6)
    observed = rng.integers(0, 256, (2, 24, 40, 3), dtype=np.uint8)
    guess = observed + rng.normal(0, 9, observed.shape).astype(np.float32)
    guess[0, 0, :8, 0] = [0.5, 1.5, 2.5, 254.5, 255.5, -0.5, 300.0, -40.0]    # rounding ties and the range's ends
    qz = Quantizer("uniform", 0.9, margin, bits, conventions, none_margin=1.5)
    expected = np.stack([np.clip(guess[..., c], *qz._box(observed[..., c].astype(np.float32), c))
                         for c in range(3)], -1)
    expected = np.clip(np.round(expected), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(qz.project(observed, guess), expected)
    np.testing.assert_array_equal(qz.project(observed[1], guess[1]), expected[1])       # one frame (H, W, 3)
    # channels of one level set share one table (OpenCV's one-channel LUT, half the time of a 3-channel one)
    shared = len(set(zip(bits, conventions))) == 1
    shapes = [t.shape for t in qz._box_tables]
    assert shapes == [(1, 256) if shared else (1, 256, 3)] * 2, shapes


def test_palette_projection_stays_in_the_voronoi_cell(game_frame):
    pal = PALETTE.astype(np.float32)
    qz = Quantizer("palette", 1.0, 0.0, palette=pal)
    rng = np.random.default_rng(6)
    guess = np.clip(game_frame.astype(int) + rng.integers(-120, 121, game_frame.shape), 0, 255).astype(np.uint8)
    out = qz.project(game_frame, guess)
    def dist(img):                                              # (P, K) distances to the palette colours
        return np.linalg.norm(img.reshape(-1, 1, 3).astype(float) - pal[None], axis=-1)

    own = np.argmin(dist(game_frame), axis=1)
    d = dist(out)
    # every output pixel is in its observed colour's Voronoi cell: at most as far from it as from any
    # other palette colour (up to the rounding to uint8 of points projected onto a face)
    assert (d[np.arange(len(own)), own] - d.min(axis=1) <= 1.8).all()   # 2 x the half-level rounding in 3-D
    assert (np.argmin(dist(guess), axis=1) != own).mean() > 0.2  # the guess had left its cells
    np.testing.assert_array_equal(qz.project(game_frame, game_frame), game_frame)


def test_palette_projection_keeps_a_smeared_pixel_where_it_is():
    """An observed value outside its (unwidened) cell, e.g. chroma smear at an edge, is always allowed."""
    pal = np.array([[0, 0, 0], [200, 200, 200]], np.float32)
    qz = Quantizer("palette", 1.0, 0.0, palette=pal)
    observed = np.array([[[90, 90, 90]]], np.uint8)              # nearest: black, but close to the face
    np.testing.assert_array_equal(qz.project(observed, observed), observed)
    out = qz.project(observed, np.array([[[180, 180, 180]]], np.uint8))
    assert (out <= 100).all() and (out >= 90).all()              # pulled back to the face, not past q


def test_graphics_are_left_as_they_are(game_frame, gradient):
    """Flat-colour art keeps its colours: its palette is found, but nothing may move (like no quantizer)."""
    coded = h264_roundtrip(game_frame, 12)
    est = estimate(coded)
    assert est.kind == "palette" and est.graphics and "graphics" in est.describe()
    textured = np.clip(gradient + np.random.default_rng(7).normal(0, 10, gradient.shape), 0, 255).astype(np.uint8)
    photo_like = estimate(h264_roundtrip(quantize_palette(textured, 16), 12))  # natural texture in 16 colours
    assert photo_like.kind == "palette" and not photo_like.graphics
    guess = np.clip(coded.astype(int) + 60, 0, 255).astype(np.uint8)             # a sprite recoloured
    np.testing.assert_array_equal(est.project(coded, guess), coded)
    assert not np.array_equal(photo_like.project(coded, guess), coded)          # a non-graphics cell lets it move


@pytest.mark.parametrize("crf", [None, 12])
def test_black_and_white_uniform_levels_are_not_graphics_for_their_flat_bands(crf):
    """A soft black-and-white picture (film: wide smooth areas) quantized to 4 bits is mostly flat bands,
    as many flat pixels as flat art has; its levels are found as a lattice (UNIFORM_GRAY_CONTRAST), so it is
    dequantized, not left as graphics. The same bands in colour, where flat shares alone cannot tell art from
    footage, stay graphics, and so does black-and-white text, whose level changes are mostly jumps of
    several levels (FILM_SINGLE_STEPS)."""
    y, x = np.mgrid[0:96, 0:160].astype(np.float32)
    luma = 40 + 1.1 * x + 0.5 * y + 12 * np.sin(x / 17) * np.cos(y / 13)   # soft, without texture
    gray = np.repeat(np.clip(luma, 0, 255)[..., None], 3, -1).astype(np.uint8)
    tinted = np.clip(gray * np.float32([1.0, 0.8, 0.55]), 0, 255).astype(np.uint8)
    code = (lambda a: a) if crf is None else (lambda a: h264_roundtrip(a, crf))
    coded = code(quantize_uniform(gray, 4, "mid"))
    found = estimate(coded)
    assert flat_pixels(coded[None]).mean() >= GRAPHICS_FLAT
    assert found.kind == "uniform" and found.bits == (4, 4, 4) and not found.graphics, found.describe()
    colour = estimate(code(quantize_uniform(tinted, 4, "mid")))
    assert colour.kind == "uniform" and colour.graphics, colour.describe()
    title = np.zeros((96, 160), np.uint8)                          # an intertitle: text jumps many levels
    for i, line in enumerate(("THE NEXT", "MORNING")):
        cv2.putText(title, line, (12, 40 + 36 * i), cv2.FONT_HERSHEY_COMPLEX, 1.0, 235, 2, cv2.LINE_AA)
    text = estimate(code(quantize_uniform(np.repeat(title[..., None], 3, -1), 4, "mid")))
    assert text.kind == "uniform" and text.graphics, text.describe()


@pytest.mark.parametrize("crf", [None, 12])
def test_black_and_white_palettes_of_enough_grays_are_not_graphics_for_their_flat_bands(crf):
    """The same soft black-and-white picture quantized to a palette of 12 grays (median cut) is mostly flat
    bands too; its grays change by single steps (FILM_SINGLE_STEPS), so it is dequantized, with the contour
    estimate. With fewer than FILM_MIN_GRAYS grays the share of single steps says little, and it stays graphics,
    as the same bands in colour do."""
    y, x = np.mgrid[0:96, 0:160].astype(np.float32)
    luma = 40 + 1.1 * x + 0.5 * y + 12 * np.sin(x / 17) * np.cos(y / 13)
    gray = np.repeat(np.clip(luma, 0, 255)[..., None], 3, -1).astype(np.uint8)
    code = (lambda a: a) if crf is None else (lambda a: h264_roundtrip(a, crf))
    coded = code(quantize_palette(gray, 12))
    found = estimate(coded)
    assert flat_pixels(coded[None]).mean() >= GRAPHICS_FLAT
    assert found.kind == "palette" and FILM_MIN_GRAYS <= len(found.palette) <= 12, found.describe()
    assert not found.graphics and found.contour_palette, found.describe()
    few = estimate(code(quantize_palette(gray, 4)))
    assert few.kind == "palette" and len(few.palette) < FILM_MIN_GRAYS and few.graphics, few.describe()
    tinted = np.clip(gray * np.float32([1.0, 0.8, 0.55]), 0, 255).astype(np.uint8)
    colour = estimate(code(quantize_palette(tinted, 12)))
    assert colour.kind == "palette" and colour.graphics, colour.describe()


def test_none_passes_the_input_unchanged(gradient):
    qz = Quantizer("none")
    guess = np.clip(gradient.astype(int) + 9, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(qz.project(gradient, guess), gradient)
    wide = Quantizer("none", none_margin=2.0).project(gradient, guess)
    assert np.abs(wide.astype(int) - gradient).max() == 2
    assert qz.passes_unchanged and Quantizer("palette", graphics=True).passes_unchanged
    assert not Quantizer("none", none_margin=2.0).passes_unchanged and not Quantizer("uniform").passes_unchanged


def test_tracker_estimates_per_clip_and_per_still(gradient, game_frame):
    coarse = quantize_uniform(gradient, 4, "mid")[None]
    tracker = QuantizerTracker(every=8, warmup=4)
    kinds = [tracker(coarse).kind for _ in range(4)]
    assert kinds == ["uniform"] * 4
    noisy = np.clip(coarse.astype(int) + np.random.default_rng(0).integers(-1, 2, coarse.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    each = QuantizerTracker(every=1)                            # re-estimated on every batch
    first, again = each(coarse), each(noisy)
    assert first.describe(measured=False) == again.describe(measured=False)
    assert again.describe(measured=False).startswith("uniform 4/4/4 bits (mid)")
    assert again.confidence < first.confidence                  # a new measurement, but not a new quantizer
    for _ in range(8):                                           # re-estimated after `every` frames: palette now
        last = tracker(game_frame[None])
    assert last.kind == "palette"
    stills = QuantizerTracker(stills=True)
    assert [stills(f[None]).kind for f in (coarse[0], game_frame)] == ["uniform", "palette"]


@pytest.mark.parametrize("bad", [np.zeros((2, 16, 16, 3), np.float32), np.zeros((16, 16), np.uint8),
                                 np.zeros((16, 16, 4), np.uint8), np.zeros((0, 16, 16, 3), np.uint8),
                                 np.zeros((1, 0, 16, 3), np.uint8), np.zeros((16, 16, 3), np.uint8).tolist()])
def test_estimate_refuses_what_is_not_uint8_rgb_frames(bad):
    """Float, gray, RGBA, empty frames and a list gave numpy's internal errors (a cast, an unpack, a matmul)."""
    with pytest.raises(ValueError, match=r"expected uint8 RGB \(N, H, W, 3\) or \(H, W, 3\), no side empty"):
        estimate(bad)


def test_tracker_refuses_a_frame_without_its_batch_axis(gradient):
    """An (H, W, 3) frame was said to be "64" frames (its rows)."""
    for tracker in (QuantizerTracker(), QuantizerTracker(stills=True)):
        with pytest.raises(ValueError, match=r"\(N, H, W, 3\), no side empty, got uint8 \(96, 128, 3\)"):
            tracker(gradient)
    with pytest.raises(ValueError, match="one frame at a time .*, got 2$"):
        QuantizerTracker()(np.stack([gradient, gradient]))


def test_tracker_keeps_the_floor_offset_weight_while_the_quantizer_stays(gradient, game_frame):
    """A re-estimate that finds the same quantizer keeps the weight of the floor offset (set once from the
    generator), so that a clip's brightness does not jump every ``every`` frames; a new quantizer, and every
    still, starts without one. (With the fixture's faint texture the levels read as graphics, which pass unchanged
    and so carry nothing: test_re_estimates_of_a_clip_that_passes_unchanged_are_freed.)"""
    rng = np.random.default_rng(0)
    textured = np.clip(gradient + rng.normal(0, 6, gradient.shape), 0, 255).astype(np.uint8)
    coarse = quantize_uniform(textured, 4, "floor")[None]
    tracker = QuantizerTracker(every=1)
    first = tracker(coarse)
    assert not first.passes_unchanged
    first.truncation_weight = 0.25
    again = tracker(coarse)
    assert again is not first and again.truncation_weight == 0.25
    assert tracker(game_frame[None]).truncation_weight is None
    stills = QuantizerTracker(stills=True)
    stills(coarse).truncation_weight = 0.25
    assert stills(coarse).truncation_weight is None


def test_tracker_waits_past_a_blank_start(gradient):
    """A clip opening on black is estimated every ``step`` frames of its warmup while nothing is found."""
    black = np.zeros((4, 96, 128, 3), np.uint8)
    coarse = quantize_uniform(gradient, 4, "floor")[None]
    tracker = QuantizerTracker(every=64, warmup=8, step=4)
    assert [(a, b, q.kind) for a, b, q in tracker.runs(black)] == [(0, 4, "none")]
    assert [q.kind for *_, q in tracker.runs(coarse)] == ["uniform"]          # frame 4: the next estimate
    late = QuantizerTracker(every=64, warmup=8, step=4)
    late.runs(np.concatenate([black, black]))
    assert [q.kind for *_, q in late.runs(coarse)] == ["none"]                  # frame 8: the warmup is over


def test_a_new_scene_is_estimated_at_once_and_through_its_warmup(gradient):
    coarse = quantize_uniform(gradient, 4, "mid")[None]
    black = np.zeros_like(coarse)
    tracker = QuantizerTracker(every=64, warmup=8, step=4)
    assert tracker(coarse).kind == "uniform"
    assert tracker(black).kind == "uniform"                     # not due: the clip's quantizer stays
    tracker.new_scene()
    runs = tracker.runs(np.concatenate([black] * 4 + [coarse]))
    assert [(a, b, q.kind) for a, b, q in runs] == [(0, 4, "none"), (4, 5, "uniform")]   # at once, then step 4
    cut = QuantizerTracker(every=64, warmup=8)
    runs = cut.runs(np.concatenate([coarse, coarse, black, black]), cuts=[False, False, True, False])
    assert [(a, b, q.kind) for a, b, q in runs] == [(0, 2, "uniform"), (2, 4, "none")]  # at the cut's frame


def test_a_clips_quantizers_do_not_depend_on_the_batches(gradient, game_frame):
    """Each frame's quantizer is the same whatever batches the clip comes in: estimates are of single frames at
    fixed frames of the scene (they were of a batch's first and last frames, and the output changed with
    --batch-size); a batch of a clip given to ``__call__`` is refused."""
    black = np.zeros((3, 96, 128, 3), np.uint8)
    floor = np.stack([quantize_uniform(np.roll(gradient, i, 1), 4, "floor") for i in range(9)])
    clip = np.concatenate([black, floor, np.repeat(game_frame[None], 9, 0)])
    seen = {}
    for size in (1, 3, 4, 16):
        tracker = QuantizerTracker(every=8, warmup=8, step=4)
        per_frame = []
        for i in range(0, len(clip), size):
            for a, b, q in tracker.runs(clip[i:i + size]):
                per_frame += [q.describe(measured=False)] * (b - a)
        seen[size] = per_frame
        assert [i for i, q in enumerate(per_frame) if i == 0 or q != per_frame[i - 1]] == [0, 4, 12]
    assert seen[1] == seen[3] == seen[4] == seen[16]
    assert [seen[1][i].split()[0] for i in (0, 4, 12)] == ["no", "uniform", "palette"]
    with pytest.raises(ValueError, match="one frame at a time"):
        QuantizerTracker()(floor[:2])


def test_describe_is_one_line(game_frame):
    text = estimate(game_frame).describe()
    assert "palette of 8 colours" in text and "\n" not in text
    assert Quantizer().describe() == "no quantizer found"


@pytest.mark.parametrize("factor", [2, 3])
def test_frames_enlarged_by_nearest_neighbour_are_graphics(gradient, factor):
    """A textured 16-colour frame (fewer flat pixels than GRAPHICS_FLAT) enlarged by pixel replication is
    graphics after H.264; the same frame at its own size, or enlarged smoothly, is not."""
    rng = np.random.default_rng(4)
    textured = np.clip(gradient.astype(int) + rng.integers(-25, 26, gradient.shape), 0, 255).astype(np.uint8)
    small = quantize_palette(textured, 16)
    big = h264_roundtrip(small.repeat(factor, 0).repeat(factor, 1), 14)
    assert flat_pixels(big[None]).mean() < GRAPHICS_FLAT
    assert enlarged_by(big[None]) == factor
    est = estimate(big)
    assert est.kind == "palette" and est.graphics, est.describe()
    alone = h264_roundtrip(small, 14)
    est = estimate(alone)
    assert enlarged_by(alone[None]) == 1
    assert est.kind == "palette" and not est.graphics, est.describe()
    smooth = cv2.resize(small, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
    assert enlarged_by(h264_roundtrip(smooth, 14)[None]) == 1


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 7, 3), (5, 1, 3), (9, 9, 3)])
def test_enlarged_by_on_frames_too_small_for_blocks(shape):
    tiny = np.random.default_rng(5).integers(0, 256, shape, dtype=np.uint8)
    assert enlarged_by(tiny[None]) == 1
    assert enlarged_by(tiny.repeat(2, 0).repeat(2, 1)[None]) == 1      # too few pixels or tiles to tell


@pytest.mark.parametrize("k", [1, 2, 16, 256])
def test_the_nearest_colour_table_gives_the_search_s_answer(k):
    """The palette projection's nearest-colour table (exact where it answers, a search elsewhere) agrees with
    the full search on every pixel: random ones, the range's ends, and points on and next to cell boundaries,
    as floats and as uint8 (decoded frames)."""
    rng = np.random.default_rng(k)
    pal = rng.integers(0, 256, (k, 3)).astype(np.float32)
    qz = Quantizer("palette", 1.0, 2.0, palette=pal)
    mids = ((pal[rng.integers(0, k, 2000)] + pal[rng.integers(0, k, 2000)]) / 2)[:, None] + [[0, 0, 0], [0.01, 0, 0]]
    px = np.concatenate([rng.uniform(0, 255, (20000, 3)), np.array([[0, 0, 0], [255, 255, 255], [0, 255, 128]]),
                         np.clip(mids.reshape(-1, 3), 0, 255)]).astype(np.float32)
    np.testing.assert_array_equal(qz._palette_index(px), nearest_colour(px, pal))
    observed = np.concatenate([rng.integers(0, 256, (20000, 3)), [[0, 0, 0], [255, 255, 255]]]).astype(np.uint8)
    np.testing.assert_array_equal(qz._palette_index(observed), nearest_colour(observed.astype(np.float32), pal))
    assert (qz._nearest_table >= 0).mean() > 0.5                      # the table answers most boxes
    assert qz._palette_index(observed[:0]).shape == (0,)               # no pixels: no lookup (OpenCV refuses empties)


@pytest.mark.parametrize("crf", [None, 12])
def test_band_correction_smooths_bands_of_uniform_levels_and_keeps_edges(crf):
    """The bilateral filter's correction, projected, brings a 4-bit gradient closer to the truth; a step far
    larger than a level step (a real edge) stays where it is."""
    y, x = np.mgrid[0:96, 0:160].astype(np.float32)
    truth = np.stack([10 + x * 1.6, 20 + y * 2.2, 30 + x * 0.6 + y * 1.1], -1)
    truth[:, 120:] = [200, 40, 40]                                        # a red block: a hard edge at x = 120
    truth += np.random.default_rng(8).normal(0, 0.8, truth.shape)        # a little texture: not graphics
    truth = np.clip(np.round(truth), 0, 255).astype(np.uint8)
    coarse = quantize_uniform(truth, 4, "mid")
    if crf is None:      # lossless, the bands are flat patches (graphics to the estimate): the quantizer as known
        est = Quantizer("uniform", 1.0, 0.0, (4, 4, 4), ("mid",) * 3)
    else:
        coarse = h264_roundtrip(coarse, crf)
        est = estimate(coarse)
    assert est.kind == "uniform" and est.smooths_bands, est.describe()
    bands = est.band_correction(coarse[None])
    assert bands.shape == (1, *coarse.shape) and bands.dtype == np.float32
    out = est.project(coarse, coarse + bands[0])
    mse = lambda a: np.mean((a[:, :112].astype(np.float32) - truth[:, :112]) ** 2)  # noqa: E731
    # the gradient: over 0.8 dB closer (the filter runs on uint8 and rounds: 0.95 dB lossless, 1.11 at crf 12;
    # 1.08 lossless on float32)
    assert 10 * np.log10(mse(coarse) / mse(out)) > 0.8
    block = (slice(None), slice(120, 124))                                # the block's side of the edge
    assert np.abs(out[block].astype(int) - coarse[block]).max() <= 2      # the gradient is not smeared into it


def test_band_correction_is_weighted_per_kind_and_none_for_graphics(gradient):
    """Palettes (cells a colour step wide) get the filter's correction at their own weight, small colour
    palettes at theirs, uniform levels at theirs; graphics and frames without a quantizer get none."""
    frames = gradient[None]
    uniform = Quantizer("uniform", 1.0, 1.0, (4, 4, 4), ("mid",) * 3).band_correction(frames)
    small = Quantizer("palette", palette=PALETTE.astype(np.float32))
    large = Quantizer("palette", palette=np.concatenate([PALETTE, PALETTE[:, ::-1] // 2 + 7, PALETTE // 3 + 60]
                                                        ).astype(np.float32))                     # 24 colours
    assert (small.strength_key, large.strength_key) == ("palette small", "palette")
    assert np.abs(uniform).max() > 1.0
    np.testing.assert_allclose(small.band_correction(frames) / BAND_WEIGHT["palette small"],
                               uniform / BAND_WEIGHT["uniform"], atol=1e-4)
    np.testing.assert_allclose(large.band_correction(frames) / BAND_WEIGHT["palette"],
                               uniform / BAND_WEIGHT["uniform"], atol=1e-4)
    assert BAND_WEIGHT["palette small"] != BAND_WEIGHT["palette"]
    assert Quantizer("none").band_correction(frames) is None
    assert Quantizer("uniform", 1.0, 1.0, (4, 4, 4), ("mid",) * 3, graphics=True).band_correction(frames) is None
    assert Quantizer("palette", palette=PALETTE.astype(np.float32), graphics=True).band_correction(frames) is None


def test_chroma_smoothing_keeps_luma_and_removes_the_colour_noise_of_quantizing_channels_apart():
    """A colour texture (luma detail, smooth colour) at 4 bits per channel: the channels cross their bins at
    different places, so the quantization error is partly colour noise. The smoothing leaves luma where it is (to
    float rounding), and projected, the result is over 1.5 dB closer to the truth (2.9 dB when written); black-and-white
    frames, palettes and graphics are left as they are."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    texture = cv2.GaussianBlur(rng.normal(0, 14, (96, 128)).astype(np.float32), (0, 0), 0.7)[..., None]
    colour = np.stack([90 + x * 0.5, 110 + y * 0.4, 70 + (x + y) * 0.3], -1)
    truth = np.round(np.clip(colour + texture, 0, 255)).astype(np.uint8)
    coarse = quantize_uniform(truth, 4, "mid")[None]
    qz = Quantizer("uniform", bits=(4, 4, 4), conventions=("mid",) * 3, margin=1.0)
    est = coarse.astype(np.float32)
    qz.chroma_smoothing(coarse, est)
    np.testing.assert_allclose(est @ LUMA_WEIGHTS, coarse.astype(np.float32) @ LUMA_WEIGHTS, atol=1e-3)
    mse = lambda a: np.mean((a.astype(np.float32) - truth) ** 2)  # noqa: E731
    assert 10 * np.log10(mse(coarse) / mse(qz.project(coarse, est))) > 1.5
    gray = quantize_uniform(np.round(np.clip(100 + texture.repeat(3, -1), 0, 255)).astype(np.uint8), 4, "mid")[None]
    palette = Quantizer("palette", palette=PALETTE.astype(np.float32))
    graphics = Quantizer("uniform", bits=(4, 4, 4), conventions=("mid",) * 3, graphics=True)
    for quant, frames in ((qz, gray), (palette, coarse), (graphics, coarse)):
        est = frames.astype(np.float32)
        quant.chroma_smoothing(frames, est)
        assert np.array_equal(est, frames)


def _ramp_image(width: int = 320, height: int = 48) -> np.ndarray:
    """A gray horizontal ramp 20..230 (one 4-bit band about 24 pixels wide), uint8 (H, W, 3)."""
    x = np.linspace(20, 230, width, dtype=np.float32)
    return np.repeat(np.round(np.broadcast_to(x, (height, width)))[..., None], 3, -1).astype(np.uint8)


@pytest.mark.parametrize("convention", ["mid", "floor"])
def test_contour_estimate_rebuilds_a_quantized_ramp(convention):
    """Between contours one level apart the estimate climbs through the bin (contour region reconstruction):
    a 4-bit ramp, projected from the estimate at full weight, comes back much closer to the truth than the
    quantized input or the bins' centres; the weight scales linearly."""
    truth = _ramp_image()
    coarse = quantize_uniform(truth, 4, convention)
    qz = Quantizer("uniform", 1.0, 0.0, (4, 4, 4), (convention,) * 3)
    est, weight = qz.contour_estimate(coarse[None], weight=1.0)
    assert est.shape == weight.shape == (1, *coarse.shape) and est.dtype == weight.dtype == np.float32
    out = qz.project(coarse, coarse + weight[0] * (est[0] - coarse))
    centres = qz.project(coarse, coarse.astype(np.float32) + (8 if convention == "floor" else 0))
    inner = (slice(None), slice(40, 280))                   # away from the outermost bands (no level beyond)
    err = lambda a: np.sqrt(np.mean((a[inner].astype(np.float32) - truth[inner]) ** 2))  # noqa: E731
    assert err(out) < 0.4 * err(centres), (err(out), err(centres))
    assert err(out) < 2.0
    _, half = qz.contour_estimate(coarse[None], weight=0.5)
    np.testing.assert_allclose(half, 0.5 * weight)
    if convention == "floor":                                # the default at the floor: one weight for all
        np.testing.assert_allclose(qz.contour_estimate(coarse[None])[1], CONTOUR_WEIGHT["uniform"] * weight)


def test_contour_estimate_at_bin_middles_trusts_wide_bands_more():
    """At bin middles the default weight grows with the band's width (CONTOUR_WIDTH_WEIGHT): the same 4-bit
    ramp over 320 pixels (bands about 24 wide) gets its table's weight there, about 0.69, and squeezed into
    32 pixels (bands 2 or 3 wide) much less, about 0.41; the estimate itself is the same as at any weight."""
    qz = Quantizer("uniform", 1.0, 0.0, (4, 4, 4), ("mid",) * 3)
    ratios = []
    for width in (320, 32):
        coarse = quantize_uniform(_ramp_image(width), 4, "mid")[None]
        est, full = qz.contour_estimate(coarse, weight=1.0)
        default_est, default = qz.contour_estimate(coarse)
        np.testing.assert_array_equal(default_est, est)
        inner = full > 0
        ratios.append(np.median(default[inner] / full[inner]))
    wide, narrow = ratios
    widths, weights = np.array(CONTOUR_WIDTH_WEIGHT).T
    assert wide == pytest.approx(np.interp(24, widths, weights), abs=0.03)
    assert narrow < wide - 0.2


def test_contour_estimate_leaves_plateaus_edges_and_other_quantizers_alone():
    """Weight 0 where the contours say nothing: a band without a level on both sides (a plateau, a local
    extremum), and a jump of two levels or more (a real edge); no estimate for palettes, graphics, none."""
    qz = Quantizer("uniform", 1.0, 0.0, (4, 4, 4), ("mid",) * 3)
    flat = np.full((1, 32, 64, 3), 7 + 16 * 5, np.uint8)
    assert not qz.contour_estimate(flat, weight=1.0)[1].any()
    edge = flat.copy()
    edge[:, :, 32:] = 7 + 16 * 7                                      # two levels up: an edge, not a contour
    assert not qz.contour_estimate(edge, weight=1.0)[1].any()
    step = flat.copy()
    step[:, :, 20:] = 7 + 16 * 6
    step[:, :, 44:] = 7 + 16 * 7                                      # 5 | 6 | 7: only the middle band is between
    w = qz.contour_estimate(step, weight=1.0)[1][0, ..., 0]
    assert w[:, 20:44].min() == 1.0 and w[:, :20].max() == 0.0 and w[:, 44:].max() == 0.0
    frames = _ramp_image()[None]
    assert Quantizer("palette", palette=PALETTE.astype(np.float32)).contour_estimate(frames) is None
    assert Quantizer("none").contour_estimate(frames) is None
    assert Quantizer("uniform", 1.0, 1.0, (4, 4, 4), ("mid",) * 3, graphics=True).contour_estimate(frames) is None


GRAYS = np.array([20, 45, 62, 90, 118, 131, 160, 188, 205, 230], np.float32)   # unevenly spaced, in no order
GRAYS = GRAYS[[3, 0, 7, 5, 9, 1, 4, 8, 2, 6]]


def test_contour_estimate_rebuilds_a_gray_palette_ramp():
    """A black-and-white palette is read as one channel's levels: the ramp quantized to 10 unevenly spaced grays
    (listed in no order), projected from the estimate at full weight, comes back much closer to the truth than
    the quantized input inside the inner bands, and the darkest and brightest grays get weight 0 (no gray beyond
    them); the default weight is CONTOUR_PALETTE_WEIGHT x the band width's; graphics and more than PALETTE_SMALL
    grays get no estimate (colour palettes: the test above)."""
    truth = _ramp_image()
    pal = np.repeat(GRAYS[:, None], 3, 1)
    coarse = pal[nearest_colour(truth.reshape(-1, 3), pal)].reshape(truth.shape).astype(np.uint8)
    qz = Quantizer("palette", 1.0, 0.0, palette=pal)
    assert qz.contour_palette
    est, weight = qz.contour_estimate(coarse[None], weight=1.0)
    assert est.shape == weight.shape == (1, *coarse.shape) and est.dtype == weight.dtype == np.float32
    out = qz.project(coarse, coarse + weight[0] * (est[0] - coarse))
    inner = (coarse[..., 0] > GRAYS.min()) & (coarse[..., 0] < GRAYS.max())
    err = lambda a: np.sqrt(np.mean((a[inner].astype(np.float32) - truth[inner]) ** 2))  # noqa: E731
    assert err(out) < 0.3 * err(coarse), (err(out), err(coarse))
    assert not weight[0][~inner].any() and weight[0][inner].mean() > 0.8
    default = qz.contour_estimate(coarse[None])[1]
    widths, weights = np.array(CONTOUR_WIDTH_WEIGHT).T
    band = np.interp(np.diff(np.sort(GRAYS))[3:5].mean() * 320 / 210, widths, weights)   # bands ~40 px wide
    assert np.median(default[weight > 0] / weight[weight > 0]) == pytest.approx(CONTOUR_PALETTE_WEIGHT * band,
                                                                                abs=0.03)
    assert Quantizer("palette", palette=pal, graphics=True).contour_estimate(coarse[None]) is None
    many = np.repeat(np.linspace(0, 255, PALETTE_SMALL + 1, dtype=np.float32)[:, None], 3, 1)
    assert Quantizer("palette", palette=many).contour_estimate(coarse[None]) is None


def test_contour_estimate_matches_a_brute_force_reading_of_its_rule():
    """The distance transforms and table lookups give what the docstring's rule says, computed the slow way:
    per pixel the city-block distance to the nearest pixel one level class down and one up (classes modulo 4,
    clipped at CONTOUR_MAX_DISTANCE), the place (down - 0.5) / (down + up - 1) in the bin, the weight of the
    band's width where both lie within reach, in R and B of this colour frame x CONTOUR_CHROMA_WEIGHT but at the
    bin floor; on a 2-D gradient with noise (several bands, contours in every direction, misdecoded values), for
    each convention. Its black-and-white version (G in all three channels) has G's weights in every channel."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:22, 0:30].astype(np.float32)
    truth = np.stack([40 + 5 * x + 2 * y, 200 - 6 * y + x, 90 + 3 * np.sin(x / 3) * 9 + 2 * y], -1)
    far = int(CONTOUR_MAX_DISTANCE)
    pos = np.stack([y.ravel(), x.ravel()], -1).astype(int)
    dist = np.abs(pos[:, None] - pos[None]).sum(-1)                   # city block between every two pixels
    for conv in ("mid", "floor", "spread"):
        coarse = quantize_uniform(np.clip(truth + rng.normal(0, 1.5, truth.shape), 0, 255).astype(np.uint8), 4, conv)
        coarse = np.clip(coarse.astype(int) + rng.integers(-3, 4, coarse.shape) * (rng.random(coarse.shape) < 0.1),
                         0, 255).astype(np.uint8)                     # some values off their level
        qz = Quantizer("uniform", 1.0, 0.0, (4, 4, 4), (conv,) * 3)
        est, weight = qz.contour_estimate(coarse[None])
        level, lo, span, reliable = qz._contour_tables
        for c in range(3):
            q = coarse[..., c].ravel()
            cls = level[c][q] & 3
            to = [np.where(cls[None] == r, dist, far).min(1).clip(max=far) for r in range(4)]
            down = np.choose((cls + 3) % 4, to)
            up = np.choose((cls + 1) % 4, to)
            place = (down - 0.5) / np.maximum(down + up - 1, 1)
            by_width = qz._contour_width_weights[c][np.minimum(down + up, 255)]
            chroma = CONTOUR_CHROMA_WEIGHT if c != 1 and conv != "floor" else 1.0
            want_w = reliable[c][q] * (np.maximum(down, up) < far) * by_width * chroma
            np.testing.assert_allclose(weight[0, ..., c].ravel(), want_w, atol=1e-6)
            np.testing.assert_allclose(est[0, ..., c].ravel(), lo[c][q] + span[c][q] * place, atol=1e-4)
        gray_weight = qz.contour_estimate(coarse[None, ..., [1, 1, 1]])[1][0]
        np.testing.assert_array_equal(gray_weight, weight[0, ..., [1, 1, 1]].transpose(1, 2, 0))


def test_contour_pair_puts_the_two_distances_side_by_side():
    """contour_pair's index is ``down * 256 + up`` (the two uint8 distances read as one little-endian uint16, one
    merge instead of a multiplication and an addition in uint16), and CONTOUR_PAIRS' tables at it hold the place
    ``(down - 0.5) / (down + up - 1)``, the width and whether both lie within reach; distances computed the slow way
    on random classes with a plateau wider than CONTOUR_MAX_DISTANCE (class 2 alone from column 10 on)."""
    rng = np.random.default_rng(4)
    cls = rng.integers(0, 4, (6, 70)).astype(np.uint8)
    cls[:, 10:] = 2
    far = int(CONTOUR_MAX_DISTANCE)
    y, x = np.mgrid[0:6, 0:70]
    pos = np.stack([y.ravel(), x.ravel()], -1)
    dist = np.abs(pos[:, None] - pos[None]).sum(-1)
    flat = cls.ravel()
    to = [np.where(flat[None] == r, dist, 255).min(1).clip(max=far) for r in range(4)]
    down, up = np.choose((flat + 3) % 4, to), np.choose((flat + 1) % 4, to)
    pair = contour_pair(cls)
    assert pair.dtype == np.uint16 and pair.shape == cls.shape
    np.testing.assert_array_equal(pair.ravel(), down * 256 + up)
    place, width, near = CONTOUR_PAIRS
    np.testing.assert_array_equal(place[pair.ravel()], ((down - 0.5) / np.maximum(down + up - 1, 1)).astype(np.float32))
    np.testing.assert_array_equal(width[pair.ravel()], down + up)
    np.testing.assert_array_equal(near[pair.ravel()], np.maximum(down, up) < far)
    assert not near[pair.ravel()].all()                       # the plateau's far side is out of reach


@pytest.mark.parametrize("bits, conv, one_width", [(4, "mid", True), (3, "floor", True), (4, "spread", True),
                                                   (5, "spread", False)])
def test_contour_estimate_of_one_bin_width_takes_place_times_width_from_one_table(bits, conv, one_width):
    """Where every bin of a channel has one width (floor and mid levels, spread levels of 2 and 4 bits), the place in
    the bin times that width comes from one table per pair of distances (Quantizer._scaled_places): the same float32
    products, bit for bit, as the per-pixel lookup and multiplication that other spread levels (5 bits: widths
    8.2258 to 8.225806) keep."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:40, 0:64].astype(np.float32)
    truth = np.stack([3 * x + y, 200 - 4 * y + x, 90 + 40 * np.sin(x / 9) + y], -1)
    coarse = quantize_uniform(np.clip(truth + rng.normal(0, 1.5, truth.shape), 0, 255).astype(np.uint8), bits, conv)
    qz = Quantizer("uniform", 1.0, 0.0, (bits,) * 3, (conv,) * 3)
    assert all((t is not None) == one_width for t in qz._scaled_places)
    est, weight = qz.contour_estimate(coarse[None])
    qz.__dict__["_scaled_places"] = [None] * 3                # the per-pixel path
    est_each, weight_each = qz.contour_estimate(coarse[None])
    assert est.tobytes() == est_each.tobytes() and weight.tobytes() == weight_each.tobytes()


@pytest.mark.parametrize("kind", ["uniform", "palette"])
def test_reconstruct_of_a_uint8_frame_equals_its_float_reading(gradient, game_frame, kind):
    """One uint8 frame's blend with the generator's output is made by OpenCV (conversion and subtraction in one pass,
    0.37 -> 0.17 ms a 640x360 frame); it must give the float32 values of the numpy path, which float outputs and
    batches take: the reconstructions are the same bytes (a guard of the faster path's exactness)."""
    frame = quantize_uniform(gradient, 4, "mid") if kind == "uniform" else game_frame
    qz = estimate(frame)
    assert qz.kind == kind
    qz.truncation_weight = 1.0
    corrected = np.ascontiguousarray(cv2.GaussianBlur(frame, (0, 0), 2.0)[::-1])
    for strength in (0.3, 0.5):
        fast = qz.reconstruct(frame[None], corrected[None], strength)
        numpy_path = qz.reconstruct(frame[None], corrected[None].astype(np.float32), strength)
        assert fast.tobytes() == numpy_path.tobytes()


@pytest.mark.parametrize("qz", [Quantizer("uniform", 1.0, 2.0, (4, 4, 4), ("mid",) * 3),
                                Quantizer("uniform", 1.0, 2.0, (5, 4, 0), ("floor", "mid", "")),
                                Quantizer("palette", 1.0, 3.0,
                                          palette=np.repeat(np.linspace(8, 248, 8)[:, None], 3, 1).astype(np.float32))],
                         ids=["uniform", "mixed", "gray palette"])
def test_a_four_by_one_frame_has_the_contours_of_its_transpose(qz):
    """OpenCV reads a (4, 1) array beside a scalar as a scalar: on a 4x1 frame (4 rows, 1 column) the distance
    transforms, the LUTs and the palette's mean came back as garbage (a class-1 pixel next to class 0 at distance 48,
    not 1, and contour_pair's index out of its tables). City-block distances do not change with a transpose: the
    4x1 frame's estimate and weight are its 1x4 transpose's, transposed back (contour_pair's too)."""
    rng = np.random.default_rng(7)
    for i in range(10):
        frame = rng.integers(0, 256, (1, 4, 1, 3)).astype(np.uint8)
        if i % 2:
            frame = np.repeat(frame[..., 1:2], 3, -1)                  # black and white
        across = np.ascontiguousarray(frame.transpose(0, 2, 1, 3))
        for got, want in zip(qz.contour_estimate(frame), qz.contour_estimate(across)):
            assert got.tobytes() == np.ascontiguousarray(want.transpose(0, 2, 1, 3)).tobytes()
    cls = np.array([[0], [1], [2], [1]], np.uint8)
    np.testing.assert_array_equal(contour_pair(cls).ravel(), [48 * 256 + 1, 1 * 256 + 1, 1 * 256 + 48, 3 * 256 + 1])
    for _ in range(20):             # one pixel: no band near, not whatever its buffers held (the review, stop 71)
        assert contour_pair(np.array([[2]], np.uint8)).tolist() == [[48 * 256 + 48]]


def test_contour_estimate_weighs_values_between_levels_less():
    """A value far from its level (chroma smear, codec noise) says little about its band: full weight within
    an eighth of a level period, none from three eighths (CONTOUR_RELIABLE)."""
    qz = Quantizer("uniform", 1.0, 0.0, (4, 4, 4), ("mid",) * 3)
    frame = np.full((1, 16, 48, 3), 7 + 16 * 5, np.uint8)
    frame[:, :, :16] = 7 + 16 * 4
    frame[:, :, 32:] = 7 + 16 * 6
    frame[:, :, 24] = 7 + 16 * 5 + 4            # 3.5 levels off the level 87.5: (0.375 - 3.5 / 16) / 0.25
    frame[:, :, 25] = 7 + 16 * 5 - 7            # 7.5 levels off: none
    w = qz.contour_estimate(frame, weight=1.0)[1][0, 0, :, 0]
    assert w[20] == 1.0 and w[24] == pytest.approx(0.625) and w[25] == 0.0


def test_values_on_alternate_levels_are_not_read_as_a_coarser_level_set():
    """4-bit floor levels whose values sit mostly (70%) on the odd levels 16, 48, 80, ... also fit 3-bit bin
    middles, tried first; the 30% on the even levels between them (UNIFORM_MAX_BETWEEN) say the levels are
    finer. Values on the odd levels alone are 3-bit middles."""
    rng = np.random.default_rng(3)
    odd, even = 16 + 32 * np.arange(8), 32 + 32 * np.arange(7)
    noise = lambda n: rng.normal(0, 0.7, n)  # noqa: E731
    mixed = np.concatenate([rng.choice(odd, 7000), rng.choice(even, 3000)])
    values = np.clip(np.rint(mixed + noise(len(mixed))), 1, 254).astype(np.uint8)
    assert uniform_channel(values)[:2] == (4, "floor")
    values = np.clip(np.rint(rng.choice(odd, 10000) - 0.5 + noise(10000)), 1, 254).astype(np.uint8)
    assert uniform_channel(values)[:2] == (3, "mid")


@pytest.mark.parametrize("convention, offset", [("floor", 7.5), ("mid", -0.5), ("spread", 0.0)])
def test_centre_offset_moves_each_level_to_its_bin_centre_except_the_lowest(convention, offset):
    """4-bit levels as the frames hold them (floor: 16 k; mid: 16 k + 7.5 rounded to 16 k + 8; spread: 17 k)
    move to their bin's centre; the lowest level (black under truncation and spread) keeps its value; floor
    levels move by the given weight."""
    levels = quantize_uniform(np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, -1), 4, convention)
    qz = Quantizer("uniform", bits=(4, 4, 4), conventions=(convention,) * 3)
    off = qz.centre_offset(levels[None])[0]
    lowest = levels == levels.min()
    assert np.all(off[lowest] == 0) and np.allclose(off[~lowest], offset)
    half = qz.centre_offset(levels[None], truncation_weight=0.5)[0]
    assert np.allclose(half[~lowest], offset * (0.5 if convention == "floor" else 1.0))
    assert Quantizer("uniform", bits=(4, 4, 4), conventions=(convention,) * 3, graphics=True).centre_offset(
        levels[None]) is None
    assert Quantizer("palette", palette=PALETTE.astype(np.float32)).centre_offset(levels[None]) is None


def test_truncation_agreement_follows_the_generator_s_share_of_the_floor_offset(gradient):
    """The floor offset's weight is 0 when the generator leaves the levels where they are, 1 when it raises
    them by half a bin or more, and in between by :data:`CENTRE_AGREEMENT`; without floor levels it is 1."""
    coarse = quantize_uniform(gradient, 4, "floor")[None]
    qz = Quantizer("uniform", bits=(4, 4, 4), conventions=("floor",) * 3)
    raised = lambda levels: coarse.astype(np.float32) + np.where(coarse > 0, levels, 0)  # noqa: E731
    assert qz.truncation_agreement(coarse, coarse) == 0.0
    assert qz.truncation_agreement(coarse, raised(7.5 * CENTRE_AGREEMENT[1])) == pytest.approx(1.0)
    middle = 7.5 * (CENTRE_AGREEMENT[0] + CENTRE_AGREEMENT[1]) / 2
    assert qz.truncation_agreement(coarse, raised(middle)) == pytest.approx(0.5, abs=1e-3)
    mid = Quantizer("uniform", bits=(4, 4, 4), conventions=("mid",) * 3)
    assert mid.truncation_agreement(coarse, coarse) == 1.0


def test_reconstruct_of_bit_truncation_has_no_brightness_shift_when_the_generator_agrees(gradient):
    """Bit truncation lowers a frame by half a bin on average. With a generator that raises the levels
    (agrees), the reconstruction at strength 0.5 comes out within 1 level of the truth on average per channel,
    where the generator's share alone leaves half the offset; with a generator that leaves them (a palette
    misread as floor levels) no offset is added."""
    coarse = quantize_uniform(gradient, 4, "floor")[None]
    truth = gradient[None].astype(np.float32)
    agreeing = Quantizer("uniform", bits=(4, 4, 4), conventions=("floor",) * 3, margin=1.0)
    out = agreeing.reconstruct(coarse, coarse.astype(np.float32) + 7.0, 0.5)
    assert agreeing.truncation_weight == 1.0
    bias = (out - truth).reshape(-1, 3).mean(0)
    assert np.all(np.abs(bias) < 1.0), bias
    alone = agreeing.reconstruct(coarse, coarse.astype(np.float32) + 7.0, 0.5, contour_weight=0.0)
    none = Quantizer("uniform", bits=(4, 4, 4), conventions=("floor",) * 3, margin=1.0, truncation_weight=0.0)
    half = none.reconstruct(coarse, coarse.astype(np.float32) + 7.0, 0.5, contour_weight=0.0)
    assert np.all((half - truth).reshape(-1, 3).mean(0) < -2.5)          # half of the raise is missing
    assert np.all((alone - half).reshape(-1, 3).mean(0) > 2.5)
    disagreeing = Quantizer("uniform", bits=(4, 4, 4), conventions=("floor",) * 3, margin=1.0)
    kept = disagreeing.reconstruct(coarse, coarse, 0.5, contour_weight=0.0)
    assert disagreeing.truncation_weight == 0.0
    assert np.abs((kept.astype(np.float32) - coarse).reshape(-1, 3).mean(0)).max() < 1.0


def test_reconstruct_of_mid_levels_starts_from_the_bins_centres_at_every_strength(gradient):
    """Levels at bin middles sit half a level above their bin's centre (``16 k + 7.5`` held as ``16 k + 8``), an
    offset the generator does not carry. With a generator that leaves the levels where they are, the
    reconstruction is the same at every strength and its mean is within 0.3 levels of the truth's per channel
    (the input's is 0.39-0.52 above it); at bin-floor levels the offset's share still falls with the strength."""
    truth = gradient[None].astype(np.float32)
    coarse = quantize_uniform(gradient, 4, "mid")[None]
    assert np.all((coarse - truth).reshape(-1, 3).mean(0) > 0.35)
    qz = Quantizer("uniform", bits=(4, 4, 4), conventions=("mid",) * 3, margin=1.0)
    outs = [qz.reconstruct(coarse, coarse.astype(np.float32), s) for s in (0.25, 0.75, 1.0)]
    assert all(np.array_equal(outs[0], o) for o in outs[1:])
    assert np.all(np.abs((outs[0] - truth).reshape(-1, 3).mean(0)) < 0.3)
    floor = quantize_uniform(gradient, 4, "floor")[None]
    qz = Quantizer("uniform", bits=(4, 4, 4), conventions=("floor",) * 3, margin=1.0, truncation_weight=1.0)
    low, high = (qz.reconstruct(floor, floor.astype(np.float32), s, contour_weight=0.0) for s in (0.25, 0.75))
    assert np.all((low - high.astype(np.float32)).reshape(-1, 3).mean(0) > 2.5)


def test_strength_key_sets_bit_truncation_and_small_colour_palettes_apart():
    """Every quantized channel at the bin floor: ``uniform floor``; a colour palette of at most PALETTE_SMALL
    colours: ``palette small``; any other level in a quantized channel, a larger or black-and-white palette, or
    no quantizer: the kind itself."""
    assert Quantizer("uniform", bits=(4, 4, 4), conventions=("floor",) * 3).strength_key == "uniform floor"
    assert Quantizer("uniform", bits=(0, 4, 0), conventions=("", "floor", "")).strength_key == "uniform floor"
    assert Quantizer("uniform", bits=(4, 4, 4), conventions=("floor", "mid", "floor")).strength_key == "uniform"
    assert Quantizer("palette", palette=PALETTE.astype(np.float32)).strength_key == "palette small"
    many = np.concatenate([PALETTE, PALETTE[:, ::-1], PALETTE // 2]).astype(np.float32)        # 24 colours
    assert Quantizer("palette", palette=many).strength_key == "palette"
    gray = np.repeat(np.linspace(0, 255, 8, dtype=np.float32)[:, None], 3, 1)
    assert Quantizer("palette", palette=gray).strength_key == "palette"                     # black and white
    assert Quantizer().strength_key == "none"


def test_reconstruct_on_a_palette_drops_the_generator_s_mean_correction(gradient):
    """On a palette a generator that is right up to a constant +4 levels loses its mean correction: the output's
    mean stays the observed frame's and the rest of the correction is kept; on uniform levels the same mean
    correction is kept (it says where values sit in their bins)."""
    coarse = quantize_palette(gradient, 16)[None]
    truth = gradient[None].astype(np.float32)
    pal = np.unique(coarse.reshape(-1, 3), axis=0).astype(np.float32)
    palette = Quantizer("palette", palette=pal, margin=2.0)
    out = palette.reconstruct(coarse, truth + 4.0, 1.0).astype(np.float32)
    assert np.abs((out - coarse).reshape(-1, 3).mean(0)).max() < 0.5
    assert ((out - truth) ** 2).mean() < ((coarse - truth) ** 2).mean() / 2
    levels = quantize_uniform(gradient, 4, "mid")[None]
    uniform = Quantizer("uniform", bits=(4, 4, 4), conventions=("mid",) * 3, margin=1.0)
    kept = uniform.reconstruct(levels, levels.astype(np.float32) + 4.0, 1.0, contour_weight=0.0).astype(np.float32)
    assert np.all((kept - levels).reshape(-1, 3).mean(0) > 3.0)


def test_re_estimates_of_a_clip_that_passes_unchanged_are_freed():
    """Each re-estimate of the same quantizer linked to the one before it (carry_weight), a link cleared only when it
    reconstructs, which a quantizer that passes frames unchanged never does: on noise, where nothing is found,
    every estimate of the clip stayed alive (about 250 bytes a frame, without end)."""
    import gc
    import weakref

    rng = np.random.default_rng(0)
    tracker = QuantizerTracker(every=1)
    first = weakref.ref(tracker(rng.integers(0, 256, (1, 16, 16, 3), dtype=np.uint8)))
    for _ in range(5):
        found = tracker(rng.integers(0, 256, (1, 16, 16, 3), dtype=np.uint8))
    gc.collect()
    assert found.passes_unchanged and first() is None


def test_gray_peaks_tell_a_quantized_gray_histogram_from_a_smooth_one():
    """A smooth black-and-white picture has no peaks at any set of grays (ratio near 1); quantized to 12 grays,
    its luma peaks at them (PALETTE_GRAY_PEAKS)."""
    y, x = np.mgrid[0:96, 0:160].astype(np.float32)
    luma = 40 + 1.1 * x + 0.5 * y + 12 * np.sin(x / 17) * np.cos(y / 13)
    gray = np.repeat(np.clip(luma, 0, 255)[..., None], 3, -1).astype(np.uint8)
    grays = np.repeat(np.linspace(40, 230, 12)[:, None], 3, 1).astype(np.float32)
    assert gray_peaks(gray[None], grays) < 1.1
    coded = h264_roundtrip(quantize_palette(gray, 12), 14)
    found = estimate(coded)
    assert found.kind == "palette"
    assert gray_peaks(coded[None], found.palette) > 2 * PALETTE_GRAY_PEAKS


def test_an_unquantized_gray_photo_is_no_palette(shared_data):
    """A held-back photo in black and white (validation row 28 of benchmarks/dequantize_validation.py), through
    H.264 crf 14 unquantized: its flat pixels cluster tightly enough to pass as a palette of grays (dequantized it
    lost 0.21 dB), but its luma does not peak at those grays (PALETTE_GRAY_PEAKS). At 16 grays (ffmpeg palette)
    it is still found."""
    from vidcolor.training.data import list_images, read_rgb, split_holdout
    from vidcolor.training.degrade import Degradation

    photo = read_rgb(split_holdout(list_images(shared_data / "train"))[1][28])
    gray = np.repeat(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[..., None], 3, -1)
    assert estimate(Degradation("none", crf=14).apply(gray, seed=28)).kind == "none"
    assert estimate(Degradation("ffmpeg", colors=16, crf=14).apply(gray, seed=28)).kind == "palette"


def test_the_consistency_stage_keeps_few_frame_sized_arrays_alive(gradient):
    """Each step of :meth:`Quantizer.reconstruct` writes into buffers made once a call and frees its term once added,
    so that a frame's work does not fault in fresh pages for every temporary (640x360, the dequantizer's thread:
    26.2 -> 24.4 ms a frame of 4 bits, same output). Peak traced memory, in float32 frames of the input: the
    reconstruction held up to 9 (centre offset, band correction, contour estimate and weight all alive at the
    projection, whose cell bounds were two more), the projection 5, the centre offset 2 (a frame's array stacked)."""
    import tracemalloc
    frame = np.ascontiguousarray(np.tile(quantize_uniform(gradient, 4, "mid"), (2, 2, 1))[None])  # (1, 192, 256, 3)
    qz = Quantizer("uniform", 1.0, 2.0, (4, 4, 4), ("mid",) * 3)
    corrected = np.ascontiguousarray(frame[:, ::-1])
    size = frame.size * 4
    steps = {"reconstruct": (lambda: qz.reconstruct(frame, corrected, 0.5, smooth_chroma=False), 6.0),
             "project": (lambda: qz.project(frame, frame.astype(np.float32)), 3.5),
             "centre_offset": (lambda: qz.centre_offset(frame), 1.25)}
    for name, (step, most) in steps.items():
        step()                                              # the quantizer's tables made beforehand
        tracemalloc.start()
        try:
            step()
            peak = tracemalloc.get_traced_memory()[1] / size
        finally:
            tracemalloc.stop()
        assert peak <= most, (name, peak)
