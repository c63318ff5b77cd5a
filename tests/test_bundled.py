"""The bundled weights: every registry entry loads, has its card and recipe, and fits the size budget.

The slow test measures the default model on a real DAVIS clip (never trained on) and needs
../shared/data; run it with ``python -m pytest -m slow``.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from vidcolor.jobs import DEFAULTS
from vidcolor.weights import REGISTRY, WEIGHTS_DIR, load_generator

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_entry_loads_with_card_and_recipe(name):
    model, arch = load_generator(name)
    modes = {"dequantize": ("lab", "ab", "rgb"), "colorize": ("bins", "ab"), "colorize-reference": ("bins",)}[arch["job"]]
    assert name.startswith(arch["job"].split("-")[0]) and arch["mode"] in modes
    assert sum(p.numel() for p in model.parameters()) > 100_000
    assert (WEIGHTS_DIR / f"{name}.md").is_file()
    assert (ROOT / "train" / f"{name}.toml").is_file()
    assert (ROOT / "train" / name / "log.csv").is_file()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_card_records_the_sha256_of_its_weight_file(name):
    """The card belongs to the bundled file: its one weight-file line names the file and holds the sha256 of the
    file's bytes (a weight file replaced without re-publishing its card, or a card copied from another run, fails)."""
    card = (WEIGHTS_DIR / f"{name}.md").read_text()
    stamps = re.findall(r"^- Weight file: `vidcolor/weights/([^`]+)`, sha256 `([0-9a-f]{64})`\.$", card, re.M)
    assert stamps == [(REGISTRY[name], hashlib.sha256((WEIGHTS_DIR / REGISTRY[name]).read_bytes()).hexdigest())]


def _publish():
    """``train/publish.py`` as a module (the script that writes the cards)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("publish", ROOT / "train" / "publish.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_card_is_what_publish_stamps_from_the_current_benchmark(name, tmp_path, monkeypatch):
    """Re-stamping a copy of the card with publish.py's own code, its validation table from the JSON of the
    benchmark it names (docs/<benchmark>.json, as written now), leaves it byte for byte as committed: the
    weight-file line has publish.py's wording and place, and no number of the table is older than the JSON."""
    import shutil

    publish = _publish()
    for f in (f"{name}.md", REGISTRY[name]):
        shutil.copy(WEIGHTS_DIR / f, tmp_path / f)
    card = (WEIGHTS_DIR / f"{name}.md").read_text()
    bench = re.search(r"^## Validation \(`benchmarks/(\w+)\.py`", card, re.M)
    monkeypatch.setattr(publish, "WEIGHTS_DIR", tmp_path)
    publish.restamp(name, bench and ROOT / "docs" / f"{bench[1]}.json", [])
    assert (tmp_path / f"{name}.md").read_text() == card


def test_example_photos_are_held_back_from_training(shared_data):
    """The bundled example clips and reference (examples/make_example.py) are made from photos that training
    holds back, so that the README's figures on them are on unseen content: a photo of the training split (as
    the first examples' raccoon-103, -112, -117 and -113 were) fails."""
    import importlib.util

    from vidcolor.training.data import list_images, split_holdout

    spec = importlib.util.spec_from_file_location("make_example", ROOT / "examples" / "make_example.py")
    make_example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_example)
    held = {p.name for p in split_holdout(list_images(shared_data / "train"))[1]}
    assert len(make_example.PHOTOS) == 3 and set(make_example.PHOTOS + [make_example.REFERENCE]) <= held


def test_default_models_are_registered():
    assert set(DEFAULTS.values()) <= set(REGISTRY)


def test_bundled_weights_under_60_mb():
    assert sum((WEIGHTS_DIR / f).stat().st_size for f in REGISTRY.values()) < 60e6


def test_trained_colorizer_colours_a_gray_frame():
    """An untrained bin classifier gives noise and an untrained U-Net gray; the trained default gives
    coherent colour: chroma present, and smooth across a smooth gray gradient."""
    from vidcolor.color import rgb_to_lab
    from vidcolor.pipeline import Colorizer

    y, x = np.mgrid[0:96, 0:128]
    gray = np.repeat(((x + y) * 0.9 + 20).clip(0, 255).astype(np.uint8)[..., None], 3, -1)
    out = Colorizer(DEFAULTS["colorize"], "cpu", render_size=96)(gray[None])[0]
    ab = rgb_to_lab(out)[..., 1:]
    assert np.hypot(ab[..., 0], ab[..., 1]).mean() > 2.0
    assert np.abs(np.diff(ab, axis=1)).mean() < 2.0


