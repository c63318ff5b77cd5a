"""Publish a finished training run: weights into vidcolor/weights/, log + loss curve into train/<name>/, model card.

    python train/publish.py runs/dequantize-fq-l2 --strength uniform=0.25,palette=0.15 --quality docs/dequantize_quality.json --method "(d) Pix2Pix-FQ (default model)"
    python train/publish.py runs/colorize-effnet --quality docs/colorize_quality.json
    python train/publish.py runs/colorize-exemplar --quality docs/reference_quality.json

The card's validation numbers are read from the quality benchmark's JSON (never typed by hand), and the card
records the sha256 of the weight file it describes. A run is published only with its recipe in train/ as
train/<name>.toml (the card links it as the command that made the weight file), and not with weights that are
NaN or infinite (a run that diverged). After a benchmark rerun, or to stamp a card published before
the sha256 line, re-stamp a bundled model's card without a run folder (the rest of the card is kept):

    python train/publish.py --card dequantize-pix2pix-rgb --quality docs/dequantize_quality.json
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import torch
from safetensors import safe_open

from vidcolor.models import FAMILIES
from vidcolor.training.data import list_images
from vidcolor.weights import WEIGHTS_DIR

ROOT = Path(__file__).resolve().parents[1]
TRAIN_COMMAND = {"colorize-reference": "exemplar"}
"""Model job -> `vidcolor train` command, where they differ."""


def triple(r: dict, third: str | None) -> str:
    """``PSNR / CIEDE2000 / third measure`` of one quality-JSON row (``—`` without a third)."""
    return f"{r['psnr']:.2f} / {r['ciede2000']:.2f} / " + (f"{r[third]:.{3 if 'hist' in third else 2}f}" if third else "—")


def video_data(recipe: dict) -> str:
    """The card's words for the clip frames a recipe mixes into the photos (empty without a ``video`` folder).

    Raises:
        ValueError: the folder holds no training clips here (the card said "one frame in 3 of 0 colour clips")."""
    if not recipe.get("video"):
        return ""
    from vidcolor.training.data import split_clips

    train = [c.stem.removeprefix("davis_") for c in split_clips(recipe["video"], recipe["video_holdout_every"])[0]]
    if not train:
        raise ValueError(f"the run's video folder {recipe['video']} holds no training clips here: publish where the "
                         f"run's data is")
    return (f" plus one frame in {recipe['video_stride']} of {len(train)} colour clips of {recipe['video']} "
            f"({', '.join(train)}; the others held back), {recipe['video_share']:.0%} of the samples")


def data_words(recipe: dict) -> str:
    """The card's words for what a run trained on: its photo folder (how many photos, the holdout) and clip frames,
    or the training pack it trained from (``pack.json``: the folders it was made from, what it kept, its images).

    Raises:
        ValueError: a photo folder without images here (a run trained on another machine, published where its data
            is not: the card said "0 colour photos"), a video folder without clips, or a pack whose pack.json
            cannot be read. KeyError/OSError: the same, from the pack.
    """
    from vidcolor.training.pack import PACK_FILE, is_pack

    data = recipe["data"]
    if is_pack(data):                   # the card described the pack's folder as photos, and no clip frames
        index = json.loads((Path(data) / PACK_FILE).read_text())
        made = index["made_from"]
        groups = [f"{len(g['files'])} " + ("photos" if g["share"] is None else f"clip frames ({g['share']:.0%} of the "
                                           f"samples)") for g in index["groups"]]
        return (f"the training pack {data} (`vidcolor train pack` of the photos of {made['data']}"
                + (f" and the training clips of {made['video']}" if made.get("video") else "")
                + f", one photo in {made['holdout_every']} held back: {' and '.join(groups)}, {index['kept']} of "
                f"{index['of']} training images kept, downscaled to {index['short_side']} px on the shorter side, "
                f"WebP quality {index['quality']}; {len(index['held_back'])} held back)")
    photos = len(list_images(data))
    if not photos:
        raise ValueError(f"the run's data folder {data} holds no images here: publish where the run's data is")
    return f"{data} ({photos:,} colour photos; every {recipe['holdout_every']}th held back){video_data(recipe)}"


def section(title: str, intro: str, header: str, rows: list[str]) -> list[str]:
    """A model card's validation section: heading, one paragraph, a table."""
    return [f"## Validation ({title})", "", intro, "", header, "|" + "---|" * (header.count("|") - 1)] + rows


