"""Still images or clips: whether an input is read as stills, and a job switched between them (no smoothing for
unrelated stills, the smoothing asked for on clips)."""
from __future__ import annotations

from pathlib import Path

from vidcolor.io import is_still_image
from vidcolor.pipeline import FrameBatchFn, LabJob


def read_as_stills(input: str | Path, raw_size) -> bool:
    """Whether ``input`` is read as still images: a folder (its clips are switched to video mode one by one,
    :func:`~vidcolor.api._process_folder`) or a still image file (:func:`~vidcolor.io.animated.is_still_image`); not
    stdin or raw input."""
    return str(input) != "-" and raw_size is None and (Path(input).is_dir() or is_still_image(input))


def set_temporal_for_video(job: LabJob, input: str | Path, raw_size, mode: str, strength: float) -> None:
    """Temporal smoothing for video input only: still images are independent; a folder starts in still mode and
    its clips get ``mode`` (kept as ``requested_temporal``, see :func:`~vidcolor.api._process_folder`). ``mode`` and
    ``strength`` are those :func:`~vidcolor.api.dequantize` and :func:`~vidcolor.api.colorize` checked first
    (:func:`~vidcolor.pipeline.check_temporal`, whatever the input): a still's are not checked here."""
    still = read_as_stills(input, raw_size)
    job.set_temporal("off" if still else mode, strength)
    job.set_stills(still)
    job.requested_temporal = (mode, strength)       # a folder's clips get it (see _process_folder)


def still_mode(fn: FrameBatchFn, still: bool, smoother=None) -> None:
    """Switch a job between unrelated stills (no smoothing, a quantizer estimate each) and clips (the
    smoothing the caller asked for). A job built by :func:`~vidcolor.api.dequantize` or :func:`~vidcolor.api.colorize`
    gets the smoothing kept in :attr:`~vidcolor.pipeline.LabJob.requested_temporal`; any other job (one whose smoothing
    its caller set, ``job.set_temporal("flow")``) gets ``smoother`` back for its clips, its own smoother object as
    :func:`~vidcolor.api.process` found it (its settings kept), and nothing is written on it."""
    requested = getattr(fn, "requested_temporal", None)
    if requested is not None:
        fn.set_temporal("off" if still else requested[0], requested[1])
    elif smoother is not None and callable(getattr(fn, "set_temporal", None)):
        if still:
            fn.set_temporal("off")
        else:
            fn.smoother = smoother
    if callable(getattr(fn, "set_stills", None)):
        fn.set_stills(still)
