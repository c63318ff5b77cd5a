"""Frame timestamps from decoder to encoder (vidcolor.io.timing): variable frame rate kept frame by frame."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from helpers import run_ffmpeg
from vidcolor.io import AnimatedImageReader, VideoReader, VideoWriter
from vidcolor.io.timing import RateGrid, Timeline


def _rewrite(src: Path, out: Path):
    """Read ``src`` with :class:`VideoReader` and write its frames to ``out`` with its timeline (x264 ultrafast);
    returns the reader's :class:`VideoInfo`."""
    with VideoReader(src) as reader:
        with VideoWriter(out, reader.info.width, reader.info.height, reader.info.fps, timeline=reader.timeline,
                         preset="ultrafast") as w:
            for frame in reader:
                w.write(frame)
    return reader.info


def test_timeline_starts_at_zero_and_repairs_missing_or_repeated_timestamps():
    t = Timeline.of(Fraction(25), Fraction(1, 1000))
    assert t.step == 40
    for pts in (500, 540, None, 540, 700, 650):
        t.add(pts)
    # 500 -> 0; 540 -> 40; none -> 80; 540 again -> 120; 700 -> 200; 650 goes back -> 240
    assert t.pts == [0, 40, 80, 120, 200, 240]
    assert [t.pts_of(i) for i in (5, 6, 7)] == [240, 280, 320]


def test_a_timeline_that_begins_without_timestamps_keeps_its_steps():
    t = Timeline.of(Fraction(10))                 # time base 1/10: one tick a frame
    assert (t.time_base, t.step) == (Fraction(1, 10), 1)
    assert [t.pts_of(i) for i in range(3)] == [0, 1, 2]      # empty: a constant rate
    t.add(None)
    t.add(7)                                      # the first real timestamp continues one step on
    t.add(9)
    assert t.pts == [0, 1, 3]


def vfr_source(exe, path, audio=True):
    """320x240, 2 s: 30 fps for the first 10 frames, then every third frame dropped (uneven steps)."""
    args = ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=2"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac"]
    run_ffmpeg(exe, *args, "-vf", r"select='not(eq(mod(n\,3)\,1))+lt(n\,10)'", "-fps_mode", "vfr",
               "-c:v", "libx264", "-preset", "ultrafast", str(path))
    return path


