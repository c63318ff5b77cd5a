"""How much of what ``vidcolor dequantize`` gains survives its output encode? Gain per encoder setting.

The dequantized frames hold finer gradations than the input's bands, and a lossy encode removes some of
them again; the input re-encoded with the same settings, (a'), is what every gain is taken against. This
script is where the default output setting of dequantization (``vidcolor.jobs.JOBS["dequantize"].crf``)
was chosen, on validation clips only.

Content: the held-back DAVIS clips that ``dequantize_quality.py`` does not score (the validation clips of
``dequantize_temporal.py``), or with ``--film`` the black-and-white film excerpts it does not score, the
first ``--frames`` frames at 640x360 (INTER_AREA). Degradations
(``dequantize_quality.degrade``): 4 bits per channel at bin middles and at the bin floor, ffmpeg
palettegen/paletteuse 16 colours without dither and with Bayer dither, or any of its rows with ``--rows``; then the
benchmark's input encode
(libx264 crf 12, inter frames). Each clip is dequantized once as ``vidcolor dequantize`` does it (the
input file decoded by ``VideoReader``, the default model through :class:`~vidcolor.pipeline.Dequantizer`
with the default temporal smoothing and batch size, for output whose chroma a lossy encode smooths:
``Dequantizer.set_output_chroma(False)``, as for every x264 setting), and its frames are kept before any encode.
Then the
output frames and the decoded input frames are each written by ``VideoWriter`` at every setting: libx264
yuv420p at each ``--crf``, x264 ``--preset`` and ``--x264-params`` (x264 options on top of the preset; by
default dequantization's, ``JOBS["dequantize"].x264_params``), at crf 16 each other ``--pix-fmt``, and yuv420p
with each x264 ``--tune`` at each ``--tune-crf`` (these at the first preset and x264 options). Per clip: PSNR
against the original frames (pooled MSE) of the output and of (a'), the output's size, the CPU time of the
output's encoder process (user + system, ``getrusage`` of the children), and the CAMBI banding index of both files
(``vidcolor.metrics.cambi`` at max_log_contrast 2 and 5, as ``dequantize_quality.py`` scores it). The table
gives, per degradation and setting, the gain over (a') (mean and worst clip), the PSNR of the output, of (a)
(the decoded input itself, the trivial baseline before any encode) and of (a'), the output's
kilobytes per frame, both CAMBIs and the encoder's CPU milliseconds per frame (means); the first row is
before any encode (the output frames against the decoded input). Gains over (a') compare settings only
together with the PSNR and bytes: a setting that costs (a') more gains more over it without bringing the
output closer to the original.

    python benchmarks/dequantize_encode.py --out docs/dequantize_encode.md
    python benchmarks/dequantize_encode.py --crf 14 --pix-fmt --tune --strength uniform=0.75   # another strength
    python benchmarks/dequantize_encode.py --crf 14 --pix-fmt --tune --preset medium fast faster   # presets
    python benchmarks/dequantize_encode.py --crf 14 --pix-fmt --tune --x264-params '' 'ref=1:weightp=1'
"""
from __future__ import annotations

import argparse
import inspect
import resource
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np

from vidcolor import api
from vidcolor.io import VideoWriter
from vidcolor.jobs import DEFAULTS, JOBS
from vidcolor.metrics import cambi, psnr
from vidcolor.pipeline import Dequantizer, auto_batch_size, batched

from dequantize_quality import (CAMBI_CONTRASTS, DEGRADATIONS, degrade, encode_input, read, read_natural,
                                validation_films)
from dequantize_temporal import emit, parse_per_kind, validation_clips
from benchdata import DATA, require_data

ROWS = ("4 bit/ch, mid", "4 bit/ch, floor", "palette 16, no dither", "palette 16, bayer")


def dequantize(frames: np.ndarray, model: str, strength: dict[str, float] | None = None,
               keep_chroma: bool = False) -> np.ndarray:
    """``vidcolor dequantize``'s frames before the encode: uint8 RGB ``(T, H, W, 3)`` in and out; ``strength``
    overrides the model's strengths of the kinds it names (``Dequantizer.strength``); ``keep_chroma`` gives the
    frames as for output that keeps its chroma pixel for pixel (images, FFV1 4:4:4), else as for x264's."""
    job = Dequantizer(model)
    job.strength.update(strength or {})
    job.set_output_chroma(keep_chroma)                            # no x264 setting keeps the chroma
    defaults = inspect.signature(api.dequantize).parameters      # the CLI's and API's temporal smoothing
    job.set_temporal(defaults["temporal"].default, defaults["temporal_strength"].default)
    return np.stack(list(batched(iter(frames), job, auto_batch_size(frames.shape[2], frames.shape[1], job.device))))


