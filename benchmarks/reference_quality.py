"""Reference colorization (`colorize --reference`): automatic vs fast vs internal on DAVIS pairs.

Pairs from ../shared/data/video (never trained on: the exemplar network trains on photos only):
the reference is a clip's frame 0, the targets are --frames frames spaced 6 apart from frame 48
(2 s at 24 fps; the last frames when a clip is shorter), all downscaled to 240 px high. Every target
is reduced to its luminance and colorized by

* ``automatic``: the automatic colorizer `colorize-effnet` (photos only, the exemplar's starting point; the
  default `colorize-effnet-video` trains on frames of cows, dog and car-roundabout), no reference;
* ``Reinhard``: Reinhard et al. 2001 global transfer of the reference's LAB statistics (the floor);
* ``fast``: the exemplar network (bundled colorize-exemplar);
* ``internal``: seed 002's two-image GAN trained on the reference and the first target frame (the
  key frame) with --internal-iters iterations per scale at 256 px, then run on every target.

Measured: PSNR (pooled MSE) and mean CIEDE2000 against the ground truth, the ab-histogram
intersection of each output with the reference (Swain & Ballard 1991; the ground truth's own is the
ceiling worth matching), seconds per frame of each mode (internal: inference only) and the internal
mode's training time. Mismatched references: targets of one clip with another clip's frame 0 as the
reference; the output's intersection with that reference, against the automatic output's, shows
whether the palette moves toward it. Writes docs/reference_quality.{md,json} and
docs/reference_contact_sheet.png.

    python benchmarks/reference_quality.py --internal-iters 120 --threads 1 [--readme]   # docs/reference_quality.md's settings
    python benchmarks/reference_quality.py --report-only [--readme]   # the table again from the saved JSON
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidcolor.color import reinhard_transfer
from vidcolor.evaluate import load_frames
from vidcolor.metrics import ab_histogram_intersection
from vidcolor.pipeline import Colorizer
from vidcolor.reference import InternalColorizer, ReferenceColorizer
from vidcolor.internal import TwoImageSettings

from colorize_quality import SHARED, gray, label, resize_h, score
from readme import splice_readme
from benchdata import DATA, require_data

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ["davis_blackswan", "davis_cows", "davis_dog", "davis_car-roundabout"]
MISMATCHED = [("davis_cows", "davis_paragliding-launch"), ("davis_dog", "davis_blackswan")]  # (targets, reference)
MODES = ["automatic", "Reinhard", "fast", "internal"]


def clip_pair(name: str, n: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(reference = frame 0, targets) of a clip, 240 px high."""
    stack = load_frames(SHARED / "video" / f"{name}.mp4", 48 + 6 * n)
    picked = list(range(48, len(stack), 6))[:n] or list(range(len(stack)))[-6 * n::6]
    return resize_h(stack[0]), [resize_h(stack[i]) for i in picked]


def run_modes(ref: np.ndarray, targets: list[np.ndarray], args, jobs: dict) -> tuple[dict, dict]:
    """Outputs of every mode on the gray targets, and the seconds each took (per frame; training apart)."""
    grays = [gray(t) for t in targets]
    outputs, seconds = {}, {}

    def timed(name, fn):
        t0 = time.perf_counter()
        outputs[name] = [fn(g) for g in grays]
        seconds[name] = (time.perf_counter() - t0) / len(grays)

    timed("automatic", lambda g: jobs["automatic"](g[None])[0])
    timed("Reinhard", lambda g: reinhard_transfer(g, ref))
    fast = ReferenceColorizer([ref], args.fast_model, device="cpu")
    timed("fast", lambda g: fast(g[None])[0])
    internal = InternalColorizer([ref], "cpu", TwoImageSettings(iters=args.internal_iters, size=256),
                                 progress=not args.quiet)
    t0 = time.perf_counter()
    internal.train(grays[0])
    seconds["internal_training"] = time.perf_counter() - t0
    timed("internal", lambda g: internal(g[None])[0])
    return outputs, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=4, help="targets per clip")
    ap.add_argument("--internal-iters", type=int, default=150, help="internal mode: iterations per scale")
    ap.add_argument("--fast-model", default="colorize-exemplar", help="exemplar model (name or path)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--readme", action="store_true", help="splice the table into README.md")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--report-only", action="store_true", help="rewrite the table from the saved JSON (no runs)")
    args = ap.parse_args()
    if args.report_only:
        table = write_report(json.loads((args.out / "reference_quality.json").read_text()))
        (args.out / "reference_quality.md").write_text(table + "\n")
        if args.readme:
            splice_readme("reference-results", table)
        print(table)
        return
    require_data(DATA / "video")                  # --report-only reads the saved JSON, no clip
    torch.set_num_threads(args.threads)
    jobs = {"automatic": Colorizer("colorize-effnet", device="cpu")}
    results = {"settings": {"frames_per_clip": args.frames, "internal_iters": args.internal_iters,
                            "internal_size": 256, "height": 240, "threads": args.threads},
               "matched": {}, "mismatched": {}}
    sheet = []
    for name in CLIPS:
        ref, targets = clip_pair(name, args.frames)
        outputs, seconds = run_modes(ref, targets, args, jobs)
        row = {"gray": score([gray(t) for t in targets], targets),
               "truth_hist_intersection": float(np.mean([ab_histogram_intersection(t, ref) for t in targets]))}
        for mode in MODES:
            row[mode] = dict(score(outputs[mode], targets), seconds_per_frame=seconds[mode],
                             hist_intersection=float(np.mean([ab_histogram_intersection(o, ref) for o in outputs[mode]])))
        row["internal_training_seconds"] = seconds["internal_training"]
        results["matched"][name] = row
        sheet.append((f"{name[6:]}: reference", ref, gray(targets[0]), [outputs[m][0] for m in MODES], targets[0]))
        print(name, json.dumps({m: {k: round(v, 3) for k, v in row[m].items()} for m in MODES}), flush=True)
    for target_clip, ref_clip in MISMATCHED:
        _, targets = clip_pair(target_clip, args.frames)
        ref, _ = clip_pair(ref_clip, 1)
        outputs, seconds = run_modes(ref, targets, args, jobs)
        row = {mode: {"hist_intersection": float(np.mean([ab_histogram_intersection(o, ref) for o in outputs[mode]])),
                      "ciede2000": score(outputs[mode], targets)["ciede2000"]} for mode in MODES}
        row["truth_hist_intersection"] = float(np.mean([ab_histogram_intersection(t, ref) for t in targets]))
        results["mismatched"][f"{target_clip[6:]} <- {ref_clip[6:]}"] = row
        sheet.append((f"{target_clip[6:]} <- {ref_clip[6:]}", ref, gray(targets[0]), [outputs[m][0] for m in MODES],
                      targets[0]))
        print(target_clip, ref_clip, json.dumps(row), flush=True)
    args.out.mkdir(exist_ok=True)
    (args.out / "reference_quality.json").write_text(json.dumps(results, indent=2))
    table = write_report(results)
    (args.out / "reference_quality.md").write_text(table + "\n")
    contact_sheet(sheet, args.out / "reference_contact_sheet.png")
    if args.readme:
        splice_readme("reference-results", table)
    print(table)


