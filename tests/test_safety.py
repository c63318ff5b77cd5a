"""Data safety of the output path: a run never writes over its input (however the input is reached), over a device
or pipe, over a reference, and says odd names and links at the output in one line before any work."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import CliResult, assert_one_line_error, cli_env, run_cli
from vidcolor import api
from vidcolor.checks import model_input
from vidcolor.errors import VidcolorError
from vidcolor.io import folders, paths
from vidcolor.ray_work import ray_clips


def _unshare_works() -> bool:
    """Whether this user may make a mount namespace of its own (``unshare -rm``: a bind mount without root)."""
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def run_cli_with_bind_mount(source: Path, mountpoint: Path, *args) -> CliResult:
    """``python -m vidcolor.cli ARGS`` in a mount namespace where ``mountpoint`` shows ``source`` (a bind mount)."""
    command = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", command, "sh", str(source), str(mountpoint), sys.executable,
                           "-m", "vidcolor.cli", *map(str, args)], capture_output=True, timeout=120, env=cli_env(),
                          stdin=subprocess.DEVNULL)
    return CliResult(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))


# ------------------------------------------------------------------------------- D1: the input by another path


@pytest.mark.skipif(not _unshare_works(), reason="no mount namespace for this user (unshare -rm)")
def test_the_input_through_a_bind_mount_is_not_overwritten(tmp_path, clip, tiny_models):
    """A second mount of the input's folder (a bind mount, a NAS share mounted twice) gives the input another path
    that resolves differently: -o there with --overwrite was written over the input; a folder likewise."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(clip, tmp_path / "a" / "in.mp4")
    before = (tmp_path / "a" / "in.mp4").read_bytes()
    res = run_cli_with_bind_mount(tmp_path / "a", tmp_path / "b", "dequantize", tmp_path / "a" / "in.mp4", "-o",
                                  tmp_path / "b" / "in.mp4", "--overwrite", "--model", tiny_models.lab, "-q")
    assert_one_line_error(res)
    assert "would overwrite the input" in res.stderr
    res = run_cli_with_bind_mount(tmp_path / "a", tmp_path / "b", "dequantize", tmp_path / "a", "-o", tmp_path / "b",
                                  "--overwrite", "--model", tiny_models.lab, "-q", "--preset", "ultrafast")
    assert_one_line_error(res)
    assert "would overwrite the input" in res.stderr
    assert (tmp_path / "a" / "in.mp4").read_bytes() == before
    assert sorted(os.listdir(tmp_path / "a")) == ["in.mp4"]


def test_a_hard_link_to_the_input_is_the_input(tmp_path, clip):
    """Another name of the input's file (a hard link: what a bind mount or a case-insensitive disk looks like to
    the path check) is refused as the output, by the local and the Ray executor."""
    src = tmp_path / "in.mp4"
    shutil.copy(clip, src)
    os.link(src, tmp_path / "link.mp4")
    with pytest.raises(VidcolorError, match="would overwrite the input"):
        paths.output_for(src, tmp_path / "link.mp4", "dequantized")
    with pytest.raises(VidcolorError, match="would overwrite the input"):
        ray_clips(str(src), str(tmp_path / "link.mp4"), "dequantized", {"overwrite": True})
    paths.output_for(src, tmp_path / "new.mp4", "dequantized")          # an output that does not exist yet


# ------------------------------------------------------------------------------- D2: devices and pipes


