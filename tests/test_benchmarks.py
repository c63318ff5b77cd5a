"""The benchmarks' bookkeeping, without running a benchmark: README's spliced sections against the files the
scripts saved, and the provenance lines the scripts write above their tables."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import readme  # noqa: E402  (benchmarks/readme.py)


def test_every_readme_section_is_what_its_script_saved():
    """Each spliced section of README.md equals what its script splices, rebuilt from the docs/ files that run
    saved (``readme.py --check``): no section edited by hand, none left behind a regenerated docs file."""
    assert readme.check() == {}


def test_the_check_sees_a_section_edited_by_hand(tmp_path):
    copy = tmp_path / "README.md"
    text = readme.README.read_text()
    section = readme.readme_section("reference-results")
    edited = section.replace("| fast |", "| fast (edited) |", 1)
    assert edited != section
    copy.write_text(text.replace(section, edited, 1))
    diffs = readme.check(readme=copy)
    assert set(diffs) == {"reference-results"}
    assert any("(edited)" in line for line in diffs["reference-results"])


def test_splice_then_read_back(tmp_path):
    copy = tmp_path / "README.md"
    copy.write_text("a\n<!-- k:start (x.py) -->\nold\n<!-- k:end -->\nb\n")
    readme.splice_readme("k", "new | 1", copy)
    assert readme.readme_section("k", copy) == "new | 1\n"
    assert copy.read_text() == "a\n<!-- k:start (x.py) -->\nnew | 1\n<!-- k:end -->\nb\n"
    with pytest.raises(ValueError, match="no <!-- other:start"):
        readme.splice_readme("other", "x", copy)


def test_the_ray_section_ignores_the_sections_kept_below_the_table(tmp_path):
    shutil.copy(ROOT / "docs" / "ray_cpu.md", tmp_path / "ray_cpu.md")
    saved = readme.SOURCES["ray"](tmp_path)
    assert saved.startswith("CPU: ") and "\n## " not in saved
    (tmp_path / "ray_cpu.md").write_text("# something else\n\n" + saved)
    with pytest.raises(ValueError, match="ray_scaling.py"):
        readme.SOURCES["ray"](tmp_path)


def test_the_speed_table_names_the_command_that_made_it():
    """speed.py's first line is the command as run (it read ``python benchmarks/speed.py`` above tables made
    with ``--sizes 360p --frames 90``, which that bare command does not reproduce)."""
    import speed

    line = speed.header(["--sizes", "360p", "--frames", "4", "--out", "a b.md"], "CPU X (2 cores)", 2, 4,
                        "davis_cows.mp4")
    assert line.startswith("`python benchmarks/speed.py --sizes 360p --frames 4 --out 'a b.md'` on CPU X (2 cores), ")
    assert "torch threads 2, 4 frames of davis_cows.mp4" in line
    assert speed.header([], "h", 1, 48, "c.mp4").startswith("`python benchmarks/speed.py` on h,")


def test_every_benchmark_script_parses_its_options():
    """A script without an argument parser ran its whole benchmark on ``--help`` (colorize_confidence.py,
    reference_edges.py: minutes of CPU) and ignored a mistyped option: every script under benchmarks/ builds
    an ArgumentParser (benchdata.py is a module they import, not a script)."""
    missing = [p.name for p in sorted((ROOT / "benchmarks").glob("*.py"))
               if p.name != "benchdata.py" and "ArgumentParser(" not in p.read_text()]
    assert missing == []


def test_reference_edges_reports_the_worst_pair_beside_the_mean():
    import numpy as np

    reference_edges = pytest.importorskip("reference_edges")    # kornia, skimage
    text = reference_edges.table({("same clip", "fast"): [("cows", 5.0, 6.0), ("cows", 7.0, 8.0), ("dog", 3.0, 4.0)],
                                  ("same clip", "gray input"): [("cows", 9.0, 9.5), ("dog", 11.0, 12.0)]})
    rows = text.splitlines()[2:]
    assert rows[0] == f"| same clip | fast | 3 | {np.mean([5, 7, 3]):.3f} | {np.mean([6, 8, 4]):.3f} | cows 6.000 |"
    assert rows[1] == "| same clip | gray input | 2 | 10.000 | 10.750 | dog 11.000 |"


def test_every_documented_reference_holds():
    """Every documented command (README, docs/, model cards, train/ notes) uses options its script's parser or the
    CLI defines, every link and repository path named there is a file, every ``--flag`` README names is an
    option of something, and every model named is bundled or a recipe (``readme.py --check``'s
    :func:`readme.references`)."""
    assert readme.references() == []


def _planted(tmp_path, text):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "there.md").write_text("x\n")
    page = tmp_path / "README.md"
    page.write_text("Fine: [a](docs/there.md), `docs/there.md`, `vidcolor dequantize a.mp4 --crf 14`, "
                    "`--model colorize-effnet`.\n" + text + "\n")
    return readme.references([page], root=tmp_path)


@pytest.mark.parametrize("text, said", [
    ("[gone](docs/colorize_gone.md)", "README.md:2: link to no file: docs/colorize_gone.md"),
    ("see docs/colorize_gone.{md,json}", "README.md:2: no such file: docs/colorize_gone.md"),
    ("`vidcolor dequantize a.mp4 --keep-luma`", "README.md:2: vidcolor dequantize has no --keep-luma"),
    ("`vidcolor colourize a.mp4`", "README.md:2: no command vidcolor colourize"),
    ("`vidcolor train colorize --gone 3`", "README.md:2: vidcolor train colorize has no --gone"),
    ("`python benchmarks/colorize_tradeoff.py --frames 8 --gone`",
     "README.md:2: benchmarks/colorize_tradeoff.py has no --gone"),
    ("`python benchmarks/colorize_gone.py`", "README.md:2: no script benchmarks/colorize_gone.py"),
    ("with `--no-such-flag` set", "README.md:2: no command or script has --no-such-flag"),
    ("`vidcolor colorize a.mp4 --model colorize-effnet-video-60`",
     "README.md:2: no model, recipe or job named colorize-effnet-video-60"),
])
def test_the_check_sees_a_planted_dead_reference(tmp_path, text, said):
    """A dead link, a path to no file, a flag or subcommand that no longer exists and a model that is not bundled
    (docs/colorize_tradeoff.md named 5 colorizers, 3 of them gone) are each one line of ``readme.py --check``; the
    fine line above them gives none."""
    assert said in _planted(tmp_path, text)


def test_the_check_passes_the_same_page_without_the_planted_line(tmp_path):
    assert _planted(tmp_path, "") == []


def test_colorize_quality_names_the_worst_clip_beside_the_mean():
    """colorize_quality.py reported each model's mean over the held-back clips' frames only; the house rule puts
    the worst clip beside it: per clip, mean CIEDE2000 minus the gray input's on that clip, the largest."""
    import numpy as np

    colorize_quality = pytest.importorskip("colorize_quality")
    rng = np.random.default_rng(0)
    truth = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(3)]
    bad = (255 - truth[2]).astype(np.uint8)
    from vidcolor.metrics import ciede2000

    own = colorize_quality.frame_ciede([truth[0], truth[1], bad], truth)
    w = colorize_quality.worst_clip(own, ["a", "a", "b"], [5.0, 7.0, 1.0])
    assert w["clip"] == "b" and w["ciede2000_minus_gray"] == pytest.approx(ciede2000(bad, truth[2]) - 1.0)
    row = colorize_quality.video_row([truth[0], truth[1], bad], truth, ["a", "a", "b"], [5.0, 7.0, 1.0])
    assert row["worst_clip"] == w and row["ciede2000"] == pytest.approx(own.mean())
    w = colorize_quality.worst_clip(colorize_quality.frame_ciede(truth, truth), ["a", "a", "b"], [5.0, 7.0, 1.0])
    assert w == {"clip": "b", "ciede2000_minus_gray": pytest.approx(-1.0)}
    with pytest.raises(ValueError):
        colorize_quality.worst_clip(np.zeros(3), ["a", "b"], [1.0, 2.0, 3.0])


