"""Student copies: generated from the current notebooks, stubs instead of solutions, runnable."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from pfrlib import student

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WITH_SOLUTIONS = [p for p in NOTEBOOKS if student.solution_cells(nbformat.read(p, as_version=4))]


def test_some_notebooks_have_worked_exercises():
    assert WITH_SOLUTIONS


def test_committed_student_copies_are_current():
    problems = student.write_student_copies(NOTEBOOKS, ROOT / "student", check=True)
    assert not problems, "\n".join(problems)


def test_stub_keeps_exercise_text_and_drops_solution():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output("stream", text="1")]),
        nbformat.v4.new_code_cell("# Exercise 1. Add two numbers.\n# Print the sum.\nprint(1 + 1)", metadata={"tags": ["solution"]}),
    ])
    out = student.student_notebook(nb)
    assert out.cells[1].source == "# Exercise 1. Add two numbers.\n# Print the sum.\n" + student.TODO_LINE + "\n..."
    assert out.cells[1].metadata["tags"] == ["exercise"]
    assert all(not c.outputs for c in out.cells)
    assert nb.cells[0].outputs, "the teacher's notebook is not modified"
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(2)", metadata={"tags": ["solution"]})])
    with pytest.raises(ValueError, match="exercise"):
        student.student_notebook(bad)


@pytest.mark.notebook
@pytest.mark.parametrize("nb_path", WITH_SOLUTIONS, ids=lambda p: p.stem)
def test_student_copy_runs_up_to_its_first_exercise(nb_path, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("PFR_SMOKE", "1")
    nb = student.student_notebook(nbformat.read(nb_path, as_version=4))
    first = next(i for i, c in enumerate(nb.cells) if "exercise" in c.get("metadata", {}).get("tags", []))
    nb.cells = nb.cells[:first]
    # keep run outputs out of the repository: point the notebook's output folders at tmp_path
    params = next(i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    nb.cells.insert(params + 1, nbformat.v4.new_code_cell(
        f"out_dir = {str(tmp_path / 'run')!r}\nfigures_dir = {str(tmp_path / 'fig')!r}\n"
        + (f"runs_dir = {str(tmp_path / 'series')!r}\n" if "runs_dir" in nb.cells[params].source else "")
    ))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(nb_path.parent)}}).execute()
    assert (tmp_path / "run" / "metrics.json").exists()
