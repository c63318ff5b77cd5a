"""train/publish.py: it checks every argument and input before it writes, and says what is wrong in one line."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from helpers import TINY_GENERATOR, photo_folder
from vidcolor.training.loop import DequantizeRecipe, train_dequantize

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A finished tiny dequantize run."""
    d = tmp_path_factory.mktemp("pub")
    photo_folder(d / "photos", 3, 64, 64, name="p{i}.jpg", quality=95)
    recipe = DequantizeRecipe(name="tiny", data=str(d / "photos"), steps=1, batch_size=2, crop=32, workers=0,
                              threads=1, generator=dict(TINY_GENERATOR), ndf=4, log_every=1)
    train_dequantize(recipe, d / "run", progress=lambda m: None)
    return d / "run"


@pytest.fixture
def publish(tmp_path, monkeypatch):
    """publish.py as a module, writing into ``tmp_path`` (``train/`` and ``weights/``) rather than the repository;
    ``publish(*argv)`` runs its main and returns the SystemExit's message (None when it returns)."""
    spec = importlib.util.spec_from_file_location("publish", ROOT / "train" / "publish.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "weights").mkdir()
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "tiny.toml").write_text('name = "tiny"\n')   # the recipe of the runs published here
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "WEIGHTS_DIR", tmp_path / "weights")

    def run(*argv):
        monkeypatch.setattr(sys, "argv", ["publish.py", *map(str, argv)])
        try:
            module.main()
        except SystemExit as exc:
            return exc.code
        return None
    return run


