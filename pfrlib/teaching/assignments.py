"""Assignments from the notebooks' exercises, in nbgrader's format: a release copy and a grading copy.

Each exercise of the series is a ``solution`` cell followed by a ``selfcheck`` cell
(:mod:`pfrlib.teaching.student`). From those two cells, and nothing else, :func:`write_assignments` writes
for every notebook

- a **release** copy, what a student opens: the student copy of :func:`pfrlib.teaching.student.student_notebook`
  (solutions replaced by their ``# TODO`` stubs, hints and visible self-checks kept, outputs
  cleared), with no jupytext pairing and no widget state, and nbgrader's cell metadata: the stub is
  a solution cell (``grade_id`` ``exerciseN``), the self-check cell a locked grade cell worth the
  exercise's points (``exerciseN-tests``), the parameters cell locked (``parameters``);
- a **grading** copy, the instructor's: the same cells with the worked solution between
  ``### BEGIN SOLUTION`` / ``### END SOLUTION`` and, in each grade cell after the visible self-check,
  the hidden test between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``: the self-check once
  more inside :func:`pfrlib.teaching.hidden.graded`, which raises on a wrong or missing answer.

So nbgrader's ``generate_assignment`` and ``autograde`` read the grading copy as a source notebook,
and :mod:`pfrlib.teaching.grading` grades with it without nbgrader's database. Points live in one
place: :data:`POINTS`, one entry per exercise; a notebook whose exercises and entries disagree is an
error, not a default.

The release folder (``make assignments``: ``assignments/``, ignored by git) sits one level below the
repository root like ``notebooks/``, so every relative path of the series works there, and it gets
a ``jupytext.toml`` that pairs nothing: a student's autosaves rewrite only ignored files and create
no ``.py`` twin. The grading copies go to ``grading/`` (ignored too): they hold the solutions, so
they are kept apart from what is handed out.
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import re
import sys
import textwrap
from pathlib import Path
from typing import Optional

import nbformat

from pfrlib.teaching.student import (SELFCHECK_TAG, SERIES_GLOB, SOLUTION_TAG, exercise_text, series_notebooks,
    student_notebook)

__all__ = ["POINTS", "BEGIN_SOLUTION", "END_SOLUTION", "BEGIN_HIDDEN", "END_HIDDEN", "NO_PAIRING",
           "Exercise", "exercises", "release_notebook", "grading_notebook", "hidden_test",
           "release_source", "checksum", "nbgrader_meta", "write_assignments", "main"]

#: Points per exercise: ``POINTS[notebook stem][exercise number]``, the only place they are set.
#: Roughly: 1 for reading a value off a table, 2 for a computation by hand, 3 for a multi-step one.
POINTS: dict[str, dict[int, int]] = {
    "01_gram_matrices": {1: 2, 2: 1, 3: 2},
    "02_feature_taps": {1: 1, 2: 2},
    "03_source_only_baseline": {1: 3, 2: 1},
    "04_pfr_alignment": {1: 3, 2: 2},
    "05_adversarial_output": {1: 2, 2: 2},
    "06_full_gpu_training": {1: 2, 2: 2},
    "07_evaluation_and_figures": {1: 1, 2: 2, 3: 2, 4: 2, 5: 2},
    "08_input_space_alignment": {1: 2, 2: 3, 3: 2},
    "09_beyond_the_paper": {1: 2, 2: 2, 3: 3},
}

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
#: The release folder's jupytext configuration: pair nothing (the repository's pairs every notebook).
NO_PAIRING = ('# Release copies are plain notebooks: no paired .py script is written next to them\n'
              '# (this file overrides the repository\'s jupytext.toml, which pairs every notebook).\n'
              'formats = "ipynb"\n')
_EXERCISE = re.compile(r"# Exercise (\d+)\.")


class Exercise:
    """One exercise of a notebook: its number, points and the indices of its two cells."""

    def __init__(self, number: int, points: int, solution: int, check: int):
        self.number, self.points, self.solution, self.check = number, points, solution, check
        self.solution_id, self.tests_id = f"exercise{number}", f"exercise{number}-tests"

    def __repr__(self) -> str:
        return f"Exercise({self.number}, points={self.points}, cells {self.solution} and {self.check})"


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def exercises(nb: nbformat.NotebookNode, stem: str, points: dict[str, dict[int, int]] = POINTS) -> list[Exercise]:
    """The exercises of notebook ``stem`` (its ``solution`` cells, each followed by a ``selfcheck``
    cell), with their points from ``points``; a ValueError names what does not fit."""
    found = []
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for k, i in enumerate(code):
        if SOLUTION_TAG not in _tags(nb.cells[i]):
            continue
        m = _EXERCISE.match(nb.cells[i].source)
        if not m:
            raise ValueError(f"{stem}: cell {i} is tagged solution but does not start with '# Exercise N.'")
        if k + 1 >= len(code) or SELFCHECK_TAG not in _tags(nb.cells[code[k + 1]]):
            raise ValueError(f"{stem}: exercise {m.group(1)} (cell {i}) has no selfcheck cell after it")
        found.append((int(m.group(1)), i, code[k + 1]))
    table = points.get(stem, {})
    numbers = [n for n, _, _ in found]
    if sorted(table) != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise ValueError(f"{stem}: exercises {numbers} but points for {sorted(table)} in "
                         f"pfrlib.teaching.assignments.POINTS: give each exercise its points there")
    return [Exercise(n, table[n], s, c) for n, s, c in found]


def nbgrader_meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
                  points: int | None = None) -> dict:
    """A cell's ``nbgrader`` metadata in nbgrader's schema 3 (what its preprocessors read)."""
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def hidden_test(selfcheck: str, number: int) -> str:
    """The hidden test of exercise ``number``: its self-check cell run once more with strict check
    functions (:func:`pfrlib.teaching.hidden.graded`), so a wrong answer fails the cell."""
    body = textwrap.indent(selfcheck.strip("\n"), "    ")
    source = (f"from pfrlib.teaching.hidden import graded\n"
              f"with graded(\"exercise {number}\", globals()):\n{body}")
    # indenting must not change what runs (a multi-line string would change): same statements
    block = ast.parse(source).body[1]
    if ast.dump(ast.Module(block.body, [])) != ast.dump(ast.parse(selfcheck)):
        raise ValueError(f"exercise {number}: its self-check cannot be indented into a hidden test")
    return source


def release_source(source: str) -> str:
    """A grading copy's cell source as released: the hidden tests cut out (as nbgrader does)."""
    out, hidden = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN_HIDDEN:
            hidden = True
        elif line.strip() == END_HIDDEN:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out).rstrip("\n")


