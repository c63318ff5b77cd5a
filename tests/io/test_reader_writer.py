"""vidcolor.io.reader / writer: PyAV decoding (files, streams, raw rgb24, display rotation), ffmpeg encoding."""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from helpers import (feed_pipe, smooth_image, vidcolor_warnings, CLIP_FPS, CLIP_FRAMES, CLIP_H, CLIP_W, damage_packet, decode_all, gradient_image,
                     listing, make_clip, make_videoless_mkv, mosaic, run_ffmpeg)
from vidcolor.errors import VidcolorError
from vidcolor.io import VideoReader, VideoWriter, probe
from vidcolor.metrics import psnr
from vidcolor.io.segments import plan_segments, read_segment
from vidcolor.io.timing import Timeline
from vidcolor.io.writer import Passthrough, default_file_mode


# ------------------------------------------------------------------------------------------- helpers


def make_frames(n: int, h: int, w: int) -> np.ndarray:
    """Distinct smooth frames (a moving gradient), uint8 ``(n, h, w, 3)``."""
    base = gradient_image(h, w).astype(np.int16)
    return np.stack([np.clip(base + 8 * i, 0, 255).astype(np.uint8) for i in range(n)])


@pytest.fixture(scope="module")
def bad_sources(tmp_path_factory, ffmpeg_exe, clip):
    """Files that are not usable videos: text named .mp4, audio-only mp4, a video stream without frames."""
    d = tmp_path_factory.mktemp("bad")
    (d / "text.mp4").write_text("hello, I am not a video\n")
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "sine=frequency=440", "-t", "0.3", "-c:a", "aac", str(d / "audio.mp4"))
    make_videoless_mkv(d / "noframes.mkv")
    return d


# -------------------------------------------------------------------------------------------- reader


def test_reader_on_clip(clip, clip_frames):
    with VideoReader(clip) as r:
        info = r.info
        frames = np.stack(list(r))
    assert (info.width, info.height) == (CLIP_W, CLIP_H)
    assert info.fps == Fraction(CLIP_FPS)
    assert info.frames == CLIP_FRAMES
    assert info.rotation == 0
    assert info.has_audio and info.audio_codec == "aac"
    assert info.time_base is not None and info.time_base.numerator == 1
    assert abs(info.duration - CLIP_FRAMES / CLIP_FPS) < 0.05
    assert frames.shape == (CLIP_FRAMES, CLIP_H, CLIP_W, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, clip_frames)
    assert not np.array_equal(frames[0], frames[-1])             # testsrc moves


def test_reader_accepts_str_path_and_file_object(clip, clip_frames):
    with VideoReader(str(clip)) as r:
        assert sum(1 for _ in r) == CLIP_FRAMES
    with open(clip, "rb") as f, VideoReader(f) as r:
        np.testing.assert_array_equal(np.stack(list(r)), clip_frames)


def test_reader_from_nut_stream(ffmpeg_exe, clip, clip_frames):
    data = run_ffmpeg(ffmpeg_exe, "-i", str(clip), "-c", "copy", "-f", "nut", "-")
    with VideoReader(io.BytesIO(data)) as r:
        assert r.info.fps == Fraction(CLIP_FPS) and (r.info.width, r.info.height) == (CLIP_W, CLIP_H)
        np.testing.assert_array_equal(np.stack(list(r)), clip_frames)


def test_probe(clip):
    info = probe(clip)
    assert (info.width, info.height, info.fps, info.frames) == (CLIP_W, CLIP_H, Fraction(CLIP_FPS), CLIP_FRAMES)
    assert info.audio_codec == "aac" and info.rotation == 0


