"""What a Ray run (:mod:`vidcolor.distributed`) works on: the videos it takes with their outputs, and the files that
key its resumable work. The hand-off itself stays in :mod:`vidcolor.api` (``_distributed`` and ``build_job``, whose
qualified name is part of :meth:`~vidcolor.distributed.JobSpec.key`)."""
from __future__ import annotations

from pathlib import Path

from vidcolor.checks import LOCAL, RAY, model_input
from vidcolor.colorize_job import reference_list
from vidcolor.errors import VidcolorError, option
from vidcolor.io import is_image, output_format
from vidcolor.io.folders import folder_contents
from vidcolor.io.naming import natural_sorted
from vidcolor.io.paths import check_format_named, output_for, read_once
from vidcolor.io.writer import check_codec_in, format_suffix
from vidcolor.jobs import DEFAULTS


def ray_clips(input, output, suffix: str, io_options: dict) -> list[tuple[Path, Path]]:
    """``(video, output)`` pairs of a Ray run: one video file, or every video in a folder (outputs in a folder).

    Raises:
        VidcolorError: stdin or stdout, raw input, GIF output, still or animated images, an output name that
            gives no video format (:func:`~vidcolor.io.writer.output_format`) or another than ``container``
            (:func:`check_format_named`), or a format that cannot hold the codec
            (:func:`~vidcolor.io.writer.check_codec_in`).
    """
    if read_once(input) or io_options.get("raw_size") is not None or str(output) == "-":
        raise VidcolorError(f"{RAY} reads and writes files (not stdin, stdout, a pipe or "
                            f"{option('raw_size', '--raw')}): use {LOCAL} in a pipe")
    if io_options.get("container") == "gif" or (output is not None and Path(output).suffix.lower() == ".gif"):
        raise VidcolorError(f"{RAY} cannot write GIF (one palette over the whole clip): use {LOCAL}")
    if io_options.get("ignore_errors"):
        raise VidcolorError(f"{option('ignore_errors')} applies to {LOCAL}")
    container = io_options.get("container")
    src, target = Path(input), Path(output_for(input, output, suffix, container))
    if src.is_dir():
        stills, videos = folder_contents(src)
        images = natural_sorted(stills + [p for p in videos if is_image(p)])      # animated ones are clips there
        if images:
            raise VidcolorError(f"{src}: the folder holds images ({images[0].name}...); {RAY} takes videos "
                                f"(images: {LOCAL})")
        if not videos:
            raise VidcolorError(f"{src}: no videos in folder")
        check_codec_in(io_options.get("codec", "libx264"), container or "mp4")
        return [(v, target / f"{v.stem}{format_suffix(container or 'mp4')}") for v in videos]
    if is_image(src):
        raise VidcolorError(f"{src}: {RAY} takes video files (images: {LOCAL})")
    # a name that gives no video format, or a format that cannot hold the codec, fails now, not at the join
    check_format_named(target, container)
    check_codec_in(io_options.get("codec", "libx264"), container or output_format(target))
    return [(src, target)]


def job_files(kind: str, options: dict) -> tuple[str, ...]:
    """The files a job of ``kind`` (``dequantize`` or ``colorize``) with :func:`~vidcolor.api.build_job`'s ``options``
    reads by name: the weight files it loads (the bundled default's where no model is given: a keyframes job's two), its
    reference images and ``load_model``; a Ray run's resume key (:attr:`vidcolor.distributed.JobSpec.files`) holds
    their contents (:meth:`~vidcolor.distributed.JobSpec.key`), so that one replaced at the same path is not joined to
    the old one's segments. (Only a given model was
    keyed: the default one, and reference images given by path, were not.)"""
    model = options.get("model")
    references = reference_list(options.get("references"))
    mode = options.get("reference_mode", "fast")
    if kind == "dequantize":
        models = [DEFAULTS["dequantize"] if model is None else model]
    elif mode == "internal":
        models = []                                 # it trains its own (or loads load_model, below)
    elif mode == "keyframes":
        models = [DEFAULTS["colorize-reference"] if model is None else model, DEFAULTS["colorize"]]
    else:
        models = [DEFAULTS["colorize-reference" if references else "colorize"] if model is None else model]
    files = [path for m in models for _, path in model_input(m)]
    files += [Path(r) for r in references]
    if options.get("load_model") is not None:
        files.append(Path(options["load_model"]))
    return tuple(str(f) for f in files)
