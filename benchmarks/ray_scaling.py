"""``--executor ray`` against ``--executor local`` on a clip of at least 30 s: throughput, overheads, output.

The clip is every DAVIS clip of ../shared/data/video in a row (640x360, 24 fps, about 47 s, a scene cut at
each join, so x264 places keyframes there), with a 440 Hz tone as AAC audio. The jobs:

* ``colorize`` (default model) on that clip;
* ``dequantize`` (default model) on it quantized to 4 bits per channel at bin middles by ffmpeg's
  ``lutrgb`` (a degradation the training code does not make) and re-encoded at crf 12.

A second, lossless comparison (FFV1 4:4:4 outputs, the first 12 s, 3 s segments) shows what the
pipeline itself changes: frame-wise PSNR of Ray's output against the local executor's, and the share of
identical frames.

Each job runs once with the local executor and once per ``--segment-seconds`` value on Ray with
``--workers`` actors (a local Ray instance started by the run itself, so Ray's start-up is in the wall
time; model loading is in both). Both run in this process through :mod:`vidcolor.api`, default encoder
settings (libx264; crf 14 for dequantize, 16 for colorize). Reported: wall time, frames per second, Ray's throughput as a share of the
local one, Ray's start-up alone (``ray.init`` + ``shutdown``), the time from the call to the first
segment's start (cluster, actors, model loading) and from the last segment's end to the return (the
join), the segments' own timings (fastest, slowest), and the output's frame-wise PSNR against the local executor's (min and mean; identical
frames count as 100 dB): the two H.264 encodes differ near the joins, where each segment's encoder
starts afresh.

    python benchmarks/ray_scaling.py --out docs/ray_cpu.md --readme
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vidcolor import api
from vidcolor.io import VideoReader, find_ffmpeg

from readme import RAY_TITLE, splice_readme

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "video"


def ffmpeg(*args: str) -> None:
    import subprocess

    subprocess.run([find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_clip(folder: Path, seconds: float | None = None) -> tuple[Path, Path]:
    clips = sorted(DATA.glob("davis_*.mp4"))
    if not clips:
        raise SystemExit(f"no DAVIS clips under {DATA}")
    inputs, chains = [], []
    for i, c in enumerate(clips):
        inputs += ["-i", str(c)]
        chains.append(f"[{i}:v]scale=640:360,fps=24,setsar=1[v{i}]")
    joined = "".join(f"[v{i}]" for i in range(len(clips)))
    clip = folder / "davis_all.mp4"
    ffmpeg(*inputs, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-filter_complex",
           ";".join(chains) + f";{joined}concat=n={len(clips)}:v=1:a=0[v]", "-map", "[v]", "-map", f"{len(clips)}:a",
           *(["-t", str(seconds)] if seconds else []), "-shortest", "-c:v", "libx264", "-crf", "18", "-preset", "fast", "-c:a", "aac", "-b:a", "96k", str(clip))
    coarse = folder / "davis_all_4bit.mp4"
    ffmpeg("-i", str(clip), "-vf", "format=rgb24,lutrgb=r='bitand(val,240)+8':g='bitand(val,240)+8':b='bitand(val,240)+8'",
           "-c:v", "libx264", "-crf", "12", "-preset", "fast", "-pix_fmt", "yuv444p", "-c:a", "copy", str(coarse))
    return clip, coarse


def frames_of(path: Path) -> np.ndarray:
    with VideoReader(path) as r:
        return np.stack(list(r))


def psnr_frames(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    mse = np.array([np.mean((x.astype(np.float64) - y) ** 2) for x, y in zip(a, b)])
    return np.where(mse == 0, 100.0, 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-12)))


def same_output(run, src: Path, tmp: Path, workers: int) -> tuple[int, float, float, int]:
    """The first 12 s of ``src``, local and on Ray, both FFV1 4:4:4: frames, PSNR min and mean, identical frames."""
    short = tmp / f"short_{src.name}"
    ffmpeg("-i", str(src), "-t", "12", "-c", "copy", str(short))
    outs = []
    for name, extra in (("local", {}), ("ray", {"executor": "ray", "workers": workers, "segment_seconds": 3.0})):
        outs.append(tmp / f"same_{name}_{src.stem}.mkv")
        run(short, outs[-1], progress=False, codec="ffv1", pix_fmt="yuv444p", overwrite=True, **extra)
    a, b = frames_of(outs[0]), frames_of(outs[1])
    p = psnr_frames(b, a)
    return len(a), float(p.min()), float(p.mean()), int(sum(np.array_equal(x, y) for x, y in zip(a, b)))


def ray_startup() -> float:
    import ray

    t = time.perf_counter()
    ray.init(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    ray.shutdown()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--segment-seconds", default="10,20", help="comma-separated segment lengths to time")
    ap.add_argument("--jobs", default="dequantize,colorize")
    ap.add_argument("--seconds", type=float, default=None, help="cut the clip to this length (default: all of it)")
    ap.add_argument("--no-lossless", action="store_true", help="skip the lossless comparison")
    ap.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    ap.add_argument("--readme", action="store_true", help="also splice the table into README.md")
    args = ap.parse_args()
    unknown = [j for j in args.jobs.split(",") if j not in ("dequantize", "colorize")]
    if unknown:
        ap.error(f"--jobs: {', '.join(map(repr, unknown))} is not dequantize or colorize (comma-separated)")
    lengths = [float(s) for s in args.segment_seconds.split(",")]
    rows, lossless = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip, coarse = make_clip(tmp, args.seconds)
        n = len(frames_of(clip))
        startup = ray_startup()
        print(f"clip: {n} frames, 640x360, 24 fps; Ray start-up alone {startup:.1f} s", flush=True)
        for job in args.jobs.split(","):
            run = getattr(api, job)
            src = coarse if job == "dequantize" else clip
            local = tmp / f"{job}_local.mp4"
            t = time.perf_counter()
            run(src, local, progress=False)
            base = time.perf_counter() - t
            rows.append((job, "local", "", base, n / base, "", "", "", "", ""))
            print(rows[-1], flush=True)
            ref = frames_of(local)
            for seconds in lengths:
                out = tmp / f"{job}_ray_{seconds:g}.mp4"
                t = time.perf_counter()
                summary = run(src, out, progress=False, executor="ray", workers=args.workers, segment_seconds=seconds)
                wall = time.perf_counter() - t
                ended = time.time()
                seg_fps = [s["frames"] / s["seconds"] for s in summary.segments]
                p = psnr_frames(frames_of(out), ref)
                first = min(s["began"] for s in summary.segments) - (ended - wall)
                tail = ended - max(s["ended"] for s in summary.segments)
                rows.append((job, f"ray, {args.workers} workers", f"{seconds:g} s ({len(summary.segments)})", wall,
                             n / wall, f"{base / wall:.2f}", f"{first:.1f} / {tail:.1f}",
                             f"{min(seg_fps):.1f} / {max(seg_fps):.1f}", f"{p.min():.1f} / {p.mean():.1f}",
                             f"{sum(s['seconds'] for s in summary.segments):.0f}"))
                print(rows[-1], flush=True)
                out.unlink()
            if not args.no_lossless:
                lossless.append((job, *same_output(run, src, tmp, args.workers)))
                print(lossless[-1], flush=True)
    head = (f"`{shlex.join(['python', 'benchmarks/ray_scaling.py', *sys.argv[1:]])}`\n\n"
            f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; clip {n} frames 640x360 at 24 fps "
            f"({f'the first {n / 24:.0f} s of ' if args.seconds else ''}the DAVIS clips in a row"
            f"{'' if args.seconds else f', {n / 24:.0f} s'}); Ray start-up alone {startup:.1f} s.\n\n"
            "| job | executor | segments (count) | wall s | fps | throughput vs local | start-up / join s | "
            "segment fps min / max | H.264 PSNR vs local min / mean (dB) | worker-seconds |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    table = head + "".join(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f} | {r[4]:.1f} | {r[5]} | {r[6]} | {r[7]} | {r[8]} "
                           f"| {r[9]} |\n" for r in rows)
    table += "" if not lossless else ("\nLossless (FFV1 4:4:4, first 12 s, 3 s segments), Ray's output against the local executor's:\n\n"
              "| job | frames | PSNR min / mean (dB) | identical frames |\n|---|---|---|---|\n"
              + "".join(f"| {j} | {f} | {lo:.1f} / {mean:.1f} | {same} |\n" for j, f, lo, mean, same in lossless))
    print(table)
    if os.environ.get("RAY_ADDRESS"):
        table = table.replace("Ray start-up alone", "an existing cluster (RAY_ADDRESS); a fresh local Ray's start-up")
    if args.out:
        args.out.write_text(RAY_TITLE + table)
    if args.readme:
        splice_readme("ray", table)


if __name__ == "__main__":
    main()
