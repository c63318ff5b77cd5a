"""Colorize audit, stop 70: a render size above the frame is warned about, clearer reference warnings, keyframe counts
in the summary."""
from __future__ import annotations

import numpy as np
import pytest

from vidcolor.pipeline import Colorizer

from helpers import smooth_image


def test_a_render_size_above_the_frame_and_the_default_is_warned_about_once(tiny_colorizers):
    """--render-size 1024 on a 360p clip upsized every frame for the network, 22 times as slow, unsaid."""
    from helpers import vidcolor_warnings

    frames = np.stack([smooth_image(np.random.default_rng(i), 24, 32) for i in range(2)])
    with vidcolor_warnings() as said:
        job = Colorizer(str(tiny_colorizers.fcn), device="cpu", render_size=300)
        job(frames)
        job(frames)
    assert said == ["render_size 300 is larger than the frame's shorter side (24 px): the network sees it upsized, "
                    "which is slower and gives no more detail"]
    with vidcolor_warnings() as said:         # the default and below upsize a small frame unsaid, as the models learnt
        Colorizer(str(tiny_colorizers.fcn), device="cpu")(frames)
        Colorizer(str(tiny_colorizers.fcn), device="cpu", render_size=64)(frames)
    assert said == []


def _toned(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB through the usual sepia matrix: all its colour in one hue."""
    m = np.array([[.393, .769, .189], [.349, .686, .168], [.272, .534, .131]])
    return np.clip(rgb.astype(np.float32) @ m.T.astype(np.float32), 0, 255).astype(np.uint8)


def test_a_toned_reference_is_warned_about_and_a_coloured_one_is_not(tmp_path):
    """A sepia reference gave monochrome toned output with no word."""
    from PIL import Image

    from helpers import vidcolor_warnings
    from vidcolor.reference import read_references

    colour = smooth_image(np.random.default_rng(3), 64, 80)
    Image.fromarray(colour).save(tmp_path / "colour.png")
    Image.fromarray(_toned(colour)).save(tmp_path / "sepia.png")
    with vidcolor_warnings() as said:
        read_references([tmp_path / "colour.png"])
    assert said == []
    with vidcolor_warnings() as said:
        read_references([tmp_path / "sepia.png"])
    assert len(said) == 1 and said[0].startswith(f"the reference {tmp_path / 'sepia.png'} has all its colour in one hue")


def test_a_saturated_one_hue_reference_is_not_taken_for_a_toned_print(tmp_path):
    """About 5% of ordinary colour photos (a lemon, bees on a yellow flower) have their colour within 40 degrees of
    hue and were warned about as sepia prints; a toned print is pale (sepia copies of the data's references: mean
    chroma of the coloured pixels at most 21.5), this one is not (about 60)."""
    from PIL import Image

    from helpers import vidcolor_warnings
    from vidcolor.reference import read_references

    g = smooth_image(np.random.default_rng(6), 64, 80)[..., 1].astype(np.float32) / 255 * 120 + 120
    lemon = np.clip(np.stack([g, g * 0.85, g * 0.1], -1), 0, 255).astype(np.uint8)
    Image.fromarray(lemon).save(tmp_path / "lemon.png")
    with vidcolor_warnings() as said:
        read_references([tmp_path / "lemon.png"])
    assert said == []


def test_a_reference_given_twice_and_one_that_is_no_image_are_said_plainly(tmp_path):
    from PIL import Image

    from helpers import vidcolor_warnings
    from vidcolor.errors import VidcolorError
    from vidcolor.reference import read_references

    path = tmp_path / "ref.png"
    Image.fromarray(smooth_image(np.random.default_rng(4), 64, 80)).save(path)
    with vidcolor_warnings() as said:
        assert len(read_references([path, path])) == 1
    assert said == [f"the reference {path} was given twice: it is used once"]
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(VidcolorError) as err:
        read_references([tmp_path / "bad.jpg"])
    assert str(err.value) == f"{tmp_path / 'bad.jpg'}: not an image file of a format vidcolor reads (references)"


def test_keyframe_mode_says_how_many_keyframes_it_found(tiny_colorizers):
    """The keyframe mode's summary never said how many scenes (keyframes) it found: vidcolor.api.colorize adds this
    note to it."""
    from vidcolor.reference import KeyframeColorizer
    from vidcolor.summaries import keyframes_note

    rng = np.random.default_rng(5)
    a, b = smooth_image(rng, 48, 64), 255 - smooth_image(rng, 48, 64)     # a hard cut between two shots
    job = KeyframeColorizer(str(tiny_colorizers.exemplar), str(tiny_colorizers.effnet_bins), device="cpu",
                            render_size=32, keyframe_size=32)
    job(np.stack([a] * 3 + [b] * 3))
    assert keyframes_note(job) == "2 keyframes (the first frame and each scene's)"
    assert keyframes_note(Colorizer(str(tiny_colorizers.fcn), device="cpu", render_size=32)) == ""
    photos = KeyframeColorizer(str(tiny_colorizers.exemplar), str(tiny_colorizers.effnet_bins), device="cpu",
                               render_size=32, keyframe_size=32)
    photos.set_stills(True)                             # a folder of photos: each its own keyframe, unsaid
    photos(np.stack([a, b]))
    assert keyframes_note(photos) == ""


def test_a_folder_of_clips_counts_keyframes_per_clip_and_a_skipped_file_keeps_the_note(tmp_path, ffmpeg_exe,
                                                                                        tiny_colorizers):
    """Through vidcolor.api.colorize: the count was never reset between clips (two one-scene clips said '2 keyframes
    (the first frame and each scene's)'), and the note went whenever one file of a folder was skipped."""
    from helpers import make_clip
    from vidcolor import api

    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4"):
        make_clip(ffmpeg_exe, folder / name, frames=3, audio=False)
    options = dict(model=str(tiny_colorizers.exemplar), reference_mode="keyframes", device="cpu", render_size=32,
                   temporal="off", progress=False)
    summary = api.colorize(folder, tmp_path / "out", **options)
    assert summary.note.endswith("; 2 keyframes in 2 clips (each clip's first frame and each scene's)")
    (tmp_path / "out" / "b.mp4").unlink()
    summary = api.colorize(folder, tmp_path / "out", skip_existing=True, **options)
    assert summary.skipped == 1 and summary.note.endswith("; 1 keyframe (the first frame)")