def test_probe_without_audio(tmp_path, ffmpeg_exe):
    path = make_clip(ffmpeg_exe, tmp_path / "silent.mkv", width=32, height=24, frames=3, fps=25, audio=False)
    info = probe(path)
    assert not info.has_audio and info.audio_codec is None
    assert (info.width, info.height, info.fps) == (32, 24, Fraction(25))


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_display_rotation(tmp_path, ffmpeg_exe, clip, clip_frames, angle):
    rotated = tmp_path / f"rot{angle}.mp4"
    run_ffmpeg(ffmpeg_exe, "-display_rotation", str(angle), "-i", str(clip), "-c", "copy", str(rotated))
    info = probe(rotated)
    assert info.rotation == angle
    quarter = angle in (90, 270)
    expected_size = (CLIP_H, CLIP_W) if quarter else (CLIP_W, CLIP_H)
    assert (info.width, info.height) == expected_size
    with VideoReader(rotated) as r:
        assert (r.info.width, r.info.height) == expected_size and r.info.rotation == angle
        frames = np.stack(list(r))
    assert frames.shape == (CLIP_FRAMES, expected_size[1], expected_size[0], 3)
    # ffmpeg's own autorotating decode is the reference (its YUV -> RGB rounds differently: see
    # vidcolor.io.convert; a wrong turn would differ by tens of levels)
    raw = run_ffmpeg(ffmpeg_exe, "-i", str(rotated), "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    ref = np.frombuffer(raw, np.uint8).reshape(frames.shape)
    assert np.abs(frames.astype(int) - ref).mean() < 2
    # and it is a pure rotation of the stored pixels
    matches = [k for k in range(4) if np.rot90(clip_frames, k, axes=(1, 2)).shape == frames.shape
               and np.array_equal(np.rot90(clip_frames, k, axes=(1, 2)), frames)]
    assert len(matches) == 1
    assert matches[0] == (2 if angle == 180 else matches[0])


@pytest.mark.parametrize("matrix, orientation", [
    (["-display_hflip"], (0, True)), (["-display_vflip"], (180, True)),
    (["-display_rotation", "90", "-display_hflip"], (270, True)),
    (["-display_rotation", "90", "-display_vflip"], (90, True)),
    (["-display_rotation", "180", "-display_hflip"], (180, True)),
    (["-display_hflip", "-display_vflip"], (180, False))])
def test_a_mirrored_display_matrix_is_applied_as_ffmpeg_applies_it(tmp_path, ffmpeg_exe, clip, matrix, orientation):
    """A front camera's or an editor's display matrix mirrors the picture: only its rotation was applied (the
    rotation alone loses the mirror), and the output was a mirror image of what ffmpeg and players show."""
    src = tmp_path / "mirrored.mp4"
    run_ffmpeg(ffmpeg_exe, *matrix, "-i", str(clip), "-c", "copy", str(src))
    quarter = orientation[0] in (90, 270)
    size = (CLIP_H, CLIP_W) if quarter else (CLIP_W, CLIP_H)
    info = probe(src)
    assert ((info.rotation, info.mirrored), (info.width, info.height)) == (orientation, size)
    with VideoReader(src) as r:
        frames = np.stack(list(r))
        assert (r.info.rotation, r.info.mirrored) == orientation
    raw = run_ffmpeg(ffmpeg_exe, "-i", str(src), "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    ref = np.frombuffer(raw, np.uint8).reshape(CLIP_FRAMES, size[1], size[0], 3)
    assert np.abs(frames.astype(int) - ref).mean() < 2          # a mirror image differs by tens of levels
    segments, _ = plan_segments(src, seconds=10.0)              # the distributed path decodes the same
    np.testing.assert_array_equal(np.concatenate([np.stack(list(read_segment(src, s))) for s in segments]), frames)


def test_reader_missing_file(tmp_path):
    with pytest.raises(VidcolorError, match="no such file"):
        VideoReader(tmp_path / "nope.mp4")
    with pytest.raises(VidcolorError):
        probe(tmp_path / "nope.mp4")


@pytest.mark.parametrize("name", ["text.mp4", "audio.mp4", "noframes.mkv"])
def test_reader_rejects_unusable_files(bad_sources, name):
    with pytest.raises(VidcolorError):
        VideoReader(bad_sources / name)
    with pytest.raises(VidcolorError):
        probe(bad_sources / name)


@pytest.mark.parametrize("suffix, audio, cover", [(".mp3", "libmp3lame", "mjpeg"), (".m4a", "aac", "png"),
                                                   (".flac", "flac", "png")])
def test_an_audio_file_with_cover_art_has_no_video_stream(tmp_path, ffmpeg_exe, suffix, audio, cover):
    """FFmpeg gives an audio file's cover art as a one-frame video stream: `vidcolor dequantize song.mp3` wrote a
    1-frame video of the cover and exited 0. Reading, probing and eval now say that there is only cover art."""
    from vidcolor.evaluate import evaluate

    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=32x24", "-frames:v", "1", str(tmp_path / "cover.png"))
    song = tmp_path / f"song{suffix}"
    run_ffmpeg(ffmpeg_exe, "-i", str(tmp_path / "cover.png"), "-f", "lavfi", "-i", "sine=frequency=440:duration=0.3",
               "-map", "0:v", "-map", "1:a", "-c:v", cover, "-disposition:v", "attached_pic", "-c:a", audio,
               str(song))
    with av.open(str(song)) as c:                   # the cover is there, as a video stream
        assert len(c.streams.video) == 1 and c.streams.video[0].disposition.value & 0x400
    for read in (VideoReader, probe, lambda p: evaluate(p, p, features=False)):
        with pytest.raises(VidcolorError, match=re.escape(f"{song}: no video stream (only cover art)") + "$"):
            read(song)


def test_a_video_whose_cover_art_comes_first_is_read_from_its_video(tmp_path, ffmpeg_exe, clip, clip_frames):
    """An MP4 whose cover art FFmpeg lists before the video (the metadata before the tracks) was read as the cover:
    one 32x24 frame instead of the clip's 10 of 64x48; the reader, the probe and the segments take the video."""
    from helpers import cover_art_first
    from vidcolor.io.segments import plan_segments, read_segment

    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=32x24", "-frames:v", "1", str(tmp_path / "cover.png"))
    src = cover_art_first(ffmpeg_exe, clip, tmp_path / "cover.png", tmp_path / "covered.mp4")
    with VideoReader(src) as r:
        assert (r.info.width, r.info.height, r.info.frames, r.info.fps) == (CLIP_W, CLIP_H, CLIP_FRAMES, CLIP_FPS)
        np.testing.assert_array_equal(np.stack(list(r)), clip_frames)
        assert r.missing == 0
    assert (probe(src).width, probe(src).height, probe(src).frames) == (CLIP_W, CLIP_H, CLIP_FRAMES)
    segments, info = plan_segments(src, 0.5)
    assert info.frames == CLIP_FRAMES
    np.testing.assert_array_equal(np.stack([f for s in segments for f in read_segment(src, s)]), clip_frames)


def test_reader_rejects_non_video_stream():
    with pytest.raises(VidcolorError):
        VideoReader(io.BytesIO(b"\x00" * 1000))


def test_iterating_a_closed_reader_is_a_value_error_not_a_crash(clip, tmp_path):
    """The frame generator went on demuxing the closed container: Python died of SIGSEGV (rc 139) on ``list(r)``
    after ``r.close()`` and on an iterator used after its ``with`` block; run in a child process so that a crash
    fails this test, not the session."""
    import subprocess
    import sys

    code = ("import sys\nfrom vidcolor.io import VideoReader\n"
            "r = VideoReader(sys.argv[1])\nr.close()\nr.close()\n"
            "try:\n    list(r)\nexcept ValueError as e:\n    print(e)\n"
            "with VideoReader(sys.argv[1]) as r:\n    it = iter(r)\n    next(it)\n    next(it)\n"
            "try:\n    next(it)\nexcept ValueError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code, str(clip)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [f"{clip}: the reader is closed"] * 2
    frames = np.zeros((3, 4, 4, 3), np.uint8)
    (tmp_path / "f.rgb").write_bytes(frames.tobytes())
    for source in (io.BytesIO(frames.tobytes()), tmp_path / "f.rgb"):      # raw: a file object (left open) or a path
        r = VideoReader(source, raw_size=(4, 4), fps=10)
        it = iter(r)
        next(it)
        r.close()
        with pytest.raises(ValueError, match="the reader is closed"):
            next(it)
        with pytest.raises(ValueError, match="the reader is closed"):
            iter(r)


def test_a_reader_is_single_pass(clip, clip_frames):
    """A second iteration gave frame 0 again and then nothing (the cached first frame, then the exhausted decoder);
    now it is a ValueError, for files and raw input alike."""
    raw = io.BytesIO(np.zeros((3, 4, 4, 3), np.uint8).tobytes())
    for r, n in ((VideoReader(clip), CLIP_FRAMES), (VideoReader(raw, raw_size=(4, 4), fps=10), 3)):
        with r:
            assert len(list(r)) == n
            with pytest.raises(ValueError, match="iterated before"):
                iter(r)
    with VideoReader(clip) as r:                        # one frame taken is a started iteration too
        next(iter(r))
        with pytest.raises(ValueError, match="iterated before"):
            list(r)


# ----------------------------------------------------------------------------------------------- raw


def test_raw_frames_from_bytesio():
    frames = np.random.default_rng(0).integers(0, 256, (4, 7, 9, 3), dtype=np.uint8)
    with VideoReader(io.BytesIO(frames.tobytes()), raw_size=(9, 7), fps=12.5) as r:
        assert (r.info.width, r.info.height) == (9, 7)
        assert r.info.fps == Fraction(25, 2)
        got = np.stack(list(r))
    np.testing.assert_array_equal(got, frames)


def test_raw_ntsc_rate_and_file_path(tmp_path):
    frames = np.random.default_rng(1).integers(0, 256, (3, 4, 6, 3), dtype=np.uint8)
    path = tmp_path / "frames.rgb"
    path.write_bytes(frames.tobytes())
    r = VideoReader(path, raw_size=(6, 4), fps=30000 / 1001)
    assert r.info.fps == Fraction(30000, 1001)
    np.testing.assert_array_equal(np.stack(list(r)), frames)


def test_raw_reads_a_slow_pipe():
    """A pipe may return fewer bytes than asked; frames must still come out whole."""
    frames = np.random.default_rng(2).integers(0, 256, (3, 5, 5, 3), dtype=np.uint8)

    class Trickle(io.RawIOBase):
        def __init__(self, data):
            self.data = data

        def readable(self):
            return True

        def read(self, n=-1):
            chunk, self.data = self.data[:min(n, 7)], self.data[min(n, 7):]
            return chunk

    got = np.stack(list(VideoReader(Trickle(frames.tobytes()), raw_size=(5, 5), fps=10)))
    np.testing.assert_array_equal(got, frames)


def test_raw_truncated_frame():
    frames = np.random.default_rng(3).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
    data = frames.tobytes() + b"\x01" * 10                       # two frames and a bit
    r = VideoReader(io.BytesIO(data), raw_size=(4, 4), fps=10)
    it = iter(r)
    np.testing.assert_array_equal(next(it), frames[0])
    np.testing.assert_array_equal(next(it), frames[1])
    assert r.missing == 0
    assert next(it, None) is None and r.missing == 1            # the partial frame ends it; the whole ones count
    with pytest.raises(VidcolorError, match="inside a frame"):  # a lone partial frame
        VideoReader(io.BytesIO(b"\x00" * 20), raw_size=(4, 4), fps=10)


def test_raw_input_of_another_size_is_told_by_its_byte_counts(tmp_path, ffmpeg_exe, clip):
    """A wrong --raw size (or an mp4 given as raw frames) was told only as 'truncated', and --ignore-errors was the
    advice, which keeps sheared frames: the message gives the bytes read, the frame size and its bytes, and names a
    container file."""
    r = VideoReader(io.BytesIO(bytes(2 * 5 * 4 * 3)), raw_size=(4, 4), fps=10)     # two 5x4 frames as 4x4
    assert len(list(r)) == 2 and r.missing == 1
    assert r.cut_frame == ("the raw input ended inside a frame: its 120 bytes are no whole number of 4x4 rgb24 frames "
                           "(48 bytes each, 3 a pixel), so it was cut short (truncated) or that is not its frame size")
    with pytest.raises(VidcolorError, match=r"^stdin: the raw input ended inside a frame: its 20 bytes are no whole "
                                            r"number of 4x4 rgb24 frames \(48 bytes each, 3 a pixel\).*; check raw_size"):
        VideoReader(io.BytesIO(b"\x00" * 20), raw_size=(4, 4), fps=10)
    data = clip.read_bytes()
    mp4 = tmp_path / "clip.mp4"
    mp4.write_bytes(data + (b"\x00" if len(data) % 192 == 0 else b""))
    with VideoReader(mp4, raw_size=(8, 8), fps=10) as r:       # an mp4 given as raw frames
        list(r)
    assert r.cut_frame.endswith(f"its {mp4.stat().st_size:,} bytes are no whole number of 8x8 rgb24 frames (192 bytes "
                                "each, 3 a pixel), so it was cut short (truncated) or that is not its frame size (it "
                                "starts as an MP4 or MOV file, not raw frames)")


def test_raw_empty_and_bad_arguments(tmp_path):
    with pytest.raises(VidcolorError, match="no frames"):
        VideoReader(io.BytesIO(b""), raw_size=(4, 4), fps=10)
    for fps in (None, 0, -5):
        with pytest.raises(VidcolorError, match="fps"):
            VideoReader(io.BytesIO(b"\x00" * 48), raw_size=(4, 4), fps=fps)
    with pytest.raises(VidcolorError, match="no such file"):
        VideoReader(tmp_path / "missing.rgb", raw_size=(4, 4), fps=10)


def test_raw_rates_that_are_no_frame_rate_and_raw_files_that_cannot_be_opened(tmp_path, monkeypatch):
    """--fps 0.0001 became 0 frames per second (ZeroDivisionError), nan and inf could not become fractions, 1e12
    overflowed the muxer's rationals; a folder or an unreadable file given with --raw was a traceback."""
    from fractions import Fraction

    import vidcolor.io.reader as reader

    for fps in (0.0001, float("nan"), float("inf"), -float("inf"), 1e12):
        with pytest.raises(VidcolorError, match=f"^fps {fps} is not a frame rate"):
            VideoReader(io.BytesIO(b"\x00" * 48), raw_size=(4, 4), fps=fps)
    for fps, rate in ((1 / 1001, Fraction(1, 1001)), (30000 / 1001, Fraction(30000, 1001)), (1e6, Fraction(10 ** 6)),
                      ("30000/1001", Fraction(30000, 1001)), (" 24000:1001", Fraction(24000, 1001)),
                      ("29.97", Fraction(2997, 100)), ("1e3", Fraction(1000)), (Fraction(90000, 3001), Fraction(90000, 3001)),
                      (Fraction(30000 * 2 ** 31 + 1, 1001 * 2 ** 31), Fraction(30000, 1001))):
        assert VideoReader(io.BytesIO(b"\x00" * 48), raw_size=(4, 4), fps=fps).info.fps == rate
    for fps in ("abc", "1/0", "30000/"):
        with pytest.raises(VidcolorError, match=f"^fps {fps} is not a number"):
            VideoReader(io.BytesIO(b"\x00" * 48), raw_size=(4, 4), fps=fps)
    with pytest.raises(VidcolorError, match="cannot read raw frames"):
        VideoReader(tmp_path, raw_size=(4, 4), fps=10)

    def refused(*args, **kwargs):                  # a file without read permission (the tests may run as root)
        raise PermissionError(13, "Permission denied", str(args[0]))

    (tmp_path / "secret.rgb").write_bytes(b"\x00" * 48)
    monkeypatch.setattr(reader, "open", refused, raising=False)
    with pytest.raises(VidcolorError, match=r"secret.rgb: cannot read raw frames \(Permission denied\)"):
        VideoReader(tmp_path / "secret.rgb", raw_size=(4, 4), fps=10)


# -------------------------------------------------------------------------------------------- writer


def test_writer_count_fps_and_pixels(tmp_path):
    frames = make_frames(7, 48, 64)
    out = tmp_path / "out.mp4"
    fps = Fraction(30000, 1001)
    with VideoWriter(out, 64, 48, fps, crf=10, preset="ultrafast") as w:
        w.write(frames[:3])                                       # a batch
        for f in frames[3:]:                                      # and single frames
            w.write(f)
        assert w.frames == 7
    assert listing(tmp_path) == {"out.mp4"}
    got, rate, has_audio = decode_all(str(out))
    assert len(got) == 7 and rate == fps and not has_audio
    assert psnr(got, frames) > 35
    assert (out.stat().st_mode & 0o777) == default_file_mode()


def test_writer_keeps_time_base_and_copies_audio(tmp_path, clip):
    info = probe(clip)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, 64, 48, info.fps, preset="ultrafast", passthrough=Passthrough.of(clip, info),
                     timeline=Timeline.of(info.fps, info.time_base)) as w:
        w.write(make_frames(CLIP_FRAMES, 48, 64))
    with av.open(str(out)) as c:
        assert Fraction(c.streams.video[0].time_base) == info.time_base
        assert c.streams.audio and c.streams.audio[0].codec_context.name == "aac"
        assert c.streams.video[0].frames == CLIP_FRAMES


@pytest.mark.parametrize("suffix,fmt", [(".mkv", "matroska"), (".nut", "nut"), (".mov", "mov")])
def test_writer_container_from_suffix(tmp_path, suffix, fmt):
    out = tmp_path / f"out{suffix}"
    with VideoWriter(out, 32, 32, Fraction(24), preset="ultrafast") as w:
        w.write(make_frames(3, 32, 32))
    with av.open(str(out)) as c:
        assert fmt in c.format.name
        assert sum(1 for _ in c.decode(video=0)) == 3


def test_an_unknown_suffix_names_only_suffixes_that_are_written(tmp_path):
    """The error listed .webm (which holds no codec vidcolor writes) and .avi (refused) among the suffixes to use."""
    with pytest.raises(VidcolorError, match="cannot tell the video format") as err:
        VideoWriter(tmp_path / "out.xyz", 32, 32, Fraction(24))
    named = re.search(r"name it (.*), or give container", str(err.value))[1].split(", ")
    assert ".webm" not in named and ".avi" not in named and {".mp4", ".mkv", ".gif"} <= set(named)
    for suffix in named:                                # each of them is written with the defaults
        with VideoWriter(tmp_path / f"out{suffix}", 32, 32, Fraction(24), preset="ultrafast") as w:
            w.write(make_frames(2, 32, 32))
    assert listing(tmp_path) == {f"out{s}" for s in named}


@pytest.mark.parametrize("codec, name, said", [("libx264", "out.webm", "VP8, VP9 and AV1"),
                                               ("ffv1", "out.webm", "VP8, VP9 and AV1"),
                                               ("prores", "out.mp4", ".mov or .mkv"),
                                               ("prores", "out.m4v", ".mov or .mkv"),
                                               ("libx264", "out.avi", "AVI has no timestamps"),
                                               ("ffv1", "OUT.AVI", "AVI has no timestamps")])
def test_a_container_that_cannot_hold_the_codec_is_refused_before_ffmpeg_starts(tmp_path, codec, name, said):
    with pytest.raises(VidcolorError, match=said):
        VideoWriter(tmp_path / name, 32, 32, Fraction(24), codec=codec)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("w,h", [(35, 33), (33, 32), (32, 33)])
def test_writer_odd_sizes_are_kept_exactly(tmp_path, w, h):
    """4:2:0 needs even sides, so an odd-sized frame is written 4:4:4: same size out as in (eval can compare)."""
    frames = mosaic(3, h, w)
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, w, h, Fraction(10), crf=10, preset="ultrafast") as vw:
        assert not vw.keeps_chroma
        vw.write(frames)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv444p"
    got, _, _ = decode_all(str(out))
    assert got.shape == (3, h, w, 3)
    assert psnr(got, frames) > 24                              # a one-pixel shift gives about 16 dB


@pytest.mark.parametrize("codec, pix_fmt, suffix, want_fmt, min_psnr", [
    ("ffv1", "yuv444p10le", ".mkv", "yuv444p10le", 50),     # lossless but for the RGB <-> YUV rounding
    ("prores", "yuv420p", ".mov", "yuv422p10le", 40),        # ProRes has no 4:2:0: 422 HQ
    ("prores", "yuv444p", ".mov", "yuv444p12le", 40),        # 4444 (its decoder reports 12 bits)
    ("libx264", "yuv420p10le", ".mp4", "yuv420p10le", 38),
    ("libx265", "yuv444p10le", ".mkv", "yuv444p10le", 40)])
def test_archive_codecs_and_10_bit_output(tmp_path, codec, pix_fmt, suffix, want_fmt, min_psnr):
    """64x64 frames: x265 needs at least one 64x64 block (ffmpeg's x265 aborts on 48x32 at 4:4:4 10 bits)."""
    rng = np.random.default_rng(3)
    frames = np.stack([smooth_image(rng, 64, 64) for _ in range(3)])
    out = tmp_path / f"a{suffix}"
    with VideoWriter(out, 64, 64, Fraction(10), codec=codec, crf=4, preset="ultrafast", pix_fmt=pix_fmt) as vw:
        assert vw.keeps_chroma == (codec == "ffv1")                 # lossless 4:4:4 only
        vw.write(frames)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == want_fmt
    got, _, _ = decode_all(str(out))
    assert got.shape == frames.shape and psnr(got, frames) > min_psnr


def test_writer_yuv444p_keeps_chroma(tmp_path):
    """4:4:4 output: full-resolution chroma (a one-pixel colour checkerboard survives 4:4:4, not 4:2:0)."""
    y, x = np.mgrid[0:32, 0:36]
    frames = np.where(((x + y) % 2)[..., None] == 1, [200, 40, 40], [40, 40, 200]).astype(np.uint8)[None].repeat(3, 0)
    paths = {}
    for fmt in ("yuv420p", "yuv444p"):
        paths[fmt] = tmp_path / f"{fmt}.mp4"
        with VideoWriter(paths[fmt], 36, 32, Fraction(10), crf=0, preset="ultrafast", pix_fmt=fmt) as vw:
            assert not vw.keeps_chroma                                    # lossy: x264 smooths chroma
            vw.write(frames)
    with av.open(str(paths["yuv444p"])) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv444p"
    got444, _, _ = decode_all(str(paths["yuv444p"]))
    got420, _, _ = decode_all(str(paths["yuv420p"]))
    assert got444.shape == got420.shape == frames.shape
    assert psnr(got444, frames) > 35 > psnr(got420, frames)
    with pytest.raises(VidcolorError, match="pixel format"):
        VideoWriter(tmp_path / "x.mp4", 8, 8, Fraction(10), pix_fmt="rgb24")


def test_writer_tune_reaches_x264_and_is_ignored_by_other_encoders(tmp_path):
    """x264 writes its settings into the stream (SEI user data): tune grain shrinks the dead zones from the
    default ``deadzone=21,11`` to ``6,6``. ffv1 takes no tune; an unknown tune is refused before ffmpeg starts."""
    frames = make_frames(3, 32, 32)
    for tune, want in ((None, b" deadzone=21,11 "), ("grain", b" deadzone=6,6 ")):
        out = tmp_path / f"{tune}.mp4"
        with VideoWriter(out, 32, 32, Fraction(10), preset="ultrafast", tune=tune) as vw:
            vw.write(frames)
        assert want in out.read_bytes()
    with VideoWriter(tmp_path / "a.mkv", 32, 32, Fraction(10), codec="ffv1", tune="grain") as vw:
        vw.write(frames)
    assert len(decode_all(str(tmp_path / "a.mkv"))[0]) == 3
    with pytest.raises(VidcolorError, match="unknown tune 'grainy'"):
        VideoWriter(tmp_path / "x.mp4", 8, 8, Fraction(10), tune="grainy")
    assert listing(tmp_path) == {"None.mp4", "grain.mp4", "a.mkv"}


def test_writer_x264_params_reach_x264_only_and_unknown_ones_are_refused(tmp_path):
    """``x264_params`` go on top of the preset (x264's settings string shows ``ref=2`` at ultrafast, whose own is
    1); libx265 ignores them; an option x264 does not know (which ffmpeg would only warn about) is refused by
    name before ffmpeg starts, and nothing is written."""
    frames = make_frames(3, 32, 32)
    for codec, name, params, want in (("libx264", "a.mp4", "ref=2", b" ref=2 "), ("libx264", "b.mp4", None, b" ref=1 "),
                                      ("libx265", "c.mp4", "ref=2", None)):
        with VideoWriter(tmp_path / name, 32, 32, Fraction(10), codec=codec, preset="ultrafast",
                         x264_params=params) as vw:
            vw.write(frames)
        assert want is None or want in (tmp_path / name).read_bytes()
    assert len(decode_all(str(tmp_path / "c.mp4"))[0]) == 3
    with pytest.raises(VidcolorError, match=r"x264 rejects 'nosuch=3', 'ref=x'"):
        VideoWriter(tmp_path / "x.mp4", 8, 8, Fraction(10), x264_params="ref=2:nosuch=3:ref=x")
    assert listing(tmp_path) == {"a.mp4", "b.mp4", "c.mp4"}


def test_writer_refuses_to_overwrite(tmp_path):
    out = tmp_path / "exists.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(VidcolorError, match="exists"):
        VideoWriter(out, 32, 32, Fraction(10))
    assert out.read_bytes() == b"precious"
    assert listing(tmp_path) == {"exists.mp4"}
    with VideoWriter(out, 32, 32, Fraction(10), preset="ultrafast", overwrite=True) as w:
        w.write(make_frames(2, 32, 32))
    assert len(decode_all(str(out))[0]) == 2


def test_writer_abort_removes_partial(tmp_path):
    w = VideoWriter(tmp_path / "a.mp4", 32, 32, Fraction(10), preset="ultrafast")
    w.write(make_frames(2, 32, 32))
    assert any(".partial" in p for p in listing(tmp_path))     # written under a temporary name
    w.abort()
    assert listing(tmp_path) == set()


def test_writer_close_is_idempotent_and_writing_after_it_is_a_value_error(tmp_path):
    """``with VideoWriter(...) as w: ...; w.close()`` raised AttributeError at the block's end (a second close used
    the muxer it had dropped), and write() after close() AttributeError 'NoneType' object has no attribute 'mux'."""
    frames = make_frames(2, 32, 32)
    with VideoWriter(tmp_path / "a.mp4", 32, 32, Fraction(10), preset="ultrafast") as w:
        w.write(frames)
        w.close()
        with pytest.raises(ValueError, match="the writer is closed"):
            w.write(frames)
    w.close()
    assert len(decode_all(str(tmp_path / "a.mp4"))[0]) == 2
    w = VideoWriter(tmp_path / "b.mp4", 32, 32, Fraction(10), preset="ultrafast")
    w.abort()
    w.close()                                           # nothing to finish: no error, no file
    with pytest.raises(ValueError, match="the writer is closed"):
        w.write(frames)
    assert listing(tmp_path) == {"a.mp4"}


def test_writer_degenerate_use_is_a_clear_error_and_leaves_nothing(tmp_path):
    """Closing with no frame gave ffmpeg's 'No main startcode found' and a 0x0 size went on to that error; fps 0
    raised ZeroDivisionError, and a float fps AttributeError with ffmpeg left running and the partial file left
    behind; write(list) raised AttributeError."""
    with pytest.raises(VidcolorError, match="no frames were written"):
        with VideoWriter(tmp_path / "a.mp4", 32, 32, Fraction(10), preset="ultrafast"):
            pass
    for size in ((0, 0), (32, 0), (20000, 32)):
        with pytest.raises(VidcolorError, match=f"frame size {size[0]}x{size[1]} is (empty|too large)"):
            VideoWriter(tmp_path / "b.mp4", *size, Fraction(10))
    for fps in (Fraction(0), -1, 24.5, float("nan")):
        with pytest.raises(VidcolorError, match="is not a frame rate"):
            VideoWriter(tmp_path / "c.mp4", 32, 32, fps)
    w = VideoWriter(tmp_path / "d.mp4", 32, 32, Fraction(10), preset="ultrafast")
    try:
        for bad in (list(make_frames(2, 32, 32)), make_frames(2, 32, 32)[None]):
            with pytest.raises(ValueError, match=r"expected a uint8 array \(H, W, 3\) or \(N, H, W, 3\)"):
                w.write(bad)
    finally:
        w.abort()
    assert listing(tmp_path) == set()


def test_writer_exception_inside_with_removes_partial(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(tmp_path / "b.mp4", 32, 32, Fraction(10), preset="ultrafast") as w:
            w.write(make_frames(2, 32, 32))
            raise RuntimeError("boom")
    assert listing(tmp_path) == set()


def test_an_interruption_while_close_waits_for_ffmpeg_removes_partial(tmp_path, monkeypatch):
    """Ctrl-C (or the CLI's SIGTERM exception) while close() waited for ffmpeg to finish left the partial file."""
    w = VideoWriter(tmp_path / "a.mp4", 32, 32, Fraction(10), preset="ultrafast")
    w.write(make_frames(2, 32, 32))
    wait = w._proc.wait
    calls = []

    def interrupted(*args, **kwargs):
        if not calls:
            calls.append(1)
            raise KeyboardInterrupt
        return wait(*args, **kwargs)

    monkeypatch.setattr(w._proc, "wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        w.close()
    assert w._proc.poll() is not None
    assert listing(tmp_path) == set()


def test_writer_ffmpeg_failure_is_one_error_and_no_file(tmp_path, monkeypatch):
    import vidcolor.io.writer as writer

    monkeypatch.setattr(writer, "check_preset", lambda codec, preset: None)     # let ffmpeg meet the bad preset
    with pytest.raises(VidcolorError, match="ffmpeg"):
        with VideoWriter(tmp_path / "c.mp4", 32, 32, Fraction(10), preset="no-such-preset") as w:
            w.write(make_frames(2, 32, 32))             # ffmpeg may already be gone here, or fail at close
    assert listing(tmp_path) == set()


def test_writer_rejects_wrong_frames_and_codec(tmp_path):
    with pytest.raises(VidcolorError, match="codec"):
        VideoWriter(tmp_path / "d.mp4", 32, 32, Fraction(10), codec="mpeg2video")
    assert listing(tmp_path) == set()
    w = VideoWriter(tmp_path / "e.mp4", 32, 32, Fraction(10), preset="ultrafast")
    try:
        with pytest.raises(ValueError):
            w.write(np.zeros((32, 33, 3), np.uint8))
        with pytest.raises(ValueError):
            w.write(np.zeros((32, 32, 3), np.float32))
    finally:
        w.abort()
    assert listing(tmp_path) == set()


def test_writer_without_ffmpeg_leaves_nothing(tmp_path, monkeypatch):
    import vidcolor.io.writer as writer

    def no_ffmpeg():
        raise VidcolorError("ffmpeg not found")

    monkeypatch.setattr(writer, "find_ffmpeg", no_ffmpeg)
    with pytest.raises(VidcolorError, match="ffmpeg not found"):
        VideoWriter(tmp_path / "f.mp4", 32, 32, Fraction(10))
    assert listing(tmp_path) == set()


def test_write_then_read_back_through_vidcolor(tmp_path):
    frames = make_frames(5, 40, 56)
    out = tmp_path / "rt.mkv"
    with VideoWriter(out, 56, 40, Fraction(25), crf=8, preset="ultrafast") as w:
        w.write(frames)
    with VideoReader(out) as r:
        assert r.info.fps == Fraction(25) and (r.info.width, r.info.height) == (56, 40)
        got = np.stack(list(r))
    assert got.shape == frames.shape and psnr(got, frames) > 35


@pytest.mark.parametrize("matrix, full", [("bt709", False), ("bt709", True), ("bt2020nc", False), (None, False)])
def test_the_colour_description_is_carried_and_the_colours_with_it(tmp_path, ffmpeg_exe, matrix, full):
    """A BT.709 source was written BT.601 and untagged (players show untagged HD as BT.709: a green bar of 187
    came out 157). The matrix, primaries and transfer are carried and the frames are converted with the matrix;
    full range is written limited; an untagged source stays untagged (it was decoded as BT.601)."""
    src, out = tmp_path / "src.mkv", tmp_path / "out.mkv"
    primaries, trc = ("bt709", "bt709") if matrix == "bt709" else ("bt2020", "bt2020-10")
    tags = ["-vf", f"setparams=color_primaries={primaries}:color_trc={trc},"
            f"scale=out_color_matrix={matrix}:out_range={'pc' if full else 'tv'}",
            "-colorspace", matrix, "-color_range", "pc" if full else "tv"] if matrix else \
        ["-vf", "setparams=colorspace=unknown"]
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "smptebars=s=96x64:d=0.12:r=25", *tags, "-pix_fmt", "yuv444p",
               "-c:v", "libx264", "-qp", "0", str(src))
    with VideoReader(src) as r:
        frames, info = np.stack(list(r)), r.info
    with VideoWriter(out, info.width, info.height, info.fps, crf=0, preset="ultrafast", pix_fmt="yuv444p",
                     colour=info.colour) as w:
        w.write(frames)
    with av.open(str(out)) as c:
        ctx = c.streams.video[0].codec_context
        got = (ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range)
    want = {"bt709": (1, 1, 1, 1), "bt2020nc": (9, 9, 14, 1), None: (2, 2, 2)}[matrix]   # 1: limited range
    assert got[:len(want)] == want
    with VideoReader(out) as r:                          # decoded with its own tags, as a player decodes it
        back = np.stack(list(r)).astype(int)
    assert np.abs(back - frames).max() <= 2 and np.abs((back - frames).mean((0, 1, 2))).max() < 0.3


@pytest.mark.parametrize("full", [False, True])
def test_primaries_and_range_are_carried_without_a_matrix(tmp_path, ffmpeg_exe, full):
    """A source tagged with BT.709 primaries and a range but no matrix (every clip of the bw set) lost both tags.
    Its matrix stays untagged and its YUV values are kept (decoded and written with BT.601), so a player, which
    guesses the matrix of both alike, shows both alike; full range is written limited, and tagged so."""
    src, out = tmp_path / "src.mkv", tmp_path / "out.mkv"
    patches = np.array([[200, 40, 40], [40, 180, 60], [50, 60, 210], [230, 220, 90], [128, 128, 128], [20, 200, 220]],
                       np.uint8).repeat(16, 0)[None].repeat(64, 0)          # 64x96 RGB: saturated flat colours
    run_ffmpeg(ffmpeg_exe, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "96x64", "-r", "25", "-i", "-", "-vf",
               f"setparams=colorspace=unknown:color_primaries=bt709,scale=out_range={'pc' if full else 'tv'}",
               "-color_range", "pc" if full else "tv", "-pix_fmt", "yuv444p", "-c:v", "libx264", "-qp", "0", str(src),
               stdin=patches.tobytes() * 3)
    with VideoReader(src) as r:
        frames, info = np.stack(list(r)), r.info
    assert info.colour == {"color_range": 2 if full else 1, "color_primaries": 1}
    with VideoWriter(out, info.width, info.height, info.fps, crf=0, preset="ultrafast", pix_fmt="yuv444p",
                     colour=info.colour) as w:
        w.write(frames)

    def planes(path):
        with av.open(str(path)) as c:
            ctx = c.streams.video[0].codec_context
            frame = next(c.decode(video=0))
            yuv = frame.reformat(format="yuv444p", dst_colorspace=frame.colorspace, src_color_range=frame.color_range,
                                 dst_color_range=1)
            return (ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range), yuv.to_ndarray()
    (tags, got), (_, want) = planes(out), planes(src)
    assert tags == (2, 1, 2, 1)                     # matrix and transfer unspecified, BT.709 primaries, limited
    assert np.abs(got.astype(int) - want).max() <= 2


@pytest.mark.parametrize("rotate", [0, 90])
def test_non_square_pixels_are_kept(tmp_path, ffmpeg_exe, rotate):
    """An anamorphic source (SAR 4:3, as DVD and DV write it) was written with square pixels: stretched."""
    src, out = tmp_path / "src.mp4", tmp_path / "out.mkv"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=s=96x64:d=0.12:r=25", "-vf", "setsar=4/3", "-c:v", "libx264",
               str(tmp_path / "flat.mp4"))
    run_ffmpeg(ffmpeg_exe, "-display_rotation", str(rotate), "-i", str(tmp_path / "flat.mp4"), "-c", "copy", str(src))
    with VideoReader(src) as r:
        frames, info = np.stack(list(r)), r.info
    assert info.pixel_aspect == (Fraction(4, 3) if not rotate else Fraction(3, 4))
    with VideoWriter(out, info.width, info.height, info.fps, preset="ultrafast", pixel_aspect=info.pixel_aspect) as w:
        w.write(frames)
    with av.open(str(out)) as c:
        assert c.streams.video[0].sample_aspect_ratio == info.pixel_aspect
    assert probe(out).pixel_aspect == info.pixel_aspect


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov", ".nut"])
def test_an_uncommon_pixel_aspect_is_kept_exactly(tmp_path, ffmpeg_exe, suffix):
    """SAR 1281:1280 came out 1:1: setsar approximates a ratio with a term above its max option (100). 1280 px
    wide, so that Matroska's display width (whole pixels) differs from the stored one (1281)."""
    src, out = tmp_path / "src.mp4", tmp_path / f"out{suffix}"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=s=1280x16:d=0.08:r=25", "-vf", "setsar=1281/1280:max=1281",
               "-c:v", "libx264", "-preset", "ultrafast", str(src))
    with VideoReader(src) as r:
        frames, info = np.stack(list(r)), r.info
    assert info.pixel_aspect == Fraction(1281, 1280)
    with VideoWriter(out, info.width, info.height, info.fps, preset="ultrafast", pixel_aspect=info.pixel_aspect) as w:
        w.write(frames)
    assert probe(out).pixel_aspect == Fraction(1281, 1280)


