"""Encoding with the ffmpeg executable: rgb24 frames (rgb48le from sources of more than 8 bits) on its stdin; audio,
subtitles and metadata mapped from the source.

The frames go to ffmpeg as rawvideo packets in a NUT stream (muxed by PyAV), each with its presentation
timestamp, so the source's timing is kept frame by frame (variable frame rate included). The command
line is built by ffmpeg-python (a list of arguments, never a shell string). A file is
written under a temporary name beside the target and renamed only when ffmpeg succeeded, so a failed
or interrupted run never leaves a half-written output; one killed outright (SIGKILL), which can remove nothing,
leaves it unlocked, and the next run writing the same output removes it (:func:`~vidcolor.io.partial.partial_file`). GIF output is made in two passes through temporary
files (:meth:`VideoWriter._gif_passes`), removed on every exit path as the partial output is.
"""
from __future__ import annotations

import contextlib
import errno
import functools
import numbers
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import ffmpeg
import numpy as np

from vidcolor.errors import VidcolorError, option, warn
from vidcolor.io.convert import SWS_FLAGS, format_bits, full_scale16, graph_args, graph_url, with_sws_flags
from vidcolor.io.files import default_file_mode
from vidcolor.io.limits import check_frame_size
from vidcolor.io.partial import cannot_write, discard, partial_file
from vidcolor.io.sequences import (FIRST_OUTPUT_NUMBER, check_sequence_target, frame_path, image2_path,
                                   is_sequence)
from vidcolor.io.timing import Timeline

MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}
"""Audio codecs stream-copied into mp4; there PCM and other lossless codecs become ALAC (lossless stays lossless:
PCM had become AAC at about 70 kb/s) and the rest AAC (mp4 is for playing anywhere)."""
MOV_AUDIO = {"aac", "mp3", "mp2", "ac3", "eac3", "alac"}
"""Audio codecs stream-copied into mov, besides PCM; there FLAC becomes ALAC (lossless stays lossless) and the
others AAC (ffmpeg's mov muxer takes FLAC and Opus in mp4 only). Matroska copies every codec, NUT all but
:data:`NOT_IN_NUT`."""
LOSSLESS_AUDIO = {"flac", "alac", "wavpack", "tta", "truehd", "mlp"}
"""Lossless audio codecs besides PCM (``pcm_*``)."""
NOT_IN_NUT = {"alac", "tta", "truehd", "mlp"}
"""Lossless audio codecs that ffmpeg's NUT muxer has no codec tag for ('No codec tag defined for stream 1'): they
become FLAC there (NUT takes FLAC, PCM, WavPack, AAC, Opus, Vorbis, MP3, AC-3, DTS...)."""

CODECS = ("libx264", "libx265", "h264_nvenc", "hevc_nvenc", "ffv1", "prores")
"""Video encoders: x264/x265 on the CPU; NVIDIA's NVENC (needs an NVIDIA GPU and driver; ``crf`` is then
NVENC's constant-quality ``-cq`` in VBR mode, ``preset`` its preset name, e.g. ``medium`` or ``p5``); for
archives, lossless FFV1 (version 3, intra, slice CRCs; ``.mkv``) and ProRes (``prores_ks``: 422 HQ, or 4444
for 4:4:4 output; ``.mov``), which ignore ``crf`` and ``preset``."""
TUNES = ("grain", "film", "animation", "psnr", "ssim", "fastdecode", "zerolatency", "stillimage")
"""x264 ``--tune`` values (x265 has all but film and stillimage); the default is none. ``grain`` (smaller
dead zones, weaker adaptive quantization) keeps more of what dequantization gains over the input written
the same way, but not more fidelity per byte: see :class:`vidcolor.jobs.Job`."""
X265_TUNES = tuple(t for t in TUNES if t not in ("film", "stillimage"))
"""The :data:`TUNES` that x265 takes too."""
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")
"""x264's and x265's ``--preset`` names, fastest first (NVENC has names of its own)."""


def x264_preset_name(preset: str) -> str:
    """The x264 preset name that ``preset`` stands for, as x264 reads it: in lower case (``MEDIUM``), and a number
    0-9 as the name at that place of :data:`X264_PRESETS` (``5``: ``medium``); anything else as it is."""
    if preset.isascii() and preset.isdigit() and int(preset) < len(X264_PRESETS):
        return X264_PRESETS[int(preset)]
    return preset.lower()


def check_preset(codec: str, preset) -> None:
    """Refuse a ``preset`` that is no name, or that x264 or x265 does not have, before any work: ffmpeg refused an
    unknown one only once the first frames were processed ("invalid preset 'bogus'"); and ffmpeg-python writes an
    option whose value is None as a flag alone, so ``preset=None`` took the next argument for the preset and the one
    after it for an output, an empty file named ``area+accurate_rnd+full_chroma_int`` left in the current folder.
    x264 takes :data:`X264_PRESETS` in any case (``SLOW``) and the numbers 0-9 (ultrafast to placebo); x265 takes
    them and the numbers too, but in lower case alone (it refuses ``Fast``). Other encoders' names (NVENC's
    p1-p7...) are theirs to check; FFV1 and ProRes are given no preset (:func:`encoder_args`), so theirs is not
    checked (None included).

    Raises:
        VidcolorError: naming the value (and x264's and x265's presets).
    """
    if codec in ("ffv1", "prores"):
        return
    if not isinstance(preset, str) or not preset or preset.startswith("-"):
        raise VidcolorError(f"{option('preset')} must be the encoder's preset name (medium, slow, p5...), got "
                            f"{preset!r}")
    number = preset.isascii() and preset.isdigit() and int(preset) < 10
    if codec == "libx264" and not (number or preset.lower() in X264_PRESETS) or \
            codec == "libx265" and not (number or preset in X264_PRESETS):
        raise VidcolorError(f"{option('preset')} {preset!r} is not one of {codec}'s: {', '.join(X264_PRESETS)} "
                            f"(or 0-9)")


def check_tune(codec: str, tune: str | None) -> None:
    """Refuse a ``tune`` that ``codec`` does not have (x264's film and stillimage with libx265), before any work:
    ffmpeg refused it only once the first frames were processed ('Error setting preset/tune medium/film').

    Raises:
        VidcolorError: naming the tunes the codec takes.
    """
    if codec == "libx265" and tune is not None and tune not in X265_TUNES:
        raise VidcolorError(f"{option('tune')} {tune} is x264's; libx265 takes {', '.join(X265_TUNES)}")


PIX_FMTS = ("yuv420p", "yuv444p", "yuv420p10le", "yuv444p10le")
"""Output pixel formats: 4:2:0 (default, universal) or 4:4:4 (full-resolution chroma), 8 or 10 bits (10 bits
keep restored gradients from being banded again by the encode). A frame with an odd side is written 4:4:4
(4:2:0 needs even sides), so its size is kept exactly."""


DEEP_CODECS = ("libx265", "ffv1")
"""Encoders whose default pixel format for a source of more than 8 bits per sample that the job keeps at its depth
is ``yuv420p10le`` (:func:`default_pix_fmt`): 10-bit HEVC (Main10) plays on phones, TVs, Safari and most hardware
decoders, and FFV1 is an archive's. libx264 keeps ``yuv420p``: H.264 in 10 bits (High 10) does not play in
browsers, QuickTime or on most hardware decoders, so a 10-bit ``pix_fmt`` is the user's choice there
(:data:`TEN_BIT_CODECS`). ProRes is 10-bit whatever it is given. NVENC keeps ``yuv420p``: its H.264 has no 10-bit
mode, and its HEVC is 10-bit where a 10-bit ``pix_fmt`` is given (ffmpeg hands it ``p010le``, its own format)."""
TEN_BIT_CODECS = ("libx264", "libx265", "ffv1", "hevc_nvenc")
"""Encoders that write a 10-bit ``pix_fmt`` given one (:data:`DEEP_CODECS`, libx264 and hevc_nvenc; h264_nvenc is
refused one, :func:`check_encoding`), which the warning of a deep source processed at 8 bits suggests
(:func:`~vidcolor.source_warnings.eight_bit_reason`)."""


SEQUENCE_PIX_FMTS = {"png": ("rgb24", "rgb48be"), "tiff": ("rgb24", "rgb48le"), "dpx": ("rgb24", "gbrp10le", "rgb48le"),
                     "mjpeg": ("yuvj444p",)}
"""The encoders of an image sequence's frames (:data:`~vidcolor.io.sequences.SEQUENCE_CODECS`) -> the pixel formats
vidcolor writes them at, 8-bit first, deepest last (:func:`default_pix_fmt`): RGB, as a grading tool reads a scan,
16 bits in PNG and TIFF, 10 (a film scanner's DPX) or 16 in DPX; JPEG holds 8 bits, full-range 4:4:4 (FFmpeg's
pick for RGB frames)."""


def default_pix_fmt(codec: str, deep: bool, bits: int = 16) -> str:
    """The output pixel format when none is given: ``yuv420p10le`` for ``deep`` frames (a source of more than 8 bits
    per sample, decoded at 16) where ``codec`` is one of :data:`DEEP_CODECS`, else ``yuv420p``. An image sequence's
    frames (``codec`` of :data:`SEQUENCE_PIX_FMTS`): ``rgb24``, and for ``deep`` frames the shallowest of the codec's
    formats that holds the source's ``bits`` per sample (a 10-bit scan: 10-bit DPX, ``gbrp10le``; a 12- or 16-bit one
    16-bit, ``rgb48le``), else its deepest."""
    if codec in SEQUENCE_PIX_FMTS:
        fmts = SEQUENCE_PIX_FMTS[codec]
        if not deep:
            return fmts[0]
        return next((f for f in fmts if format_bits(f) >= bits), fmts[-1])
    return "yuv420p10le" if deep and codec in DEEP_CODECS else "yuv420p"


