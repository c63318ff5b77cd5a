"""Is there a scene-level colour confidence in the colorizer's predicted distribution? Measured on the
calibration half of the held-back photos (:func:`colorize_quality.held_back_photos`; never scored by
``colorize_wide.py``).

For each photo (its luminance colorized at the model's stored defaults), the predicted ab is scaled by k
in :data:`SCALES` (0 = the gray input, 1 = as predicted) and scored with CIEDE2000 against the truth; the
k that scores best for that photo is its oracle scale. A usable confidence would be a statistic of the
prediction that tells the oracle scale ahead: here the mean per-pixel entropy of the annealed
distribution (softmax of logits / T, Zhang et al. 2016 eq. 5) and the mean predicted chroma. Prints the
mean CIEDE2000 per fixed k, the oracle's, and the correlations (Pearson) of each statistic with the
oracle scale and with the truth / prediction colourfulness ratio. Last, a global colour cast: the mean ab
bias of the predictions (prediction - truth, over all pixels) is removed from every prediction and the
CIEDE2000 scored again (fitted and scored on the same photos: an optimistic bound).

    python benchmarks/colorize_confidence.py
    python benchmarks/colorize_confidence.py --photos 3    # a smoke run
"""
from __future__ import annotations

import argparse

import numpy as np

from colorize_quality import even, gray
from colorize_quality import held_back_photos
from vidcolor.color import lab_to_rgb, rgb_to_lab
from vidcolor.engine import OUTPUT
from vidcolor.io.images import read_image
from vidcolor.metrics import ciede2000, colourfulness
from vidcolor.pipeline import Colorizer
from benchdata import DATA, require, require_data

SCALES = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.25])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--photos", type=int, default=None, help="the first N calibration photos (default all)")
    args = ap.parse_args()
    require_data(DATA / "train")
    job = Colorizer()
    rows, cast = [], []
    for path in require(held_back_photos()[1][:args.photos], "calibration photos (held back, every 20th)"):
        truth = even(read_image(path)[0])
        batch = job.prepare(gray(truth)[None])
        batch.outputs = job.engine(batch.feeds)
        z = batch.outputs[OUTPUT] / job.temperature
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        entropy = float((-(p * np.log(p + 1e-12)).sum(1)).mean())
        L, ab = job.lab(batch)
        errors = [ciede2000(lab_to_rgb(np.concatenate([L[..., None], ab * k], -1))[0], truth) for k in SCALES]
        predicted = colourfulness(lab_to_rgb(np.concatenate([L[..., None], ab], -1))[0])
        cast.append((truth, L, ab, rgb_to_lab(truth)[..., 1:]))
        rows.append([entropy, float(np.hypot(ab[..., 0], ab[..., 1]).mean()),
                     colourfulness(truth) / max(predicted, 1e-6), *errors])
    r = np.array(rows)
    errors, oracle = r[:, 3:], SCALES[r[:, 3:].argmin(1)]
    print(f"{len(r)} calibration photos; mean CIEDE2000 by chroma scale k:")
    for k, e in zip(SCALES, errors.mean(0)):
        print(f"  k {k:.2f}: {e:.2f}")
    print(f"  oracle k per photo: {errors.min(1).mean():.2f}")
    for name, col in (("mean entropy", 0), ("mean predicted chroma", 1)):
        print(f"corr({name}, oracle k) {np.corrcoef(r[:, col], oracle)[0, 1]:+.3f}; "
              f"corr({name}, truth / predicted colourfulness) {np.corrcoef(r[:, col], r[:, 2])[0, 1]:+.3f}")
    bias = np.mean([(ab[0] - ab_true).reshape(-1, 2).mean(0) for _, _, ab, ab_true in cast], 0)
    unbiased = np.mean([ciede2000(lab_to_rgb(np.concatenate([L[..., None], ab - bias], -1))[0], truth)
                        for truth, L, ab, _ in cast])
    print(f"mean ab bias (prediction - truth): a {bias[0]:+.2f}, b {bias[1]:+.2f}; CIEDE2000 with it removed "
          f"{unbiased:.2f} (as predicted {errors[:, list(SCALES).index(1.0)].mean():.2f})")


if __name__ == "__main__":
    main()
