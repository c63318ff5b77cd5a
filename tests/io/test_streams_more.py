"""Which of a file's video streams is read (a still track before the video), and inputs cut short that only
FFmpeg's demuxer log tells (a Matroska on a pipe, or whose size is left open) or the bytes a pipe gave (an
MPEG-TS) (stop 70)."""
from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import av
import numpy as np
import pytest

from helpers import (CLIP_FRAMES, CLIP_H, CLIP_W, assert_cut_index_refused, assert_one_line_error, decode_all, feed_pipe, invoke_cli, listing,
                     run_cli, run_ffmpeg)
from vidcolor.errors import VidcolorError
from vidcolor.io import VideoReader, probe

FAST = ("-q", "--preset", "ultrafast")


@contextmanager
def _pipe(data: bytes):
    """The read end of an OS pipe whose writer gives ``data`` and closes (what ``cat file |`` gives stdin)."""
    read_end, write_end = os.pipe()
    feeder = threading.Thread(target=feed_pipe, args=(write_end, data), daemon=True)
    feeder.start()
    try:
        with open(read_end, "rb") as stream:
            yield stream
    finally:
        feeder.join(10)


def _frames(source) -> tuple[list, VideoReader]:
    """The frames of ``source`` (a path, or bytes given through a pipe) and its reader, closed."""
    if isinstance(source, bytes):
        with _pipe(source) as stream, VideoReader(stream) as r:
            return list(r), r
    with VideoReader(source) as r:
        return list(r), r


def _still(ffmpeg_exe, path, size="32x24"):
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", f"testsrc=size={size}", "-frames:v", "1", str(path))
    return path


def test_a_still_track_before_the_default_video_is_not_read_as_the_video(tmp_path, ffmpeg_exe, clip, clip_frames):
    """A cover picture muxed before the video into Matroska (``-disposition:v:0 attached_pic``, which the Matroska
    muxer drops: a one-frame MJPEG track, not default, then the default H.264 one) was read as the video: one frame
    of the cover, exit 0, the real video only named as not carried. As ffmpeg itself takes it (the default stream
    of the highest resolution), the video is read now, file or pipe, and the still track is the one named."""
    src = tmp_path / "cover_first.mkv"
    run_ffmpeg(ffmpeg_exe, "-i", str(_still(ffmpeg_exe, tmp_path / "cover.png")), "-i", str(clip), "-map", "0",
               "-map", "1:v", "-c:v:0", "mjpeg", "-c:v:1", "copy", "-disposition:v:0", "attached_pic",
               "-disposition:v:1", "default", str(src))
    with av.open(str(src)) as c:                    # the file as the audit found it
        assert [(s.codec_context.name, s.disposition.value) for s in c.streams.video] == [("mjpeg", 0), ("h264", 1)]
    for source in (src, src.read_bytes()):
        frames, r = _frames(source)
        assert (r.info.width, r.info.height) == (CLIP_W, CLIP_H) and r.info.others == ("video stream 0 (mjpeg)",)
        np.testing.assert_array_equal(np.stack(frames), clip_frames)
    assert (probe(src).width, probe(src).height) == (CLIP_W, CLIP_H)


def test_a_cut_mov_whose_still_track_comes_first_says_its_video_ends_early(tmp_path, ffmpeg_exe, clip):
    """A MOV (index in front) whose first video stream is a one-frame still (6 MB, raw: more than FFmpeg's probe
    reads), then the default video, cut inside the video's first frame: the reader reads the video (ffmpeg's rule)
    and cannot decode it, but asked ffmpeg's log about the first video stream (``-map 0:v:0``), the whole still,
    which showed no cut: 'cannot decode (Invalid data found when processing input)' alone. The stream read is asked
    about now, and its log says the index lists it beyond the end."""
    still = tmp_path / "still.png"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "color=c=gray:size=1920x1088", "-frames:v", "1", str(still))
    src = tmp_path / "still_first.mov"
    run_ffmpeg(ffmpeg_exe, "-i", str(still), "-i", str(clip), "-map", "0", "-map", "1:v", "-c:v:0", "rawvideo",
               "-pix_fmt:v:0", "rgb24", "-c:v:1", "copy", "-disposition:v:0", "0", "-disposition:v:1", "default",
               "-movflags", "+faststart", str(src))
    with av.open(str(src)) as c:
        start = next(p.pos for p in c.demux(c.streams.video[1]) if p.size)      # the video's first frame
        assert [s.codec_context.name for s in c.streams.video] == ["rawvideo", "h264"] and start > 5_000_000
    cut = tmp_path / "cut.mov"
    with open(src, "rb") as f:
        cut.write_bytes(f.read(start + 40))
    said = "the file ends early (truncated): its index lists video beyond its end, as an MP4 or MOV cut short"
    assert_cut_index_refused(cut, said)


