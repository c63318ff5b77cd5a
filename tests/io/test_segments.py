"""Segments at keyframes (vidcolor.io.segments) and their join (vidcolor.io.writer.join_segments), no Ray."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from helpers import decode_all, run_ffmpeg
from vidcolor.errors import VidcolorError
from vidcolor.io import VideoReader, VideoWriter
from vidcolor.io.segments import plan_segments, read_segment
from vidcolor.io.timing import Timeline
from vidcolor.io.writer import Passthrough, join_segments

FPS = 24


def gop_clip(exe: str, path: Path, seconds: float = 4.0, gop: int = 12, forced: str | None = None,
             bframes: int = 3, audio: bool = True) -> Path:
    """testsrc2 96x64 at 24 fps, H.264 with a keyframe every ``gop`` frames (plus ``forced`` times, e.g.
    "1.25": an off-interval keyframe, as an encoder's scene-cut detection places them), B-frames, AAC."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size=96x64:rate={FPS}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    args += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-bf", str(bframes), "-x264-params", f"keyint={gop}:min-keyint={gop}:scenecut=0"]
    if forced:
        args += ["-force_key_frames", forced]
    if audio:
        args += ["-c:a", "aac"]
    run_ffmpeg(exe, *args, str(path))
    return path


def key_indices(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        packets = [p for p in c.demux(c.streams.video[0]) if p.size]
    order = sorted(p.pts for p in packets)
    return sorted(order.index(p.pts) for p in packets if p.is_keyframe)


def test_plan_cuts_at_keyframes_near_the_target_and_covers_every_frame_once(tmp_path, ffmpeg_exe):
    path = gop_clip(ffmpeg_exe, tmp_path / "g.mp4", seconds=4.0, gop=12)
    segments, info = plan_segments(path, seconds=1.0, warmup=5)
    keys = key_indices(path)
    assert info.frames == 96
    assert [s.start for s in segments] == [0, 24, 48, 72]          # 1 s = 24 frames, keyframes every 12
    assert all(s.start in keys for s in segments)
    assert [s.end for s in segments[:-1]] == [s.start for s in segments[1:]] and segments[-1].end == 96
    assert [s.warmup for s in segments] == [0, 5, 5, 5]
    assert segments[-1].end_pts is None


def test_plan_prefers_a_scene_cut_keyframe_and_takes_long_gops_whole(tmp_path, ffmpeg_exe):
    # regular keyframes every 24 frames (1 s) and an extra one at frame 30 (1.25 s): with a 1.25 s target
    # (30 frames) the window [15, 45] holds the regular keyframe at 24 and the cut at 30, which wins
    path = gop_clip(ffmpeg_exe, tmp_path / "cut.mp4", seconds=4.0, gop=24, forced="1.25")
    keys = key_indices(path)
    assert 30 in keys and 24 in keys
    segments, _ = plan_segments(path, seconds=1.25)
    assert segments[1].start == 30 and segments[1].cut
    # one keyframe only: one segment, whatever the target
    single = gop_clip(ffmpeg_exe, tmp_path / "one.mp4", seconds=2.0, gop=1000, audio=False)
    assert [(s.start, s.end) for s in plan_segments(single, seconds=0.25)[0]] == [(0, 48)]


def test_read_segment_gives_the_serial_decode_frames_warmup_included(tmp_path, ffmpeg_exe):
    path = gop_clip(ffmpeg_exe, tmp_path / "g.mp4", seconds=3.0, gop=12)     # B-frames: decode order != display
    full = decode_all(str(path))[0]
    segments, _ = plan_segments(path, seconds=0.5, warmup=7)
    assert len(segments) == 6
    for s in segments:
        got = np.stack(list(read_segment(path, s)))
        assert len(got) == s.warmup + s.frames
        np.testing.assert_array_equal(got, full[s.start - s.warmup:s.end])


def test_an_mp4_cut_without_re_encoding_is_planned_by_the_frames_it_shows(tmp_path, ffmpeg_exe):
    """A/V audit, stop 63: an mp4 cut with ``-c copy`` starts at the keyframe before the cut, its leading packets
    marked to be discarded (an edit list); the plan counted them (70 frames where 62 decode), so segment 0 'decoded
    16 of its 24 frames' and the Ray run failed."""
    full = gop_clip(ffmpeg_exe, tmp_path / "full.mp4", seconds=4.0, gop=12)
    path = tmp_path / "cut.mp4"
    run_ffmpeg(ffmpeg_exe, "-ss", "1.3", "-i", str(full), "-c", "copy", "-t", "2.5", str(path))
    with av.open(str(path)) as c:
        assert any(p.is_discard for p in c.demux(c.streams.video[0]) if p.size)     # the case at hand
    frames = decode_all(str(path))[0]
    segments, info = plan_segments(path, seconds=0.5, warmup=8)
    assert info.frames == len(frames) and segments[-1].end == len(frames)
    assert len(segments) > 1
    for s in segments:
        got = np.stack(list(read_segment(path, s)))
        np.testing.assert_array_equal(got, frames[s.start - s.warmup:s.end])


def test_joined_segments_keep_every_frame_timestamp_and_the_audio(tmp_path, ffmpeg_exe):
    path = gop_clip(ffmpeg_exe, tmp_path / "g.mp4", seconds=3.0, gop=12)
    segments, info = plan_segments(path, seconds=1.0, warmup=4)
    with VideoReader(path) as reader:
        full = np.stack(list(reader))
    parts = []
    for s in segments:                       # lossless parts: the join itself must not change a pixel
        part = tmp_path / f"part{s.index}.nut"
        timeline = Timeline.of(info.fps, info.time_base)
        with VideoWriter(part, info.width, info.height, info.fps, codec="ffv1", pix_fmt="yuv444p",
                         timeline=timeline, container="nut") as w:
            for i, frame in enumerate(read_segment(path, s, timeline)):
                if i >= s.warmup:
                    w.write(frame)
        parts.append(part)
    target = tmp_path / "joined.mkv"
    join_segments(parts, target, [s.span(info.time_base) for s in segments], codec="ffv1", time_base=info.time_base,
                  passthrough=Passthrough.of(path, info))
    with av.open(str(target)) as c:
        v = c.streams.video[0]
        pts = [f.pts for f in c.decode(v)]
        assert c.streams.audio
    steps = np.diff(np.array(pts) * float(v.time_base))
    np.testing.assert_allclose(steps, 1 / FPS, atol=1.5e-3)          # matroska: millisecond timestamps
    assert len(pts) == 72
    joined = decode_all(str(target))[0]
    assert np.abs(joined.astype(int) - full).max() <= 2               # 4:4:4 round trip only
    assert not list(tmp_path.glob(".*"))                              # no temporary file left


def _parts(path, segments, info, folder) -> list:
    """Each segment of ``path`` read and written, as a worker writes it, to ``folder/part<i>.nut``."""
    parts = []
    for s in segments:
        part = folder / f"part{s.index}.nut"
        timeline = Timeline.of(info.fps, info.time_base)
        with VideoWriter(part, info.width, info.height, info.fps, timeline=timeline, container="nut",
                         preset="ultrafast") as w:
            for frame in read_segment(path, s, timeline):
                w.write(frame)
        parts.append(part)
    return parts


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_joined_segments_keep_the_video_stream_s_language_and_title(tmp_path, ffmpeg_exe, suffix):
    """A Ray run's output (its parts joined) took the video's tags from its parts, which have none."""
    path = tmp_path / "tagged.mp4"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", f"testsrc2=size=96x64:rate={FPS}", "-t", "1", "-c:v", "libx264",
               "-preset", "ultrafast", "-g", "12", "-metadata:s:v:0", "language=jpn", "-metadata:s:v:0",
               "title=Second camera", str(path))
    segments, info = plan_segments(path, seconds=0.5)
    assert len(segments) == 2
    parts = _parts(path, segments, info, tmp_path)
    target = tmp_path / f"out{suffix}"
    join_segments(parts, target, [s.span(info.time_base) for s in segments], time_base=info.time_base,
                  passthrough=Passthrough.of(path, info))
    with av.open(str(target)) as c:
        tags = {k.lower(): v for k, v in c.streams.video[0].metadata.items()}
    assert tags["language"] == "jpn" and tags.get("title", tags.get("name")) == "Second camera"


def test_joined_segments_keep_the_video_s_disposition_in_matroska(tmp_path, ffmpeg_exe):
    """A/V audit, stop 63: a Ray run's Matroska output marked its video track not default (the concat list of the
    parts gives it no disposition); now the source's, as a local run keeps it."""
    path = tmp_path / "src.mp4"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", f"testsrc2=size=96x64:rate={FPS}", "-t", "1", "-c:v", "libx264",
               "-preset", "ultrafast", "-g", "12", str(path))
    segments, info = plan_segments(path, seconds=0.5)
    assert len(segments) == 2 and info.disposition == ("default",)
    target = tmp_path / "out.mkv"
    join_segments(_parts(path, segments, info, tmp_path), target, [s.span(info.time_base) for s in segments],
                  time_base=info.time_base, passthrough=Passthrough.of(path, info))
    with av.open(str(target)) as c:
        assert int(getattr(c.streams.video[0].disposition, "value", c.streams.video[0].disposition)) == 1


