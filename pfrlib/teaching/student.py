"""Student copies of the notebooks: solution cells become ``# TODO`` stubs.

A notebook marks each worked exercise as a code cell tagged ``solution``. Its leading comment
lines are the exercise text; everything after them is the solution. The code cell right after
it, tagged ``selfcheck``, checks the answer (see :mod:`pfrlib.teaching.selfcheck`)::

    # %% tags=["solution"]
    # Exercise 1. Compute the per-class IoU from the confusion matrix `cm` as `iou_by_hand`.
    tp = cm.diagonal()
    iou_by_hand = tp / (cm.sum(0) + cm.sum(1) - tp)

    # %% tags=["selfcheck"]
    check_close("per-class IoU", iou_by_hand, metrics.iou(cm))

:func:`student_notebook` keeps the comment lines and replaces the solution by a ``# TODO``
stub that still defines the answers the self-check reads (names assigned by the solution and
used by the next cell), as ``...``::

    # Exercise 1. Compute the per-class IoU from the confusion matrix `cm` as `iou_by_hand`.
    # TODO: your solution here
    iou_by_hand = ...

so the student copy runs from top to bottom, and each self-check says "not answered yet" until
the student fills the stub in. The exercise text ends at the first blank or code line: a comment
that explains the solution goes after a blank line and never reaches the stub.

A student copy is safe to run from ``student/``: its parameters cell writes runs and figures under
``student/runs`` and ``student/figures`` (ignored by git), never over ``figures/`` or the series'
``runs/``, and the commands of its "What to try" section name the student copy. Every output is cleared (students run the notebook themselves). ``make student`` (this module's
CLI) writes the copies to ``student/``; ``--check`` (run by the tests) fails if the committed
copies are not what the current notebooks generate.
"""

from __future__ import annotations

import argparse
import ast
import copy
import sys
from pathlib import Path
from typing import Optional

import nbformat

__all__ = ["SOLUTION_TAG", "SELFCHECK_TAG", "TODO_LINE", "student_notebook", "solution_cells", "answer_names",
           "write_student_copies", "exercise_text", "STUDENT_OUTPUTS", "STUDENT_COMMANDS", "SERIES_GLOB",
           "series_notebooks", "main"]

#: The series, relative to the repository root: the numbered notebooks (the Makefile's NOTEBOOKS
#: says the same in make's own words).
SERIES_GLOB = "notebooks/[0-9][0-9]_*.ipynb"


def series_notebooks(root: Path = Path(".")) -> list[Path]:
    """The notebooks of the series under ``root``, in order (:data:`SERIES_GLOB`)."""
    return sorted(Path(root).glob(SERIES_GLOB))

SOLUTION_TAG = "solution"
SELFCHECK_TAG = "selfcheck"
TODO_LINE = "# TODO: your solution here"


