"""Inference engines: a generator from a weight file as a map from named arrays to named arrays.

An engine takes float32 NumPy arrays by name and returns ``{"y": float32 array}``. The names a network
reads are declared by its weight file's ``arch`` (:func:`network_inputs`):

* ``frame``: the network's image input ``(N, C, H, W)`` (each job's ``prepare`` in :mod:`vidcolor.pipeline`
  says what it puts there);
* ``level_cue``: ``(N, CUE_DIM)``, the level-set cue of Pix2Pix-FQ models that read it;
* ``keys``, ``values``: ``(1, M, D)`` / ``(1, M, 2)``, the reference's matching descriptors and ab of the
  exemplar colorizer (computed once per run, bound with :meth:`Engine.bind`).

Two implementations, one contract: :class:`TorchEngine` (PyTorch, CPU or CUDA, fp32 / bf16 autocast /
fp16) and :class:`OnnxEngine` (ONNX Runtime, exported by :func:`export_onnx` from the same weight file).
The engine pads ``frame`` (replicate) to the network's stride multiple and crops the output back, so an
exported graph never depends on the size it was traced at.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import numbers
import os
import re
import sys
from pathlib import Path

import numpy as np

from vidcolor.cache import cache_dir
from vidcolor.cue import CUE_DIM
from vidcolor.device import device_type
from vidcolor.errors import VidcolorError, option, warn
from vidcolor.io.partial import remove_if_dead
from vidcolor.io.writer import write_file_atomically
from vidcolor.jobs import DEFAULT_TILE, MIN_TILE, TILE_OVERLAP
from vidcolor.weights import generator_from_bytes, load_generator, read_arch, resolve

BACKENDS = ("auto", "torch", "onnxruntime")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
OUTPUT = "y"
"""Name of every engine's one output."""


TILED_FAMILIES = ("unet",)
"""Networks that run on the full frame and whose output is the frame's size (the colorizers see a frame
resized to their render size, and pool over it: never tiled)."""


def spans(length: int, core: int, overlap: int = 0):
    """Consecutive cores of ``core`` pixels (the last one shorter) covering ``0 .. length``, each widened by
    ``overlap`` pixels of context on either side (clamped at 0 and ``length``): one axis of :func:`tile_regions`,
    and the strips of rows that :mod:`vidcolor.pipeline` runs per-pixel work in (``overlap`` 0).

    Yields:
        ``((a, b), (c0, c1))``: the region, and the core it contributes, as half-open pixel ranges.
    """
    for c0 in range(0, length, core):
        c1 = min(length, c0 + core)
        yield (max(0, c0 - overlap), min(length, c1 + overlap)), (c0, c1)


def tile_regions(height: int, width: int, tile: int):
    """Tiles of a ``height`` x ``width`` frame: cores of ``tile - 2 * TILE_OVERLAP`` pixels, each with
    :data:`TILE_OVERLAP` pixels of context on every side (clamped at the frame's edges), so that a region
    is at most ``tile`` pixels a side (:func:`spans` on each axis, rows outermost).

    Yields:
        ``((ya, yb, xa, xb), ((y0, y1), (x0, x1)))``: the region to run, and the core it contributes,
        in frame coordinates.
    """
    core = tile - 2 * TILE_OVERLAP
    for (ya, yb), ys in spans(height, core, TILE_OVERLAP):
        for (xa, xb), xs in spans(width, core, TILE_OVERLAP):
            yield (ya, yb, xa, xb), (ys, xs)


def network_inputs(arch: dict) -> tuple[str, ...]:
    """Named inputs of the network an ``arch`` record describes, in the order its ``forward`` takes them.

    ``arch["inputs"]`` when the file declares them; otherwise by family: ``unet`` reads ``frame`` and, when
    built with ``use_histogram``, ``level_cue``; ``exemplar`` reads ``frame``, ``keys``, ``values``; the
    other colorizers ``frame`` only.
    """
    if "inputs" in arch:
        return tuple(arch["inputs"])
    family = arch.get("family")
    if family == "unet" and arch.get("kwargs", {}).get("use_histogram"):
        return ("frame", "level_cue")
    if family == "exemplar":
        return ("frame", "keys", "values")
    return ("frame",)


MAX_STRIDE = 1024
"""The largest multiple (pixels) a network's input is padded to (:func:`stride_multiple`): a U-Net of depth 10. The
bundled models' is 32 or 64."""


