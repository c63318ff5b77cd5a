"""Colorization quality: the ablation of issue 4 on frames and photos that no model was trained on.

Evaluation sets (built from ../shared/data, never trained on):

* ``video``: the DAVIS clips of ../shared/data/video that training holds back
  (:func:`vidcolor.training.data.split_clips`: every 2nd clip by name; recipes with a ``video`` folder
  train on frames of the others), --frames frames spread evenly over each clip (not its first),
  downscaled to 240 px high (INTER_AREA);
* ``photos`` (no reference there, so no exemplar baseline): the held-back slice of ../shared/data/train (every 20th photo, the split the training
  loop leaves out), every other one (the scored half of :func:`held_back_photos`), the first --photos of them.

Each frame is reduced to its luminance (CIE L with a = b = 0: the "gray input" row), colorized, and
compared with the original colour: PSNR (pooled), mean CIEDE2000, and the colourfulness ratio
(Hasler & Suesstrunk 2003, mean over frames of the output / of the ground truth). The issue's target:
ratio >= 0.6 while CIEDE2000 is no worse than the gray input's.

Baselines: the gray input, and Reinhard et al. (2001) global colour transfer from the clip's first
frame (the reference-mode floor). Models: every ``runs/ablation/<name>/<name>.safetensors`` (equal short budgets, see
train/ablation/) and the bundled default; a sweep of the default's annealed-mean temperature and saturation is run on
the calibration half of the held-back photos only (the other every-other photo, never reported; the video and
photo rows are reported at the chosen setting, never tuned on: before stop 59 the sweep ran on the reported
photos). Writes
``docs/colorize_quality.{md,json}`` and a contact sheet PNG (video frames, photos, and the real
black-and-white photos of ../shared/data/bw/photos, which have no ground truth).

    python benchmarks/colorize_quality.py
    python train/publish.py runs/colorize-effnet-video --quality docs/colorize_quality.json --inference PICK

The default model's rows are measured at the picked setting, which publish.py then stores in the
weight file as its inference defaults.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from vidcolor.color import lab_to_rgb, reinhard_transfer, rgb_to_lab
from vidcolor.evaluate import load_frames
from vidcolor.io.images import read_image
from vidcolor.metrics import ciede2000, colourfulness, psnr
from vidcolor.pipeline import Colorizer
from vidcolor.training.data import list_images, split_clips, split_holdout
from vidcolor.jobs import DEFAULTS, RENDER_SIZE
from vidcolor.weights import resolve

from readme import COLORIZE_SHEET_CAPTION, splice_readme
from benchdata import DATA, require_data

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"
ABLATION = [  # (row label, run name): the order of the table
    ("U-Net, L1 only", "colorize-unet-l1"),
    ("pix2pix (U-Net, L1 + LSGAN)", "colorize-unet-pix2pix"),
    ("pix2pix + perceptual (EffNet-Lite0)", "colorize-unet-perceptual"),
    ("pix2pix + perceptual, WGAN-GP", "colorize-unet-wgan-gp"),
    ("seed-004 FCN (L1 + perceptual)", "colorize-fcn"),
    ("EffNet-Lite0 U-Net, ab bins (same budget)", "colorize-effnet-short"),
]
BUNDLED = [  # (row label, bundled model) measured at the inference defaults stored in its weight file
    ("colorize-effnet: photos only (the default's starting point)", "colorize-effnet"),
]
HEIGHT = 240


def gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(..., H, W, 3)`` -> its luminance as uint8 RGB (a = b = 0)."""
    lab = rgb_to_lab(rgb)
    lab[..., 1:] = 0
    return lab_to_rgb(lab)


def resize_h(rgb: np.ndarray, height: int = HEIGHT, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """An image ``(H, W[, C])`` resized to ``height`` rows and the even width nearest its aspect ratio."""
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (round(w * height / h / 2) * 2, height), interpolation=interpolation)


def spread(stack: np.ndarray, n: int) -> list[np.ndarray]:
    """``n`` frames spread evenly over a clip (not its first or last), :data:`HEIGHT` px high."""
    return [resize_h(stack[int(i)]) for i in np.linspace(0, len(stack) - 1, n + 2)[1:-1].round()]


