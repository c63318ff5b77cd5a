"""Where the error of dequantized frames is left: squared error split by how smooth the truth is.

On validation rows only (``dequantize_validation.content``: content never scored by ``dequantize_quality.py``),
each image degraded as there (``DEGRADATIONS``, an intra H.264 round trip at crf 14) and dequantized alone by
:class:`~vidcolor.pipeline.Dequantizer` (its own quantizer estimate, the model's stored strengths, the band
correction, the contour estimate, the projection; graphics and frames without a quantizer pass).
Pixels are split by the local standard deviation of the original's BT.601 luma (5x5 box, levels); per
region: its share of the pixels, the mean squared error of input and output (levels^2, over R, G and B),
and the gain (dB) the whole set would have if that region's output were exact.

    python benchmarks/dequantize_error_split.py [--content "clip frames"] [--degradation "4 bit mid"]
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch

from dequantize_validation import CONTENT_KINDS, DEGRADATIONS, content
from vidcolor.jobs import DEFAULTS
from vidcolor.pipeline import Dequantizer
from benchdata import DATA, require_data

REGIONS = ((0, 2), (2, 6), (6, 16), (16, np.inf))
"""Local luma standard deviation bands (levels) of the original."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULTS["dequantize"])
    ap.add_argument("--content", default="clip frames", choices=CONTENT_KINDS)
    ap.add_argument("--degradation", default="4 bit mid", choices=list(DEGRADATIONS))
    ap.add_argument("--photos", type=int, default=24)
    args = ap.parse_args()
    require_data(DATA)
    torch.set_num_threads(1)
    job = Dequantizer(args.model, "cpu")
    job.set_stills(True)                          # each image its own quantizer estimate
    totals = np.zeros((len(REGIONS), 3))          # pixels, input squared error, output squared error
    for i, x in enumerate(content(args.photos)[args.content]):
        coarse = DEGRADATIONS[args.degradation].apply(x, seed=i)
        out = job(coarse[None])[0].astype(np.float32)
        truth = x.astype(np.float32)
        luma = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32)
        sd = np.sqrt(np.maximum(cv2.blur(luma * luma, (5, 5)) - cv2.blur(luma, (5, 5)) ** 2, 0))
        e_in = ((coarse - truth) ** 2).sum(-1)
        e_out = ((out - truth) ** 2).sum(-1)
        for r, (lo, hi) in enumerate(REGIONS):
            m = (sd >= lo) & (sd < hi)
            totals[r] += m.sum(), e_in[m].sum(), e_out[m].sum()
    n = totals[:, 0].sum()
    e_in, e_out = totals[:, 1].sum(), totals[:, 2].sum()
    print(f"{args.content}, {args.degradation}: input MSE {e_in / n / 3:.2f}, output {e_out / n / 3:.2f}, "
          f"gain {10 * np.log10(e_in / e_out):+.2f} dB")
    print("| luma std (levels) | share | input MSE | output MSE | gain if exact here |")
    print("|---|---|---|---|---|")
    for (lo, hi), (k, a, b) in zip(REGIONS, totals):
        print(f"| {lo:g}-{hi:g} | {k / n:.2f} | {a / k / 3:.1f} | {b / k / 3:.1f} | "
              f"{10 * np.log10(e_in / (e_out - b)):+.2f} dB |")


if __name__ == "__main__":
    main()