def test_a_second_run_writing_the_same_output_does_not_replace_the_first(tmp_path):
    """Two runs given one output path: both found it free when they began, and the one that finished last
    replaced the other's file, both exiting 0. Now the later one is refused and nothing of it is left."""
    target = tmp_path / "same.mkv"
    first = VideoWriter(target, 32, 24, Fraction(10), preset="ultrafast")
    second = VideoWriter(target, 32, 24, Fraction(10), preset="ultrafast")
    first.write(make_frames(3, 24, 32))
    second.write(make_frames(5, 24, 32))
    second.close()
    with pytest.raises(VidcolorError, match="another run wrote it"):
        first.close()
    assert listing(tmp_path) == {"same.mkv"} and probe(target).duration == pytest.approx(0.5)   # 5 frames at 10 fps
    again = VideoWriter(target, 32, 24, Fraction(10), preset="ultrafast", overwrite=True)
    again.write(make_frames(3, 24, 32))
    again.close()
    assert probe(target).duration == pytest.approx(0.3)


def test_moving_into_place_fails_cleanly(tmp_path):
    from vidcolor.io.writer import move_into_place
    from vidcolor.io.partial import partial_file

    target = tmp_path / "out" / "x.bin"
    tmp = partial_file(target, ".bin")
    target.parent.chmod(0o500)
    try:
        if os.access(target.parent, os.W_OK):            # root writes anyway: a folder that went away instead
            target.parent.chmod(0o700)
            shutil.rmtree(target.parent)
        with pytest.raises(VidcolorError, match="cannot write"):
            move_into_place(tmp, target, overwrite=False)
    finally:
        if target.parent.exists():
            target.parent.chmod(0o700)
    assert not tmp.exists() and not target.exists()


