"""Colorization: models, ab bins, losses, the training loop, the Colorizer job and `vidcolor colorize`."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import assert_one_line_error, cli_env, decode_all, photo_folder, run_cli, smooth_image
from vidcolor.color import ab_gamut_bins, annealed_mean, lab_to_rgb, resultant_length, rgb_to_lab
from vidcolor.engine import OUTPUT
from vidcolor.models import EfficientNetLite0Features, EffNetUNetColorizer, FCNColorizer, UNetColorizer
from vidcolor.pipeline import CONFIDENCE_MAX_GAIN, Colorizer, LabJob, confidence_gain
from vidcolor.models.losses import gradient_penalty
from vidcolor.training.colorize import ColorizeRecipe, bin_weights, build_colorizer, train_colorize
from vidcolor.training.losses import FeatureLoss, ab_cross_entropy, soft_encode
from vidcolor.training.measures import colourfulness_ratio

# ------------------------------------------------------------------------------------------- ab bins


def test_gamut_bins_cover_srgb_and_only_it():
    bins = ab_gamut_bins()
    assert bins.shape == (254, 2)
    rng = np.random.default_rng(0)
    ab = rgb_to_lab(rng.integers(0, 256, (1, 5000, 3), dtype=np.uint8))[0, :, 1:]
    nearest = np.sqrt(((ab[:, None] - bins[None]) ** 2).sum(-1)).min(1)
    assert nearest.max() < 10 * np.sqrt(0.5) + 1e-3          # every sRGB colour falls in some cell
    assert not ((np.abs(bins[:, 0]) > 100) | (np.abs(bins[:, 1]) > 110)).any()


def test_annealed_mean_limits():
    bins = torch.tensor([[0.0, 0.0], [50.0, -20.0]])
    logits = torch.tensor([1.0, 0.0])[None, :, None, None]
    mode = annealed_mean(logits, bins, 0.01)[0, :, 0, 0]
    assert torch.allclose(mode, bins[0], atol=1e-3)
    p = torch.softmax(torch.tensor([1.0, 0.0]), 0)
    assert torch.allclose(annealed_mean(logits, bins, 1.0)[0, :, 0, 0], p @ bins, atol=1e-5)
    # lower temperature, more saturated: closer to the dominant bin
    assert annealed_mean(logits, bins, 0.38)[0, 0, 0, 0] < annealed_mean(logits, bins, 1.0)[0, 0, 0, 0]


def test_resultant_length_is_one_for_one_hue_and_low_for_opposite_hues():
    bins = np.array([[0.0, 0.0], [40.0, 0.0], [80.0, 0.0], [-40.0, 0.0]], np.float32)
    logits = np.full((1, 4, 1, 3), -30.0, np.float32)
    logits[0, 1:3, 0, 0] = 0.0              # two bins of one hue (a > 0), different chroma
    logits[0, [1, 3], 0, 1] = 0.0           # opposite hues, equal weight
    logits[0, 1, 0, 2], logits[0, 3, 0, 2] = 1.0, 0.0   # opposite hues, one likelier
    r = resultant_length(logits, bins)[0, 0]
    assert r.dtype == np.float32 and r.shape == (3,)
    assert abs(r[0] - 1) < 1e-5 and r[1] < 1e-5
    p = np.exp(1.0) / (np.exp(1.0) + 1)     # |E[ab]| / E[|ab|] = |p - (1 - p)|
    assert abs(r[2] - (2 * p - 1)) < 1e-5


def test_soft_encode_is_a_distribution_peaked_at_the_nearest_bin():
    bins = torch.from_numpy(ab_gamut_bins())
    ab = torch.tensor([[5.0, -15.0], [40.0, 30.0]]).T.reshape(1, 2, 1, 2)
    t = soft_encode(ab, bins)
    assert t.shape == (1, len(bins), 1, 2)
    assert torch.allclose(t.sum(1), torch.ones(1, 1, 2))
    assert (t > 0).sum(1).eq(5).all()
    for j in range(2):
        nearest = ((bins - ab[0, :, 0, j]) ** 2).sum(1).argmin()
        assert t[0, :, 0, j].argmax() == nearest


def test_cross_entropy_minimum_at_target_and_weights():
    target = torch.tensor([0.7, 0.3, 0.0])[None, :, None, None]
    good = ab_cross_entropy(torch.log(target + 1e-9), target)
    bad = ab_cross_entropy(torch.zeros(1, 3, 1, 1), target)
    assert good < bad
    w = torch.tensor([2.0, 1.0, 1.0])
    assert torch.isclose(ab_cross_entropy(torch.zeros(1, 3, 1, 1), target, w), 2 * bad)


def test_bin_weights_uniform_without_rebalancing_and_favour_rare_bins(tmp_path):
    bins = ab_gamut_bins()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):  # mostly gray photos with a little saturated red
        img = np.full((64, 64, 3), 120, np.uint8)
        img[:4, :4] = (220, 20, 20)
        p = tmp_path / f"{i}.png"
        Image.fromarray(img).save(p)
        paths.append(p)
    assert torch.equal(bin_weights(paths, bins, 1.0), torch.ones(len(bins)))
    w = bin_weights(paths, bins, 0.5)
    gray = np.abs(bins).sum(1).argmin()
    red = ((bins - rgb_to_lab(np.array([[[220, 20, 20]]], np.uint8))[0, 0, 1:]) ** 2).sum(1).argmin()
    assert w[red] > w[gray]
    del rng


# -------------------------------------------------------------------------------------------- models


def test_colorizer_shapes_any_size():
    x = torch.rand(2, 1, 50, 70) * 2 - 1
    assert FCNColorizer(width=4, depth=2)(x).shape == (2, 2, 50, 70)
    assert UNetColorizer(ngf=4, depth=3)(x).shape == (2, 2, 50, 70)
    eff = EffNetUNetColorizer(out_channels=7, widths=(8, 8, 8, 8))
    assert eff(x).shape == (2, 7, 13, 18)
    assert EffNetUNetColorizer(out_channels=2, widths=(8, 8, 8, 8)).eval()(x).abs().max() <= 1


def test_untrained_unet_colorizer_returns_gray():
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    assert UNetColorizer(ngf=4, depth=2)(x).abs().max() == 0


def test_effnet_encoder_pretrained_recognises_and_freezes():
    enc = EfficientNetLite0Features(pretrained=True, depth=5)
    rand = EfficientNetLite0Features(pretrained=False, depth=5)
    assert not torch.equal(enc.stem[0].weight, rand.stem[0].weight)
    feats = enc.eval()(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [16, 24, 40, 112, 320]
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4, 2]
    enc.freeze(0)
    assert not any(p.requires_grad for p in enc.parameters())
    enc.freeze(2).train()
    trainable = [i for i, b in enumerate(enc.blocks) if any(p.requires_grad for p in b.parameters())]
    assert trainable == list(range(5, 16))          # stages at strides 16 and 32
    assert not enc.stem[1].training and enc.blocks[15]._bn0.training  # frozen BatchNorm stays in eval


# -------------------------------------------------------------------------------------------- losses


def test_gradient_penalty_of_a_linear_critic():
    class Linear(torch.nn.Module):
        def __init__(self, scale):
            super().__init__()
            self.scale = scale

        def forward(self, x):
            return self.scale * x.sum((1, 2, 3))

    real, fake = torch.rand(4, 1, 2, 2), torch.rand(4, 1, 2, 2)
    # gradient of scale * sum(x) has norm scale * sqrt(4) = 2 * scale everywhere
    assert torch.isclose(gradient_penalty(Linear(0.5), real, fake), torch.tensor(0.0), atol=1e-6)
    assert torch.isclose(gradient_penalty(Linear(1.5), real, fake), torch.tensor(4.0), atol=1e-5)


def test_gradient_penalty_of_a_two_input_critic_takes_the_joint_norm():
    class Pair(torch.nn.Module):        # like the two-image palette critic: D(gray, palette)
        def forward(self, x, y):
            return 0.6 * x.sum((1, 2, 3)) + 0.8 * y.sum((1, 2))

    real, fake = (torch.rand(3, 1, 1, 1), torch.rand(3, 5, 3)), (torch.rand(3, 1, 1, 1), torch.rand(3, 5, 3))
    # gradient (0.6, 0.8 x 15 entries): joint norm sqrt(0.36 + 0.64 * 15) = sqrt(9.96)
    expected = (np.sqrt(0.36 + 0.64 * 15) - 1) ** 2
    assert gradient_penalty(Pair(), real, fake).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="same shapes"):
        gradient_penalty(Pair(), real, fake[:1])


@pytest.mark.parametrize("kind", ["perceptual", "lpips"])
def test_feature_loss_zero_for_identical_and_grows(kind):
    enc = EfficientNetLite0Features(pretrained=False, depth=4)
    loss = FeatureLoss(kind, encoder=enc)
    a = torch.rand(2, 3, 32, 32)
    assert loss(a, a) == 0
    assert 0 < loss(a, (a + 0.1).clamp(0, 1)) < loss(a, 1 - a)


def test_feature_loss_rejects_unknown_kind():
    with pytest.raises(ValueError):
        FeatureLoss("vgg", encoder=EfficientNetLite0Features(pretrained=False, depth=4))


def test_colourfulness_ratio_gray_is_zero_and_known_value():
    gray = torch.full((1, 3, 4, 4), 0.5)
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1.0  # rg = 255, yb = 127.5 everywhere: no spread, M = 0.3 * sqrt(255^2 + 127.5^2)
    half = red * 0.6  # rg = 153, yb = 76.5: M = 0.3 * sqrt(153^2 + 76.5^2), 0.6 of red's
    assert colourfulness_ratio(gray, red) == 0
    assert colourfulness_ratio(red, red) == 1
    assert colourfulness_ratio(half, red) == pytest.approx(0.6, rel=1e-6)
    assert colourfulness_ratio(torch.cat([red, half]), red) == pytest.approx(0.8, rel=1e-6)   # mean over the batch


# ------------------------------------------------------------------------------------------ training


def _photos(folder, n=4):
    return photo_folder(folder, n, 72, 80, seed=1)


def test_train_colorize_on_photos_needs_neither_pyav_nor_ffmpeg_python(tmp_path):
    """A GPU machine's Python may have torch, Pillow and OpenCV but not PyAV or ffmpeg-python: ``vidcolor train colorize``
    on photos must not import them (it did, through vidcolor.io's package imports and the weight file's writer)."""
    data = _photos(tmp_path / "photos")
    (tmp_path / "r.toml").write_text(f'name = "tiny"\ndata = "{data}"\nholdout_every = 100\nsteps = 2\nbatch_size = 2\n'
                                     'crop = 64\nworkers = 0\nthreads = 1\ngenerator = "fcn"\nhead = "ab"\n'
                                     'generator_kwargs = { width = 4, depth = 2 }\n')
    code = ("import sys; sys.modules.update(av=None, ffmpeg=None); "
            "sys.argv = ['vidcolor', 'train', 'colorize', 'r.toml', '--out', 'run', '--device', 'cpu']; "
            "from vidcolor.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=cli_env())
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "tiny.safetensors").is_file()


@pytest.mark.parametrize("kw", [
    dict(generator="fcn", head="ab", generator_kwargs={"width": 4, "depth": 2}, gan="lsgan"),
    dict(generator="unet", head="ab", generator_kwargs={"ngf": 4, "depth": 2}, gan="wgan-gp", critic_steps=2),
    dict(generator="effnet_unet", head="bins", generator_kwargs={"widths": [8, 8, 8, 8]}, rebalance=0.5,
         unfreeze_stages=1, unfreeze_at=2),
], ids=["fcn-lsgan", "unet-wgan", "effnet-bins-unfreeze"])
def test_train_colorize_runs_logs_and_resumes(tmp_path, kw):
    data = _photos(tmp_path / "photos")
    recipe = ColorizeRecipe(name="tiny", data=str(data), holdout_every=100, steps=3, batch_size=2, crop=64,
                            workers=0, threads=1, log_every=1, checkpoint_every=1, **kw)
    weights = train_colorize(recipe, tmp_path / "run", progress=lambda m: None)
    assert weights.is_file() and (tmp_path / "run" / "loss.png").is_file()
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,seconds,loss_main") and len(rows) == 4
    recipe.steps = 4
    train_colorize(recipe, tmp_path / "run", progress=lambda m: None)   # resumes at step 3
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4"]
    job = Colorizer(str(weights), device="cpu", render_size=64)
    out = job(np.full((1, 40, 56, 3), 90, np.uint8))
    assert out.shape == (1, 40, 56, 3)


def test_resume_past_the_unfreezing_step_and_a_refused_checkpoint_announces_nothing(tmp_path):
    from vidcolor.training.run import CheckpointError

    data = _photos(tmp_path / "photos")
    recipe = ColorizeRecipe(name="tiny", data=str(data), holdout_every=100, steps=3, batch_size=2, crop=64,
                            workers=0, threads=1, log_every=1, checkpoint_every=1, generator="effnet_unet",
                            head="bins", generator_kwargs={"widths": [8, 8, 8, 8]}, unfreeze_stages=1, unfreeze_at=2)
    msgs: list[str] = []
    train_colorize(recipe, tmp_path / "run", progress=msgs.append)
    assert "unfroze the top 1 encoder stages at step 2" in msgs
    msgs.clear()
    recipe.steps = 4                     # the optimiser takes its unfrozen group before its saved state
    train_colorize(recipe, tmp_path / "run", progress=msgs.append)
    # training audit, stop 63: this said "unfroze ... at step 3", the checkpoint's step, not unfreeze_at
    assert msgs[:2] == ["the top 1 encoder stages train since step 2 (unfreeze_at)", "resumed at step 3"]
    msgs.clear()
    recipe.generator_kwargs = {"widths": [8, 8, 8, 16]}
    with pytest.raises(CheckpointError, match="another recipe .generator_kwargs"):     # refused by recipe.json
        train_colorize(recipe, tmp_path / "run", progress=msgs.append)
    assert not any("encoder stages" in m for m in msgs)
    (tmp_path / "run" / "recipe.json").unlink()
    with pytest.raises(CheckpointError, match="other networks"):                      # and by the checkpoint
        train_colorize(recipe, tmp_path / "run", progress=msgs.append)
    assert not any("encoder stages" in m for m in msgs)


def test_bins_head_needs_effnet():
    with pytest.raises(ValueError):
        build_colorizer(ColorizeRecipe(generator="fcn", head="bins"))
    with pytest.raises(ValueError):
        build_colorizer(ColorizeRecipe(generator="resnet"))


def test_init_from_copies_a_trained_generator_and_refuses_another_kind(tiny_colorizers):
    from vidcolor.weights import load_generator

    recipe = ColorizeRecipe(generator_kwargs={"widths": [8, 8, 8, 8]}, init_from=str(tiny_colorizers.effnet_bins))
    model, _ = build_colorizer(recipe)
    base, _ = load_generator(str(tiny_colorizers.effnet_bins))
    for (k, a), b in zip(model.state_dict().items(), base.state_dict().values()):
        assert torch.equal(a, b), k
    with pytest.raises(ValueError, match="not a effnet_unet generator"):
        build_colorizer(ColorizeRecipe(generator_kwargs={"widths": [8, 8, 8, 8]}, init_from=str(tiny_colorizers.fcn)))
    with pytest.raises(ValueError, match="other sizes"):       # same kind, other widths: was a RuntimeError
        build_colorizer(ColorizeRecipe(generator_kwargs={"widths": [16, 8, 8, 8]},
                                       init_from=str(tiny_colorizers.effnet_bins)))


def test_repository_colorize_recipes_parse():
    from pathlib import Path
    recipes = sorted(p for p in (Path(__file__).parent.parent / "train").glob("colorize*.toml") if "exemplar" not in p.stem)
    assert recipes
    for path in recipes:
        r = ColorizeRecipe.from_toml(path)
        assert r.name == path.stem and r.generator in ("effnet_unet", "unet", "fcn")


# -------------------------------------------------------------------------------------- Colorizer job


def test_colorizer_keeps_luminance_and_saturation_scales_chroma(tiny_colorizers):
    rng = np.random.default_rng(0)
    frames = np.stack([smooth_image(rng, 48, 64) for _ in range(2)])
    job = Colorizer(str(tiny_colorizers.effnet_bins), device="cpu", render_size=32)
    out = job(frames)
    L_in, L_out = rgb_to_lab(frames)[..., 0], rgb_to_lab(out)[..., 0]
    assert np.abs(L_in - L_out).mean() < 1.5       # only 8-bit rounding and gamut clipping change L
    gray = Colorizer(str(tiny_colorizers.effnet_bins), device="cpu", render_size=32, saturation=0.0)(frames)
    lab = rgb_to_lab(gray)
    assert np.abs(lab[..., 1:]).max() < 1.5
    # colour input is reduced to its L first: the same output for the colour frame and its gray version
    gray_in = lab_to_rgb(np.concatenate([rgb_to_lab(frames)[..., :1], np.zeros_like(lab[..., 1:])], -1))
    assert np.abs(job(gray_in).astype(int) - out.astype(int)).mean() < 2


def test_confidence_gain_moves_colour_to_agreeing_pixels_within_a_frame():
    r = np.stack([np.full((2, 2), 0.5), [[0.2, 0.4], [0.8, 0.9]], [[0.01, 0.01], [0.01, 1.0]]]).astype(np.float32)
    gain = confidence_gain(r, 2.0)
    assert gain.dtype == np.float32 and gain.shape == r.shape
    assert np.allclose(gain[0], 1.0)                                  # one agreement everywhere: as predicted
    assert np.all(np.diff(gain[1].ravel()) > 0) and abs(gain[1].mean() - 1) < 1e-5   # same colour, moved
    assert gain[2, 1, 1] == CONFIDENCE_MAX_GAIN and gain[2, 0, 0] < 0.01          # capped


def test_colorizer_confidence_follows_the_hue_agreement(tiny_colorizers):
    rng = np.random.default_rng(1)
    frames = np.stack([smooth_image(rng, 48, 64) for _ in range(2)])
    plain = Colorizer(str(tiny_colorizers.effnet_bins), device="cpu", render_size=32)
    gated = Colorizer(str(tiny_colorizers.effnet_bins), device="cpu", render_size=32, confidence=2.0)
    batch = plain.prepare(frames)
    # scores that vary from pixel to pixel (the untrained network's hardly do), at the frames' size (no resize)
    batch.outputs = {OUTPUT: rng.normal(0, 3, (2, len(plain.bins), 48, 64)).astype(np.float32)}
    (_, ab), (_, ab_gated) = plain.lab(batch), gated.lab(batch)
    r = resultant_length(batch.outputs[OUTPUT], plain.bins)
    assert r.std() > 0.05
    assert np.allclose(ab_gated, ab * confidence_gain(r, 2.0)[..., None], atol=1e-4)
    assert not np.allclose(ab_gated, ab, atol=0.1)


@pytest.mark.parametrize("size", [(61, 97), (48, 63), (47, 64)])
def test_colorizer_in_strips_is_the_whole_frame_bit_for_bit(tiny_colorizers, monkeypatch, size):
    """Above STRIP_PIXELS the full-resolution steps run a strip of rows at a time: the output, with and without
    temporal smoothing and confidence, is bit for bit the whole frame's (the upsampled ab joins at every seam).
    48x63 is just over the 3,000 px set here (a strip of 47 rows and one of 1), 47x64 just over too."""
    import vidcolor.pipeline as pipeline

    rng = np.random.default_rng(2)
    h, w = size
    frames = np.stack([smooth_image(rng, h, w) for _ in range(2)])
    frames[:, : h // 5] //= 12                    # dark rows: the dark-chroma limit acts on them
    job = Colorizer(str(tiny_colorizers.effnet_bins), device="cpu", render_size=32, confidence=1.0)

    def outputs(seed):
        rng = np.random.default_rng(seed)
        batch = job.prepare(frames)
        # colourful scores that vary from pixel to pixel at the render size (the untrained network's hardly do)
        batch.outputs = {OUTPUT: rng.normal(0, 3, (2, len(job.bins), *batch.feeds["frame"].shape[2:])).astype(np.float32)}
        out = job.finish(batch)
        job.set_temporal("flow")
        smoothed = np.concatenate([job(frames[:1]), job(frames[1:])])
        job.set_temporal("off")
        return batch.context["L"], out, LabJob._join(*job.lab(batch), None), smoothed, job(frames)

    whole = outputs(3)
    monkeypatch.setattr(pipeline, "STRIP_PIXELS", 3000)
    assert len(pipeline.strips(h, w)) > 1
    stripped = outputs(3)
    assert np.abs(rgb_to_lab(whole[1])[..., 1:]).max() > 30               # colourful enough to show a seam
    assert np.array_equal(whole[1], whole[2])     # finish is lab() and the recombination on the whole frame
    for a, b in zip(whole, stripped):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_colorizer_peak_memory_follows_the_strip(tiny_colorizers, monkeypatch):
    """NumPy's (and OpenCV's, made through NumPy) peak allocation colorizing one 1200x1000 frame in strips of 32,768
    pixels, counted by tracemalloc, per pixel: the L (4 bytes), the output (3) and a strip's temporaries (about 70
    bytes a strip pixel), 9 bytes a pixel here. Whole-frame LAB, upsampled ab and float RGB temporaries peaked at
    65-71 bytes a pixel."""
    import tracemalloc

    import vidcolor.pipeline as pipeline

    monkeypatch.setattr(pipeline, "STRIP_PIXELS", 1 << 15)
    job = Colorizer(str(tiny_colorizers.effnet_bins), device="cpu", render_size=64)
    frame = np.full((1, 1200, 1000, 3), 90, np.uint8)
    frame[:, :150] = 0                            # letterbox rows: the dark-chroma limit runs on them
    job(frame[:, :64, :64])                       # the engine is ready
    tracemalloc.start()
    try:
        out = job(frame)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == frame.shape
    assert peak / frame[0, ..., 0].size < 16, f"{peak / frame[0, ..., 0].size:.1f} bytes a pixel"


def test_colorizer_render_size_sets_network_input(tiny_colorizers):
    job = Colorizer(str(tiny_colorizers.fcn), device="cpu", render_size=40)
    assert job.network_input(np.zeros((1, 90, 160), np.float32)).shape == (1, 40, 71)
    job.equalize = True
    ramp = np.tile(np.linspace(20, 40, 160, dtype=np.float32), (1, 90, 1))
    eq = job.network_input(ramp)
    assert eq.max() - eq.min() > 90                   # equalization spreads L over [0, 100]


@pytest.mark.parametrize("kwargs", [dict(render_size=8), dict(saturation=-1.0), dict(temperature=0.0),
                                    dict(confidence=-1.0)])
def test_colorizer_rejects_bad_options(tiny_colorizers, kwargs):
    from vidcolor.errors import VidcolorError
    with pytest.raises(VidcolorError):
        Colorizer(str(tiny_colorizers.fcn), device="cpu", **kwargs)


def test_dequantizer_refuses_a_colorize_model(tiny_colorizers):
    from vidcolor.errors import VidcolorError
    from vidcolor.pipeline import Dequantizer
    with pytest.raises(VidcolorError, match="colorize model"):
        Dequantizer(str(tiny_colorizers.fcn), device="cpu")


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_colorize_video_compare_keeps_timing(tmp_path, clip, clip_frames, tiny_colorizers):
    out = tmp_path / "out.mp4"
    res = run_cli("colorize", clip, "-o", out, "--model", tiny_colorizers.fcn, "--compare", "-q")
    assert res.returncode == 0, res.stderr
    frames, fps, has_audio = decode_all(str(out))
    assert frames.shape == (clip_frames.shape[0], clip_frames.shape[1], 2 * clip_frames.shape[2], 3)
    assert has_audio
    assert np.abs(frames[:, :, : clip_frames.shape[2]].astype(int) - clip_frames).mean() < 4  # left = input


def test_cli_compare_on_an_image_with_alpha_keeps_it_on_both_halves(tmp_path, tiny_colorizers):
    rgba = np.dstack([smooth_image(np.random.default_rng(0), 40, 50), np.tile(np.arange(50, dtype=np.uint8) * 5, (40, 1))])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    res = run_cli("colorize", tmp_path / "a.png", "-o", tmp_path / "c.png", "--model", tiny_colorizers.fcn, "--compare",
                  "-q")
    assert res.returncode == 0, res.stderr
    out = np.asarray(Image.open(tmp_path / "c.png"))
    assert out.shape == (40, 100, 4)
    assert np.array_equal(out[:, :50, 3], rgba[..., 3]) and np.array_equal(out[:, 50:, 3], rgba[..., 3])


def test_cli_colorize_image_default_output(tmp_path, tiny_colorizers):
    img = tmp_path / "photo.jpg"
    Image.fromarray(smooth_image(np.random.default_rng(0), 40, 50)).save(img)
    res = run_cli("colorize", img, "--model", tiny_colorizers.effnet_bins, "--render-size", "32", "-q")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "photo_colorized.png").is_file()


@pytest.mark.parametrize("args", [["missing.mp4"], ["{img}", "--render-size", "8"], ["{img}", "--model", "dequantize-fq-l2"]])
def test_cli_colorize_errors_are_one_line(tmp_path, args):
    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(img)
    res = run_cli("colorize", *[a.format(img=img) for a in args], cwd=tmp_path)
    if args[-1] == "8":    # a usage error: one line too, with click's exit status 2
        assert res.returncode == 2 and res.stderr_lines == [res.stderr.strip()] and "--render-size" in res.stderr
        assert "Traceback" not in res.stderr and not (tmp_path / "a_colorized.png").exists()
        return
    assert_one_line_error(res)
    assert not (tmp_path / "a_colorized.png").exists()


def test_an_extreme_aspect_ratio_keeps_the_render_bounded(tiny_colorizers):
    """A 2000x16 strip: the network sees at most 4 render sizes along its longer side (was 32000x256)."""
    job = Colorizer(str(tiny_colorizers.effnet_bins), device="cpu", render_size=64)
    L = np.full((1, 16, 2000), 50.0, np.float32)
    assert job.network_input(L).shape == (1, 2, 256)
    assert job.network_input(np.full((1, 90, 160), 50.0, np.float32)).shape == (1, 64, 114)   # 16:9 unchanged
    out = job(np.full((1, 16, 2000, 3), 128, np.uint8))
    assert out.shape == (1, 16, 2000, 3)
