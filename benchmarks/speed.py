"""Throughput of `vidcolor dequantize` on this machine, next to a plain ffmpeg transcode (the floor).

Makes a 640x360 (or --size) clip from a DAVIS clip, then times, in the same run:
  * plain ffmpeg transcode with the encoder settings vidcolor uses (libx264 crf 16 preset medium yuv420p);
  * each stage of the pipeline alone: decode (PyAV), RGB->LAB + LAB->RGB (OpenCV), generator, encode;
  * `vidcolor dequantize` end to end (subprocess, wall clock, model loading included).
Prints a markdown table (frames per second) and peak RSS.

    python benchmarks/speed.py --size 640x360
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vidcolor.color import lab_to_rgb, rgb_to_lab
from vidcolor.io import VideoReader, VideoWriter, find_ffmpeg
from vidcolor.pipeline import Dequantizer

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "video"


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", default="davis_cows.mp4")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=4)
    args = ap.parse_args()
    ffmpeg = find_ffmpeg()
    tmp = Path(tempfile.mkdtemp(prefix="vidcolor-speed-"))
    src = tmp / "clip.mp4"
    w, h = args.size.split("x")
    subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(DATA / args.clip), "-vf", f"scale={w}:{h}",
                    "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(src)], check=True)
    enc = ["-c:v", "libx264", "-crf", "16", "-preset", "medium", "-pix_fmt", "yuv420p"]
    frames = [f for f in VideoReader(src)]
    n = len(frames)
    stack = np.stack(frames)
    rows = []
    t = timed(lambda: subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(src), *enc, str(tmp / "plain.mp4")],
                                     check=True))
    rows.append(("plain ffmpeg transcode (same encoder settings)", n / t))
    rows.append(("decode (PyAV, threaded, to RGB)", n / timed(lambda: [f for f in VideoReader(src)])))
    rows.append(("RGB->LAB->RGB (OpenCV)", n / timed(lambda: lab_to_rgb(rgb_to_lab(stack)))))
    fix = Dequantizer(device=args.device)
    b = args.batch_size
    fix(stack[:b])  # warm-up
    rows.append((f"generator incl. LAB conversion (batch {b}, {args.device})",
                 n / timed(lambda: [fix(stack[i:i + b]) for i in range(0, n, b)])))

    def encode():
        with VideoWriter(tmp / "enc.mp4", stack.shape[2], stack.shape[1], 24, overwrite=True) as wr:
            wr.write(stack)
    rows.append(("encode (ffmpeg libx264 via pipe)", n / timed(encode)))
    t = timed(lambda: subprocess.run([sys.executable, "-m", "vidcolor.cli", "dequantize", str(src), "-o",
                                      str(tmp / "out.mp4"), "-q", "--device", args.device,
                                      "--batch-size", str(b)], check=True))
    rows.append(("`vidcolor dequantize` end to end (incl. start-up)", n / t))
    print(f"{n} frames of {args.size}; torch threads {torch.get_num_threads()}; "
          f"peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB\n")
    print("| stage | fps |\n|---|---|")
    for name, fps in rows:
        print(f"| {name} | {fps:.1f} |")


if __name__ == "__main__":
    main()
