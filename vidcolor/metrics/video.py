"""No-reference measures of a video: temporal consistency (warp error, CDC) and banding (CAMBI).

The temporal measures take uint8 RGB clips ``(T, H, W, 3)`` with T >= 2. Lower is more consistent for both.

* :func:`warp_error`: Lai et al. 2018, flicker along the motion (occlusion-masked).
* :func:`cdc`: Liu et al. 2021, drift of the colour histograms over 1, 2 and 4 frames.

Both also come as running measures fed one frame at a time (:class:`RunningWarpError`, :class:`RunningCDC`),
which keep only the frames they still need (the previous one; the histograms of the last four), so a clip of any
length is scored in memory that does not grow with it; the stack functions are these run over the stack.

Both are blind to *what* the colours are: a grey video scores perfectly. Read them next to a fidelity
measure (``vidcolor.metrics.image``), and against the same clip's ground truth as the floor.

* :func:`cambi`: Netflix's CAMBI banding index of a file or of frames (ffmpeg's libvmaf), lower is
  less banding; a flat grey video scores 0 too, so read it next to a fidelity measure as well.
"""
from __future__ import annotations

import functools
import json
import math
import subprocess
import tempfile
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from vidcolor.arrays import check_rgb, described
from vidcolor.flow import consistency_mask, dis_flow, warp

__all__ = ["CAMBI_MIN_SIZE", "RunningCDC", "RunningWarpError", "cambi", "cdc", "flow_pair", "optical_flow",
           "pair_flows", "warp_error"]


def optical_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense optical flow from frame ``a`` to frame ``b``: DIS, OpenCV's MEDIUM preset.

    DIS (Kroeger et al. 2016, "Fast Optical Flow using Dense Inverse Search", ECCV) at the MEDIUM preset
    (finest scale 1, patch stride 3, variational refinement) instead of the ULTRAFAST one used for
    smoothing: a measure must be accurate rather than fast, and the flow errors of a cheaper preset
    would be counted as temporal inconsistency. Frames are converted to grey (ITU-R BT.601 luma).

    Args:
        a, b: uint8 ``(H, W, 3)`` RGB or ``(H, W)`` grey frames of one shape.

    Returns:
        float32 ``(H, W, 2)``, pixels: pixel x of ``a`` is seen at ``x + flow(x)`` in ``b``.

    Raises:
        ValueError: a frame is not uint8 ``(H, W, 3)`` or ``(H, W)``, has an empty side, or the two differ in
            shape.
    """
    for name, x in (("a", a), ("b", b)):        # a gray stack (T, H, W) or an empty frame was OpenCV's error text
        if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and (x.ndim == 2 or x.ndim == 3 and x.shape[2] == 3)
                and x.size):
            raise ValueError(f"{name}: expected a uint8 frame, RGB (H, W, 3) or grey (H, W), no side empty, got "
                             f"{described(x)}")
    if a.shape != b.shape:
        raise ValueError(f"a and b differ in shape: {a.shape} and {b.shape}")
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis_flow(dis, _gray(a), _gray(b))


def flow_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flow from frame ``a`` to frame ``b`` (uint8 RGB ``(H, W, 3)``, :func:`optical_flow`) and its validity
    mask (forward-backward consistent and in frame, :func:`vidcolor.flow.consistency_mask`): float32 ``(H, W, 2)``
    in pixels, bool ``(H, W)``. One element of :func:`pair_flows`; what :meth:`RunningWarpError.add` takes.

    Raises:
        ValueError: the frames differ in shape or are not uint8 (:func:`optical_flow`)."""
    fwd = optical_flow(a, b)
    return fwd, consistency_mask(fwd, optical_flow(b, a))


