"""Batching, device placement and the run loops that carry frames from a source to a sink."""
from __future__ import annotations

import numbers
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from vidcolor.arrays import check_rgb, conversion_hint, described
from vidcolor.color import (AB_SCALE, ab_gamut_bins, annealed_mean, denormalize_planes, lightness16, limit_dark_chroma,
                            model_input, recombine, resize_ab, resize_ab_rows, resultant_length, rgb_to_lab)
from vidcolor.cue import level_cue
from vidcolor.device import device_type, pick_device
from vidcolor.engine import DEFAULT_TILE, OUTPUT, Engine, load_engine, spans, tile_regions
from vidcolor.errors import VidcolorError, option, warn
from vidcolor.io import limits
from vidcolor.io.limits import check_frame_size
from vidcolor.executor import execute
from vidcolor.jobs import DEFAULTS, RENDER_SIZE, RENDER_SIZE_RANGE
from vidcolor.quantizer.reconstruction import STRENGTH_KINDS, Quantizer
from vidcolor.quantizer.tracker import QuantizerTracker
from vidcolor.temporal import CutDetector, thumb_size

FrameBatchFn = Callable[[np.ndarray], np.ndarray]
"""Maps uint8 RGB ``(N, H, W, 3)`` to uint8 RGB ``(N, H, W, 3)``."""


@dataclass
class Batch:
    """One batch on its way through a job's stages (:meth:`LabJob.prepare` -> ``infer`` -> ``finish``).

    Attributes:
        frames: uint8 RGB ``(N, H, W, 3)`` as decoded.
        feeds: the network's named float32 inputs (see :mod:`vidcolor.engine`); None when the network need
            not run (the result is known without it).
        outputs: the engine's outputs (``{"y": ...}``), filled by ``infer``.
        context: what ``finish`` needs besides (e.g. L, the quantizer found).
    """

    frames: np.ndarray
    feeds: dict[str, np.ndarray] | None = None
    outputs: dict[str, np.ndarray] | None = None
    context: dict = field(default_factory=dict)


def check_temporal(mode: str, strength: float) -> None:
    """:meth:`LabJob.set_temporal`'s check of its ``mode`` and ``strength``, without a job
    (:func:`~vidcolor.temporal.check_mode`; ``strength`` is not looked at where ``mode`` is ``off``):
    :func:`~vidcolor.api.dequantize` and :func:`~vidcolor.api.colorize` make it before a model loads.

    Raises:
        VidcolorError: an unknown mode, or a strength that is no number in [0, 1) (``temporal: ...``).
    """
    from vidcolor.temporal import check_mode

    if mode == "off":
        return
    try:
        check_mode(mode, strength)
    except ValueError as exc:
        raise VidcolorError(f"{option('temporal')}: {exc}") from None