def test_an_encoder_that_cannot_start_is_named_with_its_cause(tmp_path):
    """h264_nvenc on a machine without an NVIDIA driver: the first ffmpeg error line (the cause) is reported."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("an NVIDIA GPU may have NVENC here")
    out = tmp_path / "nv.mp4"
    with pytest.raises(VidcolorError, match=r"h264_nvenc: .*(libcuda|nvenc|device|driver)"):
        with VideoWriter(out, 64, 48, Fraction(24), codec="h264_nvenc") as w:
            for _ in range(50):
                w.write(np.zeros((4, 48, 64, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_h264_nvenc_is_refused_a_10_bit_pix_fmt_and_hevc_nvenc_keeps_one(tmp_path, clip):
    """NVENC's H.264 has no 10-bit mode, yet h264_nvenc with yuv420p10le passed check_encoding and counted as
    holding 10 bits (holds_deep), so a deep source was decoded at 16 for an encode that cannot be: it is now one
    error before any work, naming hevc_nvenc. hevc_nvenc keeps a 10-bit pix_fmt as ffmpeg takes it (p010le), and its
    8-bit default's warning suggests one (no GPU here: the arguments alone)."""
    from helpers import invoke_cli
    from vidcolor.io.writer import check_encoding, encoder_args
    from vidcolor.source_warnings import eight_bit_reason, keeps_depth

    for fmt in ("yuv420p10le", "yuv444p10le"):
        with pytest.raises(VidcolorError, match=f"^h264_nvenc has no 10-bit mode: use codec='hevc_nvenc' for {fmt}, "
                                                r"or an 8-bit pix_fmt \(yuv420p, yuv444p\)$"):
            check_encoding("h264_nvenc", fmt, "p5", None, None)
        check_encoding("hevc_nvenc", fmt, "p5", None, None)
    check_encoding("h264_nvenc", "yuv444p", "p5", None, None)
    assert encoder_args("hevc_nvenc", "yuv420p10le", 20, "p5", 64, 48)["pix_fmt"] == "yuv420p10le"
    job = SimpleNamespace(DEEP=True)
    assert keeps_depth(job, "hevc_nvenc", "yuv420p10le", False) and not keeps_depth(job, "hevc_nvenc", None, False)
    assert str(VidcolorError(eight_bit_reason(job, "hevc_nvenc", "yuv420p", False))).endswith(
        "(pix_fmt='yuv420p10le' keeps more)")
    shutil.copy(clip, tmp_path / "in.mp4")
    res = invoke_cli("colorize", "in.mp4", "-o", "out.mp4", "--codec", "h264_nvenc", "--pix-fmt", "yuv420p10le",
                     cwd=tmp_path)
    assert res.returncode != 0 and res.stderr == ("vidcolor: error: h264_nvenc has no 10-bit mode: use --codec "
                                                  "hevc_nvenc for yuv420p10le, or an 8-bit --pix-fmt (yuv420p, yuv444p)\n")
    assert [f.name for f in tmp_path.iterdir()] == ["in.mp4"]


@pytest.mark.parametrize("where", ["folder", "through_file", "unwritable"])
def test_an_output_that_cannot_be_written_is_one_error_before_any_work(tmp_path, where):
    (tmp_path / "a_file").write_bytes(b"x")
    (tmp_path / "a_folder").mkdir()
    target, match = {"folder": (tmp_path / "a_folder", "is a folder"),
                     "through_file": (tmp_path / "a_file" / "out.mp4", "a_file is a file, not a folder"),
                     "unwritable": (Path("/proc/vidcolor-test/out.mp4"), "cannot write there")}[where]
    if where == "unwritable" and not Path("/proc/self").exists():
        pytest.skip("no /proc (a folder even root cannot create files in)")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(VidcolorError, match=match):
        VideoWriter(target, 64, 48, Fraction(24), overwrite=True)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_name_with_a_colon_is_a_file_not_a_protocol(tmp_path, clip):
    """``take1:final.mp4`` in, ``out:1.mp4`` out, audio copied from the colon-named source."""
    import shutil

    src = tmp_path / "take1:final.mp4"
    shutil.copy(clip, src)
    reader = VideoReader(src)
    assert reader.info.has_audio
    out = tmp_path / "out:1.mp4"
    with VideoWriter(out, reader.info.width, reader.info.height, reader.info.fps,
                     passthrough=Passthrough.of(src, reader.info)) as w:
        for frame in reader:
            w.write(frame)
    got, _, has_audio = decode_all(str(out))
    assert len(got) == CLIP_FRAMES and has_audio


