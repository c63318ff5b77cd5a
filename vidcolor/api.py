"""Public Python entry points; the CLI only wraps these.

Example:
    >>> from vidcolor.api import dequantize, Dequantizer
    >>> dequantize("mario.mp4")                       # writes mario_dequantized.mp4   # doctest: +SKIP
    >>> fix = Dequantizer()                           # or frame by frame:             # doctest: +SKIP
    >>> fine = fix(coarse_frames)                     # uint8 (N, H, W, 3) -> same    # doctest: +SKIP

Here: :func:`dequantize`, :func:`colorize`, :func:`process` (with its folder half, ``_process_folder``) and
:func:`dequantize_frames`, the options' check against :func:`process` (:func:`check_io_options`) and the hand-off to
the Ray executor (``_distributed``, ``build_job``). What they use lives in modules of its own:
:mod:`vidcolor.io.paths` (the input and output paths), :mod:`vidcolor.io.folders` (a folder's inputs and outputs),
:mod:`vidcolor.checks` (what a run checks before any work), :mod:`vidcolor.colorize_job` (:func:`colorizer`, given
here), :mod:`vidcolor.stills` (stills or clips), :mod:`vidcolor.file_run` (one file's run),
:mod:`vidcolor.side_by_side` (``compare``), :mod:`vidcolor.source_warnings` (what a run says of its source),
:mod:`vidcolor.summaries` (a run's summary notes) and :mod:`vidcolor.ray_work` (what a Ray run works on).
"""
from __future__ import annotations

import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from vidcolor.checks import check_executor_options, check_run_first, check_spares_inputs, model_input
from vidcolor.colorize_job import check_model_files, colorizer, reference_list
from vidcolor.engine import DEFAULT_TILE
from vidcolor.errors import UnreadableInput, VidcolorError, add_note, option, said_once, warn
from vidcolor.file_run import process_file, process_images
from vidcolor.io import VideoReader, is_image
from vidcolor.io.folders import folder_targets, left_to_do, one_listing
from vidcolor.io.paths import check_path, same_file
from vidcolor.io.reader import VIDEO_SUFFIXES
from vidcolor.io.segments import check_segment_seconds
from vidcolor.io.sequences import is_sequence
from vidcolor.io.writer import (OutputExists, check_target, default_pix_fmt, kept_note, removing_made_folders,
                                x264_preset_name)
from vidcolor.jobs import DEFAULTS, JOBS, RENDER_SIZE
from vidcolor.pipeline import (Colorizer, Dequantizer, Found, FrameBatchFn, LabJob, RunSummary, batched,
                               check_batch_size, check_frame_stream, check_temporal)
from vidcolor.ray_work import job_files, ray_clips
from vidcolor.side_by_side import SideBySide
from vidcolor.source_warnings import (eight_bit_reason, folder_warnings, keeps_depth, makes_colours,
                                      one_colour_warning)
from vidcolor.stills import set_temporal_for_video, still_mode
from vidcolor.summaries import (files_unchanged_note, keyframes_note, quantizer_note, quantizers_of_files,
                                skipped_note, unchanged_note, written_meanwhile_summary)
from vidcolor.weights import check_model_name


__all__ = ["Colorizer", "Dequantizer", "RunSummary", "colorize", "colorizer", "dequantize", "dequantize_frames",
           "process"]


def dequantize_frames(frames: Iterable[np.ndarray], model: str = DEFAULTS["dequantize"], device: str = "auto",
                      batch_size: int = 4, restore_luminance: bool | None = None, consistency: bool = True,
                      backend: str = "auto", precision: str = "auto", tile: int = DEFAULT_TILE) -> Iterator[np.ndarray]:
    """Dequantize a stream of uint8 RGB frames ``(H, W, 3)`` of one clip, yielding uint8 RGB frames in order.

    The options are checked and the model loaded when this is called; the frames are read (``batch_size`` at a
    time) as the returned iterator is consumed.

    Args:
        frames: uint8 RGB ``(H, W, 3)`` frames of one clip, in order (any iterable); a frame that converts to a
            NumPy array (a PIL RGB image, a CPU uint8 torch tensor) is taken as ``np.asarray(frame)``
            (:func:`~vidcolor.pipeline.batched`).
        model, device, restore_luminance, consistency, backend, precision, tile: see
            :class:`~vidcolor.pipeline.Dequantizer`.
        batch_size: frames per forward pass, an integer >= 1.

    Yields:
        uint8 RGB ``(H, W, 3)`` frames, each the size of its input frame, one for each.

    Raises:
        VidcolorError: a batch size that is not an integer >= 1, unknown model, bad option values; as the frames
            are read, a frame whose size is not the first frame's (named by its index).
        ValueError: ``frames`` an array that is not ``(N, H, W, 3)`` (one frame ``(H, W, 3)``: give ``[frame]``); as
            the frames are read, a frame that is not uint8 RGB ``(H, W, 3)`` (gray, RGBA, float; named by its
            index, with how to give it).
        TypeError: a model that is no name or path; ``frames`` that are no iterable (None), or a path
            (:func:`~vidcolor.pipeline.check_frame_stream`).
    """
    check_batch_size(batch_size)
    check_frame_stream(frames)                          # before the model loads
    return batched(frames, Dequantizer(model, device, restore_luminance, consistency, backend, precision, tile),
                   batch_size)


