"""The executor: a job's stages overlapped in threads, joined by bounded queues.

``decode -> [prepare -> infer -> finish] -> write``: the source (decoding, batching) runs in one thread,
each stage of a staged job (:class:`~vidcolor.pipeline.LabJob`: ``prepare``, ``infer``, ``finish``) in its
own, and the caller's thread writes (the encoder is an ffmpeg process fed through a pipe). A plain
frame-batch function is one stage. While the network runs on batch k, batch k+1 is pre-processed and
batch k-1 smoothed and encoded; NumPy, OpenCV, PyAV and PyTorch release the GIL in their kernels.

Guarantees:

* order: one thread per stage and FIFO queues, so batches leave in the order they came (stateful
  stages, the temporal smoother and the quantizer tracker, see them in order);
* back-pressure: each queue holds at most ``queue_size`` batches, so memory is bounded by about
  ``(stages + 1) * queue_size + stages`` batches whatever the length of the video;
* the first error in any stage stops every stage and is raised in the caller's thread; an exception in
  the caller's thread (a write error, Ctrl-C, SIGTERM raised by the CLI's handler) stops the stages too,
  and every thread is joined before :func:`execute` returns or raises;
* signals wait for a safe point: while the stages run, SIGINT, SIGTERM and SIGHUP (where Python handles them)
  are only recorded, and their handler (``KeyboardInterrupt``, the CLI's, the caller's own) runs in the caller's
  thread between two output frames (or once every thread is joined). A handler that raises stops the run, and
  its exception comes out of :func:`execute` once every thread is joined; one that returns (a service's
  shutdown or reload flag) lets the run go on to the end, as Python's own handlers do. Raised at once, the
  exception could land inside a library's Python callback (PyAV's output writes: "Exception ignored in
  pyio_write_gil", a broken output) or leave the interpreter to exit while a stage thread was still in native
  code (``terminate called without an active exception``, exit 134): about one Ctrl-C in five on a 640x360 clip
  did one or the other.

While the stages run, each library computes on one thread (:func:`one_thread_per_stage`, restored
afterwards): the stages already keep the cores busy side by side, and a library that fans a call out over
every core only makes them wait for each other (and its idle workers spin for the next call). OpenCV's and
BLAS's counts are the process's: while any run goes, the caller's other threads get one thread there too; runs
that overlap share the hold, and the last one out gives the counts back (:func:`_pool_held`).

* NumPy's BLAS (``threadpoolctl``; the palette projection's nearest-colour search is a matrix product):
  ``vidcolor dequantize`` on a 104-frame 640x360 16-colour clip, 2-core AMD EPYC, OpenBLAS, 3 interleaved
  runs each, start-up included: 12.7 -> 11.6 s wall, 24.2 -> 22.1 s of CPU.
* PyTorch's intra-op pool (when torch is loaded) and OpenCV's (stop 50, the 2-core AMD EPYC with AVX-512):
  the consistency stage alone took 35 ms of CPU per 640x360 frame on OpenCV's two threads against 23 on
  one, for the same wall time; end to end on 312-frame 640x360 clips, six interleaved pairs, the
  summary line's rate 19.1-19.9 -> 19.7-20.7 fps (4 bit/ch at bin middles and 16 colours) at 3-6% less
  CPU. Where nothing overlaps (one 1920x1080 image, 4 bit/ch) the run takes 3.2 instead of 3.1 s. A thread
  count the user set (``OMP_NUM_THREADS``, ``OPENCV_FOR_THREADS_NUM``) is left as it is.
"""
from __future__ import annotations

import collections
import os
import queue
import signal
import sys
import threading
from contextlib import contextmanager, nullcontext
from typing import Callable, Iterable

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from vidcolor.arrays import described
from vidcolor.errors import VidcolorError

_END = object()
"""Marks the end of the stream in a queue."""

POLL_S = 0.1
"""How often (seconds) a blocked stage looks whether the run was stopped."""

