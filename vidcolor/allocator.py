"""glibc malloc settings for the command line's process: freed frame buffers are reused, not handed back.

A run allocates and frees the same few large arrays for every frame (activations of the generator, float
frames of the consistency stage: 0.5 to 4 MB each at 640x360). glibc serves blocks above its mmap threshold
with fresh ``mmap`` pages and trims free memory at the top of its heaps back to the system, so each frame
pays for page faults on memory it has just freed (about 1,200 minor faults per frame in the dequantization
generator alone). Fixing both thresholds (``mallopt``, the C library's documented interface; the same as the
``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` environment variables) keeps those pages in the
process: the generator in bf16 on one core of the 2-core AMD EPYC (AVX-512) 35.2 -> 32.6 ms per 640x360
frame, and ``vidcolor dequantize`` end to end 3-10% faster there in three interleaved pairs of 312-frame
runs (stop 50, docs/speed_cpu_epyc_avx512.md). Peak memory does not change; up to :data:`TRIM_THRESHOLD` of
memory freed after a peak stays with the process.

Only the command line calls :func:`reuse_freed_memory`: a library does not set its host process's allocator.
"""
from __future__ import annotations

import ctypes
import os
import platform

MMAP_THRESHOLD = 32 << 20
"""Bytes (32 MiB, glibc's largest dynamic threshold on 64-bit systems): blocks below it come from the heap.
A 1920x1080 float32 RGB frame is 24.9 MB."""
TRIM_THRESHOLD = 256 << 20
"""Bytes of free memory at the top of a heap that stay in the process (glibc's default: 128 KiB, raised
with the dynamic mmap threshold)."""

_M_TRIM_THRESHOLD = -1        # <malloc.h>
_M_MMAP_THRESHOLD = -3
_ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "LD_PRELOAD")


def reuse_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (:data:`MMAP_THRESHOLD`, :data:`TRIM_THRESHOLD`) for this
    process. Nothing is changed where the C library is not glibc, or where the user has chosen the allocator's
    settings (the environment variables above, ``glibc.malloc`` tunables in ``GLIBC_TUNABLES``, or another
    allocator through ``LD_PRELOAD``, e.g. jemalloc or tcmalloc).

    Returns:
        True when both thresholds were set.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(os.environ.get(k) for k in _ENVIRONMENT) or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD,
                                                                                       TRIM_THRESHOLD))