@pytest.mark.parametrize("disposition", ["default", "0"])
def test_an_ordinary_file_keeps_its_first_video_stream(tmp_path, ffmpeg_exe, clip, disposition):
    """Where the first video stream is the default one, or none is, it is the one read, as before, though ffmpeg
    would take the larger second one (a second angle): only a file that marks another stream default is read
    otherwise."""
    src = tmp_path / "two.mkv"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=32x24:rate=10", "-i", str(clip), "-map", "0:v",
               "-map", "1:v", "-frames:v", "5", "-c:v", "libx264", "-preset", "ultrafast", "-disposition:v:0",
               disposition, "-disposition:v:1", disposition, str(src))
    frames, r = _frames(src)
    assert (r.info.width, r.info.height) == (32, 24) and r.info.others == ("video stream 1 (h264)",)


@pytest.fixture(scope="module")
def piped_mkv(tmp_path_factory, ffmpeg_exe) -> bytes:
    """48 frames of 64x48 as FFmpeg writes Matroska to a pipe (its Segment's size left open), keyframes every 6."""
    return run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=24", "-frames:v", "48",
                      "-c:v", "libx264", "-preset", "ultrafast", "-g", "6", "-f", "matroska", "-")


CUT_MKV = "the Matroska input ended inside an element, as one cut short does (truncated; FFmpeg: 'File ended prematurely')"