def stride_multiple(arch: dict) -> int:
    """The multiple (pixels) a network's input sides are padded to: ``2 ** depth`` for U-Nets (times
    ``space_to_depth``, whose U-Net starts at that fraction of the resolution), else 32.

    Raises:
        VidcolorError: a ``depth`` or ``space_to_depth`` that is no whole number, or a multiple above
            :data:`MAX_STRIDE`: the weight file's (or ``.onnx`` graph's) record would decide how much each frame is
            padded to (depth 40: 2 ** 40 pixels a side).
    """
    if arch.get("family") in ("unet", "unet_colorizer"):
        kwargs = arch.get("kwargs", {})
        depth = kwargs.get("depth", 6 if arch["family"] == "unet_colorizer" else 5)
        factor = kwargs.get("space_to_depth", 1)
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0 for v in (depth, factor)) \
                or depth > 30 or 2 ** depth * factor > MAX_STRIDE:
            raise VidcolorError(f"the model's record gives a U-Net of depth {depth!r} and space_to_depth {factor!r}: "
                                f"its input would be padded to more than {MAX_STRIDE} pixels a side (or to no size)")
        return 2 ** depth * factor
    return 32


def pad_frame(x: np.ndarray, multiple: int) -> np.ndarray:
    """Replicate-pad ``(N, C, H, W)`` at the bottom and right to sides that are multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return x
    return np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge")


def crop_output(y: np.ndarray, size: tuple[int, int], padded: tuple[int, int]) -> np.ndarray:
    """Crop an output computed on a padded input back to the unpadded input's share (any output stride)."""
    (h, w), (hp, wp) = size, padded
    return y[..., : math.ceil(h * y.shape[-2] / hp), : math.ceil(w * y.shape[-1] / wp)]


