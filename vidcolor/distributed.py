"""Scale-out on Ray (``--executor ray``): a video split into segments at keyframes, one Ray actor per worker.

Design (Ray Core actors, not Ray Data): each segment is decoded, processed and encoded where it runs,
so only a segment's description goes to a worker and only its file name comes back; frames never
travel through the object store (640x360 RGB is 0.7 MB a frame, a 90-minute film 100 GB of them),
and encoding is spread over the workers instead of being one serial stage on the driver.

* The driver plans the segments by demuxing (:func:`vidcolor.io.segments.plan_segments`; shorter than
  the target when the clip is too short to give every worker one), builds the
  job once (to check the options, and for what must be computed once: the reference features of
  ``--reference``, the generators of ``--reference-mode internal``), and ships that to every worker
  once through the object store.
* A worker (:class:`SegmentWorker`, one Ray actor per GPU or per CPU) loads the model once, then takes
  segments from an :class:`ray.util.ActorPool` as it becomes free. For each it resets the job's state,
  decodes :data:`WARMUP_FRAMES` frames before the segment through the job and drops their output (so
  the temporal smoother starts as in the serial run; the quantizer is estimated afresh from those
  frames, where the serial run may still hold an estimate from earlier ones), then processes and
  encodes the segment's own frames (:func:`vidcolor.executor.execute`, as the local run does) into
  a NUT file in the work folder, written under a temporary name and renamed when complete.
* Faults: an actor whose process dies is restarted by Ray and its segment retried
  (:data:`MAX_RESTARTS`); a segment's file exists only once it is complete. Actors whose worker processes cannot
  start (Ray retries those for ever) end the run after :data:`START_WAIT` seconds, with the worker's fatal line.
* Resume: the work folder (``.<output name>.vidcolor-work`` beside the output, :func:`work_folder`) is keyed by the input
  (path, size, modification time), the job and its options (the contents of the files it reads, its weights',
  :meth:`JobSpec.key`),
  the encoder settings and the target segment length, and holds the segment plan (``segments.json``); a rerun after a crash or Ctrl-C keeps that plan
  whatever the size of its cluster and redoes only the segments whose files are missing. It is removed
  once the output is in place.
* Depth: a source of more than 8 bits per sample whose job keeps it (:attr:`JobSpec.eight_bits` None) is decoded,
  processed and encoded at 16 bits in every segment, as a local run's (:attr:`Clip.deep`); the parts, 10-bit, are
  joined as they are.
* The parts are joined without re-encoding (:func:`vidcolor.io.writer.join_segments`), with the
  source's audio and subtitle tracks, metadata and chapters, as the local path maps them.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from vidcolor.device import as_str, parse_device
from vidcolor.errors import VidcolorError, add_note, kept_warnings, option, warn
from vidcolor.executor import execute, signals_deferred
from vidcolor.io.files import file_stamp, stat_stamp
from vidcolor.io.reader import probe, warn_about_source, warn_changed
from vidcolor.io.partial import cannot_write, name_max, remove_if_dead
from vidcolor.io.segments import Segment, SegmentError, plan_segments, rate_grid, read_segment
from vidcolor.io.timing import RateGrid, Timeline
from vidcolor.io.writer import (OutputExists, Passthrough, VideoWriter, check_target, default_pix_fmt, encoded_bits,
                                join_segments, kept_note, removing_made_folders, write_file_atomically)
from vidcolor.pipeline import Found, RunSummary, check_batch_pixels, job_batch_size, set_output_chroma
from vidcolor.side_by_side import set_shown_primaries
from vidcolor.source_warnings import chroma_loss, chroma_of, chroma_reason, output_colour

INSTALL = option("executor='ray'") + " needs Ray: pip install 'vidcolor[ray]'"

SEGMENT_SECONDS = 20.0
"""Default target segment length (seconds): on a 47 s clip with 2 CPU workers, 20 s segments kept 0.88 of the
local throughput for dequantize against 0.85 (10 s) and 0.81 (5 s); see the README's Ray table."""

WARMUP_FRAMES = 8
"""Frames decoded and processed before each segment (their output dropped): the temporal smoother's
weight on the state it starts from decays as ``strength ** n`` (0.6 ** 8 = 0.017)."""

MAX_RESTARTS = 3
"""How often an actor whose process died is restarted, and its segment retried."""

KILL_WAIT = 10.0
"""Seconds a stopped run waits for its killed actors to be gone before it clears the work folders."""

START_WAIT = 60.0
"""Seconds the actors get to start (their worker processes to come up and register with Ray) before the run gives
up. Ray itself never does: a worker process that dies as it starts (e.g. ``shared_memory.cc:46: mmap failed``) is
replaced by another every ``worker_register_timeout_seconds`` (60 s), for ever, and the actor waits. 60 s is
that same allowance; a cold worker here starts in 2-5 s."""

WORK_SUFFIX = ".vidcolor-work"
PLAN_FILE = "segments.json"
PARTS_FORMAT = 2
"""The version of what a work folder's parts hold, in its key (:func:`open_work`): a change to how segments are
written (their timestamps, their encoding) that the key's other terms do not show must raise it, so that a rerun
empties a folder of parts made the old way rather than joining them to new ones. 2: parts timestamped on the clip's
:class:`~vidcolor.io.timing.RateGrid` (a Matroska source's milliseconds put back on its rate)."""


