"""YUV <-> RGB conversion of PyAV frames without swscale's default rounding bias.

swscale's default YUV -> RGB path truncates instead of rounding: a flat (200, 128, 128) comes back as
(198, 127, 126), and every generation of a pipeline (decode, restore, encode, decode) loses about one
level per channel. Next to 4-bit bands that is a large error. So readers, writers and the training
degradations convert through here:

* decoding: subsampled chroma is replicated to full resolution (nearest neighbour, as the default path
  does), then swscale converts with accurate rounding, using the frame's own colour matrix and range;
* encoding: ``area`` chroma downsampling with accurate rounding, the exact inverse of that replication
  on 2x2 blocks (pixel art keeps its colours).

Measured: 16 frames of a file decoded one way, re-encoded (libx264 crf 16 yuv420p) the other, then the
result and the source both decoded with swscale's default, as a viewer would; PSNR between them, mean
RGB bias in levels (the encode sides use accurate_rnd):

=====================================  ===================  ==================  =================
decode / encode                        DAVIS dog            DAVIS cows          Atari Ms. Pac-Man
=====================================  ===================  ==================  =================
swscale default (truncating) / bicubic 39.51 dB, -1.2       39.13 dB, -1.1      38.85 dB, -1.2
bilinear chroma, rounded / bicubic     40.48 dB, +0.1       39.43 dB, +0.1      28.99 dB, +0.1
**replicated, rounded / area**         **40.50 dB, +0.1**   **39.95 dB, +0.1**  **50.46 dB, +0.1**
=====================================  ===================  ==================  =================
"""
from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Interpolation, VideoReformatter

EXACT = Interpolation.AREA | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
"""swscale flags for PyAV's ``reformat``: area scaling of chroma, rounded (not truncated), full chroma."""

EXACT_DEEP = Interpolation.AREA | Interpolation.ACCURATE_RND
""":data:`EXACT` without full chroma interpolation, for 16-bit RGB (``rgb48le``) output: with it, this FFmpeg's
swscale (libswscale 9.5) writes R and G as 0 from 10-bit 4:2:0 (a yuv420p10le pixel of rgb24 (54, 88, 125) came out
(0, 0, 31935)); without it, (13940, 22626, 31935). Subsampled chroma is replicated first, as for 8 bits
(:func:`frame_to_rgb`), so none is interpolated either way. swscale's YUV <-> 16-bit RGB takes white as 65280 both
ways (a 10-bit Y of 940 decodes to 65283, 65535 encodes to 943): a decode and an encode through it keep Y."""

SWS_FLAGS = "area+accurate_rnd+full_chroma_int"
"""The same for the ffmpeg executable (RGB -> YUV on the encoder's side), applied two ways, as the command goes: a
command without filters takes them as the ``-sws_flags`` output option, which reaches only a simple graph's scaler;
a ``-filter_complex`` (or ``-lavfi``) graph takes them as its opening ``sws_flags=...;`` (:func:`with_sws_flags`,
FFmpeg's documented way to set a graph's automatically inserted scalers, which the output option does not reach).
:func:`vidcolor.io.writer._compiled` gives every command the writer runs the second where it has such a graph;
:func:`vidcolor.metrics.video.cambi` opens its graph so."""


def with_sws_flags(graph: str) -> str:
    """The filter graph ``graph`` (the text of ffmpeg's ``-filter_complex`` or ``-lavfi``) opened with
    ``sws_flags=``:data:`SWS_FLAGS```;``, so that the scalers ffmpeg inserts into it convert with those flags rather
    than its defaults (bicubic, no accurate rounding)."""
    return f"sws_flags={SWS_FLAGS};{graph}"

_SUBSAMPLED_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv440p", "yuvj440p", "yuv411p", "yuv410p"}
_SUBSAMPLED_DEEP = {f"yuv{s}p{b}le": f"yuv444p{b}le" for s in ("420", "422", "440") for b in (10, 12)} | {
    f"yuv{s}p{b}le": f"yuv444p{b}le" for s in ("420", "422") for b in (9, 14, 16)}
"""Planar YUV of more than 8 bits with subsampled chroma -> the 4:4:4 format of its depth, for the 16-bit decode
(9- and 14-bit 4:2:0 had been left to swscale, which interpolated their chroma: up to 61 levels of 8 bits off the
replicated chroma of random samples, where 10-bit 4:2:0 came within 1)."""


