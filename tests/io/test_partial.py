"""vidcolor.io.partial: what stands on a target's way (a file, a symbolic link to nothing), said the same by every
writer that makes its missing folders."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from helpers import invoke_cli


@pytest.mark.parametrize("kind,why", [("file", "x is a file, not a folder"),
                                      ("dangling", "x is a symbolic link to nothing, not a folder")])
def test_a_file_or_a_dangling_link_on_the_way_is_said_by_every_writer(tmp_path, monkeypatch, kind, why):
    """The check was written four times, with exists() (partial_file, train --out, export) or lexists() (train
    pack): a symbolic link to nothing on the way was skipped by the first (partial_file said 'File exists', train
    and export went on to fail later) and called 'a file' by pack. One rule now (io.partial.blocked_way, lexists:
    mkdir cannot make a folder where the link is)."""
    from vidcolor.errors import VidcolorError
    from vidcolor.io.partial import check_way, partial_file
    from vidcolor.training.pack import check_writable

    monkeypatch.chdir(tmp_path)
    if kind == "file":
        Path("x").write_bytes(b"")
    else:
        os.symlink("missing", "x")
    for call, target in ((lambda: partial_file(Path("x/out.mp4"), ".mp4"), "x/out.mp4"),
                         (lambda: check_way("x/run"), "x/run")):
        with pytest.raises(VidcolorError) as caught:
            call()
        assert str(caught.value) == f"{target}: cannot write there ({why})"
    with pytest.raises(NotADirectoryError) as caught:
        check_writable(Path("x/pk"))
    assert (caught.value.strerror, caught.value.filename) == (why, "x/pk")
    res = invoke_cli("export", "dequantize-fq-l2", "x/m.onnx", cwd=tmp_path)
    assert res.returncode == 1 and res.stderr_lines == [f"vidcolor: error: x/m.onnx: cannot write there ({why})"]
    assert sorted(os.listdir(tmp_path)) == ["x"]


@pytest.mark.parametrize("kind,why", [("loop", "x is a symbolic link loop, not a folder"),
                                      ("to_file", "x is a symbolic link to a file, not a folder"),
                                      ("through_file", "x: Not a directory"),
                                      ("unreadable", "x: Permission denied")])
def test_blocked_way_says_what_a_link_on_the_way_is_and_never_raises(tmp_path, monkeypatch, kind, why):
    """A link into a folder that cannot be read raised PermissionError out of blocked_way; a link loop, a link to a
    file or through one were all 'a symbolic link to nothing'."""
    from vidcolor.io import partial
    from vidcolor.io.partial import blocked_way

    monkeypatch.chdir(tmp_path)
    Path("f").write_bytes(b"")
    if kind == "loop":
        os.symlink("x", "x")
    elif kind == "to_file":
        os.symlink("f", "x")
    elif kind == "through_file":
        os.symlink("f/y", "x")
    else:                                   # as root too (which reads every folder): stat says it
        os.mkdir("locked")
        os.symlink("locked/y", "x")
        def unreadable(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(partial.os, "stat", unreadable)
    assert blocked_way(Path("x/run")) == why


def test_a_folder_that_cannot_be_written_is_named(tmp_path, monkeypatch):
    """``-o ro/x.mp4 --overwrite`` (x.mp4 writable, ro not) said 'ro/x.mp4: cannot write there (Permission denied)',
    and a folder run into ``ro/fr`` 'ro/fr/1.png: cannot write there (Permission denied)', where ro/fr is what cannot
    be made: the folder is named. (The audit's read-only folder, as root without CAP_DAC_OVERRIDE, is faked here by
    the calls that failed: creating a file in ro, a folder in ro.)"""
    import tempfile

    from vidcolor.errors import VidcolorError
    from vidcolor.io.partial import partial_file

    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "x.mp4").write_bytes(b"old")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(VidcolorError) as err:
        partial_file(ro / "x.mp4", ".partial.mp4")
    assert str(err.value) == f"{ro}/x.mp4: cannot write there (the folder {ro} is not writable: Permission denied)"
    monkeypatch.setattr(os, "mkdir", denied)
    with pytest.raises(VidcolorError) as err:
        partial_file(ro / "fr" / "sub" / "1.png", ".partial.png")
    assert str(err.value) == f"{ro}/fr: cannot create the folder ({ro} is not writable: Permission denied)"
    monkeypatch.chdir(ro)
    with pytest.raises(VidcolorError) as err:
        partial_file(Path("fr/1.png"), ".partial.png")
    assert str(err.value) == f"fr: cannot create the folder ({ro} is not writable: Permission denied)"
