"""vidcolor.training: data pairs, recipe files, the training loop (tiny, a few steps) and ``vidcolor train``."""
from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from helpers import REPO, TINY_GENERATOR, assert_one_line_error, invoke_cli, listing, photo_folder, run_cli, smooth_image
from vidcolor.color import normalize_lab, rgb_to_lab
from vidcolor.cue import CUE_DIM, HIST_BINS, level_cue
from vidcolor.training.data import (ColorizationCrops, DequantizationPairs, list_images, read_rgb, split_clips,
                                    split_holdout, split_retro, video_frames)
from vidcolor.metrics.image import psnr
from vidcolor.training.losses import GANLoss
from vidcolor.training.loop import DequantizeRecipe, DequantizeTrainer, model_space, to_rgb01, train_dequantize
from vidcolor.training.measures import psnr_batch, psnr_pooled
from vidcolor.training.run import training_loader
from vidcolor.weights import load_generator


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Three 64x64 random smooth JPEG photos (the first is held out by holdout_every=20)."""
    return photo_folder(tmp_path_factory.mktemp("photos"), 3, 64, 64, name="p{i}.jpg", quality=95)


def tiny_recipe(data: Path, **kw) -> DequantizeRecipe:
    r = dict(name="tiny", mode="lab", data=str(data), steps=2, batch_size=2, crop=32, workers=0, threads=1,
             generator=dict(TINY_GENERATOR), ndf=4, log_every=1, checkpoint_every=100, seed=0)
    r.update(kw)
    return DequantizeRecipe(**r)


def read_log(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def toml_for(data: Path, **kw) -> str:
    lines = ['name = "tiny"', f'data = "{data.as_posix()}"', "steps = 1", "batch_size = 2", "crop = 32",
             "workers = 0", "threads = 1", "ndf = 4", "log_every = 1",
             "generator = { ngf = 4, depth = 2, use_histogram = true }"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in kw.items()]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------- data


def test_list_images_and_holdout(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.jpg", "a.PNG", "sub/c.webp", "notes.txt", "clip.mp4", "scan.dpx"):      # DPX: the runtime's alone
        (tmp_path / name).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)] == ["a.PNG", "b.jpg", "sub/c.webp"]
    paths = [Path(f"{i:03d}.jpg") for i in range(45)]
    train, held = split_holdout(paths, every=20)
    assert held == [paths[0], paths[20], paths[40]]
    assert len(train) == 42 and not set(train) & set(held)
    assert split_holdout(paths, 20) == (train, held)             # deterministic


def test_split_clips_and_video_frames_are_cached(tmp_path, clip, monkeypatch):
    monkeypatch.setenv("VIDCOLOR_CACHE", str(tmp_path / "cache"))
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.mp4").write_bytes(clip.read_bytes())
    train, held = split_clips(tmp_path, every=2)
    assert [c.stem for c in train] == ["b"] and [c.stem for c in held] == ["a", "c"]
    frames = video_frames(train, stride=3, short_side=32)
    assert [f.stem for f in frames] == ["00000", "00003", "00006", "00009"]   # 10 frames, every 3rd
    assert Image.open(frames[0]).size == (43, 32)                          # 64x48 -> short side 32
    stamps = [f.stat().st_mtime_ns for f in frames]
    assert video_frames(train, stride=3, short_side=32) == frames           # reused, not decoded again
    assert [f.stat().st_mtime_ns for f in frames] == stamps


def test_video_frames_are_renamed_into_place_whole(tmp_path, clip, monkeypatch):
    """The frames were written in place, 'done' last: two trainings starting at once both wrote every JPEG, so one
    could read a frame the other was rewriting, and a run killed half way left half a folder. They are written to a
    hidden temporary folder and renamed into place: a run killed half way leaves nothing; a run that finds another
    run's folder there when it finishes keeps it (its files untouched); half a folder from an older vidcolor is
    replaced."""
    monkeypatch.setenv("VIDCOLOR_CACHE", str(tmp_path / "cache"))
    (tmp_path / "b.mp4").write_bytes(clip.read_bytes())
    train = [tmp_path / "b.mp4"]
    cache = tmp_path / "cache" / "frames"
    saves = Image.Image.save
    calls = []

    def killed_at_the_second(self, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        saves(self, path, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", killed_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        video_frames(train, stride=3, short_side=32)
    assert not any(cache.iterdir())                         # neither half a folder nor its temporary one
    stamps = {}

    def another_run_finishes_first(self, path, *args, **kwargs):
        if not stamps:                                      # the other run: whole, while this one writes its first
            stamps[0] = None
            monkeypatch.setattr(Image.Image, "save", saves)
            stamps.update({f.name: f.stat().st_mtime_ns for f in video_frames(train, stride=3, short_side=32)})
            monkeypatch.setattr(Image.Image, "save", another_run_finishes_first)
        saves(self, path, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", another_run_finishes_first)
    frames = video_frames(train, stride=3, short_side=32)
    assert [f.stem for f in frames] == ["00000", "00003", "00006", "00009"]
    assert {f.name: f.stat().st_mtime_ns for f in frames} == {k: v for k, v in stamps.items() if k}   # not rewritten
    assert [p.name for p in cache.iterdir()] == [frames[0].parent.name]     # this run's temporary folder removed
    monkeypatch.setattr(Image.Image, "save", saves)
    (frames[0].parent / "done").unlink()                    # as an older vidcolor killed half way left it
    frames[0].unlink()
    (frames[0].parent / "99999.jpg").write_bytes(b"half")
    assert [f.stem for f in video_frames(train, stride=3, short_side=32)] == ["00000", "00003", "00006", "00009"]
    assert [p.name for p in cache.iterdir()] == [frames[0].parent.name]
    assert listing(frames[0].parent) == {"done", "00000.jpg", "00003.jpg", "00006.jpg", "00009.jpg"}


def test_frames_no_training_used_for_a_month_leave_the_cache(tmp_path, clip, monkeypatch):
    """The frame cache was never pruned: every version of every clip ever extracted (a clip re-encoded, another
    video_stride) stayed for good, as did the temporary folder of an extraction that was killed. A call that extracts
    now removes the folders no training has used for FRAME_CACHE_DAYS days; each use marks a folder as used."""
    import os
    import time

    monkeypatch.setenv("VIDCOLOR_CACHE", str(tmp_path / "cache"))
    (tmp_path / "a.mp4").write_bytes(clip.read_bytes())
    (tmp_path / "b.mp4").write_bytes(clip.read_bytes())
    cache = tmp_path / "cache" / "frames"
    kept = video_frames([tmp_path / "a.mp4"], stride=3, short_side=32)[0].parent
    old = time.time() - 365 * 86400                                         # a year: past FRAME_CACHE_DAYS
    os.utime(kept / "done", (old, old))
    video_frames([tmp_path / "a.mp4"], stride=3, short_side=32)            # used again: marked, nothing extracted
    assert (kept / "done").stat().st_mtime > old
    stale, killed, recent = cache / "a-123-s3-32", cache / ".a-9-s5-32.x1y2", cache / "a-456-s3-32"
    for folder in (stale, killed, recent):
        folder.mkdir()
        (folder / "00000.jpg").write_bytes(b"")
    (stale / "done").touch()
    (recent / "done").touch()
    for path in (stale / "done", killed):
        os.utime(path, (old, old))
    video_frames([tmp_path / "b.mp4"], stride=3, short_side=32)            # extracts b: the cache is pruned
    assert sorted(p.name for p in cache.iterdir()) == sorted([kept.name, recent.name, f"b-{clip.stat().st_size}-s3-32"])


def test_stream_draws_by_p(tmp_path):
    for name, value in (("black", 0), ("white", 255)):
        Image.fromarray(np.full((40, 40, 3), value, np.uint8)).save(tmp_path / f"{name}.png")
    paths = list_images(tmp_path)
    crops = ColorizationCrops(paths, crop=32, seed=0, p=[0.9, 0.1])
    white = np.mean([c.mean() > 128 for c in itertools.islice(iter(crops), 400)])
    assert 0.05 < white < 0.15
    with pytest.raises(ValueError):
        ColorizationCrops(paths, crop=32, p=[0.5, 0.2])


def test_start_mixes_in_training_clip_frames(tmp_path, photos, clip, monkeypatch):
    monkeypatch.setenv("VIDCOLOR_CACHE", str(tmp_path / "cache"))
    (tmp_path / "video").mkdir()
    for name in ("a", "b"):
        (tmp_path / "video" / f"{name}.mp4").write_bytes(clip.read_bytes())
    recipe = tiny_recipe(photos, video=str(tmp_path / "video"), video_stride=5, video_share=0.25)
    stream = training_loader(recipe, ColorizationCrops).dataset
    assert len(stream.paths) == 2 + 2                          # 2 training photos, frames 0 and 5 of clip b
    assert all("/a-" not in p.as_posix() for p in stream.paths)   # clip a is held back
    assert all("/b-" in p.as_posix() for p in stream.paths[2:])
    assert np.isclose(sum(stream.p[2:]), 0.25) and np.isclose(sum(stream.p), 1.0)
    with pytest.raises(ValueError, match="video_share"):
        tiny_recipe(photos, video_share=1.0)


def test_pairs_shapes_and_alignment(tmp_path):
    rng = np.random.default_rng(1)
    big = smooth_image(rng, 64, 80)
    Image.fromarray(big).save(tmp_path / "big.png")
    Image.fromarray(smooth_image(rng, 16, 16)).save(tmp_path / "small.png")   # smaller than the crop: skipped
    torch.manual_seed(0)                                          # the stream also depends on torch's seed
    ds = DequantizationPairs(sorted(tmp_path.iterdir()), crop=32, seed=3, identity=0.0)
    for coarse, fine, cue in itertools.islice(iter(ds), 4):
        assert coarse.shape == fine.shape == (32, 32, 3)
        assert coarse.dtype == fine.dtype == np.uint8
        assert cue.shape == (CUE_DIM,) and cue.dtype == np.float32
        np.testing.assert_allclose((cue[:3 * HIST_BINS].reshape(3, HIST_BINS) ** 2).sum(-1), 1.0, atol=1e-5)
        # the cue describes the whole degraded photo: neither the clean photo nor just the crop
        assert not np.allclose(cue, level_cue(big), atol=1e-3)
        assert not np.allclose(cue, level_cue(coarse), atol=1e-3)
        # the fine crop is a window of the source photo (maybe mirrored)
        found = False
        for src in (big, big[:, ::-1]):
            for y in range(64 - 32 + 1):
                for x in range(80 - 32 + 1):
                    if np.array_equal(src[y:y + 32, x:x + 32], fine):
                        found = True
                        break
                if found:
                    break
        assert found
        corr = np.corrcoef(coarse.ravel().astype(float), fine.ravel().astype(float))[0, 1]
        assert corr > 0.4                                         # a degraded version of the same window


def make_retro(root: Path) -> None:
    """A tiny retro/ tree: two packages, Atari frames of 7 games, and a video folder."""
    rng = np.random.default_rng(2)
    for folder, names in (("pingus", ["a", "b"]), ("tecnoballz", ["c"]), ("video", [])):
        (root / folder).mkdir(parents=True)
        for n in names:
            Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(root / folder / f"{n}.png")
    (root / "atari").mkdir()
    for game in ("alien", "bowling", "ms_pacman", "pong", "riverraid", "skiing", "tennis"):
        for i in range(2):
            Image.fromarray(np.zeros((21, 16, 3), np.uint8)).save(root / "atari" / f"atari_{game}_{i:02d}.png")
    (root / "video" / "clip.mp4").write_bytes(b"")


def test_split_retro_holds_back_whole_packages_and_games(tmp_path):
    make_retro(tmp_path)
    train, held = split_retro(tmp_path)
    assert not set(train) & set(held) and len(train) + len(held) == 3 + 14
    names = {p.stem for p in held}
    assert "c" in names                                            # tecnoballz: a held-back package
    games_held = {n.removeprefix("atari_")[:-3] for n in names if n.startswith("atari_")}
    # the benchmark clips' games, and every 5th other game from the first (alien)
    assert games_held == {"ms_pacman", "riverraid", "alien"}          # others: alien bowling pong skiing tennis
    assert all(p.parent.name in ("pingus", "atari") for p in train)


def test_read_rgb_puts_transparent_pixels_on_black(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:2, :, 3] = 255                                           # top half opaque, bottom transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "sprite.png")
    out = read_rgb(tmp_path / "sprite.png")
    assert out.shape == (4, 4, 3) and (out[:2] == 200).all() and (out[2:] == 0).all()


def test_read_rgb_rounds_16_bit_gray_and_float_samples_are_refused_before_the_run(tmp_path, photos):
    # training audit: Pillow's convert clips 16-bit gray at 255, so a 16-bit gray PNG trained as a white image
    # (mean 254.5 of a 0..65535 ramp); float samples (a 32-bit TIFF) were clipped to 0 or 1 the same way, silently
    levels = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(levels).save(tmp_path / "g16.png")
    got = read_rgb(tmp_path / "g16.png")
    assert got.dtype == np.uint8 and np.array_equal(got[..., 0], np.round(levels / 257).astype(np.uint8))
    torch.manual_seed(0)                         # the colorize and exemplar streams read through read_rgb too
    crop = next(iter(ColorizationCrops([tmp_path / "g16.png"], 32, 0)))
    assert crop.mean() < 200                     # Image.open(...).convert("RGB") gave 255 almost everywhere
    data = tmp_path / "data"
    shutil.copytree(photos, data)
    Image.fromarray(np.full((64, 64), 0.5, np.float32)).save(data / "zz.tif")
    (tmp_path / "r.toml").write_text(toml_for(data))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "zz.tif has float samples" in res.stderr and not (tmp_path / "run").exists()


def test_a_mismatched_reference_with_one_photo_as_large_as_the_crop_does_not_hang(tmp_path, photos):
    # training audit: ExemplarPairs looked for "another photo" than the target's among those at least crop px;
    # with one such photo among smaller ones (2 training photos, one small), the exemplar run hung at its first
    # mismatched reference
    import signal
    from vidcolor.training.data import ExemplarPairs

    Image.new("RGB", (20, 20), (90, 120, 30)).save(tmp_path / "small.png")
    big = sorted(photos.glob("*.jpg"))[0]

    def too_long(*_):
        raise TimeoutError("the stream looked for another photo forever")
    old = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(20)
    try:
        torch.manual_seed(0)
        target, reference = next(iter(ExemplarPairs([tmp_path / "small.png", big], 32, 0, mismatch=1.0)))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert target.shape == reference.shape == (32, 32, 3)


def test_pixel_art_is_enlarged_by_nearest_neighbour(tmp_path):
    art = np.random.default_rng(3).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    Image.fromarray(art).save(tmp_path / "art.png")
    torch.manual_seed(0)
    ds = DequantizationPairs([tmp_path / "art.png"], crop=32, seed=1, pixel_art=[True], identity_pixel_art=1.0)
    for coarse, fine, _ in itertools.islice(iter(ds), 6):
        assert fine.shape == (32, 32, 3)
        colours = {tuple(c) for c in fine.reshape(-1, 3)}
        assert colours <= {tuple(c) for c in art.reshape(-1, 3)}      # only the art's own colours
        assert len(colours) <= (32 // 2 + 1) ** 2                      # enlarged x2 or x3: blocks, not pixels
    with pytest.raises(ValueError, match="pixel_art"):
        DequantizationPairs([tmp_path / "art.png"], crop=32, pixel_art=[True, False])


def test_identity_samples_are_their_own_target(tmp_path):
    Image.fromarray(smooth_image(np.random.default_rng(4), 48, 48)).save(tmp_path / "p.png")
    torch.manual_seed(0)
    ds = DequantizationPairs([tmp_path / "p.png"], crop=32, seed=2, identity=1.0)
    same = [np.array_equal(c, f) for c, f, _ in itertools.islice(iter(ds), 20)]
    assert any(same)                                               # lossless identity samples: coarse == fine
    assert not all(same)                                           # the others went through H.264


def test_start_mixes_in_pixel_art(tmp_path, photos):
    make_retro(tmp_path / "retro")
    recipe = tiny_recipe(photos, retro=str(tmp_path / "retro"), retro_share=0.4)
    pixel_art = split_retro(tmp_path / "retro")[0]
    stream = training_loader(recipe, DequantizationPairs, pixel_art, recipe.retro_share).dataset
    n = len(pixel_art)
    assert stream.pixel_art == [False, False] + [True] * n
    assert np.isclose(sum(stream.p[-n:]), 0.4) and np.isclose(sum(stream.p), 1.0)
    with pytest.raises(ValueError, match="nothing for the photos"):
        training_loader(recipe, DequantizationPairs, pixel_art, 1.0)


def test_train_with_pixel_art(tmp_path, photos):
    make_retro(tmp_path / "retro")
    weights = train_dequantize(tiny_recipe(photos, retro=str(tmp_path / "retro"), steps=2), tmp_path / "run",
                               progress=lambda m: None)
    assert weights.exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no training images"):
        train_dequantize(tiny_recipe(photos, retro=str(tmp_path / "empty"), steps=1), tmp_path / "run2",
                         progress=lambda m: None)


def test_pairs_need_images():
    with pytest.raises(ValueError):
        DequantizationPairs([], crop=32)


def test_pairs_same_seed_same_stream(photos):
    paths = sorted(photos.iterdir())
    torch.manual_seed(0)
    b = list(itertools.islice(iter(DequantizationPairs(paths, crop=32, seed=5)), 3))
    torch.manual_seed(0)
    c = list(itertools.islice(iter(DequantizationPairs(paths, crop=32, seed=5)), 3))
    for (c1, f1, h1), (c2, f2, h2) in zip(b, c):
        np.testing.assert_array_equal(c1, c2)
        np.testing.assert_array_equal(f1, f2)
        np.testing.assert_array_equal(h1, h2)
    torch.manual_seed(0)
    d = list(itertools.islice(iter(DequantizationPairs(paths, crop=32, seed=6)), 3))
    assert any(not np.array_equal(x[1], y[1]) for x, y in zip(b, d))     # another seed, another stream


# ----------------------------------------------------------------------------------------- loop parts


def test_model_space_and_to_rgb01():
    rgb = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8))
    x_rgb = model_space(rgb, "rgb")
    assert x_rgb.shape == (2, 3, 8, 8) and x_rgb.dtype == torch.float32
    assert float(x_rgb.min()) >= -1 and float(x_rgb.max()) <= 1
    x_lab = model_space(rgb, "lab")
    np.testing.assert_allclose(x_lab.permute(0, 2, 3, 1).numpy(), normalize_lab(rgb_to_lab(rgb.numpy())), atol=1e-6)
    target = rgb.permute(0, 3, 1, 2).float() / 255
    for mode, x, out in (("rgb", x_rgb, x_rgb), ("lab", x_lab, x_lab), ("ab", x_lab, x_lab[:, 1:])):
        full, rgb01 = to_rgb01(x, out, mode)
        assert full.shape == (2, 3, 8, 8)
        torch.testing.assert_close(rgb01, target, atol=2.5 / 255, rtol=0)


def test_losses():
    a = torch.rand(2, 3, 8, 8)
    assert psnr_batch(a, a) == pytest.approx(100.0)                # equal images: capped, not infinite
    # 8-bit like vidcolor.metrics.image.psnr: 0.2 is level 51, so PSNR = 20 log10(255 / 51)
    assert psnr_batch(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.2)) == pytest.approx(20 * np.log10(5))
    # the mean of per-image PSNRs (one image equal, capped at 100; the other at 51 levels off)
    two = torch.stack([torch.zeros(3, 4, 4), torch.full((3, 4, 4), 0.2)])
    assert psnr_batch(two, torch.zeros(2, 3, 4, 4)) == pytest.approx((100 + 20 * np.log10(5)) / 2)
    x = torch.rand(1, 3, 6, 6)
    as_uint8 = lambda t: (t[0].permute(1, 2, 0) * 255 + 0.5).to(torch.uint8).numpy()
    assert psnr_batch(x, 1 - x) == pytest.approx(psnr(as_uint8(x), as_uint8(1 - x)))
    with pytest.raises(ValueError, match="shape"):
        psnr_batch(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
    # pooled: one squared error over the batch; the equal image halves the MSE (+3 dB), it does not add 100
    assert psnr_pooled(two, torch.zeros(2, 3, 4, 4)) == pytest.approx(20 * np.log10(5) + 10 * np.log10(2))
    assert psnr_pooled(a, a) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="shape"):
        psnr_pooled(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
    for mode in ("lsgan", "vanilla"):
        gan = GANLoss(mode)
        logits = torch.full((1, 1, 3, 3), 5.0)
        assert float(gan(logits, True)) < float(gan(logits, False))
    with pytest.raises(ValueError):
        GANLoss("wgan")


# ----------------------------------------------------------------------------------------------- loop


def test_train_writes_everything_and_resumes(tmp_path, photos):
    out = tmp_path / "run"
    msgs: list[str] = []
    weights = train_dequantize(tiny_recipe(photos, steps=2), out, progress=msgs.append)
    assert weights == out / "tiny.safetensors"
    assert {"log.csv", "checkpoint.pt", "loss.png", "tiny.safetensors", "recipe.json"} <= listing(out)
    with Image.open(out / "loss.png") as im:
        assert im.format == "PNG" and im.size[0] > 100
    rows = read_log(out / "log.csv")
    assert [int(r["step"]) for r in rows] == [1, 2]
    assert set(rows[0]) == {"step", "seconds", "loss_rec", "loss_g_adv", "loss_d", "psnr_input", "psnr_output"}
    for r in rows:
        assert all(np.isfinite(float(v)) for v in r.values())
        assert float(r["loss_rec"]) > 0 and 5 < float(r["psnr_input"]) < 100
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 2 and {"G", "D", "opt_g", "opt_d", "elapsed"} <= set(ckpt)
    assert json.loads((out / "recipe.json").read_text())["steps"] == 2

    g, arch = load_generator(str(weights))
    assert arch["mode"] == "lab" and arch["kwargs"]["ngf"] == 4
    with safe_open(str(weights), framework="pt") as f:
        meta = f.metadata()
    assert json.loads(meta["steps"]) == 2 and json.loads(meta["recipe"])["name"] == "tiny"
    assert g.head[-1].weight.abs().sum() > 0                      # training moved the zero-initialised head

    # resume with more steps: continues from step 2
    msgs.clear()
    train_dequantize(tiny_recipe(photos, steps=3), out, progress=msgs.append)
    assert any("resumed at step 2" in m for m in msgs)
    assert [int(r["step"]) for r in read_log(out / "log.csv")] == [1, 2, 3]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 3
    with safe_open(str(weights), framework="pt") as f:
        assert json.loads(f.metadata()["steps"]) == 3

    # resume=False starts over
    train_dequantize(tiny_recipe(photos, steps=1), out, resume=False, progress=msgs.append)
    assert [int(r["step"]) for r in read_log(out / "log.csv")] == [1]


def test_regression_only_has_no_discriminator(tmp_path, photos):
    out = tmp_path / "run"
    train_dequantize(tiny_recipe(photos, steps=2, adv_weight=0.0, loss="l2"), out, progress=lambda m: None)
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert {"G", "opt_g"} <= set(ckpt) and not {"D", "opt_d"} & set(ckpt)
    rows = read_log(out / "log.csv")
    assert all(float(r["loss_d"]) == 0 and float(r["loss_g_adv"]) == 0 and float(r["loss_rec"]) > 0 for r in rows)
    with pytest.raises(ValueError, match="loss"):
        tiny_recipe(photos, loss="l3")
    with pytest.raises(ValueError, match="adv_weight"):
        tiny_recipe(photos, adv_weight=-1.0)


def test_init_from_starts_from_a_trained_generator_and_refuses_another(tiny_models):
    from vidcolor.training.loop import build_generator

    torch.manual_seed(1)   # a fresh build from this seed differs from the fixture's (seed 0) weights
    fresh, _ = build_generator(DequantizeRecipe(mode="lab", generator=dict(TINY_GENERATOR)))
    G, arch = build_generator(DequantizeRecipe(mode="lab", generator=dict(TINY_GENERATOR), init_from=str(tiny_models.lab)))
    base = load_generator(tiny_models.lab)[0].state_dict()
    assert arch["kwargs"] == dict(in_channels=3, out_channels=3, **TINY_GENERATOR)
    assert all(torch.equal(v, base[k]) for k, v in G.state_dict().items())
    assert any(not torch.equal(v, base[k]) for k, v in fresh.state_dict().items())
    with pytest.raises(ValueError, match="not a dequantization U-Net"):
        build_generator(DequantizeRecipe(mode="lab", generator=dict(TINY_GENERATOR), init_from=str(tiny_models.rgb)))
    with pytest.raises(ValueError, match="not a dequantization U-Net"):
        build_generator(DequantizeRecipe(mode="lab", generator={**TINY_GENERATOR, "ngf": 8}, init_from=str(tiny_models.lab)))


def test_smooth_pixels_marks_flat_regions_and_the_recipe_refuses_a_negative_weight(tmp_path, photos):
    from vidcolor.training.loop import smooth_pixels

    x = torch.full((1, 3, 16, 16), 0.5)
    x[..., 8:] = 0.9                                     # a sharp edge between columns 7 and 8
    x[..., 12:, :] += torch.linspace(0, 1 / 255, 4)[:, None]   # a gentle ramp stays smooth
    m = smooth_pixels(x)[0, 0]
    assert m.shape == (16, 16) and m[:, :6].eq(1).all() and m[:, 10:].eq(1).all() and m[:, 6:10].eq(0).all()
    noise = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 20 / 255
    assert smooth_pixels(0.5 + noise).eq(0).all()        # texture (std ~6 levels) is not smooth
    with pytest.raises(ValueError, match="smooth_weight"):
        tiny_recipe(photos, smooth_weight=-1.0)
    out = tmp_path / "run"
    train_dequantize(tiny_recipe(photos, steps=2, adv_weight=0.0, loss="l2", smooth_weight=3.0), out, progress=lambda m: None)
    assert all(np.isfinite(float(r["loss_rec"])) and float(r["loss_rec"]) > 0 for r in read_log(out / "log.csv"))


def test_resume_with_the_phase_input_switched_on(tmp_path, photos):
    out = tmp_path / "run"
    train_dequantize(tiny_recipe(photos, steps=2), out, progress=lambda m: None)
    before = torch.load(out / "checkpoint.pt", weights_only=True)
    msgs: list[str] = []
    weights = train_dequantize(tiny_recipe(photos, steps=3, generator=dict(TINY_GENERATOR, use_phase=True)), out,
                               progress=msgs.append)
    assert any("resumed at step 2; new parameters start from their initialisation: G.phase_in.weight" in m
               for m in msgs)
    after = torch.load(out / "checkpoint.pt", weights_only=True)
    assert after["step"] == 3 and "phase_in.weight" in after["G"]
    # the old parameters continued (Adam counted on from step 2), the new one started its own count
    n_old = len(before["opt_g"]["param_groups"][0]["params"])
    assert float(after["opt_g"]["state"][0]["step"]) == 3 and float(after["opt_g"]["state"][n_old]["step"]) == 1
    groups = after["opt_g"]["param_groups"]                # phase_in in its own group at phase_lr
    assert [g["lr"] for g in groups] == [2e-4, 2e-3] and groups[1]["params"] == [n_old]
    g, arch = load_generator(str(weights))
    assert arch["kwargs"]["use_phase"] and g.phase_in.weight.abs().sum() > 0
    # the other way round (a checkpoint with parameters the recipe's model lacks) is refused
    with pytest.raises(ValueError, match="lacks"):
        train_dequantize(tiny_recipe(photos, steps=4), out, progress=lambda m: None)


def test_linear_lr_decay_continues_across_a_resume(tmp_path, photos):
    from vidcolor.training.run import RunDir, lr_factor

    r = tiny_recipe(photos, steps=6, decay_from=2)
    assert [lr_factor(r, s) for s in range(7)] == [1, 1, 1, 0.75, 0.5, 0.25, 0]
    assert lr_factor(tiny_recipe(photos, steps=6), 5) == 1                        # no decay_from: constant
    with pytest.raises(ValueError, match="decay_from"):
        tiny_recipe(photos, steps=6, decay_from=6)

    def lrs_while_running(recipe, objects, n):
        run = RunDir(tmp_path / "unit", ["x"], recipe, progress=lambda m: None)
        run.restore(objects)
        seen = []
        for _ in range(n):
            seen.append([g["lr"] for g in objects["opt"].param_groups])
            run.record([0.0], 100)
        run.save(objects)
        return seen

    w = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.Adam([{"params": [w]}, {"params": [], "lr": 1.0}], lr=0.5)
    assert lrs_while_running(r, {"opt": opt}, 4) == [[0.5, 1.0], [0.5, 1.0], [0.5, 1.0], [0.375, 0.75]]
    opt = torch.optim.Adam([{"params": [w]}, {"params": [], "lr": 1.0}], lr=0.5)   # resumed at step 4
    assert lrs_while_running(r, {"opt": opt}, 2) == [[0.25, 0.5], [0.125, 0.25]]

    out = tmp_path / "run"                                  # the real loop: a constant-lr run resumed into a decay
    train_dequantize(tiny_recipe(photos, steps=2), out, progress=lambda m: None)
    train_dequantize(tiny_recipe(photos, steps=4, decay_from=2, generator=dict(TINY_GENERATOR, use_phase=True)),
                     out, progress=lambda m: None)
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert [g["initial_lr"] for g in ckpt["opt_g"]["param_groups"]] == [2e-4, 2e-3]
    assert [g["lr"] for g in ckpt["opt_g"]["param_groups"]] == [0.0, 0.0]
    assert ckpt["opt_d"]["param_groups"][0]["initial_lr"] == 2e-4


def test_resume_refuses_a_checkpoint_missing_older_parameters():
    from vidcolor.models import UNetGenerator
    from vidcolor.training.run import _load_grown

    g = UNetGenerator(ngf=4, depth=2, use_phase=True)
    state = g.state_dict()
    assert _load_grown(UNetGenerator(ngf=4, depth=2, use_phase=True), state) == []
    old = {k: v for k, v in state.items() if k != "phase_in.weight"}
    assert _load_grown(UNetGenerator(ngf=4, depth=2, use_phase=True), old) == ["phase_in.weight"]
    for lost in ("stem.0.weight", "body.down.1.running_mean"):        # not the newest parameter: refused
        with pytest.raises(ValueError, match="newest"):
            _load_grown(UNetGenerator(ngf=4, depth=2, use_phase=True), {k: v for k, v in old.items() if k != lost})


def test_train_rgb_mode_without_histogram(tmp_path, photos):
    gen = dict(TINY_GENERATOR, use_histogram=False)
    weights = train_dequantize(tiny_recipe(photos, mode="rgb", steps=1, generator=gen), tmp_path,
                               progress=lambda m: None)
    g, arch = load_generator(str(weights))
    assert arch["mode"] == "rgb" and g.hist_mlp is None


# ------------------------------------------------------------------------------------------- recipes


def test_from_toml(tmp_path, photos):
    p = tmp_path / "r.toml"
    p.write_text(toml_for(photos, lr=1e-3))
    r = DequantizeRecipe.from_toml(p)
    assert r.name == "tiny" and r.steps == 1 and r.lr == 1e-3 and r.generator == TINY_GENERATOR
    assert r.mode == "lab"                                        # default kept
    p.write_text(toml_for(photos, colour="blue"))
    with pytest.raises(ValueError, match="colour"):
        DequantizeRecipe.from_toml(p)
    p.write_text("name = \n")                                     # not TOML: the error names the file
    with pytest.raises(ValueError, match="r.toml: Invalid value"):
        DequantizeRecipe.from_toml(p)


def test_recipe_kinds_reach_the_sample_stream_and_bad_ones_are_refused(tmp_path, photos):
    p = tmp_path / "r.toml"
    p.write_text(toml_for(photos) + 'kinds = ["uniform"]\n')
    r = DequantizeRecipe.from_toml(p)
    stream = DequantizeTrainer(r, tmp_path / "run", progress=lambda m: None).data().dataset
    assert stream.kinds == ("uniform",)
    assert DequantizeRecipe.from_toml(REPO / "train" / "dequantize-fq-l2.toml").kinds == ["uniform", "palette", "ffmpeg"]
    p.write_text(toml_for(photos) + 'kinds = ["dct"]\n')
    with pytest.raises(ValueError, match="kinds"):
        DequantizeRecipe.from_toml(p)


@pytest.mark.parametrize("path", sorted((REPO / "train").glob("**/dequantize*.toml")), ids=lambda p: p.name)
def test_repository_recipes_parse(path):
    r = DequantizeRecipe.from_toml(path)
    assert r.name == path.stem
    assert r.mode in ("lab", "ab", "rgb")


RECIPES = sorted((REPO / "train").rglob("*.toml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(REPO / "train")))
def test_every_recipe_in_train_loads_with_its_jobs_class(path):
    """Every recipe under train/ (ablation/ and gpu/ too: the tests above read only dequantize*.toml and the top
    level's colorize*.toml) parses with the recipe class of the `vidcolor train` command its name says, so a key
    the trainer no longer reads, or a value it now refuses, fails here rather than in a researcher's run."""
    from vidcolor.jobs import training_loop

    job = "exemplar" if "exemplar" in path.stem else path.stem.split("-")[0]
    recipe_cls, _ = training_loop(job)
    r = recipe_cls.from_toml(path)
    assert r.name == path.stem


def test_the_recipe_list_covers_every_folder_of_train():
    assert {p.parent.name for p in RECIPES} == {"train", "ablation", "gpu"} and len(RECIPES) >= 27


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_train(tmp_path, photos):
    (tmp_path / "r.toml").write_text(toml_for(photos))
    res = run_cli("train", "dequantize", "r.toml", "--out", "run", "--steps", "2", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert "weights written to" in res.stderr
    assert {"log.csv", "checkpoint.pt", "loss.png", "tiny.safetensors"} <= listing(tmp_path / "run")
    assert [int(r["step"]) for r in read_log(tmp_path / "run" / "log.csv")] == [1, 2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine can train on CUDA")
def test_cli_train_on_cuda_without_a_gpu_is_one_line_before_the_run_folder(tmp_path, photos):
    (tmp_path / "r.toml").write_text(toml_for(photos))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", "--steps", "1", "--device", "cuda", cwd=tmp_path)
    assert_one_line_error(res)
    assert "--device cuda" in res.stderr and "no CUDA GPU" in res.stderr
    assert listing(tmp_path) == {"r.toml"}


def test_cli_train_unknown_key(tmp_path, photos):
    (tmp_path / "r.toml").write_text(toml_for(photos, colour="blue"))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "colour" in res.stderr
    assert listing(tmp_path) == {"r.toml"}


def test_cli_train_bad_toml(tmp_path):
    (tmp_path / "r.toml").write_text("name = \n")
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)


def test_cli_train_missing_data(tmp_path):
    (tmp_path / "r.toml").write_text(toml_for(tmp_path / "no-such-folder"))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)


@pytest.mark.parametrize("field", DequantizeRecipe.COUNTS)
def test_recipe_refuses_counts_below_one(photos, field):
    with pytest.raises(ValueError, match=f"{field} must be a whole number >= 1, got 0"):
        DequantizeRecipe(**{**tomllib.loads(toml_for(photos)), field: 0})


@pytest.mark.parametrize("bad, named", [("checkpoint_every = 0", "checkpoint_every"), ("batch_size = 0", "batch_size"),
                                        ('lr = "2e-4"', "lr"), ("workers = -1", "workers"), ("steps = 0", "steps")])
def test_cli_train_bad_recipe_value(tmp_path, photos, bad, named):
    """A value that would fail deep in the run (a division by zero, a torch error) is one line, before the run's folder."""
    key = bad.split(" = ")[0]
    text = "".join(line + "\n" for line in toml_for(photos).splitlines() if not line.startswith(f"{key} ="))
    (tmp_path / "r.toml").write_text(text + bad + "\n")
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert named in res.stderr and not (tmp_path / "run").exists()


def test_cli_train_refuses_a_run_folder_of_other_networks_and_keeps_its_record(tmp_path, photos):
    """A run folder reused for a recipe with another generator, or holding a damaged checkpoint: one line that
    says what to do, and the folder's recipe.json still the run's own."""
    (tmp_path / "r.toml").write_text(toml_for(photos))
    assert invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path).returncode == 0
    record = (tmp_path / "run" / "recipe.json").read_text()
    wider = toml_for(photos).replace("ngf = 4", "ngf = 8")
    assert wider != toml_for(photos)
    (tmp_path / "r.toml").write_text(wider)
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", "--steps", "2", cwd=tmp_path)
    assert_one_line_error(res)
    assert "holds other networks" in res.stderr and "--fresh" in res.stderr
    assert (tmp_path / "run" / "recipe.json").read_text() == record
    ckpt = tmp_path / "run" / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", "--steps", "2", cwd=tmp_path)
    assert_one_line_error(res)
    assert "cannot be read" in res.stderr
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", "--steps", "2", "--fresh", cwd=tmp_path)
    assert res.returncode == 0


