"""pfrlib imports downward only, with no cycle, checked on every import statement.

The layers are defined once, in ``pyproject.toml`` (``[[tool.pfrlib.layers]]``, lowest first).
Every ``import`` / ``from ... import`` in ``pfrlib`` is parsed with ``ast`` (those inside
functions included, relative imports resolved), so an import moved into a function to dodge a
cycle is still seen. The rules:

* every module belongs to a layer, and imports nothing of a later layer;
* no chain of imports leads from a module back to itself;
* an import inside a function is kept only for an optional dependency (one that
  ``[project].dependencies`` does not list, e.g. pandas, nbformat, IPython) and carries a comment
  on its line or the line before saying why; pfrlib modules, the standard library and the
  required dependencies are imported at the top of the module.

A fresh interpreter then imports the modules of each layer and those below it and checks that
nothing of a later layer got loaded (what really happens at import time, package ``__init__``
files included). And one module per idea: none longer than ``[tool.pfrlib] max-module-lines``.

The tests mirror the package: ``pfrlib/<folder>/<module>.py`` is tested in
``tests/<folder>/test_<module>.py`` (a package ``__init__`` with content in
``tests/<folder>/test_<folder>.py``), or the module is listed in ``COVERED_ELSEWHERE`` with the test
file that covers it and why; that list only shrinks.
"""

from __future__ import annotations

import ast
import importlib.metadata
import io
import json
import os
import re
import subprocess
import sys
import tokenize
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "pfrlib"

# --------------------------------------------------------------------------------------------
# TEMPORARY, emptied by the coordinator when issue 20 is integrated. Known violations in modules
# that other helpers are restructuring at the same time (issue 20, item 4 "no import cycle at any
# level"). Key: (importing module, imported module); value: who removes it. An entry that no
# longer matches anything fails the test, so the list can only shrink.
# --------------------------------------------------------------------------------------------
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
}

# TEMPORARY as well: layer entries in pyproject.toml for modules that other helpers are creating
# in issue 20 (COMMON.md's shared interfaces); each must exist once their branches are merged.
PLANNED_MODULES: dict[str, str] = {
}


# TEMPORARY as well: modules over [tool.pfrlib] max-module-lines that their owners are splitting
# (issue 20, item 5).
OVERSIZED_MODULES: dict[str, str] = {
}

# --------------------------------------------------------------------------------------------
# The layers and the modules
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    index: int
    name: str
    entries: tuple[str, ...]


@lru_cache(maxsize=None)
def layers() -> tuple[Layer, ...]:
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pfrlib"]["layers"]
    return tuple(Layer(i, t["name"], tuple(t["modules"])) for i, t in enumerate(table))


def layer_of(module: str) -> Layer | None:
    """The layer of the most specific entry naming ``module`` or a package above it."""
    best: tuple[int, Layer] | None = None
    for layer in layers():
        for entry in layer.entries:
            if module == entry or (entry != PACKAGE and module.startswith(entry + ".")):
                if best is None or len(entry) > best[0]:
                    best = (len(entry), layer)
    return best[1] if best else None


@lru_cache(maxsize=None)
def modules() -> dict[str, Path]:
    """Every pfrlib module name -> its file (a package is its ``__init__.py``)."""
    found = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


