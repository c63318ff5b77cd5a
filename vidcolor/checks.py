"""What a run checks before any work, and :func:`~vidcolor.api.dequantize` and :func:`~vidcolor.api.colorize`
before a model loads: the input, the encoder's and the run's options, the output, and whether there is anything to
do (``skip_existing``)."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from vidcolor.device import check_nvenc
from vidcolor.errors import VidcolorError, option, worded
from vidcolor.io.folders import folder_targets
from vidcolor.io.paths import check_format_named, check_input_found, output_for, same_file
from vidcolor.io.reader import check_raw_size, raw_rate
from vidcolor.io.sequences import (FIRST_OUTPUT_NUMBER, check_sequence_target, find_sequence, frame_names,
                                   frame_numbers, frame_path, is_sequence)
from vidcolor.io.writer import check_encoding, check_target, default_pix_fmt
from vidcolor.jobs import CRF_RANGE
from vidcolor.pipeline import RunSummary, check_batch_size, check_flag, is_integer, is_number
from vidcolor.stills import read_as_stills
from vidcolor.weights import resolve


RAY, LOCAL = option("executor='ray'"), option("executor='local'")
"""Options with their values as errors name them (:func:`~vidcolor.errors.option`)."""


def check_executor_options(executor: str, segment_seconds: float | None, workers: int | None) -> None:
    """Refuse the Ray executor's options with the local one, as the CLI does: ``segment_seconds=3`` or ``workers=4``
    without ``executor='ray'`` were ignored without a word; and ``workers`` that is not an integer >= 1 (the CLI's
    ``--workers`` range: 0 was taken as the default, one per CPU or GPU, and 2.5 failed in Ray), or a
    ``segment_seconds`` that is no number (its range: :func:`~vidcolor.io.segments.check_segment_seconds`).

    Raises:
        VidcolorError: naming them.
    """
    if executor == "local" and (segment_seconds is not None or workers is not None):
        raise VidcolorError(f"{option('segment_seconds')} and {option('workers')} apply to {RAY}")
    if workers is not None and not (is_integer(workers) and workers >= 1):
        raise VidcolorError(f"{option('workers')} must be an integer of at least 1, got {workers!r}")
    if segment_seconds is not None and not is_number(segment_seconds):
        raise VidcolorError(f"{option('segment_seconds')} must be a finite number > 0, got {segment_seconds!r}")


IO_FLAGS = ("audio", "overwrite", "skip_existing", "compare", "progress", "ignore_errors")
""":func:`~vidcolor.api.process`'s on/off options, refused when not True or False
(:func:`~vidcolor.pipeline.check_flag`; ``overwrite="no"`` is true, and replaced the output)."""


def check_run_first(input: str | Path, output: str | Path | None, suffix: str, batch_size: int | None,
                    io_options: dict, encodes_here: bool = True) -> tuple[str | Path, RunSummary | None]:
    """What a run checks before any work, and :func:`~vidcolor.api.dequantize` and :func:`~vidcolor.api.colorize` before
    a model loads (seconds; the Ray executor has no :func:`~vidcolor.api.process` to check it): the input
    (:func:`~vidcolor.io.paths.check_input`), the batch size, the on/off options (:data:`IO_FLAGS`), ``crf``, the
    encoder's (:func:`~vidcolor.io.writer.check_encoding`; an NVENC codec where this machine, ``encodes_here``, has no
    NVIDIA driver: :func:`~vidcolor.device.check_nvenc`; the Ray executor's workers encode on theirs), ``raw_size`` and ``fps`` (``io_options``'s), the output
    (:func:`check_output_first`). Returns the output (:func:`output_for`) and the summary of a run with nothing to
    do (:func:`nothing_to_do`), else None.

    ``input`` and ``output`` are those its callers took through :func:`~vidcolor.io.paths.check_path` (at their entry,
    before any other check).

    Raises:
        VidcolorError: as those checks.
    """
    check_input_found(input)
    if batch_size is not None:
        check_batch_size(batch_size)
    for flag in IO_FLAGS:
        check_flag(io_options.get(flag, False), flag)
    check_crf(io_options["crf"])
    codec = io_options.get("codec", "libx264")
    check_encoding(codec, io_options.get("pix_fmt") or default_pix_fmt(codec, False),
                   io_options.get("preset", "medium"), io_options.get("tune"), io_options.get("x264_params"))
    if encodes_here:
        check_nvenc(codec)
    if io_options.get("raw_size") is not None:
        check_raw_size(io_options["raw_size"])
    check_fps_given(io_options.get("fps"), io_options.get("raw_size"), input)
    check_output_first(input, output, suffix, io_options)
    target = output_for(input, output, suffix, io_options.get("container"))
    return target, nothing_to_do(input, target, io_options)


def check_output_first(input: str | Path, output: str | Path | None, suffix: str, io_options: dict) -> None:
    """The checks of a clip's output that need no model, made before one loads (seconds): no output for stdin, the
    input as output, a suffix that names another format than ``--format`` (:func:`check_format_named`), an existing
    output without ``overwrite`` or ``skip_existing`` (:func:`~vidcolor.io.writer.check_target`).
    :func:`~vidcolor.api.process` makes them again; a folder's and an image's outputs are checked there, before any
    work.

    Raises:
        VidcolorError: as those functions.
    """
    if output is not None and str(output) != "-" and is_sequence(output):
        check_sequence_output(input, output, io_options)
        return
    if read_as_stills(input, io_options.get("raw_size")):
        return
    container = io_options.get("container")
    target = output_for(input, output, suffix, container)
    check_format_named(target, container)
    if str(target) != "-" and not (io_options.get("skip_existing") and Path(target).is_file()):
        check_target(Path(target), io_options.get("overwrite", False))


def check_sequence_output(input: str | Path, output: str | Path, io_options: dict) -> None:
    """The checks of an image sequence ``output`` (``out_%06d.tif``, :func:`~vidcolor.io.sequences.is_sequence`), made
    before a model loads: its input is a clip (not a still image or a folder: their outputs are one image each); the
    video encoder's options are not given (the frames' encoder is the suffix's, :class:`~vidcolor.io.VideoWriter`):
    ``container``, a ``codec`` other than libx264 (the default), ``tune``, a ``pix_fmt`` other than yuv420p
    (dequantize's CLI default; ``crf``, ``preset`` and ``x264_params``, which have defaults too, are not used: the
    CLI warns where given); its frames do not overwrite the input sequence's; none of them exists, unless ``overwrite``
    (:func:`~vidcolor.io.sequences.check_sequence_target`; with ``skip_existing``, one that exists is the run's
    output: :func:`nothing_to_do` says so).

    Raises:
        VidcolorError: one line saying which.
    """
    if str(input) != "-" and io_options.get("raw_size") is None and (read_as_stills(input, None) or
                                                                     Path(input).is_dir()):
        raise VidcolorError(f"{output}: an image sequence is written from a clip; {input} is "
                            f"{'a folder' if Path(input).is_dir() else 'a still image'} (give its output a file or "
                            "folder name)")
    given = [option("container", "--format")] * (io_options.get("container") is not None)
    given += [option("codec")] * (io_options.get("codec", "libx264") != "libx264")
    given += [option("tune")] * (io_options.get("tune") is not None)
    given += [option("pix_fmt")] * (io_options.get("pix_fmt") not in (None, "yuv420p"))
    if given:
        raise VidcolorError(f"{output}: {', '.join(given)} {'is' if len(given) == 1 else 'are'} video output's; an "
                            f"image sequence's frames are written by its suffix's encoder ({Path(output).suffix}) in "
                            "RGB, at the source's depth where colorize keeps it (16-bit PNG and TIFF, 10- or 16-bit "
                            "DPX), else at 8 bits")
    if is_sequence(input):              # the output's frames are numbered as the input's
        found = find_sequence(input)
        numbers = range(found.first, found.first + found.count)
        read = {os.path.abspath(frame_path(input, n)) for n in numbers}
        if any(os.path.abspath(frame_path(output, n)) in read for n in numbers):
            raise VidcolorError(f"{output} would overwrite the input's frames ({input})")
    if not (io_options.get("skip_existing") and Path(output).parent.is_dir() and frame_numbers(output)):
        check_sequence_target(output, io_options.get("overwrite", False))


def nothing_to_do(input: str | Path, target: str | Path, io_options: dict) -> RunSummary | None:
    """With ``io_options["skip_existing"]``: the summary of a run all of whose outputs exist (``target``, the
    output of a file, :func:`output_for`; each of a folder's inputs' in ``target``, :func:`folder_targets`), which
    reads and processes nothing; :func:`~vidcolor.api.dequantize` and :func:`~vidcolor.api.colorize` ask before a model
    loads. None where there is work to do (stdin, stdout and raw input always), and without ``skip_existing``.

    Raises:
        VidcolorError: ``skip_existing`` with ``overwrite`` (one keeps the outputs that exist, the other replaces
            them); as :func:`folder_targets`.
    """
    if not io_options.get("skip_existing"):
        return None
    if io_options.get("overwrite"):
        raise VidcolorError(f"{option('skip_existing')} and {option('overwrite')} do not go together: one keeps the "
                            "outputs that exist, the other replaces them")
    if str(input) == "-" or str(target) == "-" or io_options.get("raw_size") is not None:
        return None
    if is_sequence(target):
        return _sequence_done(input, target, io_options.get("ignore_errors", False))
    if not Path(input).is_dir():
        if not Path(target).is_file():
            return None
        return RunSummary(0, 0.0, str(target), note=worded(f"{target} exists ({option('skip_existing')})"), skipped=1)
    _, _, still_targets, clip_targets = folder_targets(Path(input), Path(target), io_options.get("container"))
    n = len(still_targets + clip_targets)
    if not all(t.is_file() for t in still_targets + clip_targets):
        return None
    what = "the output of its one input exists" if n == 1 else f"the outputs of all {n} inputs exist"
    return RunSummary(0, 0.0, str(target), note=worded(f"{what} in {Path(target)}{os.sep} ({option('skip_existing')})"),
                      skipped=n)


def _sequence_done(input: str | Path, target: str | Path, ignore_errors: bool = False) -> RunSummary | None:
    """:func:`nothing_to_do` of an image sequence ``target``: None where no frame of it exists; the summary of a run
    with nothing to do where its frames are the whole output: those an input sequence gives (its numbers from its first
    up to its first gap, :func:`~vidcolor.io.sequences.find_sequence`) or, for a video, whose frame count is not known
    before it is read, numbers from :data:`~vidcolor.io.sequences.FIRST_OUTPUT_NUMBER` with none missing (what the
    summary says: the count is not checked). A run that fails or is stopped removes its frames; one killed, or
    frames deleted since, leave a sequence that is not whole. With ``ignore_errors`` an input sequence's output may
    lack numbers, so long as it holds one of them: a run with ``ignore_errors`` leaves a damaged frame's number out
    (:class:`~vidcolor.io.VideoWriter`'s ``numbered_by_time``), which cannot be told from a killed run's; the
    summary names those absent.

    Raises:
        VidcolorError: frames of it exist, but a number of those is missing (one line naming the first); with
            ``ignore_errors``, where none of an input sequence's numbers is there, or a video's output lacks one.
    """
    held = frame_numbers(target) if Path(target).parent.is_dir() else set()
    if not held:
        return None
    if is_sequence(input):
        found = find_sequence(input)
        numbers = range(found.first, found.first + found.count)
    else:
        numbers = range(FIRST_OUTPUT_NUMBER, max(held) + 1)
    lacking = [n for n in numbers if n not in held]
    n, k = len(held), len(numbers)
    # (a video's frames are numbered one by one, damaged or not: a number missing there is no skipped frame)
    if lacking and not (ignore_errors and is_sequence(input) and len(lacking) < k):
        raise VidcolorError(f"{target}: {n} frame{'s' * (n != 1)} of it exist{'s' * (n == 1)}, but "
                            f"{frame_names(target, lacking, 1)} {'are' if len(lacking) > 1 else 'is'} missing: not a "
                            f"finished run's output ({option('overwrite')} writes it again)")
    span = frame_path(target, numbers[0]).name
    if k > 1:
        span += f" to {frame_path(target, numbers[-1]).name}"
    if lacking:                 # (k > 1)
        said = (f"{target}: {k - len(lacking)} of its {k} frames exist ({span}; {frame_names(target, lacking)} "
                f"absent: skipped by {option('ignore_errors')}, or left by a killed run)")
    elif is_sequence(input):
        said = f"{target}: {'all ' * (k > 1)}{k} frame{'s' * (k > 1)} of it exist{'s' * (k == 1)} ({span})"
    else:
        said = (f"{target}: {k} frame{'s' * (k > 1)} of it exist{'s' * (k == 1)}, {span}" +
                " with none missing" * (k > 1) + " (the clip's frame count is not checked)")
    return RunSummary(0, 0.0, str(target), note=worded(f"{said} ({option('skip_existing')})"), skipped=1)


def check_spares_inputs(input: str | Path, target: str | Path, io_options: dict,
                        inputs: list[tuple[str, str | Path]]) -> None:
    """Refuse an output ``target`` (:func:`output_for`'s) that is one of the run's other inputs, ``(option, path)``
    pairs (colour references, a saved model, the model's weight file: :func:`model_input`; the option as :func:`~vidcolor.errors.option` names it), as the input itself is refused (:func:`same_file`); a folder's
    outputs are each checked.

    Raises:
        VidcolorError: the output and the input it would overwrite; as :func:`folder_targets`.
    """
    if not inputs:
        return
    container = io_options.get("container")
    if str(target) == "-":
        return
    targets = [Path(target)]
    if str(input) != "-" and io_options.get("raw_size") is None and Path(input).is_dir():
        _, _, still_targets, clip_targets = folder_targets(Path(input), Path(target), container)
        targets = still_targets + clip_targets
    for name, given in inputs:
        hit = next((t for t in targets if same_file(t, given)), None)
        if hit is not None:
            raise VidcolorError(f"{hit} would overwrite an input ({name} {given})")


def model_input(model: str | Path | None) -> list[tuple[str, Path]]:
    """The weight file (or exported graph) that ``model`` names, as :func:`check_spares_inputs` takes a run's
    inputs: ``[(option, path)]`` (a bundled name's file in :data:`~vidcolor.weights.WEIGHTS_DIR`, or the path given);
    empty where it names no file (None: the job's default is picked later; a model that is not found is said when
    it loads)."""
    try:
        return [] if model is None else [(option("model"), resolve(str(model)))]
    except VidcolorError:
        return []


def check_fps_given(fps: float | Fraction | str | None, raw_size: tuple[int, int] | None,
                    input: str | Path | None = None) -> None:
    """Refuse a frame rate given for input other than raw frames (``--raw``) or an image sequence (``input`` a
    pattern, :func:`~vidcolor.io.sequences.is_sequence`): a video file carries its own, and the library ignored one
    given, silently. A sequence's is checked as raw input's (:func:`~vidcolor.io.reader.raw_rate`).

    Raises:
        VidcolorError: saying so.
    """
    if fps is None or raw_size is not None:
        return
    if input is not None and is_sequence(input):
        raw_rate(fps)
        return
    raise VidcolorError(f"{option('fps')} applies to {option('raw_size', '--raw')} input and image sequences only "
                        "(video files carry their frame rate)")


def check_crf(crf: int) -> None:
    """Refuse a ``crf`` the encoders do not take, as the CLI's ``--crf`` does: an integer in
    :data:`~vidcolor.jobs.CRF_RANGE` (x264 clamped 99 to 51 silently, took 18.5, and failed on -5 inside ffmpeg).

    Raises:
        VidcolorError: naming the value and the range.
    """
    if not is_integer(crf) or not CRF_RANGE[0] <= crf <= CRF_RANGE[1]:
        raise VidcolorError(f"crf must be an integer from {CRF_RANGE[0]} to {CRF_RANGE[1]}, got {crf!r}")