def weight_file(path: Path) -> str:
    """The card's line naming its weight file and the file's sha256, which ties the card to that file."""
    return f"- Weight file: `vidcolor/weights/{path.name}`, sha256 `{hashlib.sha256(path.read_bytes()).hexdigest()}`."


def validation(job: str, quality: Path, methods: list[str]) -> list[str]:
    """A model card's validation section from the quality benchmark's JSON: ``methods`` are the rows to show
    (besides the gray and default rows of a colorize card; a reference card shows every clip)."""
    q = json.loads(quality.read_text())
    names = ({r["method"] for r in q["rows"]} if job == "dequantize" else set(q["rows"]) if job == "colorize"
             else set())                # a reference card shows every clip: it has no rows to pick
    missing = [m for m in methods if m not in names]
    if missing:                         # a mistyped row was left out of the card without a word
        raise PublishError(f"--method {missing[0]!r}: no such row in {quality}"
                           + (f" (its rows: {', '.join(sorted(names))})" if names else
                              f" (a {job} card shows every clip; give no --method)"))
    if job == "colorize":
        return section("`benchmarks/colorize_quality.py`; frames and photos never trained on",
                       f"{q['sets']['video']} frames of the DAVIS clips held back from training "
                       f"({', '.join(q['clips'])}) and {q['sets']['photos']} held-back photos; "
                       "PSNR (dB) / CIEDE2000 / colourfulness ratio (output / ground truth).", "| row | video | photos |",
                       [f"| {row} | {triple(r['video'], 'colourfulness_ratio')} | "
                        f"{triple(r['photos'], 'colourfulness_ratio')} |" for row, r in q["rows"].items()
                        if row.startswith(("gray", "**default")) or row in methods])
    if job == "colorize-reference":
        return section("`benchmarks/reference_quality.py`; DAVIS clips, never trained on",
                       f"Reference = a clip's frame 0, targets = {q['settings']['frames_per_clip']} frames from 2 s "
                       "on; PSNR (dB) / CIEDE2000 / ab-histogram intersection with the reference.",
                       "| clip | gray input | automatic (colorize-effnet) | this model |",
                       [f"| {clip} | {triple(r['gray'], None)} | {triple(r['automatic'], 'hist_intersection')} | "
                        f"{triple(r['fast'], 'hist_intersection')} |" for clip, r in q["matched"].items()])
    return section("`benchmarks/dequantize_quality.py`; held-back clips, games and stills, never trained on",
                   "Gains are PSNR gains over the input re-encoded through vidcolor's output path (doing "
                   "nothing); worst = the lowest per-clip gain; bias = mean output - original (levels).",
                   "| content | degradation | method | PSNR (dB) | gain (dB) | worst gain (dB) | CIEDE2000 | bias R, G, B |",
                   [f"| {r['content']} | {r['degradation']} | {r['method']} | {r['psnr']:.2f} | {r['gain']:+.2f} | "
                    f"{r['worst_gain']:+.2f} | {r['ciede2000']:.2f} | " + ", ".join(f"{b:+.1f}" for b in r["bias"])
                    + " |" for r in q["rows"] if r["method"] in methods])


def validation_start(lines: list[str]) -> int:
    """Where a card's validation section starts (its length where it has none)."""
    return next((i for i, line in enumerate(lines) if line.startswith("## Validation")), len(lines))


def shown(job: str, lines: list[str]) -> list[str]:
    """The rows a card's validation table shows, as ``--method`` values (a dequantize card's method column, a
    colorize card's row names; a reference card shows every clip whatever they are)."""
    cells = [line.split(" | ") for line in lines[validation_start(lines) + 6:] if line.startswith("| ")]
    return [c[2] if job == "dequantize" else c[0].removeprefix("| ") for c in cells]


