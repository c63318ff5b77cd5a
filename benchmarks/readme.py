"""Splice a generated table into README.md between ``<!-- KEY:start ... -->`` and ``<!-- KEY:end -->``.

The benchmarks import :func:`splice_readme` (their ``--readme`` option). Run as a script it checks, without
running any benchmark, that every spliced section of README.md is what its script would splice from the files
that script saved under docs/ (:data:`SOURCES`), and prints a diff where it is not:

    python benchmarks/readme.py --check     # exit status 1 if a section differs from its saved source

``--check`` also reads README.md, docs/*.md, the model cards (vidcolor/weights/*.md) and the notes under train/
for references that no longer hold (:func:`references`): a link or a ``docs/``, ``train/``, ``benchmarks/`` or
``vidcolor/weights/`` path to no file, a documented ``vidcolor`` or ``python benchmarks/...`` command with an
option its parser lacks, a ``--flag`` README names that no command or script has, and a model name that is
neither bundled nor a recipe under train/.
"""
from __future__ import annotations

import argparse
import difflib
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

COLORIZE_SHEET_CAPTION = "![colorize contact sheet](docs/colorize_contact_sheet.png)"
"""What ``colorize_quality.py --readme`` adds under its table."""
STRIP_CAPTION = ("![six consecutive frames, centre crops](docs/temporal_strip.png): per job (dequantize, then colorize) "
                 "`--temporal off` above `--temporal flow`, on the clip where flow lowered the warp error most.")
"""What ``temporal_quality.py --readme`` adds under its tables."""
RAY_TITLE = "# `--executor ray` against `--executor local`\n\nWritten by `benchmarks/ray_scaling.py`.\n\n"
"""The head ``ray_scaling.py --out`` writes above the table it splices."""


def _pattern(key: str) -> re.Pattern:
    return re.compile(rf"(<!-- {re.escape(key)}:start[^>]*-->\n)(.*?)(<!-- {re.escape(key)}:end -->)", re.S)


def splice_readme(key: str, text: str, readme: Path = README) -> None:
    """Replace what lies between the ``key`` markers of README.md with ``text`` (markers kept).

    Raises:
        ValueError: if README.md lacks the markers.
    """
    src = readme.read_text()
    pattern = _pattern(key)
    if not pattern.search(src):
        raise ValueError(f"README.md has no <!-- {key}:start --> / <!-- {key}:end --> markers")
    readme.write_text(pattern.sub(lambda m: m[1] + text + "\n" + m[3], src, count=1))


def readme_section(key: str, readme: Path = README) -> str:
    """What lies between the ``key`` markers of README.md (as :func:`splice_readme` left it: text + newline).

    Raises:
        ValueError: if README.md lacks the markers.
    """
    m = _pattern(key).search(readme.read_text())
    if not m:
        raise ValueError(f"README.md has no <!-- {key}:start --> / <!-- {key}:end --> markers")
    return m[2]


def _ray(docs: Path) -> str:
    text = (docs / "ray_cpu.md").read_text()
    if not text.startswith(RAY_TITLE):
        raise ValueError(f"{docs / 'ray_cpu.md'} does not start as ray_scaling.py writes it")
    return text[len(RAY_TITLE):].split("\n## ", 1)[0].rstrip("\n") + "\n"   # sections kept below it: not spliced


def _results(docs: Path) -> str:
    from dequantize_quality import saved_readme_summary      # heavy imports: only when checked

    return saved_readme_summary(docs / "dequantize_quality.md")


SOURCES = {
    "results": _results,
    "colorize-results": lambda d: (d / "colorize_quality.md").read_text() + "\n" + COLORIZE_SHEET_CAPTION,
    "colorize-tradeoff": lambda d: (d / "colorize_tradeoff.md").read_text().removesuffix("\n"),
    "reference-results": lambda d: (d / "reference_quality.md").read_text().removesuffix("\n"),
    "temporal-results": lambda d: (d / "temporal_quality.md").read_text() + "\n" + STRIP_CAPTION,
    "speed": lambda d: (d / "speed_cpu.md").read_text(),
    "ray": _ray,
}
"""README key -> the text its script splices (without :func:`splice_readme`'s newline), rebuilt from the
files that script saved in a docs folder (the argument)."""


