"""`colorize --reference` as a user meets it: odd reference images, the keyframe mode, error paths (reference audit)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from helpers import invoke_cli, smooth_image, vidcolor_warnings
from vidcolor.errors import VidcolorError
from vidcolor.reference import InternalColorizer, ReferenceColorizer, read_references


def _job(refs, tiny_colorizers) -> ReferenceColorizer:
    """The tests' tiny exemplar network at a 32 px render, on torch (no ONNX export)."""
    return ReferenceColorizer(refs, str(tiny_colorizers.exemplar), device="cpu", render_size=32, backend="torch")


@pytest.mark.filterwarnings("error::RuntimeWarning")      # numpy's 'Mean of empty slice' of its chroma too
def test_a_reference_whose_opaque_part_fills_no_cell_is_refused(tmp_path, tiny_colorizers):
    """A large RGBA reference with a 6x6 opaque speck passed the 'transparent everywhere' test, then gave no
    position at the matching size: a ZeroDivisionError's traceback (largest_batch) after the output was opened."""
    rgba = np.zeros((400, 640, 4), np.uint8)
    rgba[..., :3] = smooth_image(np.random.default_rng(2), 400, 640)
    rgba[200:206, 300:306, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "speck.png", compress_level=1)
    refs = read_references([tmp_path / "speck.png"], render_size=32)
    opaque = smooth_image(np.random.default_rng(3), 48, 64)
    job = _job([opaque], tiny_colorizers)       # one job: building one encodes its references (encode_references)
    with pytest.raises(VidcolorError, match="opaque part is too small to give colour"):
        job.encode_references(refs)
    # beside a reference that gives positions it simply offers none
    assert job.encode_references(refs + [opaque])[0].shape == job.features[0].shape


def test_internal_mode_warns_that_a_references_transparent_part_counts(tmp_path):
    """Internal mode drops a reference's alpha: the black under a logo's transparent background went into its
    palette and reconstruction, unsaid (the fast mode leaves transparent parts out, as README says)."""
    rgb = smooth_image(np.random.default_rng(5), 48, 64)
    alpha = np.full((48, 64), 255, np.uint8)
    with vidcolor_warnings() as said:
        InternalColorizer([np.dstack([rgb, alpha])], device="cpu", progress=False)
        InternalColorizer([rgb], device="cpu", progress=False)
    assert said == []
    alpha[:, :16] = 0
    with vidcolor_warnings() as said:
        InternalColorizer([np.dstack([rgb, alpha])], device="cpu", progress=False)
    (line,) = said
    assert "learns from the whole reference, 25% of which is transparent" in line


def test_the_same_reference_twice_is_used_once(tmp_path):
    """`--reference a.png --reference ./a.png` (or a copy) doubled the positions to match: the same colour at twice
    the matching's cost and half the automatic batch, unsaid."""
    rgb = smooth_image(np.random.default_rng(6), 64, 96)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb).save(tmp_path / "copy.png")
    Image.fromarray(rgb[::-1].copy()).save(tmp_path / "other.png")
    paths = [tmp_path / "a.png", tmp_path / "other.png", tmp_path / "." / "a.png", tmp_path / "copy.png"]
    with vidcolor_warnings() as said:
        refs = read_references(paths, render_size=32)
    assert len(refs) == 2
    np.testing.assert_array_equal(refs[0][::-1], refs[1])
    assert [s.split(": ")[-1] for s in said] == ["it is used once"] * 2
    assert f"{paths[3]} is the same image as {paths[0]}" in said[1]
    with vidcolor_warnings() as said:       # the internal mode refuses two references, the same one too
        assert len(read_references(paths, longer_side=32)) == 4
    assert said == []


def test_reference_before_the_input_says_where_the_video_went(tmp_path):
    """`vidcolor colorize --reference film.mp4` (keyframes meant, options first) gave the film to --reference as its
    image and said only "Missing argument 'INPUT'"."""
    (tmp_path / "film.mp4").write_bytes(b"")
    (tmp_path / "ref.jpg").write_bytes(b"")
    res = invoke_cli("colorize", "--reference", "film.mp4", cwd=tmp_path)
    assert res.returncode == 2 and len(res.stderr_lines) == 1, res.stderr
    assert ("Missing argument 'INPUT': --reference took film.mp4 as its colour image; for keyframes give the input "
            "first: colorize film.mp4 --reference") in res.stderr
    res = invoke_cli("colorize", "--reference", "ref.jpg", cwd=tmp_path)       # an image: the input is simply missing
    assert res.returncode == 2 and "Missing argument 'INPUT'. (see" in res.stderr, res.stderr


