"""The public Python API (``vidcolor.api``'s names) as a user in a notebook or a script calls it: the frames and values
they pass, and what comes back. Tiny untrained models and generated arrays only."""
from __future__ import annotations

import gc
import re
import warnings

import numpy as np
import pytest

import vidcolor
from vidcolor.errors import VidcolorError

FRAME = (np.random.default_rng(0).integers(0, 16, (24, 32, 3)) * 17).astype(np.uint8)
"""A coarse uint8 RGB frame (H, W, 3)."""


@pytest.mark.parametrize("frames, said", [
    ([FRAME, FRAME[..., 0]], "frame 1: expected uint8 RGB (H, W, 3), no side empty, got uint8 (24, 32)"),
    ([FRAME.astype(np.float32) / 255], "frame 0: expected uint8 RGB (H, W, 3), no side empty, got float32 (24, 32, 3)"),
    ([np.dstack([FRAME, FRAME[..., :1]])], "frame 0: expected uint8 RGB (H, W, 3), no side empty, got uint8 (24, 32, 4)"),
    (np.stack([FRAME, FRAME])[None], "got an array uint8 (1, 2, 24, 32, 3)"),
    (FRAME, "got an array uint8 (24, 32, 3) (one frame: give [frame])"),
], ids=["gray", "float", "rgba", "5d", "one_frame"])
def test_dequantize_frames_names_the_frame_that_is_not_rgb(tiny_models, frames, said):
    """A gray, float or RGBA frame among dequantize_frames' frames was described as the stacked batch ("expected uint8
    RGB (N, H, W, 3) ... got uint8 (2, 24, 32)"), and one frame given as the frames was iterated as its rows."""
    with pytest.raises(ValueError, match=re.escape(said)):
        list(vidcolor.dequantize_frames(frames, model=str(tiny_models.lab), device="cpu", batch_size=2))


def test_a_failed_run_leaves_no_pipe_to_the_garbage_collector(clip, tmp_path):
    """A run whose job raised left ffmpeg's stdin pipe open: 'ResourceWarning: unclosed file <_io.BufferedWriter
    name=7>' when it was collected (an error under ``-W error``, pytest's unraisable-exception warning)."""
    def job(frames):
        raise RuntimeError("the job's own error")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(RuntimeError, match="^the job's own error$"):
            vidcolor.process(clip, tmp_path / "out.mp4", job, suffix="", progress=False)
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make, said", [
    (lambda m: vidcolor.Dequantizer(m.lab, "cpu", tile="512"), "tile must be 0 (off) or at least 96 pixels, got '512'"),
    (lambda m: vidcolor.Dequantizer(m.lab, "cpu", consistency="no"), "consistency must be True or False, got str 'no'"),
    (lambda m: vidcolor.Dequantizer(m.lab, "cpu", restore_luminance="no"),
     "restore_luminance must be True or False, or None, got str 'no'"),
    (lambda m: vidcolor.Dequantizer(m.lab, "cpu").set_temporal("flow", "0.5"),
     "temporal: strength must be a number in [0, 1), got str '0.5'"),
], ids=["tile", "consistency", "restore_luminance", "temporal_strength"])
def test_a_dequantizer_option_of_another_type_is_named(tiny_models, make, said):
    """A value of another type (a str from a config file) raised TypeError: '<' not supported between instances of
    'str' and 'int', naming no option, or was taken as true: consistency='no' left consistency on."""
    with pytest.raises(VidcolorError, match=re.escape(said)):
        make(tiny_models)


@pytest.mark.parametrize("options, said", [
    (dict(render_size="256"), "render_size must be 32 to 1024 pixels, got '256'"),
    (dict(saturation="1.2"), "saturation must be >= 0 (a finite number), got '1.2'"),
    (dict(temperature="0.4"), "temperature must be > 0 (a finite number), got '0.4'"),
    (dict(blur="no"), "blur must be True or False, got str 'no'"),
    (dict(equalize=None), "equalize must be True or False, got NoneType None"),
], ids=["render_size", "saturation", "temperature", "blur", "equalize"])
def test_a_colorizer_option_of_another_type_is_named(tiny_colorizers, options, said):
    with pytest.raises(VidcolorError, match=re.escape(said)):
        vidcolor.Colorizer(tiny_colorizers.effnet_bins, "cpu", **options)