@one_listing()
def dequantize(input: str | Path, output: str | Path | None = None, *, model: str = DEFAULTS["dequantize"],
               device: str = "auto", batch_size: int | None = None, restore_luminance: bool | None = None,
               consistency: bool = True, temporal: str = "flow", temporal_strength: float = 0.6,
               backend: str = "auto", precision: str = "auto", tile: int = DEFAULT_TILE, executor: str = "local",
               segment_seconds: float | None = None, workers: int | None = None, **io_options) -> RunSummary:
    """Dequantize a video file, stdin stream (``"-"``), image or folder of images.

    Args:
        input: path, ``"-"`` for stdin, an image file, or a folder of images.
        output: path or ``"-"`` for stdout; default ``<stem>_dequantized.mp4`` (``.png`` for images,
            ``<folder>_dequantized/`` for folders) beside the input.
        model, device, restore_luminance, consistency, backend, precision, tile: see
            :class:`~vidcolor.pipeline.Dequantizer`.
        batch_size: frames per forward pass; None = :func:`~vidcolor.pipeline.job_batch_size`.
        temporal, temporal_strength: smoothing of ab over time (``off``, ``ema``, ``flow``; see
            :mod:`vidcolor.temporal`); never applied to still images.
        executor: ``local`` (this process, :mod:`vidcolor.executor`) or ``ray`` (video files and folders
            of them, split into segments on a Ray cluster: :mod:`vidcolor.distributed`). ``device`` is ``auto``,
            ``cpu``, ``cuda`` or ``cuda:N`` (GPU N; :func:`~vidcolor.device.pick_device`); on Ray ``auto``, ``cpu``
            or ``cuda`` alone, since Ray gives each worker a GPU of its own
            (:func:`~vidcolor.distributed.check_device`).
        segment_seconds, workers: the Ray executor's target segment length (seconds; default
            :data:`vidcolor.distributed.SEGMENT_SECONDS`) and number of actors (default: one per GPU,
            else per CPU of the cluster).
        **io_options: see :func:`process` (codec, crf, preset, tune, x264_params, audio, overwrite, skip_existing,
            raw_size, fps, container, compare, pix_fmt, progress, ignore_errors); ``crf`` defaults to 14 here (``JOBS["dequantize"].crf``,
            see :class:`~vidcolor.jobs.Job`), and with x264's default preset (``medium``, ``MEDIUM`` or ``5`` too) ``x264_params`` to
            :data:`~vidcolor.jobs.DEQUANTIZE_X264_PARAMS` (faster, with the same fidelity).

    Returns:
        :class:`~vidcolor.pipeline.RunSummary`; with ``skip_existing`` and every output there, one that says so
        (:func:`~vidcolor.checks.nothing_to_do`: no model loads).

    Raises:
        VidcolorError: bad input, existing output without ``overwrite`` (or ``skip_existing``), an output that is
            the model's file (:func:`check_spares_inputs`), unknown model, an option of another type or outside its
            range (a ``device`` :func:`~vidcolor.device.pick_device` refuses; ``cuda:N`` on Ray), ffmpeg failure.
        TypeError: ``input`` or ``output`` no path; an unknown keyword argument.
    """
    started = time.perf_counter()
    input, output = check_path(input, "input"), check_path(output, "output", none=True)
    check_io_options(io_options, "dequantize")
    check_model_name(model, graphs=True)                # before skip_existing's early return: '' is no model
    check_executor_options(executor, segment_seconds, workers)
    check_temporal(temporal, temporal_strength)         # before a model loads
    io_options.setdefault("crf", JOBS[Dequantizer.JOB].crf)
    target, done = check_run_first(input, output, JOBS[Dequantizer.JOB].suffix, batch_size, io_options,
                                   encodes_here=executor == "local")
    if done is not None:
        return done
    check_spares_inputs(input, target, io_options, model_input(model))
    preset = io_options.get("preset", "medium")        # (ffv1 and prores take any preset, unchecked: even no str)
    if isinstance(preset, str) and x264_preset_name(preset) == "medium":     # as x264 reads it: MEDIUM, 5
        io_options.setdefault("x264_params", JOBS[Dequantizer.JOB].x264_params)
    options = dict(model=model, device=device, restore_luminance=restore_luminance, consistency=consistency,
                   backend=backend, precision=precision, tile=tile)
    if executor != "local":
        return _distributed("dequantize", options, input, output, (temporal, temporal_strength), batch_size,
                            executor, segment_seconds, workers, io_options).timed_from(started)
    fn = Dequantizer(**options)
    set_temporal_for_video(fn, input, io_options.get("raw_size"), temporal, temporal_strength)
    summary = process(input, output, fn, suffix=JOBS[Dequantizer.JOB].suffix, batch_size=batch_size, **io_options)
    folder = str(input) != "-" and io_options.get("raw_size") is None and Path(input).is_dir()
    if not folder and fn.found and not summary.skipped:     # a folder's: _process_folder; skipped: its note says why
        summary.note = "; ".join(filter(None, [summary.note, quantizer_note(fn.found, fn.found_changes),
                                                unchanged_note(fn.found_totals(), summary.unit)]))
    return summary.timed_from(started)


