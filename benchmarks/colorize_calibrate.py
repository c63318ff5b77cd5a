"""Pick a colorizer's inference setting (annealed-mean temperature T, saturation, colour confidence, render
size) on the calibration photos.

The calibration half of the held-back photos (:func:`colorize_quality.held_back_photos`) is never scored by
``colorize_wide.py``, so a setting picked here can be reported there without having been tuned on the
reported rows. Each (T, saturation, confidence, render size) of the grid is scored (mean CIEDE2000 and
colourfulness ratio against the original colour, each photo's luminance colorized as a still) and
:func:`colorize_quality.pick_setting` (the issue's target as a rule) picks one. Prints the grid, the gray input's CIEDE2000 and the pick.

    python benchmarks/colorize_calibrate.py MODEL [MODEL ...] [--temperatures 0.38 0.5] [--saturations 1 1.25 1.5]
        [--confidences 0 1 2] [--render-sizes 192 256 320]
"""
from __future__ import annotations

import argparse

import numpy as np

from colorize_quality import even, gray, pick_setting, sweep_settings
from colorize_quality import held_back_photos
from vidcolor.io.images import read_image
from vidcolor.jobs import RENDER_SIZE
from vidcolor.metrics import ciede2000
from benchdata import DATA, require_data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="bundled name or weight file")
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.38, 0.5])
    ap.add_argument("--saturations", type=float, nargs="+", default=[1.0, 1.25, 1.5])
    ap.add_argument("--confidences", type=float, nargs="+", default=[0.0],
                    help="exponents g of the per-pixel colour confidence (Colorizer's confidence)")
    ap.add_argument("--render-sizes", type=int, nargs="+", default=[RENDER_SIZE],
                    help="shorter sides, pixels, of the network's input (Colorizer's render_size)")
    args = ap.parse_args()
    require_data(DATA / "train")
    photos = [even(read_image(p)[0]) for p in held_back_photos()[1]]
    gray_ciede = float(np.mean([ciede2000(gray(t), t) for t in photos]))
    print(f"{len(photos)} calibration photos; gray input CIEDE2000 {gray_ciede:.2f}")
    for model in args.models:
        sweep = sweep_settings(model, photos, args.temperatures, args.saturations, args.confidences,
                               args.render_sizes)
        print(f"{model}: pick {pick_setting(sweep, gray_ciede)}")


if __name__ == "__main__":
    main()