class Engine:
    """A network as ``__call__(feeds: {name: float32 array}) -> {"y": float32 array}``.

    Attributes:
        inputs: names the network reads (:func:`network_inputs`); every one must be fed or bound.
        backend: ``torch`` or ``onnxruntime``; precision: ``fp32``, ``bf16`` or ``fp16``.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``, where the network runs (:func:`~vidcolor.device.pick_device`).
    """

    inputs: tuple[str, ...] = ()
    backend = ""
    precision = "fp32"
    device = "cpu"

    def __init__(self, arch: dict, tile: int = DEFAULT_TILE):
        # a whole number: a float tile (512.0 from a config file) passed here and then raised TypeError in
        # tile_regions' range() on the first frame above it
        whole = isinstance(tile, numbers.Integral) and not isinstance(tile, (bool, np.bool_))
        if not whole or (tile and tile < MIN_TILE):
            raise VidcolorError(f"{option('tile')} must be 0 (off) or at least {MIN_TILE} pixels, got {tile!r}"
                                + ("" if whole else " (an integer is needed)"))
        self.arch, self.tile = arch, tile
        self.inputs = network_inputs(arch)
        self.multiple = stride_multiple(arch)
        self.bound: dict[str, np.ndarray] = {}

    def bind(self, **arrays: np.ndarray) -> None:
        """Fix inputs that stay the same for a whole run (the reference's ``keys`` and ``values``), kept as contiguous
        float32 copies.

        Raises:
            ValueError: a name that is not one of :attr:`inputs`.
        """
        unknown = set(arrays) - set(self.inputs)
        if unknown:
            raise ValueError(f"the network has no input {sorted(unknown)[0]!r} (inputs: {', '.join(self.inputs)})")
        self.bound.update({k: np.ascontiguousarray(v, np.float32) for k, v in arrays.items()})

    def __call__(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the network on named float32 inputs (``frame`` ``(N, C, H, W)`` of any size, the others as
        :func:`network_inputs` lists them, bound ones included); returns ``{"y": (N, C', H', W')}``, at
        the frame's size for U-Nets (tiled above :attr:`tile` pixels), at the network's stride for colorizers.

        Raises:
            ValueError: a missing input.
        """
        feeds = {**self.bound, **feeds}
        missing = [n for n in self.inputs if n not in feeds]
        if missing:
            raise ValueError(f"missing network input {missing[0]!r}")
        frame = feeds.pop("frame")
        if self.tiles_frame(*frame.shape[-2:]):
            return {OUTPUT: self._tiled(frame, feeds)}
        return {OUTPUT: self._padded(frame, feeds)}

    def _padded(self, frame: np.ndarray, feeds: dict[str, np.ndarray]) -> np.ndarray:
        padded = pad_frame(frame, self.multiple)
        y = self.run([padded if n == "frame" else feeds[n] for n in self.inputs])
        return crop_output(y, frame.shape[-2:], padded.shape[-2:])

    def tiles_frame(self, height: int, width: int) -> bool:
        """Whether a frame of this size runs tile by tile (a U-Net family, tiling on, a side above :attr:`tile`)."""
        return bool(self.tile) and self.arch.get("family") in TILED_FAMILIES and max(height, width) > self.tile

    def _tiled(self, frame: np.ndarray, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The network tile by tile (:func:`tile_regions`), only each tile's core kept, so peak memory
        follows the tile, not the frame (same-size outputs only)."""
        out = None
        for (ya, yb, xa, xb), (cy, cx) in tile_regions(*frame.shape[-2:], self.tile):
            y = self._padded(frame[..., ya:yb, xa:xb], feeds)
            if out is None:
                out = np.empty((*y.shape[:2], *frame.shape[-2:]), np.float32)
            out[..., cy[0]:cy[1], cx[0]:cx[1]] = y[..., cy[0] - ya:cy[1] - ya, cx[0] - xa:cx[1] - xa]
        return out

    def run(self, args: list[np.ndarray]) -> np.ndarray:
        """The network on padded inputs in :attr:`inputs` order; float32 output."""
        raise NotImplementedError


class TorchEngine(Engine):
    """PyTorch: fp32; ``bf16`` (CPU autocast, oneDNN); ``fp16`` (CUDA, weights and activations in half).

    On CUDA the inputs go through pinned host memory with non-blocking copies; the only synchronisation is
    the copy of each batch's output back to the host.

    The engine runs its own copy of the generator with every batch normalization that follows a convolution
    folded into it (:func:`fold_batchnorm`) and, on the CPU, bilinear upsampling of bf16 activations computed
    in fp32 (:func:`upsample_in_fp32`); the caller's module is left as it is.

    Args:
        module: the generator (eval mode is set); arch: its ``arch`` record.
        device: ``cpu``, ``cuda`` or ``cuda:N``; precision: ``fp32``, ``bf16`` or ``fp16`` (:func:`resolve_precision`).
    """

    backend = "torch"

    def __init__(self, module, arch: dict, device: str, precision: str = "fp32", tile: int = DEFAULT_TILE):
        import torch

        super().__init__(arch, tile)
        self.device, self.precision = device, precision
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        self.module = fold_batchnorm(module.eval()).to(device, self.dtype).to(memory_format=torch.channels_last)
        if device == "cpu":
            upsample_in_fp32(self.module)
        self._bound_t: dict[str, torch.Tensor] = {}

    def bind(self, **arrays: np.ndarray) -> None:
        super().bind(**arrays)
        self._bound_t = {k: self._tensor(v) for k, v in self.bound.items()}

    def _tensor(self, a: np.ndarray):
        import torch

        t = torch.from_numpy(np.ascontiguousarray(a))
        if device_type(self.device) == "cuda":      # page-locked host buffer: the copy runs asynchronously
            t = t.pin_memory()
        t = t.to(self.device, self.dtype, non_blocking=True)
        return t.contiguous(memory_format=torch.channels_last) if t.ndim == 4 else t

    def run(self, args: list[np.ndarray]) -> np.ndarray:
        """As :meth:`Engine.run`. On the CPU the frames of a batch go through the network one at a time: a
        640x360 frame's activations then stay in the caches (the dequantization generator: 35 against 42 ms
        of CPU per frame at batch 4 in bf16, 51 against 61 in fp32; the colorizer 64 against 80 in fp32;
        one thread, a 2-core Intel Xeon, stop 43)."""
        import torch

        if self.device == "cpu" and len(args[0]) > 1:
            return np.concatenate([self.run([a if n in self._bound_t else a[i:i + 1] for n, a in zip(self.inputs, args)])
                                   for i in range(len(args[0]))])
        tensors = [self._bound_t.get(n) if n in self._bound_t else self._tensor(a) for n, a in zip(self.inputs, args)]
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.precision == "bf16"):
            y = self.module(*tensors)
        return y.float().cpu().numpy()


def fold_batchnorm(module):
    """A copy of an eval-mode torch module in which every ``BatchNorm2d`` that directly follows a ``Conv2d``
    inside an ``nn.Sequential`` is folded into the convolution's weights and bias
    (``torch.nn.utils.fusion.fuse_conv_bn_eval``) and replaced by ``nn.Identity``: the same function (to
    float rounding) with one pass over the activations less per pair. The dequantization generator in bf16
    on one core of the 2-core Intel Xeon: 28.3 -> 26.8 ms per 640x360 frame (stop 44).

    Raises:
        ValueError: the module is in training mode (its batch statistics are not yet fixed).
    """
    import copy

    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if module.training:
        raise ValueError("fold_batchnorm needs a module in eval mode")
    folded = copy.deepcopy(module)
    for seq in (m for m in folded.modules() if isinstance(m, nn.Sequential)):
        for i in range(len(seq) - 1):
            if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
                seq[i], seq[i + 1] = fuse_conv_bn_eval(seq[i], seq[i + 1]), nn.Identity()
    return folded


def upsample_in_fp32(module) -> None:
    """In place: every bilinear ``nn.Upsample`` of ``module`` upsamples bf16 activations in fp32 and rounds the
    result back to bf16; other dtypes go through unchanged. The result is bit-identical (the bf16 kernel also
    interpolates in fp32 and rounds once), but PyTorch's CPU kernel for bf16 channels-last tensors is slow: at
    the dequantization generator's shapes, one core of the 2-core Intel Xeon, 5.9 -> 3.7 ms per 640x360 frame
    over its five upsamplings (the largest, 8 x 192 x 320 -> 384 x 640: 4.5 -> 2.4 ms). For the engine's own
    copy of a generator (:class:`TorchEngine` on the CPU)."""
    import types

    import torch
    from torch import nn

    def forward(self, x):
        if x.dtype != torch.bfloat16:
            return nn.Upsample.forward(self, x)
        return nn.Upsample.forward(self, x.float()).to(torch.bfloat16)

    for m in module.modules():
        if isinstance(m, nn.Upsample) and m.mode == "bilinear":
            m.forward = types.MethodType(forward, m)


class OnnxEngine(Engine):
    """ONNX Runtime on a graph exported by :func:`export_onnx` (fp32; CUDA execution provider when asked).

    Threads: ONNX Runtime's own default (one intra-op thread per physical core), or
    ``OMP_NUM_THREADS`` when set, as for PyTorch.

    Raises:
        VidcolorError: onnxruntime not installed, or the graph's inputs are not the ``arch``'s.
    """

    backend = "onnxruntime"

    def __init__(self, model: bytes | str | Path, arch: dict, device: str, tile: int = DEFAULT_TILE):
        super().__init__(arch, tile)
        self.session = onnx_session(model, device)
        names = tuple(i.name for i in self.session.get_inputs())
        if names != self.inputs:
            raise VidcolorError(f"ONNX graph inputs {names} are not the model's {self.inputs}")
        self.device = device

    def run(self, args: list[np.ndarray]) -> np.ndarray:
        return self.session.run(None, dict(zip(self.inputs, (np.ascontiguousarray(a, np.float32) for a in args))))[0]


def onnx_session(model: bytes | str | Path, device: str):
    """An ONNX Runtime session on a graph (bytes or file): the CUDA execution provider when ``device`` is
    ``cuda``, ONNX Runtime's own thread default (one intra-op thread per physical core), or
    ``OMP_NUM_THREADS`` when set, as for PyTorch.

    Idle intra-op threads do not spin (``session.intra_op.allow_spinning`` 0): while the pipeline's other
    stages keep the cores busy, a spinning thread only takes their cycles. Stop 50, 2-core AMD EPYC with
    AVX-512, ``vidcolor colorize`` on a 104-frame 640x360 gray clip, three interleaved pairs: 16.6-20.6 ->
    21.9-23.9 fps (summary line), 11.1-15.7 -> 9.7-10.5 s of CPU; the colorizer alone (batch 4) ran 25.3-32.2
    against 25.6-30.1 ms a frame, no slower.

    Raises:
        VidcolorError: onnxruntime not installed, or no CUDA provider for ``cuda``.
    """
    ort = _onnxruntime()
    options = ort.SessionOptions()
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        options.intra_op_num_threads = int(os.environ["OMP_NUM_THREADS"])
    # idle intra-op threads sleep instead of spinning: the pipeline's other stages need those cycles
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # a failing kernel comes back as an exception, which vidcolor reports in one line: ONNX Runtime's own log line
    # of it (e.g. 'Failed to allocate memory', in red, before the CLI's 'out of memory') is left out
    options.log_severity_level = 4
    providers = onnx_providers(device)
    if device_type(device) == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
        raise VidcolorError(option("backend='onnxruntime'") + " " + option(f"device={device!r}") + ": this onnxruntime "
                            "has no CUDA provider (install onnxruntime-gpu)")
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), options, providers=providers)


