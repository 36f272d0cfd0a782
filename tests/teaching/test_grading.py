"""make grade: each submission in its own kernel, marks per exercise, feedback that never gives the answer."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from pfrlib.teaching import assignments as A
from pfrlib.teaching import grading as G

ROOT = Path(__file__).resolve().parents[2]
NB01 = ROOT / "notebooks" / "01_gram_matrices.ipynb"


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _cell(nb, grade_id):
    return next(c for c in nb.cells if _meta(c).get("grade_id") == grade_id)


def solved(grading_nb):
    """What a student who solved every exercise submits: the grading copy without hidden tests or markers."""
    nb = nbformat.from_dict(grading_nb)
    for c in nb.cells:
        if _meta(c).get("grade"):
            c.source = A.release_source(c.source)
        elif _meta(c).get("solution"):
            c.source = "\n".join(l for l in c.source.splitlines() if l not in (A.BEGIN_SOLUTION, A.END_SOLUTION))
    return nb


def answer(nb, number, code):
    """``nb`` with exercise ``number``'s solution cell holding its exercise text and ``code``."""
    cell = _cell(nb, f"exercise{number}")
    prompt = [l for l in cell.source.splitlines() if l.startswith("# ")][:1]
    cell.source = "\n".join(prompt + [code])
    return nb


def rows(folder: Path) -> dict[tuple[str, str], list[int]]:
    with (folder / "grades.csv").open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == G.CSV_COLUMNS
        out: dict[tuple[str, str], list[int]] = {}
        for r in reader:
            assert int(r["max_points"]) == A.POINTS.get(r["notebook"], TINY_POINTS)[int(r["exercise"])]
            out.setdefault((r["student"], r["notebook"]), []).append(int(r["points"]))
    return out


def write(nb, folder: Path, student: str, name: str) -> Path:
    (folder / student).mkdir(parents=True, exist_ok=True)
    path = folder / student / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


# ----------------------------------------------------------------------------- notebook 01, a class of six
@pytest.fixture(scope="module")
def class01(tmp_path_factory):
    """Notebook 01 (seconds in smoke mode) submitted four ways, graded in one run (a hanging cell and
    deleted or edited test cells are graded on the toy notebook below, which runs in a second)."""
    base = tmp_path_factory.mktemp("class01")
    A.write_assignments([NB01], base / "assignments", base / "grading")
    grading_nb = nbformat.read(base / "grading" / NB01.name, as_version=4)
    release = nbformat.read(base / "assignments" / NB01.name, as_version=4)
    subs = base / "submissions"
    write(solved(grading_nb), subs, "full", NB01.stem)
    write(release, subs, "untouched", NB01.stem)
    wrong = answer(solved(grading_nb), 2, 'best_stage = min(rows, key=lambda r: r["ratio"])["stage"]')
    answer(wrong, 3, "predicted_ratio = dict(chw=1, hw=2 ** 2 / 4, none=2.0 * 2)  # right, spelled another way")
    _cell(wrong, "parameters").source = _cell(wrong, "parameters").source.replace("seed = 0", "seed = 3")
    write(wrong, subs, "wrong", NB01.stem)
    (subs / "broken").mkdir()
    (subs / "broken" / NB01.name).write_text("{ not a notebook")
    log = []
    G.grade_all(subs, base / "grading", cell_timeout=60, timeout=240, log=log.append)
    assert len(log) == 4
    return subs, nbformat.read(NB01, as_version=4)


def feedback(subs: Path, student: str) -> str:
    return (subs / student / f"{NB01.stem}.feedback.md").read_text()


