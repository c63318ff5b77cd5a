"""vidcolor.jobs: one registry that the weights, the jobs, the CLI and the training commands agree with."""
from __future__ import annotations

import dataclasses

from vidcolor.cli import main, train
from vidcolor.jobs import DEFAULTS, JOBS, TRAINABLE, training_loop
from vidcolor.pipeline import Colorizer, Dequantizer
from vidcolor.reference import InternalColorizer, ReferenceColorizer
from vidcolor.weights import REGISTRY, load_generator


def test_each_default_model_is_bundled_and_declares_its_job():
    assert set(DEFAULTS) == {"dequantize", "colorize", "colorize-reference"}
    for job, model in DEFAULTS.items():
        assert model in REGISTRY
        assert load_generator(model)[1]["job"] == job


def test_job_classes_name_registry_entries():
    assert [c.JOB for c in (Dequantizer, Colorizer, ReferenceColorizer, InternalColorizer)] == list(JOBS)


def test_train_commands_come_from_the_registry():
    assert sorted(train.commands) == sorted([*TRAINABLE, "pack"]) == ["colorize", "dequantize", "exemplar", "pack"]
    assert "export" in main.commands
    for name, job in TRAINABLE.items():
        recipe_cls, fn = training_loop(name)
        assert dataclasses.is_dataclass(recipe_cls) and callable(fn) and hasattr(recipe_cls, "from_toml")
        assert fn.__name__ == f"train_{name}" and job.train == name