def frame_times(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return [f.pts * v.time_base for f in c.decode(v)], c.duration / 1e6


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_variable_frame_rate_is_kept_frame_by_frame(tmp_path, ffmpeg_exe, suffix):
    src = vfr_source(ffmpeg_exe, tmp_path / "vfr.mp4")
    times, duration = frame_times(src)
    steps = set(np.round(np.diff([float(t) for t in times]), 4).tolist())
    assert steps == {0.0333, 0.0667}                              # the source is VFR
    out = tmp_path / f"out{suffix}"
    _rewrite(src, out)
    got, got_duration = frame_times(out)
    assert len(got) == len(times)
    if suffix == ".mp4":                                          # the source's time base: exact
        assert got == times
        assert got_duration == pytest.approx(duration, abs=0.04)
    else:                                                         # matroska: millisecond timestamps
        assert max(abs(float(a - b)) for a, b in zip(got, times)) <= 0.0005


def test_a_rate_grid_puts_rounded_timestamps_back_on_the_rate_and_keeps_the_others():
    grid = RateGrid.of(Fraction(30000, 1001), Fraction(1, 1000))
    assert (grid.time_base, grid.scale, grid.interval) == (Fraction(1, 30000), 30, 1001)
    ms = [round(Fraction(1001 * k, 30)) for k in range(6)]               # 0, 33, 67, 100, 133, 167
    assert [grid.ticks(t + 42, 42) for t in ms] == [42 * 30 + 1001 * k for k in range(6)]
    assert grid.ticks(42 + 50, 42) == (42 + 50) * 30                    # off the grid: exactly its own time
    assert grid.ticks(None, 0) is None
    assert RateGrid.of(Fraction(25), Fraction(1, 1000)) is None          # 40 ticks a frame: nothing to do
    assert RateGrid.of(Fraction(30000, 1001), Fraction(1, 90000)) is None
    assert RateGrid.of(Fraction(30000, 1001), Fraction(3, 1000)) is None
    assert RateGrid.of(Fraction(999983, 1000), Fraction(1, 1000)) is None     # finer than MAX_TIMESCALE
    assert RateGrid.of(None, Fraction(1, 1000)) is None
    # finer than a millisecond, rounding is microseconds: MPEG-TS at 23.976, an mp4's 1/90000 at 59.94 keep theirs
    assert RateGrid.of(Fraction(24000, 1001), Fraction(1, 90000)) is None
    assert RateGrid.of(Fraction(60000, 1001), Fraction(1, 90000)) is None
    assert RateGrid.of(Fraction(30000, 1001), Fraction(1, 600)).time_base == Fraction(1, 30000)   # QuickTime's 600
    # NUT made from an .mkv carries its milliseconds in 1/64000
    assert RateGrid.of(Fraction(30000, 1001), Fraction(1, 64000)) is None
    assert RateGrid.of(Fraction(30000, 1001), Fraction(1, 64000), carried=True).time_base == Fraction(1, 960000)


def test_an_mpeg_ts_source_keeps_its_time_base_in_mp4(tmp_path, ffmpeg_exe):
    """A 23.976 fps MPEG-TS (1/90000; a frame is 3753.75 ticks, rounded to microseconds) is written in its own time
    base, as ffmpeg keeps it; the rate grid for millisecond time bases had moved it to 1/360000."""
    src = tmp_path / "src.ts"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=24000/1001", "-frames:v", "12",
               "-c:v", "libx264", "-preset", "ultrafast", str(src))
    out = tmp_path / "out.mp4"
    info = _rewrite(src, out)
    assert info.time_base == Fraction(1, 90000)
    time_base, durations = _durations(out)
    assert time_base == Fraction(1, 90000) and len(durations) == 12


def _durations(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return v.time_base, [p.duration for p in c.demux(v) if p.size]


@pytest.mark.parametrize("piped", [False, True])
@pytest.mark.parametrize("rate", ["30000/1001", "24000/1001", "30"])
def test_a_matroska_source_s_rate_is_kept_exactly_in_mp4(tmp_path, ffmpeg_exe, rate, piped):
    """Matroska stores milliseconds: a 29.97 fps file's frames read 33 or 34 ms apart, and the mp4 written from it
    had a 1/1000 track of 33 and 34 tick frames (a variable rate, mean 20000/667) where ffmpeg's encode has 1001
    ticks of 1/30000 each. So did the README's pipe, ``ffmpeg -i x.mkv -c:v ffv1 -enc_time_base demux -f nut -``,
    whose NUT holds the milliseconds in 1/64000."""
    src = tmp_path / "src.mkv"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", f"testsrc=size=64x48:rate={rate}", "-frames:v", "40",
               "-c:v", "libx264", "-preset", "ultrafast", str(src))
    if piped:
        nut = tmp_path / "src.nut"
        run_ffmpeg(ffmpeg_exe, "-i", str(src), "-c:v", "ffv1", "-enc_time_base", "demux", "-f", "nut", str(nut))
        with av.open(str(nut)) as c:
            assert c.streams.video[0].time_base == Fraction(1, 64000)
        src = nut
    out = tmp_path / "out.mp4"
    _rewrite(src, out)
    time_base, durations = _durations(out)
    assert len(durations) == 40 and {d * time_base for d in durations} == {1 / Fraction(rate)}
    with av.open(str(out)) as c:
        assert c.streams.video[0].average_rate == Fraction(rate)


