"""Does ``vidcolor dequantize`` need its temporal smoothing? Quality, flicker and speed with ``--temporal flow`` and ``off``.

The smoothing (:mod:`vidcolor.temporal`) carries the generator's colour (ab) from frame to frame along the
optical flow. For dequantization the correction is small (the model's strength, 0.15-0.25) and is then
projected onto each pixel's quantization cell, so the question is whether the smoothing still changes
anything a viewer or a metric would see, and what it costs.

Content: the held-back DAVIS clips that ``dequantize_quality.py`` does not score (``split_clips``' held-back
clips after its first ``HELD_CLIPS``: the validation clips, never the benchmark's), the first ``--frames``
frames at 640x360 (INTER_AREA). Degradations (``dequantize_quality.degrade``): ffmpeg palettegen/paletteuse
16 colours without dither and with Bayer dither, 4 bits per channel at bin middles and at the bin floor;
then the benchmark's input encode (libx264 crf 12, inter frames). Methods: the trivial baselines (a) the
input itself (the file the user has, decoded) and (a') the input re-encoded through vidcolor's output path, and
``vidcolor.api.dequantize(temporal=...)`` with the default model and output encode, for each mode. Per clip and
degradation: PSNR against the original frames (pooled MSE), the warp error (Lai et al. 2018,
``vidcolor.metrics.warp_error``, flow of the original clip, x 1e4) and wall time; the table (:func:`table`) gives
the mean and the worst clip (named) of the PSNR gain over (a') and the mean warp error (the original's own is the
floor).

    python benchmarks/dequantize_temporal.py --out docs/dequantize_temporal.md
"""
from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vidcolor import api
from vidcolor.jobs import DEFAULTS, JOBS
from vidcolor.metrics import psnr
from vidcolor.metrics.video import pair_flows, warp_error
from vidcolor.pipeline import STRENGTH_KEYS
from vidcolor.quantizer.reconstruction import BAND_WEIGHT
from vidcolor.training.data import split_clips

from dequantize_quality import DATA, DEGRADATIONS, HELD_CLIPS, degrade, encode_input, read, read_natural, reencode
from benchdata import require, require_data

ROWS = ("palette 16, no dither", "palette 16, bayer", "4 bit/ch, mid", "4 bit/ch, floor")
MODES = ("flow", "off")
INPUT = "(a) input"
BASELINE = "(a') re-encoded input"


def table(per: dict[tuple[str, str], list[tuple[str, float, float, float, float]]]) -> list[str]:
    """The markdown table's lines from ``per``: ``(degradation, method) -> [(clip, PSNR dB, gain over (a') dB,
    warp error x 1e4, fps), ...]``, one tuple per clip. Per row: the mean PSNR, the mean and the worst (lowest)
    gain over (a') with the clip it was on, the mean warp error and the mean fps; (a')'s gain (0 by definition)
    and the baselines' fps (nothing is run) are dashes."""
    lines = ["| degradation | method | PSNR (dB) | gain over (a'): mean / worst (clip) | warp error (x 1e-4) "
             "| fps (end to end, incl. start-up) |", "|---|---|---|---|---|---|"]
    for (dname, method), rows in per.items():
        r = np.array([row[1:] for row in rows], dtype=float)
        worst = int(r[:, 1].argmin())
        gain = ("—" if method == BASELINE else
                f"{r[:, 1].mean():+.3f} / {r[worst, 1]:+.3f} ({rows[worst][0].removeprefix('davis_')})")
        fps = "—" if method in (INPUT, BASELINE) else f"{r[:, 3].mean():.1f}"
        lines.append(f"| {dname} | {method} | {r[:, 0].mean():.2f} | {gain} | {r[:, 2].mean():.3f} | {fps} |")
    return lines


def validation_clips(frames: int):
    """Yield ``(clip path, original frames uint8 (T, 360, 640, 3), fps)`` for each validation clip: the
    held-back DAVIS clips after the quality benchmark's first ``HELD_CLIPS``, first ``frames`` frames."""
    clips = split_clips(DATA / "video")[1][HELD_CLIPS:]
    require(clips, f"validation clips under {DATA / 'video'} (the held-back DAVIS clips after the first {HELD_CLIPS})")
    for clip in clips:
        yield clip, *read_natural(clip, frames)


