"""Notebook checks: jupytext pairing, parameters cells, papermill runs with other parameters,
outputs that read well (tables as tables, finished progress, no stray reprs, no tooling text), and
worked exercises that pass their self-checks.

nbval (in `make test`) re-runs every committed notebook in smoke mode and compares the outputs
of cells tagged ``nbval-check-output``; these tests cover what nbval does not.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.notebooks

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# Non-default parameters for each notebook's papermill smoke run, and the metrics they must give.
# "runs_dir" is pointed at the test's temporary directory where a notebook declares it.
PAPERMILL_PARAMS = {
    "01_gram_matrices": dict(seed=3, num_images=3, gram_normalize="hw"),
    "02_feature_taps": dict(seed=1, num_images=3, train_iterations=3),
    "03_source_only_baseline": dict(seed=1, iterations=3),
    "04_pfr_alignment": dict(seed=1, stage_sets=[[5]], show_trap=False, lambda_pfr=2.0),
    "05_adversarial_output": dict(seeds=[3], methods=["source_only", "pfr_adv"], lambda_adv=0.001, d_lr=5e-4),
    "06_full_gpu_training": dict(method="adaptsegnet", iterations=3, bf16=False),
    "07_evaluation_and_figures": dict(seeds=[1], num_examples=2),
    "08_input_space_alignment": dict(seed=1, z_values=[0.0, 1.0], num_images=2, full_run=True),
    "09_beyond_the_paper": dict(seed=1, adapted="minent", stage=4, betas=[0.05, 0.1], num_images=2),
}
USES_RUNS_DIR = {"03_source_only_baseline", "04_pfr_alignment", "05_adversarial_output", "07_evaluation_and_figures",
                 "08_input_space_alignment", "09_beyond_the_paper"}

# Notebooks being rewritten around the engine's step functions (issue 14 covers them too): the
# output-quality and exercise checks below are expected to fail for them until that lands.
PENDING_REWRITE: set[str] = set()


def _pending(nb_path: Path) -> None:
    if nb_path.stem in PENDING_REWRITE:
        pytest.xfail(f"{nb_path.stem} is being rewritten (issue 14)")


def _texts(cell) -> list[str]:
    """The text a reader sees in a cell's outputs (streams, plain/markdown/html data, errors)."""
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o.get("text", ""))
        elif o.get("output_type") in ("display_data", "execute_result"):
            for mime in ("text/plain", "text/markdown", "text/html"):
                if mime in o.get("data", {}):
                    out.append(o["data"][mime])
        elif o.get("output_type") == "error":
            out.append(o.get("evalue", ""))
    return out


_PIPE_TABLE = re.compile(r"^\|.*\|\s*$\n^\|[\s:|-]*---", re.M)  # a Markdown header row and its rule
_PROGRESS = re.compile(r"(\d{1,3})%\|")  # tqdm's "42%|####      |"
_STRAY_REPR = re.compile(r"^(PosixPath\(|WindowsPath\(|<torch\._C\.Generator|<matplotlib\.|\[<matplotlib|Text\()")
_TOOLING = re.compile(r"NBVAL|\bCI\b|nbval|pytest")


def _jupytext_text(nb_path: Path, tmp_path: Path) -> str:
    """The py:percent text jupytext makes of the notebook, with the project's jupytext.toml."""
    import subprocess
    import sys

    out = tmp_path / (nb_path.stem + ".py")
    subprocess.run(
        [sys.executable, "-m", "jupytext", "--quiet", "--to", "py:percent", "-o", str(out), str(nb_path)],
        check=True, cwd=nb_path.parent,
    )
    return out.read_text()