JOIN_S = 10.0
"""How long (seconds) a stopped run waits for a stage thread that is stuck (in native code: FFmpeg reading a named
pipe given by its path). The readers' own waits on a pipe, stdin's included, poll the run's stop flag instead
(:func:`stop_event`) and end within :data:`POLL_S`."""


class Stopped(Exception):
    """Raised by a read that waits for data (:func:`stop_event`: the readers' pipe reads) once the run of its thread
    was stopped: the source thread then ends instead of waiting on."""


_source = threading.local()


def stop_event() -> threading.Event | None:
    """The stop flag of the run whose source or stage thread calls this (None in any other thread). A read that can wait
    without end (stdin from a stalled upstream) polls it and raises :class:`Stopped` once it is set: a thread left
    blocked in such a read outlived the run (``JOIN_S``), and Python aborted at exit ("could not acquire lock for
    <_io.BufferedReader name='<stdin>'> at interpreter shutdown", exit 134, after a SIGTERM). Internal mode's
    training (minutes, in the prepare stage) checks it each iteration, for the same reason ("terminate called
    without an active exception", exit 134)."""
    return getattr(_source, "stop", None)


class _Run:
    """Shared state of one execution: the stop flag and the first error."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
        self.stop.set()

    def put(self, q: queue.Queue, item) -> bool:
        """Put ``item``, waiting for room; False when the run was stopped meanwhile."""
        while not self.stop.is_set():
            try:
                q.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                pass
        return False

    def get(self, q: queue.Queue, between: Callable[[], None] | None = None):
        """The next item, or :data:`_END` once the run was stopped (what is still queued is dropped); ``between`` is
        called before each wait."""
        while not self.stop.is_set():
            if between is not None:
                between()
            try:
                return q.get(timeout=POLL_S)
            except queue.Empty:
                pass
        return _END


_holds_lock = threading.Lock()
_holds: dict[str, list] = {}
"""Process-wide thread settings held by runs now going: name -> [runs holding it, the setting before the first]."""


@contextmanager
def _pool_held(name: str, get: Callable[[], object], set_: Callable[[object], None], n: int, per_thread: bool = False):
    """A library's thread pool at ``n`` threads inside the block (its ``get`` / ``set_`` functions), restored after.

    The setting is the process's (OpenCV's, BLAS's), so runs that overlap (two calls in two threads) share it: the
    first in saves it, the last out restores it, under a lock. Saved and restored per call, B saved the 1 that A had
    set, A restored the caller's count and B then its 1: OpenCV and BLAS were left on one thread for the rest of the
    process (API audit, stop 63). ``per_thread``: ``set_`` also sets the calling thread's own count (PyTorch's, whose
    ``set_num_threads`` sets the calling thread's OpenMP count and the one threads take at their first call), so a
    run that leaves before the last gives its thread its own count back."""
    with _holds_lock:
        before = get()
        set_(n)
        entry = _holds.setdefault(name, [0, before])
        entry[0] += 1
    try:
        yield
    finally:
        with _holds_lock:
            entry[0] -= 1
            if entry[0] == 0:
                del _holds[name]
                set_(entry[1])
            elif per_thread:
                set_(before)


def torch_threads(n: int):
    """Hold torch's intra-op thread pool at ``n`` threads inside the block (restored after; shared by overlapping
    holds as :func:`_pool_held` says).

    Also for torch work beside running stages, e.g. the references' features of ``colorize --reference``
    (:mod:`vidcolor.reference`): on this project's 2-core CPU with the other core busy, one 256x455
    reference through the encoder took 2.2 s on 2 threads, 0.07 s on 1."""
    import torch

    return _pool_held(f"torch:{n}", torch.get_num_threads, torch.set_num_threads, n, per_thread=True)


def _blas_counts() -> threadpool_limits:
    """NumPy's BLAS pools' counts now, for :func:`_pool_held`: a threadpoolctl limiter that limits nothing and
    restores them."""
    return threadpool_limits(limits=None, user_api="blas")


def _set_blas(counts: int | threadpool_limits) -> None:
    """BLAS's pools at ``counts`` threads, or back to the counts :func:`_blas_counts` took."""
    if isinstance(counts, int):
        threadpool_limits(limits=counts, user_api="blas")
    else:
        counts.restore_original_limits()