def test_trained_exemplar_follows_the_reference():
    """The same gray frame with a red and with a blue copy of itself as the reference: the trained
    exemplar model's colours follow each (an untrained one, zero-initialised hint branches, ignores both)."""
    from vidcolor.color import lab_to_rgb, rgb_to_lab
    from vidcolor.reference import ReferenceColorizer

    y, x = np.mgrid[0:96, 0:128]
    L = (30 + 40 * np.sin(x / 9.0) * np.cos(y / 13.0) + 0.2 * x).astype(np.float32)
    gray = lab_to_rgb(np.stack([L, 0 * L, 0 * L], -1))
    means = []
    for a, b in ((55.0, 40.0), (10.0, -55.0)):          # red, blue
        ref = lab_to_rgb(np.stack([L, np.full_like(L, a), np.full_like(L, b)], -1))
        out = ReferenceColorizer([ref], DEFAULTS["colorize-reference"], "cpu", render_size=96)(gray[None])[0]
        means.append(rgb_to_lab(out)[..., 1:].reshape(-1, 2).mean(0))
    (a_red, b_red), (a_blue, b_blue) = means
    assert a_red - a_blue > 10 and b_red - b_blue > 20


def test_trained_default_is_not_the_identity():
    """A trained generator changes a quantized frame; an untrained one (zero-init head) would not."""
    from vidcolor.pipeline import Dequantizer
    from vidcolor.training.degrade import quantize_uniform

    y, x = np.mgrid[0:64, 0:96]
    smooth = np.stack([x * 2.5, y * 3.5, (x + y) * 1.5], -1).clip(0, 255).astype(np.uint8)
    coarse = quantize_uniform(smooth, 4, "floor")
    out = Dequantizer(DEFAULTS["dequantize"], "cpu", consistency=False)(coarse[None])[0]
    assert np.abs(out.astype(int) - coarse).mean() > 1.0


def test_a_black_and_white_frame_stays_black_and_white():
    """A gray 4-bit frame (R == G == B) came out tinted: the trained generator's chroma correction gave some pixels
    a colour of up to 4 levels. Its truth is gray, so its output is too; the colour frame beside it in the batch
    keeps its colour correction, and the gray frame's brightness correction stays."""
    from vidcolor.pipeline import Dequantizer
    from vidcolor.training.degrade import quantize_uniform

    y, x = np.mgrid[0:64, 0:96]
    colour = np.stack([x * 2.5, y * 3.5, (x + y) * 1.5], -1).clip(0, 255).astype(np.uint8)
    gray = np.repeat(((x * 2 + y) % 256).astype(np.uint8)[..., None], 3, axis=-1)
    coarse = quantize_uniform(np.stack([gray, colour]), 4, "mid")
    out = Dequantizer(DEFAULTS["dequantize"], "cpu", consistency=False)(coarse).astype(int)
    assert (out[0] == out[0, ..., :1]).all()
    assert np.abs(out[0] - coarse[0]).mean() > 0.5                       # corrected, not left as it was
    assert (np.abs(out[1, ..., 0] - out[1, ..., 1]) != np.abs(coarse[1, ..., 0].astype(int) - coarse[1, ..., 1])).any()


def _held_back_clip(shared_data, n: int, size=(640, 360)) -> np.ndarray:
    """The first ``n`` frames of a DAVIS clip that dequantize training holds back (goat), at ``size``."""
    import cv2

    from vidcolor.io import VideoReader
    from vidcolor.training.data import split_clips

    clip = next(p for p in split_clips(shared_data / "video")[1] if p.stem == "davis_goat")
    frames = []
    for f in VideoReader(clip):
        frames.append(cv2.resize(f, size, interpolation=cv2.INTER_AREA))
        if len(frames) == n:
            break
    return np.stack(frames)


@pytest.mark.slow
def test_default_model_beats_4bit_truncated_input_on_a_held_back_clip(shared_data):
    from vidcolor.metrics import psnr
    from vidcolor.pipeline import Dequantizer
    from vidcolor.training.degrade import h264_roundtrip, quantize_clip

    original = _held_back_clip(shared_data, 6)
    coarse = np.stack([h264_roundtrip(f, 12) for f in quantize_clip(original, "uniform", bits=4, convention="floor")])
    out = Dequantizer(DEFAULTS["dequantize"], "cpu")(coarse)
    assert psnr(out, original) > psnr(coarse, original) + 1.0