def encoded_bits(codec: str, pix_fmt: str) -> tuple[str, int]:
    """The pixel format that ``codec`` is given for ``pix_fmt`` (:func:`encoder_args`'s: ProRes takes ``yuv422p10le``
    or ``yuv444p10le``) and its bits per sample: what the output keeps of a deeper source (a 12-bit ProRes 4444 or a
    16-bit FFV1 scan comes out at 10), for :func:`~vidcolor.io.reader.warn_about_source`."""
    fmt = encoder_args(codec, pix_fmt, 16, "medium", 2, 2)["pix_fmt"]
    return fmt, format_bits(fmt)


def holds_deep(codec: str, pix_fmt: str) -> bool:
    """Whether video encoded by ``codec`` at ``pix_fmt`` (:func:`encoder_args`'s) holds more than 8 bits per sample."""
    return encoded_bits(codec, pix_fmt)[1] > 8


TEXT_SUBTITLES = {"subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text"}
"""Subtitle codecs that mp4/mov can carry (converted to ``mov_text``); bitmap ones (DVD, PGS, DVB) cannot.
Matroska cannot hold ``mov_text``: it becomes SubRip there. NUT holds only :data:`NUT_SUBTITLES`: the other text
ones become ASS there."""
BITMAP_SUBTITLES = {"hdmv_pgs_subtitle", "dvd_subtitle", "dvb_subtitle", "xsub"}
"""Subtitle codecs of pictures, which Matroska holds (the warning of a track left out of mp4, mov or NUT says so)."""
NUT_SUBTITLES = {"ass", "ssa", "text", "dvd_subtitle", "dvb_subtitle", "dvb_teletext"}
"""Subtitle codecs that ffmpeg's NUT muxer has a codec tag for (SubRip, WebVTT, mov_text and PGS have none: the
muxer refused the whole output, 'No codec tag defined for stream 3', where NUT is stdout's default)."""


def audio_codec_in(fmt: str | None, name: str) -> str:
    """The audio codec (ffmpeg's ``-c:a`` value: ``copy`` or an encoder) that carries a source track of codec
    ``name`` into the container format ``fmt`` (:data:`MP4_AUDIO`, :data:`MOV_AUDIO`, :data:`NOT_IN_NUT`)."""
    if fmt == "mp4":
        if name in MP4_AUDIO:
            return "copy"
        return "alac" if name in LOSSLESS_AUDIO or name.startswith("pcm_") else "aac"
    if fmt == "mov":
        if name in MOV_AUDIO or name.startswith("pcm_"):
            return "copy"
        return "alac" if name in LOSSLESS_AUDIO else "aac"
    if fmt == "nut" and name in NOT_IN_NUT:
        return "flac"
    return "copy"


def subtitle_codec_in(fmt: str | None, name: str) -> str | None:
    """The subtitle codec (``-c:s``: ``copy`` or an encoder) that carries a source track of codec ``name``
    into the container format ``fmt``; None where it cannot go (bitmap subtitles in mp4/mov, PGS in NUT, and
    captions that are neither text nor bitmap there: eia_608, ttml, arib_caption, ...)."""
    if fmt in ("mp4", "mov"):
        return "mov_text" if name in TEXT_SUBTITLES else None
    if fmt == "nut" and name not in NUT_SUBTITLES:
        return "ass" if name in TEXT_SUBTITLES else None
    return "srt" if fmt == "matroska" and name == "mov_text" else "copy"


@dataclass(frozen=True)
class Passthrough:
    """What an output takes from its source file besides the video.

    Every audio stream (stream-copied, or AAC where mp4/mov cannot hold its codec), every subtitle stream
    (copied; in mp4/mov text subtitles become ``mov_text`` and bitmap ones are dropped, with a warning),
    Matroska's attachments into Matroska (the fonts that ASS subtitles are drawn with, cover images; no other
    container holds them), the global metadata (title, date...) and the chapters (when another stream is carried:
    the source is then an input of the encoder); streams keep their own metadata (language, an attachment's
    file name and MIME type), and so does the processed video: its language, title and handler name
    (:data:`~vidcolor.io.reader.VIDEO_TAGS`, with or without other streams). The first frame's timecode is written
    into mp4, mov (a ``tmcd`` track) and Matroska.

    On stdin (or another input read once) nothing can be copied from the source (:meth:`of_stream`): its
    :attr:`source` is None, and the output takes only what its probe told: the video's start (the
    :meth:`video_delay`), tags and disposition, and the timecode.

    Attributes:
        source: the source file (None: a stream read once, :meth:`of_stream`).
        audio: the source's audio codec names, in stream order (empty: no audio carried).
        subtitles: its subtitle codec names, in stream order.
        attachments: its number of attached files.
        timecode: its first frame's SMPTE timecode (:attr:`~vidcolor.io.VideoInfo.timecode`), or None.
        others: the streams no output carries (:attr:`~vidcolor.io.VideoInfo.others`), named in a warning.
        video_tags: the source video stream's tags that the output's video stream takes
            (:attr:`~vidcolor.io.VideoInfo.video_tags`), as ``(name, value)`` pairs.
        video_disposition: the output video stream's disposition flags (FFmpeg's names): the source video stream's
            (:attr:`~vidcolor.io.VideoInfo.disposition`), and ``default`` always (:func:`_dispositions`).
        defaults: whether each source audio and each subtitle stream is marked default
            (:attr:`~vidcolor.io.VideoInfo.audio_defaults`, :attr:`~vidcolor.io.VideoInfo.subtitle_defaults`).
        starts: the source's video start time and its container's (the earliest of its streams'), seconds:
            every output stream is moved back by the container's start (ffmpeg takes the source's streams from it),
            so the video, delayed by the difference, keeps its offset from it whether or not the other streams are
            carried (:meth:`video_delay`): the source's start is the output's 0.
    """

    source: Path | None
    audio: tuple[str, ...] = ()
    subtitles: tuple[str, ...] = ()
    starts: tuple[float, float] = (0.0, 0.0)
    attachments: int = 0
    timecode: str | None = None
    others: tuple[str, ...] = ()
    video_tags: tuple[tuple[str, str], ...] = ()
    video_disposition: tuple[str, ...] = ("default",)
    defaults: tuple[tuple[bool, ...], tuple[bool, ...]] = ((), ())

    @classmethod
    def of(cls, source: str | Path | None, info, audio: bool = True) -> "Passthrough":
        """From a :class:`~vidcolor.io.VideoInfo` of ``source``; ``audio=False`` drops the audio only."""
        return cls(Path(source) if source is not None else None, tuple(info.audio_codecs) if audio else (), tuple(info.subtitle_codecs),
                   (info.video_start, info.start), info.attachments, info.timecode, info.others,
                   tuple(info.video_tags.items()),
                   ("default", *(f for f in info.disposition if f != "default")),
                   (tuple(info.audio_defaults) if audio else (), tuple(info.subtitle_defaults)))

    @classmethod
    def of_stream(cls, info) -> "Passthrough":
        """For a source read once (stdin, a pipe): from a :class:`~vidcolor.io.VideoInfo` of it, what its video stream
        says of itself: its start relative to the earliest stream's (:meth:`video_delay`: an output of a video that
        starts 0.417 s after its audio starts at 0.417 s, as from the named file with ``audio=False``), its tags and
        its disposition, and the first frame's timecode (a piped Matroska's tag; an mp4's or mov's ``tmcd`` track
        holds it in a sample that a pipe cannot go back to, so none is known there). Nothing is copied from it (the
        encoder cannot read it again)."""
        full = cls.of(None, info, audio=False)
        return cls(None, starts=full.starts, timecode=full.timecode, video_tags=full.video_tags,
                   video_disposition=full.video_disposition)

    def video_delay(self) -> float:
        """Seconds by which the video is delayed: its offset from the source container's start (ffmpeg subtracts
        that start from the source's timestamps, as it does from every input's by default), with or without the
        audio and subtitles: an output without them shows each frame when the source does, counted from the
        source's start, as ``ffmpeg -an`` writes an mp4 or Matroska source (a video that starts 0.52 s after its
        audio starts at 0.52 s), and the source's audio muxed back in is in sync."""
        v_start, start = self.starts
        return max(0.0, v_start - start)


def square_pixels(width: int, height: int, pixel_aspect: Fraction) -> tuple[int, int]:
    """The size that shows a ``width`` x ``height`` frame of pixels ``pixel_aspect`` wide (width:height of one
    pixel) with square pixels, for a format that cannot mark non-square ones (GIF): the side that is too short is
    lengthened (wide pixels: the width times the ratio; tall ones: the height divided by it), rounded to the
    nearest pixel, so no detail is dropped. GIF has no chroma subsampling: odd sizes are kept as they come."""
    if pixel_aspect >= 1:
        return max(1, round(width * pixel_aspect)), height
    return width, max(1, round(height / pixel_aspect))