def check_io_options(io_options: dict, caller: str) -> None:
    """Refuse a keyword of :func:`dequantize`'s or :func:`colorize`'s (``caller``) ``**io_options`` that
    :func:`process` does not take, before any work: a misspelt ``crff=18`` was process()'s TypeError once the model
    had loaded (after the internal mode's training, minutes), and the Ray executor ignored it.

    Raises:
        TypeError: naming it, and the option it is closest to where one is.
    """
    import difflib
    import inspect

    taken = [name for name, p in inspect.signature(process).parameters.items()
             if p.kind is p.KEYWORD_ONLY and name not in ("suffix", "batch_size")]
    for name in io_options:
        if name not in taken:
            close = difflib.get_close_matches(name, taken, n=1)
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}" +
                            (f"; did you mean {close[0]!r}?" if close else f" (its file options: {', '.join(taken)})"))


@one_listing()
def colorize(input: str | Path, output: str | Path | None = None, *, model: str | None = None,
             device: str = "auto", batch_size: int | None = None, render_size: int = RENDER_SIZE, saturation: float | None = None,
             temperature: float | None = None, blur: bool = False, equalize: bool = False,
             references: str | Path | list[str | Path] | None = None, reference_mode: str = "fast",
             internal_iters: int = 2000, internal_size: int = 256, save_model: str | Path | None = None,
             load_model: str | Path | None = None, temporal: str = "flow", temporal_strength: float = 0.6,
             backend: str = "auto", precision: str = "auto", executor: str = "local",
             segment_seconds: float | None = None, workers: int | None = None, **io_options) -> RunSummary:
    """Colorize a black-and-white (or colour, reduced to its L) video, stdin stream, image or folder.

    Args:
        input, output: as for :func:`dequantize`; the default output is ``<stem>_colorized.mp4``.
        model, device, render_size, saturation, temperature, blur, equalize: see
            :class:`~vidcolor.pipeline.Colorizer` (automatic) and
            :class:`~vidcolor.reference.ReferenceColorizer` (fast reference mode); ``model=None`` picks
            the job's default.
        references: colour reference images (a list, or one path); with them the colours follow the references.
        reference_mode: ``fast`` (exemplar network, :class:`~vidcolor.reference.ReferenceColorizer`),
            ``internal`` (seed 002's two-image GAN, trained now:
            :class:`~vidcolor.reference.InternalColorizer`; one reference, the first frame is the keyframe),
            or ``keyframes`` (no references given: each scene's keyframe is colorized automatically and
            carried through the scene by the exemplar network, :class:`~vidcolor.reference.KeyframeColorizer`;
            on Ray each segment starts from a keyframe of its own, the first frame of its warm-up).
        internal_iters, internal_size: iterations per scale and working size (longer side, px) of internal mode.
        save_model, load_model: save the internal mode's trained generators / reuse a saved pair.
        temporal, temporal_strength, batch_size, backend, precision, executor, segment_seconds, workers: as
            for :func:`dequantize` (on Ray, the reference features are computed once and the internal mode
            trains once, on the driver, and both are shipped to the workers).
        **io_options: see :func:`process`; ``crf`` defaults to ``JOBS["colorize"].crf`` (16, see
            :class:`~vidcolor.jobs.Job`).

    Returns:
        :class:`~vidcolor.pipeline.RunSummary`; with ``skip_existing`` and every output there, one that says so
        (:func:`~vidcolor.checks.nothing_to_do`: no model loads, nothing is trained).

    Raises:
        VidcolorError: bad input or options, existing output without ``overwrite`` or ``skip_existing`` (an
            existing ``save_model`` without ``overwrite``), a ``save_model`` that is an input or the output, an
            output that is a reference, ``load_model`` or ``model``'s file (:func:`check_spares_inputs`), unknown
            model, an option of another type or outside its range (a ``device`` as for :func:`dequantize`).
        TypeError: ``input`` or ``output`` no path; an unknown keyword argument.
    """
    started = time.perf_counter()
    input, output = check_path(input, "input"), check_path(output, "output", none=True)
    check_io_options(io_options, "colorize")
    check_model_files(save_model, load_model)           # before skip_existing's early return, as colorizer() does
    check_model_name(model, graphs=reference_mode == "fast" and not reference_list(references))   # as the job's
    check_executor_options(executor, segment_seconds, workers)
    check_temporal(temporal, temporal_strength)         # before a model loads
    io_options.setdefault("crf", JOBS[Colorizer.JOB].crf)
    target, done = check_run_first(input, output, JOBS[Colorizer.JOB].suffix, batch_size, io_options,
                                   encodes_here=executor == "local")
    if done is not None:
        return done
    references = reference_list(references)
    check_spares_inputs(input, target, io_options,
                        [(option("references", "--reference"), r) for r in references] +
                        ([(option("load_model"), load_model)] if load_model is not None else []) +
                        model_input(model))
    if save_model is not None:          # like an output: never over an input, the output, or an existing file
        given = [input, target, *(references or []),
                 *([load_model] if load_model is not None else [])]
        if any(str(g) != "-" and same_file(g, save_model) for g in given):
            raise VidcolorError(f"{option('save_model')} {save_model} would overwrite an input or the output")
        check_target(Path(save_model), io_options.get("overwrite", False))
    options = dict(model=model, device=device, render_size=render_size, saturation=saturation, temperature=temperature,
                   blur=blur, equalize=equalize, references=[str(r) for r in references or []],
                   reference_mode=reference_mode, internal_iters=internal_iters, internal_size=internal_size,
                   save_model=save_model, load_model=load_model, progress=io_options.get("progress", True),
                   backend=backend, precision=precision)
    if executor != "local":
        return _distributed("colorize", options, input, output, (temporal, temporal_strength), batch_size,
                            executor, segment_seconds, workers, io_options).timed_from(started)
    fn = colorizer(**options)
    set_temporal_for_video(fn, input, io_options.get("raw_size"), temporal, temporal_strength)
    summary = process(input, output, fn, suffix=JOBS[Colorizer.JOB].suffix, batch_size=batch_size, **io_options)
    if summary.frames:                      # keyframe mode: how many scenes it found (also where some files were skipped)
        summary.note = "; ".join(filter(None, [summary.note, keyframes_note(fn)]))
    return summary.timed_from(started)


