"""Score an output (and optionally the input it came from) against the ground truth.

Full-reference measures (against the ground truth): PSNR, MSE, MAE, SSIM, pixel accuracy within a
threshold, CIEDE2000, and a Frechet distance on pooled EfficientNet-Lite0 features (FID-style, NOT the
Inception FID). No-reference measures (of each clip by itself, the ground truth included): colourfulness
and, for clips of two frames or more, warp error and colour distribution consistency (CDC). Pixels that are
transparent in the ground truth (alpha 0 in an image with alpha) count in no measure but the Frechet distance.
The clips are read frame by frame, in step, and the measures accumulated as they go: memory does not grow with
the clips' length.

Example:
    >>> from vidcolor.evaluate import evaluate, format_table
    >>> r = evaluate("dog_colorized.mp4", "dog.mp4", input="dog_gray.mp4")   # doctest: +SKIP
    >>> print(format_table(r))                                               # doctest: +SKIP
"""
from __future__ import annotations

import json
import math
import os
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from vidcolor.arrays import check_rgb, conversion_hint, described
from vidcolor.errors import VidcolorError, option
from vidcolor.io import (AnimatedImageReader, VideoReader, is_animated, is_image, is_still_image, list_images_in,
                         read_image)
from vidcolor.io.naming import natural_sorted
from vidcolor.metrics import image as im
from vidcolor.metrics import video
from vidcolor.metrics.features import FEATURE_SIZE, RunningGaussian, frechet_distance, load_encoder, pooled_features
from vidcolor.names import check_named

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
    mean frame rate ``fps``, its first frame's presentation time ``start`` (seconds), each frame's ``times``
    (seconds after the first) and ``file_start``, the earliest start of its file's streams (seconds; the
    video's own where it is alone); images and arrays have none (``fps`` None)."""

    frames: np.ndarray
    alpha: np.ndarray | None = None
    fps: Fraction | None = None
    start: float = 0.0
    times: list[float] | None = None
    file_start: float = 0.0


