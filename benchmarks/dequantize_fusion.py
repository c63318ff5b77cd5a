"""Motion-compensated fusion of neighbouring dequantized frames: a probe of the 4-bit-mid gap, not in the pipeline.

Question (stop 54): the 4-bit-mid target (+1.0 dB over (a'), held-back clips, after the output's x264 encode) is
short by about 0.09 dB, and the frames lose about 0.44 dB of their gain in that encode. Would the neighbouring
frames add what one frame cannot? Each output frame ``t`` is averaged with its neighbours ``t +- 1 .. t +- radius``,
warped onto it along DIS optical flow (Kroeger et al. 2016, OpenCV's ``cv2.DISOpticalFlow``, computed on the
output's gray), where the flow passes the forward-backward check of Sundaram et al. 2010
(:func:`vidcolor.flow.consistency_mask`) and the warped value is within :data:`REJECT` levels of the running mean in
every channel; each neighbour weighs ``--weight`` against the frame's own 1. The result is projected onto the
frame's quantization cells (:meth:`vidcolor.quantizer.reconstruction.Quantizer.project`): the smoothing-and-projection
pair of consistent reconstruction over time instead of space. ``--smooth-only`` keeps the fusion to windows (7x7) whose
observed levels span at most one step in every channel (the smooth regions, blurred at sigma 2 pixels).

Rows: on the five validation clips (never the held-back ones) at 4-bit mid levels, the gain over the decoded
input before any encode, and over (a') after libx264 crf 14 with the dequantize job's x264 options (output and
(a') written alike), the output's bytes. ``--keep-chroma`` dequantizes as for output that keeps its chroma pixel
for pixel (the colour-noise smoothing on: images, FFV1 4:4:4), where only the rows before the encode apply.

The pipeline's output comes from ``dequantize_encode.dequantize`` (the CLI's defaults; the quantizer as the clip's
tracker finds it); the fusion's quantizer is estimated on the clip's first 16 frames. CPU: the flow is four DIS
calls per frame at radius 1; the fusion took about 150 ms of CPU per 640x360 frame at the MEDIUM preset (stop 54;
the table's header gives each run's own).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from vidcolor.flow import consistency_mask, dis_flow, warp
from vidcolor.jobs import DEFAULTS, JOBS
from vidcolor.metrics import psnr
from vidcolor.quantizer.estimation import estimate
from vidcolor.quantizer.reconstruction import Quantizer

from dequantize_encode import dequantize, encode, mean_worst
from dequantize_quality import DEGRADATIONS, degrade, encode_input, read
from dequantize_temporal import emit, validation_clips
from benchdata import DATA, require_data

ROW = "4 bit/ch, mid"
REJECT = 12.0
"""Levels: a warped neighbour further than this from the running mean in any channel is left out (occlusions the
flow check misses, lighting changes)."""


def smooth_windows(observed: np.ndarray) -> np.ndarray:
    """float32 ``(H, W, 1)`` in [0, 1]: 1 where the observed levels (uint8 RGB ``(H, W, 3)``) of the 7x7 window
    span at most 24 levels (one 4-bit step and the codec's noise) in every channel, blurred at sigma 2 pixels."""
    k = np.ones((7, 7), np.uint8)
    spread = cv2.dilate(observed, k).astype(np.int16) - cv2.erode(observed, k)
    return cv2.GaussianBlur((spread <= 24).all(-1).astype(np.float32), (0, 0), 2)[..., None]


def fuse(observed: np.ndarray, output: np.ndarray, found: Quantizer, radius: int, weight: float, preset: int,
         smooth_only: bool) -> np.ndarray:
    """The fused frames (module docstring): uint8 RGB ``(T, H, W, 3)`` in (the decoded input and the pipeline's
    output) and out, each frame projected onto its cells by ``found``."""
    dis = cv2.DISOpticalFlow_create(preset)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in output]
    fused = np.empty_like(output)
    for t in range(len(output)):
        total = output[t].astype(np.float32)
        weights = np.ones(output.shape[1:3], np.float32)
        for u in range(max(0, t - radius), min(len(output), t + radius + 1)):
            if u == t:
                continue
            flow = dis_flow(dis, gray[t], gray[u])
            use = consistency_mask(flow, dis_flow(dis, gray[u], gray[t])).astype(np.float32)
            seen = warp(output[u].astype(np.float32), flow)
            use *= np.abs(seen - total / weights[..., None]).max(-1) < REJECT
            total += weight * use[..., None] * seen
            weights += weight * use
        estimate_t = total / weights[..., None]
        if smooth_only:
            mask = smooth_windows(observed[t])
            estimate_t = output[t] + mask * (estimate_t - output[t])
        fused[t] = found.project(observed[t], estimate_t)
    return fused


