"""Score an output (and optionally the input it came from) against the ground truth.

Full-reference measures (against the ground truth): PSNR, MSE, MAE, SSIM, pixel accuracy within a
threshold, CIEDE2000, and a Frechet distance on pooled EfficientNet-Lite0 features (FID-style, NOT the
Inception FID). No-reference measures (of each clip by itself, the ground truth included): colourfulness
and, for clips of two frames or more, warp error and colour distribution consistency (CDC). Pixels that are
transparent in the ground truth (alpha 0 in an image with alpha) count in no measure but the Frechet distance.

Example:
    >>> from vidcolor.evaluate import evaluate, format_table
    >>> r = evaluate("dog_colorized.mp4", "dog.mp4", input="dog_gray.mp4")   # doctest: +SKIP
    >>> print(format_table(r))                                               # doctest: +SKIP
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vidcolor.errors import VidcolorError
from vidcolor.io import AnimatedImageReader, VideoReader, is_animated, is_image, list_images_in, read_image
from vidcolor.io.naming import natural_sorted
from vidcolor.metrics import image as im
from vidcolor.metrics import video

__all__ = ["MEASURES", "evaluate", "format_table", "load_frames", "timing_warnings", "to_json"]

MEASURES = (
    # key, label, which value is better, format
    ("psnr", "PSNR (dB)", "higher", "{:.2f}"),
    ("mse", "MSE (8-bit levels^2)", "lower", "{:.2f}"),
    ("mae", "MAE (8-bit levels)", "lower", "{:.2f}"),
    ("ssim", "SSIM", "higher", "{:.4f}"),
    ("pixel_accuracy", "pixel accuracy", "higher", "{:.2%}"),
    ("ciede2000", "CIEDE2000 (Delta E)", "lower", "{:.3f}"),
    ("frechet_effnet", "Frechet dist. EffNet-Lite0 (not FID)", "lower", "{:.4g}"),
    ("colourfulness", "colourfulness (Hasler-Suesstrunk)", "near GT", "{:.2f}"),
    ("colourfulness_gap", "colourfulness gap (- GT)", "near 0", "{:+.2f}"),
    ("colourfulness_ratio", "colourfulness ratio (/ GT)", "near 1", "{:.3f}"),
    ("warp_error", "warp error (Lai et al. 2018)", "lower", "{:.5f}"),
    ("cdc", "CDC (JS divergence)", "lower", "{:.5f}"),
)
"""Rows of the table, in order: (result key, label, which way is better, format)."""


# ------------------------------------------------------------------------------------------ loading


@dataclass
class _Clip:
    """What :func:`_load` read: uint8 RGB ``frames`` ``(T, H, W, 3)`` and, for images with transparency, their
    uint8 ``alpha`` ``(T, H, W)`` (255 for an image of a folder that has none), else None. A video also gives its
    mean frame rate ``fps``, its first frame's presentation time ``start`` (seconds) and each frame's ``times``
    (seconds after the first); images and arrays have none (``fps`` None)."""

    frames: np.ndarray
    alpha: np.ndarray | None = None
    fps: Fraction | None = None
    start: float = 0.0
    times: list[float] | None = None


def load_frames(path: str | Path, max_frames: int | None = None, names: list[str] | None = None) -> np.ndarray:
    """Read a video file, an image, or a folder of images as one uint8 RGB stack.

    Videos are decoded with PyAV (:class:`~vidcolor.io.VideoReader`, display rotation applied), animated GIF, APNG,
    WebP and AVIF images frame by frame (:class:`~vidcolor.io.AnimatedImageReader`: transparency composited on black,
    times from the frame delays); a folder
    gives its images (the suffixes of :data:`vidcolor.io.images.IMAGE_SUFFIXES`) in natural order of their
    names (1.png, 2.png, ..., 10.png, as ffmpeg's ``%d.png`` numbers frames: :func:`~vidcolor.io.list_images_in`);
    alpha is dropped (:func:`evaluate` reads the ground truth's, to leave its transparent pixels out).

    Args:
        path: video file, image file (still or animated), or folder of images.
        max_frames: keep only the first ``max_frames`` frames (decoding stops there); None: all.
        names: a folder's images to take, by stem, in this order (None: all of them).

    Returns:
        uint8 ``(T, H, W, 3)``, T >= 1.

    Raises:
        VidcolorError: missing path, unreadable file, empty folder, images of different sizes in a
            folder, a video with no frames, or ``max_frames`` < 1.
    """
    return _load(path, max_frames, names).frames


def _load(path: str | Path, max_frames: int | None = None, names: list[str] | None = None) -> _Clip:
    """:func:`load_frames`, with the images' alpha (:class:`_Clip`); raises as it does."""
    if max_frames is not None and max_frames < 1:
        raise VidcolorError(f"max frames must be at least 1, got {max_frames}")
    p = Path(path)
    if not p.exists():
        raise VidcolorError(f"{path}: no such file or folder")
    if p.is_dir():
        files = list_images_in(p)
        if names is not None:
            by_stem = {f.stem: f for f in files}
            files = [by_stem[n] for n in names if n in by_stem]
        files = files[:max_frames]
        if not files:
            raise VidcolorError(f"{path}: no images in folder")
        images = [read_image(f) for f in files]
        frames = [rgb for rgb, _ in images]
        for f, rgb in zip(files, frames):
            if rgb.shape != frames[0].shape:
                raise VidcolorError(f"{f}: {_size(rgb)} differs from {files[0].name} ({_size(frames[0])})")
        alphas = [a for _, a in images]
        alpha = None if all(a is None for a in alphas) else np.stack(
            [np.full(frames[0].shape[:2], 255, np.uint8) if a is None else a for a in alphas])
        return _Clip(np.stack(frames), alpha)
    animated = is_image(p) and is_animated(p)
    if is_image(p) and not animated:
        rgb, alpha = read_image(p)
        return _Clip(rgb[None], None if alpha is None else alpha[None])
    frames = []
    with (AnimatedImageReader(p) if animated else VideoReader(p)) as reader:
        for rgb in reader:
            frames.append(rgb)
            if max_frames is not None and len(frames) >= max_frames:
                break
        if not frames:
            raise VidcolorError(f"{path}: no frames")
        tb = reader.timeline.time_base
        return _Clip(np.stack(frames), fps=reader.info.fps, start=getattr(reader, "start_time", 0.0),
                     times=[float(pts * tb) for pts in reader.timeline.pts[:len(frames)]])


def _common_names(folders: dict[str, Path], stems: dict[str, set[str]]) -> list[str]:
    """The image ``stems`` (per folder) that every one of ``folders`` holds, in natural order (2 before 10,
    :func:`~vidcolor.io.naming.natural_sorted`): folders are compared image by image, by name.

    Raises:
        VidcolorError: two folders without an image name in common."""
    common = natural_sorted(set.intersection(*stems.values()))
    if not common and all(stems.values()):
        raise VidcolorError(f"the folders {', '.join(str(f) for f in folders.values())} share no image name "
                            "(their images are compared by name)")
    return common


def _size(rgb: np.ndarray) -> str:
    return f"{rgb.shape[-2]}x{rgb.shape[-3]}"


def _as_clip(x, max_frames: int | None) -> _Clip:
    if isinstance(x, np.ndarray):
        if x.dtype != np.uint8 or x.ndim not in (3, 4) or x.shape[-1] != 3:
            raise VidcolorError(f"expected uint8 RGB frames (T, H, W, 3), got {x.dtype} {x.shape}")
        x = x[None] if x.ndim == 3 else x
        return _Clip(x[:max_frames])
    return _load(x, max_frames)


# ---------------------------------------------------------------------------------------- measuring


SSIM_MIN_SIDE = 7
"""Frames smaller than this (pixels, either side) get no SSIM (its 7x7 window): NaN in the table, null in JSON."""


def _framewise(fn, a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames of a per-pixel mean measure (equal frame sizes: the same as pooled), low memory."""
    return float(np.mean([fn(x, y) for x, y in zip(a, b)]))


def _full_reference(x: np.ndarray, ref: np.ndarray, threshold: float, visible: np.ndarray | None) -> dict:
    """The full-reference measures of ``x`` against ``ref``, over the ``visible`` pixels (bool ``(T, H, W)``,
    the ground truth's opaque ones) or all (None)."""
    small = min(x.shape[-3:-1]) < SSIM_MIN_SIDE                   # SSIM's 7x7 window does not fit: not defined
    try:
        ssim = math.nan if small else im.ssim(x, ref, visible)
    except ValueError:                                            # no visible pixel inside SSIM's border
        ssim = math.nan
    return {"psnr": im.psnr(x, ref, visible), "mse": im.mse(x, ref, visible), "mae": im.mae(x, ref, visible),
            "ssim": ssim, "pixel_accuracy": im.pixel_accuracy(x, ref, threshold, visible),
            "ciede2000": _framewise(im.ciede2000, x, ref) if visible is None else _pooled_ciede2000(x, ref, visible)}


def _pooled_ciede2000(x: np.ndarray, ref: np.ndarray, visible: np.ndarray) -> float:
    """Mean CIEDE2000 over the ``visible`` pixels of all frames (frame by frame, low memory)."""
    counts = visible.reshape(len(visible), -1).sum(1)
    total = sum(im.ciede2000(a, b, m) * n for a, b, m, n in zip(x, ref, visible, counts) if n)
    return float(total / counts.sum())


def _no_reference(x: np.ndarray, flows, visible: np.ndarray | None) -> dict:
    """Colourfulness, and for T >= 2 warp error (with the ground truth's ``flows``) and CDC, over the ``visible``
    pixels (None: all)."""
    out = {"colourfulness": im.colourfulness(x, visible)}
    if flows is not None:
        out["warp_error"] = video.warp_error(x, flows=flows, mask=visible)
        out["cdc"] = video.cdc(x, mask=visible)
    return out


def evaluate(output, reference, input=None, max_frames: int | None = None, features: bool = True, *,
             threshold: float = im.ACCURACY_THRESHOLD, encoder=None, device: str = "cpu") -> dict:
    """Score ``output`` (and ``input``, when given) against the ground truth ``reference``.

    Args:
        output, reference, input: a video file, an image, a folder of images, or a uint8 RGB array
            ``(T, H, W, 3)``; all must have the same frame size.
        max_frames: use only the first ``max_frames`` frames of each.
        features: also compute the Frechet distance on pretrained EfficientNet-Lite0 features (loads a
            ~20 MB checkpoint; see :func:`vidcolor.metrics.features.frechet_feature_distance`).
        threshold: tolerance of the pixel accuracy, in 8-bit levels (default 12.75 = 5%).
        encoder, device: feature extractor and torch device for the Frechet distance (default: the
            pretrained EfficientNet-Lite0, on the CPU).

    Returns:
        ``{"frames": T, "width": W, "height": H, "frame_counts": {"output": n, "reference": n[, "input": n]},
        "paired_by_name": bool, "accuracy_threshold": threshold, "transparent": share, "timing": {name:
        {"fps": float, "start": seconds}}, "warnings": [str], "output": {measure: value},
        "reference": {measure: value}[, "input": {measure: value}]}``. Measure keys are those of
        :data:`MEASURES`; "reference" holds only the no-reference measures of the ground truth (colourfulness,
        warp error, CDC). Warp error and CDC appear for T >= 2 only (warp error uses optical flow computed on the ground truth, so all
        columns are warped alike); ``colourfulness_ratio`` is None when the ground truth is gray.
        ``transparent`` is the share of the ground truth's pixels that are transparent (alpha 0, images with
        alpha only): they are left out of every measure of every column but the Frechet distance (on whole
        frames); SSIM is then the mean of its map over the other pixels (its 7x7 windows still see the
        transparent pixels beside them), and warp error counts a pixel when it and its match in the next
        frame are opaque. Frames are paired by position (folders: by name); ``timing`` gives each video's frame
        rate and first frame's time, and ``warnings`` (one line each) says when an output's or input's frames
        are not shown when the ground truth's are: first frames more than half a ground-truth frame apart, or
        frame rates that move the compared frames that far apart (:func:`timing_warnings`). When
        frame counts differ, the first T = min(counts) frames of each are used. Folders are compared image
        by image by name (the stems they all hold; ``frame_counts`` then gives each folder's own count).

    Raises:
        VidcolorError: unreadable or missing input, frame sizes that differ (not the same video), folders
            without an image name in common, or a ground truth transparent everywhere.
    """
    clips = {"output": output, "reference": reference}
    if input is not None:
        clips["input"] = input
    folders = {name: Path(x) for name, x in clips.items() if not isinstance(x, np.ndarray) and Path(x).is_dir()}
    listings = {name: list_images_in(folder) for name, folder in folders.items()}
    names = _common_names(folders, {name: {f.stem for f in files} for name, files in listings.items()}) \
        if len(folders) > 1 else None
    loaded = {name: _load(folders[name], max_frames, names) if name in folders and names is not None
              else _as_clip(x, max_frames) for name, x in clips.items()}
    frames = {name: c.frames for name, c in loaded.items()}
    ref = frames["reference"]
    for name, x in frames.items():
        if x.shape[1:] != ref.shape[1:]:
            raise VidcolorError(f"the {name} is {_size(x)} but the ground truth is {_size(ref)}: not the same video?")
    counts = {name: len(x) for name, x in frames.items()}
    t = min(counts.values())
    if names is not None:                        # what each folder holds, beside the images in common compared
        counts.update({name: len(files) for name, files in listings.items()})
    frames = {name: x[:t] for name, x in frames.items()}
    ref = frames["reference"]
    alpha = loaded["reference"].alpha
    visible = None if alpha is None or alpha[:t].all() else alpha[:t] > 0     # the ground truth's opaque pixels
    if visible is not None and not visible.any():
        raise VidcolorError(f"the ground truth {reference} is transparent everywhere (alpha 0): nothing to score")

    flows = video.pair_flows(ref) if t >= 2 else None  # the ground truth's motion, shared by every column
    result = {"frames": t, "width": ref.shape[2], "height": ref.shape[1], "frame_counts": counts,
              "paired_by_name": names is not None, "accuracy_threshold": threshold,
              "transparent": 0.0 if visible is None else float(1 - visible.mean()),
              "timing": {name: {"fps": float(c.fps), "start": c.start} for name, c in loaded.items()
                         if c.fps is not None},
              "warnings": timing_warnings(loaded, t),
              "reference": _no_reference(ref, flows, visible)}
    ref_colour = result["reference"]["colourfulness"]
    if features:
        from vidcolor.metrics.features import frechet_distance, gaussian_fit, load_encoder, pooled_features

        encoder = load_encoder() if encoder is None else encoder
        ref_gauss = gaussian_fit(pooled_features(ref, encoder, device=device))
    for name in [n for n in ("output", "input") if n in frames]:
        x = frames[name]
        r = _full_reference(x, ref, threshold, visible)
        if features:
            r["frechet_effnet"] = frechet_distance(*gaussian_fit(pooled_features(x, encoder, device=device)),
                                                   *ref_gauss)
        r.update(_no_reference(x, flows, visible))
        r["colourfulness_gap"] = r["colourfulness"] - ref_colour
        r["colourfulness_ratio"] = r["colourfulness"] / ref_colour if ref_colour > 0 else None
        result[name] = r
    return result


LABELS = {"output": "output", "input": "input", "reference": "ground truth"}


def timing_warnings(clips: dict, t: int) -> list[str]:
    """One line for each video (``clips["output"]``, ``clips["input"]``) whose first ``t`` frames, paired by
    position with the ground truth's (``clips["reference"]``), are not shown at the same times: its first frame
    is more than half a ground-truth frame interval from the ground truth's (a clip cut by a frame keeps its
    place, 0.042 s at 24 fps), or its frame rate (its own timestamps, so variable rates too) moves a compared
    frame that far (24 vs 30 fps: the 4th frame). Clips without timing (images, folders, arrays) give none.

    Args:
        clips: name -> :class:`_Clip`; ``fps`` None for clips without timing.
        t: the number of frames compared.

    Returns:
        The warnings, in the order output, input (empty when all agree).
    """
    ref = clips["reference"]
    if ref.fps is None:
        return []
    half, out = 0.5 / float(ref.fps), []
    for name in ("output", "input"):
        c = clips.get(name)
        if c is None or c.fps is None:
            continue
        label = LABELS[name]
        shift = c.start - ref.start
        if abs(shift) > half:
            out.append(f"the {label}'s first frame is at {c.start:.3f} s, the ground truth's at {ref.start:.3f} s "
                       f"({abs(shift) * float(ref.fps):.1f} frames {'later' if shift > 0 else 'earlier'}): frames "
                       "are paired by position, so they are that far apart unless one's timestamps were reset "
                       "(vidcolor's outputs count from 0)")
        drift = [abs(a - b) for a, b in zip(c.times[:t], ref.times[:t])]
        if drift and max(drift) > half:
            i = next(i for i, d in enumerate(drift) if d > half)
            out.append(f"frame rates differ (the {label} {float(c.fps):.6g} fps, the ground truth "
                       f"{float(ref.fps):.6g} fps): frames are paired by position, and frame {i + 1} is shown "
                       f"{c.times[i]:.3f} s after the {label}'s start but {ref.times[i]:.3f} s after the ground "
                       "truth's")
    return out


# ------------------------------------------------------------------------------------------ reports


def _fmt(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return fmt.format(value)


def format_table(result: dict) -> str:
    """A markdown table of :func:`evaluate`'s result: one row per measure, columns output[, input],
    ground truth (no-reference measures only), and which way is better."""
    cols = [c for c in ("output", "input", "reference") if c in result]
    heads = {"output": "output", "input": "input", "reference": "ground truth"}
    rows = [["measure"] + [heads[c] for c in cols] + ["better"]]
    for key, label, better, fmt in MEASURES:
        if not any(key in result[c] for c in cols):
            continue
        rows.append([label] + [_fmt(result[c][key], fmt) if key in result[c] else "" for c in cols] + [better])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    last = len(widths) - 1
    lines = ["| " + " | ".join(cell.ljust(w) if i in (0, last) else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(row, widths))) + " |" for row in rows]
    lines.insert(1, "|" + "|".join(("-" * (w + 2)) if i in (0, last) else "-" * (w + 1) + ":"
                                   for i, w in enumerate(widths)) + "|")
    counts = result["frame_counts"]
    head = f"{result['frames']} frame(s), {result['width']}x{result['height']}"
    timing = result.get("timing") or {}
    if timing:
        head += "; " + ", ".join(f"{LABELS[k]} {v['fps']:.6g} fps" + (f" (first frame at {v['start']:.3f} s)"
                                                                      if round(v["start"], 3) else "")
                                 for k, v in timing.items())
    head += f"; pixel accuracy: all channels within {result['accuracy_threshold']:g} levels"
    if len(set(counts.values())) > 1:
        head += "; frame counts differ (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + "): " + \
                (f"the {result['frames']} images of the same name" if result.get("paired_by_name")
                 else f"first {result['frames']}") + " compared"
    if result.get("transparent"):
        head += (f"; {result['transparent']:.1%} of the ground truth's pixels are transparent (alpha 0): left out of "
                 "every measure" + (" but the Frechet distance (whole frames)" if any(
                     "frechet_effnet" in result[c] for c in cols) else ""))
    head += "".join(f"\nwarning: {w}" for w in result.get("warnings", []))
    return head + "\n\n" + "\n".join(lines)


def to_json(result: dict) -> str:
    """:func:`evaluate`'s result as JSON; infinite values (PSNR of identical frames) become null."""
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    return json.dumps(clean(result), indent=2)
