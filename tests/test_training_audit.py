"""vidcolor train as a user meets it: divergence, photo orientation, recipe errors, Ctrl-C (the training audit)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import assert_one_line_error, cmyk_profile, invoke_cli, photo_folder
from test_trainer import Invert, recipe
from test_training import toml_for


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Four 48x56 smooth photos; with holdout_every=2, two are held back."""
    return photo_folder(tmp_path_factory.mktemp("photos"), 4, 48, 56, seed=3)


def recipe_toml(data: Path, **kw) -> str:
    """:func:`test_training.toml_for` (a tiny dequantize recipe) with ``kw`` replacing or adding keys."""
    import json

    lines = [line for line in toml_for(data).splitlines() if line.split(" = ")[0] not in kw]
    return "\n".join(lines + [f"{k} = {json.dumps(v)}" for k, v in kw.items()]) + "\n"


# ------------------------------------------------------------------------------------------ divergence


class Poisoned(Invert):
    """The toy job, whose batch at step ``at`` (1-based) is NaN: its loss is NaN and its update makes the weights NaN."""

    def __init__(self, *args, at: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.at = at

    def optimize_parameters(self, rgb) -> list[float]:
        if self.stepped + 1 == self.at:
            x = torch.full(rgb.permute(0, 3, 1, 2).shape, float("nan"))
            loss = (self.generator(x) - (1 - x)).pow(2).mean()
            self.optimizers["opt_g"].zero_grad()
            loss.backward()
            self.optimizers["opt_g"].step()
            self.stepped += 1
            return [loss.item()]
        return super().optimize_parameters(rgb)


def finite(state: dict) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point())


def test_a_nan_loss_stops_the_run_at_its_step_and_keeps_the_last_good_checkpoint(tmp_path, photos, monkeypatch):
    # training audit: a NaN loss (an lr too high, bad data) trained on silently to the end, overwriting the
    # checkpoint with NaN weights every checkpoint_every steps and exporting a NaN weight file
    from vidcolor.training import run
    from vidcolor.training.run import TrainingDiverged

    job = Poisoned(recipe(photos, steps=4, checkpoint_every=2), tmp_path, progress=lambda m: None, at=3)
    with pytest.raises(TrainingDiverged, match=r"at step 3: loss is nan; .*checkpoint.pt of step 2 is kept") as exc:
        job.fit()
    assert "\n" not in str(exc.value) and job.stepped == 3
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2 and finite(state["G"])
    assert not (tmp_path / "toy.safetensors").exists()
    monkeypatch.setattr(run, "plot_log", lambda log, png: None)    # (loss.png: a quarter of a second, not checked)
    again = Invert(recipe(photos, steps=4, checkpoint_every=2), tmp_path, progress=lambda m: None)
    again.fit()                                                    # resumes from the good checkpoint
    assert again.at_steps[0] == 2 and again.stepped == 2
    assert finite(torch.load(tmp_path / "checkpoint.pt", weights_only=True)["G"])


def test_weights_made_non_finite_by_a_finite_loss_are_not_saved(tmp_path, photos):
    # the update of a step whose loss was still finite (a huge gradient) can make the weights inf or NaN: the
    # checkpoint due at that step was written with them
    from vidcolor.training.run import TrainingDiverged

    class Blown(Invert):
        def optimize_parameters(self, rgb):
            values = super().optimize_parameters(rgb)
            if self.stepped == 2:
                with torch.no_grad():
                    self.generator.weight.fill_(float("inf"))
            return values

    with pytest.raises(TrainingDiverged, match=r"at step 2: the weights G.weight are not finite.*no checkpoint was "
                                               r"saved before it"):
        Blown(recipe(photos, steps=4, checkpoint_every=2), tmp_path, progress=lambda m: None).fit()
    assert not (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "toy.safetensors").exists()


def test_cli_train_with_a_diverging_lr_stops_in_one_line_and_exits_non_zero(tmp_path, photos):
    (tmp_path / "r.toml").write_text(recipe_toml(photos, steps=4, lr=1e8, checkpoint_every=1, holdout_every=2))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    last = res.stderr_lines[-1]
    assert last.startswith("vidcolor: error: training diverged at step ") and "lower the recipe's lr" in last
    assert "nan" not in "".join(res.stderr_lines[:-1])            # stopped at the first, before logging it
    assert not (tmp_path / "run" / "tiny.safetensors").exists()
    if (tmp_path / "run" / "checkpoint.pt").exists():
        assert finite(torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["G"])