@dataclass
class JobSpec:
    """How a worker builds the job: ``build(**options, **shared)``.

    ``build`` is a module-level function (pickled by reference); ``options`` are JSON-able settings;
    ``shared`` holds what was computed once on the driver (arrays, bytes), put in the object store once;
    ``files`` are the files the job reads by their names in ``options`` (the model's weights), which only
    :meth:`key` uses. ``eight_bits`` says what becomes of a source of more than 8 bits per sample, as
    :func:`~vidcolor.io.reader.warn_about_source` takes it (a keyword, required): a text, why its frames are
    processed at 8 bits (:func:`~vidcolor.source_warnings.eight_bit_reason`'s); None, they are not: the job takes
    uint16 RGB frames (:attr:`~vidcolor.pipeline.LabJob.DEEP`) and the encoder settings hold more than 8 bits
    (:func:`~vidcolor.io.writer.holds_deep`, with :class:`Encoding`'s ``pix_fmt`` None taken as
    :func:`~vidcolor.io.writer.default_pix_fmt`'s for such a source), so such a source is decoded, processed and
    encoded at 16 bits, as a local run does (:func:`vidcolor.api.process`). Not in :meth:`key`: :func:`open_work`
    adds it there for a clip it applies to, so that the keys of 8-bit sources stay what they were.
    """

    build: Callable
    options: dict
    shared: dict = field(default_factory=dict)
    files: tuple = ()
    eight_bits: str | None = field(kw_only=True)
    colours: bool = field(default=False, kw_only=True)
    """Whether the job makes colours anew (colorize: :func:`~vidcolor.source_warnings.makes_colours`), which decides the
    output's colour tags (:func:`~vidcolor.source_warnings.output_colour`), as a local run decides them. Not in
    :meth:`key`: the options' kind says it."""

    def key(self) -> str:
        """A digest of the function, options, shared data and :attr:`files` (their contents' SHA-256,
        :func:`file_digest`, in order; a file that cannot be read by its name): what makes two runs' segments the same.
        (A weight file replaced at the same path, a model retrained after a run was stopped, gave the same key, and the
        rerun joined the old model's segments to the new one's.) Not their paths: the bundled weights of a copy of
        vidcolor installed elsewhere, or a model file moved, are the same weights, whose segments a rerun keeps; the
        key held each file's resolved path, size and modification time before, so a work folder keyed so starts over
        once (its segments are redone)."""
        h = hashlib.sha256(f"{self.build.__module__}.{self.build.__qualname__}".encode())
        h.update(json.dumps(self.options, sort_keys=True, default=str).encode())
        for name in self.files:
            try:
                found = os.stat(name)
                h.update(file_digest(str(Path(name).resolve()), found.st_size, found.st_mtime_ns).encode())
            except OSError:
                h.update(json.dumps([str(name), None]).encode())
        for name in sorted(self.shared):
            h.update(name.encode())
            for value in self.shared[name] if isinstance(self.shared[name], tuple) else (self.shared[name],):
                h.update(value.tobytes() if isinstance(value, np.ndarray) else bytes(value))
        return h.hexdigest()


@functools.lru_cache(maxsize=32)
def file_digest(path: str, size: int, mtime_ns: int) -> str:
    """The SHA-256 of the file at ``path`` (hex), as the bundled weights' model cards give it; ``size`` and
    ``mtime_ns`` (its ``os.stat``'s) key the cache alone, so that a folder's clips, each keyed by
    :meth:`JobSpec.key`, read a weight file once (8 MB, about 20 ms) and one rewritten since is read again.

    Raises:
        OSError: the file cannot be read."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass(frozen=True)
class Encoding:
    """The output's encoder settings (see :class:`~vidcolor.io.VideoWriter`) and the batch size (None: auto).
    ``pix_fmt`` None (the default): each clip's default (:func:`~vidcolor.io.writer.default_pix_fmt`: ``yuv420p``,
    or ``yuv420p10le`` with libx265 and ffv1 for a source of more than 8 bits per sample that the job keeps at its
    depth, :attr:`JobSpec.eight_bits`), set by :func:`open_work` before the work folder's key is made."""

    codec: str = "libx264"
    crf: int = 16
    preset: str = "medium"
    pix_fmt: str | None = None
    batch_size: int | None = None
    tune: str | None = None
    x264_params: str | None = None


@dataclass(frozen=True)
class Clip:
    """One input video and what is needed to write its segments: sizes after rotation (output width,
    twice the frame's for ``--compare``), frame rate, time base, colour description and pixel aspect
    (:class:`~vidcolor.io.VideoInfo`'s)."""

    input: Path
    target: Path
    width: int
    out_width: int
    height: int
    fps: Fraction
    time_base: Fraction | None
    colour: tuple[tuple[str, int], ...] = ()
    pixel_aspect: Fraction = Fraction(1)
    name: str = ""
    """The input as the user named it, for messages (``input`` is made absolute for the workers); ``input``'s
    where empty."""
    grid: RateGrid | None = None
    """The grid a local run's reader puts the timestamps on (:func:`~vidcolor.io.segments.rate_grid`: a 29.97 fps
    Matroska file's milliseconds on 1/30000), None where they are kept as they are."""
    origin: int = 0
    """The clip's first frame's pts (the first segment's ``start_pts``), where the grid is counted from; set as
    each segment is given to a worker."""
    primaries: int | None = None
    """The source's colour primaries (FFmpeg's AVColorPrimaries), which ``--compare``'s input half is converted from
    where the output's (:attr:`colour`) differ (:func:`~vidcolor.side_by_side.set_shown_primaries`)."""
    deep: bool = False
    """Whether the frames are decoded, processed and encoded as uint16 RGB (0..65535; a source of more than 8 bits
    per sample whose job keeps its depth, :attr:`JobSpec.eight_bits`), as a local run's
    (:class:`~vidcolor.io.VideoReader`'s ``deep``)."""

    @property
    def timebase(self) -> Fraction | None:
        """The time base of the parts' and the output's timestamps: the grid's, else the source's."""
        return self.grid.time_base if self.grid is not None else self.time_base


CONNECT_BOUNDS = {"RAY_gcs_server_port_wait_time_s": "1", "RAY_py_gcs_connect_timeout_s": "20"}
"""Ray's own settings (``RAY_<name>`` variables, read when ``ray`` is imported) that bound ``ray.init``'s wait for
the cluster ``RAY_ADDRESS`` names: one attempt to reach its GCS (``gcs_server_port_wait_time_s``, an operator's
budget of attempts where a driver connects; 20 otherwise), of at most 20 s for its cluster ID
(``py_gcs_connect_timeout_s``, 30 by default). Ray 2.60 tried 20 times, each about 41 s (its 5 s GCS channel
connect, 5 s for its pubsub, 30 s): 14 minutes before it gave up on an address where nothing listens; bounded,
31 s. Set in the environment before ``ray`` is imported, where neither the user has set them nor ``ray`` is
imported already (:func:`import_ray`); a user's own values are kept. Measured with Ray 2.60; a Ray whose driver
connect does not read the attempts setting still makes its 20 attempts."""


def import_ray():
    """The ``ray`` module, imported with :data:`CONNECT_BOUNDS` where ``RAY_ADDRESS`` names a cluster.

    Raises:
        VidcolorError: one line, how to install Ray, when it is missing."""
    if os.environ.get("RAY_ADDRESS") and "ray" not in sys.modules:
        for name, value in CONNECT_BOUNDS.items():
            os.environ.setdefault(name, value)
    try:
        import ray
    except ImportError:
        raise VidcolorError(INSTALL) from None
    return ray


