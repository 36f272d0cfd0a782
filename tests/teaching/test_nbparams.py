"""pfrlib.teaching.nbparams: start (a notebook's one opening call), the declared parameters and their checks,
smoke mode, where runs and figures go; and what the notebooks show (term titles, figure widths)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from pfrlib.config.train_config import TrainConfig
from pfrlib.io import write_json
from pfrlib.teaching.timings import measured_seconds_per_iteration
from pfrlib.teaching.nbparams import (SMOKE_TRAINING, Param, check_parameters, figures_path, live_frontend,
                                      notebook_parameters, series_settings, smoke_from_env, start)
from pfrlib.viz.results import NOTEBOOK_WIDTH_IN, TERM_TITLES, plot_training_curves, term_title
from pfrlib.viz.scenes import shift_components
from script_module import load_script

SPEC = {
    "smoke": Param(bool, optional=True),
    "seeds": Param(list, items=int, min=0),
    "num_images": Param(int, min=2),
    "iterations": Param(int, min=1, optional=True),
    "runs_dir": Param(str, optional=True),
    "figures_dir": Param(str, optional=True),
}


def _namespace(tmp_path, **changes):
    """What a notebook's globals() holds after its parameters cell: IPython's names, imports, parameters."""
    ns = {"__name__": "__main__", "_": None, "_i1": "x", "In": [""], "Out": {}, "get_ipython": lambda: None,
          "exit": object(), "quit": object(), "json": json, "Path": Path, "Param": Param, "start": start,
          "smoke": None, "seeds": [0, 1, 2], "num_images": 32, "iterations": None, "runs_dir": None,
          "figures_dir": str(tmp_path / "fig")}
    ns.update(changes)
    return ns


@pytest.fixture(autouse=True)
def _headless(monkeypatch):
    for name in ("PFR_SMOKE", "JPY_SESSION_NAME", "PFR_LIVE"):
        monkeypatch.delenv(name, raising=False)


def test_start_checks_and_settles_everything_after_the_parameters_cell(tmp_path):
    ns = _namespace(tmp_path, iterations=50)
    setup = start(ns, SPEC, smoke_caps={"seeds": 1, "num_images": 4})
    assert setup.params == {"smoke": False, "seeds": [0, 1, 2], "num_images": 32, "iterations": 50, "runs_dir": None,
                            "figures_dir": str(tmp_path / "fig")}
    assert setup.smoke is False and ns["smoke"] is False  # resolved in the notebook's namespace too
    assert ns["seeds"] == [0, 1, 2] and ns["num_images"] == 32  # caps apply only in smoke mode
    assert setup.figures == tmp_path / "fig" and setup.figures.is_dir()
    assert setup.runs_dir == "../runs/series" and setup.base == {"progress": False, "iterations": 50}
    with pytest.raises(Exception):
        setup.smoke = True  # frozen


def test_start_in_smoke_mode_cuts_the_capped_parameters(tmp_path, monkeypatch):
    monkeypatch.setenv("PFR_SMOKE", "1")
    ns = _namespace(tmp_path)
    setup = start(ns, SPEC, smoke_caps={"seeds": 1, "num_images": 4})
    assert setup.smoke is True and setup.params["smoke"] is True and ns["smoke"] is True
    assert setup.params["seeds"] == [0] and ns["seeds"] == [0]
    assert setup.params["num_images"] == 4 and ns["num_images"] == 4
    assert setup.runs_dir == "../runs/smoke/series" and setup.base == {"progress": False, **SMOKE_TRAINING}
    ns = _namespace(tmp_path, num_images=3, smoke=True)
    assert start(ns, SPEC, smoke_caps={"num_images": 4}).params["num_images"] == 3  # a cap never raises
    with pytest.raises(ValueError, match="'seed'"):
        start(_namespace(tmp_path), SPEC, smoke_caps={"seed": 1})


def test_start_without_runs_or_figures_parameters(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    setup = start({"In": [], "seed": 3}, {"seed": int})
    assert setup.params == {"seed": 3} and setup.smoke is False and setup.runs_dir is None
    assert setup.figures == Path("../figures")


def test_start_reports_a_misspelt_injected_parameter_by_name_with_the_known_ones(tmp_path):
    ns = _namespace(tmp_path, num_imgs=3)  # papermill -p num_imgs 3: a new cell assigns it
    with pytest.raises(ValueError) as err:
        start(ns, SPEC)
    message = str(err.value)
    assert "unknown notebook parameter(s) ['num_imgs']" in message
    assert "this notebook takes: ['figures_dir', 'iterations', 'num_images', 'runs_dir', 'seeds', 'smoke']" in message


def test_start_names_a_missing_or_bad_parameter(tmp_path):
    ns = _namespace(tmp_path)
    del ns["num_images"]
    with pytest.raises(ValueError, match=r"\['num_images'\] are declared but not defined"):
        start(ns, SPEC)
    with pytest.raises(ValueError, match="'num_images' must be an integer, got 64.5"):
        start(_namespace(tmp_path, num_images=64.5), SPEC)
    with pytest.raises(ValueError, match="'smoke' must be True or False"):
        start(_namespace(tmp_path, smoke="yes"), SPEC)


def test_notebook_parameters_are_the_plain_public_values():
    ns = {"__builtins__": {}, "_before": set(), "_oh": {}, "In": [], "Out": {}, "get_ipython": print, "exit": 1,
          "quit": 1, "math": math, "Path": Path, "sqrt": math.sqrt, "f": lambda: 0, "seed": 0, "name": "x",
          "sizes": [1], "root": None, "CONSTANTS": (1, 2)}
    assert notebook_parameters(ns) == {"seed": 0, "name": "x", "sizes": [1], "root": None, "CONSTANTS": (1, 2)}


def test_the_old_names_stay_importable():
    from pfrlib.teaching.nbparams import check_parameters, figures_path, series_settings, smoke_from_env  # noqa: F401
    from pfrlib.teaching.nbparams import Setup, start  # noqa: F401

    assert check_parameters({"a": 1, "seed": 2}, {"a"}, {"seed": int}) == {"seed": 2}


# --------------------------------------------------------------------------- what the notebooks show
def test_a_parameter_rule_from_the_config_checks_each_item():
    from pfrlib.config.validation import pfr_stages_problem

    spec = {"stage_sets": Param(list, items=list, nonempty=False, check=pfr_stages_problem)}
    assert start({"stage_sets": [[2, 3], [5]]}, spec).params == {"stage_sets": [[2, 3], [5]]}
    assert start({"stage_sets": []}, spec).params == {"stage_sets": []}
    for bad in ([[6]], [[]], [[2, True]], [[2], "45"]):
        with pytest.raises(ValueError, match=r"parameter 'stage_sets' item .*must be"):
            start({"stage_sets": bad}, spec)
    assert pfr_stages_problem((2, 5)) is None and "subset of (2, 3, 4, 5)" in pfr_stages_problem((1,))
    with pytest.raises(ValueError, match=r"pfr_stages must be a non-empty subset of \(2, 3, 4, 5\)"):
        TrainConfig.preset("cpu", method="pfr", pfr_stages=(1, 2)).validate()


def test_logged_keys_are_titled_in_words_from_one_map():
    from pfrlib import viz

    assert term_title("pfr_style_2") == "style, stage 2"
    assert term_title("pfr_content_5") == "content, stage 5"
    assert term_title("seg") == TERM_TITLES["seg"] and term_title("d_acc_source") != "d_acc_source"
    assert term_title("pfr_style_x") == "pfr_style_x" and term_title("new_key") == "new_key"


def test_wide_figures_wrap_to_the_notebook_width(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pfrlib import viz

    log = tmp_path / "metrics.jsonl"
    log.write_text("\n".join(json.dumps({"iter": i, "seg": 2.0 - i / 10, **{f"pfr_style_{s}": 0.1 for s in (2, 3, 4, 5)}})
                             for i in range(1, 6)))
    fig = plot_training_curves({"pfr": log}, keys=("pfr_style_2", "pfr_style_3", "pfr_style_4", "pfr_style_5", "seg"))
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert titles[0].startswith("style, stage 2") and len(titles) == 5 and not any("pfr_style" in t for t in titles)
    assert fig.get_size_inches()[0] <= NOTEBOOK_WIDTH_IN
    assert all(t.get_fontsize() >= 9 for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
    plt.close(fig)
    fig = shift_components(n=2, size=(32, 64))
    assert fig.get_size_inches()[0] <= NOTEBOOK_WIDTH_IN
    from pfrlib.data.synthstreets.shift import SynthShift19  # the default benchmark's shift

    rows = -(-(len(SynthShift19.components()) + 3) // 6)  # none, each component, full, label: six a row
    assert len(fig.axes) == 2 * rows * 6 and [ax.get_title() for ax in fig.axes[6:8]] == ["exposure", "blur"]
    assert all(t.get_fontsize() >= 9 for legend in fig.legends for t in legend.get_texts())
    plt.close(fig)


def test_the_table1_summary_records_the_iterations_its_wall_times_measured(tmp_path):
    ablation = load_script("benchmarks/ablation.py")
    runs = {m: [{"seed": s, "target_miou": 0.2 + 0.01 * s + (0.1 if m == "oracle" else 0), "source_miou": 0.5,
                 "wall_time_s": 100.0 + s, "iterations": 700, "target_val": {"per_class_iou": {"road": 0.5}}}
                for s in (0, 1)] for m in ("source_only", "pfr", "oracle")}
    _, summary = ablation.summarize(runs)
    assert summary["pfr"]["iterations"] == [700, 700] and summary["pfr"]["wall_s"] == [100.0, 101.0]
    write_json(tmp_path / "t.json", summary)
    rate, _ = measured_seconds_per_iteration(("t.json",), tmp_path, default_iterations=1500)
    assert rate["pfr"] == pytest.approx(100.5 / 700)  # the median run, by the recorded count, not the default


# --------------------------------------------------------------------------- parameters, smoke mode, where runs and figures go
def test_smoke_from_env(monkeypatch):
    monkeypatch.delenv("PFR_SMOKE", raising=False)
    assert smoke_from_env(None) is False
    monkeypatch.setenv("PFR_SMOKE", "1")
    assert smoke_from_env(None) is True
    assert smoke_from_env(False) is False
    with pytest.raises(ValueError, match="smoke"):
        smoke_from_env("yes")


def test_check_parameters():
    before = {"np", "torch"}
    ns = {"np": 1, "torch": 2, "seed": 0, "norm": "chw", "n": 4, "_private": 1}
    assert check_parameters(ns, before, declared=("seed", "norm", "n"), choices={"norm": ("chw", "hw")}, positive=("n",)) == {
        "seed": 0, "norm": "chw", "n": 4,
    }
    with pytest.raises(ValueError, match=r"unknown notebook parameter\(s\) \['iters'\]"):
        check_parameters(ns | {"iters": 5}, before, declared=("seed", "norm", "n"))
    with pytest.raises(ValueError, match="'norm' must be one of"):
        check_parameters(ns | {"norm": "bogus"}, before, declared=("seed", "norm", "n"), choices={"norm": ("chw",)})
    with pytest.raises(ValueError, match="'n' must be a number > 0"):
        check_parameters(ns | {"n": 0}, before, declared=("seed", "norm", "n"), positive=("n",))


def test_figures_path_smoke_never_targets_committed_figures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert figures_path(None, smoke=True).as_posix().endswith("runs/smoke/figures")
    assert figures_path(None, smoke=False).as_posix() == "../figures"
    assert figures_path(str(tmp_path / "f"), smoke=True) == tmp_path / "f"


def test_series_settings(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("PFR_LIVE", raising=False)
    runs_dir, o = series_settings(False)
    assert runs_dir == "../runs/series" and o == {"progress": False}  # headless: summary lines, no frozen bars
    runs_dir, o = series_settings(True, None, 50)
    assert runs_dir == "../runs/smoke/series" and o == {"progress": False, **SMOKE_TRAINING}
    assert series_settings(False, "/x/runs", 50) == ("/x/runs", {"progress": False, "iterations": 50})
    monkeypatch.setenv("JPY_SESSION_NAME", "/lab/notebooks/03.ipynb")  # a kernel JupyterLab started
    assert series_settings(False)[1] == {"progress": True}
    assert series_settings(True)[1]["progress"] is False
    monkeypatch.setenv("PFR_LIVE", "0")
    assert live_frontend() is False
    for bad in (0, -5, 2.5, True, "100"):
        with pytest.raises(ValueError, match="iterations"):
            series_settings(False, None, bad)


def test_check_parameters_with_declared_types_choices_and_ranges():
    spec = {
        "smoke": Param(bool, optional=True),
        "seed": Param(int, min=0),
        "num_images": Param(int, min=2, max=512),
        "lr": Param(float, min=0),
        "norm": Param(str, choices=("chw", "hw", "none")),
        "seeds": Param(list, items=int, min=0),
        "figures_dir": Param(str, optional=True),
        "note": str,
    }
    good = {"smoke": None, "seed": 0, "num_images": 64, "lr": 1, "norm": "hw", "seeds": [0, 1],
            "figures_dir": None, "note": "x"}
    assert check_parameters(good, (), spec) == good  # an int is a valid float
    bad_values = [
        ("num_images", 64.5, "'num_images' must be an integer, got 64.5"),
        ("num_images", "abc", "'num_images' must be an integer, got 'abc'"),
        ("num_images", True, "'num_images' must be an integer"),
        ("num_images", 1, "'num_images' must be >= 2"),
        ("num_images", 1000, "'num_images' must be <= 512"),
        ("seed", None, "'seed' must be an integer, got None"),
        ("lr", float("nan"), "'lr' must be a number"),
        ("lr", -1.0, "'lr' must be >= 0"),
        ("norm", "bogus", "'norm' must be one of"),
        ("smoke", "yes", "'smoke' must be True or False"),
        ("seeds", [], "'seeds' must not be empty"),
        ("seeds", [0, 1.5], "'seeds' item 1.5: must be an integer"),
        ("seeds", 3, "'seeds' must be a list of integers"),
        ("note", 3, "'note' must be a string"),
    ]
    for name, value, message in bad_values:
        with pytest.raises(ValueError, match=re.escape(message)):
            check_parameters(good | {name: value}, (), spec)
    with pytest.raises(ValueError, match=r"unknown notebook parameter\(s\) \['num_imgs'\]"):
        check_parameters(good | {"num_imgs": 3}, (), spec)
