"""Dequantization for output that keeps its chroma (images, lossless 4:4:4 video, the library's frames), on
held-back clips: how much does the colour-difference smoothing add?

``dequantize_quality.py`` scores video written by x264, whose encode smooths the chroma itself, so there
``vidcolor dequantize`` does not smooth it (``Dequantizer.set_output_chroma(False)``). This script scores the
frames before any output encode, as images and FFV1 4:4:4 get them, with the smoothing
(:meth:`~vidcolor.quantizer.reconstruction.Quantizer.chroma_smoothing`) and without.

Content: the natural clips of ``dequantize_quality.py`` (its held-back DAVIS clips and Big Buck Bunny; never a
clip any setting was chosen on), the first ``--frames`` frames at 640x360 (INTER_AREA). Degradations: its
uniform 4-bit rows (bin middle, spread, floor: the quantizers the smoothing runs on), then its input encode
(libx264 crf 12). Per clip and row: the PSNR gain (pooled MSE) of the default model's frames over the decoded
input; the table gives the mean and the worst clip of each, with and without the smoothing.

    python benchmarks/dequantize_frames.py --out docs/dequantize_frames.md
"""
from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np

import dequantize_quality as dq
from dequantize_temporal import emit
from vidcolor.jobs import DEFAULTS
from vidcolor.metrics import psnr
from vidcolor.pipeline import Dequantizer, auto_batch_size, batched
from benchdata import DATA, require_data

ROWS = ("4 bit/ch, mid", "4 bit/ch, spread", "4 bit/ch, floor")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--model", default=DEFAULTS["dequantize"])
    ap.add_argument("--out", type=Path, help="write the markdown table here too")
    args = ap.parse_args()
    require_data(DATA / "video", DATA / "animation")
    clips = dq.split_clips(dq.DATA / "video")[1][:dq.HELD_CLIPS] + [dq.DATA / "animation" / "bbb_meadow.mp4"]
    gains: dict[tuple[str, bool], list[tuple[str, float]]] = {}
    jobs = {kept: Dequantizer(args.model) for kept in (False, True)}      # loaded once, reset per clip and row
    for kept, job in jobs.items():
        job.set_output_chroma(kept)
    with tempfile.TemporaryDirectory() as tmp:
        for path in clips:
            original, fps = dq.read_natural(path, args.frames)
            for row in ROWS:
                dq.encode_input(dq.degrade(original, dq.DEGRADATIONS[row]), Path(tmp) / "in.mp4", fps)
                inp = dq.read(Path(tmp) / "in.mp4")[0]
                for kept, job in jobs.items():
                    job.reset()
                    out = np.stack(list(batched(iter(inp), job, auto_batch_size(inp.shape[2], inp.shape[1], job.device))))
                    gains.setdefault((row, kept), []).append((path.stem, psnr(out, original) - psnr(inp, original)))
                print(path.stem, row, " ".join(f"{gains[row, k][-1][1]:+.3f}" for k in (False, True)), flush=True)
    lines = [f"`python benchmarks/dequantize_frames.py {shlex.join(sys.argv[1:])}` (model {args.model}; "
             f"{len(clips)} held-back clips: {', '.join(p.stem.removeprefix('davis_') for p in clips)}; "
             f"{args.frames} frames at 640x360; the input libx264 crf 12; no output encode)", "",
             "| degradation | gain without chroma smoothing: mean / worst (dB) | with it: mean / worst (dB) | worst clip |",
             "|---|---|---|---|"]
    for row in ROWS:
        cells = []
        for kept in (False, True):
            values = np.array([g for _, g in gains[row, kept]])
            cells.append(f"{values.mean():+.3f} / {values.min():+.3f}")
        worst = min(gains[row, True], key=lambda t: t[1])[0].removeprefix("davis_")
        lines.append(f"| {row} | {cells[0]} | {cells[1]} | {worst} |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
