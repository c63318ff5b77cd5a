"""Probe vidcolor.temporal and vidcolor.metrics.video on the DAVIS clips (CPU, one OpenCV thread).

    python benchmarks/temporal_probe.py cuts      # scene-change score: within clips vs across clips
    python benchmarks/temporal_probe.py speed     # ms per frame of TemporalSmoother at 640x360
    python benchmarks/temporal_probe.py metrics   # warp error / CDC of real clips, and of flickered ab
                                                  # smoothed by each mode (first 30 frames, 640x360)
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import av
import cv2
import numpy as np

from vidcolor.color import lab_to_rgb, rgb_to_lab
from vidcolor.io.convert import frame_to_rgb
from vidcolor.metrics.video import cdc, warp_error
from vidcolor.temporal import MODES, TemporalSmoother, scene_change

from benchdata import require_data

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "video"


def load(path: Path, n: int | None = None, size=(640, 360)) -> np.ndarray:
    """First ``n`` frames (all if None) of a clip, resized (area) to ``size``: uint8 RGB (T, H, W, 3)."""
    out = []
    with av.open(str(path)) as box:
        for frame in box.decode(video=0):
            out.append(cv2.resize(frame_to_rgb(frame), size, interpolation=cv2.INTER_AREA))
            if n is not None and len(out) == n:
                break
    return np.stack(out)


def cuts() -> None:
    L = {p.stem: rgb_to_lab(load(p))[..., 0] for p in sorted(DATA.glob("*.mp4"))}
    within = {k: max(scene_change(v[i], v[i + 1]) for i in range(len(v) - 1)) for k, v in L.items()}
    across = [scene_change(L[a][-1], L[b][0]) for a in L for b in L if a != b]
    rng = np.random.default_rng(0)
    keys, rand = list(L), []
    for _ in range(500):
        a, b = rng.choice(len(keys), 2, replace=False)
        A, B = L[keys[a]], L[keys[b]]
        rand.append(scene_change(A[rng.integers(len(A))], B[rng.integers(len(B))]))
    for k, v in sorted(within.items(), key=lambda kv: kv[1]):
        print(f"  within {k:28s} max {v:.3f}")
    print(f"within-clip max {max(within.values()):.3f}; cuts (last->first, {len(across)} pairs) "
          f"min {min(across):.3f} median {np.median(across):.3f}; random cross-clip frames (500) min "
          f"{min(rand):.3f}")


def flickered(rgb: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """LAB of a clip and its ab with synthetic flicker: per-frame global offset (sd 6) + noise (sd 4)."""
    lab = rgb_to_lab(rgb)
    rng = np.random.default_rng(seed)
    t = len(lab)
    ab = lab[..., 1:] + rng.normal(0, 6, (t, 1, 1, 2)) + rng.normal(0, 4, lab[..., 1:].shape)
    return lab, ab.astype(np.float32)


def speed(clip: str = "davis_cows.mp4", n: int = 50) -> None:
    lab, ab = flickered(load(DATA / clip, n))
    for mode in MODES:
        for scale in ((0.5, 1.0) if mode == "flow" else (0.5,)):
            sm = TemporalSmoother(mode, flow_scale=scale)
            sm(lab[0, ..., 0], ab[0])
            t, c = time.perf_counter(), time.process_time()
            for i in range(1, n):
                sm(lab[i, ..., 0], ab[i])
            ms, cpu = [(time.perf_counter() - t) / (n - 1) * 1e3, (time.process_time() - c) / (n - 1) * 1e3]
            print(f"{mode:5s} flow_scale {scale}: {ms:.2f} ms/frame wall, {cpu:.2f} ms CPU, at 640x360 "
                  f"({clip}, {n} frames)")


def metrics(clips=("davis_cows.mp4", "davis_dance-twirl.mp4", "davis_car-roundabout.mp4")) -> None:
    print("| clip | video | warp error (x1e-3) | CDC (x1e-3) | ab RMSE vs truth |")
    print("|---|---|---|---|---|")
    for clip in clips:
        rgb = load(DATA / clip, 30)
        lab, ab = flickered(rgb)
        print(f"| {clip} | original | {warp_error(rgb) * 1e3:.3f} | {cdc(rgb) * 1e3:.3f} | 0 |")
        for mode in MODES:
            sm = TemporalSmoother(mode)
            out = np.stack([sm(lab[i, ..., 0], ab[i]) for i in range(len(lab))])
            vid = lab_to_rgb(np.concatenate([lab[..., :1], out], axis=-1))
            rmse = float(np.sqrt(np.mean((out - lab[..., 1:]) ** 2)))
            print(f"| {clip} | flickered ab, {mode} | {warp_error(vid, rgb) * 1e3:.3f} | "
                  f"{cdc(vid) * 1e3:.3f} | {rmse:.2f} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["cuts", "speed", "metrics"])
    cv2.setNumThreads(1)
    what = ap.parse_args().what
    require_data(DATA)
    {"cuts": cuts, "speed": speed, "metrics": metrics}[what]()