class SegmentWorker:
    """A Ray actor that builds the job once (on its first segment) and processes segments one at a time.

    Args:
        spec: the :class:`JobSpec` without its ``shared`` data (that comes with each :meth:`run`, as an
            object-store reference Ray resolves on the worker's node once, so that an actor Ray restarts
            after a crash can build the job again).
    """

    def __init__(self, spec: JobSpec):
        self.spec, self.job = spec, None

    def ready(self) -> bool:
        """Answers once the actor is up (the start-up check)."""
        return True

    def run(self, clip: Clip, segment: Segment, part: str, encoding: Encoding, progress, shared: dict) -> dict:
        """Decode, process and encode ``segment`` of ``clip`` into ``part`` (NUT, renamed when complete).

        The warnings of building the job and of the segment (:func:`~vidcolor.errors.warn`) are kept
        (:func:`~vidcolor.errors.kept_warnings`) for the driver to say (:func:`_result`), as a local run says them;
        here they would be raw Python warning lines in Ray's log, one set per worker, shown on the driver or not.

        Returns:
            ``{"index", "frames", "seconds", "began", "ended", "node", "part", "found", "warnings"}``: the segment's
            frames, its wall time (seconds), when it began and ended (``time.time()``), the Ray node it ran on, its
            file (``part``), what the job found in its frames (:func:`_after_warmup`; None for a job that tracks no
            quantizers), the texts of its warnings (their options marked). An exception carries those in
            ``vidcolor_warnings``.
        """
        said: list[str] = []
        try:
            with kept_warnings() as said:
                done = self._run(clip, segment, part, encoding, progress, shared)
        except Exception as exc:
            if said:
                with contextlib.suppress(AttributeError):       # (an exception type without a __dict__)
                    exc.vidcolor_warnings = said
            raise
        return {**done, "warnings": said}

    def _run(self, clip: Clip, segment: Segment, part: str, encoding: Encoding, progress, shared: dict) -> dict:
        import ray

        if self.job is None:
            self.job = self.spec.build(**self.spec.options, **shared)
        began = time.time()
        self.job.reset()
        set_shown_primaries(self.job, clip.primaries, dict(clip.colour).get("color_primaries"))     # compare's
        batch = encoding.batch_size or job_batch_size(self.job, clip.width, clip.height, 2 if clip.deep else 1)
        done = 0
        timeline = Timeline.of(clip.fps, clip.timebase)
        with VideoWriter(part, clip.out_width, clip.height, clip.fps, codec=encoding.codec, crf=encoding.crf,
                         preset=encoding.preset, tune=encoding.tune, x264_params=encoding.x264_params,
                         timeline=timeline, container=_part_format(encoding.codec),
                         overwrite=True, pix_fmt=encoding.pix_fmt, colour=dict(clip.colour),
                         pixel_aspect=clip.pixel_aspect, deep=clip.deep) as writer:
            set_output_chroma(self.job, writer.keeps_chroma)
            def write(frame: np.ndarray) -> None:
                nonlocal done
                done += 1
                if done > segment.warmup:
                    writer.write(frame)
                    if (done - segment.warmup) % 16 == 0:
                        progress.set.remote(str(part), done - segment.warmup)

            frames = read_segment(clip.input, segment, timeline, clip.name or None, clip.grid, clip.origin, clip.deep)
            execute(frames, self.job, write, batch)
        progress.set.remote(str(part), segment.frames)
        ended = time.time()
        job = getattr(self.job, "job", self.job)        # (compare's SideBySide holds it)
        found = _after_warmup(job.found, segment.warmup) if callable(getattr(job, "found_totals", None)) else None
        return {"index": segment.index, "frames": segment.frames, "seconds": ended - began, "began": began,
                "ended": ended, "node": ray.get_runtime_context().get_node_id()[:8], "part": part, "found": found}


def _after_warmup(found: list[Found], warmup: int) -> list[Found]:
    """A segment's :attr:`~vidcolor.pipeline.Dequantizer.found` without its first ``warmup`` frames (processed and
    dropped)."""
    kept = []
    for entry in found:
        if warmup >= entry.frames:
            warmup -= entry.frames
            continue
        kept.append(replace(entry, frames=entry.frames - warmup))
        warmup = 0
    return kept


def _joined_found(parts: list[list[Found]]) -> list[Found]:
    """A clip's :attr:`~vidcolor.pipeline.Dequantizer.found` from its segments' (:func:`_after_warmup`), in order:
    an entry that goes on in the next segment (the same quantizer, passed unchanged or not alike) is one."""
    joined: list[Found] = []
    for entry in (e for part in parts for e in part):
        if joined and (joined[-1].quantizer, joined[-1].unchanged) == (entry.quantizer, entry.unchanged):
            joined[-1] = replace(joined[-1], frames=joined[-1].frames + entry.frames)
        else:
            joined.append(replace(entry))
    return joined


class Progress:
    """A Ray actor that counts the frames done per segment file (a retried segment starts again at 0)."""

    def __init__(self):
        self.done: dict[str, int] = {}

    def set(self, part: str, frames: int) -> None:
        self.done[part] = frames

    def total(self) -> int:
        return sum(self.done.values())


def _part_format(codec: str) -> str:
    """The segments' container: NUT (exact time base, any codec) except for ProRes, which NUT cannot hold."""
    return "mov" if codec == "prores" else "nut"


def _part_suffix(codec: str) -> str:
    return "." + _part_format(codec)


@dataclass
class _Plan:
    """One clip's work: its segments (None until planned), their part files, the work folder, what the
    output takes from the source besides the video, and its encoder settings (its ``pix_fmt`` set,
    :func:`open_work`)."""

    clip: Clip
    duration: float
    work: Path
    passthrough: Passthrough
    encoding: Encoding = field(default_factory=Encoding)
    stamp: tuple[int, int] = (0, 0)
    segments: list[Segment] | None = None
    parts: list[Path] = field(default_factory=list)
    halved: str = field(default="", kw_only=True)
    """What the encode does to the source's colour (:func:`~vidcolor.source_warnings.chroma_loss`; ``""``: nothing),
    which the summary says of frames passed unchanged (:meth:`~vidcolor.pipeline.Found.halved_by`)."""

    def set_segments(self, segments: list[Segment], suffix: str) -> None:
        self.segments = segments
        self.parts = [self.work / f"segment-{s.index:05d}{suffix}" for s in segments]

    @property
    def missing(self) -> list[tuple[Segment, Path]]:
        return [(s, p) for s, p in zip(self.segments or [], self.parts) if not p.exists()]


def work_folder(target: Path) -> Path:
    """The work folder of the output ``target``: ``.<output name>.vidcolor-work`` beside it, or, where that name
    is longer than the folder's file system takes (:func:`~vidcolor.io.partial.name_max`, 255 bytes on most),
    the output's name shortened and followed by ``~`` and 12 hex digits of its SHA-256, so that two long
    names with one beginning still get two folders."""
    name, longest = f".{target.name}{WORK_SUFFIX}", name_max(target.parent)
    if len(os.fsencode(name)) <= longest:
        return target.parent / name
    tag = "~" + hashlib.sha256(os.fsencode(target.name)).hexdigest()[:12]
    stem = target.name
    while stem and len(os.fsencode(f".{stem}{tag}{WORK_SUFFIX}")) > longest:
        stem = stem[:-1]
    return target.parent / f".{stem}{tag}{WORK_SUFFIX}"


