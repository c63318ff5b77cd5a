"""Does reference colour cross luminance edges, and does an edge-aware filter of the output's ab stop it?

The pairs of ``reference_quality.py`` (a clip's frame 0 as the reference for later frames of the same
clip, and the mismatched pairs, whose reference holds objects the frames lack) are coloured by the fast
reference mode (bundled colorize-exemplar), then the output's ab is filtered by the guided filter (He et
al. 2010, kornia's ``guided_blur``) with the frame's L as the guide, at radii and eps fixed before the run
(:data:`SETTINGS`; eps in squared units of L / 100). Scored against the ground truth: mean CIEDE2000
over the frame and within the band of 2 px around the strong luminance edges (Canny on L, thresholds
40/100), where colour that crosses an edge shows.

    python benchmarks/reference_edges.py
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from kornia.filters import guided_blur
from skimage.color import deltaE_ciede2000

from colorize_quality import gray
from reference_quality import CLIPS, MISMATCHED, clip_pair
from vidcolor.color import lab_to_rgb, rgb_to_lab
from vidcolor.reference import ReferenceColorizer

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


def main() -> None:
    scores: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for targets_of, reference_of in [(c, c) for c in CLIPS] + list(MISMATCHED):
        job = ReferenceColorizer([clip_pair(reference_of, 1)[0]])
        for truth in clip_pair(targets_of, 4)[1]:
            batch = job.prepare(gray(truth)[None])
            batch.outputs = job.engine(batch.feeds)
            L, ab = job.lab(batch)
            band = edge_band(L[0])
            kind = "same clip" if targets_of == reference_of else "mismatched"
            for name, out_ab in [("fast", ab)] + [(f"fast + guided r {r}, eps {e:g}", guided(L, ab, r, e))
                                                  for r, e in SETTINGS]:
                d = deltaE_ciede2000(rgb_to_lab(lab_to_rgb(np.concatenate([L[..., None], out_ab], -1))[0]),
                                     rgb_to_lab(truth))
                scores.setdefault((kind, name), []).append((float(d.mean()), float(d[band].mean())))
    print("| pairs | output | frames | CIEDE2000 | CIEDE2000 at edges |\n|---|---|---|---|---|")
    for (kind, name), v in scores.items():
        mean = np.mean(v, 0)
        print(f"| {kind} | {name} | {len(v)} | {mean[0]:.3f} | {mean[1]:.3f} |")


if __name__ == "__main__":
    main()
