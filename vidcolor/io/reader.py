"""Decoding with PyAV: files, stdin streams and raw rgb24 frames; probing (there is no ffprobe)."""
from __future__ import annotations

import math
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Iterator

import av
import numpy as np

from vidcolor.errors import DamagedInput, VidcolorError, option, warn
from vidcolor.io.convert import local_url
from vidcolor.io.convert import format_bits, frame_to_rgb
from vidcolor.io.files import is_empty_file
from vidcolor.io import limits
from vidcolor.io.limits import check_frame_size
from vidcolor.io.naming import natural_sorted
from vidcolor.io.pipes import Rewindable, can_wait, read_some
from vidcolor.io.sequences import (FILM_FPS, Sequence, find_sequence, frame_names, frame_path, image2_path,
                                   is_sequence, sequence_options)
from vidcolor.io.timing import RateGrid, Timeline
from vidcolor.io.truncation import (cut_short, ended_prematurely, ffmpeg_errors, ffmpeg_log, gif_cut, missing_index,
                                     partial_file, partial_packet, premature_end, raw_cut, watched, y4m_cut)


@dataclass
class VideoInfo:
    """What a video source is: sizes after display rotation, timing, audio.

    ``fps`` is the average frame rate (frames per second, exact fraction; a raw elementary stream's, ``.h264``,
    which has no timestamps, the rate its bitstream gives, as ffmpeg takes it); ``time_base`` the video
    stream's time base (seconds per tick); ``frames`` the container's frame count (0 when unknown,
    e.g. for pipes); ``duration`` in seconds (0.0 when unknown); ``rotation`` in degrees
    counter-clockwise that the display matrix turns the picture, after a left-right flip where ``mirrored`` (as
    ffmpeg's autorotate applies them: ``-display_hflip`` gives ``(0, True)``, ``-display_vflip`` ``(180, True)``); ``audio_codec`` None when there is no audio;
    ``video_start`` the video stream's start time and ``start`` the container's (the earliest of all its
    streams'), in seconds: outputs keep the video's offset from the other streams; ``audio_codecs`` and
    ``subtitle_codecs`` name every audio and subtitle stream's codec, in stream order (``audio_codec`` is the first audio stream's); ``colour`` the video's colour description as
    ffmpeg's output options (``colorspace``, ``color_range``, ``color_primaries``, ``color_trc``: FFmpeg's
    AVColorSpace/Range/Primaries/TransferCharacteristic numbers; :func:`colour_tags`), empty when untagged;
    ``pixel_aspect`` the width:height of one pixel as shown (the sample aspect ratio after rotation; 1: square,
    also when the container gives none); ``loop`` an animated image's repeat count as GIF output takes it (0:
    forever, N: N more times, -1: played once), None for a video; ``attachments`` the number of attached files
    (Matroska's fonts for ASS subtitles, cover images); ``timecode`` the SMPTE timecode of the first frame as the
    container gives it (``01:00:00:00``; ``;`` before the frames: drop-frame), None when it gives none; ``others``
    the streams that no output carries, described (``video stream 2 (h264, "second angle")``, ``cover art``,
    ``data stream 3 (GoPro MET)``): other video streams and data streams (a timecode track's timecode is
    ``timecode``); ``bits`` the video's bits per sample (8; 10 for ``yuv420p10le``), which vidcolor processes at
    8, but at 16 where its reader is made ``deep`` (:class:`VideoReader`: colorize's jobs, into output of more than
    8 bits); ``interlaced`` its field order where the stream declares one (``tt``, ``bb``, ``tb``, ``bt``: FFmpeg's
    names, top field first for ``tt`` and ``tb``; ``frames`` where it declares none but its first frame is marked
    interlaced, :data:`INTERLACED_FRAMES`: DV), None for progressive; ``video_tags`` the video
    stream's own tags that outputs carry (:data:`VIDEO_TAGS`: its language, title and handler name), those it has;
    ``alpha`` what alpha channel the video has, which its frames (RGB) drop (:func:`_alpha`): its pixel format
    (``rgba``, ``yuva420p``), ``VP9 alpha`` (a WebM's side channel, which FFmpeg's VP9 decoder does not read), None;
    ``disposition`` the video stream's disposition flags by FFmpeg's names (``("default",)``; :func:`_disposition`),
    ``audio_defaults`` and ``subtitle_defaults`` whether each audio and subtitle stream is marked default.
    """

    width: int
    height: int
    fps: Fraction
    time_base: Fraction | None = None
    frames: int = 0
    duration: float = 0.0
    rotation: int = 0
    mirrored: bool = False
    audio_codec: str | None = None
    video_start: float = 0.0
    start: float = 0.0
    audio_codecs: tuple[str, ...] = ()
    subtitle_codecs: tuple[str, ...] = ()
    colour: dict[str, int] = field(default_factory=dict)
    pixel_aspect: Fraction = Fraction(1)
    loop: int | None = None
    attachments: int = 0
    timecode: str | None = None
    others: tuple[str, ...] = ()
    bits: int = 8
    interlaced: str | None = None
    video_tags: dict[str, str] = field(default_factory=dict)
    alpha: str | None = None
    disposition: tuple[str, ...] = ()
    audio_defaults: tuple[bool, ...] = ()
    subtitle_defaults: tuple[bool, ...] = ()
    pix_fmt: str | None = None
    """The decoder's pixel format (``yuv420p``, ``gbrp``...; None where not known): whether its chroma is subsampled
    (:func:`~vidcolor.source_warnings.chroma_reason`)."""
    index: int | None = None
    """The index of the video stream read (:func:`video_stream`: not always the first) among its container's
    streams, as ffmpeg's ``-map 0:<index>`` names it; None for input that FFmpeg's demuxers do not read (raw
    frames, Pillow's animated images)."""

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".nut",
                  ".wmv", ".flv", ".ogv", ".mxf", ".y4m")
"""Suffixes of the files a folder's videos are recognised by."""


RAW_FPS_RANGE = (Fraction(1, 1001), 1_000_000)
"""Frame rates ``--raw`` input takes: from one frame in 1001 s (below it the rate, kept to 1/1001, would be 0) to
a million frames a second (above it the rate no longer fits the 32-bit rationals of the muxers)."""


NTSC_RATES = tuple(Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120))
"""The NTSC frame rates (24000/1001: 23.976, 30000/1001: 29.97, 48000/1001, 60000/1001, 120000/1001), to which
:func:`frames_rate` snaps a header's float rate within :data:`NTSC_SNAP` of one. FFmpeg's own table of standard
rates (libavformat's ``get_std_framerate``, for its ``r_frame_rate`` guess) is internal, ``av_d2q``, which the dpx
decoder rounds the header's float with, knows none, and PyAV exposes neither."""

NTSC_SNAP = Fraction(1, 10_000)
"""How near (relatively: 0.01%) a header's frame rate must lie to one of :data:`NTSC_RATES` to be taken as it:
23.976, a float32 in a DPX header, lies 0.0001% from 24000/1001; the nearest other rates a header might mean lie
further: 23.97 0.025%, 24 0.1%."""


RATIONAL_MAX = 2 ** 31 - 1
"""The largest numerator and denominator of FFmpeg's rationals (AVRational: two ints), which a frame rate and the
time base made from it go to the muxers in."""


def check_raw_size(raw_size) -> tuple[int, int]:
    """``raw_size`` as ``(width, height)``, Python ints, if it is two integers of a size
    :func:`~vidcolor.io.limits.check_frame_size` allows: a tuple or a list of two ints (Python's or NumPy's integer
    scalars, not bools), or a 1-d NumPy integer array of two values (``np.array([64, 48])``). Anything else is refused:
    ``"64x48"`` and ``(64, 48, 3)`` had raised "too many values to unpack", ``(64.0, 48.0)`` a TypeError from the
    file's read, naming no option.

    Raises:
        VidcolorError: naming ``raw_size`` (``--raw``) and the value.
    """
    given = raw_size
    if isinstance(raw_size, np.ndarray) and raw_size.ndim == 1 and raw_size.dtype.kind in "iu":
        raw_size = raw_size.tolist()
    if not (isinstance(raw_size, (tuple, list)) and len(raw_size) == 2 and
            all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in raw_size)):
        raise VidcolorError(f"{option('raw_size', '--raw')} must be (width, height), two integers, got {given!r}")
    w, h = (int(v) for v in raw_size)
    check_frame_size(w, h, option("raw_size", "--raw"))
    return w, h


def raw_rate(fps: float | Fraction | str | None) -> Fraction:
    """The exact frame rate of raw input given ``fps`` frames per second.

    A :class:`~fractions.Fraction` is kept as it is (``Fraction(30000, 1001)``: NTSC's 29.97), and so is a string
    as ``--fps`` takes it, as ffmpeg's ``-r`` does: an integer, a decimal (``"29.97"`` -> 2997/100, exactly, as
    ffmpeg keeps it: NTSC is ``"30000/1001"``), or ``"N/D"`` (``"N:D"`` too); one whose terms do not fit FFmpeg's
    rationals (:data:`RATIONAL_MAX`) is approximated as a float is. A float becomes the nearest fraction of a
    denominator up to 1001 (``30000 / 1001`` -> 30000/1001, 29.97 -> 2997/100).

    Raises:
        VidcolorError: no rate, text that is no number or fraction, one that is not a finite number, or one outside
            :data:`RAW_FPS_RANGE` (the message names ``fps`` as given).
    """
    if fps is None:
        raise VidcolorError("raw input needs " + option("fps"))
    rate = None
    try:
        exact = Fraction(fps.strip().replace(":", "/")) if isinstance(fps, str) else fps
    except (ValueError, ZeroDivisionError):         # nan and inf are no fractions, but are numbers: refused below
        try:
            exact = float(fps)
        except ValueError:
            raise VidcolorError(f"{option('fps')} {fps} is not a number (expected a frame rate such as 25, 29.97 "
                                "or 30000/1001)") from None
    if isinstance(exact, Fraction):
        rate = exact if max(exact.numerator, exact.denominator) <= RATIONAL_MAX else exact.limit_denominator(1001)
    elif math.isfinite(exact):
        rate = Fraction(exact).limit_denominator(1001)
    if rate is None or not _rate_in_range(rate):
        raise VidcolorError(f"{option('fps')} {fps} is not a frame rate from 1/1001 to {RAW_FPS_RANGE[1]:,} frames per second")
    return rate


def _rate_in_range(rate: Fraction) -> bool:
    """Whether ``rate`` (frames per second) lies in :data:`RAW_FPS_RANGE`, the rates raw and y4m input may declare."""
    low, high = RAW_FPS_RANGE
    return low <= rate <= high