def build_job(kind: str, options: dict, temporal: tuple[str, float] = ("off", 0.6), compare: bool = False,
              features: tuple[np.ndarray, np.ndarray] | None = None, generators: bytes | None = None) -> FrameBatchFn:
    """The job a Ray worker runs on a clip (:class:`~vidcolor.distributed.JobSpec` ``build``).

    Args:
        kind: ``dequantize`` or ``colorize``; ``options``: :func:`dequantize`'s job options (model, device,
            ...) or :func:`colorizer`'s.
        temporal: smoothing mode and strength; ``compare``: input | output side by side.
        features: the fast reference mode's reference features, computed on the driver
            (:attr:`~vidcolor.reference.ReferenceColorizer.features`).
        generators: the internal reference mode's trained generators, a safetensors file's bytes.

    Raises:
        VidcolorError: as the job's constructor.
    """
    from vidcolor.reference import InternalColorizer, ReferenceColorizer

    if kind == "dequantize":
        job: LabJob = Dequantizer(**options)
    elif features is not None:
        keep = ("device", "render_size", "saturation", "temperature", "blur", "equalize", "backend", "precision")
        job = ReferenceColorizer([], DEFAULTS["colorize-reference"] if options["model"] is None else options["model"],
                                 **{k: options[k] for k in keep}, features=features)
    elif generators is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "internal.safetensors"
            path.write_bytes(generators)
            job = InternalColorizer([], options["device"], load_model=path, progress=False)
    else:
        job = colorizer(**options)
    job.set_temporal(*temporal)
    job.set_stills(False)
    return SideBySide(job) if compare else job


