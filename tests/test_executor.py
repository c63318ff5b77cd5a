"""vidcolor.executor: stages overlap, order is kept, memory is bounded, the first error stops everything."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vidcolor.executor import execute, stages_of, torch_threads


def _frames(n: int, log: list | None = None):
    for i in range(n):
        if log is not None:
            log.append(i)
        yield np.full((2, 3, 3), i, np.uint8)


class SlowStaged:
    """A staged job (prepare / infer / finish) that sleeps a varying time per batch and records which
    stages were busy at once."""

    def __init__(self, fail_at: int | None = None, stage: str = "infer"):
        self.fail_at, self.fail_stage = fail_at, stage
        self.busy: set[str] = set()
        self.overlaps = 0
        self.lock = threading.Lock()
        self.seen: dict[str, list[int]] = {"prepare": [], "infer": [], "finish": []}

    def _work(self, name: str, batch: np.ndarray) -> np.ndarray:
        first = int(batch[0, 0, 0, 0])
        with self.lock:
            self.busy.add(name)
            self.overlaps += len(self.busy) > 1
        self.seen[name].append(first)
        if self.fail_at is not None and first >= self.fail_at and name == self.fail_stage:
            raise ValueError(f"{name} failed at frame {first}")
        time.sleep(0.002 * (1 + first % 3))
        with self.lock:
            self.busy.discard(name)
        return batch

    def prepare(self, batch):
        return self._work("prepare", batch)

    def infer(self, batch):
        return self._work("infer", batch)

    def finish(self, batch):
        return 255 - self._work("finish", batch)


def test_order_kept_and_stages_overlap():
    job, out = SlowStaged(), []
    n = execute(_frames(40), job, out.append, batch_size=3)
    assert n == 40 and [int(255 - f[0, 0, 0]) for f in out] == list(range(40))
    assert all(s == list(range(0, 40, 3)) for s in job.seen.values())    # each stage saw every batch, in order
    assert job.overlaps > 0                                               # stages ran at the same time


def test_a_plain_function_is_one_stage():
    fn = lambda batch: batch + 1  # noqa: E731
    assert stages_of(fn) == [fn] and len(stages_of(SlowStaged())) == 3
    out = []
    assert execute(_frames(5), fn, out.append, batch_size=2) == 5
    assert [int(f[0, 0, 0]) for f in out] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("stage", ["prepare", "infer", "finish"])
def test_the_first_error_in_a_stage_stops_the_run(stage):
    decoded: list[int] = []
    before = threading.active_count()
    with pytest.raises(ValueError, match=f"{stage} failed at frame 6"):
        execute(_frames(1000, decoded), SlowStaged(fail_at=6, stage=stage), lambda f: None, batch_size=2)
    assert len(decoded) < 40                       # the decoder stopped soon after (bounded queues)
    assert threading.active_count() == before      # every stage thread was joined


def test_an_error_while_decoding_or_writing_stops_the_run():
    def broken_source():
        yield np.zeros((2, 2, 3), np.uint8)
        raise OSError("truncated file")

    with pytest.raises(OSError, match="truncated"):
        execute(broken_source(), SlowStaged(), lambda f: None, batch_size=1)

    decoded: list[int] = []

    def write(frame):
        if frame[0, 0, 0] == 255 - 3:
            raise KeyboardInterrupt
    before = threading.active_count()
    with pytest.raises(KeyboardInterrupt):
        execute(_frames(1000, decoded), SlowStaged(), write, batch_size=1)
    assert len(decoded) < 30 and threading.active_count() == before


def test_a_signal_is_raised_only_once_the_stages_are_joined():
    """SIGINT sent mid-run (from a stage thread, as a terminal's Ctrl-C arrives at any moment): the caller's
    ``write`` never sees the KeyboardInterrupt, execute raises it after joining, and the handler is back."""
    import os
    import signal

    written, interrupted_in_write = [], []

    def write(frame):
        try:
            time.sleep(0.01)                       # the handler would run here, between bytecodes
            written.append(int(frame[0, 0, 0]))
        except BaseException as exc:
            interrupted_in_write.append(exc)
            raise

    def infer(batch):
        if int(batch[0, 0, 0, 0]) == 8:
            os.kill(os.getpid(), signal.SIGINT)
        return batch

    before = threading.active_count()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        execute(_frames(1000), infer, write, batch_size=2)
    assert interrupted_in_write == [] and 0 < len(written) < 40
    assert threading.active_count() == before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_whose_handler_returns_lets_the_run_finish(signame):
    """A caller's handler that returns (a service's shutdown or reload flag) is called once, in the caller's thread
    and not inside ``write``, and the run goes on to the last frame; the handler is back afterwards. It used to stop
    the run: a partial output returned as a success (API audit, stop 63)."""
    import os
    import signal

    sig = getattr(signal, signame)
    calls, in_write = [], []
    writing = threading.local()

    def handler(signum, frame):
        calls.append((signum, threading.current_thread() is threading.main_thread(), getattr(writing, "on", False)))

    def write(frame):
        writing.on = True
        time.sleep(0.001)
        writing.on = False
        in_write.append(int(frame[0, 0, 0]))

    def infer(batch):
        if int(batch[0, 0, 0, 0]) == 8:
            os.kill(os.getpid(), sig)
        time.sleep(0.002)
        return batch

    before = signal.signal(sig, handler)
    try:
        assert execute(_frames(200), infer, write, batch_size=2) == 200
        assert signal.getsignal(sig) is handler
    finally:
        signal.signal(sig, before)
    assert in_write == [i % 256 for i in range(200)]
    assert calls == [(sig, True, False)]


def test_back_pressure_bounds_how_far_decoding_runs_ahead():
    decoded: list[int] = []
    written = []
    ahead = []

    def slow_write(frame):
        time.sleep(0.005)
        written.append(frame)
        ahead.append(len(decoded) - len(written))

    execute(_frames(60, decoded), SlowStaged(), slow_write, batch_size=2, queue_size=1)
    # 4 queues of 1 batch, a batch in each of 3 stages, one being assembled and one being written: 10 batches
    assert max(ahead) <= 10 * 2 and len(written) == 60


def test_blas_runs_on_one_thread_while_the_stages_run():
    """The stages share the cores side by side: NumPy's BLAS is held to one thread during execute (the
    palette search's matrix product fanned out over every core) and given its threads back afterwards."""
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before, seen = blas_threads(), []
    assert before                          # NumPy's wheels bring OpenBLAS: there is a pool to limit

    def job(batch: np.ndarray) -> np.ndarray:
        seen.append(blas_threads())
        return batch

    assert execute(_frames(4), job, lambda f: None, batch_size=2) == 4
    assert seen and all(t == [1] * len(before) for t in seen)
    assert blas_threads() == before


