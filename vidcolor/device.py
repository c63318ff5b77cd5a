"""Where tensors are computed: the device a run or a training run asks for, resolved once (no torch import
where no GPU can be)."""
from __future__ import annotations

import os

from vidcolor.errors import VidcolorError, option

NVIDIA_NODES = ("/dev/nvidiactl", "/dev/dxg")
"""Device files of an NVIDIA driver (Linux; WSL): without one no CUDA GPU can be used, and ``auto`` picks
the CPU without importing torch (whose import is most of a CPU run's start-up)."""


def pick_device(device: str = "auto") -> str:
    """``"cuda"`` or ``"cpu"``: ``auto`` -> CUDA when torch can use a GPU, else CPU (torch is asked only on a
    machine with an NVIDIA driver, :data:`NVIDIA_NODES`).

    Raises:
        VidcolorError: ``cuda`` without a usable GPU, or an unknown device name.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise VidcolorError(f"unknown device {device!r} (auto, cpu or cuda)")
    if device == "cpu" or (device == "auto" and not any(os.path.exists(p) for p in NVIDIA_NODES)):
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise VidcolorError(option("device='cuda'") + ": no CUDA GPU available (this torch build or machine has none)")
    return "cpu"