@pytest.mark.parametrize("bad, said", [({"init_from": "dequantize-fq-l2"}, "not a dequantization U-Net"),
                                        ({"gan_mode": "nosuch"}, "gan_mode must be one of")])
def test_cli_train_recipe_that_cannot_be_set_up(tmp_path, photos, bad, said):
    """Values the recipe class cannot check alone (a model of another architecture to start from, an unknown
    loss) are found when the run is set up: one line, and no run folder."""
    (tmp_path / "r.toml").write_text(toml_for(photos, **bad))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "bad recipe" in res.stderr and said in res.stderr and not (tmp_path / "run").exists()


def test_cli_train_steps_override_scales_the_schedule(tmp_path, photos):
    """--steps shorter than the recipe's decay_from: the same schedule over fewer steps, not a refused recipe."""
    (tmp_path / "r.toml").write_text(toml_for(photos, decay_from=5).replace("steps = 1\n", "steps = 10\n"))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", "--steps", "3", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    recipe = json.loads((tmp_path / "run" / "recipe.json").read_text())
    assert (recipe["steps"], recipe["decay_from"]) == (3, 2)


def test_with_steps_moves_the_step_marks_in_proportion():
    from vidcolor.training.colorize import ColorizeRecipe

    r = DequantizeRecipe(steps=7000, decay_from=4500)
    assert (r.with_steps(100).steps, r.with_steps(100).decay_from) == (100, 64)
    assert r.with_steps(14000).decay_from == 9000 and r.with_steps(1).decay_from == 0   # kept before the end
    assert DequantizeRecipe(steps=10).with_steps(3).decay_from is None
    c = ColorizeRecipe(steps=2000, unfreeze_at=1200, unfreeze_stages=2, log_every=20, checkpoint_every=200)
    small = c.with_steps(100)
    assert (small.unfreeze_at, small.log_every, small.checkpoint_every) == (60, 20, 200)    # intervals stay
    assert ColorizeRecipe(steps=100, unfreeze_at=300).with_steps(50).unfreeze_at == 150      # past the end stays past
    with pytest.raises(ValueError, match="steps"):
        r.with_steps(0)


