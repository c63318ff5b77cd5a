"""Dequantization quality on real clips: quantized input vs ffmpeg deband vs pix2pix RGB vs Pix2Pix-FQ.

For each clip of ../shared/data/video (first --frames frames) and each degradation, the clip is
quantized (one palette per clip, no dither; or 4 bits per channel in each of the three level
conventions), encoded as a user's file would be (H.264 yuv420p, crf 18), then restored by
(a) nothing, (b) ffmpeg's deband and gradfun filters at their defaults, (c) the pix2pix RGB baseline, (d) the bundled
Pix2Pix-FQ model (restoring L, and keeping the source L). Every output goes through the same encoder
(libx264 crf 16). PSNR (pooled over the clip) and mean CIEDE2000 against the original decoded frames,
plus the per-channel bias of the output. Writes a markdown table and a JSON file.

    python benchmarks/dequantize_quality.py --out docs/dequantize_quality.md --readme
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from vidcolor.io import VideoReader, VideoWriter, find_ffmpeg
from vidcolor.metrics import channel_bias, ciede2000, psnr
from vidcolor.training.degrade import quantize_clip

from readme import splice_readme

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "video"
DEGRADATIONS = {
    "16 colours (median cut)": dict(kind="palette", colors=16),
    "32 colours (median cut)": dict(kind="palette", colors=32),
    "4 bit/ch, floor": dict(kind="uniform", bits=4, convention="floor"),
    "4 bit/ch, mid": dict(kind="uniform", bits=4, convention="mid"),
    "4 bit/ch, spread": dict(kind="uniform", bits=4, convention="spread"),
}
METHODS = {
    "(c) pix2pix RGB": ["--model", "dequantize-pix2pix-rgb"],
    "(d) Pix2Pix-FQ, keep L": ["--model", "dequantize-fq", "--keep-luminance"],
    "(d) Pix2Pix-FQ, restore L": ["--model", "dequantize-fq", "--restore-luminance"],
}


def read(path: Path, frames: int | None = None) -> np.ndarray:
    with VideoReader(path) as r:
        out = []
        for f in r:
            out.append(f)
            if frames and len(out) == frames:
                break
    return np.stack(out)


def write(path: Path, frames: np.ndarray, crf: int) -> None:
    with VideoWriter(path, frames.shape[2], frames.shape[1], 24, crf=crf, overwrite=True) as w:
        w.write(frames)


def crop(frame: np.ndarray, size: int = 160) -> np.ndarray:
    """Central ``size`` x ``size`` crop, enlarged 1.5x (nearest) so that bands stay visible."""
    h, w = frame.shape[:2]
    c = frame[(h - size) // 2:(h + size) // 2, (w - size) // 2:(w + size) // 2]
    return np.asarray(Image.fromarray(c).resize((size * 3 // 2,) * 2, Image.NEAREST))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=["blackswan", "car-roundabout", "cows", "dog"])
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--out", default="docs/dequantize_quality.md")
    ap.add_argument("--readme", action="store_true", help="also splice the table into README.md's results section")
    args = ap.parse_args()
    ffmpeg = find_ffmpeg()
    rows: dict[tuple[str, str], list] = {}
    sheet: list[np.ndarray] = []
    tmp = Path(tempfile.mkdtemp(prefix="vidcolor-bench-"))
    for clip in args.clips:
        original = read(DATA / f"davis_{clip}.mp4", args.frames)
        for dname, dspec in DEGRADATIONS.items():
            qpath = tmp / f"{clip}_q.mp4"
            write(qpath, quantize_clip(original, **dspec), crf=18)
            outputs = {"(a) quantized input": qpath}
            deband = tmp / f"{clip}_deband.mp4"
            subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-i", str(qpath), "-vf", "deband", "-c:v", "libx264",
                            "-crf", "16", "-pix_fmt", "yuv420p", str(deband)], check=True)
            outputs["(b) ffmpeg deband"] = deband
            gradfun = tmp / f"{clip}_gradfun.mp4"
            subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-i", str(qpath), "-vf", "gradfun", "-c:v", "libx264",
                            "-crf", "16", "-pix_fmt", "yuv420p", str(gradfun)], check=True)
            outputs["(b) ffmpeg gradfun"] = gradfun
            for mname, margs in METHODS.items():
                out = tmp / f"{clip}_{len(outputs)}.mp4"
                subprocess.run([sys.executable, "-m", "vidcolor.cli", "dequantize", str(qpath), "-o", str(out),
                                "--overwrite", "-q", "--crf", "16", *margs], check=True)
                outputs[mname] = out
            crops = [crop(original[0])]
            for mname, path in outputs.items():
                got = read(path)
                crops.append(crop(got[0]))
                rows.setdefault((dname, mname), []).append(
                    (psnr(got, original), ciede2000(got, original), channel_bias(got, original)))
            if clip == args.clips[0]:
                sheet.append(np.concatenate(crops, axis=1))
            print(clip, dname, {m: round(rows[(dname, m)][-1][0], 2) for m in outputs}, file=sys.stderr, flush=True)
    lines = [f"Clips: {', '.join(args.clips)} (DAVIS 2016, first {args.frames} frames, 854x480). "
             "PSNR pooled per clip then averaged; CIEDE2000 mean; bias = mean signed RGB error (levels).", "",
             "| degradation | method | PSNR (dB) | gain vs input (dB) | CIEDE2000 | bias R, G, B |",
             "|---|---|---|---|---|---|"]
    summary = {}
    for (dname, mname), vals in rows.items():
        p = float(np.mean([v[0] for v in vals]))
        base = float(np.mean([v[0] for v in rows[(dname, "(a) quantized input")]]))
        d = float(np.mean([v[1] for v in vals]))
        bias = np.mean([v[2] for v in vals], axis=0)
        summary.setdefault(dname, {})[mname] = {"psnr": p, "gain": p - base, "ciede2000": d, "bias": bias.tolist()}
        lines.append(f"| {dname} | {mname} | {p:.2f} | {p - base:+.2f} | {d:.2f} | "
                     f"{bias[0]:+.1f}, {bias[1]:+.1f}, {bias[2]:+.1f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).with_suffix(".json").write_text(json.dumps(summary, indent=2))
    png = Path(args.out).with_name("dequantize_contact_sheet.png")
    Image.fromarray(np.concatenate(sheet, axis=0)).save(png)
    lines += ["", f"![contact sheet]({png.name}): rows = the degradations above, in order; columns = original, "
              + ", ".join(outputs) + f" (first frame of {args.clips[0]}, central 160x160 crop, 1.5x nearest)."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.readme:
        splice_readme("results", "\n".join(lines).replace(f"]({png.name})", f"]({png.parent.name}/{png.name})"))


if __name__ == "__main__":
    main()