def test_opencv_and_torch_run_on_one_thread_while_the_stages_run(monkeypatch):
    """OpenCV's and PyTorch's pools are held to one thread in the stages (their idle workers took the other
    stages' cycles) and restored afterwards; a count the user set in the environment is left alone."""
    import cv2
    import torch

    monkeypatch.delenv("OPENCV_FOR_THREADS_NUM", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(2)
    torch.set_num_threads(2)
    seen = []

    def job(batch: np.ndarray) -> np.ndarray:
        seen.append((cv2.getNumThreads(), torch.get_num_threads()))
        return batch

    try:
        assert execute(_frames(4), job, lambda f: None, batch_size=2) == 4
        assert seen == [(1, 1), (1, 1)]
        assert (cv2.getNumThreads(), torch.get_num_threads()) == (2, 2)
        monkeypatch.setenv("OPENCV_FOR_THREADS_NUM", "2")
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        seen.clear()
        assert execute(_frames(2), job, lambda f: None, batch_size=2) == 2
        assert seen == [(2, 2)]
    finally:
        cv2.setNumThreads(before[0])
        torch.set_num_threads(before[1])


@pytest.mark.parametrize("a_leaves_first", [True, False])
def test_overlapping_runs_give_the_process_its_thread_counts_back(monkeypatch, a_leaves_first):
    """Two runs in two threads, the second starting while the first runs, either one ending first: OpenCV's, BLAS's
    and PyTorch's counts are the caller's again afterwards (in threads started later too). Saved and restored per
    run, B saved A's 1 and restored it last: one thread for good (API audit, stop 63)."""
    import cv2
    import torch
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    monkeypatch.delenv("OPENCV_FOR_THREADS_NUM", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(2)
    torch.set_num_threads(2)
    blas = blas_threads()
    a_in, b_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen, errors = [], []

    def job_a(batch):
        a_in.set()
        assert b_in.wait(10)
        if not a_leaves_first:
            assert first_out.wait(10)
        seen.append(cv2.getNumThreads())
        return batch

    def job_b(batch):
        b_in.set()
        if a_leaves_first:
            assert first_out.wait(10)
        seen.append(cv2.getNumThreads())
        return batch

    def run(job, leaves_first):
        try:
            execute(_frames(2), job, lambda f: None, batch_size=2)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        if leaves_first:
            first_out.set()

    try:
        a = threading.Thread(target=run, args=(job_a, a_leaves_first))
        b = threading.Thread(target=run, args=(job_b, not a_leaves_first))
        a.start()
        assert a_in.wait(10)
        b.start()
        a.join(20)
        b.join(20)
        assert not errors and seen == [1, 1]
        later = []
        t = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
        t.start()
        t.join()
        assert (cv2.getNumThreads(), torch.get_num_threads(), later, blas_threads()) == (2, 2, [2], blas)
    finally:
        cv2.setNumThreads(before[0])
        torch.set_num_threads(before[1])


def test_torch_threads_holds_the_pool_and_restores_it():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(RuntimeError), torch_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError("a failing reference")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
