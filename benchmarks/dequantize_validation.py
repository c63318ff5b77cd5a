"""Dequantization validation: the rows on which settings are chosen (never the benchmark's rows).

Content held back from training but not used by ``dequantize_quality.py``: the first ``--photos``
held-back photos (``split_holdout``, every 20th); two frames (the first and the middle one, at
640x360) of each held-back DAVIS clip that the benchmark does not score (``split_clips``' held-back
clips after the benchmark's first ``HELD_CLIPS``); and the held-back pixel art that the benchmark
does not show: ``supertux/`` and the Atari frames of the held-back games other than the benchmark clips'
(Ms. Pac-Man, River Raid), enlarged 2x nearest neighbour; black-and-white versions (BT.601 luma in
R, G and B) of the photos, clip frames and pixel art; and two frames (as for the DAVIS clips) of each
black-and-white film excerpt of ``bw/video`` that the benchmark does not score (``validation_films``). Degradations:
ffmpeg palettegen/paletteuse 16 colours (no dither, and Bayer dither) and 64 colours, vidcolor's median
cut 16, 4 bits per channel (mid and floor), and none; then an intra H.264 round trip at crf 14
(``h264_roundtrip``). Each image is dequantized alone (its own quantizer estimate). The generator's
correction is scaled by each strength in :data:`STRENGTHS` and reconstructed as the pipeline does it
(``Quantizer.reconstruct``: for uniform levels from the bins' centres, the bilateral
filter's correction added, weighted per kind, for uniform levels the result pulled towards the contour
estimate at its default weights, then projected onto the cells); reports per (content, degradation) the
mean and worst PSNR gain over the input, and per kind of quantizer found (``Quantizer.strength_key``: bit
truncation apart from other uniform levels, colour palettes of at most 16 colours from other palettes) the
strength that :func:`pick_strength` picks (stored in the weight file by ``train/publish.py --strength``);
for uniform levels also with the contour estimate at each ``--contour-sweep`` weight, one weight for every
pixel (the generator runs once per image for all of them).

    python benchmarks/dequantize_validation.py --model runs/dequantize-fq-l2/checkpoint.pt
    python benchmarks/dequantize_validation.py --contour-sweep 0,0.25,0.3,0.35,0.4   # where CONTOUR_WEIGHT was picked
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

from vidcolor.io import VideoReader
from vidcolor.jobs import DEFAULTS
from vidcolor.metrics import channel_bias, psnr
from vidcolor.pipeline import Dequantizer
from vidcolor.quantizer.contours import CONTOUR_WEIGHT
from vidcolor.quantizer.estimation import estimate
from vidcolor.training.data import list_images, read_rgb, split_clips, split_holdout, split_retro
from vidcolor.training.degrade import Degradation
from vidcolor.training.loop import DequantizeRecipe, build_generator
from vidcolor.weights import save_generator

from dequantize_quality import DATA, HELD_CLIPS, validation_films
from benchdata import require_data

BENCHMARK_GAMES = ("ms_pacman", "riverraid")
DEGRADATIONS = {
    "ffmpeg 16": Degradation("ffmpeg", colors=16, crf=14),
    "ffmpeg 16 bayer": Degradation("ffmpeg", colors=16, ffmpeg_dither="bayer", crf=14),
    "ffmpeg 64": Degradation("ffmpeg", colors=64, crf=14),
    "median cut 16": Degradation("palette", colors=16, crf=14),
    "4 bit mid": Degradation("uniform", bits=4, convention="mid", crf=14),
    "4 bit floor": Degradation("uniform", bits=4, convention="floor", crf=14),
    "none": Degradation("none", crf=14),
}


def weights_from(path: str, recipe: str | None) -> str:
    """A safetensors path as is; a run's ``checkpoint.pt`` exported to a temporary safetensors file."""
    if not path.endswith(".pt"):
        return path
    r = DequantizeRecipe.from_toml(recipe) if recipe else DequantizeRecipe()
    G, arch = build_generator(r)
    G.load_state_dict(torch.load(path, weights_only=True)["G"])
    out = Path(tempfile.mkdtemp()) / "checkpoint.safetensors"
    save_generator(G, out, arch)
    return str(out)