def test_cli_train_images_too_small_for_the_crop_or_unreadable(tmp_path, photos):
    """Photos all smaller than the crop were skipped forever (the run hung); an unreadable photo was a
    traceback from deep in the data stream. Both are one line before the run folder is made."""
    (tmp_path / "r.toml").write_text(toml_for(photos).replace("crop = 32", "crop = 96"))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path, timeout=120)
    assert_one_line_error(res)
    assert "no training image is at least 96 px" in res.stderr and not (tmp_path / "run").exists()
    bad = tmp_path / "bad"
    shutil.copytree(photos, bad)
    (bad / "zz.png").write_bytes(b"not a png")
    (tmp_path / "r.toml").write_text(toml_for(bad))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "zz.png cannot be read" in res.stderr and not (tmp_path / "run").exists()


def truncated_copy(photos: Path, folder: Path, index: int) -> Path:
    """``photos`` copied into ``folder`` with the ``index``-th (sorted) JPEG cut to half its bytes: its header
    reads, its pixels do not."""
    shutil.copytree(photos, folder)
    victim = sorted(folder.glob("*.jpg"))[index]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    return victim


def test_cli_train_truncated_jpeg_is_one_line_before_the_run_folder(tmp_path, photos):
    """A truncated JPEG passed the header check and was a traceback of the data stream when it was drawn (maybe
    hours in), leaving a run folder with a recipe.json and an empty log.csv; the held-back photos were not
    checked at all (a truncated one: a traceback at setup)."""
    victim = truncated_copy(photos, tmp_path / "trunc", 1)                     # a training photo
    (tmp_path / "r.toml").write_text(toml_for(tmp_path / "trunc"))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert f"training image {victim} cannot be read" in res.stderr and not (tmp_path / "run").exists()
    victim = truncated_copy(photos, tmp_path / "trunc0", 0)                    # the held-back one
    (tmp_path / "r.toml").write_text(toml_for(tmp_path / "trunc0", validate_every=1))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert f"held-back (validation) photo {victim} cannot be read" in res.stderr and not (tmp_path / "run").exists()


