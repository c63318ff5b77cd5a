"""The house plan (../shared/DESIGN.md): the runtime path never imports ``vidcolor.training`` or ``vidcolor.metrics``.

Each import check runs in a fresh interpreter, so that what other tests imported does not count. And every Sphinx
cross-reference in the package's docstrings names something (:func:`broken_references`), so that moving or renaming
a name cannot leave them pointing at nothing.
"""
from __future__ import annotations

import ast
import builtins
import functools
import importlib.util
import json
import pathlib
import re
import subprocess
import sys

import pytest

RUNTIME = ["vidcolor.api", "vidcolor.cli", "vidcolor.pipeline", "vidcolor.reference", "vidcolor.internal", "vidcolor.io",
           "vidcolor.quantizer.tracker", "vidcolor.temporal", "vidcolor.color", "vidcolor.weights"]
OFF_LIMITS = ("vidcolor.training", "vidcolor.metrics")


def loaded_after(code: str) -> list[str]:
    """The ``vidcolor.training`` / ``vidcolor.metrics`` modules loaded after running ``code`` in a new interpreter."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({OFF_LIMITS!r}))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_runtime_modules_import_no_training_or_metrics():
    assert loaded_after("\n".join(f"import {m}" for m in RUNTIME)) == []


def test_the_check_sees_a_training_import():
    # the probe itself works: importing the training jobs (what `vidcolor train` does) is seen
    assert "vidcolor.training.loop" in loaded_after("import vidcolor.jobs\nvidcolor.jobs.training_loop('dequantize')")


def test_cli_commands_other_than_train_import_no_training():
    # --help builds every command's options; only the body of `train` imports vidcolor.training
    code = ("from click.testing import CliRunner\nfrom vidcolor.cli import main\n"
            "for args in (['--help'], ['dequantize', '--help'], ['colorize', '--help'], ['train', '--help']):\n"
            "    result = CliRunner().invoke(main, args)\n"
            "    assert result.exit_code == 0, (args, result.output)")
    assert loaded_after(code) == []


def test_internal_reference_mode_trains_without_the_training_package():
    # the two-image GAN is trained at run time: vidcolor.internal, not vidcolor.training
    code = ("import numpy as np\nfrom vidcolor.internal import TwoImageSettings\n"
            "from vidcolor.reference import InternalColorizer\n"
            "rng = np.random.default_rng(0)\n"
            "ref, frames = rng.integers(0, 256, (24, 32, 3), np.uint8), rng.integers(0, 256, (1, 24, 32, 3), np.uint8)\n"
            "job = InternalColorizer([ref], 'cpu', TwoImageSettings(iters=1, size=32, width=4), progress=False)\n"
            "assert job(frames).shape == frames.shape and job.model is not None")
    assert loaded_after(code) == []


def test_the_package_exports_the_api_lazily():
    """``import vidcolor; vidcolor.dequantize(...)``: the package gives :mod:`vidcolor.api`'s public names (its
    ``__all__``), and only imports it when one is used: ``import vidcolor`` alone loads neither the api nor torch."""
    code = ("import json, sys\nimport vidcolor\n"
            "before = sorted(m for m in sys.modules if m == 'torch' or m.startswith('vidcolor.'))\n"
            "import vidcolor.api\n"
            "names = {n: getattr(vidcolor, n) is getattr(vidcolor.api, n) for n in vidcolor.api.__all__}\n"
            "print(json.dumps([before, names, vidcolor.__all__, sorted(vidcolor.api.__all__), "
            "sorted(set(vidcolor.api.__all__) - set(dir(vidcolor)))]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    before, names, exported, api_all, not_listed = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == []                         # nothing but the package itself: no vidcolor.api, no torch
    assert names and all(names.values())
    assert sorted(set(exported) - {"__version__"}) == api_all and not_listed == []


def test_the_package_refuses_an_unknown_name():
    import vidcolor

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        vidcolor.nothing_here


# Sphinx cross-references in docstrings and comments: :func:`name`, :class:`~vidcolor.io.reader.VideoReader`,
# :meth:`title <vidcolor.quantizer.tracker.QuantizerTracker.runs>` (the target in <>), across a line break too
REFERENCE = re.compile(r":(func|class|data|meth|attr|mod|exc|const|obj):`(?:[^`<]*<)?~?([^`<>]*?)>?`")
PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "vidcolor"


def broken_references(package: pathlib.Path) -> list[str]:
    """``"path:line: target"`` for each cross-reference in ``package``'s modules that names nothing.

    A target resolves from the module it is in when its first part is a module-level name of that module (defined
    there or imported into it), the package itself, or a builtin; or, dotted or in :mod:, an installed top-level
    module; or, bare and in a class, a member of that class (as Sphinx reads ``:meth:`project``` there). Each later
    part must be an attribute of what came before: a module-level name or submodule of one of ``package``'s modules,
    or a member of one of its classes (a method, a class attribute, an attribute set on ``self``, or a member of a
    base class).

    The modules are read, not imported (the check takes about a second), except a package that gives names lazily
    through a module-level ``__getattr__`` (PEP 562, ``vidcolor.io.VideoReader``): such a name is got from the
    imported package. Limits, as nothing outside ``package`` is read: past an installed module's name
    (``torch.nn.Module.train``) nothing is checked, nor a member of a class with a base from outside (an
    ``nn.Module``) that the class does not define itself.
    """
    files = {".".join(f.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__"): f
             for f in sorted(package.rglob("*.py"))}
    sources = {module: f.read_text() for module, f in files.items()}
    trees = {module: ast.parse(source) for module, source in sources.items()}
    scopes = {module: module_scope(module, tree, files[module].name == "__init__.py") for module, tree in trees.items()}

    # What a name is: ("module", dotted), ("class", module, node), ("builtin", object), LEAF (a function or a value:
    # no member to check), OUTSIDE (not ours to check), or None: nothing.
    LEAF, OUTSIDE = "leaf", "outside"

    def named(module: str, name: str):
        bound = scopes[module].get(name)
        if bound is None and f"{module}.{name}" in trees:
            return ("module", f"{module}.{name}")
        if bound is None and "__getattr__" in scopes[module]:      # given lazily: ask the package
            value = getattr(importlib.import_module(module), name, None)
            home = getattr(value, "__module__", None)
            return named(home, value.__name__) if home in trees else value is not None and LEAF
        if isinstance(bound, ast.ClassDef):
            return ("class", module, bound)
        if isinstance(bound, tuple):                               # imported: (source module, name or None)
            source, attr = bound
            what = ("module", source) if source in trees else OUTSIDE
            return what if attr is None else member(what, attr)
        return bound and LEAF

    def member(what, name: str):
        if what == OUTSIDE:
            return OUTSIDE
        if what[0] == "module":
            return named(what[1], name)
        if what[0] == "builtin":
            return hasattr(what[1], name) and ("builtin", getattr(what[1], name))
        if what[0] == "class":
            _, module, node = what
            if name in class_members(node):
                return LEAF
            for base in node.bases:                                # a Name or a dotted name in the class's module
                first, *rest = ast.unparse(base).split(".")
                found = named(module, first) if first in scopes[module] else OUTSIDE
                for part in [*rest, name]:
                    found = found and member(found, part)
                if found:
                    return found
        return None

    def resolve(module: str, line: int, role: str, target: str):
        if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", target):
            return None
        first, *rest = target.split(".")
        inside = [c for c in trees[module].body if isinstance(c, ast.ClassDef) and c.lineno <= line <= c.end_lineno]
        if inside and not rest and first in class_members(inside[0]):
            what = LEAF
        elif first in scopes[module] or first == package.name:
            what = named(module, first) if first in scopes[module] else ("module", first)
        elif (rest or role == "mod") and importlib.util.find_spec(first) is not None:
            what = OUTSIDE
        else:
            what = hasattr(builtins, first) and ("builtin", getattr(builtins, first))
        for part in rest:
            what = what and member(what, part)
        return what

    bad = []
    for module, source in sources.items():
        for found in REFERENCE.finditer(source):
            role, target = found.groups()
            line = source.count("\n", 0, found.start()) + 1
            if not resolve(module, line, role, target):
                bad.append(f"{files[module].relative_to(package.parent)}:{line}: {target}")
    return bad


def module_scope(module: str, tree: ast.Module, is_package: bool) -> dict:
    """``module``'s module-level names (in ``if``/``try``/``with`` blocks too): the def or class node,
    ``(source module, name or None)`` for an import, True for any other assignment (which leaves an import of the
    same name as it is, as in ``try: import fcntl`` / ``except ImportError: fcntl = None``)."""
    scope = {}
    statements = list(tree.body)
    while statements:
        node = statements.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope[node.name] = node
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                scope[alias.asname or top] = (alias.name if alias.asname else top, None)
        elif isinstance(node, ast.ImportFrom):
            parts = module.split(".")
            base = parts[: len(parts) - node.level + is_package] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                scope[alias.asname or alias.name] = (source, alias.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        scope.setdefault(name.id, True)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            statements[:0] = [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                              *(s for handler in getattr(node, "handlers", []) for s in handler.body)]
    return scope


@functools.cache
def class_members(node: ast.ClassDef) -> set[str]:
    """The names a class defines: methods, nested classes, class attributes and attributes set on ``self``."""
    names = set()
    for child in node.body:
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(child.name)
        elif isinstance(child, (ast.Assign, ast.AnnAssign)):
            for target in child.targets if isinstance(child, ast.Assign) else [child.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store) and getattr(sub.value, "id", "") == "self":
            names.add(sub.attr)
    return names


def test_every_cross_reference_in_the_package_resolves():
    # after vidcolor/quantizer.py and vidcolor/api.py were split into modules, 85 pointed at names they had left
    assert broken_references(PACKAGE) == []


def test_the_reference_check_sees_broken_ones(tmp_path):
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "shapes.py").write_text(
        "SIDE = 4\n\n\n"
        "class Square:\n"
        '    """Its :attr:`side` and :meth:`area`; not :meth:`perimeter`."""\n\n'
        "    def __init__(self):\n"
        "        self.side = SIDE\n\n"
        "    def area(self):\n"
        "        return self.side ** 2\n")
    (package / "use.py").write_text(
        '"""Resolved: :class:`~planted.shapes.Square`, :meth:`Square.area`, :attr:`planted.shapes.Square.side`,\n'
        ":data:`~planted.shapes.SIDE`, :func:`os.path.join`, :mod:`json`, :exc:`ValueError`, :meth:`str.split`,\n"
        ":meth:`its area <planted.shapes.Square.area>`.\n"
        "Broken: :data:`SIDE` (not imported here), :func:`~planted.shapes.moved`, :meth:`Square.volume`,\n"
        ":mod:`planted.gone`, :exc:`ValueErrors`, :meth:`str.splits`, :func:`json` (a module, bare: not a name here).\n"
        '"""\n'
        "from planted.shapes import Square\n")
    assert broken_references(package) == [
        "planted/shapes.py:5: perimeter",
        "planted/use.py:4: SIDE", "planted/use.py:4: planted.shapes.moved", "planted/use.py:4: Square.volume",
        "planted/use.py:5: planted.gone", "planted/use.py:5: ValueErrors", "planted/use.py:5: str.splits",
        "planted/use.py:5: json"]


BIG_FILE_BYTES = 2 * 1024 * 1024
"""Tracked files above this size must be bundled weights: a 48 MB measurement file (multi.tif) was once committed at
the root by mistake, which every clone would carry."""


def large_tracked_files(root: pathlib.Path) -> list[str]:
    """Files git tracks under ``root`` of more than :data:`BIG_FILE_BYTES`, but the bundled weight files
    (``vidcolor/weights/*.safetensors``)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    names = [n for n in listed.decode().split("\0") if n]
    return sorted(n for n in names if (root / n).is_file() and (root / n).stat().st_size > BIG_FILE_BYTES
                  and not (n.startswith("vidcolor/weights/") and n.endswith(".safetensors")))


def test_no_large_file_is_tracked_but_the_bundled_weights():
    root = pathlib.Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    assert large_tracked_files(root) == []


def test_the_size_check_sees_a_large_file(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "multi.tif").write_bytes(b"\0" * (BIG_FILE_BYTES + 1))
    (tmp_path / "vidcolor" / "weights").mkdir(parents=True)
    (tmp_path / "vidcolor" / "weights" / "model.safetensors").write_bytes(b"\0" * (BIG_FILE_BYTES + 1))
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    assert large_tracked_files(tmp_path) == ["multi.tif"]