class _Source:
    """One clip read frame by frame: iterating gives ``(rgb, alpha)`` for each frame, uint8 ``(H, W, 3)`` and
    uint8 ``(H, W)`` or None (no alpha), up to ``max_frames``; only the frame being read is held (a video's reader
    keeps its timestamps, a few integers a frame). ``count`` is the number of frames read so far; a video's
    ``fps``, ``start`` (its first frame's time, seconds) and ``file_start`` (the earliest start of its file's
    streams, seconds) are known once it is opened, ``times`` (seconds after the first, of the frames read)
    at any time; images, folders and arrays have ``fps`` None. What :func:`load_frames` reads, how it reads it.

    Args:
        x: a video file, an image (still or animated), a folder of images, or a uint8 RGB array ``(T, H, W, 3)``
            or ``(H, W, 3)``.
        max_frames: stop after this many frames (None: all).
        names: a folder's images to take, by stem, in this order (None: all of them).

    Raises:
        VidcolorError: as :func:`load_frames` (a missing path, an unreadable video, an empty folder, ``max_frames``
            < 1, an array that is not uint8 RGB) when opened; an image of a folder whose size differs from the
            first's, a frame that cannot be decoded, a clip without frames, while iterating.
    """

    fps: Fraction | None = None
    start: float = 0.0
    file_start: float = 0.0
    ended: bool = False
    """Whether its frames were read to their end (not stopped at ``max_frames``)."""

    def __init__(self, x, max_frames: int | None = None, names: list[str] | None = None, what: str = "the clip"):
        if max_frames is not None and max_frames < 1:
            raise VidcolorError(f"max frames must be at least 1, got {max_frames}")
        self.name, self.max_frames, self.count, self._iterator = x, max_frames, 0, None
        self._reader = self._files = self._array = self._image = None
        _check_clip(x, what)
        if isinstance(x, np.ndarray):
            self._array = x[None] if x.ndim == 3 else x
            return
        p = Path(x)
        if not p.exists():
            raise VidcolorError(f"{x}: no such file or folder")
        if p.is_dir():
            files = list_images_in(p)
            if names is not None:
                by_stem = {f.stem: f for f in files}
                files = [by_stem[n] for n in names if n in by_stem]
            self._files = files[:max_frames]
            if not self._files:
                raise VidcolorError(f"{x}: no images in folder")
            return
        if is_still_image(p):               # a video named as an image is read as one
            self._image = p
            return
        self._reader = AnimatedImageReader(p) if is_image(p) and is_animated(p) else VideoReader(p)
        self.fps, self.start = self._reader.info.fps, getattr(self._reader, "start_time", 0.0)
        self.file_start = self._reader.info.start

    @property
    def times(self) -> list[float] | None:
        if self._reader is None:
            return None
        tb = self._reader.timeline.time_base
        return [float(pts * tb) for pts in self._reader.timeline.pts[:self.count]]

    def _frames(self):
        if self._array is not None:
            yield from ((rgb, None) for rgb in self._array[:self.max_frames])
        elif self._image is not None:
            yield read_image(self._image)
        elif self._files is not None:
            first = None
            for f in self._files:
                rgb, alpha = read_image(f)
                if first is None:
                    first = f, rgb.shape
                elif rgb.shape != first[1]:
                    raise VidcolorError(f"{f}: {_size(rgb)} differs from {first[0].name} "
                                        f"({first[1][1]}x{first[1][0]})")
                yield rgb, alpha
        else:
            yield from ((rgb, None) for rgb in self._reader)

    def __iter__(self):
        """The one iterator of the clip's frames: iterating again goes on where the last iteration stopped."""
        if self._iterator is None:
            self._iterator = self._read()
        return self._iterator

    def _read(self):
        for frame in self._frames():
            self.count += 1
            yield frame
            if self.max_frames is not None and self.count >= self.max_frames:
                break
        else:
            self.ended = True
        if not self.count:
            raise VidcolorError(f"{self.name}: no frames")

    @property
    def damage(self) -> str | None:
        """What a video or animated image read to its end (:attr:`ended`) lost, as its reader counts it: frames its
        container declares that could not be read (:attr:`~vidcolor.io.VideoReader.missing`: a truncated or damaged
        file), or a cut its container shows without a count (a Matroska file cut short:
        :attr:`~vidcolor.io.VideoReader.ended_early`); None where it lost none, or was stopped before its end."""
        reader = self._reader
        if reader is None or not self.ended:
            return None
        if getattr(reader, "ended_early", None):
            return reader.ended_early
        if not reader.missing:
            return None
        if reader.info.frames:
            return f"{reader.missing} of its {reader.info.frames} frames could not be read"
        return f"{reader.missing} frame{'s' if reader.missing != 1 else ''} could not be decoded"

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def __enter__(self) -> "_Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_clip(x, what: str) -> None:
    """Refuse, naming the clip (``what``), what is neither a file or folder name (str, bytes, ``os.PathLike``) nor
    uint8 RGB frames ``(T, H, W, 3)`` or ``(H, W, 3)`` with no side empty, with how to give common kinds
    (:func:`~vidcolor.arrays.conversion_hint`: gray, RGBA, floats in [0, 1], a list of frames). An empty frame size
    was OpenCV's error text, a list or None Python's ('expected str, bytes or os.PathLike object, not list').

    Raises:
        VidcolorError: as said."""
    if isinstance(x, np.ndarray):
        try:
            check_rgb(x, (3, 4), what)
        except ValueError as exc:
            one = x.ndim == 2 or x.ndim == 3 and x.shape[-1] in (1, 3, 4)     # a frame (H, W), (H, W, C)
            raise VidcolorError(f"{exc}{conversion_hint(x, batch=not one)}") from None
    elif not isinstance(x, (str, bytes, os.PathLike)):
        raise VidcolorError(f"{what} must be a video file, an image, a folder of images or uint8 RGB frames "
                            f"(T, H, W, 3), got {described(x)}{conversion_hint(x)}")