def test_a_stream_whose_frame_size_changes_is_one_error(tmp_path, ffmpeg_exe):
    """Two MPEG-TS files of different sizes joined byte by byte (as `cat a.ts b.ts` does)."""
    import subprocess

    parts = []
    for i, size in enumerate(("64x48", "80x64")):
        parts.append(tmp_path / f"{i}.ts")
        subprocess.run([ffmpeg_exe, "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=10:duration=0.5",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", str(parts[-1])], check=True)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(parts[0].read_bytes() + parts[1].read_bytes())
    with pytest.raises(VidcolorError, match=r"frame size changes at frame \d+ \(64x48 -> 80x64\)"):
        for _ in VideoReader(joined):
            pass


def _joined_ts(exe: str, folder: Path, encoder: str, sizes: tuple[tuple[str, int], ...]) -> bytes:
    """MPEG-TS encodes (``size``, frame count) of testsrc2 joined byte by byte, as `cat a.ts b.ts` joins them."""
    data = b""
    for i, (size, frames) in enumerate(sizes):
        part = folder / f"part{i}.ts"
        run_ffmpeg(exe, "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25", "-frames:v", str(frames),
                   "-c:v", encoder, "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                   *(["-x265-params", "log-level=error"] if encoder == "libx265" else []), str(part))
        data += part.read_bytes()
    return data


@pytest.mark.parametrize("encoder", ["libx264", "libx265"])
@pytest.mark.parametrize("then", [0, 20])
def test_a_frame_above_the_limit_after_smaller_ones_is_the_size_change_error(tmp_path, ffmpeg_exe, monkeypatch,
                                                                              encoder, then):
    """20 frames of 64x48, one of 96x96 above the (lowered) pixel limit, then ``then`` more of 64x48. ffmpeg's
    decoder refuses the big frame before allocating it; on frame threads the refusal of an H.264 stream's last
    packet was lost in PyAV's drain (20 frames and no error, from a file or a pipe); elsewhere it was 'decoding
    failed (Invalid data found ...)', or '(Cannot allocate memory)' from HEVC, which did not say why. It is the
    size change that a frame within the limit is, named too large; HEVC holds reordered frames when it refuses:
    they count into the frame number."""
    from vidcolor.io import limits

    data = _joined_ts(ffmpeg_exe, tmp_path, encoder, (("64x48", 20), ("96x96", 1), ("64x48", then))[:3 if then else 2])
    (tmp_path / "joined.ts").write_bytes(data)
    monkeypatch.setattr(limits, "MAX_PIXELS", 64 * 48 * 2)
    for source in (tmp_path / "joined.ts", _Pipe(data)):
        read = 0
        with pytest.raises(VidcolorError, match=r"the frame size changes at frame 20 \(64x48 -> 96x96\), which is "
                                                r"too large \(at most 16384 px a side"):
            with VideoReader(source) as r:
                for _ in r:
                    read += 1
        assert read == (20 if encoder == "libx264" else 18)     # x265's 2 reordered frames: held, not given


@pytest.mark.parametrize("keep_going", [False, True])
def test_a_packet_the_decoder_refuses_is_counted_and_mid_stream_stops_the_reader(tmp_path, ffmpeg_exe, keep_going):
    """A 10-frame H.264 mp4 with one damaged packet (its NAL length overwritten), which ffmpeg skips (9 frames,
    'Error submitting packet to decoder' or, for the last one, 'Decoding error'). The last packet's refusal was
    lost on frame threads (9 frames, nothing missing); now it is counted in ``missing``, as a truncated file's
    unread packets are. In the middle, the reader stops at the packet after it (DamagedInput; it said 'decoding
    failed (Invalid data ...)'), or with ``keep_going`` skips it as ffmpeg does, the frames after it keeping their
    timestamps."""
    from vidcolor.errors import DamagedInput

    clean = tmp_path / "clean.mp4"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "10", "-c:v", "libx264",
               "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clean))
    for index in (9, 4):
        src = tmp_path / f"damaged{index}.mp4"
        shutil.copy(clean, src)
        damage_packet(src, index)
        with VideoReader(src, keep_going=keep_going) as r:
            read = []
            if index == 4 and not keep_going:
                with pytest.raises(DamagedInput, match=r"damaged4.mp4: the frame at 0.160 s cannot be decoded \(Invalid "
                                                       r"data found when processing input\): the input is damaged there"):
                    for frame in r:
                        read.append(frame)
                assert len(read) == 4
                continue
            read += list(r)
            assert (len(read), r.packets, r.refused, r.missing) == (9, 10, 1, 1)
            pts = r.timeline.pts
        assert pts == [i * pts[1] for i in range(10) if i != index]         # the gap stays where the frame was


def test_a_refused_packet_is_named_by_its_frame_s_time_where_frames_are_reordered(tmp_path, ffmpeg_exe):
    """A/V audit, stop 63: with B-frames the damage was named by the frames given before it ('frame 28 cannot be
    decoded', where the lost frame was the 30th shown, at 1.208 s). Now by the time of the frame the packet holds."""
    from vidcolor.errors import DamagedInput

    src = tmp_path / "bframes.mp4"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=24", "-frames:v", "48", "-c:v", "libx264",
               "-preset", "veryfast", "-bf", "3", "-x264-params", "b-adapt=0:keyint=48", "-pix_fmt", "yuv420p",
               str(src))
    with av.open(str(src)) as c:
        packets = [(p.pts, p.is_keyframe) for p in c.demux(video=0) if p.size]
        tb = c.streams.video[0].time_base
    index = next(i for i in range(20, 40) if packets[i][0] != sorted(p for p, _ in packets)[i] and not packets[i][1])
    at = float(packets[index][0] * tb)
    damage_packet(src, index, "slice header")
    read = 0
    with pytest.raises(DamagedInput, match=rf"bframes.mp4: the frame at {at:.3f} s cannot be decoded "):
        with VideoReader(src) as r:
            for _ in r:
                read += 1
    assert round(at * 24) != read         # the frames given before it name another one


@pytest.fixture(scope="module")
def rich_source(tmp_path_factory, ffmpeg_exe) -> Path:
    """An mkv with two audio tracks (AAC, English; PCM, French), an English SRT subtitle, a title, a chapter and an
    attached font (its bytes arbitrary)."""
    folder = tmp_path_factory.mktemp("rich")
    (folder / "font.ttf").write_bytes(bytes(range(256)) * 4)
    (folder / "subs.srt").write_text("1\n00:00:00,100 --> 00:00:00,800\nHello there\n")
    (folder / "meta.txt").write_text(";FFMETADATA1\ntitle=Reel 4\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=500\n"
                                     "title=Opening\n")
    src = folder / "rich.mkv"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi", "-i",
               "sine=frequency=440:sample_rate=44100", "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=44100",
               "-i", str(folder / "subs.srt"), "-i", str(folder / "meta.txt"),
               "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s", "-map_metadata", "4", "-map_chapters", "4",
               "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-c:a:0", "aac", "-c:a:1", "pcm_s16le",
               "-c:s", "subrip", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
               "-metadata:s:s:0", "language=eng", "-attach", str(folder / "font.ttf"),
               "-metadata:s:t", "mimetype=application/x-truetype-font", str(src))
    return src


@pytest.mark.parametrize("suffix,audio,subtitle", [(".mkv", ["aac", "pcm_s16le"], "srt"),     # SubRip, copied
                                                    (".mp4", ["aac", "alac"], "mov_text"),    # PCM: lossless
                                                    (".mov", ["aac", "pcm_s16le"], "mov_text")])   # mov holds PCM
def test_every_audio_and_subtitle_track_metadata_and_chapters_are_kept(tmp_path, rich_source, suffix, audio, subtitle):
    info = probe(rich_source)
    assert info.audio_codecs == ("aac", "pcm_s16le") and info.subtitle_codecs == ("subrip",) and info.attachments == 1
    out = tmp_path / f"out{suffix}"
    with VideoWriter(out, 64, 48, info.fps, preset="ultrafast", passthrough=Passthrough.of(rich_source, info),
                     timeline=Timeline.of(info.fps, info.time_base)) as w:
        w.write(make_frames(10, 48, 64))
    with av.open(str(out)) as c:
        assert [s.codec_context.name for s in c.streams.audio] == audio       # PCM cannot go into mp4: AAC there
        assert [s.metadata.get("language") for s in c.streams.audio] == ["eng", "fra"]
        assert [s.codec_context.name for s in c.streams.subtitles] == [subtitle]
        assert c.streams.subtitles[0].metadata.get("language") == "eng"
        assert c.metadata.get("title") == "Reel 4"
        assert [ch["metadata"].get("title") for ch in c.chapters()] == ["Opening"]
        sub = c.streams.subtitles[0]
        cues = [float(p.pts * sub.time_base) for p in c.demux(sub) if b"Hello there" in bytes(p)]
        attached = [(s.metadata.get("filename"), bytes(s.data)) for s in c.streams.attachments]
    assert cues == [pytest.approx(0.1)]          # the cue, at its time
    # the font ASS subtitles are drawn with: only Matroska holds attachments (they were dropped)
    assert attached == ([("font.ttf", bytes(range(256)) * 4)] if suffix == ".mkv" else [])


VIDEO_TAGS = {"language": "fra", "title": "Caméra A", "handler_name": "Cam handler"}


@pytest.mark.parametrize("source", [".mp4", ".mkv"])
@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov"])
@pytest.mark.parametrize("audio", [True, False])
def test_the_video_stream_keeps_its_language_title_and_handler_name(tmp_path, ffmpeg_exe, source, suffix, audio):
    """Audio and subtitle streams kept their language and the file its title, but the processed video's own tags were
    dropped: the output's video read 'und' and 'VideoHandler' (mp4), nothing (Matroska). mp4 and mov hold the title
    as the track's ``name``, Matroska the handler name as a ``HANDLER_NAME`` tag."""
    src, out = tmp_path / f"src{source}", tmp_path / f"out{suffix}"
    tags = [a for k, v in VIDEO_TAGS.items() for a in ("-metadata:s:v:0", f"{k}={v}")]
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi", "-i", "sine", "-t", "1",
               "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", *tags, str(src))
    info = probe(src)
    with VideoWriter(out, 64, 48, info.fps, preset="ultrafast", passthrough=Passthrough.of(src, info, audio=audio),
                     timeline=Timeline.of(info.fps, info.time_base)) as w:
        w.write(make_frames(10, 48, 64))
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == audio
        tags = {k.lower(): v for k, v in c.streams.video[0].metadata.items()}
    assert (tags.get("language"), tags.get("title", tags.get("name")), tags.get("handler_name")) == (
        "fra", "Caméra A", "Cam handler")
    assert info.video_tags == probe(out).video_tags == VIDEO_TAGS


def dispositions(path) -> list[tuple[str, int]]:
    with av.open(str(path)) as c:
        return [(s.type, int(getattr(s.disposition, "value", s.disposition))) for s in c.streams]


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_the_video_keeps_its_disposition_and_the_other_tracks_theirs_as_ffmpeg_copies_them(tmp_path, ffmpeg_exe,
                                                                                          suffix):
    """A/V audit, stop 63: the processed video comes through a NUT pipe without a disposition, and a Matroska output
    marked it not default (FlagDefault 0) where ``ffmpeg -c copy`` keeps it. Now the source's (and default always);
    the other tracks as ``ffmpeg -map 0 -c copy`` marks them (of two audio tracks neither default, the first)."""
    src = tmp_path / "src.mkv"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi", "-i", "sine",
               "-f", "lavfi", "-i", "sine=frequency=660", "-map", "0", "-map", "1", "-map", "2", "-t", "1",
               "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-disposition:v:0", "default+original",
               "-disposition:a:0", "0", "-disposition:a:1", "0", str(src))
    copied = tmp_path / f"copied{suffix}"
    run_ffmpeg(ffmpeg_exe, "-i", str(src), "-map", "0", "-c", "copy", str(copied))
    info = probe(src)
    out = tmp_path / f"out{suffix}"
    with VideoWriter(out, 64, 48, info.fps, preset="ultrafast", passthrough=Passthrough.of(src, info),
                     timeline=Timeline.of(info.fps, info.time_base)) as w:
        w.write(make_frames(10, 48, 64))
    assert dispositions(out) == dispositions(copied)
    if suffix == ".mkv":
        assert dispositions(out) == [("video", 1 | 4), ("audio", 1), ("audio", 0)]       # 4: original


@pytest.mark.parametrize("source, encoders, suffix, want", [
    (".mp4", ["-c:a", "libmp3lame"], ".mp4", ("mp3", None)),             # was re-encoded (its decoder: mp3float)
    (".mkv", ["-c:a", "flac"], ".mov", ("alac", None)),                  # mov takes no FLAC: lossless stays lossless
    (".mkv", ["-c:a", "libopus"], ".mov", ("aac", None)),                # nor Opus: ffmpeg failed
    (".mkv", ["-c:a", "pcm_s24le"], ".mp4", ("alac", None)),             # lossless stays lossless: was 70 kb/s AAC
    (".mp4", ["-c:a", "aac", "-c:s", "mov_text"], ".mkv", ("aac", "subrip")),   # Matroska takes no mov_text: failed
    # NUT (stdout's default) has no tag for SubRip, mov_text, ALAC or TTA: the output failed, 'No codec tag defined'
    (".mkv", ["-c:a", "alac", "-c:s", "srt"], ".nut", ("flac", "ass")),
    (".mp4", ["-c:a", "aac", "-c:s", "mov_text"], ".nut", ("aac", "ass")),
    (".mkv", ["-c:a", "tta"], ".nut", ("flac", None)),
    (".mkv", ["-c:a", "libopus", "-c:s", "ass"], ".nut", ("opus", "ass")),     # copied
])
def test_each_track_goes_into_the_container_in_a_codec_it_can_hold(tmp_path, ffmpeg_exe, source, encoders, suffix, want):
    (tmp_path / "subs.srt").write_text("1\n00:00:00,100 --> 00:00:00,800\nHello there\n")
    src, out = tmp_path / f"src{source}", tmp_path / f"out{suffix}"
    subs = ["-i", str(tmp_path / "subs.srt")] if "-c:s" in encoders else []
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi", "-i", "sine", *subs,
               "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", *encoders, str(src))
    info = probe(src)
    with VideoWriter(out, 64, 48, info.fps, preset="ultrafast", passthrough=Passthrough.of(src, info),
                     timeline=Timeline.of(info.fps, info.time_base)) as w:
        w.write(make_frames(10, 48, 64))
    with av.open(str(out)) as c:
        got = tuple(s.codec_context.codec.canonical_name for s in (*c.streams.audio, *c.streams.subtitles))
    assert got == tuple(x for x in want if x)


