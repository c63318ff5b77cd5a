"""vidcolor.training.trainer: the skeleton's own behaviour (resume, hooks, validation), on a toy job and tiny real ones."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from helpers import TINY_GENERATOR, photo_folder
from vidcolor.training.data import ColorizationCrops
from vidcolor.training.loop import DequantizeRecipe, train_dequantize
from vidcolor.training.run import Recipe, training_loader
from vidcolor.training.trainer import Trainer


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Four 48x56 smooth photos; with holdout_every=2, two are held back."""
    return photo_folder(tmp_path_factory.mktemp("photos"), 4, 48, 56, seed=3)


class Invert(Trainer):
    """The smallest job: a 1x1 convolution learning to invert colours, recording the hooks' calls."""

    fields = ("loss",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.at_steps: list[int] = []
        self.stepped = 0

    def data(self):
        return training_loader(self.recipe, ColorizationCrops)

    def build_networks(self):
        return {"G": torch.nn.Conv2d(3, 3, 1)}, {"family": "toy"}

    def at_step(self, step: int) -> None:
        self.at_steps.append(step)

    def optimize_parameters(self, rgb) -> list[float]:
        x = rgb.permute(0, 3, 1, 2).float() / 255.0
        loss = (self.generator(x) - (1 - x)).pow(2).mean()
        opt = self.optimizers["opt_g"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        self.stepped += 1
        return [loss.item()]

    def validation_stream(self, paths):
        return ColorizationCrops(paths, self.recipe.crop, self.recipe.seed)

    def test(self, rgb):
        x = rgb.permute(0, 3, 1, 2).float() / 255.0
        return self.generator(x).clamp(0, 1), 1 - x


def recipe(photos: Path, **kw) -> Recipe:
    r = dict(name="toy", data=str(photos), holdout_every=2, steps=3, batch_size=2, crop=32, workers=0, threads=1,
             log_every=1, checkpoint_every=2, lr=1e-2)
    r.update(kw)
    return Recipe(**r)


def rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_resume_continues_at_the_saved_step(tmp_path, photos):
    out = tmp_path / "run"
    first = Invert(recipe(photos, steps=3), out, progress=lambda m: None)
    first.fit()
    assert first.at_steps == [0, 1, 2] and first.stepped == 3
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 3 and set(saved) >= {"G", "opt_g", "step", "elapsed"}   # saved at the last step

    msgs: list[str] = []
    again = Invert(recipe(photos, steps=5), out, progress=msgs.append)
    weights = again.fit()
    assert "resumed at step 3" in msgs
    assert again.at_steps == [3, 3, 4] and again.stepped == 2       # the checkpoint's step first, then steps 4, 5
    assert [int(r["step"]) for r in rows(out / "log.csv")] == [1, 2, 3, 4, 5]
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 5 and float(state["opt_g"]["state"][0]["step"]) == 5   # Adam counted on, not restarted
    assert weights == out / "toy.safetensors" and set(load_file(str(weights))) == {"weight", "bias"}

    over = Invert(recipe(photos, steps=2), out, resume=False, progress=lambda m: None)
    over.fit()                                                     # resume=False starts over
    assert over.at_steps == [0, 1] and [int(r["step"]) for r in rows(out / "log.csv")] == [1, 2]


def test_a_run_at_its_last_step_only_exports(tmp_path, photos):
    Invert(recipe(photos, steps=2), tmp_path, progress=lambda m: None).fit()
    again = Invert(recipe(photos, steps=2), tmp_path, progress=lambda m: None)
    again.fit()
    assert again.stepped == 0 and (tmp_path / "toy.safetensors").is_file()


def test_validation_rows_every_n_steps_and_a_fresh_start_drops_them(tmp_path, photos):
    msgs: list[str] = []
    Invert(recipe(photos, steps=4, validate_every=2, validate_batches=2), tmp_path, progress=msgs.append).fit()
    got = rows(tmp_path / "validation.csv")
    assert [int(r["step"]) for r in got] == [2, 4] and set(got[0]) == {"step", "psnr_output", "colourfulness_ratio"}
    assert all(5 < float(r["psnr_output"]) < 100 and float(r["colourfulness_ratio"]) > 0 for r in got)
    assert float(got[1]["psnr_output"]) > float(got[0]["psnr_output"])       # learning to invert: the held-back PSNR rises
    assert sum(m.startswith("validation step=") for m in msgs) == 2
    Invert(recipe(photos, steps=5, validate_every=2, validate_batches=2), tmp_path, progress=lambda m: None).fit()
    assert [int(r["step"]) for r in rows(tmp_path / "validation.csv")] == [2, 4]   # resumed: appended (step 5: none due)
    Invert(recipe(photos, steps=1), tmp_path, resume=False, progress=lambda m: None).fit()
    assert not (tmp_path / "validation.csv").exists()


def test_recipe_refuses_bad_validation_settings(photos):
    for bad, name in ((dict(validate_every=-1), "validate_every"), (dict(validate_batches=0), "validate_batches")):
        with pytest.raises(ValueError, match=name):
            recipe(photos, **bad)


def test_validating_leaves_the_trained_weights_as_they_would_be(tmp_path, photos):
    def train(**kw):
        r = DequantizeRecipe(name="tiny", data=str(photos), holdout_every=2, steps=2, batch_size=2, crop=32,
                             workers=0, threads=1, generator=dict(TINY_GENERATOR), ndf=4, log_every=1, **kw)
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        state = load_file(str(train_dequantize(r, out, progress=lambda m: None)))
        return out, state

    plain, a = train()
    validated, b = train(validate_every=1, validate_batches=1)
    assert [int(r["step"]) for r in rows(validated / "validation.csv")] == [1, 2]
    assert not (plain / "validation.csv").exists()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)   # BatchNorm statistics included


def test_a_resume_drops_the_rows_logged_after_the_checkpoint(tmp_path, photos):
    # training audit, stop 63: rows past the checkpoint stayed, so the resume logged steps 3 and 3 again
    class Stopped(Exception):
        pass

    def stop_after_validating_step_3(msg):
        if msg.startswith("validation step=3 "):
            raise Stopped

    with pytest.raises(Stopped):                                   # killed after step 3; checkpoint at step 2
        Invert(recipe(photos, steps=5, validate_every=1, validate_batches=1), tmp_path,
               progress=stop_after_validating_step_3).fit()
    assert [int(r["step"]) for r in rows(tmp_path / "log.csv")] == [1, 2, 3]
    Invert(recipe(photos, steps=5, validate_every=1, validate_batches=1), tmp_path, progress=lambda m: None).fit()
    assert [int(r["step"]) for r in rows(tmp_path / "log.csv")] == [1, 2, 3, 4, 5]
    assert [int(r["step"]) for r in rows(tmp_path / "validation.csv")] == [1, 2, 3, 4, 5]


def test_the_weight_file_says_where_each_session_of_the_run_trained(tmp_path, photos, monkeypatch):
    """The card's hardware line was publish.py's default, '2 cores, no GPU', whatever the run (a run resumed on a
    GPU too). Each session's hardware (describe_hardware) now goes into the checkpoint and the weight file."""
    import json

    from safetensors import safe_open

    import vidcolor.training.trainer as trainer
    from vidcolor.training.run import describe_hardware

    assert describe_hardware("cpu").startswith("CPU: ") and "core" in describe_hardware("cpu")
    out = tmp_path / "run"
    for steps, where in ((2, "first machine"), (3, "second machine"), (4, "first machine")):
        monkeypatch.setattr(trainer, "describe_hardware", lambda device, where=where: where)
        weights = Invert(recipe(photos, steps=steps), out, progress=lambda m: None).fit()
    with safe_open(str(weights), framework="pt") as f:
        assert json.loads(f.metadata()["hardware"]) == ["first machine", "second machine"]


def test_a_fresh_start_stopped_before_its_first_checkpoint_leaves_nothing_of_the_earlier_run(tmp_path, photos):
    # training audit: --fresh kept the earlier run's checkpoint.pt (and weight file) until its own first checkpoint;
    # stopped before it (Ctrl-C), the folder held the old checkpoint beside the new recipe.json, and the next plain
    # resume continued the old networks at their step under the new recipe, the log a mix of both runs
    Invert(recipe(photos, steps=4), tmp_path, progress=lambda m: None).fit()
    assert (tmp_path / "checkpoint.pt").is_file() and (tmp_path / "toy.safetensors").is_file()

    def stop(msg):
        if msg.startswith("step=1 "):
            raise KeyboardInterrupt
    new = recipe(photos, steps=10, lr=5e-3, checkpoint_every=5)
    with pytest.raises(KeyboardInterrupt):
        Invert(new, tmp_path, resume=False, progress=stop).fit()
    assert {p.name for p in tmp_path.iterdir()} == {"recipe.json", "log.csv"}
    msgs: list[str] = []
    again = Invert(new, tmp_path, progress=msgs.append)
    again.fit()
    assert not any(m.startswith("resumed") for m in msgs) and again.stepped == 10
    assert [int(r["step"]) for r in rows(tmp_path / "log.csv")] == list(range(1, 11))


def test_a_run_folder_another_run_is_using_is_refused_and_left_as_it_is(tmp_path, photos):
    # training audit: a second `vidcolor train ... --out F` while the first still trained there resumed the first's
    # checkpoint and both wrote checkpoint.pt and log.csv, their rows interleaved
    import fcntl
    import os

    from vidcolor.training.run import RunFolderInUse

    Invert(recipe(photos, steps=2), tmp_path, progress=lambda m: None).fit()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    fd = os.open(tmp_path, os.O_RDONLY)                 # the other run's lock, as lock_run_folder takes it
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        with pytest.raises(RunFolderInUse, match="in use by another training run"):
            Invert(recipe(photos, steps=4), tmp_path, progress=lambda m: None).fit()
    finally:
        os.close(fd)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    again = Invert(recipe(photos, steps=4), tmp_path, progress=lambda m: None)   # the lock is gone with its run
    again.fit()
    assert again.stepped == 2


def test_a_checkpoint_save_cut_short_leaves_the_last_checkpoint_and_no_partial_file(tmp_path, photos, monkeypatch):
    # training audit: Ctrl-C (or a full disk) during torch.save left a partial checkpoint.tmp in the run folder
    Invert(recipe(photos, steps=2), tmp_path, progress=lambda m: None).fit()
    whole = (tmp_path / "checkpoint.pt").read_bytes()
    real_save = torch.save

    def cut_short(obj, f, *a, **kw):
        Path(f).write_bytes(b"partial")
        raise KeyboardInterrupt
    monkeypatch.setattr(torch, "save", cut_short)
    with pytest.raises(KeyboardInterrupt):
        Invert(recipe(photos, steps=4), tmp_path, progress=lambda m: None).fit()
    monkeypatch.setattr(torch, "save", real_save)
    assert (tmp_path / "checkpoint.pt").read_bytes() == whole and not (tmp_path / "checkpoint.tmp").exists()
