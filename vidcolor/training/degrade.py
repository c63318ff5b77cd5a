"""Fine-to-coarse quantization: the degradations that make (coarse, fine) training pairs.

Every quantizer maps a uint8 RGB image ``(H, W, 3)`` to a uint8 RGB image of the same shape with a
reduced set of colours. A palette is chosen once per image (or clip, by passing the palette of the
first frame on), never per training crop: the set of levels present is a global cue the model reads.

Quantizers (Pix2Pix-FQ, seed 000 section 4.1, "fine-to-coarse quantization module", widened):

* ``uniform``: per-channel bit-depth reduction to ``bits`` bits, with the three reconstruction
  conventions found in real footage: ``floor`` (bit truncation, ``v >> s << s``), ``mid`` (bin middle)
  and ``spread`` (hardware levels spread over 0..255, ``round(v / 255 * (2**bits - 1))`` rescaled).
* ``mediancut`` / ``maxcoverage`` / ``octree``: Pillow's palette quantizers, ``colors`` in 4..64.
* ``kmeans``: OpenCV k-means palette (fit on a pixel subsample, every pixel assigned to its nearest).
* ``scope``: ``global`` (one palette per image) or ``adaptive`` (one palette per tile of a 2x2 grid,
  as in tile-based hardware).
* ``ffmpeg``: ffmpeg's own ``palettegen`` / ``paletteuse`` (the way GIFs and palettised video are
  usually made), ``stats_mode`` full or diff, dither none / bayer / floyd_steinberg / sierra2_4a.
* ``none``: no quantization (already unquantized or natively low-palette input, target = input),
  so that the generator learns the identity where there is nothing to undo.
* dithering: Floyd-Steinberg for palettes, ordered 4x4 Bayer for uniform quantization.

After quantization :func:`h264_roundtrip` passes the frame through a real H.264 encoder (libx264,
yuv420p chroma subsampling, intra frame) as real quantized footage has been.
"""
from __future__ import annotations

import io as _io
import subprocess
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


_BAYER4 = (np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32) + 0.5) / 16.0

PIL_METHODS = {"mediancut": Image.Quantize.MEDIANCUT, "maxcoverage": Image.Quantize.MAXCOVERAGE,
               "octree": Image.Quantize.FASTOCTREE}