def test_internal_mode_refuses_iterations_that_are_no_integer():
    """internal_iters='100' raised a bare TypeError; 100.5 was taken, then failed in the training's range()."""
    for iters, size in (("100", 256), (100.5, 256), (100, "256")):
        with pytest.raises(VidcolorError, match="internal_iters must be an integer >= 1 and internal_size one >= 32"):
            vidcolor.colorizer(references="ref.jpg", reference_mode="internal", internal_iters=iters,
                               internal_size=size)


class _ChromaRefused:
    """A job whose ``set_output_chroma`` raises (as the class ``Dequantizer`` given for an instance did: 'missing 1
    required positional argument')."""

    def set_output_chroma(self, kept):
        raise RuntimeError("refused")

    def __call__(self, frames):
        return frames


def test_a_job_that_fails_before_its_first_frame_leaves_no_partial_file(clip, tmp_path):
    """The job was told the output's chroma after ffmpeg had started and before the writer was guarded: an error there
    left the hidden partial file (.out.xxxxxxxx.partial.mp4) and ffmpeg running."""
    with pytest.raises(RuntimeError, match="refused"):
        vidcolor.process(clip, tmp_path / "out.mp4", _ChromaRefused(), suffix="", progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call, said", [
    (lambda tmp: vidcolor.dequantize(None), "input must be a path (str or pathlib.Path) or '-', got NoneType"),
    (lambda tmp: vidcolor.colorize([tmp / "a.mp4"]), "input must be a path (str or pathlib.Path) or '-', got list"),
    (lambda tmp: vidcolor.dequantize(0), "input must be a path (str or pathlib.Path) or '-', got int 0"),
    (lambda tmp: vidcolor.process(b"a.mp4", None, lambda f: f, suffix=""), "got bytes b'a.mp4'"),
    (lambda tmp: vidcolor.dequantize(tmp, 3), "output must be a path (str or pathlib.Path), None or '-', got int 3"),
], ids=["None", "list", "int", "bytes", "output_int"])
def test_an_input_that_is_no_path_is_named(tmp_path, call, said):
    """os.stat said 'stat: path should be string, bytes, os.PathLike or integer, not list', naming no parameter, and
    took 0 for stdin's file descriptor."""
    with pytest.raises(TypeError, match=re.escape(said)):
        call(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag", ["overwrite", "audio", "skip_existing", "compare", "progress", "ignore_errors"])
def test_an_on_off_option_that_is_not_a_bool_is_refused_before_anything_is_written(clip, tmp_path, flag):
    """overwrite='no' is true: it replaced the existing output; audio='no' kept the audio."""
    out = tmp_path / "out.mp4"
    out.write_bytes(b"mine")
    with pytest.raises(VidcolorError, match=re.escape(f"{flag} must be True or False, got str 'no'")):
        vidcolor.process(clip, out, lambda f: f, suffix="", **{flag: "no"})
    assert out.read_bytes() == b"mine" and list(tmp_path.iterdir()) == [out]


@pytest.mark.parametrize("fn, said", [
    (vidcolor.Dequantizer, "got the class Dequantizer: make one, Dequantizer()"),
    ("dequantize", "got str 'dequantize'"),
    (None, "got NoneType None"),
], ids=["class", "str", "None"])
def test_process_names_a_job_that_is_no_job(clip, tmp_path, fn, said):
    """The class Dequantizer given for an instance failed with 'set_output_chroma() missing 1 required positional
    argument: kept'; a str or None with "'str' object is not callable" from a pipeline thread, once ffmpeg ran."""
    with pytest.raises(TypeError, match=re.escape("fn must be a job, a callable from uint8 RGB (N, H, W, 3) frames "
                                                  "to the same") + ".*" + re.escape(said)):
        vidcolor.process(clip, tmp_path / "out.mp4", fn, suffix="", progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("job, said", [
    (lambda f: f / 255.0, "the job returned float64 (10, 48, 64, 3) for a batch of 10 frames (expected uint8 (N, H, W, 3)"),
    (lambda f: np.repeat(f, 4, axis=-1)[..., :4], "the job returned uint8 (10, 48, 64, 4)"),
], ids=["float", "rgba"])
def test_process_says_the_job_returned_frames_of_another_kind(clip, tmp_path, job, said):
    """A job returning float frames in [0, 1] was 'expected uint8 (..., 48, 64, 3), got float64 (48, 64, 3)', the
    writer's words about one frame, naming neither the job nor the batch."""
    with pytest.raises(ValueError, match=re.escape(said)):
        vidcolor.process(clip, tmp_path / "out.mp4", job, suffix="", progress=False, batch_size=10)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("frames, hint", [
    (FRAME, "; one frame (H, W, 3)? give frame[None]"),
    (np.stack([FRAME[..., 0]] * 2), "; gray frames (N, H, W)? give them as RGB: np.repeat(frames[..., None], 3, axis=-1)"),
    (np.stack([FRAME[..., :1]] * 2), "; gray frames? give them as RGB: np.repeat(frames, 3, axis=-1)"),
    (np.stack([np.dstack([FRAME, FRAME[..., :1]])] * 2), "; RGBA? give frames[..., :3] (the alpha is not used)"),
    (np.stack([FRAME.transpose(2, 0, 1)] * 2), "; channels first? give frames.transpose(0, 2, 3, 1)"),
    (np.stack([FRAME / 255.0] * 2), "; floats in [0, 1]? give (frames * 255).round().astype(np.uint8)"),
    (np.stack([FRAME.astype(np.uint16) * 257] * 2), "; 16 bits? give (frames / 257).round().astype(np.uint8)"),
    ([FRAME, FRAME], "; a list of frames (H, W, 3)? give np.stack(frames)"),
], ids=["one_frame", "gray", "gray_1", "rgba", "channels_first", "float", "uint16", "list"])
def test_a_job_says_how_to_give_frames_of_a_common_kind(tiny_models, frames, hint):
    """A gray, RGBA, float or channels-first array, or one frame, was refused naming what it was but not how to give
    it: each a NumPy one-liner a notebook user would otherwise look up."""
    with pytest.raises(ValueError, match=re.escape(hint) + "$"):
        vidcolor.Dequantizer(tiny_models.lab, "cpu")(frames)


def test_dequantize_frames_says_how_to_give_a_gray_frame(tiny_models):
    with pytest.raises(ValueError, match=re.escape("frame 0: expected uint8 RGB (H, W, 3), no side empty, got uint8 "
                                                   "(24, 32); gray frame (H, W)? give it as RGB: np.repeat(frame[..., "
                                                   "None], 3, axis=-1)")):
        list(vidcolor.dequantize_frames([FRAME[..., 0]], model=str(tiny_models.lab), device="cpu"))


@pytest.mark.parametrize("raw_size", ["64x48", (64, 48, 3), (64.0, 48.0), (True, 48)], ids=["str", "three", "floats", "bool"])
def test_a_raw_size_that_is_no_pair_of_integers_is_named(tmp_path, raw_size):
    """'64x48' (the CLI's spelling) and (64, 48, 3) raised 'too many values to unpack (expected 2)', (64.0, 48.0) a
    TypeError from the file's read, which left the file open for the garbage collector."""
    raw = tmp_path / "in.rgb"
    raw.write_bytes(bytes(64 * 48 * 3 * 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(VidcolorError, match=re.escape(f"raw_size must be (width, height), two integers, got "
                                                          f"{raw_size!r}")):
            vidcolor.process(raw, tmp_path / "out.mp4", lambda f: f, suffix="", raw_size=raw_size, fps=10,
                             progress=False)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.rgb"]


def test_a_raw_file_without_a_whole_frame_is_closed(tmp_path):
    """The reader opened a raw file and raised 'no frames' without closing it."""
    from vidcolor.io import VideoReader

    raw = tmp_path / "in.rgb"
    raw.write_bytes(b"")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(VidcolorError, match="no frames"):
            VideoReader(raw, raw_size=(4, 4), fps=10)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_one_job_given_to_two_process_calls_starts_each_clip_afresh(clip, tmp_path, tiny_colorizers):
    """A job given to process() again carried its last clip into the next: the smoother's previous frame (the second
    run of one clip came out up to 27 levels off the first on 8 DAVIS frames), a Dequantizer's quantizer and
    found. A folder's clips were reset one by one; a file given on its own was not."""
    from helpers import decode_all

    job = vidcolor.Colorizer(tiny_colorizers.fcn, "cpu", render_size=32, backend="torch")
    job.set_temporal("ema", 0.9)
    for name in ("first.mkv", "again.mkv"):
        vidcolor.process(clip, tmp_path / name, job, suffix="", codec="ffv1", progress=False)
    first, again = decode_all(str(tmp_path / "first.mkv"))[0], decode_all(str(tmp_path / "again.mkv"))[0]
    assert np.array_equal(first, again)


@pytest.mark.parametrize("options", [dict(segment_seconds=3), dict(workers=2)], ids=["segment_seconds", "workers"])
@pytest.mark.parametrize("call", [vidcolor.dequantize, vidcolor.colorize], ids=["dequantize", "colorize"])
def test_the_ray_executors_options_are_refused_with_the_local_one(clip, tmp_path, call, options):
    """The CLI refuses --segment-seconds and --workers without --executor ray; the library ignored them silently."""
    with pytest.raises(VidcolorError, match=re.escape("segment_seconds and workers apply to executor='ray'")):
        call(clip, tmp_path / "out.mp4", model="no-such-model", **options)
    assert list(tmp_path.iterdir()) == []


def test_a_job_says_how_to_give_a_torch_tensor_or_a_pil_image(tiny_models):
    """A torch tensor or a PIL image was refused as 'got Tensor' / 'got Image', with no word of how to give it."""
    import torch
    from PIL import Image

    job = vidcolor.Dequantizer(tiny_models.lab, "cpu")
    with pytest.raises(ValueError, match=re.escape("got Tensor; a torch tensor? give frames.cpu().numpy() (uint8, "
                                                   "channels last)")):
        job(torch.from_numpy(np.stack([FRAME])))
    with pytest.raises(ValueError, match=re.escape("got Image; a PIL image? give np.asarray(image.convert('RGB'))[None]")):
        job(Image.fromarray(FRAME))


@pytest.mark.parametrize("frames, said", [
    (FRAME, "got uint8 (24, 32, 3); one frame (H, W, 3)? give frame[None]"),
    ([FRAME], "got list; a list of frames (H, W, 3)? give np.stack(frames)"),
], ids=["one_frame", "list"])
def test_predict_lab_refuses_frames_as_a_call_does(tiny_models, tiny_colorizers, frames, said):
    """predict_lab, public on both jobs, described the job's own arrays (the cut detector's thumbnail: 'got uint8
    (683, 64)' for one 24x32 frame) or raised AttributeError: 'list' object has no attribute 'shape'."""
    for job in (vidcolor.Dequantizer(tiny_models.lab, "cpu"), vidcolor.Colorizer(tiny_colorizers.fcn, "cpu", backend="torch")):
        with pytest.raises(ValueError, match=re.escape(f"expected uint8 RGB (N, H, W, 3), no side empty, {said}")):
            job.predict_lab(frames)


@pytest.mark.parametrize("references, said", [
    ([FRAME], "got uint8 (24, 32, 3); image arrays uint8 RGB (H, W, 3) go to vidcolor.reference.ReferenceColorizer"),
    (FRAME, "got uint8 (24, 32, 3); image arrays"),
    (5, "got int"),
    (["a.jpg", None], "got NoneType"),
], ids=["list_of_arrays", "array", "int", "None_in_list"])
def test_references_that_are_no_paths_are_named(clip, tmp_path, references, said):
    """An image array given as a reference (natural in a notebook) raised os's 'expected str, bytes or os.PathLike
    object, not ndarray', naming no parameter; 5 "'int' object is not iterable"."""
    with pytest.raises(TypeError, match=re.escape("references must be image files (a path, str or pathlib.Path, or "
                                                  "a list of them), " + said)):
        vidcolor.colorizer(references=references)
    with pytest.raises(TypeError, match=re.escape(said)):
        vidcolor.colorize(clip, tmp_path / "out.mp4", references=references)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make", [lambda: vidcolor.Dequantizer(model=None), lambda: vidcolor.Colorizer(model=None),
                                  lambda: vidcolor.dequantize_frames([], model=5)], ids=["Dequantizer", "Colorizer", "frames"])
def test_a_model_that_is_no_name_or_path_is_named(make):
    """Dequantizer(model=None) (colorize's model=None picks the default; the classes' do not) raised os's 'expected
    str, bytes or os.PathLike object, not NoneType', naming no parameter."""
    with pytest.raises(TypeError, match=r"^model must be a bundled model's name or a weight file's path \(str or "
                                        r"pathlib\.Path\), got (NoneType None|int 5)$"):
        make()


def test_a_model_path_not_found_is_named_as_given(tmp_path):
    """A pathlib.Path was named by its repr: "model PosixPath('/tmp/.../x.safetensors') not found"."""
    with pytest.raises(VidcolorError, match=re.escape(f"model '{tmp_path / 'x.safetensors'}' not found")):
        vidcolor.Dequantizer(model=tmp_path / "x.safetensors")


@pytest.mark.parametrize("call", [vidcolor.dequantize, vidcolor.colorize], ids=["dequantize", "colorize"])
def test_an_unknown_keyword_is_refused_before_any_work(clip, tmp_path, call):
    """crff=18 was process()'s TypeError ('process() got an unexpected keyword argument') once the model had loaded,
    after the internal reference mode's training (minutes); the Ray executor ignored it."""
    with pytest.raises(TypeError, match=re.escape(f"{call.__name__}() got an unexpected keyword argument 'crff'; "
                                                  "did you mean 'crf'?")):
        call(clip, tmp_path / "out.mp4", model="no-such-model", crff=18)
    with pytest.raises(TypeError, match=re.escape("unexpected keyword argument 'shiny' (its file options: codec, crf")):
        call(clip, tmp_path / "out.mp4", model="no-such-model", shiny=True)
    assert list(tmp_path.iterdir()) == []


def test_a_still_image_after_a_clip_through_one_job_is_not_smoothed_with_it(clip, clip_frames, tmp_path, tiny_colorizers):
    """process() reset a job before a clip (above) but not before a still image: an image of the clip's size given
    after the clip was smoothed with the clip's last frame."""
    from PIL import Image

    image = tmp_path / "still.png"
    Image.fromarray(clip_frames[0]).save(image)
    job = vidcolor.Colorizer(tiny_colorizers.fcn, "cpu", render_size=32, backend="torch")
    job.set_temporal("ema", 0.9)
    alone = vidcolor.process(image, tmp_path / "alone.png", job, suffix="", progress=False)
    vidcolor.process(clip, tmp_path / "clip.mkv", job, suffix="", codec="ffv1", progress=False)
    vidcolor.process(image, tmp_path / "after.png", job, suffix="", progress=False)
    assert alone.frames == 1
    assert np.array_equal(np.asarray(Image.open(tmp_path / "alone.png")), np.asarray(Image.open(tmp_path / "after.png")))


@pytest.mark.parametrize("options, said", [
    (dict(workers=0), "workers must be an integer of at least 1, got 0"),
    (dict(workers=2.5), "workers must be an integer of at least 1, got 2.5"),
    (dict(segment_seconds="1"), "segment_seconds must be a finite number > 0, got '1'"),
], ids=["workers_0", "workers_float", "segment_seconds_str"])
def test_the_ray_executors_options_are_checked_first(clip, tmp_path, options, said):
    """workers=0 was taken as the default (one per CPU or GPU), 2.5 went to Ray, segment_seconds='1' raised "'>' not
    supported between instances of 'str' and 'int'"; the CLI's --workers and --segment-seconds refuse them."""
    with pytest.raises(VidcolorError, match=re.escape(said)):
        vidcolor.dequantize(clip, tmp_path / "out.mp4", executor="ray", model="no-such-model", **options)
    assert list(tmp_path.iterdir()) == []


def test_a_path_like_object_of_another_library_is_taken(clip, tmp_path):
    """An os.PathLike that is no pathlib.Path (pytest's tmpdir, py.path.local) was taken by the reader for a file
    object: "open() argument 'mode' must be str, not int"."""
    class Where:
        def __init__(self, path):
            self.path = str(path)

        def __fspath__(self):
            return self.path

    summary = vidcolor.process(Where(clip), Where(tmp_path / "out.mkv"), lambda f: f, suffix="", progress=False)
    assert summary.frames == 10 and summary.output == str(tmp_path / "out.mkv")


@pytest.mark.parametrize("preset", [None, 5, "-x"], ids=["None", "int", "flag"])
def test_a_preset_that_is_no_name_leaves_no_stray_file(clip, tmp_path, monkeypatch, preset):
    """preset=None was written by ffmpeg-python as '-preset' alone: ffmpeg took '-sws_flags' for the preset and the
    flags' value for an output, an empty file named area+accurate_rnd+full_chroma_int in the current folder."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(VidcolorError, match=re.escape(f"preset must be the encoder's preset name (medium, slow, p5...), "
                                                      f"got {preset!r}")):
        vidcolor.process(clip, tmp_path / "out.mp4", lambda f: f, suffix="", preset=preset, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("options, said", [
    (dict(codec="h265"), "unknown codec 'h265'"),
    (dict(pix_fmt="rgb24"), "unknown pixel format 'rgb24'"),
    (dict(tune="cartoon"), "unknown tune 'cartoon'"),
    (dict(x264_params=5), "x264_params must be x264's options as a str (key=value:key=value), got 5"),
], ids=["codec", "pix_fmt", "tune", "x264_params"])
def test_the_encoders_options_are_checked_before_a_model_loads(clip, tmp_path, options, said):
    """They were checked when the writer started, after the model had loaded (with reference_mode='internal', after
    its training: minutes); x264_params=5 was a TypeError from subprocess."""
    with pytest.raises(VidcolorError, match=re.escape(said)):
        vidcolor.dequantize(clip, tmp_path / "out.mp4", model="no-such-model", **options)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call", [vidcolor.dequantize, vidcolor.colorize], ids=["dequantize", "colorize"])
def test_the_smoothing_is_checked_before_a_model_loads(clip, tmp_path, call):
    """temporal='flo' and temporal_strength=1.5 were checked once the job was built, after the model had loaded."""
    with pytest.raises(VidcolorError, match=re.escape("temporal: unknown temporal mode 'flo'")):
        call(clip, tmp_path / "out.mp4", model="no-such-model", temporal="flo")
    with pytest.raises(VidcolorError, match=re.escape("temporal: strength must be in [0, 1), got 1.5")):
        call(clip, tmp_path / "out.mp4", model="no-such-model", temporal_strength=1.5)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_list_of_frames_is_not_told_to_be_stacked(tiny_models):
    """[] was told '; a list of frames (H, W, 3)? give np.stack(frames)', and np.stack([]) raises."""
    with pytest.raises(ValueError, match=re.escape("got list (empty: no frames to process)") + "$"):
        vidcolor.Dequantizer(tiny_models.lab, "cpu")([])


def test_an_empty_input_name_is_said_so(tmp_path):
    """process('') said ': no such file or folder' (the output's empty name was already said so)."""
    with pytest.raises(VidcolorError, match=r"^the input name is empty: give a path, or - for stdin$"):
        vidcolor.process("", tmp_path / "out.mp4", lambda f: f, suffix="")


def test_a_folders_stills_are_not_smoothed_by_a_job_set_to_smooth(tmp_path, tiny_colorizers):
    """A job whose caller set its smoothing (set_temporal) and gave it to process() with a folder smoothed each still
    with the one before (up to 10 levels on three similar photos), where a folder's stills are each on their own."""
    from PIL import Image

    from helpers import gradient_image

    (tmp_path / "in").mkdir()
    for i in range(3):
        Image.fromarray(np.clip(gradient_image().astype(int) + 3 * i, 0, 255).astype(np.uint8)).save(
            tmp_path / "in" / f"p{i}.png")

    def job():
        made = vidcolor.Colorizer(tiny_colorizers.fcn, "cpu", render_size=32, backend="torch")
        made.set_temporal("ema", 0.9)
        return made

    folder_job = job()
    vidcolor.process(tmp_path / "in", tmp_path / "out", folder_job, suffix="", progress=False)
    for i in range(3):
        vidcolor.process(tmp_path / "in" / f"p{i}.png", tmp_path / f"alone{i}.png", job(), suffix="", progress=False)
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / f"p{i}.png")),
                              np.asarray(Image.open(tmp_path / f"alone{i}.png"))), i
    assert folder_job.smoother is not None and folder_job.smoother.mode == "ema"    # its clips would be smoothed