@contextmanager
def one_thread_per_stage():
    """NumPy's BLAS, OpenCV and, when it is loaded, PyTorch each on one thread inside the block (see the module
    docstring; overlapping runs share the hold, :func:`_pool_held`); OpenCV and PyTorch keep a count set in
    ``OPENCV_FOR_THREADS_NUM`` / ``OMP_NUM_THREADS``."""
    opencv = not os.environ.get("OPENCV_FOR_THREADS_NUM")
    hold_torch = "torch" in sys.modules and not os.environ.get("OMP_NUM_THREADS")
    with _pool_held("blas", _blas_counts, _set_blas, 1), \
            _pool_held("opencv", cv2.getNumThreads, cv2.setNumThreads, 1) if opencv else nullcontext(), \
            torch_threads(1) if hold_torch else nullcontext():
        yield


DEFERRED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
"""Signals whose Python handler :func:`execute` runs only at a safe point (:func:`signals_deferred`)."""


@contextmanager
def signals_deferred():
    """Inside the block, the Python handlers of :data:`DEFERRED_SIGNALS` are replaced by one that only records the
    signal; the block gets a function that runs the recorded signals' own handlers, to be called at a safe point
    (in the caller's thread, outside any library's callback). On leaving, the handlers come back and those of the
    signals still recorded run. A handler that raises ends the delivery (the signals recorded after it are
    dropped: one Ctrl-C or one SIGTERM is enough), and its exception is raised; one that returns (a service's
    shutdown or reload flag) changes nothing: the run goes on. It used to stop the run, which then returned a
    partial output as a success, or took the frames it had not read for a damaged input (API audit, stop 63).
    Outside the main thread (where handlers cannot be set) and for ignored or default-action signals nothing
    changes."""
    pending: list[tuple[int, object]] = []
    previous: dict[int, Callable] = {}
    raised = False

    def defer(signum, frame) -> None:
        pending.append((signum, frame))

    def deliver() -> None:
        nonlocal raised
        while pending and not raised:
            signum, frame = pending.pop(0)
            try:
                previous[signum](signum, frame)
            except BaseException:
                raised = True
                pending.clear()
                raise

    if threading.current_thread() is threading.main_thread():
        for name in DEFERRED_SIGNALS:
            sig = getattr(signal, name, None)           # SIGHUP: not on Windows
            if sig is not None and callable(handler := signal.getsignal(sig)):
                previous[sig] = handler
                signal.signal(sig, defer)
    try:
        yield deliver
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        deliver()


def stages_of(job) -> list[Callable]:
    """A job's stages: ``[prepare, infer, finish]`` when it has them, else ``[job]`` (a frame-batch function)."""
    if all(callable(getattr(job, name, None)) for name in ("prepare", "infer", "finish")):
        return [job.prepare, job.infer, job.finish]
    return [job]


def check_returned(out, batch: tuple[int, ...], dtype: np.dtype, widens: int = 1) -> np.ndarray:
    """``out`` if it is what a job must return for a batch of frames of shape ``batch`` ``(N, H, W, 3)`` and
    ``dtype``: an array of that dtype and of shape ``(N, H, widens * W, 3)`` (``widens`` 2: compare's
    :class:`~vidcolor.side_by_side.SideBySide`, input | output). Returns ``out`` itself.

    Raises:
        ValueError: naming the job as its source, what it returned and the batch's shape: "the job returned uint8
            (16, 90, 320, 3) for a batch of 16 frames (expected uint8 (N, H, W, 3), N = 16, H = 180, W = 320)". (A
            frame of another size was the writer's "expected uint8 (..., 180, 320, 3), got uint8 (90, 320, 3)", one
            frame's shape, not naming the job.)
    """
    n, h, w = batch[:3]
    if not (isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == (n, h, widens * w, 3)):
        raise ValueError(f"the job returned {described(out)} for a batch of {n} frame{'' if n == 1 else 's'} "
                         f"(expected {dtype} (N, H, W, 3), N = {n}, H = {h}, W = {widens * w})")
    return out


