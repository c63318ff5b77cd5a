"""The job registry: every job vidcolor runs or trains, by name, in one place.

A job's name is what its weight files declare (``arch["job"]``); the registry gives its default bundled
model, the suffix of its default output name, and, for jobs with bundled weights, the ``vidcolor train``
command and where its recipe class and training loop live. Training code is named, not imported, so
the runtime path never loads :mod:`vidcolor.training` (:func:`training_loop` imports it on demand).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Job:
    """One job.

    Attributes:
        name: the ``arch["job"]`` of its weight files.
        model: default bundled model (registry name in :mod:`vidcolor.weights`); None for jobs that train
            their network at run time.
        suffix: default output ``<stem>_<suffix>.mp4`` (``.png`` for images, ``<folder>_<suffix>/``).
        train: name of its ``vidcolor train`` command; None when it has no bundled weights to reproduce.
        loop: ``"module:RecipeClass:train_function"`` of its training loop.
        crf: default encoder quality of its video output (x264/x265 constant rate factor, NVENC ``-cq``;
            lower is better and larger). Dequantization's output is encoded at 14, not 16: its restored
            gradations are finer than the input's bands, and an encode at 16 undoes most of them. Chosen by
            ``benchmarks/dequantize_encode.py`` on five validation clips (48 frames, 640x360, 4 bits per
            channel at bin middles, gain over the input re-encoded at the same crf): 16 keeps +0.24 dB
            of the +0.82 the frames gain before the encode (worst clip -0.02), 14 keeps +0.44 (worst
            +0.16) for 1.38 times the bytes, 13 +0.45, 12 +0.37, 10 +0.35 (re-run at stop 37 with the
            quantizer estimate's fix: +0.98 before the encode, 14 +0.51, 13 +0.54 for 1.16 times the
            bytes; 14 stays). x264's ``tune grain`` (stop 37) keeps more of the gain (+0.58 at crf 17,
            worst +0.27, 1.02 times crf 14's bytes) only because it costs the input's re-encode more:
            against the original the output is 0.12 dB further away (36.07 dB against 36.19) at those
            bytes, and it is no closer on any other degradation there, so the output is not tuned by
            default (``--tune`` is the user's).
        x264_params: x264 options added to its default preset (``medium``) for this job's output, as ffmpeg's
            ``-x264-params``; None: the preset alone. They apply at the default preset when the caller gives
            no x264 options (:func:`vidcolor.api.dequantize`). See :data:`DEQUANTIZE_X264_PARAMS` for dequantization's.
    """

    name: str
    model: str | None
    suffix: str
    train: str | None = None
    loop: str | None = None
    crf: int = 16
    x264_params: str | None = None


DEQUANTIZE_X264_PARAMS = "partitions=i4x4,i8x8:dct-decimate=0"
"""x264 options on top of preset ``medium`` for dequantization's output (stop 53): no inter sub-partitions (16x16
motion blocks only; intra 4x4 and 8x8 kept) and no DCT decimation (x264 otherwise drops blocks whose only
coefficients are small ones: the fine gradations dequantization restores). Chosen by
``benchmarks/dequantize_encode.py --crf 14`` on its five validation clips (48 frames, 640x360;
``docs/dequantize_encode_x264.md``), output and input re-encode written alike, against medium alone: x264's CPU
23.8 -> 15.5 ms per frame; gain over (a') at 4 bits per channel, bin middles +1.004 -> +1.019 dB (worst clip
+0.350 -> +0.367; output PSNR 36.68 -> 36.69 dB), bin floor +6.925 -> +6.930, 16 colours +0.258 -> +0.260,
Bayer-dithered +1.378 -> +1.380; 2.4-3.5% more bytes; CAMBI no higher; on the validation film excerpts -0.01 to
-0.015 dB. Rejected there: ``subme=6`` (-3 ms, but CAMBI 0.12 / 0.30 -> 0.16 / 0.39: the banding ``fast`` brings
back), ``trellis=0`` (-3 ms, -0.15 dB), ``me=dia`` (-0.03 dB, worst clip -0.07), ``psy-rd=0,0`` and ``tune psnr``
(-0.13 dB, CAMBI up), and ``ref=1:rc-lookahead=10:weightp=1`` on top (-1.4 ms more, worst clip -0.03 dB)."""


RENDER_SIZE = 256
"""Default shorter side, in pixels, of the frame the colorizers' network sees (``--render-size``): the size of
the photos they trained on. Swept on the calibration photos and the wide benchmark at stop 56
(docs/colorize_render_size.md): 160 px is more accurate on the photos, worse on footage unlike them."""

RENDER_SIZE_RANGE = (32, 1024)
"""The render sizes a colorizer takes (pixels, shorter side). Below 32 the encoder's 1/32 stage is empty; above
1024 a render costs gigabytes (a 16:9 render at 12,000 px asked for 50 GB and was killed) and is no better: the
models trained at 256 px, and accuracy already falls at 320 and 384 (docs/colorize_render_size.md)."""

DEFAULT_TILE = 1024
"""Frames with a side longer than this (pixels) run tile by tile (``--tile``; see
:meth:`vidcolor.engine.Engine._tiled`); 0 = never."""

TILE_OVERLAP = 32
"""Context (pixels) each tile sees beyond the core it contributes; a multiple of the U-Net's stride 32."""

MIN_TILE = 2 * TILE_OVERLAP + 32
"""The smallest tile (pixels) but 0 (off): its context on both sides and a core of one stride (96). The engine
refuses a smaller one, and ``--tile``'s help and refusal say so (its help had said only x>=0)."""

CRF_RANGE = (0, 51)
"""The ``crf`` values the encoders take (``--crf``; x264/x265's constant rate factor, NVENC's ``-cq``): integers,
0 (best, largest) to 51. x264 clamped 99 to 51 silently, and failed on -5 only inside ffmpeg."""

JOBS: dict[str, Job] = {j.name: j for j in (
    Job("dequantize", "dequantize-fq-l2", "dequantized", "dequantize", "vidcolor.training.loop:DequantizeRecipe:train_dequantize",
        crf=14, x264_params=DEQUANTIZE_X264_PARAMS),
    Job("colorize", "colorize-effnet-video", "colorized", "colorize",
        "vidcolor.training.colorize:ColorizeRecipe:train_colorize"),
    Job("colorize-reference", "colorize-exemplar", "colorized", "exemplar",
        "vidcolor.training.exemplar:ExemplarRecipe:train_exemplar"),
    Job("colorize-internal", None, "colorized"),
)}

DEFAULTS: dict[str, str] = {name: job.model for name, job in JOBS.items() if job.model}
"""Default model per job (a view of :data:`JOBS`)."""

TRAINABLE: dict[str, Job] = {job.train: job for job in JOBS.values() if job.train}
"""``vidcolor train`` command name -> job."""


def training_loop(train: str) -> tuple[type, Callable]:
    """``(recipe dataclass with from_toml, training function (recipe, out_dir, resume, progress, device))`` of the
    ``vidcolor train`` command ``train``, imported now.

    Raises:
        KeyError: no such training command.
    """
    module, recipe, fn = TRAINABLE[train].loop.split(":")
    mod = importlib.import_module(module)
    return getattr(mod, recipe), getattr(mod, fn)