def write_report(results: dict) -> str:
    s = results["settings"]
    matched = results["matched"]
    avg = lambda mode, key: np.mean([r[mode][key] for r in matched.values()])  # noqa: E731
    lines = [f"Reference = frame 0 of a DAVIS clip, targets = {s['frames_per_clip']} frames from 2 s on, "
             f"{len(matched)} clips, 240 px high; internal mode: {s['internal_iters']} iterations per scale at "
             f"{s['internal_size']} px (the paper: 2000). Automatic = `colorize-effnet` (photos only, no reference). Hist. ∩ = ab-histogram intersection with the reference "
             f"(ground truth's own: {np.mean([r['truth_hist_intersection'] for r in matched.values()]):.3f}). "
             f"CPU, {s['threads']} torch thread(s).", "",
             "| mode | PSNR (dB) | CIEDE2000 | hist. ∩ with reference | s/frame |", "|---|---|---|---|---|"]
    g = {k: np.mean([r["gray"][k] for r in matched.values()]) for k in ("psnr", "ciede2000")}
    lines.append(f"| gray input | {g['psnr']:.2f} | {g['ciede2000']:.2f} | — | — |")
    for mode in MODES:
        lines.append(f"| {mode} | {avg(mode, 'psnr'):.2f} | {avg(mode, 'ciede2000'):.2f} | "
                     f"{avg(mode, 'hist_intersection'):.3f} | {avg(mode, 'seconds_per_frame'):.3f} |")
    train = [r["internal_training_seconds"] for r in matched.values()]
    lines += ["", f"Internal mode training, one key frame at 256 px, {s['internal_iters']} iterations per scale: "
                  f"{np.mean(train):.0f} s (range {min(train):.0f}-{max(train):.0f} s); at the paper's 2000 "
                  f"iterations that is about {np.mean(train) * 2000 / s['internal_iters'] / 60:.0f} min "
                  "(linear extrapolation, not measured).", "",
              "Per clip, CIEDE2000 (lower is better):", "",
              "| clip | gray | " + " | ".join(MODES) + " |", "|---|" + "---|" * (len(MODES) + 1)]
    for name, r in matched.items():
        lines.append(f"| {name[6:]} | {r['gray']['ciede2000']:.2f} | " +
                     " | ".join(f"{r[m]['ciede2000']:.2f}" for m in MODES) + " |")
    lines += ["", "Mismatched reference (another clip's frame 0): ab-histogram intersection of the output with "
                  "that reference (higher = the palette moved toward it):", "",
              "| targets <- reference | ground truth | " + " | ".join(MODES) + " |", "|---|---|" + "---|" * len(MODES)]
    for name, r in results["mismatched"].items():
        lines.append(f"| {name} | {r['truth_hist_intersection']:.3f} | " +
                     " | ".join(f"{r[m]['hist_intersection']:.3f}" for m in MODES) + " |")
    return "\n".join(lines)


def contact_sheet(rows, png: Path, height: int = 110) -> None:
    """One row per pair: reference | gray target | automatic | Reinhard | fast | internal | ground truth."""
    def thumb(img, text):
        h, w = img.shape[:2]
        return label(np.asarray(Image.fromarray(img).resize((round(w * height / h), height), Image.LANCZOS)), text)

    out = []
    for title, ref, g, outs, truth in rows:
        cells = [thumb(ref, title), thumb(g, "gray input")] + [thumb(o, m) for o, m in zip(outs, MODES)]
        cells.append(thumb(truth, "ground truth"))
        width = max(c.shape[1] for c in cells)
        out.append(np.concatenate([np.pad(c, ((0, 0), (0, width - c.shape[1]), (0, 0))) for c in cells], 1))
    Image.fromarray(np.concatenate(out, 0)).save(png, optimize=True)


if __name__ == "__main__":
    main()
