"""start (a notebook's one opening call) and nbtools.announce (what training will take)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from pfrlib import methods
from pfrlib.teaching import nbtools
from pfrlib.config.train_config import TrainConfig
from pfrlib.io import write_json
from pfrlib.teaching.nbparams import Param
from pfrlib.teaching.nbparams import SMOKE_TRAINING, check_parameters, notebook_parameters, start
from pfrlib.viz.results import NOTEBOOK_WIDTH_IN, TERM_TITLES, plot_training_curves, term_title
from pfrlib.viz.scenes import shift_components

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


# --------------------------------------------------------------------------- announce
def _configs(tmp_path, methods=("source_only", "pfr"), seeds=(0, 1), iterations=300):
    return [TrainConfig.preset("cpu", method=m, seed=s, iterations=iterations, out=str(tmp_path / "series" / f"{m}_s{s}"),
                               progress=False) for m in methods for s in seeds]


def _results(root, name, walls, iterations=None):
    entries = {m: {"target": [1.0, 0.1], "wall_s": w, **({"iterations": iterations} if iterations else {})}
               for m, w in walls.items()}
    write_json(root / name, entries)
    return name


def _finish(cfg):
    out = Path(cfg.run.out)
    out.mkdir(parents=True)
    cfg.to_json(out / "config.json")
    write_json(out / "final.json", {"method": cfg.loss.method, "target_miou": 0.2, "source_miou": 0.5,
                                    "iterations": cfg.optim.iterations, "wall_time_s": 1.0})


def test_announce_estimates_from_measured_times_scaled_by_iterations_and_shared_over_jobs(tmp_path):
    # measured: 1500 iterations in 150 s (source_only's fastest run) and 300 s (pfr): 0.1 and 0.2 s per iteration
    name = _results(tmp_path, "t.json", {"source_only": [150.0, 170.0], "pfr": [300.0]}, iterations=1500)
    configs = _configs(tmp_path, iterations=3000)  # 2 x 300 s + 2 x 600 s = 1800 s of runs
    text = nbtools.announce(configs, jobs=2, files=(name,), root=tmp_path)
    assert text.startswith("Training 4 runs (source_only x seeds 0, 1; pfr x seeds 0, 1): 4 to train")
    assert "about 15 min on 2 cores (measured: t.json)" in text  # 1800 s / 2 jobs
    assert "about 30 min on 1 core" in nbtools.announce(configs, jobs=1, files=(name,), root=tmp_path)
    # never shorter than the longest run: four jobs for four runs take one pfr run (600 s)
    assert "about 10 min on 4 cores" in nbtools.announce(configs, jobs=8, files=(name,), root=tmp_path)


def test_announce_counts_reused_runs_by_the_launchers_rule(tmp_path):
    name = _results(tmp_path, "t.json", {"source_only": [150.0], "pfr": [300.0]}, iterations=1500)
    configs = _configs(tmp_path, iterations=1500)
    for cfg in configs[:3]:
        _finish(cfg)
    text = nbtools.announce(configs, jobs=2, files=(name,), root=tmp_path)
    assert "3 finished (reused), 1 to train; about 5 min on 1 core" in text  # only pfr seed 1 is left
    _finish(configs[3])
    assert nbtools.announce(configs, files=(name,), root=tmp_path).endswith("all finished, nothing to train.")
    assert "4 to train" in nbtools.announce(configs, jobs=2, retrain=True, files=(name,), root=tmp_path)


def test_announce_names_several_settings_of_one_method_and_seed(tmp_path):
    name = _results(tmp_path, "t.json", {"pfr": [300.0]}, iterations=1500)
    configs = [TrainConfig.preset("cpu", method="pfr", seed=0, iterations=1500, pfr_stages=stages,
                                  out=str(tmp_path / f"pfr{i}"), progress=False) for i, stages in enumerate([(2, 3), (4, 5)])]
    text = nbtools.announce(configs, jobs=2, files=(name,), root=tmp_path)
    assert text.startswith("Training 2 runs (pfr x 2 settings, seed 0): 2 to train; about 5 min on 2 cores")


def test_the_fastest_measured_run_decides_and_unrecorded_iterations_are_the_cpu_presets(tmp_path):
    preset = TrainConfig.preset("cpu").optim.iterations
    a = _results(tmp_path, "a.json", {"source_only": [100.0, 400.0, 130.0]})  # no iterations recorded: the preset's
    b = _results(tmp_path, "b.json", {"source_only": [300.0], "pfr": [600.0]}, iterations=[preset])
    rate, used = nbtools.measured_seconds_per_iteration((a, b, "missing.json"), tmp_path, default_iterations=preset)
    # each method's fastest run over the files (the least slowed by other work): source_only 100 s in a.json
    assert used == ["a.json", "b.json"]
    assert rate == {"source_only": pytest.approx(100.0 / preset), "pfr": pytest.approx(600.0 / preset)}
    configs = _configs(tmp_path, methods=("source_only",), seeds=(0,), iterations=preset)
    assert "about 2 min on 1 core (measured: a.json)." in nbtools.announce(configs, files=(a, b), root=tmp_path)


def test_the_step_time_benchmark_is_read_for_the_cpu_presets_rows(tmp_path):
    """The step-time benchmark's file is a list of rows; only the ``cpu`` preset's rows time the notebooks' runs."""
    write_json(tmp_path / "steps.json", [
        {"label": "cpu preset (small, SynthStreets 64x128, batch 4)", "method": "pfr", "median_s": 0.05},
        {"label": "DeepLab-v2 R101 multi-level", "method": "pfr", "median_s": 4.0},
        {"label": "DeepLab-v2 R101 multi-level", "method": "clan", "median_s": 3.0}])
    runs = _results(tmp_path, "runs.json", {"pfr": [900.0], "source_only": [150.0]}, iterations=1500)
    rate, used = nbtools.measured_seconds_per_iteration(("steps.json", runs), tmp_path)
    assert rate == {"pfr": pytest.approx(0.05), "source_only": pytest.approx(0.1)} and used == ["steps.json", "runs.json"]
    configs = _configs(tmp_path, methods=("pfr",), seeds=(0, 1), iterations=1500)  # 2 x 75 s on 2 cores
    assert "about 75 s on 2 cores (measured: steps.json)" in nbtools.announce(configs, jobs=2, files=("steps.json", runs),
                                                                              root=tmp_path)
    write_json(tmp_path / "bad.json", [{"label": "cpu preset", "method": "pfr"}])
    with pytest.raises(ValueError, match="bad.json: expected step-time rows"):
        nbtools.measured_seconds_per_iteration(("bad.json",), tmp_path)


