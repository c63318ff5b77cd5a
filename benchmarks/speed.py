"""Throughput of each stage and of both jobs end to end, next to a plain ffmpeg transcode (the floor).

For each size (default 360p, 720p, 1080p) a clip is made from a DAVIS clip (first --frames frames), then
timed in the same run:
  * plain ffmpeg transcode with the encoder settings vidcolor uses (libx264 crf 16 preset medium yuv420p, the same swscale flags;
    ``vidcolor dequantize`` writes crf 14, which measured no slower);
  * each stage alone: decode (PyAV), RGB->LAB->RGB (OpenCV), each job's generator stage (model input,
    forward pass, LAB recombination) on each engine (torch fp32, torch bf16 on the CPU / fp16 on CUDA, ONNX
    Runtime fp32) with the quality of its output against the original clip (dequantize: the 4-bit clip
    with the projection off; colorize: the clip's L; PSNR and mean CIEDE2000 on every 8th frame, and their
    change from the first engine, torch fp32: what decides whether an engine may be a default);
    temporal smoothing (``flow``), encode (ffmpeg via a pipe);
  * ``vidcolor dequantize`` (on the clip quantized to 4 bits per channel at bin middles and encoded
    at crf 12: a clip the default model corrects, so the generator and the projection both run) and
    ``vidcolor colorize`` end to end (subprocess, wall clock, model loading included; ``--backend auto``
    and ``torch`` (fp32; ``auto`` is torch bf16 for dequantize on a CPU with native bf16, see
    ``vidcolor.engine.CPU_BF16_JOBS``), batch size auto unless --e2e-batch-size; colorize also in keyframe
    mode, ``--reference`` without an image, ``auto`` only; dequantize also with ``--no-consistency``, so
    that the generator runs on every frame whatever quantizer is found), with their ratio to the
    transcode and their peak RSS; the consistency stage (quantizer estimate + ``Quantizer.reconstruct``) alone on
    that clip and on one quantized to 16 colours by ffmpeg palettegen/paletteuse (Voronoi cells).
Writes a markdown table of frames per second to --out (and prints it). On a CUDA machine pass
``--device cuda``: the GPU's name goes into the header.

    python benchmarks/speed.py --out docs/speed_cpu.md
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vidcolor.color import lab_to_rgb, rgb_to_lab
from vidcolor.io import VideoReader, VideoWriter, find_ffmpeg
from vidcolor.io.convert import SWS_FLAGS
from vidcolor.metrics import ciede2000, psnr
from vidcolor.pipeline import Colorizer, Dequantizer
from vidcolor.quantizer.estimation import estimate
from vidcolor.training.degrade import quantize_uniform
from vidcolor.temporal import TemporalSmoother

from readme import splice_readme
from benchdata import require_data

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "video"
SIZES = {"360p": (640, 360), "720p": (1280, 720), "1080p": (1920, 1080)}


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


RSS_WRAPPER = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
"""Runs a command from a small interpreter: a child forked from this (large) process would report this
process's pages as its own peak RSS until it execs, so the measuring parent must be small."""


def child_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS of that command in MB)."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RSS_WRAPPER, *cmd], check=True, capture_output=True, text=True)
    return time.perf_counter() - t, int(out.stdout.split()[-1]) / 1024


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def engines(device: str) -> list[tuple[str, str]]:
    """(backend, precision) pairs to time: torch fp32 and ONNX Runtime everywhere, bf16 on the CPU, fp16 on CUDA."""
    return [("torch", "fp32"), ("torch", "bf16" if device == "cpu" else "fp16"), ("onnxruntime", "fp32")]