def check_encoding(codec: str, pix_fmt: str, preset: str, tune: str | None, x264_params: str | None) -> None:
    """The encoder's options as :class:`VideoWriter` takes them: ``codec`` one of :data:`CODECS`, ``pix_fmt`` of
    :data:`PIX_FMTS` (an 8-bit one with h264_nvenc: NVENC's H.264 has no 10-bit mode; hevc_nvenc takes a 10-bit one,
    which ffmpeg gives it as ``p010le`` or ``yuv444p16le``), ``preset`` a name the codec takes (:func:`check_preset`), ``tune`` None or one of :data:`TUNES`
    that the codec takes (:func:`check_tune`), ``x264_params`` options x264 takes (:func:`check_x264_params`);
    :func:`vidcolor.api.process` asks before a model loads.

    Raises:
        VidcolorError: naming the option and its value.
    """
    if codec in SEQUENCE_PIX_FMTS:                   # an image sequence's frames: chosen by its suffix
        if pix_fmt not in SEQUENCE_PIX_FMTS[codec]:
            raise VidcolorError(f"unknown pixel format {pix_fmt!r} for {codec} frames (choose "
                                f"{', '.join(SEQUENCE_PIX_FMTS[codec])})")
        return
    if codec not in CODECS:
        raise VidcolorError(f"unknown codec {codec!r} (choose {', '.join(CODECS)})")
    if pix_fmt not in PIX_FMTS:
        raise VidcolorError(f"unknown pixel format {pix_fmt!r} (choose {', '.join(PIX_FMTS)})")
    if codec == "h264_nvenc" and pix_fmt.endswith("10le"):
        hevc = option("codec='hevc_nvenc'")
        raise VidcolorError(f"h264_nvenc has no 10-bit mode: use {hevc} for {pix_fmt}, or an 8-bit "
                            f"{option('pix_fmt')} (yuv420p, yuv444p)")
    check_preset(codec, preset)
    if tune is not None and tune not in TUNES:
        raise VidcolorError(f"unknown tune {tune!r} (choose {', '.join(TUNES)})")
    check_tune(codec, tune)
    if x264_params is not None and not isinstance(x264_params, str):
        raise VidcolorError(f"{option('x264_params')} must be x264's options as a str (key=value:key=value), got "
                            f"{x264_params!r}")
    if codec == "libx264" and x264_params:
        check_x264_params(x264_params)


def encoder_args(codec: str, pix_fmt: str, crf: int, preset: str, width: int, height: int,
                 tune: str | None = None, x264_params: str | None = None) -> dict:
    """ffmpeg output options for the video encoder (``vcodec``, ``pix_fmt`` and the codec's own).

    ``tune`` (one of :data:`TUNES`, or None) is passed to x264/x265 only; ``x264_params`` (x264 options on
    top of the preset, ``key=value:key=value`` as ffmpeg's ``-x264-params``; None or empty: none) to x264
    only. Other encoders ignore them.
    """
    if codec in SEQUENCE_PIX_FMTS:                   # image frames: no rate control; JPEG at ffmpeg users' -q:v 2
        return {"vcodec": codec, "pix_fmt": pix_fmt, **({"q:v": 2} if codec == "mjpeg" else {})}
    odd = bool(width % 2 or height % 2)
    if codec == "prores":
        full = pix_fmt.startswith("yuv444") or width % 2      # 4:2:2 needs an even width
        return {"vcodec": "prores_ks", "profile:v": 4 if full else 3, "pix_fmt": "yuv444p10le" if full else "yuv422p10le"}
    if odd and pix_fmt.startswith("yuv420"):
        pix_fmt = pix_fmt.replace("420", "444")
    args: dict = {"vcodec": codec, "pix_fmt": pix_fmt}
    if codec == "ffv1":
        args.update(level=3, g=1, slicecrc=1)
    elif codec.endswith("_nvenc"):
        args.update({"preset": preset, "rc": "vbr", "cq": crf, "b:v": 0})
    else:
        args.update(preset=preset, crf=crf, **({"tune": tune} if tune else {}))
        if codec == "libx264" and x264_params:
            args["x264-params"] = x264_params
    return args


@functools.lru_cache(maxsize=16)
def check_x264_params(x264_params: str) -> None:
    """Check that x264 knows every option of ``x264_params`` (``key=value:key=value``) and takes its value:
    ffmpeg would only warn and encode without it. One frame of 16x16 pixels is encoded with them (about 30 ms;
    the answer is kept per string).

    Raises:
        VidcolorError: an option x264 rejects (named), ffmpeg missing or failing.
    """
    args = [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "warning", "-f", "lavfi", "-i",
            "color=size=16x16:duration=0.04", "-frames:v", "1", "-c:v", "libx264", "-x264-params", x264_params,
            "-f", "null", "-"]
    try:
        done = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              **child_options())
    except OSError as exc:
        raise VidcolorError(f"cannot start ffmpeg ({exc.strerror or exc})") from None
    log = done.stderr.decode(errors="replace")
    bad = re.findall(r"Error parsing option '([^']*)'", log)
    if bad:
        raise VidcolorError(f"x264 rejects {', '.join(repr(b.replace(' = ', '=')) for b in bad)} "
                            f"in the x264 options {x264_params!r}")
    if done.returncode != 0:
        raise VidcolorError(f"ffmpeg failed with the x264 options {x264_params!r}: "
                            f"{log.strip().splitlines()[-1] if log.strip() else 'no message'}")


STOPPED_BY = "ffmpeg was stopped by "
"""How :class:`VideoWriter`'s error begins where a signal alone ended ffmpeg (its name follows)."""


def keeps_chroma(codec: str, pix_fmt: str | None) -> bool:
    """Whether an encode keeps the chroma it is given, pixel for pixel: a lossless codec (FFV1) at 4:4:4. 4:2:0
    and 4:2:2 halve it, lossy codecs smooth it at any pixel format, GIF (``pix_fmt`` None) re-quantizes it."""
    return codec == "ffv1" and (pix_fmt or "").startswith("yuv444")


def find_ffmpeg() -> str:
    """Path of the ffmpeg executable: from PATH first, else the one shipped in the imageio-ffmpeg wheel.

    Raises:
        VidcolorError: if neither exists.
    """
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise VidcolorError("ffmpeg not found: install it or `pip install imageio-ffmpeg`") from None


PR_SET_PDEATHSIG = 1
"""Linux ``prctl`` option: the signal a process gets when the thread that started it ends."""


