"""colorize's automatic-mode options (--model, --render-size, --saturation, --temperature, --batch-size, --backend,
--precision) through the library and the CLI: checked ranges, silently ignored values."""
import re

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