class LabJob:
    """A per-frame job whose output is (L, ab), with optional temporal smoothing of ab before RGB.

    The work is split into three stages so that an executor can overlap them (:mod:`vidcolor.executor`):
    :meth:`prepare` (CPU pre-processing into network inputs), :meth:`infer` (the engine), :meth:`finish`
    (L and ab from the outputs, temporal smoothing, recombination). Each stage is called in frame order,
    one batch at a time (the smoother and the quantizer tracker carry state across batches). So a job is one
    stream's: two streams, or two threads feeding frames, each need their own job (the stages themselves may run
    on different threads, in order, as the executor runs them).
    Subclasses implement :meth:`prepare` and :meth:`lab`.

    ``__call__(frames uint8 (N, H, W, 3)) -> uint8 RGB (N, H, W, 3)``.
    """

    smoother = None
    engine: Engine | None = None
    DEEP = False
    """Whether the job's stages (:meth:`prepare`, :meth:`finish`) also take frames of uint16 RGB (0..65535) and give
    them back as such: the file path (:func:`vidcolor.api.process`) then decodes a source of more than 8 bits per
    sample at 16 (:class:`~vidcolor.io.VideoReader`'s ``deep``) where its output holds more than 8. The colorizers
    whose L is the frame's own (:class:`Colorizer` and the reference modes built on it) do; a direct call
    (:meth:`__call__`) takes uint8 alone."""
    requested_temporal: tuple[str, float] | None = None
    """The smoothing asked for (mode, strength), kept while a folder's stills run without it; set by
    :func:`~vidcolor.api.dequantize` and :func:`~vidcolor.api.colorize` on the jobs they build, never on a caller's
    job given to :func:`~vidcolor.api.process` (which keeps its own smoother object)."""

    def prepare(self, frames: np.ndarray) -> Batch:
        """uint8 RGB ``(N, H, W, 3)`` -> a :class:`Batch` with the network's inputs."""
        return Batch(frames)

    def infer(self, batch: Batch) -> Batch:
        """Run the engine on ``batch.feeds`` (nothing when there are none)."""
        if batch.feeds is not None:
            batch.outputs = self.engine(batch.feeds)
        return batch

    def lab(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        """``(L float32 (N, H, W), ab float32 (N, H, W, 2) in LAB units)`` of an inferred batch. L is in [0, 100] where
        it is the frames' own; a generator's L (a dequantizer's LAB model, :meth:`Dequantizer.lab`) is not clipped and
        may leave that range (the default model: -1.9 to 101.8 on black and white frames)."""
        raise NotImplementedError

    def finish(self, batch: Batch) -> np.ndarray:
        """An inferred batch -> RGB ``(N, H, W, 3)`` of the frames' dtype (uint8; uint16 for a :attr:`DEEP` job's
        16-bit frames): temporal smoothing of ab, then L and ab joined."""
        return self._join(*self.lab(batch), self.smoother, batch.frames.dtype)

    @staticmethod
    def _join(L: np.ndarray, ab: np.ndarray, smoother, dtype: type = np.uint8) -> np.ndarray:
        """``L (N, H, W)`` and ``ab (N, H, W, 2)`` -> RGB ``(N, H, W, 3)`` of ``dtype`` (uint8 or uint16), ab smoothed
        first when a smoother is given; a frame at a time, so that its arrays stay in the caches, and recombined a
        strip of rows at a time (:func:`strips`), so that the LAB -> RGB temporaries follow the strip."""
        out = np.empty((*L.shape, 3), dtype)
        rows = strips(*L.shape[1:])
        for i in range(len(L)):
            ab_i = ab[i] if smoother is None else smoother(L[i], ab[i])
            for y0, y1 in rows:
                out[i, y0:y1] = recombine(L[i:i + 1, y0:y1], ab_i[None, y0:y1], dtype)[0]
        return out

    def predict_lab(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 RGB ``(N, H, W, 3)`` -> ``(L, ab)`` as :meth:`lab` gives them: prepared and inferred, not smoothed, in
        chunks of :meth:`chunk_size` frames as :meth:`__call__` runs; other frames raise as :meth:`__call__` does
        (:func:`check_frames`)."""
        check_frames(frames)
        return in_chunks(frames, self.chunk_size(frames.shape[2], frames.shape[1], len(frames)),
                         lambda part: self.lab(self.infer(self.prepare(part))))

    def set_temporal(self, mode: str = "off", strength: float = 0.6) -> None:
        """Smooth ab over time: ``off``, ``ema`` or ``flow`` (see :mod:`vidcolor.temporal`), ``strength`` a number in
        [0, 1) (the weight of the previous frame's warped ab); the smoothing starts afresh.

        Raises:
            VidcolorError: an unknown mode, or a strength that is no number in [0, 1) (``temporal: ...``).
        """
        from vidcolor.temporal import TemporalSmoother

        check_temporal(mode, strength)
        self.smoother = None if mode == "off" else TemporalSmoother(mode, strength)

    def set_stills(self, stills: bool) -> None:
        """Frames are unrelated still images (a folder of photos) rather than a clip; no-op by default."""

    def set_output_chroma(self, kept: bool) -> None:
        """Whether the frames this job returns keep their chroma pixel for pixel where they are written (images,
        lossless 4:4:4 video: :func:`~vidcolor.io.writer.keeps_chroma`) or have it halved or smoothed by a lossy
        encode (4:2:0 video, any x264 output); no-op by default."""

    def reset(self) -> None:
        """Forget the clip so far (the temporal smoother's previous frame): the next batch starts a new clip."""
        if self.smoother is not None:
            self.smoother.reset()

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """uint8 RGB ``(N, H, W, 3)`` -> uint8 RGB ``(N, H, W, 3)``, run through the stages in chunks of at most
        :meth:`chunk_size` frames, in order (the bytes of one batch of all N: each frame's result does not depend on
        the frames batched with it), so that memory follows the chunk, not N; other input raises ``ValueError`` (a
        frame larger than :func:`~vidcolor.io.limits.check_frame_size` allows, or a :attr:`batch_size` that is no
        integer >= 1: ``VidcolorError``)."""
        check_frames(frames)
        return in_chunks(frames, self.chunk_size(frames.shape[2], frames.shape[1], len(frames)),
                         lambda part: self.finish(self.infer(self.prepare(part))))

    batch_size: int | None = None
    """Frames a direct call (:meth:`__call__`) gives the network at once; None: :func:`job_batch_size`'s, what a file
    run would batch (CPU 320x180: 16, 640x360: 4, 1920x1080: 1). The whole call had been one batch: 64 frames of
    320x180 took the colorizer 2.5 GB more than one frame (peak RSS), the dequantizer 0.2 GB."""

    def chunk_size(self, width: int, height: int, frames: int | None = None) -> int:
        """Frames of ``width`` x ``height`` that :meth:`__call__` runs at once: :attr:`batch_size`, else
        :func:`job_batch_size`.

        Raises:
            VidcolorError: a :attr:`batch_size` that is no integer >= 1 (:func:`check_batch_size`), or one whose
                batch, of ``frames`` frames at most where given, holds more pixels than a frame may
                (:func:`check_batch_pixels`).
        """
        if self.batch_size is None:
            return job_batch_size(self, width, height)
        check_batch_size(self.batch_size)
        check_batch_pixels(self.batch_size if frames is None else min(self.batch_size, frames), width, height)
        return self.batch_size


def in_chunks(frames: np.ndarray, size: int, fn: Callable):
    """``fn`` over ``frames`` (``(N, ...)``) ``size`` frames at a time, in order, its results (an array, or a tuple of
    arrays) written into arrays ``(N, ...)`` of the first result's dtypes (``fn`` must keep the number of frames);
    ``fn(frames)`` itself where N <= ``size``, so that no copy is made."""
    if len(frames) <= size:
        return fn(frames)
    out = None
    for start in range(0, len(frames), size):
        part = fn(frames[start:start + size])
        parts = part if isinstance(part, tuple) else (part,)
        if out is None:
            out = tuple(np.empty((len(frames), *p.shape[1:]), p.dtype) for p in parts)
        for o, p in zip(out, parts):
            o[start:start + len(p)] = p
    return out if isinstance(part, tuple) else out[0]


STRIP_PIXELS = 1 << 20
"""Pixels (at least one row) of a strip of rows in which the per-pixel full-resolution steps run: the colorizer's L,
its network input's 8-bit L, the upsampling of its ab, the dark-chroma limit, and every LAB job's recombination
(:func:`strips`). A frame of at most this many pixels is one strip, run whole as before; a larger one keeps only a
strip's temporaries (about 70 bytes a pixel of the strip) at a time, so that peak memory follows the strip, not the
frame."""


def strips(height: int, width: int) -> list[tuple[int, int]]:
    """Half-open row ranges ``(y0, y1)`` covering a ``height`` x ``width`` frame, each of at most
    :data:`STRIP_PIXELS` pixels (at least one row; :func:`~vidcolor.engine.spans`): ``[(0, height)]`` for a frame of
    at most :data:`STRIP_PIXELS` pixels."""
    return [core for _, core in spans(height, max(1, STRIP_PIXELS // max(1, width)))]


def luminance(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(N, H, W, 3)`` -> L float32 ``(N, H, W)`` in [0, 100], :func:`~vidcolor.color.rgb_to_lab`'s bit for
    bit (uint16 RGB, 0..65535: :func:`~vidcolor.color.lightness16`'s), converted a frame and a strip of rows
    (:func:`strips`) at a time: the frames' whole LAB (12 bytes a pixel, 27 while it is converted) never exists."""
    n, h, w = frames.shape[:3]
    L = np.empty((n, h, w), np.float32)
    rows = strips(h, w)
    for i in range(n):
        for y0, y1 in rows:
            L[i, y0:y1] = (rgb_to_lab(frames[i, y0:y1])[..., 0] if frames.dtype == np.uint8 else
                           lightness16(frames[i, y0:y1]))
    return L


def luminance_8bit(L: np.ndarray) -> np.ndarray:
    """L float32 ``(H, W)`` in [0, 100] -> uint8 ``(H, W)``, ``L * 2.55`` rounded (the colorizer's network input
    before its resize), a strip of rows (:func:`strips`) at a time: no float temporaries of the whole frame."""
    out = np.empty(L.shape, np.uint8)
    for y0, y1 in strips(*L.shape):
        out[y0:y1] = np.clip(L[y0:y1] * 2.55 + 0.5, 0, 255).astype(np.uint8)
    return out


def check_frames(frames) -> np.ndarray:
    """``frames`` if it is a batch of frames as the jobs take them: a uint8 array ``(N, H, W, 3)``, N, H and W >= 1,
    of a size :func:`~vidcolor.io.limits.check_frame_size` allows.

    Raises:
        ValueError: another type, dtype or shape, an empty side included (naming what was given, and how to give
            it where it is a common kind: gray, RGBA, one frame, floats in [0, 1]; :func:`~vidcolor.arrays.conversion_hint`).
        VidcolorError: frames larger than the limits.
    """
    try:
        check_rgb(frames, (4,))                 # a zero H or W was check_frame_size's VidcolorError
    except ValueError as exc:
        raise ValueError(f"{exc}{conversion_hint(frames)}") from None
    check_frame_size(frames.shape[2], frames.shape[1], "frames")
    return frames


def is_number(value) -> bool:
    """Whether ``value`` is a real number (Python's or NumPy's), not a bool: an option's value that its range checks
    can compare (a ``"0.5"`` read from a config file raised ``TypeError: '<=' not supported between instances of
    'int' and 'str'``, naming no option)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_integer(value) -> bool:
    """Whether ``value`` is a whole number (Python's or NumPy's int), not a bool nor a float such as ``2.0``: an option
    counted in frames, pixels, workers or steps."""
    return is_number(value) and isinstance(value, numbers.Integral)


def check_flag(value, name: str, none: bool = False) -> None:
    """Refuse an on/off option that is not True or False (nor None, where ``none`` allows it): ``consistency="no"``
    is true, and was taken as on.

    Raises:
        VidcolorError: naming the option and the value.
    """
    if not ((none and value is None) or isinstance(value, (bool, np.bool_))):
        raise VidcolorError(f"{option(name)} must be True or False{', or None' if none else ''}, got "
                            f"{type(value).__name__} {value!r}")


STRENGTH_KEYS = tuple(kind + clip for clip in ("", " clip") for kind in STRENGTH_KINDS)
"""The keys a dequantize weight file's strengths (``arch["strength"]``) may have: each
:attr:`~vidcolor.quantizer.reconstruction.Quantizer.strength_key`, and the same with ``" clip"``, the strength for a
clip's frames (:meth:`Dequantizer.strength_for`). A key outside them is read by nothing."""

TEMPORAL_KINDS = ("palette", "none")
"""Kinds of quantizer (:attr:`~vidcolor.quantizer.reconstruction.Quantizer.kind`) whose frames the dequantizer's
temporal smoothing works on; uniform levels are left unsmoothed, whatever ``set_temporal`` asked for. There the
consistency stage (contour estimate, projection onto each pixel's bin) already holds the frames steady, and
the smoothing costs more than it gives: on the 5 validation clips of ``benchmarks/dequantize_temporal.py``
(24 frames, stop 44) smoothing by flow gains +0.829 dB over the re-encoded input at 4-bit bin middles
(worst clip +0.210) against +0.908 (+0.279) without, with a warp error of 6.12 against 6.24 x 1e-4 (the
re-encoded input's: 7.45). At the bin floor the figures are +6.915 (+5.829) against +6.891 (+5.823), and
6.49 against 6.57. It also takes about 10 ms of CPU per 640x360 frame. Palettes keep it: +0.063 against
+0.051 at 16 colours, and a lower warp error."""


@dataclass
class Found:
    """Frames that a :class:`Dequantizer` found on one quantizer, in a row (:attr:`Dequantizer.found`)."""

    quantizer: str
    """What it is, as :meth:`~vidcolor.quantizer.reconstruction.Quantizer.describe` gives it without the measures
    (``palette of 16 colours``)."""
    frames: int
    unchanged: str | None = None
    """None where the generator's correction was applied; where the frames passed unchanged, why: ``""`` where the
    quantizer says it (none found, graphics), else e.g. ``dequantize-pix2pix-rgb's strength for palette frames is
    0``."""
    measured: str = ""
    """The quantizer of the first of these frames with its measures
    (:meth:`~vidcolor.quantizer.reconstruction.Quantizer.describe`:
    ``palette of 16 colours, confidence 0.99, margin 4.0``)."""
    halved: str = ""
    """What the output's encode does to the colour of frames passed unchanged, where it keeps less of it than the
    source has (:attr:`Dequantizer.chroma_halved`): ``the 4:2:0 encode halves their colour resolution``."""

    def halved_by(self, halved: str | None) -> "Found":
        """This entry with :attr:`halved` set to ``halved`` (None: ``""``) where its frames passed unchanged, ``""``
        where they were corrected: what a clip's encode does to its frames, for its summary, a local run's
        (:meth:`Dequantizer.found_totals`) and a Ray run's (:func:`vidcolor.distributed.process_clips`) alike."""
        return replace(self, halved=(halved or "") * (self.unchanged is not None))


FOUND_KEPT = 100
"""Entries of :attr:`Dequantizer.found` kept (a summary names the first few changes of quantizer and counts the rest:
:data:`vidcolor.summaries.CHANGES_SHOWN`)."""


class Dequantizer(LabJob):
    """Dequantize batches of frames with a trained generator (Pix2Pix-FQ, seed 000).

    LAB models: RGB -> LAB, the generator corrects the colour channels ab (and, for ``lab`` models,
    the luminance L, which quantization bands too), then LAB -> RGB. With ``restore_luminance=False``
    the source L is kept (the paper's colour entanglement, seed 000 section 3.1). RGB models (the
    pix2pix baseline) work on RGB directly (their output is converted to LAB only for smoothing).

    Consistency (default on): the quantizer of the clip is estimated from the frames, the generator's
    correction (after temporal smoothing, which frames on uniform levels skip: :data:`TEMPORAL_KINDS`; on a
    palette without its mean over the frame, the centroid condition) is scaled by the model's strength for that kind of quantizer (``arch["strength"]``, e.g. ``{"uniform":
    1.0, "uniform floor": 0.25, "palette": 0.5}``, keyed by
    :attr:`~vidcolor.quantizer.reconstruction.Quantizer.strength_key`, chosen on held-back validation images by
    ``benchmarks/dequantize_validation.py``; frames of a clip take a ``"<key> clip"`` entry first, chosen on
    validation clips: :meth:`strength_for`; 1 when absent) and, for uniform levels, the rest of the
    way starts from the bins' centres (:meth:`~vidcolor.quantizer.reconstruction.Quantizer.centre_offset`), a bilateral
    filter's correction of the frames is added, weighted per kind
    (:meth:`~vidcolor.quantizer.reconstruction.Quantizer.band_correction`; the strengths are chosen with it), for
    uniform levels and black-and-white palettes of at most 16 grays the result is pulled towards the interpolation
    between the bands' contours
    (:meth:`~vidcolor.quantizer.reconstruction.Quantizer.contour_estimate`), on colour frames of uniform levels whose
    output keeps their chroma (images, lossless 4:4:4 video: :meth:`set_output_chroma`) its colour differences are
    smoothed (:meth:`~vidcolor.quantizer.reconstruction.Quantizer.chroma_smoothing`), and the result is projected onto
    the observed pixels' quantization cells (:meth:`~vidcolor.quantizer.reconstruction.Quantizer.reconstruct`): never
    outside the bin or palette cell the input says the truth lies in, and unchanged where no quantizer is found. Frames
    that are black and white exactly stay so (:func:`gray_frames`).

    Args:
        model: registry name, safetensors path or exported ``.onnx`` (see :mod:`vidcolor.weights`).
        device: ``auto``, ``cpu``, ``cuda`` or a device as torch writes it (``cuda:1``, ``cpu:0``):
            :func:`~vidcolor.device.pick_device`.
        restore_luminance: None = what the model was trained for; True or False apply to LAB models only (an RGB
            model restores R, G and B together, an ab model keeps L): a VidcolorError with another.
        consistency: project onto the quantization cells (False: the generator's output as it is).
        backend, precision: see :func:`vidcolor.engine.load_engine` (``auto``: fp16 on CUDA; on a CPU fp32, or
            bf16 on torch where the CPU has native bf16: :data:`~vidcolor.engine.CPU_BF16_JOBS`).
        tile: frames with a longer side (pixels, an integer: 0 = never, else at least
            :data:`~vidcolor.jobs.MIN_TILE`) run tile by tile: the whole job (network input,
            network, recombination, projection) without temporal smoothing, the generator alone with it.

    ``__call__(frames uint8 (N, H, W, 3)) -> uint8 (N, H, W, 3)``.

    One object per thread: it keeps per-clip state from call to call (the clip's quantizer, the cut detector's
    previous frame, the temporal smoother's, :attr:`found`), so two threads calling one object mix their clips
    and get wrong output, with no error (up to 13 levels off in the API audit, stop 63); a lock would not help,
    as calls from two clips taking turns would still share that state. Make one per thread or stream, and call
    :meth:`reset` between unrelated clips given to one object.

    Raises:
        VidcolorError: unknown model, a model of another job, a device that is unknown or absent
            (:func:`~vidcolor.device.pick_device`), a backend or precision that cannot run here,
            ``restore_luminance`` given for a model that is not a LAB one, an option of another type (``consistency``
            or ``restore_luminance`` not True or False, a ``tile`` that is no integer or from 1 to
            :data:`~vidcolor.jobs.MIN_TILE` - 1); on a call, frames larger than
            :func:`~vidcolor.io.limits.check_frame_size` allows.
        ValueError: on a call, frames that are not uint8 RGB ``(N, H, W, 3)`` (:func:`check_frames`).
        TypeError: a model that is no name or path.
    """

    JOB = "dequantize"

    def __init__(self, model: str = DEFAULTS["dequantize"], device: str = "auto", restore_luminance: bool | None = None,
                 consistency: bool = True, backend: str = "auto", precision: str = "auto", tile: int = DEFAULT_TILE):
        check_flag(restore_luminance, "restore_luminance", none=True)
        check_flag(consistency, "consistency")
        self.device = pick_device(device)
        self.name = Path(str(model)).name
        """The model as the summary names it: a bundled name, or a weight file's name."""
        self.engine, _, self.arch = load_engine(model, self.JOB, self.device, backend, precision, tile)
        self.mode = self.arch["mode"]
        if restore_luminance is not None and self.mode != "lab":     # only a LAB model's L is the network's or not
            what = "an RGB model (it restores R, G and B together)" if self.mode == "rgb" else "which corrects ab alone"
            flag = option(f"restore_luminance={restore_luminance}",
                          f"--{'restore' if restore_luminance else 'keep'}-luminance")
            raise VidcolorError(f"{flag} does not apply to {model}, {what}; drop it")
        self.restore_luminance = self.mode == "lab" if restore_luminance is None else restore_luminance
        self.quantizers = QuantizerTracker() if consistency else None
        self._cuts = CutDetector()
        self.strength: dict[str, float] = dict(self.arch.get("strength", {}))
        self.smooth_chroma = True
        """Smooth the colour differences (:meth:`~vidcolor.quantizer.reconstruction.Quantizer.chroma_smoothing`): only
        for output that keeps its chroma (:meth:`set_output_chroma`; the library's frames do)."""
        self.chroma_halved = ""
        """What the output's encode does to the source's colour where it keeps less of it than the source has
        (:func:`set_chroma_halved`), which the summary says of frames passed unchanged (:attr:`Found.halved`);
        ``""``: nothing, or not known (the library's frames)."""
        self._clear_found()

    def _clear_found(self) -> None:
        self.found: list[Found] = []
        """What the frames were found on, in the order prepared, for the run summary (:mod:`vidcolor.api`): a clip's
        frames on one quantizer in a row are one entry, every call in stills mode (:meth:`set_stills`; a folder's
        still, one at a time) one of its own. Since the object was made or last :meth:`reset` or :meth:`set_stills`,
        which clear it, and only the first :data:`FOUND_KEPT` entries: the later ones are counted in
        :attr:`found_changes` and their frames in :attr:`found_frames`. It had kept every entry until the object
        went: 3,000 calls alternating palette and uniform frames, 3,000 entries (API audit, stop 63). Empty with
        consistency off."""
        self.found_changes = 0
        """Entries :attr:`found` would hold were it not cut at :data:`FOUND_KEPT`."""
        self.found_frames: dict[tuple[str, str | None], int] = {}
        """Frames by ``(quantizer, unchanged)`` (:class:`Found`'s fields) over every entry since :attr:`found` was
        cleared, in the order first seen."""
        self._last: Found | None = None     # the latest entry, kept in found or not
        self._found_open = False            # the next frames may join it

    def found_totals(self) -> list[Found]:
        """:attr:`found_frames` as one :class:`Found` a ``(quantizer, unchanged)``, in the order first seen."""
        return [Found(what, n, why).halved_by(self.chroma_halved) for (what, why), n in self.found_frames.items()]

    def set_output_chroma(self, kept: bool) -> None:
        """As :meth:`LabJob.set_output_chroma`: sets :attr:`smooth_chroma`."""
        self.smooth_chroma = kept

    def set_stills(self, stills: bool) -> None:
        """Unrelated stills get a quantizer estimate each; a clip's frames share one (see QuantizerTracker). Clears
        :attr:`found`."""
        self._clear_found()
        if self.quantizers is not None:
            self.quantizers.stills = stills

    def reset(self) -> None:
        """As :meth:`LabJob.reset`, and the clip's quantizer is estimated afresh; clears :attr:`found`."""
        super().reset()
        self._cuts.reset()
        self._clear_found()
        if self.quantizers is not None:
            self.quantizers = QuantizerTracker(stills=self.quantizers.stills)

    def prepare(self, frames: np.ndarray) -> Batch:
        return self._prepare(frames, tile_job=self.smoother is None)

    def strength_for(self, found: Quantizer) -> float:
        """The generator's strength for frames on ``found``: the model's ``strength`` under
        :attr:`~vidcolor.quantizer.reconstruction.Quantizer.strength_key`, else under the kind; 1 when it has neither.
        Frames of a clip (not stills, :meth:`set_stills`) take ``"<strength_key> clip"`` first where the model has one:
        through the video path one estimate holds for many frames of the clip, and palettes are smoothed over
        time (:data:`TEMPORAL_KINDS`), so a clip can take more of the generator than the stills the other
        strengths are chosen on."""
        key = self._strength_key(found)
        return 1.0 if key is None else self.strength[key]

    def _strength_key(self, found: Quantizer) -> str | None:
        """The key of :attr:`strength` that :meth:`strength_for` takes for ``found``; None: it has none (1)."""
        clip = self.quantizers is not None and not self.quantizers.stills
        for key in ((f"{found.strength_key} clip",) if clip else ()) + (found.strength_key, found.kind):
            if key in self.strength:
                return key
        return None

    def predict_lab(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 RGB ``(N, H, W, 3)`` -> ``(L, ab)`` of the corrected frames before strength, projection
        and smoothing (float32 ``(N, H, W)`` and ``(N, H, W, 2)``, ab in CIELAB units, L about [0, 100]: a LAB model's
        own L is not clipped, as :meth:`LabJob.lab` says). The
        job runs on whole frames (the engine still tiles the network of frames above its tile), in chunks as
        :meth:`__call__` runs; frames that pass unchanged (no quantizer, graphics, strength 0) give their own L and ab.
        Other frames raise as :meth:`__call__` does (:func:`check_frames`)."""
        check_frames(frames)
        size, still = self._chunking(frames)
        return in_chunks(frames, size, lambda part: self._predict_lab(part, still))

    def _predict_lab(self, frames: np.ndarray, still: Quantizer | None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_lab` of one chunk (``still``: as :meth:`_prepare`'s)."""
        batch = self._prepare(frames, tile_job=False, still=still)
        if batch.feeds is None:
            lab = rgb_to_lab(frames)
            return lab[..., 0], lab[..., 1:]
        L, ab = self.lab(self.infer(batch))
        for start, stop, _, strength in batch.context["runs"]:
            if not strength:
                lab = rgb_to_lab(frames[start:stop])
                L[start:stop], ab[start:stop] = lab[..., 0], lab[..., 1:]
        return L, ab

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """As :meth:`LabJob.__call__` (in chunks of :meth:`~LabJob.chunk_size` frames). In stills mode
        (:meth:`set_stills`) the call is one still's, as before: its quantizer is estimated once on all N frames, and
        each chunk is projected onto it."""
        check_frames(frames)
        size, still = self._chunking(frames)
        tile_job = self.smoother is None                # as prepare()
        return in_chunks(frames, size, lambda part: self.finish(self.infer(self._prepare(part, tile_job, still))))

    def _chunking(self, frames: np.ndarray) -> tuple[int, Quantizer | None]:
        """``(chunk size, still)`` of a direct call on ``frames``: :meth:`~LabJob.chunk_size`, and, in stills mode where
        the call is cut into chunks, the still's quantizer, estimated on all the frames and recorded (else None)."""
        size = self.chunk_size(frames.shape[2], frames.shape[1], len(frames))
        if self.quantizers is None or not self.quantizers.stills or len(frames) <= size:
            return size, None
        q = self.quantizers(frames)
        self._record([(0, len(frames), q, self._strength_of(q))])
        return size, q

    def _strength_of(self, q: Quantizer | None) -> float:
        """The strength frames found on ``q`` take: 1 for None (consistency off), 0 where ``q`` passes frames
        unchanged, else :meth:`strength_for`."""
        return 1.0 if q is None else 0.0 if q.passes_unchanged else self.strength_for(q)

    def _prepare(self, frames: np.ndarray, tile_job: bool, still: Quantizer | None = None) -> Batch:
        """:meth:`prepare`; ``tile_job``: a frame above the engine's tile runs the whole job tile by tile
        (the batch then carries no network input: :meth:`finish` prepares each tile). The batch's context
        holds ``runs``, ``[(start, stop, Quantizer or None, strength)]``: its frames in runs that share a quantizer
        (:meth:`_quantizers`), strength 0 where a run passes unchanged. ``still``: the quantizer of a still that
        these frames are a chunk of (:meth:`__call__`), estimated and recorded already."""
        if still is not None:
            runs = [(0, len(frames), still, self._strength_of(still))]
        else:
            found = self._quantizers(frames) if self.quantizers is not None else [(0, len(frames), None)]
            runs = [(start, stop, q, self._strength_of(q)) for start, stop, q in found]
            self._record(runs)
        context = {"runs": runs}
        if not any(strength for *_, strength in runs):
            # no quantizer, graphics, or a kind this model is not trusted with (strength 0): the result
            # would be the input whatever the generator said, so it is not run
            return Batch(frames, context=context)
        if "level_cue" in self.engine.inputs:      # only models that read it: of the whole frame
            context["cue"] = level_cue(frames)
        if tile_job and self.engine.tiles_frame(*frames.shape[1:3]):
            context["tiled"] = True                # the whole job runs tile by tile in finish
            return Batch(frames, context=context)
        return self._prepare_tile(frames, context)

    def _record(self, runs: list[tuple[int, int, Quantizer | None, float]]) -> None:
        """Add a batch's runs (:meth:`_prepare`) to :attr:`found`."""
        for start, stop, q, strength in runs:
            if q is None:                  # consistency off: nothing is estimated
                continue
            what = q.describe(measured=False)
            why = (None if strength else "" if q.passes_unchanged else
                   f"{self.name}'s strength for {self._strength_key(q)} frames is 0")
            self.found_frames[what, why] = self.found_frames.get((what, why), 0) + stop - start
            last = self._last if self._found_open else None
            if last is not None and (last.quantizer, last.unchanged) == (what, why):
                last.frames += stop - start
            else:
                self._last = Found(what, stop - start, why, q.describe())
                self.found_changes += 1
                if len(self.found) < FOUND_KEPT:
                    self.found.append(self._last)
            self._found_open = not self.quantizers.stills

    def _quantizers(self, frames: np.ndarray) -> list[tuple[int, int, Quantizer]]:
        """The quantizers of ``frames``, ``[(start, stop, Quantizer)]`` in runs (:meth:`QuantizerTracker.runs
        <vidcolor.quantizer.tracker.QuantizerTracker.runs>`): a still's own; a clip's frame by frame, estimated at fixed
        frames of each scene, so that the result does not depend on the batch size, and afresh at a hard cut
        (:class:`~vidcolor.temporal.CutDetector` on thumbnails), at the cut's frame. It had kept the clip's
        quantizer up to 64 frames, so a palette clip cut to ordinary footage was projected onto the palette for 24
        frames, 3 dB under its input."""
        if self.quantizers.stills:
            return [(0, len(frames), self.quantizers(frames))]
        cuts = [self._cuts(rgb_to_lab(_thumbnail(f))[..., 0]) for f in frames]
        return self.quantizers.runs(frames, cuts)

    def _prepare_tile(self, frames: np.ndarray, context: dict) -> Batch:
        feeds = {"frame": model_input(frames, self.mode, channels_first=True)}
        if "cue" in context:
            feeds["level_cue"] = context["cue"]
        return Batch(frames, feeds, context=context)

    def _finish_tiled(self, batch: Batch) -> np.ndarray:
        """A frame larger than the engine's tile, without temporal smoothing: network input, network, LAB
        recombination, strength and projection all run per tile (:func:`~vidcolor.engine.tile_regions`;
        every step but the network is per pixel, the network sees each tile's context), so that peak
        memory follows the tile, not the frame. The quantizer and the level cue are the whole frame's; the weight of
        the floor offset (:attr:`~vidcolor.quantizer.reconstruction.Quantizer.truncation_weight`) is set on the first
        tile that has floor levels above the lowest."""
        frames, context = batch.frames, {k: v for k, v in batch.context.items() if k != "tiled"}
        out = np.empty_like(frames)
        for (ya, yb, xa, xb), ((y0, y1), (x0, x1)) in tile_regions(*frames.shape[1:3], self.engine.tile):
            part = self.infer(self._prepare_tile(frames[:, ya:yb, xa:xb], context))
            out[:, y0:y1, x0:x1] = self._finish_batch(part)[:, y0 - ya:y1 - ya, x0 - xa:x1 - xa]
        return out

    def _rgb(self, y: np.ndarray) -> np.ndarray:
        """An RGB model's output ``(N, H, W, 3)`` in [-1, 1] -> uint8 RGB."""
        return np.clip((y + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)

    def lab(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        x, y = batch.feeds["frame"], batch.outputs[OUTPUT]          # (N, C, H, W), the network's layout
        if self.mode == "rgb":
            lab = rgb_to_lab(self._rgb(y.transpose(0, 2, 3, 1)))
            return lab[..., 0], lab[..., 1:]
        # L: the generator's (lab mode), else the input's; ab: the generator's (its 2 or last 2 channels)
        L_n = x[:, 0] if self.mode == "ab" or not self.restore_luminance else y[:, 0]
        return denormalize_planes(L_n, y if self.mode == "ab" else y[:, 1:])

    def finish(self, batch: Batch) -> np.ndarray:
        if batch.context.get("tiled"):
            return self._finish_tiled(batch)
        return self._finish_batch(batch)

    def _finish_batch(self, batch: Batch) -> np.ndarray:
        """:meth:`finish` of a batch of whole frames or of one tile of them: run by run (:meth:`_prepare`), in
        frame order, since the smoother carries state from frame to frame."""
        runs = batch.context["runs"]
        if len(runs) == 1:
            return self._finish_run(batch, *runs[0][2:])
        return np.concatenate([self._finish_run(_part(batch, start, stop), found, strength)
                               for start, stop, found, strength in runs])

    def _finish_run(self, batch: Batch, found: Quantizer | None, strength: float) -> np.ndarray:
        """Frames of ``batch`` that share the quantizer ``found`` (None: consistency off) -> uint8 RGB."""
        frames = batch.frames
        if batch.feeds is None or not strength:
            if self.smoother is not None:   # it starts afresh when frames are corrected again
                self.smoother.reset()
            return frames.copy()
        smoother = self.smoother
        if smoother is not None and found is not None and found.kind not in TEMPORAL_KINDS:
            smoother.reset()                # not smoothed (TEMPORAL_KINDS); afresh when smoothing resumes
            smoother = None
        if self.mode == "rgb" and smoother is None:  # no LAB round trip for the RGB baseline
            out = self._rgb(batch.outputs[OUTPUT].transpose(0, 2, 3, 1))
        else:
            out = self._join(*self.lab(batch), smoother)
        if found is not None:
            out = found.reconstruct(frames, out, strength, smooth_chroma=self.smooth_chroma)
        gray = gray_frames(frames)
        if gray.any():     # each pixel its channels' mean: the gray nearest the output (setting ab to 0 lost more)
            out[gray] = ((out[gray].sum(axis=-1, dtype=np.uint16) + 1) // 3).astype(np.uint8)[..., None]
        return out


def gray_frames(observed: np.ndarray) -> np.ndarray:
    """Which frames are black and white exactly (``R == G == B`` at every pixel: a gray image, a gray GIF,
    limited-range gray video): bool ``(N,)``, of uint8 RGB ``(N, H, W, 3)``. The dequantizer keeps them black and
    white (:meth:`Dequantizer._finish_run`: each pixel the mean of its corrected channels): it restores gradations,
    not colour, while the generator's small chroma correction tinted up to a quarter of a gray image's pixels by up
    to 4 levels. Measured on 29 held-back gray photos at 4 bits (PSNR against the gray original): +0.003 dB at bin
    middles, +0.010 at the bin floor, worst photo -0.18 (rounding to whole levels undoes a little of what the
    channels' differences held); setting the generator's ab to 0 instead lost 0.016 and 0.020 dB."""
    def gray(a: np.ndarray) -> bool:
        return np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2])
    # most colour frames are told apart on 1/64 of their pixels
    return np.array([gray(f[::8, ::8]) and gray(f) for f in observed], dtype=bool).reshape(len(observed))


def _part(batch: Batch, start: int, stop: int) -> Batch:
    """Frames ``start:stop`` of an inferred ``batch``: its frames, network inputs and outputs (all ``(N, ...)``)."""
    def cut(arrays):
        return None if arrays is None else {k: v[start:stop] for k, v in arrays.items()}
    return Batch(batch.frames[start:stop], cut(batch.feeds), cut(batch.outputs), batch.context)


def _thumbnail(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(H, W, 3)`` area-averaged to the size the cut test compares (:func:`~vidcolor.temporal.thumb_size`,
    64 pixels wide for most frames): its L costs a 2,000th of the frame's."""
    return cv2.resize(rgb, thumb_size(*rgb.shape[:2]), interpolation=cv2.INTER_AREA)


RENDER_MAX_ASPECT = 4
"""The colorizer's render is at most this many render sizes long (extreme aspect ratios stay bounded)."""


class RenderedLabJob(LabJob):
    """A :class:`LabJob` whose network predicts ab at a size of its own (:meth:`render_ab`) while L is the frame's,
    at full resolution (``batch.context["L"]``, from :func:`luminance`): the colorizers. ab is upsampled (bilinear),
    its chroma limited where dark (:func:`~vidcolor.color.limit_dark_chroma`: black bars stay black) and joined with
    L. Subclasses implement :meth:`~LabJob.prepare` and :meth:`render_ab`.
    """

    def render_ab(self, batch: Batch) -> np.ndarray:
        """The predicted ab of an inferred batch at the network's size: float32 ``(N, h, w, 2)`` in LAB units."""
        raise NotImplementedError

    def lab(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`LabJob.lab`: ab upsampled to the whole frame and limited where dark."""
        L = batch.context["L"]
        ab = resize_ab(self.render_ab(batch), L.shape[1:])
        limit_dark_chroma(L, ab)                  # black bars stay black
        return L, ab

    def finish(self, batch: Batch) -> np.ndarray:
        """As :meth:`LabJob.finish`. Without temporal smoothing (which keeps and warps whole frames' ab) ab is
        upsampled, limited where dark and joined with L a strip of rows at a time (:func:`strips`,
        :func:`~vidcolor.color.resize_ab_rows`), so that no frame-sized ab or LAB exists; the output is bit for bit
        that of :meth:`lab` and :meth:`LabJob._join` on the whole frame."""
        if self.smoother is not None:
            return super().finish(batch)
        L, ab, dtype = batch.context["L"], self.render_ab(batch), batch.frames.dtype
        out = np.empty((*L.shape, 3), dtype)
        rows = strips(*L.shape[1:])
        for i in range(len(L)):
            for (y0, y1), ab_rows in zip(rows, resize_ab_rows(ab[i], L.shape[1:], rows)):
                limit_dark_chroma(L[i, y0:y1], ab_rows)           # black bars stay black
                out[i, y0:y1] = recombine(L[i:i + 1, y0:y1], ab_rows[None], dtype)[0]
        return out


def render_geometry(height: int, width: int, render_size: int) -> tuple[float, tuple[int, int]]:
    """``(scale, (w, h))`` of an image ``height`` x ``width`` rendered for the colorizer: the shorter side becomes
    ``render_size`` unless the longer would then exceed :data:`RENDER_MAX_ASPECT` x ``render_size``; sides rounded,
    at least 1 (:meth:`Colorizer.network_input`, and the references reduced to it as they are read)."""
    scale = min(render_size / min(height, width), RENDER_MAX_ASPECT * render_size / max(height, width))
    return scale, (max(1, round(width * scale)), max(1, round(height * scale)))


class Colorizer(RenderedLabJob):
    """Colorize batches of gray (or colour, reduced to L) frames with a trained colorization generator.

    The network sees the frame's L resized so that its shorter side is ``render_size`` pixels (like
    DeOldify's render factor); the predicted ab is upsampled (bilinear) to full resolution and joined
    with the full-resolution source L, which keeps every edge (colour entanglement, seed 000 3.1). Frames above
    :data:`STRIP_PIXELS` pixels have their L, upsampled ab and recombination made a strip of rows at a time
    (without temporal smoothing; with it, only L and the recombination), bit for bit as whole.

    Args:
        model: registry name, safetensors path or exported ``.onnx`` of a ``colorize`` model.
        device: as :class:`Dequantizer`'s (``cuda:1`` too).
        render_size: shorter side, pixels, of the network's input (:data:`~vidcolor.jobs.RENDER_SIZE_RANGE`).
        saturation: factor on the predicted ab (chroma); seed 004 found 1.4 helped their desaturated
            output. 1 = as predicted; None = the model's own default (``arch["saturation"]``, else 1).
        temperature: annealed-mean temperature for bin-classifying models (Zhang et al. 2016 eq. 5);
            None = the model's own default (``arch["temperature"]``). Lower is more colourful.
        confidence: exponent g >= 0 (finite) of the per-pixel colour confidence of bin-classifying models
            (:func:`confidence_gain`): within each frame, colour moves from the pixels whose hue the model
            cannot tell to those it can, the frame's mean gain staying 1. 0 = every pixel alike.
        blur: Gaussian blur (kernel 5, sigma 0.7) of the network's L input (seed 001 preprocessing).
        equalize: histogram equalization of the network's L input (seed 001 preprocessing).
        backend, precision: see :func:`vidcolor.engine.load_engine`.

    ``__call__(frames uint8 RGB (N, H, W, 3)) -> uint8 RGB (N, H, W, 3)``; the output's L is the input's.

    One object per thread, as for :class:`Dequantizer`: with temporal smoothing (:meth:`~LabJob.set_temporal`) it
    keeps the clip's previous frame from call to call, and the reference and keyframe colorizers their clip's
    state too; two threads calling one object mix their clips with no error.

    Raises:
        VidcolorError: unknown model, a model of another job, a device that is unknown or absent
            (:func:`~vidcolor.device.pick_device`), bad option values (of another type too: a str for
            a number, anything but True or False for ``blur`` and ``equalize``); on a call, frames larger than the
            limits.
        ValueError: on a call, frames that are not uint8 RGB ``(N, H, W, 3)`` (:func:`check_frames`).
        TypeError: a model that is no name or path.
    """

    JOB = "colorize"
    """The ``job`` a model's ``arch`` record must name."""
    DEEP = True
    """16-bit frames (:attr:`LabJob.DEEP`): L is computed from their full precision and joined with the predicted ab
    at it (output uint16); the network sees the 8-bit L it sees of 8-bit frames (:meth:`network_input`)."""

    def __init__(self, model: str = DEFAULTS["colorize"], device: str = "auto", render_size: int = RENDER_SIZE,
                 saturation: float | None = None, temperature: float | None = None, blur: bool = False,
                 equalize: bool = False, backend: str = "auto", precision: str = "auto",
                 confidence: float = 0.0):
        if not (is_integer(render_size) and RENDER_SIZE_RANGE[0] <= render_size <= RENDER_SIZE_RANGE[1]):
            raise VidcolorError(f"{option('render_size')} must be {RENDER_SIZE_RANGE[0]} to {RENDER_SIZE_RANGE[1]} "
                                f"pixels, got {render_size!r} (an integer is needed)")
        # each named alone: one line for both named the one left at its default too ('got -1 and None')
        if saturation is not None and not (is_number(saturation) and 0 <= saturation < np.inf):      # NaN fails
            raise VidcolorError(f"{option('saturation')} must be >= 0 (a finite number), got {saturation!r}")
        if temperature is not None and not (is_number(temperature) and 0 < temperature < np.inf):
            raise VidcolorError(f"{option('temperature')} must be > 0 (a finite number), got {temperature!r}")
        if not (is_number(confidence) and 0 <= confidence < np.inf):      # NaN fails too
            raise VidcolorError(f"confidence must be >= 0 (a finite number), got {confidence!r}")
        check_flag(blur, "blur")
        check_flag(equalize, "equalize")
        self.device, self.model = pick_device(device), model
        self.engine, self._generator, self.arch = load_engine(model, self.JOB, self.device, backend, precision)
        self.render_size, self.blur, self.equalize = render_size, blur, equalize
        self.saturation = self.arch.get("saturation", 1.0) if saturation is None else saturation
        self.temperature = self.arch.get("temperature", 0.38) if temperature is None else temperature
        self.confidence = confidence
        if self.arch["mode"] != "bins" and (temperature is not None or confidence):
            raise VidcolorError(f"{option('temperature')} and the colour confidence apply to models that classify ab into bins; "
                                f"{model} regresses ab directly: drop them")
        self.bins = ab_gamut_bins() if self.arch["mode"] == "bins" else None
        self.upsize_said = render_size <= RENDER_SIZE
        """Whether a render size above the frame's shorter side has been warned about (:meth:`network_input`). True
        from the start for a size up to the default (the photos' size the models learnt at, which a smaller frame is
        upsized to anyway) and for a job's inner colorizer."""

    @property
    def generator(self):
        """The torch generator (with the torch engine, the exemplar colorizer's reference encoder runs on
        it), loaded when first asked for (an ONNX Runtime engine runs without torch); None for an exported
        ``.onnx`` model."""
        if self._generator is None and not str(self.model).endswith(".onnx"):
            from vidcolor.weights import load_generator

            self._generator = load_generator(self.model, self.device)[0]
        return self._generator

    def network_input(self, L: np.ndarray) -> np.ndarray:
        """Full-resolution L ``(N, H, W)`` -> the network's L ``(N, h, w)`` (resized, preprocessed), [0, 100].

        The shorter side becomes ``render_size``, unless the longer would then exceed
        :data:`RENDER_MAX_ASPECT` x ``render_size`` (a 4000x16 strip: 1024x4, not 64000x256). A render size above
        the default and the frame's shorter side upsizes it: warned about once (:attr:`upsize_said`):
        ``--render-size 1024`` on a 360p clip ran 22 times as long, its colour no better."""
        scale, size = render_geometry(*L.shape[1:], self.render_size)
        if scale > 1 and not self.upsize_said:
            self.upsize_said = True
            warn(f"{option('render_size')} {self.render_size} is larger than the frame's shorter side "
                 f"({min(L.shape[1:])} px): the network sees it upsized, which is slower and gives no more detail")
        out = []
        for x in L:
            x8 = cv2.resize(luminance_8bit(x), size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
            if self.equalize:
                x8 = cv2.equalizeHist(x8)
            if self.blur:
                x8 = cv2.GaussianBlur(x8, (5, 5), 0.7)
            out.append(x8.astype(np.float32) / 2.55)
        return np.stack(out)

    def prepare(self, frames: np.ndarray) -> Batch:
        L = luminance(frames)
        return Batch(frames, {"frame": (self.network_input(L) / 50.0 - 1.0)[:, None]}, context={"L": L})

    def render_ab(self, batch: Batch) -> np.ndarray:
        """As :meth:`RenderedLabJob.render_ab`, saturation and confidence applied (a channels-last view of the
        network's layout)."""
        y = batch.outputs[OUTPUT]
        with np.errstate(over="ignore"):        # a huge saturation: see below
            if self.bins is None:
                ab = y * (AB_SCALE * self.saturation)
            else:
                ab = annealed_mean(y, self.bins, self.temperature) * self.saturation
        if not np.isfinite(ab).all() and self.saturation > 1:   # so large (1e39) that ab overflowed float32
            with np.errstate(over="ignore", invalid="ignore"):
                base = y * AB_SCALE if self.bins is None else annealed_mean(y, self.bins, self.temperature)
                ab = np.clip(base.astype(np.float64) * self.saturation, -AB_FAR, AB_FAR).astype(np.float32)
        if self.bins is not None:
            if self.confidence:
                ab *= confidence_gain(resultant_length(y, self.bins), self.confidence)[:, None]
        return ab.transpose(0, 2, 3, 1)


AB_FAR = 1e6
"""Where :meth:`Colorizer.render_ab` clips an ab that a huge saturation took past float32's range: far outside
the gamut (as far as a saturation of about 1e4 takes it), which the conversion to RGB clips."""


CONFIDENCE_MAX_GAIN = 3.0
"""The most :func:`confidence_gain` multiplies a pixel's colour by (a frame whose hue is uncertain almost
everywhere would otherwise put all its colour on its few confident pixels)."""


def confidence_gain(agreement: np.ndarray, exponent: float) -> np.ndarray:
    """Per-pixel factor on the predicted ab that colours less where the hue is uncertain, per frame.

    ``R ** g / mean(R ** g)`` over each frame, at most :data:`CONFIDENCE_MAX_GAIN`: the frame keeps about
    its amount of colour (the mean factor is 1 but for the cap) and moves it to the pixels whose
    predicted distribution agrees in hue. Measured on held-back photos and unseen content in README,
    "Results: colorize" (per-pixel colour confidence).

    Args:
        agreement: float32 ``(N, h, w)``, R in [0, 1] (:func:`~vidcolor.color.resultant_length`).
        exponent: g > 0; larger moves more colour.

    Returns:
        float32 ``(N, h, w)``, factors in [0, :data:`CONFIDENCE_MAX_GAIN`].
    """
    gain = agreement ** np.float32(exponent)
    gain /= np.maximum(gain.mean(axis=(1, 2), keepdims=True), np.float32(1e-6))
    return np.minimum(gain, np.float32(CONFIDENCE_MAX_GAIN), out=gain)


def set_chroma_halved(fn: FrameBatchFn, halved: str | None) -> None:
    """Tell a :class:`Dequantizer` (or the one a :class:`~vidcolor.side_by_side.SideBySide` wraps) what the output's
    encode does to its source's colour (:func:`~vidcolor.source_warnings.chroma_loss`; None: nothing), which its
    summary says of frames passed unchanged (:attr:`Dequantizer.chroma_halved`); other jobs ignore it."""
    job = getattr(fn, "job", fn)
    if isinstance(job, Dequantizer):
        job.chroma_halved = halved or ""


def set_output_chroma(fn: FrameBatchFn, kept: bool) -> None:
    """Tell a job whether its frames' chroma is kept pixel for pixel where they are written:
    :meth:`LabJob.set_output_chroma`, for jobs that have it."""
    if callable(getattr(fn, "set_output_chroma", None)):
        fn.set_output_chroma(kept)


def check_batch_size(batch_size: int) -> None:
    """Refuse a batch size that is not an integer >= 1 (a bool neither): a batch of 2.5 frames never fills, so
    the whole stream became one batch.

    Raises:
        VidcolorError: naming the value.
    """
    if not is_integer(batch_size) or batch_size < 1:
        raise VidcolorError(f"batch size must be an integer of at least 1, got {batch_size!r}")


def check_batch_pixels(batch_size: int, width: int, height: int, sample_bytes: int = 1) -> None:
    """Refuse a batch of ``batch_size`` frames of ``width`` x ``height`` that holds more pixels than the largest frame
    vidcolor accepts (:data:`~vidcolor.io.limits.MAX_PIXELS`; one frame is always allowed): a batch is stacked, and
    each stage's arrays follow it, so ``--batch-size 100000`` on a 640x360 clip grew to 12.9 GB before running out
    of memory, with nothing written. Counted in bytes: frames of ``sample_bytes`` 2 (uint16, :attr:`LabJob.DEEP`)
    take half as many pixels. Checked once the frame size is known, before any frame is processed.

    Raises:
        VidcolorError: naming the size and the largest batch for it.
    """
    pixels = limits.MAX_PIXELS // sample_bytes
    largest = max(1, pixels // max(1, width * height))
    if batch_size > largest:
        raise VidcolorError(f"batch size {batch_size} of {width}x{height} frames holds more pixels than vidcolor "
                            f"takes at once ({pixels // 1_000_000} megapixels"
                            f"{' of 16-bit frames' if sample_bytes > 1 else ''}): at most {largest} "
                            f"at this size ({option('batch_size')})")


def batched(frames: Iterable[np.ndarray], fn: FrameBatchFn, batch_size: int) -> Iterator[np.ndarray]:
    """Run ``fn`` over ``frames`` (each uint8 ``(H, W, 3)``) in batches of ``batch_size``; yield frames in order.
    A frame that is no NumPy array but converts to one (``__array__`` or ``__array_interface__``: a PIL RGB image, a
    CPU uint8 torch tensor ``(H, W, 3)``) is taken as ``np.asarray(frame)``, then checked.

    ``batch_size`` and ``frames`` as a whole are checked when called (:func:`check_batch_size`,
    :func:`check_frame_stream`), each frame as it is read, while the output is consumed.

    Raises:
        VidcolorError: a batch size that is not an integer >= 1; as the frames are read, a first frame larger than
            :func:`~vidcolor.io.limits.check_frame_size` allows (before a batch is stacked), a batch of it holding
            more pixels than that (:func:`check_batch_pixels`), a frame of another shape than the first's.
        TypeError: ``frames`` that are no iterable, or a path (:func:`check_frame_stream`).
        ValueError: an array ``frames`` that is not 4-d (one frame ``(H, W, 3)`` is iterated as its rows); as the
            frames are read, a frame that is not uint8 RGB ``(H, W, 3)``, no side empty (naming its index).
    """
    check_batch_size(batch_size)
    check_frame_stream(frames)
    return _batches(frames, fn, batch_size)


def check_frame_stream(frames) -> None:
    """Refuse ``frames`` that :func:`batched` cannot take as frames one by one, when it is called: None or another
    object that is no iterable ("'NoneType' object is not iterable" came once the output was consumed), a path
    (``str``, ``bytes``, :class:`os.PathLike`: iterated as its characters), an array that is not ``(N, H, W, 3)``
    (one frame ``(H, W, 3)`` is iterated as its rows). Reads no frame.

    Raises:
        TypeError: no iterable, or a path, naming the argument and what it takes.
        ValueError: an array that is not 4-d.
    """
    if isinstance(frames, (str, bytes, os.PathLike)):
        raise TypeError(f"frames must be uint8 RGB (H, W, 3) frames (a list, an iterator, an array (N, H, W, 3)), "
                        f"got {type(frames).__name__} {str(frames)[:100]!r}: a file's path is given to "
                        "dequantize() or colorize()")
    try:
        iter(frames)
    except TypeError:
        raise TypeError(f"frames must be uint8 RGB (H, W, 3) frames (a list, an iterator, an array (N, H, W, 3)), "
                        f"got {f'{type(frames).__name__} {frames!r}'[:100]}") from None
    if isinstance(frames, np.ndarray) and frames.ndim != 4:
        raise ValueError(f"expected frames uint8 RGB (H, W, 3) one by one (a list, an iterator) or as an array "
                         f"(N, H, W, 3), got an array {described(frames)}" +
                         (" (one frame: give [frame])" if frames.ndim == 3 and frames.shape[-1] == 3 else ""))


def _batches(frames: Iterable[np.ndarray], fn: FrameBatchFn, batch_size: int) -> Iterator[np.ndarray]:
    """:func:`batched`'s generator. A frame that is not uint8 RGB ``(H, W, 3)`` raises a ValueError naming its index
    and what it is (the batch's check described the stacked batch: a gray ``(24, 32)`` frame was "expected (N, H, W,
    3), got uint8 (4, 24, 32)"); a frame whose shape is not the first frame's a VidcolorError naming it (the batch's
    ``np.stack`` said "all input arrays must have the same shape", API audit, stop 63)."""
    batch: list[np.ndarray] = []
    first = None
    for i, frame in enumerate(frames):
        given = frame
        if not isinstance(frame, np.ndarray) and (hasattr(frame, "__array__") or hasattr(frame, "__array_interface__")):
            try:                # a PIL RGB image, a CPU uint8 torch tensor: np.stack took them before the check
                frame = np.asarray(frame)
            except (TypeError, ValueError, RuntimeError):       # a CUDA tensor: refused below, with how to give it
                pass
        try:
            check_rgb(frame, (3,), f"frame {i}")
        except ValueError as exc:
            hint = conversion_hint(frame, batch=False) or conversion_hint(given, batch=False)
            raise ValueError(f"{exc}{hint}") from None
        if first is None:           # checked before np.stack copies it (the job's own check came after)
            check_frame_size(frame.shape[1], frame.shape[0], f"frame {i}")
            first = frame.shape
        elif frame.shape != first:
            raise VidcolorError(f"frame {i} is {frame.shape} where frame 0 is {first}: the frames of one clip "
                                "share one size (uint8 (H, W, 3))")
        if not batch:
            check_batch_pixels(batch_size, frame.shape[1], frame.shape[0])
        batch.append(frame)
        if len(batch) == batch_size:
            yield from fn(np.stack(batch))
            batch.clear()
    if batch:
        yield from fn(np.stack(batch))


BATCH_PIXELS = {"cpu": 1_000_000, "cuda": 16_000_000}
"""Pixels per batch that :func:`auto_batch_size` aims at per device type (see docs/speed_cpu.md)."""


def auto_batch_size(width: int, height: int, device: str | None = None, largest: int = 16,
                    sample_bytes: int = 1) -> int:
    """Frames per batch for ``width`` x ``height`` frames: about :data:`BATCH_PIXELS` pixels per batch for the
    device (CPU when None; ``cuda:N`` as ``cuda``), at least 1 and at most ``largest``; e.g. CPU 640x360 -> 4, 1920x1080 -> 1.
    Frames of ``sample_bytes`` 2 (uint16: :attr:`LabJob.DEEP`) count twice, so that a batch's frames and output, which
    every queue of the run holds, take the bytes they take at 8 bits (CPU 640x360: 2)."""
    budget = BATCH_PIXELS.get(device_type(device or "cpu"), BATCH_PIXELS["cpu"]) / sample_bytes
    return max(1, min(largest, round(budget / max(1, width * height))))


def job_batch_size(job, width: int, height: int, sample_bytes: int = 1) -> int:
    """The automatic frames per batch of ``job`` (a callable over frame batches) for ``width`` x ``height`` frames of
    ``sample_bytes`` bytes a sample (2: uint16): :func:`auto_batch_size` for its ``device``, capped by its
    ``largest_batch(width, height)`` where it has one (the reference mode's matching grows with the references:
    :meth:`~vidcolor.reference.ReferenceColorizer.largest_batch`). The file path and each Ray segment use it."""
    batch = auto_batch_size(width, height, getattr(job, "device", None), sample_bytes=sample_bytes)
    if hasattr(job, "largest_batch"):
        batch = min(batch, job.largest_batch(width, height))
    return batch


@dataclass
class RunSummary:
    """What a run did: frames written, the seconds they took (not the call's start-up: :attr:`startup`) and
    throughput (:attr:`fps`, frames per second).

    Its line (``str``): ``30 frames in 3.8 s (7.99 fps; 3.0 s start-up, 0.3 s finish) -> out.mp4; <note>``: the
    seconds and the rate are of the frames alone (the first read to the last written, as README's speed sections
    quote "the summary line's rate, start-up excluded"), and the start-up and finish, where measured
    (:meth:`timed_from`), are the rest of the command's wall time. Still images are counted as images, with the time
    an image instead of a rate (``3 images in 0.6 s (0.20 s an image)``), and one frame or image has no rate (``1
    image in 0.2 s``: a rate of one is its start-up noise). A run that had nothing to do, every output existing
    (``skip_existing``: :attr:`skipped`), says so: ``nothing to do: out.mp4 exists (skip_existing)``; the note names
    options for the run's reader (:func:`vidcolor.errors.worded`: ``--skip-existing`` in the CLI)."""

    frames: int
    """Frames (or images, :attr:`unit`) written; 0 where nothing was to do (:attr:`skipped`)."""
    seconds: float
    """Seconds from the first frame read to the last written: the frames' time, without the start-up (the model's
    load, opening the files) or the finish (:attr:`startup`, :attr:`finish`)."""
    output: str
    """Where they went, as a str: the output file, the output folder of a folder, ``"-"`` for stdout."""
    note: str = ""
    """What the job found, e.g. the quantizer it estimated; appended to the summary line."""
    segments: list[dict] = field(default_factory=list)
    """A distributed run's segments: ``{"index", "frames", "seconds", "began", "ended", "node"}`` each
    (:mod:`vidcolor.distributed`)."""
    unit: str = "frame"
    """What :attr:`frames` counts: ``frame`` (a clip's frames, or a folder's images and clip frames together) or
    ``image`` (still images alone)."""
    began: float | None = None
    """When the frames began (``time.perf_counter()``), for :meth:`timed_from`; None: not known."""
    startup: float | None = None
    """Seconds before the frames began (imports, the model's load, opening the input and the output), once
    :meth:`timed_from` has measured them; None: not measured."""
    finish: float | None = None
    """Seconds after the last frame was written (the encoder's last frames, the audio, a GIF's palette pass), as
    :attr:`startup`."""
    skipped: int = 0
    """Inputs left unread because their outputs exist (``skip_existing``); with no frames, the line is ``nothing to
    do: <note>``."""
    found: list[list[Found]] | None = None
    """A Ray run's quantizers (:mod:`vidcolor.distributed`), each clip's written, in order: its segments'
    :attr:`Dequantizer.found` without their warm-up frames, joined (a quantizer that goes on past a segment's end is
    one entry); None where the job tracks none, or a clip's segments were reused from an earlier run."""
    joined_only: bool = False
    """The frames were all processed by an earlier run, and this one only joined them (a Ray rerun that found every
    segment done, :mod:`vidcolor.distributed`): :attr:`seconds` are the call's (the join, mostly), which no rate is
    made of (:attr:`fps` 0.0; the line ``192 frames joined in 0.1 s -> out.mp4; <note>``). A rate of those seconds
    (376.70 fps for 96 frames joined in 0.3 s) was no throughput of anything."""

    @property
    def fps(self) -> float:
        """:attr:`frames` a second of :attr:`seconds` (images a second for images); 0.0 where no time was measured, or
        the frames were not processed in this run (:attr:`joined_only`)."""
        return self.frames / self.seconds if self.seconds > 0 and not self.joined_only else 0.0

    def timed_from(self, started: float) -> "RunSummary":
        """Measure :attr:`startup` and :attr:`finish` of a command or call that began at ``started``
        (``time.perf_counter()``) and ends now: the time outside the frames. Nothing where :attr:`began` is not
        known. Returns the summary itself."""
        if self.began is not None:
            self.startup = max(0.0, self.began - started)
            self.finish = max(0.0, time.perf_counter() - self.began - self.seconds)
        return self

    def __str__(self) -> str:
        if self.skipped and not self.frames:
            return f"nothing to do: {self.note}"
        line = (f"{self.frames} {self.unit}{'' if self.frames == 1 else 's'}{' joined' if self.joined_only else ''} "
                f"in {self.seconds:.1f} s")
        more = []
        if self.frames > 1 and not self.joined_only:
            more.append(f"{self.seconds / self.frames:.2f} s an image" if self.unit == "image" else
                        f"{self.fps:.2f} fps")
        outside = [f"{t:.1f} s {what}" for t, what in ((self.startup, "start-up"), (self.finish, "finish"))
                   if t is not None and t >= 0.05]
        if outside:
            more.append(", ".join(outside))
        line += (f" ({'; '.join(more)})" if more else "") + f" -> {self.output}"
        return f"{line}; {self.note}" if self.note else line


def run(frames: Iterable[np.ndarray], fn: FrameBatchFn, write: Callable[[np.ndarray], None], batch_size: int,
        total: int | None, output: str, progress: bool = True, unit: str = "frame") -> RunSummary:
    """Stream ``frames`` through ``fn`` into ``write`` with a tqdm bar on stderr; return the summary.

    Decoding, ``fn``'s stages and writing overlap (:func:`vidcolor.executor.execute`).

    Raises:
        VidcolorError: a batch size that is not an integer >= 1 (:func:`check_batch_size`); what ``frames``, ``fn``
            and ``write`` raise goes through.
    """
    check_batch_size(batch_size)
    start = time.perf_counter()
    with tqdm(total=total or None, unit=unit, disable=not progress, dynamic_ncols=True, leave=False) as bar:
        def written(frame: np.ndarray) -> None:
            write(frame)
            bar.update(1)

        n = execute(frames, fn, written, batch_size)
    return RunSummary(n, time.perf_counter() - start, output, unit=unit, began=start)