def test_cli_train_held_back_photos_smaller_than_the_crop_are_one_line_not_a_hang(tmp_path, photos):
    """Validation drew crops of the held-back photos, skipping those smaller than the crop, forever when all were."""
    shutil.copytree(photos, tmp_path / "data")
    first = sorted((tmp_path / "data").glob("*.jpg"))[0]
    Image.new("RGB", (40, 40), (90, 120, 30)).save(first)                    # held back: under crop 48
    (tmp_path / "r.toml").write_text(toml_for(tmp_path / "data", validate_every=1).replace("crop = 32", "crop = 48"))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path, timeout=60)
    assert_one_line_error(res)
    assert "no held-back (validation) photo is at least 48 px" in res.stderr and not (tmp_path / "run").exists()


def test_cli_train_data_whose_images_are_all_held_back_says_so(tmp_path, photos):
    """holdout_every = 1, or a folder of one photo, said "no training images under" a folder of images."""
    (tmp_path / "r.toml").write_text(toml_for(photos, holdout_every=1))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "all 3 images under" in res.stderr and "held back for validation (holdout_every = 1" in res.stderr
    assert not (tmp_path / "run").exists()


def test_cli_train_run_folder_that_cannot_be_made_and_a_relative_data_folder_named_with_its_base(tmp_path, photos):
    (tmp_path / "r.toml").write_text(toml_for(photos))
    (tmp_path / "file").write_text("")
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "file/run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "file/run: cannot write there (file is a file, not a folder)" in res.stderr
    (tmp_path / "r.toml").write_text(toml_for(Path("no-such-folder")))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert f"no training images under no-such-folder (relative to the current folder, {tmp_path})" in res.stderr


