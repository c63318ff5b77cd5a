"""The ``compare`` option's job: input and output side by side, around any job."""
from __future__ import annotations

import numpy as np

from vidcolor.executor import stages_of
from vidcolor.pipeline import FrameBatchFn, set_output_chroma


class SideBySide:
    """A job whose output is ``input | output`` side by side: RGB ``(N, H, W, 3)`` -> ``(N, H, 2 W, 3)`` of the
    frames' dtype: uint8, or uint16 (0..65535) where ``job`` is :attr:`~vidcolor.pipeline.LabJob.DEEP` and a run
    gives it a deep source's frames (through the stages, :meth:`finish`; a direct call takes uint8 alone). Keeps
    ``job``'s stages."""

    def __init__(self, job: FrameBatchFn):
        self.job, self.device = job, getattr(job, "device", None)
        self.staged = len(stages_of(job)) == 3
        if hasattr(job, "largest_batch"):       # the reference modes' cap on the automatic batch (job_batch_size)
            self.largest_batch = job.largest_batch

    def prepare(self, frames: np.ndarray):
        return (frames, self.job.prepare(frames) if self.staged else frames)

    def infer(self, item):
        return (item[0], self.job.infer(item[1]) if self.staged else item[1])

    def finish(self, item) -> np.ndarray:
        """A prepared and inferred batch -> RGB ``(N, H, 2 W, 3)`` of the frames' dtype (uint8; uint16 for a DEEP
        job's): the input beside the job's output."""
        frames, inner = item
        return np.concatenate([frames, self.job.finish(inner) if self.staged else self.job(inner)], axis=2)

    def set_output_chroma(self, kept: bool) -> None:
        """The wrapped job's :meth:`~vidcolor.pipeline.LabJob.set_output_chroma` (when it has one)."""
        set_output_chroma(self.job, kept)

    def reset(self) -> None:
        """The wrapped job's :meth:`~vidcolor.pipeline.LabJob.reset` (when it has one)."""
        if callable(getattr(self.job, "reset", None)):
            self.job.reset()

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """uint8 RGB ``(N, H, W, 3)`` -> uint8 RGB ``(N, H, 2 W, 3)``, ``frames | job(frames)`` (uint16 frames go
        through the stages alone, :meth:`finish`): the job's own direct call, so a
        :class:`~vidcolor.pipeline.LabJob` runs in chunks of its
        :meth:`~vidcolor.pipeline.LabJob.chunk_size` frames (its ``batch_size``, else the file path's batch size),
        with the bytes of one batch of all N. (The whole array had been one batch, so memory grew with N.) Raises
        what the job's call raises (``ValueError`` for frames that are not uint8 RGB; ``VidcolorError`` for a
        ``batch_size`` that is no integer >= 1)."""
        return np.concatenate([frames, self.job(frames)], axis=2)
