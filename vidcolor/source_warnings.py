"""What a run says of its source: colour input given to colorize (once a run), streams a pipe or GIF output
cannot carry, a deep source processed at 8 bits, colour of a finer resolution than the encode keeps, and the frames
it lost."""
from __future__ import annotations

import contextlib
import contextvars
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator

import av
import numpy as np

from vidcolor.chroma import in_colour
from vidcolor.errors import cli_reads, option, warn
from vidcolor.io.files import round16
from vidcolor.io.images import deep_refusal
from vidcolor.io.paths import name_of
from vidcolor.io.reader import HDR_TRANSFERS
from vidcolor.io.writer import SEQUENCE_PIX_FMTS, TEN_BIT_CODECS, default_pix_fmt, encoder_args, holds_deep
from vidcolor.pipeline import FrameBatchFn


DEEP_PIX_FMT = "pix_fmt='yuv420p10le'"
"""The option that writes 10-bit output, as :func:`~vidcolor.errors.option` names it (``--pix-fmt yuv420p10le`` in
the CLI), in the warnings of a source processed at 8 bits (:func:`eight_bit_reason`)."""

COLOUR_SAID: contextvars.ContextVar[list | None] = contextvars.ContextVar("vidcolor_colour_said", default=None)
"""The run in progress's record of colour input given to colorize (:func:`one_colour_warning`): a folder's first
input in colour is named, the others are not."""

COLOUR_FRAMES = 8
"""How many of a clip's first frames :func:`said_if_colour` looks at (a fade from black has no colour in its first)."""


@contextlib.contextmanager
def one_colour_warning():
    """A run (:func:`~vidcolor.api.process`; a folder's clips inside it share it) in which colour input given to
    colorize is said once (:func:`said_if_colour`)."""
    if COLOUR_SAID.get() is not None:
        yield
        return
    token = COLOUR_SAID.set([])
    try:
        yield
    finally:
        COLOUR_SAID.reset(token)


def looks_for_colour(fn: FrameBatchFn) -> bool:
    """Whether ``fn`` (or the job :class:`~vidcolor.side_by_side.SideBySide` wraps) is one of colorize's, which keep the
    input's L alone, in a CLI run (:func:`~vidcolor.errors.cli_reads`): its input is then looked at for colour
    (:func:`~vidcolor.chroma.in_colour`). A library call is not: colorizing the L of colour footage is what an
    evaluation against it does."""
    return cli_reads() and makes_colours(fn)


def makes_colours(fn: FrameBatchFn) -> bool:
    """Whether ``fn`` (or the job :class:`~vidcolor.side_by_side.SideBySide` wraps) is one of colorize's, whose output
    colours are made anew, in BT.709 / sRGB (as its networks were trained and as a reference is read), where
    dequantize's keep the input's: :func:`output_colour`."""
    return str(getattr(getattr(fn, "job", fn), "JOB", "")).startswith("colorize")


BT2020_PRIMARIES = 9
"""FFmpeg's AVColorPrimaries of BT.2020 (``bt2020``), in :attr:`~vidcolor.io.VideoInfo.colour`'s ``color_primaries``."""

WIDE_PRIMARIES = {BT2020_PRIMARIES: ("BT.2020", "a wide-gamut master"),
                  11: ("DCI-P3 (SMPTE 431)", "a cinema master"),
                  12: ("Display P3 (SMPTE 432)", "a phone's or a Mac's wide-gamut clip")}
"""FFmpeg's AVColorPrimaries wider than BT.709's, each -> its name and what an SDR source of them is, as
:func:`output_colour`'s warning says them: BT.2020 (a wide-gamut master), DCI-P3 (``smpte431``, a cinema master) and
Display P3 (``smpte432``, P3 with D65, as phones and Apple's displays record and show)."""

AS_BT709 = {"color_primaries": {p: 1 for p in WIDE_PRIMARIES}, "colorspace": {9: 1, 10: 1},
            "color_trc": {14: 1, 15: 1}}
"""The colour tags (:func:`~vidcolor.io.reader.colour_tags`) that :func:`output_colour` changes, each value -> BT.709's
(1): the wide primaries (:data:`WIDE_PRIMARIES`), BT.2020's matrices (``bt2020nc``, ``bt2020c``) and its SDR transfers
(``bt2020-10``, ``bt2020-12``: BT.709's curve, under BT.2020's name); others (range, a BT.709 or sRGB transfer) are
kept."""