ORT_TELEMETRY_SWITCHES = ("ORT_DISABLE_TELEMETRY", "ORT_TELEMETRY_DISABLED")
"""ONNX Runtime's environment switches that turn its telemetry off: the first is the one onnxruntime 1.32 reads,
the second the name upstream settled on (microsoft/onnxruntime PR #29843)."""


def _onnxruntime():
    """The onnxruntime module, imported with its telemetry off unless the user set a switch
    (:data:`ORT_TELEMETRY_SWITCHES`, either one, to any value: it is left as it is).

    onnxruntime 1.32 on Linux and macOS records telemetry when it is imported: a ``.ses`` file left in the
    temporary folder (``$TMPDIR``) after every run, and a device id and an SQLite event database that grows with
    each session (about 22 KB) under ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/``.
    ``onnxruntime.disable_telemetry_events()`` comes too late (the import made them) and ``ORT_TELEMETRY_DISABLED``
    is not read by 1.32; ``ORT_DISABLE_TELEMETRY=1`` before the import stops all three. Both are set, for this
    process and the processes it starts. An onnxruntime imported before vidcolor's first session keeps its own
    setting.
    """
    if "onnxruntime" not in sys.modules and not any(name in os.environ for name in ORT_TELEMETRY_SWITCHES):
        os.environ.update(dict.fromkeys(ORT_TELEMETRY_SWITCHES, "1"))
    try:
        import onnxruntime
    except ImportError:
        raise VidcolorError(option("backend='onnxruntime'") + ": the onnxruntime package is not installed "
                            "(pip install onnxruntime)") from None
    return onnxruntime