def test_cli_train_run_folder_inside_the_data_folder_is_refused(tmp_path, photos):
    # training audit: `--out DATA/run` trained, and its loss.png was then listed (recursively) among DATA's training
    # images by the resume or the next run, shifting the holdout split
    shutil.copytree(photos, tmp_path / "data")
    (tmp_path / "r.toml").write_text(toml_for(Path("data")))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "data/run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "inside the recipe's data folder" in res.stderr and not (tmp_path / "data" / "run").exists()


def test_cli_train_video_folder_without_clips(tmp_path, photos):
    (tmp_path / "r.toml").write_text(toml_for(photos, video=str(tmp_path / "no-clips")))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "no training clips" in res.stderr and not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------- real data (optional)


def test_real_training_photos(shared_data):
    folder = shared_data / "train" / "raccoon"
    if not folder.is_dir():
        pytest.skip(f"{folder} absent")
    paths = list_images(folder)
    assert len(paths) > 20
    torch.manual_seed(0)
    coarse, fine, cue = next(iter(DequantizationPairs(paths[:10], crop=64, seed=0)))
    assert coarse.shape == fine.shape == (64, 64, 3) and cue.shape == (CUE_DIM,)


def test_repository_recipes_point_at_shared_data(shared_data):
    r = DequantizeRecipe.from_toml(REPO / "train" / "dequantize-fq-l2.toml")
    data = (REPO / r.data).resolve()
    assert data == (shared_data / "train").resolve()
    assert data.is_dir() and any(data.iterdir())


