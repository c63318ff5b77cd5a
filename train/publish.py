"""Publish a finished training run: weights into weights/, log + loss curve into train/<name>/, model card.

    python train/publish.py runs/dequantize-fq --quality docs/dequantize_quality.json --method "(d) Pix2Pix-FQ, restore L"

The card's validation numbers are read from the quality benchmark's JSON (never typed by hand).
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
from pathlib import Path

from safetensors import safe_open

from vidcolor.training.data import list_images

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--quality", type=Path, help="JSON written by benchmarks/dequantize_quality.py")
    ap.add_argument("--method", action="append", default=[], help="rows of the quality JSON to put in the card")
    ap.add_argument("--hardware", default=f"CPU: {platform.processor() or platform.machine()}, 2 cores, no GPU")
    args = ap.parse_args()
    recipe = json.loads((args.run / "recipe.json").read_text())
    name = recipe["name"]
    src = args.run / f"{name}.safetensors"
    with safe_open(str(src), framework="pt") as f:
        meta = f.metadata()
        params = sum(f.get_tensor(k).numel() for k in f.keys() if "running_" not in k and "num_batches" not in k)
    dest_dir = ROOT / "train" / name
    dest_dir.mkdir(parents=True, exist_ok=True)
    for fname in ("log.csv", "loss.png"):
        shutil.copy(args.run / fname, dest_dir / fname)
    shutil.copy(src, ROOT / "weights" / src.name)
    size_mb = (ROOT / "weights" / src.name).stat().st_size / 1e6
    arch = json.loads(meta["arch"])
    lines = [f"# {name}", "",
             f"- Job: {arch['job']}; mode `{arch['mode']}` "
             f"({'L and ab corrected' if arch['mode'] == 'lab' else 'ab corrected' if arch['mode'] == 'ab' else 'RGB, the pix2pix baseline'}).",
             f"- Architecture: `vidcolor.models.UNetGenerator({', '.join(f'{k}={v}' for k, v in arch['kwargs'].items())})`, "
             f"{params / 1e6:.2f}M parameters, stored fp16 ({size_mb:.1f} MB). Discriminator (training only): "
             f"conditional 70x70 PatchGAN, ndf={recipe['ndf']}.",
             f"- Recipe: [`train/{name}.toml`](../train/{name}.toml); command: "
             f"`vidcolor train dequantize train/{name}.toml --out runs/{name}`.",
             f"- Data: {recipe['data']} ({len(list_images(recipe['data'])):,} colour photos; "
             f"every {recipe['holdout_every']}th held back), "
             "degraded on the fly by `vidcolor.training.degrade.sample_degradation`.",
             f"- Steps: {json.loads(meta['steps'])} x batch {recipe['batch_size']} crops of {recipe['crop']} px; "
             f"loss {recipe['lambda_l1']:g} x L1 (RGB) + {recipe['adv_weight']:g} x {recipe['gan_mode']}; "
             f"Adam {recipe['lr']:g}, beta1 {recipe['beta1']}.",
             f"- Hardware: {args.hardware}; {recipe['threads']} torch thread(s); "
             f"wall time {json.loads(meta['train_seconds']) / 60:.0f} min.",
             f"- Training log: [`train/{name}/log.csv`](../train/{name}/log.csv), "
             f"curves: [`train/{name}/loss.png`](../train/{name}/loss.png).", ""]
    if args.quality:
        q = json.loads(args.quality.read_text())
        lines += ["## Validation (real DAVIS clips never trained on; `benchmarks/dequantize_quality.py`)", "",
                  "| degradation | method | PSNR (dB) | gain vs input (dB) | CIEDE2000 | bias R, G, B (levels) |",
                  "|---|---|---|---|---|---|"]
        for deg, methods in q.items():
            for m in ["(a) quantized input"] + args.method:
                if m in methods:
                    r = methods[m]
                    lines.append(f"| {deg} | {m} | {r['psnr']:.2f} | {r['gain']:+.2f} | {r['ciede2000']:.2f} | "
                                 + ", ".join(f"{b:+.1f}" for b in r["bias"]) + " |")
    (ROOT / "weights" / f"{name}.md").write_text("\n".join(lines) + "\n")
    print(f"published {name}: weights/{src.name} ({size_mb:.1f} MB), weights/{name}.md, train/{name}/")


if __name__ == "__main__":
    main()