@functools.lru_cache(maxsize=1)
def _prctl():
    """libc's ``prctl`` (Linux; None elsewhere, or where it cannot be found), looked up once, in the parent: the
    child between fork and exec looks nothing up."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError, ImportError):
        return None


def _die_with(parent: int, prctl, sig) -> None:
    """(In the child, between fork and exec.) Ask for SIGKILL when the parent's starting thread ends; if the parent
    is already gone (it died before the request), die now. Only a foreign call and two system calls: no lock is
    taken but the GIL, which the forking thread holds, so the other threads of the parent cannot deadlock it."""
    if prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0 and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def child_options() -> dict:
    """Keyword arguments for :mod:`subprocess` (``Popen``, ``run``) that make a child process die with vidcolor:
    on Linux the child asks for ``SIGKILL`` when its parent dies (``prctl(PR_SET_PDEATHSIG)``), so a vidcolor that
    is killed hard (``kill -9``, the out-of-memory killer), which can clean nothing up, leaves no ffmpeg working on
    (it went on writing a GIF for seconds, re-parented to init). Elsewhere: none (``{}``).

    The signal comes when the *thread* that started the child ends: a child must be waited for by a thread that
    lives as long as it (every vidcolor caller does: the writer is opened and closed by the same call). The hook
    forces ``fork`` instead of ``vfork``, a few milliseconds more per ffmpeg started.
    """
    prctl = _prctl()
    if prctl is None:
        return {}
    import ctypes

    return {"preexec_fn": functools.partial(_die_with, os.getpid(), prctl, ctypes.c_ulong(signal.SIGKILL))}


GIF_SHORTEST_DELAY = Fraction(2, 100)
"""The shortest frame delay (s) that browsers show as written in a GIF, which holds delays in 1/100 s: Chrome,
Firefox and Safari show a frame of 0 or 1/100 s for 1/10 s, as early Netscape did. FFmpeg's gif muxer writes each
frame's delay as the step between the frames' times rounded to 1/100 s (the last frame's: its duration rounded), so a 60 fps clip's frames last 2, 1, 2,
2, 1... and every third one shows ten times as long there (:meth:`VideoWriter.close` warns)."""


def _centiseconds(pts: int, time_base: Fraction) -> int:
    """A frame's time or duration, ticks of ``time_base``, rounded to 1/100 s (half up), as FFmpeg's gif muxer
    rounds it."""
    return int(pts * time_base * 100 + Fraction(1, 2))


class VideoWriter:
    """Encode uint8 RGB frames ``(H, W, 3)`` (GIF with ``alpha``: RGBA ``(H, W, 4)``) to a video file or to stdout.

    Args:
        target: output path, or ``"-"`` for stdout (nut container unless ``container`` says otherwise), or an image
            sequence's printf pattern (``out_%06d.tif``, :func:`~vidcolor.io.sequences.is_sequence`): one file a
            frame, numbered from ``start_number`` on, written by FFmpeg's image2 muxer with the encoder of its suffix
            (``codec`` and ``pix_fmt``: :data:`SEQUENCE_PIX_FMTS`, :func:`default_pix_fmt`); nothing but the frames
            (``passthrough``, ``colour`` and ``container`` are not taken). A frame of it that exists is refused
            without ``overwrite`` (:func:`~vidcolor.io.sequences.check_sequence_target`); the frames are written in
            place, one by one, and :meth:`abort` removes those written (with ``overwrite``, the earlier frames of
            those numbers are gone then); frames of an earlier sequence beyond the last one written are left, with a
            warning.
        width, height: frame size in pixels, kept exactly: a frame with an odd side is written 4:4:4 (4:2:0 needs
            even sides; see :data:`PIX_FMTS`).
        pix_fmt: ``yuv420p`` (default, plays everywhere) or ``yuv444p`` (full-resolution chroma: no
            second 4:2:0 resampling of the colour that vidcolor restored; not every player decodes it).
        fps: mean frame rate (frames per second, exact fraction); every frame is written once.
        timeline: the frames' timestamps (:class:`~vidcolor.io.timing.Timeline`; it may still be growing
            while frames are written: frame ``i`` takes ``timeline.pts_of(i)`` when it is written, and is then
            released from it, so it holds only the frames not yet written), kept exactly (the last frame lasts
            ``timeline.last_duration``, else one mean interval of ``fps``); its time base is kept as the mp4 track timescale when it is 1/N. None: a
            constant ``fps``.
        codec: one of :data:`CODECS` (default ``libx264``); ``crf``: constant rate factor (NVENC: ``-cq``);
            ``preset``: the encoder's preset; ``tune``: x264/x265 ``--tune`` (:data:`TUNES`; None: none;
            other encoders ignore it); ``x264_params``: x264 options on top of the preset, as ffmpeg's
            ``-x264-params`` (``key=value:key=value``; None: none; other encoders ignore it; an option x264
            does not know is refused before ffmpeg starts: :func:`check_x264_params`).
        passthrough: the audio, subtitles and metadata to take from the source (:class:`Passthrough`;
            None: the video alone).
        container: ffmpeg format name (``mp4``, ``matroska``, ``nut``, ``gif``...); default from the suffix. GIF
            output gets one 256-colour palette for the whole clip (``palettegen``) and sierra2_4a dithering;
            it carries nothing but the video and ignores the codec options. The palette needs every frame, so
            the frames go to a temporary lossless file (FFV1 in NUT) beside the output (stdout: in the system's
            temporary folder) while the palette is made, and :meth:`close` writes the GIF from it: ffmpeg's memory
            does not grow with the clip, the disk holds the clip once more until then (about 20 KB a frame at
            160x90, 220 KB at 640x360 for camera footage; pure noise: 3.4 bytes a pixel, more than raw RGB);
            see :meth:`_gif_passes`.
        overwrite: replace an existing file; otherwise an existing target is an error.
        colour: the source's colour description (:attr:`~vidcolor.io.VideoInfo.colour`): the frames are
            converted to YUV with its matrix and range, and the output is tagged with it (GIF: ignored). Every
            output's conversion takes :data:`~vidcolor.io.convert.SWS_FLAGS`, tags and pixel aspect or not
            (:func:`_compiled`).
        pixel_aspect: width:height of one pixel as shown (the sample aspect ratio; 1: square), tagged on the
            output. GIF cannot mark it (it showed squeezed): its frames are scaled to square pixels instead
            (:func:`square_pixels`).
        loop: GIF output's repeat count (:attr:`~vidcolor.io.VideoInfo.loop`: 0 forever, N more times, -1 once;
            None: forever). Other formats ignore it.
        alpha: (GIF output only) the frames are RGBA, and their alpha is kept as the GIF's transparency (one bit:
            ffmpeg's ``paletteuse`` makes alpha below 128 transparent).
        deep: the frames are uint16 RGB (0..65535; a source of more than 8 bits per sample), given to ffmpeg as
            ``rgb48le``, so that output of more than 8 bits (:func:`holds_deep`) keeps their precision. Not for GIF.
            White is :func:`~vidcolor.io.convert.frame_to_rgb`'s, :data:`~vidcolor.io.convert.WHITE16`; an image
            sequence's RGB frames get it at 65535 (:func:`~vidcolor.io.convert.full_scale16`).
        start_number: the number of an image sequence's first frame (image2's ``-start_number``); other
            targets ignore it.
        numbered_by_time: an image sequence's frames are numbered by their timestamps, not one by one: frame ``i``
            is ``start_number + timeline.pts_of(i) / timeline.step`` (image2's ``-frame_pts``), so that a frame the
            reader skipped (damaged, read with ``keep_going``) leaves its number out. For frames whose timestamps
            count frames, as an input image sequence's do (image2 gives its ``k``-th file the timestamp ``k``, in
            ``1 / fps``); other targets ignore it.

    Attributes:
        keeps_chroma: whether the encode keeps the frames' chroma pixel for pixel (:func:`keeps_chroma`).

    Raises:
        VidcolorError: target exists, a frame size outside :func:`~vidcolor.io.limits.check_frame_size`'s limits
            (a side < 1 included), an ``fps`` that is not an exact rate above 0 (an int or a Fraction: a float is
            refused), unknown codec, a file suffix that names no video format (without ``container``), ffmpeg
            missing, ffmpeg failed, (GIF) a temporary file cannot be created, or (:meth:`close`) no frame was
            written.
        ValueError: ``alpha`` for another format than GIF.
        BrokenPipeError: (writing to stdout) the reader closed the pipe.
    """

    def __init__(self, target: str | Path, width: int, height: int, fps: Fraction, codec: str = "libx264",
                 crf: int = 16, preset: str = "medium", passthrough: Passthrough | None = None,
                 timeline: Timeline | None = None, container: str | None = None, overwrite: bool = False,
                 pix_fmt: str = "yuv420p", tune: str | None = None, x264_params: str | None = None,
                 colour: dict[str, int] | None = None, pixel_aspect: Fraction = Fraction(1),
                 loop: int | None = None, alpha: bool = False, deep: bool = False,
                 start_number: int = FIRST_OUTPUT_NUMBER, numbered_by_time: bool = False):
        check_frame_size(width, height, "stdout" if str(target) == "-" else str(target))
        if not isinstance(fps, numbers.Rational) or fps <= 0:
            raise VidcolorError(f"fps {fps!r} is not a frame rate: give frames per second above 0, exactly (an "
                                "int or a Fraction)")
        check_encoding(codec, pix_fmt, preset, tune, x264_params)
        self.to_stdout = str(target) == "-"
        self.target = None if self.to_stdout else Path(target)
        self._name = "stdout" if self.to_stdout else str(self.target)
        self._overwrite = overwrite
        self.sequence = self.target is not None and is_sequence(self.target)
        self.start_number, self._earlier = start_number, set()
        self._last_number = start_number - 1                # the number of the last frame written
        self._by_time = self.sequence and numbered_by_time
        self._skipped: list[int] = []               # numbers left out between those written (numbered_by_time)
        self._frames_ours = self.sequence           # abort removes the frames written, until they are finished
        if self.sequence:
            if container is not None:
                raise VidcolorError(f"{self.target}: an image sequence is written by its suffix's encoder; "
                                    f"{option('container', '--format')} applies to video output")
            self._earlier = check_sequence_target(self.target, overwrite)
            passthrough, colour = None, None        # frames alone; RGB, or JPEG's own full-range YUV
        elif self.target is not None:
            check_target(self.target, overwrite)
        self.width, self.height = width, height
        self.timeline = timeline if timeline is not None else Timeline.of(fps)
        exe = find_ffmpeg()
        fmt = container or ("nut" if self.to_stdout else "image2" if self.sequence else output_format(self.target))
        check_codec_in(codec, fmt)
        if alpha and fmt != "gif":
            raise ValueError(f"{self._name}: alpha is written to GIF only, not to {fmt}")
        if deep and (alpha or fmt == "gif"):
            raise ValueError(f"{self._name}: 16-bit frames are not written to GIF")
        self.alpha, self.dtype = alpha, np.dtype(np.uint16 if deep else np.uint8)
        if self.to_stdout:
            if sys.stdout is None:
                raise VidcolorError("-o -: stdout is closed")
            try:                    # ffmpeg writes to its file descriptor (a StringIO had: AttributeError 'buffer')
                sys.stdout.buffer.fileno()
            except (AttributeError, OSError, ValueError):
                named = option("output='-'", "-o -")
                raise VidcolorError(f"{named}: sys.stdout ({type(sys.stdout).__name__}) is not a file that ffmpeg can "
                                    "write to; give an output path") from None
            self._tmp = None
            dest = "pipe:1"
        elif self.sequence:                 # frame files, named by the muxer; abort removes those written
            self._tmp = None
            try:
                self.target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise cannot_write(self.target, exc) from None
            dest = graph_url(image2_path(self.target))
        else:
            self._tmp = partial_file(self.target, f".partial{self.target.suffix}")
            dest = graph_url(self._tmp)
        self._scratch: list[Path] = []
        self._last_pass: list[str] | None = None
        self._gif_short = 0                     # GIF frames shorter than GIF_SHORTEST_DELAY (warned at close)
        self._gif_time: int | None = None       # the last GIF frame's time, 1/100 s; None: not GIF output
        if fmt == "gif":
            passthrough = None
        # the video's offset from the source's other streams is kept (the earliest stream starts at 0)
        delay = passthrough.video_delay() if passthrough is not None else 0.0
        video = ffmpeg.input("pipe:0", format="nut", **({"itsoffset": f"{delay:.6f}"} if delay else {}))
        if fmt == "gif":
            self.keeps_chroma = False
            self._gif_time = -1
            try:
                args = self._gif_passes(video, dest, loop, exe, Fraction(pixel_aspect))
            except BaseException:
                self._cleanup(log=False)
                raise
        else:
            out_args = encoder_args(codec, pix_fmt, crf, preset, width, height, tune, x264_params)
            video, out_args = _with_colour(video, out_args, colour or {})
            if pixel_aspect != 1:     # exactly: setsar approximates a ratio with a term above its max (100)
                video = video.filter("setsar", f"{pixel_aspect.numerator}/{pixel_aspect.denominator}",
                                     max=max(100, pixel_aspect.numerator, pixel_aspect.denominator))
            self.keeps_chroma = keeps_chroma(codec, out_args.get("pix_fmt"))
            out_args.update(fps_mode="passthrough", enc_time_base="demux", sws_flags=SWS_FLAGS)
            if self.sequence:
                out_args["start_number"] = start_number
            if self._by_time:       # each file named by its timestamp, counted in frames from start_number (-copyts)
                frame = self.timeline.time_base * self.timeline.step
                out_args.update(frame_pts=1, enc_time_base=f"{frame.numerator}/{frame.denominator}")
            if codec == "libx265":
                out_args.update({"x265-params": "log-level=error"})
            streams = _output_streams(video, codec, fmt, self.timeline.time_base, passthrough, out_args, self.to_stdout)
            args = graph_args(_with_video_tags(_compiled(ffmpeg.output(*streams, dest, **out_args), exe,
                                                         *(["-copyts"] if self._by_time else [])), dest, passthrough))
        try:
            self._log = tempfile.TemporaryFile()
        except OSError as exc:
            self._cleanup(log=False)
            raise VidcolorError(f"cannot create a temporary file ({exc.strerror or exc})") from None
        try:
            self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=self._log,
                                          stdout=sys.stdout.buffer if self.to_stdout else subprocess.DEVNULL,
                                          **child_options())
        except OSError as exc:
            self._cleanup()
            raise VidcolorError(f"cannot start ffmpeg ({exc.strerror or exc})") from None
        self.frames = 0
        self._closed = False
        self._mux = self._stream = None
        try:
            self._mux = av.open(self._proc.stdin, "w", format="nut")
            # ffmpeg gives the last frame one frame of the NUT stream's rate (NUT holds no packet durations): a
            # timeline's own last duration (an animated image's last delay) is told it as that rate
            last = self.timeline.last_duration
            rate = 1 / (last * self.timeline.time_base) if last else fps
            self._stream = self._mux.add_stream("rawvideo", rate=rate)
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = "rgba" if alpha else "rgb48le" if deep else "rgb24"
            self._stream.time_base = self._stream.codec_context.time_base = self.timeline.time_base
        except (av.FFmpegError, OSError):
            msg = self._stderr_tail()
            self.abort()
            raise self._failure("ffmpeg stopped", msg) from None
        except BaseException:
            self.abort()
            raise

    @property
    def numbers(self) -> tuple[int, int]:
        """An image sequence's first and last frame numbers written so far (the last is one below the first before
        any frame); with ``numbered_by_time`` numbers may be left out between them (:attr:`skipped`)."""
        return self.start_number, self._last_number

    @property
    def skipped(self) -> list[int]:
        """The numbers between :attr:`numbers`' first and last that no frame took (``numbered_by_time``: frames
        the reader skipped), in order."""
        return list(self._skipped)

    def _written(self) -> Iterator[int]:
        """The numbers of the frames written so far, in order."""
        skipped = set(self._skipped)
        return (n for n in range(self.start_number, self._last_number + 1) if n not in skipped)

    def write(self, frames: np.ndarray) -> None:
        """Write one frame ``(H, W, 3)`` or a batch ``(N, H, W, 3)`` of uint8 RGB (with ``alpha``: RGBA, 4 channels;
        with ``deep``: uint16 RGB).

        Raises:
            ValueError: not such an array (a list of frames included), frames of another dtype or size, or the
                writer is closed (:meth:`close`, :meth:`abort`).
            VidcolorError: ffmpeg stopped (its error line is given).
        """
        if self._closed:
            raise ValueError(f"{self._name}: the writer is closed")
        if not isinstance(frames, np.ndarray) or frames.ndim not in (3, 4):
            what = f"a {frames.ndim}-d array" if isinstance(frames, np.ndarray) else f"a {type(frames).__name__}"
            raise ValueError(f"expected a {self.dtype} array (H, W, 3) or (N, H, W, 3), got {what}")
        channels = 4 if self.alpha else 3
        if frames.shape[-3:] != (self.height, self.width, channels) or frames.dtype != self.dtype:
            raise ValueError(f"expected {self.dtype} (..., {self.height}, {self.width}, {channels}), got "
                             f"{frames.dtype} {frames.shape}")
        if self.sequence and self.dtype == np.uint16:     # RGB files: white at 65535, not the YUV encode's
            frames = full_scale16(frames)
        try:
            for frame in frames[None] if frames.ndim == 3 else frames:
                # (rgb48le: little-endian samples whatever the machine's order)
                packet = av.Packet(np.ascontiguousarray(frame, self.dtype.newbyteorder("<")).tobytes())
                packet.stream, packet.time_base = self._stream, self.timeline.time_base
                packet.pts = packet.dts = self.timeline.pts_of(self.frames)
                number = self._last_number + 1
                if self._by_time:
                    number = self.start_number + packet.pts // self.timeline.step
                    packet.pts = packet.dts = packet.pts + self.start_number * self.timeline.step
                if self._gif_time is not None:
                    self._gif_step(packet.pts)
                self._mux.mux(packet)
                self._skipped.extend(range(self._last_number + 1, number))
                self._last_number = number
                self.frames += 1
                self.timeline.release(self.frames)      # written: the timeline need not keep it
        except (av.FFmpegError, OSError):
            raise self._failure("ffmpeg stopped", self._stderr_tail()) from None

    def _gif_step(self, pts: int) -> None:
        """Count the GIF frame that ends at ``pts`` (ticks of the timeline's time base: the next frame's time, or the
        last frame's end) in :attr:`_gif_short` where it lasts less than :data:`GIF_SHORTEST_DELAY` as the gif
        muxer writes it (:func:`_centiseconds`)."""
        time = _centiseconds(pts, self.timeline.time_base)
        if self._gif_time >= 0 and time - self._gif_time < GIF_SHORTEST_DELAY * 100:
            self._gif_short += 1
        self._gif_time = time

    def close(self) -> None:
        """Finish encoding (GIF: write the GIF from the temporary frames and palette) and move the file into place.
        Idempotent: once closed (or aborted), a writer's close does nothing.

        Raises:
            VidcolorError: no frame was written, or ffmpeg failed (its last error line is given). On any error
                or interruption (KeyboardInterrupt, the CLI's SIGTERM exception) ffmpeg is stopped and the partial
                file and the temporary ones are removed.
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self.frames == 0:                        # ffmpeg said 'No main startcode found'
                raise VidcolorError(f"{self._name}: no frames were written")
            self._finish()
        except BaseException:
            self.abort()
            raise

    def _finish(self) -> None:
        try:
            self._mux.close()          # the NUT trailer
        except (av.FFmpegError, OSError):
            pass
        self._mux = None
        try:
            self._proc.stdin.close()   # always: ffmpeg waits for the end of its input
        except OSError:
            pass
        code = self._proc.wait()
        if code != 0:
            raise self._failure("ffmpeg failed", self._stderr_tail())
        if self._last_pass is not None:     # GIF: the frames and their palette are on disk; now the GIF
            self._log.seek(0)
            self._log.truncate()
            try:
                self._proc = subprocess.Popen(self._last_pass, stdin=subprocess.DEVNULL, stderr=self._log,
                                              stdout=sys.stdout.buffer if self.to_stdout else subprocess.DEVNULL,
                                              **child_options())
            except OSError as exc:
                raise VidcolorError(f"cannot start ffmpeg ({exc.strerror or exc})") from None
            code = self._proc.wait()
            if code != 0:
                raise self._failure("ffmpeg failed", self._stderr_tail())
            self._remove_scratch()
        if self._tmp is not None:
            tmp, self._tmp = self._tmp, None
            move_into_place(tmp, self.target, self._overwrite)
        if self.sequence:
            self._frames_ours = False   # finished: the frames stay
            left = sorted(self._earlier.difference(self._written()))
            if left:
                warn(f"{self.target}: {len(left)} frame{'s' if len(left) != 1 else ''} of an earlier sequence "
                     f"{'is' if len(left) == 1 else 'are'} left beside the {self.frames} written "
                     f"({frame_path(self.target, left[0]).name}" + (f" to {frame_path(self.target, left[-1]).name}"
                                                                   if len(left) > 1 else "") + ")")
        self._log.close()
        if self._gif_time is not None:
            # the last frame's own delay, which the muxer rounds alone: the timeline's last duration (an animation's
            # last delay), else one step
            self._gif_short += (_centiseconds(self.timeline.last_duration or self.timeline.step, self.timeline.time_base)
                                < GIF_SHORTEST_DELAY * 100)
            if self._gif_short:
                warn(f"{self._name}: {self._gif_short} of its {self.frames} frames last under 20 ms (GIF holds "
                     "delays in 1/100 s: a 60 fps source's every third frame gets 10 ms), which browsers show for "
                     "100 ms each, so it plays slower there; make the input 50 fps or less first (ffmpeg -vf fps=50)")

    def abort(self) -> None:
        """Stop ffmpeg and delete the partial output (a file that :meth:`close` finished is kept); the pipe to ffmpeg
        is closed (it was left to the garbage collector: a ResourceWarning after every failed run)."""
        self._closed = True
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._mux is not None:
            try:
                self._mux.close()
            except (av.FFmpegError, OSError):
                pass
            self._mux = None
        if self._frames_ours:           # the frames ffmpeg was given (it wrote no more)
            # and the pattern's own name, which image2 writes its first frame to where it cannot read the pattern
            for path in (*(frame_path(self.target, n) for n in self._written()), self.target):
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            self._frames_ours = False
        if self._proc.stdin is not None:    # None: the GIF's last pass, which reads no pipe
            try:
                self._proc.stdin.close()    # its unwritten buffer fails to flush (ffmpeg is gone); closed all the same
            except OSError:
                pass
        self._cleanup()

    def _cleanup(self, log: bool = True) -> None:
        if self._tmp is not None:
            discard(self._tmp)
            self._tmp = None
        self._remove_scratch()
        if log and not self._log.closed:
            self._log.close()

    def _remove_scratch(self) -> None:
        while self._scratch:
            discard(self._scratch.pop())

    def _gif_passes(self, video, dest: str, loop: int | None, exe: str,
                    pixel_aspect: Fraction = Fraction(1)) -> list[str]:
        """The ffmpeg command that takes the frames (``video``, from the pipe) for GIF output, and the one that
        :meth:`close` runs after it (:attr:`_last_pass`).

        One palette for the whole clip needs every frame before the first is mapped to it, so the frames are
        written to a temporary lossless file (FFV1, ``bgr0``, with :attr:`alpha` ``bgra``, in NUT, which keeps the time base and every
        timestamp) while ``palettegen`` (``stats_mode=full``) reads them in the same ffmpeg and writes the
        palette to a second temporary file at the end; then ``paletteuse`` (sierra2_4a dithering) maps the
        frames read back from the first to it and writes the GIF with ``loop``. Neither ffmpeg holds more than
        a few frames. The temporary files are beside the output (stdout: in the system's temporary folder) and
        are removed by :meth:`close` and :meth:`abort`. Non-square pixels (``pixel_aspect`` not 1), which GIF
        cannot mark, are scaled to square ones before the split (:func:`square_pixels`), so the palette is
        made from the frames as written.

        Raises:
            VidcolorError: a temporary file cannot be created, or the scaled size is outside
                :func:`~vidcolor.io.limits.check_frame_size`'s limits.
        """
        width = self.width
        if pixel_aspect != 1:
            width, height = square_pixels(self.width, self.height, pixel_aspect)
            check_frame_size(width, height, self._name)
            video = video.filter("scale", width, height, flags=SWS_FLAGS).filter("setsar", "1")
        frames = scratch_file(self.target, ".frames.nut")
        self._scratch.append(frames)
        palette = scratch_file(self.target, ".palette.nut")
        self._scratch.append(palette)
        split = video.split()
        to_frames = ffmpeg.output(split[0], graph_url(frames), f="nut", vcodec="ffv1", g=1,
                                  level=3 if width > 1 else 1,    # level 3 has no slicing of 1-px-wide frames
                                  pix_fmt="bgra" if self.alpha else "bgr0",
                                  fps_mode="passthrough", enc_time_base="demux", sws_flags=SWS_FLAGS)
        to_palette = ffmpeg.output(split[1].filter("palettegen", stats_mode="full"), graph_url(palette), f="nut",
                                   vcodec="rawvideo", sws_flags=SWS_FLAGS)
        gif = ffmpeg.filter([ffmpeg.input(graph_url(frames), format="nut"),
                             ffmpeg.input(graph_url(palette), format="nut")], "paletteuse", dither="sierra2_4a")
        self._last_pass = graph_args(_compiled(
            ffmpeg.output(gif, dest, f="gif", loop=0 if loop is None else loop, fps_mode="passthrough",
                          enc_time_base="demux", sws_flags=SWS_FLAGS), exe))
        return graph_args(_compiled(ffmpeg.merge_outputs(to_frames, to_palette), exe))

    def _failure(self, what: str, msg: str) -> Exception:
        """The error for ffmpeg's failure ``msg`` (:meth:`_stderr_tail`): :class:`BrokenPipeError` where the reader of
        our stdout went away (``vidcolor ... -o - | head``: the CLI says so in one line, as ffmpeg does), else a
        :class:`VidcolorError`, ``what`` (``ffmpeg failed``) and ffmpeg's line, or the signal that stopped it alone.
        No exit status: ffmpeg's (228 for a full disk, -25 for SIGXFSZ) said nothing its line does not."""
        if self.to_stdout and "Broken pipe" in msg:
            return BrokenPipeError(errno.EPIPE, f"the reader of stdout closed it ({msg})")
        return VidcolorError(msg if msg.startswith(STOPPED_BY) else f"{what}: {msg}")

    def _stderr_tail(self) -> str:
        """ffmpeg's first error line (:func:`first_error`); where it wrote none and a signal ended it, the signal by
        name and what it means (:data:`STOPPED_BY`: ``ffmpeg was stopped by SIGXFSZ (file size limit exceeded)``, a
        file-size limit, ``ulimit -f``, was reached)."""
        self._log.seek(0)
        said = first_error(self._log.read().decode(errors="replace"))
        try:
            code = self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        if said == "no error message" and code is not None and code < 0:
            return f"{STOPPED_BY}{signal.Signals(-code).name}" + (
                f" ({meaning[0].lower()}{meaning[1:]})" if (meaning := signal.strsignal(-code)) else "")
        return said

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _compiled(spec, exe: str, *global_args: str) -> list[str]:
    """The ffmpeg command (``exe`` and its arguments, a list) of the ffmpeg-python output ``spec``: quiet but for
    errors, overwriting (the target is a temporary name), with ``global_args`` added, and its scalers set to
    :data:`~vidcolor.io.convert.SWS_FLAGS` whatever filters ``spec`` holds. The ``-sws_flags`` output option reaches
    only a simple graph (no filters: ``-map`` alone); with a filter (``setparams`` for a source's primaries and
    transfer, ``setsar`` for non-square pixels, GIF's ``split``) ffmpeg-python writes a ``-filter_complex`` graph,
    whose automatically inserted scalers, RGB -> YUV among them, ffmpeg ran with its default flags (bicubic, no
    accurate rounding): a BT.709-tagged clip passed through unchanged (FFV1 output) came out at 69.8 dB from its
    decoded input where the matrix tag alone gave 87.1 dB, a SAR 1280:1281 clip at 55.8 dB (now 64.3), BT.709-tagged
    2x pixel art at 43.6 dB (the matrix tag alone: 54.8). So the graph opens with ``sws_flags=...;``
    (:func:`~vidcolor.io.convert.with_sws_flags`), as FFmpeg's
    filter documentation gives the flags of a graph's automatic scalers (:func:`vidcolor.metrics.video.cambi` does
    the same); the frames are then converted as they are without the filter. Stand-in names
    (:func:`~vidcolor.io.convert.graph_url`) are left for :func:`~vidcolor.io.convert.graph_args`."""
    args = spec.global_args("-hide_banner", "-loglevel", "error", *global_args).overwrite_output().compile(cmd=exe)
    return [with_sws_flags(a) if before == "-filter_complex" else a
            for before, a in zip([None, *args], args)]


def _with_colour(video, out_args: dict, colour: dict[str, int]) -> tuple:
    """The video and output options that write it with the ``colour`` description
    (:func:`~vidcolor.io.reader.colour_tags`): the matrix as an output option, with limited range (ffmpeg's
    filter graph then converts RGB to YUV with them), the primaries and transfer set on the frames
    (``setparams``; they change no pixel). A source's range is tagged (limited) with or without its matrix; an
    untagged matrix is left untagged (BT.601, swscale's default, converts: the matrix the source was decoded with).

    A full-range source is written in limited range, as video is delivered: swscale's RGB -> full-range YUV
    is biased (R and B -0.8 level on a round trip of random colours, BT.709 and BT.601 alike; limited
    range +0.1)."""
    frame_tags = {k: v for k, v in colour.items() if k in ("color_primaries", "color_trc")}
    if frame_tags:
        video = video.filter("setparams", **frame_tags)
    if "colorspace" in colour:
        out_args = {**out_args, "colorspace": colour["colorspace"], "color_range": 1}     # 1: MPEG (limited)
    elif "color_range" in colour:       # an untagged matrix: written with BT.601, as decoded, left untagged
        out_args = {**out_args, "color_range": 1}
    return video, out_args


def _output_streams(video, codec: str, fmt: str | None, time_base: Fraction | None, passthrough: Passthrough | None,
                    out_args: dict, to_pipe: bool = False) -> list:
    """The output's streams (``video``, then what ``passthrough`` takes from the source) and the container's
    options, added to ``out_args``. MP4 and MOV written to a pipe are fragmented, as ffmpeg's users stream MP4,
    with the header written when the first fragment is cut (``delay_moov``), so that it knows the first timestamps
    (with ``empty_moov`` the first frame lasted the source's audio priming longer); a file gets ``faststart``,
    which needs to seek back."""
    if codec in ("libx265", "hevc_nvenc") and fmt in ("mp4", "mov"):
        out_args["tag:v"] = "hvc1"
    if fmt:
        out_args["f"] = fmt
    mp4 = fmt in ("mp4", "mov")
    if mp4:
        out_args["movflags"] = "+frag_keyframe+delay_moov+default_base_moof" if to_pipe else "+faststart"
        if time_base is not None and time_base.numerator == 1:
            out_args["video_track_timescale"] = time_base.denominator
    streams = [video]
    out_args["disposition:v:0"] = "+".join(passthrough.video_disposition) if passthrough is not None else "default"
    if passthrough is not None and passthrough.timecode and fmt in ("mp4", "mov", "matroska"):
        out_args["timecode"] = passthrough.timecode     # (an option of the output: also from a stream read once)
    if passthrough is None or passthrough.source is None:
        return streams
    src = ffmpeg.input(graph_url(passthrough.source))
    for i, name in enumerate(passthrough.audio):
        streams.append(src[f"a:{i}"])
        out_args[f"c:a:{i}"] = audio_codec_in(fmt, name)
    codecs = [subtitle_codec_in(fmt, name) for name in passthrough.subtitles]
    for j, (i, codec_s) in enumerate((i, c) for i, c in enumerate(codecs) if c):
        streams.append(src[f"s:{i}"])
        out_args[f"c:s:{j}"] = codec_s
    if passthrough.others:
        warn(f"not carried from {passthrough.source.name}: {', '.join(passthrough.others)} (the output holds the "
             "processed video, audio, subtitles and attachments)")
    dropped = [name for name, c in zip(passthrough.subtitles, codecs) if c is None]
    if dropped:
        # (not all bitmap ones: captions such as eia_608, ttml or arib_caption were called bitmap subtitles too)
        warn(f"{len(dropped)} subtitle track(s) {fmt} cannot hold ({', '.join(dropped)}) left out"
             + ("; write .mkv to keep them" if set(dropped) <= BITMAP_SUBTITLES else ""))
    if passthrough.attachments and fmt == "matroska":
        streams.append(src["t"])
        out_args["c:t"] = "copy"
    if len(streams) > 1:     # the source is an input: its global metadata (and, by default, chapters) too
        out_args["map_metadata"] = 1
    audio_defaults, subtitle_defaults = passthrough.defaults
    _dispositions(out_args, "a", audio_defaults[:len(passthrough.audio)])
    _dispositions(out_args, "s", [d for d, c in zip(subtitle_defaults, codecs) if c])
    return streams


def _dispositions(out_args: dict, kind: str, defaults) -> None:
    """What ffmpeg does to the carried streams of a ``kind`` (``a``, ``s``) whose ``defaults`` say whether each is
    marked default, where no disposition is given on its command line: where there are two or more and none is
    default, the first is made default. The output's video stream is given one (``disposition:v:0``: it comes
    through a NUT pipe, or the Ray join's concat list, without the source's, and a Matroska output marked its only
    video track not default), so ffmpeg does not do it (any disposition given turns it off), and it is done here.
    (Source streams' dispositions are copied by ffmpeg either way.)"""
    defaults = list(defaults)
    if len(defaults) >= 2 and not any(defaults):
        out_args[f"disposition:{kind}:0"] = "+default"


def _with_video_tags(args: list[str], dest: str, passthrough: Passthrough | None) -> list[str]:
    """The ffmpeg command ``args`` (compiled, its output ``dest``) with the source video stream's tags
    (:attr:`Passthrough.video_tags`) set on the output's video stream: one ``-metadata:s:v:0 name=value`` each, before
    ``dest`` (ffmpeg-python gives an option once, so they are put in the compiled command)."""
    if passthrough is None or not passthrough.video_tags:
        return args
    at = len(args) - 1 - args[::-1].index(dest)
    tags = [a for name, value in passthrough.video_tags for a in ("-metadata:s:v:0", f"{name}={value}")]
    return [*args[:at], *tags, *args[at:]]


def join_segments(parts: list[Path], target: Path, durations: list[float | None], *, codec: str = "libx264",
                  time_base: Fraction | None = None, passthrough: Passthrough | None = None,
                  container: str | None = None, overwrite: bool = False) -> None:
    """Join encoded segments (same codec and settings, each starting with a keyframe, its timestamps from 0)
    into ``target`` without re-encoding (ffmpeg's concat demuxer, stream copy), with what ``passthrough``
    takes from the source, as :class:`VideoWriter` maps it.

    Args:
        parts: the segment files, in order.
        durations: seconds from each part's first frame to the next part's (its place in the source's
            timeline); None for the last part.
        time_base: the source's video time base, kept as the mp4 track timescale when it is 1/N.

    Written under a temporary name and renamed when ffmpeg succeeded.

    Raises:
        VidcolorError: the target exists (without ``overwrite``) or cannot be written, ffmpeg failed.
    """
    check_target(target, overwrite)
    fmt = container or output_format(target)
    check_codec_in(codec, fmt)
    delay = passthrough.video_delay() if passthrough is not None else 0.0
    tmp = partial_file(target, f".partial{target.suffix}")
    listing = None
    try:
        listing = partial_file(target, ".concat.txt")
        # each part's duration is given: what the demuxer would infer from a part's last timestamp is a
        # frame short or long at some joins; a name not in UTF-8 (held as surrogate escapes) goes in as its own
        # bytes, the file's name to ffmpeg
        listing.write_text("ffconcat version 1.0\n" + "".join(
            "file '{}'\n{}".format(str(p.resolve()).replace("'", "'\\''"),
                                   f"duration {d:.6f}\n" if d is not None else "")
            for p, d in zip(parts, durations)), encoding="utf-8", errors="surrogateescape")
        video = ffmpeg.input(graph_url(listing), format="concat", safe=0,
                             **({"itsoffset": f"{delay:.6f}"} if delay else {})).video
        out_args: dict = {"vcodec": "copy", "fps_mode": "passthrough"}
        streams = _output_streams(video, codec, fmt, time_base, passthrough, out_args)
        dest = graph_url(tmp)
        args = graph_args(_with_video_tags(_compiled(ffmpeg.output(*streams, dest, **out_args), find_ffmpeg()),
                                           dest, passthrough))
        done = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              **child_options())
        if done.returncode != 0:
            raise VidcolorError(f"joining the segments failed: {first_error(done.stderr.decode(errors='replace'))}")
        move_into_place(tmp, target, overwrite)
    finally:
        discard(tmp)
        if listing is not None:
            discard(listing)


def first_error(log: str) -> str:
    """ffmpeg's first error line, the cause (the later ones report its consequences), as ``where: what``."""
    lines = [ln for ln in log.splitlines() if ln.strip()]
    if not lines:
        return "no error message"
    m = re.match(r"\[(?:[\w#:/]+/)?([\w-]+)(?::[\w#:]+)? @ 0x[0-9a-f]+\]\s*(?:\[[^\]]+\]\s*)?(.*)", lines[0])
    return f"{m[1]}: {m[2]}" if m else lines[0]


class OutputExists(VidcolorError):
    """An output that exists, without ``overwrite``: there when the run checked it (:func:`check_target`), or written
    by another run while this one worked (:func:`move_into_place`). A run with ``skip_existing`` leaves it and counts
    its input as skipped (:func:`vidcolor.api.process`), so that two such runs of one folder share it out.

    Attributes:
        target: the output's path.
    """

    def __init__(self, message: str, target: Path):
        super().__init__(message)
        self.target = Path(target)

    def __reduce__(self):
        """Pickled with its target (and its message as marked), so that it crosses to another process whole: a
        worker pool or a Ray task gets this error, not a TypeError from rebuilding it with its message alone."""
        return type(self), (self.marked if self.marked is not None else str(self), self.target)


WRITTEN_MEANWHILE = "exists: another run wrote it while this one worked"
"""What an output that another run wrote while this one worked is said to be (:class:`OutputExists`,
:func:`vidcolor.api.process`'s skipped summary)."""


_DESCRIPTORS = re.compile(r"/proc/\d+(?:/task/\d+)?/fd")
"""The folder of a process's (or thread's) open file descriptors, as ``os.path.realpath`` gives it."""


def _own_descriptor(target: Path) -> int | None:
    """The file descriptor ``target`` names where it is one of this process's (``/dev/stdout``, ``/dev/fd/N``,
    ``/proc/self/fd/N``, or a link to one: its path, or a link on its way, passes through ``/proc/PID/fd``), else
    None."""
    path = os.path.abspath(target)
    for _ in range(40):                                 # the kernel's limit on links followed
        folder = os.path.realpath(os.path.dirname(path))
        if _DESCRIPTORS.fullmatch(folder):
            name = os.path.basename(path)
            return int(name) if name.isdigit() else None
        try:
            link = os.readlink(path)
        except OSError:                                 # not a link (or not there): a name of its own
            return None
        path = os.path.normpath(os.path.join(folder, link))
    return None


def check_target(target: Path, overwrite: bool, in_folder_run: bool = False) -> None:
    """Refuse an output path that exists (unless ``overwrite``), or that is a folder, a device or a pipe (also
    through a symbolic link): the result is renamed into place (:func:`move_into_place`), which would put a regular
    file in the place of ``/dev/null`` or a named pipe, so such a name is refused even with ``overwrite``. With
    ``overwrite``, a symbolic link to a regular file is replaced by the output (the file it pointed to is kept); a
    broken one is a name that exists, as the rename sees it. A name of one of this process's file descriptors on a
    regular file (``-o /dev/stdout > out.mp4``; :func:`_own_descriptor`) is refused too, even with ``overwrite``:
    the rename would replace the link (``/dev/stdout`` itself) and leave the file it stands for empty. For one of a
    folder run's outputs (``in_folder_run``) the message of an existing one also names --skip-existing, which
    finishes a run that stopped half way.

    Raises:
        OutputExists: a regular file there, without ``overwrite``.
        VidcolorError: with one line saying which (also a name too long for the file system, or a folder on the
            way that cannot be looked into).
    """
    try:
        found = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):     # a path through a file: partial_file says so
        found = None
    except OSError as exc:
        if exc.errno == errno.ELOOP:                    # a loop of links: a broken link
            found = None
        elif exc.errno == errno.ENAMETOOLONG:
            raise VidcolorError(f"{target}: file name too long") from None
        else:
            raise VidcolorError(f"{target}: cannot write there ({exc.strerror or exc})") from None
    if found is None:
        if os.path.lexists(target) and not overwrite:    # the rename would fail at the end
            raise VidcolorError(f"{target} exists (a broken symbolic link; use {option('overwrite')} to replace it)")
        return
    if stat.S_ISDIR(found.st_mode):
        raise VidcolorError(f"{target} is a folder (give the output a file name)")
    if not stat.S_ISREG(found.st_mode):
        raise VidcolorError(f"{target} is not a regular file (a device or pipe); use -o - to write to a pipe")
    fd = _own_descriptor(target)
    if fd is not None:
        raise VidcolorError(f"{target} is a file descriptor of this process ({fd}), not a file's name: the output, "
                            "renamed into place, would replace the link, not write the file; use -o - to write to "
                            "stdout, or name the file")
    if not overwrite:
        raise OutputExists(f"{target} exists (use {option('overwrite')} to replace it" +
                           (f", or {option('skip_existing')} to leave it and do the rest" if in_folder_run else "") + ")",
                           target)


