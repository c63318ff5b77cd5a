"""vidcolor.training.pack and ``vidcolor train pack``: a recipe's training images made small enough to travel."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import assert_one_line_error, invoke_cli, photo_folder
from vidcolor.training.colorize import ColorizeRecipe, train_colorize
from vidcolor.training.data import ColorizationCrops, list_images, split_holdout
from vidcolor.training.pack import PACK_FILE, held_back_photos, read_pack, recipe_images, write_pack
from vidcolor.training.run import training_loader


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """40 smooth 96x80 PNG photos (every 20th held back: 2)."""
    return photo_folder(tmp_path_factory.mktemp("photos"), 40, 80, 96, name="p{i:02d}.png")


@pytest.fixture(scope="module")
def clips(tmp_path_factory, clip) -> Path:
    """Two copies of the 64x48 test clip: a (held back) and b (trained on)."""
    d = tmp_path_factory.mktemp("video")
    for name in ("a", "b"):
        (d / f"{name}.mp4").write_bytes(clip.read_bytes())
    return d


def recipe(data, **kw) -> ColorizeRecipe:
    r = dict(name="tiny", data=str(data), steps=2, batch_size=2, crop=32, workers=0, threads=1, log_every=1,
             generator="fcn", head="ab", generator_kwargs={"width": 4, "depth": 2}, seed=0)
    r.update(kw)
    return ColorizeRecipe(**r)


def test_pack_holds_the_recipe_split_and_trains_without_its_folders(tmp_path, photos, clips, monkeypatch):
    monkeypatch.setenv("VIDCOLOR_CACHE", str(tmp_path / "cache"))
    r = recipe(photos, video=str(clips), video_stride=5, video_share=0.25)
    record = write_pack(r, tmp_path / "pack", max_bytes=10**8, short_side=40, progress=lambda m: None)
    assert record["kept"] == record["of"] == 38 + 2                  # 38 training photos, frames 0 and 5 of clip b
    pack = read_pack(tmp_path / "pack")
    assert [len(g) for g, _ in pack.groups] == [38, 2] and [s for _, s in pack.groups] == [None, 0.25]
    assert len(pack.held_back) == len(split_holdout(list_images(photos), 20)[1]) == 2
    assert all(min(Image.open(p).size) == 40 for g, _ in pack.groups for p in g)   # 96x80 -> 48x40, 64x48 -> 53x40
    # trained from the pack: the recipe's own folders are not read (they are gone), the shares are the pack's
    from_pack = recipe(tmp_path / "pack", video=str(tmp_path / "no-such-video"))
    stream = training_loader(from_pack, ColorizationCrops).dataset
    assert len(stream.paths) == 40 and np.isclose(sum(stream.p[38:]), 0.25)
    assert held_back_photos(from_pack) == pack.held_back
    weights = train_colorize(recipe(tmp_path / "pack", validate_every=1, validate_batches=1), tmp_path / "run",
                             progress=lambda m: None)
    assert weights.is_file() and (tmp_path / "run" / "validation.csv").is_file()


def test_pack_keeps_a_seeded_share_of_every_group_to_fit(tmp_path, photos):
    full = write_pack(recipe(photos), tmp_path / "full", max_bytes=10**8, short_side=40, progress=lambda m: None)
    budget = full["bytes"] // 2
    half = write_pack(recipe(photos), tmp_path / "half", max_bytes=budget, short_side=40, progress=lambda m: None)
    assert half["bytes"] <= budget and 10 < half["kept"] < full["kept"]
    again = write_pack(recipe(photos), tmp_path / "again", max_bytes=budget, short_side=40, progress=lambda m: None)
    assert again["groups"] == half["groups"]                                       # the recipe's seed decides
    assert [(tmp_path / "again" / f).read_bytes() for f in again["groups"][0]["files"]] == \
           [(tmp_path / "half" / f).read_bytes() for f in half["groups"][0]["files"]]


def test_pack_refusals_leave_nothing(tmp_path, photos):
    write_pack(recipe(photos), tmp_path / "p", max_bytes=10**8, short_side=40, progress=lambda m: None)
    held = sum((tmp_path / "p" / f).stat().st_size for f in read_pack(tmp_path / "p").held_back)
    with pytest.raises(ValueError, match="at least the recipe's crop"):
        write_pack(recipe(photos), tmp_path / "q", max_bytes=10**8, short_side=16)
    with pytest.raises(ValueError, match="held-back photos"):
        write_pack(recipe(photos), tmp_path / "q", max_bytes=held, short_side=40, progress=lambda m: None)
    with pytest.raises(ValueError, match="keeps no image of group 0"):
        write_pack(recipe(photos), tmp_path / "q", max_bytes=held + 1, short_side=40, progress=lambda m: None)
    assert {q.name for q in tmp_path.iterdir()} == {"p"}
    with pytest.raises(ValueError, match="exists"):
        write_pack(recipe(photos), tmp_path / "p", max_bytes=10**8, short_side=40)
    with pytest.raises(ValueError, match="larger than the pack's images"):
        recipe_images(recipe(tmp_path / "p", crop=48))
    (tmp_path / "p" / "g0" / "00003.webp").unlink()
    with pytest.raises(ValueError, match="00003.webp, which is missing"):
        read_pack(tmp_path / "p")
    (tmp_path / "p" / PACK_FILE).write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="not a readable training pack"):
        read_pack(tmp_path / "p")


def test_cli_train_pack_of_a_truncated_jpeg_is_one_line_and_leaves_nothing(tmp_path, photos):
    """Encoding a truncated JPEG (its header reads, its pixels do not) was an OSError traceback."""
    data = tmp_path / "data"
    data.mkdir()
    for p in list_images(photos)[:6]:
        Image.open(p).save(data / f"{p.stem}.jpg", quality=95)
    victim = sorted(data.glob("*.jpg"))[2]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    (tmp_path / "r.toml").write_text(f'name = "tiny"\ndata = "{data.as_posix()}"\ncrop = 32\n')
    res = invoke_cli("train", "pack", "r.toml", "pack", cwd=tmp_path)
    assert_one_line_error(res)
    assert f"{victim} cannot be read" in res.stderr
    assert {q.name for q in tmp_path.iterdir()} == {"data", "r.toml"}


def test_cli_train_pack(tmp_path, photos):
    (tmp_path / "r.toml").write_text(f'name = "tiny"\ndata = "{photos.as_posix()}"\ncrop = 32\ngenerator = "fcn"\n'
                                     'head = "ab"\ntemperature = 0.4\n')        # a colorize recipe: its keys are let be
    res = invoke_cli("train", "pack", "r.toml", "pk", "--short-side", "40", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "packed 38 of 38 training images and 2 held-back photos" in res.stderr
    assert (tmp_path / "pk" / PACK_FILE).is_file()
    res = invoke_cli("train", "pack", "r.toml", "pk2", "--short-side", "16", cwd=tmp_path)
    assert_one_line_error(res)
    assert "crop" in res.stderr and {q.name for q in tmp_path.iterdir()} == {"r.toml", "pk"}


def test_cli_train_pack_refuses_a_misspelt_key_and_reads_every_repository_recipe(tmp_path, photos):
    # training audit: pack read a recipe leaving out every key the common Recipe lacks (a job's own keys), so a
    # misspelt one (holdout_evry = 10) was packed by its default, silently
    (tmp_path / "r.toml").write_text(f'name = "tiny"\ndata = "{photos.as_posix()}"\ncrop = 32\nholdout_evry = 10\n')
    res = invoke_cli("train", "pack", "r.toml", "pack", cwd=tmp_path)
    assert_one_line_error(res)
    assert "holdout_evry" in res.stderr and not (tmp_path / "pack").exists()
    from vidcolor.jobs import TRAINABLE, training_loop
    from vidcolor.training.run import Recipe
    known = {k for job in TRAINABLE for k in training_loop(job)[0].__dataclass_fields__}
    for recipe in sorted((Path(__file__).resolve().parents[1] / "train").rglob("*.toml")):
        assert Recipe.from_toml(recipe, others=known).name == recipe.stem


def test_a_pack_inside_the_data_folder_is_refused(tmp_path, photos):
    # training audit: `vidcolor train pack RECIPE DATA/pack` wrote the pack into the photo folder, whose images are
    # listed recursively: the pack's downscaled copies then joined the photos of every run on that folder
    import shutil
    shutil.copytree(photos, tmp_path / "data")
    with pytest.raises(ValueError, match="inside the recipe's data folder"):
        write_pack(recipe(tmp_path / "data"), tmp_path / "data" / "pack", 10**8, short_side=40, progress=lambda m: None)
    assert len(list_images(tmp_path / "data")) == 40



def test_pack_refuses_an_unwritable_out_before_encoding(tmp_path, photos):
    """``vidcolor train pack r.toml notes.txt/pack`` (a file on the way) or into a place that cannot be written
    (/proc, a read-only folder) was refused only once every image was encoded (the progress line, then the error).
    The place is now tried first: an OSError naming OUT (the CLI's 'OUT: cannot write there (why)'), no image
    encoded, nothing left behind."""
    said = []
    (tmp_path / "notes.txt").write_text("notes")
    out = tmp_path / "notes.txt" / "pack"
    with pytest.raises(NotADirectoryError) as err:
        write_pack(recipe(photos), out, max_bytes=10**8, short_side=40, progress=said.append)
    assert (err.value.filename, err.value.strerror) == (str(out), f"{tmp_path / 'notes.txt'} is a file, not a folder")
    out = Path("/proc/vidcolor-pack/pack")                 # cannot be made, by root either
    with pytest.raises(OSError) as err:
        write_pack(recipe(photos), out, max_bytes=10**8, short_side=40, progress=said.append)
    assert err.value.filename == str(out)
    assert said == [] and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