def _distributed(kind: str, options: dict, input, output, temporal: tuple[str, float], batch_size: int | None,
                 executor: str, segment_seconds: float | None, workers: int | None, io_options: dict) -> RunSummary:
    """:func:`dequantize` / :func:`colorize` with ``executor="ray"``: the job is built once here (its options
    checked, reference features computed, the internal mode trained), then run by
    :func:`vidcolor.distributed.process_clips` on every video (with ``skip_existing``, on those whose output does
    not exist, and those whose outputs another run writes meanwhile are left as it wrote them; the summary's note
    counts the others). Each warning is said once (:func:`~vidcolor.errors.said_once`),
    the workers' too, as a local run says it."""
    if executor != "ray":
        raise VidcolorError(f"unknown executor {executor!r} (local or ray)")
    if is_sequence(input):          # segments are cut at a video file's keyframes: a sequence has no file to cut
        raise VidcolorError(f"{input}: {option('executor=ray')} takes video files (an image sequence: "
                            f"{option('executor=local')})")
    if output is not None and str(output) != "-" and is_sequence(output):     # segments are joined as video files
        raise VidcolorError(f"{output}: {option('executor=ray')} writes video files (an image sequence: "
                            f"{option('executor=local')})")
    if segment_seconds is not None:
        check_segment_seconds(segment_seconds)          # before Ray starts (0 was taken as the default)
    from vidcolor import distributed

    distributed.check_device(options["device"])         # cuda:N: before the job is built here (Ray gives the GPUs)
    from vidcolor.reference import InternalColorizer, KeyframeColorizer, ReferenceColorizer

    with said_once():           # the driver's warnings and each worker's, said once as a local run says them
        distributed.import_ray()
        clips = ray_clips(input, output, JOBS[Dequantizer.JOB if kind == "dequantize" else Colorizer.JOB].suffix,
                          io_options)
        todo = [(i, o) for i, o in clips if not (io_options.get("skip_existing") and o.is_file())]
        opts = dict(options, progress=False) if kind == "colorize" else dict(options)
        job = build_job(kind, opts, temporal)
        shared: dict = {}
        if isinstance(job, ReferenceColorizer) and not isinstance(job, KeyframeColorizer):
            shared["features"] = job.features
            opts["references"] = []
        elif isinstance(job, InternalColorizer):
            import tempfile

            if job.model is None:        # the key frame: the first frame of the (first) video, skipped or not
                with VideoReader(clips[0][0]) as reader:
                    job.progress = io_options.get("progress", True)
                    job.train(next(iter(reader)))
            with tempfile.TemporaryDirectory() as tmp:
                job.save(Path(tmp) / "internal.safetensors")
                shared["generators"] = (Path(tmp) / "internal.safetensors").read_bytes()
            opts = {"device": opts["device"]}
        codec, pix_fmt = io_options.get("codec", "libx264"), io_options.get("pix_fmt")
        # a source of more than 8 bits per sample: kept at 16 (None) as a local run keeps it, else why it is not;
        # pix_fmt None is each clip's default, resolved by distributed.open_work before the run's key is made
        eight_bits = (None if keeps_depth(job, codec, pix_fmt, False)
                      else eight_bit_reason(job, codec, pix_fmt or default_pix_fmt(codec, False), False))
        colours = makes_colours(job)        # colorize's: the output's colour tags (output_colour)
        del job
        encoding = distributed.Encoding(codec, io_options.get("crf", 16), io_options.get("preset", "medium"), pix_fmt,
                                        batch_size, io_options.get("tune"), io_options.get("x264_params"))
        spec = distributed.JobSpec(build_job, {"kind": kind, "options": opts, "temporal": temporal,
                                               "compare": io_options.get("compare", False)}, shared,
                                   job_files(kind, options), eight_bits=eight_bits, colours=colours)
        summary = distributed.process_clips(todo, spec, encoding=encoding,
                                            seconds=segment_seconds or distributed.SEGMENT_SECONDS, workers=workers,
                                            device=options["device"], compare=io_options.get("compare", False),
                                            audio=io_options.get("audio", True), container=io_options.get("container"),
                                            overwrite=io_options.get("overwrite", False),
                                            progress=io_options.get("progress", True), folder=Path(input).is_dir(),
                                            skip_existing=io_options.get("skip_existing", False))
    if summary.skipped and not Path(input).is_dir():   # written by another run while this one worked, as process says
        return written_meanwhile_summary(clips[0][1])
    summary.skipped += len(clips) - len(todo)
    if summary.skipped and not summary.frames:      # every output written meanwhile: 'nothing to do: ...'
        summary.note = skipped_note(summary.skipped)
    elif summary.skipped:
        summary.note += f"; {skipped_note(summary.skipped)}"
    if summary.found and any(summary.found):      # what a Dequantizer found, as a local run says it
        found = (quantizers_of_files([{f.quantizer for f in clip} for clip in summary.found])
                 if Path(input).is_dir() else quantizer_note(summary.found[0]))
        summary.note = "; ".join(filter(None, [summary.note, found,
                                                files_unchanged_note(summary.found, summary.unit)]))
    return summary