def test_announce_names_a_method_without_measured_time_instead_of_guessing(tmp_path):
    name = _results(tmp_path, "t.json", {"source_only": [60.0]}, iterations=1500)
    configs = _configs(tmp_path, methods=("source_only", "pfr"), seeds=(0,), iterations=1500)
    text = nbtools.announce(configs, jobs=2, files=(name,), root=tmp_path)
    assert re.search(r"about 60 s on 2 cores \(measured: t\.json\), not counting pfr, which has no measured time", text)
    only = nbtools.announce(configs[1:], files=(name,), root=tmp_path)
    assert "about" not in only and only.endswith("no measured time for pfr in t.json.")


def test_announce_without_the_results_files_says_no_measured_times(tmp_path):
    configs = _configs(tmp_path, seeds=(0,))
    text = nbtools.announce(configs, files=("benchmarks/results/table1.json",), root=tmp_path / "elsewhere")
    assert "2 to train" in text and "no measured times" in text and "about" not in text


def test_a_bad_results_file_is_named(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="t.json"):
        nbtools.measured_seconds_per_iteration(("t.json",), tmp_path)


def test_announce_reads_the_committed_results_files():
    root = Path(nbtools.__file__).resolve().parents[2]
    if not all((root / f).is_file() for f in nbtools.MEASURED_TIMES):
        pytest.skip("the committed results files are not next to this pfrlib")
    rate, used = nbtools.measured_seconds_per_iteration(default_iterations=TrainConfig.preset("cpu").optim.iterations)
    assert used[0] == "benchmarks/results/step_time_cpu.json"
    assert set(methods.table1_names()) <= set(rate)  # every Table-1 method has a measured time
    assert all(0 < r < 10 for r in rate.values())


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
    assert len(fig.axes) == 24 and [ax.get_title() for ax in fig.axes[6:8]] == ["exposure", "blur"]
    assert all(t.get_fontsize() >= 9 for legend in fig.legends for t in legend.get_texts())
    plt.close(fig)


def test_the_table1_summary_records_the_iterations_its_wall_times_measured(tmp_path):
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("ablation_for_announce", root / "benchmarks" / "ablation.py")
    ablation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ablation)
    runs = {m: [{"seed": s, "target_miou": 0.2 + 0.01 * s + (0.1 if m == "oracle" else 0), "source_miou": 0.5,
                 "wall_time_s": 100.0 + s, "iterations": 700, "target_val": {"per_class_iou": {"road": 0.5}}}
                for s in (0, 1)] for m in ("source_only", "pfr", "oracle")}
    _, summary = ablation.summarize(runs)
    assert summary["pfr"]["iterations"] == [700, 700] and summary["pfr"]["wall_s"] == [100.0, 101.0]
    write_json(tmp_path / "t.json", summary)
    rate, _ = nbtools.measured_seconds_per_iteration(("t.json",), tmp_path, default_iterations=1500)
    assert rate["pfr"] == pytest.approx(100.0 / 700)  # the fastest run, by the recorded count, not the default
