"""The wheel works outside the source tree: bundled weights are package data (``importlib.resources``)."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                          str(ROOT)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr      # setuptools and wheel come with the test extra
    return next(out.glob("vidcolor-*.whl"))


def test_the_wheel_holds_every_bundled_weight_file_and_card(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for stem in ("dequantize-fq-l2", "dequantize-pix2pix-rgb", "colorize-effnet", "colorize-effnet-video", "colorize-exemplar"):
        assert f"vidcolor/weights/{stem}.safetensors" in names and f"vidcolor/weights/{stem}.md" in names


def test_a_job_runs_from_the_installed_wheel_in_another_folder(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    work = tmp_path / "elsewhere"
    work.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(work / "a.png")
    # -S: no site processing, so the source tree's editable install is not on the path; the dependencies
    # come from this interpreter's site-packages, vidcolor only from the installed wheel
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]]))
    env.pop("PYTHONHOME", None)
    code = ("import vidcolor, vidcolor.cli, sys; print(vidcolor.__file__, file=sys.stderr); "
            "sys.argv = ['vidcolor', 'dequantize', 'a.png', '-q']; vidcolor.cli.main()")
    res = subprocess.run([sys.executable, "-S", "-c", code], cwd=work, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip().splitlines()[0].startswith(str(target))      # the wheel's copy ran, not the tree's
    assert (work / "a_dequantized.png").is_file()