def test_a_reference_from_stdin_is_refused_as_such(tmp_path):
    """`--reference -` said '-: no such file (--reference)', as if it looked for a file named '-'."""
    with pytest.raises(VidcolorError, match="a reference is read from a file, not from stdin"):
        read_references(["-"])
    Image.fromarray(smooth_image(np.random.default_rng(7), 48, 64)).save(tmp_path / "in.png")
    res = invoke_cli("colorize", "in.png", "--reference", "-", cwd=tmp_path)
    assert res.returncode == 1 and len(res.stderr_lines) == 1, res.stderr
    assert "--reference -: a reference is read from a file, not from stdin" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_compare_keeps_the_reference_modes_cap_on_the_automatic_batch(tiny_colorizers, monkeypatch):
    """--compare wraps the job (input | output), and the wrapper had no largest_batch: the automatic batch was the
    frames' alone, so 30 references with --compare went back to the 8.9 GB peak the cap was made for."""
    from vidcolor.side_by_side import SideBySide
    from vidcolor.pipeline import auto_batch_size, job_batch_size

    job = _job([smooth_image(np.random.default_rng(8), 64, 96)], tiny_colorizers)
    monkeypatch.setattr(ReferenceColorizer, "MATCH_BYTES", 1)
    assert job_batch_size(job, 64, 48) == 1 < auto_batch_size(64, 48, "cpu")
    assert job_batch_size(SideBySide(job), 64, 48) == 1


@pytest.mark.filterwarnings("ignore:the reference:vidcolor.errors.VidcolorWarning")      # small references
def test_no_colour_hidden_under_a_transparent_part_reaches_the_values(tmp_path, tiny_colorizers):
    """A mostly opaque 8x8 cell beside a transparent part averaged every pixel's ab, the hidden ones too, and the
    reduction mixed hidden colour into the edge pixels: a magenta fill and a black one gave values up to 45 LAB units
    apart where the edge falls inside a cell (the old test's edge fell on one). Now alpha weighs both."""
    rgb = smooth_image(np.random.default_rng(4), 48, 64)
    job = _job([rgb], tiny_colorizers)          # one job, encoding each reference as building one does
    for cut in (27, 29):
        alpha = np.full((48, 64), 255, np.uint8)
        alpha[:, :cut] = 0
        values = []
        for name, hidden in (("magenta.png", (255, 0, 255)), ("black.png", (0, 0, 0))):
            Image.fromarray(np.dstack([np.where(alpha[..., None] == 0, np.uint8(hidden), rgb), alpha])).save(
                tmp_path / name)
            values.append(job.encode_references(read_references([tmp_path / name], render_size=32))[1])
        assert values[0].shape == (1, 16, 2)
        np.testing.assert_allclose(values[0], values[1], atol=1e-3)
    # fully opaque, the alpha changes nothing: the network's own cell means
    Image.fromarray(np.dstack([rgb, np.full((48, 64), 255, np.uint8)])).save(tmp_path / "opaque_rgba.png")
    Image.fromarray(rgb).save(tmp_path / "opaque.png")
    (k4, v4), (k3, v3) = (job.encode_references(read_references([tmp_path / n], render_size=32))
                          for n in ("opaque_rgba.png", "opaque.png"))
    np.testing.assert_array_equal(k4, k3)
    np.testing.assert_allclose(v4, v3, atol=1e-3)


@pytest.mark.filterwarnings("ignore:the reference:vidcolor.errors.VidcolorWarning")      # a small reference
def test_a_semi_transparent_references_colour_keeps_its_precision_at_low_alpha(tmp_path):
    """The alpha-weighted reduction rounded ``c * a / 255`` to uint8 before dividing by the alpha again: about 2
    levels off at alpha 64, more towards 0. Premultiplied in float, the reduced colour is the alpha-weighted mean
    of its pixels' to half a level (its rounding)."""
    rng = np.random.default_rng(9)
    rgb = rng.integers(0, 256, (64, 96, 3), np.uint8)
    alpha = rng.integers(1, 65, (64, 96), np.uint8)
    alpha[:4, :4] = 255                                   # (one reduced pixel opaque: not transparent everywhere)
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "faint.png")
    (got,) = read_references([tmp_path / "faint.png"], render_size=16)      # 4 x 4 pixels a pixel
    assert got.shape == (16, 24, 4)
    a = alpha.astype(np.float64).reshape(16, 4, 24, 4)
    truth = (rgb * alpha[..., None].astype(np.float64)).reshape(16, 4, 24, 4, 3).sum((1, 3)) / a.sum((1, 3))[..., None]
    assert np.abs(got[..., :3] - truth).max() <= 0.5 + 1e-3
