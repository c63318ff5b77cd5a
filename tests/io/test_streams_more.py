"""Which of a file's video streams is read (a still track before the video) (stop 70)."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import av
import numpy as np
import pytest

from helpers import CLIP_H, CLIP_W, feed_pipe, run_ffmpeg
from vidcolor.io import VideoReader, probe


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