def measure(size: str, args, ffmpeg: str, tmp: Path) -> list[tuple[str, float, str]]:
    w, h = SIZES[size]
    src = tmp / f"clip_{size}.mp4"
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(DATA / args.clip), "-frames:v", str(args.frames),
                    "-vf", f"scale={w}:{h}", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(src)],
                   check=True)
    src16 = tmp / f"clip_{size}_16colours.mp4"   # a palettised clip: the Voronoi projection's cost
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(src), "-lavfi",
                    "split[a][b];[a]palettegen=max_colors=16:reserve_transparent=0[p];[b][p]paletteuse=dither=none",
                    "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", str(src16)], check=True)
    src4 = tmp / f"clip_{size}_4bit.mp4"          # 4 bits per channel at bin middles: a clip the default corrects
    with VideoWriter(src4, w, h, 24, crf=12, overwrite=True) as wr:
        for f in VideoReader(src):
            wr.write(quantize_uniform(f, 4, "mid")[None])
    enc = ["-sws_flags", SWS_FLAGS, "-c:v", "libx264", "-crf", "16", "-preset", "medium", "-pix_fmt", "yuv420p"]
    stack = np.stack(list(VideoReader(src)))
    stack16 = np.stack(list(VideoReader(src16)))
    n, b = len(stack), args.batch_size
    rows = []
    t = timed(lambda: subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(src), *enc,
                                      str(tmp / "plain.mp4")], check=True))
    rows.append(("plain ffmpeg transcode (same encoder settings)", n / t, ""))
    rows.append(("decode (PyAV, threaded, to RGB)", n / timed(lambda: list(VideoReader(src))), ""))
    rows.append(("RGB->LAB->RGB (OpenCV)", n / timed(lambda: lab_to_rgb(rgb_to_lab(stack))), ""))
    stack4 = np.stack(list(VideoReader(src4)))
    base: dict[str, tuple[float, float]] = {}
    for name, cls, clip in (("dequantize", Dequantizer, stack4), ("colorize", Colorizer, stack)):
        for backend, precision in engines(args.device):
            job = cls(device=args.device, backend=backend, precision=precision)
            if name == "dequantize":
                job.quantizers = None             # the generator always runs
            job.predict_lab(clip[:b])  # warm-up
            t = timed(lambda: [job.predict_lab(clip[i:i + b]) for i in range(0, n, b)])
            out = np.concatenate([job(clip[i:i + b]) for i in range(0, n, b)])   # vs the original (stack)
            score = (psnr(out, stack), float(np.mean(ciede2000(out[::8], stack[::8]))))
            base.setdefault(name, score)
            rows.append((f"{name}: generator stage (batch {b}, {args.device}, {backend}, {precision})", n / t,
                         f"PSNR {score[0]:.2f} dB ({score[0] - base[name][0]:+.3f}), CIEDE2000 {score[1]:.3f} "
                         f"({score[1] - base[name][1]:+.3f})"))
    for what, clip in (("4 bit/ch", stack4), ("16 colours", stack16)):
        found = estimate(clip[:b])
        rows.append((f"dequantize: consistency stage, {what} ({found.kind}): quantizer estimate (once per 64 frames) "
                     "+ Quantizer.reconstruct (centre offset, band correction, contour estimate, projection)",
                     n / timed(lambda: [estimate(clip[:b]) for _ in range(max(1, n // 64))]
                               + [found.reconstruct(clip[i:i + b], clip[i:i + b], 0.75) for i in range(0, n, b)]), ""))
    L, ab = Colorizer(device=args.device).predict_lab(stack[: min(n, 24)])
    smoother = TemporalSmoother("flow")
    rows.append(("temporal smoothing (flow)", len(L) / timed(lambda: [smoother(x, y) for x, y in zip(L, ab)]), ""))

    def encode():
        with VideoWriter(tmp / "enc.mp4", w, h, 24, overwrite=True) as wr:
            wr.write(stack)
    rows.append(("encode (ffmpeg libx264 via pipe)", n / timed(encode), ""))
    runs = [("dequantize", "4 bit/ch, mid levels", src4, [], ("auto", "torch")),
            ("dequantize", "4 bit/ch, --no-consistency", src4, ["--no-consistency"], ("auto", "torch")),
            ("colorize", "", src, [], ("auto", "torch")),
            ("colorize", "keyframes: --reference without an image", src, ["--reference"], ("auto",))]
    for name, what, clip, extra, backends in runs:
        for backend in backends:
            t, rss = child_rss_mb([sys.executable, "-m", "vidcolor.cli", name, str(clip), "-o", str(tmp / f"{name}.mp4"),
                                   "--overwrite", "-q", "--device", args.device, "--backend", backend, *extra]
                                  + (["--batch-size", str(args.e2e_batch_size)] if args.e2e_batch_size else []))
            rows.append((f"`vidcolor {name} --backend {backend}` end to end{f' ({what})' if what else ''} (incl. start-up)",
                         n / t, f"{n / t / rows[0][1]:.3f}x transcode, {rss:.0f} MB"))
    return rows


def header(argv: list[str], hw: str, threads: int, frames: int, clip: str) -> str:
    """The table's first line: the command as it was run (``argv``, the options after the script's name, so
    that the line reproduces the table: sizes and frames included), the hardware ``hw``, torch's thread
    count, and the ``frames`` of ``clip`` timed."""
    command = shlex.join(["python", "benchmarks/speed.py", *argv])
    return (f"`{command}` on {hw}, torch threads {threads}, {frames} frames of {clip}; frames per second "
            "(peak RSS for the end-to-end runs).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", default="davis_cows.mp4")
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=4, help="batch of the stage timings")
    ap.add_argument("--e2e-batch-size", type=int, default=None, help="end-to-end runs: --batch-size (default: auto)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--readme", action="store_true", help="also splice the table into README.md")
    args = ap.parse_args()
    require_data(DATA)
    ffmpeg = find_ffmpeg()
    with tempfile.TemporaryDirectory(prefix="vidcolor-speed-") as tmp:     # the clips of every size, removed after
        results = {size: measure(size, args, ffmpeg, Path(tmp)) for size in args.sizes}
    hw = torch.cuda.get_device_name() if args.device == "cuda" else f"{cpu_name()} ({os.cpu_count()} cores)"
    lines = [header(sys.argv[1:], hw, torch.get_num_threads(), args.frames, args.clip), "",
             "| stage | " + " | ".join(args.sizes) + " |", "|---|" + "---|" * len(args.sizes)]
    for i, (name, _, _) in enumerate(results[args.sizes[0]]):
        cells = [f"{results[s][i][1]:.1f}" + (f" ({results[s][i][2]})" if results[s][i][2] else "") for s in args.sizes]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if args.readme:
        splice_readme("speed", text)


if __name__ == "__main__":
    main()