def list_videos_in(folder: str | Path) -> list[Path]:
    """Video files (by :data:`VIDEO_SUFFIXES`) directly inside ``folder``, in natural order of their names
    (:func:`~vidcolor.io.naming.natural_sorted`: clip2 before clip10). Hidden files (a name starting with ``.``: a
    Mac's ``._clip.mp4`` beside each clip on a drive it wrote, the temporary file of a killed run) are not taken."""
    return natural_sorted(p for p in Path(folder).iterdir()
                          if not p.name.startswith(".") and p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def _stdin() -> BinaryIO:
    """stdin's byte stream, for the input ``-``.

    Raises:
        VidcolorError: stdin is closed (``<&-``: Python then has no ``sys.stdin``), or is no byte stream (replaced
            by a ``StringIO``); one line each, as ``-o -`` says of stdout.
    """
    if sys.stdin is None:
        raise VidcolorError("-: stdin is closed")
    try:
        return sys.stdin.buffer
    except AttributeError:
        raise VidcolorError(f"-: sys.stdin ({type(sys.stdin).__name__}) is not a byte stream; give an input "
                            "path") from None


def open_input(source: str | Path | BinaryIO, sequence: Sequence | None = None, rate: Fraction | None = None):
    """``source`` opened by PyAV (``av.InputContainer``) for reading its video, its decoders under the frame-size
    limit (:data:`~vidcolor.io.limits.MAX_PIXELS`, FFmpeg's ``max_pixels``, in the probe too): the caller closes it.

    Args:
        source: a path (opened as ``file:``, :func:`~vidcolor.io.convert.local_url`: a colon in the name is no
            protocol), ``"-"`` for stdin, or a binary stream (a pipe is read through
            :class:`~vidcolor.io.pipes.Rewindable`, which keeps what the probe read). A y4m header is checked first
            (:func:`check_y4m_head`). A container whose streams appear only while it is probed (MPEG-PS, FLV, an
            MPEG-TS cut anywhere) is probed without decoding, its frame size then 0x0 until the first frame gives it.
        sequence: an image sequence's frames (:func:`~vidcolor.io.sequences.find_sequence` of ``source``, its
            printf pattern, ``scan_%06d.dpx``): opened by FFmpeg's image2 demuxer from its first number on
            (:func:`~vidcolor.io.sequences.sequence_options`); None: ``source`` is one file or stream.
        rate: the sequence's frame rate, frames per second (None: the rate its frames carry, :func:`frames_rate`,
            a DPX header's, else :data:`~vidcolor.io.sequences.FILM_FPS`, 24); ignored without ``sequence``.

    Raises:
        VidcolorError: one line each: a path that does not exist, an empty file or input (0 bytes), nothing on a
            pipe, a file or stream FFmpeg cannot read as video (a file cut short says where:
            :func:`~vidcolor.io.truncation.missing_index`), no video stream (naming what it holds), a damaged y4m
            header, a sequence the image2 demuxer cannot open; a signal that stopped a pipe's read is raised as it
            was (:meth:`~vidcolor.io.pipes.Rewindable.check`).
    """
    if sequence is not None:
        return _open_sequence(source, sequence, rate)
    if source == "-":
        source = _stdin()
    elif isinstance(source, (str, Path)) and not Path(source).exists():
        raise VidcolorError(f"{source}: no such file")
    elif isinstance(source, (str, Path)) and is_empty_file(source):
        raise VidcolorError(f"{source}: cannot read as video (an empty file, 0 bytes)")   # ffmpeg: 'Invalid data'
    # ffmpeg probes a container by decoding its first frames: its decoders refuse frames above max_pixels before
    # allocating them (a 513 KB RLE SGI of 16000x16000 16-bit RGBA took 2.28 GB to probe without it). The probe
    # then leaves the size at 0x0, which the callers report as unknown or above the limit.
    limit = {"max_pixels": str(limits.MAX_PIXELS)}
    src = local_url(source) if isinstance(source, (str, Path)) else Rewindable.of(source)
    start = src.tell() if not isinstance(src, (str, Rewindable)) else None
    # a y4m header, a file's or a pipe's, is checked before ffmpeg opens it (its first bytes are left to be read)
    check_y4m_head(_head(source if isinstance(source, (str, Path)) else src), _name(source))
    try:
        try:
            # stream_options: PyAV refuses them, before the probe, for a format whose streams appear only while
            # it is probed, because it gives options only to the streams there before
            container = av.open(src, "r", options=limit, stream_options=[{}])
        except ValueError as exc:
            if LATE_STREAMS not in str(exc):
                raise
            # MPEG-PS, FLV, an MPEG-TS without PAT/PMT (a stream cut anywhere): the probe's decoders would not get
            # max_pixels (a 16000x16000 H.264 frame in MPEG-PS took 657 MB to probe, file or pipe); such a container
            # is probed without decoding (no decoder may open), and the first frame, decoded under the limit by
            # the callers, gives what the probe would have taken from it (see _undecoded_probe, _from_first_frame)
            if isinstance(src, Rewindable):
                src.rewind()
            elif start is not None:
                src.seek(start)
            container = av.open(src, "r", options={**limit, "codec_whitelist": NO_DECODER})
    except (av.FFmpegError, OSError, ValueError) as exc:
        if isinstance(src, Rewindable):
            src.check()                                 # a signal during the probe: not the input's fault
            if src.count == 0:                          # ffmpeg's 'Invalid data' hid that nothing came at all
                raise VidcolorError(f"{_name(source)}: no data came (0 bytes: did the command before the pipe "
                                    "fail?)") from None
            cut = missing_index(None, src.kept) if src.count == len(src.kept) else None      # all it gave
        elif start is not None and _empty_from(src, start):    # stdin from /dev/null or an empty file (it seeks)
            raise VidcolorError(f"{_name(source)}: cannot read as video (an empty input, 0 bytes)") from None
        else:
            behind = source if isinstance(source, (str, Path)) else _file_behind(src, start)
            cut = missing_index(behind) if behind is not None else None
        if cut:
            raise VidcolorError(f"{_name(source)}: cannot read as video: {cut}") from None
        raise VidcolorError(f"{_name(source)}: cannot read as video ({error_reason(exc)})") from None
    finally:
        if isinstance(src, Rewindable):
            src.release()
    if isinstance(src, Rewindable) and src.stopped is not None:    # the probe took the stop for the end
        container.close()
        src.check()
    if video_stream(container) is None:
        covers, held = len(container.streams.video), _streams_held(container)
        container.close()
        raise VidcolorError(f"{_name(source)}: no video stream" + (" (only cover art)" if covers else f": {held}"))
    for stream in container.streams.video:
        if stream.codec_context is not None:        # and so does the decoder the frames come from
            stream.codec_context.options = dict(limit)
    return container


def _streams_held(container) -> str:
    """What a container without video holds, for its error: ``it holds only audio (aac)``, ``it holds only audio
    (mp3, aac) and subtitle (subrip)``, ``it holds no stream`` (was only 'no video stream', of a song as of a
    damaged file)."""
    kinds: dict[str, list[str]] = {}
    for stream in container.streams:
        kinds.setdefault(stream.type, []).append(_codec_name(stream))
    if not kinds:
        return "it holds no stream"
    return "it holds only " + " and ".join(f"{kind} ({', '.join(names)})" for kind, names in kinds.items())


LAST_DELAY_FORMATS = ("gif", "apng")
"""Demuxers (FFmpeg's names) of animations whose packets carry each frame's own delay, the last frame's too (a GIF
that holds its last frame 2 s before it loops): :class:`VideoReader` reads their packets ahead to know it
(:meth:`VideoReader._read_ahead`). A video's last frame lasts one mean frame interval, as before."""

READ_AHEAD_BYTES = 64 << 20
"""The most bytes of compressed packets :meth:`VideoReader._read_ahead` holds (a GIF is read ahead whole up to
this; a larger one keeps no last delay)."""


DECODE_THREADS = "SLICE"
"""How a video is decoded in parallel: on slice threads, not on frame threads (``AUTO``, which picks them for H.264,
HEVC, VP8/VP9 and others). A frame-threaded decoder holds the last ``thread_count - 1`` packets back and gives them
all at the end of the stream in one ``decode(None)``, and PyAV's ``decode`` keeps the frames a call has given and
drops an ``InvalidDataError`` that follows them (av/codec/context.py, ``_decode``): a frame the decoder refused among
the last ``thread_count - 2`` packets vanished without an error, with the frames decoded after it (H.264 and HEVC,
PyAV 18.1 with FFmpeg 8: 20 frames of 64x48 then one above ``max_pixels``, or an H.264 mp4 whose last packet is
damaged: one frame fewer than ffmpeg gives and no error, with 3 frame threads on 2 cores; 8 threads lost every
refusal among the last 6 packets). Slice threads decode a packet before the next is sent, so each refusal is raised
at its own packet. Decoding is not what limits a run: 1080p H.264 decodes at 216 (frame threads) and 226 (slice)
frames a second on 2 cores, HEVC at 325 and 223, and the RGB conversion of each frame runs at 33-58."""

LATE_STREAMS = "does not expose its streams before avformat_find_stream_info"
"""What PyAV's ValueError says when ``stream_options`` are given for a container whose streams appear only while
it is probed (ffmpeg's AVFMTCTX_NOHEADER)."""

NO_DECODER = "none"
"""A ``codec_whitelist`` that names no decoder: ffmpeg's probe then opens none, and decodes no frame."""


def _undecoded_probe(container) -> bool:
    """Whether ``container`` was probed without decoding (:func:`open_input`): its streams appeared while it was probed.
    Its frame size may then be unknown (0x0) until a frame is decoded, and its colour and pixel aspect are known
    only from the first frame (:func:`_from_first_frame`)."""
    return container.options.get("codec_whitelist") == NO_DECODER


ATTACHED_PIC = 0x0400
"""FFmpeg's AV_DISPOSITION_ATTACHED_PIC: a video stream that is one still picture attached to the file (cover art)."""

DEFAULT_STREAM = 0x0001
"""FFmpeg's AV_DISPOSITION_DEFAULT: the stream a player picks of its kind (Matroska's FlagDefault, an mp4 track's
'enabled')."""

DEFAULT_SCORE = 5_000_000
"""What the default flag weighs in ffmpeg's own choice of a video stream (fftools, ``map_auto_video``: a stream's
score is its width x height, plus this where it is the default one; cover art scores 1): the default stream wins
unless another has that many pixels more (2236 x 2236)."""


def _flags(stream) -> int:
    """A stream's disposition flags (FFmpeg's AV_DISPOSITION_* bits)."""
    disposition = getattr(stream, "disposition", 0)
    return int(getattr(disposition, "value", disposition) or 0)


def _ffmpeg_score(stream) -> int:
    """How ffmpeg ranks a video stream that is not cover art when no ``-map`` is given (its documented rule, 'the
    highest resolution', and its default flag: :data:`DEFAULT_SCORE`). Its other term, whether the probe read a
    packet of the stream, PyAV does not give."""
    ctx = stream.codec_context
    pixels = (ctx.width or 0) * (ctx.height or 0) if ctx is not None else 0
    return pixels + DEFAULT_SCORE * bool(_flags(stream) & DEFAULT_STREAM)


def video_stream(container):
    """A container's video, None where it has none that is not cover art (:data:`ATTACHED_PIC`): FFmpeg gives an
    audio file's cover art (MP3, M4A, FLAC) as a one-frame video stream, and a video's may come before its video
    stream (an MP4 whose metadata precedes its tracks).

    Its first such video stream, where that is the default one (:data:`DEFAULT_STREAM`) or none is: every ordinary
    file, a second angle after the first too. Where another is the default and the first is not, the file says
    which is its video, and the stream is the one ffmpeg itself takes (:func:`_ffmpeg_score`: the highest score,
    the first of equal ones): a cover picture before the video in a Matroska file (whose muxer drops the cover's
    ``attached_pic`` flag: a one-frame MJPEG track, then the default H.264 one) gave one frame of the cover, the
    video only named as not carried. The streams left out are named by :attr:`VideoInfo.others`."""
    videos = [stream for stream in container.streams.video if not _flags(stream) & ATTACHED_PIC]
    if not videos:
        return None
    first = videos[0]
    if _flags(first) & DEFAULT_STREAM or not any(_flags(s) & DEFAULT_STREAM for s in videos):
        return first
    return max(videos, key=_ffmpeg_score)           # max() keeps the first of equal scores, as ffmpeg does


def check_y4m_head(head: bytes, name: str) -> None:
    """Refuse a YUV4MPEG2 input, from its first bytes ``head`` (:func:`_head`: a file's, or a pipe's), named ``name``
    in the errors, whose header declares a frame size above :func:`~vidcolor.io.limits.check_frame_size`'s limits or
    a frame rate outside :data:`RAW_FPS_RANGE`, before ffmpeg opens it: ffmpeg said only 'Device or resource busy' of
    a 100000x100000 header, and a rate of 1:1000000 (one frame in 11 days) reached the mp4 muxer ('Application
    provided duration ... is invalid'). Inputs that do not start with the y4m signature are left to ffmpeg.

    Raises:
        VidcolorError: such a size or rate, or a header whose W, H or F is not a number.
    """
    if not head.startswith(b"YUV4MPEG2 "):
        return
    line = head.split(b"\n", 1)[0]
    fields = {t[:1]: t[1:].decode("ascii", "replace") for t in line.split(b" ")[1:] if t}
    try:
        width, height = int(fields.get(b"W", "0")), int(fields.get(b"H", "0"))
        num, den = (int(x) for x in fields.get(b"F", "25:1").split(":"))
    except ValueError:
        raise VidcolorError(f"{name}: damaged y4m header ({line[:80].decode('ascii', 'replace')})") from None
    check_frame_size(width, height, f"{name} (y4m header)")
    if den <= 0 or not _rate_in_range(Fraction(num, den)):
        raise VidcolorError(f"{name}: the y4m header's frame rate {num}:{den} is not one from 1/1001 to "
                            f"{RAW_FPS_RANGE[1]:,} "
                            "frames per second")


def _open_sequence(pattern: str | Path, found: Sequence, rate: Fraction | None):
    """The image sequence ``found`` (:func:`~vidcolor.io.sequences.find_sequence` of ``pattern``) opened by FFmpeg's
    image2 demuxer at ``rate`` frames a second, its decoder under the frame-size limit as :func:`open_input`'s; with
    ``rate`` None, at the rate its frames carry (:func:`frames_rate`: a DPX header's, which image2 leaves unread: it
    is opened again at it), else at :data:`~vidcolor.io.sequences.FILM_FPS`.

    Raises:
        VidcolorError: the demuxer cannot open it (one line).
    """
    def opened(at: Fraction):
        options = {"max_pixels": str(limits.MAX_PIXELS), **sequence_options(found, at)}
        try:
            return av.open(local_url(image2_path(pattern)), "r", format="image2", options=options)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise VidcolorError(f"{pattern}: cannot read the sequence ({error_reason(exc)})") from None

    container = opened(rate or FILM_FPS)
    own = frames_rate(video_stream(container)) if rate is None else None
    if own is not None and own != FILM_FPS:
        container.close()
        container = opened(own)
    return container


def frames_rate(stream) -> Fraction | None:
    """The frame rate that the frames of ``stream`` (an image sequence's, read by image2) carry in their own header,
    as FFmpeg's decoder read it from the first frame it probed (``AVCodecContext.framerate``): a DPX's, from its film
    header (offset 1724), else from its television header (offset 1940), a float32 rounded to a fraction of
    terms up to 4096 (FFmpeg's dpx decoder: 23.976 -> 2997/125; ``ffmpeg -framerate`` gives image2 its rate and
    leaves this one unread), snapped to the NTSC rate it stands for where it lies within :data:`NTSC_SNAP` of one of
    :data:`NTSC_RATES` (23.976 -> 24000/1001, the output's time base then the standard one). None where they carry
    none (PNG, TIFF, JPEG; a DPX that leaves the fields unset, as FFmpeg's own dpx encoder does), where ``stream`` is
    None, or for a rate outside :data:`RAW_FPS_RANGE`."""
    rate = getattr(getattr(stream, "codec_context", None), "framerate", None)
    if not rate or rate <= 0 or not _rate_in_range(rate := Fraction(rate)):
        return None
    return next((ntsc for ntsc in NTSC_RATES if abs(rate - ntsc) <= NTSC_SNAP * ntsc), rate)


def _sequence_packets(packets: Iterator[av.Packet], count: int, stream) -> Iterator[av.Packet]:
    """The image2 demuxer's ``packets`` (one a file) of an image sequence's first ``count`` frames
    (:attr:`~vidcolor.io.sequences.Sequence.count`: the run of numbers up to the first gap), and then a flush packet
    of ``stream``, so that the decoder gives the frames its threads hold. The demuxer is asked for no more: image2
    finds a sequence's last number by probing 1, 2, 4, 8... numbers ahead, so it may jump a missing frame and then
    fail at it (frames 1, 2, 3, 5, 6: 'No such file or directory' at 4), where the frames before the gap are the
    clip (:func:`~vidcolor.io.sequences.gap_message`)."""
    read = 0
    if count > 0:
        for packet in packets:
            yield packet
            read += 1
            if read == count:
                break
        else:
            return                                      # the demuxer ended first (its own flush packet given)
    flush = av.Packet()
    flush.stream = stream
    yield flush


def _head(source: str | Path | BinaryIO) -> bytes:
    """The first bytes (at most 256, the line :func:`check_y4m_head` reads) of a regular file (a path) or a stream (a
    pipe's :class:`~vidcolor.io.pipes.Rewindable`, or one that seeks), left to be read again; empty where they cannot
    be read again (a path that is a FIFO or ``/dev/stdin``, whose bytes would be taken; a folder, a path that does
    not exist: :func:`open_input` says why)."""
    try:
        if isinstance(source, Rewindable):
            return source.peek_line()
        if isinstance(source, (str, Path)):
            if not os.path.isfile(source):
                return b""
            with open(source, "rb") as f:
                return f.read(256)
        start = source.tell()
        head = source.read(256)
        source.seek(start)
        return head
    except (OSError, ValueError):
        return b""


def animated_webp(head: bytes) -> bool:
    """Whether ``head``, an input's first bytes (:func:`_head`), begins an animated WebP (RIFF ``WEBP`` whose
    extended header, ``VP8X``, sets the animation flag): FFmpeg's WebP decoder gives such a file no frame size and
    no frame (it read as 'frame size unknown or above the limit'); :class:`~vidcolor.io.AnimatedImageReader` reads
    it, by its name, through Pillow."""
    return (len(head) > 20 and head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and bool(head[20] & 0x02))


def _y4m_first_cut(head: bytes, held: int, stream) -> str | None:
    """How a YUV4MPEG2 input that gave no frame shows that it ends inside its first (a huge frame size makes that
    the likely cut: a 8000x8000 frame is 96 MB): ``head``, its first bytes (:func:`_head`), end with its header
    line, ``held`` (bytes) go beyond it, and the frame's data, of ``stream``'s pixel format and size, would end
    after them (:func:`~vidcolor.io.truncation.y4m_cut`). None for other inputs, and where ``held`` is unknown."""
    if not head.startswith(b"YUV4MPEG2 ") or b"\n" not in head:
        return None
    ctx = stream.codec_context
    try:
        planes = av.VideoFormat(ctx.pix_fmt, ctx.width, ctx.height).components
    except (TypeError, ValueError):
        return None
    frame = sum(c.width * c.height * ((c.bits + 7) // 8) for c in planes)   # as the demuxer's packets are
    return y4m_cut(held, head.index(b"\n") + 1, frame)


def _size_unknown(source, container=None) -> VidcolorError:
    """The error for a stream whose probe gave no frame size: ffmpeg refused a frame above
    :data:`~vidcolor.io.limits.MAX_PIXELS` unallocated (:func:`open_input`), or the header has none. With the
    probe's ``container``, its first video packet is decoded once more, under the limit (:func:`_first_damage`):
    a decoder that finds it invalid says the input is damaged or truncated (a DPX cut inside its header said
    'frame size unknown or above the limit'), where one above the limit is refused as an invalid argument."""
    damage = _first_damage(container, source) if container is not None else None
    if damage is not None:
        return VidcolorError(f"{_name(source)}: cannot decode: {damage}")
    return VidcolorError(f"{_name(source)}: cannot decode: frame size unknown or above the limit (at most "
                         f"{limits.MAX_SIDE} px a side and {limits.MAX_PIXELS // 1_000_000} megapixels)")


def _first_damage(container, source) -> str | None:
    """What to say of an opened ``container`` whose probe gave no frame size, where the decoder of its video stream
    (under :data:`~vidcolor.io.limits.MAX_PIXELS`: :func:`open_input`) finds its first packet invalid (FFmpeg's
    AVERROR_INVALIDDATA, PyAV's ``InvalidDataError``: FFmpeg's dpx decoder's 'Packet too small for DPX header');
    None where it decodes it, refuses it otherwise (a frame above the limit: ``EINVAL``), or no packet comes."""
    stream = video_stream(container)
    try:
        for packet in container.demux(stream):
            if packet.size:
                packet.decode()
                return None
    except av.error.InvalidDataError as exc:
        whole = "file" if isinstance(source, (str, Path)) and source != "-" else "input"
        return f"the {whole} is damaged or truncated ({error_reason(exc)})"
    except av.FFmpegError:
        pass
    return None


def _empty_from(stream, start: int) -> bool:
    """Whether a stream that seeks (stdin redirected from ``/dev/null`` or an empty file) holds no byte after
    ``start``, where it was opened; False where that cannot be read again. Left at ``start``."""
    try:
        stream.seek(start)
        empty = not stream.read(1)
        stream.seek(start)
    except (OSError, ValueError):
        return False
    return empty


def _file_behind(stream, start: int | None) -> str | None:
    """A name by which another process opens the regular file that ``stream`` (stdin redirected from a file) reads,
    from its start (``start`` 0): Linux's ``/proc/<pid>/fd/<n>``; None elsewhere, for other streams (a BytesIO)."""
    try:
        fd = stream.fileno()
        if start != 0 or not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
    except (AttributeError, OSError, ValueError):
        return None
    name = f"/proc/{os.getpid()}/fd/{fd}"
    return name if os.path.exists(name) else None


def _name(source) -> str:
    return "stdin" if source == "-" or not isinstance(source, (str, Path)) else str(source)


def error_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc).splitlines()[0]


AVFMT_NOTIMESTAMPS = 0x80
"""FFmpeg's flag of a format that has no timestamps (the raw elementary-stream demuxers: h264, hevc, mpegvideo,
m4v, obu...)."""


def container_info(container, source) -> VideoInfo:
    """The :class:`VideoInfo` of an opened ``container`` read from ``source`` (a path, ``-`` or a stream; named in
    errors) that has a video stream.

    Raises:
        VidcolorError: no frame rate, or no decoder for its video (named where ffmpeg lists the codec:
            :func:`_codec_lacking`), or a codec FFmpeg could not identify (an MPEG-PS whose probe gave up on a
            frame above the size limit: its codec context is None).
    """
    v = video_stream(container)
    if v.codec_context is None:
        a_file = isinstance(source, (str, Path)) and os.path.isfile(source)
        said = _codec_lacking(source, v.index) if a_file else None
        raise VidcolorError(f"{_name(source)}: cannot decode: " + (said or (
            f"its video codec cannot be identified (or its frame size is above the limit: at most "
            f"{limits.MAX_SIDE} px a side and {limits.MAX_PIXELS // 1_000_000} megapixels)")))
    # a raw elementary stream (.h264, .hevc, .m2v, .m4v: a format without timestamps) has as its average rate the
    # rate its demuxer assumes, 25; the bitstream's own (H.264's timing info), which ffmpeg converts it at, is the guess
    raw_stream = container.format.flags & AVFMT_NOTIMESTAMPS
    fps = (v.guessed_rate if raw_stream else None) or v.average_rate or v.guessed_rate or v.base_rate
    if not fps:
        raise VidcolorError(f"{_name(source)}: video stream has no frame rate")
    a = container.streams.audio[0] if container.streams.audio else None
    duration = float(v.duration * v.time_base) if v.duration and v.time_base else (
        container.duration / 1e6 if container.duration else 0.0)
    return VideoInfo(width=v.codec_context.width, height=v.codec_context.height, fps=Fraction(fps),
                     time_base=Fraction(v.time_base) if v.time_base else None, frames=v.frames or 0,
                     duration=duration, audio_codec=_codec_name(a) if a is not None else None,
                     video_start=_start(v),
                     start=container.start_time / av.time_base if container.start_time is not None else _start(v),
                     audio_codecs=tuple(_codec_name(s) for s in container.streams.audio),
                     subtitle_codecs=tuple(_codec_name(s) for s in container.streams.subtitles),
                     attachments=len(container.streams.attachments), timecode=_timecode(container, v),
                     others=_others(container, v), bits=format_bits(v.codec_context.pix_fmt),
                     pix_fmt=v.codec_context.pix_fmt, index=v.index,
                     interlaced=_field_order(v.codec_context), video_tags=video_tags(v), disposition=_disposition(v),
                     audio_defaults=tuple("default" in _disposition(s) for s in container.streams.audio),
                     subtitle_defaults=tuple("default" in _disposition(s) for s in container.streams.subtitles),
                     colour=colour_tags(v.codec_context), alpha=_alpha(v),
                     pixel_aspect=Fraction(sar) if (sar := v.sample_aspect_ratio) and sar > 0 else Fraction(1))


def _codec_lacking(path: str | Path, index: int) -> str | None:
    """Why the video stream ``index`` of the file ``path`` has no decoder (PyAV gives it no codec context, and says
    nothing of its codec), as the ffmpeg executable lists it (:func:`~vidcolor.io.truncation.ffmpeg_log`): a codec
    that this PyAV's FFmpeg has no decoder for (AVS2), or one FFmpeg does not know (``none (QQQQ / 0x51515151)``: an
    AVI's unknown fourcc). None where ffmpeg names a codec that PyAV decodes (a probe that gave up on a frame above
    the size limit), or cannot be run."""
    listed = re.search(rf"Stream #0:{index}(?![0-9])[^:\n]*: Video: (\S+)(?: \(([^)]*)\))?",
                       ffmpeg_log(path, level="info").decode(errors="replace"))
    if listed is None:
        return None
    name, detail = listed[1].rstrip(","), listed[2] or ""
    if name == "none":
        tag = detail.split(" / ")[0].strip()
        return "its video codec is one FFmpeg does not know" + (f" (its tag: {tag})" if tag else "")
    try:
        av.codec.Codec(name, "r")
    except (ValueError, av.FFmpegError):        # av.codec.codec.UnknownCodecError is a ValueError
        return (f"its video codec, {name}, has no decoder in this PyAV's FFmpeg; convert it first with an ffmpeg "
                "that has one (ffmpeg -i in -c:v ffv1 out.mkv)")
    return None


VIDEO_TAGS = {"language": ("language",), "title": ("title", "name"), "handler_name": ("handler_name",)}
"""The video stream's tags that outputs carry (:func:`video_tags`), by ffmpeg's name for them when it writes them,
with the names its demuxers give them: mp4 and mov give a track's title as ``name`` (its ``udta`` box), Matroska
the handler name as ``HANDLER_NAME`` (a tag, read without regard to case)."""


def video_tags(stream) -> dict[str, str]:
    """A video stream's :data:`VIDEO_TAGS` that it has (empty ones left out), by the name ffmpeg writes them with:
    ``{"language": "fra", "title": "Camera A"}``."""
    tags = {k.lower(): v for k, v in stream.metadata.items() if v}
    return {name: tags[found] for name, read_as in VIDEO_TAGS.items()
            if (found := next((k for k in read_as if k in tags), None))}


NOT_PROCESSED = ("attached_pic", "timed_thumbnails", "still_image")
"""Disposition flags that describe a still picture, which a processed video is not (:func:`_disposition`)."""


def _disposition(stream) -> tuple[str, ...]:
    """A stream's disposition flags by FFmpeg's names (``default``, ``original``, ``forced``...: the names of
    ffmpeg's ``-disposition``), those of a still picture (:data:`NOT_PROCESSED`) left out."""
    value = _flags(stream)
    return tuple(f.name for f in av.stream.Disposition if value & f.value and f.name not in NOT_PROCESSED)


FIELD_ORDERS = {2: "tt", 3: "bb", 4: "tb", 5: "bt"}
"""FFmpeg's AVFieldOrder values of interlaced video, by name."""


def _alpha(stream) -> str | None:
    """The alpha channel a video stream has (:attr:`VideoInfo.alpha`): its pixel format where that has one (2 or 4
    components: ``ya8``, ``rgba``, ``yuva420p``...), ``VP9 alpha`` where a WebM declares one (``alpha_mode``),
    else None."""
    pix_fmt = stream.codec_context.pix_fmt
    try:
        components = len(av.VideoFormat(pix_fmt).components) if pix_fmt else 0
    except (ValueError, av.FFmpegError):
        components = 0
    if components in (2, 4):
        return pix_fmt
    if {k.lower(): v for k, v in stream.metadata.items()}.get("alpha_mode") == "1":
        return "VP9 alpha" if _codec_name(stream) == "vp9" else "alpha"
    return None


def _field_order(ctx) -> str | None:
    """The field order a stream declares (:attr:`VideoInfo.interlaced`), None where progressive or unknown."""
    order = getattr(ctx, "field_order", None)          # FFmpeg's AVFieldOrder: 2-5 are TT, BB, TB, BT
    order = FIELD_ORDERS.get(order) if isinstance(order, int) else str(order or "").lower()
    return order if order in FIELD_ORDERS.values() else None


def _others(container, video) -> tuple[str, ...]:
    """The streams besides ``video`` that no output carries (:attr:`VideoInfo.others`): other video streams, cover
    art, data streams other than timecode tracks (``tmcd``: their timecode is kept) and chapter tracks (the chapters
    are kept: :func:`_chapter_track`)."""
    out = []
    chapters = None
    for s in container.streams:
        if s.type == "data" and _chapter_track(s, chapters := _chapters(container) if chapters is None else chapters):
            continue
        title = s.metadata.get("title") or s.metadata.get("handler_name")
        if s.type == "video" and s is not video:
            cover = _flags(s) & ATTACHED_PIC
            out.append("cover art" if cover else f"video stream {s.index} ({_codec_name(s)}"
                       + (f', "{title}")' if title and title != "VideoHandler" else ")"))
        elif s.type == "data" and "timecode" not in {k.lower() for k in s.metadata}:
            out.append(f"data stream {s.index}" + (f" ({title})" if title else ""))
    return tuple(out)


def _chapters(container) -> list:
    """The container's chapters as PyAV gives them (dicts: ``start``, ``time_base``...); empty where it cannot."""
    try:
        return list(container.chapters())
    except (AttributeError, av.FFmpegError, ValueError):
        return []


def _chapter_track(stream, chapters: list) -> bool:
    """Whether a data ``stream`` is the track the container's ``chapters`` were read from: an mp4 or mov keeps its
    chapters as a text track, which FFmpeg's demuxer gives as a data stream (``bin_data``, handler
    ``SubtitleHandler``) besides the chapters it reads from it, one a sample, in its time base. So it is one where the
    chapters are in its time base and start where its samples do. A data stream of another kind (GoPro metadata) is
    not, and is named in :attr:`VideoInfo.others`."""
    try:
        times = {e.timestamp for e in stream.index_entries}
    except (AttributeError, av.FFmpegError):
        return False
    return bool(chapters) and all(Fraction(ch["time_base"]) == stream.time_base for ch in chapters) and (
        {ch["start"] for ch in chapters} == times)


def _timecode(container, video) -> str | None:
    """The first frame's SMPTE timecode where the container has one: the video stream's tag (mp4, mov: from the
    ``tmcd`` track), a timecode track's, or the file's (Matroska, MXF); None otherwise."""
    for metadata in (video.metadata, *(s.metadata for s in container.streams.data), container.metadata):
        tags = {k.lower(): v for k, v in metadata.items()}
        if tags.get("timecode"):
            return tags["timecode"]
    return None


YUV_MATRICES = {1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc", 10: "bt2020c"}
"""The YUV matrices (FFmpeg's AVColorSpace) that decoding (swscale) uses and an output can be tagged with."""


def colour_tags(ctx) -> dict[str, int]:
    """A decoder's colour description as the ffmpeg output options that give an output the same one.

    Frames are decoded to RGB with their own matrix and range (:func:`~vidcolor.io.convert.frame_to_rgb`); an
    output written with the same matrix, range, primaries and transfer shows the same colours in a player.
    Each tag the source gives is carried, whatever the others: a YUV matrix (:data:`YUV_MATRICES`), its range
    (the writer writes limited range, and tags it so: :func:`~vidcolor.io.writer._with_colour`), the primaries
    and the transfer. An untagged matrix stays untagged: it was decoded with BT.601, the same matrix the
    untagged output is written with, so the output's YUV values are the source's and a player, which guesses the
    matrix of both alike (BT.709 for HD), shows both alike; tagging it BT.601 would change what such a player
    shows. An RGB source's range says nothing about a YUV output's, and is not carried.
    """
    tags = {"colorspace": ctx.colorspace} if ctx.colorspace in YUV_MATRICES else {}
    if ctx.colorspace != 0 and ctx.color_range in (1, 2):          # not RGB; MPEG (limited) or JPEG (full)
        tags["color_range"] = ctx.color_range
    for name in ("color_primaries", "color_trc"):
        if getattr(ctx, name, 2) not in (0, 2, 3):                  # reserved, unspecified, reserved
            tags[name] = getattr(ctx, name)
    return tags


def _codec_name(stream) -> str:
    """A stream's codec name, not its decoder's (``mp3``, not ``mp3float``); subtitle streams may have no
    codec context."""
    codec = getattr(getattr(stream, "codec_context", None), "codec", None) or getattr(stream, "codec", None)
    return getattr(codec, "canonical_name", None) or getattr(codec, "name", None) or "unknown"


def _start(stream) -> float:
    """A stream's start time in seconds (0 when the container gives none)."""
    return float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0


def probe(path: str | Path) -> VideoInfo:
    """Probe a video file with PyAV (sizes given after display rotation, from the first frame).

    Raises:
        VidcolorError: missing file, unreadable container, no video stream (or only cover art), no frames, or a
            frame size that the probe could not give (unknown, or above :data:`~vidcolor.io.limits.MAX_PIXELS`:
            ffmpeg refuses such frames before allocating them).
    """
    with open_input(path) as container:
        info = container_info(container, path)
        unknown = not info.width or not info.height
        if unknown and not _undecoded_probe(container):
            raise _size_unknown(path, container)
        stream = video_stream(container)
        try:
            first = next(container.decode(stream))
        except (StopIteration, av.FFmpegError):
            if unknown:                         # the decoder refused it (max_pixels), or it has none
                raise _size_unknown(path) from None
            cut = partial_file(path, container.format.name, stream.index)
            raise VidcolorError(f"{path}: video has no decodable frames" + (f": {cut}" if cut else "")) from None
        _from_first_frame(info, stream, _undecoded_probe(container))
        _apply_rotation(info, first)
        _interlacing_of(info, first)
    return info


def warn_about_source(name: str, info: VideoInfo, eight_bits: str | None,
                      encoded: tuple[str, str, int] | None = None, chroma: str | None = None) -> None:
    """One warning (:func:`~vidcolor.errors.warn`) for each property of the video ``info`` that its
    processing does not keep, the video named ``name`` (a file's name, ``stdin``): more than 8 bits per sample
    where its frames are processed at 8 (``eight_bits`` says why and what it costs,
    :func:`~vidcolor.source_warnings.eight_bit_reason`'s text; None: they are not, the frames are
    decoded at 16 bits, :class:`VideoReader`'s ``deep``, and ``encoded``, the output's ``(codec, pixel format, bits
    per sample)`` (:func:`~vidcolor.io.writer.encoded_bits`), says where they hold fewer bits than the source (12-bit
    ProRes 4444, a 16-bit scan, written at 10); the summary's "passed unchanged" is of the 8-bit frames),
    interlacing (each frame is processed as one picture, so the chroma and the temporal smoothing mix its fields,
    and the output is progressive), an alpha channel (dropped, as ffmpeg drops it writing a format without one: the output shows the
    colours stored under the transparent parts), an HDR transfer (:data:`HDR_TRANSFERS`: its samples are processed
    as SDR video's, and the output keeps the source's tags), colour of a finer resolution than the output's encode keeps
    (``chroma``: what is lost and the option that keeps it, :func:`~vidcolor.source_warnings.chroma_reason`'s text;
    None: nothing is lost). Said by a local run (:func:`vidcolor.api.process`) and
    by a Ray run (:func:`vidcolor.distributed.open_work`) alike."""
    if getattr(info, "alpha", None):
        warn(alpha_dropped(name, info.alpha))
    hdr = HDR_TRANSFERS.get(getattr(info, "colour", {}).get("color_trc"))
    if hdr:
        warn(f"{name} is HDR video ({hdr} transfer); vidcolor processes its samples as SDR video's (sRGB), and the "
             "output keeps its tags, so an HDR player shows the colours through that transfer, not as made: "
             f"tone-map it to SDR first ({TONE_MAP})")
    if info.bits > 8 and eight_bits is not None:
        warn(f"{name} has {info.bits} bits per sample; {eight_bits}")
    elif encoded is not None and info.bits > encoded[2]:
        codec, fmt, bits = encoded
        warn(f"{name} has {info.bits} bits per sample; it is processed at 16, but {codec} at {fmt} holds {bits}, so "
             f"the output keeps {bits} bits of precision")
    if chroma is not None:
        warn(f"{name} {chroma}")
    if info.interlaced:
        order = ("its frames say so; no field order given" if info.interlaced == INTERLACED_FRAMES else
                 f"{'top' if info.interlaced in ('tt', 'tb') else 'bottom'} field first")
        warn(f"{name} is interlaced ({order}); its frames are processed as whole pictures and written progressive: "
             "deinterlace it first (ffmpeg -vf bwdif)")


HDR_TRANSFERS = {16: "PQ, smpte2084", 18: "HLG, arib-std-b67"}
"""The transfer characteristics (FFmpeg's AVColorTransferCharacteristic, :attr:`VideoInfo.colour`'s ``color_trc``) of
HDR video, which vidcolor processes as SDR (the networks were trained on SDR video; L is computed as of sRGB),
as :func:`warn_about_source` names them. Before, a PQ or HLG source was colourised without a word (a 10-bit one
was told its depth alone), and its output tagged PQ or HLG."""

TONE_MAP = ("ffmpeg -i in.mkv -vf zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=hable:desat=0,"
            "zscale=t=bt709:m=bt709:r=tv,format=yuv420p10le -c:v ffv1 sdr.mkv")
"""A tone-mapping to SDR BT.709 that the bundled ffmpeg runs (zscale, tonemap), for :func:`warn_about_source`."""

def alpha_dropped(name: str, alpha: str) -> str:
    """The warning that the video ``name`` has an alpha channel (:attr:`VideoInfo.alpha`), which is dropped."""
    return (f"{name} has an alpha channel ({alpha}), which is dropped (video is read as RGB): the output shows the "
            "colours stored under its transparent parts")


ALWAYS_ALPHA_FORMATS = ("gif",)
"""Demuxers (FFmpeg's names) whose decoder gives every frame an alpha channel (FFmpeg's GIF decoder: ``bgra``,
opaque GIFs too): :class:`VideoReader` says the alpha is dropped only once a frame has a transparent pixel."""


def warn_changed(name, frames: int) -> None:
    """The warning (:func:`~vidcolor.errors.warn`) that the input ``name`` changed while it was read (its size or
    modification time: a recording still being written, a copy still in progress), of which ``frames`` were processed.
    Said by a local run (:func:`vidcolor.api.process`) and by a Ray run (:func:`vidcolor.distributed.process_clips`,
    whose segments are the frames planned before) alike."""
    warn(f"{name} changed while it was read (still being recorded or copied?): the output has the {frames} frames "
         "read; run again on the finished file for the rest")


def frame_orientation(frame) -> tuple[int, bool]:
    """How a decoded frame is turned to display orientation, as ffmpeg's autorotate does (fftools: ``transpose``,
    ``hflip``, ``vflip`` from the display matrix): ``(rotation, mirrored)``, the pixels flipped left-right where
    ``mirrored``, then turned ``rotation`` degrees counter-clockwise (0, 90, 180 or 270; :func:`rotate_frame`).

    The rotation alone (``frame.rotation``, FFmpeg's ``av_display_rotation_get``) loses a mirror: a front camera's
    or an editor's matrix (``ffmpeg -display_hflip``, ``-display_vflip``) showed mirror images. Its sign shows in the
    matrix (a negative determinant), which is read from the frame's DISPLAYMATRIX side data (the stream's, which
    FFmpeg gives each frame). A frame without one is ``(0, False)``; an angle that is not a quarter turn (which
    ffmpeg's ``rotate`` filter would resample) is given as its degrees, counter-clockwise, and not applied."""
    try:
        side_data = getattr(frame, "side_data", None)
    except ValueError:
        # PyAV lists a frame's side data through an enum of the types it knows, and fails on a newer one (FFmpeg 8
        # gives the frames of a TIFF sequence their EXIF, type 31): the rotation alone, which it reads directly
        return round(frame.rotation) % 360, False
    data = side_data.get("DISPLAYMATRIX") if side_data is not None else None
    if data is None:
        return 0, False
    a, b, _, c, d = np.frombuffer(bytes(data), np.int32)[:5].astype(float)     # 16.16 fixed point, row-major 3x3
    if not (math.hypot(a, c) and math.hypot(b, d)):
        return 0, False
    # ffmpeg's get_rotation: the clockwise turn to apply, in [0, 360)
    theta = -round(-math.degrees(math.atan2(b / math.hypot(b, d), a / math.hypot(a, c))))
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    quarter = round(theta / 90) % 4
    if abs(theta - 90 * round(theta / 90)) >= 1:
        return int(round(-theta)) % 360, False                  # not applied (see above)
    if quarter == 1:                                            # transpose=cclock_flip, or clock
        return (90, True) if c > 0 else (270, False)
    if quarter == 3:                                            # transpose=clock_flip, or cclock
        return (270, True) if c < 0 else (90, False)
    if quarter == 2:                                            # hflip where a < 0, vflip where d < 0
        return {(True, True): (180, False), (True, False): (0, True), (False, True): (180, True)}.get(
            (a < 0, d < 0), (0, False))
    return (180, True) if d < 0 else (0, False)                 # vflip where d < 0


def _from_first_frame(info: VideoInfo, stream, probed_none: bool) -> None:
    """Where the probe decoded no frame (``probed_none``: a container probed without decoding,
    :func:`_undecoded_probe`; an image sequence whose probe decoded none of the files it read, damaged ones), what it
    would have taken from the first frame, from ``stream``'s decoder once it has decoded it: the pixel format (its
    bits, its alpha: a 10-bit H.264 in MPEG-PS was read as 8 bits, its pixel format None), the colour description
    and, where the container gives none, the pixel aspect (before :func:`_apply_rotation`)."""
    if not probed_none:
        return
    ctx = stream.codec_context
    info.pix_fmt, info.bits = ctx.pix_fmt, format_bits(ctx.pix_fmt)
    info.alpha = _alpha(stream)
    info.colour = colour_tags(ctx)
    if not ((sar := stream.sample_aspect_ratio) and sar > 0) and (sar := ctx.sample_aspect_ratio) and sar > 0:
        info.pixel_aspect = Fraction(sar)


INTERLACED_FRAMES = "frames"
""":attr:`VideoInfo.interlaced` of a video whose stream declares no field order but whose first frame is marked
interlaced (DV, whose stream says nothing: a player deinterlaces it by the frames' mark, as does ffmpeg's
bwdif)."""


def _interlacing_of(info: VideoInfo, first) -> None:
    """Where the stream declares no field order, whether its decoded ``first`` frame is marked interlaced
    (:data:`INTERLACED_FRAMES`; PyAV does not give which field comes first)."""
    if info.interlaced is None and getattr(first, "interlaced_frame", False):
        info.interlaced = INTERLACED_FRAMES


def _apply_rotation(info: VideoInfo, frame) -> None:
    """Set ``info``'s :attr:`~VideoInfo.rotation` and :attr:`~VideoInfo.mirrored` from ``frame`` (the first frame:
    :func:`frame_orientation`), and its sizes and pixel aspect as shown (swapped by a quarter turn)."""
    info.rotation, info.mirrored = frame_orientation(frame)
    if info.rotation in (90, 270):
        info.width, info.height = frame.height, frame.width
        info.pixel_aspect = 1 / info.pixel_aspect
    else:
        info.width, info.height = frame.width, frame.height


def _transparent(frame) -> bool:
    """Whether a decoded frame of a pixel format with alpha last (``bgra``, ``rgba``) has a pixel that is not
    opaque."""
    return bool(frame.to_ndarray()[..., -1].min() < 255)


def rotate_frame(img: np.ndarray, orientation: tuple[int, bool]) -> np.ndarray:
    """Turn decoded pixels, uint8 ``(H, W, 3)``, to display orientation: ``orientation`` is ``(rotation, mirrored)``
    (:func:`frame_orientation`): flipped left-right where ``mirrored``, then turned ``rotation`` degrees
    counter-clockwise (an angle that is not a quarter turn is not applied). A contiguous array, ``(W, H, 3)`` after a
    quarter turn; ``img`` itself where nothing is applied."""
    rotation, mirrored = orientation
    k = {0: 0, 90: 1, 180: 2, 270: 3}.get(rotation, 0)
    if mirrored:
        img = img[:, ::-1]
    return np.ascontiguousarray(np.rot90(img, k)) if k or mirrored else img


class VideoReader:
    """Iterate a video's frames as uint8 RGB ``(H, W, 3)`` arrays in display orientation.

    A reader is single-pass, as a stream is: it is iterated once (a second ``iter()`` is a ``ValueError``; open the
    source again to read it again).

    Args:
        source: a path, ``"-"`` for stdin, or a binary file object. Containers that need seeking
            (mp4 with the index at the end) cannot come through a pipe; nut, matroska, mpegts can.
        raw_size: ``(width, height)`` to read raw rgb24 frames instead (stdin or file), with ``fps``.
        deep: a video of more than 8 bits per sample (:attr:`VideoInfo.bits`) gives uint16 RGB frames (0..65535,
            ``rgb48le``: :func:`~vidcolor.io.convert.frame_to_rgb`) instead of uint8; :attr:`deep` says whether it
            does. Raw input is 8-bit.
        fps: frame rate of raw input (frames per second; :func:`raw_rate`), and of an image sequence (a path that
            is a printf pattern, ``scan_%06d.dpx``: :func:`~vidcolor.io.sequences.is_sequence`; None: the rate its
            frames carry, a DPX header's, snapped to the NTSC rate it stands for, :func:`frames_rate`, where they
            carry none :data:`~vidcolor.io.sequences.FILM_FPS`), read from its first number on by FFmpeg's image2
            demuxer.
        keep_going: go on past a packet that the decoder refuses (damaged data), as ffmpeg does, counting it in
            :attr:`refused` and :attr:`missing` (the frames after it keep their timestamps); else such a packet
            followed by another is a :class:`~vidcolor.errors.DamagedInput`. Refused packets at the end of the
            stream are counted either way.

    Attributes:
        sequence: the :class:`~vidcolor.io.sequences.Sequence` read, for an image sequence; else None. Its frames
            are :attr:`VideoInfo.frames`.
        rate_from_frames: an image sequence's rate that its frames carry (:func:`frames_rate`: a DPX header's), read
            at where no ``fps`` was given; else None (read at ``fps``, or at
            :data:`~vidcolor.io.sequences.FILM_FPS` where neither is known).
        skipped_files: the numbers of an image sequence's files that the decoder refused (damaged, truncated: with
            ``keep_going``, or at its end), in order, counted in :attr:`refused`; those before its first frame too,
            which ``keep_going`` skips as it skips later ones (the decoder found them invalid, or they are empty:
            :meth:`_past_empty_files`). Empty for other input.
        first_number: an image sequence's number of its first frame decoded (its first file's, or a later one's
            where ``keep_going`` skipped the first); None for other input.
        deep: whether the frames are uint16 (``deep`` asked, and the video has more than 8 bits per sample).
        info: :class:`VideoInfo`, known after construction (sizes after the first frame decodes); a GIF's ``alpha``
            (FFmpeg gives every GIF frame ``bgra``) only once a frame with a transparent pixel is read, which is then
            said (:func:`~vidcolor.errors.warn`) as :func:`warn_about_source` says it of other video.
        timeline: the yielded frames' presentation timestamps (:class:`~vidcolor.io.timing.Timeline`, in
            the stream's time base, or a finer one where that is too coarse for its frame rate
            (:class:`~vidcolor.io.timing.RateGrid`: Matroska's 1/1000 at 30000/1001 gives 1/30000, its frames
            1001 ticks apart); raw input: ``1 / fps``), each added before its frame is yielded.
        start_time: the first frame's presentation time, seconds, as the container gives it (a clip cut from
            a longer one may keep its place, e.g. 0.042 s; MPEG-TS starts anywhere); 0.0 for raw input or a
            first frame without a timestamp. The timeline counts from it.
        ended_early: how a Matroska file shows that it was cut short (:func:`~vidcolor.io.truncation.cut_short`:
            the frames after the cut are lost, though all before it decode), None where it shows none (also stdin
            and raw input); known once the reader is made.
        partial_packet: how an MPEG-TS input may show that it was cut short
            (:func:`~vidcolor.io.truncation.partial_packet`: only a sign), else None; a file's known once the reader
            is made, a stream's (stdin, a pipe: its bytes counted) once the iteration has ended.
        cut_frame: how a y4m or raw input (file or stream) shows that it ended inside a frame
            (:func:`~vidcolor.io.truncation.y4m_cut`, :func:`~vidcolor.io.truncation.raw_cut`: the byte counts), or
            a Matroska input that FFmpeg's demuxer says ended inside an element
            (:func:`~vidcolor.io.truncation.premature_end`: a pipe's, or a file's whose size is left open),
            counted in :attr:`missing`; None where it did not, and until the iteration has ended.

    Raises:
        VidcolorError: missing file, not a video, zero frames (a y4m cut inside its first frame says so), a frame
            size above
            :func:`~vidcolor.io.limits.check_frame_size`'s limits or unknown (ffmpeg's probe refuses frames above
            :data:`~vidcolor.io.limits.MAX_PIXELS` before allocating them), a truncated raw frame, a raw file that
            cannot be opened (a folder, no permission), a missing or impossible raw ``fps`` (:func:`raw_rate`);
            while iterating, a frame size that changes (also to one above the limits, which the decoder refuses
            unallocated) and, without ``keep_going``, damaged data in the middle of the stream
            (:class:`~vidcolor.errors.DamagedInput`; refused packets at its end, as in an mp4 cut inside its last
            sample, are counted in :attr:`missing`, as a truncated file's unread ones are).
        ValueError: iterating a closed reader (:meth:`__iter__`), also through an iterator made before it closed,
            or one iterated before.
    """

    def __init__(self, source: str | Path | BinaryIO, raw_size: tuple[int, int] | None = None,
                 fps: float | Fraction | str | None = None, keep_going: bool = False, deep: bool = False):
        self.source = source
        self.deep = False
        self.raw_size = raw_size
        self.keep_going = keep_going
        self.sequence = None
        self.rate_from_frames = None
        self.skipped_files: list[int] = []
        self.first_number = None
        self._container = None
        self._closed = self._iterated = False
        self._first = None
        self._size = None
        self.decoded = 0
        """Frames decoded so far."""
        self.packets = 0
        """Video packets read so far (not raw input)."""
        self.refused = 0
        """Packets the decoder refused after the first frame (damaged data; each is a frame in all but
        field-coded streams), counted in :attr:`missing`."""
        self._partial = False
        self.ended_early = self.partial_packet = self.cut_frame = None
        self._y4m_end = None
        self._grid = None
        self._last_delay = None                 # the last packet's duration, where read ahead (_read_ahead)
        self._gif_cut = None                    # a GIF's cut last frame, where read ahead (_read_ahead)
        self._cut_said = []                     # FFmpeg's log of a Matroska cut short (truncation.watched)
        self._alpha_unseen = None               # a GIF's alpha (bgra) while no frame has shown transparency
        if raw_size is not None:
            rate = raw_rate(fps)
            w, h = self.raw_size = check_raw_size(raw_size)
            self.info = VideoInfo(width=w, height=h, fps=rate)
            self.timeline = Timeline.of(self.info.fps)
            self.start_time = 0.0
            self._raw = _stdin() if source == "-" else self._open_raw_file(source)
            try:
                self._raw_waits = can_wait(self._raw)
                self._first = self._read_raw()
                if self._first is None:
                    raise VidcolorError(f"{_name(source)}: no frames")
            except BaseException:           # the file it opened is closed (it was left to the garbage collector)
                self.close()
                raise
            return
        stream = _stdin() if source == "-" else source
        # a pipe's reader, kept to raise what stopped one of its reads once PyAV returns (Rewindable.check), and
        # for what it held (y4m_cut)
        self._src = None if isinstance(stream, (str, Path)) else Rewindable.of(stream)
        head = _head(source if self._src is None else self._src)       # a y4m header, before the demuxer takes it
        found = find_sequence(source) if self._src is None and is_sequence(source) else None
        self.sequence = self._past_empty_files(found) if found is not None else None
        with ffmpeg_errors() as opening:         # the probe may read a short input to its end (PREMATURE_END)
            self._container = open_input(source if self._src is None else self._src, self.sequence,
                                         None if self.sequence is None or fps is None else raw_rate(fps))
        self._cut_said = opening if ended_prematurely(opening) else []
        self._stream = video_stream(self._container)
        self.info = container_info(self._container, source)
        if self.sequence is not None:           # image2 counts none: the files found, which missing compares
            self.info.frames = found.count
            self.rate_from_frames = frames_rate(self._stream) if fps is None else None
        self.timeline = Timeline.of(self.info.fps, self.info.time_base)
        # the header, before decoding; a probe that did not decode (_undecoded_probe) may not know the size: the
        # first frame, decoded under the limit, gives it, without frame threads (each of them would allocate
        # the tables an H.264 header's size asks for before max_pixels refuses the frame: 16000x16000 peaked at
        # 236 MB with 2 cores, 157 MB without them)
        if (self.info.width < 1 or self.info.height < 1) and animated_webp(head):
            self.close()
            raise VidcolorError(f"{_name(source)}: cannot decode: an animated WebP, which FFmpeg cannot decode; " + (
                "give the file's name instead (vidcolor reads an animated WebP file through Pillow)"
                if _name(source) == "stdin" else "vidcolor.io.AnimatedImageReader reads it (through Pillow)"))
        unknown = ((_undecoded_probe(self._container) or self.sequence is not None)
                   and (self.info.width < 1 or self.info.height < 1))
        if not unknown:
            self._check_size(self.info.width, self.info.height, header=True)
            self._stream.thread_type = DECODE_THREADS
        self._frames = self._decode()
        try:
            first = next(self._frames)
        except StopIteration:
            cut = None if unknown else _y4m_first_cut(head, self._held(), self._stream) or self.cut_frame
            self.close()
            if self.skipped_files:                  # keep_going skipped each file of a sequence
                raise VidcolorError(f"{_name(source)}: none of its {len(self.skipped_files)} frames can be decoded "
                                    f"(damaged or truncated: {frame_names(source, self.skipped_files)})") from None
            raise (_size_unknown(source) if unknown else
                   VidcolorError(f"{_name(source)}: video has no frames" + (f": {cut}" if cut else ""))) from None
        except DamagedInput:                        # a sequence's first file (_decode names it)
            self.close()
            raise
        except av.FFmpegError as exc:
            piped_mp4 = _name(source) == "stdin" and "mp4" in self._container.format.name
            cut = (partial_file(source, self._container.format.name, self._stream.index)
                   if isinstance(source, (str, Path)) and not unknown else None)
            self.close()
            raise (_size_unknown(source) if unknown else
                   VidcolorError(f"{_name(source)}: cannot decode ({error_reason(exc)}): {cut}") if cut else
                   VidcolorError(f"{_name(source)}: cannot decode ({error_reason(exc)})" + (
                       "; an MP4 or MOV whose index follows its data cannot come through a pipe: pipe NUT or "
                       "Matroska (ffmpeg -i in.mp4 -c copy -f nut -), or give the file's name" if piped_mp4 else "")
                   )) from None
        self._check_size(first.width, first.height)            # and the first frame
        # (a sequence's probe that decoded none of the files it read, damaged ones, leaves the size unknown)
        _from_first_frame(self.info, self._stream, _undecoded_probe(self._container) or unknown)
        _apply_rotation(self.info, first)
        _interlacing_of(self.info, first)
        self._first, self._size = first, (first.width, first.height)
        if self.sequence is not None:
            self.first_number = self._number_of(first)
        self.deep = deep and self.info.bits > 8
        if self.info.alpha and self._container.format.name in ALWAYS_ALPHA_FORMATS and not _transparent(first):
            # said (warn_about_source) only once a frame shows transparency: _video_frames looks at each
            self._alpha_unseen, self.info.alpha = self.info.alpha, None
        tb = self.info.time_base
        self.start_time = float(first.pts * tb) if first.pts is not None and tb else 0.0
        # a time base too coarse for the frame rate (Matroska's milliseconds at 30000/1001): the timeline is kept in
        # one that holds both, its timestamps on the rate's exact grid where they were rounded from it
        self._grid = (RateGrid.of(self._stream.guessed_rate, tb, carried=self._container.format.name == "nut")
                      if first.pts is not None else None)
        if self._grid is not None:
            self.timeline = Timeline.of(self.info.fps, self._grid.time_base)
        if self._last_delay:                    # read ahead (_read_ahead): the last frame keeps its own delay
            self.timeline.last_duration = self._last_delay * (self._grid.scale if self._grid is not None else 1)
        if isinstance(source, (str, Path)) and source != "-":
            self.ended_early = cut_short(source, self._container.format.name)
            self.partial_packet = partial_packet(self._held(), self._container.format.name)

    def _past_empty_files(self, found: Sequence) -> Sequence:
        """The image sequence ``found`` from its first file that is not empty (0 bytes): FFmpeg's image2 ends a
        sequence at an empty file (its read gives no byte: the end of the input), so that one at the start gave no
        frame ('cannot decode: frame size unknown or above the limit'). Without :attr:`keep_going` an empty first
        file is raised as damage (:class:`~vidcolor.errors.DamagedInput`, naming it, as a first file the decoder
        refuses); with it, the empty files at the start are skipped (:attr:`skipped_files`), and where all are, that
        is raised."""
        empty = 0
        while empty < found.count and is_empty_file(frame_path(found.pattern, found.first + empty)):
            empty += 1
        if not empty:
            return found
        if not self.keep_going:
            raise DamagedInput(f"{_name(self.source)}: {frame_path(found.pattern, found.first).name} is empty (0 "
                               f"bytes): the input is damaged there; nothing written ({option('ignore_errors')} skips "
                               "the frames that cannot be decoded, as ffmpeg does, and keeps the others)")
        self.skipped_files.extend(range(found.first, found.first + empty))
        if empty == found.count:
            raise VidcolorError(f"{_name(self.source)}: none of its {found.count} frames can be decoded (empty, 0 "
                                f"bytes: {frame_names(self.source, self.skipped_files)})")
        return found._replace(first=found.first + empty, count=found.count - empty)

    def _check_empty_stop(self, number: int) -> None:
        """Refuse an image sequence whose demuxer ended at frame ``number`` before its last, where that file is
        empty (0 bytes: one ``os.stat``): FFmpeg's image2 ends a sequence at an empty file, so the frames after it
        were lost unnamed ('4 of 6 frames could not be read'), and ``keep_going`` kept those before it alone.
        Refused with ``keep_going`` too: image2 cannot be asked to go on past the file (it would have to be reopened
        at the next number, its timestamps joined), and the frames after it are as good as those before.

        Raises:
            VidcolorError: naming the file and the frames after it.
        """
        path = frame_path(self.sequence.pattern, number)
        if not is_empty_file(path):
            return
        after = self.sequence.first + self.sequence.count - number - 1
        raise VidcolorError(f"{_name(self.source)}: {path.name} is empty (0 bytes): FFmpeg's image2 ends the sequence "
                            f"there, so the {after} frame{'' if after == 1 else 's'} after it cannot be read; nothing "
                            f"written (replace or remove the file and renumber the frames after it; "
                            f"{option('ignore_errors')} cannot skip it)")

    def _decode(self) -> Iterator[av.VideoFrame]:
        """The video stream's frames, as ``container.decode`` gives them, counting the packets read
        (:attr:`packets`): an edit list may hide decoded frames (an mp4 cut without re-encoding starts at a
        keyframe before the cut), but a truncated file lacks packets.

        A packet the decoder refuses after the first frame is counted (:attr:`refused`) and skipped, as ffmpeg
        skips it, unless the frame size changes there (:meth:`_refused`: that is raised at once); without
        :attr:`keep_going`, the packet after it, if any, raises the damage (:class:`~vidcolor.errors.DamagedInput`:
        damaged in the middle, not at the end). Before the first frame, the decoder's own error goes up (the
        constructor says that nothing can be decoded), but for an image sequence's file that the decoder finds
        invalid (damaged, truncated), which is skipped as a later one is with :attr:`keep_going`
        (:attr:`skipped_files`), else raised as its damage (:class:`~vidcolor.errors.DamagedInput`, naming the
        file).

        A signal that stopped a read of a pipe (:meth:`~vidcolor.io.pipes.Rewindable.check`) is raised in place of
        whatever PyAV made of the read that ended there (a refused packet, an error, the end of the stream)."""
        src = self._src if isinstance(self._src, Rewindable) else None
        damage = None
        y4m = self._container.format.name == "yuv4mpegpipe"
        packets = self._container.demux(self._stream)
        if "matroska" in self._container.format.name.split(","):   # a cut that only FFmpeg's log tells
            packets = watched(packets, self._cut_said)
        if self._container.format.name in LAST_DELAY_FORMATS:
            packets = self._read_ahead(packets)
        if self.sequence is not None:
            packets = _sequence_packets(packets, self.sequence.count, self._stream)
        try:
            for packet in packets:
                if src is not None:
                    src.check()
                if packet.size:
                    if damage is not None:                  # damaged in the middle, not at the end
                        raise damage
                    self.packets += 1
                    if y4m and packet.pos is not None and packet.pos >= 0:
                        self._y4m_end = (packet.pos + packet.size, packet.size)
                try:
                    frames = packet.decode()
                except av.FFmpegError as exc:
                    if src is not None:
                        src.check()
                    if self._size is None:
                        if self.sequence is None or not isinstance(exc, av.error.InvalidDataError):
                            raise
                        if not self.keep_going:         # named, as a later frame's damage is
                            raise DamagedInput(f"{self._refused(exc, packet).marked}; nothing written "
                                               f"({option('ignore_errors')} skips the frames that cannot be "
                                               "decoded, as ffmpeg does, and keeps the others)") from None
                        self.skipped_files.append(self._number_of(packet))
                        self.refused += 1
                        continue
                    damage = self._refused(exc, packet)
                    if not isinstance(damage, DamagedInput):
                        raise damage from None
                    self.refused += 1
                    if self.sequence is not None:
                        self.skipped_files.append(self._number_of(packet))
                    if self.keep_going:
                        damage = None
                    continue
                yield from frames
        except GeneratorExit:
            raise
        except BaseException:
            if src is not None:
                src.check()
            raise
        if src is not None:
            src.check()
        if self.sequence is not None and self.packets < self.sequence.count:
            self._check_empty_stop(self.sequence.first + self.packets)
        if y4m and self._y4m_end is not None:             # the demuxer drops a frame cut short without a word
            self.cut_frame = y4m_cut(self._held(), *self._y4m_end)
            self._partial = self.cut_frame is not None
        if self._gif_cut is not None:                       # its last packet was left out (_read_ahead)
            self.cut_frame, self._partial = self._gif_cut, True
        # as many frames read as the duration its header declares holds at its rate (a frame lost to the cut
        # may be one that B-frames put before others: the last timestamp would not tell)
        info = self.info
        span = info.duration - info.video_start
        whole = span > 0 and self.packets == round(span * info.fps)
        cut = premature_end(self._cut_said, self._container.format.name, whole)
        if cut is not None:                                 # the frames before the cut are whole
            self.cut_frame, self._partial = cut, not whole
        if self._src is not None:                           # a stream's size is known once it is read
            self.partial_packet = partial_packet(self._held(), self._container.format.name, "input")

    def _read_ahead(self, packets: Iterator[av.Packet]) -> Iterator[av.Packet]:
        """``packets`` (the demuxer's, of a :data:`LAST_DELAY_FORMATS` input) as they come, all of them demuxed
        first, up to :data:`READ_AHEAD_BYTES` (the compressed packets, not the frames, are held), so that the last
        one's duration, the last frame's own delay, is known before the first frame is given (:attr:`_last_delay`):
        the writer takes it when it starts (:attr:`~vidcolor.io.timing.Timeline.last_duration`). A GIF on stdin
        that held its last frame 2 s kept it one mean interval, where the same file given by name keeps it. An input
        larger than that, or whose demuxing fails (raised after the packets before it), keeps no last delay.

        A GIF read whole whose last frame's data is cut (:func:`~vidcolor.io.truncation.gif_cut`): its last
        packet, which FFmpeg decodes to a frame whose cut part is the frame before's, is left out, and
        :attr:`cut_frame` says so once the iteration has ended (counted in :attr:`missing`), as of a cut GIF file
        read through Pillow."""
        kept, held, error, more = [], 0, None, False
        try:
            for packet in packets:
                kept.append(packet)
                held += packet.size
                if held > READ_AHEAD_BYTES:
                    more = True
                    break
            else:
                sized = [p for p in kept if p.size]
                if sized and self._container.format.name == "gif":
                    self._gif_cut = gif_cut(bytes(sized[-1]))
                    if self._gif_cut is not None:
                        kept.remove(sized.pop())
                if sized and sized[-1].duration and sized[-1].duration > 0:
                    self._last_delay = int(sized[-1].duration)
        except av.FFmpegError as exc:           # damage: raised where the packets before it have been decoded
            error = exc
        yield from kept
        if error is not None:
            raise error
        if more:                                # (PyAV's ended demuxer raises StopIteration again inside this one)
            yield from packets

    def _held(self) -> int:
        """The bytes the input held: a file's size, or what was read of a pipe (whose size is unknown); 0 where
        neither is known."""
        size = self._container.size
        return size if size > 0 else (self._src.count if isinstance(self._src, Rewindable) else 0)

    def _refused(self, exc: av.FFmpegError, packet) -> VidcolorError:
        """The error for ``packet``, which the decoder refused after the first frame (with :data:`DECODE_THREADS`,
        each refusal is raised at its own packet): its damage, named by the time of the frame it holds, its
        presentation timestamp in seconds from the input's start (as the output's 0: :attr:`VideoInfo.start`), which
        is exact where frames are reordered (B-frames: a count of the frames given before it named another frame);
        by that count where the packet has no timestamp. Where the decoder's size is no longer the stream's,
        the frame size changed there (:meth:`_size_change`), which is no damage:
        ffmpeg refuses a frame above :data:`~vidcolor.io.limits.MAX_PIXELS` once it has taken its size (a
        16000x16000 H.264 frame after 500 of 64x48: the decoder's size reads 16000x16000; HEVC's refusal is 'Cannot
        allocate memory'); the frames the decoder still holds then (reordered ones, decoded before the refused
        packet) count into the frame number, as the decoder is drained."""
        ctx = self._stream.codec_context
        size = (ctx.width, ctx.height)
        if self._size is not None and min(size) > 0 and size != self._size:
            try:
                held = len(ctx.decode(None))
            except av.FFmpegError:
                held = 0
            return self._size_change(self.decoded + held, *size)
        pts = packet.pts if packet.pts is not None else packet.dts
        tb = self.info.time_base
        where = (frame_path(self.source, self._number_of(packet)).name if self.sequence is not None else
                 f"the frame at {float(pts * tb) - self.info.start:.3f} s" if pts is not None and tb else
                 f"frame {self.decoded}")
        return DamagedInput(f"{_name(self.source)}: {where} cannot be decoded ({error_reason(exc)}): the input is "
                            "damaged there")

    def _number_of(self, packet) -> int:
        """The number of the image sequence's file that ``packet`` (or a frame decoded from it) holds: image2 gives
        the file ``first + i`` the timestamp ``i`` (in frames: its time base is one frame)."""
        return self.sequence.first + round(packet.pts * self.info.time_base * self.info.fps)

    def _size_change(self, index: int, width: int, height: int) -> VidcolorError:
        """The error for frame ``index`` of ``width`` x ``height`` in a stream whose frames are of another size
        (two streams joined, a resolution change): the encoder has one size; a size above the frame-size limits
        (:func:`~vidcolor.io.limits.check_frame_size`) is named as such."""
        w, h = self._size
        change = f"{_name(self.source)}: the frame size changes at frame {index} ({w}x{h} -> {width}x{height})"
        try:
            check_frame_size(width, height, _name(self.source))
        except VidcolorError:
            return VidcolorError(f"{change}, which is too large (at most {limits.MAX_SIDE} px a side and "
                                 f"{limits.MAX_PIXELS // 1_000_000} megapixels)")
        return VidcolorError(f"{change}; split the input there")

    def _check_size(self, width: int, height: int, header: bool = False) -> None:
        """:func:`~vidcolor.io.limits.check_frame_size`, closing the container before the error goes up.

        ``header``: the size is the probe's; 0x0 there means that ffmpeg refused a frame above
        :data:`~vidcolor.io.limits.MAX_PIXELS` without allocating it (:func:`open_input`), or found no size: either way
        nothing can be decoded (``VidcolorError``: frame size unknown or above the limit)."""
        try:
            if header and (width < 1 or height < 1):
                raise _size_unknown(self.source, self._container)
            check_frame_size(width, height, _name(self.source))
        except VidcolorError:
            self.close()
            raise

    @staticmethod
    def _open_raw_file(source) -> BinaryIO:
        if isinstance(source, (str, Path)):
            if not Path(source).exists():
                raise VidcolorError(f"{source}: no such file")
            try:
                return open(source, "rb")
            except OSError as exc:              # a folder, no permission
                raise VidcolorError(f"{source}: cannot read raw frames ({exc.strerror or exc})") from None
        return source

    def _read_raw(self) -> np.ndarray | None:
        """The next raw frame, uint8 ``(H, W, 3)``, None at the end. Input that ends inside a frame after whole ones
        ends the frames there (:attr:`cut_frame`, counted in :attr:`missing`); inside the first, it raises
        (VidcolorError: naming the byte counts, as :func:`~vidcolor.io.truncation.raw_cut` does)."""
        w, h = self.raw_size
        n = w * h * 3
        buf = read_some(self._raw, n, self._raw_waits)
        if self._first is None:
            self._head, self._raw_bytes = bytes(buf[:16]), 0
        self._raw_bytes += len(buf)
        if not buf:
            return None
        chunks, got = [buf], len(buf)           # a pipe gives 64 KiB a read: joined once, not copied at each
        while got < n:
            more = read_some(self._raw, n - got, self._raw_waits)
            self._raw_bytes += len(more)
            if not more:
                cut = raw_cut(self._raw_bytes, w, h, self._head)
                if self._first is None:                     # not one whole frame
                    raise VidcolorError(f"{_name(self.source)}: {cut}; check {option('raw_size', '--raw')} (and "
                                        "that the frames are rgb24)")
                self._partial = True                        # the frames before it are whole: see `missing`
                self.cut_frame = cut
                return None
            chunks.append(more)
            got += len(more)
        return np.frombuffer(chunks[0] if len(chunks) == 1 else b"".join(chunks), np.uint8).reshape(h, w, 3)

    def __iter__(self) -> Iterator[np.ndarray]:
        """The frames, uint8 RGB ``(H, W, 3)`` in display orientation (uint16 where :attr:`deep`).

        Raises:
            ValueError: the reader is closed (:meth:`close`, or the end of its ``with`` block): at once, and at the
                next frame of an iterator made before (it would go on demuxing a closed container: that crashed
                Python); or it was iterated before (a reader is single-pass: a second iteration gave frame 0
                again, then nothing).
        """
        self._check_open()
        if self._iterated:
            raise ValueError(f"{_name(self.source)}: the reader was iterated before (it is single-pass: open the "
                             "source again to read it again)")
        self._iterated = True
        return self._raw_frames() if self.raw_size is not None else self._video_frames()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{_name(self.source)}: the reader is closed")

    def _raw_frames(self) -> Iterator[np.ndarray]:
        frame = self._first
        while frame is not None:
            self.timeline.add(None)
            yield frame
            self._check_open()
            frame = self._read_raw()

    def _video_frames(self) -> Iterator[np.ndarray]:
        rot = (self.info.rotation, self.info.mirrored)
        self.decoded = 1
        grid, origin = self._grid, self._first.pts
        self.timeline.add(self._first.pts if grid is None else grid.ticks(origin, origin))
        yield rotate_frame(frame_to_rgb(self._first, self.deep), rot)
        self._check_open()                                      # before each frame is demuxed
        try:
            for i, frame in enumerate(self._frames, 1):
                if (frame.width, frame.height) != self._size:    # e.g. two streams joined: the encoder has one size
                    raise self._size_change(i, frame.width, frame.height)
                self.decoded = i + 1
                if self._alpha_unseen and _transparent(frame):      # a GIF's first transparent pixel
                    self.info.alpha, self._alpha_unseen = self._alpha_unseen, None
                    warn(alpha_dropped(_name(self.source), self.info.alpha))
                self.timeline.add(frame.pts if grid is None else grid.ticks(frame.pts, origin))
                yield rotate_frame(frame_to_rgb(frame, self.deep), rot)
                self._check_open()
        except av.FFmpegError as exc:
            raise VidcolorError(f"{_name(self.source)}: decoding failed ({error_reason(exc)})") from None

    @property
    def missing(self) -> int:
        """Frames lost, once the iteration has ended: those the container declares whose packets could not be
        read (a truncated or damaged file; none counted where the container declares no count: stdin, Matroska),
        and the packets the decoder refused (:attr:`refused`). Frames that an edit list hides (an mp4 cut at a
        frame after a keyframe) are not missing. Raw and y4m input: 1 more when it ended inside a frame after whole
        ones (:attr:`cut_frame`; the iteration stops there)."""
        if self.raw_size is not None:
            return int(self._partial)
        return (max(0, self.info.frames - self.packets) if self.info.frames else 0) + self.refused + int(self._partial)

    def close(self) -> None:
        """Release the file (a raw file object or stdin given is left open). Idempotent; iterating afterwards is a
        ``ValueError`` (:meth:`__iter__`)."""
        self._closed = True
        raw = getattr(self, "_raw", None)
        if raw is not None and raw is not getattr(sys.stdin, "buffer", None) and isinstance(self.source, (str, Path)):
            raw.close()
        frames = getattr(self, "_frames", None)
        if frames is not None and frames.gi_running:
            # still demuxing in a thread that a stopped run left in a read of FFmpeg's own (a named pipe given by its
            # path that stays silent: executor.JOIN_S): closing it there raised "generator already executing" in
            # place of the signal, and closing the container under it could crash; both are left to the thread
            return
        if frames is not None:                  # its demuxer before the container
            frames.close()
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