# --------------------------------------------------------------------------------------------
# Every import statement
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Import:
    importer: str  # the pfrlib module holding the statement
    target: str  # the imported module (a pfrlib submodule when the name is one)
    path: Path
    line: int
    end_line: int
    in_function: bool

    @property
    def internal(self) -> bool:
        return self.target == PACKAGE or self.target.startswith(PACKAGE + ".")

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _resolve_from(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports_of(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    known = modules()
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = _resolve_from(module, path.name == "__init__.py", child)
                # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one
                targets = sorted({f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in child.names})
            else:
                visit(child, inside)
                continue
            for target in targets:
                found.append(Import(module, target, path, child.lineno, child.end_lineno or child.lineno, in_function))
    visit(tree, False)
    return found


@lru_cache(maxsize=None)
def all_imports() -> tuple[Import, ...]:
    return tuple(imp for module, path in modules().items() for imp in _imports_of(module, path))


def _known(imp: Import) -> bool:
    return (imp.importer, imp.target) in KNOWN_VIOLATIONS


#: Modules whose import is deferred into the function that needs them, for what importing them
#: costs every process (with a comment at the import saying so).
DEFERRED_IMPORTS: dict[str, str] = {
    "torchvision": "loads torch._dynamo: about 1.5 s of CPU in every process, which one that never resizes "
                   "an image or builds a torchvision network should not pay",
    "pfrlib.data.augment": "the torchvision steps of the transforms",
}


def _deferred(imp: Import) -> bool:
    return any(imp.target == m or imp.target.startswith(m + ".") for m in DEFERRED_IMPORTS)


# --------------------------------------------------------------------------------------------
# The external dependencies: standard library, required (pyproject), optional (anything else)
# --------------------------------------------------------------------------------------------
def _normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


@lru_cache(maxsize=None)
def required_distributions() -> frozenset[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return frozenset(_normalise(re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0]) for d in deps)


@lru_cache(maxsize=None)
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def dependency_kind(module: str) -> str:
    """``"stdlib"``, ``"required"`` or ``"optional"`` for an external module name."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return "stdlib"
    distributions = _distributions().get(top, [top])
    return "required" if any(_normalise(d) in required_distributions() for d in distributions) else "optional"


@lru_cache(maxsize=None)
def _comments(path: Path) -> dict[int, tuple[str, bool]]:
    """Line -> (the text of its comment with markers such as ``noqa: X`` removed, whether the
    comment is the whole line)."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type == tokenize.COMMENT:
            text = re.sub(r"noqa(:\s*[A-Z]+[0-9]+(,\s*[A-Z]+[0-9]+)*)?|type:\s*ignore(\[[^\]]*\])?", "", tok.string)
            out[tok.start[0]] = (text.strip("# \t-:;,."), not tok.line[: tok.start[1]].strip())
    return out


def _says_why(imp: Import) -> bool:
    """A comment on one of the statement's lines, or a comment line right above it, says something."""
    comments = _comments(imp.path)
    text_above, whole_line = comments.get(imp.line - 1, ("", False))
    on_its_lines = [comments.get(line, ("", False))[0] for line in range(imp.line, imp.end_line + 1)]
    return bool(text_above and whole_line) or any(on_its_lines)


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------
def test_every_module_has_a_layer():
    missing = [m for m in modules() if layer_of(m) is None]
    assert not missing, (f"modules in no layer: {missing}; add each to [[tool.pfrlib.layers]] in pyproject.toml")


def test_every_layer_entry_is_a_module():
    entries = [e for layer in layers() for e in layer.entries]
    assert len(entries) == len(set(entries)), "a module is listed in two layers"
    unknown = [e for e in entries if e not in modules() and e not in PLANNED_MODULES]
    assert not unknown, f"layer entries naming no pfrlib module: {unknown}"
    created = [e for e in PLANNED_MODULES if e in modules()]
    assert not created, f"{created} exist now: remove them from PLANNED_MODULES in {Path(__file__).name}"


def test_imports_point_downward():
    bad = []
    for imp in all_imports():
        if not imp.internal or _known(imp):
            continue
        own = layer_of(imp.importer)
        # importing pfrlib.a.b also runs the __init__ of every package above it
        parts = imp.target.split(".")
        for target in [".".join(parts[:i]) for i in range(1, len(parts) + 1)]:
            theirs = layer_of(target)
            if own and theirs and theirs.index > own.index:
                bad.append(f"{imp.where}: {imp.importer} ({own.name}) imports {target} ({theirs.name})")
    assert not bad, "imports of a higher layer:\n" + "\n".join(bad)


def test_no_module_is_longer_than_the_limit():
    limit = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pfrlib"]["max-module-lines"]
    lengths = {m: len(path.read_text().splitlines()) for m, path in modules().items()}
    too_long = [f"{modules()[m].relative_to(ROOT)}: {n} lines" for m, n in lengths.items()
                if n > limit and m not in OVERSIZED_MODULES]
    assert not too_long, f"modules over {limit} lines (split them along their ideas):\n" + "\n".join(too_long)
    fine = [m for m in OVERSIZED_MODULES if lengths.get(m, 0) <= limit]
    assert not fine, f"{fine} fit in {limit} lines now: remove them from OVERSIZED_MODULES in {Path(__file__).name}"

def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles of ``graph`` until none is left, each found and then cut at its last edge."""
    graph = {k: set(v) for k, v in graph.items()}
    found = []
    while (cycle := _cycle(graph)) is not None:
        found.append(cycle)
        graph[cycle[-2]].discard(cycle[-1])
    return found


def test_no_import_cycle():
    graph: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], str] = {}
    for imp in all_imports():
        if imp.internal and imp.target in modules() and imp.target != imp.importer and not _known(imp):
            graph.setdefault(imp.importer, set()).add(imp.target)
            lines.setdefault((imp.importer, imp.target), imp.where)
    report = ["import cycle: " + " -> ".join(c)
              + "".join(f"\n  {lines[a, b]}: {a} imports {b}" for a, b in zip(c, c[1:])) for c in _cycles(graph)]
    assert not report, "\n".join(report)


def test_function_level_imports_only_for_optional_dependencies():
    bad = []
    for imp in all_imports():
        if not imp.in_function or _known(imp):
            continue
        if _deferred(imp):
            if not _says_why(imp):
                bad.append(f"{imp.where}: {imp.target} deferred into a function without a comment saying why")
            continue
        if imp.internal:
            bad.append(f"{imp.where}: {imp.target} imported inside a function; import it at the top of the module")
            continue
        kind = dependency_kind(imp.target)
        if kind != "optional":
            what = "standard library" if kind == "stdlib" else "a required dependency"
            bad.append(f"{imp.where}: {imp.target} ({what}) imported inside a function; import it at the top")
        elif not _says_why(imp):
            bad.append(f"{imp.where}: optional {imp.target} imported inside a function without a comment saying why")
    assert not bad, "\n".join(bad)


def test_known_violations_are_still_there():
    """The temporary list only shrinks: an entry nothing matches any more must be removed."""
    seen = {(imp.importer, imp.target) for imp in all_imports()}
    stale = [f"{k}: {v}" for k, v in KNOWN_VIOLATIONS.items() if k not in seen]
    assert not stale, f"remove from KNOWN_VIOLATIONS in {Path(__file__).name}:\n" + "\n".join(stale)


def test_the_checks_see_function_level_imports_and_cycles(tmp_path):
    """The parser itself: an import inside a function and a relative import are found and resolved."""
    src = tmp_path / "x.py"
    src.write_text("from .a import b\n\ndef f():\n    # pandas: only the tables need it\n    import pandas\n"
                   "    from ..data import labels  # noqa: PLC0415\n    import pandas as pd\n")
    got = _imports_of("pfrlib.viz.x", src)
    assert [(i.target, i.in_function, i.line) for i in got] == [
        ("pfrlib.viz.a", False, 1), ("pandas", True, 5), ("pfrlib.data.labels", True, 6), ("pandas", True, 7)]
    # a comment line above or a comment on the line says why; a bare noqa or another line's comment does not
    assert _says_why(got[1]) and not _says_why(got[0]) and not _says_why(got[2]) and not _says_why(got[3])
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None
    assert _cycles({"a": {"b"}, "b": {"a", "c"}, "c": {"b"}}) == [["a", "b", "a"], ["b", "c", "b"]]
    assert dependency_kind("json") == "stdlib" and dependency_kind("torch.nn") == "required"
    assert dependency_kind("pandas") == "optional" and dependency_kind("PIL.Image") == "required"


# --------------------------------------------------------------------------------------------
# What a fresh interpreter really loads
# --------------------------------------------------------------------------------------------
_PROBE = """
import importlib, json, sys
loaded = []
for names in json.loads(sys.argv[1]):
    for m in [m for m in sys.modules if m == "pfrlib" or m.startswith("pfrlib.")]:
        del sys.modules[m]
    for name in names:
        importlib.import_module(name)
    loaded.append(sorted(m for m in sys.modules if m == "pfrlib" or m.startswith("pfrlib.")))
print(json.dumps(loaded))
"""


def test_a_fresh_interpreter_loads_no_higher_layer():
    """All modules of the layers up to each one, imported together into an interpreter with no pfrlib
    module loaded (package ``__init__`` files and any dynamic import included), load nothing above it."""
    upto = [[m for m in sorted(modules()) if layer_of(m) and layer_of(m).index <= layer.index]
            for layer in layers()[:-1]]
    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(upto)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "MPLBACKEND": "Agg"})
    assert out.returncode == 0, out.stderr[-3000:]
    bad = [f"importing the {layer.name} layer and those below it loads {m} ({layer_of(m).name})"
           for layer, loaded in zip(layers(), json.loads(out.stdout)) for m in loaded
           if layer_of(m) and layer_of(m).index > layer.index]
    assert not bad, "\n".join(bad)


def test_a_cpu_run_does_not_import_the_deferred_modules():
    """The entry points, the engine, the launcher and the notebook helpers, and a training
    transform with no step to run, leave :data:`DEFERRED_IMPORTS` unloaded."""
    probe = ("import json, sys\n"
             "import pfrlib.train, pfrlib.evaluate, pfrlib.sweep, pfrlib.engine.trainer, pfrlib.launch.launcher\n"
             "import pfrlib.teaching.nbtools, pfrlib.models\n"
             "from pfrlib.data.transforms import EvalTransform, TrainTransform\n"
             "import torch\n"
             "TrainTransform(hflip=False)(torch.zeros(3, 4, 4, dtype=torch.uint8), torch.zeros(4, 4, dtype=torch.long))\n"
             "EvalTransform()(torch.zeros(3, 4, 4, dtype=torch.uint8), torch.zeros(4, 4, dtype=torch.long))\n"
             "print(json.dumps(sorted(m for m in sys.modules if m in json.loads(sys.argv[1]))))\n")
    out = subprocess.run([sys.executable, "-c", probe, json.dumps(list(DEFERRED_IMPORTS))], capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "MPLBACKEND": "Agg"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout) == []


def test_the_trainer_only_runs_the_loop():
    """``Trainer`` runs the loop (step, log, validate, checkpoint calls) and declares the hooks a
    method's trainer overrides, in at most 280 lines; the run-directory policy lives in
    pfrlib.engine.rundir, the parts of a run in pfrlib.engine.setup."""
    tree = ast.parse((ROOT / PACKAGE / "engine" / "trainer.py").read_text())
    trainer = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Trainer")
    assert trainer.end_lineno - trainer.lineno + 1 <= 280


# --------------------------------------------------------------------------------------------
# The tree is the architecture
# --------------------------------------------------------------------------------------------
#: What may stand at the top of pfrlib/: the package, the file helpers, the command-line entry points.
TOP_LEVEL = {"__init__", "io", "train", "evaluate", "sweep", "reproduce"}
ENTRY_POINTS = ("train", "evaluate", "sweep", "reproduce")
ENTRY_POINT_MAX_LINES = 80


def test_the_layer_table_names_folders():
    """Every layer entry is a folder of pfrlib (a package), except the package's own ``__init__``,
    ``pfrlib.io`` and the entry points; every folder of pfrlib is in the table."""
    loose = {"pfrlib", "pfrlib.io"} | {f"pfrlib.{e}" for e in ENTRY_POINTS}
    entries = [e for layer in layers() for e in layer.entries]
    not_folders = [e for e in entries if e not in loose and not (ROOT / Path(*e.split(".")) / "__init__.py").is_file()]
    assert not not_folders, f"layer entries that are not folders of pfrlib: {not_folders}"
    folders = {f"pfrlib.{d.name}" for d in (ROOT / PACKAGE).iterdir() if (d / "__init__.py").is_file()}
    assert folders <= set(entries), f"folders of pfrlib in no layer: {sorted(folders - set(entries))}"


def test_the_top_of_pfrlib_holds_only_the_package_io_and_the_entry_points():
    top = {p.stem for p in (ROOT / PACKAGE).glob("*.py")}
    assert top <= TOP_LEVEL, f"modules at the top of pfrlib/ beyond {sorted(TOP_LEVEL)}: {sorted(top - TOP_LEVEL)}"
    for name in ENTRY_POINTS:
        path = ROOT / PACKAGE / f"{name}.py"
        n = len(path.read_text().splitlines())
        assert n <= ENTRY_POINT_MAX_LINES, f"{path.relative_to(ROOT)}: {n} lines (an entry point parses and calls)"
        assert 'if __name__ == "__main__":' in path.read_text(), f"python -m pfrlib.{name} must run"


def test_network_step_takes_at_most_eight_parameters():
    """The batch, the networks, the optimiser, Eq. (6)'s weights and one object of a method's extras."""
    tree = ast.parse((ROOT / PACKAGE / "paper" / "step.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "network_step")
    a = fn.args
    count = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
    assert count <= 8, f"network_step takes {count} parameters"


def _public_reexports() -> dict[str, str]:
    """The names the README promises at ``pfrlib``'s top, read from ``pfrlib.PUBLIC``."""
    import pfrlib

    return dict(pfrlib.PUBLIC)


def _defined_names(module: str) -> tuple[set[str], dict[str, tuple[str, str]]]:
    """Names a module defines at its top level, and the pfrlib names it imports (alias -> (module, name))."""
    path = modules()[module]
    tree = ast.parse(path.read_text())
    defined: set[str] = set()
    imported: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        for n in ([node] if not isinstance(node, (ast.If, ast.Try)) else list(ast.walk(node))):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(n.name)
            elif isinstance(n, ast.Assign):
                defined.update(x.id for t in n.targets for x in ast.walk(t) if isinstance(x, ast.Name))
            elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
                defined.add(n.target.id)
            elif isinstance(n, ast.ImportFrom):
                base = _resolve_from(module, path.name == "__init__.py", n)
                for a in n.names:
                    imported[a.asname or a.name] = (base, a.name)
    return defined, imported


def _python_files_outside_pfrlib() -> list[Path]:
    files = [p for d in ("tests", "benchmarks", "notebooks") for p in (ROOT / d).rglob("*.py")]
    return files + [p for p in (ROOT / PACKAGE).rglob("*.py")]


def test_every_name_is_imported_from_the_module_that_defines_it():
    """No facades: ``from M import name`` names the module that defines ``name`` (or a submodule
    of M), in pfrlib, the tests, the benchmarks and the notebooks; ``pfrlib.PUBLIC`` lists the
    only re-exports, the names the README promises."""
    known = modules()
    public = _public_reexports()
    bad = []
    for path in _python_files_outside_pfrlib():
        rel = path.relative_to(ROOT)
        parts = rel.with_suffix("").parts
        importer = ".".join(parts[:-1] if parts[-1] == "__init__" else parts) if parts[0] == PACKAGE else None
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = _resolve_from(importer, path.name == "__init__.py", node) if importer else (node.module or "")
            if base not in known:
                continue
            defined, imported = _defined_names(base)
            for a in node.names:
                if f"{base}.{a.name}" in known or a.name in defined:
                    continue
                if base == PACKAGE and a.name in public:
                    continue
                where = f"from {imported[a.name][0]}" if a.name in imported else "nowhere"
                bad.append(f"{rel}:{node.lineno}: {a.name} from {base}, defined {where}")
    assert not bad, "names imported through a re-export:\n" + "\n".join(bad)


def test_the_public_names_import_and_are_the_defining_modules_objects():
    import importlib

    import pfrlib

    for name, module in pfrlib.PUBLIC.items():
        assert getattr(pfrlib, name) is getattr(importlib.import_module(module), name), name
    assert set(pfrlib.__all__) == set(pfrlib.PUBLIC)


def test_the_readme_promises_exactly_the_public_names():
    import pfrlib

    readme = (ROOT / "README.md").read_text()
    line = next(l for l in readme.splitlines() if l.startswith("`from pfrlib import "))
    promised = {n.strip() for n in line.split("import", 1)[1].split("`")[0].split(",")}
    assert promised == set(pfrlib.PUBLIC), f"README promises {sorted(promised)}, pfrlib.PUBLIC has {sorted(pfrlib.PUBLIC)}"


# --------------------------------------------------------------------------------------------
# The tests mirror the package
# --------------------------------------------------------------------------------------------
TESTS = ROOT / "tests"

#: pfrlib modules whose tests live in another file than ``tests/<folder>/test_<module>.py``, each
#: with that file and why. Every entry must name a module that exists, a test file that exists, and a
#: module that has no mirrored test file of its own yet: the list can only shrink (give a module its
#: own file, and the test says to remove it here).
COVERED_ELSEWHERE: dict[str, str] = {
    # the package and its entry points
    "pfrlib": "tests/test_layout.py: pfrlib.PUBLIC, the re-exports the README promises, is tested with the layout",
    "pfrlib.train": "tests/engine/test_trainer.py: python -m pfrlib.train's main (exit codes, one-line errors, torchrun) is tested with the trainer it runs",
    "pfrlib.evaluate": "tests/evaluation/test_evaluate.py: python -m pfrlib.evaluate's main is tested with the evaluation it runs",
    "pfrlib.sweep": "tests/launch/test_sweep.py: python -m pfrlib.sweep's main is tested with the sweep it runs",
    "pfrlib.reproduce": "tests/teaching/test_notebooks.py: make reproduce's driver runs notebooks; tested with them",
    # config
    "pfrlib.config": "tests/config/test_train_config.py: the package's method lists (METHODS, ALL_METHODS) are read through TrainConfig",
    "pfrlib.config.sections": "tests/config/test_train_config.py: the sections, through the TrainConfig that composes them",
    # data
    "pfrlib.data.cityscapes_results": "tests/evaluation/test_evaluate.py: the benchmark-format predictions of --save-results, scored by the official evaluator",
    "pfrlib.data.convert_labels": "tests/data/test_folder.py: the converter is the folder dataset's answer to Cityscapes label ids (also tests/data/test_releases.py)",
    "pfrlib.data.streams": "tests/data/test_transforms.py: the seeded stream a resumed run replays draws the same image scales",
    "pfrlib.data.synthstreets.dataset": "tests/data/synthstreets/test_synthstreets.py: SynthStreets tested as one dataset",
    "pfrlib.data.synthstreets.layout": "tests/data/synthstreets/test_synthstreets.py: SynthStreets tested as one dataset",
    "pfrlib.data.synthstreets.rendering": "tests/data/synthstreets/test_synthstreets.py: SynthStreets tested as one dataset",
    "pfrlib.data.synthstreets.shift": "tests/data/synthstreets/test_synthstreets.py: SynthStreets tested as one dataset",
    "pfrlib.data.synthstreets.styles": "tests/data/synthstreets/test_synthstreets.py: SynthStreets tested as one dataset",
    "pfrlib.data.synthstreets.layout19": "tests/data/synthstreets/test_synthstreets19.py: SynthStreets-19 tested as one dataset",
    "pfrlib.data.synthstreets.things19": "tests/data/synthstreets/test_synthstreets19.py: SynthStreets-19 tested as one dataset",
    "pfrlib.data.synthstreets.shares": "tests/data/synthstreets/test_synthstreets19.py: the class shares against the published ones",
    # engine
    "pfrlib.engine.dirlock": "tests/launch/test_launcher.py: the folder lock, held by another process (also tests/engine/test_rundir.py's second writer)",
    "pfrlib.engine.distributed": "tests/engine/test_trainer.py: DDP and torchrun runs",
    "pfrlib.engine.scoring": "tests/evaluation/test_evaluate.py: confusion matrix and mIoU of a known model",
    "pfrlib.engine.setup": "tests/engine/test_trainer.py: the parts of a run, built by every run the trainer's tests start",
    "pfrlib.engine.watchdog": "tests/engine/test_trainer.py: the NaN guard naming the term (FiniteCheck also in tests/paper/test_step.py)",
    "pfrlib.data.augment": "tests/data/test_transforms.py: the steps, through TrainTransform and EvalTransform",
    "pfrlib.engine.two_stage.domainness": "tests/methods/translation/test_translation.py: DLOW's domainness, with the input-space methods' runs",
    "pfrlib.engine.two_stage.mean_teacher": "tests/methods/translation/test_translation.py: TGCF-DA's stage 2, with the input-space methods' runs",
    "pfrlib.engine.two_stage.run": "tests/methods/translation/test_translation.py: the two-stage runs of the input-space methods",
    "pfrlib.engine.two_stage.self_training": "tests/methods/beyond/test_self_training.py: the rounds of self-training, with the method's thresholds and pseudo-labels",
    "pfrlib.engine.two_stage.stage1": "tests/methods/translation/test_translation.py: stage 1 (the translator), with the input-space methods' runs",
    # launch
    "pfrlib.launch.local": "tests/launch/test_launcher.py: the local backend, through launch()",
    "pfrlib.launch.slurm_run": "tests/launch/test_slurm_cluster.py: the job script's attempts, on a real cluster",
    "pfrlib.launch.sweep_report": "tests/launch/test_sweep.py: aggregation, tested on the sweeps it reports",
    "pfrlib.launch.sweep_spec": "tests/launch/test_sweep.py: the spec, expanded and checked, tested with the sweep that reads it",
    # methods
    "pfrlib.methods": "tests/methods/test_registry.py: the package's __init__ is the method registry",
    "pfrlib.methods.beyond.entropy": "tests/methods/beyond/test_minent.py: the entropy maps, by hand with the method that uses each (self-information: test_advent.py, Charbonnier: test_fda.py)",
    "pfrlib.methods.translation.translator": "tests/methods/translation/test_translation.py: the translator, in the runs section",
    # models
    "pfrlib.models.two_classifier": "tests/methods/baselines/test_clan.py: CLAN's two-classifier network, with CLAN",
    # teaching
    "pfrlib.teaching.hidden": "tests/teaching/test_assignments.py: the hidden tests, run inside the grading copies they are written into",
    "pfrlib.teaching.reproduce": "tests/teaching/test_notebooks.py: make reproduce's driver, run on notebooks",
    "pfrlib.teaching.selfcheck": "tests/teaching/test_notebooks.py: the worked exercises pass their self-checks",
    # viz
    "pfrlib.viz.features": "tests/viz/test_figure_layout.py: every pfrlib.viz figure drawn and checked for overlaps",
    "pfrlib.viz.figure": "tests/viz/test_figure_layout.py: every pfrlib.viz figure drawn and checked for overlaps",
    "pfrlib.viz.scenes": "tests/viz/test_figure_layout.py: every pfrlib.viz figure drawn (prediction grid also in tests/viz/test_results.py)",
}


def _has_content(init: Path) -> bool:
    """A package ``__init__`` that defines something (more than a docstring, imports and ``__all__``)."""
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            continue
        return True
    return False


def mirrored_test_file(module: str) -> Path | None:
    """``tests/<folder>/test_<module>.py`` for a module, ``tests/<folder>/test_<folder>.py`` for a package
    whose ``__init__`` has content (``tests/test_pfrlib.py`` for pfrlib itself); None for an empty ``__init__``."""
    path = modules()[module]
    parts = module.split(".")[1:]
    if path.name == "__init__.py":
        if not _has_content(path):
            return None
        return TESTS.joinpath(*parts, f"test_{parts[-1] if parts else PACKAGE}.py")
    return TESTS.joinpath(*parts[:-1], f"test_{parts[-1]}.py")


def test_every_module_has_its_test_file_or_says_where_it_is_tested():
    missing = [f"{m}: {f.relative_to(ROOT)}" for m in sorted(modules())
               if (f := mirrored_test_file(m)) is not None and not f.is_file() and m not in COVERED_ELSEWHERE]
    assert not missing, ("modules without their test file (write it, or add the module to COVERED_ELSEWHERE in "
                         f"{Path(__file__).name} with the file that tests it and why):\n" + "\n".join(missing))


def test_covered_elsewhere_only_shrinks():
    bad = []
    for module, where in COVERED_ELSEWHERE.items():
        file, _, why = where.partition(": ")
        if module not in modules():
            bad.append(f"{module}: no such pfrlib module")
            continue
        if not (file.startswith("tests/") and (ROOT / file).is_file()):
            bad.append(f"{module}: {file!r} is not a test file (expected 'tests/...py: why')")
        if not why.strip():
            bad.append(f"{module}: say why it is tested in {file}")
        own = mirrored_test_file(module)
        if own is None or own.is_file():
            bad.append(f"{module}: has {'no content to test' if own is None else own.relative_to(ROOT)}; remove it from COVERED_ELSEWHERE")
    assert not bad, "\n".join(bad)


def test_every_test_folder_is_a_package_that_shadows_nothing():
    """``tests/<folder>/__init__.py`` makes its tests ``<folder>.test_x`` (tests/ itself is on sys.path, so the
    helpers next to conftest.py import by name): a folder must not take the name of a module tests import."""
    folders = [d for d in TESTS.rglob("*") if d.is_dir() and d.name != "__pycache__" and not d.name.startswith(".")]
    no_init = [str(d.relative_to(ROOT)) for d in folders if not (d / "__init__.py").is_file()]
    assert not no_init, f"test folders without __init__.py: {no_init}"
    assert not (TESTS / "__init__.py").exists(), "tests/ must stay a plain folder (its helpers import by name)"
    top = [d.name for d in folders if d.parent == TESTS]
    shadowing = [n for n in top if n in sys.stdlib_module_names or n in _distributions() or n == PACKAGE]
    assert not shadowing, f"test folders named like a module that can be imported: {shadowing}"