def test_colorize_quality_writes_a_missing_score_as_a_dash(tmp_path):
    """The Reinhard row has no photo scores (NaN): the table printed ``nan nan nan`` for them. Results saved
    before the worst-clip column re-render without it (--report-only)."""
    colorize_quality = pytest.importorskip("colorize_quality")
    nan = float("nan")
    row = {"psnr": 20.5, "ciede2000": 12.4, "colourfulness_ratio": 1.08}
    results = {"sets": {"video": 2, "photos": 2, "calibration photos": 2}, "clips": ["a"], "pick": "0.5/1.5",
               "rows": {"r": {"video": row, "photos": {"psnr": nan, "ciede2000": nan, "colourfulness_ratio": nan}}},
               "sweep": {}, "target": {}}
    text = colorize_quality.write_report(results, tmp_path / "q.md")
    assert "| r |  | 20.50 | 12.40 | 1.08 | — | — | — |" in text and "nan" not in text and "worst clip" not in text


def test_a_mistyped_kind_is_refused_and_every_documented_one_parses():
    """dequantize_encode.py's --strength (and dequantize_temporal.py's --band-weight) took any KIND: a typo such as
    'palete small=0.3' left the model's own strength in place and the table read as if it had been changed."""
    import re

    dequantize_temporal = pytest.importorskip("dequantize_temporal")
    parse = dequantize_temporal.parse_per_kind
    assert parse("") == {} and parse("uniform=0.75,uniform floor=0.25") == {"uniform": 0.75, "uniform floor": 0.25}
    for bad in ("palete small=0.3", "uniform", "uniform=x"):
        with pytest.raises(ValueError):
            parse(bad)
    documented = [t for _, tokens in readme.documented_commands(readme.documented_files()) for i, t in enumerate(tokens)
                  if i and tokens[i - 1] in ("--strength", "--band-weight") and tokens[1].startswith("benchmarks/")]
    assert documented and all(parse(t) is not None for t in documented if not re.fullmatch(r"[A-Z=,.]+", t))


