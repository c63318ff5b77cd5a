"""Dequantization quality on held-back content, against doing nothing: where does a model help, where does it hurt?

Content (none of it is trained on; ``--quick``, for development, keeps the first clip or still of each
kind, 8 frames and 3 degradations: palette 16 without dither, 4 bit/ch mid, pass-through):

* natural: the first ``--clips`` of the DAVIS clips that training holds back
  (``vidcolor.training.data.split_clips(video)[1]``, default the first 4 by name) plus the Big Buck
  Bunny CG excerpt ``animation/bbb_meadow.mp4``; first ``--frames`` frames, scaled to 640x360
  (cv2.INTER_AREA) before degrading;
* b&w film: the black-and-white feature-film excerpts :data:`FILM_CLIPS` of ``bw/video`` (pillarboxed,
  640x360), first ``--frames`` frames;
* game 160x210: the bit-exact RGB Atari gameplay clips of ``retro/video`` (River Raid, Ms. Pac-Man;
  held back as games), first ``--frames`` frames (gameplay from frame 0, no blank start screen);
* game 2x: the same lossless frames enlarged 2x nearest neighbour (320x420, ``np.repeat``);
* pixel-art stills: ``--stills`` (8) images evenly picked from the held-back ``tecnoballz/`` package
  (``split_retro(retro)[1]``, read with ``read_rgb``: transparent pixels black), a central crop of at
  most 212x120 px (even sizes), enlarged 3x nearest neighbour.

Degradations, applied to the original frames (``DEGRADATIONS``): ffmpeg palettegen/paletteuse with one
palette per clip (palettegen over the whole clip, stats_mode=full, reserve_transparent=0) at 16, 32 and
64 colours without dither and at 16 colours with sierra2 and with bayer dither; 4 bits per channel with
the floor, mid and spread levels (``quantize_clip(frames, "uniform", bits=4, convention=...)``);
vidcolor's own 16-colour median cut (``quantize_clip(frames, "palette", colors=16)``); and none at all, on every
kind (pass-through: does the model leave clean footage alone? Game footage and pixel art are natively
low-palette, so there the identity is the truth; before stop 64 this row ran on natural clips and film only). A clip is
then encoded as a user's file would be, by the ffmpeg CLI at its defaults: libx264, yuv420p, crf 12,
preset medium (inter frames). Stills stay lossless RGB PNG files (how pixel art is kept) and go
through vidcolor's image path as one folder per degradation (PNG out, no temporal smoothing).

Methods, for every input file (``METHODS``): (a) the input itself; (a') the input decoded by
``vidcolor.io.VideoReader`` and re-encoded by ``VideoWriter`` (libx264 yuv420p at dequantize's default
crf, 14: ``OUTPUT_CRF``, and x264 options, ``OUTPUT_X264_PARAMS``; vidcolor's own output path), i.e. doing
nothing through the pipeline: THE
BASELINE OF EVERY GAIN (for stills a PNG round trip, identical to (a)); (b) ffmpeg's deband and gradfun
filters at their defaults (into a lossless FFV1 file, then the same VideoWriter encode; stills filtered
in planar RGB to PNG); (c) the pix2pix RGB baseline,
``vidcolor.api.dequantize(model="dequantize-pix2pix-rgb")``; (d) the default model (Pix2Pix-FQ),
``vidcolor.api.dequantize()``; (d') the same without the projection onto the quantization cells
(``consistency=False``: the generator alone); all in-process, defaults otherwise.

Metrics per clip (per still) against the original, undegraded frames: PSNR of the MSE pooled over the
clip (``vidcolor.metrics.psnr``, capped at 60 dB so that a lossless still does not read inf); mean
CIEDE2000 over every ``--ciede-stride``-th frame (frame 0, 4, ...; it is the slow measure); per-channel
bias (mean of output minus original, R, G, B levels); CAMBI banding (``vidcolor.metrics.cambi``: Netflix's
no-reference index via ffmpeg's libvmaf, mean over frames, of the file itself; lower = less banding)
at libvmaf's default max_log_contrast 2, which counts steps of 1 level at 8 bits as bands, and at 5,
which also counts the steps of up to 8 levels that palettes and 4-bit levels leave. The table has one
row per (content, degradation, method): means over the clips, the mean and WORST-clip (minimum) PSNR
gain over (a'), the worst absolute per-clip channel bias. The target check is computed from the
numbers, never asserted. Writes the markdown, a JSON of every number (per clip too), and a contact
sheet; per-clip numbers go to stderr.

    python benchmarks/dequantize_quality.py --out docs/dequantize_quality.md --readme
    python benchmarks/dequantize_quality.py --quick --out /tmp/dq/dequantize_quality.md
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vidcolor import api
from vidcolor.jobs import JOBS
from vidcolor.io import VideoReader, VideoWriter, find_ffmpeg, read_image, write_image
from vidcolor.metrics import cambi, channel_bias, ciede2000, psnr
from vidcolor.training.data import read_rgb, split_clips, split_retro
from vidcolor.training.degrade import quantize_clip, quantize_ffmpeg

from readme import splice_readme
from benchdata import require_data

HELD_CLIPS = 4
"""Natural content: the first 4 DAVIS clips that training holds back, by name (dequantize_validation.py takes the others)."""

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
NATURAL_SIZE = (640, 360)
INPUT_ENCODE = ["-c:v", "libx264", "-preset", "medium", "-crf", "12", "-pix_fmt", "yuv420p"]
OUTPUT_CRF = JOBS["dequantize"].crf
OUTPUT_X264_PARAMS = JOBS["dequantize"].x264_params
"""The output encode of every method and of (a'): dequantize's default crf and x264 options."""
PSNR_CAP = 60.0
STILL_CROP = (120, 212)          # rows, columns of the original still, before the 3x enlargement
STILL_SCALE = 3
CAMBI_CONTRASTS = (2, 5)

NATURAL, FILM, GAME, GAME2X, STILLS = "natural", "b&w film", "game 160x210", "game 2x (320x420)", "pixel-art stills"
KINDS = (NATURAL, FILM, GAME, GAME2X, STILLS)
FILM_CLIPS = ("devc_v04", "devc_v05")
"""Black-and-white feature-film excerpts (../shared/data/bw/video; no dequantize recipe reads that folder): the
first two by name, chosen before any run."""
GAME_KINDS = (GAME, GAME2X)

DEGRADATIONS = {
    "palette 16, no dither": dict(tool="ffmpeg", colors=16, dither="none"),
    "palette 32, no dither": dict(tool="ffmpeg", colors=32, dither="none"),
    "palette 64, no dither": dict(tool="ffmpeg", colors=64, dither="none"),
    "palette 16, sierra2": dict(tool="ffmpeg", colors=16, dither="sierra2"),
    "palette 16, bayer": dict(tool="ffmpeg", colors=16, dither="bayer"),
    "4 bit/ch, floor": dict(tool="uniform", convention="floor"),
    "4 bit/ch, mid": dict(tool="uniform", convention="mid"),
    "4 bit/ch, spread": dict(tool="uniform", convention="spread"),
    "median cut 16 (vidcolor)": dict(tool="palette", colors=16),
    "none (pass-through)": dict(tool="none"),
}
QUICK_DEGRADATIONS = ("palette 16, no dither", "4 bit/ch, mid", "none (pass-through)")

_FFMPEG = find_ffmpeg()


def ffmpeg(*args: str, input: bytes | None = None) -> bytes:
    done = subprocess.run([_FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], input=input,
                          capture_output=True)
    if done.returncode:
        raise SystemExit(f"ffmpeg {' '.join(args)} failed: {done.stderr.decode(errors='replace')[-500:]}")
    return done.stdout


def raw_input(frames: np.ndarray, fps) -> list[str]:
    return ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{frames.shape[2]}x{frames.shape[1]}",
            "-framerate", str(fps), "-i", "-"]


# --- degradations -------------------------------------------------------------------------------------

def degrade(frames: np.ndarray, spec: dict) -> np.ndarray:
    if spec["tool"] == "ffmpeg":
        return quantize_ffmpeg(frames, spec["colors"], dither=spec["dither"])   # one palette for the clip
    if spec["tool"] == "uniform":
        return quantize_clip(frames, "uniform", bits=4, convention=spec["convention"])
    if spec["tool"] == "palette":
        return quantize_clip(frames, "palette", colors=spec["colors"])
    return frames


def encode_input(frames: np.ndarray, path: Path, fps) -> None:
    """The user's file: the ffmpeg CLI at its defaults (swscale conversion, libx264 crf 12, inter frames)."""
    ffmpeg(*raw_input(frames, fps), *INPUT_ENCODE, str(path), input=frames.tobytes())


# --- methods: (source file or folder of PNGs, destination) -> the output's path -------------------------

def as_input(src: Path, dst: Path) -> Path:
    return src


def reencode(src: Path, dst: Path) -> Path:
    """vidcolor's output path with nothing done: VideoReader -> VideoWriter (``OUTPUT_CRF``,
    ``OUTPUT_X264_PARAMS``); PNG round trip."""
    if src.is_dir():
        for p in sorted(src.glob("*.png")):
            write_image(dst / p.name, *read_image(p), overwrite=True)
        return dst
    with VideoReader(src) as r, VideoWriter(dst, r.info.width, r.info.height, r.info.fps, crf=OUTPUT_CRF,
                                            x264_params=OUTPUT_X264_PARAMS, overwrite=True) as w:
        for frame in r:
            w.write(frame)
    return dst


def ffmpeg_filter(vf: str):
    def run(src: Path, dst: Path) -> Path:
        if src.is_dir():   # stills: planar RGB, both filters take gbrp, so no YUV conversion
            dst.mkdir(parents=True, exist_ok=True)
            for p in sorted(src.glob("*.png")):
                ffmpeg("-i", str(p), "-vf", f"format=gbrp,{vf},format=rgb24", "-frames:v", "1", str(dst / p.name))
            return dst
        lossless = dst.with_suffix(".ffv1.mkv")
        ffmpeg("-i", str(src), "-vf", vf, "-c:v", "ffv1", str(lossless))
        reencode(lossless, dst)
        lossless.unlink()
        return dst
    return run


def model(name: str | None, **options):
    def run(src: Path, dst: Path) -> Path:
        api.dequantize(src, dst, crf=OUTPUT_CRF, overwrite=True, progress=False,
                       **({} if name is None else {"model": name}), **options)
        return dst
    return run


BASELINE = "(a') re-encoded input"
FQ = "(d) Pix2Pix-FQ (default model)"
RAW = "(d') Pix2Pix-FQ, --no-consistency"
METHODS = {
    "(a) input": as_input,
    BASELINE: reencode,
    "(b) ffmpeg deband": ffmpeg_filter("deband"),
    "(b) ffmpeg gradfun": ffmpeg_filter("gradfun"),
    "(c) pix2pix RGB": model("dequantize-pix2pix-rgb"),
    FQ: model(None),
    RAW: model(None, consistency=False),
}
SHEET_COLUMNS = ("(a) input", BASELINE, "(b) ffmpeg deband", "(c) pix2pix RGB", FQ)


# --- content ------------------------------------------------------------------------------------------

def read(path: Path, frames: int | None = None) -> tuple[np.ndarray, Fraction]:
    with VideoReader(path) as r:
        out = []
        for f in r:
            out.append(f)
            if frames and len(out) == frames:
                break
        return np.stack(out), r.info.fps


def read_natural(path: Path, frames: int | None = None) -> tuple[np.ndarray, Fraction]:
    """The first ``frames`` frames of ``path`` scaled to :data:`NATURAL_SIZE` (cv2.INTER_AREA), uint8 RGB
    ``(T, 360, 640, 3)``, and the clip's frame rate: how natural clips and film enter every dequantize benchmark."""
    src, fps = read(path, frames)
    return np.stack([cv2.resize(f, NATURAL_SIZE, interpolation=cv2.INTER_AREA) for f in src]), fps


def validation_films(data: Path = DATA) -> list[Path]:
    """The black-and-white film excerpts of ``data/bw/video`` that this benchmark does not score (not
    :data:`FILM_CLIPS`), by name: the validation films of ``dequantize_validation.py`` and
    ``dequantize_encode.py --film``."""
    return [p for p in sorted((data / "bw" / "video").glob("*.mp4")) if p.stem not in FILM_CLIPS]


def load_content(args) -> dict[str, list[dict]]:
    """{kind: [{"name", "frames" (T, H, W, 3), "fps"}]} (a still is one frame)."""
    held = {p.stem.removeprefix("davis_"): p for p in split_clips(args.data / "video")[1]}
    unknown = [c for c in args.clips if c not in held]
    if unknown:
        raise SystemExit(f"not a held-back DAVIS clip: {', '.join(unknown)} (held back: {', '.join(held)})")
    natural = [held[c] for c in args.clips] + [args.data / "animation" / "bbb_meadow.mp4"]
    games = [args.data / "retro" / "video" / f"atari_{g}_160x210_lossless_rgb.mp4" for g in ("riverraid", "mspac")]
    retro = args.data / "retro"
    tecno = [p for p in split_retro(retro)[1] if p.relative_to(retro).parts[0] == "tecnoballz"]
    stills = [tecno[i] for i in np.linspace(0, len(tecno) - 1, args.stills).round().astype(int)]
    films = [args.data / "bw" / "video" / f"{c}.mp4" for c in FILM_CLIPS]
    if args.quick:
        natural, films, games, stills = natural[:1], films[:1], games[:1], stills[:1]
    content: dict[str, list[dict]] = {k: [] for k in KINDS}
    for kind, paths in ((NATURAL, natural), (FILM, films)):
        for p in paths:
            frames, fps = read_natural(p, args.frames)
            content[kind].append(dict(name=p.stem.removeprefix("davis_"), frames=frames, fps=fps))
    for p in games:
        frames, fps = read(p, args.frames)
        name = p.stem.split("_")[1]
        content[GAME].append(dict(name=name, frames=frames, fps=fps))
        content[GAME2X].append(dict(name=name, frames=frames.repeat(2, axis=1).repeat(2, axis=2), fps=fps))
    for p in stills:
        rgb = read_rgb(p)
        h, w = (min(s, c) // 2 * 2 for s, c in zip(rgb.shape[:2], STILL_CROP))
        y, x = (rgb.shape[0] - h) // 2, (rgb.shape[1] - w) // 2
        big = rgb[y:y + h, x:x + w].repeat(STILL_SCALE, axis=0).repeat(STILL_SCALE, axis=1)
        content[STILLS].append(dict(name=p.stem.removeprefix("tecnoballz_tecnoballz_"), frames=big[None],
                                    fps=Fraction(1)))
    return content


# --- measuring ----------------------------------------------------------------------------------------

def measure(got: np.ndarray, original: np.ndarray, cambi_source, stride: int) -> dict:
    if got.shape != original.shape:
        raise SystemExit(f"output {got.shape} does not match the original {original.shape}")
    c2, c5 = cambi(cambi_source, CAMBI_CONTRASTS)
    return dict(psnr=min(psnr(got, original), PSNR_CAP), ciede2000=ciede2000(got[::stride], original[::stride]),
                bias=channel_bias(got, original).tolist(), cambi=c2, cambi_mlc5=c5)


def crop_box(frame: np.ndarray, size: int, score) -> tuple[int, int]:
    """Top-left corner of the ``size`` x ``size`` window (on a grid of size / 4) that maximises ``score``."""
    step = max(1, size // 4)
    corners = [(y, x) for y in range(0, frame.shape[0] - size + 1, step) for x in range(0, frame.shape[1] - size + 1, step)]
    return max(corners, key=lambda c: score(frame[c[0]:c[0] + size, c[1]:c[1] + size]))


def colours(window: np.ndarray) -> int:
    return len(np.unique(window.reshape(-1, 3), axis=0))


def busy(window: np.ndarray) -> float:
    """Share of pixels at a colour edge times the number of colours: sprites and HUD text."""
    edge = (window[1:, :-1] != window[:-1, :-1]).any(-1) | (window[:-1, 1:] != window[:-1, :-1]).any(-1)
    return float(edge.mean() * colours(window))


def smooth_gradient(window: np.ndarray) -> float:
    """Large for a smooth ramp (spread of luma, little second derivative): where banding shows."""
    luma = cv2.cvtColor(window, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(luma.std() / (np.abs(cv2.Laplacian(luma, cv2.CV_32F)).mean() + 0.5))


class Sheet:
    """Per degradation a row: a game crop (48 px, 3x nearest) and a natural crop (72 px, 2x nearest),
    each as original | SHEET_COLUMNS."""
    GAME_CROP, GAME_ZOOM, NATURAL_CROP, NATURAL_ZOOM = 48, 3, 72, 2
    CELL = 144

    def __init__(self, game: np.ndarray | None, natural: np.ndarray | None):
        self.frames = {GAME: game, NATURAL: natural}
        self.boxes = {}
        if game is not None:
            self.boxes[GAME] = crop_box(game, self.GAME_CROP, busy)
        if natural is not None:
            self.boxes[NATURAL] = crop_box(natural, self.NATURAL_CROP, smooth_gradient)
        self.cells: dict[tuple[str, str], list[np.ndarray]] = {}

    def crop(self, kind: str, frame: np.ndarray) -> np.ndarray:
        size, zoom = (self.GAME_CROP, self.GAME_ZOOM) if kind == GAME else (self.NATURAL_CROP, self.NATURAL_ZOOM)
        y, x = self.boxes[kind]
        return frame[y:y + size, x:x + size].repeat(zoom, axis=0).repeat(zoom, axis=1)

    def add(self, degradation: str, kind: str, outputs: dict[str, np.ndarray]) -> None:
        self.cells[(degradation, kind)] = [self.crop(kind, self.frames[kind])] + [
            self.crop(kind, outputs[m]) for m in SHEET_COLUMNS]

    def image(self, degradations: list[str]) -> np.ndarray:
        """Cells 2 px apart, the two blocks 12 px apart, rows 4 px apart, on white; grey = not run."""
        def join(parts: list[np.ndarray], gap: int, axis: int) -> np.ndarray:
            shape = list(parts[0].shape)
            shape[axis] = gap
            white = np.full(shape, 255, np.uint8)
            return np.concatenate([x for part in parts for x in (part, white)][:-1], axis=axis)

        blank = [np.full((self.CELL, self.CELL, 3), 128, np.uint8)] * (1 + len(SHEET_COLUMNS))
        rows = [join([join(self.cells.get((d, k), blank), 2, 1) for k in (GAME, NATURAL)], 12, 1)
                for d in degradations]
        return join(rows, 4, 0)


# --- the run ------------------------------------------------------------------------------------------

def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=None,
                    help="held-back DAVIS clips (names without davis_); default the first 4 held back by name")
    ap.add_argument("--frames", type=int, default=None, help="frames per clip (default 24; 8 with --quick)")
    ap.add_argument("--stills", type=int, default=8, help="tecnoballz stills, evenly picked (default 8)")
    ap.add_argument("--ciede-stride", type=int, default=4, help="CIEDE2000 on every n-th frame (default 4)")
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default ../shared/data)")
    ap.add_argument("--quick", action="store_true", help="development run: 1 clip per kind, 8 frames, 3 degradations")
    ap.add_argument("--out", default="docs/dequantize_quality.md")
    ap.add_argument("--readme", action="store_true", help="also splice the summary into README.md's results section")
    ap.add_argument("--keep-temp", action="store_true", help="keep the inputs and outputs (a temporary folder)")
    args = ap.parse_args()
    require_data(args.data)
    args.frames = args.frames or (8 if args.quick else 24)
    if args.clips is None:
        args.clips = [p.stem.removeprefix("davis_") for p in split_clips(args.data / "video")[1][:HELD_CLIPS]]
    if args.quick:
        args.clips = args.clips[:1]
    degradations = {d: s for d, s in DEGRADATIONS.items() if not args.quick or d in QUICK_DEGRADATIONS}
    start = time.perf_counter()
    timing: dict[str, float] = defaultdict(float)
    content = load_content(args)
    originals = {k: {it["name"]: dict(zip(("cambi", "cambi_mlc5"), cambi(it["frames"], CAMBI_CONTRASTS)))
                     for it in items} for k, items in content.items()}
    sheet = Sheet(content[GAME][0]["frames"][0] if content[GAME] else None,
                  content[NATURAL][0]["frames"][0] if content[NATURAL] else None)
    per_clip: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    tmp = Path(tempfile.mkdtemp(prefix="vidcolor-dq-"))
    try:
        run_all(args, degradations, content, sheet, per_clip, timing, tmp)
    finally:
        if args.keep_temp:
            print(f"inputs and outputs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    for (kind, dname, m), clips in per_clip.items():
        bias = np.mean([c["bias"] for c in clips], axis=0)
        rows.append(dict(content=kind, degradation=dname, method=m, clips=clips,
                         psnr=float(np.mean([c["psnr"] for c in clips])),
                         gain=float(np.mean([c["gain"] for c in clips])),
                         worst_gain=float(min(c["gain"] for c in clips)),
                         worst_clip=min(clips, key=lambda c: c["gain"])["clip"],
                         ciede2000=float(np.mean([c["ciede2000"] for c in clips])), bias=bias.tolist(),
                         worst_abs_bias=float(max(abs(b) for c in clips for b in c["bias"])),
                         cambi=float(np.mean([c["cambi"] for c in clips])),
                         cambi_mlc5=float(np.mean([c["cambi_mlc5"] for c in clips]))))
    rows.sort(key=lambda r: (KINDS.index(r["content"]), list(DEGRADATIONS).index(r["degradation"]),
                             list(METHODS).index(r["method"])))
    targets = target_check(rows)
    total = time.perf_counter() - start

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    png = out.with_name("dequantize_contact_sheet.png")
    sheet_rows = [d for d in degradations if any((d, k) in sheet.cells for k in (GAME, NATURAL))]
    if sheet_rows:
        Image.fromarray(sheet.image(sheet_rows)).save(png, optimize=True)
    names = {k: [it["name"] for it in v] for k, v in content.items()}
    intro = [
        f"Content, none of it trained on{' (--quick)' if args.quick else ''}: **natural** = "
        f"{', '.join(names[NATURAL])} (held-back DAVIS clips; bbb_meadow = Big Buck Bunny, CG; first "
        f"{args.frames} frames, 640x360); **b&w film** = {', '.join(names[FILM])} (black-and-white feature-film "
        f"excerpts, pillarboxed, first {args.frames} frames, 640x360); **game** = Atari {', '.join(names[GAME])} "
        "(bit-exact RGB, 160x210, and "
        f"2x nearest = 320x420, first {args.frames} frames); **pixel-art stills** = {len(names[STILLS])} "
        f"held-back tecnoballz image(s) ({', '.join(names[STILLS])}; central crop <= 212x120, 3x nearest, "
        "lossless PNG through the image path). Inputs: degraded, then ffmpeg CLI libx264 yuv420p crf 12 preset "
        "medium (stills: PNG). Every output is encoded like vidcolor dequantize's own (libx264 crf "
        f"{OUTPUT_CRF} yuv420p, x264 options {OUTPUT_X264_PARAMS or 'none'}).",
        "",
        f"**Gains are PSNR gains over (a'), the input re-encoded through vidcolor's output path with nothing "
        f"done** (for stills a PNG round trip, = (a)); worst = the minimum per-clip gain. PSNR pooled per clip "
        f"(capped at {PSNR_CAP:.0f} dB), CIEDE2000 mean over every {args.ciede_stride}th frame, bias = mean "
        "output - original per channel (levels; worst = largest |bias| of any clip and channel), CAMBI = "
        "Netflix's banding index (libvmaf, no reference, lower = less banding) at its default contrast (1-level "
        "steps) and at max_log_contrast 5 (steps up to 8 levels: palette and 4-bit bands). On flat-colour game "
        "and pixel art CAMBI also counts the invisible 1-level luma patches an encode leaves in flat areas, so "
        "read it chiefly on natural content.",
        "",
        "Target check (computed, not asserted), for (d):",
        *[f"- {t['text']}" for t in targets],
        "",
        "CAMBI of the original frames (default / mlc 5): " + "; ".join(
            f"{k} {np.mean([v['cambi'] for v in o.values()]):.2f} / {np.mean([v['cambi_mlc5'] for v in o.values()]):.2f}"
            for k, o in originals.items() if o) + ".",
        "",
    ]
    table = ["| content | degradation | method | PSNR (dB) | gain vs (a') (dB) | worst-clip gain (dB) | CIEDE2000 "
             "| bias R, G, B | worst abs bias | CAMBI | CAMBI mlc 5 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['content']} | {r['degradation']} | {r['method']} | {r['psnr']:.2f} | {r['gain']:+.2f} | "
                     f"{r['worst_gain']:+.2f} | {r['ciede2000']:.2f} | {', '.join(f'{b:+.1f}' for b in r['bias'])} | "
                     f"{r['worst_abs_bias']:.1f} | {r['cambi']:.2f} | {r['cambi_mlc5']:.2f} |")
    sheet_text = [] if not sheet_rows else [
        "", f"![contact sheet]({png.name})", "",
        f"Contact sheet: one row per degradation ({'; '.join(sheet_rows)}). Left block: "
        f"{names[GAME][0] if names[GAME] else '-'} (160x210) frame 0, the 48x48 window with the most colour edges, 3x "
        f"nearest; right block: {names[NATURAL][0] if names[NATURAL] else '-'} frame 0, the 72x72 window with "
        "the smoothest gradient, 2x nearest (grey: not run). Columns in each block: original | "
        + " | ".join(SHEET_COLUMNS) + "."]
    footer = ["", f"Run time {total / 60:.1f} min (" + ", ".join(f"{k} {v:.0f} s" for k, v in timing.items()) + ")."]
    text = "\n".join(intro + table + sheet_text + footer)
    out.write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps(dict(
        settings=dict(clips=names, frames=args.frames, quick=args.quick, ciede_stride=args.ciede_stride,
                      input_encode=INPUT_ENCODE, output_crf=OUTPUT_CRF,
                      output_x264_params=OUTPUT_X264_PARAMS, psnr_cap=PSNR_CAP,
                      cambi_max_log_contrast=CAMBI_CONTRASTS, degradations=degradations),
        originals=originals, targets=targets, rows=rows, timing=dict(timing, total=total)), indent=1))
    print(text)
    print(f"{total:.0f} s; " + ", ".join(f"{k} {v:.0f} s" for k, v in timing.items()), file=sys.stderr)
    if args.readme:
        splice_readme("results", readme_summary(intro, rows, sheet_text, png, out))


def run_all(args, degradations: dict, content: dict, sheet: Sheet, per_clip: dict, timing: dict, tmp: Path) -> None:
    """Degrade, encode, restore by every method and measure: fills ``per_clip``, ``timing`` and ``sheet``."""

    def record(kind, dname, clip, results: dict[str, dict]) -> None:
        base = results[BASELINE]["psnr"]
        for m, r in results.items():
            r = dict(clip=clip, gain=r["psnr"] - base, **r)
            per_clip[(kind, dname, m)].append(r)
            print(f"{kind} | {dname} | {clip} | {m}: PSNR {r['psnr']:.2f} (gain {r['gain']:+.2f}), "
                  f"dE {r['ciede2000']:.2f}, bias {', '.join(f'{b:+.1f}' for b in r['bias'])}, "
                  f"CAMBI {r['cambi']:.3f} / {r['cambi_mlc5']:.3f}", file=sys.stderr, flush=True)

    for dname, spec in degradations.items():
        for kind in spec.get("kinds", KINDS):
            items = content[kind]
            if not items:
                continue
            if kind == STILLS:   # one folder of PNGs per degradation, one model load per method
                folder = tmp / f"{slug(kind)}_{slug(dname)}"
                t = time.perf_counter()
                for it in items:
                    write_image(folder / "in" / f"{it['name']}.png", degrade(it["frames"], spec)[0],
                                overwrite=True)
                timing["degrade + encode input"] += time.perf_counter() - t
                outs = {}
                for m, fn in METHODS.items():
                    t = time.perf_counter()
                    outs[m] = fn(folder / "in", folder / slug(m))
                    timing[m] += time.perf_counter() - t
                t = time.perf_counter()
                for it in items:
                    results = {}
                    for m, out in outs.items():
                        got = read_image(out / f"{it['name']}.png")[0][None]
                        results[m] = measure(got, it["frames"], got, args.ciede_stride)
                    record(kind, dname, it["name"], results)
                timing["metrics"] += time.perf_counter() - t
                continue
            for it in items:
                stem = tmp / f"{slug(kind)}_{it['name']}_{slug(dname)}"
                t = time.perf_counter()
                inp = stem.with_name(stem.name + "_input.mp4")
                encode_input(degrade(it["frames"], spec), inp, it["fps"])
                timing["degrade + encode input"] += time.perf_counter() - t
                results, first = {}, {}
                for m, fn in METHODS.items():
                    t = time.perf_counter()
                    out = fn(inp, stem.with_name(f"{stem.name}_{slug(m)}.mp4"))
                    timing[m] += time.perf_counter() - t
                    t = time.perf_counter()
                    got, _ = read(out)
                    results[m] = measure(got, it["frames"], out, args.ciede_stride)
                    first[m] = got[0]
                    timing["metrics"] += time.perf_counter() - t
                record(kind, dname, it["name"], results)
                if kind in (GAME, NATURAL) and it is items[0]:
                    sheet.add(dname, kind, first)


def target_check(rows: list[dict]) -> list[dict]:
    fq = [r for r in rows if r["method"] == FQ]

    def row(kind, dname):
        return next((r for r in fq if r["content"] == kind and r["degradation"] == dname), None)

    def line(name, value, where, target, op=">="):
        if value is None:
            return dict(name=name, value=None, target=target, met=None, text=f"{name}: n/a (not run)")
        met = bool(value >= target)
        return dict(name=name, value=value, target=target, met=met,
                    text=f"{name}: {value:+.2f} dB{where} (target {op} {target:+.1f}): **{'met' if met else 'not met'}**")

    worst = min(fq, key=lambda r: r["worst_gain"], default=None)
    games = [r for r in fq if r["content"] in GAME_KINDS]
    gworst = min(games, key=lambda r: r["worst_gain"], default=None)
    pal, mid = row(NATURAL, "palette 16, no dither"), row(NATURAL, "4 bit/ch, mid")
    return [
        line("worst per-clip gain over every row", worst and worst["worst_gain"],
             worst and f" ({worst['content']}, {worst['degradation']}, {worst['worst_clip']})", -0.1),
        line("mean natural gain at 16 colours (ffmpeg palette, no dither)", pal and pal["gain"], "", 0.3),
        line("mean natural gain at 4 bit/ch mid", mid and mid["gain"], "", 1.0),
        line("worst per-clip gain on game content", gworst and gworst["worst_gain"],
             gworst and f" ({gworst['content']}, {gworst['degradation']}, {gworst['worst_clip']})", -0.1),
    ]


def readme_summary(intro: list[str], rows: list[dict], sheet_text: list[str], png: Path, out: Path) -> str:
    """README.md's results section: the markdown's ``intro`` lines, :func:`summary_table` of ``rows`` (the
    JSON's), the contact-sheet lines ``sheet_text`` with the image linked from the repository root (``png``'s
    folder), and a link to the full table ``out``."""
    link = f"{png.parent.name}/{png.name}"
    return "\n".join(intro + summary_table(rows) + [s.replace(f"]({png.name})", f"]({link})") for s in sheet_text]
                     + ["", f"Full table (CIEDE2000, bias, gradfun; per clip in the JSON): "
                            f"[{out.parent.name}/{out.name}]({out.parent.name}/{out.name})."])


def saved_readme_summary(out: Path) -> str:
    """:func:`readme_summary` rebuilt from a finished run's files, without running anything: the intro and the
    contact-sheet lines from its markdown ``out`` (as :func:`main` writes it: intro, table, sheet lines, run
    time), the rows from the JSON beside it.

    Raises:
        FileNotFoundError: if ``out`` or its JSON is missing.
        ValueError: if ``out`` holds no table.
    """
    lines = out.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("| content |")), None)
    if start is None:
        raise ValueError(f"{out} holds no results table")
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    tail = lines[end:]
    if len(tail) >= 2 and tail[-1].startswith("Run time") and not tail[-2]:
        tail = tail[:-2]                                         # the footer: not in the README
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    return readme_summary(lines[:start], rows, tail, out.with_name("dequantize_contact_sheet.png"), out)