def test_a_device_or_pipe_at_the_output_is_refused_not_replaced(tmp_path, clip, tiny_models):
    """-o naming a named pipe, a device or a symbolic link to one (``/dev/null``, ``/proc/self/fd/1``), with
    --overwrite, put a regular file in its place (as root, ``-o /dev/null`` would have replaced the system's):
    one line, before any work, and the node is left as it was."""
    import stat

    os.mkfifo(tmp_path / "pipe.mp4")
    os.symlink(os.devnull, tmp_path / "null.mp4")
    os.symlink(tmp_path / "pipe.mp4", tmp_path / "to-pipe.mp4")
    for name in ("pipe.mp4", "null.mp4", "to-pipe.mp4"):
        for extra in (("--overwrite",), ()):
            res = run_cli("dequantize", clip, "-o", name, "--model", tiny_models.lab, "-q", *extra, cwd=tmp_path)
            assert_one_line_error(res)
            assert f"{name} is not a regular file (a device or pipe); use -o - to write to a pipe" in res.stderr
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe.mp4").st_mode)
    assert os.readlink(tmp_path / "null.mp4") == os.devnull
    assert os.readlink(tmp_path / "to-pipe.mp4") == str(tmp_path / "pipe.mp4")
    assert sorted(os.listdir(tmp_path)) == ["null.mp4", "pipe.mp4", "to-pipe.mp4"]
    from vidcolor.io.writer import check_target

    with pytest.raises(VidcolorError, match="not a regular file"):      # images and the Ray executor use it too
        check_target(tmp_path / "null.mp4", True)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="no /proc/self/fd")
def test_a_link_to_the_process_s_own_descriptor_on_a_file_is_refused_not_replaced(tmp_path, clip, tiny_models):
    """``-o /dev/stdout --overwrite > out.mp4`` (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N`` on a regular
    file): the link was taken for a link to that file and replaced by the output (as root, ``/dev/stdout`` itself
    became a regular file), exit 0, and the file the shell opened stayed empty; without --overwrite the error said
    to give it. One line naming -o -, before any work, with or without --overwrite; the link is left as it was."""
    os.symlink("/proc/self/fd/1", tmp_path / "so.mp4")
    for name in ("so.mp4", "/dev/fd/1", "/proc/self/fd/1"):
        for extra in (("--overwrite",), ()):
            with open(tmp_path / "redirected.mp4", "wb") as out:
                proc = subprocess.run([sys.executable, "-m", "vidcolor.cli", "dequantize", str(clip), "-o", name,
                                       "--format", "mp4", "--model", str(tiny_models.lab), "-q", *extra],
                                      cwd=tmp_path, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                      env=cli_env(), timeout=120)
            res = CliResult(proc.returncode, b"", proc.stderr.decode(errors="replace"))
            assert_one_line_error(res)
            assert f"{name} is a file descriptor of this process" in res.stderr and "use -o - " in res.stderr
            assert (tmp_path / "redirected.mp4").stat().st_size == 0
    assert os.readlink(tmp_path / "so.mp4") == "/proc/self/fd/1"
    assert sorted(os.listdir(tmp_path)) == ["redirected.mp4", "so.mp4"]


