"""make assignments: release and grading copies built from the notebooks' own exercise cells."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from pfrlib.teaching import student
from pfrlib.teaching import assignments as A
from pfrlib.teaching.hidden import graded

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """``python -m pfrlib.teaching.assignments`` (what ``make assignments`` runs) into a scratch folder."""
    out = tmp_path_factory.mktemp("course")
    done = subprocess.run([sys.executable, "-m", "pfrlib.teaching.assignments", "--out", str(out / "assignments"),
                           "--grading", str(out / "grading")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"wrote {len(NOTEBOOKS)} release copies" in done.stdout
    return out / "assignments", out / "grading"


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _solution_lines(nb) -> set[str]:
    """Lines of the worked solutions that appear nowhere else in the notebook (so: the answer)."""
    others = "\n".join(c.source for c in nb.cells if student.SOLUTION_TAG not in c.metadata.get("tags", []))
    lines = set()
    for i in student.solution_cells(nb):
        body = nb.cells[i].source.splitlines()[len(student.exercise_text(nb.cells[i].source)):]
        lines |= {l.strip() for l in body if len(l.strip()) > 12 and not l.strip().startswith("#") and l.strip() not in others}
    return lines


def test_the_makefile_target_is_the_command_tested():
    assert "-m pfrlib.teaching.assignments --out assignments --grading grading" in (ROOT / "Makefile").read_text()
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "/assignments/" in ignored and "/grading/" in ignored


def test_points_live_in_one_table_that_covers_every_exercise():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        found = A.exercises(nb, path.stem)
        assert [e.number for e in found] == sorted(A.POINTS[path.stem])
    assert set(A.POINTS) == {p.stem for p in NOTEBOOKS}
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    with pytest.raises(ValueError, match="POINTS"):
        A.exercises(nb, NOTEBOOKS[0].stem, points={NOTEBOOKS[0].stem: {1: 1}})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_release_is_the_student_copy_in_nbgrader_format_with_no_solution(written, path):
    release_dir, grading_dir = written
    nb = nbformat.read(path, as_version=4)
    release = nbformat.read(release_dir / path.name, as_version=4)
    copy = student.student_notebook(nb)
    assert len(release.cells) == len(copy.cells)
    for mine, theirs in zip(release.cells, copy.cells):  # the same cells, no second copy of an exercise
        assert mine.source == theirs.source.replace("student/", f"{release_dir}/").replace(
            "--cwd student ", f"--cwd {release_dir} ")
    assert "jupytext" not in release.metadata and "widgets" not in release.metadata
    text = (release_dir / path.name).read_text()
    leaked = [line for line in _solution_lines(nb) if line in text]
    assert not leaked, f"solution lines in the release: {leaked[:3]}"
    assert A.BEGIN_HIDDEN not in text and A.BEGIN_SOLUTION not in text
    points = {int(re.match(r"exercise(\d+)-tests", _meta(c)["grade_id"]).group(1)): _meta(c)["points"]
              for c in release.cells if _meta(c).get("grade")}
    assert points == A.POINTS[path.stem]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_grading_copy_is_the_release_plus_solutions_and_hidden_tests(written, path):
    release_dir, grading_dir = written
    release = nbformat.read(release_dir / path.name, as_version=4)
    grading = nbformat.read(grading_dir / path.name, as_version=4)
    nb = nbformat.read(path, as_version=4)
    ids = [_meta(c)["grade_id"] for c in grading.cells if _meta(c)]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[\w-]+", i) for i in ids)
    for k, (r, g) in enumerate(zip(release.cells, grading.cells, strict=True)):
        assert _meta(r) == _meta(g) and r.cell_type == g.cell_type
        meta = _meta(g)
        if meta:
            assert meta["schema_version"] == 3 and meta["task"] is False
            assert meta["locked"] == (not meta["solution"])  # students edit exactly the solution cells
        if meta.get("grade"):
            assert A.release_source(g.source) == r.source  # cutting the hidden tests gives the release
            assert A.BEGIN_HIDDEN in g.source and "graded(" in g.source
        elif meta.get("solution"):
            assert A.BEGIN_SOLUTION in g.source and A.END_SOLUTION in g.source
            original = nb.cells[k].source
            assert g.source.replace(A.BEGIN_SOLUTION + "\n", "").replace("\n" + A.END_SOLUTION, "") == original
        else:
            assert g.source == r.source


def test_release_folder_pairs_nothing(written):
    release_dir, _ = written
    from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file

    config = find_jupytext_configuration_file(str(release_dir))
    assert Path(config) == release_dir / "jupytext.toml"
    assert load_jupytext_configuration_file(config).formats in ("ipynb", ["ipynb"])
    assert not list(release_dir.glob("*.py"))


def _hidden(nb, number) -> str:
    cell = next(c for c in nb.cells if _meta(c).get("grade_id") == f"exercise{number}-tests")
    return cell.source


def test_hidden_test_passes_another_spelling_and_fails_without_the_answer(written, capsys):
    """The hidden test compares values: a correct answer written another way passes; a wrong or
    missing one raises with the self-check's verdict, which does not contain the expected value."""
    from pfrlib.teaching.selfcheck import PASS, check_close

    _, grading_dir = written
    test = _hidden(nbformat.read(grading_dir / "01_gram_matrices.ipynb", as_version=4), 3)
    measured = {"none": 4.0, "hw": 1.0, "chw": 1.0}
    ns = {"check_close": check_close, "measured_ratio": measured, "predicted_ratio": {"chw": 1, "hw": 2 ** 2 / 4, "none": 2.0 * 2}}
    exec(test, ns)
    assert ns["check_close"] is check_close  # the notebook's name is given back
    assert "passes its tests" in capsys.readouterr().out
    for wrong in ({"none": 2.0, "hw": 1.0, "chw": 1.0}, ...):
        ns = {"check_close": check_close, "measured_ratio": measured, "predicted_ratio": wrong}
        with pytest.raises(AssertionError) as err:
            exec(test, ns)
        message = str(err.value)
        assert not message.startswith(PASS) and "4" not in message.split("Hint")[0]
        assert ns["check_close"] is check_close


def test_hidden_test_cannot_be_fooled_by_redefining_the_check(capsys):
    def always_right(*args, **kwargs):
        print("✔ fine")

    ns = {"check_close": always_right, "answer": 2.0}
    with pytest.raises(AssertionError, match="too low"):
        with graded("exercise 1", ns):
            ns["check_close"]("the answer", ns["answer"], 3.0)
    assert ns["check_close"] is always_right
    with pytest.raises(AssertionError, match="no check ran"):
        with graded("exercise 2", {}):
            pass


def test_a_self_check_that_cannot_be_indented_is_refused():
    assert A.hidden_test("check_true('x', y)", 1).endswith("    check_true('x', y)")
    with pytest.raises(ValueError, match="indented"):
        A.hidden_test('check_equal("text", t, """a\nb""")', 1)


def test_bad_input_is_one_line_naming_the_path(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pfrlib.teaching.assignments", str(tmp_path / "nope.ipynb"),
                           "--out", str(tmp_path / "a"), "--grading", str(tmp_path / "g")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "nope.ipynb" in done.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "g").exists()