def output_colour(name: str, colour: dict[str, int], colours: bool) -> dict[str, int]:
    """The colour description (ffmpeg's output options, :func:`~vidcolor.io.reader.colour_tags`) that the output of
    the video ``name``, described by ``colour``, is written with: ``colour`` itself, but for a job that makes colours
    (``colours``, :func:`makes_colours`) on a source of wide primaries (:data:`WIDE_PRIMARIES`: BT.2020, DCI-P3,
    Display P3) with an SDR transfer (a wide-gamut master, a cinema master, a phone's P3 clip; HDR is
    :func:`~vidcolor.io.reader.warn_about_source`'s): its frames are decoded with their own matrix into RGB whose
    values colorize takes as BT.709's (sRGB), and makes its colours so. Its output is tagged BT.709
    (:data:`AS_BT709`), which says what they are, and a warning (:func:`~vidcolor.errors.warn`) says so: tagged
    BT.2020, as the source, a player showed them more saturated than made (testsrc2 colorized: mean CIELAB chroma 7.9
    made, 11.9 shown); tagged P3, likewise (P3's primaries lie beyond BT.709's, if less far). Gray stays gray under
    BT.2020's, Display P3's and BT.709's primaries (one D65 white, and the transfer is kept), so a black-and-white
    source's lightness is kept; DCI-P3's white is not D65, so its gray is shown D65's gray, as colorize made it.
    Dequantize's output keeps the source's tags: its values are the source's colours, restored as they are (the
    primaries are not converted), and show as the source does."""
    what, kind = WIDE_PRIMARIES.get(colour.get("color_primaries"), (None, None))
    if not colours or what is None or colour.get("color_trc") in HDR_TRANSFERS:
        return colour
    warn(f"{name} is {what} video with an SDR transfer ({kind}); colorize makes its colours in BT.709 "
         f"(sRGB), as its networks were trained, so the output is tagged BT.709, not {what}, and shows them as made "
         f"(convert it to {what} afterwards if it must be delivered so)")
    return {k: AS_BT709.get(k, {}).get(v, v) for k, v in colour.items()}