def test_unquantized_footage_passes_unchanged(shared_data):
    """Ordinary footage (a held-back clip through H.264 only): no quantizer is found, the frames come back as they were."""
    from vidcolor.pipeline import Dequantizer
    from vidcolor.training.degrade import h264_roundtrip

    coded = np.stack([h264_roundtrip(f, 12) for f in _held_back_clip(shared_data, 4)])
    fix = Dequantizer(DEFAULTS["dequantize"], "cpu")
    np.testing.assert_array_equal(fix(coded), coded)
    assert fix.quantizers.current.kind == "none"


@pytest.mark.slow
def test_default_model_never_harms_game_footage(shared_data):
    """A held-back Atari game, 2x nearest neighbour, in 16 colours (ffmpeg palettegen) through H.264: the
    output is not below the input (both compared with the lossless original)."""
    from vidcolor.io import VideoReader
    from vidcolor.metrics import psnr
    from vidcolor.pipeline import Dequantizer
    from vidcolor.training.degrade import h264_roundtrip, quantize_ffmpeg

    frames = []
    for f in VideoReader(shared_data / "retro" / "video" / "atari_riverraid_160x210_lossless_rgb.mp4"):
        frames.append(f.repeat(2, 0).repeat(2, 1))
        if len(frames) == 8:
            break
    original = np.stack(frames)
    coarse = np.stack([h264_roundtrip(quantize_ffmpeg(f, 16), 12) for f in original])
    out = Dequantizer(DEFAULTS["dequantize"], "cpu")(coarse)
    assert psnr(out, original) >= psnr(coarse, original) - 0.1


@pytest.mark.slow
def test_exemplar_beats_automatic_with_a_reference_from_the_same_clip(shared_data):
    """A DAVIS clip's frame 0 as the reference, frame 48 as the target (gray): the exemplar model's
    CIEDE2000 is lower than the automatic colorizer's on a clip no model was trained on."""
    from vidcolor.color import lab_to_rgb, rgb_to_lab
    from vidcolor.evaluate import load_frames
    from vidcolor.metrics import ciede2000
    from vidcolor.pipeline import Colorizer
    from vidcolor.reference import ReferenceColorizer

    frames = load_frames(shared_data / "video" / "davis_blackswan.mp4", 49)  # held back from every training run
    ref, truth = frames[0], frames[48]
    lab = rgb_to_lab(truth)
    lab[..., 1:] = 0
    gray = lab_to_rgb(lab)
    auto = Colorizer(DEFAULTS["colorize"], "cpu")(gray[None])[0]
    fast = ReferenceColorizer([ref], DEFAULTS["colorize-reference"], "cpu")(gray[None])[0]
    assert ciede2000(fast, truth) < ciede2000(auto, truth) - 1.0


@pytest.mark.slow
def test_default_colorizer_meets_the_target_on_held_back_clips(shared_data):
    """Issue 4's target on the DAVIS clips training holds back (4 frames of each, 240 px high): at least
    0.6 of the ground truth's colourfulness, and a mean CIEDE2000 no worse than the gray input's."""
    import cv2

    from vidcolor.color import lab_to_rgb, rgb_to_lab
    from vidcolor.evaluate import load_frames
    from vidcolor.metrics import ciede2000, colourfulness
    from vidcolor.pipeline import Colorizer
    from vidcolor.training.data import split_clips

    job = Colorizer(DEFAULTS["colorize"], "cpu")
    truth, gray, out = [], [], []
    for clip in split_clips(shared_data / "video")[1]:
        stack = load_frames(clip)
        for i in np.linspace(0, len(stack) - 1, 6)[1:-1].round().astype(int):
            h, w = stack[i].shape[:2]
            t = cv2.resize(stack[i], (round(w * 240 / h / 2) * 2, 240), interpolation=cv2.INTER_AREA)
            lab = rgb_to_lab(t)
            lab[..., 1:] = 0
            truth.append(t)
            gray.append(lab_to_rgb(lab))
            out.append(job(gray[-1][None])[0])
    ratio = np.mean([colourfulness(o) for o in out]) / np.mean([colourfulness(t) for t in truth])
    assert ratio >= 0.6
    assert np.mean([ciede2000(o, t) for o, t in zip(out, truth)]) <= np.mean([ciede2000(g, t) for g, t in zip(gray, truth)])


@pytest.mark.parametrize("name", ["dequantize-fq-l2", "dequantize-pix2pix-rgb"])
def test_every_stored_strength_has_a_key_the_dequantizer_reads(name):
    """A strength stored under a key nothing reads (a typo given to publish.py --strength) leaves its kind at 1."""
    from vidcolor.pipeline import STRENGTH_KEYS
    from vidcolor.weights import read_arch

    stored = read_arch(name)["strength"]
    assert stored and set(stored) <= set(STRENGTH_KEYS)
