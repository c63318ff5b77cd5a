"""Colour strength against accuracy: colorizer weight files compared along the saturation factor.

Three sets, each chosen before any run: the pick rows, ``calibration`` (the calibration half of the held-back
photos, :func:`colorize_quality.held_back_photos`, never reported by ``colorize_quality.py`` or
``colorize_wide.py``), and the report rows, ``video`` (the held-back DAVIS clips' frames) and ``photos`` (the
scored half of the held-back photos), as ``colorize_quality.py`` builds them. At annealed-mean temperature
--temperature and each --saturations factor, each weight file is scored on all three: mean CIEDE2000 and the
colourfulness ratio (output / ground truth), and on video the worst clip (the held-back clip whose mean CIEDE2000
is furthest above the gray input's there). The gray input (L only, the trivial baseline) is a row of its own.

Per weight file the saturation is picked on the calibration rows only, by ``colorize_quality.pick_setting``
(the rule the default's setting is picked by), and the report cells at that pick are marked: a model is then
read at the setting it would ship with, which no reported row chose. Reading a setting, or which weight file to
bundle, off the video or photos columns would tune on reported rows (the video rows are all the held-back
clips: no footage is left to pick on). Two models are compared fairly only at equal colourfulness: a stronger
saturation alone raises both.

    python benchmarks/colorize_tradeoff.py NAME=WEIGHTS [NAME=WEIGHTS ...] --out docs/colorize_tradeoff.md [--readme]
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from colorize_quality import colorize_all, frame_ciede, gray, photo_set, pick_setting, score, video_row, video_set
from readme import splice_readme

from vidcolor.pipeline import Colorizer
from benchdata import DATA, require_data

SETS = ("calibration", "video", "photos")
"""The pick rows first, then the report rows."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", metavar="NAME=WEIGHTS", help="a row label and a weight file (or bundled name)")
    ap.add_argument("--temperature", type=float, default=0.5)
    ap.add_argument("--saturations", type=float, nargs="+", default=[1.0, 1.25, 1.5])
    ap.add_argument("--frames", type=int, default=8, help="frames per held-back DAVIS clip")
    ap.add_argument("--photos", type=int, default=80, help="held-back photos of each half (calibration, scored)")
    ap.add_argument("--out", type=Path, help="write the table (markdown) and its JSON beside it")
    ap.add_argument("--readme", action="store_true", help="also splice the table into README.md")
    args = ap.parse_args()
    require_data(DATA / "video", DATA / "train")
    video, _, clips = video_set(args.frames)
    sets = {"calibration": photo_set(args.photos, calibration=True), "video": video, "photos": photo_set(args.photos)}
    gray_video = frame_ciede([gray(f) for f in video], video)
    results = {"command": shlex.join(["python", "benchmarks/colorize_tradeoff.py", *sys.argv[1:]]),
               "temperature": args.temperature, "saturations": args.saturations,
               "sets": {k: len(v) for k, v in sets.items()}, "clips": list(dict.fromkeys(clips)),
               "gray": {k: score([gray(f) for f in v], v, gray_video if k == "video" else None) for k, v in sets.items()},
               "models": {}, "pick": {}}
    for spec in args.models:
        name, _, weights = spec.partition("=")
        for sat in args.saturations:
            job = Colorizer(weights, device="cpu", temperature=args.temperature, saturation=sat)
            row = {}
            for k, v in sets.items():
                out = colorize_all(job, v)[0]
                row[k] = video_row(out, v, clips, gray_video) if k == "video" else score(out, v)
            results["models"].setdefault(name, {})[str(sat)] = row
            print(name, sat, json.dumps(row), flush=True)
        results["pick"][name] = pick_saturation(results["models"][name], results["gray"]["calibration"]["ciede2000"],
                                                args.temperature)
    text = report(results)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    if args.readme:
        splice_readme("colorize-tradeoff", text)


def pick_saturation(rows: dict[str, dict], gray_ciede: float, temperature: float) -> str:
    """The saturation (a key of ``rows``: saturation -> ``{"calibration": score, ...}``) that
    ``colorize_quality.pick_setting`` picks from the calibration scores alone, against the gray input's CIEDE2000
    on the calibration photos (``gray_ciede``); the other sets' scores are not read."""
    sweep = {f"{temperature}/{sat}": r["calibration"] for sat, r in rows.items()}
    return pick_setting(sweep, gray_ciede).split("/", 1)[1]


def cell(r: dict, picked: bool = False) -> str:
    """``CIEDE2000 / ratio``, with the worst clip's CIEDE2000 - gray where ``r`` has one; bold where ``picked``."""
    text = f"{r['ciede2000']:.2f} / {r['colourfulness_ratio']:.2f}"
    if r.get("worst_clip"):
        text += f" (worst {r['worst_clip']['ciede2000_minus_gray']:+.2f}, {r['worst_clip']['clip']})"
    return f"**{text}**" if picked else text


def report(results: dict) -> str:
    """The markdown report of a run's ``results`` (as :func:`main` saves them)."""
    sats, n = [str(s) for s in results["saturations"]], results["sets"]
    lines = [f"`{results['command']}`: CIEDE2000 / colourfulness ratio at annealed-mean T {results['temperature']} "
             f"and each saturation factor. Pick rows: {n['calibration']} calibration photos (the held-back photos' "
             f"calibration half, reported nowhere). Report rows: {n['video']} frames of the {len(results['clips'])} "
             f"held-back DAVIS clips ({', '.join(c.removeprefix('davis_') for c in results['clips'])}; worst: the clip "
             f"whose mean CIEDE2000 is furthest above the gray input's, CIEDE2000 - gray) and {n['photos']} photos "
             "(the scored half). Each model's saturation is picked on the calibration columns alone (`pick_setting`, "
             "the rule of `colorize_quality.py`); **bold**: the report cells at that pick. Read no setting and no "
             "choice of model off the video or photos columns: they are the reported rows.", "",
             "| model | picked on calibration | " + " | ".join(f"{k} x{s}" for k in SETS for s in sats) + " |",
             "|---|---|" + "---|" * (len(SETS) * len(sats))]
    g = results["gray"]
    lines.append("| gray input (L only) | — | " + " | ".join(cell(g[k]) for k in SETS for _ in sats) + " |")
    for name, rows in results["models"].items():
        pick = results["pick"][name]
        cells = [cell(rows[s][k], picked=(s == pick and k != "calibration")) for k in SETS for s in sats]
        lines.append(f"| {name} | x{pick} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