def test_a_run_shorter_than_log_every_logs_its_last_step_and_draws_the_curves(tmp_path, photos):
    """``--steps 2`` of a recipe logging every 20 steps left log.csv empty and no loss.png (publish.py failed)."""
    out = tmp_path / "run"
    train_dequantize(tiny_recipe(photos, steps=3, log_every=2), out, progress=lambda m: None)
    assert [r["step"] for r in read_log(out / "log.csv")] == ["2", "3"]
    assert (out / "loss.png").is_file()


def test_a_resumed_run_draws_new_samples_deterministically(tmp_path, photos):
    # training audit, stop 63: a resume restarted the data stream, so steps 3-4 saw the batches of steps 1-2
    def psnr_inputs(out):
        return [r["psnr_input"] for r in read_log(out / "log.csv")]

    for out in (tmp_path / "a", tmp_path / "b"):
        train_dequantize(tiny_recipe(photos, steps=2, identity=0.0), out, progress=lambda m: None)
        train_dequantize(tiny_recipe(photos, steps=4, identity=0.0), out, progress=lambda m: None)
    first = psnr_inputs(tmp_path / "a")
    assert len(first) == 4 and first[2:] != first[:2]          # not a replay of the first steps
    assert psnr_inputs(tmp_path / "b") == first                # the same resume draws the same samples