def open_work(input: Path, target: Path, spec: JobSpec, encoding: Encoding, seconds: float, compare: bool,
              audio: bool, overwrite: bool, in_folder_run: bool = False,
              opened: Callable[[_Plan], None] | None = None) -> _Plan:
    """The work folder of one input, with the segment plan an earlier run saved there (else unplanned).

    The folder is keyed by the input (path, size, modification time), the job, the encoder settings, the
    target segment length, the timing grid and :data:`PARTS_FORMAT`, and, for a source of more than 8 bits per
    sample that is processed at 16 (:attr:`JobSpec.eight_bits` None), that it is (where it is not, the key is the one
    it was before such sources were: a run stopped then resumes); one with another key is emptied (its segments
    do not apply: parts written before the grid, on the source's time base, were joined with spans on it).
    ``encoding``'s ``pix_fmt`` None is the clip's default (:func:`~vidcolor.io.writer.default_pix_fmt`), in the key
    and in the plan's :attr:`_Plan.encoding`. What the processing does not keep of the input (an alpha channel, more
    than 8 bits, interlacing) is said in a warning, as a local run says it
    (:func:`~vidcolor.io.reader.warn_about_source`). ``opened`` (where given) is called with the plan before its
    folder is made or emptied, once nothing but that is left to do: a caller that clears the work folders of a run
    that fails or is stopped (:func:`process_clips`) registers it there, so that an interrupt as the folder is made
    leaves none behind.

    Raises:
        VidcolorError: an input that cannot be probed, a target that exists, a folder that cannot be written (said of
            the output as a local run says it: ``x/out.mp4: cannot write there (x is a file, not a folder)``), a work
            folder that is a symbolic link: without this run's key it would be emptied (another output's work folder,
            whose removal raised an uncaught OSError, ``Cannot call rmtree on a symbolic link``); with it, it was
            resumed, and at the end the link and the segments of the folder it names were left for good.
    """
    check_target(target, overwrite, in_folder_run)
    info = probe(input)
    deep = spec.eight_bits is None and info.bits > 8        # decoded at 16 bits, as a local run's (VideoReader's deep)
    encoding = replace(encoding, pix_fmt=encoding.pix_fmt or default_pix_fmt(encoding.codec, deep))
    # as a local run does: what the processing does not keep
    chroma = chroma_of(info, encoding.codec, encoding.pix_fmt, compare, False)
    warn_about_source(input.name, info, None if deep else spec.eight_bits,
                      (encoding.codec, *encoded_bits(encoding.codec, encoding.pix_fmt)) if deep else None,
                      None if spec.colours else chroma_reason(*chroma))
    if encoding.batch_size is not None:
        check_batch_pixels(encoding.batch_size, info.width, info.height, 2 if deep else 1)
    clip = Clip(input, target, info.width, info.width * (2 if compare else 1), info.height, info.fps, info.time_base,
                tuple(output_colour(input.name, info.colour, spec.colours).items()), info.pixel_aspect, str(input),
                rate_grid(input), primaries=info.colour.get("color_primaries"), deep=deep)
    stat = input.stat()
    terms = [str(input.resolve()), stat.st_size, stat.st_mtime_ns, spec.key(), encoding.__dict__, seconds,
             WARMUP_FRAMES, compare, PARTS_FORMAT, asdict(clip.grid) if clip.grid is not None else None]
    if deep:            # a term of its own, so that an 8-bit source's key stays the one it was
        terms.append("16-bit frames")
    key = hashlib.sha256(json.dumps(terms, sort_keys=True, default=str).encode()).hexdigest()
    work = work_folder(target)
    plan = _Plan(clip, info.duration, work, Passthrough.of(input, info, audio), encoding, stat_stamp(stat),
                 halved=chroma_loss(*chroma) or "")
    saved = work / PLAN_FILE
    if work.is_symlink():   # emptied, it would be the folder it links to; removed at the end, the link would stay
        if (work / key).is_file():      # (made by hand: a work folder moved away and linked back)
            raise VidcolorError(f"{work}: the work folder of {target.name} is a link (to {os.readlink(work)}) that "
                                "holds work of this run; vidcolor removes its work folder when done, not what a link "
                                "points to: move that folder in the link's place to resume, or remove the link")
        raise VidcolorError(f"{work}: the work folder of {target.name} is a link (to {os.readlink(work)}) that holds "
                            "no work of this run; vidcolor empties its work folder, not what a link points to: remove "
                            "the link")
    if (work / key).is_file() and saved.is_file():          # an earlier run's, under this key: resumed
        plan.set_segments([Segment(**s) for s in json.loads(saved.read_text())], _part_suffix(encoding.codec))
    if opened is not None:
        opened(plan)
    if work.is_dir() and not (work / key).is_file():
        shutil.rmtree(work)
    try:
        work.mkdir(parents=True, exist_ok=True)
        (work / key).touch()
    except OSError as exc:      # named as a local run names it (partial_file): the output, and what is in the way
        raise cannot_write(target, exc) from None
    _remove_strays(work)
    return plan


def _changed(plan: _Plan) -> bool:
    """Whether the input of ``plan`` changed since :func:`open_work` (or can no longer be looked at), as a local run
    tells it (:func:`vidcolor.api.process`: the same :func:`~vidcolor.io.files.file_stamp`)."""
    return file_stamp(plan.clip.input) != plan.stamp


def make_plan(plan: _Plan, seconds: float, workers: int, encoding: Encoding) -> None:
    """Split the clip (:func:`~vidcolor.io.segments.plan_segments`) into segments of ``seconds``, shorter
    when the clip is short, so that each of ``workers`` gets one; saved in the work folder, so that a
    resumed run keeps the same segments whatever the size of its cluster."""
    if plan.duration > 0:
        seconds = min(seconds, plan.duration / workers)
    segments, _ = plan_segments(plan.clip.input, seconds, WARMUP_FRAMES)
    write_file_atomically(plan.work / PLAN_FILE, json.dumps([asdict(s) for s in segments]).encode())
    plan.set_segments(segments, _part_suffix(encoding.codec))


def check_device(device) -> str:
    """What ``device`` asks of a Ray cluster: ``"auto"``, ``"cpu"`` or ``"cuda"``.

    ``device`` is a str :func:`~vidcolor.device.pick_device` takes (``cpu:N`` is the CPU) or a ``torch.device``. A
    GPU index (``cuda:N``) is refused: Ray gives each worker a GPU of its own (its ``CUDA_VISIBLE_DEVICES``), so an
    index would name the same GPU in every worker, or none; ``cuda`` asks for the cluster's GPUs.

    Raises:
        VidcolorError: ``cuda:N``, or a device that is not auto, cpu or cuda.
    """
    device, parsed = as_str(device), parse_device(device)
    if parsed is not None and not (parsed[0] == "cuda" and parsed[1] is not None):
        return parsed[0]
    if parsed is not None:
        raise VidcolorError(option(f"device={device!r}") + ": with the Ray executor give cuda, not a GPU index: Ray "
                            "gives each worker a GPU of its own")
    raise VidcolorError(f"unknown {option('device')} {device!r} for the Ray executor (auto, cpu or cuda)")