def test_without_audio_the_subtitles_stay_and_bitmap_subtitles_are_dropped_from_mp4_with_a_warning(
        tmp_path, rich_source):
    info = probe(rich_source)
    out = tmp_path / "out.mkv"
    with VideoWriter(out, 64, 48, info.fps, preset="ultrafast", passthrough=Passthrough.of(rich_source, info, audio=False)) as w:
        w.write(make_frames(10, 48, 64))
    with av.open(str(out)) as c:
        assert not c.streams.audio and len(c.streams.subtitles) == 1
    from vidcolor.io.writer import _output_streams

    args: dict = {}
    pgs = Passthrough(rich_source, audio=("aac",), subtitles=("hdmv_pgs_subtitle", "srt"))
    with vidcolor_warnings() as said:
        streams = _output_streams(None, "libx264", "mp4", None, pgs, args)
    assert len(streams) == 3 and args["c:s:0"] == "mov_text" and "c:s:1" not in args
    assert len(said) == 1 and "1 subtitle track(s) mp4 cannot hold (hdmv_pgs_subtitle) left out; write .mkv" in said[0]


def test_captions_nut_cannot_hold_are_not_called_bitmap_subtitles(rich_source):
    """Review of the stop's diff: NUT output dropped eia_608, ttml or arib_caption tracks (neither text nor bitmap)
    with a warning that called them bitmap subtitles, and said .mkv keeps them."""
    from vidcolor.io.writer import _output_streams

    args: dict = {}
    captions = Passthrough(rich_source, subtitles=("eia_608", "ttml", "ass"))
    with vidcolor_warnings() as said:
        streams = _output_streams(None, "libx264", "nut", None, captions, args)
    assert len(streams) == 2 and args["c:s:0"] == "copy" and "c:s:1" not in args
    assert len(said) == 1 and "2 subtitle track(s) nut cannot hold (eia_608, ttml) left out" in said[0]
    assert "bitmap" not in said[0] and ".mkv" not in said[0]


@pytest.mark.parametrize("audio", [True, False])
def test_the_video_keeps_its_offset_from_the_sources_start_with_or_without_the_audio(tmp_path, ffmpeg_exe, clip,
                                                                                      audio):
    """A source whose video starts 0.5 s after its audio: the output's first frame is at 0.5 s whether the audio
    is carried (then at 0, in sync) or not, as ``ffmpeg -an`` writes it; without the audio it was at 0, 0.5 s
    earlier than the same frames written with it."""
    src, out = tmp_path / "late.mkv", tmp_path / "out.mp4"
    run_ffmpeg(ffmpeg_exe, "-itsoffset", "0.5", "-i", str(clip), "-i", str(clip), "-map", "0:v", "-map", "1:a",
               "-c", "copy", str(src))
    with VideoReader(src) as r:
        info = r.info
        assert (info.video_start, info.start) == (pytest.approx(0.5), 0.0)
        with VideoWriter(out, info.width, info.height, info.fps, preset="ultrafast", timeline=r.timeline,
                         passthrough=Passthrough.of(src, info, audio=audio)) as w:
            for frame in r:
                w.write(frame)
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        times = [float(f.pts * v.time_base) for f in c.decode(v)]
        assert len(c.streams.audio) == int(audio)
        if audio:
            a = c.streams.audio[0]
            assert float(a.start_time * a.time_base) == pytest.approx(0.0, abs=0.001)
    assert times == pytest.approx([0.5 + i / CLIP_FPS for i in range(CLIP_FRAMES)], abs=0.001)


def test_a_frame_above_the_limit_is_refused_by_the_probe_not_decoded(tmp_path, monkeypatch):
    """ffmpeg's probe decodes the first frame: with the limit lowered below a 64x48 SGI's area, the probe and the
    decoder refuse it (ffmpeg's max_pixels) and the size comes back unknown, named as such."""
    from helpers import sgi_rle
    from vidcolor.io import limits
    from vidcolor.io.reader import open_input

    src = tmp_path / "clip.mp4"                         # an image named as a video: only the content counts
    sgi_rle(src, 64, 48)
    assert VideoReader(src).info.width == 64            # under the real limit it reads
    monkeypatch.setattr(limits, "MAX_PIXELS", 64 * 48 - 1)
    with open_input(src) as container:
        assert container.streams.video[0].codec_context.width == 0      # the probe did not decode it
        with pytest.raises(av.FFmpegError):                             # nor does the stream's decoder
            next(container.decode(video=0))
    for read in (VideoReader, probe):
        with pytest.raises(VidcolorError, match=r"clip.mp4: cannot decode: frame size unknown or above the limit"):
            read(src)