def onnx_providers(device: str) -> list:
    """ONNX Runtime's execution providers for ``device`` (:func:`~vidcolor.device.pick_device`'s): the CPU's alone,
    or CUDA's first (on GPU N for ``cuda:N``, its ``device_id`` option) with the CPU's for what it cannot run."""
    if device_type(device) != "cuda":
        return ["CPUExecutionProvider"]
    _, _, index = device.partition(":")
    cuda = ("CUDAExecutionProvider", {"device_id": int(index)}) if index else "CUDAExecutionProvider"
    return [cuda, "CPUExecutionProvider"]


def resolve_precision(precision: str, device: str, backend: str) -> str:
    """The precision to run at: ``auto`` is fp16 on CUDA (torch), fp32 elsewhere.

    bf16 is not the CPU default here: on a CPU without native bf16 (the 2-core AMD EPYC of docs/speed_cpu.md,
    AVX2 only) bf16 autocast ran 9x slower than fp32. :func:`load_engine` makes the exception for the jobs of
    :data:`CPU_BF16_JOBS` on a CPU with native bf16.

    Raises:
        VidcolorError: unknown precision, or one the backend/device cannot run (fp16 on CPU, bf16 on CUDA or
            in ONNX Runtime).
    """
    if precision not in PRECISIONS:
        raise VidcolorError(f"unknown {option('precision')} {precision!r} ({', '.join(PRECISIONS)})")
    if precision == "auto":
        return "fp16" if device_type(device) == "cuda" and backend == "torch" else "fp32"
    if precision == "fp16" and (device_type(device) != "cuda" or backend != "torch"):
        raise VidcolorError(option("precision='fp16'") + " runs on CUDA with " + option("backend='torch'") + " only")
    if precision == "bf16" and (device != "cpu" or backend != "torch"):
        raise VidcolorError(option("precision='bf16'") + " runs on the CPU with " + option("backend='torch'") + " only")
    return precision


def resolve_backend(backend: str, arch: dict, device: str) -> str:
    """The backend to run on. ``auto``: ONNX Runtime on a CPU when it is installed (on this project's 2-core
    CPU it ran the dequantization generator 1.6x and the colorizer 2.6x faster than torch, outputs equal
    within 1e-4; docs/speed_cpu.md), torch on CUDA (fp16) and for networks trained at run time.

    Raises:
        VidcolorError: unknown backend; ``onnxruntime`` for a network that is trained at run time.
    """
    if backend not in BACKENDS:
        raise VidcolorError(f"unknown {option('backend')} {backend!r} ({', '.join(BACKENDS)})")
    trained_now = arch.get("family") == "two_image"
    if backend == "auto":
        return "onnxruntime" if device == "cpu" and not trained_now and _has_onnxruntime() else "torch"
    if backend == "onnxruntime" and trained_now:
        raise VidcolorError(option("backend='onnxruntime'") + ": the internal reference mode trains its network now; "
                            "use torch")
    return backend


def _has_onnxruntime() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
"""CPU flags (Linux ``/proc/cpuinfo``) of native bf16 arithmetic, which oneDNN uses for bf16 convolutions."""

CPU_BF16_JOBS = ("dequantize",)
"""Jobs whose ``auto`` engine on a CPU with native bf16 (:func:`cpu_has_bf16`) is torch with bf16 autocast
instead of ONNX Runtime fp32. The dequantization generator (a U-Net at full resolution) took 42 ms of CPU
per 640x360 frame that way against 57-68 under ONNX Runtime (one thread, batch 4, a 2-core Intel Xeon with
AMX; stop 43), and its output moved by 0.03 levels on average (0.16 at most): on the 173 validation images
found uniform or palettes the gain after the consistency stage changed by +0.002 dB mean, the worst image's
from -0.075 to -0.074 dB. The colorizer stays on ONNX Runtime: bf16 ran it slower there and cost 0.12 dB
(docs/speed_cpu_xeon_amx.md)."""


