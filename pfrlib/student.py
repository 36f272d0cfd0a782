"""Student copies of the notebooks: solution cells become ``# TODO`` stubs.

A notebook marks each worked exercise as a code cell tagged ``solution``. Its leading comment
lines are the exercise text; everything after them is the solution::

    # %% tags=["solution"]
    # Exercise 1. Shuffle the pixels of only one channel. Does the Gram matrix change?
    g = shuffle_positions(...)
    ...

:func:`student_notebook` keeps the comment lines, replaces the solution by a ``# TODO`` stub
and clears every output (students run the notebook themselves). ``make student`` (this module's
CLI) writes the copies to ``student/``; ``--check`` (run by the tests) fails if the committed
copies are not what the current notebooks generate.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Optional

import nbformat

__all__ = ["SOLUTION_TAG", "TODO_LINE", "student_notebook", "solution_cells", "write_student_copies", "main"]

SOLUTION_TAG = "solution"
TODO_LINE = "# TODO: your solution here"


def solution_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of the cells tagged ``solution``."""
    return [i for i, c in enumerate(nb.cells) if SOLUTION_TAG in c.get("metadata", {}).get("tags", [])]


def _stub(source: str) -> str:
    lines = source.splitlines()
    prompt = []
    for line in lines:
        if line.startswith("#") or not line.strip():
            prompt.append(line)
        else:
            break
    while prompt and not prompt[-1].strip():
        prompt.pop()
    if not prompt:
        raise ValueError("a solution cell must start with comment lines stating the exercise:\n" + source[:200])
    return "\n".join(prompt + [TODO_LINE, "..."])


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solution cells stubbed and all outputs and execution counts cleared."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type != "code":
            continue
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            cell.source = _stub(cell.source)
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != SOLUTION_TAG] + ["exercise"]
        cell.outputs = []
        cell.execution_count = None
    out.metadata.pop("papermill", None)
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
    p = argparse.ArgumentParser(prog="python -m pfrlib.student", description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", help="notebooks (default: notebooks/[0-9][0-9]_*.ipynb)")
    p.add_argument("--out", default="student", help="output folder (default: student)")
    p.add_argument("--check", action="store_true", help="fail if the copies in --out are stale")
    args = p.parse_args(argv)
    paths = [Path(n) for n in args.notebooks] or sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    problems = write_student_copies(paths, Path(args.out), check=args.check)
    for line in problems:
        print(line)
    if not args.check:
        print(f"wrote student copies to {args.out}/")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