def clip_frames(clip: Path) -> list[np.ndarray]:
    """The first and the middle frame of ``clip``, resized to 640x360 (INTER_AREA) like the benchmark's clips."""
    with VideoReader(clip) as reader:
        frames = list(reader)
    return [cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA) if f.shape[:2] != (360, 640) else f
            for f in (frames[0], frames[len(frames) // 2])]


CONTENT_KINDS = ("photos", "clip frames", "pixel art 2x", "gray photos", "gray clip frames", "gray pixel art 2x",
                 "film frames")
"""The kinds of validation content :func:`content` returns, in its order."""


def content(photos: int) -> dict[str, list[np.ndarray]]:
    held_photos = split_holdout(list_images(DATA / "train"))[1][:photos]
    held_clips = split_clips(DATA / "video")[1][HELD_CLIPS:]
    retro = split_retro(DATA / "retro")[1]
    art = [p for p in retro if p.parent.name == "supertux"
           or (p.parent.name == "atari" and not any(g in p.stem for g in BENCHMARK_GAMES))]
    crop = lambda x: x[: x.shape[0] // 2 * 2 or 2, : x.shape[1] // 2 * 2 or 2]  # noqa: E731
    photos = [read_rgb(p) for p in held_photos]
    frames = [f for c in held_clips for f in clip_frames(c)]
    gray = lambda x: np.repeat(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)[..., None], 3, -1)  # noqa: E731
    art = [crop(read_rgb(p)[:200, :240]).repeat(2, 0).repeat(2, 1) for p in art]
    return {"photos": photos, "clip frames": frames, "pixel art 2x": art,
            "gray photos": [gray(x) for x in photos], "gray clip frames": [gray(x) for x in frames],
            "gray pixel art 2x": [gray(x) for x in art],
            "film frames": [f for c in validation_films() for f in clip_frames(c)]}


STRENGTHS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.75, 1.0)


def pick_strength(gains: dict[float, list[float]]) -> float:
    """The rule: the strength with the largest mean gain among those whose worst gain is >= -0.1 dB (the
    issue's "never meaningfully worse than the input"); 0 (the input itself) always qualifies."""
    ok = [a for a in STRENGTHS if gains[a] and min(gains[a]) >= -0.1] or [0.0]
    return max(ok, key=lambda a: np.mean(gains[a]) if gains[a] else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULTS["dequantize"], help="name, .safetensors, or a run's checkpoint.pt")
    ap.add_argument("--recipe", default="train/dequantize-fq-l2.toml", help="recipe of a checkpoint.pt")
    ap.add_argument("--photos", type=int, default=24)
    ap.add_argument("--content", nargs="+", default=None, choices=CONTENT_KINDS, metavar="CONTENT",
                    help=f"content kinds to run (default all: {', '.join(CONTENT_KINDS)})")
    ap.add_argument("--contour-sweep", default="",
                    help="comma-separated contour weights (one for every pixel) whose strength picks are also "
                         "reported (same pass); the table uses the default weights (Quantizer.contour_estimate)")
    args = ap.parse_args()
    require_data(DATA / "train", DATA / "video", DATA / "retro")
    torch.set_num_threads(1)
    job = Dequantizer(weights_from(args.model, args.recipe), "cpu", consistency=False)
    job.strength = {}
    weights: list[float | None] = [None] + [float(w) for w in args.contour_sweep.split(",") if w]  # None: defaults
    by_kind: dict[tuple[str, float | None], dict[float, list[float]]] = {}
    print("| content | degradation | found (images) | " + " | ".join(f"strength {a:g}: mean / worst" for a in STRENGTHS)
          + " | bias R, G, B at 1 |")
    print("|---|---|---|" + "---|" * (len(STRENGTHS) + 1))
    for kind, images in content(args.photos).items():
        if args.content and kind not in args.content:
            continue
        for dname, deg in DEGRADATIONS.items():
            gains: dict[tuple[float | None, float], list[float]] = {(w, a): [] for w in weights for a in STRENGTHS}
            found, biases = [], []
            for i, x in enumerate(images):
                coarse = deg.apply(x, seed=i)
                raw = job(coarse[None])[0].astype(np.float32)
                est = estimate(coarse)
                found.append(est.kind + ("/graphics" if est.graphics else ""))
                base = min(psnr(coarse, x), 60)
                for w in weights:
                    for a in STRENGTHS:   # as the pipeline: strength 0 passes the frame, else Quantizer.reconstruct
                        out = est.reconstruct(coarse[None], raw[None], a, w)[0] if a > 0 else coarse
                        gains[w, a].append(min(psnr(out, x), 60) - base)
                        if a == 1.0 and w == weights[0]:
                            biases.append(channel_bias(out, x))
                if est.kind != "none" and not est.graphics:       # per strength key: the weight file's
                    for w in weights:
                        for a in STRENGTHS:
                            by_kind.setdefault((est.strength_key, w), {b: [] for b in STRENGTHS})[a].append(
                                gains[w, a][-1])
            counts = ", ".join(f"{k} {found.count(k)}" for k in sorted(set(found)))
            bias = np.mean(biases, 0)
            table = [gains[weights[0], a] for a in STRENGTHS]
            print(f"| {kind} | {dname} | {counts} | " + " | ".join(f"{np.mean(g):+.2f} / {min(g):+.2f}" for g in table)
                  + f" | {', '.join(f'{b:+.1f}' for b in bias)} |", flush=True)
    print()
    for (k, w), gains in by_kind.items():
        uniform = k.split()[0] in CONTOUR_WEIGHT
        if not uniform and w != weights[0]:
            continue                      # the contour weight changes nothing for this kind
        label = (f"{k}, contour weight {'default' if w is None else f'{w:g}'}") if uniform else k
        summary = ", ".join(f"{a:g}: {np.mean(g):+.3f} / {min(g):+.2f}" for a, g in gains.items())
        print(f"{label} ({len(gains[1.0])} images): {summary}; pick {pick_strength(gains):g}")
    print(f"model: {args.model}", file=sys.stderr)


if __name__ == "__main__":
    main()
