"""dequantize's own options (--model, --restore-luminance/--keep-luminance, --tile, --backend, --precision...) and
their library keywords: what a user meets when a combination does not apply."""
import pytest

import vidcolor
from vidcolor.errors import VidcolorError


@pytest.mark.parametrize("value, keyword", [(True, "restore_luminance=True"), (False, "restore_luminance=False")])
def test_the_library_names_its_own_keyword_for_luminance_on_an_rgb_model(tiny_models, value, keyword):
    """Dequantizer(rgb_model, restore_luminance=...) said '--restore-luminance does not apply', a flag the library
    caller never gave; the message now names the keyword, as precision='bf16' and the other options' do."""
    with pytest.raises(VidcolorError) as caught:
        vidcolor.Dequantizer(tiny_models.rgb, "cpu", restore_luminance=value)
    said = str(caught.value)
    assert said.startswith(f"{keyword} does not apply to ") and "--" not in said
