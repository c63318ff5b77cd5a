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
