"""Where tensors are computed: the device a run or a training run asks for, resolved once (no torch import
where no GPU can be)."""
from __future__ import annotations

import ctypes
import os
import re
import sys

from vidcolor.errors import VidcolorError, option

NVIDIA_NODES = ("/dev/nvidiactl", "/dev/dxg")
"""Device files of an NVIDIA driver (Linux; WSL): without one no CUDA GPU can be used, and ``auto`` picks
the CPU without importing torch (whose import is most of a CPU run's start-up)."""


NVENC_FALLBACK = {"h264_nvenc": "libx264", "hevc_nvenc": "libx265"}
"""ffmpeg's NVIDIA encoders, each with the software encoder of its format (:func:`check_nvenc`)."""


def nvidia_driver() -> bool:
    """Whether an NVIDIA driver may be here for ffmpeg's NVENC encoders, by cheap signs alone (no torch, no GPU
    opened): one of :data:`NVIDIA_NODES` exists and the driver's ``libcuda.so.1`` loads (what ffmpeg's NVENC loads
    first: "Cannot load libcuda.so.1" without it). True off Linux, where those signs are not these (ffmpeg says)."""
    if not sys.platform.startswith("linux"):
        return True
    if not any(os.path.exists(p) for p in NVIDIA_NODES):
        return False
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def check_nvenc(codec: str) -> None:
    """Refuse an NVENC ``codec`` (:data:`NVENC_FALLBACK`) where no NVIDIA driver is (:func:`nvidia_driver`), before
    a model loads: ffmpeg said "h264_nvenc: Cannot load libcuda.so.1" once the first frame was made. Other codecs
    pass.

    Raises:
        VidcolorError: one line naming the codec and the software encoder to use instead.
    """
    if codec in NVENC_FALLBACK and not nvidia_driver():
        raise VidcolorError(f"{option(f'codec={codec!r}')}: no NVIDIA driver here (NVENC needs one): use "
                            f"{option(f'codec={NVENC_FALLBACK[codec]!r}')}")


DEVICE_TYPES = ("cpu", "cuda")
"""The kinds of torch device vidcolor runs on (:func:`device_type`)."""

_FORM = re.compile(r"auto|(cpu|cuda)(?::(0|[1-9][0-9]*))?")
"""``auto``, and the CPU and CUDA devices as ``torch.device`` writes them (``cpu``, ``cpu:0``, ``cuda``, ``cuda:1``;
torch refuses ``cuda:01``, ``CUDA``, ``cuda: 1``): :func:`parse_device`."""


def as_str(device):
    """``device``, a ``torch.device`` written as a str (``torch.device("cuda", 1)`` -> ``"cuda:1"``; without importing
    torch); anything else as it is."""
    if type(device).__module__ == "torch" and type(device).__name__ == "device":
        return str(device)
    return device


def parse_device(device) -> tuple[str, int | None] | None:
    """``(type, index)`` of a device vidcolor takes, known without torch: ``"auto"`` -> ``("auto", None)``,
    ``"cpu:0"`` -> ``("cpu", 0)``, ``"cuda"`` -> ``("cuda", None)``, ``"cuda:1"`` and ``torch.device("cuda", 1)`` ->
    ``("cuda", 1)``; None for anything else (``"gpu"``, ``"cuda:01"``, ``"mps"``, a number). The one reading of the
    device's syntax: :func:`pick_device`, the CLI's ``--device`` (:class:`vidcolor.cli.DeviceName`) and the Ray
    executor's :func:`vidcolor.distributed.check_device` use it."""
    device = as_str(device)
    m = _FORM.fullmatch(device) if isinstance(device, str) else None
    if m is None:
        return None
    return ("auto", None) if m[1] is None else (m[1], None if m[2] is None else int(m[2]))


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
    device = as_str(device)
    if not isinstance(device, str):
        raise VidcolorError(f"{option('device')} must be a str (auto, cpu, cuda or cuda:N), got "
                            f"{type(device).__name__} {device!r}")
    if device == "cpu" or (device == "auto" and not any(os.path.exists(p) for p in NVIDIA_NODES)):
        return "cpu"
    parsed = parse_device(device)
    if parsed is not None and parsed[0] == "cpu":
        return "cpu"
    import torch

    if parsed is None:                  # torch tells a device it does not know from one vidcolor does not run on
        try:
            torch.device(device)
        except (RuntimeError, ValueError, TypeError):
            raise VidcolorError(f"unknown {option('device')} {device!r} (auto, cpu, cuda or cuda:N, as torch writes "
                                "them)") from None
        raise VidcolorError(f"{option(f'device={device!r}')}: vidcolor runs on the CPU or a CUDA GPU (auto, cpu, "
                            "cuda or cuda:N)")
    kind, index = parsed
    available = torch.cuda.is_available()
    if kind == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise VidcolorError(option(f"device={device!r}") + ": no CUDA GPU available (this torch build or machine has "
                                                           "none)")
    if index is None:
        return "cuda"
    count = torch.cuda.device_count()
    if index >= count:
        raise VidcolorError(option(f"device={device!r}") + f": this machine has {count} CUDA GPU"
                            f"{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1})")
    return f"cuda:{index}"