def _strip_versions(text: str) -> str:
    return "\n".join(l for l in text.splitlines() if "jupytext_version" not in l and "format_version" not in l)


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_paired_py_matches(nb_path, tmp_path):
    py = nb_path.with_suffix(".py")
    assert py.exists(), f"{nb_path.name} has no paired {py.name}"
    assert _strip_versions(_jupytext_text(nb_path, tmp_path)).strip() == _strip_versions(py.read_text()).strip(), (
        f"{nb_path.name} and {py.name} differ: run `make sync`"
    )


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_executed_with_one_parameters_cell(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{nb_path.name}: expected one parameters-tagged cell, found {len(tagged)}"
    assert "smoke" in tagged[0].source
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{nb_path.name} has no python3 kernelspec"
    for line in tagged[0].source.splitlines():
        if "=" in line and not line.startswith("#"):
            assert "#" in line, f"{nb_path.name}: parameter line without a comment: {line!r}"
    assert not any("injected-parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells), (
        f"{nb_path.name} holds papermill's injected cell: papermill output belongs in runs/"
    )
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    executed = [c for c in code if c.get("execution_count")]
    assert len(executed) == len(code), f"{nb_path.name}: commit it executed (make notebooks)"
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for c in code for o in c.outputs), (
        f"{nb_path.name} shows no figure"
    )
    assert "## What to try" in "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_smoke_with_other_parameters(nb_path, tmp_path):
    import papermill as pm

    params = dict(PAPERMILL_PARAMS.get(nb_path.stem, {}))
    params.update(smoke=True, out_dir=str(tmp_path / "run"), figures_dir=str(tmp_path / "fig"))
    if nb_path.stem in USES_RUNS_DIR:
        params["runs_dir"] = str(tmp_path / "series")
    pm.execute_notebook(
        str(nb_path), str(tmp_path / nb_path.name), parameters=params, cwd=str(nb_path.parent),
        progress_bar=False, kernel_name="python3",
    )
    _assert_self_checks_pass(tmp_path / nb_path.name)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for k, v in PAPERMILL_PARAMS.get(nb_path.stem, {}).items():
        assert metrics["parameters"][k] == v, f"{nb_path.stem}: parameter {k} did not reach the run"
    assert metrics["parameters"]["smoke"] is True
    assert list((tmp_path / "fig").glob("*.png")), "no figure written to figures_dir"
    if nb_path.stem == "05_adversarial_output":  # adversarial settings reach only the adversarial runs
        runs = {p.name: json.loads((p / "config.json").read_text()) for p in (tmp_path / "series").iterdir()}
        assert set(runs) == {"source_only_s3", "pfr_adv_s3_adv0.001_dlr0.0005"}
        assert runs["pfr_adv_s3_adv0.001_dlr0.0005"]["optim"]["d_lr"] == 5e-4
        assert runs["source_only_s3"]["loss"]["lambda_adv"] != 0.001


@pytest.mark.parametrize("params, message", [
    (dict(num_imgs=3), "unknown notebook parameter"),
    (dict(num_images="abc"), "'num_images' must be an integer, got 'abc'"),
])
def test_bad_parameters_are_rejected_by_name(tmp_path, params, message):
    """What papermill injects reaches the checks (each kind of value and message is tested in
    process by tests/teaching/test_nbparams.py)."""
    import papermill as pm

    nb_path = ROOT / "notebooks" / "01_gram_matrices.ipynb"
    with pytest.raises(pm.PapermillExecutionError, match=re.escape(message)):
        pm.execute_notebook(
            str(nb_path), str(tmp_path / "out.ipynb"), parameters=dict(smoke=True, **params),
            cwd=str(nb_path.parent), progress_bar=False, kernel_name="python3",
        )