@pytest.mark.slow
def test_the_readme_figure_for_the_bundled_example_is_measured(tmp_path):
    """README's 'vidcolor dequantize examples/raccoon_16colors.mp4 ... 26.90 -> N dB against
    examples/raccoon_original.mp4' read 27.28 while the command gave 27.36 (README audit of the benchmarks): the
    figures are re-measured here, input and output PSNR against the original, to the README's two decimals
    (about 12 s on 2 CPU cores)."""
    import re

    from vidcolor import api
    from vidcolor.evaluate import load_frames
    from vidcolor.metrics import psnr

    found = re.search(r"examples/raccoon_16colors\.mp4` finds .*?: (\d+\.\d\d) -> (\d+\.\d\d) dB\s+against "
                      r"`examples/raccoon_original\.mp4`", readme.README.read_text(), re.S)
    assert found, "README's figure for the bundled example moved: update this test's pattern"
    example = ROOT / "examples"
    api.dequantize(example / "raccoon_16colors.mp4", tmp_path / "out.mp4", progress=False)
    original = load_frames(example / "raccoon_original.mp4")
    measured = (psnr(load_frames(example / "raccoon_16colors.mp4"), original),
                psnr(load_frames(tmp_path / "out.mp4"), original))
    assert [f"{v:.2f}" for v in measured] == [found[1], found[2]]


@pytest.mark.slow
def test_the_validation_content_kinds_are_the_ones_it_loads(shared_data):
    """dequantize_validation.py --content and dequantize_error_split.py --content took any text: a typo ran no
    content (validation) or ended in a KeyError after loading everything (error split); both now choose from
    CONTENT_KINDS, which must be what content() returns (about 7 s: it decodes the validation clips)."""
    dequantize_validation = pytest.importorskip("dequantize_validation")
    assert tuple(dequantize_validation.content(1)) == dequantize_validation.CONTENT_KINDS


def test_a_benchmark_without_its_data_says_so_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    """Without ../shared/data, dequantize_temporal.py scored zero clips and printed an empty table with exit
    status 0; dequantize_error_split.py printed a table of NaN (others died on an IndexError or a division by
    zero). A benchmark now names the missing folder and exits non-zero before it loads anything."""
    dequantize_temporal = pytest.importorskip("dequantize_temporal")
    monkeypatch.setattr(dequantize_temporal, "DATA", tmp_path / "absent")
    monkeypatch.setattr(sys, "argv", ["dequantize_temporal.py", "--frames", "2"])
    with pytest.raises(SystemExit) as raised:
        dequantize_temporal.main()
    assert "absent" in str(raised.value.code) and "no clip" in str(raised.value.code)
    assert "| degradation |" not in capsys.readouterr().out


def test_a_filter_that_matches_no_clip_exits_non_zero(tmp_path, monkeypatch):
    """A data folder whose held-back clips are all taken by the quality benchmark left dequantize_temporal.py
    (and dequantize_encode.py, dequantize_fusion.py, which read its validation clips) nothing to score."""
    dequantize_temporal = pytest.importorskip("dequantize_temporal")
    (tmp_path / "video").mkdir()
    (tmp_path / "video" / "notes.txt").write_text("no clip")
    monkeypatch.setattr(dequantize_temporal, "DATA", tmp_path)
    with pytest.raises(SystemExit, match="validation clips"):
        next(dequantize_temporal.validation_clips(2))