@pytest.mark.slow
def test_a_class_is_graded_exercise_by_exercise(class01):
    """One test, so that pytest-xdist grades the class once (a module fixture runs once per worker)."""
    subs, nb = class01
    marks = rows(subs)
    assert len(marks) == 4  # every submission has its rows, whatever the others did
    # the solutions get full marks; the untouched release copy gets zero
    assert marks[("full", NB01.stem)] == [2, 1, 2]
    assert "Score: 5 / 5" in feedback(subs, "full")
    assert marks[("untouched", NB01.stem)] == [0, 0, 0]
    assert "not answered yet" in feedback(subs, "untouched")
    # one wrong answer loses exactly its points; a right answer spelled another way passes
    assert marks[("wrong", NB01.stem)] == [2, 0, 2]
    text = feedback(subs, "wrong")
    assert "| 2 | 0 | 1 | ✘ stage with the largest across/within ratio: not yet" in text
    assert "parameters cell was edited" in text
    # an unreadable file scores zero
    assert marks[("broken", NB01.stem)] == [0, 0, 0]
    assert "not a notebook that can be read" in feedback(subs, "broken")
    # no feedback quotes a solution or a hidden test
    from .test_assignments import _solution_lines

    secret = _solution_lines(nb)
    assert secret
    for path in subs.glob("*/*.feedback.md"):
        text = path.read_text()
        assert not [line for line in secret if line in text], path
        assert A.BEGIN_HIDDEN not in text and "graded(" not in text