def encode(frames: np.ndarray, fps, path: Path, pix_fmt: str, crf: int, tune: str | None, preset: str,
           x264_params: str) -> tuple[np.ndarray, int, float]:
    """``frames`` written by vidcolor's ``VideoWriter`` and read back; (decoded frames, file size in bytes,
    CPU seconds of the encoder process, user + system, from ``getrusage(RUSAGE_CHILDREN)``)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with VideoWriter(path, frames.shape[2], frames.shape[1], fps, crf=crf, preset=preset, pix_fmt=pix_fmt,
                     tune=tune, x264_params=x264_params, overwrite=True) as w:
        w.write(frames)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return read(path)[0], path.stat().st_size, cpu


def film_clips(frames: int):
    """Yield ``(clip path, original frames uint8 (T, 360, 640, 3), fps)`` for each black-and-white film excerpt
    that ``dequantize_quality.py`` does not score (``validation_films``), first ``frames`` frames."""
    for clip in validation_films():
        yield clip, *read_natural(clip, frames)


def label(pix_fmt: str, crf: int, tune: str | None, preset: str, x264_params: str) -> str:
    """An encoder setting as the table names it (the preset when it is not x264's default, medium)."""
    return (f"libx264 {pix_fmt} crf {crf}" + (f" tune {tune}" if tune else "")
            + (f" preset {preset}" if preset != "medium" else "") + (f" {x264_params}" if x264_params else ""))


def mean_worst(gains, clips: list[str]) -> str:
    """``"+mean / +worst (clip)"``: the mean of per-clip ``gains`` (dB) and the lowest with the clip it was on
    (``clips``, in the same order), as ``dequantize_temporal.py``'s table gives them."""
    gains = np.asarray(gains, dtype=float)
    worst = int(gains.argmin())
    return f"{gains.mean():+.3f} / {gains[worst]:+.3f} ({clips[worst]})"


def table(rows: list[str], settings: list[tuple], before: dict[str, list[tuple]], per: dict[tuple, list[tuple]],
          clips: list[str]) -> list[str]:
    """The markdown table's lines. ``clips``: the clips' names, in the order of the per-clip lists. ``before``:
    degradation -> per clip ``(gain before the encode over the decoded input, output CAMBI 2, output CAMBI 5, input
    CAMBI 2, input CAMBI 5, (a) PSNR)``; ``per``: ``(degradation, *setting)`` -> per clip ``(output PSNR, (a') PSNR,
    bytes per frame, output CAMBI 2, 5, (a') CAMBI 2, 5, encoder CPU s per frame)``. Both trivial baselines are
    columns: (a) the decoded input itself (the first row of a degradation, before any encode, is its gain over (a))
    and (a') the input through the same encode; every gain gives its mean and worst, with the clip it was on."""
    lines = ["| degradation | output encode | gain over (a'): mean / worst (clip), dB | output PSNR (dB) "
             "| (a) input PSNR (dB) | (a') PSNR (dB) | output KB per frame | output CAMBI | (a') CAMBI "
             "| output encoder CPU (ms per frame) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for dname in rows:
        b = np.array(before[dname])
        lines.append(f"| {dname} | none (before the encode; gain over (a), the decoded input) | "
                     f"{mean_worst(b[:, 0], clips)} | — | {b[:, 5].mean():.2f} | — | — | "
                     f"{b[:, 1].mean():.2f} / {b[:, 2].mean():.2f} | {b[:, 3].mean():.2f} / {b[:, 4].mean():.2f} | — |")
        for s in settings:
            r = np.array(per[dname, *s])
            gain = r[:, 0] - r[:, 1]
            lines.append(f"| {dname} | {label(*s)} | {mean_worst(gain, clips)} | "
                         f"{r[:, 0].mean():.2f} | {b[:, 5].mean():.2f} | {r[:, 1].mean():.2f} | {r[:, 2].mean() / 1024:.1f} | "
                         f"{r[:, 3].mean():.2f} / {r[:, 4].mean():.2f} | {r[:, 5].mean():.2f} / {r[:, 6].mean():.2f} | "
                         f"{r[:, 7].mean() * 1000:.1f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(DEGRADATIONS), metavar="DEGRADATION",
                    help="degradations of dequantize_quality.py to run (default: %(default)s)")
    ap.add_argument("--crf", type=int, nargs="+", default=[18, 16, 14, 13, 12, 10])
    ap.add_argument("--pix-fmt", nargs="*", default=["yuv420p10le", "yuv444p", "yuv444p10le"],
                    help="other pixel formats, each at crf 16 (yuv420p is run at every --crf)")
    ap.add_argument("--tune", nargs="*", default=["grain"], help="x264 tunes, each at every --tune-crf (yuv420p)")
    ap.add_argument("--tune-crf", type=int, nargs="+", default=[18, 17, 16, 14])
    ap.add_argument("--preset", nargs="+", default=["medium"],
                    help="x264 presets, each at every --crf (yuv420p); the other rows use the first")
    ap.add_argument("--x264-params", nargs="+", default=[JOBS["dequantize"].x264_params or ""],
                    help="x264 options on top of the preset ('' for none), each at every --crf and --preset "
                         "(yuv420p); the other rows use the first (default: %(default)s, dequantization's own)")
    ap.add_argument("--model", default=DEFAULTS["dequantize"])
    ap.add_argument("--strength", metavar="KIND=S,...", default="",
                    help="override the model's strength for these kinds of quantizer, e.g. uniform=0.75")
    ap.add_argument("--film", action="store_true",
                    help="the validation black-and-white film excerpts instead of the DAVIS clips")
    ap.add_argument("--out", type=Path, help="write the markdown table here too")
    args = ap.parse_args()
    require_data(DATA / ("bw" if args.film else "video"))
    try:
        strength = parse_per_kind(args.strength)
    except ValueError as exc:
        ap.error(f"--strength: {exc}")
    first, params = args.preset[0], args.x264_params[0]
    settings = ([("yuv420p", c, None, p, x) for x in args.x264_params for p in args.preset for c in args.crf]
                + [(f, 16, None, first, params) for f in args.pix_fmt]
                + [("yuv420p", c, t, first, params) for t in args.tune for c in args.tune_crf])
    clips = []
    before: dict[str, list[tuple]] = {}       # row -> per clip: gain before the encode, output / input CAMBIs,
                                              # (a) PSNR
    per: dict[tuple, list[tuple]] = {}        # (row, setting) -> per clip: output, (a') PSNR, bytes, CAMBIs, CPU s
                                              # (bytes and CPU seconds per frame: clips may be shorter than --frames)
    originals = []                            # the originals' CAMBIs
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for clip, original, fps in (film_clips if args.film else validation_clips)(args.frames):
            clips.append(clip)
            originals.append(cambi(original, CAMBI_CONTRASTS))
            for dname in args.rows:
                encode_input(degrade(original, DEGRADATIONS[dname]), tmp / "in.mp4", fps)
                inp = read(tmp / "in.mp4")[0]
                out = dequantize(inp, args.model, strength)
                before.setdefault(dname, []).append((psnr(out, original) - psnr(inp, original),
                                                     *cambi(out, CAMBI_CONTRASTS), *cambi(inp, CAMBI_CONTRASTS),
                                                     psnr(inp, original)))
                for s in settings:
                    a = encode(inp, fps, tmp / "a.mp4", *s)[0]
                    y, size, cpu = encode(out, fps, tmp / "y.mp4", *s)
                    per.setdefault((dname, *s), []).append((psnr(y, original), psnr(a, original), size / len(inp),
                                                            *cambi(tmp / "y.mp4", CAMBI_CONTRASTS),
                                                            *cambi(tmp / "a.mp4", CAMBI_CONTRASTS), cpu / len(inp)))
                print(clip.stem, dname, f"before the encode {before[dname][-1][0]:+.3f}", " ".join(
                    f"{label(*s)}: {per[dname, *s][-1][0] - per[dname, *s][-1][1]:+.3f} "
                    f"({per[dname, *s][-1][2] / 1024:.1f} KB/f)" for s in settings), flush=True)
    lines = [f"`python benchmarks/dequantize_encode.py {shlex.join(sys.argv[1:])}` (model {args.model}; "
             f"{len(clips)} validation {'film ' if args.film else ''}clips: "
             f"{', '.join(c.stem.removeprefix('davis_') for c in clips)}; "
             "640x360; the input libx264 crf 12; CAMBI at max_log_contrast 2 / 5, the originals' "
             f"{' / '.join(f'{c:.2f}' for c in np.mean(originals, axis=0))})", "",
             *table(args.rows, settings, before, per, [c.stem.removeprefix("davis_") for c in clips])]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
