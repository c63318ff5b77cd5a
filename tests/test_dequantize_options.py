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


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_an_onnx_model_with_a_half_precision_names_the_graph(tiny_models, tmp_path, monkeypatch, precision):
    """--model g.onnx --precision bf16 said '--precision bf16 runs on the CPU with --backend torch only': a user who
    gave no --backend and cannot run a graph in torch was told to; an exported graph runs at fp32 in ONNX Runtime."""
    from vidcolor import engine
    from vidcolor.weights import read_arch

    graph = tmp_path / "g.onnx"                  # the graph's metadata alone is read before the check (no export)
    graph.write_bytes(b"")
    monkeypatch.setattr(engine, "read_onnx_arch", lambda path: read_arch(tiny_models.lab))
    with pytest.raises(VidcolorError) as caught:
        vidcolor.Dequantizer(graph, "cpu", precision=precision)
    assert str(caught.value) == f"{graph}: an ONNX graph runs at precision='fp32' (or auto)"