def pair_flows(clip: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each pair (t, t+1) of ``clip`` (uint8 RGB ``(T, H, W, 3)``): the flow t -> t+1
    (:func:`optical_flow`) and its validity mask (forward-backward consistent and in frame,
    :func:`vidcolor.flow.consistency_mask`): :func:`flow_pair`. Compute once, score several videos with
    :func:`warp_error` ``(flows=...)``. It holds T - 1 flows (12 bytes a pixel each): for a long clip use
    :func:`flow_pair` frame by frame with :class:`RunningWarpError`.

    Raises:
        ValueError: ``clip`` is not uint8 ``(T, H, W, 3)`` with T >= 2, no side empty."""
    _check_clip(clip)
    return [flow_pair(clip[t], clip[t + 1]) for t in range(len(clip) - 1)]


def warp_error(frames: np.ndarray, flow_source: np.ndarray | None = None,
               flows: list[tuple[np.ndarray, np.ndarray]] | None = None, mask: np.ndarray | None = None) -> float:
    """Warp error E_warp (Lai et al. 2018, "Learning Blind Video Temporal Consistency", ECCV, the
    equations for E_warp(V_t, V_t+1) and E_warp(V) of their evaluation).

    For each pair (t, t+1): frame t+1 is warped back to frame t along the flow t -> t+1 (bilinear), and
    ``E_t = sum_x M_t(x) ||V_t(x) - warp(V_{t+1})(x)||^2 / (3 sum_x M_t(x))`` on RGB in [0, 1], i.e. the
    mean squared error over the non-occluded pixels and the three channels. ``M_t`` is 1 where the flow
    passes the forward-backward check of Sundaram et al. 2010 (their eq. for occlusions, in frame t's coordinates)
    and stays in frame (:func:`vidcolor.flow.consistency_mask`). Lai et al.'s reference code
    (``utils.detect_occlusion``) also drops motion boundaries (Sundaram et al.'s second test,
    ``|grad u|^2 + |grad v|^2 > 0.01 |w|^2 + 0.002``, on the flow t -> t+1); its consistency check is in frame t's
    coordinates too (``compute_flow_occlusion.py`` calls it as ``detect_occlusion(bw_flow, fw_flow)``, the
    reverse of its parameters' names, so the backward flow is sampled along the forward one). This mask
    keeps the motion boundaries, so its values run higher than with both tests: by 1-7% on 8 frames of DAVIS dog
    at 320x180 (the clip, its libx264 crf 32 encode, its 3-bit quantization), 7-17% on bmx-trees (measured against
    an independent implementation, which matched this function to 0.05% without the boundary test). The result is the mean of E_t over the T - 1 pairs; a pair with no valid
    pixel counts as 0, as in Lai et al.'s reference code, but when no pair has one the result is NaN (it was 0.0,
    "perfectly consistent", for a 5x5 clip whose frames differ by 25 levels).

    Flow (:func:`optical_flow`, DIS MEDIUM) and mask are computed on ``flow_source``: pass the original
    clip to score a processed one with the original's motion (Lai et al. compute the flow on the input
    video); the original's own warp error is then the floor (flow and interpolation error, noise).

    Args:
        frames: uint8 RGB ``(T, H, W, 3)``, T >= 2, the video to score.
        flow_source: uint8 RGB of the same shape, or None for ``frames`` itself.
        flows: :func:`pair_flows` of the flow source, when already computed (then ``flow_source`` is
            not used).
        mask: bool ``(T, H, W)``, the pixels that count (the opaque ones of frames with alpha), or None for
            all: ``M_t`` also needs pixel x masked in frame t and its match in frame t+1 (all four bilinear
            neighbours) masked in frame t+1.

    Returns:
        The warp error, a float in [0, 1] (squared [0, 1] RGB units; multiply by 255^2 for 8-bit levels); NaN
        when no pair has a valid pixel (nothing could be matched: frames too small, or every pixel occluded).

    Raises:
        ValueError: if ``frames`` is not uint8 ``(T, H, W, 3)`` with T >= 2 and no side empty, or
            ``flow_source`` (or ``flows``, or ``mask``) does not match it.
    """
    _check_clip(frames)
    if mask is not None and np.shape(mask) != frames.shape[:3]:
        raise ValueError(f"mask {np.shape(mask)} does not match frames {frames.shape[:3]}")
    if flows is None:
        if flow_source is None:
            flow_source = frames
        elif not isinstance(flow_source, np.ndarray) or flow_source.shape != frames.shape \
                or flow_source.dtype != np.uint8:
            raise ValueError(f"flow_source {described(flow_source)} does not match frames {described(frames)}")
        flows = pair_flows(flow_source)
    if len(flows) != len(frames) - 1 or flows[0][0].shape[:2] != frames.shape[1:3]:
        raise ValueError(f"{len(flows)} flows do not match {len(frames)} frames of {frames.shape[1:3]}")
    running = RunningWarpError()
    for t, frame in enumerate(frames):
        running.add(frame, flows[t - 1] if t else None, None if mask is None else mask[t])
    return running.value()


class RunningWarpError:
    """:func:`warp_error` fed one frame at a time: it keeps the previous frame (and its mask) only.

    Example:
        >>> run = RunningWarpError()                                           # doctest: +SKIP
        >>> for prev, frame in zip([None, *clip], clip):                       # doctest: +SKIP
        ...     run.add(frame, None if prev is None else flow_pair(prev, frame))
        >>> run.value()                                                        # doctest: +SKIP
    """

    def __init__(self):
        self._prev: np.ndarray | None = None
        self._prev_mask: np.ndarray | None = None
        self._sum = 0.0
        self.pairs = 0
        """Pairs scored so far (frames added - 1)."""
        self.matched = 0
        """Pairs scored so far with a valid pixel (the others count as 0)."""

    def add(self, frame: np.ndarray, flow: tuple[np.ndarray, np.ndarray] | None = None,
            mask: np.ndarray | None = None) -> None:
        """Add the next frame and score the pair (previous, ``frame``).

        Args:
            frame: uint8 RGB ``(H, W, 3)``, the size of the frames before it.
            flow: the flow source's :func:`flow_pair` (previous frame -> this one); None for the first frame only.
            mask: bool ``(H, W)``, this frame's pixels that count, or None for all (see :func:`warp_error`).

        Raises:
            ValueError: a frame that is not uint8 RGB ``(H, W, 3)`` with no side empty, or not the previous one's
                size, a missing or mismatched ``flow``, a ``mask`` of another size.
        """
        check_rgb(frame, (3,), "frame")         # an empty one was OpenCV's error (warp), or CDC 0.0 (no pixel)
        if mask is not None and np.shape(mask) != frame.shape[:2]:
            raise ValueError(f"mask {np.shape(mask)} does not match the frame {frame.shape[:2]}")
        if self._prev is not None:
            if frame.shape != self._prev.shape:
                raise ValueError(f"frame {frame.shape} differs from the one before ({self._prev.shape})")
            if flow is None or flow[0].shape[:2] != frame.shape[:2]:
                raise ValueError(f"the flow from the previous frame does not match a frame of {frame.shape[:2]}")
            error = _pair_warp_error(self._prev, frame, flow, self._prev_mask, mask)
            self._sum += 0.0 if error is None else error
            self.matched += error is not None
            self.pairs += 1
        self._prev, self._prev_mask = frame, mask

    def value(self) -> float:
        """The warp error so far: the mean over the pairs (see :func:`warp_error`); NaN when no pair had a valid
        pixel.

        Raises:
            ValueError: fewer than two frames added."""
        if not self.pairs:
            raise ValueError("warp error needs two frames or more")
        return float(self._sum / self.pairs) if self.matched else math.nan


def _pair_warp_error(cur: np.ndarray, nxt: np.ndarray, flow: tuple[np.ndarray, np.ndarray],
                     mask: np.ndarray | None, mask_next: np.ndarray | None) -> float | None:
    """E_t of :func:`warp_error` for frames ``cur`` -> ``nxt`` with the flow between them and their masks (None:
    every pixel counts); None when no pixel is valid."""
    fwd, valid = flow
    if mask_next is not None:
        valid = valid & (warp(np.asarray(mask_next, np.float32), fwd) > 0.999)     # the match is masked in t+1
    if mask is not None:
        valid = valid & np.asarray(mask, bool)
    n = int(valid.sum())
    if n == 0:
        return None
    a = cur.astype(np.float32) / 255.0
    b = warp(nxt.astype(np.float32) / 255.0, fwd)
    return float(np.sum(((a - b) ** 2)[valid], dtype=np.float64) / (3 * n))


def cdc(frames: np.ndarray, gaps=(1, 2, 4), bins: int = 256, mask: np.ndarray | None = None) -> float:
    """Colour distribution consistency (Liu et al. 2021, "Temporally consistent video colorization with
    deep feature propagation and self-regularization learning", arXiv:2110.04562 / CVMJ 2024, the CDC
    equation of their evaluation).

    ``CDC = mean_{d in gaps} mean_i mean_{c in R,G,B} JS(P_c(I_i), P_c(I_{i+d}))``, with ``P_c`` the
    normalised histogram of channel c (``bins`` equal bins over 0..255) and JS the Jensen-Shannon
    divergence ``JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2``, ``m = (p + q) / 2``, in natural log (as
    the authors' code, scipy.stats.entropy): each JS, hence CDC, lies in [0, ln 2]. Gaps >= T are
    skipped.

    Args:
        frames: uint8 RGB ``(T, H, W, 3)``, T >= 2.
        gaps: positive frame distances d (the paper uses 1, 2, 4).
        bins: histogram bins per channel, 1..256.
        mask: bool ``(T, H, W)``, the pixels each histogram counts (the opaque ones of frames with alpha), or
            None for all; pairs with a frame that has no masked pixel are left out.

    Returns:
        CDC, a float in [0, ln 2] (0.693); 0 when every compared pair has equal histograms; NaN when the mask
        leaves no pair.

    Raises:
        ValueError: for a bad clip, a gap < 1, bins outside 1..256, no gap < T, or a ``mask`` of another shape.
    """
    _check_clip(frames)
    if mask is not None and np.shape(mask) != frames.shape[:3]:
        raise ValueError(f"mask {np.shape(mask)} does not match frames {frames.shape[:3]}")
    if not 1 <= bins <= 256:
        raise ValueError(f"bins must be in 1..256, got {bins}")
    if any(int(d) != d or d < 1 for d in gaps):
        raise ValueError(f"gaps must be positive integers, got {gaps}")
    if not any(d < len(frames) for d in gaps):
        raise ValueError(f"no gap in {gaps} is shorter than the clip ({len(frames)} frames)")
    running = RunningCDC(gaps, bins)
    for t, frame in enumerate(frames):
        running.add(frame, None if mask is None else mask[t])
    return running.value()


class RunningCDC:
    """:func:`cdc` fed one frame at a time: it keeps the histograms of the last ``max(gaps)`` frames only
    (float64 ``(3, bins)`` each) and, per gap, the sum of the pairs' divergences and their count.

    Args:
        gaps, bins: as :func:`cdc`.

    Raises:
        ValueError: no gaps, a gap that is not an integer >= 1, or bins outside 1..256.
    """

    def __init__(self, gaps=(1, 2, 4), bins: int = 256):
        if not 1 <= bins <= 256:
            raise ValueError(f"bins must be in 1..256, got {bins}")
        if not len(gaps) or any(int(d) != d or d < 1 for d in gaps):
            raise ValueError(f"gaps must be positive integers, got {gaps}")
        self.gaps = [int(d) for d in gaps]
        self.bins = bins
        self._hist: deque = deque(maxlen=max(self.gaps))     # None for a frame with no masked pixel
        self._sums = [0.0] * len(self.gaps)
        self._pairs = [0] * len(self.gaps)
        self.frames = 0
        """Frames added so far."""

    def add(self, frame: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Add the next frame: uint8 RGB ``(H, W, 3)``; ``mask`` bool ``(H, W)``, the pixels its histograms count
        (None: all; one with no pixel leaves this frame's pairs out).

        Raises:
            ValueError: a frame that is not uint8 RGB ``(H, W, 3)`` with no side empty, or a ``mask`` of another
                size."""
        check_rgb(frame, (3,), "frame")         # an empty one was OpenCV's error (warp), or CDC 0.0 (no pixel)
        if mask is not None and np.shape(mask) != frame.shape[:2]:
            raise ValueError(f"mask {np.shape(mask)} does not match the frame {frame.shape[:2]}")
        if mask is None:
            hist = _histograms(frame, self.bins)                  # (3, bins), each row sums to 1
        else:
            mask = np.asarray(mask, bool)
            hist = _histograms(frame[mask][None], self.bins) if mask.any() else None
        for k, d in enumerate(self.gaps):
            if hist is not None and len(self._hist) >= d and self._hist[-d] is not None:
                self._sums[k] += float(np.mean(_js(self._hist[-d], hist)))
                self._pairs[k] += 1
        self._hist.append(hist)
        self.frames += 1

    def value(self) -> float:
        """CDC so far, a float in [0, ln 2]: for each gap with a pair, the mean divergence of its pairs (over the
        three channels), then the mean over those gaps; NaN when no gap has a pair (one frame, or masks that leave
        none). Raises nothing."""
        per_gap = [s / n for s, n in zip(self._sums, self._pairs) if n]
        return float(np.mean(per_gap)) if per_gap else math.nan


CAMBI_MIN_SIZE = 216
"""libvmaf's CAMBI refuses frames whose width and height are both under 216 px (``CAMBI_MIN_WIDTH_HEIGHT``)."""


def cambi(path_or_frames: str | Path | np.ndarray, max_log_contrast: int | Sequence[int] = 2,
          fps: float = 24.0, threads: int = 1) -> float | tuple[float, ...]:
    """CAMBI, the Contrast Aware Multiscale Banding Index (Tandon et al. 2021, "CAMBI: Contrast-aware
    multiscale banding index", PCS; Netflix's libvmaf ``cambi`` feature), mean over the frames.

    No reference: computed by the ffmpeg executable's ``libvmaf`` filter (``model=`` empty, so only the
    ``cambi`` feature runs) with the video fed as both of its inputs, and read from its JSON log
    (``pooled_metrics.cambi.mean``, the arithmetic mean of the per-frame scores). CAMBI looks at the
    luma plane only, at 10 bits (8-bit input is scaled up by libvmaf), with libvmaf's defaults: window
    63 (adapted to the resolution), topk 0.6, tvi_threshold 0.019, BT.1886 EOTF. 0 means no banding
    detected; about 5 is where banding starts to annoy; 24 is about the worst seen.

    ``max_log_contrast`` is the largest step CAMBI counts as a band edge, ``2 ** max_log_contrast``
    10-bit levels: the default 2 is 1 level at 8 bits (the false contours of compression and of
    clean 8-bit gradients); larger steps count as real edges. 5 (8 levels at 8 bits, libvmaf's
    maximum) also counts the coarser steps that palette or 4-bit quantization leaves.

    Frames (uint8 RGB ``(T, H, W, 3)`` or one ``(H, W, 3)``) are piped to ffmpeg as rawvideo and
    converted to YUV (4:4:4, the format ffmpeg picks for RGB among those listed) by swscale: BT.601, limited
    range, with :data:`vidcolor.io.convert.SWS_FLAGS` (accurate rounding) given to the filter graph itself
    (:func:`~vidcolor.io.convert.with_sws_flags`: a ``-sws_flags`` option before ``-lavfi`` does not reach a complex
    graph), the flags :class:`vidcolor.io.VideoWriter` encodes with; the luma equals that of
    :func:`~vidcolor.io.convert.rgb_to_frame` byte for byte (checked on a clip and on noise). A file is decoded
    by ffmpeg and its own luma is scored: the video stream vidcolor reads, by its index
    (:func:`~vidcolor.io.reader.video_stream`, ffmpeg's own choice: not cover art listed before it, nor a still track
    muxed before the default video, which ``[0:V]`` took), at its own depth: 8-bit video as 8-bit YUV, deeper video (10-bit ``yuv420p10le``...) as 10-bit YUV (until then it was cut to
    8 bits first, which put back the 8-bit steps its extra bits had smoothed: +19% and +37% CAMBI on two
    lossless 10-bit gradients). 12-bit and deeper video is read at 10 bits, the deepest CAMBI is made for (its
    implementations take 8- and 10-bit luma): libvmaf's cambi given 12-bit samples scored a smooth 12-bit gradient
    (ffv1 yuv444p12le) 1.02 against 0.30 at 10 bits, as if its steps were 4 times larger.
    Video whose width and height are both under :data:`CAMBI_MIN_SIZE` px (e.g. 160x210 Atari frames)
    is first enlarged by the smallest integer factor that reaches it, nearest neighbour.

    Args:
        path_or_frames: a video or image file, or uint8 RGB frames.
        max_log_contrast: 0..5, or a sequence of them to score several in one pass.
        fps: frame rate given to ffmpeg for frames (CAMBI does not use time).
        threads: libvmaf worker threads.

    Returns:
        The mean CAMBI, a float >= 0; a tuple of floats (in order) when ``max_log_contrast`` is a sequence.

    Raises:
        ValueError: frames that are not uint8 RGB ``(T, H, W, 3)`` or ``(H, W, 3)`` with no side empty, or
            ``max_log_contrast`` outside 0..5.
        VidcolorError: no ffmpeg with libvmaf, or ffmpeg failed (unreadable file).
    """
    from vidcolor.errors import VidcolorError
    from vidcolor.io.convert import with_sws_flags
    from vidcolor.io.writer import child_options

    contrasts = [max_log_contrast] if isinstance(max_log_contrast, (int, np.integer)) else list(max_log_contrast)
    if not contrasts or any(int(c) != c or not 0 <= c <= 5 for c in contrasts):
        raise ValueError(f"max_log_contrast must be in 0..5, got {max_log_contrast}")
    contrasts = [int(c) for c in contrasts]
    exe = _vmaf_ffmpeg()
    formats = "yuv420p|yuv422p|yuv444p"
    if isinstance(path_or_frames, np.ndarray):
        check_rgb(path_or_frames, (3, 4), "path_or_frames")
        frames = path_or_frames[None] if path_or_frames.ndim == 3 else path_or_frames
        h, w = frames.shape[1:3]
        source = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate", str(fps), "-i", "-"]
        stream = "0:v"
        data = np.ascontiguousarray(frames).tobytes()
    else:
        from vidcolor.io import probe

        info = probe(path_or_frames)
        h, w = info.height, info.width
        source, data, stream = ["-i", str(path_or_frames)], None, f"0:{info.index}"     # the video read, not 0:V's
        if info.bits > 8:                  # its own samples: 10 bits stay 10 (were cut to 8: banding CAMBI then saw)
            formats = "yuv420p10le|yuv422p10le|yuv444p10le"
    k = max(1, math.ceil(CAMBI_MIN_SIZE / max(h, w)))
    enlarge = f"scale=iw*{k}:ih*{k}:flags=neighbor," if k > 1 else ""
    # the ":" between a feature's options is escaped twice: for the filtergraph and for the filter's options
    features = "|".join("name=cambi" + ("" if c == 2 else f"\\\\:max_log_contrast={c}") for c in contrasts)
    with tempfile.TemporaryDirectory(prefix="vidcolor-cambi-") as tmp:
        log = Path(tmp) / "cambi.json"
        graph = with_sws_flags(f"[{stream}]{enlarge}format=pix_fmts={formats},split[d][r];[d][r]libvmaf=model=:"
                               f"feature={features}:log_fmt=json:log_path={log}:n_threads={threads}")
        cmd = [exe, "-hide_banner", "-loglevel", "error", *(["-nostdin"] if data is None else []), *source,
               "-lavfi", graph, "-f", "null", "-"]
        done = subprocess.run(cmd, input=data, capture_output=True, **child_options())
        if done.returncode or not log.exists():
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise VidcolorError(f"ffmpeg libvmaf (cambi) failed: {' / '.join(tail) or 'no output'}")
        pooled = json.loads(log.read_text())["pooled_metrics"]
    scores = tuple(float(pooled["cambi" if c == 2 else f"cambi_mlc_{c}"]["mean"]) for c in contrasts)
    return scores[0] if isinstance(max_log_contrast, (int, np.integer)) else scores


@functools.lru_cache(maxsize=1)
def _vmaf_ffmpeg() -> str:
    """An ffmpeg executable built with libvmaf: :func:`vidcolor.io.find_ffmpeg`'s, else imageio-ffmpeg's."""
    from vidcolor.errors import VidcolorError
    from vidcolor.io import find_ffmpeg
    from vidcolor.io.writer import child_options

    candidates = [find_ffmpeg()]
    try:
        import imageio_ffmpeg

        candidates.append(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pass
    for exe in dict.fromkeys(candidates):
        try:
            listing = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True,
                                     **child_options()).stdout
        except OSError:
            continue
        if any(line.split()[1:2] == ["libvmaf"] for line in listing.splitlines()):
            return exe
    raise VidcolorError("CAMBI needs an ffmpeg built with libvmaf (--enable-libvmaf); none of "
                        f"{', '.join(candidates)} has it (imageio-ffmpeg's static build does)")


def _histograms(frame: np.ndarray, bins: int) -> np.ndarray:
    """Normalised per-channel histograms of a uint8 ``(H, W, 3)`` frame: float64 ``(3, bins)``.

    Bin k holds the values v with ``floor(v * bins / 256) == k`` (equal bins over 0..255).
    """
    idx = (frame.reshape(-1, 3).astype(np.int32) * bins) >> 8
    idx += np.arange(3, dtype=np.int32) * bins
    counts = np.bincount(idx.ravel(), minlength=3 * bins).reshape(3, bins).astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


def _js(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (natural log) along the last axis of two stacks of distributions."""
    m = 0.5 * (p + q)
    return 0.5 * (_kl(p, m) + _kl(q, m))


def _kl(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    """KL(p || m) along the last axis, with 0 log 0 = 0 (m > 0 wherever p > 0 here)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / m), 0.0)
    return terms.sum(axis=-1)


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame


def _check_clip(frames: np.ndarray) -> None:
    """Raise ValueError unless ``frames`` is uint8 RGB ``(T, H, W, 3)``, T >= 2, no side empty (an empty frame size
    was OpenCV's error text in the warp error, and a CDC of 0.0, "perfectly consistent", of no pixel)."""
    check_rgb(frames, (4,), "frames")
    if len(frames) < 2:
        raise ValueError(f"frames: expected uint8 RGB (T, H, W, 3) with T >= 2, got {described(frames)}")