def test_a_variable_rate_in_matroska_keeps_its_times(tmp_path, ffmpeg_exe):
    """A variable rate in Matroska (ffmpeg guesses its mean, 43/2, for its rate: a grid of 1/43000) keeps each
    frame's time: none moves by more than the millisecond Matroska rounded it by."""
    mp4 = vfr_source(ffmpeg_exe, tmp_path / "vfr.mp4", audio=False)
    mkv = tmp_path / "vfr.mkv"
    run_ffmpeg(ffmpeg_exe, "-i", str(mp4), "-c", "copy", str(mkv))
    out = tmp_path / "out.mp4"
    _rewrite(mkv, out)
    got, want = frame_times(out)[0], frame_times(mp4)[0]
    assert len(got) == len(want) and max(abs(float(a - b)) for a, b in zip(got, want)) <= 0.001


def test_constant_rate_without_a_timeline(tmp_path):
    out = tmp_path / "cfr.mp4"
    with VideoWriter(out, 64, 48, Fraction(30000, 1001), preset="ultrafast") as w:
        w.write(np.zeros((5, 48, 64, 3), np.uint8))
    got, _ = frame_times(out)
    assert np.allclose(np.diff([float(t) for t in got]), 1001 / 30000, atol=1e-4)


def test_an_animated_gif_keeps_each_frame_delay(tmp_path):
    delays = [100, 40, 40, 300, 60]                               # ms
    frames = [Image.new("RGB", (32, 24), (40 * i, 80, 200 - 30 * i)) for i in range(len(delays))]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=delays, loop=0)
    out = tmp_path / "anim.mp4"
    with AnimatedImageReader(gif) as reader:
        with VideoWriter(out, 32, 24, reader.info.fps, timeline=reader.timeline, preset="ultrafast") as w:
            for frame in reader:
                w.write(frame)
    got, _ = frame_times(out)
    assert [round(float(t) * 1000) for t in got] == np.cumsum([0] + delays[:-1]).tolist()


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_an_animation_s_last_frame_keeps_its_own_delay(tmp_path, suffix):
    """A GIF that holds its last frame 2 s (100, 100, 2000 ms) was written holding it one mean interval, 733 ms (730 in GIF):
    2.2 s became 0.93 s (ffmpeg keeps the 2 s); the last frame now keeps its own delay, in GIF and mp4 alike."""
    delays = [100, 100, 2000]
    frames = [Image.new("RGB", (16, 16), (90 * i, 60, 200 - 90 * i)) for i in range(len(delays))]
    gif = tmp_path / "hold.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=delays, loop=0)
    out = tmp_path / f"out{suffix}"
    with AnimatedImageReader(gif) as reader:
        with VideoWriter(out, 16, 16, reader.info.fps, timeline=reader.timeline, preset="ultrafast") as w:
            for frame in reader:
                w.write(frame)
    if suffix == ".gif":
        with Image.open(out) as im:
            got = []
            for i in range(im.n_frames):
                im.seek(i)
                got.append(im.info["duration"])
        assert got == delays
    else:
        times, duration = frame_times(out)
        assert [round(float(t) * 1000) for t in times] == [0, 100, 200]
        assert abs(duration - 2.2) < 1e-3


@pytest.mark.parametrize("suffix", [".gif", ".png"])
def test_an_animation_whose_last_frame_is_lost_keeps_the_last_written_frame_s_delay(tmp_path, suffix):
    """With --ignore-errors, an animation whose last frame is damaged (its data cut: 100, 100, 500, 2000 ms) was
    written holding its last decoded frame 2000 ms, the lost frame's delay: GIF and APNG decode a frame only at the
    next seek, which the last one has none of, so it was counted as readable and its delay taken as
    Timeline.last_duration. The last frame written now keeps its own 500 ms."""
    delays = [100, 100, 500, 2000]
    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in delays]
    whole, cut = tmp_path / f"whole{suffix}", tmp_path / f"cut{suffix}"
    frames[0].save(whole, save_all=True, append_images=frames[1:], duration=delays, loop=0)
    cut.write_bytes(whole.read_bytes()[:-60])             # inside the last frame's data
    out = tmp_path / "out.gif"
    with AnimatedImageReader(cut) as reader:
        with VideoWriter(out, 32, 32, reader.info.fps, timeline=reader.timeline) as w:
            for frame in reader:
                w.write(frame)
        assert (reader.decoded, reader.missing, reader.info.frames) == (3, 1, 4)
    with Image.open(out) as im:
        got = []
        for i in range(im.n_frames):
            im.seek(i)
            got.append(im.info["duration"])
    assert got == delays[:3]


