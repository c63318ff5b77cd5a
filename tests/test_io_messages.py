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
