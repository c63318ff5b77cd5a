"""Reference colorization: the exemplar network (fast mode), the two-image GAN (internal mode), `--reference`."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import assert_one_line_error, assert_terminated, cli_env, decode_all, invoke_cli, listing, mosaic, photo_folder, smooth_image, \
    vidcolor_warnings
from vidcolor.color import rgb_to_lab
from vidcolor.errors import VidcolorError
from vidcolor.internal import TwoImageSettings, scale_count, train_two_image
from vidcolor.models import EffNetUNetColorizer, ExemplarColorizer
from vidcolor.models.two_image import (PaletteDiscriminator, ScaleGenerator, TwoImageColorizer, gray, palette,
                                       pyramid_sizes)
from vidcolor.pipeline import Colorizer, batched
from vidcolor.reference import InternalColorizer, KeyframeColorizer, ReferenceColorizer, read_references
from vidcolor.training.data import ExemplarPairs
from vidcolor.training.exemplar import ExemplarRecipe, train_exemplar

# ------------------------------------------------------------------------------------ exemplar model


def test_untrained_exemplar_is_its_automatic_base():
    torch.manual_seed(0)
    base = EffNetUNetColorizer(out_channels=10, widths=(8, 8, 8, 8)).eval()
    ex = ExemplarColorizer(out_channels=10, widths=(8, 8, 8, 8)).eval()
    missing, unexpected = ex.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(("hint8", "hint4")) for k in missing)
    x = torch.rand(2, 1, 40, 72) * 2 - 1
    keys, values = ex.reference(x[:1], torch.randn(1, 2, 40, 72) * 30)
    with torch.no_grad():
        assert torch.allclose(ex(x, keys, values), base(x), atol=1e-6)   # zero-initialised hint branches
        ex.hint4[-1].bias.fill_(1.0)
        assert not torch.allclose(ex(x, keys, values), base(x), atol=1e-3)


def test_hint_copies_the_best_match_and_reports_its_similarity():
    ex = ExemplarColorizer(out_channels=10, widths=(8, 8, 8, 8), tau=0.01)
    torch.manual_seed(0)
    keys = torch.nn.functional.normalize(torch.randn(1, 6, 16), dim=-1)     # 6 reference positions
    values = torch.randn(1, 6, 2) * 40
    query = keys[0, [4, 1, 1, 0]].T.reshape(1, 16, 2, 2)                     # a 2x2 frame made of them
    hint = ex.hint(query, keys, values)
    assert hint.shape == (1, 3, 2, 2)
    expected = values[0, [4, 1, 1, 0]].T.reshape(2, 2, 2) / 110.0
    assert torch.allclose(hint[0, :2], expected, atol=1e-3)
    assert torch.allclose(hint[0, 2], torch.ones(2, 2), atol=1e-5)
    # an orthogonal query matches nothing: confidence 0, hint = the mean of the reference
    far = torch.zeros(1, 16, 1, 1)
    far[0, 0] = 1.0
    keys0 = keys.clone()
    keys0[..., 0] = 0
    keys0 = torch.nn.functional.normalize(keys0, dim=-1)
    hint = ex.hint(far, keys0, values)
    assert abs(float(hint[0, 2])) < 1e-6
    assert torch.allclose(hint[0, :2, 0, 0], values[0].mean(0) / 110.0, atol=1e-4)


def test_hint_of_a_batch_is_the_softmax_of_cosine_similarities():
    """The batched product (references broadcast over the batch) is He et al.'s correspondence: for each
    frame position, softmax(cos / tau) over the reference positions weights their ab; max cos is the
    confidence. Checked against the per-image sum, with one reference for the batch and one per image."""
    ex = ExemplarColorizer(out_channels=10, widths=(8, 8, 8, 8), tau=0.05)
    g = torch.Generator().manual_seed(3)
    query = torch.nn.functional.normalize(torch.randn(3, 16, 2, 3, generator=g), dim=1)
    keys = torch.nn.functional.normalize(torch.randn(3, 7, 16, generator=g), dim=-1)
    values = torch.randn(3, 7, 2, generator=g) * 40
    for k, v in ((keys[:1], values[:1]), (keys, values)):
        hint = ex.hint(query, k, v)
        assert hint.shape == (3, 3, 2, 3)
        for i in range(3):
            j = min(i, len(k) - 1)
            for y in range(2):
                for x in range(3):
                    cos = k[j] @ query[i, :, y, x]                            # (7,)
                    w = torch.exp(cos / 0.05) / torch.exp(cos / 0.05).sum()
                    assert torch.allclose(hint[i, :2, y, x], (w @ v[j]) / 110.0, atol=1e-5)
                    assert torch.allclose(hint[i, 2, y, x], cos.max(), atol=1e-6)


def test_reference_positions_and_cell_means():
    ex = ExemplarColorizer(out_channels=10, widths=(8, 8, 8, 8)).eval()
    ab = torch.zeros(1, 2, 20, 30)
    ab[:, 0, :8, :8] = 40.0                                   # the first 8x8 cell only
    keys, values = ex.reference(torch.rand(1, 1, 20, 30) * 2 - 1, ab)
    assert keys.shape[:2] == (1, 3 * 4) and values.shape == (1, 12, 2)   # ceil(20/8) x ceil(30/8)
    assert torch.allclose(keys.norm(dim=-1), torch.ones(1, 12), atol=1e-4)
    assert values[0, 0, 0] == 40.0 and values[0, 1:, 0].abs().max() == 0


# ------------------------------------------------------------------------------------ training data


def _photos(folder, n=3, h=80, w=96):
    return sorted(photo_folder(folder, n, h, w, seed=1).iterdir())


def test_exemplar_pairs_views_of_one_photo_or_another(tmp_path):
    paths = _photos(tmp_path / "photos")
    same = iter(ExemplarPairs(paths, crop=48, seed=0, mismatch=0.0))
    for _ in range(3):
        target, ref = next(same)
        assert target.shape == ref.shape == (48, 48, 3) and target.dtype == np.uint8 and target.flags.writeable
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, colour in enumerate([(200, 30, 30), (30, 30, 200)]):
        Image.fromarray(np.full((60, 70, 3), colour, np.uint8)).save(flat / f"{i}.png")
    flats = sorted(flat.iterdir())
    for mismatch, same_photo in ((0.0, True), (1.0, False)):
        pairs = iter(ExemplarPairs(flats, crop=48, seed=0, mismatch=mismatch))
        for _ in range(6):
            target, ref = next(pairs)
            assert (abs(int(target[0, 0, 0]) - int(ref[0, 0, 0])) < 3) == same_photo


def test_train_exemplar_runs_logs_and_resumes(tmp_path, tiny_colorizers):
    _photos(tmp_path / "photos", n=4)
    recipe = ExemplarRecipe(name="tiny-ex", init_from=str(tiny_colorizers.effnet_bins), data=str(tmp_path / "photos"),
                            generator_kwargs={"widths": [8, 8, 8, 8]}, holdout_every=100, steps=2, batch_size=2,
                            crop=64, workers=0, threads=1, log_every=1, checkpoint_every=1)
    weights = train_exemplar(recipe, tmp_path / "run", progress=lambda m: None)
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert rows[0] == "step,seconds,loss_ce,psnr_output,colourfulness_ratio" and len(rows) == 3
    recipe.steps = 3
    train_exemplar(recipe, tmp_path / "run", progress=lambda m: None)
    assert [r.split(",")[0] for r in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]] == ["1", "2", "3"]
    job = ReferenceColorizer([smooth_image(np.random.default_rng(2), 50, 60)], str(weights), device="cpu",
                             render_size=32)
    assert job(np.full((2, 40, 56, 3), 90, np.uint8)).shape == (2, 40, 56, 3)


def test_init_from_must_be_an_effnet_colorizer_and_unused_fields_stay_unset(tiny_colorizers):
    from vidcolor.training.exemplar import build_exemplar
    with pytest.raises(ValueError, match="not an EfficientNet"):
        build_exemplar(ExemplarRecipe(init_from=str(tiny_colorizers.fcn)), pretrained=False)
    with pytest.raises(ValueError, match="other sizes"):       # the default widths, not the tiny model's
        build_exemplar(ExemplarRecipe(init_from=str(tiny_colorizers.effnet_bins)), pretrained=False)
    with pytest.raises(ValueError, match="does not use gan"):
        build_exemplar(ExemplarRecipe(init_from="", gan="wgan-gp"), pretrained=False)


def test_repository_exemplar_recipe_parses():
    r = ExemplarRecipe.from_toml(Path(__file__).parent.parent / "train" / "colorize-exemplar.toml")
    assert r.name == "colorize-exemplar" and r.init_from == "colorize-effnet" and 0 < r.mismatch < 1


# ------------------------------------------------------------------------------- ReferenceColorizer


def test_reference_colorizer_keeps_luminance_and_takes_several_references(tiny_colorizers):
    rng = np.random.default_rng(0)
    frames = np.stack([smooth_image(rng, 48, 64) for _ in range(2)])
    refs = [smooth_image(rng, 60, 80), smooth_image(rng, 33, 47)]
    one = ReferenceColorizer(refs[:1], str(tiny_colorizers.exemplar), device="cpu", render_size=32)
    two = ReferenceColorizer(refs, str(tiny_colorizers.exemplar), device="cpu", render_size=32)
    m1 = one.engine.bound["keys"].shape[1]
    assert m1 == 4 * 6                                           # 32x43 render -> 4 x 6 positions
    keys, values = two.engine.bound["keys"], two.engine.bound["values"]
    assert keys.shape[1] == m1 + 4 * 6 and values.shape == (1, keys.shape[1], 2)
    out = two(frames)
    assert np.abs(rgb_to_lab(frames)[..., 0] - rgb_to_lab(out)[..., 0]).mean() < 1.5


def test_jobs_refuse_each_others_models(tiny_colorizers):
    """In the README's words (it said 'a colorize-reference model', a job name users read nowhere): README audit,
    stop 63."""
    with pytest.raises(VidcolorError, match="is an exemplar model for references, not an automatic colorize model; "
                                            r"give it with references \(or reference_mode='keyframes' for keyframes\)$"):
        Colorizer(str(tiny_colorizers.exemplar), device="cpu")
    with pytest.raises(VidcolorError, match="is an automatic colorize model, not an exemplar model for references; "
                                            "with references, model names the exemplar model"):
        ReferenceColorizer([np.zeros((8, 8, 3), np.uint8)], str(tiny_colorizers.effnet_bins), device="cpu")
    with pytest.raises(VidcolorError, match="at least one"):
        ReferenceColorizer([], str(tiny_colorizers.exemplar), device="cpu")


# ------------------------------------------------------------------------------- two-image networks


def test_palette_finds_flat_colours_sorted_by_luma_and_is_differentiable():
    colours = torch.tensor([[0.9, 0.9, 0.9], [-0.8, -0.8, -0.8], [0.8, -0.6, -0.6], [-0.5, 0.7, -0.5], [-0.4, -0.4, 0.9]])
    img = colours[torch.arange(40) % 5].T.reshape(1, 3, 5, 8).clone().requires_grad_(True)
    pal = palette(img)
    luma = gray(colours.T[None, :, :, None])[0, 0, :, 0]
    assert torch.allclose(pal[0], colours[luma.argsort()], atol=1e-5)
    pal[0, -1].sum().backward()                               # the brightest colour's pixels get the gradient
    assert img.grad.abs().sum() > 0 and (img.grad[0, 0].reshape(-1)[:5] != 0).sum() == 1


def test_palette_discriminator_judges_11x11_patches():
    D = PaletteDiscriminator(width=4)
    pal = torch.zeros(1, 5, 3)
    a = torch.zeros(1, 1, 31, 31)
    b = a.clone()
    b[0, 0, 15, 15] = 1.0
    changed = (D(a, pal) - D(b, pal)).abs()[0, 0] > 0
    rows, cols = changed.any(1).nonzero(), changed.any(0).nonzero()
    assert int(rows.max() - rows.min()) + 1 == 11 and int(cols.max() - cols.min()) + 1 == 11
    assert not torch.allclose(D(a, pal), D(a, pal + 0.5))    # the palette is seen


def test_pyramid_and_generator_shapes():
    assert pyramid_sizes(144, 256, 3) == [(81, 144), (108, 192), (144, 256)]
    assert scale_count(144, 256, TwoImageSettings()) == 7   # 144 * 0.75^6 = 25.6 >= 25 > 19.2
    assert scale_count(20, 20, TwoImageSettings()) == 1
    g = ScaleGenerator(width=4)
    assert g(torch.zeros(2, 3, 9, 13), torch.zeros(2, 3, 9, 13), torch.zeros(2, 1, 9, 13)).shape == (2, 3, 9, 13)
    model = TwoImageColorizer(scales=3, width=4)
    out = model(torch.zeros(2, 1, 40, 60))
    assert out.shape == (2, 3, 40, 60) and out.abs().max() <= 1
    assert torch.equal(out, model(torch.zeros(2, 1, 40, 60)))     # fixed noise: deterministic


def test_train_two_image_learns_to_keep_the_targets_structure():
    from vidcolor.models.two_image import to_tensor
    rng = np.random.default_rng(0)
    ref, target = smooth_image(rng, 36, 48), smooth_image(rng, 36, 48)
    T = gray(to_tensor(target, 48))
    errors = []
    for iters in (1, 60):
        model = train_two_image(ref, target, TwoImageSettings(iters=iters, size=48, width=8), progress=False)
        assert len(model.generators) == 2
        with torch.no_grad():
            errors.append(float((gray(model(T)) - T).pow(2).mean()))    # the content loss, eq. 6
    assert errors[1] < 0.3 * errors[0]


# ------------------------------------------------------------------------------- InternalColorizer


def test_internal_colorizer_trains_on_first_frame_saves_and_reloads(tmp_path):
    rng = np.random.default_rng(0)
    ref = smooth_image(rng, 40, 50)
    frames = np.stack([smooth_image(rng, 36, 48) for _ in range(2)])
    settings = TwoImageSettings(iters=2, size=32, width=4)
    pair = tmp_path / "models" / "pair.safetensors"                 # its missing folder is made at the save
    job = InternalColorizer([ref], "cpu", settings, save_model=pair, progress=False)
    assert job.model is None and not pair.parent.exists()
    out = job(frames)                                               # trains lazily on frames[0]
    assert out.shape == frames.shape and pair.is_file()
    assert np.abs(rgb_to_lab(frames)[..., 0] - rgb_to_lab(out)[..., 0]).mean() < 1.5
    again = InternalColorizer([], "cpu", load_model=pair, progress=False)
    assert again.settings.size == 32
    assert np.abs(again(frames).astype(int) - out.astype(int)).max() <= 1


def test_a_save_that_fails_removes_the_folders_it_made(tmp_path):
    """save_model new/sub/pair.safetensors: a save that failed (here a file-size limit, as a full disk or a quota
    fails it; safetensors removes its temporary file) left new/sub/ behind, empty, where README promises that a failed
    run removes the folders it made; a folder that was there stays."""
    import resource
    import signal

    job = InternalColorizer([np.zeros((8, 8, 3), np.uint8)], "cpu", TwoImageSettings(size=32, width=4),
                            progress=False)
    job.model = TwoImageColorizer(scales=2, width=4)                # as trained (save() needs no training)
    (tmp_path / "there").mkdir()
    limit, handler = resource.getrlimit(resource.RLIMIT_FSIZE), signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, limit[1]))
        for pair in (tmp_path / "new" / "sub" / "pair.safetensors", tmp_path / "there" / "pair.safetensors"):
            with pytest.raises(VidcolorError, match="cannot write the weight file"):
                job.save(pair)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, handler)
    assert listing(tmp_path) == {"there"}


def test_internal_colorizer_errors(tmp_path, tiny_colorizers):
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(VidcolorError, match="exactly one"):
        InternalColorizer([img, img], "cpu")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(VidcolorError, match="file is a file, not a folder"):
        InternalColorizer([img], "cpu", save_model=tmp_path / "file" / "x.safetensors")
    if Path("/proc/self").exists():            # a folder even root cannot write in: refused before training
        with pytest.raises(VidcolorError, match="cannot write there"):
            InternalColorizer([img], "cpu", save_model="/proc/x.safetensors")
    with pytest.raises(VidcolorError, match="not a model saved"):
        InternalColorizer([], "cpu", load_model=tiny_colorizers.fcn)


@pytest.mark.parametrize("kind,why", [("file", "x is a file, not a folder"),
                                      ("dangling", "x is a symbolic link to nothing, not a folder")])
def test_internal_save_model_through_a_file_or_a_dangling_link_is_refused_before_training(tmp_path, monkeypatch,
                                                                                          kind, why):
    """The save_model check was a fifth copy of 'something on the way', with exists(): a symbolic link to nothing
    passed, training ran, and save() failed at the end with 'cannot write there (File exists)'. Now
    io.partial.blocked_way's rule and wording, at the start and at the save."""
    import os

    monkeypatch.chdir(tmp_path)
    if kind == "file":
        Path("x").write_bytes(b"")
    else:
        os.symlink("missing", "x")
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(VidcolorError) as caught:
        InternalColorizer([img], "cpu", save_model="x/m.safetensors", progress=False)
    assert str(caught.value) == f"save_model x/m.safetensors: cannot write there ({why})"