def restamp(name: str, quality: Path | None, methods: list[str]) -> Path:
    """Re-stamp a bundled model's card as :func:`main` writes it: its weight-file line (from the bundled file,
    after the architecture line) and, given ``quality``, its validation section (rows: ``methods``, else those it
    shows now); every other line is kept."""
    card, weights = WEIGHTS_DIR / f"{name}.md", WEIGHTS_DIR / f"{name}.safetensors"
    with safe_open(str(weights), framework="pt") as f:
        job = json.loads(f.metadata()["arch"])["job"]
    lines = [line for line in card.read_text().splitlines() if not line.startswith("- Weight file:")]
    at = next(i for i, line in enumerate(lines) if line.startswith("- Architecture:")) + 1
    lines.insert(at, weight_file(weights))
    if quality:
        methods = methods or (shown(job, lines) if job != "colorize-reference" else [])   # clips: all shown
        lines = lines[:validation_start(lines)] + validation(job, quality, methods)
    card.write_text("\n".join(lines) + "\n")
    return card


SIZE_MB, WEIGHT_LINE = "<size in MB>", "<weight-file line>"
"""Placeholders in :func:`card_lines`, filled in once the weight file is written."""


def card_lines(name: str, recipe: dict, meta: dict, arch: dict, params: int, args: argparse.Namespace) -> list[str]:
    """The lines of a run's model card (the weight file's size and its line: :data:`SIZE_MB`, :data:`WEIGHT_LINE`);
    reads the recipe's data folders and ``args.quality``, writes nothing."""
    job = arch["job"]
    cls = FAMILIES[arch["family"]].__name__
    clip_keys = ("; the `clip` keys, for frames of a clip, on the validation clips through the video path by "
                 "benchmarks/dequantize_encode.py" if any(k.endswith(" clip") for k in arch.get("strength", {})) else "")
    strength = (f"; correction strength per quantizer found {arch['strength']} (chosen on validation images by "
                f"benchmarks/dequantize_validation.py{clip_keys})" if arch.get("strength") else "")
    mode = {"lab": "L and ab corrected", "ab": "ab predicted" if job == "colorize" else "ab corrected",
            "rgb": "RGB, the pix2pix baseline", "bins": "classification over 254 ab bins; inference defaults: "
            f"annealed mean T {arch.get('temperature')}, saturation {arch.get('saturation', 1.0)}"}[arch["mode"]]
    steps = json.loads(meta["steps"])
    if job == "dequantize":
        data = (f"degraded on the fly by `vidcolor.training.degrade.sample_degradation` ({recipe['identity']:.0%} of "
                f"the photo and frame samples left unquantized, target = input)")
        if recipe.get("retro"):
            from vidcolor.training.data import split_retro

            train, held = split_retro(recipe["retro"])
            if not train:               # the card said "plus 0 pixel-art images"
                raise ValueError(f"the run's retro folder {recipe['retro']} holds no training images here: publish "
                                 f"where the run's data is")
            data += (f"; plus {len(train)} pixel-art images and game frames of {recipe['retro']} ({len(held)} held back "
                     f"by whole package or game, `split_retro`), {recipe['retro_share']:.0%} of the samples, enlarged "
                     f"x1-x3 nearest neighbour, {recipe['identity_pixel_art']:.0%} of them unquantized")
        rec = "squared error" if recipe.get("loss") == "l2" else "L1"
        loss = f"loss {recipe['lambda_l1']:g} x {rec} (RGB)"
        if recipe["adv_weight"]:
            loss += (f" + {recipe['adv_weight']:g} x {recipe['gan_mode']}; "
                     f"discriminator (training only): conditional 70x70 PatchGAN, ndf={recipe['ndf']}")
        else:
            loss += "; no adversarial term, no discriminator (regression only)"
    elif job == "colorize-reference":
        data = (f"pairs of views (`vidcolor.training.data.ExemplarPairs`): target = a crop, reference = another "
                f"crop of the same photo rotated by up to {recipe['max_rotation']:g} degrees and scaled 0.8-1.25, "
                f"or of another photo ({recipe['mismatch']:.0%} of pairs)")
    else:
        data = "random crops after a random downscale (`vidcolor.training.data.ColorizationCrops`), input = their L"
    if job != "dequantize":
        terms = ([f"{recipe['ce_weight']:g} x cross-entropy over ab bins (soft-encoded; rebalance lambda "
                  f"{recipe['rebalance']:g})"] if arch["mode"] == "bins" else [f"{recipe['lambda_l1']:g} x L1 (ab)"])
        if recipe["gan"] != "none":
            terms.append(f"{recipe['adv_weight']:g} x {recipe['gan']}")
        terms += [f"{recipe[k]:g} x {k.split('_')[0]}" for k in ("perceptual_weight", "lpips_weight") if recipe[k]]
        loss = "loss " + " + ".join(terms)
        if recipe["unfreeze_stages"]:
            loss += (f"; EfficientNet-Lite0 encoder frozen, its top {recipe['unfreeze_stages']} stages trained "
                     f"(lr x0.1) from step {recipe['unfreeze_at']}")
        if recipe.get("init_from") and job == "colorize-reference":
            loss += (f"; initialised from `{recipe['init_from']}`, encoder frozen, decoder and hint branches "
                     f"trained; matching temperature {recipe['tau']:g}")
        elif recipe.get("init_from"):
            loss += f"; initialised from `{recipe['init_from']}`"
    lines = [f"# {name}", "",
             f"- Job: {job}; mode `{arch['mode']}` ({mode}){strength}.",
             f"- Architecture: `vidcolor.models.{cls}({', '.join(f'{k}={v}' for k, v in arch['kwargs'].items())})`, "
             f"{params / 1e6:.2f}M parameters, stored fp16 ({SIZE_MB} MB).",
             WEIGHT_LINE,
             f"- Recipe: [`train/{name}.toml`](../../train/{name}.toml); command: "
             f"`vidcolor train {TRAIN_COMMAND.get(job, job)} train/{name}.toml --out runs/{name}`.",
             f"- Data: {data_words(recipe)}, {data}.",
             f"- Steps: {steps} x batch {recipe['batch_size']} crops of {recipe['crop']} px; {loss}; "
             f"Adam {recipe['lr']:g}, beta1 {recipe['beta1']}"
             + (f", lr decayed linearly to 0 from step {recipe['decay_from']}" if recipe.get("decay_from") is not None
                else "") + ".",
             f"- Hardware: {args.hardware or recorded_hardware(meta)}; {recipe['threads']} torch thread(s); "
             f"wall time {json.loads(meta['train_seconds']) / 60:.0f} min.",
             f"- Training log: [`train/{name}/log.csv`](../../train/{name}/log.csv), "
             f"curves: [`train/{name}/loss.png`](../../train/{name}/loss.png)."]
    lines += [f"- History: {args.history}", ""] if args.history else [""]
    if args.quality:
        lines += validation(job, args.quality, args.method)
    return lines