def test_a_symbolic_link_to_a_file_at_the_output_is_replaced_and_the_file_kept(tmp_path, clip, tiny_models):
    """With --overwrite a link to a regular file is replaced by the output (as any rename into place does); the
    file it pointed to is not written."""
    (tmp_path / "old.mp4").write_bytes(b"keep me")
    os.symlink("old.mp4", tmp_path / "out.mp4")
    res = run_cli("dequantize", clip, "-o", "out.mp4", "--model", tiny_models.lab, "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert "out.mp4 exists (use --overwrite to replace it)" in res.stderr
    res = run_cli("dequantize", clip, "-o", "out.mp4", "--model", tiny_models.lab, "-q", "--overwrite",
                  "--preset", "ultrafast", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "out.mp4").is_symlink() and (tmp_path / "out.mp4").stat().st_size > 1000
    assert (tmp_path / "old.mp4").read_bytes() == b"keep me"


# ------------------------------------------------------------------------------- D11: a broken link


def test_a_broken_symbolic_link_at_the_output_exists(tmp_path, clip, tiny_models):
    """A dangling link at the output name passed the check (the link was followed) and the run failed only at the
    end, saying another run had written the output: it is said before any work, and --overwrite replaces it."""
    os.symlink("/nonexistent/x.mp4", tmp_path / "out.mp4")
    res = run_cli("dequantize", clip, "-o", "out.mp4", "--model", tiny_models.lab, "-q", cwd=tmp_path)
    assert_one_line_error(res)
    assert "out.mp4 exists (a broken symbolic link; use --overwrite to replace it)" in res.stderr
    assert os.readlink(tmp_path / "out.mp4") == "/nonexistent/x.mp4"
    res = run_cli("dequantize", clip, "-o", "out.mp4", "--model", tiny_models.lab, "-q", "--overwrite",
                  "--preset", "ultrafast", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "out.mp4").is_symlink() and (tmp_path / "out.mp4").stat().st_size > 1000


# ------------------------------------------------------------------------------- D3: the run's other inputs


def test_the_output_never_overwrites_a_reference_or_a_loaded_model(tmp_path, clip, monkeypatch):
    """colorize -o REF --overwrite wrote over the colour reference (only the input was checked): each of the run's
    inputs is refused as the output (also by another name, and a folder's outputs each), before a model loads."""
    def no_model(*args, **kwargs):
        raise AssertionError("the output was not checked against the references")

    monkeypatch.setattr(api, "colorizer", no_model)
    for name in ("ref.png", "photo.png", "frames/a.png", "model.safetensors"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"precious")
    os.link(tmp_path / "ref.png", tmp_path / "ref-link.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"precious")
    cases = [(tmp_path / "photo.png", tmp_path / "ref.png", {"references": tmp_path / "ref.png"}, "references"),
             (tmp_path / "photo.png", tmp_path / "ref-link.png", {"references": [tmp_path / "ref.png"]}, "references"),
             (tmp_path / "frames", tmp_path / "out", {"references": [tmp_path / "out" / "a.png"]}, "references"),
             (clip, tmp_path / "model.safetensors", {"reference_mode": "internal", "container": "mp4",
                                                     "load_model": tmp_path / "model.safetensors"}, "load_model")]
    for src, out, options, option in cases:
        with pytest.raises(VidcolorError, match=f"would overwrite an input \\({option} "):
            api.colorize(src, out, overwrite=True, **options)
    assert (tmp_path / "ref.png").read_bytes() == (tmp_path / "out" / "a.png").read_bytes() == b"precious"
    with pytest.raises(AssertionError, match="not checked"):             # another name in the folder is fine
        api.colorize(tmp_path / "frames", tmp_path / "out", overwrite=True, references=[tmp_path / "ref.png"])


def test_the_output_never_overwrites_the_model(tmp_path, clip, monkeypatch):
    """``dequantize x.mp4 --model m.safetensors -o m.safetensors --format mp4 --overwrite`` wrote the video over the
    weight file (the model was not one of the inputs checked): refused as the other inputs are, for both jobs, by
    another name too, and for a folder's outputs each, before a model loads."""
    def no_model(*args, **kwargs):
        raise AssertionError("the output was not checked against the model")

    for name in ("m.safetensors", "frames/a.png", "out/a.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"precious")
    os.link(tmp_path / "m.safetensors", tmp_path / "m-link.mp4")
    for job in ("dequantize", "colorize"):
        res = run_cli(job, clip, "--model", tmp_path / "m.safetensors", "-o", tmp_path / "m.safetensors",
                      "--format", "mp4", "--overwrite", "-q")
        assert_one_line_error(res)
        assert "m.safetensors would overwrite an input (--model " in res.stderr
    monkeypatch.setattr(api, "Dequantizer", type("NoModel", (api.Dequantizer,), {"__init__": no_model}))
    monkeypatch.setattr(api, "colorizer", no_model)
    cases = [(clip, tmp_path / "m-link.mp4", tmp_path / "m.safetensors"),
             (tmp_path / "frames", tmp_path / "out", tmp_path / "out" / "a.png")]
    for job in (api.dequantize, api.colorize):
        for src, out, model in cases:
            with pytest.raises(VidcolorError, match=r"would overwrite an input \(model "):
                job(src, out, model=str(model), overwrite=True)
    assert (tmp_path / "m.safetensors").read_bytes() == (tmp_path / "out" / "a.png").read_bytes() == b"precious"
    from vidcolor.weights import WEIGHTS_DIR

    assert [p for _, p in model_input("dequantize-fq-l2")] == [WEIGHTS_DIR / "dequantize-fq-l2.safetensors"]
    assert model_input(None) == model_input(tmp_path / "none.safetensors") == []


# ------------------------------------------------------------------------------- D8: names near the limit


def test_names_near_the_file_systems_limit(tmp_path, clip, tiny_models):
    """A name longer than the file system takes was a traceback (input, or the default output of a long input
    name): one line. A legal output name of 238-255 bytes was refused, the temporary name beside it being 22 bytes
    longer: it is written, through a temporary name shortened to fit."""
    from vidcolor.io.partial import partial_file

    longest = os.pathconf(tmp_path, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    if longest != 255:
        pytest.skip(f"the names here are sized for 255 bytes, not {longest}")
    src = tmp_path / ("a" * 245 + ".mp4")
    shutil.copy(clip, src)
    for args in ([tmp_path / ("x" * 300 + ".mp4")], [src], [src, "-o", tmp_path / ("c" * 300 + ".mp4")]):
        res = run_cli("dequantize", *args, "--model", tiny_models.lab, "-q", cwd=tmp_path)
        assert_one_line_error(res)
        assert res.stderr.rstrip().endswith(": file name too long"), res.stderr
    out = tmp_path / ("b" * 251 + ".mp4")             # 255 bytes
    res = run_cli("dequantize", src, "-o", out, "--model", tiny_models.lab, "-q", "--preset", "ultrafast")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([src.name, out.name])
    tmp = partial_file(tmp_path / ("é" * 125 + ".png"), ".partial.png")    # 254 bytes, 2 a character
    assert len(os.fsencode(tmp.name)) <= 255 and tmp.name.startswith(".éé") and tmp.name.endswith(".partial.png")
    tmp.name.encode()                                  # whole characters kept


# ------------------------------------------------------------------------------- D10: hidden files


def test_a_folders_hidden_files_are_not_inputs(tmp_path, clip, tiny_models):
    """A Mac's ``._a.mp4`` (AppleDouble metadata, on every drive a Mac wrote) stopped a folder run as unreadable,
    and a killed run's ``.a.XXXXXXXX.partial.mp4`` was taken as a clip: hidden files are skipped."""
    from PIL import Image

    from vidcolor.io import list_images_in, list_videos_in

    fold = tmp_path / "fold"
    fold.mkdir()
    shutil.copy(clip, fold / "a.mp4")
    shutil.copy(clip, fold / ".a.k2j4x8qz.partial.mp4")
    (fold / "._a.mp4").write_bytes(os.urandom(4096))
    Image.new("RGB", (8, 8)).save(fold / "b.png")
    (fold / "._b.png").write_bytes(os.urandom(4096))
    assert [p.name for p in list_videos_in(fold)] == ["a.mp4"]
    assert [p.name for p in list_images_in(fold)] == ["b.png"]
    assert folders.folder_contents(fold) == ([fold / "b.png"], [fold / "a.mp4"])
    res = run_cli("dequantize", "fold", "-o", "out", "--model", tiny_models.lab, "-q", "--preset", "ultrafast",
                  cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["a.mp4", "b.png"]


def test_an_empty_output_name_is_refused_not_read_as_the_current_folder(tmp_path, clip, tiny_models):
    """``-o "$OUT"`` with ``OUT`` unset: a folder run wrote its outputs into the folder the command ran in, exit 0,
    and a clip's run said '. is a folder'. One line saying the name is empty; nothing written."""
    (tmp_path / "in").mkdir()
    shutil.copy(clip, tmp_path / "in" / "a.mp4")
    (tmp_path / "here").mkdir()
    for source in (tmp_path / "in", tmp_path / "in" / "a.mp4"):
        res = run_cli("dequantize", source, "-o", "", "--model", tiny_models.lab, "-q", cwd=tmp_path / "here")
        assert_one_line_error(res)
        assert res.stderr_lines == ["vidcolor: error: the output name is empty: give a path, or - for stdout"]
    assert os.listdir(tmp_path / "here") == [] and os.listdir(tmp_path / "in") == ["a.mp4"]
