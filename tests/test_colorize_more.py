"""Colorize audit, stop 70: flat borders stay neutral, a render size above the frame is warned about, clearer reference
warnings, keyframe counts in the summary."""
from __future__ import annotations

import numpy as np
import pytest

from vidcolor.color import flat_borders, neutral_borders, rgb_to_lab
from vidcolor.pipeline import Colorizer, luminance

from helpers import smooth_image


def _matted(rng, h=72, w=96, pad=12, level=31, grain=0.0) -> np.ndarray:
    """uint8 RGB (h, w, 3): a textured picture inside a flat gray pad of ``pad`` px at RGB ``level`` (L 12 at 31),
    film grain of ``grain`` levels (std) over all of it."""
    frame = np.full((h, w, 3), level, np.float32)
    frame[pad:-pad, pad:-pad] = smooth_image(rng, h - 2 * pad, w - 2 * pad)
    frame += rng.normal(0, grain, (h, w, 1))
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def test_flat_borders_finds_a_gray_matte_and_grained_bars_but_no_sky_or_flat_frame():
    rng = np.random.default_rng(0)
    L = luminance(_matted(rng)[None])[0]
    assert flat_borders(L) == (12, 12, 12, 12)
    assert flat_borders(luminance(_matted(rng, grain=2.0)[None])[0]) == (12, 12, 12, 12)   # grain: L std about 1
    sky = smooth_image(rng, 72, 96)
    sky[:20] = 200                                      # a flat sky at the top alone: no letterbox
    assert flat_borders(luminance(sky[None])[0]) == (0, 0, 0, 0)
    assert flat_borders(np.full((72, 96), 50, np.float32)) == (0, 0, 0, 0)      # flat all over: no picture in it
    bars = smooth_image(rng, 72, 96)
    bars[:, :10] = bars[:, -14:] = 0                    # black pillarbox of unequal widths, no letterbox
    assert flat_borders(luminance(bars[None])[0]) == (0, 0, 10, 14)


def test_neutral_borders_by_strips_is_the_whole_frame():
    border = (3, 5, 2, 4)
    ab = np.random.default_rng(1).normal(0, 9, (20, 16, 2)).astype(np.float32)
    whole = ab.copy()
    neutral_borders(border, whole)
    assert not whole[:3].any() and not whole[-5:].any() and not whole[:, :2].any() and not whole[:, -4:].any()
    assert whole[3:-5, 2:-4].all()
    parts = [ab[y0:y1].copy() for y0, y1 in ((0, 7), (7, 16), (16, 20))]
    for (y0, _), part in zip(((0, 7), (7, 16), (16, 20)), parts):
        neutral_borders(border, part, y0, 20)
    assert np.array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("temporal", ["off", "ema"])
def test_a_gray_matte_comes_out_the_same_gray(tiny_colorizers, temporal):
    """A pad of RGB 31 (L 12) round the picture took a brown cast (31, 31, 31) -> (34, 29, 29) from the colorizers;
    the picture keeps its colour."""
    frames = np.stack([_matted(np.random.default_rng(i)) for i in range(2)])
    job = Colorizer(str(tiny_colorizers.effnet_bins), device="cpu", render_size=32, saturation=8.0)
    job.set_temporal(temporal)
    out = job(frames)
    pad = np.ones(frames.shape[1:3], bool)
    pad[12:-12, 12:-12] = False
    assert np.array_equal(out[:, pad], frames[:, pad])
    chroma = np.hypot(*rgb_to_lab(out[:, 20:-20, 20:-20])[..., 1:].transpose(3, 0, 1, 2))
    assert chroma.mean() > 2                            # the picture is coloured


def test_keyframe_mode_keeps_a_gray_matte_gray(tiny_colorizers):
    from vidcolor.reference import KeyframeColorizer

    frames = np.stack([_matted(np.random.default_rng(i)) for i in range(2)])
    job = KeyframeColorizer(str(tiny_colorizers.exemplar), str(tiny_colorizers.effnet_bins), device="cpu",
                            render_size=32, keyframe_size=32, saturation=8.0)
    out = job(frames)
    pad = np.ones(frames.shape[1:3], bool)
    pad[12:-12, 12:-12] = False
    assert np.array_equal(out[:, pad], frames[:, pad])


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
    job.set_stills(True)                                # a folder of photos: each its own keyframe, unsaid
    assert keyframes_note(job) == ""