def quantize_uniform(rgb: np.ndarray, bits: int, convention: str = "floor", dither: bool = False) -> np.ndarray:
    """Reduce each RGB channel to ``bits`` bits.

    Args:
        rgb: uint8 ``(H, W, 3)``.
        bits: 1..7 bits per channel.
        convention: ``floor`` (levels ``k * 2**(8-bits)``), ``mid`` (bin middles) or ``spread``
            (``2**bits`` levels spread evenly over 0..255, nearest level).
        dither: ordered 4x4 Bayer dithering before the level decision.

    Returns:
        uint8 ``(H, W, 3)``.

    Raises:
        ValueError: on an unknown convention or bits outside 1..7.
    """
    if not 1 <= bits <= 7:
        raise ValueError(f"bits must be in 1..7, got {bits}")
    x = rgb.astype(np.float32)
    h, w = rgb.shape[:2]
    if convention == "spread":
        n = 2 ** bits - 1
        t = x * (n / 255.0)
        t = np.floor(t + (np.tile(_BAYER4, (h // 4 + 1, w // 4 + 1))[:h, :w, None] if dither else 0.5))
        return np.clip(np.round(np.clip(t, 0, n) * (255.0 / n)), 0, 255).astype(np.uint8)
    step = 2 ** (8 - bits)
    t = x / step
    if dither:
        t = t + np.tile(_BAYER4, (h // 4 + 1, w // 4 + 1))[:h, :w, None] - 0.5
    k = np.clip(np.floor(t), 0, 2 ** bits - 1)
    if convention == "floor":
        out = k * step
    elif convention == "mid":
        out = k * step + step / 2 - 0.5
    else:
        raise ValueError(f"unknown convention {convention!r}")
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def palette_of(rgb: np.ndarray, colors: int, method: str = "mediancut", seed: int = 0) -> np.ndarray:
    """Compute a palette of ``colors`` RGB colours for an image.

    Args:
        rgb: uint8 ``(H, W, 3)``.
        colors: palette size, 2..256.
        method: ``mediancut``, ``maxcoverage``, ``octree`` (Pillow) or ``kmeans`` (OpenCV).

    Returns:
        uint8 ``(K, 3)`` palette, K <= colors (``seed`` is used by ``kmeans`` only).

    Raises:
        ValueError: an unknown ``method`` (or, from Pillow, ``colors`` outside its range).
    """
    if method == "kmeans":
        rng = np.random.default_rng(seed)
        px = rgb.reshape(-1, 3).astype(np.float32)
        sample = px[rng.choice(len(px), size=min(len(px), 4096), replace=False)]
        crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
        cv2.setRNGSeed(seed)
        _, _, centers = cv2.kmeans(sample, min(colors, len(sample)), None, crit, 1, cv2.KMEANS_PP_CENTERS)
        return np.clip(np.round(centers), 0, 255).astype(np.uint8)
    if method not in PIL_METHODS:
        raise ValueError(f"unknown palette method {method!r}")
    q = Image.fromarray(rgb).quantize(colors=colors, method=PIL_METHODS[method], dither=Image.Dither.NONE)
    used = np.unique(np.asarray(q)).astype(int)
    return np.asarray(q.getpalette()[: 3 * 256], np.uint8).reshape(-1, 3)[used]


def apply_palette(rgb: np.ndarray, palette: np.ndarray, dither: bool = False) -> np.ndarray:
    """Map every pixel to its nearest palette colour (Euclidean RGB), optionally Floyd-Steinberg dithered.

    Args:
        rgb: uint8 ``(H, W, 3)``; palette: uint8 ``(K, 3)``.

    Returns:
        uint8 ``(H, W, 3)`` whose colours all come from ``palette``.
    """
    pal = Image.new("P", (1, 1))
    flat = palette.reshape(-1).tolist()
    pal.putpalette(flat + flat[:3] * (256 - len(palette)))
    q = Image.fromarray(rgb).quantize(palette=pal, dither=Image.Dither.FLOYDSTEINBERG if dither else Image.Dither.NONE)
    return np.asarray(q.convert("RGB"))


def quantize_palette(rgb: np.ndarray, colors: int, method: str = "mediancut", dither: bool = False,
                     scope: str = "global", seed: int = 0) -> np.ndarray:
    """Palette quantization, one palette per image (``global``) or per tile of a 2x2 grid (``adaptive``).

    Args:
        rgb: uint8 ``(H, W, 3)``; colors: 2..256; method: see :func:`palette_of`.

    Returns:
        uint8 ``(H, W, 3)``.

    Raises:
        ValueError: an unknown ``scope`` or ``method``.
    """
    if scope == "global":
        return apply_palette(rgb, palette_of(rgb, colors, method, seed), dither)
    if scope != "adaptive":
        raise ValueError(f"unknown scope {scope!r}")
    out = np.empty_like(rgb)
    h2, w2 = rgb.shape[0] // 2, rgb.shape[1] // 2
    for ys in (slice(0, h2), slice(h2, None)):
        for xs in (slice(0, w2), slice(w2, None)):
            tile = np.ascontiguousarray(rgb[ys, xs])
            out[ys, xs] = apply_palette(tile, palette_of(tile, colors, method, seed), dither)
    return out


FFMPEG_DITHERS = ("none", "bayer", "floyd_steinberg", "sierra2_4a")
"""``paletteuse`` dither modes used for training (``heckbert``, ``sierra2``, ``sierra3`` etc. are left to benchmarks)."""


def quantize_ffmpeg(rgb: np.ndarray, colors: int, stats_mode: str = "full", dither: str = "none") -> np.ndarray:
    """Palette quantization by ffmpeg's ``palettegen`` + ``paletteuse`` filters: one palette for the image,
    or for a whole clip (palettegen sees every frame before paletteuse maps the first, as a GIF is made).

    Args:
        rgb: uint8 ``(H, W, 3)``, or a clip ``(T, H, W, 3)``.
        colors: palette size, 2..256 (``max_colors``; no colour is reserved for transparency).
        stats_mode: ``palettegen`` statistics, ``full`` or ``diff``.
        dither: a ``paletteuse`` dither mode, e.g. one of :data:`FFMPEG_DITHERS`.

    Returns:
        uint8 of the same shape.

    Raises:
        RuntimeError: if ffmpeg fails (its stderr in the message).
        subprocess.TimeoutExpired: ffmpeg runs over 60 s.
    """
    from vidcolor.io.writer import child_options, find_ffmpeg     # here: photos alone train without ffmpeg-python

    h, w = rgb.shape[-3:-1]
    graph = (f"split[a][b];[a]palettegen=max_colors={colors}:stats_mode={stats_mode}:reserve_transparent=0[p];"
             f"[b][p]paletteuse=dither={dither}")
    proc = subprocess.run([find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                           "-s", f"{w}x{h}", "-i", "-", "-filter_complex", graph, "-fps_mode", "passthrough",
                           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                          input=np.ascontiguousarray(rgb).tobytes(), capture_output=True, timeout=60, **child_options())
    if proc.returncode or len(proc.stdout) != rgb.size:
        raise RuntimeError(f"ffmpeg palettegen/paletteuse failed: {proc.stderr.decode(errors='replace').strip()}")
    return np.frombuffer(proc.stdout, np.uint8).reshape(rgb.shape).copy()


def h264_roundtrip(rgb: np.ndarray, crf: int = 18) -> np.ndarray:
    """Encode one frame with libx264 (yuv420p, intra) and decode it again.

    Args:
        rgb: uint8 ``(H, W, 3)``; odd sizes are padded by edge replication and cropped back.
        crf: x264 constant rate factor (0 = lossless luma, 18 visually lossless, 28 lossy).

    Returns:
        uint8 ``(H, W, 3)`` as a viewer of the H.264 stream would see it.
    """
    import av                                                      # here: photos alone train without PyAV

    from vidcolor.io.convert import frame_to_rgb, rgb_to_frame

    h, w = rgb.shape[:2]
    padded = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    buf = _io.BytesIO()
    with av.open(buf, "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=25, options={"crf": str(crf), "preset": "veryfast",
                                                              "tune": "stillimage"})
        stream.width, stream.height, stream.pix_fmt = padded.shape[1], padded.shape[0], "yuv420p"
        frame = rgb_to_frame(padded)
        for pkt in stream.encode(frame):
            out.mux(pkt)
        for pkt in stream.encode(None):
            out.mux(pkt)
    buf.seek(0)
    with av.open(buf, "r", format="h264") as inp:
        decoded = frame_to_rgb(next(inp.decode(video=0)))
    return decoded[:h, :w]


@dataclass(frozen=True)
class Degradation:
    """One sampled fine-to-coarse degradation; ``apply`` maps uint8 RGB ``(H, W, 3)`` to the same."""

    kind: str = "uniform"          # uniform | palette | ffmpeg | none
    bits: int = 4                  # uniform only
    convention: str = "floor"      # uniform only
    method: str = "mediancut"      # palette only
    colors: int = 16               # palette and ffmpeg
    scope: str = "global"          # palette only
    dither: bool = False           # uniform and palette
    ffmpeg_dither: str = "none"    # ffmpeg only: paletteuse dither mode
    stats_mode: str = "full"       # ffmpeg only: palettegen statistics
    crf: int | None = 18           # None: no H.264 round trip (lossless footage)

    def apply(self, rgb: np.ndarray, seed: int = 0) -> np.ndarray:
        """Quantize uint8 RGB ``(H, W, 3)`` as this degradation says, then (unless ``crf`` is None) pass it
        through :func:`h264_roundtrip`; uint8 RGB ``(H, W, 3)``. ``seed``: the k-means palette's.

        Raises:
            ValueError: an unknown ``kind`` (or a bad field, from the quantizer).
        """
        if self.kind == "uniform":
            q = quantize_uniform(rgb, self.bits, self.convention, self.dither)
        elif self.kind == "palette":
            q = quantize_palette(rgb, self.colors, self.method, self.dither, self.scope, seed)
        elif self.kind == "ffmpeg":
            q = quantize_ffmpeg(rgb, self.colors, self.stats_mode, self.ffmpeg_dither)
        elif self.kind == "none":
            q = rgb
        else:
            raise ValueError(f"unknown degradation kind {self.kind!r}")
        return q if self.crf is None else h264_roundtrip(q, self.crf)


KIND_SHARES = {"uniform": 0.4, "palette": 0.35, "ffmpeg": 0.25}
"""Share of each quantizer kind among the quantized draws of :func:`sample_degradation` (before ``kinds``
narrows them)."""


def check_kinds(kinds) -> None:
    """Raise ValueError unless ``kinds`` is a non-empty subset of :data:`KIND_SHARES`'s keys."""
    if (not isinstance(kinds, (list, tuple)) or not kinds   # a string was its letters: got ['u', 'n', ...]
            or not all(isinstance(k, str) for k in kinds) or set(kinds) - set(KIND_SHARES)):
        raise ValueError(f"kinds must be a non-empty list, a subset of {list(KIND_SHARES)}, got {kinds!r}")


def sample_degradation(rng: np.random.Generator, identity: float = 0.0,
                       kinds: tuple[str, ...] = tuple(KIND_SHARES)) -> Degradation:
    """Draw a random degradation.

    With probability ``identity`` none (kind ``none``: the input is the target, up to the codec);
    otherwise 40% uniform (2..6 bits, three conventions), 35% the project's palettes (4..64 colours,
    log-uniform; four methods; 1 in 5 adaptive), 25% ffmpeg ``palettegen``/``paletteuse`` (4..64
    colours; stats full or diff; dither none / bayer / floyd_steinberg / sierra2_4a). 1 in 5 of the
    uniform and own-palette draws dithered. 1 in 5 lossless, the rest H.264 at crf 8..24.

    ``kinds``: the quantizer kinds to draw from (a subset of :data:`KIND_SHARES`, their shares rescaled);
    with all three the draws are the same as before the option existed.

    Raises:
        ValueError: ``kinds`` empty or with an unknown kind.
    """
    check_kinds(kinds)
    dither = rng.random() < 0.2
    crf = None if rng.random() < 0.2 else int(rng.integers(8, 25))
    u = rng.random()
    if u < identity:
        return Degradation("none", crf=crf)
    u = (u - identity) / (1.0 - identity)
    colors = int(np.round(np.exp(rng.uniform(np.log(4), np.log(64)))))
    if len(kinds) < len(KIND_SHARES):   # u mapped onto the allowed kinds' stretch of the same [0, 1) scale
        v, start, last = u * sum(KIND_SHARES[k] for k in kinds), 0.0, None
        for k, share in KIND_SHARES.items():
            if k in kinds:
                last = (start, share)
                if v < share:
                    break
                v -= share
            start += share
        start, share = last    # the kind whose stretch v fell in (the last allowed one, if rounding overshot)
        u = start + min(max(v, 0.0), share * (1 - 1e-9))
    if u < KIND_SHARES["uniform"]:
        return Degradation("uniform", bits=int(rng.choice([2, 3, 4, 4, 5, 5, 6])),
                           convention=str(rng.choice(["floor", "mid", "spread"])), dither=dither, crf=crf)
    if u < KIND_SHARES["uniform"] + KIND_SHARES["palette"]:
        return Degradation("palette", method=str(rng.choice(["mediancut", "mediancut", "kmeans", "maxcoverage", "octree"])),
                           colors=colors, scope="adaptive" if rng.random() < 0.2 else "global", dither=dither, crf=crf)
    return Degradation("ffmpeg", colors=colors, stats_mode=str(rng.choice(["full", "diff"])),
                       ffmpeg_dither=str(rng.choice(FFMPEG_DITHERS)), crf=crf)


def quantize_clip(frames: np.ndarray, kind: str = "palette", colors: int = 16, method: str = "mediancut",
                  bits: int = 4, convention: str = "floor", dither: bool = False) -> np.ndarray:
    """Quantize a whole clip ``(T, H, W, 3)`` uint8 with one palette for the clip.

    The palette is fitted on a montage of up to 8 evenly spaced frames (as ffmpeg's ``palettegen``
    does over a clip), then every frame is mapped to it. Uniform quantization is per pixel anyway.

    ``kind``: ``uniform`` (``bits``, ``convention``), anything else a palette (``colors``, ``method``).

    Returns:
        uint8 ``(T, H, W, 3)``.

    Raises:
        ValueError: from :func:`quantize_uniform` or :func:`palette_of`.
    """
    if kind == "uniform":
        return np.stack([quantize_uniform(f, bits, convention, dither) for f in frames])
    picks = frames[np.linspace(0, len(frames) - 1, min(8, len(frames))).round().astype(int)]
    palette = palette_of(np.concatenate(list(picks), axis=0), colors, method)
    return np.stack([apply_palette(f, palette, dither) for f in frames])