def recorded_hardware(meta: dict) -> str:
    """The card's hardware line from a weight file's metadata ``meta``: the hardware of each session of the run
    (``hardware``, a JSON list the training run writes, :func:`vidcolor.training.run.describe_hardware`), joined by
    ``then``; for a weight file without it (trained before the record), this machine's CPU, said as such."""
    from vidcolor.training.run import describe_hardware

    sessions = json.loads(meta.get("hardware", "[]"))
    if sessions:
        return " then ".join(sessions)
    return f"{describe_hardware('cpu')} (this machine: the run did not record where it trained)"


class PublishError(Exception):
    """An argument or input that cannot be published; :func:`main` prints it in one line, before writing anything."""


def parse_inference(text: str) -> tuple[float, float]:
    """``--inference T/SATURATION`` as two numbers (T > 0, saturation >= 0)."""
    try:
        t, sat = (float(v) for v in text.split("/"))
    except ValueError:
        raise PublishError(f"--inference must be T/SATURATION, two numbers such as 0.5/1.5, got {text!r}") from None
    if not (t > 0 and sat >= 0):
        raise PublishError(f"--inference: T must be > 0 and saturation >= 0, got {text!r}")
    return t, sat


def parse_strength(text: str) -> dict[str, float]:
    """``--strength KIND=S,...`` as ``{kind: strength}``, each KIND one of :data:`vidcolor.pipeline.STRENGTH_KEYS`
    (a mistyped one was stored in the weight file, where nothing reads it, and the kind kept strength 1)."""
    from vidcolor.pipeline import STRENGTH_KEYS

    try:
        strength = {k.strip(): float(v) for k, v in (kv.split("=") for kv in text.split(","))}
    except ValueError:
        raise PublishError(f"--strength must be KIND=S,... such as uniform=0.5,palette=0.1, got {text!r}") from None
    unknown = [k for k in strength if k not in STRENGTH_KEYS]
    if unknown:
        raise PublishError(f"--strength: unknown kind {unknown[0]!r} (one of {', '.join(STRENGTH_KEYS)})")
    return strength