def test_every_script_that_reads_the_shared_data_checks_it_is_there():
    readers = [p for p in sorted((ROOT / "benchmarks").glob("*.py"))
               if p.name not in ("benchdata.py", "quality.py", "readme.py")
               and ("shared" in p.read_text() or "DATA" in p.read_text() or "SHARED" in p.read_text()
                    or "held_back_photos" in p.read_text() or "colorize_quality import" in p.read_text())]
    unchecked = [p.name for p in readers if "require_data(" not in p.read_text()
                 and "no DAVIS clips under" not in p.read_text()]
    assert len(readers) >= 15 and unchecked == []


def test_ray_scaling_refuses_an_unknown_job_before_starting_ray(monkeypatch, capsys):
    """``ray_scaling.py --jobs 1`` built the clip and started Ray (25 s), then died on ``AttributeError: module
    'vidcolor.api' has no attribute '1'``; a job that is not dequantize or colorize is now a usage error."""
    ray_scaling = pytest.importorskip("ray_scaling")
    monkeypatch.setattr(ray_scaling, "make_clip", lambda *a: pytest.fail("the clip was built"))
    monkeypatch.setattr(sys, "argv", ["ray_scaling.py", "--jobs", "dequantize,1"])
    with pytest.raises(SystemExit) as raised:
        ray_scaling.main()
    assert raised.value.code == 2 and "'1' is not dequantize or colorize" in capsys.readouterr().err


def test_speed_removes_its_temporary_clips(tmp_path, monkeypatch):
    """speed.py made its clips (every size, plain, 16-colour and 4-bit versions, the outputs) in a mkdtemp folder
    it never removed: every run left one in /tmp, hundreds of MB at 1080p. It is removed now, also on an error."""
    speed = pytest.importorskip("speed")
    made = []

    def measure(size, args, ffmpeg, tmp):
        made.append(tmp)
        (tmp / "clip.mp4").write_bytes(b"x")
        raise RuntimeError("stop")

    monkeypatch.setattr(speed, "measure", measure)
    monkeypatch.setattr(speed, "require_data", lambda *folders: None)     # no clip is read
    monkeypatch.setattr(sys, "argv", ["speed.py", "--sizes", "360p"])
    with pytest.raises(RuntimeError, match="stop"):
        speed.main()
    assert len(made) == 1 and not made[0].exists()


def test_the_encode_and_fusion_tables_name_the_worst_clip_beside_the_mean():
    """dequantize_encode.py's and dequantize_fusion.py's tables gave the worst gain without the clip it was on,
    where dequantize_temporal.py's names it (``+0.991 / +0.331 (goat)``)."""
    import numpy as np

    encode = pytest.importorskip("dequantize_encode")
    fusion = pytest.importorskip("dequantize_fusion")
    clips = ["cows", "goat"]
    s = ("yuv420p", 14, None, "medium", "")
    before = {"4 bit": [(0.5, 1, 1, 2, 2, 30.0), (0.2, 1, 1, 2, 2, 31.0)]}
    per = {("4 bit", *s): [(33.0, 32.0, 1024, 1, 1, 2, 2, 0.01), (32.0, 31.9, 1024, 1, 1, 2, 2, 0.01)]}
    lines = encode.table(["4 bit"], [s], before, per, clips)
    assert "| +0.350 / +0.200 (goat) |" in lines[2] and "| +0.550 / +0.100 (goat) |" in lines[3], lines
    r = np.array([[0.3, 0.6, 10.0, 0.2, 5.0, 0.1, 5.0], [0.5, 0.4, 10.0, 0.4, 5.0, 0.3, 5.0]])
    baselines = np.array([[30.0, 29.0, 4.0], [31.0, 30.0, 4.0]])
    lines = fusion.table(r, baselines, False, clips)
    assert lines[4] == "| the pipeline's | +0.400 / +0.300 (cows) | +0.300 / +0.200 (cows) | 5.0 |", lines
    assert lines[5].startswith(
        "| fused with the neighbouring frames | +0.500 / +0.400 (goat) | +0.200 / +0.100 (cows) |")
    assert fusion.table(r[:, :3], baselines, True, clips)[3] == "| the pipeline's | +0.400 / +0.300 (cows) |"