def test_probing_a_huge_frame_does_not_allocate_it(tmp_path):
    """A 513 KB RLE SGI of 16000x16000 16-bit RGBA (2 GB decoded): reading it peaked at 2.28 GB before the size check
    refused it; now ffmpeg refuses it during the probe (peak resident memory of the reading process measured: VmHWM
    of its own address space, which, unlike getrusage's ru_maxrss, does not carry over a large parent's size through
    fork and exec)."""
    import subprocess
    import sys

    from helpers import sgi_rle

    src = tmp_path / "clip.mp4"
    sgi_rle(src, 16000, 16000)
    assert src.stat().st_size < 600_000
    code = ("import sys\nfrom vidcolor.io import VideoReader\nfrom vidcolor.errors import VidcolorError\n"
            "try:\n    VideoReader(sys.argv[1])\nexcept VidcolorError as e:\n    print(e)\n"
            "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) // 1024)")
    out = subprocess.run([sys.executable, "-c", code, str(src)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout.splitlines()
    assert "frame size unknown or above the limit" in out[0]
    assert int(out[-1]) < 600, f"peak {out[-1]} MB"


def _without_psi(ts: bytes) -> bytes:
    """An MPEG-TS without its PAT, PMT and SDT (a stream cut anywhere, before its tables come round again): ffmpeg
    then finds its streams only while it probes them."""
    packets = [ts[i:i + 188] for i in range(0, len(ts), 188)]
    return b"".join(p for p in packets if ((p[1] & 0x1F) << 8 | p[2]) not in (0x0000, 0x0011, 0x1000))


def _late_stream_formats(exe: str, source: Path, folder: Path) -> dict[str, bytes]:
    """``source`` (H.264 in MPEG-TS) copied into the containers whose streams appear only while ffmpeg probes them:
    MPEG-PS, FLV and MPEG-TS without its tables."""
    return {"mpeg": run_ffmpeg(exe, "-i", str(source), "-c", "copy", "-f", "mpeg", "-"),
            "flv": run_ffmpeg(exe, "-i", str(source), "-c", "copy", "-f", "flv", "-"),
            "ts": _without_psi(source.read_bytes())}


class _Pipe:
    """Bytes read as from a pipe: no seeking."""

    def __init__(self, data: bytes):
        self.read = io.BytesIO(data).read

    def seekable(self) -> bool:
        return False


@pytest.mark.parametrize("fmt", ["mpeg", "flv", "ts"])
def test_a_huge_frame_in_a_stream_found_while_probing_is_not_allocated(tmp_path, ffmpeg_exe, fmt):
    """PyAV gives the open options (max_pixels) only to the streams known before ffmpeg's probe: in MPEG-PS, FLV or an
    MPEG-TS without PAT/PMT the streams appear while it probes, and its decoders took an 8192x8192 H.264 frame (above
    MAX_PIXELS) whole: the reading process grew by 157 MB (a 16000x16000 frame: 657 MB peak, against 156 MB for the
    same frame in an MPEG-TS with its tables), on stdin as from a file. Such a stream is now probed without decoding,
    and its first frame is decoded under the limit (peak growth 5 to 26 MB)."""
    import subprocess
    import sys

    src = tmp_path / "huge.ts"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "color=black:size=8192x8192:rate=25", "-frames:v", "1",
               "-c:v", "libx264", "-preset", "ultrafast", "-crf", "51", str(src))
    data = _late_stream_formats(ffmpeg_exe, src, tmp_path)[fmt]
    (tmp_path / f"huge.{fmt}").write_bytes(data)
    code = ("import sys\nfrom vidcolor.io import VideoReader\nfrom vidcolor.errors import VidcolorError\n"
            "def peak():\n    return next(int(l.split()[1]) for l in open('/proc/self/status') "
            "if l.startswith('VmHWM')) // 1024\n"
            "before = peak()\ntry:\n    VideoReader(sys.argv[1])\nexcept VidcolorError as e:\n    print(e)\n"
            "print(peak() - before)")
    for source, stdin in ((str(tmp_path / f"huge.{fmt}"), None), ("-", data)):
        out = subprocess.run([sys.executable, "-c", code, source], input=stdin, capture_output=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout.decode().splitlines()
        name = "stdin" if source == "-" else source
        assert out[0] in (f"{name}: frame size 8192x8192 is too large (at most 16384 px a side and 64 megapixels)",
                          f"{name}: cannot decode: frame size unknown or above the limit (at most 16384 px a side "
                          "and 64 megapixels)"), out
        assert int(out[-1]) < 60, f"{name}: grew by {out[-1]} MB"      # the frame alone is 100 MB


def test_a_stream_found_while_probing_reads_as_one_found_before(tmp_path, ffmpeg_exe):
    """Probed without decoding, MPEG-PS, FLV and MPEG-TS without tables take the colour description and the pixel
    aspect from the first frame: the same clip reads the same from them, as a file and through a pipe, as from NUT
    (whose streams are known before the probe)."""
    src = tmp_path / "clip.ts"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "6", "-vf", "setsar=4/3",
               "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-colorspace", "bt709", "-color_primaries",
               "bt709", "-color_trc", "bt709", "-color_range", "pc", str(src))
    nut = run_ffmpeg(ffmpeg_exe, "-i", str(src), "-c", "copy", "-f", "nut", "-")

    def read(source):
        with VideoReader(source) as r:
            info = r.info
            return (info.width, info.height, info.fps, info.colour, info.pixel_aspect), np.stack(list(r))

    want, frames = read(io.BytesIO(nut))
    assert want[:3] == (64, 48, Fraction(25)) and want[4] == Fraction(4, 3)
    assert (want[3]["colorspace"], want[3]["color_range"]) == (1, 2)            # BT.709, full range
    for fmt, data in _late_stream_formats(ffmpeg_exe, src, tmp_path).items():
        (tmp_path / f"clip.{fmt}").write_bytes(data)
        for source in (tmp_path / f"clip.{fmt}", _Pipe(data), io.BytesIO(data)):
            got, got_frames = read(source)
            assert got == want, (fmt, source)
            np.testing.assert_array_equal(got_frames, frames)
        info = probe(tmp_path / f"clip.{fmt}")
        assert (info.colour, info.pixel_aspect) == want[3:]


def _y4m(path, header: str, frames: int = 2, w: int = 16, h: int = 16) -> None:
    """A y4m file with ``header``'s tokens after the signature and ``frames`` black 4:2:0 frames of ``w`` x ``h``."""
    body = b"".join(b"FRAME\n" + bytes(w * h * 3 // 2) for _ in range(frames))
    path.write_bytes(f"YUV4MPEG2 {header}\n".encode() + body)


@pytest.mark.parametrize("header,message", [
    ("W100000 H100000 F25:1 Ip C420jpeg", r"frame size 100000x100000 is too large"),      # was 'Device or resource busy'
    ("W16 H16 F1:1000000 Ip C420jpeg", r"frame rate 1:1000000 is not one from 1/1001 to 1,000,000"),
    ("W16 H16 F3000000:1 Ip C420jpeg", r"frame rate 3000000:1 is not one"),
    ("W16 H16 F25:0 Ip C420jpeg", r"frame rate 25:0 is not one"),
    ("W1x H16 F25:1 Ip C420jpeg", r"damaged y4m header")])
def test_a_y4m_header_is_checked_before_ffmpeg_opens_it(tmp_path, header, message):
    """A 100000x100000 header said only 'cannot read as video (Device or resource busy)'; a rate of 1:1000000 was read
    and failed at the mp4 muxer ('Application provided duration ... is invalid')."""
    _y4m(tmp_path / "a.y4m", header)
    for read in (VideoReader, probe):
        with pytest.raises(VidcolorError, match=message):
            read(tmp_path / "a.y4m")
    _y4m(tmp_path / "ok.y4m", "W16 H16 F30000:1001 Ip C420jpeg")
    assert VideoReader(tmp_path / "ok.y4m").info.fps == Fraction(30000, 1001)


@pytest.mark.parametrize("header,message", [
    ("W100000 H100000 F25:1 Ip C420jpeg", r"^stdin \(y4m header\): frame size 100000x100000 is too large"),
    ("W16 H16 F1:1000000000 Ip C420jpeg", r"^stdin: the y4m header's frame rate 1:1000000000 is not one"),
    ("W16 H16 F0:0 Ip C420jpeg", r"^stdin: the y4m header's frame rate 0:0 is not one")])
def test_a_y4m_header_on_stdin_is_checked_as_a_files(tmp_path, header, message):
    """On stdin the checks of a y4m file's header were skipped: a 100000x100000 header said 'Device or resource busy',
    a rate of 1:1000000000 failed at the mp4 muxer after every frame was processed, and F0:0 was taken. A pipe's
    first line is peeked, and the stream is then read from its start as before."""
    _y4m(tmp_path / "a.y4m", header)
    _y4m(tmp_path / "ok.y4m", "W16 H16 F30000:1001 Ip C420jpeg", frames=3)
    for name, check in (("a.y4m", message), ("ok.y4m", None)):
        for piped in (False, True):         # stdin redirected from the file (seekable), or a pipe
            feed = subprocess.Popen(["cat", str(tmp_path / name)], stdout=subprocess.PIPE) if piped else None
            with (feed.stdout if piped else open(tmp_path / name, "rb")) as stdin:
                with pytest.MonkeyPatch.context() as mp:
                    mp.setattr(sys, "stdin", SimpleNamespace(buffer=stdin))
                    if check is not None:
                        with pytest.raises(VidcolorError, match=check):
                            VideoReader("-")
                    else:
                        with VideoReader("-") as reader:
                            assert reader.info.fps == Fraction(30000, 1001) and len(list(reader)) == 3
            if piped:
                feed.wait()


def test_a_y4m_cut_inside_its_first_frame_says_so(tmp_path):
    """A y4m of a huge frame size cut short (8000x8000, 96 MB a frame: a copy stopped before its first frame ended)
    said only 'video has no frames', where one cut after whole frames says it ended inside a frame: ffmpeg's
    demuxer gives no packet for the cut frame, and the cut was measured from the last packet's end. It is now
    measured from the header's end, on a file, on stdin redirected from it, and on a pipe; a header alone (no frame
    begun) is no cut."""
    head = b"YUV4MPEG2 W8000 H8000 F25:1 Ip A1:1 C420jpeg\n"
    (tmp_path / "cut.y4m").write_bytes(head + b"FRAME\n" + bytes(100_000))
    (tmp_path / "empty.y4m").write_bytes(head)
    told = r"video has no frames: the y4m input ended inside a frame \(100,006 of its 96,000,006 bytes\) \(truncated\)$"
    with pytest.raises(VidcolorError, match=f"^{re.escape(str(tmp_path / 'cut.y4m'))}: {told}"):
        VideoReader(tmp_path / "cut.y4m")
    for piped in (False, True):
        feed = subprocess.Popen(["cat", str(tmp_path / "cut.y4m")], stdout=subprocess.PIPE) if piped else None
        with (feed.stdout if piped else open(tmp_path / "cut.y4m", "rb")) as stdin:
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(sys, "stdin", SimpleNamespace(buffer=stdin))
                with pytest.raises(VidcolorError, match=f"^stdin: {told}"):
                    VideoReader("-")
        if piped:
            feed.wait()
    with pytest.raises(VidcolorError, match=r"empty.y4m: video has no frames$"):
        VideoReader(tmp_path / "empty.y4m")


@pytest.mark.parametrize("source", [".mov", ".mkv"])
def test_the_first_frames_timecode_is_kept(tmp_path, ffmpeg_exe, source):
    """A camera's or an edit's SMPTE timecode (mov/mp4: the video's tmcd track; Matroska: the file's tag) was
    dropped: the video stream is new, and a source without audio or subtitles gave no metadata at all."""
    src = tmp_path / f"src{source}"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-t", "0.4", "-c:v", "libx264",
               "-preset", "ultrafast", "-timecode", "10:00:00:12", str(src))
    info = probe(src)
    assert info.timecode == "10:00:00:12"
    for suffix in (".mp4", ".mkv"):
        out = tmp_path / f"out{suffix}"
        with VideoWriter(out, 64, 48, info.fps, preset="ultrafast", passthrough=Passthrough.of(src, info),
                         timeline=Timeline.of(info.fps, info.time_base)) as w:
            w.write(make_frames(10, 48, 64))
        assert probe(out).timecode == "10:00:00:12", suffix


def test_the_timecode_of_a_stream_read_once_is_kept(tmp_path, ffmpeg_exe):
    """Piped Matroska (``cat film.mkv | vidcolor dequantize - -o out.mp4``) tells its timecode as a file does, but the
    output of a stream read once took only the video's start, tags and disposition: the timecode was lost. It is an
    option of the output, not a stream copied from the source, and is now kept."""
    src = tmp_path / "src.mkv"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-t", "0.2", "-c:v", "libx264",
               "-preset", "ultrafast", "-timecode", "10:00:00:12", str(src))
    with open(src, "rb") as piped, VideoReader(piped) as reader:
        frames = np.stack(list(reader))
    assert reader.info.timecode == "10:00:00:12"
    for suffix in (".mp4", ".mkv"):
        out = tmp_path / f"out{suffix}"
        with VideoWriter(out, 64, 48, reader.info.fps, preset="ultrafast", timeline=Timeline.of(reader.info.fps),
                         passthrough=Passthrough.of_stream(reader.info)) as w:
            w.write(frames)
        assert probe(out).timecode == "10:00:00:12", suffix


def test_streams_that_no_output_carries_are_named_in_a_warning(tmp_path, ffmpeg_exe):
    """A second video stream (another angle) was dropped without a word; a timecode track is not named (its
    timecode is kept)."""
    src = tmp_path / "two.mov"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi", "-i",
               "testsrc2=size=32x24:rate=10", "-map", "0:v", "-map", "1:v", "-t", "0.5", "-c:v", "libx264",
               "-preset", "ultrafast", "-timecode", "01:00:00:00", str(src))
    info = probe(src)
    assert info.others == ("video stream 1 (h264)",) and info.timecode     # the tmcd track is not among them
    with vidcolor_warnings() as said, VideoWriter(tmp_path / "out.mp4", 64, 48, info.fps, preset="ultrafast",
                                                  passthrough=Passthrough.of(src, info),
                                                  timeline=Timeline.of(info.fps, info.time_base)) as w:
        w.write(make_frames(5, 48, 64))
    assert len(said) == 1 and "not carried from two.mov: video stream 1 (h264)" in said[0]
    assert probe(tmp_path / "out.mp4").others == ()


def test_an_mp4_s_chapter_track_is_not_named_but_a_data_stream_is(tmp_path, ffmpeg_exe):
    """A/V audit, stop 63: an mp4's chapters are a text track, which FFmpeg's demuxer gives as a data stream besides
    the chapters: 'not carried from sink.mp4: data stream 4 (SubtitleHandler)', though the output has the chapters.
    A real data stream (GoPro metadata) beside the chapters is still named."""
    (tmp_path / "meta.txt").write_text(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=500\ntitle=A\n"
                                       "[CHAPTER]\nTIMEBASE=1/1000\nSTART=500\nEND=1000\ntitle=B\n")
    (tmp_path / "data.bin").write_bytes(bytes(range(256)) * 8)
    video = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi", "-i", "sine"]
    chaptered, both = tmp_path / "chapters.mp4", tmp_path / "gopro.mov"
    run_ffmpeg(ffmpeg_exe, *video, "-i", str(tmp_path / "meta.txt"), "-map", "0", "-map", "1", "-map_chapters", "2",
               "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(chaptered))
    run_ffmpeg(ffmpeg_exe, *video, "-f", "data", "-i", str(tmp_path / "data.bin"), "-i", str(tmp_path / "meta.txt"),
               "-map", "0", "-map", "1", "-map", "2", "-map_chapters", "3", "-t", "1", "-c:v", "libx264", "-preset",
               "ultrafast", "-c:a", "aac", "-c:d", "copy", "-tag:d", "gpmd", str(both))
    with av.open(str(chaptered)) as c:
        assert [s.type for s in c.streams] == ["video", "audio", "data"] and len(c.chapters()) == 2   # the case
    info = probe(chaptered)
    assert info.others == ()
    out = tmp_path / "out.mkv"
    with vidcolor_warnings() as said, VideoWriter(out, 64, 48, info.fps, preset="ultrafast",
                                                  passthrough=Passthrough.of(chaptered, info),
                                                  timeline=Timeline.of(info.fps, info.time_base)) as w:
        w.write(make_frames(10, 48, 64))
    assert said == []
    with av.open(str(out)) as c:
        assert [ch["metadata"].get("title") for ch in c.chapters()] == ["A", "B"]
    assert probe(both).others == ("data stream 2 (GoPro MET)",)


def test_more_than_8_bits_and_interlacing_are_said_before_processing(tmp_path, ffmpeg_exe, clip):
    """A 10-bit master came out at 8 bits and an interlaced clip came out progressive, each with a summary that said
    the frames passed unchanged; each now gets one warning line (and a plain clip none)."""
    from vidcolor.api import process

    ten, inter = tmp_path / "ten.mkv", tmp_path / "inter.mp4"
    run_ffmpeg(ffmpeg_exe, "-i", str(clip), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", str(ten))
    run_ffmpeg(ffmpeg_exe, "-i", str(clip), "-vf", "setfield=tff", "-flags", "+ilme+ildct", "-c:v", "libx264",
               "-preset", "ultrafast", "-x264opts", "tff=1", str(inter))
    assert (probe(ten).bits, probe(ten).interlaced, probe(inter).bits, probe(inter).interlaced) == (10, None, 8, "tt")
    for source, said in ((ten, "ten.mkv has 10 bits per sample"), (inter, "inter.mp4 is interlaced (top field first)"),
                         (clip, None)):
        with vidcolor_warnings() as warned:
            process(source, tmp_path / f"out_{source.stem}.mp4", lambda batch: batch, suffix="x", preset="ultrafast",
                    progress=False)
        assert len(warned) == (said is not None) and all(said in line for line in warned), warned


def test_interlaced_dv_whose_stream_declares_no_field_order_is_said_from_its_frames(tmp_path, ffmpeg_exe):
    """DV (a camcorder's tape, the home videos a colorizer is given) is interlaced, but its stream declares no
    field order (FFmpeg's probe: unknown): it came out progressive without the warning an MPEG-2 or H.264 clip
    gets. Its decoded frames are marked interlaced, as players and ffmpeg's bwdif go by; a progressive clip's not."""
    from vidcolor.api import process

    dv = tmp_path / "tape.avi"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc2=s=720x480:r=30000/1001:d=0.2", "-vf", "setsar=8/9",
               "-c:v", "dvvideo", "-pix_fmt", "yuv411p", str(dv))
    assert probe(dv).interlaced == "frames"
    with VideoReader(dv) as reader:
        assert reader.info.interlaced == "frames"
    with vidcolor_warnings() as warned:
        process(dv, tmp_path / "out.mp4", lambda batch: batch, suffix="x", preset="ultrafast", progress=False)
    assert warned == ["tape.avi is interlaced (its frames say so; no field order given); its frames are processed "
                      "as whole pictures and written progressive: deinterlace it first (ffmpeg -vf bwdif)"]


def test_an_mp4_with_its_index_at_the_end_through_a_pipe_is_explained(tmp_path, ffmpeg_exe):
    """An MP4 whose index (moov) follows more data than the probe reads cannot be read from a pipe; the error said
    only 'Invalid data found when processing input'. It now says why and what to pipe instead."""
    import threading

    src = tmp_path / "late_index.mp4"               # random noise, lossless: about 8 MB before the index
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "nullsrc=s=320x240:r=25,geq=random(1)*255:128:128", "-t", "3",
               "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", str(src))
    assert src.stat().st_size > 6_000_000
    read_end, write_end = os.pipe()
    feeder = threading.Thread(target=feed_pipe, args=(write_end, src.read_bytes()), daemon=True)
    feeder.start()
    with open(read_end, "rb") as pipe, pytest.raises(VidcolorError, match="index follows its data cannot come "
                                                                         "through a pipe: pipe NUT or Matroska"):
        VideoReader(pipe)