def even(img: np.ndarray) -> np.ndarray:
    """An image cropped to even sides."""
    return img[: img.shape[0] // 2 * 2, : img.shape[1] // 2 * 2]


def video_set(frames: int) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Evaluation frames of every held-back clip, for each the clip's first frame (a colour reference
    that is never evaluated, for the exemplar baseline), and the clip's name (without ``davis_``)."""
    out, refs, names = [], [], []
    for clip in split_clips(SHARED / "video")[1]:
        stack = load_frames(clip)
        picked = spread(stack, frames)
        out += picked
        refs += [resize_h(stack[0])] * len(picked)
        names += [clip.stem.removeprefix("davis_")] * len(picked)
    return out, refs, names


def frame_ciede(outputs: list[np.ndarray], truth: list[np.ndarray]) -> np.ndarray:
    """Per frame, the mean CIEDE2000 of ``outputs`` (uint8 RGB frames) against ``truth``: float ``(N,)``, computed
    once where both :func:`score` and :func:`worst_clip` read it."""
    return np.array([ciede2000(o, t) for o, t in zip(outputs, truth)])


def worst_clip(own_ciede: np.ndarray, clips: list[str], gray_ciede: np.ndarray) -> dict:
    """The clip on which the outputs fall furthest behind the gray input: per clip (``clips`` names each frame's
    clip) the mean of ``own_ciede`` (the outputs' per-frame CIEDE2000, :func:`frame_ciede`) minus the mean of
    ``gray_ciede`` (the gray input's, same order); the largest.

    Returns:
        ``{"clip": name, "ciede2000_minus_gray": float}``.

    Raises:
        ValueError: if the lists differ in length or are empty.
    """
    if not (len(own_ciede) == len(clips) == len(gray_ciede)) or not clips:
        raise ValueError("worst_clip needs one output score, clip name and gray score per frame")
    own, gray_scores, names = np.asarray(own_ciede), np.asarray(gray_ciede), np.array(clips)
    delta = {c: float(own[names == c].mean() - gray_scores[names == c].mean()) for c in dict.fromkeys(clips)}
    clip = max(delta, key=delta.get)
    return {"clip": clip, "ciede2000_minus_gray": delta[clip]}


def video_row(outputs: list[np.ndarray], truth: list[np.ndarray], clips: list[str], gray_ciede: np.ndarray) -> dict:
    """:func:`score` of the video set with its ``worst_clip`` (:func:`worst_clip`), CIEDE2000 computed once."""
    own = frame_ciede(outputs, truth)
    return dict(score(outputs, truth, own), worst_clip=worst_clip(own, clips, gray_ciede))


def held_back_photos() -> tuple[list[Path], list[Path]]:
    """The photos no colorizer trained on (every 20th), split in two by position: ``(scored, calibration)``;
    settings may be fitted on the second half only, and only the first half is reported."""
    held = split_holdout(list_images(SHARED / "train"), 20)[1]
    return held[0::2], held[1::2]


def photo_set(n: int, calibration: bool = False) -> list[np.ndarray]:
    """The first ``n`` held-back photos of the scored half (:func:`held_back_photos`), or of the calibration half
    with ``calibration``, cropped to even sides."""
    return [even(read_image(p)[0]) for p in held_back_photos()[calibration][:n]]


def score(outputs: list[np.ndarray], truth: list[np.ndarray], ciede: np.ndarray | None = None) -> dict:
    """PSNR of the mean per-frame MSE, mean CIEDE2000, colourfulness ratio over a list of frames; ``ciede``: the
    per-frame CIEDE2000 when already computed (:func:`frame_ciede`)."""
    return {"psnr": psnr(outputs, truth),
            "ciede2000": float(np.mean(frame_ciede(outputs, truth) if ciede is None else ciede)),
            "colourfulness_ratio": float(np.mean([colourfulness(o) for o in outputs])
                                         / np.mean([colourfulness(t) for t in truth]))}