@one_listing()
@one_colour_warning()
def process(input: str | Path, output: str | Path | None, fn: FrameBatchFn, *, suffix: str, batch_size: int | None = None,
            codec: str = "libx264", crf: int = 16, preset: str = "medium", tune: str | None = None,
            x264_params: str | None = None, audio: bool = True,
            overwrite: bool = False, skip_existing: bool = False, raw_size: tuple[int, int] | None = None,
            fps: float | Fraction | str | None = None,
            container: str | None = None, compare: bool = False, pix_fmt: str | None = None,
            progress: bool = True, ignore_errors: bool = False) -> RunSummary:
    """Run a frame-batch function over any supported input and write the result.

    Video timing is kept (frame rate, frame count, mp4 timescale = source time base), the audio and
    subtitle streams, global metadata and chapters are carried over (:class:`~vidcolor.io.writer.Passthrough`;
    ``audio=False`` drops the audio; from stdin or another pipe, read once, none is: a warning names them,
    :func:`~vidcolor.io.paths.read_once`; nor into GIF, which holds the frames alone: a warning names them, the audio
    not with ``audio=False``), and display rotation is applied to
    the pixels. ``compare=True`` writes input and output side by side (twice the width, which must stay within
    :data:`~vidcolor.io.limits.MAX_SIDE`, the encoder's limit: a VidcolorError before anything is written). ``codec``, ``crf``,
    ``preset``, ``tune``, ``x264_params`` and ``pix_fmt`` are the encoder's (:class:`~vidcolor.io.VideoWriter`;
    ``crf`` an integer in :data:`~vidcolor.jobs.CRF_RANGE`, checked first, :func:`~vidcolor.checks.check_crf`;
    ``pix_fmt`` None: ``yuv420p``, or :func:`~vidcolor.io.writer.default_pix_fmt`'s ``yuv420p10le`` for a video of more
    than 8 bits per sample that the job keeps at its depth, with libx265 and ffv1; libx264's stays ``yuv420p``, which
    plays everywhere). A job that takes 16-bit frames (:attr:`~vidcolor.pipeline.LabJob.DEEP`: colorize's, but in
    internal reference mode) is given such a video's frames as uint16 RGB where the output holds more than 8 bits (a
    10-bit ``pix_fmt``, ProRes; not GIF), and they are encoded from 16 bits (``rgb48le``). ``batch_size`` is an
    integer >= 1 (:func:`~vidcolor.pipeline.check_batch_size`); ``batch_size=None`` picks one from the frame size
    and ``fn``'s device (:func:`~vidcolor.pipeline.job_batch_size`). ``fps`` is the frame rate of ``raw_size``
    input (which needs one) and of an image sequence (None: the rate its frames carry, a DPX header's, snapped to
    the NTSC rate it stands for, :func:`~vidcolor.io.reader.frames_rate`; where they carry none,
    :data:`~vidcolor.io.sequences.FILM_FPS`, with a warning), exact as :func:`~vidcolor.io.reader.raw_rate` takes it:
    a Fraction, a number or ``--fps``'s text (``"30000/1001"``). An image sequence, numbered files named by a
    printf pattern (``scan_%06d.dpx``, also ``.tif``, ``.png``, ``.jpg``: :func:`~vidcolor.io.sequences.is_sequence`),
    is read as one clip from its first number on, by FFmpeg's image2 demuxer; a number missing in it is an error
    (with ``ignore_errors``, the frames before it are kept).
    Frames that the input has but that do not decode are an error and nothing is written: a file that declares
    more frames than it holds (truncated), packets the decoder refuses (damaged data; one in the middle of a
    stream stops the run at once, :class:`~vidcolor.errors.DamagedInput`), raw or y4m input that ends inside a frame.
    With ``ignore_errors`` the frames that decode are kept (the refused ones skipped, as ffmpeg skips them: the
    frames keep their timestamps), with a warning (:func:`~vidcolor.errors.warn`) that counts the lost ones. A frame size that changes
    (also to one above the frame-size limits) is an error either way; a file that cannot be
    read at all raises :class:`~vidcolor.errors.UnreadableInput` (a folder run with ``ignore_errors`` skips such a
    clip, with a warning, as it skips an unreadable still). A folder gives
    a folder: its still images as PNGs, its clips (videos by :data:`~vidcolor.io.reader.VIDEO_SUFFIXES`,
    animated GIF/APNG/WebP/AVIF) as ``<stem>.mp4`` (with ``container``, the suffix of that format), one after the other;
    a job's smoothing (``job.set_temporal``) is off for the stills, each on its own, and its own smoother is given back
    for the clips and after the run (:func:`still_mode`). The output's missing folders are created; a run that fails
    removes those it made where it leaves them empty (:func:`~vidcolor.io.writer.removing_made_folders`). A folder run
    that fails or is stopped keeps the outputs it finished (each is renamed into place once complete; the error says how
    many, in a note, :func:`vidcolor.errors.add_note`); with ``skip_existing`` an input whose output exists is left
    unread, and a run with nothing left to do returns :func:`~vidcolor.checks.nothing_to_do`'s summary
    (``skip_existing`` with ``overwrite``: a VidcolorError); an output that another run wrote while this one worked is
    left as that run wrote it, and the summary says so (without ``skip_existing``:
    :class:`~vidcolor.io.writer.OutputExists`, a VidcolorError, and nothing of this run is left).

    Args:
        input: a video file, ``"-"`` (stdin), an image, an image sequence's pattern, or a folder of images and videos
            (``str`` or :class:`pathlib.Path`).
        output: a file or folder, ``"-"`` (stdout), an image sequence's pattern for a clip (``out_%06d.tif``, also
            ``.png``, ``.dpx``, ``.jpg``: one file a frame, numbered from an input sequence's first number, else from
            1; written in place, so with ``overwrite`` a run that fails or is stopped loses the earlier frames of the
            numbers it reached; :class:`~vidcolor.io.VideoWriter`, :func:`~vidcolor.checks.check_sequence_output`), or
            None: :func:`~vidcolor.io.paths.default_output` beside the input, named ``<stem>_<suffix>``.
        fn: the job, a callable from uint8 RGB ``(N, H, W, 3)`` to uint8 RGB ``(N, H, W, 3)``, the same N, H and W (a
            :class:`~vidcolor.pipeline.Dequantizer`, :func:`colorizer`'s job, or a function of one's own); called
            batch after batch, in frame order, from one of the run's threads. Each file starts afresh: a job's
            ``reset()`` (where it has one) is called before it, so one job can be given to many calls.
        suffix: the default output's (``"dequantized"``: ``clip_dequantized.mp4``).
        The others: the encoder's, the input's and the run's options as above (``overwrite``, ``skip_existing``,
        ``audio``, ``compare``, ``progress`` and ``ignore_errors`` True or False; ``progress`` a bar on stderr).

    Returns:
        :class:`~vidcolor.pipeline.RunSummary` of what was written.

    Raises:
        VidcolorError: bad input, options or output (checked before any work), ffmpeg failure; frames lost (as
            above).
        TypeError: ``fn`` is no job, ``input`` or ``output`` no path.
        ValueError: ``fn`` returned something else than uint8 RGB ``(N, H, W, 3)`` for N frames of H x W (the
            job named, with what it returned and the batch's N, H and W: :func:`~vidcolor.executor.check_returned`).
    """
    input, output = check_path(input, "input"), check_path(output, "output", none=True)
    if isinstance(fn, type) or not callable(fn):
        raise TypeError("fn must be a job, a callable from uint8 RGB (N, H, W, 3) frames to the same (a Dequantizer(), "
                        "colorizer()'s, a function of your own), got " +
                        (f"the class {fn.__name__}: make one, {fn.__name__}()" if isinstance(fn, type) else
                         f"{type(fn).__name__} {fn!r}"[:200]))
    output, done = check_run_first(input, output, suffix, batch_size,
                                   dict(crf=crf, fps=fps, raw_size=raw_size, container=container, overwrite=overwrite,
                                        skip_existing=skip_existing, audio=audio, compare=compare, progress=progress,
                                        ignore_errors=ignore_errors, codec=codec, pix_fmt=pix_fmt, preset=preset,
                                        tune=tune, x264_params=x264_params))
    if done is not None:
        return done
    if str(input) != "-" and raw_size is None and Path(input).is_dir():
        own = getattr(fn, "smoother", None)     # the job's own smoothing: its stills run without it, its clips with it
        try:
            return _process_folder(Path(input), Path(output), fn, compare, overwrite, progress, skip_existing,
                                   smoother=own, batch_size=batch_size, codec=codec, crf=crf, preset=preset,
                                   tune=tune, x264_params=x264_params, audio=audio, container=container,
                                   pix_fmt=pix_fmt, ignore_errors=ignore_errors)
        finally:                    # in clip mode, with its own smoother (a folder of stills alone left it unsmoothed)
            still_mode(fn, False, own)
    try:
        return process_file(input, output, fn, batch_size=batch_size, codec=codec, crf=crf, preset=preset, tune=tune,
                            x264_params=x264_params, audio=audio, overwrite=overwrite, raw_size=raw_size, fps=fps,
                            container=container, compare=compare, pix_fmt=pix_fmt, progress=progress,
                            ignore_errors=ignore_errors)
    except OutputExists as exc:
        if not skip_existing or str(output) == "-" or exc.target != Path(output):
            raise
        return written_meanwhile_summary(output)