def check(readme: Path = README, docs: Path = DOCS) -> dict[str, list[str]]:
    """Compare every README section of :data:`SOURCES` with its saved source.

    Returns:
        key -> unified diff lines (saved source -> README), for the sections that differ (empty: all agree).

    Raises:
        ValueError: if README.md lacks a key's markers, or a saved file is not as its script writes it.
        FileNotFoundError: if a saved file is missing.
    """
    out = {}
    for key, source in SOURCES.items():
        want, have = source(docs) + "\n", readme_section(key, readme)
        if want != have:
            out[key] = list(difflib.unified_diff(want.splitlines(), have.splitlines(), f"saved ({key})",
                                                 f"README.md ({key})", lineterm="", n=1))
    return out


EXTERNAL_FLAGS = frozenset({"--index-url", "--no-deps", "--head", "--port", "--address"})
"""Options of other programs that README names (pip's, ``ray start``'s): not vidcolor's nor a script's."""
_PATH = re.compile(r"(?<![\w./-])((?:docs|train|benchmarks|vidcolor/weights)/[\w./{},*-]*)")
_LINK = re.compile(r"\]\(([^)#\s]+)")
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_NAME = re.compile(r"(?<![\w/.-])((?:colorize|dequantize)-[a-z0-9]+(?:-[a-z0-9]+)*)(?![\w/-]|\.[a-z])")


def _shown(path: Path, root: Path) -> str:
    """``path`` as a message gives it: relative to ``root`` where it lies in it."""
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def documented_files(root: Path = ROOT) -> list[Path]:
    """README.md, docs/*.md, the model cards (vidcolor/weights/*.md) and the notes under train/ (*.md)."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md")),
            *sorted((root / "vidcolor" / "weights").glob("*.md")), *sorted((root / "train").rglob("*.md"))]


def documented_commands(files: list[Path], root: Path = ROOT) -> Iterator[tuple[str, list[str]]]:
    """``(file:line, tokens)`` of every ``python benchmarks/...``, ``python train/...`` and ``vidcolor ...`` command in
    ``files``:
    code-block lines and inline code spans (comments after '  #' and what follows a pipe dropped)."""
    for path in files:
        fenced = False
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip().startswith("```"):
                fenced = not fenced
                continue
            found = [line.strip()] if fenced else []
            found += re.findall(r"`((?:vidcolor |python benchmarks/|python train/)[^`]*)`", line)
            for command in found:
                if not command.startswith(("vidcolor ", "python benchmarks/", "python train/")):
                    continue
                command = re.split(r"\s+#", command)[0].split(" | ")[0]
                try:
                    tokens = shlex.split(command)
                except ValueError:
                    tokens = command.split()
                yield f"{_shown(path, root)}:{n}", tokens


def command_options(tokens: list[str]) -> list[str]:
    """The options among a command's ``tokens`` (``--crf=14`` -> ``--crf``; ``-`` and negative numbers are not)."""
    return [t.split("=")[0] for t in tokens if t.startswith("-") and t != "-" and not t[1:2].isdigit()]


def script_options(root: Path = ROOT) -> dict[str, set[str]]:
    """``benchmarks/NAME.py`` (and ``train/publish.py``) -> the options its parser defines, read from its source
    (``add_argument("--name"``)."""
    return {f"{p.parent.name}/{p.name}": set(re.findall(r"""add_argument\(\s*["'](--?[\w-]+)""", p.read_text()))
            | {"-h", "--help"} for p in [*(root / "benchmarks").glob("*.py"), root / "train" / "publish.py"]}


def _cli_options() -> dict[tuple[str, ...], set[str]]:
    """``("dequantize",)``, ``("train", "colorize")``, ... -> the options of that vidcolor command."""
    import click

    from vidcolor.cli import main as cli

    out = {}

    def walk(command, path):
        out[path] = {o for p in command.params for o in p.opts + p.secondary_opts} | {"-h", "--help"}
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, path + (name,))
    walk(cli, ())
    for path, command in list(out.items()):     # `vidcolor train ... --device`: any train command's option
        if len(path) == 1 and isinstance(cli.commands[path[0]], click.Group):
            out[path] = command | set().union(*(v for k, v in out.items() if k[:1] == path))
    return out


