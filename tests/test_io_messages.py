"""Messages a user meets on damaged or odd input (empty stdin, cut files, a folder given as a model...): each one
line that says what is wrong with the input, never only FFmpeg's "Invalid data found when processing input"."""
from __future__ import annotations

import io
import os
import types

import pytest

from vidcolor.errors import VidcolorError
from vidcolor.io.reader import VideoReader
from helpers import assert_cut_index_refused, feed_pipe


def test_empty_stdin_that_seeks_says_it_is_empty(monkeypatch):
    """``vidcolor dequantize - < /dev/null`` said 'stdin: cannot read as video (Invalid data found when processing
    input)': stdin from /dev/null (or an empty file) seeks, so it was not taken for a pipe that gave nothing."""
    with open(os.devnull, "rb") as null:
        monkeypatch.setattr("sys.stdin", types.SimpleNamespace(buffer=null))
        with pytest.raises(VidcolorError) as err:
            VideoReader("-")
    assert str(err.value) == "stdin: cannot read as video (an empty input, 0 bytes)"
    with pytest.raises(VidcolorError, match=r"^stdin: cannot read as video \(an empty input, 0 bytes\)$"):
        VideoReader(io.BytesIO(b""))
    with pytest.raises(VidcolorError, match="Invalid data found"):     # bytes that are no video: as before
        VideoReader(io.BytesIO(b"not a video\n"))


def test_an_mp4_cut_before_its_index_says_it_looks_truncated(tmp_path, ffmpeg_exe):
    """An mp4 written without +faststart has its index (moov) after the data: cut in the middle, it said only
    'cannot read as video (Invalid data found when processing input)'. FFmpeg's log ('moov atom not found') is
    now read, and said with what it means; a .mp4 that holds no video at all is not called truncated."""
    from helpers import make_clip

    whole = make_clip(ffmpeg_exe, tmp_path / "whole.mp4", audio=False).read_bytes()
    assert whole.index(b"moov") > whole.index(b"mdat")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(VidcolorError) as err:
        VideoReader(cut)
    assert str(err.value).startswith(f"{cut}: cannot read as video: the file looks incomplete (truncated): an MP4 "
                                     "or MOV without its index ('moov atom not found')")
    text = tmp_path / "notes.mp4"
    text.write_bytes(b"not a video\n" * 10)
    with pytest.raises(VidcolorError) as err:
        VideoReader(text)
    assert str(err.value) == f"{text}: cannot read as video (Invalid data found when processing input)"


def test_a_faststart_mp4_cut_inside_its_first_frame_says_it_ends_early(tmp_path, ffmpeg_exe):
    """An mp4 with its index in front (+faststart) cut inside its first frame said 'cannot decode (Invalid data found
    when processing input)'; FFmpeg's log says the index lists data beyond the end ('partial file', of the samples
    after the cut) or cut by it ('Packet corrupt', of the one the cut is in: a one-frame file, or a large one, whose
    later samples ffmpeg does not reach), now said. (Cut after some frames, it is said already: 'N of M frames
    could not be read (truncated or damaged)'.)"""
    from helpers import make_clip, run_ffmpeg

    said = "the file ends early (truncated): its index lists video beyond its end, as an MP4 or MOV cut short"
    for frames in (10, 1):
        plain = make_clip(ffmpeg_exe, tmp_path / f"plain{frames}.mp4", audio=False, frames=frames)
        fast = tmp_path / f"fast{frames}.mp4"
        run_ffmpeg(ffmpeg_exe, "-i", str(plain), "-c", "copy", "-movflags", "+faststart", str(fast))
        whole = fast.read_bytes()
        assert whole.index(b"moov") < whole.index(b"mdat")
        cut = tmp_path / f"cut{frames}.mp4"
        cut.write_bytes(whole[:whole.index(b"mdat") + 40])
        assert_cut_index_refused(cut, said)


def test_eval_says_a_truncated_output_is_damaged(tmp_path, ffmpeg_exe):
    """``vidcolor eval`` on an output cut short compared the frames that decoded and said only 'frame counts differ
    (output 6, ground truth 10)', as of a shorter clip: the frames the file declares and lacks are now a warning
    (table, JSON, stderr). Stopped by ``max_frames`` before the cut, it says nothing."""
    from helpers import make_clip, run_ffmpeg

    from vidcolor.evaluate import evaluate, format_table

    plain = make_clip(ffmpeg_exe, tmp_path / "plain.mp4", audio=False)
    whole = tmp_path / "whole.mp4"
    run_ffmpeg(ffmpeg_exe, "-i", str(plain), "-c", "copy", "-movflags", "+faststart", str(whole))
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:len(data) * 3 // 4])
    result = evaluate(cut, whole, features=False)
    n = result["frame_counts"]["output"]
    assert 0 < n < 10
    said = (f"the output {cut} looks damaged or truncated: {10 - n} of its 10 frames could not be read (only the "
            "frames that decoded are compared)")
    assert result["warnings"] == [said]
    assert f"\nwarning: {said}" in format_table(result)
    assert evaluate(cut, whole, features=False, max_frames=1)["warnings"] == []