def trained_steps(path) -> str:
    """``steps x batch`` of a weight file, from its metadata, after its ``init_from`` model's when it has one."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    recipe = json.loads(meta.get("recipe", "{}"))
    own = f"{json.loads(meta.get('steps', '0'))} x {recipe.get('batch_size', '?')}"
    return f"{trained_steps(resolve(recipe['init_from']))}, then {own}" if recipe.get("init_from") else own


def colorize_all(job: Colorizer, frames: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
    t0 = time.perf_counter()
    out = [job(gray(f)[None])[0] for f in frames]
    return out, (time.perf_counter() - t0) / len(frames)


def label(img: np.ndarray, text: str) -> np.ndarray:
    im = Image.fromarray(img)
    ImageDraw.Draw(im).text((4, 3), text, fill=(255, 255, 0))
    return np.asarray(im)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=8, help="frames per held-back DAVIS clip")
    ap.add_argument("--photos", type=int, default=80, help="held-back photos")
    ap.add_argument("--default", default=str(resolve(DEFAULTS["colorize"])))
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.2, 0.3, 0.38, 0.5])
    ap.add_argument("--saturations", type=float, nargs="+", default=[1.0, 1.25, 1.5])
    ap.add_argument("--out", default=str(ROOT / "docs" / "colorize_quality.md"))
    ap.add_argument("--readme", action="store_true", help="also splice the table into README.md")
    ap.add_argument("--report-only", action="store_true",
                    help="re-render the report (and with --readme the README section) from --out's saved .json; "
                         "runs nothing")
    args = ap.parse_args()
    if args.report_only:
        text = write_report(json.loads(Path(args.out).with_suffix(".json").read_text()), Path(args.out))
        if args.readme:
            splice_readme("colorize-results", text + "\n" + COLORIZE_SHEET_CAPTION)
        return
    require_data(DATA / "video", DATA / "train")
    video, references, owners = video_set(args.frames)
    sets = {"video": video, "photos": photo_set(args.photos)}
    results: dict = {"sets": {k: len(v) for k, v in sets.items()}, "rows": {}, "sweep": {},
                     "clips": [c.stem.removeprefix("davis_") for c in split_clips(SHARED / "video")[1]]}
    gray_out = {k: [gray(f) for f in v] for k, v in sets.items()}
    gray_video = frame_ciede(gray_out["video"], video)           # per frame, for every row's worst clip
    results["rows"]["gray input (L only)"] = {"video": score(gray_out["video"], video, gray_video),
                                              "photos": score(gray_out["photos"], sets["photos"])}
    outputs = {"gray input (L only)": gray_out}
    reinhard = "Reinhard transfer from the clip's first frame (reference baseline)"
    outputs[reinhard] = {"video": [reinhard_transfer(gray(f), r) for f, r in zip(sets["video"], references)],
                         "photos": gray_out["photos"]}
    results["rows"][reinhard] = {"video": video_row(outputs[reinhard]["video"], video, owners, gray_video),
                                 "photos": {"psnr": float("nan"), "ciede2000": float("nan"),
                                            "colourfulness_ratio": float("nan")}}
    models = [(row, ROOT / "runs" / "ablation" / name / f"{name}.safetensors") for row, name in ABLATION]
    models += [(row, resolve(name)) for row, name in BUNDLED]
    for row, path in models:
        if not path.is_file():
            print(f"skip {row}: {path} missing")
            continue
        job = Colorizer(str(path), device="cpu")
        outs = {k: colorize_all(job, v) for k, v in sets.items()}
        outputs[row] = {k: o for k, (o, _) in outs.items()}
        results["rows"][row] = {"video": dict(video_row(outs["video"][0], video, owners, gray_video),
                                              s_per_frame=outs["video"][1]),
                                "photos": dict(score(outs["photos"][0], sets["photos"]), s_per_frame=outs["photos"][1])}
        results["rows"][row]["steps"] = trained_steps(path)
        print(row, results["rows"][row])
    # inference settings of the default model, swept on the calibration photos only (never on a reported row)
    calibration = photo_set(args.photos, calibration=True)
    results["sets"]["calibration photos"] = len(calibration)
    results["sweep"] = sweep_settings(args.default, calibration, args.temperatures, args.saturations)
    results["pick"] = pick_setting(results["sweep"], score([gray(f) for f in calibration], calibration)["ciede2000"])
    stored = Colorizer(args.default, device="cpu")       # the inference defaults the weight file holds now
    results["stored"] = f"{stored.temperature}/{stored.saturation}"
    t, sat = (float(v) for v in results["pick"].split("/"))
    job = Colorizer(args.default, device="cpu", temperature=t, saturation=sat)  # = the published defaults
    outs = {k: colorize_all(job, v) for k, v in sets.items()}
    default_row = f"**default: {Path(args.default).stem}, T {job.temperature}, saturation {job.saturation}**"
    outputs[default_row] = {k: o for k, (o, _) in outs.items()}
    results["rows"][default_row] = {"video": dict(video_row(outs["video"][0], video, owners, gray_video),
                                                  s_per_frame=outs["video"][1]),
                                    "photos": dict(score(outs["photos"][0], sets["photos"]), s_per_frame=outs["photos"][1])}
    results["rows"][default_row]["steps"] = trained_steps(args.default)
    g = results["rows"]["gray input (L only)"]
    results["target"] = {k: {"colourfulness_ratio": results["rows"][default_row][k]["colourfulness_ratio"],
                             "ciede2000_minus_gray": results["rows"][default_row][k]["ciede2000"] - g[k]["ciede2000"]}
                         for k in sets}
    text = write_report(results, Path(args.out))
    if args.readme:
        splice_readme("colorize-results", text + "\n" + COLORIZE_SHEET_CAPTION)
    contact_sheet(sets, outputs, default_row, job, Path(args.out).with_name("colorize_contact_sheet.png"))


def sweep_settings(model: str, photos: list[np.ndarray], temperatures: list[float], saturations: list[float],
                   confidences: tuple[float, ...] = (0.0,), render_sizes: tuple[int, ...] = (RENDER_SIZE,)) -> dict:
    """:func:`score` of ``model`` (CPU) on ``photos`` at each annealed-mean temperature, saturation,
    colour-confidence exponent (:class:`~vidcolor.pipeline.Colorizer`'s ``confidence``) and render size
    (its ``render_size``, shorter side in pixels), keyed ``"T/saturation"``, with ``"/confidence"`` where the
    confidence is not 0 and ``"@render_size"`` where it is not :data:`~vidcolor.jobs.RENDER_SIZE` (each printed as it is done)."""
    out = {}
    for size in render_sizes:
        for t in temperatures:
            for sat in saturations:
                for g in confidences:
                    key = f"{t}/{sat}" + (f"/{g}" if g else "") + (f"@{size}" if size != RENDER_SIZE else "")
                    job = Colorizer(model, device="cpu", temperature=t, saturation=sat, confidence=g, render_size=size)
                    out[key] = score(colorize_all(job, photos)[0], photos)
                    print(f"{model}  {key}: {out[key]}", flush=True)
    return out


def pick_setting(sweep: dict, gray_ciede: float) -> str:
    """The issue's target as a rule, on the photos: among settings with colourfulness ratio >= 0.6 and
    CIEDE2000 no worse than gray, the lowest CIEDE2000; failing that, the most colourful setting whose
    CIEDE2000 is no worse than gray; failing that, the lowest CIEDE2000. Returns the setting's key."""
    ok = {k: r for k, r in sweep.items() if r["ciede2000"] <= gray_ciede}
    both = {k: r for k, r in ok.items() if r["colourfulness_ratio"] >= 0.6}
    if both:
        return min(both, key=lambda k: both[k]["ciede2000"])
    if ok:
        return max(ok, key=lambda k: ok[k]["colourfulness_ratio"])
    return min(sweep, key=lambda k: sweep[k]["ciede2000"])


def same_setting(a: str, b: str) -> bool:
    """Whether two ``"T/saturation"`` keys name the same numbers (``"0.5/1.5"`` and ``"0.5/1.50"`` do)."""
    return [float(v) for v in a.split("/")] == [float(v) for v in b.split("/")]


def num(v: float) -> str:
    """A table cell: ``v`` to 2 places, or ``—`` where there is no score (NaN: Reinhard has no reference for photos)."""
    return "—" if v != v else f"{v:.2f}"


def write_report(results: dict, out: Path) -> str:
    n = results["sets"]
    # results saved before the worst-clip column (docs/colorize_quality.json of 0ebb89a) re-render without it
    has_worst = any(r["video"].get("worst_clip") for r in results["rows"].values())
    lines = [f"Evaluation: {n['video']} frames of the {len(results['clips'])} DAVIS clips that training holds back "
             f"({', '.join(results['clips'])}; 240 px high) and {n['photos']} held-back photos (the scored half), "
             "never trained on. Each cell: PSNR dB / CIEDE2000 / colourfulness ratio (output / ground truth)"
             + ("; worst clip: the held-back clip whose mean CIEDE2000 is furthest above the gray input's. "
                if has_worst else ". ") + "Generated by `benchmarks/colorize_quality.py`.", "",
             "| model | steps x batch | video: PSNR | CIEDE2000 | " + ("worst clip: CIEDE2000 - gray | " if has_worst else "")
             + "colour ratio | photos: PSNR | CIEDE2000 | colour ratio |",
             "|---|---|---|---|---|---|---|---|" + ("---|" if has_worst else "")]
    for row, r in results["rows"].items():
        w = r["video"].get("worst_clip")
        worst = f"{w['ciede2000_minus_gray']:+.2f} ({w['clip']})" if w else "—"
        cells = [f"{num(r[k]['psnr'])} | {num(r[k]['ciede2000'])} | "
                 + (f"{worst} | " if k == "video" and has_worst else "")
                 + num(r[k]['colourfulness_ratio']) for k in ("video", "photos")]
        lines.append(f"| {row} | {r.get('steps', '')} | " + " | ".join(cells) + " |")
    lines += ["", f"Inference settings of the default model, swept on {n['calibration photos']} calibration photos only "
              "(the other half of the held-back photos, never reported above; annealed-mean temperature T: "
              "lower = more colourful; saturation: factor on ab). Rule: `pick_setting` in the script; "
              f"picked **{results['pick']}**" + (", the default stored in the weight file." if "stored" not in results
                                                 or same_setting(results["pick"], results["stored"]) else
                                                 f"; the weight file stores {results['stored']} (publish.py "
                                                 "--inference stores the pick)."), "",
              "| T / saturation | PSNR | CIEDE2000 | colour ratio |", "|---|---|---|---|"]
    for t, r in results["sweep"].items():
        lines.append(f"| {t} | {r['psnr']:.2f} | {r['ciede2000']:.2f} | {r['colourfulness_ratio']:.2f} |")
    tgt = results["target"]
    lines += ["", "Target (colour ratio >= 0.6 and CIEDE2000 no worse than gray): " + "; ".join(
        f"{k}: ratio {v['colourfulness_ratio']:.2f}, CIEDE2000 {v['ciede2000_minus_gray']:+.2f} vs gray "
        f"({'met' if v['colourfulness_ratio'] >= 0.6 and v['ciede2000_minus_gray'] <= 0 else 'not met'})"
        for k, v in tgt.items()), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    print("\n".join(lines))
    return "\n".join(lines)


def contact_sheet(sets, outputs, default_row, job, png: Path, per_set: int = 4) -> None:
    """Rows: frames (gray | each model | ground truth), then real black-and-white photos (input | ours)."""
    rows = []
    names = list(outputs)
    for k in ("video", "photos"):
        idx = np.linspace(0, len(sets[k]) - 1, per_set).astype(int)
        shown = [m for m in names if k == "video" or not m.startswith("Reinhard")]  # no reference for photos
        for i in idx:
            tiles = [resize_h(outputs[m][k][i], 160) for m in shown] + [resize_h(sets[k][i], 160)]
            tiles = [label(t, s[:28]) for t, s in zip(tiles, [m.strip("*") for m in shown] + ["ground truth"])]
            w = max(t.shape[1] for t in tiles)
            rows.append(np.concatenate([np.pad(t, ((0, 0), (0, w - t.shape[1]), (0, 0))) for t in tiles], 1))
    bw = sorted((SHARED / "bw" / "photos").glob("ddcolor_*.jpg"))[:6]  # historical black-and-white photos
    for p in bw:
        rgb = resize_h(read_image(p)[0], 160)
        pair = np.concatenate([label(rgb, "real b/w input"), label(job(gray(rgb)[None])[0], "ours")], 1)
        rows.append(np.pad(pair, ((0, 0), (0, max(0, rows[0].shape[1] - pair.shape[1])), (0, 0)))[:, : rows[0].shape[1]])
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0))) for r in rows], 0)
    im = Image.fromarray(sheet)
    im.resize((im.width // 2, im.height // 2), Image.LANCZOS).save(png, optimize=True)  # keep the repo small


if __name__ == "__main__":
    main()