def test_internal_save_model_in_a_folder_that_cannot_be_written_names_the_folder(tmp_path, monkeypatch):
    """The save_model check built its own 'cannot write there (Permission denied)', naming neither the folder nor
    why, beside io.partial.cannot_write, which every other output's error uses (tests run as root, which folder
    permissions do not stop: the temporary file's creation is made to fail as a read-only folder fails it)."""
    import errno
    import tempfile

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(VidcolorError) as caught:
        InternalColorizer([img], "cpu", save_model="m.safetensors", progress=False)
    assert str(caught.value) == (f"save_model m.safetensors: cannot write there (the folder {tmp_path} is not "
                                 "writable: Permission denied)")


# ----------------------------------------------------------------------------------------------- CLI


def _images(tmp_path):
    rng = np.random.default_rng(3)
    paths = []
    for name in ("target.png", "ref.jpg"):
        Image.fromarray(smooth_image(rng, 64, 80)).save(tmp_path / name)
        paths.append(tmp_path / name)
    return paths


@pytest.mark.filterwarnings("ignore:the reference:vidcolor.errors.VidcolorWarning")      # small references
def test_the_automatic_batch_shrinks_with_the_references(tmp_path, tiny_colorizers, clip, monkeypatch):
    """The automatic batch size counted the frames' pixels, not the references: the matching's logits (frame x
    reference positions, float32, and their softmax) grow with both, so 30 references on a 320x180 clip peaked at
    8.9 GB at the automatic 16 frames a batch, 6 at 2.5 GB (reference audit, stop 63; now 1.7 and 0.6 GB). Here the
    budget is shrunk to 3 frames' matching with 10 references on the 64x48 clip (automatic: all 10 in one batch)."""
    from vidcolor.api import colorize

    rng = np.random.default_rng(5)
    refs = []
    for i in range(10):
        Image.fromarray(smooth_image(rng, 60, 80)).save(tmp_path / f"ref{i}.png")
        refs.append(tmp_path / f"ref{i}.png")
    per_frame = 2 * 4 * (6 * 4) * (10 * 4 * 6)             # 43x32 render: 6 x 4 positions; 10 refs of 4 x 6
    monkeypatch.setattr(ReferenceColorizer, "MATCH_BYTES", 3 * per_frame)
    sizes = []
    prepare = ReferenceColorizer.prepare

    def counting(self, frames):
        sizes.append(len(frames))
        return prepare(self, frames)

    monkeypatch.setattr(ReferenceColorizer, "prepare", counting)
    colorize(clip, tmp_path / "out.mp4", references=refs, model=str(tiny_colorizers.exemplar), render_size=32,
             progress=False, device="cpu")
    assert sum(sizes) == 10 and max(sizes) == 3, sizes
    sizes.clear()
    colorize(clip, tmp_path / "given.mp4", references=refs, model=str(tiny_colorizers.exemplar), render_size=32,
             progress=False, device="cpu", batch_size=5)            # a batch size given is kept
    assert sizes == [5, 5]