def _process_folder(folder: Path, out_dir: Path, fn: FrameBatchFn, compare: bool, overwrite: bool, progress: bool,
                    skip_existing: bool = False, smoother=None, **options) -> RunSummary:
    """A folder: still images to ``out_dir/<stem>.png`` (each on its own, no smoothing), then clips (videos,
    animated images) to ``out_dir/<stem>.mp4`` (``.mkv``, ``.gif``... with ``options["container"]``) one after the
    other (smoothed; ``fn`` reset between them). Stills that share a stem are written under their full names
    (``a.png.png``, ``a.jpg.png``). All targets are checked first: two inputs that would be written to one name are
    an error naming both, before anything is written. A run that fails or is stopped keeps the outputs it finished
    (each is renamed into place once complete) and removes the partial file of the one in progress (a run killed
    with SIGKILL cannot: the next run writing that output removes it, :func:`~vidcolor.io.partial.partial_file`), and
    the folders it made where they are left empty; its exception gets a note saying what was kept
    (:func:`~vidcolor.io.writer.kept_note`, :func:`~vidcolor.errors.add_note`), which the CLI appends to its line.
    With ``skip_existing`` an input whose output exists is not read (what finishes a run that stopped half way), nor
    one whose output another run wrote since (two runs of one folder at once share it out: each leaves the outputs
    the other finished, and an input both did is kept as the first wrote it; :class:`~vidcolor.io.writer.OutputExists`).
    With ``options["ignore_errors"]`` a clip that cannot be read at all is skipped with a warning, as an unreadable
    still is; the summary's note counts the images and clips written and the files skipped (``1 image, 1 clip; 2
    skipped: their outputs exist; 2 unreadable files skipped``; with stills alone the line counts them), and says
    what a job that tracks quantizers (:attr:`~vidcolor.pipeline.Dequantizer.found`) found in each file
    (:func:`quantizers_of_files`); a folder of which nothing could be read is an error."""
    if str(out_dir) == "-" or (not out_dir.is_dir() and (is_image(out_dir) or out_dir.suffix.lower() in VIDEO_SUFFIXES)):
        raise VidcolorError(f"{folder} is a folder, so its output is a folder (one file per input), not "
                            f"{'stdout' if str(out_dir) == '-' else out_dir}: give a folder name with -o")
    stills, clips, still_targets, clip_targets = folder_targets(folder, out_dir, options.get("container"))
    inputs = len(stills) + len(clips)
    if skip_existing:
        stills, still_targets = left_to_do(stills, still_targets)
        clips, clip_targets = left_to_do(clips, clip_targets)
    existing = inputs - len(stills) - len(clips)
    targets = still_targets + clip_targets
    for target in targets:          # a folder in a file's place is said at once, not after --overwrite
        try:
            check_target(target, overwrite, in_folder_run=True)
        except OutputExists:
            if not skip_existing:       # else written since the listing by another run: left when its turn comes
                raise
    finished: list[Path] = []
    start, frames, images, written = time.perf_counter(), 0, 0, 0       # written: clips
    meanwhile = 0                   # skip_existing: inputs whose outputs another run wrote since the listing
    tracks = callable(getattr(fn, "found_totals", None))  # a Dequantizer's quantizers, read a file at a time
    quantizers: list[set[str]] = []             # each file's
    totals: list[list[Found]] = []              # what each file's frames were found on
    with removing_made_folders(out_dir):
        try:
            if stills:
                still_mode(fn, True, smoother)      # clears fn.found
                late: list[Path] = []
                with folder_warnings():             # one warning for the 16-bit images processed at 8...
                    images = process_images(stills, still_targets, SideBySide(fn) if compare else fn, overwrite,
                                            progress, ignore_errors=options.get("ignore_errors", False),
                                            finished=finished, skipped=late if skip_existing else None).frames
                frames += images
                existing, meanwhile = existing + len(late), len(late)
                if tracks and images:               # (none written: every result dropped for another run's)
                    found = fn.found_totals()
                    totals += [[replace(f, frames=1)] for f in found for _ in range(f.frames)]    # a still's alone
                    quantizers += [{f.quantizer} for f in found for _ in range(f.frames)]      # a frame a still
            if clips:
                still_mode(fn, False, smoother)
            with folder_warnings():                 # one for the clips whose transparency was composited
                for clip, target in zip(clips, clip_targets):
                    try:                            # process() resets fn before the clip (process_file)
                        done = process(clip, target, fn, suffix="", compare=compare, overwrite=overwrite,
                                       skip_existing=skip_existing, progress=progress, **options)
                        if done.skipped:            # another run of the folder wrote it since the listing
                            existing, meanwhile = existing + 1, meanwhile + 1
                            continue
                        frames += done.frames
                        written += 1
                        finished.append(target)
                        if tracks:                  # since the reset
                            totals.append(fn.found_totals())
                            quantizers.append({f.quantizer for f in fn.found_totals()})
                    except UnreadableInput as exc:
                        if not options.get("ignore_errors"):
                            raise
                        warn(f"{exc.marked or exc}; skipped")
            if not images and not written and not existing:     # ignore_errors skipped every one
                raise VidcolorError(f"{folder}: none of its {len(stills) + len(clips)} images and videos could be "
                                    "read; nothing written")
        except BaseException as exc:
            if finished:            # the inputs left whose outputs exist are an earlier run's (overwrite)
                add_note(exc, kept_note(len(finished), out_dir, sum(t.is_file() for t in targets if t not in finished)))
            raise
    unreadable = len(stills) + len(clips) - images - written - meanwhile
    counts = [f"{n} {kind}{'' if n == 1 else 's'}" for n, kind in ((images, "image"), (written, "clip")) if n]
    notes = [", ".join(counts)] if written else []          # stills alone: the line counts them already
    if existing:
        notes.append(skipped_note(existing))
    if unreadable:
        notes.append(f"{unreadable} unreadable file{'' if unreadable == 1 else 's'} skipped")
    if any(quantizers):
        notes.append(quantizers_of_files(quantizers))
        notes.append(files_unchanged_note(totals, "frame" if written else "image"))
    what = "; ".join(filter(None, notes))
    return RunSummary(frames, time.perf_counter() - start, str(out_dir), note=what,
                      unit="frame" if written else "image", began=start, skipped=existing)