# ----------------------------------------------------------------------------- a two-exercise toy notebook
TINY = "99_tiny"
TINY_POINTS = {1: 1, 2: 3}


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A two-exercise notebook (no training): its release and grading copies under tmp_path."""
    monkeypatch.setitem(A.POINTS, TINY, TINY_POINTS)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from pfrlib.teaching.selfcheck import check_close"),
        nbformat.v4.new_code_cell("# Exercise 1. Set `x` to two.\nx = 2", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("check_close('x', x, 2.0)", metadata={"tags": ["selfcheck"]}),
        nbformat.v4.new_code_cell("# Exercise 2. Set `y` to three.\ny = 3", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("check_close('y', y, 3.0)", metadata={"tags": ["selfcheck"]}),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, tmp_path / f"{TINY}.ipynb")
    A.write_assignments([tmp_path / f"{TINY}.ipynb"], tmp_path / "assignments", tmp_path / "grading")
    return tmp_path, nbformat.read(tmp_path / "grading" / f"{TINY}.ipynb", as_version=4)


@pytest.mark.slow
def test_notebook_time_limit_and_a_dying_kernel(tiny):
    base, grading_nb = tiny
    subs = base / "subs"
    write(answer(solved(grading_nb), 2, "import time\ntime.sleep(600)\ny = 3"), subs, "slow", TINY)
    write(answer(solved(grading_nb), 1, "import os\nos._exit(1)"), subs, "dies", TINY)
    G.grade_all(subs, base / "grading", cell_timeout=60, timeout=12, log=lambda line: None)
    marks = rows(subs)
    assert marks[("slow", TINY)] == [1, 0]
    assert marks[("dies", TINY)] == [0, 0]
    assert "kernel died" in (subs / "dies" / f"{TINY}.feedback.md").read_text()
    assert "time limit" in (subs / "slow" / f"{TINY}.feedback.md").read_text()


def test_a_hanging_cell_a_raising_cell_and_cut_test_cells_each_get_their_line(tiny):
    base, grading_nb = tiny
    subs = base / "subs"
    hang = answer(solved(grading_nb), 1, "import time\nwhile True:\n    time.sleep(0.05)")
    hang.cells.insert(1, nbformat.v4.new_code_cell('raise RuntimeError("my own experiment")'))
    write(hang, subs, "hang", TINY)
    cut = solved(grading_nb)
    cut.cells.remove(_cell(cut, "exercise1-tests"))
    _cell(cut, "exercise2-tests").source = 'print("✔ all good")'
    write(cut, subs, "cut", TINY)
    G.grade_all(subs, base / "grading", cell_timeout=5, timeout=120, log=lambda line: None)
    assert rows(subs)[("hang", TINY)] == [0, 3]
    text = (subs / "hang" / f"{TINY}.feedback.md").read_text()
    assert "| 1 | 0 | 1 |" in text and "ran past the time limit (5 s)" in text
    assert "cell 2 raised RuntimeError: my own experiment" in text  # counted from 1, as in the notebook
    # a deleted and an edited test cell score zero, each with its reason
    assert rows(subs)[("cut", TINY)] == [0, 0]
    text = (subs / "cut" / f"{TINY}.feedback.md").read_text()
    assert "| 1 | 0 | 1 | its test cell was deleted" in text
    assert "| 2 | 0 | 3 | its test cell (locked) was edited" in text


def test_a_notebook_a_student_did_not_submit_scores_zero_with_feedback_saying_so(tiny, monkeypatch):
    base, grading_nb = tiny
    other = "98_other"  # a second released notebook: the toy one under another name
    monkeypatch.setitem(A.POINTS, other, TINY_POINTS)
    (base / f"{other}.ipynb").write_bytes((base / f"{TINY}.ipynb").read_bytes())
    A.write_assignments([base / f"{other}.ipynb"], base / "assignments", base / "grading")
    subs = base / "subs"
    write(solved(grading_nb), subs, "ann", TINY)
    (subs / "bob").mkdir()  # handed in nothing
    found = G.find_submissions(subs, base / "grading")
    # by default the notebooks being graded are those someone submitted
    assert [(m.student, m.notebook) for m in G.missing_submissions(subs, found, base / "grading")] == [("bob", TINY)]
    with pytest.raises(G.LayoutError, match="no grading copy of 97_none"):
        G.missing_submissions(subs, found, base / "grading", expect=["97_none"])
    def full_marks(sub, grading, *limits):  # ann's submission is graded as above; here only what is missing counts
        graded = G.Graded(sub, G._max_points(grading_nb))
        for r in graded.exercises:
            r.points = r.max_points
        return graded

    monkeypatch.setattr(G, "grade_submission", full_marks)
    log: list[str] = []
    G.grade_all(subs, base / "grading", log=log.append, expect=[other, TINY])
    assert rows(subs) == {("ann", other): [0, 0], ("ann", TINY): [1, 3], ("bob", other): [0, 0], ("bob", TINY): [0, 0]}
    text = (subs / "bob" / f"{TINY}.feedback.md").read_text()
    assert "Score: 0 / 4 points. Not submitted" in text and "| 2 | 0 | 3 | not submitted |" in text
    assert "[1/4] ann/98_other: not submitted, 0 points" in log


@pytest.mark.parametrize("layout, expected", [
    ("missing", "no such folder"),
    ("loose", "a notebook directly in"),
    ("empty", "no submissions"),
    ("no grading", "run `make assignments` first"),
])
def test_bad_layout_is_one_line_naming_the_path_before_anything_is_written(tiny, layout, expected):
    base, grading_nb = tiny
    subs, grading = base / "subs", base / "grading"
    if layout == "loose":
        write(solved(grading_nb), subs, ".", TINY)
    elif layout == "empty":
        (subs / "alice").mkdir(parents=True)
        (subs / "alice" / "notes.ipynb").write_text("{}")
    elif layout == "no grading":
        write(solved(grading_nb), subs, "alice", TINY)
        grading = base / "nowhere"
    done = subprocess.run([sys.executable, "-m", "pfrlib.teaching.grading", str(subs), "--grading", str(grading)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and expected in done.stderr
    assert str(grading if layout == "no grading" else subs) in done.stderr
    assert not (subs / "grades.csv").exists() and not list(subs.glob("*/*.feedback.md"))


def test_make_grade_runs_this_module_in_smoke_mode():
    makefile = (ROOT / "Makefile").read_text()
    assert '-m pfrlib.teaching.grading "$(SUBMISSIONS)" --grading grading' in makefile
    assert "PFR_SMOKE=1" in G.__doc__ and 'PFR_SMOKE="1"' in Path(G.__file__).read_text()


def test_the_docs_give_the_commands_the_makefile_runs():
    docs = (ROOT / "docs" / "teaching.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for command, target in (("make assignments", "assignments:"), ("make grade SUBMISSIONS=", "grade:")):
        assert command in docs, command
        assert f"\n{target} setup\n" in makefile, target
    for variable in ("CELL_TIMEOUT", "TIMEOUT"):
        assert f"{variable} ?=" in makefile and variable in docs
    assert "`student, notebook,\nexercise, points, max_points`" in docs or "student, notebook, exercise, points, max_points" in docs