def table(r: np.ndarray, baselines: np.ndarray, keep_chroma: bool, names: list[str]) -> list[str]:
    """The markdown table's lines. ``r``: per clip ``(pipeline's gain before the encode, fused's, fusion ms per
    frame[, pipeline's gain over (a') after the encode, its KB per frame, fused's gain, its KB])``; ``baselines``:
    per clip ``((a) PSNR, (a') PSNR, (a') KB per frame)`` (NaN without an encode). The trivial baselines are rows:
    (a) the decoded input, what the gains before the encode are over, and (a') the input through the same encode,
    what the gains after it are over; each gain gives its mean and worst, with the clip it was on (``names``, the
    clips in the order of ``r``'s rows)."""
    lines = ["| output | gain before the encode, mean / worst (clip), dB |"
             + ("" if keep_chroma else " gain over (a') after the encode, mean / worst (clip), dB | KB per frame |"),
             "|---|---|" + ("" if keep_chroma else "---|---|"),
             f"| (a) the input, decoded | 0 (PSNR {baselines[:, 0].mean():.2f} dB) |" + ("" if keep_chroma else " — | — |")]
    if not keep_chroma:
        lines.append(f"| (a') the input through the same encode | — | 0 (PSNR {baselines[:, 1].mean():.2f} dB) | "
                     f"{baselines[:, 2].mean():.1f} |")
    for k, name in enumerate(("the pipeline's", "fused with the neighbouring frames")):
        line = f"| {name} | {mean_worst(r[:, k], names)} |"
        if not keep_chroma:
            g, kb = r[:, 3 + 2 * k], r[:, 4 + 2 * k]
            line += f" {mean_worst(g, names)} | {kb.mean():.1f} |"
        lines.append(line)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--radius", type=int, default=1, help="neighbours on each side")
    ap.add_argument("--weight", type=float, default=0.5, help="each neighbour's weight against the frame's 1")
    ap.add_argument("--preset", default="MEDIUM", choices=["ULTRAFAST", "FAST", "MEDIUM"], help="DIS preset")
    ap.add_argument("--smooth-only", action="store_true", help="fuse only in single-step windows")
    ap.add_argument("--keep-chroma", action="store_true",
                    help="the output as for lossless 4:4:4 (colour-noise smoothing on); no encode rows")
    ap.add_argument("--crf", type=int, default=14)
    ap.add_argument("--model", default=DEFAULTS["dequantize"])
    ap.add_argument("--out", type=Path, help="write the markdown table here too")
    args = ap.parse_args()
    require_data(DATA / "video")
    preset = getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{args.preset}")
    params = JOBS["dequantize"].x264_params or ""
    rows, names, baselines = [], [], []      # baselines: per clip (a) PSNR, (a') PSNR, (a') KB per frame
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for clip, original, fps in validation_clips(args.frames):
            encode_input(degrade(original, DEGRADATIONS[ROW]), tmp / "in.mp4", fps)
            inp = read(tmp / "in.mp4")[0]
            out = dequantize(inp, args.model, keep_chroma=args.keep_chroma)
            found = estimate(inp[:16])
            start = time.process_time()
            fused = fuse(inp, out, found, args.radius, args.weight, preset, args.smooth_only)
            ms = (time.process_time() - start) / len(inp) * 1000
            base = psnr(inp, original)
            row = [psnr(out, original) - base, psnr(fused, original) - base, ms]
            baselines.append([base, np.nan, np.nan])
            if not args.keep_chroma:
                decoded_a, size_a, _ = encode(inp, fps, tmp / "a.mp4", "yuv420p", args.crf, None, "medium", params)
                a = psnr(decoded_a, original)
                baselines[-1][1:] = [a, size_a / len(inp) / 1024]
                for frames in (out, fused):
                    decoded, size, _ = encode(frames, fps, tmp / "y.mp4", "yuv420p", args.crf, None, "medium", params)
                    row += [psnr(decoded, original) - a, size / len(inp) / 1024]
            rows.append(row)
            names.append(clip.stem.removeprefix("davis_"))
            print(names[-1], found.describe(), " ".join(f"{v:+.3f}" for v in row), flush=True)
    r = np.array(rows)
    lines = [f"`python benchmarks/dequantize_fusion.py {shlex.join(sys.argv[1:])}` (model {args.model}; {ROW}; "
             f"{len(names)} validation clips: {', '.join(names)}; 640x360, {args.frames} frames; the input libx264 "
             f"crf 12; {'output as for lossless 4:4:4' if args.keep_chroma else f'output libx264 crf {args.crf} {params}'}; "
             f"fusion CPU {r[:, 2].mean():.0f} ms per frame)", "",
             *table(r, np.array(baselines), args.keep_chroma, names)]
    lines += ["", "Per clip (gain before the encode: pipeline / fused" + ("" if args.keep_chroma else
              "; after: pipeline / fused") + "): " + "; ".join(
        f"{n} {row[0]:+.3f} / {row[1]:+.3f}" + ("" if args.keep_chroma else f", {row[3]:+.3f} / {row[5]:+.3f}")
        for n, row in zip(names, rows))]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