def summary_table(rows: list[dict]) -> list[str]:
    """For the README: one line per (content, degradation), gains of (b) deband, (c), (d) over (a')."""
    by = {(r["content"], r["degradation"], r["method"]): r for r in rows}
    lines = ["| content | degradation | (a') PSNR (dB) | (b) deband gain | (c) pix2pix RGB gain | (d) Pix2Pix-FQ gain "
             "(worst clip) | (d') generator alone (worst clip) | bias (d) R, G, B | CAMBI (a') -> (d) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (kind, dname, m), base in by.items():
        if m != BASELINE:
            continue
        b, c, d, g = (by.get((kind, dname, k), {}) for k in ("(b) ffmpeg deband", "(c) pix2pix RGB", FQ, RAW))

        def num(r: dict, key: str, fmt: str = "+.2f") -> str:
            return format(r[key], fmt) if key in r else "-"

        bias = ", ".join(f"{v:+.1f}" for v in d["bias"]) if "bias" in d else "-"
        lines.append(f"| {kind} | {dname} | {base['psnr']:.2f} | {num(b, 'gain')} | {num(c, 'gain')} | "
                     f"{num(d, 'gain')} ({num(d, 'worst_gain')}) | {num(g, 'gain')} ({num(g, 'worst_gain')}) | {bias} | "
                     f"{base['cambi']:.2f} -> {num(d, 'cambi', '.2f')} |")
    return lines


if __name__ == "__main__":
    main()