def test_cli_train_refuses_to_resume_a_run_folder_with_a_changed_recipe(tmp_path, photos):
    # training audit, stop 63: a rerun with another lr or batch_size was accepted, and recipe.json and the
    # weights' metadata then claimed the new values for the whole run
    (tmp_path / "r.toml").write_text(toml_for(photos))
    assert invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path).returncode == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    for changed, toml in (("lr", toml_for(photos, lr=0.001)), ("seed", toml_for(photos, seed=1)),
                          ("batch_size", toml_for(photos).replace("batch_size = 2", "batch_size = 3"))):
        (tmp_path / "r.toml").write_text(toml)
        res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", "--steps", "2", cwd=tmp_path)
        assert_one_line_error(res)
        assert "another recipe" in res.stderr and changed in res.stderr and "--fresh" in res.stderr
        assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == before     # nothing written
    free = toml_for(photos, checkpoint_every=5).replace("log_every = 1", "log_every = 2").replace("workers = 0",
                                                                                                 "workers = 1")
    (tmp_path / "r.toml").write_text(free)
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", "--steps", "2", cwd=tmp_path)
    assert res.returncode == 0, res.stderr                          # what is logged, how fast, how long: free
    assert json.loads((tmp_path / "run" / "recipe.json").read_text())["steps"] == 2


def test_resume_differences_allow_step_marks_the_run_has_not_reached():
    from vidcolor.training.colorize import ColorizeRecipe

    saved = json.loads(json.dumps(dataclasses.asdict(DequantizeRecipe(steps=10, decay_from=6))))
    assert DequantizeRecipe(steps=20, decay_from=12).resume_differences(saved, 4) == []     # decay not begun
    assert DequantizeRecipe(steps=20, decay_from=6).resume_differences(saved, 4) == []
    assert DequantizeRecipe(steps=20).resume_differences(saved, 4) == []                  # decay dropped before it
    assert DequantizeRecipe(steps=10, decay_from=3).resume_differences(saved, 4) == ["decay_from 6 there, 3 here"]
    late = DequantizeRecipe(steps=20, decay_from=6).resume_differences(saved, 8)         # decayed over 10 steps so far
    assert late == ["steps 10 there, 20 here"]
    assert DequantizeRecipe(steps=10, decay_from=6, lr=1e-3).resume_differences(saved, 0) == [
        "lr 0.0002 there, 0.001 here"]
    older = {k: v for k, v in saved.items() if k != "smooth_weight"}                     # an older recipe.json
    assert DequantizeRecipe(steps=10, decay_from=6).resume_differences(older, 4) == []
    col = json.loads(json.dumps(dataclasses.asdict(ColorizeRecipe(steps=10, unfreeze_stages=2, unfreeze_at=3))))
    assert ColorizeRecipe(steps=10, unfreeze_stages=2, unfreeze_at=3).resume_differences(col, 5) == []
    assert ColorizeRecipe(steps=10, unfreeze_stages=2, unfreeze_at=6).resume_differences(col, 5) == [
        "unfreeze_at 3 there, 6 here"]
    assert ColorizeRecipe(steps=20, unfreeze_stages=2, unfreeze_at=6).resume_differences(col, 3) == []
    # training audit: fewer steps than the run has done was allowed (no decay): the resume stopped at once and
    # re-exported the weights of step 8 under a recipe.json of 5 steps
    plain = json.loads(json.dumps(dataclasses.asdict(DequantizeRecipe(steps=10))))
    # training audit: `--data pack/` (a shell's tab completion) resuming a run of `--data pack` was refused as
    # "a run of another recipe (data 'pack' there, 'pack/' here)"
    packed = json.loads(json.dumps(dataclasses.asdict(DequantizeRecipe(steps=10, data="pack"))))
    assert DequantizeRecipe(steps=10, data="pack/").resume_differences(packed, 4) == []
    assert DequantizeRecipe(steps=10, data="./pack").resume_differences(packed, 4) == []
    assert DequantizeRecipe(steps=10, data="pack2").resume_differences(packed, 4) == ["data 'pack' there, 'pack2' here"]
    assert DequantizeRecipe(steps=5).resume_differences(plain, 8) == ["steps 10 there, 5 here"]
    assert DequantizeRecipe(steps=8).resume_differences(plain, 8) == []


def test_a_generator_value_its_constructor_refuses_is_a_value_error(photos):
    # what the recipe's check lets through to the constructor: its TypeError becomes the ValueError of a bad recipe
    from vidcolor.training.colorize import ColorizeRecipe, build_colorizer
    from vidcolor.training.exemplar import ExemplarRecipe, build_exemplar
    from vidcolor.training.loop import build_generator

    r = tiny_recipe(photos)
    r.generator = {"ngf": "x"}                    # set after the recipe's check
    with pytest.raises(ValueError, match="generator {'ngf': 'x'}"):
        build_generator(r)
    c = ColorizeRecipe(generator="fcn", head="ab")
    c.generator_kwargs = {"width": "x"}
    with pytest.raises(ValueError, match="generator_kwargs {'width': 'x'}"):
        build_colorizer(c)
    e = ExemplarRecipe(init_from="")
    e.generator_kwargs = {"widths": 8}
    with pytest.raises(ValueError, match="generator_kwargs {'widths': 8}"):
        build_exemplar(e, pretrained=False)


@pytest.mark.parametrize("job, table, said", [
    ("dequantize", "generator = { ngf = 4, depthh = 2 }", "unknown keys ['depthh']"),
    ("dequantize", 'generator = "big"', "generator must be a table"),
    ("dequantize", 'generator = { ngf = "x", depth = 2 }', "ngf must be a whole number >= 1, got 'x'"),
    ("colorize", "generator_kwargs = { widthz = [8, 8, 8, 8] }", "unknown keys ['widthz']"),
    ("colorize", "generator_kwargs = { widths = 8 }", "widths must be 4 whole numbers >= 1, got 8"),
    ("exemplar", "generator_kwargs = { tau = 1.0 }", "unknown keys ['tau']")])