def test_a_folder_run_gives_a_job_its_own_smoother_back(tmp_path):
    """A folder run wrote the smoothing of a job its caller had set (set_temporal) on the job as requested_temporal and
    made a new smoother from it: the job's own smoother (its flow_scale, scene_cut) was replaced by a default one, and
    a later job.set_temporal("off") was undone by the next folder run."""
    from PIL import Image

    from vidcolor.pipeline import LabJob
    from vidcolor.temporal import TemporalSmoother

    class Job:                                          # a job of the caller's own, with LabJob's smoothing
        smoother = None
        set_temporal = LabJob.set_temporal

        def __call__(self, frames):
            seen.append(self.smoother)
            return frames

    (tmp_path / "in").mkdir()
    for i in range(2):
        Image.fromarray(np.full((8, 8, 3), 100 + i, np.uint8)).save(tmp_path / "in" / f"p{i}.png")
    job, seen = Job(), []
    own = job.smoother = TemporalSmoother("flow", 0.3, scene_cut=5.0, flow_scale=0.25)
    vidcolor.process(tmp_path / "in", tmp_path / "out1", job, suffix="", progress=False)
    assert seen == [None, None]                         # stills: each on its own
    assert job.smoother is own and not hasattr(job, "requested_temporal")
    job.set_temporal("off")
    vidcolor.process(tmp_path / "in", tmp_path / "out2", job, suffix="", progress=False)
    assert job.smoother is None and not hasattr(job, "requested_temporal")


