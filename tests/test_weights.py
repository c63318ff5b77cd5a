"""vidcolor.weights: safetensors export/import with the architecture in the metadata; name resolution."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from helpers import TINY_GENERATOR
from vidcolor.errors import VidcolorError
from vidcolor.cue import level_cue
from vidcolor.models import UNetGenerator
from vidcolor.training.loop import DequantizeRecipe, build_generator
from vidcolor.weights import REGISTRY, load_generator, resolve, save_generator


def trained_looking(mode: str = "lab"):
    """A tiny generator with every parameter and buffer perturbed (so the round trip is not trivially 0)."""
    torch.manual_seed(1)
    g, arch = build_generator(DequantizeRecipe(mode=mode, generator=dict(TINY_GENERATOR)))
    with torch.no_grad():
        for p in g.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        for name, b in g.named_buffers():
            if b.is_floating_point():
                b.copy_(torch.rand_like(b) + (0.5 if "running_var" in name else 0.0))
    return g.eval(), arch


@pytest.mark.parametrize("mode", ["lab", "ab", "rgb"])
def test_save_load_round_trip(tmp_path, mode):
    g, arch = trained_looking(mode)
    path = tmp_path / "g.safetensors"
    save_generator(g, path, arch, extra={"steps": 7})
    loaded, arch2 = load_generator(str(path))
    assert isinstance(loaded, UNetGenerator)
    assert not loaded.training
    assert arch2 == arch and arch2["mode"] == mode and arch2["family"] == "unet"
    assert arch2["kwargs"]["out_channels"] == (2 if mode == "ab" else 3)
    for t in loaded.state_dict().values():
        if t.is_floating_point():
            assert t.dtype == torch.float32
    x = torch.rand(2, 3, 21, 19) * 2 - 1
    cue = torch.from_numpy(level_cue(np.random.default_rng(0).integers(0, 256, (2, 21, 19, 3), np.uint8)))
    with torch.no_grad():
        ref, out = g(x, cue), loaded(x, cue)
    assert not torch.allclose(ref, x[:, -ref.shape[1]:], atol=1e-3)      # the perturbation does something
    torch.testing.assert_close(out, ref, atol=2e-2, rtol=1e-2)           # fp16 storage


def test_saved_file_is_fp16_with_metadata(tmp_path):
    g, arch = trained_looking()
    path = tmp_path / "g.safetensors"
    save_generator(g, path, arch, extra={"steps": 3, "recipe": {"name": "x"}})
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}
    assert json.loads(meta["arch"]) == arch
    assert json.loads(meta["steps"]) == 3 and json.loads(meta["recipe"]) == {"name": "x"}
    assert torch.float16 in dtypes and torch.float32 not in dtypes
    # full precision on request
    save_generator(g, tmp_path / "g32.safetensors", arch, half=False)
    with safe_open(str(tmp_path / "g32.safetensors"), framework="pt") as f:
        assert torch.float32 in {f.get_tensor(k).dtype for k in f.keys()}
    loaded, _ = load_generator(str(tmp_path / "g32.safetensors"))
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, None), g(x, None), atol=1e-6, rtol=0)


def test_tiny_model_fixture_loads(tiny_models):
    for mode, path in (("lab", tiny_models.lab), ("rgb", tiny_models.rgb)):
        g, arch = load_generator(str(path))
        assert arch["mode"] == mode and arch["job"] == "dequantize"
        assert arch["kwargs"]["ngf"] == 4 and arch["kwargs"]["depth"] == 2


def test_resolve_paths_and_names(tmp_path):
    f = tmp_path / "w.safetensors"
    f.write_bytes(b"x")
    assert resolve(str(f)) == f
    with pytest.raises(VidcolorError, match="not found"):
        resolve("no-such-model")
    with pytest.raises(VidcolorError):
        resolve(str(tmp_path))                                    # a folder is not a weight file
    with pytest.raises(VidcolorError):
        resolve(str(tmp_path / "missing.safetensors"))
    assert "dequantize-fq-l2" in REGISTRY


def test_load_unknown_name():
    with pytest.raises(VidcolorError, match="no-such-model"):
        load_generator("no-such-model")


def test_load_safetensors_without_arch(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(VidcolorError):
        load_generator(str(path))


def test_load_safetensors_with_mismatched_state(tmp_path):
    path = tmp_path / "mismatch.safetensors"
    arch = {"family": "unet", "kwargs": {"ngf": 4, "depth": 2}, "mode": "lab"}
    save_file({"w": torch.zeros(3)}, str(path), metadata={"arch": json.dumps(arch)})
    with pytest.raises(VidcolorError):
        load_generator(str(path))


@pytest.mark.parametrize("content", [b"this is not a safetensors file\n" * 3, b"\x00" * 7])
def test_load_non_safetensors_file(tmp_path, content):
    path = tmp_path / "bogus.safetensors"
    path.write_bytes(content)
    with pytest.raises(VidcolorError):
        load_generator(str(path))


def test_load_arch_with_unknown_kwargs(tmp_path):
    path = tmp_path / "kw.safetensors"
    arch = {"family": "unet", "kwargs": {"bogus": 1}, "mode": "lab"}
    save_file({"w": torch.zeros(3)}, str(path), metadata={"arch": json.dumps(arch)})
    with pytest.raises(VidcolorError):
        load_generator(str(path))


def test_a_weight_file_that_cannot_be_written_is_one_error(tmp_path):
    import torch

    from vidcolor.errors import VidcolorError
    from vidcolor.weights import save_generator

    with pytest.raises(VidcolorError, match="cannot write the weight file"):
        save_generator(torch.nn.Linear(2, 2), tmp_path / "missing" / "w.safetensors", {"family": "x"})
