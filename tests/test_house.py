"""The house plan (../shared/DESIGN.md): the runtime path never imports ``vidcolor.training`` or ``vidcolor.metrics``.

Each check runs in a fresh interpreter, so that what other tests imported does not count.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

RUNTIME = ["vidcolor.api", "vidcolor.cli", "vidcolor.pipeline", "vidcolor.reference", "vidcolor.internal", "vidcolor.io",
           "vidcolor.quantizer.tracker", "vidcolor.temporal", "vidcolor.color", "vidcolor.weights"]
OFF_LIMITS = ("vidcolor.training", "vidcolor.metrics")


def loaded_after(code: str) -> list[str]:
    """The ``vidcolor.training`` / ``vidcolor.metrics`` modules loaded after running ``code`` in a new interpreter."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({OFF_LIMITS!r}))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_runtime_modules_import_no_training_or_metrics():
    assert loaded_after("\n".join(f"import {m}" for m in RUNTIME)) == []


def test_the_check_sees_a_training_import():
    # the probe itself works: importing the training jobs (what `vidcolor train` does) is seen
    assert "vidcolor.training.loop" in loaded_after("import vidcolor.jobs\nvidcolor.jobs.training_loop('dequantize')")


def test_cli_commands_other_than_train_import_no_training():
    # --help builds every command's options; only the body of `train` imports vidcolor.training
    code = ("from click.testing import CliRunner\nfrom vidcolor.cli import main\n"
            "for args in (['--help'], ['dequantize', '--help'], ['colorize', '--help'], ['train', '--help']):\n"
            "    result = CliRunner().invoke(main, args)\n"
            "    assert result.exit_code == 0, (args, result.output)")
    assert loaded_after(code) == []


def test_internal_reference_mode_trains_without_the_training_package():
    # the two-image GAN is trained at run time: vidcolor.internal, not vidcolor.training
    code = ("import numpy as np\nfrom vidcolor.internal import TwoImageSettings\n"
            "from vidcolor.reference import InternalColorizer\n"
            "rng = np.random.default_rng(0)\n"
            "ref, frames = rng.integers(0, 256, (24, 32, 3), np.uint8), rng.integers(0, 256, (1, 24, 32, 3), np.uint8)\n"
            "job = InternalColorizer([ref], 'cpu', TwoImageSettings(iters=1, size=32, width=4), progress=False)\n"
            "assert job(frames).shape == frames.shape and job.model is not None")
    assert loaded_after(code) == []


def test_the_package_exports_the_api_lazily():
    """``import vidcolor; vidcolor.dequantize(...)``: the package gives :mod:`vidcolor.api`'s public names (its
    ``__all__``), and only imports it when one is used: ``import vidcolor`` alone loads neither the api nor torch."""
    code = ("import json, sys\nimport vidcolor\n"
            "before = sorted(m for m in sys.modules if m == 'torch' or m.startswith('vidcolor.'))\n"
            "import vidcolor.api\n"
            "names = {n: getattr(vidcolor, n) is getattr(vidcolor.api, n) for n in vidcolor.api.__all__}\n"
            "print(json.dumps([before, names, vidcolor.__all__, sorted(vidcolor.api.__all__), "
            "sorted(set(vidcolor.api.__all__) - set(dir(vidcolor)))]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    before, names, exported, api_all, not_listed = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == []                         # nothing but the package itself: no vidcolor.api, no torch
    assert names and all(names.values())
    assert sorted(set(exported) - {"__version__"}) == api_all and not_listed == []


def test_the_package_refuses_an_unknown_name():
    import vidcolor

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        vidcolor.nothing_here
