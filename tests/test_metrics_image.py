"""The image measures against independent references (scikit-image, Sharma et al. 2005)."""
import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, lab2rgb

from vidcolor.metrics import ab_histogram_intersection, ciede2000


def test_ciede2000_of_a_one_level_gray_step_is_the_exact_conversions():
    # sRGB gray 125 -> 126 is 0.386 CIEDE2000 (float64 conversion); OpenCV's float32 conversion measured 0.570
    a, b = np.full((4, 4, 3), 125, np.uint8), np.full((4, 4, 3), 126, np.uint8)
    assert ciede2000(a, b) == pytest.approx(0.386, abs=0.002)


def test_ciede2000_of_sharma_pair_through_srgb():
    # Sharma et al. 2005, table 1, pair 1: (50, 2.6772, -79.7751) vs (50, 0, -82.7485) -> 2.0425. Both lie outside
    # sRGB, so the pair is scaled into it (a, b x 0.5) and the reference is recomputed on the 8-bit colours.
    lab = np.array([[[50, 1.3386, -39.8876]], [[50, 0.0, -41.3743]]])
    rgb = np.rint(lab2rgb(lab) * 255).astype(np.uint8)
    from skimage.color import rgb2lab
    want = deltaE_ciede2000(rgb2lab(rgb[0]), rgb2lab(rgb[1]))[0]
    assert ciede2000(rgb[0:1], rgb[1:2]) == pytest.approx(float(want), abs=1e-6)
    assert deltaE_ciede2000(np.array([50, 2.6772, -79.7751]), np.array([50, 0.0, -82.7485])) == pytest.approx(2.0425, abs=1e-4)


def test_neutral_grays_have_no_chroma_in_the_ab_histogram():
    grays = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)   # (1, 256, 3): every gray
    red = np.zeros_like(grays); red[..., 0] = 255
    assert ab_histogram_intersection(grays, np.full((1, 1, 3), 128, np.uint8)) == pytest.approx(1.0)
    assert ab_histogram_intersection(grays, red) == pytest.approx(0.0)