# ------------------------------------------------------------------------------------------ EXIF orientation


def sideways(path: Path, orientation: int, **save) -> np.ndarray:
    """Write a 24 x 40 (w x h) photo with a bright top-left corner and the EXIF ``orientation`` to ``path``; returns
    its stored pixels."""
    from PIL import Image

    rgb = np.zeros((40, 24, 3), np.uint8)
    rgb[..., 1] = np.linspace(0, 200, 24, dtype=np.uint8)[None]
    rgb[:8, :8] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, exif=exif.tobytes(), **save)
    return rgb


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("name", ["p.png", "p.jpg"])
def test_training_reads_a_photo_upright_by_its_exif_orientation_as_the_runtime_does(tmp_path, orientation, name):
    # training audit: read_rgb ignored the EXIF orientation, so a phone's portrait photo was trained on sideways,
    # while vidcolor.io.images.read_image (colorize, dequantize) turns it upright
    from vidcolor.io.images import read_image
    from vidcolor.training.data import read_rgb

    stored = sideways(tmp_path / name, orientation, **({"quality": 95} if name.endswith("jpg") else {}))
    got = read_rgb(tmp_path / name)
    assert np.array_equal(got, read_image(tmp_path / name)[0])
    assert got.shape == ((40, 24, 3) if orientation < 5 else (24, 40, 3))
    if name.endswith("png") and orientation == 6:               # 90 degrees clockwise: the top-left corner at top-right
        assert np.array_equal(got, np.rot90(stored, -1))


def test_training_reads_a_16_bit_image_once_and_upright_as_the_runtime_does(tmp_path, monkeypatch):
    # read_rgb decoded a 16-bit PNG or TIFF with Pillow (load) and again with OpenCV (colour16_to_8), and a planar
    # TIFF with an orientation tag came out as stored (Pillow's load removes the tag, tifffile does not turn it): a
    # scan trained on sideways where the runtime turns it. Both now read it through io.depth.upright16, once.
    import tifffile
    from PIL import ImageFile

    from vidcolor.io.files import round16
    from vidcolor.io.images import read_image
    from vidcolor.training.data import read_rgb

    x = np.random.default_rng(4).integers(0, 65536, (5, 7, 3)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "p.tif", x.transpose(2, 0, 1), photometric="rgb", planarconfig="separate",
                     metadata=None, extratags=[(274, "H", 1, 6, True)])
    tifffile.imwrite(tmp_path / "a.tif", x, photometric="rgb", metadata=None, extratags=[(274, "H", 1, 6, True)])
    loads = []
    real = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda im: (loads.append(im.format), real(im))[1])
    for name in ("p.tif", "a.tif"):
        got = read_rgb(tmp_path / name)
        np.testing.assert_array_equal(got, round16(np.rot90(x, -1)), err_msg=name)
        assert np.array_equal(got, read_image(tmp_path / name)[0])
    assert loads == []


def test_training_reads_a_cmyk_photo_through_its_icc_profile_as_the_runtime_does(tmp_path):
    # training audit: read_image converts a CMYK image with an ICC profile through it, read_rgb (the loaders, the
    # pack, bin_weights) converted it as Pillow does, 255 - C - K: a print photo trained far too saturated and dark
    from PIL import Image

    from vidcolor.io.images import read_image
    from vidcolor.training.data import read_rgb

    im = Image.new("CMYK", (3, 1))
    for x, ink in enumerate([(0, 0, 0, 0), (255, 0, 0, 0), (0, 0, 0, 255)]):
        im.putpixel((x, 0), ink)
    im.save(tmp_path / "p.jpg", icc_profile=cmyk_profile(), quality=100)
    got = read_rgb(tmp_path / "p.jpg")
    assert np.array_equal(got, read_image(tmp_path / "p.jpg")[0])
    c = got[0, 1].astype(int)
    assert c[0] > c[1] + 60 and c[0] > c[2] + 30                   # the profile's red, not cyan (0, 255, 255)


def test_a_pack_stores_photos_upright(tmp_path):
    # the pack's WebP images (written without EXIF) were the stored pixels, sideways
    from PIL import Image

    from vidcolor.training.pack import write_pack
    from vidcolor.training.run import Recipe

    (tmp_path / "photos").mkdir()
    for i in range(3):
        sideways(tmp_path / "photos" / f"p{i}.png", 6)
    write_pack(Recipe(data=str(tmp_path / "photos"), crop=32, holdout_every=3), tmp_path / "pack", 10**7,
               short_side=32, progress=lambda m: None)
    sizes = {Image.open(p).size for p in (tmp_path / "pack").rglob("*.webp")}
    assert sizes == {(40, 24)}                                   # shown 40 wide, 24 high (stored 24 x 40)