def scratch_file(target: Path | None, suffix: str) -> Path:
    """Create an empty temporary file for an intermediate result of writing ``target``: beside it
    (:func:`~vidcolor.io.partial.partial_file`), or in the system's temporary folder where ``target`` is None (stdout). The latter is
    neither locked nor looked for after a run killed with SIGKILL: that folder is shared by every user and program
    (and by vidcolor versions that lock nothing), and the system clears it.

    Raises:
        VidcolorError: it cannot be created (named, with the reason).
    """
    if target is not None:
        return partial_file(target, suffix)
    try:
        fd, tmp = tempfile.mkstemp(prefix="vidcolor.", suffix=suffix)
    except OSError as exc:
        raise VidcolorError(f"cannot create a temporary file in {tempfile.gettempdir()} ({exc.strerror or exc})") from None
    os.close(fd)
    return Path(tmp)


_NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}
"""Errors of ``os.link`` on a file system without hard links (FAT, some network mounts)."""


def missing_folders(folder: Path | None) -> list[Path]:
    """``folder`` and its parents that do not exist (deepest first): those that writing into it creates (the writers
    create a target's missing folders, :func:`~vidcolor.io.partial.partial_file`); none for None (stdout)."""
    made: list[Path] = []
    if folder is not None:
        folder = Path(folder).absolute()
        while not folder.exists() and folder != folder.parent:
            made.append(folder)
            folder = folder.parent
    return made