def solution_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of the cells tagged ``solution``."""
    return [i for i, c in enumerate(nb.cells) if SOLUTION_TAG in c.get("metadata", {}).get("tags", [])]


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _assigned(source: str) -> list[str]:
    """Names a cell assigns at top level, in order of first assignment."""
    names: list[str] = []

    def add(target: ast.AST) -> None:
        if isinstance(target, ast.Name) and target.id not in names:
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                add(elt)

    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                add(t)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            add(node.target)
    return names


def _loaded(source: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def answer_names(solution: str, selfcheck: str | None) -> list[str]:
    """The names a solution cell assigns that the following self-check cell reads."""
    if not selfcheck:
        return []
    used = _loaded(selfcheck)
    return [n for n in _assigned(solution) if n in used]


def exercise_text(source: str) -> list[str]:
    """The leading comment lines of a solution cell up to the first blank or code line: the
    exercise as the student reads it (the solution's own comments come after a blank line)."""
    prompt = []
    for line in source.splitlines():
        if not line.startswith("#"):
            break
        prompt.append(line)
    return prompt


def _stub(source: str, answers: list[str] | None = None) -> str:
    prompt = exercise_text(source)
    if not prompt:
        raise ValueError("a solution cell must start with comment lines stating the exercise:\n" + source[:200])
    body = [f"{name} = ..." for name in answers or []] or ["..."]
    return "\n".join(prompt + [TODO_LINE, *body])


# What a student copy writes where: the teacher's notebooks write to ../runs and ../figures (from
# notebooks/); a student copy, run from student/, writes to runs/ and figures/ under student/.
STUDENT_OUTPUTS = {
    '"../runs/': '"runs/',
    "figures_dir = None  # None: ../figures (../runs/smoke/figures in smoke mode)":
        'figures_dir = "figures"  # student/figures: never over the committed figures',
    "runs_dir = None  # the series' run directory; None: ../runs/series (smoke: ../runs/smoke/series)":
        'runs_dir = "runs/series"  # the series\' shared runs, under student/runs',
}
# "What to try" commands name the notebook they run: in a student copy, the student copy.
STUDENT_COMMANDS = {"--cwd notebooks notebooks/": "--cwd student student/", " ../runs/": " runs/"}


def _replace_all(text: str, table: dict[str, str]) -> str:
    for old, new in table.items():
        text = text.replace(old, new)
    return text


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solution cells stubbed, all outputs, execution counts and widget states
    cleared and cell metadata reduced to the tags (so the copy does not change when the notebook is
    re-run);
    its outputs go under ``student/`` (:data:`STUDENT_OUTPUTS`) and its "What to try" commands
    name the student copy (:data:`STUDENT_COMMANDS`)."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type == "code" and "parameters" in _tags(cell):
            cell.source = _replace_all(cell.source, STUDENT_OUTPUTS)
        elif cell.cell_type == "markdown":
            cell.source = _replace_all(cell.source, STUDENT_COMMANDS)
    code = [c for c in out.cells if c.cell_type == "code"]
    for k, cell in enumerate(code):
        tags = _tags(cell)
        if SOLUTION_TAG in tags:
            following = code[k + 1] if k + 1 < len(code) and SELFCHECK_TAG in _tags(code[k + 1]) else None
            cell.source = _stub(cell.source, answer_names(cell.source, following.source if following else None))
            tags = [t for t in tags if t != SOLUTION_TAG] + ["exercise"]
        tags = [t for t in tags if not t.startswith("nbval")]
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
    for cell in out.cells:  # keep only the tags: execution times etc. change on every run
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
    for cell in code:
        cell.outputs = []
        cell.execution_count = None
    out.metadata.pop("papermill", None)
    out.metadata.pop("widgets", None)  # the cleared outputs' widget states (new ids on every run)
    return out


def _render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def write_student_copies(notebooks: list[Path], out_dir: Path, check: bool = False) -> list[str]:
    """Write (or, with ``check``, compare) the student copy of each notebook that has solutions.

    Returns the names of stale or missing copies when checking (empty = up to date).
    """
    problems = []
    expected = set()
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        if not solution_cells(nb):
            continue
        target = out_dir / path.name
        expected.add(target.name)
        text = _render(student_notebook(nb))
        if check:
            if not target.exists() or target.read_text() != text:
                problems.append(f"{target} is missing or stale: run `make student`")
        else:
            out_dir.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    if check and out_dir.exists():
        problems += [f"{p} has no notebook with solutions any more" for p in out_dir.glob("*.ipynb") if p.name not in expected]
    return problems


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pfrlib.teaching.student", description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", help=f"notebooks (default: {SERIES_GLOB})")
    p.add_argument("--out", default="student", help="output folder (default: student)")
    p.add_argument("--check", action="store_true", help="fail if the copies in --out are stale")
    args = p.parse_args(argv)
    paths = [Path(n) for n in args.notebooks] or series_notebooks()
    problems = write_student_copies(paths, Path(args.out), check=args.check)
    for line in problems:
        print(line)
    if not args.check:
        print(f"wrote student copies to {args.out}/")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
