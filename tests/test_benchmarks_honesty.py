"""The benchmarks' tables against the house's rules, on tiny synthetic inputs (no benchmark is run): the worst clip
beside every mean, the trivial baselines as rows, and settings picked on rows the report does not score."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_dequantize_temporal_reports_the_input_itself_beside_the_reencoded_input():
    """dequantize_temporal.py's table had (a') (the input through vidcolor's output path) as its only baseline: the
    input itself, (a), was missing, and the worst gain was not said to be on which clip."""
    dequantize_temporal = pytest.importorskip("dequantize_temporal")
    per = {("4 bit", dequantize_temporal.INPUT): [("davis_goat", 30.0, -0.5, 7.0, 0.0), ("davis_libby", 32.0, 0.1, 8.0, 0.0)],
           ("4 bit", dequantize_temporal.BASELINE): [("davis_goat", 30.5, 0.0, 6.0, 0.0), ("davis_libby", 31.9, 0.0, 7.0, 0.0)],
           ("4 bit", "temporal off"): [("davis_goat", 31.0, 0.5, 5.0, 10.0), ("davis_libby", 33.9, 2.0, 6.0, 14.0)]}
    lines = dequantize_temporal.table(per)
    assert lines[0].startswith("| degradation | method | PSNR (dB) | gain over (a'): mean / worst (clip) |")
    assert "| 4 bit | (a) input | 31.00 | -0.200 / -0.500 (goat) | 7.500 | — |" in lines
    assert "| 4 bit | (a') re-encoded input | 31.20 | — | 6.500 | — |" in lines
    assert "| 4 bit | temporal off | 32.45 | +1.250 / +0.500 (goat) | 5.500 | 12.0 |" in lines


def _score(ciede: float, ratio: float, worst: tuple[str, float] | None = None) -> dict:
    row = {"psnr": 20.0, "ciede2000": ciede, "colourfulness_ratio": ratio}
    if worst:
        row["worst_clip"] = {"clip": worst[0], "ciede2000_minus_gray": worst[1]}
    return row


def test_colorize_tradeoff_picks_on_the_calibration_rows_and_reports_worst_clip_and_gray():
    """colorize_tradeoff.py scored only the reported rows (held-back clips, scored photos), so the saturation (and
    the weight file bundled) was read off them; it had no worst clip and the gray input only in its caption. The
    pick is now made on the calibration photos alone, whatever the reported rows say."""
    colorize_tradeoff = pytest.importorskip("colorize_tradeoff")
    # calibration: x1.5 meets the rule (ratio >= 0.6, CIEDE2000 <= gray 11.0); the reported rows favour x1.0
    rows = {"1.0": {"calibration": _score(10.5, 0.45), "video": _score(8.0, 0.5, ("goat", -1.0)),
                    "photos": _score(10.0, 0.4)},
            "1.5": {"calibration": _score(10.9, 0.62), "video": _score(9.5, 0.75, ("dance-twirl", 5.31)),
                    "photos": _score(11.7, 0.6)}}
    assert colorize_tradeoff.pick_saturation(rows, 11.0, 0.5) == "1.5"
    reported_only = {s: dict(r, calibration=_score(12.0, 0.1)) for s, r in rows.items()}   # no calibration pick
    assert colorize_tradeoff.pick_saturation(reported_only, 11.0, 0.5) == "1.0"   # lowest CIEDE2000 on calibration
    results = {"command": "python benchmarks/colorize_tradeoff.py m=w", "temperature": 0.5, "saturations": [1.0, 1.5],
               "sets": {"calibration": 2, "video": 2, "photos": 2}, "clips": ["davis_goat", "davis_dance-twirl"],
               "gray": {"calibration": _score(11.0, 0.0), "video": _score(9.71, 0.0), "photos": _score(11.53, 0.0)},
               "models": {"m": rows}, "pick": {"m": "1.5"}}
    lines = colorize_tradeoff.report(results).splitlines()
    assert lines[2] == ("| model | picked on calibration | calibration x1.0 | calibration x1.5 | video x1.0 | video x1.5 "
                        "| photos x1.0 | photos x1.5 |")
    assert lines[4].startswith("| gray input (L only) | — | 11.00 / 0.00 | 11.00 / 0.00 | 9.71 / 0.00 |")
    assert lines[5] == ("| m | x1.5 | 10.50 / 0.45 | 10.90 / 0.62 | 8.00 / 0.50 (worst -1.00, goat) "
                        "| **9.50 / 0.75 (worst +5.31, dance-twirl)** | 10.00 / 0.40 | **11.70 / 0.60** |")


def test_temporal_quality_gives_the_worst_clip_beside_the_psnr_mean(tmp_path):
    """temporal_quality.py gave a worst clip for the warp error but the mean PSNR alone: the clip where a mode gains
    least over the job's input is now beside it (results saved before it render as they did)."""
    import types

    temporal_quality = pytest.importorskip("temporal_quality")
    w = temporal_quality.worst_psnr_clip([30.0, 25.0, 28.0], [27.0, 25.5, 27.0], ["a", "b", "c"])
    assert w == {"clip": "b", "gain_db": pytest.approx(-0.5)}
    with pytest.raises(ValueError):
        temporal_quality.worst_psnr_clip([30.0], [27.0, 25.0], ["a", "b"])
    mode = {"warp_error": 1e-3, "cdc": 2e-3, "psnr": 27.6, "smooth_ms": 1.0,
            "worst_clip": {"clip": "a", "vs_original": 2.0}}
    r = {"generator_ms": 9.0, "original": {"warp_error": 1e-3, "cdc": 2e-3},
         "input": {"warp_error": 1e-3, "cdc": 1e-3, "psnr": 27.4},
         **{m: dict(mode, worst_psnr_clip=w) for m in temporal_quality.MODES}}
    args = types.SimpleNamespace(clips=["a", "b", "c"], frames=2)
    lines = temporal_quality.write_report({"dequantize": r}, args, tmp_path / "t.md").splitlines()
    rows = [line for line in lines if line.startswith("|")]
    assert "PSNR worst clip: gain over input (dB)" in rows[0]
    assert all(row.count("|") == rows[0].count("|") for row in rows)
    assert "| off | 1.000 | 1.00x | 2.00x (a) | 2.000 | 27.60 | -0.50 (b) | 1.0 | 10.0% |" in rows
    old = {m: {k: v for k, v in r[m].items() if k != "worst_psnr_clip"} for m in temporal_quality.MODES}
    assert "PSNR worst clip" not in temporal_quality.write_report({"dequantize": dict(r, **old)}, args, tmp_path / "o.md")


def test_dequantize_encode_gives_the_input_itself_beside_the_reencoded_input():
    """dequantize_encode.py's table had (a') (the input through the same encode) as its only baseline PSNR: the
    input itself, (a), was missing (its PSNR is what the row before any encode gains over)."""
    dequantize_encode = pytest.importorskip("dequantize_encode")
    setting = ("yuv420p", 14, None, "medium", "")
    before = {"4 bit": [(1.0, 0.1, 0.3, 0.2, 0.7, 35.0), (2.0, 0.1, 0.3, 0.2, 0.7, 36.0)]}
    per = {("4 bit", *setting): [(36.0, 35.0, 2048.0, 0.1, 0.3, 0.2, 0.6, 0.02),
                                 (37.5, 35.5, 2048.0, 0.1, 0.3, 0.2, 0.6, 0.02)]}
    lines = dequantize_encode.table(["4 bit"], [setting], before, per, ["goat", "libby"])
    head = [c.strip() for c in lines[0].split("|")]
    assert head.index("(a) input PSNR (dB)") == head.index("(a') PSNR (dB)") - 1
    assert lines[2] == ("| 4 bit | none (before the encode; gain over (a), the decoded input) | +1.500 / +1.000 (goat) | — | 35.50 "
                        "| — | — | 0.10 / 0.30 | 0.20 / 0.70 | — |")
    assert lines[3] == ("| 4 bit | libx264 yuv420p crf 14 | +1.500 / +1.000 (goat) | 36.75 | 35.50 | 35.25 | 2.0 "
                        "| 0.10 / 0.30 | 0.20 / 0.60 | 20.0 |")


def test_dequantize_fusion_shows_both_baselines_as_rows():
    """dequantize_fusion.py's gains were over (a) before the encode and over (a') after it, but neither baseline was
    in the table: both are rows now, with their PSNR (and (a')'s bytes beside the outputs')."""
    import numpy as np

    dequantize_fusion = pytest.importorskip("dequantize_fusion")
    r = np.array([[1.0, 1.5, 150.0, 0.5, 27.0, 0.2, 22.0], [2.0, 1.0, 160.0, 1.5, 29.0, 0.0, 24.0]])
    baselines = np.array([[35.0, 34.5, 20.0], [36.0, 35.5, 22.0]])
    lines = dequantize_fusion.table(r, baselines, keep_chroma=False, names=["goat", "libby"])
    assert lines[2:] == ["| (a) the input, decoded | 0 (PSNR 35.50 dB) | — | — |",
                         "| (a') the input through the same encode | — | 0 (PSNR 35.00 dB) | 21.0 |",
                         "| the pipeline's | +1.500 / +1.000 (goat) | +1.000 / +0.500 (goat) | 28.0 |",
                         "| fused with the neighbouring frames | +1.250 / +1.000 (libby) | +0.100 / +0.000 (libby) | 23.0 |"]
    kept = dequantize_fusion.table(r[:, :3], baselines * [1, np.nan, np.nan], keep_chroma=True,
                                     names=["goat", "libby"])
    assert kept[2:] == ["| (a) the input, decoded | 0 (PSNR 35.50 dB) |",
                        "| the pipeline's | +1.500 / +1.000 (goat) |",
                        "| fused with the neighbouring frames | +1.250 / +1.000 (libby) |"]