def remove_empty(folders: list[Path]) -> None:
    """Remove those of ``folders`` (made by a run, :func:`missing_folders`) that are left empty, deepest first."""
    for folder in sorted(set(folders), key=lambda f: len(f.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:                # not empty (another run's files), or gone
            pass


@contextlib.contextmanager
def removing_made_folders(*folders: Path | None):
    """A run that writes into ``folders`` (None: stdout, no folder): the writers create them (and their parents)
    when missing; if the run fails (any exception, an interrupt too), those it made (:func:`missing_folders`,
    listed on entry) are removed again where they are left empty (:func:`remove_empty`), as its partial output is,
    so that it leaves nothing behind; the exception goes on. A folder that was there before is never removed."""
    made = [m for folder in folders for m in missing_folders(folder)]
    try:
        yield
    except BaseException:
        remove_empty(made)
        raise


def kept_note(kept: int, folder: Path, stale: int = 0) -> str:
    """What a folder run that failed or was stopped keeps, for its error's note (:func:`~vidcolor.errors.add_note`,
    which names its options for the reader): ``2 finished outputs kept in out/ (run again with skip_existing to do
    the rest)``, ``--skip-existing`` in the CLI; where ``stale`` of the inputs left have an output from before the run
    (``overwrite``), which ``skip_existing`` would keep, the advice is ``overwrite``."""
    note = f"{kept} finished output{'' if kept == 1 else 's'} kept in {folder}{os.sep}"
    if stale:
        return note + (f" (run again with {option('overwrite')}: {stale} of the others "
                       f"ha{'s' if stale == 1 else 've'} an earlier run's output, which {option('skip_existing')} "
                       "would keep)")
    return note + f" (run again with {option('skip_existing')} to do the rest)"


def move_into_place(tmp: Path, target: Path, overwrite: bool) -> None:
    """Give the finished temporary file ``tmp`` (:func:`~vidcolor.io.partial.partial_file`) the usual file mode and the name ``target``.

    Without ``overwrite`` a file that appeared at ``target`` while the run worked (another run writing the same
    output; ``target`` was checked when the run began) is kept and this result refused: a hard link, which
    fails on an existing name, makes the check and the rename one step (where the file system has no hard
    links, the name is checked just before the rename). ``tmp`` is gone afterwards in every case, and unlocked
    (:func:`~vidcolor.io.partial.discard`).

    Raises:
        OutputExists: ``target`` exists (without ``overwrite``).
        VidcolorError: it cannot be written (the folder became read-only, or went away).
    """
    try:
        os.chmod(tmp, default_file_mode())
        if not overwrite:
            try:
                os.link(tmp, target)
                return
            except FileExistsError:
                raise _written_meanwhile(target) from None
            except OSError as exc:
                if exc.errno not in _NO_HARD_LINKS:
                    raise
                if os.path.lexists(target):
                    raise _written_meanwhile(target) from None
        os.replace(tmp, target)
    except OSError as exc:
        raise VidcolorError(f"{target}: cannot write ({exc.strerror or exc})") from None
    finally:
        discard(tmp)


def _written_meanwhile(target: Path) -> OutputExists:
    """The error of :func:`move_into_place` for an output that another run wrote while this one worked."""
    return OutputExists(f"{target} {WRITTEN_MEANWHILE} (use {option('overwrite')} to "
                        "replace it)", target)


def write_file_atomically(target: Path, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to ``target`` through :func:`~vidcolor.io.partial.partial_file` and :func:`move_into_place` (a rename, with the
    usual file mode). With ``overwrite`` False, a ``target`` that exists by then (another run wrote it) is kept.

    Raises:
        OutputExists: ``target`` exists, without ``overwrite``.
        VidcolorError: the folder or the file cannot be written (nothing is left behind).
    """
    tmp = partial_file(target, f".partial{target.suffix}")
    try:
        tmp.write_bytes(data)
    except BaseException as exc:
        discard(tmp)
        if isinstance(exc, OSError):
            raise VidcolorError(f"{target}: cannot write ({exc.strerror or exc})") from None
        raise
    move_into_place(tmp, target, overwrite)


_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".nut": "nut",
            ".avi": "avi", ".gif": "gif"}
"""Video file suffix -> ffmpeg format name, for output named without ``--format``."""


UNSUPPORTED = {"webm": (CODECS, "WebM holds only VP8, VP9 and AV1 video, which vidcolor does not write: name the "
                                "output .mkv or .mp4"),
               "mp4": (("prores",), "ProRes goes in .mov or .mkv")}
"""ffmpeg format name -> (the codecs of :data:`CODECS` its muxer refuses, what to do instead). Found by writing
two frames of each codec to each format with ffmpeg (the static build of ``imageio-ffmpeg``)."""

REFUSED = {"avi": "AVI output is not written: AVI has no timestamps (one frame a tick of one rate), so it cannot keep "
                  "the frames' times; name the output .mkv or .mp4"}
"""ffmpeg format name -> why vidcolor does not write it, whatever the codec. AVI: written with the source's time
base as the tick, a 24 fps clip of 30 frames read as 750 frames at 600 fps (the ticks between frames are empty
chunks), its B-frames without presentation times (PyAV gives them out of order, from ffmpeg's own AVI too); a
constant 1/fps tick would lose a variable frame rate and the video's offset from the audio, and AVI cannot hold
subtitles. Reading AVI is not affected."""


def check_codec_in(codec: str, fmt: str) -> None:
    """Refuse, before ffmpeg starts, a container format vidcolor does not write (:data:`REFUSED`), or a codec
    that the format ``fmt`` cannot hold (:data:`UNSUPPORTED`; GIF ignores the codec).

    Raises:
        VidcolorError: naming the format (and the codec) and what to use instead."""
    if fmt in REFUSED:
        raise VidcolorError(REFUSED[fmt])
    refused, advice = UNSUPPORTED.get(fmt, ((), ""))
    if codec in refused:
        raise VidcolorError(f"{fmt} output cannot hold {codec} video; {advice}")


def format_suffix(fmt: str) -> str:
    """The file suffix of the ffmpeg format ``fmt``, for output named after the input: the first that
    :data:`_FORMATS` maps to it (``mp4`` -> ``.mp4``, ``matroska`` -> ``.mkv``, ``gif`` -> ``.gif``).

    Raises:
        VidcolorError: a format :data:`_FORMATS` has no suffix for.
    """
    suffix = next((s for s, f in _FORMATS.items() if f == fmt), None)
    if suffix is None:
        raise VidcolorError(f"no file suffix known for the format {fmt!r}: name the output with -o")
    return suffix


def output_format(path: Path) -> str:
    """The ffmpeg format name of a video file named ``path`` (by its suffix, :data:`_FORMATS`).

    Raises:
        VidcolorError: a suffix that names no video format (``.txt``, ``.png``, none), before anything is written.
    """
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        named = f"the suffix {path.suffix!r}" if path.suffix else "a name without a suffix"
        raise VidcolorError(f"{path}: cannot tell the video format from {named}; name it "
                            f"{', '.join(writable_suffixes())}, or give {option('container', '--format')}")
    return fmt


def writable_suffixes() -> list[str]:
    """The suffixes of :data:`_FORMATS` that vidcolor writes video to: not those of a format it refuses
    (:data:`REFUSED`: ``.avi``) or that holds none of its codecs (:data:`UNSUPPORTED`: ``.webm``)."""
    return [s for s, fmt in _FORMATS.items()
            if fmt not in REFUSED and not set(CODECS) <= set(UNSUPPORTED.get(fmt, ((), ""))[0])]
