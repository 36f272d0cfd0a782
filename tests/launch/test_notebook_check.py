"""pfrlib.launch.notebook_check: a notebook sweep's values are checked before anything is launched,
by the notebook's own ``start()`` call (its ``Param`` declarations), and nothing is written."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

from pfrlib.launch import launcher
from pfrlib.launch.local import Backend
from pfrlib.launch.notebook_check import check_notebook_values
from pfrlib.sweep import main as sweep_main

ROOT = Path(__file__).resolve().parents[2]
GRAM = ROOT / "notebooks" / "01_gram_matrices.ipynb"


class NeverLaunched(Backend):
    def __init__(self, jobs=None):
        pass

    def run(self, jobs, plans, report=print):
        raise AssertionError(f"launched {[j.name for j in jobs]}: the values were not checked first")


def test_a_mistyped_value_stops_the_sweep_before_any_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(launcher.BACKENDS, "local", NeverLaunched)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"name": "nb", "runner": "notebook", "notebook": str(GRAM),
                                    "grid": {"num_images": [4, "abc"]}, "metrics": ["style_loss"]}))
    assert sweep_main([str(spec), "--root", str(tmp_path / "runs")]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert lines == [f"error: {spec}: run 'num_images=abc': 01_gram_matrices.ipynb: "
                     f"parameter 'num_images' must be an integer, got 'abc'"]
    assert not (tmp_path / "runs").exists()  # nothing claimed, started or written


def test_the_values_pass_the_notebooks_own_start_and_nothing_else_runs(tmp_path):
    figures = tmp_path / "figures"
    checked = check_notebook_values(GRAM, {"num_images": 8, "gram_normalize": "hw", "figures_dir": str(figures)})
    assert checked["num_images"] == 8 and checked["gram_normalize"] == "hw" and checked["seed"] == 0
    assert not figures.exists()  # start() stopped after its check: it made no folder
    with pytest.raises(ValueError, match=r"^parameter 'gram_normalize' must be one of \('chw', 'hw', 'none'\), "
                                         r"got 'bogus'$"):
        check_notebook_values(GRAM, {"gram_normalize": "bogus"})
    with pytest.raises(ValueError, match=r"^parameter 'num_images' must be >= 2, got 1$"):
        check_notebook_values(GRAM, {"num_images": 1})


def test_a_notebook_without_start_after_its_parameters_is_not_run(tmp_path):
    marker = tmp_path / "ran"
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("n = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(f"open({str(marker)!r}, 'w').write('x')")]
    path = tmp_path / "plain.ipynb"
    nbformat.write(nb, path)
    assert check_notebook_values(path, {"n": "abc"}) is None  # its values are checked when it runs
    assert not marker.exists()