def test_api_takes_one_reference_path_as_one_reference(tmp_path, tiny_colorizers):
    from vidcolor.api import colorize

    target, ref = _images(tmp_path)
    kw = dict(model=str(tiny_colorizers.exemplar), render_size=32, progress=False)
    colorize(target, tmp_path / "list.png", references=[ref], **kw)
    for one in (str(ref), ref):                       # was read character by character / not iterable
        colorize(target, tmp_path / "one.png", references=one, overwrite=True, **kw)
        assert np.array_equal(np.asarray(Image.open(tmp_path / "one.png")), np.asarray(Image.open(tmp_path / "list.png")))


def test_cli_reference_fast_on_video_with_two_references(tmp_path, clip, clip_frames, tiny_colorizers):
    other, ref = _images(tmp_path)
    out = tmp_path / "out.mp4"
    res = invoke_cli("colorize", clip, "-o", out, "--reference", ref, "--reference", other, "--model",
                     tiny_colorizers.exemplar, "--render-size", "32", "-q")
    assert res.returncode == 0, res.stderr
    frames, _, _ = decode_all(str(out))
    assert frames.shape == clip_frames.shape


def test_cli_reference_internal_save_then_load(tmp_path):
    target, ref = _images(tmp_path)
    pair = tmp_path / "pair.safetensors"
    res = invoke_cli("colorize", target, "--reference", ref, "--reference-mode", "internal", "--internal-iters", "2",
                     "--internal-size", "32", "--save-model", pair, "-o", tmp_path / "a.png", "-q")
    assert res.returncode == 0, res.stderr
    assert pair.is_file() and (tmp_path / "a.png").is_file()
    res = invoke_cli("colorize", target, "--reference-mode", "internal", "--load-model", pair, "-o", tmp_path / "b.png",
                     "-q")
    assert res.returncode == 0, res.stderr
    a, b = (np.asarray(Image.open(tmp_path / n)).astype(int) for n in ("a.png", "b.png"))
    assert np.abs(a - b).max() <= 1


