"""The command line's error paths as a new user meets them: an unexpected exception inside a job (one line, not
Python's traceback), colour input given to colorize (a warning), bad inputs and outputs on every subcommand."""
from __future__ import annotations

import contextlib
import os
import shutil

import pytest

from helpers import assert_one_line_error, invoke_cli, listing
from vidcolor.weights import REGISTRY

FAST = ("-q", "--preset", "ultrafast")


def _failing_mid_run(monkeypatch, error: BaseException) -> None:
    """Make a file's run raise ``error`` once two frames are written (the encoder has started, a partial file is
    there)."""
    import vidcolor.file_run

    real = vidcolor.file_run.run

    def run(reader, fn, write, batch, frames, output, progress):
        written = []

        def failing(frame):
            write(frame)
            written.append(1)
            if len(written) == 2:
                raise error

        return real(reader, fn, failing, 1, frames, output, progress)

    monkeypatch.setattr(vidcolor.file_run, "run", run)


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
    import vidcolor.file_run

    real, calls = vidcolor.file_run.run, []

    def run(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real(*args)

    monkeypatch.setattr(vidcolor.file_run, "run", run)
    res = invoke_cli("dequantize", "in", "-o", "out", "--model", tiny_models.lab, *FAST, cwd=tmp_path)
    assert_one_line_error(res)
    assert res.stderr_lines[0].startswith("vidcolor: error: internal error (RuntimeError: boom); "), res.stderr
    assert listing(tmp_path / "out") == {"a.mp4"}


# ------------------------------------------------------------------------------------- colour input to colorize

TONES = {"colour": "null", "gray": "format=gray",
         # a sepia print's tone: gray's levels scaled to (1, 0.85, 0.65), a brown that darkens with the gray
         "sepia": "format=gray,format=rgb24,colorchannelmixer=rr=1:gg=0.85:bb=0.65"}


def _toned_clip(ffmpeg_exe, path, tone: str):
    from helpers import run_ffmpeg

    run_ffmpeg(ffmpeg_exe, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-vf", TONES[tone], "-frames:v", "10",
               "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
    return path


COLOUR_LINE = "vidcolor: warning: {} is in colour already: colorize keeps only its lightness (L) and colours that " \
              "anew; its own colours are not kept"


def test_colorize_says_once_that_a_colour_clip_loses_its_colours(tmp_path, ffmpeg_exe, tiny_colorizers):
    """colorize on a colour clip kept its L alone and said nothing: one warning now, even under -q (warnings are
    said there). Gray and sepia clips: :func:`test_gray_and_sepia_clips_are_not_in_colour`."""
    _toned_clip(ffmpeg_exe, tmp_path / "in.mp4", "colour")
    res = invoke_cli("colorize", "in.mp4", "-o", "out.mp4", "--model", tiny_colorizers.fcn, *FAST, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stderr_lines == [COLOUR_LINE.format("in.mp4")], res.stderr
    assert (tmp_path / "out.mp4").is_file()


@pytest.mark.parametrize("tone", list(TONES))
def test_gray_and_sepia_clips_are_not_in_colour(tmp_path, ffmpeg_exe, tone):
    """The frames colorize looks at (its first COLOUR_FRAMES, as decoded): gray footage (yuv420p, its chroma noise)
    and a sepia-toned clip are not in colour, so colorize says nothing of them; the same clip in colour is."""
    import itertools

    import numpy as np

    from vidcolor.source_warnings import COLOUR_FRAMES
    from vidcolor.chroma import in_colour
    from vidcolor.io import VideoReader

    with VideoReader(_toned_clip(ffmpeg_exe, tmp_path / "in.mp4", tone)) as reader:
        frames = np.stack(list(itertools.islice(reader, COLOUR_FRAMES)))
    assert in_colour(frames) == (tone == "colour")


def test_a_folder_of_colour_images_and_clips_is_said_once(tmp_path, ffmpeg_exe, clip, tiny_colorizers):
    import numpy as np
    from PIL import Image

    from helpers import mosaic

    (tmp_path / "in").mkdir()
    for i, image in enumerate(mosaic(2, 24, 32)):
        Image.fromarray(image).save(tmp_path / "in" / f"a{i}.png")
    Image.fromarray(np.full((24, 32, 3), 128, np.uint8)).save(tmp_path / "in" / "gray.png")
    shutil.copy(clip, tmp_path / "in" / "c.mp4")
    res = invoke_cli("colorize", "in", "-o", "out", "--model", tiny_colorizers.fcn, *FAST, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stderr_lines == [COLOUR_LINE.format("a0.png")], res.stderr


def test_dequantize_does_not_warn_of_colour_input(tmp_path, clip, tiny_models):
    res = invoke_cli("dequantize", clip, "-o", tmp_path / "out.mp4", "--model", tiny_models.lab, *FAST)
    assert res.returncode == 0 and res.stderr_lines == [], res.stderr


def test_colour_spread_tells_colour_from_gray_noise_and_one_tint():
    import numpy as np

    from vidcolor.chroma import colour_spread, in_colour

    rng = np.random.default_rng(0)
    gray = np.repeat(rng.integers(0, 256, (2, 40, 60, 1)), 3, axis=-1)
    noisy = np.clip(gray + rng.normal(0, 1.5, gray.shape), 0, 255).astype(np.uint8)     # a codec's chroma noise
    sepia = (gray * np.array([1.0, 0.85, 0.65])).astype(np.uint8)
    colour = rng.integers(0, 256, (2, 40, 60, 3), dtype=np.uint8)
    assert max(colour_spread(gray.astype(np.uint8))) < 0.1       # OpenCV's float LAB of a gray
    assert [in_colour(f) for f in (noisy, sepia, colour, colour[0])] == [False, False, True, True]
    for bad in (colour.astype(np.float32), colour[..., :2], colour[:0]):
        with pytest.raises(ValueError, match="uint8 RGB"):
            colour_spread(bad)


@pytest.mark.parametrize("name,colour", [("bw/video/devc_v05.mp4", False), ("bw/video/devc_v39.mp4", False),
                                         ("video/davis_dog.mp4", True),
                                         ("video/davis_paragliding-launch.mp4", True)])
def test_real_gray_sepia_and_colour_clips_are_told_apart(shared_data, name, colour):
    """devc_v39 is sepia-toned film, devc_v05 gray film in yuv420p; davis_paragliding-launch has the least colour off
    its tint of the DAVIS clips said (3.1)."""
    import itertools

    import numpy as np

    from vidcolor.source_warnings import COLOUR_FRAMES
    from vidcolor.chroma import in_colour
    from vidcolor.io import VideoReader

    with VideoReader(shared_data / name) as reader:
        frames = np.stack(list(itertools.islice(reader, COLOUR_FRAMES)))
    assert in_colour(frames) == colour


def test_a_library_call_on_colour_input_says_nothing(tmp_path, tiny_colorizers):
    """An evaluation colorizes the L of colour footage on purpose: no VidcolorWarning (pytest makes one an error).
    A colour still, which the CLI names (test_a_folder_of_colour_images_and_clips_is_said_once)."""
    from PIL import Image

    import vidcolor
    from helpers import mosaic

    Image.fromarray(mosaic(1, 24, 32)[0]).save(tmp_path / "a.png")
    vidcolor.colorize(tmp_path / "a.png", tmp_path / "out.png", model=tiny_colorizers.fcn, progress=False)
    assert (tmp_path / "out.png").is_file()


# ------------------------------------------------------------------------------------- train and train pack


@pytest.fixture(scope="module")
def recipe_dir(tmp_path_factory):
    """A folder with r.toml, a tiny colorize recipe (crop 32) over 8 photos in data/, and a file, img.png."""
    from helpers import photo_folder

    d = tmp_path_factory.mktemp("recipe")
    photo_folder(d / "data", 8, 48, 56)
    (d / "r.toml").write_text('name = "tiny"\ndata = "data"\ncrop = 32\nholdout_every = 4\ngenerator = "fcn"\n'
                              'head = "ab"\ngenerator_kwargs = { width = 4, depth = 2 }\n')
    (d / "img.png").write_bytes((d / "data" / "p0.png").read_bytes())
    return d


@pytest.mark.parametrize("args,line", [
    (["img.png"], "vidcolor: error: img.png exists: give a new folder"),
    (["pk", "--max-mb", "0.0001"], "vidcolor: error: cannot pack r.toml: --max-mb 0.0001 does not hold even the 2 "
                                   "held-back photos"),
    (["pk", "--short-side", "16"], "vidcolor: error: cannot pack r.toml: --short-side (16 px) must be at least the "
                                   "recipe's crop (32 px)"),
    (["pk", "--data", "img.png"], "vidcolor: error: cannot pack r.toml with --data img.png: data: no training images "
                                  "under img.png (relative to the current folder, {cwd}): not a folder")])
def test_train_pack_refusals_name_what_was_refused_by_its_flag(recipe_dir, args, line):
    """Every refusal of train pack was 'bad recipe or pack: ...', an OUT that exists too, and named max_bytes
    (1000) and short_side, which the CLI's user never gave (--max-mb 0.001, --short-side)."""
    before = listing(recipe_dir)
    res = invoke_cli("train", "pack", "r.toml", *args, cwd=recipe_dir)
    assert_one_line_error(res)
    assert res.stderr_lines[0] == line.format(cwd=recipe_dir), res.stderr
    assert listing(recipe_dir) == before


def test_train_pack_into_a_place_that_cannot_be_written_is_one_line(recipe_dir):
    """OUT under a file (or in /proc, a read-only folder) was an OSError traceback once the images were encoded."""
    before = listing(recipe_dir)
    res = invoke_cli("train", "pack", "r.toml", "img.png/pk", cwd=recipe_dir)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr_lines == ["vidcolor: error: img.png/pk: cannot write there (img.png is a file, not a folder)"]
    assert listing(recipe_dir) == before


@pytest.mark.parametrize("out,line", [
    ("img.png", "img.png is a file, not a folder; the run's folder (--out) holds its checkpoint, weights and logs: "
                "give a folder"),
    ("dl2", "dl2 is a symbolic link to nothing, not a folder; the run's folder (--out) holds its checkpoint, weights "
            "and logs: give a folder"),
    ("img.png/run", "img.png/run: cannot write there (img.png is a file, not a folder)")])
def test_train_into_a_file_says_it_is_no_folder(recipe_dir, out, line):
    """--out naming a file said 'img.png: File exists', a folder under a file 'img.png/run: Not a directory', once
    torch and the training modules had loaded (5 s); --out a symbolic link to nothing said 'dl2: File exists'."""
    with _dangling(recipe_dir / "dl2"):
        before = listing(recipe_dir)
        res = invoke_cli("train", "colorize", "r.toml", "--out", out, "--steps", "1", "--device", "cpu",
                         cwd=recipe_dir)
        assert_one_line_error(res)
        assert res.stderr_lines[0] == f"vidcolor: error: {line}", res.stderr
        assert listing(recipe_dir) == before


@contextlib.contextmanager
def _dangling(link):
    """``link``, a symbolic link to nothing, while in the block."""
    os.symlink("missing", link)
    try:
        yield
    finally:
        os.unlink(link)


def test_train_pack_into_a_symbolic_link_to_nothing_is_refused_before_encoding(recipe_dir):
    """write_pack's out.exists() skipped a dangling link: every image was encoded, then the pack failed."""
    with _dangling(recipe_dir / "dl2"):
        before = listing(recipe_dir)
        res = invoke_cli("train", "pack", "r.toml", "dl2", cwd=recipe_dir)
        assert_one_line_error(res)
        assert res.stderr_lines[0] == "vidcolor: error: dl2 exists (a symbolic link to nothing): give a new folder"
        assert "encod" not in res.stderr and listing(recipe_dir) == before


# ------------------------------------------------------------------------------------------- empty names

MODEL_GIVE = f"give a bundled model's name ({', '.join(sorted(REGISTRY))}) or a .safetensors path"
GRAPH_GIVE = MODEL_GIVE + " or an .onnx graph written by vidcolor export"      # where the job runs one too
CLIP_GIVE = "give a video, an image or a folder of images"


@pytest.mark.parametrize("args,line", [
    (["dequantize", "clip.mp4", "--model", ""], "the model name is empty: " + GRAPH_GIVE),
    (["colorize", "clip.mp4", "--model", ""], "the model name is empty: " + GRAPH_GIVE),
    (["colorize", "clip.mp4", "--reference-mode", "internal", "--load-model", ""],
     "the --load-model name is empty: give a file's name, or leave it out"),
    (["colorize", "clip.mp4", "--reference", "clip.png", "--reference-mode", "internal", "--save-model", ""],
     "the --save-model name is empty: give a file's name, or leave it out"),
    (["export", "", "out.onnx"], "the model name is empty: " + MODEL_GIVE),
    (["export", "dequantize-fq-l2", ""], "the output name is empty: give an .onnx file's name"),
    (["eval", "", "--reference-video", "clip.mp4"], "the output name is empty: " + CLIP_GIVE),
    (["eval", "clip.mp4", "--reference-video", ""], "the --reference-video name is empty: " + CLIP_GIVE),
    (["eval", "clip.mp4", "--reference-video", "clip.mp4", "--input", ""], "the --input name is empty: " + CLIP_GIVE),
    (["train", "colorize", "r.toml", "--out", ""],
     "the --out name is empty: give a folder, or leave --out out for runs/<recipe's name>"),
    (["train", "colorize", "r.toml", "--data", ""],
     "the --data name is empty: give a folder of photos or a pack, or leave --data out for the recipe's"),
    (["train", "pack", "r.toml", ""], "the pack folder name is empty: give a new folder"),
    (["train", "pack", "r.toml", "pk", "--data", ""],
     "the --data name is empty: give a folder of photos or a pack, or leave --data out for the recipe's"),
    (["dequantize", "", "--model", "dequantize-fq-l2"], "the input name is empty: give a path, or - for stdin"),
    (["dequantize", "clip.mp4", "-o", ""], "the output name is empty: give a path, or - for stdout")])
def test_an_empty_name_is_one_error_line(tmp_path, clip, args, line):
    """An unset variable ("$MODEL") gave an empty name: --model '' ran the default model, train's --out '' and
    --data '' their defaults, eval '' read the current folder as a folder of images, --load-model '' was said to be
    missing, export MODEL '' said ': the output of export is an .onnx file'. Every one is now refused by the library
    function that takes the name (vidcolor.names.check_named; train's --out and --data by the command,
    whose training loop takes it), one line and exit 1, as INPUT '' and -o '' were (the --model, export and eval cases
    had been click's usage errors, exit 2)."""
    shutil.copy(clip, tmp_path / "clip.mp4")
    (tmp_path / "r.toml").write_text('name = "tiny"\ndata = "data"\ncrop = 32\n')
    before = listing(tmp_path)
    res = invoke_cli(*args, cwd=tmp_path)
    assert_one_line_error(res)
    assert res.stderr_lines[0] == f"vidcolor: error: {line}", res.stderr
    assert listing(tmp_path) == before


@pytest.mark.parametrize("args,what", [(["-", "--reference-video", "clip.mp4"], "output"),
                                       (["clip.mp4", "--reference-video", "-"], "--reference-video"),
                                       (["clip.mp4", "--reference-video", "clip.mp4", "--input", "-"], "--input")])
def test_eval_says_it_does_not_read_stdin(tmp_path, clip, args, what):
    """eval - said '-: no such file or folder', as if a file named - were missing; then 'the ground truth is -', not
    naming the flag given."""
    shutil.copy(clip, tmp_path / "clip.mp4")
    res = invoke_cli("eval", *args, "--no-features", cwd=tmp_path)
    assert_one_line_error(res)
    assert res.stderr_lines[0] == f"vidcolor: error: {what} is -: evaluation reads files, not stdin; save the " \
                                  "stream to a file and give its name"


def test_the_library_refuses_an_empty_name_and_stdin_where_it_takes_a_file(tmp_path, clip):
    """evaluate('', 'a.png') scored the current folder (a.png against itself), evaluate('-', ...) said '-: no such
    file or folder', Dequantizer(model='') / resolve('') "model '' is a folder, not a model": the CLI alone refused
    them."""
    from vidcolor.errors import VidcolorError
    from vidcolor.evaluate import evaluate
    from vidcolor.pipeline import Dequantizer
    from vidcolor.weights import resolve

    cases = [(lambda: evaluate("", clip, features=False), "the output name is empty: " + CLIP_GIVE),
             (lambda: evaluate(clip, clip, input="", features=False), "the input name is empty: " + CLIP_GIVE),
             (lambda: evaluate(clip, "", features=False), "the reference name is empty: " + CLIP_GIVE),
             (lambda: evaluate(clip, "-", features=False), "reference is -: evaluation reads files, not "
                                                           "stdin; save the stream to a file and give its name"),
             (lambda: resolve(""), "the model name is empty: " + MODEL_GIVE),
             (lambda: Dequantizer(model=""), "the model name is empty: " + GRAPH_GIVE)]
    for call, line in cases:
        with pytest.raises(VidcolorError) as caught:
            call()
        assert str(caught.value) == line


def test_an_output_through_a_symbolic_link_loop_is_one_line(tmp_path, clip):
    """-o loop/o.png (loop a link to itself): api.same_file's Path.resolve() raised RuntimeError, said 'internal
    error (RuntimeError: Symlink loop ...)'."""
    import os

    from vidcolor.io.paths import same_file
    from vidcolor.errors import VidcolorError

    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(VidcolorError) as caught:
        same_file(tmp_path / "loop" / "o.png", clip)
    assert str(caught.value) == f"{tmp_path}/loop/o.png: cannot be followed (a symbolic link loop on its way)"


@pytest.mark.parametrize("mode,given", [("fast", "save_model"), ("keyframes", "load_model"),
                                        ("internal", "load_model"), ("internal", "save_model")])
def test_the_public_colorizer_refuses_an_empty_model_file_name(tmp_path, mode, given):
    """The empty-name check was api.colorize's alone: colorizer() (public) took fast mode's save_model='' and
    keyframes' load_model='' as not given, said internal load_model='' was "'': no such file" and took internal
    save_model='', to fail after the training."""
    import numpy as np
    from PIL import Image

    from vidcolor.api import colorizer
    from vidcolor.errors import VidcolorError

    ref = tmp_path / "r.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(ref)
    with pytest.raises(VidcolorError) as caught:
        colorizer(reference_mode=mode, references=[ref] if given == "save_model" and mode == "internal" else None,
                  device="cpu", progress=False, **{given: ""})
    assert str(caught.value) == f"the {given} name is empty: give a file's name, or leave it out"


@pytest.mark.parametrize("command", ["dequantize", "colorize"])
def test_an_empty_model_name_is_refused_with_skip_existing_and_the_output_there(tmp_path, clip, command):
    """--model '' --skip-existing exited 0 ('nothing to do: o.mp4 exists'): api.model_input took resolve's refusal
    for 'no file named' and the nothing-to-do return came first; it had been refused before."""
    shutil.copy(clip, tmp_path / "clip.mp4")
    shutil.copy(clip, tmp_path / "o.mp4")
    res = invoke_cli(command, "clip.mp4", "-o", "o.mp4", "--model", "", "--skip-existing", cwd=tmp_path)
    assert_one_line_error(res)
    assert res.stderr_lines[0] == "vidcolor: error: the model name is empty: " + GRAPH_GIVE
