"""How an input shows that it was cut short, where its container declares no frame count to check (as mp4 does):
a Matroska Segment declaring more bytes than the file holds, or FFmpeg's Matroska demuxer saying that it ended
inside an element (a pipe's too), an MPEG-TS input ending inside a packet, a YUV4MPEG2 stream, raw frames or a GIF
stream ending inside a frame. Each gives the line that the reader's error or warning says, or None."""
from __future__ import annotations

import logging
import os
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import av.logging


Y4M_FRAME_LINE = len(b"FRAME\n")
"""The line before each frame's data in a YUV4MPEG2 stream (which may carry parameters: none that ffmpeg writes)."""


def y4m_cut(held: int, end: int, frame: int) -> str | None:
    """How a YUV4MPEG2 input that ``held`` bytes shows that it ends inside a frame, which FFmpeg's demuxer drops
    without a word (a pipe whose upstream was stopped, a cut copy): bytes after ``end``, where the last whole frame's
    data ends, of a frame of ``frame`` bytes of data (after its :data:`Y4M_FRAME_LINE`); None where it ends there (or
    ``held`` is unknown: 0 or less)."""
    if held <= end or end <= 0:
        return None
    return f"the y4m input ended inside a frame ({held - end:,} of its {frame + Y4M_FRAME_LINE:,} bytes) (truncated)"


GIF_EXTENSION, GIF_IMAGE = 0x21, 0x2C
"""The bytes that start a GIF's extension blocks (a frame's delay, a loop count, comments) and its image
descriptors (a frame's place and size, then its LZW data in sub-blocks of up to 255 bytes, ended by an empty one)."""


_GIF_CUT = "the GIF input ended inside a frame (truncated): the cut frame is left out"
"""What :func:`gif_cut` says."""


def _gif_sub_blocks(data: bytes, at: int) -> int | None:
    """Where the GIF sub-blocks at ``data[at:]`` end (after the empty one that closes them); None where ``data``
    ends first."""
    while at < len(data):
        size = data[at]
        at += 1 + size
        if not size:
            return at
    return None


def gif_cut(packet: bytes) -> str | None:
    """How a GIF input shows that it was cut short inside a frame, which FFmpeg reads to the cut without an error (a
    pipe whose upstream stopped, a cut copy): ``packet``, the bytes of its demuxer's last packet (the file's header
    and global palette, its extensions, one frame's image descriptor, palette and LZW data, and what follows them:
    the trailer, or bytes after it), ends before that frame's image data does. FFmpeg's decoder turns such a packet
    into a frame without an error (it logs ``LZW decode failed``), the cut part of it from the frame before: it is
    left out, as Pillow leaves out a cut GIF file's last frame. None where the frame is whole (a cut between two
    frames cannot be told, as in a file), and for bytes that are no such blocks."""
    at = 0
    if packet[:4] == b"GIF8":                   # the first packet: the header, then the global palette
        if len(packet) < 13:
            return _GIF_CUT
        at = 13 + (3 << ((packet[10] & 7) + 1) if packet[10] & 0x80 else 0)
    while at is not None and at < len(packet):
        if packet[at] == GIF_EXTENSION:
            at = _gif_sub_blocks(packet, at + 2)
        elif packet[at] == GIF_IMAGE:
            if at + 11 > len(packet):
                return _GIF_CUT
            flags = packet[at + 9]
            at = at + 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1       # its palette, LZW code size
            return None if _gif_sub_blocks(packet, at) is not None else _GIF_CUT
        else:
            return None
    return _GIF_CUT


CONTAINER_SIGNATURES = ((0, b"YUV4MPEG2 ", "a y4m"), (0, b"\x1a\x45\xdf\xa3", "a Matroska or WebM"),
                        (4, b"ftyp", "an MP4 or MOV"), (0, b"nut/multimedia container", "a NUT"))
"""How the files that are most often given with ``--raw`` by mistake start: (offset, bytes, what they are)."""


def raw_cut(held: int, width: int, height: int, head: bytes = b"") -> str:
    """What to say of raw input whose ``held`` bytes are no whole number of ``width`` x ``height`` rgb24 frames (3
    bytes a pixel): it was cut short, or that is not its frame size (a wrong ``--raw``, or frames that are not rgb24:
    a shift of the size shears every frame, which is no truncation); ``head``, its first bytes, names a container
    file given as raw frames (:data:`CONTAINER_SIGNATURES`)."""
    n = width * height * 3
    said = (f"the raw input ended inside a frame: its {held:,} bytes are no whole number of {width}x{height} rgb24 "
            f"frames ({n:,} bytes each, 3 a pixel), so it was cut short (truncated) or that is not its frame size")
    kind = next((k for at, sign, k in CONTAINER_SIGNATURES if head[at:at + len(sign)] == sign), None)
    return said + (f" (it starts as {kind} file, not raw frames)" if kind else "")