def test_cli_save_model_never_replaces_an_input_the_output_or_a_file(tmp_path):
    target, ref = _images(tmp_path)
    kept = {p: p.read_bytes() for p in (target, ref)}
    internal = ["--reference", ref, "--reference-mode", "internal", "--internal-iters", "1", "--internal-size", "32",
                "-q", "-o", tmp_path / "out.png"]
    for save in (ref, target, tmp_path / "out.png"):
        res = invoke_cli("colorize", target, *internal, "--save-model", save, cwd=tmp_path)
        assert_one_line_error(res)
        assert "would overwrite an input or the output" in res.stderr
    (tmp_path / "taken.safetensors").write_bytes(b"mine")
    res = invoke_cli("colorize", target, *internal, "--save-model", tmp_path / "taken.safetensors", cwd=tmp_path)
    assert_one_line_error(res)
    assert "exists (use --overwrite" in res.stderr and (tmp_path / "taken.safetensors").read_bytes() == b"mine"
    assert all(p.read_bytes() == data for p, data in kept.items()) and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("args", [
    ["--reference", "missing.jpg"],
    ["--reference-mode", "internal"],
    ["--save-model", "x.safetensors"],
    ["--reference-mode", "internal", "--load-model", "{ref}", "--save-model", "x.safetensors"],
    ["--reference", "{ref}", "--reference", "{ref}", "--reference-mode", "internal"],
    ["--reference", "{ref}", "--reference-mode", "internal", "--model", "colorize-effnet"],
    ["--reference", "{ref}", "--model", "colorize-effnet"],
    ["--reference", "{ref}", "--reference-mode", "internal", "--saturation", "1.2"],
])
def test_cli_reference_errors_are_one_line(tmp_path, args):
    target, ref = _images(tmp_path)
    res = invoke_cli("colorize", target, *[a.format(ref=ref) for a in args], cwd=tmp_path)
    assert_one_line_error(res)
    assert not (tmp_path / "target_colorized.png").exists()