def parse_per_kind(text: str) -> dict[str, float]:
    """``KIND=VALUE,...`` (``--strength``, ``--band-weight``) as ``{kind: value}``; ``""`` gives ``{}``.

    Raises:
        ValueError: on an item that is not ``KIND=number``, or a kind not in :data:`vidcolor.pipeline.STRENGTH_KEYS` (a typo would
            otherwise leave the model's own value in place without a word).
    """
    out = {}
    for item in filter(None, text.split(",")):
        kind, sep, value = item.partition("=")
        if not sep or kind not in STRENGTH_KEYS:
            raise ValueError(f"{item!r} is not KIND=VALUE with KIND one of {', '.join(STRENGTH_KEYS)}")
        try:
            out[kind] = float(value)
        except ValueError:
            raise ValueError(f"{item!r}: {value!r} is not a number") from None
    return out


def emit(lines: list[str], out: Path | None) -> None:
    """Print a markdown table (its lines) and write it to ``out`` too when given."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        out.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--model", default=DEFAULTS["dequantize"])
    ap.add_argument("--out", type=Path, help="write the markdown table here too")
    ap.add_argument("--band-weight", metavar="KIND=W,...", help="override vidcolor.quantizer.reconstruction.BAND_WEIGHT "
                    "for this run, e.g. uniform=0.25 (0 = no band correction for that kind): how its weights were chosen")
    args = ap.parse_args()
    require_data(DATA / "video")
    try:
        band_weight = parse_per_kind(args.band_weight or "")
    except ValueError as exc:
        ap.error(f"--band-weight: {exc}")
    for kind, w in band_weight.items():
        if w:
            BAND_WEIGHT[kind] = w
        else:
            BAND_WEIGHT.pop(kind, None)
    clips = []
    per: dict[tuple[str, str], list[tuple[str, float, float, float, float]]] = {}   # clip, PSNR, gain, warp, fps
    floor: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for clip, original, fps in validation_clips(args.frames):
            clips.append(clip)
            flows = pair_flows(original)
            floor.append(warp_error(original, flows=flows) * 1e4)
            for dname in ROWS:
                src = tmp / "in.mp4"
                encode_input(degrade(original, DEGRADATIONS[dname]), src, fps)
                a = read(reencode(src, tmp / "base.mp4"))[0]
                base = psnr(a, original)
                x = read(src)[0]
                per.setdefault((dname, INPUT), []).append(
                    (clip.stem, psnr(x, original), psnr(x, original) - base, warp_error(x, flows=flows) * 1e4, 0.0))
                per.setdefault((dname, BASELINE), []).append(
                    (clip.stem, base, 0.0, warp_error(a, flows=flows) * 1e4, 0.0))
                for mode in MODES:
                    out = tmp / f"out_{mode}.mp4"
                    t = time.perf_counter()
                    api.dequantize(src, out, model=args.model, temporal=mode, overwrite=True, progress=False)
                    wall = time.perf_counter() - t
                    y = read(out)[0]
                    row = (clip.stem, psnr(y, original), psnr(y, original) - base, warp_error(y, flows=flows) * 1e4,
                           len(y) / wall)
                    per.setdefault((dname, f"temporal {mode}"), []).append(row)
                    print(clip.stem, dname, mode, f"{row[1]:.2f} dB, gain {row[2]:+.3f}, warp {row[3]:.3f}, "
                          f"{row[4]:.1f} fps", flush=True)
    lines = [f"`{shlex.join(['python', 'benchmarks/dequantize_temporal.py', *sys.argv[1:]])}` (model {args.model}; "
             f"band correction weights {BAND_WEIGHT}; output libx264 crf {JOBS['dequantize'].crf}; "
             f"{len(clips)} validation clips: {', '.join(c.stem.removeprefix('davis_') for c in clips)}; the "
             f"originals' own warp error {np.mean(floor):.3f} x 1e-4)", "", *table(per)]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