def process_clips(clips: list[tuple[Path, Path]], spec: JobSpec, *, encoding: Encoding = Encoding(),
                  seconds: float = SEGMENT_SECONDS, workers: int | None = None, device: str = "auto",
                  compare: bool = False, audio: bool = True, container: str | None = None,
                  overwrite: bool = False, progress: bool = True, folder: bool = False,
                  skip_existing: bool = False) -> RunSummary:
    """Process videos on Ray: every clip's segments in one pool of workers, each output joined when its
    segments are done.

    Args:
        clips: ``(input video file, output file)`` pairs.
        spec: how workers build the job.
        encoding: encoder settings of the outputs.
        seconds: target segment length (seconds); a clip shorter than ``seconds`` times the workers gets
            shorter segments, one per worker.
        workers: actors to start; None = one per GPU of the cluster (``device`` auto or cuda), else one
            per CPU of the cluster. More than that is cut to it with a warning (each worker holds a GPU or a
            CPU, and an actor the cluster cannot place would hold its segments forever).
        device: ``auto``, ``cpu`` (or ``cpu:N``, the CPU) or ``cuda`` (``cuda`` needs GPUs in the cluster); not
            ``cuda:N``: Ray gives each worker its GPU (:func:`check_device`).
        compare, audio, container, overwrite, progress: as :func:`vidcolor.api.process`.
        folder: the clips are a folder's (an existing output's error then names ``--skip-existing``).
        skip_existing: an output that another run wrote since the caller listed the clips (two runs of one folder at
            once) is left as that run wrote it, and its clip counted in the summary's ``skipped``, as a local run
            leaves it (:func:`vidcolor.api.process`); without it, the run fails there (an
            :class:`~vidcolor.io.writer.OutputExists`).

    Returns:
        :class:`~vidcolor.pipeline.RunSummary`; ``segments`` lists each segment's timing (``began`` and ``ended`` put
        on this machine's clock, :func:`_on_driver_clock`); ``skipped`` counts the
        clips left for ``skip_existing``, whose frames it does not count. Its seconds are the frames' own, as a local
        run's (the first segment's start to the last one's end; :attr:`~RunSummary.began`
        set, so that :meth:`~RunSummary.timed_from` gives the start-up, Ray's included, and the finish, the last
        join's). Where segments of an earlier run were reused, it counts the frames processed in this call alone, as a
        local folder run that resumes counts the outputs it wrote, and its note says how many segments and frames were
        reused (``72 frames in 4.1 s (17.56 fps; ...) -> out.mp4; ray: 8 segment(s) on 2 worker(s), 5 reused from an
        earlier run (120 frames, not counted)``; it gave all 192 frames over the whole call's seconds, Ray's start-up
        in them: a rate that was neither the workers' nor the command's); where all were (Ray not started, the
        outputs only joined) the line makes no rate of them (:attr:`~RunSummary.joined_only`: ``192 frames joined in
        0.1 s -> out.mp4; ray: all 8 segment(s) were done already (by an earlier run)``). A folder's note counts the clips
        written (``2 clips; ray: ...``). ``found``: each clip's quantizers (:attr:`~RunSummary.found`), which
        :func:`vidcolor.api.dequantize` words as a local run's.

    Raises:
        VidcolorError: a device :func:`check_device` refuses (``cuda:N``), Ray missing, ``cuda`` on a cluster
            without a GPU, inputs that cannot be split, a worker's error (its first line), a
            segment whose worker died more than :data:`MAX_RESTARTS` times, actors whose workers did not start within
            :data:`START_WAIT` seconds. Finished segments stay in
            the work folder: the same command resumes; not those of an input whose segment could not be read
            (:class:`~vidcolor.io.segments.SegmentError`: a rerun fails the same way). Outputs already joined stay
            too. The exception (an interrupt too) gets a note for each (:func:`~vidcolor.errors.add_note`: ``2 of 10
            segments of film.mp4 kept in .out.mp4.vidcolor-work; the same command resumes``,
            :func:`~vidcolor.io.writer.kept_note`), which the CLI appends to its one line: a rerun with
            ``skip_existing`` leaves the outputs.
    """
    wants = check_device(device)        # before Ray starts; "cuda:0" had skipped the no-GPU check below
    ray = import_ray()
    begin = time.time()
    plans: list[_Plan] = []
    timings: list[dict] = []
    joined: set[int] = set()
    left: set[int] = set()          # skip_existing: outputs another run wrote meanwhile, left as it wrote them
    meanwhile = 0                   # skip_existing: outputs another run wrote before open_work looked (not planned)

    def written_meanwhile(exc: OutputExists, target: Path) -> bool:
        return skip_existing and exc.target == target

    def join_ready() -> None:        # an output is joined as soon as all its segments are there
        for i, plan in enumerate(plans):
            if i not in joined and i not in left and plan.segments is not None and not plan.missing:
                try:
                    _join(plan, encoding, container, overwrite)
                except OutputExists as exc:
                    if not written_meanwhile(exc, plan.clip.target):
                        raise
                    left.add(i)
                else:
                    joined.add(i)          # in place: its segments are no longer needed
                    if _changed(plan):     # (a recording still being written): the segments are the frames planned
                        warn_changed(plan.clip.input, sum(s.frames for s in plan.segments))
                shutil.rmtree(plan.work, ignore_errors=True)

    count = 0
    reused: list[list[Segment]] = []    # each clip's segments done by an earlier run (resumed)
    stopped = False
    # each output folder this run makes goes again where a failed run leaves it empty (a run stopped after its outputs
    # were written, below, raises nothing and fails not)
    with removing_made_folders(*(Path(o).parent for _, o in clips)):
        try:
            for i, o in clips:
                try:            # each plan in plans before its folder is made: the cleanup below clears it
                    open_work(Path(i), Path(o), spec, encoding, seconds, compare, audio, overwrite, folder,
                              opened=plans.append)
                except OutputExists as exc:
                    if not written_meanwhile(exc, Path(o)):
                        raise
                    meanwhile += 1
            reused = [[s for s, part in zip(p.segments or [], p.parts) if part.exists()] for p in plans]
            if any(p.segments is None or p.missing for p in plans):
                with _cluster(ray) as session:
                    gpus = int(ray.cluster_resources().get("GPU", 0)) if wants != "cpu" else 0
                    if wants == "cuda" and not gpus:
                        raise VidcolorError(option("device='cuda'") + ": the Ray cluster has no GPU")
                    slots = gpus or int(ray.cluster_resources().get("CPU", 1))   # each worker holds 1 GPU, or 1 CPU
                    if workers and workers > slots:    # the rest would never be scheduled: their segments wait forever
                        warn(f"{option(f'workers={workers}')}: the Ray cluster has {slots} "
                             f"{'GPU' if gpus else 'CPU'}(s), so {slots} worker(s) run")
                    count = min(workers or slots, slots)
                    for plan in plans:
                        if plan.segments is None:
                            make_plan(plan, seconds, count, encoding)
                    todo = [(p, s, part) for p in plans for s, part in p.missing]
                    count = max(1, min(count, len(todo)))
                    with _signals_through_ray():
                        _distribute(ray, todo, plans, count, gpus, spec, progress, timings, join_ready, session)
            join_ready()
        except BaseException as exc:
            if plans and len(joined) + len(left) == len(plans) and not isinstance(exc, Exception):
                # Ctrl-C or SIGTERM while Ray was stopped (the actors, ray.shutdown), after every output was in place:
                # the outputs are complete and their segments gone, so the run succeeded (removing them would lose
                # it all)
                stopped = True
            else:
                for plan in plans:
                    kept = len(plan.parts) - len(plan.missing)
                    if isinstance(exc, SegmentError) and Path(exc.input) == plan.clip.input.absolute():
                        kept = 0                 # a rerun fails at the same segment: its finished ones would not help
                    if kept and plan.work.is_dir():
                        _remove_strays(plan.work)
                        again = f" with {option('skip_existing')}" if joined else ""
                        add_note(exc, f"{kept} of {len(plan.parts)} segments of {plan.clip.input} kept in {plan.work}; "
                                      f"the same command{again} resumes")  # on the error's line, as a folder's outputs
                    elif not kept:
                        shutil.rmtree(plan.work, ignore_errors=True)
                if joined:                       # clips not joined whose outputs exist: an earlier run's (overwrite)
                    add_note(exc, kept_note(len(joined), plans[0].clip.target.parent,
                                            sum(p.clip.target.is_file() for i, p in enumerate(plans)
                                                if i not in joined)))
                raise
    n = sum(len(p.segments) for p in plans)
    where = (Path(clips[0][1]) if len(clips) == 1 else Path(clips[0][1]).parent) if clips else ""
    kept = [i for i in range(len(plans)) if i not in left]     # (those left: their earlier segments not used)
    earlier = [s for i in kept for s in reused[i]]
    if count:
        note = f"ray: {n} segment(s) on {count} worker(s)" + (f", {len(earlier)} reused from an earlier run "
                                                              f"({sum(s.frames for s in earlier)} frames, not counted)"
                                                              if earlier else "")
    else:                           # every segment done by an earlier run, joined here: Ray was not started
        note = f"ray: all {n} segment(s) were done already (by an earlier run)"
    if folder and joined:               # as a local folder run counts them
        note = f"{len(joined)} clip{'' if len(joined) == 1 else 's'}; {note}"
    if stopped:
        note += "; interrupted while Ray stopped, after the output was written"
    found_in = {t.pop("part"): t.pop("found") for t in timings}
    parts = [[found_in.get(str(part.absolute())) for part in p.parts] for i, p in enumerate(plans) if i not in left]
    halved = [p.halved for i, p in enumerate(plans) if i not in left]
    found = (None if any(f is None for clip in parts for f in clip) else
             [[f.halved_by(h) for f in _joined_found(clip)] for clip, h in zip(parts, halved)])
    seconds, began = time.time() - begin, None
    _on_driver_clock(timings)
    frames = sum(s.frames for i in kept for s in plans[i].segments)
    processed = frames - sum(s.frames for s in earlier)     # in this call: an earlier run's are not counted
    if timings and processed:       # the frames' own time, as a local run's: first segment's start to last one's end
        first = min(t["began"] for t in timings)
        seconds, began = max(t["ended"] for t in timings) - first, time.perf_counter() - (time.time() - first)
    return RunSummary(processed or frames, seconds, str(where), note=note,
                      segments=sorted(timings, key=lambda t: t["index"]), skipped=meanwhile + len(left), began=began,
                      found=found, joined_only=not processed)


