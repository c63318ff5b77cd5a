"""All quality benchmarks in one run, each splicing its table into README.md (the results sections).

    python benchmarks/quality.py            # dequantize, colorize, temporal; then the speed table
    python benchmarks/quality.py --skip-speed

Runs, in order: ``dequantize_quality.py --readme`` (quantized clips at palettes and bit depths: input,
ffmpeg deband and gradfun, pix2pix RGB, Pix2Pix-FQ), ``colorize_quality.py --readme`` (gray clips and
held-back photos: gray input and every colorizer of the ablation), ``temporal_quality.py --readme``
(``--temporal off|ema|flow`` for both jobs) and ``speed.py --readme``. Needs ../shared/data.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    scripts = [["dequantize_quality.py"], ["colorize_quality.py"], ["temporal_quality.py"]]
    if not args.skip_speed:
        scripts.append(["speed.py", "--out", str(HERE.parent / "docs" / "speed_cpu.md")])
    for script, *rest in scripts:
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), "--readme", *rest], check=True)


if __name__ == "__main__":
    main()