def said_if_colour(frames: Iterable[np.ndarray], input: str | Path, said: list | None) -> Iterator[np.ndarray]:
    """``frames``, unchanged, with a warning (:func:`~vidcolor.errors.warn`) once their first
    :data:`COLOUR_FRAMES` (or all, where fewer) are in colour (:func:`~vidcolor.chroma.in_colour`):
    colorize keeps their lightness alone, and their own colours were lost without a word. ``said``: the run's
    record (:data:`COLOUR_SAID`, taken in the run's thread: these frames are drawn in the decoding thread), one
    warning a run; None (a call outside :func:`~vidcolor.api.process`) says it for this input."""
    said = [] if said is None else said
    seen: list[np.ndarray] = []

    def judge():
        if not said and in_colour(np.stack(seen)):
            said.append(input)
            warn(f"{name_of(input)} is in colour already: colorize keeps only its lightness (L) and colours that "
                 "anew; its own colours are not kept")

    for frame in frames:
        if not said and len(seen) < COLOUR_FRAMES:
            step = max(1, min(frame.shape[0], frame.shape[1]) // 128)
            part = frame[::step, ::step, :3]
            seen.append(np.ascontiguousarray(part if part.dtype == np.uint8 else round16(part)))   # 16-bit: to 8
            if len(seen) == COLOUR_FRAMES:
                judge()
        yield frame
    if 0 < len(seen) < COLOUR_FRAMES:
        judge()


def warn_not_carried(input: str | Path, info, audio: bool) -> None:
    """One warning (:func:`~vidcolor.errors.warn`) where stdin or another pipe (:func:`~vidcolor.io.paths.read_once`)
    holds streams besides its video: none of them is carried, since the pipe is read once, by the decoder (a file's are,
    through :class:`~vidcolor.io.writer.Passthrough`). Its audio is named only with ``audio`` (``audio=False`` drops it
    as asked); nothing is said where the pipe holds its video alone."""
    parts = [f"audio ({', '.join(info.audio_codecs)})"] * bool(audio and info.audio_codecs)
    parts += [f"subtitles ({', '.join(info.subtitle_codecs)})"] * bool(info.subtitle_codecs)
    parts += [f"{info.attachments} attachment{'s' * (info.attachments > 1)}"] * bool(info.attachments)
    parts += list(info.others)
    if parts:
        warn(f"not carried from {name_of(input)}: {', '.join(parts)} (a pipe is read once, for its video; give the "
             "file's name to keep them)")


def warn_frames_alone(input: str | Path, info, audio: bool, output: str = "GIF output") -> None:
    """One warning (:func:`~vidcolor.errors.warn`) where a file written as ``output`` that holds the frames alone
    (``"GIF output"``, ``"an image sequence"``) holds streams besides its video: its audio, subtitles and other
    streams are left out (they went without a word, and ``audio=False``, the CLI's ``--no-audio``, was refused with
    GIF output, so the user could not say it either). Its audio is named only with ``audio`` (``audio=False`` drops it
    as asked); nothing is said where the file holds its video alone."""
    parts = [f"audio ({', '.join(info.audio_codecs)})"] * bool(audio and info.audio_codecs)
    parts += [f"subtitles ({', '.join(info.subtitle_codecs)})"] * bool(info.subtitle_codecs)
    parts += list(info.others)
    if parts:
        warn(f"not carried from {name_of(input)}: {', '.join(parts)} ({output} holds its frames alone"
             + (f"; {option('audio=False', '--no-audio')} drops the audio without naming it)" if audio and
                info.audio_codecs else ")"))


EIGHT_BIT_JOBS = {"dequantize": "dequantize", "colorize-internal": "colorize's internal reference mode"}
"""The jobs that process frames at 8 bits (not :attr:`~vidcolor.pipeline.LabJob.DEEP`) as :func:`eight_bit_reason` names
them, by ``JOB``; another is "the job"."""


def takes_16_bits(job: FrameBatchFn) -> bool:
    """Whether ``job`` (or the job a :class:`~vidcolor.side_by_side.SideBySide` wraps) takes uint16 frames of a source
    of more than 8 bits per sample (:attr:`~vidcolor.pipeline.LabJob.DEEP`)."""
    return getattr(getattr(job, "job", job), "DEEP", False) is True


def _eight_bit_job(job: FrameBatchFn) -> str:
    """How a job that takes 8-bit frames alone is named in a warning (:data:`EIGHT_BIT_JOBS`)."""
    return EIGHT_BIT_JOBS.get(getattr(getattr(job, "job", job), "JOB", None), "the job")


def eight_bit_reason(job: FrameBatchFn, codec: str, pix_fmt: str, to_gif: bool) -> str:
    """Why a video of more than 8 bits per sample is processed at 8 by ``job`` into ``codec`` at ``pix_fmt`` (or GIF),
    and what that keeps, as :func:`~vidcolor.io.reader.warn_about_source` says it: the job takes 8-bit frames alone
    (:attr:`~vidcolor.pipeline.LabJob.DEEP`), or the output holds 8 bits (a 10-bit ``pix_fmt`` is suggested for
    :data:`~vidcolor.io.writer.TEN_BIT_CODECS`: NVENC's H.264 has no 10-bit mode; libx264's, which is not the
    default, :data:`~vidcolor.io.writer.DEEP_CODECS`, is said not to play on most players, and libx265 offered)."""
    if not takes_16_bits(job):              # (the 10-bit pix_fmt: video output's; GIF and image frames take none)
        return (f"{_eight_bit_job(job)} processes frames at 8 bits, so the output keeps 8 bits of precision"
                + (f" (also with {option(DEEP_PIX_FMT)})" if not to_gif and codec not in SEQUENCE_PIX_FMTS else ""))
    if to_gif:
        return "GIF holds 8 bits, so the frames are processed at 8"
    if codec == "libx264":
        hevc = option("codec='libx265'")
        return (f"libx264 at {pix_fmt} holds 8 bits" + " (plays everywhere)" * (pix_fmt == "yuv420p")
                + f", so the frames are processed at 8 ({option(DEEP_PIX_FMT)} keeps 10, H.264 High 10, which most "
                f"hardware decoders and browsers do not play; or {hevc})")
    return (f"{codec} at {pix_fmt} holds 8 bits, so the frames are processed at 8"
            + (f" ({option(DEEP_PIX_FMT)} keeps more)" if codec in TEN_BIT_CODECS else ""))


def still_eight_bit_reason(job: FrameBatchFn, fmt: str, icc_profile: bytes | None, exif: bytes | None) -> str | None:
    """Why a still image of 16 bits per sample is processed at 8 by ``job`` into the Pillow format ``fmt`` carrying
    ``icc_profile`` and ``exif`` (:func:`~vidcolor.io.images.image_metadata`), as the middle of
    :func:`warn_still_at_8_bits`'s sentence; None where it keeps its 16 bits: ``job`` takes them
    (:attr:`~vidcolor.pipeline.LabJob.DEEP`, or the job :class:`~vidcolor.side_by_side.SideBySide` wraps) and
    :func:`~vidcolor.io.images.write_image` writes them with that metadata (:func:`~vidcolor.io.images.deep_refusal`)."""
    if not takes_16_bits(job):
        return f"{_eight_bit_job(job)} processes images at 8 bits"
    return deep_refusal(fmt, icc_profile, exif)


_folder_records: list[dict[tuple, tuple[str, Callable[[int, str], str], list[str]]]] = []
"""The records of the :func:`folder_warnings` blocks open in the process, the latest last (a warning's key -> its
sentence for one file, for several, and the files' names, in order): for the whole process, as
:func:`~vidcolor.errors.kept_warnings`'s, since the images are read in the run's decoding thread."""
_folder_lock = threading.Lock()

NAMED_FILES = 3
"""How many files a warning said for several (:func:`folder_warnings`) names; the others are counted."""


def warn_of_file(key: tuple, name: str, one: str, many: Callable[[int, str], str]) -> None:
    """A warning (:func:`~vidcolor.errors.warn`) about one file of a folder's, ``one``; inside :func:`folder_warnings`
    kept, ``name`` under ``key``, to be said once for all the files it applies to: ``one`` where it is one file's,
    else ``many(count, names)``, ``names`` the first :data:`NAMED_FILES` names (``a.tif, b.tif, c.tif and 2 more``)."""
    with _folder_lock:
        if _folder_records:
            _folder_records[-1].setdefault(key, (one, many, []))[2].append(name)
            return
    warn(one)


@contextlib.contextmanager
def folder_warnings():
    """A folder's files (:func:`~vidcolor.api._process_folder`), in which each warning given to :func:`warn_of_file`
    is said once at the block's end for all the files it applied to (a folder of 16-bit scans said one identical
    sentence per image): ``3 images have 16 bits per sample (s0.png, s1.png, s2.png); dequantize processes images at
    8 bits, so their outputs keep 8 bits of precision`` (:func:`warn_still_at_8_bits`), ``2 images have several pages
    (a.tif, b.tif): only the first page of each is processed``; one file's is said as it is outside the block. Said
    also where the run fails or is stopped: those files were written."""
    record: dict[tuple, tuple[str, Callable[[int, str], str], list[str]]] = {}
    with _folder_lock:
        _folder_records.append(record)
    try:
        yield
    finally:
        with _folder_lock:
            _folder_records[:] = [r for r in _folder_records if r is not record]
        for one, many, names in record.values():
            if len(names) == 1:
                warn(one)
                continue
            warn(many(len(names), ", ".join(names[:NAMED_FILES]) + (f" and {len(names) - NAMED_FILES} more"
                                                                    if len(names) > NAMED_FILES else "")))


def warn_still_at_8_bits(input: str | Path, reason: str, bits: int = 16) -> None:
    """One warning (:func:`~vidcolor.errors.warn`) that a still image of ``bits`` per sample (more than 8: a 16-bit PNG
    or TIFF, a 10-bit DPX) is processed and written at 8, and why (:func:`still_eight_bit_reason`), as a video's is
    said (:func:`~vidcolor.io.reader.warn_about_source`): ``scan.png has 16 bits per sample; JPEG holds 8 bits (.png
    and .tif hold 16), so the output keeps 8 bits of precision``. Inside :func:`folder_warnings` (a folder's stills),
    kept to be said once for all the images of that depth it applies to."""
    warn_of_file(("bits", bits, reason), name_of(input),
                 f"{name_of(input)} has {bits} bits per sample; {reason}, so the output keeps 8 bits of precision",
                 lambda n, names: f"{n} images have {bits} bits per sample ({names}); {reason}, so their outputs "
                 "keep 8 bits of precision")


def keeps_depth(job: FrameBatchFn, codec: str, pix_fmt: str | None, to_gif: bool) -> bool:
    """Whether a source of more than 8 bits per sample is decoded and processed at 16 bits: ``job`` takes such frames
    (:attr:`~vidcolor.pipeline.LabJob.DEEP`) and ``codec`` at ``pix_fmt`` (None: the default for a deep source,
    :func:`~vidcolor.io.writer.default_pix_fmt`) holds more than 8 bits (GIF does not). A local run
    (:mod:`vidcolor.file_run`) and a Ray run (:func:`vidcolor.api.process`'s hand-off) decide it alike; where it is
    False, :func:`eight_bit_reason` says why."""
    return takes_16_bits(job) and not to_gif and holds_deep(codec, pix_fmt or default_pix_fmt(codec, True))


CHROMA_NAMES = {(1, 1): "4:4:4", (2, 1): "4:2:2", (1, 2): "4:4:0", (2, 2): "4:2:0", (4, 1): "4:1:1", (4, 4): "4:1:0"}
"""Chroma subsampling by ``(horizontal, vertical)`` luma samples a chroma sample (:func:`chroma_steps`)."""

FULL_CHROMA_COST = {"libx264": "H.264 High 4:4:4 Predictive", "h264_nvenc": "H.264 High 4:4:4 Predictive",
                    "libx265": "HEVC Main 4:4:4", "hevc_nvenc": "HEVC Main 4:4:4"}
"""The profile a 4:4:4 ``pix_fmt`` makes of each lossy delivery codec, which browsers and most hardware decoders do
not play (:func:`chroma_reason` says so where it suggests one); FFV1 and ProRes (4444) are archives' either way."""


def chroma_steps(pix_fmt: str | None) -> tuple[int, int] | None:
    """Luma samples a chroma sample of ``pix_fmt`` (FFmpeg's name) spans, ``(horizontal, vertical)``: ``(1, 1)`` for
    RGB (``gbrp``, ``rgb24``, a palette's ``pal8``) and 4:4:4, ``(2, 2)`` for 4:2:0, ``(2, 1)`` for 4:2:2; None where
    it has no chroma (gray, gray with alpha) or is not known."""
    if pix_fmt == "pal8":
        return 1, 1
    try:
        components = av.VideoFormat(pix_fmt, 64, 64).components if pix_fmt else ()
    except (ValueError, TypeError):
        return None
    if len(components) < 3:
        return None
    return max(64 // c.width for c in components[1:3]), max(64 // c.height for c in components[1:3])


def chroma_of(info, codec: str, pix_fmt: str, compare: bool, to_gif: bool,
              raw: bool = False) -> tuple[str | None, str, str, int, int, bool]:
    """The arguments :func:`chroma_reason` and :func:`chroma_loss` take for a video described by ``info``
    (:class:`~vidcolor.io.VideoInfo`: its :attr:`~vidcolor.io.VideoInfo.pix_fmt` and size) written by ``codec`` at
    ``pix_fmt`` (or GIF), ``compare``'s frames twice as wide; a local run (:mod:`vidcolor.file_run`) and a Ray run
    (:func:`vidcolor.distributed.open_work`) take them alike. ``raw``: frames given raw (``--raw``), whose ``rgb24``
    is the pipe's format, not its source's: no source format."""
    return (None if raw else getattr(info, "pix_fmt", None), codec, pix_fmt, info.width * (2 if compare else 1),
            info.height, to_gif)


def _chroma_change(source_fmt: str | None, codec: str, pix_fmt: str, width: int, height: int,
                   to_gif: bool) -> tuple[tuple[int, int], tuple[int, int], str] | None:
    """The source's chroma steps (:func:`chroma_steps`), the encode's and the pixel format ``codec`` is given
    (:func:`~vidcolor.io.writer.encoder_args`'s: a frame with an odd side is written 4:4:4, ProRes 4:2:2 or 4:4:4),
    where the encode keeps fewer chroma samples than the source has (RGB or 4:4:4, 4:2:2 or 4:4:0 into 4:2:0); None
    where it does not (GIF: no subsampling; NTSC DV's 4:1:1 into 4:2:0 keeps as many samples, vertical for
    horizontal)."""
    source = None if to_gif else chroma_steps(source_fmt)
    if source is None:
        return None
    fmt = encoder_args(codec, pix_fmt, 16, "medium", width, height)["pix_fmt"]
    out = chroma_steps(fmt)
    if out is None or out[0] * out[1] <= source[0] * source[1]:
        return None
    return source, out, fmt


def _halves(source: tuple[int, int], out: tuple[int, int]) -> str:
    """How an encode of chroma steps ``out`` cuts a source's of ``source``: ``halves ... colour resolution``,
    horizontal or vertical where it does so in one direction alone."""
    way = "" if out[0] > source[0] and out[1] > source[1] else "horizontal " if out[0] > source[0] else "vertical "
    return f"halves {{}} {way}colour resolution"


def chroma_loss(source_fmt: str | None, codec: str, pix_fmt: str, width: int, height: int, to_gif: bool) -> str | None:
    """What the encode (``codec`` at ``pix_fmt``, ``width`` x ``height`` frames, or GIF) does to the colour of a
    source of pixel format ``source_fmt`` (:attr:`~vidcolor.io.VideoInfo.pix_fmt`), for the run's summary, where frames
    passed unchanged (:func:`~vidcolor.summaries.unchanged_note`): ``the 4:2:0 encode halves their colour
    resolution`` for RGB or 4:4:4 video into 4:2:0; None where it keeps the source's chroma resolution."""
    change = _chroma_change(source_fmt, codec, pix_fmt, width, height, to_gif)
    if change is None:
        return None
    source, out, _ = change
    return f"the {CHROMA_NAMES.get(out, '')} encode " + _halves(source, out).format("their")


def chroma_reason(source_fmt: str | None, codec: str, pix_fmt: str, width: int, height: int,
                  to_gif: bool) -> str | None:
    """The warning (:func:`~vidcolor.io.reader.warn_about_source`'s ``chroma``, after the video's name) for a source of
    pixel format ``source_fmt`` whose colour has a finer resolution than the encode (:func:`chroma_loss`'s
    arguments) keeps: ``has full-resolution colour (RGB, gbrp); libx264 at yuv420p (plays everywhere) halves its colour
    resolution (4:2:0), so thin coloured detail (text, pixel art, edges) blurs and changes colour; --pix-fmt yuv444p
    keeps it (H.264 High 4:4:4 Predictive, which browsers and most hardware decoders do not play)``. As a deep
    source's depth (:func:`eight_bit_reason`), the default output stays the one that plays everywhere, and the
    warning names what keeps it (stop 69: an Atari River Raid capture, RGB, came out 30.29 dB against its source at
    the default yuv420p, 45.68 at ``yuv444p``, its red fuel blocks purple, without a word). None where nothing is
    lost."""
    change = _chroma_change(source_fmt, codec, pix_fmt, width, height, to_gif)
    if change is None:
        return None
    source, out, fmt = change
    rgb = source_fmt == "pal8" or av.VideoFormat(source_fmt).is_rgb
    what = ("full-resolution colour (RGB, " if rgb else f"{CHROMA_NAMES.get(source, '')} colour (" +
            "full resolution, " * (source == (1, 1))) + f"{source_fmt})"
    full = "yuv444p10le" if pix_fmt.endswith("10le") else "yuv444p"
    cost = FULL_CHROMA_COST.get(codec)
    return (f"has {what}; {codec} at {fmt}" + " (plays everywhere)" * (fmt == "yuv420p" and codec == "libx264")
            + f" {_halves(source, out).format('its')} ({CHROMA_NAMES.get(out, '')}), so thin coloured detail (text, "
            f"pixel art, edges) blurs and changes colour; {option(f'pix_fmt={full!r}')} keeps it"
            + (f" ({cost}, which browsers and most hardware decoders do not play)" if cost else ""))


def lost_message(input, reader) -> str:
    """What a run lost, for its error or warning: a reader's :attr:`~vidcolor.io.VideoReader.missing` frames, or
    the cut that ended its file early (:attr:`~vidcolor.io.VideoReader.ended_early`)."""
    name = "stdin" if str(input) == "-" else str(input)
    if getattr(reader, "ended_early", None):        # a Matroska file cut short: no count to compare
        return f"{name}: {reader.ended_early}"
    if getattr(reader, "cut_frame", None):          # a y4m input that ends inside a frame
        return f"{name}: {reader.cut_frame}"
    if not getattr(reader, "count_known", True):
        return f"{name}: damaged after frame {reader.decoded} (its frame count cannot be read either)"
    if getattr(reader, "raw_size", None) is not None:           # (cut_frame says more)
        return f"{name}: the raw input ended inside a frame (truncated)"
    if reader.info.frames:
        return f"{name}: {reader.missing} of {reader.info.frames} frames could not be read (truncated or damaged)"
    n = reader.missing                  # no declared count: only the decoder's refusals are known
    return f"{name}: {n} frame{'s' if n != 1 else ''} could not be decoded (damaged)"
