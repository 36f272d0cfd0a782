"""Grade a class's submitted notebooks: one kernel per submission, marks in a CSV, feedback per file.

``make grade SUBMISSIONS=DIR`` (``python -m pfrlib.teaching.grading DIR``) reads
``DIR/<student>/<notebook>.ipynb``, where ``<notebook>`` is one of the grading copies that
``make assignments`` wrote to ``grading/`` (:mod:`pfrlib.teaching.assignments`), and writes

- ``DIR/grades.csv``: one row per exercise of each submission, columns ``student, notebook,
  exercise, points, max_points``;
- ``DIR/<student>/<notebook>.feedback.md``: the marks per exercise, and a line for each thing that
  cost points or went wrong (a wrong answer's self-check verdict, which names what is wrong and
  never the expected value; a cell that raised, hung or was deleted; a locked cell that was edited).

Every student (every folder in ``DIR``) gets rows for every notebook being graded: those named
(``--expect``), by default every notebook that someone in the class submitted. A student folder
that lacks one gets zero points for each of its exercises and a feedback file saying "not submitted".

Grading a submission works as nbgrader's autograde does, without its database: the cells are
matched to the grading copy by their nbgrader ``grade_id``; locked cells (the self-checks and the
parameters cell) are compared with the release and then replaced by the grading copy's, which puts
the hidden tests back; the student's own cells run as submitted. An exercise scores its points when
its solution and test cells are both there, the test cell is unedited, and the test cell (the
self-check, then the hidden test) runs without an error. Anything else scores zero for that exercise
only, with the reason in the feedback. An edited parameters cell is put back and noted, at no cost.

Each submission runs in its own kernel (nbclient), in a fresh scratch folder (so one student's runs
never meet another's), with ``PFR_SMOKE=1``: the notebooks that train run their seconds-long smoke
versions, which the exercises' checks accept as they accept the full runs. A cell that runs past
``cell_timeout`` seconds is interrupted and the next cell runs; the whole notebook stops at
``timeout`` seconds (later exercises score zero, "not run"). Nothing a submission does (raise, hang,
kill its kernel, be unreadable) stops the run or changes another submission's marks.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Optional

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from pfrlib.teaching.assignments import checksum, release_source

__all__ = ["CSV_COLUMNS", "Submission", "ExerciseResult", "find_submissions", "missing_submissions", "grade_submission",
           "grade_all", "write_grades", "feedback_text", "main"]

CSV_COLUMNS = ("student", "notebook", "exercise", "points", "max_points")
#: The folder above the kernel's working folder shows the repository's ``benchmarks/`` (notebook 08
#: reads a committed result as ``../benchmarks/...``, as from ``notebooks/`` or ``assignments/``).
SHARED_READ_ONLY = ("benchmarks",)
_ROOT = Path(__file__).resolve().parents[2]


class LayoutError(ValueError):
    """The submissions folder is not ``DIR/<student>/<notebook>.ipynb``."""


@dataclass
class Submission:
    student: str
    notebook: str  # the notebook's stem, the name of its grading copy
    path: Path


@dataclass
class ExerciseResult:
    number: int
    max_points: int
    points: int = 0
    reason: str = ""  # why it scored zero (empty when it scored)


@dataclass
class Graded:
    submission: Submission
    exercises: list[ExerciseResult]
    problems: list[str] = field(default_factory=list)  # lines for the feedback, beside the table
    seconds: float = 0.0
    submitted: bool = True  # False: the student's folder has no such notebook

#: Why every exercise of a notebook a student did not hand in scores zero.
NOT_SUBMITTED = "not submitted"


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def find_submissions(submissions: Path, grading: Path) -> list[Submission]:
    """Every ``<student>/<notebook>.ipynb`` under ``submissions`` whose notebook has a grading copy.
    A LayoutError (one line: the path, what was expected) when the folders do not fit."""
    if not grading.is_dir() or not any(grading.glob("*.ipynb")):
        raise LayoutError(f"{grading}: no grading copies there; run `make assignments` first (it writes grading/)")
    known = sorted(p.stem for p in grading.glob("*.ipynb"))
    if not submissions.is_dir():
        raise LayoutError(f"{submissions}: no such folder; expected SUBMISSIONS/<student>/<notebook>.ipynb")
    loose = sorted(submissions.glob("*.ipynb"))
    if loose:
        raise LayoutError(f"{loose[0]}: a notebook directly in {submissions}; expected one folder per student, "
                          f"{submissions}/<student>/<notebook>.ipynb")
    found = [Submission(d.name, p.stem, p) for d in sorted(submissions.iterdir()) if d.is_dir()
             for p in sorted(d.glob("*.ipynb")) if p.stem in known]
    if not found:
        raise LayoutError(f"{submissions}: no submissions; expected {submissions}/<student>/<notebook>.ipynb "
                          f"with <notebook> one of {', '.join(known)}")
    return found


def missing_submissions(submissions: Path, found: list[Submission], grading: Path,
                        expect: Optional[list[str]] = None) -> list[Submission]:
    """The notebooks being graded that a student's folder lacks, as submissions whose file is not
    there. Students: every folder in ``submissions`` (hidden ones aside); notebooks: ``expect``, by
    default every notebook that someone submitted. A LayoutError names an expected notebook that
    has no grading copy."""
    known = {p.stem for p in grading.glob("*.ipynb")}
    notebooks = sorted({s.notebook for s in found}) if expect is None else list(dict.fromkeys(expect))
    unknown = [n for n in notebooks if n not in known]
    if unknown:
        raise LayoutError(f"{grading}: no grading copy of {', '.join(unknown)} (--expect); "
                          f"expected one of {', '.join(sorted(known))}")
    have = {(s.student, s.notebook) for s in found}
    students = sorted(d.name for d in submissions.iterdir() if d.is_dir() and not d.name.startswith("."))
    return [Submission(student, nb, submissions / student / f"{nb}.ipynb") for student in students
            for nb in notebooks if (student, nb) not in have]


def _max_points(grading_nb) -> list[ExerciseResult]:
    out = []
    for cell in grading_nb.cells:
        meta = _nbgrader(cell)
        if meta.get("grade") and meta.get("grade_id", "").endswith("-tests"):
            number = int(meta["grade_id"][len("exercise"):-len("-tests")])
            out.append(ExerciseResult(number, int(meta.get("points", 0))))
    return out


def _prepare(grading_nb, submitted) -> tuple[nbformat.NotebookNode, dict[str, str], list[str], dict[int, int]]:
    """The notebook to run: the submission with its locked cells replaced by the grading copy's.

    Returns it, the problem per grade_id (deleted, edited), general problem lines, for each cell
    index whose solution cell it is (to name a hang or an error), and each cell's number in the
    submission, counted from 1 as a student counts from the top."""
    source = {m["grade_id"]: c for c in grading_nb.cells if (m := _nbgrader(c)).get("grade_id")}
    seen: dict[str, int] = {}
    broken: dict[str, str] = {}
    problems: list[str] = []
    run = nbformat.v4.new_notebook(metadata=grading_nb.metadata)
    owner: dict[int, int] = {}
    number: list[int] = []
    for position, cell in enumerate(submitted.cells, 1):
        gid = _nbgrader(cell).get("grade_id")
        if gid not in source:
            run.cells.append(cell)
            number.append(position)
            continue
        seen[gid] = seen.get(gid, 0) + 1
        original = source[gid]
        if seen[gid] > 1 and _nbgrader(original).get("grade"):
            problems.append(f"the cell `{gid}` appears {seen[gid]} times (a copied cell); only the first one is graded")
            continue
        if _nbgrader(original).get("locked"):
            released = nbformat.v4.new_code_cell(release_source(original.source)) if original.cell_type == "code" \
                else nbformat.v4.new_markdown_cell(release_source(original.source))
            if checksum(cell) != checksum(released):
                if gid == "parameters":
                    problems.append("the parameters cell was edited; it was graded with the release's parameters")
                else:
                    broken.setdefault(gid, "its test cell (locked) was edited, so it was not graded")
            cell = nbformat.v4.new_code_cell(original.source, metadata=original.metadata)
        elif _nbgrader(original).get("solution"):
            owner[len(run.cells)] = int(gid[len("exercise"):])
        run.cells.append(cell)
        number.append(position)
    for gid in source:
        if gid not in seen:
            what = "its solution cell" if _nbgrader(source[gid]).get("solution") else "its test cell"
            if gid == "parameters":
                problems.append("the parameters cell was deleted")
            else:
                broken.setdefault(gid, f"{what} was deleted (or its nbgrader metadata removed), so it was not graded")
    return run, broken, problems, owner, number


def _error_line(outputs) -> Optional[str]:
    """The first error of a cell as one line: ``Name: message`` (the message only of a hidden test:
    the self-check's verdict), never the traceback (it would quote the grading cell)."""
    for out in outputs:
        if out.get("output_type") == "error":
            message = str(out.get("evalue", "")).strip().splitlines()
            return f"{out.get('ename', 'Error')}: {message[0] if message else ''}".rstrip(": ")
    return None


def _run(nb, workdir: Path, cell_timeout: float, timeout: float, owner: dict[int, int],
         number: list[int]) -> tuple[set[int], list[str], dict[int, str]]:
    """Execute ``nb`` in place in a new kernel; returns the indices of the cells that ran to their
    end, problem lines, and per exercise the hang or error of its solution cell."""
    env = dict(os.environ, PFR_SMOKE="1", PFR_LIVE="0")
    env.setdefault("OMP_NUM_THREADS", "1")
    # the kernel talks over socket files in the scratch folder (no TCP port, no "running over TCP" warning)
    km = AsyncKernelManager(kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"), transport="ipc",
                       ip=str(workdir.parent / "kernel"))
    client = NotebookClient(nb, km=km, timeout=cell_timeout, allow_errors=True, interrupt_on_timeout=False,
                            resources={"metadata": {"path": str(workdir)}}, iopub_timeout=10)
    ran: set[int] = set()
    problems: list[str] = []
    solution_trouble: dict[int, str] = {}
    deadline = time.monotonic() + timeout
    try:
        with client.setup_kernel(env=env, cleanup_kc=True):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                left = deadline - time.monotonic()
                if left <= 1:
                    problems.append(f"the notebook ran past its time limit ({timeout:g} s): cells from cell {number[index]} on did not run")
                    break
                client.timeout = int(max(1, min(cell_timeout, left)))
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    line = f"cell {number[index]} ran past the time limit ({client.timeout} s) and was stopped"
                    problems.append(line)
                    if index in owner:
                        solution_trouble[owner[index]] = f"its solution cell ran past the time limit ({client.timeout} s)"
                    if not _recover(client):
                        problems.append("the kernel did not stop the hanging cell, so the rest of the notebook did not run")
                        break
                    continue
                ran.add(index)
                error = _error_line(cell.get("outputs", []))
                if error and index in owner:
                    solution_trouble[owner[index]] = f"its solution cell raised {error}"
                elif error and not _nbgrader(cell).get("grade"):
                    problems.append(f"cell {number[index]} raised {error}")
    except DeadKernelError:
        problems.append("the kernel died (the notebook exited or ran out of memory); later cells did not run")
    except Exception as err:  # a kernel that cannot start, a broken cell: never the whole run
        problems.append(f"the notebook could not be run: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    finally:
        if km.has_kernel:  # a kernel that did not stop when asked
            run_sync(km.shutdown_kernel)(now=True)
    return ran, problems, solution_trouble


def _recover(client, wait: float = 15) -> bool:
    """Interrupt a hanging cell; whether the kernel answers again within ``wait`` seconds (a
    ``pass`` sent straight to the kernel, outside the notebook, so no cell gets its outputs)."""
    try:
        run_sync(client.km.interrupt_kernel)()
        msg_id = client.kc.execute("pass", store_history=False)
        until = time.monotonic() + wait
        while (left := until - time.monotonic()) > 0:
            reply = run_sync(client.kc.get_shell_msg)(timeout=left)
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return True
    except (Empty, TimeoutError, RuntimeError):
        pass
    return False


def grade_submission(sub: Submission, grading: Path, cell_timeout: float = 60, timeout: float = 300) -> Graded:
    """Grade one submission (see the module); never raises for anything the submission does."""
    started = time.monotonic()
    grading_nb = nbformat.read(grading / f"{sub.notebook}.ipynb", as_version=4)
    results = _max_points(grading_nb)
    graded = Graded(sub, results)
    try:
        submitted = nbformat.read(sub.path, as_version=4)
    except Exception as err:
        for r in results:
            r.reason = "the notebook could not be read"
        graded.problems.append(f"the file is not a notebook that can be read ({type(err).__name__})")
        return graded
    run, broken, graded.problems, owner, number = _prepare(grading_nb, submitted)
    scratch = Path(tempfile.mkdtemp(prefix="pfr-grade-"))
    try:
        for name in SHARED_READ_ONLY:
            if (_ROOT / name).is_dir():
                (scratch / name).symlink_to(_ROOT / name, target_is_directory=True)
        (scratch / "work").mkdir()
        ran, problems, trouble = _run(run, scratch / "work", cell_timeout, timeout, owner, number)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    graded.problems += problems
    tests = {_nbgrader(c).get("grade_id"): i for i, c in enumerate(run.cells) if _nbgrader(c).get("grade")}
    for r in results:
        gid = f"exercise{r.number}-tests"
        reason = broken.get(gid) or broken.get(f"exercise{r.number}")
        if not reason and tests.get(gid) not in ran:
            reason = "its test cell did not run to its end (" + (trouble.get(r.number) or "see below") + ")"
        if not reason:
            error = _error_line(run.cells[tests[gid]].get("outputs", []))
            if error:
                reason = (error.split(": ", 1)[1] if error.startswith("AssertionError: ")  # the verdict line
                          else f"its test cell raised {error}")
                reason = f"{trouble[r.number]}, then {reason}" if r.number in trouble else reason
        r.reason = reason or ""
        r.points = 0 if reason else r.max_points
    graded.seconds = time.monotonic() - started
    return graded


def feedback_text(graded: Graded) -> str:
    """The feedback file of one submission (markdown)."""
    sub = graded.submission
    got = sum(r.points for r in graded.exercises)
    total = sum(r.max_points for r in graded.exercises)
    how = (f"Graded with the notebook's smoke settings (PFR_SMOKE=1: short training runs), in {graded.seconds:.0f} s."
           if graded.submitted else f"Not submitted: there is no {sub.notebook}.ipynb in your folder.")
    lines = [f"# Feedback: {sub.notebook}, {sub.student}", "", f"Score: {got} / {total} points. {how}", "",
             "| exercise | points | out of | |", "|---|---|---|---|"]
    for r in graded.exercises:
        reason = (r.reason or "passes its tests").replace("|", "\\|")
        lines.append(f"| {r.number} | {r.points} | {r.max_points} | {reason} |")
    if graded.problems:
        lines += ["", "Also (cells counted from the top of your notebook, the first is 1):", ""]
        lines += [f"- {p}" for p in graded.problems]
    return "\n".join(lines) + "\n"


def write_grades(results: list[Graded], csv_path: Path) -> None:
    rows = [(g.submission.student, g.submission.notebook, r.number, r.points, r.max_points)
            for g in results for r in g.exercises]
    tmp = csv_path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    tmp.replace(csv_path)


def _not_submitted(sub: Submission, grading: Path) -> Graded:
    graded = Graded(sub, _max_points(nbformat.read(grading / f"{sub.notebook}.ipynb", as_version=4)), submitted=False)
    for r in graded.exercises:
        r.reason = NOT_SUBMITTED
    return graded


def grade_all(submissions: Path, grading: Path, cell_timeout: float = 60, timeout: float = 300,
              log=print, expect: Optional[list[str]] = None) -> list[Graded]:
    """Grade every submission under ``submissions``, and give every student's missing notebook
    (:func:`missing_submissions`; ``expect``: the notebooks being graded) zero; writes grades.csv and
    the feedback files."""
    found = find_submissions(submissions, grading)
    missing = missing_submissions(submissions, found, grading, expect)
    everything = sorted(found + missing, key=lambda s: (s.student, s.notebook))
    results = []
    for k, sub in enumerate(everything, 1):
        if sub in missing:
            graded = _not_submitted(sub, grading)
            results.append(graded)
            (sub.path.parent / f"{sub.notebook}.feedback.md").write_text(feedback_text(graded))
            log(f"[{k}/{len(everything)}] {sub.student}/{sub.notebook}: {NOT_SUBMITTED}, 0 points")
            continue
        try:
            graded = grade_submission(sub, grading, cell_timeout, timeout)
        except Exception as err:  # a bug of ours must not cost the rest of the class its marks
            graded = Graded(sub, _max_points(nbformat.read(grading / f"{sub.notebook}.ipynb", as_version=4)),
                            [f"grading failed ({type(err).__name__}: {err}); tell your instructor"])
            for r in graded.exercises:
                r.reason = "not graded (see below)"
        results.append(graded)
        (sub.path.parent / f"{sub.notebook}.feedback.md").write_text(feedback_text(graded))
        got = sum(r.points for r in graded.exercises)
        log(f"[{k}/{len(everything)}] {sub.student}/{sub.notebook}: {got}/{sum(r.max_points for r in graded.exercises)} "
            f"points ({graded.seconds:.0f} s)")
    write_grades(results, submissions / "grades.csv")
    return results


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pfrlib.teaching.grading", description=__doc__.split("\n\n")[0])
    p.add_argument("submissions", help="folder of submissions: SUBMISSIONS/<student>/<notebook>.ipynb")
    p.add_argument("--grading", default="grading", help="grading copies from `make assignments` (default: grading)")
    p.add_argument("--cell-timeout", type=float, default=60, help="seconds one cell may run (default: 60)")
    p.add_argument("--timeout", type=float, default=300, help="seconds one notebook may run (default: 300)")
    p.add_argument("--expect", nargs="+", default=None, metavar="NOTEBOOK",
                   help="the notebooks being graded (names of grading copies, e.g. 01_gram_matrices): a student "
                        "without one gets zero for it (default: every notebook someone submitted)")
    args = p.parse_args(argv)
    try:
        results = grade_all(Path(args.submissions), Path(args.grading), args.cell_timeout, args.timeout,
                            expect=args.expect)
    except LayoutError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    absent = sum(not g.submitted for g in results)
    print(f"wrote {Path(args.submissions) / 'grades.csv'} ({len(results) - absent} submissions"
          f"{f', {absent} not submitted' if absent else ''}) and a .feedback.md for each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
