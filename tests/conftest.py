"""Shared fixtures: tiny untrained generators, small generated clips.

Everything is generated here (no bundled weights, no network). Clips are 64x48, 10 frames at 10 fps,
so that a CLI run costs mostly the interpreter start.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from helpers import SHARED_DATA, TINY_GENERATOR, decode_all, make_clip


def pytest_configure(config):
    # the suite shares 2 cores with long training jobs: keep this process single-threaded
    import os
    import tempfile

    import torch

    torch.set_num_threads(1)
    # exported ONNX graphs of the tests' tiny models (and their CLI runs') go to a throw-away cache
    config._vidcolor_cache = tempfile.TemporaryDirectory(prefix="vidcolor-test-cache-")
    os.environ["VIDCOLOR_CACHE"] = config._vidcolor_cache.name


def pytest_unconfigure(config):
    if hasattr(config, "_vidcolor_cache"):
        config._vidcolor_cache.cleanup()


@pytest.fixture(scope="session")
def ffmpeg_exe() -> str:
    from vidcolor.io import find_ffmpeg

    return find_ffmpeg()


@pytest.fixture(scope="session")
def clip(tmp_path_factory, ffmpeg_exe) -> Path:
    """64x48, 10 frames, 10 fps, H.264 + AAC in mp4. Shared: copy it before writing beside it."""
    return make_clip(ffmpeg_exe, tmp_path_factory.mktemp("clip") / "clip.mp4")


@pytest.fixture(scope="session")
def clip_frames(clip) -> np.ndarray:
    """The clip decoded by PyAV directly, ``(10, 48, 64, 3)`` uint8."""
    return decode_all(str(clip))[0]


@dataclass(frozen=True)
class TinyModels:
    lab: Path
    rgb: Path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    """Untrained (identity) generators, ngf 4, depth 2, saved as fp16 safetensors with their arch."""
    import torch

    from vidcolor.training.loop import DequantizeRecipe, build_generator
    from vidcolor.weights import save_generator

    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for mode in ("lab", "rgb"):
        torch.manual_seed(0)
        gen, arch = build_generator(DequantizeRecipe(mode=mode, generator=dict(TINY_GENERATOR)))
        paths[mode] = folder / f"tiny-{mode}.safetensors"
        save_generator(gen, paths[mode], arch)
    return TinyModels(**paths)


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` beside the repository; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} absent")
    return SHARED_DATA


@dataclass(frozen=True)
class TinyColorizers:
    fcn: Path          # ab regression, untrained
    effnet_bins: Path  # EfficientNet-Lite0 U-Net classifying ab bins, untrained, random encoder
    exemplar: Path     # the same with reference matching and hint branches (colorize-reference job)


@pytest.fixture(scope="session")
def tiny_colorizers(tmp_path_factory) -> TinyColorizers:
    """Untrained colorizers saved as vidcolor weight files (no pretrained checkpoint needed)."""
    import torch

    from vidcolor.training.colorize import ColorizeRecipe, build_colorizer
    from vidcolor.training.exemplar import ExemplarRecipe, build_exemplar
    from vidcolor.weights import save_generator

    folder = tmp_path_factory.mktemp("colorizers")
    torch.manual_seed(0)
    fcn, arch = build_colorizer(ColorizeRecipe(generator="fcn", head="ab", generator_kwargs={"width": 4, "depth": 2}))
    save_generator(fcn, folder / "fcn.safetensors", arch)
    eff, arch = build_colorizer(ColorizeRecipe(generator="effnet_unet", head="bins",
                                               generator_kwargs={"widths": [8, 8, 8, 8]}), pretrained=False)
    save_generator(eff, folder / "effnet.safetensors", arch)
    ex, arch = build_exemplar(ExemplarRecipe(init_from="", generator_kwargs={"widths": [8, 8, 8, 8]}), pretrained=False)
    save_generator(ex, folder / "exemplar.safetensors", arch)
    return TinyColorizers(folder / "fcn.safetensors", folder / "effnet.safetensors", folder / "exemplar.safetensors")


@pytest.fixture(scope="session")
def gradient() -> np.ndarray:
    """A smooth 96x128 colour gradient with a little texture, uint8 (H, W, 3)."""
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    rng = np.random.default_rng(0)
    img = np.stack([x * 1.9 + 5, y * 2.4 + 10, (x + y) * 1.0 + 8], -1) + rng.normal(0, 0.8, (96, 128, 3))
    return np.clip(img, 0, 255).astype(np.uint8)