MATROSKA_IDS = (b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67")
"""The EBML IDs of a Matroska (or WebM) file's two top-level elements, in the order they start it: its EBML header
and its Segment, which holds everything else and declares its own size."""


TS_PACKET_SIZES = (188, 192, 204)
"""The packet sizes of MPEG-TS files: plain, with a 4-byte timestamp before each (M2TS, Blu-ray and AVCHD), with 16
bytes of error correction after each."""


def _ebml_number(data: bytes, at: int) -> tuple[int | None, int]:
    """The EBML variable-length number at ``data[at:]`` and the position after it: its first byte's leading zeros
    give its length (1-8 bytes), the bits after the first set one its value; all ones is None (unknown: a size a
    live recording leaves open). Raises IndexError where ``data`` ends first, ValueError for a zero first byte."""
    first = data[at]
    if not first:
        raise ValueError("not an EBML number")
    length = 9 - first.bit_length()
    if at + length > len(data):
        raise IndexError("EBML number cut")
    value = int.from_bytes(data[at:at + length], "big") & ((1 << (7 * length)) - 1)
    return (None if value == (1 << (7 * length)) - 1 else value), at + length


def cut_short(path: str | Path, fmt: str) -> str | None:
    """How a Matroska (or WebM) file (``fmt``: the ffmpeg format name it was opened as) shows that it was cut short,
    a copy that stopped or a recording whose end is lost, which FFmpeg reads to the cut without an error: its Segment
    declares more bytes than the file holds. Matroska declares no frame count to check, as mp4 does. None where the
    file shows no cut (a live recording, whose size is left open, shows nothing), for other formats, for a path that
    is not a regular file (a FIFO, ``/dev/stdin``: read once), and for a file that cannot be read again."""
    if "matroska" not in fmt.split(",") or not os.path.isfile(path):     # a pipe's bytes would be taken
        return None
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(256)
        if not head.startswith(MATROSKA_IDS[0]):
            return None
        length, at = _ebml_number(head, 4)
        at += length or 0
        if head[at:at + 4] != MATROSKA_IDS[1]:
            return None
        length, at = _ebml_number(head, at + 4)
    except (OSError, IndexError, ValueError, TypeError):
        return None
    if length is None or at + length <= size:
        return None
    return (f"the file ends early: it holds {size:,} of the {at + length:,} bytes its Matroska header declares "
            "(truncated)")


def partial_packet(size: int, fmt: str, what: str = "file") -> str | None:
    """How an MPEG-TS input (``fmt``: the ffmpeg format name it was opened as) of ``size`` bytes (a file's size, or
    what a pipe gave: its whole stream) may show that it was cut short: it ends inside a packet (``size`` is no
    whole number of packets of any of :data:`TS_PACKET_SIZES`). A transport stream declares neither its length nor
    a frame count, and captures split at any byte (``split -b``, a recorder's chunks) end the same way, so this is
    only a sign; None where there is none, for other formats, and where the size is unknown (0 or less). ``what``
    names the input in the line (``file``, ``input``)."""
    if "mpegts" not in fmt.split(",") or size <= 0:
        return None
    if all(size % n for n in TS_PACKET_SIZES):
        return f"the {what} ends inside an MPEG-TS packet ({size:,} bytes): it may have been cut short"
    return None


PREMATURE_END = "File ended prematurely"
"""What FFmpeg's Matroska (and WebM) demuxer logs, as an error, where its input ends inside an element: a file or
a pipe cut short (``head -c``, a copy or a recording that stopped), whose frames before the cut it gives and then
ends as at a whole file's end, without an error that PyAV raises. A cut that falls between two elements (a
cluster's end) shows nothing, by ffmpeg too."""


class _Logging:
    """PyAV's logging settings while :func:`ffmpeg_errors` blocks are open (in any thread): how many are, and the
    settings the first replaced (PyAV's level and repeat rule, the ``libav`` logger's level), which the last puts
    back."""
    lock = threading.Lock()
    open = 0
    saved: tuple = (None, True, logging.NOTSET)


@contextmanager
def ffmpeg_errors() -> Iterator[list]:
    """Capture FFmpeg's errors logged in this thread while the block runs: yields a list that holds them (as
    ``av.logging.Capture`` gives them: ``(level, name, message)`` tuples, ``message`` with its newline).

    PyAV drops FFmpeg's log by default (its level None), and skips a line identical to the one before it (a second
    cut file in the same process logs the same line): while any such block is open, in any thread, its level is
    ERROR (unless it was set to more than that) and repeats are kept; the last block to close puts both back. Meanwhile
    PyAV attaches the last error it logged to the FFmpegError it raises (``exc.log``: its ``strerror`` stays
    FFmpeg's message). Other threads' lines, which PyAV sends to Python's ``logging`` (the ``libav`` loggers) once a
    level is set, are held back there as the level set before would: the ``libav`` logger's level is raised past
    them (past every line for None) until the last block closes, not to print a decoder's errors (a thread's
    'corrupted macroblock') through ``logging``'s last resort on stderr. Lines the block captured that the level
    set before lets through are sent on when it closes (:func:`av.logging.log`), to an enclosing
    ``av.logging.Capture`` or ``logging``, as they would have gone without the block."""
    with _Logging.lock:
        if not _Logging.open:
            level = av.logging.get_level()
            logger = logging.getLogger("libav")
            _Logging.saved = (level, av.logging.get_skip_repeated(), logger.level)
            if level is None or level < av.logging.ERROR:
                av.logging.set_level(av.logging.ERROR)
                held = logging.CRITICAL if level is None else logging.ERROR   # None: no line; FATAL: CRITICAL ones only
                logger.setLevel(max(logger.level, held + 1))
            av.logging.set_skip_repeated(False)
        _Logging.open += 1
    try:
        with av.logging.Capture() as logs:
            yield logs
    finally:
        with _Logging.lock:
            level, skip, logger_level = _Logging.saved
            for line_level, name, message in logs if level is not None else ():
                if line_level <= level:     # sent on while repeats are kept: PyAV's last line may be this one
                    av.logging.log(line_level, name, message)
            _Logging.open -= 1
            if not _Logging.open:
                if av.logging.get_level() != level:
                    av.logging.set_level(level)
                av.logging.set_skip_repeated(skip)
                logging.getLogger("libav").setLevel(logger_level)


def ended_prematurely(logs: list) -> bool:
    """Whether FFmpeg's log ``logs`` (:func:`ffmpeg_errors`) says that a demuxer's input ended inside an element
    (:data:`PREMATURE_END`)."""
    return any(PREMATURE_END in message for _, _, message in logs)


def watched(packets: Iterator, said: list) -> Iterator:
    """``packets`` (a demuxer's: PyAV's ``container.demux``) as they come, each read inside :func:`ffmpeg_errors`,
    whose lines that tell of a cut (:func:`ended_prematurely`) are added to ``said``. Only the demuxer's reads are
    watched: a decoder's errors (logged from FFmpeg's own threads too) stay off, as PyAV keeps them."""
    while True:
        with ffmpeg_errors() as logs:
            packet = next(packets, None)
        if ended_prematurely(logs):
            said.extend(logs)
        if packet is None:
            return
        yield packet


def premature_end(said: list, fmt: str, after_frames: bool = False) -> str | None:
    """What to say of a Matroska (or WebM) input (``fmt``: the ffmpeg format name it was opened as) whose demuxer's
    log ``said`` (:func:`watched`, :func:`ffmpeg_errors`) tells that it was cut short (:data:`PREMATURE_END`): a
    pipe's, whose size is not known to compare (:func:`cut_short`), or a file written to a pipe (its Segment's
    size left open) and cut. ``after_frames``: as many frames were read as the duration its header declares holds,
    so the cut fell after the last of them, in what a muxer writes after the frames (the index, Cues; tags): said
    so, no frame missing (such a file piped said 'ended inside an element', as of a cut inside a frame). None where
    it does not, and for other formats."""
    if "matroska" not in fmt.split(",") or not ended_prematurely(said):
        return None
    if after_frames:
        return ("the Matroska input ended after its last frame, inside what follows the frames (its index, Cues, or "
                f"its tags), as one cut short there does (truncated; FFmpeg: '{PREMATURE_END}'): no frame is missing")
    return f"the Matroska input ended inside an element, as one cut short does (truncated; FFmpeg: '{PREMATURE_END}')"


def ffmpeg_log(path: str | Path | None, *output: str, level: str = "error",
               data: bytes | bytearray | None = None) -> bytes:
    """What the ffmpeg executable (:func:`~vidcolor.io.writer.find_ffmpeg`) logs at ``level`` (``info``: also the
    streams it found, as ``ffmpeg -i`` lists them) opening the regular file ``path`` (or ``data``, given on its
    stdin, where ``path`` is None), then writing ``output`` (its arguments after the input; none: only opened).
    Empty where ffmpeg cannot be run (missing, or above 10 s)."""
    from vidcolor.errors import VidcolorError
    from vidcolor.io.convert import local_url
    from vidcolor.io.writer import find_ffmpeg

    given = {"stdin": subprocess.DEVNULL} if data is None else {"input": data}
    try:
        args = ["-nostdin", "-i", local_url(path)] if data is None else ["-i", "pipe:0"]
        return subprocess.run([find_ffmpeg(), "-hide_banner", "-v", level, *args, *output], capture_output=True,
                              timeout=10, **given).stderr
    except (OSError, subprocess.SubprocessError, VidcolorError):
        return b""


NO_INDEX = "moov atom not found"
"""What FFmpeg's mov demuxer logs for an MP4 or MOV without its index (the moov box), which it opens with
'Invalid data found when processing input' alone: one cut short before its index (ffmpeg writes it after the data,
unless given ``-movflags +faststart``), or one whose recording never finished."""


MP4_FIRST_BOXES = (b"ftyp", b"mdat", b"moov", b"free", b"skip", b"wide", b"pnot")
"""The boxes that an MP4 or MOV file starts with (its bytes 4-8 name the first: ffmpeg writes ``ftyp``, old
QuickTime ``mdat``, ``wide`` or ``moov``): only such a file is said to lack its index. FFmpeg picks its mov demuxer
by the name's suffix too, and says :data:`NO_INDEX` of a ``.mp4`` that holds no video at all."""


def missing_index(path: str | Path | None, data: bytes | bytearray | None = None) -> str | None:
    """What to say of a file that FFmpeg (PyAV) refused to open as video, where FFmpeg's own log tells that it is an
    MP4 or MOV (it starts as one: :data:`MP4_FIRST_BOXES`) without its index (:data:`NO_INDEX`): PyAV's error leaves
    the log out. The ffmpeg executable (:func:`ffmpeg_log`) opens the file once more, as ``ffmpeg -i`` does, and its
    log is read; or ``data``, what a pipe gave (``path`` None), given to it on its stdin.
    None where the log says otherwise, for a path that is not a regular file (a FIFO's bytes would be taken), and
    where ffmpeg cannot be run."""
    if data is not None:
        head = data[:8]
    elif path is None or not os.path.isfile(path):
        return None
    else:
        try:
            with open(path, "rb") as f:
                head = f.read(8)
        except OSError:
            return None
    if head[4:8] not in MP4_FIRST_BOXES:
        return None
    if NO_INDEX.encode() not in ffmpeg_log(path if data is None else None, data=data):
        return None
    return (f"the {'file' if data is None else 'input'} looks incomplete (truncated): an MP4 or MOV without its "
            f"index ('{NO_INDEX}'), as one cut short before the index (written last, unless with -movflags "
            "+faststart) or whose recording never finished")


PARTIAL_FILE = (": partial file", "Packet corrupt (stream = ")
"""What FFmpeg logs reading an MP4 or MOV with its index in front (``-movflags +faststart``) that was cut short: its
mov demuxer, for a sample that the index places beyond the file's end (``stream 0, offset 0x9c0: partial file``,
an error), and its demuxing layer, for a sample that the end cuts (``Packet corrupt (stream = 0, dts = -1024).``, a
warning: the mov demuxer marks a packet corrupt where the file gave fewer bytes than the index lists)."""


def partial_file(path: str | Path, fmt: str, stream: int) -> str | None:
    """What to say of an MP4 or MOV file (``fmt``: the ffmpeg format name it was opened as) whose first frame FFmpeg
    (PyAV) refused to decode, where FFmpeg's own log tells that its index places video samples beyond the file's
    end, or cut by it (:data:`PARTIAL_FILE`): ffmpeg copies the first two packets of the video stream read
    (``stream``, its index in the file: :func:`~vidcolor.io.reader.video_stream`'s, which need not be the first video
    stream) once more, without decoding (a large file is not read through; FFmpeg's demuxer reads ahead of them, so a
    small file's later cut is seen too, said beside its first frame's refusal, which damage may have caused), and its
    log is read. None where it says otherwise, for other formats, for a path that is not a regular file, and where
    ffmpeg cannot be run (:func:`ffmpeg_log`)."""
    if "mov" not in fmt.split(",") or not os.path.isfile(path):
        return None
    log = ffmpeg_log(path, "-map", f"0:{stream}", "-c", "copy", "-frames:v", "2", "-f", "null", "-", level="warning")
    if not any(sign.encode() in log for sign in PARTIAL_FILE):
        return None
    return "the file ends early (truncated): its index lists video beyond its end, as an MP4 or MOV cut short"