def test_dequantize_frames_takes_pil_images_and_tensors_as_frames(tiny_models):
    """dequantize_frames refused frames that convert to arrays, a PIL RGB image (ImageSequence's frames) or a CPU uint8
    torch tensor (H, W, 3), which np.stack had made a valid batch before each frame was checked."""
    import torch
    from PIL import Image

    def run(frames):
        return list(vidcolor.dequantize_frames(frames, model=str(tiny_models.lab), device="cpu", batch_size=2))

    other = FRAME[::-1].copy()
    expected = run([FRAME, other, FRAME])
    given = run([Image.fromarray(FRAME), torch.from_numpy(other), FRAME])
    assert all(np.array_equal(a, b) for a, b in zip(given, expected)) and len(given) == 3
    with pytest.raises(ValueError, match=re.escape("frame 0: expected uint8 RGB (H, W, 3), no side empty, got uint8 "
                                                   "(24, 32); gray frame (H, W)? give it as RGB")):
        run([Image.fromarray(FRAME).convert("L")])


def test_references_may_be_an_array_of_paths(tmp_path):
    """references=np.array(["a.jpg", "b.jpg"]) (its elements np.str_) was refused as a TypeError that spoke of image
    arrays; an image array is still refused so."""
    from vidcolor.colorize_job import reference_list

    for given in (np.array(["a.jpg", "b.jpg"]), np.array(["a.jpg", "b.jpg"], dtype=object)):
        taken = reference_list(given)
        assert taken == ["a.jpg", "b.jpg"] and all(type(r) is str for r in taken)
    with pytest.raises(VidcolorError, match=re.escape(f"{tmp_path / 'a.jpg'}: no such file (references)")):
        vidcolor.colorizer(references=np.array([str(tmp_path / "a.jpg")]))
    with pytest.raises(TypeError, match=re.escape("got uint8 (2, 24, 32, 3); image arrays uint8 RGB (H, W, 3) go to")):
        reference_list(np.stack([FRAME, FRAME]))