def _distribute(ray, todo, plans, count, gpus, spec, progress, timings, join_ready, session) -> None:
    """Start ``count`` actors, submit every missing segment to their pool, collect the timings, keep the bar
    and the joins going (each segment encoded as its plan says, :attr:`_Plan.encoding`); the actors are stopped at
    the end. Stopped by an error or an interrupt, the actors are killed in the middle of their segments: Ray's lines
    about those tasks are dropped (``session``'s :class:`_cluster` prints), and the actors are waited for (at most
    :data:`KILL_WAIT` seconds), so that no segment is still being written when the caller clears the work folders."""
    from ray.util import ActorPool

    actor = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0, max_restarts=MAX_RESTARTS,
                       max_task_retries=MAX_RESTARTS)(SegmentWorker)
    meter = ray.remote(num_cpus=0)(Progress).remote()
    shared = ray.put(spec.shared)
    actors = [actor.remote(JobSpec(spec.build, spec.options, eight_bits=spec.eight_bits)) for _ in range(count)]
    began, since = time.monotonic(), time.time()
    starting = [a.ready.remote() for a in actors]           # the start-up check: each actor's first call
    metered = meter.total.remote()
    pool = ActorPool(actors)
    submitted: list = []

    def run(a, job):    # absolute paths: a worker's current folder is not the driver's (another node's, or Ray's)
        clip = replace(job[0].clip, input=job[0].clip.input.absolute(), origin=job[0].segments[0].start_pts)
        submitted.append(ref := a.run.remote(clip, job[1], str(job[2].absolute()), job[0].encoding, meter, shared))
        return ref

    finished = False
    try:
        for plan, segment, part in todo:
            pool.submit(run, (plan, segment, part))
        total = sum(s.frames for p in plans for s in p.segments)
        before = total - sum(s.frames for _, s, _ in todo)
        with tqdm(total=total, initial=before, unit="frame", disable=not progress, dynamic_ncols=True,
                  leave=False) as bar:
            while pool.has_next():
                try:
                    timings.append(_result(ray, pool))
                    timings[-1]["received"] = time.time()       # on the driver's clock (_on_driver_clock)
                except TimeoutError:
                    pass
                if starting or metered is not None:
                    starting, metered = _started(ray, starting, metered, began, since, session)
                if metered is None:
                    bar.n = before + ray.get(meter.total.remote())
                    bar.refresh()
                join_ready()
        finished = True
    finally:
        if not finished:
            session.prints.quiet = True
        for a in actors + [meter]:
            ray.kill(a)
        if not finished and submitted:
            ray.wait(submitted, num_returns=len(submitted), timeout=KILL_WAIT)