def _replicated_444(frame: av.VideoFrame) -> av.VideoFrame:
    """Planar YUV with subsampled chroma (8-bit; or more, :data:`_SUBSAMPLED_DEEP`) -> 4:4:4 of its depth (chroma
    repeated), same matrix and range.

    Each chroma sample is repeated ``ceil(H / chroma height)`` times down and ``ceil(W / chroma width)`` across, the
    repeats cut at the frame's edge (odd sizes). The samples are written straight into the new frame's planes (its
    row padding zeroed): one copy of each plane, where repeating twice, stacking and PyAV's ``from_ndarray`` copied
    each chroma plane four times (640x360 yuv420p: 0.50 -> 0.25 ms of CPU a frame)."""
    h, w = frame.height, frame.width
    deep = _SUBSAMPLED_DEEP.get(frame.format.name)
    dtype = np.dtype(np.uint16 if deep else np.uint8)
    out = av.VideoFrame(w, h, deep or "yuv444p")
    for src, plane in zip(frame.planes, out.planes):
        samples = np.frombuffer(src, dtype).reshape(src.height, src.line_size // dtype.itemsize)[:, :src.width]
        rows = np.frombuffer(plane, dtype).reshape(h, plane.line_size // dtype.itemsize)
        rows[:, w:] = 0
        _replicate(samples, rows[:, :w])
    out.colorspace = frame.colorspace
    out.color_range = ColorRange.JPEG if frame.format.name.startswith("yuvj") else frame.color_range
    return out


def _replicate(samples: np.ndarray, out: np.ndarray) -> None:
    """Write ``samples`` ``(h, w)`` into ``out`` ``(H, W)`` (same dtype, H >= h, W >= w; any row stride), each sample
    repeated ``fy = ceil(H / h)`` times down and ``fx = ceil(W / w)`` across, cut at ``out``'s edge:
    ``out[y, x] = samples[y // fy, x // fx]``, as ``samples.repeat(fy, 0).repeat(fx, 1)[:H, :W]``."""
    h, w = out.shape
    fy, fx = -(-h // samples.shape[0]), -(-w // samples.shape[1])
    wide = samples.repeat(fx, 1)[:, :w] if fx > 1 else samples
    whole = h // fy                                         # groups of fy rows not cut by the edge
    for k in range(fy):
        out[k:whole * fy:fy] = wide[:whole]
    if whole * fy < h:
        out[whole * fy:] = wide[whole]


def frame_to_rgb(frame: av.VideoFrame, deep: bool = False) -> np.ndarray:
    """Decoded frame (any pixel format; its own colour matrix and range) -> uint8 RGB ``(H, W, 3)``; with ``deep``,
    uint16 RGB (``rgb48le``, 0..65535), for a source of more than 8 bits per sample.

    8-bit planar YUV with subsampled chroma goes through chroma replication (see the module docstring), and so does
    deeper planar YUV for the 16-bit decode (:data:`EXACT_DEEP`); other formats (4:4:4, NV12, RGB, gray; 10-bit
    for the 8-bit decode) straight through swscale with accurate rounding.

    The 16-bit decode puts white where the encode from ``rgb48le`` takes it, :data:`WHITE16` (:func:`_white16`).
    """
    white = _white16(frame) if deep else None
    if frame.format.name in _SUBSAMPLED_8BIT or deep and frame.format.name in _SUBSAMPLED_DEEP:
        frame = _replicated_444(frame)
    if deep:
        rgb = _reformat(frame, "rgb48le", EXACT_DEEP).to_ndarray()
        if white is None:
            return rgb
        return ((rgb.astype(np.uint32) * WHITE16 + white // 2) // white).astype(np.uint16)
    return _reformat(frame, "rgb24", EXACT).to_ndarray()


_local = threading.local()
KEPT_PIXELS = 1920 * 1080
"""The largest frame (pixels) that :func:`_reformat` converts on its thread's kept one-thread context."""


def _reformat(frame: av.VideoFrame, format: str, interpolation: Interpolation) -> av.VideoFrame:
    """``frame.reformat(format=format, interpolation=interpolation)`` through this thread's own
    ``VideoReformatter``, kept from frame to frame, on one thread. PyAV's ``frame.reformat`` makes a reformatter for
    each new frame: a new swscale context, set up again (with threads of its own) for every frame decoded. Same
    samples: swscale sets its context up again where a frame's format, size, colour matrix or range differs from the
    one before (np.array_equal with a fresh reformat, frames of each subsampled format and tags alternated). A
    640x360 yuv420p frame (DAVIS cows, H.264): 1.70 -> 1.2 ms of CPU for :func:`frame_to_rgb`.

    One thread (``threads=1``; PyAV's default, 0, is one per core): a kept context with threads of its own hung a
    process forked after it was used (a training run's DataLoader workers) at its next frame, the threads it waits
    for being the parent's; one-thread CPU is the same (1.13-1.18 against 1.16-1.25 ms a frame). A frame of more
    than :data:`KEPT_PIXELS` goes through ``frame.reformat`` as before, on swscale's threads: one thread took a 4K
    frame 30.6-31.0 ms against 19.5-20.8 on the 2-core AMD EPYC, where the per-frame set-up is small beside the
    conversion."""
    if frame.width * frame.height > KEPT_PIXELS:
        return frame.reformat(format=format, interpolation=interpolation)
    reformatter = getattr(_local, "reformatter", None)
    if reformatter is None:
        reformatter = _local.reformatter = VideoReformatter()
    return reformatter.reformat(frame, format=format, interpolation=interpolation, threads=1)


WHITE16 = 65280
"""White of 16-bit RGB as swscale's conversions between limited-range YUV and ``rgb48le`` take it, both ways: a 10-bit
(or 12/16-bit) Y of 940 decodes to 65283, and the writer's encode (ffmpeg, ``rgb48le`` in) gives Y 940 for 65280, 943
for 65535 (:data:`EXACT_DEEP`)."""


def full_scale16(rgb: np.ndarray) -> np.ndarray:
    """uint16 RGB of :func:`frame_to_rgb`'s 16-bit decode, white at :data:`WHITE16` -> the same with white at 65535, as
    RGB image files (16-bit PNG and TIFF, DPX) hold it and as FFmpeg's encoders of them take ``rgb48le`` (a 10-bit DPX
    scan's 1023 was written back as 1020, 512 as 510); rounded, samples above white clipped at 65535. Returns a new
    uint16 array of ``rgb``'s shape."""
    return np.minimum((rgb.astype(np.uint32) * 65535 + WHITE16 // 2) // WHITE16, 65535).astype(np.uint16)


def _white16(frame: av.VideoFrame) -> int | None:
    """Where swscale's ``rgb48le`` decode of ``frame`` puts its format's white, when that is not :data:`WHITE16`; None
    for limited-range YUV, whose decode matches the encode. Gray (whatever its range tag), full-range YUV and RGB
    formats are scaled to 16 bits by their codes, not by :data:`WHITE16`: a sample of ``b`` bits is shifted up
    (gray10le 1023 and full-range yuv420p10le's Y 1023 -> 65472, gray12le 4095 -> 65520, 16 bits -> 65535 as they
    are), an RGB one's bits repeated (gbrp10le 1023 -> 65535). Encoded as they came, such frames came out brighter
    than the source by up to 0.4% (a gray16le source at Y 368 of 10 bits: 369.2, its white 943 for 940)."""
    fmt = frame.format
    name = fmt.name
    if not fmt.is_rgb and not name.startswith(("gray", "ya", "yuvj")) and frame.color_range != ColorRange.JPEG:
        return None
    bits = fmt.components[0].bits
    return 65535 if fmt.is_rgb or bits >= 16 else ((1 << bits) - 1) << (16 - bits)


def rgb_to_frame(rgb: np.ndarray, pix_fmt: str = "yuv420p") -> av.VideoFrame:
    """uint8 RGB ``(H, W, 3)`` -> a frame in ``pix_fmt`` (BT.601, limited range unless a ``yuvj`` format)."""
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
        format=pix_fmt, interpolation=EXACT)


def format_bits(pix_fmt: str | None) -> int:
    """Bits per sample of the FFmpeg pixel format ``pix_fmt`` (its deepest component's: ``yuv420p10le`` 10,
    ``rgb48le`` 16); 8 where it names none (None, empty) or one FFmpeg does not know (a decoder's that PyAV cannot
    name)."""
    try:
        return max(c.bits for c in av.VideoFormat(pix_fmt).components) if pix_fmt else 8
    except (ValueError, TypeError):
        return 8


def local_url(path: str | Path) -> str:
    """A local file's path as FFmpeg should read it: ``file:`` in front, so that a name with a colon
    (``take1:final.mp4``) is not taken for a protocol (``take1:``)."""
    return f"file:{path}"


_STAND_IN = {c: 0xF0000 + (c - 0xDC00) for c in range(0xDC80, 0xDD00)}
"""The surrogate escapes by which Python holds the bytes of a file name that are not UTF-8 (``\\udce9`` for the
Latin-1 ``é`` of an old archive's ``café.mp4``) -> code points of Unicode's Supplementary Private Use Area-A
(U+F0080..U+F00FF), which no file name uses and which UTF-8 encodes."""
_FROM_STAND_IN = {v: k for k, v in _STAND_IN.items()}


def graph_url(path: str | Path) -> str:
    """:func:`local_url` as an ffmpeg-python graph takes it: ffmpeg-python hashes every argument as strict UTF-8,
    so a name that is not UTF-8 raised ``UnicodeEncodeError`` (a traceback); its bytes are given by stand-ins
    (:data:`_STAND_IN`) that :func:`graph_args` puts back in the compiled command, from which the subprocess passes
    the name's own bytes to ffmpeg."""
    return local_url(path).translate(_STAND_IN)


def graph_args(args: list[str]) -> list[str]:
    """A command compiled from an ffmpeg-python graph with each :func:`graph_url` name's own bytes back."""
    return [a.translate(_FROM_STAND_IN) for a in args]
