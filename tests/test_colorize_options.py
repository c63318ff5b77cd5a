"""colorize's automatic-mode options (--model, --render-size, --saturation, --temperature, --batch-size, --backend,
--precision) through the library and the CLI: checked ranges, silently ignored values."""
import re
import warnings

import numpy as np
import pytest

from vidcolor.errors import VidcolorError
from vidcolor.pipeline import Colorizer


@pytest.mark.parametrize("render_size", [100.7, 256.0, np.float64(64.5)])
def test_a_render_size_that_is_no_integer_is_refused(tiny_colorizers, render_size):
    """The CLI takes whole pixels (INTEGER RANGE 32<=x<=1024) and the library refused batch_size=2.0, yet
    Colorizer(render_size=100.7) was accepted and rendered at a rounded size the caller never asked for."""
    with pytest.raises(VidcolorError, match=re.escape(f"render_size must be 32 to 1024 pixels, got {render_size!r}")):
        Colorizer(str(tiny_colorizers.fcn), "cpu", render_size=render_size)


def test_an_integer_render_size_of_numpy_is_taken(tiny_colorizers):
    assert Colorizer(str(tiny_colorizers.fcn), "cpu", render_size=np.int64(64), backend="torch").render_size == 64


@pytest.mark.parametrize("temperature", [1e-40, 1e-300, 5e-324])
def test_a_tiny_temperature_gives_the_mode_not_a_traceback(temperature):
    """--temperature takes any T > 0, yet at 1e-40 logits / T overflowed float32 (inf - inf = NaN) and the run
    ended in 'ValueError: LAB values must be finite numbers' with a traceback. The limit of T -> 0 is the mode."""
    from vidcolor.color import ab_gamut_bins, annealed_mean

    bins = ab_gamut_bins()
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (2, len(bins), 3, 4)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # nor a RuntimeWarning on the user's terminal
        ab = annealed_mean(logits, bins, temperature)
    mode = bins[logits.argmax(1)].transpose(0, 3, 1, 2)
    np.testing.assert_allclose(ab, mode, atol=1e-4)
    np.testing.assert_allclose(annealed_mean(logits, bins, 1e-3), mode, atol=1e-3)   # as the ordinary path nears it


@pytest.mark.parametrize("saturation", [1e39, 1e300])
def test_a_huge_saturation_saturates_not_a_traceback(tiny_colorizers, saturation):
    """--saturation takes any finite F >= 0, yet at 1e39 ab * F overflowed float32 (a gray pixel's 0 * inf: NaN) and
    the run ended in 'ValueError: LAB values must be finite numbers' with a traceback."""
    frames = np.random.default_rng(0).integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)
    frames[:, :4] = 128
    for model in (tiny_colorizers.fcn, tiny_colorizers.effnet_bins):
        far = Colorizer(str(model), "cpu", render_size=32, saturation=1e4, backend="torch")
        huge = Colorizer(str(model), "cpu", render_size=32, saturation=saturation, backend="torch")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_array_equal(huge(frames), far(frames))