def checksum(cell) -> str:
    """A locked cell's fingerprint: its type and source, trailing whitespace of lines ignored
    (an editor that strips it has not edited the cell)."""
    text = "\n".join(line.rstrip() for line in cell.source.strip("\n").splitlines())
    return hashlib.sha256(f"{cell.cell_type}\n{text}".encode()).hexdigest()


def _retarget(text: str, release_dir: str) -> str:
    """Student-copy paths ("--cwd student student/...") as paths of the release folder."""
    return text.replace("--cwd student ", f"--cwd {release_dir} ").replace("student/", f"{release_dir}/")


def _base(nb: nbformat.NotebookNode, stem: str, release_dir: str) -> tuple[nbformat.NotebookNode, list[Exercise]]:
    """The student copy with nbgrader metadata and plain notebook metadata, and the exercises."""
    found = exercises(nb, stem)
    out = student_notebook(nb)
    for exercise in found:
        out.cells[exercise.solution].metadata["nbgrader"] = nbgrader_meta(exercise.solution_id, solution=True)
        out.cells[exercise.check].metadata["nbgrader"] = nbgrader_meta(
            exercise.tests_id, grade=True, locked=True, points=exercise.points)
    for cell in out.cells:
        if cell.cell_type == "markdown" or "parameters" in _tags(cell):
            cell.source = _retarget(cell.source, release_dir)
        if "parameters" in _tags(cell):
            cell.metadata["nbgrader"] = nbgrader_meta("parameters", locked=True)
    # no jupytext pairing, no widget state of the instructor's session: a plain notebook
    out.metadata = {k: v for k, v in out.metadata.items() if k in ("kernelspec", "language_info", "pfr")}
    out.metadata["pfr_assignment"] = {"notebook": stem}
    return out, found


def release_notebook(nb: nbformat.NotebookNode, stem: str, release_dir: str = "assignments") -> nbformat.NotebookNode:
    """What a student opens: the student copy of ``nb`` with nbgrader metadata (see the module)."""
    return _base(nb, stem, release_dir)[0]


def grading_notebook(nb: nbformat.NotebookNode, stem: str, release_dir: str = "assignments") -> nbformat.NotebookNode:
    """The instructor's copy: the release with the solutions and the hidden tests put back."""
    out, found = _base(nb, stem, release_dir)
    for exercise in found:
        solution = nb.cells[exercise.solution].source
        prompt = exercise_text(solution)
        body = solution.splitlines()[len(prompt):]
        out.cells[exercise.solution].source = "\n".join(prompt + [BEGIN_SOLUTION, *body, END_SOLUTION])
        check = out.cells[exercise.check].source
        out.cells[exercise.check].source = "\n".join(
            [check, BEGIN_HIDDEN, hidden_test(check, exercise.number), END_HIDDEN])
    return out


def write_assignments(notebooks: list[Path], release_dir: Path, grading_dir: Path,
                      release_name: Optional[str] = None) -> list[Path]:
    """Write the release and grading copy of each notebook; returns the paths written. Every
    notebook is read and converted before anything is written, so a bad one leaves no half set."""
    name = release_name or release_dir.as_posix()
    pairs = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        pairs.append((path.name, release_notebook(nb, path.stem, name), grading_notebook(nb, path.stem, name)))
    written = []
    for folder in (release_dir, grading_dir):
        folder.mkdir(parents=True, exist_ok=True)
    (release_dir / "jupytext.toml").write_text(NO_PAIRING)
    for filename, release, grading in pairs:
        for folder, nb in ((release_dir, release), (grading_dir, grading)):
            nbformat.validate(nb)
            (folder / filename).write_text(nbformat.writes(nb) + "\n")
            written.append(folder / filename)
    return written


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pfrlib.teaching.assignments", description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", help=f"notebooks (default: {SERIES_GLOB})")
    p.add_argument("--out", default="assignments", help="release folder, what students open (default: assignments)")
    p.add_argument("--grading", default="grading", help="grading copies with solutions and hidden tests (default: grading)")
    args = p.parse_args(argv)
    paths = [Path(n) for n in args.notebooks] or series_notebooks()
    missing = [str(n) for n in paths if not n.is_file()]
    if not paths or missing:
        print(f"error: no notebook at {', '.join(missing) or SERIES_GLOB}: run from the "
              "repository root or name the notebooks", file=sys.stderr)
        return 2
    try:
        write_assignments(paths, Path(args.out), Path(args.grading), release_name=args.out.rstrip("/"))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    total = sum(sum(POINTS.get(n.stem, {}).values()) for n in paths)
    print(f"wrote {len(paths)} release copies to {args.out}/ (open these) and their grading copies "
          f"(solutions, hidden tests; {total} points) to {args.grading}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
