"""The ``compare`` option's job: input and output side by side, around any job."""
from __future__ import annotations

import numpy as np

from vidcolor.executor import check_returned, stages_of
from vidcolor.io.icc import D65, SRGB_PRIMARIES, bradford, rgb_to_xyz
from vidcolor.pipeline import FrameBatchFn, set_output_chroma

PRIMARIES_XY = {1: SRGB_PRIMARIES, 9: (D65, ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046))),
                11: ((0.314, 0.351), ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))),
                12: (D65, ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)))}
"""White and red, green, blue primaries (CIE xy) by FFmpeg's AVColorPrimaries: BT.709 (1), BT.2020 (9, ITU-R
BT.2020), DCI-P3 (11, SMPTE RP 431-2) and Display P3 (12, SMPTE EG 432-1): the spaces
:func:`~vidcolor.source_warnings.output_colour` tags BT.709, whose input half :func:`primaries_matrix` converts."""

SHOWN_GAMMA = 2.4
"""The display's transfer the input half is converted under (:meth:`SideBySide.shown_input`): BT.1886's power, as a
BT.709 (or BT.2020 SDR) display decodes it; the same curve is applied back, so only the linear mix of the primaries
depends on it."""


def primaries_matrix(source: int | None, output: int | None) -> np.ndarray | None:
    """The 3x3 matrix from linear RGB of the primaries ``source`` to those of ``output`` (FFmpeg's AVColorPrimaries,
    :data:`PRIMARIES_XY`), the white adapted (Bradford: DCI-P3's gray stays gray, as colorize's output half shows
    it); None where they are the same, or either is not known (nothing converted)."""
    if source == output or source not in PRIMARIES_XY or output not in PRIMARIES_XY:
        return None
    (w_in, p_in), (w_out, p_out) = PRIMARIES_XY[source], PRIMARIES_XY[output]
    return np.linalg.inv(rgb_to_xyz(w_out, p_out)) @ bradford(w_in, w_out) @ rgb_to_xyz(w_in, p_in)


class SideBySide:
    """A job whose output is ``input | output`` side by side: RGB ``(N, H, W, 3)`` -> ``(N, H, 2 W, 3)`` of the
    frames' dtype: uint8, or uint16 (0..65535) where ``job`` is :attr:`~vidcolor.pipeline.LabJob.DEEP` and a run
    gives it a deep source's frames (through the stages, :meth:`finish`; a direct call takes uint8 alone). Keeps
    ``job``'s stages. What ``job`` returns is checked before it is joined to the input (:func:`check_returned`:
    one of another size was numpy's "all the input array dimensions except for the concatenation axis must match
    exactly")."""

    widens = 2
    """The factor on the frames' width (:func:`~vidcolor.executor.execute` checks the output's size with it)."""

    def __init__(self, job: FrameBatchFn):
        self.job, self.device = job, getattr(job, "device", None)
        self.to_output: np.ndarray | None = None
        """The input half's conversion into the output's primaries (:func:`set_shown_primaries`), None: none."""
        self.staged = len(stages_of(job)) == 3
        if hasattr(job, "largest_batch"):       # the reference modes' cap on the automatic batch (job_batch_size)
            self.largest_batch = job.largest_batch

    def shown_input(self, frames: np.ndarray) -> np.ndarray:
        """The input half of ``frames`` (RGB ``(N, H, W, 3)``, uint8 or uint16), in the output's primaries where they
        differ from the source's (:attr:`to_output`: colorize of a BT.2020 or P3 source, whose output is tagged
        BT.709, :func:`~vidcolor.source_warnings.output_colour`; the input half under those tags showed its colours
        duller than they are): decoded by :data:`SHOWN_GAMMA`, mixed in linear light, clipped to the output's gamut
        and encoded back, of the same dtype; else ``frames`` as they are."""
        if self.to_output is None:
            return frames
        top = np.float32(np.iinfo(frames.dtype).max)
        linear = (frames.astype(np.float32) / top) ** np.float32(SHOWN_GAMMA)
        mixed = np.clip(linear @ self.to_output.T.astype(np.float32), 0, 1) ** np.float32(1 / SHOWN_GAMMA)
        return np.rint(mixed * top).astype(frames.dtype)

    def prepare(self, frames: np.ndarray):
        return (frames, self.job.prepare(frames) if self.staged else frames)

    def infer(self, item):
        return (item[0], self.job.infer(item[1]) if self.staged else item[1])

    def finish(self, item) -> np.ndarray:
        """A prepared and inferred batch -> RGB ``(N, H, 2 W, 3)`` of the frames' dtype (uint8; uint16 for a DEEP
        job's): the input beside the job's output."""
        frames, inner = item
        out = self.job.finish(inner) if self.staged else self.job(inner)
        return np.concatenate([self.shown_input(frames), check_returned(out, frames.shape, frames.dtype)], axis=2)

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
        ``batch_size`` that is no integer >= 1; ``ValueError`` for a job's output of another kind or size,
        :func:`check_returned`)."""
        return np.concatenate([self.shown_input(frames), check_returned(self.job(frames), frames.shape, frames.dtype)],
                              axis=2)


def set_shown_primaries(fn: FrameBatchFn, source: int | None, output: int | None) -> None:
    """Tell a :class:`SideBySide` the primaries of the source (``source``) and of the output (``output``, FFmpeg's
    AVColorPrimaries, :attr:`~vidcolor.io.VideoInfo.colour`'s and the writer's ``color_primaries``), so that its
    input half is converted into the output's where they differ (:meth:`SideBySide.shown_input`): the tags of the
    side-by-side output then hold for both halves. Another job: nothing."""
    if isinstance(fn, SideBySide):
        fn.to_output = primaries_matrix(source, output)
