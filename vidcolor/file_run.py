"""One file's run, once its output is checked (:func:`~vidcolor.api.process`): a clip or stream decoded, processed
batch by batch and encoded with what the source carries, or still images one at a time, each written whole; a run that
fails removes the output folders it made where it leaves them empty
(:func:`~vidcolor.io.writer.removing_made_folders`)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from vidcolor.errors import DamagedInput, UnreadableInput, VidcolorError, option, warn
from vidcolor.io import (AnimatedImageReader, Passthrough, VideoReader, VideoWriter, is_animated, is_still_image,
                         output_format, read_image, write_image)
from vidcolor.io.ffmpeg_images import deep_image_bits
from vidcolor.io.files import round16
from vidcolor.io.images import OPAQUE_FORMATS, image_format, image_metadata
from vidcolor.io.limits import MAX_SIDE
from vidcolor.io.paths import check_format_named, input_stamp, name_of, own_path, read_once, redirected_stdin
from vidcolor.io.reader import warn_about_source, warn_changed
from vidcolor.io.sequences import (FIRST_OUTPUT_NUMBER, frame_names, frame_path, gap_message, is_sequence,
                                   no_fps_message, sequence_codec)
from vidcolor.io.writer import OutputExists, check_target, default_pix_fmt, encoded_bits, removing_made_folders
from vidcolor.pipeline import (FrameBatchFn, RunSummary, check_batch_pixels, job_batch_size, run, set_chroma_halved,
                               set_output_chroma)
from vidcolor.side_by_side import SideBySide, set_shown_primaries
from vidcolor.source_warnings import (COLOUR_SAID, chroma_loss, chroma_of, chroma_reason, eight_bit_reason,
                                      keeps_depth, looks_for_colour, lost_message, makes_colours, output_colour,
                                      said_if_colour, still_eight_bit_reason, warn_frames_alone, warn_not_carried,
                                      warn_of_file, warn_still_at_8_bits)


def process_file(input: str | Path, output: str | Path, fn: FrameBatchFn, *, batch_size: int | None, codec: str,
                 crf: int, preset: str, tune: str | None, x264_params: str | None, audio: bool, overwrite: bool,
                 raw_size: tuple[int, int] | None, fps: float | Fraction | str | None, container: str | None,
                 compare: bool, pix_fmt: str | None, progress: bool, ignore_errors: bool) -> RunSummary:
    """:func:`~vidcolor.api.process` of one file, a still image or a clip, or a stream, once its output is checked: its
    parameters.

    Raises:
        OutputExists: the output exists (without ``overwrite``), or another run wrote it while this one worked.
        VidcolorError, UnreadableInput: as :func:`~vidcolor.api.process`.
    """
    if callable(getattr(fn, "reset", None)):
        fn.reset()          # a file of its own: a job given before (process() called again) carried its last clip in
    colorizes = looks_for_colour(fn)
    job = fn
    if compare:
        fn = SideBySide(fn)
    if str(input) != "-" and raw_size is None and is_still_image(input):
        if str(output) == "-":
            raise VidcolorError(f"{input} is a still image: it is written to a file (give its name with -o), "
                                "not to stdout")
        return process_images([Path(input)], [Path(output)], fn, overwrite, progress)
    check_format_named(output, container)
    animated = str(input) != "-" and raw_size is None and is_animated(input)
    to_frames = str(output) != "-" and is_sequence(output)      # an image sequence out: its suffix's encoder
    if to_frames:                   # (the video encoder's pix_fmt is refused but dequantize's default, yuv420p)
        codec, pix_fmt = sequence_codec(output), None
    # an animation's transparency is kept where the output holds it (GIF), else composited on black
    keep_alpha = animated and not to_frames and (container or (output_format(Path(output)) if str(output) != "-"
                                                               else None)) == "gif"
    to_gif = container == "gif" or container is None and Path(str(output)).suffix.lower() == ".gif"
    stamp = input_stamp(input)
    stdin_file = redirected_stdin() if str(input) == "-" and raw_size is None and not animated else None
    # a source of more than 8 bits per sample is decoded at 16 for a job that keeps that depth, into output that holds it
    deep = keeps_depth(job, codec, pix_fmt, to_gif)
    sequence = raw_size is None and is_sequence(input)
    try:
        reader = (AnimatedImageReader(input, keep_alpha=keep_alpha) if animated else
                  VideoReader(input, raw_size=raw_size, fps=fps, keep_going=ignore_errors, deep=deep))
    except VidcolorError as exc:            # nothing can be read: a folder run with ignore_errors skips it
        raise UnreadableInput(exc.marked) from None
    with reader, removing_made_folders(None if str(output) == "-" else Path(output).parent):
        info = reader.info
        deep = getattr(reader, "deep", False)
        pix_fmt = pix_fmt or default_pix_fmt(codec, deep, info.bits)
        if sequence and (gap := gap_message(reader.sequence)) is not None:     # the reader stops at a missing number
            if not ignore_errors:
                raise VidcolorError(f"{gap}; nothing written ({option('ignore_errors')} keeps the frames before it)")
            warn(gap)
        # numbered frames have no rate of their own, but where their header carries one (a DPX's)
        if sequence and fps is None and reader.rate_from_frames is None:
            warn(no_fps_message(input))
        # RGB or 4:4:4 into a 4:2:0 encode: said as a deep source at 8 bits is, and in the summary (raw frames' rgb24
        # is the pipe's format, not its source's); not by colorize, whose colour is made anew from L
        chroma = chroma_of(info, codec, pix_fmt, compare, to_gif, raw=raw_size is not None)
        warn_about_source(name_of(input), info, None if deep else eight_bit_reason(job, codec, pix_fmt, to_gif),
                          (codec, *encoded_bits(codec, pix_fmt)) if deep else None,
                          None if makes_colours(job) else chroma_reason(*chroma))
        if read_once(input) and raw_size is None and stdin_file is None:
            warn_not_carried(input, info, audio)
        if getattr(reader, "ended_early", None) and not ignore_errors:     # known before any work is done
            raise VidcolorError(f"{lost_message(input, reader)}; nothing written ({option('ignore_errors')} keeps the "
                                "frames before the cut)")
        if compare:                         # libx264 takes at most 16384 px a side: it failed at 32768
            check_compare_width(input, info.width, info.height)
        # stdin and pipes (read_once) are read once, by the decoder: their other streams cannot be copied
        sample_bytes = 2 if deep else 1         # uint16 frames: a batch's bytes are counted, not its pixels
        batch = batch_size if batch_size is not None else job_batch_size(fn, info.width, info.height, sample_bytes)
        check_batch_pixels(batch, info.width, info.height, sample_bytes)
        from_file = ((not read_once(input) or stdin_file is not None) and raw_size is None and not animated
                     and not sequence)      # a sequence's frames carry no audio or metadata to copy
        # read once (stdin, a pipe): nothing is copied, but the video keeps its start, tags and disposition; stdin
        # redirected from a file (< in.mkv) is read once too, and the encoder takes the rest from that file
        passthrough = (Passthrough.of(stdin_file or own_path(input), info, audio) if from_file else
                       Passthrough.of_stream(info) if raw_size is None and not animated else None)
        if to_frames:                       # pictures alone: what the source carries besides is said once
            passthrough = None
        if (to_gif or to_frames) and from_file:     # (a pipe's streams are named above, whatever the output)
            warn_frames_alone(input, info, audio, "an image sequence" if to_frames else "GIF output")
        colour = output_colour(name_of(input), info.colour, makes_colours(job))
        set_shown_primaries(fn, info.colour.get("color_primaries"), colour.get("color_primaries"))   # compare's
        writer = VideoWriter(output, info.width * (2 if compare else 1), info.height, info.fps, codec=codec, crf=crf, preset=preset,
                             tune=tune, x264_params=x264_params, passthrough=passthrough,
                             timeline=reader.timeline, container=container, overwrite=overwrite, pix_fmt=pix_fmt,
                             colour=colour,
                             pixel_aspect=info.pixel_aspect, loop=info.loop,
                             alpha=getattr(reader, "keeps_alpha", False), deep=deep,
                             start_number=reader.first_number if sequence else FIRST_OUTPUT_NUMBER,
                             numbered_by_time=sequence)     # a frame skipped (damaged) leaves its number out
        with writer:                # from here on, whatever fails (fn's own set_output_chroma too) aborts the writer
            set_output_chroma(fn, writer.keeps_chroma)
            set_chroma_halved(fn, chroma_loss(*chroma))
            try:
                frames = said_if_colour(reader, input, COLOUR_SAID.get()) if colorizes else reader
                summary = run(frames, fn, reader.with_alpha(writer.write) if writer.alpha else writer.write, batch,
                              info.frames, str(output), progress)
            except DamagedInput as exc:                 # without ignore_errors: the reader stops there
                raise VidcolorError(f"{exc.marked}; nothing written ({option('ignore_errors')} skips the frames "
                                    "that cannot be decoded, as ffmpeg does, and keeps the others)") from None
            # (a cut after the last frame, cut_frame with none missing: an input cut short all the same)
            if reader.missing or getattr(reader, "ended_early", None) or getattr(reader, "cut_frame", None):
                what = lost_message(input, reader)
                every = not reader.missing and not getattr(reader, "ended_early", None)
                # packets read that gave no frame (an edit list's hidden frames, damage): the counts add up
                unshown = info.frames - reader.missing - summary.frames if info.frames else 0
                if unshown > 0 and getattr(reader, "count_known", True):
                    what += f", and {unshown} more decoded to nothing (hidden by an edit list, or damaged)"
                if not ignore_errors:
                    # raw: a size that is not the input's is as likely as a cut, and keeping the frames would not help
                    check = (f"; check {option('raw_size', '--raw')} (and that the frames are rgb24): with a wrong "
                             "size every frame is sheared" if getattr(reader, "raw_size", None) is not None else "")
                    raise VidcolorError(f"{what}{check}; nothing written ({option('ignore_errors')} " + (
                        f"writes all {summary.frames})" if every else f"keeps the {summary.frames} that decoded)"))
                warn(f"{what}; " + (f"all {summary.frames} were written" if every else
                                    f"the {summary.frames} that decoded were written"))
            elif getattr(reader, "partial_packet", None):
                warn(f"{'stdin' if str(input) == '-' else input}: {reader.partial_packet}; its {summary.frames} frames "
                     "were written")
            if getattr(reader, "composited", False):        # a folder's: said once for all (folder_warnings)
                warn_of_file(("composited",), name_of(input), f"{input}: its transparent parts were composited on "
                             f"black ({'stdout' if str(output) == '-' else name_of(output)} cannot hold transparency; "
                             "GIF output keeps it)",
                             lambda n, names: f"{n} clips had transparent parts ({names}): composited on black (their "
                             "outputs cannot hold transparency; GIF output keeps it)")
    if stamp is not None and summary.frames and input_stamp(input) != stamp:
        warn_changed(input, summary.frames)
    if summary.frames == 0:
        raise VidcolorError(f"{input}: no frames")
    if to_frames:                           # which files the pattern's frames are, and the numbers left out
        first, last = (frame_path(output, n).name for n in writer.numbers)
        # the numbers skipped (damaged): between the first and last written, and before and after them
        skipped = sorted(set(writer.skipped) | set(getattr(reader, "skipped_files", [])))
        left_out = f"{frame_names(output, skipped)} left out (could not be decoded)" if skipped else ""
        summary.note = "; ".join(filter(None, [f"frames {first} to {last}", left_out, summary.note]))
    return summary


def check_compare_width(input, width: int, height: int) -> None:
    """Refuse ``compare`` (input | output side by side, ``2 * width`` x ``height`` pixels) where that is wider than
    :data:`~vidcolor.io.limits.MAX_SIDE` (16384, the encoders' and the frame-size limit), before the job runs.

    Raises:
        VidcolorError: naming ``input`` and the option, and what to do instead.
    """
    if 2 * width > MAX_SIDE:
        raise VidcolorError(f"{input}: {option('compare')} writes input | output side by side, {2 * width}x{height}, "
                            f"wider than the encoder's {MAX_SIDE} px; drop {option('compare')} or crop the input")


def process_images(inputs: list[Path], outputs: list[Path], fn: FrameBatchFn, overwrite: bool,
                   progress: bool, ignore_errors: bool = False, finished: list[Path] | None = None,
                   skipped: list[Path] | None = None) -> RunSummary:
    """Images one at a time (sizes differ); all targets are checked before any work is done. Each output is
    written whole under a temporary name and renamed into place (:func:`~vidcolor.io.images.write_image`), and
    appended to ``finished`` (when given) once there. A run that fails (an unreadable image half way, Ctrl-C)
    keeps the images it finished (those before an unreadable one are finished first) and removes the output
    folders it made where they are left empty (:func:`~vidcolor.api._process_folder` says what was kept). An
    image's RGB ICC profile (a phone's Display P3) and its EXIF, orientation 1 once the pixels are upright, are
    embedded in its output (:func:`~vidcolor.io.images.image_metadata`). An image of 16 bits per sample is read, processed and
    written at 16 by colorize (:attr:`~vidcolor.pipeline.LabJob.DEEP`) into PNG or TIFF where that output carries
    its metadata at 16 bits (:func:`~vidcolor.source_warnings.still_eight_bit_reason`), else rounded to 8 as
    before, with a warning that says why (:func:`~vidcolor.source_warnings.warn_still_at_8_bits`). A multi-page TIFF's
    first page is processed, with a warning (:func:`~vidcolor.errors.warn`; its page count from the same opening); so is a transparent
    image written to a format without alpha (:data:`~vidcolor.io.images.OPAQUE_FORMATS`: JPEG, BMP), which drops it
    (:func:`~vidcolor.io.images.write_image`). With
    ``ignore_errors`` an unreadable image is skipped with a warning instead (no output for it). With
    ``skipped`` given (a folder run's ``skip_existing``), an image whose output another run wrote since the listing is
    left, and its output appended there: not read where it is there before, its result dropped where it came while
    this run worked on it (the summary counts the images written)."""
    for out in outputs:             # a folder in a file's place is said at once, not after --overwrite
        try:
            check_target(out, overwrite)
        except OutputExists:
            if skipped is None:
                raise
        image_format(out)
    set_output_chroma(fn, True)                     # lossless RGB images
    set_chroma_halved(fn, None)                     # (a clip before, with the same job, may have set it)
    colour_said = COLOUR_SAID.get() if looks_for_colour(fn) else None

    def frames():
        for path, out in zip(inputs, outputs):
            if skipped is not None and out.is_file():
                skipped.append(out)
                continue
            try:
                rgb, alpha = read_image(path, deep=True)
            except VidcolorError as exc:
                if not ignore_errors:           # raised once the images read before it are written
                    unreadable.append(exc)
                    return
                warn(f"{exc.marked or exc}; skipped")
                continue
            if isinstance(fn, SideBySide):  # before the job runs: was the frame-size refusal of its output after
                check_compare_width(path, rgb.shape[1], rgb.shape[0])
            meta = image_metadata(path)
            if meta.pages > 1:              # a folder's: said once for all (folder_warnings)
                warn_of_file(("pages",), name_of(path), f"{path} has {meta.pages} pages: only the first is processed",
                             lambda n, names: f"{n} images have several pages ({names}): only the first page of each "
                             "is processed")
            if meta.dropped:                # (the same: a folder's said once for all)
                warn_of_file(("gray profile",), name_of(path), meta.dropped,
                             lambda n, names: f"{n} images have a gray ICC profile without a tone curve ({names}: "
                             "lookup-table profiles, no kTRC to make an RGB profile of): not carried into their "
                             "outputs, which are untagged, shown as sRGB")
            if rgb.dtype == np.uint16 and (why := still_eight_bit_reason(fn, image_format(out), meta.icc_profile,
                                                                         meta.exif)):
                warn_still_at_8_bits(path, why, deep_image_bits(path))     # rounded as read_image(deep=False) is
                rgb, alpha = round16(rgb), None if alpha is None else round16(alpha)
            if alpha is not None and alpha.min() < np.iinfo(alpha.dtype).max and image_format(out) in OPAQUE_FORMATS:
                warn(f"{path}: its transparency is dropped ({name_of(out)} is {image_format(out)}, which holds none: "
                     "the output shows the colours under its transparent parts; PNG, WebP and TIFF keep it)")
            pending.append((out, alpha, meta.icc_profile, meta.exif))
            if colour_said is not None:             # colorize: said once a run (a folder's first image in colour)
                yield from said_if_colour([rgb], path, colour_said)
            else:
                yield rgb

    pending: list[tuple[Path, np.ndarray | None, bytes | None, bytes | None]] = []
    unreadable: list[VidcolorError] = []
    dropped: list[Path] = []                        # processed, but another run wrote the output first

    def write(rgb: np.ndarray) -> None:
        out, alpha, icc, exif = pending.pop(0)
        if alpha is not None and rgb.shape[1] == 2 * alpha.shape[1]:    # --compare: input | output, each its alpha
            alpha = np.concatenate([alpha, alpha], axis=1)
        try:
            write_image(out, rgb, alpha, overwrite=overwrite, icc_profile=icc, exif=exif)
        except OutputExists as exc:
            if skipped is None or exc.target != out:
                raise
            skipped.append(out)
            dropped.append(out)
            return
        if finished is not None:
            finished.append(out)

    dest = str(outputs[0].parent if len(outputs) > 1 else outputs[0])
    with removing_made_folders(*{o.parent for o in outputs}):
        summary = run(frames(), fn, write, 1, len(inputs), dest, progress, unit="image")
        if unreadable:
            raise unreadable[0]
        summary.frames -= len(dropped)
        return summary
