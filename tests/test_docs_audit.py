"""Documentation audit (README and ``--help`` against what the commands do): each test here failed before its fix."""
from __future__ import annotations

import pytest

from helpers import assert_one_line_error, invoke_cli, listing


def _help_text(*command: str) -> str:
    res = invoke_cli(*command, "--help")
    assert res.returncode == 0, res.stderr
    return " ".join(res.stdout.decode().split())


@pytest.mark.parametrize("job", ["dequantize", "colorize"])
def test_every_job_option_has_help_and_a_named_value(job):
    """``--device`` had no help line at all, ``--no-audio`` spoke of one audio stream where every track is copied,
    ``--quiet`` did not say that warnings still show, and ``-o``, ``--model`` and ``--preset`` showed click's bare
    ``TEXT``: each now has its help and names its value as README does (``--model NAME|PATH``)."""
    text = _help_text(job)
    for shown in ("-o, --output PATH", "--model NAME|PATH", "--preset NAME",
                  "--device [auto|cpu|cuda|cuda:N] Where the network runs (auto: CUDA where torch can use a GPU, else "
                  "the CPU; cuda: torch's current GPU; cuda:N: GPU N, from 0, not with --executor ray",
                  "Drop the audio tracks", "warnings and errors are still said"):
        assert shown in text, shown
    assert " TEXT " not in text


@pytest.mark.parametrize("command", [("train", "dequantize"), ("train", "pack")])
def test_training_folders_are_named_folders(command):
    """``vidcolor train ... --out TEXT --data TEXT``: both take a folder, and say so."""
    text = _help_text(*command)
    assert "--data FOLDER" in text and " TEXT " not in text
    if command[1] != "pack":
        assert "--out FOLDER" in text


def test_help_gives_the_exit_statuses_and_the_graph_cache():
    """README gives the exit statuses (1 an error, 2 a usage error, 128 + the signal) and where the ONNX graphs are
    cached (VIDCOLOR_CACHE): ``vidcolor --help`` said neither, nor did any command's."""
    text = _help_text()
    assert "Exit status: 0 done; 1 an error" in text and "2 a usage error" in text
    assert "128 + N stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)" in text
    for job in ("dequantize", "colorize"):
        assert "cached in onnx/ under $VIDCOLOR_CACHE, else $XDG_CACHE_HOME/vidcolor, else ~/.cache/vidcolor" in _help_text(job)


@pytest.mark.parametrize("job", ["dequantize", "colorize"])
def test_an_x264_tune_with_libx265_is_refused_before_any_work(tmp_path, clip, job):
    """``--codec libx265 --tune film`` (the help lists film and stillimage as 'x264/x265 tune') loaded the model and
    processed the first frames, then failed with ffmpeg's 'Error setting preset/tune medium/film': refused up front,
    naming the tunes x265 takes."""
    res = invoke_cli(job, str(clip), "-o", str(tmp_path / "out.mp4"), "--codec", "libx265", "--tune", "film")
    assert_one_line_error(res)
    assert "--tune film is x264's; libx265 takes grain, animation, psnr, ssim, fastdecode, zerolatency" in res.stderr
    assert listing(tmp_path) == set()


def test_the_writer_refuses_an_x264_tune_with_libx265(tmp_path):
    from vidcolor.errors import VidcolorError
    from vidcolor.io import VideoWriter

    with pytest.raises(VidcolorError, match="tune stillimage is x264's; libx265 takes"):
        VideoWriter(tmp_path / "out.mp4", 64, 48, 10, codec="libx265", tune="stillimage")
    assert listing(tmp_path) == set()


def test_an_unknown_preset_is_refused_before_any_work(tmp_path, clip):
    """``--preset bogus`` (help: 'x264/x265 preset.', no names) loaded the model and processed the first frames, then
    ended with ffmpeg's "x264 [error]: invalid preset 'bogus'": refused up front, naming x264's presets."""
    res = invoke_cli("dequantize", str(clip), "-o", str(tmp_path / "out.mp4"), "--preset", "bogus")
    assert_one_line_error(res)
    assert ("--preset 'bogus' is not one of libx264's: ultrafast, superfast, veryfast, faster, fast, medium, slow, "
            "slower, veryslow, placebo") in res.stderr
    assert listing(tmp_path) == set()
    assert "ultrafast to placebo" in _help_text("colorize")


def test_the_writer_refuses_an_unknown_preset(tmp_path):
    from vidcolor.errors import VidcolorError
    from vidcolor.io import VideoWriter

    with pytest.raises(VidcolorError, match="preset 'Fast' is not one of libx265's"):
        VideoWriter(tmp_path / "out.mp4", 64, 48, 10, codec="libx265", preset="Fast")
    assert listing(tmp_path) == set()