def model_names(root: Path = ROOT) -> set[str]:
    """Names a document may give a model: the bundled weights, the recipes under train/ and the jobs' names."""
    from vidcolor.jobs import JOBS
    from vidcolor.weights import WEIGHTS_DIR

    return ({p.stem for p in Path(WEIGHTS_DIR).glob("*.safetensors")} | {p.stem for p in (root / "train").rglob("*.toml")}
            | set(JOBS) | {k for k in SOURCES if k.startswith(("colorize-", "dequantize-"))})


def references(files: list[Path] | None = None, root: Path = ROOT) -> list[str]:
    """What ``files`` (default :func:`documented_files`) refer to that is not there, one line each
    (``file:line: what``): a link (relative to its file) or a ``docs/``, ``train/``, ``benchmarks/`` or
    ``vidcolor/weights/`` path (relative to ``root``) to no file; a documented command's option or subcommand its
    script's parser or the CLI lacks, or a ``--model`` that is not bundled; in README.md, any ``--flag`` that no
    vidcolor command, benchmark script or :data:`EXTERNAL_FLAGS` program has; a ``colorize-...`` /
    ``dequantize-...`` name that is no bundled model, recipe or job (:func:`model_names`). Empty: all hold."""
    files = documented_files(root) if files is None else files
    cli, scripts, names = _cli_options(), script_options(ROOT), model_names(ROOT)
    known_flags = set().union(*cli.values(), *scripts.values(), EXTERNAL_FLAGS)
    bad = []
    for path in files:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{_shown(path, root)}:{n}"
            for m in _LINK.finditer(line):
                if not m[1].startswith(("http:", "https:", "mailto:")) and not (path.parent / m[1]).exists():
                    bad.append(f"{where}: link to no file: {m[1]}")
            for m in _PATH.finditer(line):
                mention = m[1].rstrip(".,")
                brace = re.fullmatch(r"(.*)\{([^}]*)\}(.*)", mention)
                for one in ([brace[1] + x + brace[3] for x in brace[2].split(",")] if brace else [mention]):
                    if not (any(root.glob(one)) if "*" in one else (root / one).exists()):
                        bad.append(f"{where}: no such file: {one}")
            bad += [f"{where}: no model, recipe or job named {m[1]}" for m in _NAME.finditer(line) if m[1] not in names]
            if path.name == "README.md":
                bad += [f"{where}: no command or script has {f}" for f in _FLAG.findall(line) if f not in known_flags]
    for where, tokens in documented_commands(files, root):
        if tokens[0] == "python" and len(tokens) > 1:
            script, rest, known = tokens[1], tokens[2:], scripts.get(tokens[1])
            if known is None:
                bad.append(f"{where}: no script {tokens[1]}")
                continue
        elif tokens[0] == "vidcolor" and len(tokens) > 1 and not tokens[1].startswith("-"):
            sub = tokens[2] if len(tokens) > 2 and (tokens[1], tokens[2]) in cli else None
            key, rest = ((tokens[1], sub), tokens[3:]) if sub else ((tokens[1],), tokens[2:])
            script, known = "vidcolor " + " ".join(key), cli.get(key)
            if known is None:
                bad.append(f"{where}: no command vidcolor {tokens[1]}")
                continue
            bad += [f"{where}: no bundled model {m} (--model)" for o, m in zip(rest, rest[1:])
                    if o == "--model" and not re.search(r"[/.]|^[A-Z|]+$", m) and m not in names]
        else:
            continue
        bad += [f"{where}: {script} has no {o}" for o in command_options(rest) if o not in known]
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="compare README.md's spliced sections with the saved docs/ files (no benchmark runs)")
    args = ap.parse_args()
    if not args.check:
        ap.error("nothing to do: give --check (the benchmarks splice with their own --readme)")
    diffs = check()
    for key in SOURCES:
        print(f"{key}: {'differs' if key in diffs else 'as saved'}")
        for line in diffs.get(key, []):
            print("    " + line)
    dead = references()
    print(f"references: {len(dead)} that do not hold" if dead else "references: all hold")
    for line in dead:
        print("    " + line)
    sys.exit(1 if diffs or dead else 0)


if __name__ == "__main__":
    main()