@pytest.mark.filterwarnings("ignore:the reference:vidcolor.errors.VidcolorWarning")      # small references
def test_the_transparent_part_of_a_reference_gives_no_colour(tmp_path, tiny_colorizers):
    """What lies under a reference's transparent pixels (here magenta or black) was used as colour."""
    from vidcolor.reference import read_references

    rgb = smooth_image(np.random.default_rng(4), 48, 64)
    alpha = np.full((48, 64), 255, np.uint8)
    alpha[:, :32] = 0
    for name, hidden in (("magenta.png", (255, 0, 255)), ("black.png", (0, 0, 0))):
        Image.fromarray(np.dstack([np.where(alpha[..., None] == 0, np.uint8(hidden), rgb), alpha])).save(tmp_path / name)
    Image.fromarray(rgb).save(tmp_path / "opaque.png")
    features = [ReferenceColorizer(read_references([tmp_path / n]), str(tiny_colorizers.exemplar), device="cpu",
                                   render_size=32).features for n in ("magenta.png", "black.png", "opaque.png")]
    np.testing.assert_array_equal(features[0][1], features[1][1])          # the same colours: the visible ones
    assert features[0][1].shape[1] == features[2][1].shape[1] // 2          # half of the positions
    Image.fromarray(np.zeros((8, 8, 4), np.uint8)).save(tmp_path / "clear.png")
    with pytest.raises(VidcolorError, match="transparent everywhere"):
        read_references([tmp_path / "clear.png"])


def _reference_warnings(path: Path) -> list[str]:
    """The VidcolorWarnings that reading ``path`` alone as a reference gives (:func:`vidcolor.reference.read_references`)."""
    from vidcolor.reference import read_references

    with vidcolor_warnings() as said:
        read_references([path])
    return said


def test_a_reference_without_colour_is_warned_about(tmp_path):
    gray = np.repeat(smooth_image(np.random.default_rng(0), 64, 80)[..., :1], 3, axis=-1)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    Image.fromarray(smooth_image(np.random.default_rng(1), 64, 80)).save(tmp_path / "colour.png")
    assert _reference_warnings(tmp_path / "colour.png") == []
    (said,) = _reference_warnings(tmp_path / "gray.png")
    assert "gray.png has almost no colour (mean chroma 0.0)" in said


def test_a_small_reference_is_warned_about(tmp_path):
    """A 16x16 reference gives coarse colour (CIEDE2000 9.4 against 5.0 at 240 px on a DAVIS pair): it is named."""
    from vidcolor.reference import REFERENCE_MIN_SIDE

    Image.fromarray(smooth_image(np.random.default_rng(1), 16, 16)).save(tmp_path / "tiny.png")
    Image.fromarray(smooth_image(np.random.default_rng(1), REFERENCE_MIN_SIDE, 3 * REFERENCE_MIN_SIDE)).save(
        tmp_path / "wide.png")
    assert _reference_warnings(tmp_path / "wide.png") == []
    (said,) = _reference_warnings(tmp_path / "tiny.png")
    assert "tiny.png is only 16x16 pixels" in said


