"""Does reference colour cross luminance edges, and does an edge-aware filter of the output's ab stop it?

The pairs of ``reference_quality.py`` (a clip's frame 0 as the reference for later frames of the same
clip, and the mismatched pairs, whose reference holds objects the frames lack) are coloured by the fast
reference mode (bundled colorize-exemplar), then the output's ab is filtered by the guided filter (He et
al. 2010, kornia's ``guided_blur``) with the frame's L as the guide, at radii and eps fixed before the run
(:data:`SETTINGS`; eps in squared units of L / 100). Scored against the ground truth: mean CIEDE2000
over the frame and within the band of 2 px around the strong luminance edges (Canny on L, thresholds
40/100), where colour that crosses an edge shows. The gray input (the frame's L, a = b = 0) is scored the
same way (the trivial baseline), and each row gives its worst pair (the pair whose frames score the highest
mean CIEDE2000) beside the mean over frames.

    python benchmarks/reference_edges.py [--frames 4]
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch
from kornia.filters import guided_blur
from skimage.color import deltaE_ciede2000

from colorize_quality import gray
from reference_quality import CLIPS, MISMATCHED, clip_pair
from vidcolor.color import lab_to_rgb, rgb_to_lab
from vidcolor.reference import ReferenceColorizer
from benchdata import DATA, require_data

SETTINGS = [(4, 1e-3), (8, 1e-3), (4, 1e-2)]
"""(radius px, eps) of the guided filter."""


def guided(L: np.ndarray, ab: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """ab ``(N, H, W, 2)`` filtered with L ``(N, H, W)`` in [0, 100] as the guide."""
    g = torch.from_numpy(L / 100.0).float()[:, None]
    return guided_blur(g, torch.from_numpy(ab).permute(0, 3, 1, 2).float(), 2 * radius + 1, eps).permute(0, 2, 3, 1).numpy()


def edge_band(L: np.ndarray) -> np.ndarray:
    """Pixels within 2 px of a strong luminance edge of L ``(H, W)``, bool."""
    edges = cv2.Canny(np.clip(L * 2.55, 0, 255).astype(np.uint8), 40, 100)
    return cv2.dilate(edges, np.ones((5, 5), np.uint8)) > 0


def table(scores: dict[tuple[str, str], list[tuple[str, float, float]]]) -> str:
    """The markdown table of ``scores``, (pair kind, output) -> per frame ``(pair, CIEDE2000, CIEDE2000 at
    edges)``: per row the frames, the means over frames, and the worst pair (highest mean CIEDE2000 of its
    frames) with that mean."""
    lines = ["| pairs | output | frames | CIEDE2000 | CIEDE2000 at edges | worst pair: CIEDE2000 |",
             "|---|---|---|---|---|---|"]
    for (kind, name), v in scores.items():
        per_pair: dict[str, list[float]] = {}
        for pair, d, _ in v:
            per_pair.setdefault(pair, []).append(d)
        worst = max(per_pair, key=lambda p: np.mean(per_pair[p]))
        mean = np.mean([(d, e) for _, d, e in v], 0)
        lines.append(f"| {kind} | {name} | {len(v)} | {mean[0]:.3f} | {mean[1]:.3f} | "
                     f"{worst} {np.mean(per_pair[worst]):.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=4, help="targets per pair (reference_quality.py's)")
    args = ap.parse_args()
    require_data(DATA / "video")
    scores: dict[tuple[str, str], list[tuple[str, float, float]]] = {}
    for targets_of, reference_of in [(c, c) for c in CLIPS] + list(MISMATCHED):
        job = ReferenceColorizer([clip_pair(reference_of, 1)[0]])
        kind = "same clip" if targets_of == reference_of else "mismatched"
        pair = targets_of[6:] if kind == "same clip" else f"{targets_of[6:]} <- {reference_of[6:]}"
        for truth in clip_pair(targets_of, args.frames)[1]:
            batch = job.prepare(gray(truth)[None])
            batch.outputs = job.engine(batch.feeds)
            L, ab = job.lab(batch)
            band = edge_band(L[0])
            outputs = [("gray input", np.zeros_like(ab)), ("fast", ab)]
            outputs += [(f"fast + guided r {r}, eps {e:g}", guided(L, ab, r, e)) for r, e in SETTINGS]
            for name, out_ab in outputs:
                d = deltaE_ciede2000(rgb_to_lab(lab_to_rgb(np.concatenate([L[..., None], out_ab], -1))[0]),
                                     rgb_to_lab(truth))
                scores.setdefault((kind, name), []).append((pair, float(d.mean()), float(d[band].mean())))
    print(table(scores))


if __name__ == "__main__":
    main()