@functools.lru_cache(maxsize=None)
def cpu_has_bf16() -> bool:
    """True when the CPU reports native bf16 arithmetic (:data:`CPU_BF16_FLAGS` in ``/proc/cpuinfo``; False
    where that file cannot be read, e.g. off Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in CPU_BF16_FLAGS)
    except OSError:
        pass
    return False


def load_engine(model: str, job: str, device: str, backend: str = "auto",
                precision: str = "auto", tile: int = DEFAULT_TILE) -> tuple[Engine, object, dict]:
    """Build the engine for a weight file (registry name, ``.safetensors`` or exported ``.onnx``).

    ``device``: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; ``tile``: frames with a longer side run tile by tile (pixels; 0 =
    never; U-Net generators only). ``auto`` backend and precision: :func:`resolve_backend` and
    :func:`resolve_precision`, except a job of :data:`CPU_BF16_JOBS` on a CPU with native bf16, which runs
    on torch with bf16 autocast. An ONNX Runtime engine whose graph is cached (:func:`cached_onnx`)
    is built without importing torch.

    Returns:
        ``(engine, module, arch)``: ``module`` is the torch generator when it was loaded (the torch
        backend, or an export), else None (:attr:`vidcolor.pipeline.Colorizer.generator` loads it when
        asked for).

    Raises:
        VidcolorError: unknown model, a model of another job, a backend/precision that cannot run here.
    """
    resolve(model, graphs=job != "colorize-reference")   # the reference encoder is not in a graph (reference.py)
    if str(model).endswith(".onnx"):
        arch = read_onnx_arch(model)
        _check_job(model, arch, job)
        if backend == "torch":
            raise VidcolorError(f"{model}: an ONNX graph runs with " + option("backend='onnxruntime'") + " (or auto)")
        if precision in ("bf16", "fp16"):           # not "runs with --backend torch only": a graph cannot
            raise VidcolorError(f"{model}: an ONNX graph runs at " + option("precision='fp32'") + " (or auto)")
        resolve_precision(precision, device, "onnxruntime")
        return OnnxEngine(model, arch, device, tile), None, arch
    arch = read_arch(model)
    _check_job(model, arch, job)
    if (backend, precision, device) == ("auto", "auto", "cpu") and job in CPU_BF16_JOBS and cpu_has_bf16():
        precision = "bf16"                # the auto backend of bf16 is torch (the line below)
    backend = resolve_backend("torch" if backend == "auto" and precision in ("bf16", "fp16") else backend,
                              arch, device)
    precision = resolve_precision(precision, device, backend)
    if backend == "onnxruntime":
        graph, module = cached_onnx(model, arch)
        return OnnxEngine(graph, arch, device, tile), module.to(device) if module is not None else None, arch
    module, arch = load_generator(model, "cpu")
    return TorchEngine(module, arch, device, precision, tile), module, arch


JOB_MODELS = {"dequantize": "a dequantize model", "colorize": "an automatic colorize model",
              "colorize-reference": "an exemplar model for " + option("references", "--reference")}
"""A weight file's job (its arch's ``job``) in the README's words, for the error that a model of another job was
given: ``colorize-reference`` is the exemplar network's job name, which users read nowhere else."""

JOB_HINTS = {("colorize-reference", "colorize"): "; give it with " + option("references", "--reference IMG")
                                                  + " (or " + option("reference_mode='keyframes'", "--reference alone")
                                                  + " for keyframes)",
             ("colorize", "colorize-reference"): "; with " + option("references", "--reference") + ", "
                                                  + option("model") + " names the exemplar model (colorize-exemplar)"}
"""What to do instead, where a colorizer was given to the other colorize mode: (the model's job, the run's job)."""


def _check_job(model: str, arch: dict, job: str) -> None:
    """A model of another job than ``job`` is refused, in the README's words (:data:`JOB_MODELS`), with what to do
    where the other colorize mode takes it (:data:`JOB_HINTS`)."""
    given = arch.get("job", "dequantize")
    if given != job:
        what = JOB_MODELS.get(given, f"a {given} model")
        raise VidcolorError(f"model {model!r} is {what}, not {JOB_MODELS.get(job, f'a {job} model')}"
                            + JOB_HINTS.get((given, job), ""))


def _example_inputs(module, arch: dict) -> tuple:
    """Tensors to trace ``module`` with: a padded 64x96 frame and inputs of matching shapes."""
    import torch

    m = stride_multiple(arch)
    h, w = 2 * m, 3 * m
    channels = arch.get("kwargs", {}).get("in_channels", 3) if arch.get("family") == "unet" else 1
    frame = torch.zeros(1, channels, h, w)
    out: list = []
    for name in network_inputs(arch):
        if name == "frame":
            out.append(frame)
        elif name == "level_cue":
            out.append(torch.zeros(1, CUE_DIM))
        elif name == "keys":
            with torch.no_grad():
                k, v = module.reference(frame, torch.zeros(1, 2, h, w))
            out += [k, v]
    return tuple(out)


