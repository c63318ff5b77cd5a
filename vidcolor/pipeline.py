"""Batching, device placement and the run loops that carry frames from a source to a sink."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from vidcolor.color import denormalize_lab, lab_to_rgb, model_input
from vidcolor.errors import VidcolorError
from vidcolor.models.unet import level_histogram
from vidcolor.weights import DEFAULTS, load_generator

FrameBatchFn = Callable[[np.ndarray], np.ndarray]
"""Maps uint8 RGB ``(N, H, W, 3)`` to uint8 RGB ``(N, H, W, 3)``."""


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when present, else CPU. Raises VidcolorError for ``cuda`` without a GPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise VidcolorError("--device cuda: no CUDA GPU available (this torch build or machine has none)")
    if device not in ("cpu", "cuda"):
        raise VidcolorError(f"unknown device {device!r} (auto, cpu or cuda)")
    return torch.device(device)


class Dequantizer:
    """Dequantize batches of frames with a trained generator (Pix2Pix-FQ, seed 000).

    LAB models: RGB -> LAB, the generator corrects the colour channels ab (and, for ``lab`` models,
    the luminance L, which quantization bands too), then LAB -> RGB. With ``restore_luminance=False``
    the source L is kept (the paper's colour entanglement, seed 000 section 3.1). RGB models (the
    pix2pix baseline) work on RGB directly.

    Args:
        model: registry name or safetensors path (see :mod:`vidcolor.weights`).
        device: ``auto``, ``cpu`` or ``cuda`` (half precision on CUDA).
        restore_luminance: None = what the model was trained for.

    ``__call__(frames uint8 (N, H, W, 3)) -> uint8 (N, H, W, 3)``.
    """

    def __init__(self, model: str = DEFAULTS["dequantize"], device: str = "auto", restore_luminance: bool | None = None):
        self.device = pick_device(device)
        self.generator, self.arch = load_generator(model, self.device)
        if self.arch.get("job", "dequantize") != "dequantize":
            raise VidcolorError(f"model {model!r} is a {self.arch['job']} model, not a dequantization model")
        self.mode = self.arch["mode"]
        self.restore_luminance = self.mode == "lab" if restore_luminance is None else restore_luminance
        self.dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        self.generator = self.generator.to(self.dtype).to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        hist = torch.from_numpy(level_histogram(frames)).to(self.device, self.dtype)
        x = model_input(frames, self.mode)
        xt = torch.from_numpy(x).to(self.device).permute(0, 3, 1, 2).to(self.dtype, memory_format=torch.channels_last)
        y = self.generator(xt, hist).float().permute(0, 2, 3, 1).cpu().numpy()
        if self.mode == "rgb":
            return np.clip((y + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
        out = np.concatenate([x[..., :1], y], -1) if self.mode == "ab" else y
        out = denormalize_lab(out)
        if not self.restore_luminance:
            out[..., 0] = denormalize_lab(x)[..., 0]
        return lab_to_rgb(out)


def batched(frames: Iterable[np.ndarray], fn: FrameBatchFn, batch_size: int) -> Iterator[np.ndarray]:
    """Run ``fn`` over ``frames`` (each uint8 ``(H, W, 3)``) in batches of ``batch_size``; yield frames in order."""
    if batch_size < 1:
        raise VidcolorError("--batch-size must be at least 1")
    batch: list[np.ndarray] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == batch_size:
            yield from fn(np.stack(batch))
            batch.clear()
    if batch:
        yield from fn(np.stack(batch))


@dataclass
class RunSummary:
    """What a run did: frames written, wall time (seconds) and throughput (frames per second)."""

    frames: int
    seconds: float
    output: str

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.2f} fps) -> {self.output}"


def run(frames: Iterable[np.ndarray], fn: FrameBatchFn, write: Callable[[np.ndarray], None], batch_size: int,
        total: int | None, output: str, progress: bool = True, unit: str = "frame") -> RunSummary:
    """Stream ``frames`` through ``fn`` into ``write`` with a tqdm bar on stderr; return the summary."""
    start = time.perf_counter()
    n = 0
    with tqdm(total=total or None, unit=unit, disable=not progress, dynamic_ncols=True, leave=False) as bar:
        for out in batched(frames, fn, batch_size):
            write(out)
            n += 1
            bar.update(1)
    return RunSummary(n, time.perf_counter() - start, output)
