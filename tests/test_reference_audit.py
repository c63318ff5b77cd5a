"""`colorize --reference` as a user meets it: odd reference images, the keyframe mode, error paths (reference audit)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from helpers import smooth_image, vidcolor_warnings
from vidcolor.errors import VidcolorError
from vidcolor.reference import InternalColorizer, ReferenceColorizer, read_references


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


def test_internal_mode_warns_that_a_references_transparent_part_counts(tmp_path):
    """Internal mode drops a reference's alpha: the black under a logo's transparent background went into its
    palette and reconstruction, unsaid (the fast mode leaves transparent parts out, as README says)."""
    rgb = smooth_image(np.random.default_rng(5), 48, 64)
    alpha = np.full((48, 64), 255, np.uint8)
    with vidcolor_warnings() as said:
        InternalColorizer([np.dstack([rgb, alpha])], device="cpu", progress=False)
        InternalColorizer([rgb], device="cpu", progress=False)
    assert said == []
    alpha[:, :16] = 0
    with vidcolor_warnings() as said:
        InternalColorizer([np.dstack([rgb, alpha])], device="cpu", progress=False)
    (line,) = said
    assert "learns from the whole reference, 25% of which is transparent" in line