def export_onnx(module, arch: dict, path: str | Path | None = None, overwrite: bool = True) -> bytes:
    """Export a generator to ONNX (opset 17) with dynamic batch and size; its ``arch`` goes into the graph's
    metadata (``vidcolor_arch``), so an ``.onnx`` file loads like a weight file. Returns the bytes; writes them
    to ``path`` too when given (atomically: :func:`~vidcolor.io.writer.write_file_atomically`; without
    ``overwrite``, a file that another run wrote there meanwhile is kept).

    The graph's ``frame`` takes any batch, and a height and width that are multiples of the network's stride
    (:func:`stride_multiple`, 32 for the bundled models; also in the metadata, ``vidcolor_stride``): the engines
    pad to it (:func:`pad_frame`) and crop the output back; the graph itself does not, and ONNX Runtime fails
    inside it on other sizes (a Concat of mismatched sides).

    Raises:
        VidcolorError: the network does not export (the internal mode's networks are trained at run time), or
            ``path``'s folder cannot be written; :class:`~vidcolor.io.writer.OutputExists`: ``path`` exists,
            without ``overwrite``.
    """
    if arch.get("family") == "two_image":
        raise VidcolorError("the internal reference mode's networks are trained at run time: nothing to export")
    names = network_inputs(arch)
    dynamic = {"frame": {0: "batch", 2: "height", 3: "width"}, OUTPUT: {0: "batch", 2: "out_height", 3: "out_width"},
               "level_cue": {0: "batch"}, "keys": {1: "positions"}, "values": {1: "positions"}}
    buf = io.BytesIO()
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic (padding is the engine's)
        torch.onnx.export(module.float().eval(), _example_inputs(module, arch), buf, input_names=list(names),
                          output_names=[OUTPUT], dynamic_axes={k: v for k, v in dynamic.items() if k in names or k == OUTPUT},
                          opset_version=17, dynamo=False)
    import onnx

    graph = onnx.load_from_string(buf.getvalue())
    for key, value in (("vidcolor_arch", json.dumps(arch)), ("vidcolor_stride", str(stride_multiple(arch)))):
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    data = graph.SerializeToString()
    if path is not None:
        write_file_atomically(Path(path), data, overwrite)
    return data


def read_onnx_arch(path: str | Path) -> dict:
    """The ``arch`` record :func:`export_onnx` stored in an ``.onnx`` file.

    Raises:
        VidcolorError: missing or unreadable file, or a graph not exported by vidcolor.
    """
    ort = _onnxruntime()
    try:
        meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
        return json.loads(meta["vidcolor_arch"])
    except KeyError:
        raise VidcolorError(f"{path}: not an ONNX graph exported by vidcolor (no vidcolor_arch metadata)") from None
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
        raise VidcolorError(f"{path}: cannot read ONNX graph ({exc.__class__.__name__})") from None


REFERENCE_INPUTS = ("reference_L", "reference_ab")
"""Inputs of the exemplar colorizer's reference-encoder graph (:func:`export_reference_onnx`)."""


def export_reference_onnx(module) -> bytes:
    """Export the reference encoder of an exemplar colorizer (:class:`~vidcolor.models.exemplar.ExemplarColorizer`)
    to ONNX (opset 17), dynamic in height and width.

    The graph maps ``reference_L (1, 1, H, W)`` (``L / 50 - 1``) and ``reference_ab (1, 2, H, W)`` (LAB units),
    H and W multiples of 32 (the caller pads, replicate, as the encoder would), to ``keys (1, C, H/8, W/8)``
    (the matching descriptors) and ``values (1, 2, H/8, W/8)`` (ab averaged over each 8x8 cell): the
    generator's ``reference`` before its crop and flattening, which shape arithmetic would fix at the
    traced size. Returns the graph's bytes.
    """
    import warnings

    import torch
    from torch import nn
    from torch.nn import functional as F

    class ReferenceEncoder(nn.Module):
        def __init__(self, generator):
            super().__init__()
            self.generator = generator

        def forward(self, L_n, ab):
            return self.generator.match_features(self.generator.encode(L_n)), F.avg_pool2d(ab, 8)

    buf = io.BytesIO()
    spatial = {2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(ReferenceEncoder(module.float().eval()), (torch.zeros(1, 1, 64, 96), torch.zeros(1, 2, 64, 96)),
                          buf, input_names=list(REFERENCE_INPUTS), output_names=["keys", "values"],
                          dynamic_axes={"reference_L": spatial, "reference_ab": spatial, "keys": spatial, "values": spatial},
                          opset_version=17, dynamo=False)
    return buf.getvalue()


@functools.cache
def graph_code_digest() -> bytes:
    """SHA-256 of the source files that decide an exported graph (the network classes in
    :mod:`vidcolor.models` and this module's exporters): a graph cached before a change to them is not
    reused after it. Reading them costs well under a millisecond."""
    models = Path(__file__).with_name("models")
    h = hashlib.sha256()
    for path in sorted(models.glob("*.py")) + [Path(__file__)]:
        h.update(path.read_bytes())
    return h.digest()


GRAPH_UNUSED_DAYS = 30
"""A cached graph not used for this many days is removed by the next export (:func:`prune_graphs`): each change to
the network code, each torch version and each weight file leaves one (16 MB for the colorizer), which nothing else
removes."""

_CACHED_GRAPH = re.compile(r"[0-9a-f]{16}-torch[^/]+?(-reference)?\.onnx")
"""The names :func:`cached_onnx` gives graphs: :func:`prune_graphs` removes no other file (a folder named by
``VIDCOLOR_CACHE`` may hold the user's own)."""

_cache_warned = False
"""Whether this process said that the graph cache cannot be used (said once, not for every graph and run)."""


def _read_cached(path: Path, check: Path) -> bytes | None:
    """The cached graph at ``path`` when its SHA-256 is the one in ``check``, else None: missing, damaged, or not
    readable (another user's cache, a graph removed by another run's :func:`prune_graphs` while this one read it).
    A graph read has its modification time set to now (where the cache can be written), which
    :func:`prune_graphs` reads as its last use."""
    try:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != check.read_text().strip():
            return None
    except (OSError, UnicodeDecodeError):
        return None
    try:
        os.utime(path)
    except OSError:                 # a read-only cache: used as it is
        pass
    return data


def prune_graphs(folder: Path, now: float | None = None) -> list[Path]:
    """Remove from ``folder`` (the cache's ``onnx/``) the graphs not used for :data:`GRAPH_UNUSED_DAYS` days (by
    their modification time, which :func:`cached_onnx` renews on each use) with their ``.sha256`` files, checksum
    files whose graph is gone (older than an hour: not one being written), and the temporary files of exports killed
    half way (those no process locks, :func:`~vidcolor.io.partial.remove_if_dead`); only files named as
    :func:`cached_onnx` names them (:data:`_CACHED_GRAPH`). Safe while other runs use the cache: a graph in use was
    used within the month, and a run that finds a graph gone as it reads exports it again. Files that cannot be
    removed are left.

    Args:
        folder: the folder of cached graphs.
        now: the time to measure ages from (seconds since the epoch; default: now).

    Returns:
        the paths removed.
    """
    import time

    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    graphs = {p.name for p in entries if _CACHED_GRAPH.fullmatch(p.name)}
    for p in entries:
        try:
            age = now - p.lstat().st_mtime
            if p.name in graphs:
                stale = age > GRAPH_UNUSED_DAYS * 86400
            elif p.name.startswith("."):                # an export's partial file: removed where its run is dead
                if re.fullmatch(r"\.[0-9a-f]{16}-torch.+\.(onnx|sha256)", p.name) and remove_if_dead(p):
                    removed.append(p)
                continue
            elif p.name.endswith(".sha256"):
                stale = bool(_CACHED_GRAPH.fullmatch(p.name[: -len(".sha256")])) and p.name[: -len(".sha256")] \
                    not in graphs and age > 3600
            else:
                stale = False
            if stale and p.is_file():
                p.unlink()
                removed.append(p)
                if p.name in graphs:
                    sha = p.with_name(p.name + ".sha256")
                    sha.unlink(missing_ok=True)
                    removed.append(sha)
        except OSError:
            pass
    return removed


def cached_onnx(model: str, arch: dict, part: str = "generator") -> tuple[bytes, object]:
    """The ONNX graph of a weight file, exported once and cached by the SHA-256 of the file and of the code
    that builds the graph (:func:`graph_code_digest`) and the torch version, in ``onnx/`` of
    :func:`vidcolor.cache.cache_dir`. A cache that cannot be used (no home folder, not writable, a file in its
    place) is skipped: the graph is exported each run, with one warning a process (:func:`~vidcolor.errors.warn`). Torch is imported only
    to export. Runs that export the same graph at once each write it whole under a temporary name and rename it
    into place (:func:`~vidcolor.io.writer.write_file_atomically`); export gives the same bytes each time. Each
    export removes the graphs no run used for :data:`GRAPH_UNUSED_DAYS` days (:func:`prune_graphs`).

    Args:
        part: ``generator`` (:func:`export_onnx`) or ``reference`` (an exemplar colorizer's reference encoder,
            :func:`export_reference_onnx`).

    A cached graph is used only when its SHA-256 matches the one written beside it (``.onnx.sha256``): an
    empty or truncated file (a crash, a full disk) made every later run fail in ONNX Runtime; it is exported
    again instead, as is one that cannot be read (a traceback before).

    Returns:
        ``(graph bytes, module)``: the torch generator when it was loaded to export, else None.

    Raises:
        VidcolorError: as :func:`~vidcolor.weights.load_generator` (the cache's own problems are warnings).
    """
    global _cache_warned
    from importlib.metadata import version

    weights = resolve(model).read_bytes()       # read once: hashed here, and loaded from here to export
    digest = hashlib.sha256(weights + graph_code_digest()).hexdigest()[:16]
    suffix = "" if part == "generator" else f"-{part}"
    name = f"{digest}-torch{version('torch').split('+')[0]}{suffix}.onnx"
    try:
        path = cache_dir() / "onnx" / name
    except VidcolorError as exc:
        path, problem = None, exc
    if path is not None:
        check = path.with_name(path.name + ".sha256")
        data = _read_cached(path, check)
        if data is not None:
            return data, None
    module = generator_from_bytes(weights, arch, model)
    data = export_onnx(module, arch) if part == "generator" else export_reference_onnx(module)
    if path is not None:
        try:
            write_file_atomically(path, data)
            write_file_atomically(check, hashlib.sha256(data).hexdigest().encode() + b"\n")
        except VidcolorError as exc:
            problem = exc
        else:
            prune_graphs(path.parent)
            return data, module
    if not _cache_warned:
        _cache_warned = True
        warn(f"cannot cache the ONNX graph ({problem.marked or problem}); exporting it each run")
    return data, module
