"""How much of what ``vidcolor dequantize`` gains survives its output encode? Gain per encoder setting.

The dequantized frames hold finer gradations than the input's bands, and a lossy encode removes some of
them again; the input re-encoded with the same settings, (a'), is what every gain is taken against. This
script is where the default output setting of dequantization (``vidcolor.jobs.JOBS["dequantize"].crf``)
was chosen, on validation clips only.

Content: the held-back DAVIS clips that ``dequantize_quality.py`` does not score (the validation clips of
``dequantize_temporal.py``), the first ``--frames`` frames at 640x360 (INTER_AREA). Degradations
(``dequantize_quality.degrade``): 4 bits per channel at bin middles and at the bin floor, ffmpeg
palettegen/paletteuse 16 colours without dither and with Bayer dither; then the benchmark's input encode
(libx264 crf 12, inter frames). Each clip is dequantized once as ``vidcolor dequantize`` does it (the
input file decoded by ``VideoReader``, the default model through :class:`~vidcolor.pipeline.Dequantizer`
with the default temporal smoothing and batch size), and its frames are kept before any encode. Then the
output frames and the decoded input frames are each written by ``VideoWriter`` at every setting: libx264
yuv420p at each ``--crf``, and at crf 16 each other ``--pix-fmt``. Per clip: PSNR against the original
frames (pooled MSE) of the output and of (a'), and the output's size. The table gives, per degradation and
setting, the gain over (a') (mean and worst clip), both PSNRs, and the output's kilobytes per frame; the
first row is the gain before any encode (over the decoded input).

    python benchmarks/dequantize_encode.py --out docs/dequantize_encode.md
"""
from __future__ import annotations

import argparse
import inspect
import tempfile
from pathlib import Path

import numpy as np

from vidcolor import api
from vidcolor.io import VideoWriter
from vidcolor.jobs import DEFAULTS
from vidcolor.metrics import psnr
from vidcolor.pipeline import Dequantizer, auto_batch_size, batched

from dequantize_quality import DEGRADATIONS, degrade, encode_input, read
from dequantize_temporal import emit, validation_clips

ROWS = ("4 bit/ch, mid", "4 bit/ch, floor", "palette 16, no dither", "palette 16, bayer")


def dequantize(frames: np.ndarray, model: str) -> np.ndarray:
    """``vidcolor dequantize``'s frames before the encode: uint8 RGB ``(T, H, W, 3)`` in and out."""
    job = Dequantizer(model)
    defaults = inspect.signature(api.dequantize).parameters      # the CLI's and API's temporal smoothing
    job.set_temporal(defaults["temporal"].default, defaults["temporal_strength"].default)
    return np.stack(list(batched(iter(frames), job, auto_batch_size(frames.shape[2], frames.shape[1], job.device))))


def encode(frames: np.ndarray, fps, path: Path, pix_fmt: str, crf: int) -> tuple[np.ndarray, int]:
    """``frames`` written by vidcolor's ``VideoWriter`` and read back; (decoded frames, file size in bytes)."""
    with VideoWriter(path, frames.shape[2], frames.shape[1], fps, crf=crf, pix_fmt=pix_fmt, overwrite=True) as w:
        w.write(frames)
    return read(path)[0], path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--crf", type=int, nargs="+", default=[18, 16, 14, 13, 12, 10])
    ap.add_argument("--pix-fmt", nargs="+", default=["yuv420p10le", "yuv444p", "yuv444p10le"],
                    help="other pixel formats, each at crf 16 (yuv420p is run at every --crf)")
    ap.add_argument("--model", default=DEFAULTS["dequantize"])
    ap.add_argument("--out", type=Path, help="write the markdown table here too")
    args = ap.parse_args()
    settings = [("yuv420p", c) for c in args.crf] + [(p, 16) for p in args.pix_fmt]
    clips = []
    gains: dict[str, list[float]] = {}                       # row -> per-clip gain before the encode
    per: dict[tuple[str, str, int], list[tuple[float, float, int]]] = {}    # output PSNR, (a') PSNR, bytes
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for clip, original, fps in validation_clips(args.frames):
            clips.append(clip)
            for dname in ROWS:
                encode_input(degrade(original, DEGRADATIONS[dname]), tmp / "in.mp4", fps)
                inp = read(tmp / "in.mp4")[0]
                out = dequantize(inp, args.model)
                gains.setdefault(dname, []).append(psnr(out, original) - psnr(inp, original))
                for pix_fmt, crf in settings:
                    a = encode(inp, fps, tmp / "a.mp4", pix_fmt, crf)[0]
                    y, size = encode(out, fps, tmp / "y.mp4", pix_fmt, crf)
                    per.setdefault((dname, pix_fmt, crf), []).append((psnr(y, original), psnr(a, original), size))
                print(clip.stem, dname, f"before the encode {gains[dname][-1]:+.3f}", " ".join(
                    f"{p} crf {c}: {per[dname, p, c][-1][0] - per[dname, p, c][-1][1]:+.3f}" for p, c in settings),
                    flush=True)
    lines = [f"`python benchmarks/dequantize_encode.py --frames {args.frames}` (model {args.model}; "
             f"{len(clips)} validation clips: {', '.join(c.stem.removeprefix('davis_') for c in clips)}; "
             "640x360; the input libx264 crf 12)", "",
             "| degradation | output encode | gain over (a'): mean / worst (dB) | output PSNR (dB) | (a') PSNR (dB) "
             "| output KB per frame |", "|---|---|---|---|---|---|"]
    for dname in ROWS:
        g = np.array(gains[dname])
        lines.append(f"| {dname} | none (before the encode; gain over the decoded input) | "
                     f"{g.mean():+.3f} / {g.min():+.3f} | — | — | — |")
        for pix_fmt, crf in settings:
            r = np.array(per[dname, pix_fmt, crf])
            gain = r[:, 0] - r[:, 1]
            lines.append(f"| {dname} | libx264 {pix_fmt} crf {crf} | {gain.mean():+.3f} / {gain.min():+.3f} | "
                         f"{r[:, 0].mean():.2f} | {r[:, 1].mean():.2f} | {r[:, 2].mean() / args.frames / 1024:.1f} |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