def execute(frames: Iterable[np.ndarray], job, write: Callable[[np.ndarray], None], batch_size: int,
            queue_size: int = 2) -> int:
    """Stream ``frames`` through ``job``'s stages into ``write``, overlapped; return the number of frames written.

    Args:
        frames: uint8 RGB ``(H, W, 3)`` frames (an iterator: decoding happens in the source thread); uint16 ones
            for a job that takes them (:attr:`~vidcolor.pipeline.LabJob.DEEP`).
        job: a staged job (``prepare``/``infer``/``finish``) or a function uint8 ``(N, H, W, 3)`` -> same (uint16 ->
            uint16).
        write: called in the caller's thread with each output frame ``(H, W, 3)`` of the frames' dtype, in order.
        batch_size: frames per batch (>= 1).
        queue_size: batches each queue holds (>= 1).

    Raises:
        ValueError: ``job`` returned something else than one RGB frame of the frames' dtype and size per frame it
            was given (:func:`check_returned`; a job's ``widens`` attribute, where it has one, is the factor on the
            frames' width: compare's 2). A float array scaled to [0, 1] said "expected uint8 (..., 48, 64, 3), got
            float64 (48, 64, 3)", the writer's, not naming the job.
        Whatever a stage or ``write`` raised first (the other stages are stopped and joined); a signal handler's
        exception (``KeyboardInterrupt`` for SIGINT), the stages stopped and joined (:func:`signals_deferred`; a
        handler that returns lets the run go on).
    """
    run = _Run()
    queues = [queue.Queue(maxsize=queue_size) for _ in range(len(stages_of(job)) + 1)]
    sizes: collections.deque[tuple[tuple[int, ...], np.dtype]] = collections.deque()    # each batch sent: shape, dtype
    widens = getattr(job, "widens", 1)

    def send(batch: list[np.ndarray]) -> bool:
        stacked = np.stack(batch)
        sizes.append((stacked.shape, stacked.dtype))
        return run.put(queues[0], stacked)

    def source() -> None:
        _source.stop = run.stop                   # for the reads that wait (stop_event)
        try:
            batch: list[np.ndarray] = []
            for frame in frames:
                if run.stop.is_set():
                    return
                batch.append(frame)
                if len(batch) == batch_size:
                    if not send(batch):
                        return
                    batch = []
            if batch and not send(batch):
                return
            run.put(queues[0], _END)
        except Stopped:                 # a read saw the run stopped: whatever stopped it is handled elsewhere
            pass
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread
            run.fail(exc)

    def stage(fn: Callable, qin: queue.Queue, qout: queue.Queue) -> None:
        _source.stop = run.stop                   # a long call (internal mode's training) polls it too
        try:
            while (item := run.get(qin)) is not _END:
                if not run.put(qout, fn(item)):
                    return
            run.put(qout, _END)
        except Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001
            run.fail(exc)

    threads = [threading.Thread(target=source, name="vidcolor-decode", daemon=True)]
    threads += [threading.Thread(target=stage, args=(fn, queues[i], queues[i + 1]), daemon=True,
                                 name=f"vidcolor-{getattr(fn, '__name__', 'stage')}")
                for i, fn in enumerate(stages_of(job))]
    n = 0
    with one_thread_per_stage(), signals_deferred() as deliver:
        try:
            for t in threads:
                try:
                    t.start()
                except RuntimeError:          # "can't start new thread": no memory for its stack (ulimit -v)
                    raise VidcolorError("cannot start the pipeline's threads: out of memory (ulimit -v?)") from None
            while (out := run.get(queues[-1], deliver)) is not _END:
                check_returned(out, *sizes.popleft(), widens)
                for frame in out:
                    write(frame)
                    n += 1
                    deliver()                 # a signal's handler: here, between two frames, not inside write
        finally:
            run.stop.set()
            for t in threads:
                if t.ident is not None:      # started
                    t.join(JOIN_S)
    if run.error is not None:
        raise run.error
    return n