class _Pipe:
    """Bytes read as from a pipe (stdin): no seeking."""

    def __init__(self, data: bytes):
        self.read = __import__("io").BytesIO(data).read

    def seekable(self) -> bool:
        return False


@pytest.mark.parametrize("suffix", [".gif", ".apng"])
def test_an_animation_on_stdin_keeps_its_last_frame_s_delay(tmp_path, suffix):
    """A GIF on stdin that holds its last frame 2 s (100 ms four times, then 2000) came out 1.13 s long (its last frame
    one mean interval), where the same file given by name keeps the 2 s: FFmpeg's GIF (and APNG) demuxer gives each packet's
    delay, and the last one is now read ahead and kept (Timeline.last_duration); an APNG on stdin (redirected from the
    file) alike."""
    delays = [100, 100, 100, 100, 2000]
    frames = [Image.new("RGB", (16, 16), (40 * i, 60, 200 - 40 * i)) for i in range(len(delays))]
    src = tmp_path / f"hold{suffix}"
    frames[0].save(src, format="GIF" if suffix == ".gif" else "PNG", save_all=True, append_images=frames[1:],
                   duration=delays, loop=0)
    # an APNG cannot come through a pipe (FFmpeg's demuxer: 'Function not implemented'): stdin redirected from it
    data = src.read_bytes()
    info = _rewrite(_Pipe(data) if suffix == ".gif" else __import__("io").BytesIO(data), tmp_path / "out.mp4")
    assert info.frames == 0                                             # read as a stream
    times, duration = frame_times(tmp_path / "out.mp4")
    assert [round(float(t) * 1000) for t in times] == [0, 100, 200, 300, 400]
    assert abs(duration - 2.4) < 1e-3


def test_an_apng_s_fractional_delays_do_not_drift(tmp_path, ffmpeg_exe):
    """An APNG's delays are fractions of a second (ffmpeg writes 1/60 for 60 fps, Pillow reads 16.667 ms): each was
    cut to whole ms, 16, so the clip ran at 62.5 fps and its frames drifted early (the 30th at 464 ms, not 483);
    now each frame's time is its exact time rounded to the ms, as ffmpeg's APNG demuxer keeps it."""
    apng = tmp_path / "anim.apng"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=s=32x24:r=60:d=0.5", "-c:v", "apng", "-plays", "0", str(apng))
    with AnimatedImageReader(apng) as reader:
        assert reader.info.fps == 60 and reader.info.frames == 30
        assert abs(reader.info.duration - 0.5) < 1e-6
        out = tmp_path / "anim.mp4"
        with VideoWriter(out, 32, 24, reader.info.fps, timeline=reader.timeline, preset="ultrafast") as w:
            for frame in reader:
                w.write(frame)
    got, _ = frame_times(out)
    assert len(got) == 30
    assert max(abs(float(t) - i / 60) for i, t in enumerate(got)) <= 0.0005 + 1e-9