def load_frames(path: str | Path, max_frames: int | None = None, names: list[str] | None = None) -> np.ndarray:
    """Read a video file, an image, or a folder of images as one uint8 RGB stack.

    Videos are decoded with PyAV (:class:`~vidcolor.io.VideoReader`, display rotation applied), animated GIF, APNG,
    WebP and AVIF images frame by frame (:class:`~vidcolor.io.AnimatedImageReader`: transparency composited on black,
    times from the frame delays); a folder
    gives its images (the suffixes of :data:`vidcolor.io.files.IMAGE_SUFFIXES`) in natural order of their
    names (1.png, 2.png, ..., 10.png, as ffmpeg's ``%d.png`` numbers frames: :func:`~vidcolor.io.list_images_in`);
    alpha is dropped (:func:`evaluate` reads the ground truth's, to leave its transparent pixels out). The whole
    clip is in memory (T x H x W x 3 bytes): :func:`evaluate` does not use this, it reads frame by frame.

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
    with _Source(path, max_frames, names) as source:
        frames, alphas = [], []
        for rgb, alpha in source:
            frames.append(rgb)
            alphas.append(alpha)
    alpha = None if all(a is None for a in alphas) else np.stack(
        [np.full(frames[0].shape[:2], 255, np.uint8) if a is None else a for a in alphas])
    return _Clip(np.stack(frames), alpha, source.fps, source.start, source.times, source.file_start)


def _common_names(folders: dict[str, Path], stems: dict[str, set[str]]) -> list[str]:
    """The image ``stems`` (per folder) that every one of ``folders`` holds, in natural order (2 before 10,
    :func:`~vidcolor.io.naming.natural_sorted`): folders are compared image by image, by name.

    Raises:
        VidcolorError: a folder without images (named: an empty --input was said as the ground truth's 'no images
            in folder'), or two folders without an image name in common."""
    empty = next((name for name, s in stems.items() if not s), None)
    if empty is not None:
        raise VidcolorError(f"{folders[empty]}: no images in folder")
    common = natural_sorted(set.intersection(*stems.values()))
    if not common:
        raise VidcolorError(f"the folders {', '.join(str(f) for f in folders.values())} share no image name "
                            "(their images are compared by name)")
    return common


def _check_pairing(clips: dict, folders: dict[str, Path], listings: dict[str, list[Path]], names: list[str]) -> None:
    """Folders paired by name beside a clip paired by position (a video, an image, an array): the clip's frame N
    goes with the Nth image of the same name, so no folder may hold an image outside ``names`` before its last one
    in ``names``, else the clip's frames after the first image left out are paired with the next images (a video
    identical to a folder of its frames scored 24 dB, where one of the other folder's images was missing). Images
    after the last common one (a longer folder) leave the pairing as it is: not compared, as a longer clip's frames.

    Raises:
        VidcolorError: a folder holds images without a namesake in the other folders among those compared."""
    common = set(names)
    for name, files in listings.items():
        last = max(i for i, f in enumerate(files) if f.stem in common)
        extra = [f for f in files[:last] if f.stem not in common]
        if extra:
            positional = next(n for n in clips if n not in folders)
            others = " or ".join(f"the {LABELS[n]}'s" for n in folders if n != name)
            raise VidcolorError(
                f"the {LABELS[name]}'s folder {folders[name]} holds {len(extra)} image(s) with no namesake in "
                f"{others} ({extra[0].name}{', ...' if len(extra) > 1 else ''}): folders are paired by name, but "
                f"the {LABELS[positional]} is read frame by frame, so its frames would go with the wrong images; give it as "
                "a folder of the same names, or remove the unpaired images")


def _size(rgb: np.ndarray) -> str:
    return f"{rgb.shape[-2]}x{rgb.shape[-3]}"


def _size_hint(x: np.ndarray, ref: np.ndarray) -> str:
    """What a frame ``x`` whose size is not the ground truth's ``ref`` may be: ``--compare``'s output, input | output
    side by side (:class:`~vidcolor.side_by_side.SideBySide`: twice the width, the same height), or another video."""
    if x.shape[-3] == ref.shape[-3] and x.shape[-2] == 2 * ref.shape[-2]:
        return (f"twice its width: a {option('compare')} output (input | output side by side)? evaluate the output "
                "made without it")
    return "not the same video?"


# ---------------------------------------------------------------------------------------- measuring


SSIM_MIN_SIDE = im.SSIM_WINDOW
"""Frames smaller than this (pixels, either side) get no SSIM (its 7x7 window): NaN in the table, null in JSON."""


class _Column:
    """One column's measures accumulated frame by frame: running sums only, and the previous frame(s) the temporal
    measures need, so memory does not grow with the clip.

    Full-reference (``full_reference``): integer sums of squared and absolute errors and of correct pixels (PSNR,
    MSE, MAE and pixel accuracy pooled over the visible pixels of all frames, exactly as one stack), the sums of
    the per-frame SSIM and of the per-frame CIEDE2000 weighted by the frame's visible pixels. No-reference: the
    per-frame colourfulness, :class:`~vidcolor.metrics.video.RunningWarpError` and
    :class:`~vidcolor.metrics.video.RunningCDC`. With ``features``: the frames reduced to the encoder's 224x224 for
    a batch of 16 at most, and the running Gaussian of their pooled features
    (:class:`~vidcolor.metrics.features.RunningGaussian`).
    """

    def __init__(self, full_reference: bool, threshold: float, features=None):
        self.full_reference, self.threshold, self.features = full_reference, threshold, features
        self.sq = self.abs = self.correct = self.pixels = 0
        self.ssim_sum, self.ssim_frames, self.ciede_sum = 0.0, 0, 0.0
        self.colour_sum, self.colour_frames = 0.0, 0
        self.warp, self.cdc = video.RunningWarpError(), video.RunningCDC()
        if features is not None:
            self.gauss, self.batch = RunningGaussian(), []

    def add(self, x: np.ndarray, ref: np.ndarray, mask: np.ndarray | None, flow) -> None:
        """Score frame ``x`` (uint8 RGB ``(H, W, 3)``) against the ground truth's ``ref`` over the pixels of
        ``mask`` (bool ``(H, W)``; None: all), ``flow`` the ground truth's :func:`~vidcolor.metrics.video.flow_pair`
        from the previous frame (None for the first)."""
        n = x.shape[0] * x.shape[1] if mask is None else int(mask.sum())
        if self.full_reference and n:
            diff = x.astype(np.int16) - ref.astype(np.int16)
            if mask is not None:
                diff = diff[mask]
            err = np.abs(diff)
            self.sq += int(np.sum(err.astype(np.int32) ** 2, dtype=np.int64))
            self.abs += int(np.sum(err, dtype=np.int64))
            self.correct += int(np.count_nonzero(err.max(axis=-1) <= self.threshold))
            self.pixels += n
            self.ciede_sum += im.ciede2000(x, ref, mask) * n
            if min(x.shape[:2]) >= SSIM_MIN_SIDE:
                try:
                    self.ssim_sum += im.ssim(x, ref, mask)
                    self.ssim_frames += 1
                except ValueError:                                # no visible pixel inside SSIM's border
                    pass
        if n:
            self.colour_sum += im.colourfulness(x, mask)
            self.colour_frames += 1
        self.warp.add(x, flow, mask)
        self.cdc.add(x, mask)
        if self.features is not None:
            self.batch.append(cv2.resize(x, (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA))
            if len(self.batch) == FEATURE_BATCH:
                self._flush()

    def _flush(self) -> None:
        if self.batch:
            encoder, device = self.features
            self.gauss.add(pooled_features(np.stack(self.batch), encoder, batch_size=FEATURE_BATCH, device=device))
            self.batch = []

    def gaussian(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of the frames' pooled features (the batch not yet run is run first)."""
        self._flush()
        return self.gauss.fit()

    def full_reference_measures(self) -> dict:
        """PSNR, MSE, MAE, SSIM (NaN when no frame had one), pixel accuracy and CIEDE2000 of the frames added
        (``full_reference`` only, some visible pixel scored)."""
        mse = self.sq / (3 * self.pixels)
        return {"psnr": math.inf if mse == 0 else float(10.0 * np.log10(255.0 ** 2 / mse)), "mse": mse,
                "mae": self.abs / (3 * self.pixels),
                "ssim": self.ssim_sum / self.ssim_frames if self.ssim_frames else math.nan,
                "pixel_accuracy": self.correct / self.pixels, "ciede2000": self.ciede_sum / self.pixels}

    def no_reference(self, temporal: bool) -> dict:
        """Colourfulness (the mean over the frames with a visible pixel), and warp error and CDC when
        ``temporal`` (two frames or more)."""
        out = {"colourfulness": self.colour_sum / self.colour_frames}
        if temporal:
            out["warp_error"] = self.warp.value()
            out["cdc"] = self.cdc.value()
        return out


FEATURE_BATCH = 16
"""Frames per forward pass of the feature encoder (:func:`~vidcolor.metrics.features.pooled_features`)."""


_CLIP_NAMES = {"output": "output", "reference": option("reference", "--reference-video"),
               "input": option("input", "--input")}
""":func:`evaluate`'s clips as its errors name them: the parameter (the CLI line: OUTPUT, as the jobs' INPUT, is
``output``; the options are their flags)."""


def _check_file_name(name, what: str) -> None:
    """Refuse an empty name (was read as the current folder: ``evaluate('', 'a.png')`` scored a.png against
    itself) and ``-`` (was '-: no such file or folder', as if a file named - were missing), which the jobs read as
    stdin; ``what`` as :data:`_CLIP_NAMES` says it."""
    check_named(name, what, "give a video, an image or a folder of images")
    if isinstance(name, str) and name == "-":
        raise VidcolorError(f"{what} is -: evaluation reads files, not stdin; save the stream to a file and give "
                            "its name")


def evaluate(output, reference, input=None, max_frames: int | None = None, features: bool = True, *,
             threshold: float = im.ACCURACY_THRESHOLD, encoder=None, device: str = "cpu") -> dict:
    """Score ``output`` (and ``input``, when given) against the ground truth ``reference``.

    The clips are read frame by frame, in step, and every measure is accumulated as they go: memory holds a few
    frames of each (the current and the previous ones, up to 16 reduced to 224x224 for the features) whatever the
    clip's length; the results are those of the measures of :mod:`vidcolor.metrics` on the whole stacks, to within
    float rounding.

    Args:
        output, reference, input: a video file, an image, a folder of images, or a uint8 RGB array
            ``(T, H, W, 3)``; all must have the same frame size.
        max_frames: use only the first ``max_frames`` frames of each.
        features: also compute the Frechet distance on pretrained EfficientNet-Lite0 features (loads a
            ~20 MB checkpoint; see :func:`vidcolor.metrics.features.frechet_feature_distance`).
        threshold: tolerance of the pixel accuracy, in 8-bit levels (default 12.75 = 5%).
        encoder, device: feature extractor and torch device for the Frechet distance (default: the
            pretrained EfficientNet-Lite0, on the CPU); ``device`` as :func:`~vidcolor.device.pick_device` takes it
            (``auto``, ``cpu``, ``cuda``, ``cuda:N``, a ``torch.device``).

    Returns:
        ``{"frames": T, "width": W, "height": H, "frame_counts": {"output": n, "reference": n[, "input": n]},
        "paired_by_name": bool, "accuracy_threshold": threshold, "transparent": share, "timing": {name:
        {"fps": float, "start": seconds}}, "warnings": [str], "output": {measure: value},
        "reference": {measure: value}[, "input": {measure: value}]}``. Measure keys are those of
        :data:`MEASURES`; "reference" holds only the no-reference measures of the ground truth (colourfulness,
        warp error, CDC). Warp error and CDC appear for T >= 2 only (warp error uses optical flow computed on the ground truth, so all
        columns are warped alike; NaN, null in JSON, when no pair of frames has a pixel the flow matches); ``colourfulness_ratio`` is None when the ground truth is gray.
        ``transparent`` is the share of the ground truth's pixels that are transparent (alpha 0, images with
        alpha only): they are left out of every measure of every column but the Frechet distance (on whole
        frames); SSIM is then the mean of its map over the other pixels (its 7x7 windows still see the
        transparent pixels beside them), and warp error counts a pixel when it and its match in the next
        frame are opaque. Frames are paired by position (folders: by name); ``timing`` gives each video's frame
        rate and first frame's time, and ``warnings`` (one line each) says when an output's or input's frames
        are not shown when the ground truth's are: first frames more than half a ground-truth frame apart where
        the clip is not a re-based copy of the ground truth (as vidcolor and ffmpeg write one: first frame at 0 or
        at the ground truth's offset from its file's start), or frame rates that move the compared frames that far
        apart (:func:`timing_warnings`); before those, one for each video or animated image read to its end that
        lost frames (``the output out.mp4 looks damaged or truncated: 4 of its 10 frames could not be read ...``,
        or a Matroska file shorter than its header declares). When
        frame counts differ, the first T = min(counts) frames of each are used (the longer clips are still read
        to their end, or to ``max_frames``, to count their frames). Folders are compared image by image by name
        (the stems they all hold; ``frame_counts`` then gives each folder's own count).

    Raises:
        VidcolorError: an empty name or ``-`` (stdin) given as a clip, unreadable or missing input, frame sizes that
            differ (not the same video; one twice the ground truth's width is said to look like a ``compare``
            output), folders without an image name in common, folders paired by name beside a
            clip paired by position (a video) where a folder holds an image the other folders lack before the last
            one they share (the clip's frames would go with the wrong images), or a ground truth transparent
            everywhere; ``max_frames`` that is no integer >= 1 (nor None), ``features`` that is not True or False, a
            ``device`` that is unknown or not there (:func:`~vidcolor.device.pick_device`; with ``features`` only).
        ValueError: a ``threshold`` that is not a number, negative or NaN.
    """
    from vidcolor.device import pick_device
    from vidcolor.pipeline import check_flag, is_integer, is_number

    if not is_number(threshold):                     # '5' was '>=' not supported between instances of 'str' and 'int'
        raise ValueError(f"threshold must be a number >= 0, got {type(threshold).__name__} {threshold!r}")
    if not threshold >= 0:                           # NaN fails too: it counted no pixel correct
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    if max_frames is not None and not is_integer(max_frames):   # 2.5: slice indices' TypeError; True: 1 frame
        raise VidcolorError(f"{option('max_frames')} must be an integer >= 1 or None, got "
                            f"{type(max_frames).__name__} {max_frames!r}")
    check_flag(features, "features")                 # features='no' is true: the feature model loaded
    if features:
        device = pick_device(device)                 # 'cuda' without a GPU was torch's AssertionError, 'gpu' its list
    clips = {"output": output, "reference": reference}
    if input is not None:
        clips["input"] = input
    for name, x in clips.items():
        _check_file_name(x, _CLIP_NAMES[name])
        _check_clip(x, _CLIP_NAMES[name])
    folders = {name: Path(x) for name, x in clips.items() if not isinstance(x, np.ndarray) and Path(x).is_dir()}
    listings = {name: list_images_in(folder) for name, folder in folders.items()}
    names = _common_names(folders, {name: {f.stem for f in files} for name, files in listings.items()}) \
        if len(folders) > 1 else None
    if names is not None and len(folders) < len(clips):
        _check_pairing(clips, folders, listings, names)
    if features:
        encoder = load_encoder() if encoder is None else encoder
    with ExitStack() as stack:
        sources = {name: stack.enter_context(_Source(x, max_frames, names if name in folders else None,
                                                     _CLIP_NAMES[name])) for name, x in clips.items()}
        measured = _measure(sources, threshold, (encoder, device) if features else None)
        for source in sources.values():                  # the longer clips' frames, counted (not kept)
            for _ in source:
                pass
        counts = {name: s.count for name, s in sources.items()}
        damaged = [f"the {LABELS[name]} {s.name} looks damaged or truncated: {s.damage} (only the frames that "
                   "decoded are compared)" for name, s in sources.items() if s.damage]
        if names is not None:                    # what each folder holds, beside the images in common compared
            counts.update({name: len(files) for name, files in listings.items()})
    t, columns = measured["frames"], measured["columns"]
    if measured["visible"] == 0:
        raise VidcolorError(f"the ground truth {reference} is transparent everywhere (alpha 0): nothing to score")
    result = {"frames": t, "width": measured["width"], "height": measured["height"], "frame_counts": counts,
              "paired_by_name": names is not None, "accuracy_threshold": threshold,
              "transparent": measured["transparent"],
              "timing": {name: {"fps": float(s.fps), "start": s.start} for name, s in sources.items()
                         if s.fps is not None},
              "warnings": damaged + timing_warnings(sources, t),
              "reference": columns["reference"].no_reference(t >= 2)}
    ref_colour = result["reference"]["colourfulness"]
    if features:
        ref_gauss = columns["reference"].gaussian()
    for name in [n for n in ("output", "input") if n in columns]:
        r = columns[name].full_reference_measures()
        if features:
            r["frechet_effnet"] = frechet_distance(*columns[name].gaussian(), *ref_gauss)
        r.update(columns[name].no_reference(t >= 2))
        r["colourfulness_gap"] = r["colourfulness"] - ref_colour
        r["colourfulness_ratio"] = r["colourfulness"] / ref_colour if ref_colour > 0 else None
        result[name] = r
    return result


def _measure(sources: dict, threshold: float, features) -> dict:
    """Read ``sources`` (name -> :class:`_Source`, "reference" among them) in step until the first ends, scoring
    each frame as it comes (:class:`_Column`), the ground truth's optical flow computed once a pair for every
    column. Returns ``{"frames": T, "width": W, "height": H, "transparent": share, "visible": opaque pixels
    counted, "columns": name -> _Column}``.

    Raises:
        VidcolorError: a frame size that differs from the ground truth's."""
    columns = {name: _Column(name != "reference", threshold, features) for name in sources}
    iters = {name: iter(s) for name, s in sources.items()}
    t, visible, transparent, prev, shape = 0, 0, False, None, None
    while True:
        frames = {}
        for name, it in iters.items():
            frames[name] = next(it, None)
        if any(f is None for f in frames.values()):
            break
        ref, alpha = frames["reference"]
        if shape is None:
            shape = ref.shape
            for name, (x, _) in frames.items():
                if x.shape != ref.shape:
                    raise VidcolorError(f"the {name} is {_size(x)} but the ground truth is {_size(ref)}: "
                                        f"{_size_hint(x, ref)}")
        mask = None if alpha is None or alpha.all() else alpha > 0       # the ground truth's opaque pixels
        transparent |= mask is not None
        visible += ref.shape[0] * ref.shape[1] if mask is None else int(mask.sum())
        flow = None if prev is None else video.flow_pair(prev, ref)      # its motion, shared by every column
        for name, (x, _) in frames.items():
            columns[name].add(x, ref, mask, flow)
        prev, t = ref, t + 1
    return {"frames": t, "width": shape[1], "height": shape[0],
            "transparent": float(1 - visible / (t * shape[0] * shape[1])) if transparent else 0.0,
            "visible": visible, "columns": columns}


LABELS = {"output": "output", "input": "input", "reference": "ground truth"}


def timing_warnings(clips: dict, t: int) -> list[str]:
    """One line for each video (``clips["output"]``, ``clips["input"]``) whose first ``t`` frames, paired by
    position with the ground truth's (``clips["reference"]``), are not shown at the same times: its first frame
    is more than half a ground-truth frame interval from the ground truth's (a clip cut by a frame keeps its
    place, 0.042 s at 24 fps) and it is not a re-based copy of the ground truth (:func:`_rebased`), or its frame
    rate (its own timestamps, so variable rates too) moves a compared frame that far (24 vs 30 fps: the 4th
    frame; at equal mean rates, a frame missing or repeated, said as such). Clips without timing (images, folders, arrays) give none.

    Args:
        clips: name -> :class:`_Clip` or :class:`_Source` (what matters: ``fps``, None for clips without timing,
            ``start``, ``file_start`` and ``times``).
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
        if abs(shift) > half and not _rebased(c, ref, half):
            offset = ref.start - ref.file_start
            out.append(f"the {label}'s first frame is at {c.start:.3f} s, the ground truth's at {ref.start:.3f} s "
                       f"({abs(shift) * float(ref.fps):.1f} frames {'later' if shift > 0 else 'earlier'}): frames "
                       "are paired by position, so they are that far apart (a copy of the ground truth re-based as "
                       "vidcolor and ffmpeg write one has its first frame at "
                       f"{f'{offset:.3f} s or at ' if abs(offset) > half else ''}0)")
        drift = [abs(a - b) for a, b in zip(c.times[:t], ref.times[:t])]
        if drift and max(drift) > half:
            i = next(i for i, d in enumerate(drift) if d > half)
            rates = f"the {label} {float(c.fps):.6g} fps, the ground truth {float(ref.fps):.6g} fps"
            # equal mean rates: frames missing or repeated in one clip (a damaged file, a dropped frame), not a rate
            what = f"frame rates differ ({rates})" if f"{float(c.fps):.6g}" != f"{float(ref.fps):.6g}" else \
                f"the {label}'s frames are not at the ground truth's times ({rates}: a frame missing or repeated?)"
            out.append(f"{what}: frames are paired by position, and frame {i + 1} is shown "
                       f"{c.times[i]:.3f} s after the {label}'s start but {ref.times[i]:.3f} s after the ground "
                       "truth's")
    return out


def _rebased(c, ref, tolerance: float) -> bool:
    """Whether clip ``c``'s first frame is where a re-based copy of the ground truth ``ref`` has it, to within
    ``tolerance`` seconds (``start`` and ``file_start``: seconds, as :class:`_Source` gives them).

    vidcolor writes its outputs re-based, as ffmpeg does by default (not with ``-copyts``): the source's streams
    are moved back by the source's start, the earliest of its streams' (:class:`~vidcolor.io.writer.Passthrough`),
    so the copy's first frame is at the source's first frame's offset from that start, with or without the other
    streams (an MPEG-TS whose audio starts at 1.400 s and video at 1.423 s: at 0.023 s; a video that starts 0.52 s
    after its audio: at 0.52 s; a clip cut at 1.2 s that kept its timestamps, video alone: at 0). A copy of the
    video alone may also have its first frame moved to 0 by itself (vidcolor's GIF output and its output of stdin;
    ffmpeg's of an MPEG-TS without the audio). A clip whose first frame is at either place is taken for a copy, and
    its frames for the ground truth's. Timestamps cannot tell such a clip from one cut or padded at the start
    whose timestamps were reset, nor one that starts at 0 from the full clip against a ground truth whose first
    frames were cut keeping their place: those pairings are not warned about."""
    return abs(c.start - (ref.start - ref.file_start)) <= tolerance or abs(c.start) <= tolerance


# ------------------------------------------------------------------------------------------ reports


def _fmt(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return fmt.format(value)


def format_table(result: dict) -> str:
    """A markdown table of :func:`evaluate`'s result: one row per measure (:data:`MEASURES`' labels, units and
    formats: PSNR in dB to 2 decimals, pixel accuracy in %...; NaN and None as ``n/a``), columns output[, input], ground truth
    (no-reference measures only), and which way is better; above it a header line (frames, size, frame rates, the
    pixel accuracy's threshold, frame counts that differ, the transparent share) and the result's warnings.

    Raises:
        KeyError: ``result`` is not :func:`evaluate`'s (no ``frame_counts``, ``frames``...)."""
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
    if any(v != result["frames"] for v in counts.values()):   # not every frame compared (folders: by name)
        head += f"; frame counts {'differ ' if len(set(counts.values())) > 1 else ''}(" + \
                ", ".join(f"{LABELS[k]} {v}" for k, v in counts.items()) + "): " + \
                (f"the {result['frames']} images of the same name" if result.get("paired_by_name")
                 else f"first {result['frames']}") + " compared"
    if result.get("transparent"):
        head += (f"; {result['transparent']:.1%} of the ground truth's pixels are transparent (alpha 0): left out of "
                 "every measure" + (" but the Frechet distance (whole frames)" if any(
                     "frechet_effnet" in result[c] for c in cols) else ""))
    head += "".join(f"\nwarning: {w}" for w in result.get("warnings", []))
    return head + "\n\n" + "\n".join(lines)


def to_json(result: dict) -> str:
    """:func:`evaluate`'s result as JSON (2-space indent); values that are not finite become null: infinity (the PSNR
    of identical frames) and NaN (the SSIM of frames under 7x7, a warp error with no pixel matched), as None (a
    gray ground truth's ``colourfulness_ratio``) is.

    Raises:
        TypeError: (json) a value JSON cannot hold: ``result`` is not :func:`evaluate`'s."""
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    return json.dumps(clean(result), indent=2)
