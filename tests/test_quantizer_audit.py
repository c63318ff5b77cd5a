"""vidcolor.quantizer on the unusual frames a user meets (robustness audit): what the estimate claims and what the
reconstruction changes."""
from __future__ import annotations

import numpy as np
import pytest

from vidcolor.quantizer import estimate


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