def test_a_released_timeline_keeps_a_bounded_window_and_the_same_timestamps():
    """Every timestamp was kept forever (about 38.6 MB a million frames): released ones are now forgotten."""
    rng = np.random.default_rng(0)
    raw = np.cumsum(rng.integers(1, 90, 100_000)).tolist()
    raw[10] = None                                                       # a frame without a timestamp
    raw[20] = raw[19]                                                    # one that does not increase
    full = Timeline.of(Fraction(30), Fraction(1, 1000))
    for pts in raw:
        full.add(pts)
    want = full.pts
    t = Timeline.of(Fraction(30), Fraction(1, 1000))
    got, kept = [], 0
    for i, pts in enumerate(raw):
        t.add(pts)
        got.append(t.pts_of(i))
        t.release(i + 1)
        kept = max(kept, len(t.pts))
    assert got == want and kept <= 1 and (t.first, t.added) == (100_000, 100_000)
    assert [t.pts_of(i) for i in (100_000, 100_001)] == [want[-1] + t.step, want[-1] + 2 * t.step]   # beyond: steps
    with pytest.raises(IndexError, match="frame 5's timestamp was released"):
        t.pts_of(5)


def test_the_writer_releases_what_it_has_written(tmp_path):
    """The writer read pts_of(frames) and the timeline kept every timestamp after it: now it holds only the frames
    not yet written, and a VFR clip's output timestamps are the same."""
    delays = [40, 100, 70, 33, 34, 200] * 50                              # 300 frames, ms
    times = np.cumsum([0] + delays[:-1]).tolist()
    timeline = Timeline.of(Fraction(15), Fraction(1, 1000))
    out = tmp_path / "vfr.mp4"
    kept = 0
    with VideoWriter(out, 16, 16, Fraction(15), timeline=timeline, preset="ultrafast") as w:
        for i, shown in enumerate(times):
            timeline.add(1000 + shown)                                   # as a reader adds it, then the frame
            w.write(np.full((16, 16, 3), i % 256, np.uint8))
            kept = max(kept, len(timeline.pts))
    assert kept <= 1 and timeline.first == 300
    got, _ = frame_times(out)
    assert [round(float(t) * 1000) for t in got] == times


@pytest.mark.parametrize("fmt,codec,suffix", [("h264", "libx264", ".h264"), ("m4v", "mpeg4", ".m4v")])
def test_a_raw_elementary_stream_keeps_the_frame_rate_its_bitstream_gives(tmp_path, ffmpeg_exe, fmt, codec, suffix):
    """A raw .h264 or .m4v stream has no container timestamps: FFmpeg's demuxer assumes 25 fps as its average rate,
    while the rate is in the bitstream (H.264's timing info), which ffmpeg's own conversion uses. vidcolor took the
    25: a 30 fps .h264 came out 25 fps, 20% slow (its frames without timestamps were spaced 1/25 s)."""
    src = tmp_path / f"raw{suffix}"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=s=32x24:r=30:d=0.4", "-c:v", codec, "-f", fmt, str(src))
    out = tmp_path / "out.mp4"
    info = _rewrite(src, out)
    assert info.fps == 30
    got, duration = frame_times(out)
    assert len(got) == 12 and abs(duration - 0.4) < 0.002
    assert max(abs(float(t) - i / 30) for i, t in enumerate(got)) < 0.001


def test_an_animated_avif_s_frame_times_do_not_drift(tmp_path, ffmpeg_exe):
    """Pillow gives an AVIF frame's delay rounded to the ms (42 for 1/24 s): summed, a 24 fps AVIF ran at 23.8 fps,
    its 12th frame at 462 ms, not 458; the frames' own times, which Pillow gives rounded too, keep it."""
    from vidcolor.io.files import IMAGE_SUFFIXES

    if ".avif" not in IMAGE_SUFFIXES:
        pytest.skip("Pillow without AVIF")
    avif = tmp_path / "anim.avif"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=s=32x24:r=24:d=0.5", "-c:v", "libaom-av1", "-cpu-used", "8",
               str(avif))
    with AnimatedImageReader(avif) as reader:
        assert reader.info.frames == 12 and reader.info.fps == 24
        assert max(abs(t - round(i * 1000 / 24)) for i, t in enumerate(reader.timeline.pts)) == 0
        assert len(list(reader)) == 12