def read_run(run: Path) -> tuple[dict, Path, dict, int]:
    """A finished run folder's recipe, weight file, the file's metadata and its parameter count; checks that the
    log and curves to copy are there, and that the weight file is of the recipe's last step (a run resumed with
    more steps and stopped keeps the weight file of its earlier end beside the newer log and recipe.json, which
    were published with it)."""
    try:
        recipe = json.loads((run / "recipe.json").read_text())
        name = recipe["name"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PublishError(f"{run}: not a run folder with a readable recipe.json ({type(exc).__name__})") from None
    src = run / f"{name}.safetensors"
    if not src.is_file():
        raise PublishError(f"{src} is missing: the run has not finished (the weight file is written at its last step)")
    try:
        with safe_open(str(src), framework="pt") as f:
            meta = f.metadata()
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        params = sum(t.numel() for k, t in tensors.items() if "running_" not in k and "num_batches" not in k)
        json.loads(meta["arch"]), json.loads(meta["train_seconds"])
        steps = json.loads(meta["steps"])
    except Exception as exc:            # not a safetensors file, or one without the training metadata: all one case
        raise PublishError(f"{src}: not a weight file of a training run ({type(exc).__name__})") from None
    bad = next((k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())), None)
    if bad is not None:                 # a run that diverged (trained before training stopped at a NaN loss)
        raise PublishError(f"{src}: {bad} holds non-finite values (NaN or inf): the run diverged; retrain it (a "
                           f"lower lr) before publishing")
    if steps != recipe.get("steps"):    # a finished run resumed for more steps and stopped: its older weight file
        raise PublishError(f"{src} is of step {steps}, and the run's recipe.json runs to step {recipe.get('steps')}: "
                           f"the run has not finished (resume it to its last step, which writes the weight file)")
    for fname in ("log.csv", "loss.png"):
        if not (run / fname).is_file():
            raise PublishError(f"{run / fname} is missing")
    return recipe, src, meta, params


def main() -> None:
    """Publish (see the module docstring); an argument or input that cannot be published is one line on stderr and
    exit status 1, before anything is written."""
    try:
        publish()
    except PublishError as exc:
        raise SystemExit(f"publish.py: {exc}") from None