def test_a_matroska_cut_short_is_told_on_a_pipe_and_where_its_size_is_left_open(tmp_path, piped_mkv, ffmpeg_exe):
    """A Matroska cut short (``head -c``) read to the cut without a word where its Segment's size could not tell:
    on a pipe (whose size is not known), and a file written to a pipe and cut (its size left open). FFmpeg's
    demuxer says 'File ended prematurely' (logged; PyAV drops its log by default): the frames before the cut are
    given, the cut told (cut_frame, counted in missing: the CLI's error, or warning with --ignore-errors), the second
    cut in a process as the first (PyAV skips a repeated line), with PyAV's log setting put back. A whole one, and
    a cut in the probe's reach (a few frames), are told too."""
    (tmp_path / "cut.mkv").write_bytes(piped_mkv[:len(piped_mkv) * 2 // 3])
    (tmp_path / "short.mkv").write_bytes(piped_mkv[:len(piped_mkv) // 6])
    for source in (piped_mkv, tmp_path / "cut.mkv", (tmp_path / "cut.mkv").read_bytes(),
                   (tmp_path / "short.mkv").read_bytes()):
        frames, r = _frames(source)
        whole = source is piped_mkv
        assert (len(frames) == 48) == whole and len(frames) > 0 and r.ended_early is None
        assert (r.cut_frame, r.missing) == ((None, 0) if whole else (CUT_MKV, 1))
    assert av.logging.get_level() is None and av.logging.get_skip_repeated()
    data = run_ffmpeg(ffmpeg_exe, "-i", "pipe:0", "-c", "copy", str(tmp_path / "file.mkv"), stdin=piped_mkv)
    assert not data
    frames, r = _frames((tmp_path / "file.mkv").read_bytes()[:len(piped_mkv) // 2])  # a file's, on a pipe
    assert 0 < len(frames) < 48 and r.cut_frame == CUT_MKV


def test_a_matroska_cut_on_stdin_is_an_error_unless_ignore_errors(tmp_path, piped_mkv, tiny_models):
    """The CLI's rule for truncated input, as for y4m: nothing written and an error naming the cut, or with
    --ignore-errors the frames before the cut and a warning (before: '31 frames ... -> out.mp4', exit 0)."""
    cut = piped_mkv[:len(piped_mkv) * 2 // 3]
    res = invoke_cli("dequantize", "-", "-o", "out.mp4", "--model", tiny_models.lab, *FAST, stdin=cut, cwd=tmp_path)
    assert_one_line_error(res)
    assert f"stdin: {CUT_MKV}; nothing written (--ignore-errors keeps the " in res.stderr
    assert listing(tmp_path) == set()
    res = invoke_cli("dequantize", "-", "-o", "out.mp4", "--model", tiny_models.lab, "--ignore-errors", *FAST,
                     stdin=cut, cwd=tmp_path)
    kept = len(decode_all(str(tmp_path / "out.mp4"))[0])
    assert res.returncode == 0 and f"warning: stdin: {CUT_MKV}; the {kept} that decoded were written" in res.stderr
    assert 0 < kept < 48


def test_an_mpeg_ts_cut_inside_a_packet_on_a_pipe_is_told_as_a_file_is(tmp_path, ffmpeg_exe, clip, tiny_models):
    """An MPEG-TS that ends inside a packet is a sign of a cut (only a sign: captures split at any byte end so too),
    said of a file, and not of the same bytes on a pipe (the size was read from the file only): a pipe's byte count,
    known once read, is now checked as a file's size is (a warning; its frames written)."""
    data = run_ffmpeg(ffmpeg_exe, "-i", str(clip), "-map", "0:v", "-c", "copy", "-f", "mpegts", "-")
    size = len(data) // 2 // 188 * 188 + 100
    frames, r = _frames(data[:size])
    said = f"the input ends inside an MPEG-TS packet ({size:,} bytes): it may have been cut short"
    assert 0 < len(frames) < CLIP_FRAMES and r.partial_packet == said and r.missing == 0
    assert _frames(data)[1].partial_packet is None
    res = invoke_cli("dequantize", "-", "-o", "out.mp4", "--model", tiny_models.lab, *FAST, stdin=data[:size],
                     cwd=tmp_path)
    assert res.returncode == 0 and res.stderr_lines == [f"vidcolor: warning: stdin: {said}; its {len(frames)} frames "
                                                        "were written"], res.stderr


def test_a_cut_file_by_name_is_still_refused_before_any_work(tmp_path, piped_mkv, ffmpeg_exe):
    """A Matroska file written whole and cut keeps its earlier check (its Segment declares more bytes than it
    holds: ended_early, known when the reader is made), beside the demuxer's word."""
    run_ffmpeg(ffmpeg_exe, "-i", "pipe:0", "-c", "copy", str(tmp_path / "file.mkv"), stdin=piped_mkv)
    data = (tmp_path / "file.mkv").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[:len(data) // 2])
    with VideoReader(tmp_path / "cut.mkv") as r:
        assert r.ended_early and "truncated" in r.ended_early
        list(r)
        assert r.cut_frame == CUT_MKV
    with pytest.raises(VidcolorError, match="video has no frames: " + CUT_MKV.replace("(", r"\(").replace(")", r"\)")):
        _frames(piped_mkv[:len(piped_mkv) // 12])       # inside its first cluster


def _log_in_a_thread(message: str):
    """Log ``message`` as an FFmpeg error from another thread (as a decoder's threads log 'corrupted macroblock')."""
    thread = threading.Thread(target=av.logging.log, args=(av.logging.ERROR, "h264", message))
    thread.start()
    thread.join()


def test_another_thread_s_ffmpeg_errors_are_not_printed_while_a_block_is_open(caplog):
    """While an ffmpeg_errors block is open PyAV's level is ERROR process-wide, and its Capture holds only this
    thread's lines: another thread's errors (a decoder's) went to Python's logging (the ``libav`` loggers), which
    with no handler prints them raw on stderr. Where PyAV's level was None (its default: no line), the ``libav``
    logger holds them back now, and gets its level back at the end."""
    from vidcolor.io.truncation import ffmpeg_errors
    assert av.logging.get_level() is None
    level = logging.getLogger("libav").level
    with ffmpeg_errors() as logs:
        _log_in_a_thread("corrupted macroblock 3 4\n")
        av.logging.log(av.logging.ERROR, "matroska,webm", "File ended prematurely\n")
    assert logs == [(av.logging.ERROR, "matroska,webm", "File ended prematurely\n")]
    assert [r for r in caplog.records if r.name.startswith("libav")] == []
    assert logging.getLogger("libav").level == level and av.logging.get_level() is None


def test_an_ffmpeg_errors_block_sends_on_what_a_caller_s_own_capture_would_get():
    """A caller who set PyAV's level and holds its own Capture lost the lines logged inside a block (the innermost
    Capture takes them): they are sent on when the block closes, as far as the caller's level lets them."""
    from vidcolor.io.truncation import ffmpeg_errors
    av.logging.set_level(av.logging.WARNING)
    try:
        with av.logging.Capture() as outer:
            with ffmpeg_errors() as logs:
                av.logging.log(av.logging.ERROR, "mov,mp4", "moov atom not found\n")
            assert logs == outer == [(av.logging.ERROR, "mov,mp4", "moov atom not found\n")]
        av.logging.set_level(av.logging.FATAL)
        with av.logging.Capture() as outer:
            with ffmpeg_errors() as logs:
                av.logging.log(av.logging.ERROR, "mov,mp4", "moov atom not found\n")
            assert len(logs) == 1 and outer == []            # below the caller's level, as without the block
    finally:
        av.logging.set_level(None)


def test_a_10_bit_video_in_mpeg_ps_is_read_at_10_bits(tmp_path, ffmpeg_exe):
    """MPEG-PS (as FLV, an MPEG-TS cut anywhere) is probed without decoding, and what the probe would take from the
    first frame is taken from the decoder once it has decoded it: its colour and pixel aspect were, not its pixel
    format, so a 10-bit H.264 in MPEG-PS was read as 8 bits (pix_fmt None), its frames rounded to 8 where deep was
    asked. The pixel format, bits and alpha come from the first frame now too (as they did for an image sequence
    whose probe decoded none of its files, in a block apart)."""
    src = tmp_path / "ten.mpg"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=24", "-t", "0.25", "-c:v", "libx264",
               "-pix_fmt", "yuv420p10le", "-f", "mpeg", str(src))
    assert (probe(src).pix_fmt, probe(src).bits) == ("yuv420p10le", 10)
    with VideoReader(src, deep=True) as r:
        first = next(iter(r))
        assert (r.info.pix_fmt, r.info.bits, r.deep, first.dtype) == ("yuv420p10le", 10, True, np.uint16)


def _file_mkv(ffmpeg_exe, path: Path) -> tuple[bytes, int]:
    """48 frames of 64x48 in Matroska written to a file (its Cues, the index, after the frames; its duration in its
    header), and where its Cues start."""
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=24", "-frames:v", "48", "-c:v", "libx264",
               "-preset", "ultrafast", "-g", "6", str(path))
    data = path.read_bytes()
    cues = data.rfind(b"\x1c\x53\xbb\x6b")                     # the Cues element's ID, after the last Cluster
    assert cues > data.rfind(b"\x1f\x43\xb6\x75") > 0
    return data, cues


AFTER_MKV = ("the Matroska input ended after its last frame, inside what follows the frames (its index, Cues, or its "
             "tags), as one cut short there does (truncated; FFmpeg: 'File ended prematurely'): no frame is missing")


def test_a_matroska_cut_in_its_index_after_the_last_frame_says_no_frame_is_missing(tmp_path, ffmpeg_exe):
    """A Matroska written to a file and piped cut inside its Cues said 'ended inside an element' (missing 1: the
    CLI's '--ignore-errors keeps the 48 that decoded'), as if a frame were lost: all 48 decode. As many frames are
    read as its declared duration holds, so the cut is said to fall after the last frame, none missing; a cut
    inside the last frame is told as before."""
    data, cues = _file_mkv(ffmpeg_exe, tmp_path / "file.mkv")
    frames, r = _frames(data[:cues + 6])
    assert (len(frames), r.cut_frame, r.missing) == (48, AFTER_MKV, 0)
    frames, r = _frames(data[:cues - 20])                       # inside the last frame
    assert (len(frames), r.cut_frame, r.missing) == (47, CUT_MKV, 1)


@pytest.mark.slow
def test_the_cli_says_a_matroska_cut_after_its_last_frame_lost_none(tmp_path, ffmpeg_exe, tiny_models):
    """Such a cut on a pipe is still an error without --ignore-errors, as the same file by name is refused (its
    Segment declares more bytes than it holds), worded for what it is: '...: no frame is missing; nothing written
    (--ignore-errors writes all 48)'; with it, all 48 are written. (A subprocess: the CLI's stdin in-process is a
    stream that seeks, from which the demuxer reads no further than the last frame.)"""
    data, cues = _file_mkv(ffmpeg_exe, tmp_path / "file.mkv")
    res = run_cli("dequantize", "-", "-o", "out.mp4", "--model", tiny_models.lab, *FAST, stdin=data[:cues + 6],
                  cwd=tmp_path)
    assert_one_line_error(res)
    assert f"stdin: {AFTER_MKV}; nothing written (--ignore-errors writes all 48)" in res.stderr
    assert not (tmp_path / "out.mp4").exists()
    res = run_cli("dequantize", "-", "-o", "out.mp4", "--model", tiny_models.lab, "--ignore-errors", *FAST,
                  stdin=data[:cues + 6], cwd=tmp_path)
    assert res.returncode == 0 and f"warning: stdin: {AFTER_MKV}; all 48 were written" in res.stderr
    assert len(decode_all(str(tmp_path / "out.mp4"))[0]) == 48