def written(root: Path) -> list[str]:
    """The files under ``root`` but the recipe ``train/tiny.toml`` that the ``publish`` fixture writes."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p != root / "train" / "tiny.toml")


@pytest.mark.parametrize("bad, said", [(["--inference", "0.5"], "--inference must be T/SATURATION"),
                                       (["--strength", "uniform"], "--strength must be KIND=S"),
                                       (["--strength", "uniform=0.5,palete=0.1"], "--strength: unknown kind 'palete'"),
                                       (["--quality", "nosuch.json"], "no such file"),
                                       # training audit: the three below were silently dropped or stored unread
                                       (["--method", "(d) Pix2Pix-FQ (default modle)", "--quality",
                                         ROOT / "docs" / "dequantize_quality.json"], "no such row"),
                                       (["--method", "(d) Pix2Pix-FQ (default model)"], "give --quality too"),
                                       (["--inference", "0.5/1.5"], "--inference is a colorizer's")])
def test_a_bad_argument_is_one_line_and_nothing_is_written(run_folder, publish, tmp_path, bad, said):
    # training audit, stop 63: log.csv and loss.png were copied into train/<name>/ before --inference was parsed,
    # which then failed with a ValueError traceback
    message = publish(run_folder, *bad)
    assert isinstance(message, str) and said in message and "\n" not in message
    assert written(tmp_path) == []


def test_a_run_without_its_weight_file_is_one_line_and_nothing_is_written(run_folder, publish, tmp_path):
    # training audit, stop 63: a bare FileNotFoundError traceback
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    for f in ("recipe.json", "log.csv", "loss.png"):
        (unfinished / f).write_bytes((run_folder / f).read_bytes())
    message = publish(unfinished)
    assert isinstance(message, str) and "tiny.safetensors is missing" in message and "\n" not in message
    assert written(tmp_path) == [f"unfinished/{f}" for f in ("log.csv", "loss.png", "recipe.json")]


def test_a_run_resumed_for_more_steps_and_stopped_is_not_published_with_its_older_weight_file(tmp_path, publish):
    # training audit: the run's weight file of step 1 was published with the log and recipe.json of the resumed
    # run (steps 3, stopped at step 2), the card saying 1 step
    photo_folder(tmp_path / "photos", 3, 64, 64, name="p{i}.jpg", quality=95)
    kw = dict(name="tiny", data=str(tmp_path / "photos"), batch_size=2, crop=32, workers=0, threads=1,
              generator=dict(TINY_GENERATOR), ndf=4, log_every=1, checkpoint_every=1)
    train_dequantize(DequantizeRecipe(steps=1, **kw), tmp_path / "run", progress=lambda m: None)

    def stop(msg):
        if msg.startswith("step=2 "):
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train_dequantize(DequantizeRecipe(steps=3, **kw), tmp_path / "run", progress=stop)
    before = written(tmp_path)
    message = publish(tmp_path / "run")
    assert isinstance(message, str) and "is of step 1" in message and "runs to step 3" in message
    assert "\n" not in message and written(tmp_path) == before


@pytest.mark.parametrize("extra, named", [(["RUN"], "run"), (["--inference", "0.5/1.5"], "--inference"),
                                          (["--strength", "uniform=0.5"], "--strength"), (["--history", "x"], "--history")])
def test_card_with_a_run_or_a_run_option_is_one_line_and_nothing_is_written(run_folder, publish, tmp_path, extra, named):
    # training audit: `publish.py RUN --card NAME` re-stamped NAME's card and silently published nothing of RUN;
    # --inference, --strength, --history and --hardware were dropped the same way
    extra = [str(run_folder) if e == "RUN" else e for e in extra]
    message = publish(*extra, "--card", "tiny")
    assert isinstance(message, str) and "cannot go with it" in message and "\n" not in message
    assert (str(run_folder) if named == "run" else named) in message
    assert written(tmp_path) == []


def test_the_card_describes_a_pack_as_a_pack_and_data_that_is_not_here_is_one_line(tmp_path, publish):
    # training audit: the card's data line counted list_images of recipe.json's data: a run trained from a pack
    # (the GPU workflow) was described as "N colour photos" (the pack's held-back photos and clip frames counted,
    # its split not said), and a run whose data folder is not on this machine as "0 colour photos"
    from vidcolor.training.pack import write_pack

    photo_folder(tmp_path / "photos", 6, 64, 64, name="p{i}.jpg", quality=95)
    kw = dict(name="tiny", batch_size=2, crop=32, workers=0, threads=1, generator=dict(TINY_GENERATOR), ndf=4,
              log_every=1, steps=1, holdout_every=3)
    write_pack(DequantizeRecipe(data=str(tmp_path / "photos"), **kw), tmp_path / "pack", 10**8, short_side=48,
               progress=lambda m: None)
    train_dequantize(DequantizeRecipe(data=str(tmp_path / "pack"), **kw), tmp_path / "run", progress=lambda m: None)
    assert publish(tmp_path / "run") is None
    data_line = next(line for line in (tmp_path / "weights" / "tiny.md").read_text().splitlines()
                     if line.startswith("- Data:"))
    assert f"the training pack {tmp_path / 'pack'}" in data_line and "4 photos" in data_line
    assert "2 held back" in data_line and "colour photos" not in data_line

    train_dequantize(DequantizeRecipe(data=str(tmp_path / "photos"), **kw), tmp_path / "run2", progress=lambda m: None)
    (tmp_path / "photos").rename(tmp_path / "elsewhere")
    before = written(tmp_path)
    message = publish(tmp_path / "run2")
    assert isinstance(message, str) and "holds no images here" in message and "\n" not in message
    assert written(tmp_path) == before


def test_a_run_is_published(run_folder, publish, tmp_path):
    assert publish(run_folder, "--strength", "uniform=0.5,palette=0.1") is None
    assert written(tmp_path) == ["train/tiny/log.csv", "train/tiny/loss.png", "weights/tiny.md",
                                 "weights/tiny.safetensors"]
    card = (tmp_path / "weights" / "tiny.md").read_text()
    assert "{'uniform': 0.5, 'palette': 0.1}" in card and "<" not in card           # placeholders filled in
    # where the run trained, as the run recorded it (the default said '2 cores, no GPU' of any run, GPU runs too)
    from vidcolor.training.run import describe_hardware
    assert f"- Hardware: {describe_hardware('cpu')}; 1 torch thread(s); " in card
    assert "- Weight file: `vidcolor/weights/tiny.safetensors`, sha256" in card


def test_a_weight_file_with_non_finite_values_is_one_line_and_nothing_is_written(run_folder, publish, tmp_path):
    # training audit: a run that diverged exported NaN weights, and publish.py bundled them with a card
    import shutil

    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    diverged = tmp_path / "diverged"
    shutil.copytree(run_folder, diverged)
    with safe_open(str(run_folder / "tiny.safetensors"), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    name = next(k for k, t in tensors.items() if t.is_floating_point())
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    save_file(tensors, str(diverged / "tiny.safetensors"), metadata=meta)
    before = written(tmp_path)
    message = publish(diverged)
    assert isinstance(message, str) and f"{name} holds non-finite values" in message and "\n" not in message
    assert written(tmp_path) == before


def test_a_run_without_its_recipe_in_train_is_one_line_and_nothing_is_written(run_folder, publish, tmp_path):
    # training audit: publish.py bundled a weight file whose recipe train/<name>.toml did not exist, the card
    # linking that missing recipe as the command that made it
    (tmp_path / "train" / "tiny.toml").unlink()
    message = publish(run_folder)
    assert isinstance(message, str) and "train/tiny.toml is missing" in message and "\n" not in message
    assert written(tmp_path) == []
