"""vidcolor.quantizer on the unusual frames a user meets (robustness audit): what the estimate claims and what the
reconstruction changes."""
from __future__ import annotations

import numpy as np
import pytest

from vidcolor.quantizer.estimation import estimate
from vidcolor.quantizer.reconstruction import Quantizer
from vidcolor.training.degrade import quantize_uniform


@pytest.mark.parametrize("colour", [(30, 120, 200), (8, 24, 40), (200, 72, 8)])
def test_a_single_colour_frame_shows_no_level_set(colour):
    """A solid colour (a title card, a fill) holds one level per channel, whose circular moment has length 1 at every
    period: it was read as ``uniform 4/4/4 bits (mid)`` at confidence 1.00 (as graphics, so left as it was, but the
    summary said so, and a clip opening on such a card stopped looking for its quantizer during the warmup)."""
    frame = np.full((48, 64, 3), colour, np.uint8)
    found = estimate(frame)
    assert found.kind == "none", found.describe()
    assert found.passes_unchanged


def test_values_about_one_level_are_no_level_set():
    """A dark frame (a fade's) whose R and G sit about one value (36, a 3-bit spread level) under a textured B: read
    as 3-bit spread levels, not graphics, so its pixels could move across cells 36 levels wide; one level says nothing
    of a period, so nothing is found."""
    rng = np.random.default_rng(0)
    base = 36 + rng.normal(0, 1.0, (48, 64))
    frame = np.clip(np.round(np.stack([base + rng.normal(0, 1.5, base.shape), base,
                                       rng.integers(3, 60, base.shape)], -1)), 0, 255).astype(np.uint8)
    found = estimate(frame)
    assert found.kind == "none", found.describe()


def test_a_black_first_frame_does_not_decide_the_floor_offset(gradient):
    """The weight of the bin-floor offset is the generator's agreement on the first frame reconstructed. A black
    first frame (a fade-in; in tiled mode a first tile inside a letterbox or pillarbox bar) has no floor level above
    the lowest, nothing to weigh: it set the weight to 1, so a generator that leaves the levels where they are (a
    palette misread as bit truncation) still got the full offset, a cast of up to half a bin over the clip. Now the
    first frame with levels above the lowest decides; the black frame is unchanged either way."""
    coarse = quantize_uniform(gradient, 4, "floor")[None]
    qz = Quantizer("uniform", bits=(4, 4, 4), conventions=("floor",) * 3, margin=1.0)
    black = np.zeros_like(coarse)
    assert np.array_equal(qz.reconstruct(black, black.astype(np.float32), 0.5), black)
    assert qz.truncation_weight is None
    qz.reconstruct(coarse, coarse.astype(np.float32), 0.5)      # the generator leaves the levels: no offset
    assert qz.truncation_weight == 0.0


@pytest.mark.parametrize("conv", ["floor", "mid", "spread"])
def test_no_frames_reconstruct_to_no_frames(conv):
    """An empty batch ``(0, H, W, 3)`` on uniform levels raised numpy's 'need at least one array to stack' from
    centre_offset; palettes and frames without a quantizer already gave an empty batch back."""
    qz = Quantizer("uniform", bits=(4, 4, 4), conventions=(conv,) * 3, margin=1.0)
    empty = np.zeros((0, 8, 8, 3), np.uint8)
    out = qz.reconstruct(empty, empty.astype(np.float32), 0.5)
    assert out.shape == empty.shape and out.dtype == np.uint8


@pytest.mark.parametrize("qz", [Quantizer("uniform", bits=(4, 4, 4), conventions=("mid",) * 3, margin=1.0),
                                Quantizer("palette", margin=1.0,
                                          palette=np.repeat(np.linspace(8, 248, 8)[:, None], 3, 1).astype(np.float32))],
                         ids=["uniform", "gray palette"])
def test_a_one_pixel_frame_has_no_contours(qz):
    """A 1x1 frame has no neighbouring band. OpenCV read its (1, 1) planes beside a scalar as a scalar, so the contour
    estimate and its weight came back uninitialised memory (values like -1.4e22) and the reconstruction was pushed to
    a cell's edge (104 -> 94 at 4-bit mid) with an overflow warning. Now the estimate is the pixel, at weight 0."""
    frame = np.full((1, 1, 1, 3), 104, np.uint8)
    estimate, weight = qz.contour_estimate(frame)
    assert np.array_equal(estimate, frame.astype(np.float32)) and not weight.any()
    with np.errstate(all="raise"):
        assert np.array_equal(qz.reconstruct(frame, frame.astype(np.float32), 0.5), frame)