# ------------------------------------------------------------------------------------------ recipe errors


@pytest.mark.parametrize("bad, said", [
    ({"lr": "fast"}, "r.toml: lr must be > 0"),
    ({"batch_size": 1.5}, "r.toml: batch_size must be a whole number"),
    ({"gan_mode": "foo"}, "r.toml: gan_mode must be one of lsgan, vanilla, got 'foo'"),
    ({"data": "no-such-folder"}, "r.toml: data: no training images under no-such-folder (relative to the current "
                                 "folder, {tmp}): no such folder"),
    ({"data": "r.toml"}, "r.toml: data: no training images under r.toml (relative to the current folder, {tmp}): "
                         "not a folder"),
    ({"video": "/no/clips"}, "r.toml: video: no training clips (*.mp4) under /no/clips: no such folder"),
    ({"retro": "/no/art"}, "r.toml: retro: no training images under /no/art: no such folder"),
    ({"init_from": "nosuch"}, "r.toml: init_from: model 'nosuch' not found"),
])
def test_cli_train_a_bad_recipe_value_is_one_line_naming_the_file_and_the_key(tmp_path, photos, bad, said):
    # training audit: only unknown keys named the recipe file ("lr must be > 0 ...": of which file?); a data, video or
    # retro folder that does not exist said "no training images under X", no key; an unknown init_from model was a
    # bare "model 'x' not found" (no "bad recipe", no key); an unknown gan_mode "unknown GAN loss 'foo'"
    data = bad.pop("data", str(photos))
    (tmp_path / "r.toml").write_text(recipe_toml(Path(data), holdout_every=2, **bad))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert f"bad recipe: {said.format(tmp=tmp_path)}" in res.stderr and not (tmp_path / "run").exists()


def test_cli_train_a_colorize_recipe_with_an_unknown_gan_names_the_key(tmp_path, photos):
    (tmp_path / "r.toml").write_text(f'data = "{photos.as_posix()}"\ngan = "lsgam"\n')
    res = invoke_cli("train", "colorize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "bad recipe: r.toml: gan must be one of none, lsgan, vanilla, wgan-gp, got 'lsgam'" in res.stderr


def test_cli_train_data_given_by_the_flag_is_named_as_the_flag(tmp_path, photos):
    (tmp_path / "r.toml").write_text(recipe_toml(photos))
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", "--data", "/no/such", cwd=tmp_path)
    assert_one_line_error(res)
    assert "bad recipe: r.toml with --data /no/such: data: no training images under /no/such: no such folder" in res.stderr


# ------------------------------------------------------------------------------------------ Ctrl-C


def ctrl_c_at(step: int, times: int = 1):
    """A progress callback that sends this process SIGINT ``times`` times when step ``step`` is logged."""
    import os
    import signal

    def progress(msg):
        if msg.startswith(f"step={step} "):
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGINT)
    return progress


def test_ctrl_c_saves_the_step_the_run_stops_at_and_the_same_command_resumes_it(tmp_path, photos):
    # training audit: Ctrl-C stopped the run wherever it was and lost every step since the last checkpoint
    # (checkpoint_every, 100 in the bundled recipes): one stopped before its first checkpoint left none to resume
    with pytest.raises(KeyboardInterrupt) as exc:
        Invert(recipe(photos, steps=6, checkpoint_every=100), tmp_path, progress=ctrl_c_at(2)).fit()
    assert exc.value.__notes__ == [f"{tmp_path / 'checkpoint.pt'} holds step 2 of 6: the same command resumes the run"]
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 2
    again = Invert(recipe(photos, steps=6, checkpoint_every=100), tmp_path, progress=lambda m: None)
    again.fit()
    assert again.at_steps[:2] == [2, 2] and again.stepped == 4


def test_ctrl_c_during_the_last_step_still_writes_the_weight_file(tmp_path, photos):
    # a Ctrl-C held during the last step stopped the run with KeyboardInterrupt: every step done and saved, but no
    # weight file; the run now ends as it would have
    import signal

    before = signal.getsignal(signal.SIGINT)
    weights = Invert(recipe(photos, steps=2, checkpoint_every=100), tmp_path, progress=ctrl_c_at(2)).fit()
    assert weights.is_file() and torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 2
    assert signal.getsignal(signal.SIGINT) is before


