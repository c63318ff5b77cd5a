"""vidcolor.training.consistency: training through the consistency stage, and Quantizer.cell_bounds."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import smooth_image
from test_training import read_log, tiny_recipe
from vidcolor.quantizer.estimation import estimate
from vidcolor.training.consistency import TERMS, consistency_terms, through_stage
from vidcolor.training.data import DequantizationPairs
from vidcolor.training.degrade import h264_roundtrip, quantize_palette, quantize_uniform
from vidcolor.training.loop import train_dequantize


def as_nchw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float()


@pytest.mark.parametrize("convention", ["floor", "mid", "spread"])
def test_the_stage_in_the_loss_is_the_pipelines_reconstruction_at_strength_1(gradient, convention):
    coarse = h264_roundtrip(quantize_uniform(gradient, 4, convention), 14)
    terms = consistency_terms(coarse)
    assert terms.shape == (96, 128, TERMS) and terms.dtype == np.float32
    rng = np.random.default_rng(1)
    corrected = np.clip(coarse + rng.normal(0, 6, coarse.shape), 0, 255).astype(np.float32)
    q = estimate(coarse[None])
    q.truncation_weight = 1.0
    want = q.reconstruct(coarse[None], corrected[None], 1.0, smooth_chroma=False)[0]
    got = through_stage(as_nchw(corrected) / 255, as_nchw(coarse) / 255, as_nchw(terms))[0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(np.rint(got * 255).astype(np.uint8), want)
    assert not np.array_equal(want, np.rint(corrected).astype(np.uint8))      # the stage changed something


def test_gradients_stop_where_the_cell_binds(gradient):
    coarse = h264_roundtrip(quantize_uniform(gradient, 4, "mid"), 14)
    terms = as_nchw(consistency_terms(coarse))
    y = torch.full((1, 3, 96, 128), 2.0, requires_grad=True)     # far above every cell: all clipped (to 255 at most)
    through_stage(y, as_nchw(coarse) / 255, terms).sum().backward()
    assert float(y.grad.abs().max()) == 0.0
    y = (as_nchw(coarse) / 255).requires_grad_(True)             # the observed frame: inside its cells
    through_stage(y, as_nchw(coarse) / 255, terms).sum().backward()
    assert float((y.grad > 0).float().mean()) > 0.5                  # most pixels pass their gradient on


def test_no_terms_for_images_without_uniform_levels(gradient):
    assert consistency_terms(quantize_palette(gradient, 8)) is None
    assert consistency_terms(gradient) is None


def test_cell_bounds_are_the_projections_box_and_exist_for_uniform_levels_only(gradient):
    coarse = h264_roundtrip(quantize_uniform(gradient, 4, "mid"), 14)
    q = estimate(coarse[None])
    lo, hi = q.cell_bounds(coarse)
    assert lo.shape == hi.shape == coarse.shape and lo.dtype == np.float32
    assert np.all(lo <= coarse) and np.all(coarse <= hi) and np.all(hi - lo >= 15)
    far = np.where(coarse < 128, 255.0, 0.0).astype(np.float32)
    np.testing.assert_array_equal(q.project(coarse, far), np.clip(np.rint(np.clip(far, lo, hi)), 0, 255))
    with pytest.raises(ValueError, match="no boxes"):
        estimate(quantize_palette(gradient, 8)[None]).cell_bounds(coarse)


def test_pairs_yield_the_terms_of_the_whole_image_cropped_and_flipped_with_the_sample(tmp_path):
    rng = np.random.default_rng(3)
    big = smooth_image(rng, 64, 80)
    Image.fromarray(big).save(tmp_path / "big.png")
    torch.manual_seed(0)
    ds = DequantizationPairs([tmp_path / "big.png"], crop=32, seed=5, identity=0.0, kinds=("uniform",),
                             consistency=True)
    seen = 0
    for coarse, fine, cue, terms, has in itertools.islice(iter(ds), 6):
        assert terms.shape == (32, 32, TERMS) and terms.dtype == np.float32 and has in (0.0, 1.0)
        if not has:
            assert not terms.any()
            continue
        seen += 1
        lo, hi = terms[..., 9:12], terms[..., 12:15]
        assert np.all(lo <= coarse) and np.all(coarse <= hi)          # the cells of this crop's own pixels
    assert seen >= 3


def test_a_recipe_with_consistency_trains_and_logs_the_staged_output(tmp_path):
    rng = np.random.default_rng(4)
    data = tmp_path / "photos"
    data.mkdir()
    for i in range(3):
        Image.fromarray(smooth_image(rng, 64, 64)).save(data / f"p{i}.png")
    out = tmp_path / "run"
    train_dequantize(tiny_recipe(data, steps=2, adv_weight=0.0, loss="l2", consistency=True, kinds=["uniform"],
                                 identity=0.0), out, progress=lambda m: None)
    rows = read_log(out / "log.csv")
    assert len(rows) == 2 and all(float(r["loss_rec"]) > 0 for r in rows)
    assert (out / "tiny.safetensors").exists()