def test_cli_train_bad_generator_table_is_one_line(tmp_path, photos, job, table, said):
    # training audit, stop 63: a misspelled key or a value of the wrong type in the generator's table was a
    # 44-line TypeError traceback
    lines = [line for line in toml_for(photos).splitlines() if not line.startswith(("generator", "ndf"))]
    (tmp_path / "r.toml").write_text("\n".join(lines + [table, 'init_from = ""' if job == "exemplar" else ""]) + "\n")
    res = invoke_cli("train", job, "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "bad recipe" in res.stderr and said in res.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("job, bad, named", [
    ("dequantize", "retro_share = -0.5", "retro_share"), ("dequantize", "identity = 1.5", "identity"),
    ("dequantize", "generator = { ngf = 0, depth = 2 }", "ngf"), ("dequantize", "crop = 1", "crop"),
    ("dequantize", 'adv_weight = "lots"', "adv_weight"), ("dequantize", "seed = -1", "seed"),
    ("colorize", "temperature = 0", "temperature"), ("colorize", "unfreeze_at = -1", "unfreeze_at"),
    ("colorize", "generator_kwargs = { widths = [8, 8, 0, 8] }", "widths"),
    ("exemplar", 'mismatch = "lots"', "mismatch"), ("exemplar", "tau = 0", "tau")])
def test_cli_train_out_of_range_value_is_one_line_before_the_run_folder(tmp_path, photos, job, bad, named):
    # training audit, stop 63: these failed after the run folder was made, with a traceback
    key = bad.split(" = ")[0]
    lines = [line for line in toml_for(photos).splitlines() if not line.startswith((key, "generator", "ndf"))]
    if job == "dequantize" and key != "generator":
        lines.append("generator = { ngf = 4, depth = 2 }")
    lines += [bad, "ndf = 4", 'init_from = ""' if job == "exemplar" else ""]
    (tmp_path / "r.toml").write_text("\n".join(lines) + "\n")
    res = invoke_cli("train", job, "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "bad recipe" in res.stderr and named in res.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("generator", ["fcn", "unet"])
def test_cli_train_unfreeze_stages_on_a_generator_without_an_encoder_is_one_line_before_the_run_folder(
        tmp_path, photos, generator):
    # training audit: unfreeze_stages on the fcn or unet colorizer trained up to unfreeze_at and was an
    # AttributeError traceback there ('FCNColorizer' object has no attribute 'encoder'), the run folder left behind
    table = {"fcn": "{ width = 4, depth = 2 }", "unet": "{ ngf = 4, depth = 2 }"}[generator]
    lines = [line for line in toml_for(photos).splitlines() if not line.startswith(("generator", "ndf", "steps"))]
    lines += [f'generator = "{generator}"', 'head = "ab"', f"generator_kwargs = {table}", "ndf = 4", "steps = 3",
              "unfreeze_stages = 2", "unfreeze_at = 1"]
    (tmp_path / "r.toml").write_text("\n".join(lines) + "\n")
    res = invoke_cli("train", "colorize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "unfreeze_stages" in res.stderr and "effnet_unet" in res.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("bad", ["ce_weight = 2.0", "lambda_l1 = 10.0", "ndf = 8", "adv_weight = 0.5"])
def test_cli_train_exemplar_refuses_a_colorize_field_it_does_not_read(tmp_path, photos, bad):
    # training audit: the exemplar loop's loss is the cross-entropy alone and it has no critic, but ce_weight,
    # lambda_l1, adv_weight, critic_steps, gp_weight and ndf were taken and silently ignored (the run trained)
    lines = [line for line in toml_for(photos).splitlines() if not line.startswith(("generator", "ndf"))]
    (tmp_path / "r.toml").write_text("\n".join(lines + ['init_from = ""', bad]) + "\n")
    res = invoke_cli("train", "exemplar", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert f"does not use {bad.split(' = ')[0]}" in res.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("job, bad, said", [
    ("dequantize", "data = 5", "data must be a string"), ("dequantize", "video = true", "video must be a string"),
    ("dequantize", "retro = 3", "retro must be a string"), ("colorize", "init_from = 3", "init_from must be a string"),
    ("dequantize", 'data = ""', "data must name a folder"),
    ("dequantize", 'kinds = "uniform"', "kinds must be a non-empty list"),
    ("dequantize", 'consistency = "false"', "consistency must be true or false")])
def test_cli_train_a_folder_or_list_of_the_wrong_type_is_one_line_before_the_run_folder(tmp_path, photos, job, bad,
                                                                                          said):
    # training audit: a number or bool for a folder (data, video, retro, init_from) was a TypeError traceback from
    # the data setup; data = "" trained on every image under the current folder; kinds = "uniform" was read as
    # its letters; consistency = "false" (a non-empty string) switched the consistency terms on
    key = bad.split(" = ")[0]
    lines = [line for line in toml_for(photos).splitlines() if not line.startswith((key, "generator", "ndf"))]
    lines += ["generator = { ngf = 4, depth = 2 }"] if job == "dequantize" else []
    (tmp_path / "r.toml").write_text("\n".join(lines + [bad, "ndf = 4"]) + "\n")
    res = invoke_cli("train", job, "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert said in res.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("job, bad", [("dequantize", 'mode = "RGB"'), ("dequantize", 'mode = "xyz"'),
                                      ("colorize", 'head = "foo"')])
def test_cli_train_unknown_mode_or_head_is_refused(tmp_path, photos, job, bad):
    # training audit, stop 63: an unknown mode trained as lab, an unknown head as ab, and wrote weights that load
    lines = [line for line in toml_for(photos).splitlines() if not line.startswith(("generator", "ndf"))]
    lines += [bad] + (["generator = { ngf = 4, depth = 2 }"] if job == "dequantize" else
                      ['generator = "fcn"', "generator_kwargs = { width = 4, depth = 2 }"])
    (tmp_path / "r.toml").write_text("\n".join(lines) + "\n")
    res = invoke_cli("train", job, "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    value = bad.split(" = ")[1].replace('"', "'")
    assert "bad recipe" in res.stderr and value in res.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["sub/tiny", "", "..", "a\\\\b"])
def test_cli_train_name_that_is_not_a_file_name_is_refused_at_load(tmp_path, photos, name):
    # training audit, stop 63: a name with a slash trained the whole run and failed at the export
    lines = [line for line in toml_for(photos).splitlines() if not line.startswith("name")]
    (tmp_path / "r.toml").write_text("\n".join(lines + [f'name = "{name}"']) + "\n")
    res = invoke_cli("train", "dequantize", "r.toml", cwd=tmp_path)
    assert_one_line_error(res)
    assert "bad recipe: r.toml: name must be a plain file name" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.toml"]           # no runs/<name> folder


def test_training_rounds_16_bit_gray_as_the_inference_path_does():
    # one copy, in vidcolor.io.files (vidcolor.io.animated imports PyAV, which training from a pack must not need)
    from vidcolor.io import animated
    from vidcolor.training import data

    assert data.GRAY16_MODES is animated.GRAY16_MODES and data.round16 is animated.round16


@pytest.mark.parametrize("progressive", [False, True])
def test_check_images_refuses_a_jpeg_short_of_its_last_bytes(tmp_path, progressive):
    """Review of the stop's diff: the check decoded every photo whole (minutes for 10,000 12-MP photos at every
    start); a JPEG is decoded at 1/8 scale now, which still reads the whole stream: a file short of only its
    end marker is still refused."""
    from vidcolor.training.data import check_images
    rng = np.random.default_rng(0)
    path = tmp_path / "p.jpg"
    Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(path, quality=90,
                                                                               progressive=progressive)
    check_images([path], 32)
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(ValueError, match="p.jpg cannot be read"):
        check_images([path], 32)