def test_a_folder_given_as_a_model_is_said_to_be_a_folder(tmp_path):
    """``--model runs/x`` (a training run's folder) said "model 'runs/x' not found", of a folder that is there. It
    now says it is a folder, what a model is, and the weight files the folder holds."""
    from vidcolor.weights import REGISTRY, resolve

    with pytest.raises(VidcolorError) as err:
        resolve(str(tmp_path))
    assert str(err.value) == (f"model {str(tmp_path)!r} is a folder, not a model: a model is a bundled model's name "
                              f"({', '.join(sorted(REGISTRY))}) or a .safetensors path")
    (tmp_path / "generator.safetensors").write_bytes(b"")
    with pytest.raises(VidcolorError) as err:
        resolve(tmp_path, graphs=True)
    assert str(err.value).endswith(" or a .safetensors path or an .onnx graph written by vidcolor export "
                                   f"({tmp_path} holds generator.safetensors: give its path)")
    with pytest.raises(VidcolorError, match="not found"):
        resolve(str(tmp_path / "missing.safetensors"))


def test_a_video_codec_without_a_decoder_is_named(tmp_path, ffmpeg_exe, monkeypatch):
    """A video stream that PyAV has no decoder for (an AVI whose fourcc FFmpeg does not know; AVS2, which FFmpeg
    knows and PyAV's build cannot decode) said 'its video codec cannot be identified (or its frame size is above
    the limit ...)': PyAV gives no codec context and says nothing of the codec. ffmpeg's stream listing is now read."""
    from helpers import run_ffmpeg

    from vidcolor.io import reader

    avi = tmp_path / "clip.avi"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-frames:v", "2", "-c:v", "mpeg4",
               str(avi))
    data = avi.read_bytes()
    assert data.count(b"FMP4") == 2                 # the stream header's handler and the bitmap header's fourcc
    avi.write_bytes(data.replace(b"FMP4", b"QQQQ"))
    with pytest.raises(VidcolorError) as err:
        VideoReader(avi)
    assert str(err.value) == f"{avi}: cannot decode: its video codec is one FFmpeg does not know (its tag: QQQQ)"
    # AVS2 as ffmpeg lists it (an ffmpeg built with libdavs2 and libxavs2 writes and reads it; PyAV has no decoder)
    monkeypatch.setattr(reader, "ffmpeg_log", lambda path, level: b"  Stream #0:0: Video: avs2 (libdavs2), yuv420p("
                        b"tv, progressive), 64x48, SAR 1:1 DAR 4:3, 10 fps, 10 tbr, 1k tbn\n")
    assert reader._codec_lacking(avi, 0) == ("its video codec, avs2, has no decoder in this PyAV's FFmpeg; convert it "
                                             "first with an ffmpeg that has one (ffmpeg -i in -c:v ffv1 out.mkv)")
    monkeypatch.setattr(reader, "ffmpeg_log", lambda path, level: b"  Stream #0:0[0x1e0]: Video: h264 (High), yuv420p")
    assert reader._codec_lacking(avi, 0) is None    # PyAV decodes it: the size limit's message is kept


def test_a_file_without_video_says_what_it_holds(tmp_path, ffmpeg_exe):
    """An audio file given as the input said only 'no video stream', as a damaged file might: it now says what the
    file holds (a song with cover art still says 'only cover art')."""
    from helpers import run_ffmpeg

    song = tmp_path / "song.m4a"
    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "sine=sample_rate=8000", "-t", "0.1", "-c:a", "aac", str(song))
    with pytest.raises(VidcolorError) as err:
        VideoReader(song)
    assert str(err.value) == f"{song}: no video stream: it holds only audio (aac)"


def test_an_mp4_cut_before_its_index_on_stdin_says_it_looks_truncated(tmp_path, ffmpeg_exe):
    """The same cut mp4 given on stdin, through a pipe (``cat cut.mp4 |``) or redirected (``< cut.mp4``), said
    'stdin: cannot read as video (Invalid data found when processing input)': what the pipe gave, or the file behind
    stdin, is now given to ffmpeg as the file's name is."""
    import threading

    from helpers import make_clip

    whole = make_clip(ffmpeg_exe, tmp_path / "whole.mp4", audio=False).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[:len(whole) // 2])
    read_end, write_end = os.pipe()
    threading.Thread(target=feed_pipe, args=(write_end, cut.read_bytes()), daemon=True).start()
    with open(read_end, "rb") as pipe, pytest.raises(VidcolorError) as err:
        VideoReader(pipe)
    assert str(err.value).startswith("stdin: cannot read as video: the input looks incomplete (truncated): an MP4 "
                                     "or MOV without its index ('moov atom not found')")
    with open(cut, "rb") as redirected, pytest.raises(VidcolorError) as err:
        VideoReader(redirected)
    assert str(err.value).startswith("stdin: cannot read as video: the file looks incomplete (truncated)")

