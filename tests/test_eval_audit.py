"""Audit of vidcolor eval and export: what a user met, each pinned by a test (tiny generated fixtures)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import mosaic
from vidcolor.evaluate import evaluate, format_table
from vidcolor.io import write_image


def _images(folder, frames, names):
    folder.mkdir()
    for name, f in zip(names, frames):
        write_image(folder / f"{name}.png", f)
    return folder


def test_folders_of_equal_counts_but_other_names_say_what_was_compared(tmp_path):
    """gt/ holds a, b, c and out/ a, b, d: 2 images were compared, but the table's header said only '2 frame(s)'
    (its note on the pairing came only when the folders' counts differed), so the two unpaired images went
    unmentioned."""
    frames = mosaic(3, 8, 8, seed=1)
    gt = _images(tmp_path / "gt", frames, "abc")
    out = _images(tmp_path / "out", frames, "abd")
    r = evaluate(out, gt, features=False)
    assert r["frames"] == 2 and r["paired_by_name"]
    head = format_table(r).splitlines()[0]
    assert "output 3, ground truth 3" in head and "the 2 images of the same name compared" in head


def test_export_says_the_frame_sides_its_graph_takes(tiny_models, tmp_path):
    """`vidcolor export` said its graph took 'any batch and frame size'; in ONNX Runtime code of one's own, a frame
    whose sides are not multiples of the stride failed inside the graph (a Concat of mismatched sides). The
    command's line says the multiple, and the graph's metadata holds it (vidcolor_stride)."""
    import onnxruntime as ort

    from helpers import invoke_cli
    from vidcolor.cue import CUE_DIM
    from vidcolor.engine import stride_multiple
    from vidcolor.weights import read_arch

    out = tmp_path / "m.onnx"
    res = invoke_cli("export", str(tiny_models.lab), str(out))
    m = stride_multiple(read_arch(str(tiny_models.lab)))
    assert res.returncode == 0 and f"multiples of {m}" in res.stderr and "warning" not in res.stderr
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["vidcolor_stride"] == str(m)
    y = session.run(None, {"frame": np.zeros((2, 3, 3 * m, 5 * m), np.float32),
                           "level_cue": np.zeros((2, CUE_DIM), np.float32)})[0]
    assert y.shape == (2, 3, 3 * m, 5 * m)


def test_exporting_the_exemplar_colorizer_warns_that_its_graph_cannot_be_given_as_model(tiny_colorizers, tmp_path,
                                                                                       monkeypatch):
    """`vidcolor export colorize-exemplar ex.onnx` succeeded silently, its help saying OUTPUT can be given as --model;
    then `colorize --model ex.onnx` refused it either way (an exemplar model needs --reference; the reference mode
    needs the weight file). The export says so, in one warning line. (The graph itself is not built here: the
    export above checks a real one.)"""
    import vidcolor.engine
    from helpers import invoke_cli

    monkeypatch.setattr(vidcolor.engine, "export_onnx", lambda module, arch, path, overwrite: Path(path).write_bytes(b""))

    out = tmp_path / "ex.onnx"
    res = invoke_cli("export", str(tiny_colorizers.exemplar), str(out))
    assert res.returncode == 0 and out.exists()
    warnings = [line for line in res.stderr_lines if line.startswith("vidcolor: warning:")]
    assert len(warnings) == 1 and "reference encoder" in warnings[0] and str(tiny_colorizers.exemplar) in warnings[0]


def test_exporting_an_onnx_graph_says_it_is_one_already(tmp_path):
    """`vidcolor export g.onnx h.onnx` (a graph given as MODEL) said 'g.onnx: not a vidcolor generator weight file
    (SafetensorError)'."""
    from helpers import assert_one_line_error, invoke_cli

    (tmp_path / "g.onnx").write_bytes(b"a graph")
    res = invoke_cli("export", str(tmp_path / "g.onnx"), str(tmp_path / "h.onnx"))
    assert_one_line_error(res)
    assert "an ONNX graph already" in res.stderr and not (tmp_path / "h.onnx").exists()


def test_a_nan_accuracy_threshold_is_refused_as_pixel_accuracy_refuses_it():
    """evaluate(threshold=nan) scored identical frames 0% pixel accuracy (no error within NaN levels), where
    vidcolor.metrics.pixel_accuracy refuses NaN."""
    frames = mosaic(1, 8, 8)
    with pytest.raises(ValueError, match="threshold"):
        evaluate(frames, frames, features=False, threshold=float("nan"))


def test_folders_paired_by_name_beside_a_video_must_hold_the_same_names(tmp_path):
    """`vidcolor eval out.mp4 --reference-video gt/ --input in/` with in/ missing one of gt/'s images: the folders
    were paired by name (the image left out) and the video by position, so every frame of the output after it was
    scored against the next image (an output equal to gt/ scored 24 dB, not inf). Refused, naming the image."""
    from vidcolor.errors import VidcolorError

    frames = mosaic(4, 8, 8, seed=2)
    gt = _images(tmp_path / "gt", frames, "1234")
    inp = _images(tmp_path / "in", frames[[0, 1, 3]], "124")
    with pytest.raises(VidcolorError, match=r"no namesake .*3\.png.*read frame by frame"):
        evaluate(frames, gt, input=inp, features=False)
    # the same names everywhere, or folders only: compared as before
    assert evaluate(frames[[0, 1, 3]], _images(tmp_path / "gt3", frames[[0, 1, 3]], "124"), input=inp,
                    features=False)["output"]["psnr"] == float("inf")
    assert evaluate(_images(tmp_path / "out", frames, "1234"), gt, input=inp, features=False)["frames"] == 3


def test_a_folder_longer_than_the_others_beside_a_video_is_not_refused(tmp_path):
    """The refusal above also refused a ground-truth folder that only runs longer (1..4 against 1..3): its extra
    image comes after the last compared one, so the video's frames still go with their images."""
    frames = mosaic(4, 8, 8, seed=2)
    gt = _images(tmp_path / "gt", frames, "1234")
    inp = _images(tmp_path / "in", frames[:3], "123")
    r = evaluate(frames, gt, input=inp, features=False)
    assert r["frames"] == 3 and r["output"]["psnr"] == float("inf") and r["input"]["psnr"] == float("inf")


def test_an_empty_folder_is_named_as_the_one_without_images(tmp_path):
    """`eval out/ --reference-video gt/ --input empty/` said 'gt: no images in folder': the folders' names in
    common (none) were taken from gt/, which holds images. The empty folder is the one named."""
    from vidcolor.errors import VidcolorError

    frames = mosaic(2, 8, 8)
    gt = _images(tmp_path / "gt", frames, "ab")
    (tmp_path / "empty").mkdir()
    for output in (frames, _images(tmp_path / "out", frames, "ab")):
        with pytest.raises(VidcolorError, match=r"empty: no images in folder"):
            evaluate(output, gt, input=tmp_path / "empty", features=False)


def test_a_missing_frame_at_the_same_rate_is_not_called_a_frame_rate_difference():
    """A damaged 24 fps output whose 5th frame did not decode was warned about as 'frame rates differ (the output
    24 fps, the ground truth 24 fps)'. Said as frames not at the ground truth's times, a frame missing or repeated;
    different rates keep their warning."""
    from types import SimpleNamespace

    from vidcolor.evaluate import timing_warnings

    def clip(times, fps=24):
        return SimpleNamespace(fps=fps, start=0.0, file_start=0.0, times=times)

    ref = clip([i / 24 for i in range(10)])
    gap = clip([i / 24 for i in range(10) if i != 4], fps=24)
    (warning,) = timing_warnings({"reference": ref, "output": gap}, 9)
    assert "rates differ" not in warning and "frame missing or repeated" in warning and "frame 5 " in warning
    (warning,) = timing_warnings({"reference": ref, "output": clip([i / 30 for i in range(10)], fps=30)}, 10)
    assert warning.startswith("frame rates differ (the output 30 fps, the ground truth 24 fps)")