def test_raw_size_may_be_an_integer_array(tmp_path):
    """raw_size=np.array([64, 48]) had worked and was refused ('must be (width, height), two integers'); other arrays
    still are."""
    from vidcolor.io.reader import check_raw_size

    raw = tmp_path / "in.rgb"
    raw.write_bytes(np.stack([FRAME, FRAME]).tobytes())
    done = vidcolor.process(raw, tmp_path / "out.mp4", lambda frames: frames, suffix="", raw_size=np.array([32, 24]),
                            fps=25, progress=False)
    assert done.frames == 2
    assert check_raw_size(np.array([32, 24], np.uint16)) == (32, 24)
    for given in (np.array([32.0, 24.0]), np.array([32, 24, 3]), np.array([[32, 24]]), np.array([True, True])):
        with pytest.raises(VidcolorError, match=re.escape(f"raw_size must be (width, height), two integers, got {given!r}")):
            check_raw_size(given)


def test_temporal_is_checked_without_a_job():
    """dequantize() and colorize() checked temporal by building a throw-away LabJob() (its set_temporal), and
    set_temporal_for_video checked it again on the real job: check_temporal is the one check, with set_temporal's
    messages."""
    from vidcolor.pipeline import LabJob, check_temporal

    for mode, strength, said in (("flo", 0.6, "temporal: unknown temporal mode 'flo'"),
                                 ("ema", 1.0, "temporal: strength must be in [0, 1), got 1.0"),
                                 ("flow", "0.5", "temporal: strength must be a number in [0, 1), got str '0.5'")):
        with pytest.raises(VidcolorError, match=re.escape(said)):
            check_temporal(mode, strength)
        with pytest.raises(VidcolorError, match=re.escape(said)):
            LabJob().set_temporal(mode, strength)
    check_temporal("off", 0.6)
    check_temporal("flow", 0.3)