def _started(ray, starting: list, metered, began: float, since: float, session: "_cluster") -> tuple[list, object]:
    """The start-up check, while the actors are starting: the first calls of the segment workers (``starting``) and
    of the progress meter (``metered``, None once it answered) that have not answered yet.

    Raises:
        VidcolorError: some have not answered :data:`START_WAIT` seconds after the actors were made: their worker
            processes cannot start (Ray retries them for ever, and says nothing to the driver); with the last fatal
            line of a Ray worker's log written since ``since`` (``time.time()``; ``mmap failed``) and where Ray's
            logs are, where this node has them."""
    waiting = starting + ([metered] if metered is not None else [])
    _, left = ray.wait(waiting, num_returns=len(waiting), timeout=0)
    if left and time.monotonic() - began > START_WAIT:
        logs = session.logs()
        said = _worker_fatal(logs, since) if logs else None
        raise VidcolorError(f"Ray's workers could not start: {len(left)} of {len(waiting)} Ray actor(s) not started "
                            f"after {START_WAIT:.0f} s" + (f" (a worker said: {said})" if said else "")
                            + (f"; Ray's logs are in {logs}" if logs else ""))
    return [r for r in starting if r in left], metered if metered in left else None


def _worker_fatal(logs: Path, since: float) -> str | None:
    """The newest fatal line of the Ray workers' logs in ``logs`` written since ``since`` (``worker-*.err``; Ray's own
    ``C`` level, e.g. ``shared_memory.cc:46: mmap failed``), without its prefix; None where there is none."""
    newest = None
    written = []
    for err in logs.glob("worker-*.err"):
        with contextlib.suppress(OSError):
            if (when := err.stat().st_mtime) >= since - 1:
                written.append((when, err))
    for _, err in sorted(written):
        with contextlib.suppress(OSError):
            for line in err.read_text(errors="replace").splitlines():
                if found := re.match(r"^\[[^\]]* C \d+ \d+\] ([\w.]+:\d+: .+?)\.?$", line):
                    newest = found.group(1)
    return newest


@contextlib.contextmanager
def _signals_through_ray():
    """The exception a signal handler raised while the driver waited in Ray (``ray.wait``, ``ray.get``), as it was
    raised. Ray runs the handlers there (its ``check_signals``) and turns KeyboardInterrupt and SystemExit into its
    own status, but returns from its Cython call with any other exception still set, which Python then reports as
    ``SystemError: <cyfunction CoreWorker.wait ...> returned a result with an exception set`` with the handler's
    exception as its cause: SIGTERM (the CLI's :class:`~vidcolor.cli.Terminated`, a BaseException) in the middle
    of a Ray run gave that traceback, not 'vidcolor: terminated (SIGTERM)'."""
    try:
        yield
    except SystemError as exc:
        if isinstance(exc.__cause__, BaseException) and not isinstance(exc.__cause__, Exception):
            raise exc.__cause__ from None
        raise


def _on_driver_clock(timings: list[dict]) -> None:
    """Put the segments' ``began`` and ``ended`` (:meth:`SegmentWorker.run`: ``time.time()`` of the node that ran each)
    on the driver's clock, in place, popping the ``received`` each holds (the driver's ``time.time()`` when its result
    came back). A node's clock is taken to be off the driver's by the least lag from a segment's end to its receipt
    seen on that node (an upper bound of the offset plus the delivery's milliseconds, or a poll's wait). The summary's
    seconds span segments of several nodes and its start-up is counted from the driver's own clock: a node whose
    clock was 1000 s behind gave a 1000 s finish (and no start-up), one that was ahead a negative time between
    segments."""
    lag: dict[str, float] = {}
    for t in timings:
        gap = t.pop("received") - t["ended"]
        lag[t["node"]] = min(gap, lag.get(t["node"], gap))
    for t in timings:
        t["began"] += lag[t["node"]]
        t["ended"] += lag[t["node"]]


def _result(ray, pool) -> dict:
    """The next finished segment's timing; a worker's error as one VidcolorError line. The worker's warnings
    (:meth:`SegmentWorker.run`) are said here (:func:`~vidcolor.errors.warn`), before its error."""
    try:
        timing = pool.get_next_unordered(timeout=0.5)
        for text in timing.pop("warnings", ()):
            warn(text)
        return timing
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        for text in getattr(cause, "vidcolor_warnings", ()):
            warn(text)
        if isinstance(cause, SegmentError):             # the input's: which one, for what the run keeps
            raise SegmentError(cause.marked or str(cause), cause.input) from None
        if isinstance(cause, VidcolorError):
            raise VidcolorError(cause.marked or str(cause)) from None       # its options named as they were
        raise VidcolorError(f"a Ray worker failed: {type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}") from None
    except ray.exceptions.ActorDiedError as exc:
        raise VidcolorError(f"a Ray worker died {MAX_RESTARTS + 1} times ({str(exc).splitlines()[0]})") from None


def _join(plan: _Plan, encoding: Encoding, container: str | None, overwrite: bool) -> None:
    clip, origin = plan.clip, plan.segments[0].start_pts
    join_segments(plan.parts, clip.target, [s.span(clip.time_base, clip.grid, origin) for s in plan.segments],
                  codec=encoding.codec, time_base=clip.timebase, passthrough=plan.passthrough, container=container,
                  overwrite=overwrite)


STRAY_WAIT = 2.0
"""Seconds :func:`_remove_strays` keeps trying a hidden file of the work folder that it could not remove: a worker that
Ray killed as the run stopped holds its segment's lock until its process has exited, moments after ``ray.kill`` and
the wait for its tasks returned (a full test run left the partial file of the killed worker behind about once in
three). What is still locked after that is another live run's, and stays."""


