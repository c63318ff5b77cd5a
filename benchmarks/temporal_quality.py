"""Temporal smoothing on real clips: ``--temporal off`` vs ``ema`` vs ``flow`` for both jobs (issue 5).

For each DAVIS clip that training holds back (:func:`vidcolor.training.data.split_clips`: the default
colorizer trains on frames of the others), first --frames frames at 640x360: the job's input is made (dequantize: the clip
quantized to a 16-colour median-cut palette, one palette per clip; colorize: the clip's luminance). Colorize:
the generator runs once (:meth:`LabJob.predict_lab`), and each smoothing mode is applied to its ab in a
fresh :class:`~vidcolor.temporal.TemporalSmoother`. Dequantize: the whole job runs in each mode
(:class:`~vidcolor.pipeline.Dequantizer` with ``set_temporal``, batches of 4, output chroma not kept, as for an
x264 file), since its output is the generator's after the consistency stage (strength, projection), which
decides where smoothing applies (:data:`vidcolor.pipeline.TEMPORAL_KINDS`); the generator alone was scored
before. Reported per mode: warp error (Lai et al. 2018) and CDC (Liu et al. 2021) of the output, both with the
original clip's optical flow, next to the original clip's own (the floor) and the job's input's (the
baseline: doing nothing); PSNR against the original; milliseconds per frame of the generator stage and of the
smoothing (dequantize: its run's time less the ``off`` run's). Writes ``docs/temporal_quality.{md,json}`` and a
crop strip PNG (six consecutive frames, off above flow) for the clip where smoothing lowered the warp error most.

    python benchmarks/temporal_quality.py
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vidcolor.color import lab_to_rgb
from vidcolor.evaluate import load_frames
from vidcolor.metrics import cdc, pair_flows, psnr, warp_error
from vidcolor.pipeline import Colorizer, Dequantizer
from vidcolor.temporal import MODES, TemporalSmoother
from vidcolor.training.data import split_clips
from vidcolor.training.degrade import quantize_clip

from colorize_quality import gray
from readme import STRIP_CAPTION, splice_readme
from benchdata import require_data

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "video"
SIZE = (640, 360)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=[c.stem.removeprefix("davis_") for c in split_clips(DATA)[1]])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--jobs", nargs="+", default=["dequantize", "colorize"])
    ap.add_argument("--out", default=str(ROOT / "docs" / "temporal_quality.md"))
    ap.add_argument("--readme", action="store_true", help="also splice the tables into README.md")
    args = ap.parse_args()
    require_data(DATA)
    jobs = {"dequantize": lambda: Dequantizer(device="cpu"), "colorize": lambda: Colorizer(device="cpu")}
    results: dict = {}
    strips = {}
    for name in args.jobs:
        job = jobs[name]()
        acc = {m: {"warp_error": [], "cdc": [], "psnr": [], "smooth_ms": []} for m in MODES}
        acc["original"] = {"warp_error": [], "cdc": []}
        acc["input"] = {"warp_error": [], "cdc": [], "psnr": []}
        gen_ms = []
        best = (-np.inf, None)
        for clip_name in args.clips:
            clip = np.stack([cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA)
                             for f in load_frames(DATA / f"davis_{clip_name}.mp4", args.frames)])
            x = quantize_clip(clip, "palette", colors=16) if name == "dequantize" else gray(clip)
            flows = pair_flows(clip)  # the original's motion scores every output of this clip
            acc["original"]["warp_error"].append(warp_error(clip, flows=flows))
            acc["original"]["cdc"].append(cdc(clip))
            acc["input"]["warp_error"].append(warp_error(x, flows=flows))
            acc["input"]["cdc"].append(cdc(x))
            acc["input"]["psnr"].append(psnr(x, clip))
            outs = {}
            if name == "dequantize":
                runs = {mode: whole_job(job, x, mode) for mode in MODES}
                gen_ms.append(runs["off"][1])
            else:
                t0 = time.perf_counter()
                L, ab = zip(*(job.predict_lab(f[None]) for f in x))
                gen_ms.append(1000 * (time.perf_counter() - t0) / len(x))
                L, ab = np.concatenate(L), np.concatenate(ab)
            for mode in MODES:
                if name == "dequantize":
                    out = runs[mode][0]
                    acc[mode]["smooth_ms"].append(max(runs[mode][1] - runs["off"][1], 0.0))
                else:
                    smoother = TemporalSmoother(mode) if mode != "off" else None
                    t0 = time.perf_counter()
                    sm = np.stack([smoother(l, a) for l, a in zip(L, ab)]) if smoother else ab
                    acc[mode]["smooth_ms"].append(1000 * (time.perf_counter() - t0) / len(x))
                    out = lab_to_rgb(np.concatenate([L[..., None], sm], -1))
                outs[mode] = out
                acc[mode]["warp_error"].append(warp_error(out, flows=flows))
                acc[mode]["cdc"].append(cdc(out))
                acc[mode]["psnr"].append(psnr(out, clip))
            gain = acc["off"]["warp_error"][-1] - acc["flow"]["warp_error"][-1]
            if gain > best[0]:
                best = (gain, (clip_name, outs["off"], outs["flow"]))
            print(name, clip_name, {m: {k: round(v[-1], 5) for k, v in acc[m].items()} for m in acc})
        results[name] = {m: {k: float(np.mean(v)) for k, v in acc[m].items()} for m in acc}
        for m in MODES:   # the worst clip beside the mean: the highest warp error against the original's own
            ratios = np.array(acc[m]["warp_error"]) / np.array(acc["original"]["warp_error"])
            results[name][m]["worst_clip"] = {"clip": args.clips[int(ratios.argmax())], "vs_original": float(ratios.max())}
            results[name][m]["worst_psnr_clip"] = worst_psnr_clip(acc[m]["psnr"], acc["input"]["psnr"], args.clips)
        results[name]["generator_ms"] = float(np.mean(gen_ms))
        strips[name] = best[1]
    text = write_report(results, args, Path(args.out))
    if args.readme:
        splice_readme("temporal-results", text + "\n" + STRIP_CAPTION)
    crop_strip(strips, Path(args.out).with_name("temporal_strip.png"))


def worst_psnr_clip(psnr_out: list[float], psnr_input: list[float], clips: list[str]) -> dict:
    """The clip on which an output gains least PSNR over the job's input (per clip, in ``clips``' order: the output's
    and the input's PSNR against the original), the worst clip beside the PSNR mean.

    Returns:
        ``{"clip": name, "gain_db": output PSNR - input PSNR on that clip}``.

    Raises:
        ValueError: if the lists differ in length or are empty.
    """
    if not (len(psnr_out) == len(psnr_input) == len(clips)) or not clips:
        raise ValueError("worst_psnr_clip needs one output PSNR, input PSNR and clip name per clip")
    gain = np.asarray(psnr_out, dtype=float) - np.asarray(psnr_input, dtype=float)
    return {"clip": clips[int(gain.argmin())], "gain_db": float(gain.min())}


def whole_job(job: Dequantizer, frames: np.ndarray, mode: str, batch: int = 4) -> tuple[np.ndarray, float]:
    """``frames`` (uint8 RGB ``(N, H, W, 3)``, one clip) through the whole dequantize job with ``--temporal mode``,
    as the CLI runs it into an x264 file (output chroma not kept), from a fresh clip state: the output (uint8 RGB,
    same shape) and its milliseconds per frame."""
    job.set_temporal(mode)
    job.set_output_chroma(False)
    job.reset()
    t0 = time.perf_counter()
    out = np.concatenate([job(frames[i:i + batch]) for i in range(0, len(frames), batch)])
    return out, 1000 * (time.perf_counter() - t0) / len(frames)


def write_report(results: dict, args, out: Path) -> str:
    # results saved before the PSNR worst-clip column (docs/temporal_quality.json) render without it
    has_psnr_worst = any(r.get(m, {}).get("worst_psnr_clip") for r in results.values() for m in MODES)
    lines = [f"Clips: {', '.join(args.clips)} (DAVIS), first {args.frames} frames at {SIZE[0]}x{SIZE[1]}. "
             "Dequantize: the whole job (consistency stage included) in each mode, on the clip quantized to 16 "
             "colours (median cut); colorize: the generator's ab smoothed, on the clip's luminance. "
             "Warp error (x1e-3, RGB in [0, 1]) and CDC (x1e-3) use the original clip's flow; "
             "PSNR against the original; worst clip: the clip whose warp error is the most above its original's"
             + ("; PSNR worst clip: the clip where the output gains least PSNR over the job's input" if has_psnr_worst
                else "") + ". Generated by `benchmarks/temporal_quality.py` on this CPU.", ""]
    for name, r in results.items():
        what = "the whole job, --temporal off" if name == "dequantize" else "generator + LAB"
        lines += [f"**{name}** ({what}: {r['generator_ms']:.0f} ms per frame)", "",
                  "| temporal | warp error | vs original | worst clip: vs original | CDC | PSNR (dB) | "
                  + ("PSNR worst clip: gain over input (dB) | " if has_psnr_worst else "")
                  + "smoothing ms/frame | share of frame time |",
                  "|---|---|---|---|---|---|---|---|" + ("---|" if has_psnr_worst else ""),
                  f"| original clip (floor) | {1e3 * r['original']['warp_error']:.3f} | 1.00x | | "
                  f"{1e3 * r['original']['cdc']:.3f} | | " + ("| " if has_psnr_worst else "") + "| |",
                  f"| the job's input (doing nothing) | {1e3 * r['input']['warp_error']:.3f} | "
                  f"{r['input']['warp_error'] / r['original']['warp_error']:.2f}x | | {1e3 * r['input']['cdc']:.3f} | "
                  f"{r['input']['psnr']:.2f} | " + ("| " if has_psnr_worst else "") + "| |"]
        for m in MODES:
            s = r[m]
            share = s["smooth_ms"] / (r["generator_ms"] + s["smooth_ms"])
            w = s["worst_clip"]
            lines.append(f"| {m} | {1e3 * s['warp_error']:.3f} | {s['warp_error'] / r['original']['warp_error']:.2f}x | "
                         f"{w['vs_original']:.2f}x ({w['clip']}) | "
                         f"{1e3 * s['cdc']:.3f} | {s['psnr']:.2f} | "
                         + (f"{s['worst_psnr_clip']['gain_db']:+.2f} ({s['worst_psnr_clip']['clip']}) | "
                            if has_psnr_worst else "")
                         + f"{s['smooth_ms']:.1f} | {100 * share:.1f}% |")
        lines.append("")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    print("\n".join(lines))
    return "\n".join(lines)


def crop_strip(strips: dict, png: Path, n: int = 6, size: int = 160) -> None:
    """Per job: a central crop of ``n`` consecutive frames, ``off`` on the top row and ``flow`` below."""
    rows = []
    for name, (clip_name, off, flow) in strips.items():
        h, w = off.shape[1:3]
        y, x = (h - size) // 2, (w - size) // 2
        start = max(0, len(off) // 2 - n // 2)      # a clip shorter than n frames: from its first
        for out in (off, flow):
            rows.append(np.concatenate([f[y:y + size, x:x + size] for f in out[start:start + n]], 1))
        print(f"strip {name}: {clip_name}, frames {start}..{start + n - 1}, rows off / flow")
    Image.fromarray(np.concatenate(rows, 0)).save(png, optimize=True)


if __name__ == "__main__":
    main()
