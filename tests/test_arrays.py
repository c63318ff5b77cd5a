"""vidcolor.arrays: the checks of the arrays the library is given, and the advice on how to give them."""
from __future__ import annotations

import numpy as np
import pytest

from vidcolor.arrays import conversion_hint

FRAMES = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3)).astype(np.float64)


@pytest.mark.parametrize("x, hint", [
    (FRAMES / 255.0, "; floats in [0, 1]? give (frames * 255).round().astype(np.uint8)"),
    (FRAMES, "; floats in 0..255? give frames.round().astype(np.uint8)"),
    (FRAMES / 127.5 - 1.0, "; floats in [-1, 1]? give ((frames + 1) * 127.5).round().astype(np.uint8)"),
    (np.where(FRAMES > 200, np.nan, FRAMES / 255.0), "; floats with NaN or infinity: no colour to give; replace them "
                                                     "first (np.nan_to_num(frames))"),
    (FRAMES * 1000.0, ""),
    (FRAMES[0, ..., 0].astype(np.uint8), "; one gray frame (H, W)? give it as RGB: np.repeat(frame[None, ..., None], "
                                          "3, axis=-1)"),
], ids=["unit", "levels", "signed", "nan", "other", "one_gray_frame"])
def test_the_hint_fits_the_values_given(x, hint):
    """Floats in 0..255 were told '(frames * 255).round().astype(np.uint8)', which wraps them around to noise; NaN
    and [-1, 1] floats got the same advice, and one gray frame (H, W) none."""
    assert conversion_hint(x) == hint