def test_readme_figures_exist():
    readme = (ROOT / "README.md").read_text()
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert shown, "the README shows no figure"
    for rel in shown:
        assert (ROOT / rel).exists(), f"README shows {rel}, which does not exist"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_read_well(nb_path):
    """Tables rendered as tables, progress bars finished, no stray reprs, no tooling text."""
    _pending(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        where = f"{nb_path.name}, cell {i}"
        assert not _TOOLING.search(cell.source), f"{where}: tooling text in a student-visible cell"
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                assert not _PIPE_TABLE.search(o["text"]), f"{where}: a Markdown table printed as text; display it"
                stuck = [int(p) for p in _PROGRESS.findall(o["text"]) if int(p) < 100]
                assert not stuck, f"{where}: a progress bar saved at {stuck}%"
            if o.get("output_type") == "execute_result":
                text = o.get("data", {}).get("text/plain", "")
                assert not _STRAY_REPR.match(text), f"{where}: a stray repr {text[:60]!r}"
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {}):
                text = o["data"].get("text/plain", "")
                assert not _PROGRESS.search(text), f"{where}: a progress widget (its saved text is frozen)"
        for text in _texts(cell):
            assert not _TOOLING.search(text), f"{where}: tooling text in an output: {_TOOLING.search(text).group()}"
    params = next(c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    assert "CI" not in params.source and "NBVAL" not in params.source


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_worked_exercises_pass_their_self_checks(nb_path):
    """Every self-check cell of the committed (worked) notebook printed a pass and no failure."""
    from pfrlib.teaching import selfcheck

    _pending(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    checks = [c for c in nb.cells if "selfcheck" in c.get("metadata", {}).get("tags", [])]
    assert len(checks) >= 2, f"{nb_path.name}: at least two exercises with self-checks"
    for cell in checks:
        text = "".join(_texts(cell))
        assert selfcheck.PASS in text, f"{nb_path.name}: a self-check printed no verdict: {cell.source[:80]!r}"
        assert selfcheck.FAIL not in text and selfcheck.TODO not in text, f"{nb_path.name}: {text}"


def _assert_self_checks_pass(executed: Path) -> None:
    from pfrlib.teaching import selfcheck

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        if "selfcheck" in cell.get("metadata", {}).get("tags", []):
            text = "".join(_texts(cell))
            assert selfcheck.PASS in text and selfcheck.FAIL not in text and selfcheck.TODO not in text, (
                f"{executed.name}: a worked exercise failed its self-check in smoke mode:\n{text}"
            )


def test_reproduce_reports_each_notebook_and_a_summary(tmp_path, capsys):
    """`make reproduce`'s driver: a line per notebook, the run lines it prints, times, a summary,
    and no kernel transport notice."""
    import subprocess
    import sys

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("smoke = None  # a parameter", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print('training 2 run(s), 2 at a time: a_s0, b_s0')\nprint('not a run line')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    (tmp_path / "nbs").mkdir()
    nbformat.write(nb, tmp_path / "nbs" / "01_demo.ipynb")
    proc = subprocess.run(
        [sys.executable, "-m", "pfrlib.reproduce", str(tmp_path / "nbs" / "01_demo.ipynb"), "--out", str(tmp_path / "out"),
         "--cwd", str(tmp_path / "nbs")], capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "[1/1] 01_demo" in out and "training 2 run(s), 2 at a time" in out and "not a run line" not in out
    assert "done in" in out and "Summary" in out and (tmp_path / "out" / "01_demo" / "01_demo.ipynb").exists()
    assert "without encryption" not in out + proc.stderr
    # the time table comes from papermill's own record in the executed copy (no kernel: in process)
    from pfrlib.reproduce import main as reproduce_main

    table = tmp_path / "times.md"
    series = tmp_path / "series_runs.json"  # the series' training runs, written with the table (none here)
    args = [str(tmp_path / "nbs" / "01_demo.ipynb"), "--times-markdown", str(table), "--times-only",
            "--cwd", str(tmp_path / "nbs"), "--series-runs", str(series)]
    assert reproduce_main([*args, "--out", str(tmp_path / "out")]) == 0
    assert json.loads(series.read_text()) == {}
    executed = nbformat.read(tmp_path / "out" / "01_demo" / "01_demo.ipynb", as_version=4)
    seconds = round(executed.metadata.papermill.duration)
    assert f"| 01_demo | {seconds} s |" in table.read_text() and f"| **all** | **{seconds} s** |" in table.read_text()
    assert "Calibration: no finished `source_only` run" in table.read_text()  # no series run here
    assert reproduce_main([*args, "--out", str(tmp_path / "nowhere")]) == 2
    assert "make reproduce" in capsys.readouterr().err


def test_the_times_table_names_the_series_source_only_run_as_its_yardstick(tmp_path):
    from pfrlib.teaching.reproduce import calibration_line

    def run(name, **final):
        (tmp_path / name).mkdir()
        (tmp_path / name / "final.json").write_text(json.dumps(final))

    run("source_only_s0", method="source_only", preset="cpu", seed=0, iterations=1500, wall_time_s=72.7)
    run("source_only_s0_short", method="source_only", preset="cpu", seed=0, iterations=3, wall_time_s=1.0)
    run("oracle_s0", method="oracle", preset="cpu", seed=0, iterations=1500, wall_time_s=80.0)
    run("paper", method="source_only", preset="paper", seed=0, iterations=9000, wall_time_s=900.0)
    line = calibration_line(tmp_path)
    assert "1,500 iterations" in line and "took 73 s" in line and "`source_only_s0/final.json`" in line


@pytest.mark.slow
def test_make_notebooks_executes_in_place_without_transport_warning(tmp_path):
    """``make notebooks`` (on a two-cell notebook: the recipe, not a lesson, is under test): executed
    in place, re-paired, and no "Kernel is running over TCP" warning in what it prints."""
    import os
    import subprocess
    import sys

    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = folder / "01_demo.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A demo"),
        nbformat.v4.new_code_cell("smoke = False  # a parameter", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print('ran')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                 "jupytext": {"formats": "ipynb,py:percent"}}), nb)
    env = {**os.environ, "PFR_SMOKE": "1"}
    # the environment running the tests, taken as set up (a fresh stamp): `make` installs nothing
    stamp = tmp_path / "installed"
    stamp.touch()
    proc = subprocess.run(["make", "-C", str(ROOT), "notebooks", f"NOTEBOOKS={nb}", f"VENV={sys.prefix}",
                           f"STAMP={stamp}"], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "TCP" not in proc.stdout + proc.stderr
    after = nbformat.read(nb, as_version=4)
    assert all(c.execution_count for c in after.cells if c.cell_type == "code")
    assert after.cells[-1].outputs[0]["text"] == "ran\n"
    assert (folder / "01_demo.py").exists()  # re-paired


def test_reproduce_all_passes_train_all_to_the_notebooks_that_declare_it(tmp_path, monkeypatch, capsys):
    """``make reproduce ALL=1`` -> ``--all`` -> papermill ``train_all=True``, only where a notebook's
    parameters cell declares it; without ``--all`` every notebook runs with its defaults."""
    from pfrlib.teaching import reproduce
    from pfrlib.reproduce import main as reproduce_main

    def notebook(name: str, params: str, meta: dict) -> Path:
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_markdown_cell(f"# {name}"),
            nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
        ], metadata={"pfr": meta})
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, path)
        return path

    tables = notebook("05_tables", "smoke = None  # x\ntrain_all = False  # y\nseeds: list = [0, 1]  # z",
                      {"trains": "seed 0", "trains_all": "every seed"})
    lesson = notebook("01_lesson", "smoke = None  # x\ntrain_all_not = 3  # y", {"trains": "nothing"})
    assert reproduce.declared_parameters(tables) == {"smoke", "train_all", "seeds"}
    assert reproduce.parameters_for(tables, train_all=True) == {"train_all": True}
    assert reproduce.parameters_for(tables) == {} and reproduce.parameters_for(lesson, train_all=True) == {}
    calls = []
    monkeypatch.setattr(reproduce, "run_notebook",
                        lambda path, out, cwd, parameters=None: calls.append((path.stem, parameters)) or (True, 0.0, []))
    monkeypatch.chdir(tmp_path)  # main makes figures/ in the working directory
    assert reproduce_main([str(lesson), str(tables), "--out", str(tmp_path / "out"), "--all"]) == 0
    assert calls == [("01_lesson", {}), ("05_tables", {"train_all": True})]
    out = capsys.readouterr().out
    assert "05_tables: trains every seed (train_all=True)" in out and "01_lesson: trains nothing" in out
    calls.clear()
    assert reproduce_main([str(tables), "--out", str(tmp_path / "out")]) == 0
    assert calls == [("05_tables", {})] and "05_tables: trains seed 0" in capsys.readouterr().out
    # the series' notebooks with multi-seed tables declare it; a broken notebook is named
    for stem in ("05_adversarial_output", "07_evaluation_and_figures"):
        assert reproduce.ALL_PARAMETER in reproduce.declared_parameters(ROOT / "notebooks" / f"{stem}.ipynb")
    (tmp_path / "bad.ipynb").write_text("{")
    with pytest.raises(ValueError, match="bad.ipynb: cannot read its parameters cell"):
        reproduce.declared_parameters(tmp_path / "bad.ipynb")
    makefile = (ROOT / "Makefile").read_text()
    assert "$(if $(ALL),--all)" in makefile and "ALL=1" in makefile