def test_an_animated_reference_is_warned_about(tmp_path):
    """An animated GIF given as a reference gave only its first frame's colours, unsaid (reference audit, stop 63)."""
    frames = [Image.fromarray(smooth_image(np.random.default_rng(i), 64, 80)) for i in range(3)]
    frames[0].save(tmp_path / "still.gif")
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    assert _reference_warnings(tmp_path / "still.gif") == []
    (said,) = _reference_warnings(tmp_path / "anim.gif")
    assert "anim.gif is animated (3 frames): only its first frame gives colour" in said


def test_a_folder_as_reference_is_refused_by_name(tmp_path):
    """A folder given to --reference said 'cannot read as image (IsADirectoryError)' (reference audit, stop 63)."""
    target, _ = _images(tmp_path)
    (tmp_path / "refs").mkdir()
    Image.fromarray(smooth_image(np.random.default_rng(1), 64, 80)).save(tmp_path / "refs" / "a.png")
    res = invoke_cli("colorize", target, "--reference", "refs", cwd=tmp_path)
    assert_one_line_error(res)
    assert "refs is a folder: --reference takes image files" in res.stderr
    assert not (tmp_path / "target_colorized.png").exists()


def test_sigterm_while_internal_mode_trains_ends_the_run(tmp_path):
    """SIGTERM while --reference-mode internal trained (minutes, in the prepare stage thread): the run waited
    executor.JOIN_S for the thread, then the interpreter exited under it: 'terminate called without an active
    exception' after vidcolor's line, exit 134 (reference audit, stop 63). Training now polls the run's stop flag."""
    _images(tmp_path)
    before = listing(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", "import sys, vidcolor.executor as ex; ex.JOIN_S = 1; "
                             "from vidcolor.cli import main; sys.argv[0] = 'vidcolor'; main()",
                             "colorize", "target.png", "--reference", "ref.jpg", "--reference-mode", "internal",
                             "--internal-iters", "100000", "--device", "cpu", "-q"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
    try:
        time.sleep(6)                                   # start-up, then training (100000 iterations a scale)
        assert proc.poll() is None, proc.stderr.read().decode()
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # target.png is in colour: the CLI says so (test_cli_errors2.py) before the training starts
    assert_terminated(proc.returncode, b"\n".join(ln for ln in err.splitlines() if b"is in colour already" not in ln))
    assert listing(tmp_path) == before
    assert took < 5, f"{took:.1f} s from the signal to the exit"


def test_a_video_as_reference_is_refused_by_name(tmp_path, clip):
    target, _ = _images(tmp_path)
    res = invoke_cli("colorize", target, "--reference", clip, cwd=tmp_path)
    assert_one_line_error(res)
    assert "--reference takes a colour still image" in res.stderr
    assert not (tmp_path / "target_colorized.png").exists()


def test_a_video_named_as_an_image_is_refused_as_a_video_reference(tmp_path, clip):
    """A clip saved as .jpg given as --reference was 'cannot read as image (UnidentifiedImageError)': it is a
    video, refused as one given by a video's name is (vidcolor reads it as the video it is elsewhere)."""
    import shutil

    target, _ = _images(tmp_path)
    shutil.copy(clip, tmp_path / "still.jpg")
    res = invoke_cli("colorize", target, "--reference", "still.jpg", cwd=tmp_path)
    assert_one_line_error(res)
    assert "still.jpg: --reference takes a colour still image" in res.stderr and "not a video" in res.stderr
    assert not (tmp_path / "target_colorized.png").exists()


def test_a_jpeg_with_a_second_image_is_not_an_animated_reference(tmp_path):
    """An Android Ultra HDR photo (or a stereo camera's) is a JPEG holding a second image (MPO: a gain map, the
    other view), which Pillow counts as a frame: --reference warned "is animated (2 frames)"; such a JPEG is a
    still, whose first image is what a viewer shows. An animated GIF still counts its frames."""
    from PIL import Image

    from vidcolor.reference import _frame_count

    photo = Image.fromarray(smooth_image(np.random.default_rng(3), 48, 64))
    photo.save(tmp_path / "photo.jpg", format="MPO", save_all=True, append_images=[photo.convert("L").convert("RGB")])
    with Image.open(tmp_path / "photo.jpg") as im:
        assert im.format == "MPO" and im.n_frames == 2
    assert _frame_count(tmp_path / "photo.jpg") == 1
    photo.save(tmp_path / "anim.gif", save_all=True, append_images=[photo.rotate(90)])
    assert _frame_count(tmp_path / "anim.gif") == 2
    big = photo.resize((128, 96))
    big.save(tmp_path / "pages.tif", save_all=True, append_images=[big.rotate(90)])        # told as pages
    assert _reference_warnings(tmp_path / "pages.tif") == [f"the reference {tmp_path / 'pages.tif'} has 2 pages: only the first gives colour; save the "
                    "pages you mean as images and give each"]


def _two_scenes(n: int = 3) -> np.ndarray:
    """``n`` frames of a bright scene, then ``n`` of a dark one (L histograms far apart: a cut), uint8 RGB."""
    rng = np.random.default_rng(1)
    bright = smooth_image(rng, 48, 64) // 2 + 128
    dark = smooth_image(rng, 48, 64) // 3
    return np.stack([np.roll(bright, i, 1) for i in range(n)] + [np.roll(dark, i, 1) for i in range(n)])


def _keyframes(tiny_colorizers) -> KeyframeColorizer:
    return KeyframeColorizer(str(tiny_colorizers.exemplar), str(tiny_colorizers.effnet_bins), device="cpu",
                             render_size=32, keyframe_size=32)


def test_keyframes_start_each_scene_and_a_batch_across_a_cut_runs_in_parts(tiny_colorizers):
    frames = _two_scenes()
    job = _keyframes(tiny_colorizers)
    out = np.stack(list(batched(frames, job, 4)))                  # frames 0-3 in one batch: the cut at 3
    assert job.keyframes == 2
    for scene in (slice(0, 3), slice(3, 6)):                       # each scene as if it were the clip alone
        np.testing.assert_array_equal(out[scene], _keyframes(tiny_colorizers)(frames[scene]))
    assert np.abs(rgb_to_lab(frames)[..., 0] - rgb_to_lab(out)[..., 0]).mean() < 1.5


def test_a_cut_between_scenes_of_one_tone_starts_a_keyframe(tiny_colorizers):
    """Two scenes with the same L histogram (the second is the first turned upside down): the histogram test
    alone saw one scene, and the first scene's colours went on into the second."""
    scene = mosaic(1, 48, 64, seed=5)[0]
    frames = np.stack([np.roll(scene, i, 1) for i in range(3)] + [np.roll(scene[::-1, ::-1], i, 1) for i in range(3)])
    job = _keyframes(tiny_colorizers)
    job(frames)
    assert job.keyframes == 2


def test_keyframes_after_a_reset_and_for_stills(tiny_colorizers):
    frames = _two_scenes(2)[:2]
    job = _keyframes(tiny_colorizers)
    job(frames)
    job(frames)
    assert job.keyframes == 1                                      # one scene
    job.reset()
    job(frames)
    assert job.keyframes == 2                                      # a new clip starts with a keyframe
    job.set_stills(True)
    job(frames)
    assert job.keyframes == 4                                      # every still is its own keyframe


def test_cli_reference_without_an_image_colours_by_keyframes(tmp_path, clip, clip_frames, tiny_colorizers):
    out = tmp_path / "out.mp4"
    res = invoke_cli("colorize", clip, "-o", out, "--model", tiny_colorizers.exemplar, "--render-size", "32", "-q",
                     "--reference")
    assert res.returncode == 0, res.stderr
    assert decode_all(str(out))[0].shape == clip_frames.shape
    res = invoke_cli("colorize", clip, "-o", tmp_path / "x.mp4", "--reference", "--reference", str(clip), "-q")
    assert res.returncode == 2 and len(res.stderr_lines) == 1 and "keyframes" in res.stderr, res.stderr
    for empty in (["--reference", ""], ["--reference", "", "--reference", str(clip)]):   # "$UNSET": not keyframes
        res = invoke_cli("colorize", clip, "-o", tmp_path / "x.mp4", *empty, "-q")
        assert res.returncode == 2 and len(res.stderr_lines) == 1 and "empty path" in res.stderr, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_the_onnx_reference_encoder_gives_the_torch_generators_features(tiny_colorizers):
    """The reference encoder's own ONNX graph (padded outside the graph, cropped after) against the torch
    generator's ``reference``, at a size that is no multiple of 8 or 32 and at one that is."""
    rng = np.random.default_rng(0)
    onnx = ReferenceColorizer([np.zeros((8, 8, 3), np.uint8)], str(tiny_colorizers.exemplar), device="cpu",
                              render_size=40, backend="onnxruntime")
    torch_job = ReferenceColorizer([np.zeros((8, 8, 3), np.uint8)], str(tiny_colorizers.exemplar), device="cpu",
                                   render_size=40, backend="torch")
    for shape in ((50, 77, 3), (64, 96, 3)):
        ref = rng.integers(0, 256, shape, dtype=np.uint8)
        (k1, v1), (k2, v2) = onnx.encode_references([ref]), torch_job.encode_references([ref])
        assert k1.shape == k2.shape and v1.shape == v2.shape and k1.shape[1] == v1.shape[1] > 0
        assert np.abs(k1 - k2).max() < 1e-4 and np.abs(v1 - v2).max() < 1e-3


def test_keyframes_on_cached_onnx_graphs_never_import_torch(tmp_path, tiny_colorizers):
    """With ONNX Runtime and the graphs in the cache (generators and the reference encoder), keyframe
    colorization runs without torch, as automatic colorization does (a fresh interpreter)."""
    import subprocess
    import sys

    from vidcolor.engine import cached_onnx
    from vidcolor.weights import read_arch

    for model in (tiny_colorizers.exemplar, tiny_colorizers.effnet_bins):
        cached_onnx(str(model), read_arch(str(model)))
    cached_onnx(str(tiny_colorizers.exemplar), read_arch(str(tiny_colorizers.exemplar)), part="reference")
    code = ("import sys, numpy as np; from vidcolor.reference import KeyframeColorizer; "
            f"job = KeyframeColorizer({str(tiny_colorizers.exemplar)!r}, {str(tiny_colorizers.effnet_bins)!r}, "
            "device='cpu', render_size=32, keyframe_size=32, backend='onnxruntime'); "
            "out = job(np.repeat(np.random.default_rng(0).integers(0, 256, (1, 40, 56, 3), dtype=np.uint8), 3, 0)); "
            "print(out.shape, job.keyframes, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3, 40, 56, 3) 1 False"


@pytest.mark.filterwarnings("ignore:the reference:vidcolor.errors.VidcolorWarning")      # small references
def test_references_are_reduced_to_the_matching_size_as_they_are_read(tmp_path, tiny_colorizers):
    """A 64 MP reference was kept at full size and converted to LAB whole before the render-size resize (2.04 GB
    peak; six: 3.73 GB). Now each is reduced as it is read (INTER_AREA) to the size the matching uses, the
    features within rounding of the full-size reference's, a reference at or below that size unchanged, and the
    colorizer's construction allocates about the image as read, not float LAB of the whole (traced peak: 24 MB for a
    9 MB reference, 93 MB before)."""
    import tracemalloc

    from vidcolor.api import colorizer
    from vidcolor.io import read_image
    from vidcolor.reference import read_references

    rng = np.random.default_rng(3)
    big = smooth_image(rng, 1500, 2000)
    Image.fromarray(big).save(tmp_path / "big.png")
    small = smooth_image(rng, 30, 40)
    Image.fromarray(small).save(tmp_path / "small.png")
    got_big, got_small = read_references([tmp_path / "big.png", tmp_path / "small.png"], render_size=32)
    assert got_big.shape == (32, 43, 3) and got_big.dtype == np.uint8       # shorter side 32, as network_input
    np.testing.assert_array_equal(got_small, small)                           # not enlarged, not changed
    assert read_references([tmp_path / "big.png"], longer_side=64)[0].shape == (48, 64, 3)   # internal mode
    rgba = np.dstack([big, np.full(big.shape[:2], 255, np.uint8)])
    rgba[:, :1000, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "half.png")
    half = read_references([tmp_path / "half.png"], render_size=32)[0]
    assert half.shape == (32, 43, 4) and (half[:, :21, 3] == 0).all() and (half[:, 22:, 3] == 255).all()

    kw = dict(device="cpu", render_size=32)
    full = ReferenceColorizer([read_image(tmp_path / "big.png")[0]], str(tiny_colorizers.exemplar), **kw).features
    reduced = ReferenceColorizer([got_big], str(tiny_colorizers.exemplar), **kw).features
    for a, b in zip(full, reduced):
        assert a.shape == b.shape and np.abs(a - b).max() < 0.05 * max(np.abs(a).max(), 1e-3)
    same = ReferenceColorizer([small], str(tiny_colorizers.exemplar), **kw).features
    kept = ReferenceColorizer([got_small], str(tiny_colorizers.exemplar), **kw).features
    for a, b in zip(same, kept):
        np.testing.assert_array_equal(a, b)

    colorizer(str(tiny_colorizers.exemplar), references=[tmp_path / "small.png"], **kw)      # imports, warm-up
    tracemalloc.start()
    colorizer(str(tiny_colorizers.exemplar), references=[tmp_path / "big.png"], **kw)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * big.nbytes, f"{peak / 1e6:.0f} MB for a {big.nbytes / 1e6:.0f} MB reference"


def test_references_that_are_no_list_of_images_are_refused_before_a_model_loads(tmp_path):
    """File names raised 'string indices must be integers', one bare image 'The truth value of an array ... is
    ambiguous', a gray one 'got uint8 (80, 3)' (its first 3 columns), a stack render_geometry's TypeError; the
    internal mode took a float image; read_references('one.png') read the name's characters ('/ is a folder')."""
    image = smooth_image(np.random.default_rng(1), 64, 72)
    for bad, error, said in [
            ([str(tmp_path / "ref.png")], TypeError, r"^references\[0\] is a file name \(.*\): give images; read files "
                                                     r"with vidcolor.reference.read_references\(\[path, \.\.\.\]\)$"),
            (image, TypeError, r"^references must be a list of images, uint8 RGB \(H, W, 3\) or RGBA \(H, W, 4\), got "
                               r"uint8 \(64, 72, 3\); one image\? give \[image\]$"),
            ([image, image[..., 0]], ValueError, r"^references\[1\]: expected uint8 RGB \(H, W, 3\) or RGBA \(H, W, 4\), "
                                                 r"no side empty, got uint8 \(64, 72\); gray frame \(H, W\)\? give it"),
            ([image[None]], ValueError, r"got uint8 \(1, 64, 72, 3\); several images in one array\? give list\(images\)$"),
            ([image / 255.0], ValueError, r"got float64 \(64, 72, 3\); floats in \[0, 1\]\? give")]:
        with pytest.raises(error, match=said):
            ReferenceColorizer(bad, device="cpu")
        with pytest.raises(error, match=said):
            InternalColorizer(bad, device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"^key_frame: expected uint8 RGB \(H, W, 3\), no side empty, got float64"):
        InternalColorizer([image], device="cpu", progress=False, key_frame=image / 255.0)
    Image.fromarray(image).save(tmp_path / "ref.png")
    read, = read_references(str(tmp_path / "ref.png"))            # one path: a list of one
    np.testing.assert_array_equal(read, image)


def test_keyframe_colour_names_the_frame_it_was_given(tiny_colorizers):
    """A float or gray frame was said as the stack of it and its mirror image ('got float64 (2, 40, 48, 3)'), a
    shape the caller never gave."""
    job = KeyframeColorizer(str(tiny_colorizers.exemplar), str(tiny_colorizers.fcn), device="cpu", render_size=64,
                            keyframe_size=64, backend="torch")
    frame = smooth_image(np.random.default_rng(2), 40, 48)
    assert job.keyframe_colour(frame).shape == frame.shape
    for bad, shown in [(frame / 255.0, r"float64 \(40, 48, 3\)"), (frame[..., 0], r"uint8 \(40, 48\)")]:
        with pytest.raises(ValueError, match=r"^frame: expected uint8 RGB \(H, W, 3\), no side empty, got " + shown):
            job.keyframe_colour(bad)