def test_a_second_ctrl_c_stops_at_once_keeping_the_last_checkpoint(tmp_path, photos):
    import signal

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        Invert(recipe(photos, steps=6, checkpoint_every=100), tmp_path, progress=ctrl_c_at(2, times=2)).fit()
    assert not (tmp_path / "checkpoint.pt").exists() and signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_save_the_step_the_run_stops_at_as_ctrl_c_does(tmp_path, photos, signame):
    # SIGTERM and SIGHUP (systemd's stop, a closed terminal, kill) still stopped a run at once, losing every step since
    # the last checkpoint; they are held as Ctrl-C is, and the caller's handler stops the run (the CLI's: exit 128 + N)
    import os
    import signal

    from vidcolor.cli import Terminated

    sig = getattr(signal, signame)

    def caller(signum, frame):
        raise Terminated(signum)

    def progress(msg):
        if msg.startswith("step=2 "):
            os.kill(os.getpid(), sig)

    before = signal.signal(sig, caller)
    try:
        with pytest.raises(Terminated) as exc:
            Invert(recipe(photos, steps=6, checkpoint_every=100), tmp_path, progress=progress).fit()
        assert signal.getsignal(sig) is caller
    finally:
        signal.signal(sig, before)
    assert exc.value.signum == sig
    assert exc.value.__notes__ == [f"{tmp_path / 'checkpoint.pt'} holds step 2 of 6: the same command resumes the run"]
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 2


def test_data_workers_ignore_ctrl_c(photos):
    # a terminal's Ctrl-C reaches the data workers too: torch's worker loop ended on it, and the run, saving the step
    # it stopped at, waited on workers that were gone
    import signal

    from vidcolor.training.data import ColorizationCrops
    from vidcolor.training.run import ignore_interrupts, training_loader

    assert training_loader(recipe(photos, workers=1), ColorizationCrops).worker_init_fn is ignore_interrupts
    before = signal.getsignal(signal.SIGINT)
    try:
        ignore_interrupts(0)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_data_worker_outlives_a_stop_signal_sent_to_the_whole_group(photos, signame):
    # `kill -TERM -PGID`, systemd's stop of every process of a unit, a closed terminal's SIGHUP: the workers died
    # at once, and torch's SIGCHLD check stopped the run with 'internal error (RuntimeError: DataLoader worker
    # (pid(s) ...) exited unexpectedly)' before it could save (no checkpoint; the run's own process holds the signal
    # and saves the step it stops at). A worker now ignores it, as it ignores Ctrl-C, and goes on giving batches
    import multiprocessing
    import os
    import signal
    import time

    from vidcolor.training.data import ColorizationCrops
    from vidcolor.training.run import training_loader

    batches = iter(training_loader(recipe(photos, workers=1), ColorizationCrops))
    next(batches)
    (worker,) = multiprocessing.active_children()
    os.kill(worker.pid, getattr(signal, signame))
    time.sleep(0.3)
    next(batches)
    assert worker.is_alive()
    del batches                                     # the loader ends its worker itself
    worker.join(5)
    assert not worker.is_alive()


def test_cli_train_a_recipe_that_is_not_text_is_one_line_naming_it(tmp_path):
    # training audit: 'bad recipe: 'utf-8' codec can't decode byte 0x96 in position 2: invalid start byte', no file
    (tmp_path / "r.toml").write_bytes(b"\x00\x96\xff binary")
    res = invoke_cli("train", "dequantize", "r.toml", "--out", "run", cwd=tmp_path)
    assert_one_line_error(res)
    assert "bad recipe: r.toml: not a TOML recipe (not UTF-8 text" in res.stderr and not (tmp_path / "run").exists()


def test_resuming_a_checkpoint_of_non_finite_weights_is_refused(tmp_path, photos):
    # a checkpoint a diverged run saved before training stopped at a NaN loss: the resume stopped at its first step,
    # saying to lower the lr, which could not help
    from vidcolor.training.run import TrainingDiverged

    Invert(recipe(photos, steps=2), tmp_path, progress=lambda m: None).fit()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    state["G"]["weight"].fill_(float("nan"))
    torch.save(state, tmp_path / "checkpoint.pt")
    with pytest.raises(TrainingDiverged, match=r"checkpoint.pt of step 2 holds non-finite weights \(G.weight\).*--fresh"):
        Invert(recipe(photos, steps=4), tmp_path, progress=lambda m: None).fit()
