"""vidcolor.pipeline and vidcolor.api in-process: the model is really applied, batching, naming, devices."""
from __future__ import annotations

import shutil
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import smooth_image, CLIP_FPS, CLIP_FRAMES, TINY_GENERATOR, decode_all, listing, mosaic, \
    vidcolor_warnings
from vidcolor.api import dequantize, dequantize_frames, process
from vidcolor.io.paths import default_output
from vidcolor.color import rgb_to_lab
from vidcolor.errors import VidcolorError
from vidcolor.io import read_image
from vidcolor.metrics import psnr
from vidcolor.device import pick_device
from vidcolor.pipeline import Dequantizer, RunSummary, auto_batch_size, batched, job_batch_size
from vidcolor.training.loop import DequantizeRecipe, build_generator
from vidcolor.weights import save_generator


@pytest.fixture(scope="module")
def brightening_model(tmp_path_factory):
    """A lab generator whose global offset adds +10 to L (0.2 in network units) and nothing to ab."""
    gen, arch = build_generator(DequantizeRecipe(mode="lab", generator=dict(TINY_GENERATOR)))
    with torch.no_grad():
        gen.offset.bias.copy_(torch.tensor([0.2, 0.0, 0.0]))
    path = tmp_path_factory.mktemp("bright") / "bright.safetensors"
    save_generator(gen, path, arch)
    return path


@pytest.fixture
def frames():
    return mosaic(3, 24, 40, seed=4) // 2 + 40                   # mid-tones: room to brighten


def test_identity_models(tiny_models, frames):
    for path, tol in ((tiny_models.lab, 2), (tiny_models.rgb, 0)):
        fix = Dequantizer(str(path), device="cpu")
        out = fix(frames)
        assert out.shape == frames.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - frames).max() <= tol


def test_model_is_applied_and_keep_luminance(brightening_model, frames):
    fix = Dequantizer(str(brightening_model), device="cpu", consistency=False)
    assert fix.mode == "lab" and fix.restore_luminance
    out = fix(frames)
    dl = rgb_to_lab(out)[..., 0] - rgb_to_lab(frames)[..., 0]
    assert 9 < float(dl.mean()) < 11
    kept = Dequantizer(str(brightening_model), device="cpu", restore_luminance=False, consistency=False)(frames)
    assert np.abs(kept.astype(int) - frames).max() <= 2        # source L kept, ab unchanged


def test_ab_mode_keeps_source_luminance(tmp_path, frames):
    gen, arch = build_generator(DequantizeRecipe(mode="ab", generator=dict(TINY_GENERATOR)))
    with torch.no_grad():
        gen.offset.bias.copy_(torch.tensor([0.1, 0.0]))        # shifts a only
    save_generator(gen, tmp_path / "ab.safetensors", arch)
    fix = Dequantizer(str(tmp_path / "ab.safetensors"), device="cpu", consistency=False)
    assert fix.mode == "ab" and not fix.restore_luminance
    lab_in, lab_out = rgb_to_lab(frames), rgb_to_lab(fix(frames))
    assert np.abs(lab_out[..., 0] - lab_in[..., 0]).mean() < 1.5
    assert 8 < float((lab_out[..., 1] - lab_in[..., 1]).mean()) < 13


