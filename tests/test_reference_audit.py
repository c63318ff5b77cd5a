"""`colorize --reference` as a user meets it: odd reference images, the keyframe mode, error paths (reference audit)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from helpers import smooth_image
from vidcolor.errors import VidcolorError
from vidcolor.reference import ReferenceColorizer, read_references


def _job(refs, tiny_colorizers) -> ReferenceColorizer:
    """The tests' tiny exemplar network at a 32 px render, on torch (no ONNX export)."""
    return ReferenceColorizer(refs, str(tiny_colorizers.exemplar), device="cpu", render_size=32, backend="torch")


@pytest.mark.filterwarnings("error::RuntimeWarning")      # numpy's 'Mean of empty slice' of its chroma too
def test_a_reference_whose_opaque_part_fills_no_cell_is_refused(tmp_path, tiny_colorizers):
    """A large RGBA reference with a 6x6 opaque speck passed the 'transparent everywhere' test, then gave no
    position at the matching size: a ZeroDivisionError's traceback (largest_batch) after the output was opened."""
    rgba = np.zeros((400, 640, 4), np.uint8)
    rgba[..., :3] = smooth_image(np.random.default_rng(2), 400, 640)
    rgba[200:206, 300:306, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "speck.png")
    refs = read_references([tmp_path / "speck.png"], render_size=32)
    with pytest.raises(VidcolorError, match="opaque part is too small to give colour"):
        _job(refs, tiny_colorizers)
    # beside a reference that gives positions it simply offers none
    opaque = smooth_image(np.random.default_rng(3), 48, 64)
    assert _job(refs + [opaque], tiny_colorizers).features[0].shape == _job([opaque], tiny_colorizers).features[0].shape