@pytest.mark.parametrize("codec, preset", [("libx264", "SLOW"), ("libx264", "Medium"), ("libx264", "6"),
                                           ("libx264", "0"), ("libx265", "9"), ("libx265", "slow"),
                                           ("ffv1", None), ("prores", None)])
def test_the_presets_the_encoders_take_are_taken(codec, preset):
    """check_preset refused presets the encoders take: x264 matches its names in any case and takes 0-9 (``-preset
    SLOW``, ``Medium``, ``6`` encode with ffmpeg), x265 takes 0-9; and ``preset=None`` with FFV1 or ProRes, which
    are given no preset."""
    from vidcolor.io.writer import check_preset

    check_preset(codec, preset)


@pytest.mark.parametrize("codec, preset", [("libx264", "10"), ("libx265", "Fast"), ("libx265", "10"),
                                           ("libx264", "\u00b2"), ("libx264", None), ("hevc_nvenc", "-p5")])
def test_the_presets_the_encoders_refuse_are_refused(codec, preset):
    """x264 and x265 refuse 10 and up, x265 names in another case; the superscript two is a digit to Python's
    ``isdigit`` but not to ``int``."""
    from vidcolor.errors import VidcolorError
    from vidcolor.io.writer import check_preset

    with pytest.raises(VidcolorError, match="preset"):
        check_preset(codec, preset)


@pytest.mark.parametrize("module", ["vidcolor", "vidcolor.api", "vidcolor.evaluate", "vidcolor.color"])
def test_the_docstring_examples_run_as_doctests(module):
    """vidcolor.api's module example ran ``fix(coarse_frames)`` after skipping the line that makes ``fix``: under
    doctest a NameError. The examples that need files or frames are skipped; the others run."""
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), report=False)
    assert result.failed == 0


def test_export_help_says_the_output_is_named_onnx():
    """``vidcolor export dequantize-fq-l2 g.bin`` is refused ('the output of export is an .onnx file'), which the help
    did not say ('to an ONNX graph OUTPUT')."""
    assert "to an ONNX graph OUTPUT, a file named .onnx" in _help_text("export")


@pytest.mark.parametrize("job", ["dequantize", "colorize"])
def test_the_options_overview_lists_every_choice_the_help_lists(job):
    """README's "Options:" overview writes a choice option as ``--opt a|b|c``; ``--codec libx264|libx265`` there left
    out four of the six encoders ``--help`` lists (NVENC, FFV1, ProRes). Each such list in the overview now names
    every choice of the command's ``--help``, in its order (a metavar such as ``--model NAME|PATH`` as ``--help``
    shows it)."""
    import re

    from helpers import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    overview = readme[readme.index("\n- Options:"):]
    overview = overview[:overview.index("\n- ", 1)]
    lists = {}          # each option's first list, where it is introduced (a later `--format mp4|mov` is a subset)
    for opt, given in re.findall(r"`(--[\w-]+) ([^`\s|]+(?:\|[^`\s|]+)+)`", overview):
        lists.setdefault(opt, given)
    assert len(lists) >= 4, lists
    text = _help_text(job)
    for opt, given in lists.items():
        shown = re.search(rf"{re.escape(opt)} \[([^\]]+)\]", text)     # a choice: --codec [libx264|...]
        if shown is None:                                               # a metavar: --model NAME|PATH
            assert f"{opt} {given} " in text, opt
        else:
            assert given == shown.group(1), (opt, given, shown.group(1))


def test_eval_help_says_two_folders_are_paired_by_name(tmp_path):
    """``vidcolor eval --help`` said 'When frame counts differ, the first frames in common are compared. Frames are
    paired by position', but two folders are compared image by image by name (README): an output folder of 1, 2, 3
    against a ground truth of 1, 2, 5 scores 2 images (1 and 2), not the first 3."""
    import numpy as np
    from PIL import Image

    for folder, names in (("out", (1, 2, 3)), ("gt", (1, 2, 5))):
        (tmp_path / folder).mkdir()
        for n in names:
            Image.fromarray(np.full((8, 8, 3), 40 * n, np.uint8)).save(tmp_path / folder / f"{n}.png")
    res = invoke_cli("eval", str(tmp_path / "out"), "--reference-video", str(tmp_path / "gt"), "--no-features")
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().startswith("2 frame(s)")
    assert "between two folders, the images of the same name" in _help_text("eval")
