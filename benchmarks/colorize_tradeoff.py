"""Colour strength against accuracy: colorizer weight files compared along the saturation factor.

The default model's setting is picked on the calibration half of the held-back photos (``colorize_quality.py``,
``colorize_calibrate.py``); this script shows the whole trade-off curve of several weight files on the reported
evaluation sets (the held-back DAVIS clips' frames and the scored half of the held-back photos, see
``colorize_quality.py``): at annealed-mean temperature --temperature and each --saturations factor, mean
CIEDE2000 and the colourfulness ratio (output / ground truth). It describes; it picks nothing (a setting read off
these rows would be tuned on reported rows). Two models are compared fairly only at equal colourfulness: a
stronger saturation alone raises both.

    python benchmarks/colorize_tradeoff.py NAME=WEIGHTS [NAME=WEIGHTS ...] --out docs/colorize_tradeoff.md --readme
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from colorize_quality import colorize_all, gray, photo_set, score, video_set
from readme import splice_readme

from vidcolor.pipeline import Colorizer
from benchdata import DATA, require_data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", metavar="NAME=WEIGHTS", help="a row label and a weight file (or bundled name)")
    ap.add_argument("--temperature", type=float, default=0.5)
    ap.add_argument("--saturations", type=float, nargs="+", default=[1.0, 1.25, 1.5])
    ap.add_argument("--frames", type=int, default=8, help="frames per held-back DAVIS clip")
    ap.add_argument("--photos", type=int, default=80, help="held-back photos")
    ap.add_argument("--out", type=Path, help="write the table (markdown) and its JSON beside it")
    ap.add_argument("--readme", action="store_true", help="also splice the table into README.md")
    args = ap.parse_args()
    require_data(DATA / "video", DATA / "train")
    sets = {"video": video_set(args.frames)[0], "photos": photo_set(args.photos)}
    results = {"gray": {k: score([gray(f) for f in v], v) for k, v in sets.items()}, "models": {}}
    for spec in args.models:
        name, _, weights = spec.partition("=")
        for sat in args.saturations:
            job = Colorizer(weights, device="cpu", temperature=args.temperature, saturation=sat)
            row = {k: score(colorize_all(job, v)[0], v) for k, v in sets.items()}
            results["models"].setdefault(name, {})[str(sat)] = row
            print(name, sat, json.dumps(row), flush=True)
    text = report(results, args)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    if args.readme:
        splice_readme("colorize-tradeoff", text)


def report(results: dict, args) -> str:
    g = results["gray"]
    lines = [f"CIEDE2000 / colourfulness ratio at annealed-mean T {args.temperature} and each saturation factor; "
             f"{args.frames} frames of each held-back DAVIS clip and {args.photos} held-back photos "
             f"(`benchmarks/colorize_tradeoff.py`). Gray input: video {g['video']['ciede2000']:.2f}, "
             f"photos {g['photos']['ciede2000']:.2f}.", "",
             "| model | " + " | ".join(f"video x{s}" for s in args.saturations) + " | "
             + " | ".join(f"photos x{s}" for s in args.saturations) + " |",
             "|---|" + "---|" * (2 * len(args.saturations))]
    for name, rows in results["models"].items():
        cells = [f"{rows[str(s)][k]['ciede2000']:.2f} / {rows[str(s)][k]['colourfulness_ratio']:.2f}"
                 for k in ("video", "photos") for s in args.saturations]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
