"""Where tensors are computed: the device a run or a training run asks for, resolved once (no torch import
where no GPU can be)."""
from __future__ import annotations

import os
import re

from vidcolor.errors import VidcolorError, option

NVIDIA_NODES = ("/dev/nvidiactl", "/dev/dxg")
"""Device files of an NVIDIA driver (Linux; WSL): without one no CUDA GPU can be used, and ``auto`` picks
the CPU without importing torch (whose import is most of a CPU run's start-up)."""


DEVICE_TYPES = ("cpu", "cuda")
"""The kinds of torch device vidcolor runs on (:func:`device_type`)."""

_CPU = re.compile(r"cpu(:(0|[1-9][0-9]*))?")
"""The CPU as ``torch.device`` writes it (``cpu``, ``cpu:0``; the index is not used): known without torch."""


def device_type(device: str) -> str:
    """The kind of a device :func:`pick_device` returned: ``"cpu"`` or ``"cuda"`` (``"cuda:1"`` -> ``"cuda"``)."""
    return device.partition(":")[0]


def pick_device(device="auto") -> str:
    """The device to compute on, as a str: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    ``auto`` -> ``"cuda"`` when torch can use a GPU, else ``"cpu"`` (torch is asked only on a machine with an NVIDIA
    driver, :data:`NVIDIA_NODES`); ``cpu`` and ``cuda`` are kept. Any other device torch writes (a str that
    ``torch.device`` takes, or a ``torch.device``) of a type in :data:`DEVICE_TYPES` is taken too: ``"cpu:0"`` ->
    ``"cpu"``, ``"cuda:1"`` and ``torch.device("cuda", 1)`` -> ``"cuda:1"`` (checked: that GPU must exist). ``"cpu"``,
    ``"auto"`` and ``"cpu:N"`` never import torch.

    Raises:
        VidcolorError: a device torch does not know (``"gpu"``, ``"cuda:x"``) or vidcolor does not run on
            (``"mps"``, ``"meta"``), ``cuda`` without a usable GPU, ``cuda:N`` without a GPU N.
    """
    if type(device).__module__ == "torch" and type(device).__name__ == "device":
        device = str(device)                # torch.device("cuda", 1) -> "cuda:1"
    if not isinstance(device, str):
        raise VidcolorError(f"{option('device')} must be a str (auto, cpu, cuda or cuda:N), got "
                            f"{type(device).__name__} {device!r}")
    if device == "cpu" or (device == "auto" and not any(os.path.exists(p) for p in NVIDIA_NODES)):
        return "cpu"
    if _CPU.fullmatch(device):
        return "cpu"
    import torch

    if device not in ("auto", "cuda"):
        try:
            parsed = torch.device(device)
        except (RuntimeError, ValueError, TypeError):
            raise VidcolorError(f"unknown {option('device')} {device!r} (auto, cpu, cuda or cuda:N, as torch writes "
                                "them)") from None
        if parsed.type not in DEVICE_TYPES:
            raise VidcolorError(f"{option(f'device={device!r}')}: vidcolor runs on the CPU or a CUDA GPU (auto, cpu, "
                                "cuda or cuda:N)")
    available = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise VidcolorError(option(f"device={device!r}") + ": no CUDA GPU available (this torch build or machine has "
                                                           "none)")
    if device == "cuda" or parsed.index is None:
        return "cuda"
    count = torch.cuda.device_count()
    if parsed.index >= count:
        raise VidcolorError(option(f"device={device!r}") + f": this machine has {count} CUDA GPU"
                            f"{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1})")
    return f"cuda:{parsed.index}"
