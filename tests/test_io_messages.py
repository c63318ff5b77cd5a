"""Messages a user meets on damaged or odd input (empty stdin, cut files, a folder given as a model...): each one
line that says what is wrong with the input, never only FFmpeg's "Invalid data found when processing input"."""
from __future__ import annotations

import io
import os
import types

import pytest

from vidcolor.errors import VidcolorError
from vidcolor.io.reader import VideoReader


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