def test_a_folders_clips_reset_the_job_once_each(clip, tmp_path):
    """_process_folder reset the job before each clip, and process() (process_file) reset it again: twice a clip."""
    import shutil

    class Job:
        resets = 0

        def reset(self):
            self.resets += 1

        def __call__(self, frames):
            return frames

    (tmp_path / "in").mkdir()
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(clip, tmp_path / "in" / name)
    job = Job()
    vidcolor.process(tmp_path / "in", tmp_path / "out", job, suffix="", progress=False, audio=False)
    assert job.resets == 2 and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4", "b.mp4"]


def test_a_call_checks_its_paths_once(tmp_path, monkeypatch):
    """check_path ran about three times a path per call: at the entry of dequantize(), in check_run_first (through
    check_input, and the output's), and again at process()'s entry and its check_run_first."""
    from PIL import Image

    import vidcolor.api
    import vidcolor.io.paths

    calls = []
    check_path = vidcolor.io.paths.check_path

    def counted(path, name, none=False):
        calls.append(name)
        return check_path(path, name, none)

    for module in (vidcolor.api, vidcolor.io.paths):        # the entry points' own check, and check_input's
        monkeypatch.setattr(module, "check_path", counted)
    Image.fromarray(FRAME).save(tmp_path / "a.png")
    vidcolor.process(tmp_path / "a.png", tmp_path / "b.png", lambda frames: frames, suffix="", progress=False)
    assert calls == ["input", "output"]
    calls.clear()
    done = vidcolor.dequantize(tmp_path / "a.png", tmp_path / "b.png", skip_existing=True, progress=False)
    assert done.skipped == 1 and calls == ["input", "output"]
    calls.clear()
    with pytest.raises(VidcolorError, match="no such file or folder"):
        vidcolor.io.paths.check_input(tmp_path / "c.png")
    assert calls == ["input"]


def test_side_by_side_called_directly_runs_in_the_job_s_chunks(tiny_models):
    """SideBySide(job)(frames) (compare's wrapper, called directly) ran all N frames as one network batch while the
    job's own direct call runs chunks of job.batch_size: it now runs the job's call, the bytes unchanged."""
    from vidcolor.side_by_side import SideBySide
    from vidcolor.pipeline import Dequantizer

    frames = (np.random.default_rng(1).integers(0, 16, (10, 24, 32, 3)) * 17).astype(np.uint8)
    job, whole = (Dequantizer(str(tiny_models.lab), device="cpu", consistency=False, backend="torch") for _ in range(2))
    job.batch_size, seen, infer = 4, [], job.infer

    def counted(batch):
        seen.append(len(batch.feeds["frame"]))
        return infer(batch)

    job.infer = counted
    out = SideBySide(job)(frames)
    assert seen == [4, 4, 2]
    assert out.dtype == np.uint8 and out.shape == (10, 24, 64, 3)
    assert np.array_equal(out, np.concatenate([frames, whole.finish(whole.infer(whole.prepare(frames)))], axis=2))
