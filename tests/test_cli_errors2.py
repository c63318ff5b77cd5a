"""The command line's error paths as a new user meets them: an unexpected exception inside a job (one line, not
Python's traceback), colour input given to colorize (a warning), bad inputs and outputs on every subcommand."""
from __future__ import annotations

import shutil

import pytest

from helpers import assert_one_line_error, invoke_cli, listing

FAST = ("-q", "--preset", "ultrafast")


def _failing_mid_run(monkeypatch, error: BaseException) -> None:
    """Make a file's run raise ``error`` once two frames are written (the encoder has started, a partial file is
    there)."""
    import vidcolor.api

    real = vidcolor.api.run

    def run(reader, fn, write, batch, frames, output, progress):
        written = []

        def failing(frame):
            write(frame)
            written.append(1)
            if len(written) == 2:
                raise error

        return real(reader, fn, failing, 1, frames, output, progress)

    monkeypatch.setattr(vidcolor.api, "run", run)


@pytest.mark.parametrize("error", [RuntimeError("CUDA error: an illegal memory access was encountered\nCUDA kernel "
                                                "errors might be asynchronously reported"),
                                   OSError(5, "Input/output error"), KeyError("arch"), AssertionError()])
def test_an_unexpected_exception_mid_run_is_one_line_and_leaves_nothing(tmp_path, clip, tiny_models, monkeypatch,
                                                                         error):
    """A RuntimeError of torch, an OSError, a bug's KeyError mid-run reached the user as Python's traceback (40
    lines); it is one line that says it is an internal error, its type and its message's first line, exit 1, and
    the partial output (and the folder made for it) removed."""
    shutil.copy(clip, tmp_path / "clip.mp4")
    monkeypatch.delenv("VIDCOLOR_DEBUG", raising=False)
    _failing_mid_run(monkeypatch, error)
    res = invoke_cli("dequantize", "clip.mp4", "-o", "new/out.mp4", "--model", tiny_models.lab, *FAST, cwd=tmp_path)
    assert_one_line_error(res)
    name = type(error).__name__
    assert res.stderr_lines[0].startswith(f"vidcolor: error: internal error ({name}"), res.stderr
    assert res.stderr_lines[0].endswith("VIDCOLOR_DEBUG=1 shows the traceback"), res.stderr
    if isinstance(error, RuntimeError):         # the first of its lines, and a mark for the rest
        assert "(RuntimeError: CUDA error: an illegal memory access was encountered [...])" in res.stderr
    assert listing(tmp_path) == {"clip.mp4"}


def test_vidcolor_debug_shows_the_traceback_before_the_line(tmp_path, clip, tiny_models, monkeypatch):
    shutil.copy(clip, tmp_path / "clip.mp4")
    monkeypatch.setenv("VIDCOLOR_DEBUG", "1")
    _failing_mid_run(monkeypatch, ValueError("boom"))
    res = invoke_cli("dequantize", "clip.mp4", "-o", "out.mp4", "--model", tiny_models.lab, *FAST, cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.startswith("Traceback (most recent call last):"), res.stderr
    assert "in failing" in res.stderr                   # the frame that raised
    assert res.stderr_lines[-1] == "vidcolor: error: internal error (ValueError: boom); the traceback is above"
    assert listing(tmp_path) == {"clip.mp4"}


def test_an_internal_error_in_a_folder_run_says_what_was_kept(tmp_path, clip, tiny_models, monkeypatch):
    (tmp_path / "in").mkdir()
    shutil.copy(clip, tmp_path / "in" / "a.mp4")
    shutil.copy(clip, tmp_path / "in" / "b.mp4")
    import vidcolor.api

    real, calls = vidcolor.api.run, []

    def run(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real(*args)

    monkeypatch.setattr(vidcolor.api, "run", run)
    res = invoke_cli("dequantize", "in", "-o", "out", "--model", tiny_models.lab, *FAST, cwd=tmp_path)
    assert_one_line_error(res)
    assert res.stderr_lines[0].startswith("vidcolor: error: internal error (RuntimeError: boom); "), res.stderr
    assert listing(tmp_path / "out") == {"a.mp4"}
