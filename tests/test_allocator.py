"""The command line's glibc malloc settings (vidcolor.allocator)."""
from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from vidcolor.allocator import reuse_freed_memory

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="glibc's malloc only")

# frame-sized arrays allocated and freed again and again, as a run does per frame; prints page faults per round
_ROUNDS = """
import resource, sys
import numpy as np
from vidcolor.allocator import reuse_freed_memory
print(reuse_freed_memory() if sys.argv[1] == "set" else None)
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def frame():
    a, b = np.ones((360, 640, 3), np.float32), np.ones((360, 640, 3), np.float32)
    c = np.ones((720, 1280), np.float32)
for _ in range(3):
    frame()
start = faults()
for _ in range(20):
    frame()
print((faults() - start) / 20)
"""


def _faults_per_round(mode: str, env: dict | None = None) -> tuple[str, float]:
    done = subprocess.run([sys.executable, "-c", _ROUNDS, mode], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    result, faults = done.stdout.split()
    return result, float(faults)


@glibc
def test_freed_frame_buffers_are_reused_without_page_faults():
    """Without the settings glibc hands the freed pages back and faults them in again every round (about 2,000
    faults for 9 MB of arrays); with them the pages stay in the process."""
    _, before = _faults_per_round("default")
    result, after = _faults_per_round("set")
    assert result == "True"
    assert before > 500 and after < before / 10, (before, after)


@glibc
def test_an_allocator_the_user_chose_is_left_alone(monkeypatch):
    for name, value in (("MALLOC_MMAP_THRESHOLD_", "65536"), ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1"),
                        ("LD_PRELOAD", "libjemalloc.so.2")):
        monkeypatch.setenv(name, value)
        assert reuse_freed_memory() is False, name
        monkeypatch.delenv(name)