def test_consistency_keeps_the_output_in_the_quantization_cells(brightening_model):
    """The brightening model (+10 L) is held inside each pixel's 4-bit bin (+ margin) of a quantized frame,
    and changes nothing on a frame in which no quantizer is found."""
    from vidcolor.quantizer.estimation import estimate
    from vidcolor.training.degrade import quantize_uniform

    y, x = np.mgrid[0:48, 0:64]
    texture = np.random.default_rng(5).normal(0, 10, (48, 64, 3))     # natural-like: bands broken up, not graphics
    smooth = (np.stack([x * 2.0 + 40, y * 2.5 + 30, (x + y) * 1.2 + 20], -1) + texture).clip(0, 255).astype(np.uint8)
    coarse = quantize_uniform(smooth, 4, "mid")[None]
    fix = Dequantizer(str(brightening_model), device="cpu")
    out = fix(coarse)
    q = estimate(coarse)
    assert q.kind == "uniform" and q.bits == (4, 4, 4) and not q.graphics
    lo = (coarse.astype(int) // 16) * 16 - q.margin
    assert (out >= lo - 0.5).all() and (out <= lo + 15 + 2 * q.margin + 0.5).all()
    free = Dequantizer(str(brightening_model), device="cpu", consistency=False)(coarse)
    assert np.abs(free.astype(int) - coarse).max() > 20          # unconstrained it leaves the bins
    assert np.abs(out.astype(int) - coarse).mean() > 1           # constrained it still corrects
    rich = np.random.default_rng(3).integers(0, 256, (1, 48, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(Dequantizer(str(brightening_model), device="cpu")(rich), rich)


def test_a_cut_from_quantized_to_ordinary_footage_is_followed_at_once(brightening_model):
    """A 4-bit scene cut to rich footage: the rich frames pass unchanged from the cut's frame on, whether the cut opens
    a batch or falls inside one (the clip's quantizer was kept for up to 64 frames, and they were projected onto its
    levels; later a batch that the cut split passed unchanged whole)."""
    from vidcolor.training.degrade import quantize_uniform

    y, x = np.mgrid[0:48, 0:64]
    texture = np.random.default_rng(5).normal(0, 10, (48, 64, 3))
    smooth = (np.stack([x * 2.0 + 40, y * 2.5 + 30, (x + y) * 1.2 + 20], -1) + texture).clip(0, 255).astype(np.uint8)
    coarse = np.stack([np.roll(quantize_uniform(smooth, 4, "mid"), i, 1) for i in range(6)])
    rich = np.random.default_rng(3).integers(0, 256, (6, 48, 64, 3), dtype=np.uint8)
    for first_rich in (4, 6):                  # the cut opens a batch, or falls inside one (frame 6 of batch 4-7)
        fix = Dequantizer(str(brightening_model), device="cpu")
        frames = np.concatenate([coarse[:first_rich], rich])
        out = np.stack(list(batched(frames, fix, 4)))
        assert all(np.abs(out[i].astype(int) - frames[i]).mean() > 1 for i in range(first_rich))  # corrected
        np.testing.assert_array_equal(out[first_rich:], frames[first_rich:])
        assert [(f.quantizer.split()[0], f.frames) for f in fix.found] == [("uniform", first_rich), ("no", 6)]
    fix = Dequantizer(str(brightening_model), device="cpu")           # a cut between two shots on the same levels
    frames = np.concatenate([coarse, np.ascontiguousarray(coarse[:, ::-1, ::-1])])
    out = np.stack(list(batched(frames, fix, 4)))
    assert all(np.abs(out[i].astype(int) - frames[i]).mean() > 1 for i in range(len(frames)))   # all corrected


def test_the_output_does_not_depend_on_the_batch_size(brightening_model, tmp_path):
    """A clip that opens on black, goes to 4-bit floor levels and then to a palette, without a cut the detector sees
    between the last two: batches of 1, 3, 4 and 16 frames give the same output, byte for byte (the quantizer was
    estimated on a batch's first and last frames, and the floor offset's weight taken on the batch)."""
    from vidcolor.training.degrade import quantize_palette, quantize_uniform

    y, x = np.mgrid[0:48, 0:64]
    texture = np.random.default_rng(5).normal(0, 6, (48, 64, 3))
    smooth = (np.stack([x * 2.0 + 40, y * 2.5 + 30, (x + y) * 1.2 + 20], -1) + texture).clip(0, 255).astype(np.uint8)
    floor = np.stack([np.roll(quantize_uniform(smooth, 4, "floor"), i, 1) for i in range(7)])
    palette = np.stack([np.roll(quantize_palette(smooth, 16), i, 1) for i in range(7, 14)])
    clip = np.concatenate([np.zeros((3, 48, 64, 3), np.uint8), floor, palette])
    outs = {}
    for size in (1, 3, 4, 16):
        fix = Dequantizer(str(brightening_model), device="cpu")
        outs[size] = np.stack(list(batched(clip, fix, size)))
    assert np.abs(outs[1][3:].astype(int) - clip[3:]).mean() > 1         # the quantized frames are corrected
    for size in (3, 4, 16):
        np.testing.assert_array_equal(outs[size], outs[1], err_msg=f"batch {size}")


def test_uniform_levels_get_the_band_correction(tiny_models):
    """With a generator that corrects nothing (the untrained identity), a 4-bit gradient through H.264 still
    comes out closer to the truth: the bilateral filter's correction of its bands is added before the
    projection (Quantizer.band_correction); with consistency off it is not."""
    from vidcolor.training.degrade import h264_roundtrip, quantize_uniform

    y, x = np.mgrid[0:96, 0:160].astype(np.float32)
    truth = np.stack([10 + x * 1.6, 20 + y * 2.2, 30 + x * 0.6 + y * 1.1], -1)
    truth = (truth + np.random.default_rng(8).normal(0, 0.8, truth.shape)).clip(0, 255).round().astype(np.uint8)
    coarse = h264_roundtrip(quantize_uniform(truth, 4, "mid"), 12)[None]
    out = Dequantizer(str(tiny_models.lab), device="cpu")(coarse)
    free = Dequantizer(str(tiny_models.lab), device="cpu", consistency=False)(coarse)
    assert psnr(out, truth[None]) > psnr(coarse, truth[None]) + 1.0
    assert abs(psnr(free, truth[None]) - psnr(coarse, truth[None])) < 0.3


def test_uniform_levels_get_the_contour_estimate(tiny_models, monkeypatch):
    """The interpolation between the bands' contours (Quantizer.contour_estimate) joins the correction of
    uniform levels: a 4-bit ramp through H.264 comes out closer to the truth with it than without it."""
    from vidcolor.quantizer.contours import CONTOUR_WEIGHT
    from vidcolor.training.degrade import h264_roundtrip, quantize_uniform

    y, x = np.mgrid[0:96, 0:160].astype(np.float32)
    truth = np.stack([10 + x * 1.6, 20 + y * 2.2, 30 + x * 0.6 + y * 1.1], -1)
    truth = (truth + np.random.default_rng(8).normal(0, 0.8, truth.shape)).clip(0, 255).round().astype(np.uint8)
    coarse = h264_roundtrip(quantize_uniform(truth, 4, "mid"), 12)[None]
    job = Dequantizer(str(tiny_models.lab), device="cpu")
    with_contours = job(coarse)
    found = job.quantizers(coarse)
    assert found.kind == "uniform" and not found.graphics
    monkeypatch.delitem(CONTOUR_WEIGHT, "uniform")
    without = Dequantizer(str(tiny_models.lab), device="cpu")(coarse)
    assert psnr(with_contours, truth[None]) > psnr(without, truth[None]) + 0.5


def test_soft_black_and_white_footage_on_uniform_levels_is_dequantized(tiny_models):
    """Soft black-and-white footage quantized to 4 bits (mostly flat bands, as flat as art) is corrected, not
    passed through as graphics: closer to the truth after H.264 by over 1 dB; the same bands in colour are
    left as they are."""
    from vidcolor.training.degrade import h264_roundtrip, quantize_uniform

    y, x = np.mgrid[0:96, 0:160].astype(np.float32)
    luma = np.clip(40 + 1.1 * x + 0.5 * y + 12 * np.sin(x / 17) * np.cos(y / 13), 0, 255)
    truth = np.repeat(luma[..., None], 3, -1).round().astype(np.uint8)
    coarse = h264_roundtrip(quantize_uniform(truth, 4, "mid"), 12)[None]
    job = Dequantizer(str(tiny_models.lab), device="cpu")
    assert psnr(job(coarse), truth[None]) > psnr(coarse, truth[None]) + 1.0
    tinted = np.clip(truth * np.float32([1.0, 0.8, 0.55]), 0, 255).astype(np.uint8)
    coarse = h264_roundtrip(quantize_uniform(tinted, 4, "mid"), 12)[None]
    np.testing.assert_array_equal(Dequantizer(str(tiny_models.lab), device="cpu")(coarse), coarse)


def test_strength_from_the_weight_file_scales_the_correction(tmp_path, monkeypatch):
    from vidcolor.quantizer.contours import CONTOUR_WEIGHT
    from vidcolor.training.degrade import quantize_uniform

    monkeypatch.delitem(CONTOUR_WEIGHT, "uniform")     # the generator's share alone

    y, x = np.mgrid[0:48, 0:64]
    texture = np.random.default_rng(5).normal(0, 10, (48, 64, 3))
    coarse = quantize_uniform((np.stack([x * 2.0 + 40, y * 2.5 + 30, (x + y) * 1.2 + 20], -1) + texture)
                              .clip(0, 255).astype(np.uint8), 4, "mid")[None]
    model, arch = build_generator(DequantizeRecipe(mode="lab", generator=dict(TINY_GENERATOR)))
    with torch.no_grad():
        model.offset.bias.copy_(torch.tensor([0.04, 0.0, 0.0]))   # +2 L: about +5 levels, inside the 4-bit bins
    changes = {}
    for strength in (0.0, 0.5, 1.0):
        path = tmp_path / f"s{strength}.safetensors"
        save_generator(model, path, dict(arch, strength={"uniform": strength}))
        job = Dequantizer(str(path), device="cpu")
        job.set_output_chroma(False)                             # no chroma smoothing either
        changes[strength] = float(np.abs(job(coarse).astype(int) - coarse).mean())
    assert changes[0.0] == 0.0                                   # strength 0: the input itself
    assert 0.3 * changes[1.0] < changes[0.5] < 0.7 * changes[1.0]


def test_frames_of_a_clip_take_the_clip_strength_where_the_model_has_one(tiny_models):
    """``"<strength_key> clip"`` applies to a clip's frames only; stills, and keys without a clip strength, take
    the key's own, then the kind's, then 1."""
    from vidcolor.quantizer.reconstruction import Quantizer

    job = Dequantizer(str(tiny_models.lab), device="cpu")
    job.strength = {"palette small": 0.4, "palette small clip": 1.0, "palette": 0.1}
    small = Quantizer("palette", palette=np.eye(3, dtype=np.float32) * 200)
    many = Quantizer("palette", palette=np.arange(60, dtype=np.float32).reshape(20, 3) * 4)
    uniform = Quantizer("uniform", bits=(4, 4, 4), conventions=("mid",) * 3)
    assert (small.strength_key, many.strength_key) == ("palette small", "palette")
    assert [job.strength_for(q) for q in (small, many, uniform)] == [1.0, 0.1, 1.0]
    job.set_stills(True)
    assert [job.strength_for(q) for q in (small, many, uniform)] == [0.4, 0.1, 1.0]


def test_bit_truncation_takes_its_own_strength_when_the_weight_file_has_one(tmp_path):
    """``uniform floor`` in the weight file's strengths applies to bit-truncated frames (Quantizer.strength_key),
    ``uniform`` to the other uniform levels, and a weight file without it uses ``uniform`` for both: with the
    floor strength 0 a truncated gradient passes unchanged while bin middles are still corrected."""
    from vidcolor.training.degrade import quantize_uniform

    y, x = np.mgrid[0:48, 0:64]
    texture = np.random.default_rng(5).normal(0, 10, (48, 64, 3))
    truth = (np.stack([x * 2.0 + 40, y * 2.5 + 30, (x + y) * 1.2 + 20], -1) + texture).clip(0, 255).astype(np.uint8)
    floor, mid = (quantize_uniform(truth, 4, conv)[None] for conv in ("floor", "mid"))
    model, arch = build_generator(DequantizeRecipe(mode="lab", generator=dict(TINY_GENERATOR)))
    both = tmp_path / "both.safetensors"
    save_generator(model, both, dict(arch, strength={"uniform": 0.5, "uniform floor": 0.0}))
    job = Dequantizer(str(both), device="cpu")
    np.testing.assert_array_equal(job(floor), floor)
    assert job.quantizers.current.strength_key == "uniform floor"
    job.reset()
    assert np.abs(job(mid).astype(int) - mid).mean() > 0.5
    assert job.quantizers.current.strength_key == "uniform"
    only = tmp_path / "uniform.safetensors"
    save_generator(model, only, dict(arch, strength={"uniform": 0.5}))
    assert np.abs(Dequantizer(str(only), device="cpu")(floor).astype(int) - floor).mean() > 0.5


def test_not_a_dequantization_model(tmp_path):
    gen, arch = build_generator(DequantizeRecipe(mode="lab", generator=dict(TINY_GENERATOR)))
    save_generator(gen, tmp_path / "c.safetensors", dict(arch, job="colorize"))
    with pytest.raises(VidcolorError, match="colorize"):
        Dequantizer(str(tmp_path / "c.safetensors"), device="cpu")


@pytest.mark.parametrize("shape", [(4000, 1), (520, 1)])
def test_very_tall_frames_are_dequantized(tiny_models, shape):
    """Frames over about 511 times as tall as wide raised a raw cv2.error from the cut detector's 64-pixel-wide
    thumbnails (API audit, stop 63)."""
    rng = np.random.default_rng(3)
    frames = (rng.integers(0, 16, (4, *shape, 3)) * 16 + 8).astype(np.uint8)
    out = Dequantizer(str(tiny_models.lab), device="cpu")(frames)
    assert out.shape == frames.shape and out.dtype == np.uint8


def test_a_frame_above_the_tile_runs_the_whole_job_tile_by_tile(brightening_model):
    """Without temporal smoothing, network input, network and recombination run per tile (no frame-sized network
    input is built; the projection, per pixel too, is off here so that the generator runs): the engine never
    sees more than a tile, and the result is the untiled job's (the tiny U-Net's receptive field fits in the
    tiles' context). With smoothing (which needs whole frames) only the network is tiled."""
    frames = smooth_image(np.random.default_rng(3), 150, 300)[None] // 16 * 16 + 8     # 4 bits, bin middles
    tiled = Dequantizer(str(brightening_model), device="cpu", tile=96, consistency=False)
    seen = []
    run = tiled.engine.run
    tiled.engine.run = lambda args: (seen.append(args[0].shape[-2:]), run(args))[1]
    out = tiled(frames)
    whole = Dequantizer(str(brightening_model), device="cpu", tile=0, consistency=False)(frames)
    assert len(seen) > 1 and max(max(hw) for hw in seen) <= 96
    assert tiled.prepare(frames).feeds is None
    tiled.set_temporal("ema")
    assert tiled.prepare(frames).feeds["frame"].shape[-2:] == (150, 300)
    assert np.abs(out.astype(int) - whole).max() <= 1 and np.abs(out.astype(int) - frames).mean() > 1


def test_predict_lab_on_frames_above_the_tile_and_on_frames_that_pass(brightening_model):
    """predict_lab (the benchmarks' raw prediction) runs on whole frames even where the job itself would run
    tile by tile, and gives a frame that passes unchanged its own L and ab."""
    frames = smooth_image(np.random.default_rng(3), 150, 300)[None] // 16 * 16 + 8
    tiled = Dequantizer(str(brightening_model), device="cpu", tile=96, consistency=False)
    L, ab = tiled.predict_lab(frames)
    L0, ab0 = Dequantizer(str(brightening_model), device="cpu", tile=0, consistency=False).predict_lab(frames)
    assert L.shape == (1, 150, 300) and ab.shape == (1, 150, 300, 2)
    assert np.abs(L - L0).max() < 0.5 and np.abs(ab - ab0).max() < 0.5
    assert np.abs(L - rgb_to_lab(frames)[..., 0]).mean() > 1       # the generator ran (it brightens)
    flat = np.zeros((1, 64, 64, 3), np.uint8)
    flat[:, :, 32:] = (200, 40, 40)                                  # flat colour: graphics, passes unchanged
    L, ab = Dequantizer(str(brightening_model), device="cpu").predict_lab(flat)
    lab = rgb_to_lab(flat)
    assert np.array_equal(L, lab[..., 0]) and np.array_equal(ab, lab[..., 1:])


def test_batched_keeps_order_and_batch_sizes():
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(7)]
    sizes = []

    def fn(batch):
        sizes.append(len(batch))
        return batch + 1

    out = list(batched(iter(frames), fn, 3))
    assert sizes == [3, 3, 1]
    assert [int(f[0, 0, 0]) for f in out] == list(range(1, 8))
    with pytest.raises(VidcolorError):
        list(batched(frames, fn, 0))


def test_dequantize_frames_streams(tiny_models, frames):
    out = list(dequantize_frames(iter(frames), model=str(tiny_models.rgb), device="cpu", batch_size=2))
    assert len(out) == 3
    np.testing.assert_array_equal(np.stack(out), frames)


def test_dequantize_frames_names_the_first_frame_of_another_size(tiny_models, frames):
    """Frames of different sizes raised numpy's "all input arrays must have the same shape" from the batch's
    np.stack, naming no frame (API audit, stop 63)."""
    clip = [frames[0], frames[1], frames[2][:16]]
    with pytest.raises(VidcolorError, match=r"^frame 2 is \(16, 40, 3\) where frame 0 is \(24, 40, 3\)"):
        list(dequantize_frames(clip, model=str(tiny_models.lab), device="cpu", batch_size=4))


def test_a_batch_size_that_is_not_an_integer_is_refused_when_called(tiny_models, frames, clip, tmp_path):
    """A batch of 2.5 frames never filled, so the whole stream was buffered into one batch; and
    dequantize_frames, a generator function, checked its options only at the first frame asked for."""
    calls = []

    def fn(batch):
        calls.append(len(batch))
        return batch

    for bad in (2.5, 0, True, "2"):
        with pytest.raises(VidcolorError, match="batch size must be an integer of at least 1"):
            batched(iter(frames), fn, bad)                                      # no next() needed
        with pytest.raises(VidcolorError, match="batch size must be an integer of at least 1"):
            dequantize_frames(iter(frames), model=str(tiny_models.rgb), device="cpu", batch_size=bad)
    with pytest.raises(VidcolorError, match="batch size must be an integer of at least 1"):
        process(clip, tmp_path / "o.mp4", fn, suffix="x", batch_size=2.5, progress=False)
    with pytest.raises(VidcolorError, match="batch size must be an integer of at least 1"):
        dequantize(clip, tmp_path / "o.mp4", model="no-such-model", batch_size=2.5)     # before the model
    assert calls == [] and not (tmp_path / "o.mp4").exists()
    with pytest.raises(VidcolorError, match="not found"):
        dequantize_frames(iter(frames), model="no-such-model", device="cpu")
    with pytest.raises(VidcolorError, match="tile"):                           # tile is passed on
        dequantize_frames(iter(frames), model=str(tiny_models.rgb), device="cpu", tile=-1)
    assert len(list(batched(iter(frames), fn, np.int64(2)))) == 3 and calls == [2, 1]


def test_colorizer_takes_one_reference_path_as_colorize_does(tmp_path):
    """colorizer(references="x.jpg") read the path's characters as references ("n: no such file"), and a Path
    raised TypeError; one path is a list of one, as colorize() already took it."""
    from vidcolor.api import colorizer

    for one in ("nope.mp4", Path("nope.mp4")):
        with pytest.raises(VidcolorError, match=r"^nope\.mp4: references takes a colour still image"):
            colorizer(device="cpu", references=one)


def test_dequantize_documents_every_io_option_process_takes():
    """ignore_errors was missing from dequantize()'s list of **io_options."""
    import inspect
    import re

    taken = set(inspect.signature(process).parameters) - {"input", "output", "fn", "suffix", "batch_size"}
    listed = re.search(r"\*\*io_options: see :func:`process` \(([^)]*)\)", dequantize.__doc__).group(1)
    assert {name.strip() for name in listed.split(",")} == taken


def test_the_jobs_say_they_are_one_per_thread():
    """One Dequantizer shared by two threads gave wrong output silently (its per-clip state, which a lock would not
    separate); nothing but LabJob's docstring said so (API audit, stop 63). The classes, colorizer() and the
    README's Python section say it."""
    from vidcolor import api
    from vidcolor.pipeline import Colorizer

    for doc in (Dequantizer.__doc__, Colorizer.__doc__, api.colorizer.__doc__):
        assert "per thread" in " ".join(doc.split())
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "One Dequantizer or colorizer() per thread" in readme


def test_pick_device():
    assert pick_device("cpu") == "cpu"
    assert pick_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(VidcolorError):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(VidcolorError, match="cuda"):
            pick_device("cuda")


def test_a_cpu_run_on_a_cached_onnx_graph_never_imports_torch(tmp_path, tiny_models, clip):
    """Torch's import is most of a CPU run's start-up: with ONNX Runtime and the graph in the cache, the
    dequantize and colorize jobs run without it (a fresh interpreter, the test run's cache)."""
    import subprocess
    import sys

    from vidcolor.engine import cached_onnx
    from vidcolor.jobs import DEFAULTS
    from vidcolor.weights import read_arch

    cached_onnx(str(tiny_models.lab), read_arch(str(tiny_models.lab)))        # exported (torch) here, once
    cached_onnx(DEFAULTS["colorize"], read_arch(DEFAULTS["colorize"]))
    code = ("import sys; from vidcolor.api import colorize, dequantize; "
            f"dequantize({str(clip)!r}, {str(tmp_path / 'd.mp4')!r}, model={str(tiny_models.lab)!r}, "
            "backend='onnxruntime', progress=False, preset='ultrafast'); "
            f"colorize({str(clip)!r}, {str(tmp_path / 'c.mp4')!r}, backend='onnxruntime', progress=False, "
            "preset='ultrafast'); print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert (tmp_path / "d.mp4").is_file() and (tmp_path / "c.mp4").is_file()


def test_run_summary():
    s = RunSummary(10, 2.0, "out.mp4")
    assert s.fps == 5.0 and str(s) == "10 frames in 2.0 s (5.00 fps) -> out.mp4"
    assert RunSummary(3, 0.0, "x").fps == 0.0
    # one frame or image: singular and no rate (it read '1 frames in 0.2 s (5.69 fps)' for one image)
    assert str(RunSummary(1, 0.176, "a.png", unit="image")) == "1 image in 0.2 s -> a.png"
    assert str(RunSummary(1, 0.5, "a.mp4")) == "1 frame in 0.5 s -> a.mp4"
    assert str(RunSummary(4, 0.8, "out", unit="image")) == "4 images in 0.8 s (0.20 s an image) -> out"
    # the time outside the frames is said apart, the rate stays the frames' own (README's speed sections)
    timed = RunSummary(30, 3.8, "out.mp4", startup=3.0, finish=0.3)
    assert str(timed) == "30 frames in 3.8 s (7.89 fps; 3.0 s start-up, 0.3 s finish) -> out.mp4"
    one = RunSummary(1, 0.0, "a.png", unit="image", startup=1.8, finish=0.01)
    assert str(one) == "1 image in 0.0 s (1.8 s start-up) -> a.png"


def test_the_summary_measures_the_start_up_and_finish_of_a_call(tmp_path, clip):
    import time

    began = time.perf_counter()
    summary = process(clip, tmp_path / "o.mp4", lambda b: b, suffix="x", preset="ultrafast", progress=False)
    assert summary.startup is None and summary.began >= began
    time.sleep(0.2)
    summary.timed_from(began - 1.0)
    assert summary.startup >= 1.0 and summary.finish >= 0.2
    assert "s start-up, " in str(summary) and f"({summary.fps:.2f} fps; " in str(summary)


def test_the_summary_of_still_images_counts_images(tmp_path):
    from PIL import Image

    (tmp_path / "shots").mkdir()
    for i in range(2):
        Image.fromarray(mosaic(1, 8, 8, seed=i)[0]).save(tmp_path / "shots" / f"{i}.png")
    one = process(tmp_path / "shots" / "0.png", tmp_path / "0.png", lambda b: b, suffix="x", progress=False)
    assert str(one).startswith("1 image in ") and "fps" not in str(one)
    both = process(tmp_path / "shots", tmp_path / "out", lambda b: b, suffix="x", progress=False)
    assert str(both).startswith("2 images in ") and "s an image) -> " in str(both)


def test_default_output(tmp_path):
    assert default_output("a/clip.mkv", "dequantized").as_posix() == "a/clip_dequantized.mp4"
    assert default_output("a/sprite.gif", "dequantized").as_posix() == "a/sprite_dequantized.png"
    (tmp_path / "shots").mkdir()
    assert default_output(tmp_path / "shots", "x") == tmp_path / "shots_x"
    for container, suffix in (("mp4", ".mp4"), ("matroska", ".mkv"), ("gif", ".gif"), ("nut", ".nut"), ("mov", ".mov")):
        assert default_output("a/clip.mkv", "x", container).as_posix() == f"a/clip_x{suffix}"
    assert default_output("a/sprite.gif", "x", "matroska").as_posix() == "a/sprite_x.png"    # a still: an image


def test_a_folder_named_by_dot_or_dot_dot_gets_the_output_its_own_name_would(tmp_path, monkeypatch):
    (tmp_path / "shots" / "sub").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "shots")
    for name in (".", "./", "sub/..", "sub/../.", str(tmp_path / "shots" / "sub" / "..")):
        assert default_output(name, "x") == tmp_path.resolve() / "shots_x", name     # not '. has an empty name'
    assert default_output("..", "x") == tmp_path.parent.resolve() / f"{tmp_path.name}_x"     # not ./.._x
    with pytest.raises(VidcolorError, match="the root folder"):
        default_output("/", "x")


@pytest.mark.parametrize("container, suffix, name", [("matroska", ".mkv", "matroska"), ("gif", ".gif", "gif"),
                                                     ("nut", ".nut", "nut")])
def test_a_folders_clips_are_named_after_the_format_written(tmp_path, container, suffix, name):
    """``--format matroska`` on a folder writes ``<stem>.mkv``, not Matroska data in ``<stem>.mp4``."""
    import av
    from PIL import Image

    (tmp_path / "reels").mkdir()
    frames = [Image.fromarray(f) for f in mosaic(3, 16, 24)]
    frames[0].save(tmp_path / "reels" / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = tmp_path / "out"
    process(tmp_path / "reels", out, lambda b: b, suffix="x", container=container, preset="ultrafast", progress=False,
            **({} if container == "gif" else {"pix_fmt": "yuv444p"}))     # (the GIF's colour kept, not warned of)
    assert listing(out) == {f"anim{suffix}"}
    with av.open(str(out / f"anim{suffix}")) as c:
        assert name in c.format.name.split(",")


def test_process_applies_the_function_to_every_frame(tmp_path, clip, clip_frames):
    """``process`` with an inverting function: proves frames really pass through ``fn`` in order."""
    shutil.copy(clip, tmp_path / "clip.mp4")
    calls = []

    def invert(batch):
        calls.append(len(batch))
        return 255 - batch

    summary = process(tmp_path / "clip.mp4", None, invert, suffix="inv", batch_size=4, crf=8, preset="ultrafast",
                      progress=False)
    assert summary.frames == CLIP_FRAMES and calls == [4, 4, 2]
    assert listing(tmp_path) == {"clip.mp4", "clip_inv.mp4"}
    got, rate, has_audio = decode_all(str(tmp_path / "clip_inv.mp4"))
    assert rate == Fraction(CLIP_FPS) and has_audio
    assert psnr(got, 255 - clip_frames) > 30


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_signal_whose_handler_returns_does_not_cut_the_output(tmp_path, clip, signame):
    """A service's own handler that only records the signal (a shutdown or reload flag) mid-run: the call writes
    every frame and returns. It used to stop the run: with SIGINT a partial output returned as a success, with
    SIGTERM or SIGHUP "N of M frames could not be read (truncated or damaged)" about an intact input (API audit,
    stop 63)."""
    import os
    import signal

    sig = getattr(signal, signame)
    got, sent = [], []

    def slow(batch):
        if not sent:
            sent.append(os.kill(os.getpid(), sig))
        time.sleep(0.05)
        return batch

    before = signal.signal(sig, lambda s, f: got.append(s))
    try:
        summary = process(clip, tmp_path / "out.mp4", slow, suffix="sig", batch_size=1, progress=False)
    finally:
        signal.signal(sig, before)
    assert got == [sig] and summary.frames == CLIP_FRAMES
    assert len(decode_all(str(tmp_path / "out.mp4"))[0]) == CLIP_FRAMES


@pytest.mark.parametrize("stdout", ["StringIO", "BytesIO under text"])
def test_output_to_a_replaced_stdout_is_one_error(tmp_path, clip, monkeypatch, stdout):
    """output "-" with sys.stdout replaced by a StringIO (a notebook's, pytest's) raised AttributeError: '_io.StringIO'
    object has no attribute 'buffer' (API audit, stop 63); with bytes under it but no file descriptor, a
    fileno error. ffmpeg writes to stdout's descriptor: a VidcolorError saying so, nothing left behind."""
    import io

    fake = io.StringIO() if stdout == "StringIO" else io.TextIOWrapper(io.BytesIO())
    monkeypatch.setattr("sys.stdout", fake)
    with pytest.raises(VidcolorError, match=r"^output='-': sys.stdout \(\w+\) is not a file that ffmpeg can write to"):
        process(clip, "-", lambda batch: batch, suffix="x", progress=False)
    assert listing(tmp_path) == set()


class _ChromaProbe:
    """An identity job that records what :func:`process` tells it about the output's chroma."""

    def __init__(self):
        self.told = []

    def set_output_chroma(self, kept: bool) -> None:
        self.told.append(kept)

    def __call__(self, frames):
        return frames


def test_process_tells_the_job_whether_the_output_keeps_its_chroma(tmp_path, clip):
    """x264 at 4:2:0 or 4:4:4: no (the encode smooths the colour noise that chroma smoothing would); FFV1 at 4:4:4
    and images: yes; side by side, the wrapped job is told."""
    probe = _ChromaProbe()
    for codec, pix_fmt in (("libx264", "yuv420p"), ("libx264", "yuv444p"), ("ffv1", "yuv444p")):
        process(clip, tmp_path / f"{codec}_{pix_fmt}.mkv", probe, suffix="x", codec=codec, preset="ultrafast",
                pix_fmt=pix_fmt, progress=False)
    process(clip, tmp_path / "side.mp4", probe, suffix="x", preset="ultrafast", compare=True, progress=False)
    from PIL import Image

    Image.fromarray(mosaic(1, 8, 8, seed=1)[0]).save(tmp_path / "shot.png")
    process(tmp_path / "shot.png", tmp_path / "out.png", probe, suffix="x", progress=False)
    assert probe.told == [False, False, True, False, True]


def test_dequantizer_smooths_chroma_only_for_output_that_keeps_it(tiny_models):
    """A colour texture at 4 bits: for output that keeps its chroma the colour noise of quantizing R, G and B apart
    is smoothed, and the result is closer to the truth than without (the setting for x264 output), though the
    input's own 4:2:0 (H.264) has smoothed some of it already."""
    import cv2

    from vidcolor.training.degrade import h264_roundtrip, quantize_uniform

    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    texture = cv2.GaussianBlur(rng.normal(0, 14, (96, 128)).astype(np.float32), (0, 0), 0.7)[..., None]
    truth = np.round(np.clip(np.stack([90 + x * 0.5, 110 + y * 0.4, 70 + (x + y) * 0.3], -1) + texture, 0, 255))
    truth = truth.astype(np.uint8)[None]
    coarse = h264_roundtrip(quantize_uniform(truth[0], 4, "mid"), 12)[None]
    outs = {}
    for kept in (True, False):
        job = Dequantizer(str(tiny_models.lab), device="cpu")
        job.set_output_chroma(kept)
        outs[kept] = job(coarse)
    assert psnr(outs[True], truth) > psnr(outs[False], truth) + 0.2          # +0.41 dB when written


def test_api_dequantize_with_a_real_correction(tmp_path, clip, clip_frames, brightening_model):
    out = tmp_path / "bright.mkv"
    summary = dequantize(clip, out, model=str(brightening_model), device="cpu", audio=False, preset="ultrafast",
                         crf=8, progress=False, consistency=False)
    assert summary.frames == CLIP_FRAMES and summary.output == str(out)
    got, _, has_audio = decode_all(str(out))
    assert not has_audio
    src_l = rgb_to_lab(clip_frames)[..., 0]
    dl = rgb_to_lab(got)[..., 0] - src_l
    unsaturated = src_l < 80                                     # testsrc has white areas that cannot brighten
    assert unsaturated.mean() > 0.3
    assert 4 < float(np.median(dl[unsaturated])) < 12             # +10 L, less where colours leave the gamut
    assert float(np.percentile(dl[unsaturated], 90)) > 8


def test_api_errors(tmp_path, tiny_models):
    with pytest.raises(VidcolorError, match="no such file"):
        dequantize(tmp_path / "missing.mp4", model=str(tiny_models.lab))
    (tmp_path / "empty").mkdir()
    with pytest.raises(VidcolorError, match="no images"):
        dequantize(tmp_path / "empty", model=str(tiny_models.lab), progress=False)


@pytest.mark.parametrize("bad", [np.zeros((1, 8, 8, 3), np.float32), np.zeros((8, 8, 3), np.uint8),
                                 np.zeros((1, 8, 8), np.uint8), np.zeros((1, 8, 8, 4), np.uint8),
                                 np.zeros((0, 8, 8, 3), np.uint8), np.zeros((1, 8, 8, 3), bool), [[1, 2, 3]],
                                 np.zeros((1, 0, 5, 3), np.uint8), np.zeros((1, 5, 0, 3), np.uint8)],
                         ids=["float32", "one frame", "gray", "rgba", "empty", "bool", "list", "no rows", "no columns"])
def test_a_job_refuses_frames_it_cannot_take(tiny_models, tiny_colorizers, bad):
    from vidcolor.pipeline import Colorizer

    for job in (Dequantizer(str(tiny_models.lab), device="cpu"), Colorizer(str(tiny_colorizers.fcn), device="cpu")):
        with pytest.raises(ValueError, match=r"expected uint8 RGB \(N, H, W, 3\), no side empty"):
            job(bad)


def test_a_colorizer_refuses_render_sizes_and_saturations_out_of_range(tiny_colorizers):
    from vidcolor.pipeline import Colorizer

    for kw in ({"render_size": 16}, {"render_size": 100000}, {"saturation": float("nan")},
               {"saturation": float("inf")}, {"temperature": float("nan")}):
        with pytest.raises(VidcolorError, match=f"^{next(iter(kw))} must be"):    # the bad one named alone
            Colorizer(str(tiny_colorizers.fcn), device="cpu", **kw)


def test_a_colorizer_refuses_a_confidence_that_is_not_a_finite_number(tiny_colorizers):
    """NaN turned every frame white and inf removed all colour, silently."""
    from vidcolor.pipeline import Colorizer

    for confidence in (float("nan"), float("inf"), -1.0):
        with pytest.raises(VidcolorError, match="confidence must be >= 0"):
            Colorizer(str(tiny_colorizers.effnet_bins), device="cpu", confidence=confidence)


def test_temperature_is_refused_for_a_model_without_ab_bins(tiny_colorizers):
    """--temperature (and the colour confidence) act on the annealed mean of ab bins; a model that regresses ab
    has none, so the option is refused rather than silently ignored."""
    from vidcolor.pipeline import Colorizer

    for kw in ({"temperature": 0.5}, {"confidence": 1.0}):
        with pytest.raises(VidcolorError, match="regresses ab directly"):
            Colorizer(str(tiny_colorizers.fcn), device="cpu", **kw)
    assert Colorizer(str(tiny_colorizers.effnet_bins), device="cpu", temperature=0.5).temperature == 0.5


def test_a_crf_the_encoder_does_not_take_is_refused_before_any_work(tmp_path, clip):
    """crf=99 was clamped to 51 by x264 silently, 18.5 was taken, and -5 failed inside ffmpeg; the CLI takes 0-51."""
    from vidcolor.api import colorize

    calls = []

    def fn(batch):
        calls.append(len(batch))
        return batch

    for crf in (99, 52, -5, 18.5, True, "16"):
        with pytest.raises(VidcolorError, match=r"crf must be an integer from 0 to 51"):
            process(clip, tmp_path / "o.mp4", fn, suffix="x", crf=crf, progress=False)
        with pytest.raises(VidcolorError, match=r"crf must be an integer from 0 to 51"):
            dequantize(clip, tmp_path / "o.mp4", model="no-such-model", crf=crf)        # before the model
        with pytest.raises(VidcolorError, match=r"crf must be an integer from 0 to 51"):
            colorize(clip, tmp_path / "o.mp4", model="no-such-model", crf=crf)
    assert calls == [] and not (tmp_path / "o.mp4").exists()


def test_process_refuses_a_function_that_returns_other_frame_counts(tmp_path, clip):
    for fn in (lambda batch: batch[:1], lambda batch: np.concatenate([batch, batch]), lambda batch: None):
        with pytest.raises(ValueError, match="for a batch of 4 frames"):
            process(clip, tmp_path / "o.mp4", fn, suffix="x", batch_size=4, preset="ultrafast", progress=False)
        assert listing(tmp_path) == set()


def test_folder_with_clashing_stems(tmp_path):
    """``a.png`` and ``a.jpg`` would both become ``a.png``: each is written under its full name instead."""
    from PIL import Image

    (tmp_path / "shots").mkdir()
    Image.fromarray(mosaic(1, 8, 8, seed=1)[0]).save(tmp_path / "shots" / "a.png")
    Image.fromarray(mosaic(1, 8, 8, seed=2)[0]).save(tmp_path / "shots" / "a.jpg")
    out = tmp_path / "shots_x"
    summary = process(tmp_path / "shots", out, lambda b: b, suffix="x", progress=False)
    assert summary.frames == 2
    assert listing(out) == {"a.png.png", "a.jpg.png"}
    for name in ("a.png", "a.jpg"):                                   # identity function: the pixels as read
        np.testing.assert_array_equal(read_image(out / f"{name}.png")[0], read_image(tmp_path / "shots" / name)[0])



def test_every_image_suffix_is_read_as_an_image_alone_and_in_a_folder(tmp_path):
    """A .jfif alone went down the video path (a one-frame .mp4), and a folder skipped .apng, .jfif, .ppm..."""
    from PIL import Image

    shots = tmp_path / "shots"
    shots.mkdir()
    frames = [Image.fromarray(f) for f in mosaic(3, 16, 24)]
    frames[0].save(shots / "photo.jfif", "JPEG")
    frames[0].convert("L").save(shots / "scan.pgm")
    frames[0].save(shots / "pic.tga")
    frames[0].save(shots / "moving.apng", "PNG", save_all=True, append_images=frames[1:], duration=100)
    process(shots / "photo.jfif", None, lambda b: b, suffix="x", progress=False)
    assert (shots / "photo_x.png").is_file()
    (shots / "photo_x.png").unlink()
    summary = process(shots, tmp_path / "out", lambda b: b, suffix="x", preset="ultrafast", progress=False,
                      pix_fmt="yuv444p")          # (the APNG's colour kept, not warned of)
    assert listing(tmp_path / "out") == {"moving.mp4", "photo.png", "pic.png", "scan.png"} and summary.frames == 6


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("names, pair, target", [
    (("a.png", "a.jpg", "a.png.png"), ("a.png", "a.png.png"), "a.png.png"),   # a.png, a.jpg clash: full names
    (("a.mp4", "a.gif"), ("a.gif", "a.mp4"), "a.mp4"),                         # two clips
])
def test_two_inputs_for_one_output_name_are_refused_before_anything_is_written(tmp_path, names, pair, target,
                                                                             overwrite):
    """Without --overwrite the run failed on a file it had written itself; with it one output replaced another."""
    from PIL import Image

    (tmp_path / "shots").mkdir()
    frames = [Image.fromarray(f) for f in mosaic(2, 8, 8)]
    for name in names:
        if name.endswith(".gif"):
            frames[0].save(tmp_path / "shots" / name, save_all=True, append_images=frames[1:])
        elif name.endswith(".mp4"):
            (tmp_path / "shots" / name).write_bytes(b"never read")
        else:
            frames[0].save(tmp_path / "shots" / name, format="PNG" if ".png" in name else "JPEG")
    with pytest.raises(VidcolorError, match=rf"{pair[0]} and {pair[1]} would both be written to {target}"):
        process(tmp_path / "shots", tmp_path / "out", lambda b: b, suffix="x", overwrite=overwrite, progress=False)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------- temporal smoothing


class _Flicker:
    """A LabJob whose colour flickers: static L, ab = base + a per-frame offset."""

    def __new__(cls):
        from vidcolor.pipeline import LabJob

        class Job(LabJob):
            def __init__(self):
                self.t = 0

            def lab(self, batch):
                n, h, w, _ = batch.frames.shape
                y, x = np.mgrid[0:h, 0:w]
                L = np.repeat((30 + 40 * np.sin(x / 5.0) * np.cos(y / 7.0))[None], n, 0).astype(np.float32)
                offsets = np.array([(-1) ** (self.t + i) * 8.0 for i in range(n)], np.float32)
                self.t += n
                ab = np.zeros((n, h, w, 2), np.float32) + 20 + offsets[:, None, None, None]
                return L, ab

        return Job()


@pytest.mark.parametrize("mode", ["ema", "flow"])
def test_lab_job_temporal_smoothing_damps_flicker_across_batches(mode):
    from vidcolor.color import rgb_to_lab

    frames = np.zeros((8, 32, 48, 3), np.uint8)
    raw, smooth = _Flicker(), _Flicker()
    smooth.set_temporal(mode, 0.6)
    out_raw = np.concatenate([raw(frames[i:i + 3]) for i in range(0, 8, 3)])       # batches of 3, 3, 2
    out_smooth = np.concatenate([smooth(frames[i:i + 3]) for i in range(0, 8, 3)])
    a_raw, a_smooth = rgb_to_lab(out_raw)[..., 1].mean((1, 2)), rgb_to_lab(out_smooth)[..., 1].mean((1, 2))
    assert len(out_smooth) == 8
    assert np.abs(np.diff(a_smooth[2:])).mean() < 0.5 * np.abs(np.diff(a_raw[2:])).mean()
    # L untouched (up to the 8-bit RGB rounding, which depends a little on ab)
    assert np.abs(rgb_to_lab(out_raw)[..., 0] - rgb_to_lab(out_smooth)[..., 0]).mean() < 0.5


def test_temporal_is_off_for_still_images_and_bad_values_are_errors(tmp_path):
    from vidcolor.stills import set_temporal_for_video
    from vidcolor.errors import VidcolorError

    from PIL import Image

    job = _Flicker()
    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    set_temporal_for_video(job, img, None, "flow", 0.6)
    assert job.smoother is None
    set_temporal_for_video(job, tmp_path, None, "flow", 0.6)
    assert job.smoother is None
    set_temporal_for_video(job, "-", None, "flow", 0.6)
    assert job.smoother is not None
    with pytest.raises(VidcolorError):
        job.set_temporal("median")
    with pytest.raises(VidcolorError):
        job.set_temporal("ema", 1.0)
    with pytest.raises(VidcolorError, match="^temporal: "):          # a still's smoothing is off, its value checked
        dequantize(img, tmp_path / "out.png", temporal="bogus")


def four_bit_frames(n: int) -> np.ndarray:
    """``n`` 48x64 frames of a textured gradient on 4-bit levels (bin middles), moving 1 px a frame."""
    from vidcolor.training.degrade import quantize_uniform

    y, x = np.mgrid[0:48, 0:64]
    texture = np.random.default_rng(5).normal(0, 10, (48, 64, 3))
    smooth = (np.stack([x * 2.0 + 40, y * 2.5 + 30, (x + y) * 1.2 + 20], -1) + texture).clip(0, 255).astype(np.uint8)
    return np.stack([np.roll(quantize_uniform(smooth, 4, "mid"), i, 1) for i in range(n)])


def random_frames(n: int) -> np.ndarray:
    """``n`` 48x64 frames of noise: no quantizer found."""
    return np.random.default_rng(3).integers(0, 256, (n, 48, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("stills", [False, True])
def test_a_reused_dequantizer_keeps_a_bounded_record_of_what_it_found(tiny_models, monkeypatch, stills):
    """A Dequantizer called again and again on content that changes kept one entry of found a change for as long as
    it lived (3,000 calls alternating palette and uniform frames: 3,000 entries, API audit, stop 63): it keeps
    FOUND_KEPT, counts the rest, sums their frames, and reset() and set_stills() clear the record. The summary of a
    clip still counts every change."""
    from vidcolor import pipeline
    from vidcolor.summaries import quantizer_note, unchanged_note

    monkeypatch.setattr(pipeline, "FOUND_KEPT", 5)
    fix = Dequantizer(str(tiny_models.lab), device="cpu")
    fix.set_stills(stills)
    coarse, rich = four_bit_frames(1), random_frames(1)
    for i in range(12):
        fix(coarse if i % 2 else rich)
    assert len(fix.found) == 5 and fix.found_changes == 12
    assert sorted(n for n in fix.found_frames.values()) == [6, 6]
    assert quantizer_note(fix.found, fix.found_changes).endswith("and 8 more changes")
    assert unchanged_note(fix.found_totals()) == ""
    (fix.reset if not stills else lambda: fix.set_stills(stills))()
    assert (fix.found, fix.found_changes, fix.found_frames) == ([], 0, {})
    fix(coarse)
    assert [(f.quantizer.split()[0], f.frames) for f in fix.found] == [("uniform", 1)]


def save_apng(path, frames) -> None:
    """An animated PNG (a clip, read losslessly) of uint8 RGB ``frames``, 10 fps."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, "PNG", save_all=True, append_images=images[1:], duration=100)


def test_a_folders_summary_counts_what_was_written_and_what_was_skipped(tmp_path, clip):
    """With ignore_errors it counted the files found ('2 images, 2 clips' where one of each was unreadable); a
    folder of which nothing could be read gave '0 frames ... -> out' without an out."""
    from PIL import Image

    shots = tmp_path / "mixed"
    shots.mkdir()
    shutil.copy(clip, shots / "a.mp4")
    (shots / "b.mp4").write_bytes(b"not a video" * 100)
    Image.fromarray(mosaic(1, 16, 24)[0]).save(shots / "c.png")
    (shots / "d.png").write_bytes(b"junk")
    with vidcolor_warnings() as said:
        summary = process(shots, tmp_path / "out", lambda b: b, suffix="x", preset="ultrafast", progress=False,
                          ignore_errors=True)
    assert sorted(line.split(": ")[0] for line in said) == [str(shots / "b.mp4"), str(shots / "d.png")], said
    assert all(line.endswith("; skipped") for line in said)
    assert listing(tmp_path / "out") == {"a.mp4", "c.png"}
    assert summary.frames == CLIP_FRAMES + 1 and summary.note == "1 image, 1 clip; 2 unreadable files skipped"
    for name in ("a.mp4", "c.png"):
        (shots / name).unlink()
    with pytest.raises(VidcolorError, match="none of its 2 images and videos could be read"), vidcolor_warnings():
        process(shots, tmp_path / "none", lambda b: b, suffix="x", progress=False, ignore_errors=True)
    assert not (tmp_path / "none").exists()


def test_a_folders_summary_says_what_each_file_was_found_on(tmp_path, tiny_models):
    """The note was the last clip's quantizer ('quantizer: no quantizer found' for a folder of 4-bit clips and one
    of ordinary footage), in place of the folder's file counts."""
    from PIL import Image

    coarse, rich = four_bit_frames(3), random_frames(3)
    shots = tmp_path / "shots"
    shots.mkdir()
    for name, frames in (("a.apng", coarse), ("b.apng", coarse[::-1]), ("c.apng", rich)):
        save_apng(shots / name, frames)
    Image.fromarray(coarse[0]).save(shots / "d.png")
    summary = dequantize(shots, tmp_path / "out", model=str(tiny_models.lab), device="cpu", preset="ultrafast",
                         progress=False, pix_fmt="yuv444p")     # (4:4:4: the APNGs' colour kept)
    assert summary.note == ("1 image, 3 clips; quantizers: uniform 4/4/4 bits (mid) in 3 files, "
                            "no quantizer found in 1 file")
    (shots / "c.apng").unlink()
    summary = dequantize(shots, tmp_path / "out2", model=str(tiny_models.lab), device="cpu", preset="ultrafast",
                         progress=False, pix_fmt="yuv444p")
    assert summary.note == "1 image, 2 clips; quantizer: uniform 4/4/4 bits (mid) in all 3 files"


def test_a_clips_summary_names_its_changes_of_quantizer(tmp_path, tiny_models):
    """It said '(then 1 change(s))'; now what the clip changed to and from which frame."""
    import re

    save_apng(tmp_path / "cut.apng", np.concatenate([four_bit_frames(4), random_frames(4)]))
    summary = dequantize(tmp_path / "cut.apng", tmp_path / "out.mp4", model=str(tiny_models.lab), device="cpu",
                         preset="ultrafast", progress=False, pix_fmt="yuv444p")     # (its colour kept)
    assert re.fullmatch(r"quantizer: uniform 4/4/4 bits \(mid\), confidence [\d.]+, margin [\d.]+; "
                        r"then no quantizer found from frame 4", summary.note), summary.note
    from vidcolor.summaries import quantizer_note
    from vidcolor.pipeline import Found

    runs = [Found(q, 12, measured=q + ", confidence 0.99, margin 4.0")
            for q in ("palette of 15 colours", "no quantizer found") * 3]
    assert quantizer_note(runs) == (
        "quantizer: palette of 15 colours, confidence 0.99, margin 4.0; then no quantizer found from frame 12, "
        "palette of 15 colours from frame 24, no quantizer found from frame 36 and 2 more changes")


def test_the_summary_says_when_frames_passed_unchanged_and_why(tmp_path):
    """A model whose strength for a kind is 0 (dequantize-pix2pix-rgb: palettes and uniform levels) leaves every frame
    as it is, without running; the summary read 'quantizer: palette of 15 colours ...' as for a correction."""
    model, arch = build_generator(DequantizeRecipe(mode="lab", generator=dict(TINY_GENERATOR)))
    save_generator(model, tmp_path / "none.safetensors", dict(arch, strength={"uniform": 0.0}))
    save_generator(model, tmp_path / "half.safetensors", dict(arch, strength={"uniform": 0.5}))
    save_apng(tmp_path / "coarse.apng", four_bit_frames(4))
    save_apng(tmp_path / "cut.apng", np.concatenate([four_bit_frames(4), random_frames(4)]))
    save_apng(tmp_path / "rich.apng", random_frames(4))
    why = "every frame passed unchanged: none.safetensors's strength for uniform frames is 0"

    def note(clip, model):
        return dequantize(tmp_path / clip, tmp_path / "out.mp4", model=str(tmp_path / model), device="cpu",
                          preset="ultrafast", overwrite=True, progress=False, pix_fmt="yuv444p").note     # (colour kept)

    assert note("coarse.apng", "none.safetensors").endswith(f"margin 1.9; {why} (consistency=False applies the "
                                                            "generator as it is)")
    assert why in note("cut.apng", "none.safetensors")
    assert note("rich.apng", "half.safetensors") == "quantizer: no quantizer found; every frame passed unchanged"
    assert "unchanged" not in note("coarse.apng", "half.safetensors")
    assert "unchanged" not in note("cut.apng", "half.safetensors")        # the change to 'no quantizer' says it
    from vidcolor.summaries import unchanged_note
    from vidcolor.pipeline import Found

    found = [Found("palette of 16 colours", 12, "m's strength for palette frames is 0"), Found("uniform", 48)]
    assert unchanged_note(found).startswith("12 of 60 frames passed unchanged: m's strength for palette frames is 0")


def test_a_folder_with_a_corrupt_image_keeps_the_images_before_it_and_the_rerun_does_the_rest(tmp_path):
    """The third of four images is corrupt: one error, whose note says that the two images before it were kept
    (they are finished first; all were removed); once it is removed, the rerun with skip_existing writes the
    fourth alone."""
    from PIL import Image

    shots = tmp_path / "shots"
    shots.mkdir()
    for i in range(4):
        Image.fromarray(mosaic(1, 16, 24, seed=i)[0]).save(shots / f"{i}.png")
    (shots / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    out = tmp_path / "shots_x"
    with pytest.raises(VidcolorError, match="2.png") as caught:
        process(shots, None, lambda b: b, suffix="x", progress=False)
    assert caught.value.__notes__[0].startswith("2 finished outputs kept in")
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png"]
    (shots / "2.png").unlink()
    summary = process(shots, None, lambda b: b, suffix="x", skip_existing=True, progress=False)
    assert summary.frames == 1 and sorted(p.name for p in out.iterdir()) == ["0.png", "1.png", "3.png"]


def test_a_folder_switches_the_job_between_stills_and_clips(tiny_models):
    """Stills: no smoothing and a quantizer estimate per image; clips: the smoothing that was asked for."""
    from vidcolor.stills import set_temporal_for_video, still_mode
    from vidcolor.pipeline import Dequantizer

    job = Dequantizer(str(tiny_models.lab), "cpu")
    set_temporal_for_video(job, ".", None, "ema", 0.4)  # a folder: starts as stills
    assert job.smoother is None and job.quantizers.stills
    still_mode(job, False)
    assert (job.smoother.mode, job.smoother.strength) == ("ema", 0.4) and not job.quantizers.stills
    still_mode(job, True)
    assert job.smoother is None and job.quantizers.stills


def test_the_dequantizer_smooths_palettes_over_time_but_not_uniform_levels(brightening_model):
    """TEMPORAL_KINDS: frames on uniform levels skip the temporal smoothing (and reset it), palettes go
    through it; in both cases the generator runs."""
    from vidcolor.quantizer.estimation import estimate
    from vidcolor.training.degrade import quantize_clip

    class Spy:
        calls = resets = 0

        def __call__(self, L, ab):
            self.calls += 1
            return ab

        def reset(self):
            self.resets += 1

    rng = np.random.default_rng(5)
    img = np.stack([smooth_image(rng, 96, 128)] * 2)
    clips = {"uniform": img // 16 * 16 + 8,
             "palette": quantize_clip(img, "palette", colors=16, dither=True)}
    for kind in clips:                 # decoded: a little codec noise (noiseless palettes read as graphics)
        clips[kind] = np.clip(clips[kind] + rng.normal(0, 2, img.shape).round(), 0, 255).astype(np.uint8)
    for kind, clip in clips.items():
        assert estimate(clip).kind == kind
        job = Dequantizer(str(brightening_model), device="cpu")
        job.set_temporal("flow")
        job.smoother = spy = Spy()
        assert job.prepare(clip).feeds is not None                  # the generator runs
        job(clip)
        assert (spy.calls, spy.resets > 0) == ((0, True) if kind == "uniform" else (2, False))


def test_a_clips_output_is_checked_before_the_model_loads(tmp_path, clip, monkeypatch):
    """An existing output, the input as output, a suffix against --format and stdin without -o are said before a
    model loads (that took seconds before the error), by dequantize and colorize alike."""
    import vidcolor.api as api

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(api, "Dequantizer", type("NoModel", (Dequantizer,), {"__init__": no_model}))
    monkeypatch.setattr(api, "colorizer", no_model)
    (tmp_path / "there.mp4").write_bytes(b"")
    cases = [(clip, tmp_path / "there.mp4", {}, "exists"), (clip, clip, {}, "overwrite the input"),
             (clip, tmp_path / "a.mkv", {"container": "mp4"}, " container says mp4"), ("-", None, {}, "give the output")]
    for job in (api.dequantize, api.colorize):
        for src, out, options, message in cases:
            with pytest.raises(VidcolorError, match=message):
                job(src, out, **options)


def test_a_frame_rate_given_for_a_video_file_is_refused_by_the_library_too(tmp_path, clip):
    """``fps=`` with a file input was ignored silently by process() and dequantize() (the CLI refused --fps without
    --raw); now the same one-line error, before any work."""
    for run_it in (lambda: process(clip, tmp_path / "o.mp4", lambda b: b, suffix="x", fps=12, progress=False),
                   lambda: dequantize(clip, tmp_path / "o.mp4", fps=12, progress=False)):
        with pytest.raises(VidcolorError, match="^fps applies to raw_size input and image sequences only"):
            run_it()
    assert not (tmp_path / "o.mp4").exists()


def test_batched_refuses_a_batch_larger_than_the_largest_frame_at_the_first_frame():
    """The library's batched() took any batch size: frames were stacked until memory ran out."""
    from vidcolor.io.limits import MAX_PIXELS
    from vidcolor.pipeline import batched

    frames = (np.zeros((48, 64, 3), np.uint8) for _ in range(3))
    with pytest.raises(VidcolorError, match=f"at most {MAX_PIXELS // (64 * 48)} at this size \\(batch_size\\)"):
        next(batched(frames, lambda b: list(b), MAX_PIXELS))


def test_a_jobs_automatic_batch_is_capped_by_its_largest_batch_on_every_path():
    """The reference mode caps the automatic batch by its matching's memory (largest_batch); the file path did and a
    Ray segment did not (reference audit, stop 63): both now take job_batch_size (the file path's own test:
    test_reference.py::test_the_automatic_batch_shrinks_with_the_references)."""
    class Plain:
        device = "cpu"

    class Capped(Plain):
        def largest_batch(self, width, height):
            return 2

    assert job_batch_size(Plain(), 64, 48) == auto_batch_size(64, 48, "cpu") == 16
    assert job_batch_size(Capped(), 64, 48) == 2
