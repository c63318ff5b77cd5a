"""What the library says of a bad argument or a job's bad output, as a user of ``vidcolor.api`` (and ``vidcolor eval``)
reads it (API audit, stop 70): the argument or the job named, one line, when called. Tiny models, generated arrays."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import vidcolor
from helpers import assert_one_line_error, invoke_cli
from vidcolor.errors import VidcolorError
from vidcolor.evaluate import evaluate
from vidcolor.io import write_image


@pytest.mark.parametrize("compare", [False, True], ids=["plain", "compare"])
def test_a_job_returning_frames_of_another_size_is_named_with_the_batch(clip, tmp_path, compare):
    """A job returning half-height frames was 'expected uint8 (..., 48, 64, 3), got uint8 (24, 64, 3)', the writer's
    words about one frame, not naming the job, where a wrong N or dtype names it and the batch; with compare it was
    numpy's 'all the input array dimensions except for the concatenation axis must match exactly'."""
    with pytest.raises(ValueError, match="^" + re.escape(
            "the job returned uint8 (10, 24, 64, 3) for a batch of 10 frames (expected uint8 (N, H, W, 3), N = 10, "
            "H = 48, W = 64)") + "$"):
        vidcolor.process(clip, tmp_path / "out.mp4", lambda f: f[:, ::2], suffix="", progress=False, batch_size=10,
                         compare=compare)
    assert list(tmp_path.iterdir()) == []


def test_a_job_returning_a_still_of_another_size_is_refused(tmp_path):
    """A still image's job returning half its height was written at that size without a word."""
    write_image(tmp_path / "in.png", np.zeros((16, 24, 3), np.uint8))
    with pytest.raises(ValueError, match=re.escape("the job returned uint8 (1, 8, 24, 3) for a batch of 1 frame "
                                                   "(expected uint8 (N, H, W, 3), N = 1, H = 16, W = 24)")):
        vidcolor.process(tmp_path / "in.png", tmp_path / "out.png", lambda f: f[:, ::2], suffix="", progress=False)
    assert not (tmp_path / "out.png").exists()


def test_compare_still_takes_a_job_of_the_same_size(clip, tmp_path):
    """compare's output is twice as wide as the input: the check of the job's size allows for it."""
    summary = vidcolor.process(clip, tmp_path / "out.mp4", lambda f: f.copy(), suffix="", progress=False,
                               compare=True)
    assert summary.frames == 10


@pytest.mark.parametrize("options, said", [
    (dict(saturation=-1), "saturation must be >= 0 (a finite number), got -1"),
    (dict(saturation=float("nan")), "saturation must be >= 0 (a finite number), got nan"),
    (dict(temperature=0), "temperature must be > 0 (a finite number), got 0"),
], ids=["saturation", "saturation_nan", "temperature"])
def test_a_bad_saturation_or_temperature_names_only_itself(tiny_colorizers, options, said):
    """saturation=-1 said 'saturation must be >= 0 and temperature > 0 (finite numbers), got -1 and None', naming
    the temperature left at its default too."""
    with pytest.raises(VidcolorError, match="^" + re.escape(said) + "$"):
        vidcolor.Colorizer(tiny_colorizers.effnet_bins, "cpu", **options)


def test_colorize_names_the_saturation_alone(clip, tmp_path):
    with pytest.raises(VidcolorError, match="^" + re.escape("saturation must be >= 0 (a finite number), got -1") + "$"):
        vidcolor.colorize(clip, tmp_path / "out.mp4", saturation=-1, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("frames, said", [
    (None, "got NoneType None"),
    (5, "got int 5"),
    ("clip.mp4", "got str 'clip.mp4': a file's path is given to dequantize() or colorize()"),
    (Path("clip.mp4"), "got PosixPath 'clip.mp4': a file's path is given to dequantize() or colorize()"),
], ids=["None", "int", "str", "path"])
def test_dequantize_frames_refuses_frames_that_are_no_frames_when_called(frames, said):
    """dequantize_frames(None) returned a generator, and raised "'NoneType' object is not iterable" once iterated; a
    path was iterated as its characters ('frame 0: expected uint8 RGB (H, W, 3) ... got str'). Refused when called,
    before the model loads (the model named here does not exist)."""
    with pytest.raises(TypeError, match="^" + re.escape("frames must be uint8 RGB (H, W, 3) frames (a list, an "
                                                        "iterator, an array (N, H, W, 3)), ") + ".*" +
                       re.escape(said) + "$"):
        vidcolor.dequantize_frames(frames, model="no-such-model", device="cpu")


def test_dequantize_frames_still_takes_an_iterator(tiny_models):
    frames = iter([np.zeros((8, 8, 3), np.uint8)] * 3)
    assert len(list(vidcolor.dequantize_frames(frames, model=str(tiny_models.lab), device="cpu"))) == 3


def test_eval_of_a_compare_output_says_so():
    """A --compare output (input | output side by side) scored against its ground truth was only '48x16 but the
    ground truth is 24x16: not the same video?'."""
    gt = np.random.default_rng(0).integers(0, 256, (2, 16, 24, 3), dtype=np.uint8)
    with pytest.raises(VidcolorError, match=re.escape("the output is 48x16 but the ground truth is 24x16: twice its "
                                                      "width: a compare output (input | output side by side)? "
                                                      "evaluate the output made without it")):
        evaluate(np.concatenate([gt, gt], axis=2), gt, features=False)
    with pytest.raises(VidcolorError, match=re.escape("the output is 24x32 but the ground truth is 24x16: not the "
                                                      "same video?")):      # compare never stacks them
        evaluate(np.concatenate([gt, gt], axis=1), gt, features=False)


def test_vidcolor_eval_of_a_compare_output_names_the_flag(clip, tmp_path):
    shutil.copy(clip, tmp_path / "gt.mp4")
    vidcolor.process(tmp_path / "gt.mp4", tmp_path / "cmp.mp4", lambda f: f.copy(), suffix="", progress=False,
                     compare=True)
    res = invoke_cli("eval", tmp_path / "cmp.mp4", "--reference-video", tmp_path / "gt.mp4", "--no-features")
    assert_one_line_error(res)
    assert res.stderr_lines == [
        "vidcolor: error: the output is 128x48 but the ground truth is 64x48: twice its width: a --compare output "
        "(input | output side by side)? evaluate the output made without it"]