def publish() -> None:
    """:func:`main`'s work: every argument and input is checked and read (:class:`PublishError`), then the files are
    written."""
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path, nargs="?", help="the run folder to publish (not with --card)")
    ap.add_argument("--card", metavar="NAME", help="only re-stamp the card of bundled model NAME: its weight-file "
                    "sha256 and, with --quality, its validation table (rows: --method, else those it shows)")
    ap.add_argument("--quality", type=Path, help="JSON written by benchmarks/{dequantize,colorize}_quality.py")
    ap.add_argument("--method", action="append", default=[], help="more rows of the quality JSON to put in the card")
    ap.add_argument("--inference", metavar="T/SATURATION", help="colorize: the default annealed-mean temperature "
                    "and saturation to store in the weight file (the `pick` of benchmarks/colorize_quality.py)")
    ap.add_argument("--strength", metavar="KIND=S,...", help="dequantize: the correction strength per kind of "
                    "quantizer found, e.g. uniform=1,palette=0.5 (the picks of benchmarks/dequantize_validation.py), "
                    "stored in the weight file")
    ap.add_argument("--history", help="one line on how the run went, e.g. a resume after a data fix")
    ap.add_argument("--hardware", help="where the run trained, for the card (default: what the run recorded in its "
                    "weight file, each session's; runs from before that record: this machine)")
    args = ap.parse_args()
    if args.quality is not None and not args.quality.is_file():
        raise PublishError(f"--quality {args.quality}: no such file")
    if args.card:
        ignored = ([str(args.run)] if args.run is not None else []) + [
            f"--{k}" for k in ("inference", "strength", "history", "hardware") if getattr(args, k) is not None]
        if ignored:                     # these were silently ignored: the card re-stamped, the run not published
            raise PublishError(f"--card re-stamps a bundled card only (its sha256 and --quality table): "
                               f"{', '.join(ignored)} cannot go with it; publish a run without --card")
        if not (WEIGHTS_DIR / f"{args.card}.md").is_file():
            raise PublishError(f"--card {args.card}: no bundled model card {WEIGHTS_DIR / args.card}.md")
        print(f"re-stamped {restamp(args.card, args.quality, args.method).relative_to(ROOT)}")
        return
    if args.run is None:
        ap.error("give a run folder, or --card NAME")
    if args.method and args.quality is None:
        raise PublishError("--method picks rows of --quality's table: give --quality too")
    inference = parse_inference(args.inference) if args.inference else None
    strength = parse_strength(args.strength) if args.strength else None
    recipe, src, meta, params = read_run(args.run)
    name = recipe["name"]
    if not (ROOT / "train" / f"{name}.toml").is_file():   # the card links it as the command that made the file
        raise PublishError(f"train/{name}.toml is missing: every bundled weight file is made by a recipe in train/; "
                           f"add the recipe the run trained from as train/{name}.toml, then publish")
    model, arch = None, json.loads(meta["arch"])
    if inference and arch.get("job") == "dequantize":   # stored where nothing reads them, silently
        raise PublishError(f"--inference is a colorizer's (T/saturation); {name} is a dequantizer")
    if strength and arch.get("job") != "dequantize":
        raise PublishError(f"--strength is a dequantizer's (per quantizer kind); {name} is a {arch.get('job')} model")
    if inference or strength:           # inference defaults chosen on held-back data go into the arch record
        from vidcolor.weights import load_generator

        model, arch = load_generator(str(src))
        if inference:
            arch.update(temperature=inference[0], saturation=inference[1])
        if strength:
            arch["strength"] = strength
    try:                                # everything the card says is read before anything is written
        lines = card_lines(name, recipe, meta, arch, params, args)
    except PublishError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PublishError(f"cannot describe {name} from its recipe and --quality "
                           f"({type(exc).__name__}: {exc})") from None

    dest_dir = ROOT / "train" / name
    dest_dir.mkdir(parents=True, exist_ok=True)
    for fname in ("log.csv", "loss.png"):
        shutil.copy(args.run / fname, dest_dir / fname)
    if model is not None:
        from vidcolor.weights import save_generator

        save_generator(model, WEIGHTS_DIR / src.name, arch,
                       extra={k: json.loads(v) for k, v in meta.items() if k != "arch"})
    else:
        shutil.copy(src, WEIGHTS_DIR / src.name)
    size_mb = (WEIGHTS_DIR / src.name).stat().st_size / 1e6
    text = "\n".join(lines).replace(SIZE_MB, f"{size_mb:.1f}").replace(WEIGHT_LINE, weight_file(WEIGHTS_DIR / src.name))
    (WEIGHTS_DIR / f"{name}.md").write_text(text + "\n")
    print(f"published {name}: vidcolor/weights/{src.name} ({size_mb:.1f} MB), vidcolor/weights/{name}.md, train/{name}/")


if __name__ == "__main__":
    main()