def _remove_strays(work: Path) -> None:
    """Remove the temporary files of segments that were being written when the run stopped (``.segment-*``: a
    worker killed in the middle of one leaves its partial file), those that no process locks
    (:func:`~vidcolor.io.partial.remove_if_dead`), trying those still locked again for up to :data:`STRAY_WAIT`
    seconds: another run of the same command writing into the folder at the same time (here or on another host)
    keeps its own."""
    deadline = time.monotonic() + STRAY_WAIT
    left = [stray for stray in work.glob(".*") if not remove_if_dead(stray)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [stray for stray in left if not remove_if_dead(stray)]


def _local_settings() -> dict:
    """What ``ray.init`` is given where it starts a local instance, besides the defaults.

    * ``_system_config={"prestart_worker_first_driver": False}``: Ray starts one worker process per CPU for the
      first driver and holds that driver's ``ray.init`` until they have registered; one that dies as it starts
      never does, and ``ray.init`` waited for ever (ray-project/ray#40131: under ``ulimit -v 8000000`` every
      worker died with ``shared_memory.cc:46: mmap failed``, and the run hung without a word). Without it the
      workers start as the actors need them and the start-up check (:data:`START_WAIT`) sees them fail; a local
      run took about 1 s longer (18.9 s against 18.0 s here). A user's ``RAY_prestart_worker_first_driver`` is
      kept.
    * ``object_store_memory``, under an address-space limit (``ulimit -v``, ``RLIMIT_AS``) only: every Ray process
      maps the whole object store, which Ray sizes at 30% of the memory (7 GB of 24 GB), so no process fitted under
      an 8 GB limit; it gets half of what the limit leaves beside this process (the workers load what it has
      loaded), where that is less. vidcolor's runs keep little there (the job's shared data, each segment's
      timing)."""
    settings: dict = {}
    if "RAY_prestart_worker_first_driver" not in os.environ:
        settings["_system_config"] = {"prestart_worker_first_driver": False}
    store = _store_under_limit()
    if store is not None:
        settings["object_store_memory"] = store
    return settings


def _store_under_limit() -> int | None:
    """Half of what the address-space limit leaves beside this process (bytes), where that is less than 30% of the
    memory (Ray's object store); None without a limit, or where it cannot be told."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        page = os.sysconf("SC_PAGE_SIZE")
        memory = page * os.sysconf("SC_PHYS_PAGES")
    except (ImportError, AttributeError, ValueError, OSError):
        return None
    if limit == resource.RLIM_INFINITY:
        return None
    try:
        used = int(Path("/proc/self/statm").read_text().split()[0]) * page
    except (OSError, ValueError, IndexError):
        used = 0
    store = max(0, limit - used) // 2
    return store if store < memory * 0.3 else None


@contextlib.contextmanager
def _stderr_held():
    """File descriptor 2 on a temporary file inside the block, so that what Ray's C++ core writes there directly
    (a warning every few seconds while it waits for an address, ``rpc_client.h:153: Failed to connect to GCS at
    address ... within 5 seconds``, whatever ``RAY_BACKEND_LOG_LEVEL`` or ``logging_level`` say) is not shown;
    yields a list that then holds its messages (``gcs_client.cc:210: Failed to get cluster ID from GCS server:
    Unauthenticated: ... Authentication token is missing or incorrect``: the cause, which ``ray.init``'s exception
    does not give), without their prefixes."""
    said: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        try:
            os.dup2(held.fileno(), 2)
            yield said
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            said += re.findall(r"^\[[^\]]*\] [\w.]+:\d+: (.+?)\.?$", held.read().decode(errors="replace"), re.M)


def _sigterm_back(before) -> None:
    """Put back the SIGTERM handler ``ray.init`` replaced: Ray sets its own (``sys.exit(15)``), which its C++ core
    wraps in one that first prints a stack dump (``*** SIGTERM received at time=... ***``, ``PC: @ 0x...``), so
    the CLI's (exit 143, 'vidcolor: terminated (SIGTERM)', as for Ctrl-C) never ran: SIGTERM during a Ray run
    exited 15 with the dump. Where there was Python's default (no handler of the caller's), Ray's own is set again,
    without the dump, so that Ray still shuts down at exit. Only in the main thread (elsewhere none can be set)."""
    if threading.current_thread() is threading.main_thread():
        kept = before not in (signal.SIG_DFL, None)
        signal.signal(signal.SIGTERM, before if kept else signal.getsignal(signal.SIGTERM))


class _ToStderr:
    """A stand-in for ``sys.stdout`` while vidcolor's Ray session runs: what Ray prints there on the driver (its
    error lines, such as ``(raylet) Task SegmentWorker.run failed. There are 3 retries remaining...``, printed
    whatever ``log_to_driver`` says) goes to ``stream`` (stderr), as every message of vidcolor's does (stdout is
    for video), or nowhere once :attr:`quiet` is set (a run that is stopping kills its actors in the middle of
    their segments: the lines would report the tasks it stops itself). Anything else is the stream's."""

    def __init__(self, stream):
        self.stream, self.quiet = stream, False

    def write(self, text: str) -> int:
        if not self.quiet:
            self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        if not self.quiet:
            self.stream.flush()

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


class _cluster:
    """Connect to the cluster ``RAY_ADDRESS`` names (Ray's convention), else start a local Ray instance with
    this machine's CPUs and GPUs; disconnect (and stop a local instance) at the end. A session the caller
    started already (``ray.init`` before) is used as it is and left running.

    Inside, ``sys.stdout`` is :attr:`prints` (:class:`_ToStderr`): what Ray prints there on the driver goes to
    stderr. A local instance is stopped whole: a signal that comes meanwhile (Ctrl-C, SIGTERM) has its handler run
    once it has stopped (:func:`~vidcolor.executor.signals_deferred`)."""

    def __init__(self, ray):
        self.ray, self.own, self.context = ray, False, None
        self.prints = _ToStderr(sys.stderr)

    def logs(self) -> Path | None:
        """The folder of Ray's logs on this node (``<session folder>/logs``, from what ``ray.init`` returned); None
        in a session the caller started."""
        session = getattr(self.context, "address_info", {}).get("session_dir")
        return Path(session) / "logs" if session else None

    def __enter__(self):
        self._stdout = sys.stdout
        sys.stdout = self.prints
        try:
            self._connect()
        except BaseException:
            sys.stdout = self._stdout
            raise
        return self

    def _connect(self) -> None:
        if not self.ray.is_initialized():
            quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
            address = os.environ.get("RAY_ADDRESS")
            began = time.monotonic()
            said: list[str] = []
            before = signal.getsignal(signal.SIGTERM)
            try:
                if address:         # its wait is bounded (CONNECT_BOUNDS); its C++ warnings meanwhile are held
                    with _stderr_held() as said:
                        self.context = self.ray.init(**quiet)
                else:
                    self.context = self.ray.init(include_dashboard=False, **quiet, **_local_settings())
            except SystemExit as exc:          # SIGTERM during ray.init: Ray's handler there is sys.exit(15)
                if exc.code != signal.SIGTERM or not callable(before):
                    raise
                with contextlib.suppress(Exception):
                    self.ray.shutdown()        # what ray.init had started
                _sigterm_back(before)
                before(signal.SIGTERM, None)   # the caller's handler, as if Ray had not been there (the CLI's line)
                raise
            except Exception as exc:           # Ray raises a bare Exception when its node times out starting
                where = f"the Ray cluster at RAY_ADDRESS={address}" if address else "a local Ray instance"
                after = time.monotonic() - began
                raise VidcolorError(f"cannot start or reach {where} ({str(exc).splitlines()[0]}"
                                    f"{f': {said[-1]}' if said else ''}"
                                    f"{f'; after {after:.0f} s' if after >= 1 else ''})") from None
            self.own = True
            _sigterm_back(before)

    def __exit__(self, *exc):
        try:
            if self.own:
                # Ctrl-C or SIGTERM (a second one, as a stopped run waits) is said once Ray has stopped: raised inside
                # ray.shutdown it left the local instance half stopped (no longer connected, its raylet and GCS server
                # still running), for a later ray.init to connect to
                with signals_deferred():
                    self.ray.shutdown()  # joins Ray's printing thread, and prints what its deduplicator held back
        finally:
            sys.stdout = self._stdout