def test_a_video_stream_whose_codec_ffmpeg_cannot_identify_is_one_line(monkeypatch):
    """An MPEG-PS whose probe gave up (a 16000x8000 H.264 in a .vob) has a video stream without a codec context:
    'AttributeError: NoneType object has no attribute width', a traceback, from a file, stdin and the library."""
    from vidcolor.io import reader

    stream = SimpleNamespace(codec_context=None)
    monkeypatch.setattr(reader, "video_stream", lambda container: stream)
    with pytest.raises(VidcolorError, match=r"^big\.vob: cannot decode: its video codec cannot be identified"):
        reader.container_info(SimpleNamespace(), "big.vob")


# ------------------------------------------------------------------------------------ partial files of dead runs

_DIE_HOLDING = """
import os, sys
from pathlib import Path
from vidcolor.io.partial import partial_file
for suffix in sys.argv[2:]:
    print(partial_file(Path(sys.argv[1]), suffix), flush=True)
os._exit(0)                     # as a killed run: nothing removed
"""

_TRY_REMOVE = """
import sys
from pathlib import Path
from vidcolor.io.partial import remove_dead_partials
print(len(remove_dead_partials(Path(sys.argv[1]))))
"""


def _python(code: str, *args) -> str:
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl")
def test_partial_files_of_dead_runs_are_removed_and_those_of_live_runs_kept(tmp_path, monkeypatch):
    """A run killed with SIGKILL left its partial files (the output's, an image's, write_file_atomically's) for ever:
    nothing looked for them. partial_file now locks each (flock, for the file's life) and first removes the partial
    files of the same target that no process locks; a live run's stays, here and when another process looks."""
    from vidcolor.io import partial
    from vidcolor.io.partial import _held, discard, partial_file, remove_dead_partials

    monkeypatch.setattr(partial, "LISTING_SECONDS", 0)             # each look lists the folder again

    target = tmp_path / "out.mp4"
    mine = partial_file(target, ".partial.mp4")
    assert str(mine) in _held
    assert _python(_TRY_REMOVE, target) == "0" and mine.exists()          # alive, seen from another process
    *dead, bare = [Path(p) for p in _python(_DIE_HOLDING, target, ".partial.mp4", ".frames.nut", ".mp4").split()]
    assert all(p.exists() for p in dead)
    unrelated = [tmp_path / n for n in (".out.abc.partial.mp4", ".outs.abcdefgh.partial.mp4", "out.abcdefgh.mp4",
                                        ".out.abcdefgh.partial.mkv")]
    for p in unrelated:
        p.write_bytes(b"")
        os.chmod(p, 0o600)
    unrelated.append(bare)          # no partial file is named so since stop 64 (a user's .out.original.mp4 could be)
    (tmp_path / ".out.folder12.partial.mp4").mkdir()
    assert sorted(remove_dead_partials(target)) == sorted(dead)            # this process's own is locked too
    assert mine.exists() and not any(p.exists() for p in dead) and all(p.exists() for p in unrelated)
    again = Path(_python(_DIE_HOLDING, target, ".partial.mp4"))
    other = partial_file(target, ".palette.nut")                           # a new partial file removes it first
    assert not again.exists() and mine.exists()
    discard(mine)
    discard(other)
    assert not mine.exists() and not other.exists() and str(mine) not in _held and str(other) not in _held


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl")
def test_images_and_files_written_atomically_remove_dead_partial_files(tmp_path):
    from vidcolor.io.images import write_image
    from vidcolor.io.writer import write_file_atomically
    from vidcolor.io.partial import _held

    dead_image = Path(_python(_DIE_HOLDING, tmp_path / "pic.png", ".partial.png"))
    dead_data = Path(_python(_DIE_HOLDING, tmp_path / "plan.json", ".partial.json"))
    write_image(tmp_path / "pic.png", np.zeros((4, 6, 3), np.uint8))
    write_file_atomically(tmp_path / "plan.json", b"[]")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pic.png", "plan.json"]
    assert not dead_image.exists() and not dead_data.exists() and not any(str(tmp_path) in p for p in _held)


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl")
def test_a_folder_is_listed_once_in_a_while_for_dead_partial_files(tmp_path, monkeypatch):
    """A folder run writing thousands of outputs into one folder listed it for each output (20,000 files: 10 ms or
    more each time): now once every LISTING_SECONDS; the names found are tried each time, so a run that dies
    after the listing has its files removed by the next look at them."""
    from vidcolor.io import partial

    listed = []
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda folder: listed.append(folder) or real(folder))
    held = tmp_path / ".b.abcdefgh.partial.mp4"
    held.write_bytes(b"")
    os.chmod(held, 0o600)                                         # as mkstemp makes it
    fd = os.open(held, os.O_RDONLY)
    import fcntl
    fcntl.flock(fd, fcntl.LOCK_EX)
    for name in "abc":
        partial.discard(partial.partial_file(tmp_path / f"{name}.mp4", ".partial.mp4"))
    assert len(listed) == 1 and held.exists()                     # listed once; alive: kept
    os.close(fd)                                                  # its run dies
    partial.discard(partial.partial_file(tmp_path / "b.mp4", ".partial.mp4"))
    assert len(listed) == 1 and not held.exists()                 # the name listed is tried again
    monkeypatch.setattr(partial, "LISTING_SECONDS", 0)
    partial.discard(partial.partial_file(tmp_path / "b.mp4", ".partial.mp4"))
    assert len(listed) == 2


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl")
def test_a_partial_file_removed_before_it_was_locked_is_made_again(tmp_path, monkeypatch):
    """Between mkstemp and the lock, another run may find the new file unlocked and remove it: the creator sees it
    (the lock then holds a file no longer there) and makes another, which it returns locked."""
    import tempfile

    from vidcolor.io import partial

    made = []
    real = tempfile.mkstemp

    def racing(*args, **kwargs):
        fd, path = real(*args, **kwargs)
        made.append(path)
        if len(made) == 1:
            assert partial.remove_if_dead(path)             # another run's cleaner, in between
        return fd, path

    monkeypatch.setattr(tempfile, "mkstemp", racing)
    got = partial.partial_file(tmp_path / "x.mp4", ".partial.mp4")
    assert len(made) == 2 and str(got) == made[1] and got.exists() and not Path(made[0]).exists()
    assert not partial.remove_if_dead(got)
    partial.discard(got)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_child_does_not_keep_the_lock(tmp_path):
    """A child forked while a partial file is held (multiprocessing's fork) closes its copies of the locked
    descriptors: otherwise the lock would live as long as the child, after its parent's death."""
    from vidcolor.io.partial import _held, discard, partial_file

    mine = partial_file(tmp_path / "x.mp4", ".partial.mp4")
    pid = os.fork()
    if pid == 0:
        os._exit(len(_held))
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0 and str(mine) in _held
    discard(mine)


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl")
def test_a_users_own_hidden_files_beside_the_output_are_not_taken_for_partial_files(tmp_path):
    """Review, stop 64: the sweep matched '.<stem>.' + 8 characters + the output's suffix, so writing clip.mp4
    removed the user's own unlocked '.clip.original.mp4' and '.clip.backup_1.mp4'. Partial files now always carry
    '.partial' before the suffix, and only files of this user in mkstemp's mode 0600 are removed."""
    from vidcolor.io.partial import discard, partial_file

    target = tmp_path / "clip.mp4"
    mine = [tmp_path / ".clip.original.mp4", tmp_path / ".clip.backup_1.mp4", tmp_path / ".clip.20241201.partial.mp4"]
    for p in mine:
        p.write_bytes(b"the user's")
    os.chmod(mine[1], 0o600)
    dead = tmp_path / ".clip.abcdefgh.partial.mp4"                # as a run killed with SIGKILL leaves it
    dead.write_bytes(b"")
    os.chmod(dead, 0o600)
    discard(partial_file(target, ".partial.mp4"))
    assert all(p.read_bytes() == b"the user's" for p in mine) and not dead.exists()


def test_output_exists_crosses_to_another_process_whole():
    """Review, stop 64: OutputExists(message, target) could not be unpickled (rebuilt from its message alone: a
    TypeError), so in a worker pool the most common error, an output that exists, hung multiprocessing.Pool.apply."""
    import pickle

    from vidcolor.errors import cli_wording, option
    from vidcolor.io.writer import OutputExists

    error = OutputExists(f"out.mp4 exists (use {option('overwrite')} to replace it)", Path("out.mp4"))
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is OutputExists and again.target == Path("out.mp4")
    assert (str(again), cli_wording(again)) == ("out.mp4 exists (use overwrite to replace it)",
                                                "out.mp4 exists (use --overwrite to replace it)")


def test_an_animated_webp_on_stdin_says_ffmpeg_cannot_decode_it(tmp_path, monkeypatch):
    """An animated WebP on stdin said 'stdin: cannot decode: frame size unknown or above the limit': FFmpeg's WebP
    decoder gives it no size and no frame (a file given by name is read through Pillow). It now says that, and to
    give the file's name; a still WebP on stdin still reads."""
    from PIL import Image

    frames = [Image.new("RGB", (16, 16), (90 * i, 60, 30)) for i in range(3)]
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(tmp_path / "still.webp", lossless=True)
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=_Pipe((tmp_path / "anim.webp").read_bytes())))
    with pytest.raises(VidcolorError, match=r"^stdin: cannot decode: an animated WebP, which FFmpeg cannot decode; "
                       r"give the file's name instead \(vidcolor reads an animated WebP file through Pillow\)$"):
        VideoReader("-")
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=_Pipe((tmp_path / "still.webp").read_bytes())))
    with VideoReader("-") as reader:
        assert (reader.info.width, reader.info.height) == (16, 16) and len(list(reader)) == 1


def test_ffmpeg_s_failure_is_said_without_its_exit_status(tmp_path, monkeypatch):
    """A full disk said 'ffmpeg failed (228): mp4: Error writing trailer: No space left on device' and ``ulimit -f``
    'ffmpeg failed (-25): ffmpeg was ended by SIGXFSZ (the file-size limit, ulimit -f)': the numbers tell a user
    nothing ffmpeg's line does not. Now ffmpeg's line alone after 'ffmpeg failed', and a signal by its name and
    meaning. Shown with a file-size limit on ffmpeg alone (SIGXFSZ ignored: its write fails, 'File too large'),
    and ffmpeg stopped by SIGXFSZ at the end of its input; nothing left either way."""
    import resource
    import signal

    import vidcolor.io.writer as writer

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    frames = np.random.default_rng(0).integers(0, 256, (5, 48, 64, 3), np.uint8)
    with monkeypatch.context() as m:
        m.setattr(writer, "child_options", lambda: {"preexec_fn": limited})
        with pytest.raises(VidcolorError) as err:
            with VideoWriter(tmp_path / "a.mp4", 64, 48, Fraction(24)) as w:
                w.write(frames)
    assert str(err.value) == "ffmpeg failed: mp4: Error writing trailer: File too large"
    with pytest.raises(VidcolorError) as err:
        with VideoWriter(tmp_path / "b.mp4", 64, 48, Fraction(24)) as w:
            w.write(frames)
            os.kill(w._proc.pid, signal.SIGXFSZ)
    assert str(err.value) == "ffmpeg was stopped by SIGXFSZ (file size limit exceeded)"
    assert list(tmp_path.iterdir()) == []