def test_mp4_join_has_exact_timestamps_and_refuses_an_existing_target(tmp_path, ffmpeg_exe):
    path = gop_clip(ffmpeg_exe, tmp_path / "g.mp4", seconds=2.0, gop=12, audio=False)
    segments, info = plan_segments(path, seconds=0.5)
    parts = _parts(path, segments, info, tmp_path)
    target = tmp_path / "out.mp4"
    join_segments(parts, target, [s.span(info.time_base) for s in segments], time_base=info.time_base)
    with av.open(str(target)) as c:
        v = c.streams.video[0]
        assert v.time_base == info.time_base
        steps = set(np.diff([f.pts for f in c.decode(v)]).tolist())
    assert steps == {int(1 / (FPS * info.time_base))}                 # every frame 1/24 s, no join gap
    with pytest.raises(VidcolorError, match="exists"):
        join_segments(parts, target, [s.span(info.time_base) for s in segments])


def test_plan_refuses_what_cannot_be_split(tmp_path):
    with pytest.raises(VidcolorError, match="no such file"):
        plan_segments(tmp_path / "missing.mp4", 10)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(VidcolorError, match="cannot read as video"):
        plan_segments(bad, 10)
    with pytest.raises(VidcolorError, match="must be a finite number > 0"):
        plan_segments(bad, 0)


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), 0.0, -1.0])
def test_a_segment_length_must_be_a_finite_number_above_0(tmp_path, seconds):
    """NaN said 'must be > 0', and infinity made one segment."""
    with pytest.raises(VidcolorError, match=rf"^segment_seconds must be a finite number > 0, got {seconds}$"):
        plan_segments(tmp_path / "x.mp4", seconds)


def test_join_takes_parts_in_a_folder_whose_name_is_not_utf8(tmp_path, ffmpeg_exe):
    """Review of the stop's diff: the concat listing was written as UTF-8 text, so a part in a folder named in
    Latin-1 (its bytes held as surrogate escapes) raised UnicodeEncodeError; the name's own bytes go to ffmpeg."""
    import os
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9"))
    try:
        folder.mkdir()
    except (OSError, UnicodeError):
        pytest.skip("the file system takes no non-UTF-8 name")
    path = gop_clip(ffmpeg_exe, tmp_path / "g.mp4", seconds=1.0, gop=12, audio=False)
    segments, info = plan_segments(path, seconds=0.5)
    parts = [p.rename(folder / p.name) for p in _parts(path, segments, info, tmp_path)]
    target = tmp_path / "out.mp4"
    join_segments(parts, target, [s.span(info.time_base) for s in segments], time_base=info.time_base)
    with av.open(str(target)) as c:
        assert len(list(c.decode(c.streams.video[0]))) == 24
