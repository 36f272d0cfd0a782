"""pfrlib.sweep: expansion, running (train and notebook runners), resume, failures, aggregation."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from pfrlib.launch import sweep
from pfrlib.launch.job import is_finished
from pfrlib.launch.sweep_report import aggregate
from pfrlib.launch.sweep_spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
TINY = {"preset": "cpu", "iterations": 2, "synth_size": [32, 64], "synth_train_length": 8, "synth_val_length": 4,
        "batch_size": 2, "log_every": 1}


def write_spec(tmp_path: Path, **spec) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_shipped_specs_load_and_expand():
    specs = sorted((ROOT / "sweeps").glob("*.yaml"))
    assert {p.stem for p in specs} >= {"ablation", "lambda_grid", "stages", "style_content", "normalisation"}
    for p in specs:
        spec = load_spec(p)
        runs = spec.runs("runs")
        assert runs and len({r.name for r in runs}) == len(runs)
    ablation = load_spec(ROOT / "sweeps" / "ablation.yaml").runs()
    assert len(ablation) == 15 and ablation[0].params == {"preset": "cpu", "method": "source_only", "seed": 0}


def test_table1_specs_run_every_method_on_tuning_and_held_out_seeds():
    from pfrlib import methods
    from pfrlib.config import ALL_METHODS

    trained = set(ALL_METHODS) | set(methods.names("translation"))  # every Table-1 row, translation included
    for name, seeds in (("table1", {0, 1, 2}), ("table1_heldout", {5, 6, 7})):
        spec = load_spec(ROOT / "sweeps" / f"{name}.yaml")
        runs = spec.runs()
        assert {r.params["method"] for r in runs} == trained and {r.params["seed"] for r in runs} == seeds
        assert len(runs) == 3 * len(trained) and spec.jobs == 2 and spec.threads == 1
        assert all(spec.config(r).run.seed in seeds for r in runs[:2])


def test_bad_specs_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(ValueError, match="unknown key"):
        load_spec(write_spec(tmp_path, name="x", grid={"seed": [0]}, gird={}))
    with pytest.raises(ValueError, match="runner"):
        load_spec(write_spec(tmp_path, name="x", runner="bash", grid={"seed": [0]}))
    with pytest.raises(ValueError, match="non-empty list"):
        load_spec(write_spec(tmp_path, name="x", grid={"seed": 0}))
    with pytest.raises(ValueError, match="unknown plot"):
        load_spec(write_spec(tmp_path, name="x", grid={"seed": [0]}, figures={"bar.png": "figures/x.png"}))
    with pytest.raises(FileNotFoundError, match="notebook"):
        load_spec(write_spec(tmp_path, name="x", runner="notebook", notebook="missing.ipynb", grid={"seed": [0]}))


def test_finished_train_run_with_another_configuration_is_rerun(tmp_path):
    spec = load_spec(write_spec(tmp_path, name="x", runner="train", fixed=TINY, grid={"seed": [0]}))
    (run,) = spec.runs(tmp_path / "runs")
    assert not is_finished(spec.job(run))  # nothing there yet
    run.out.mkdir(parents=True)
    spec.config(run).replace(num_threads=2).to_json(run.out / "config.json")
    (run.out / "final.json").write_text("{}")
    assert is_finished(spec.job(run))  # same configuration (threads are bookkeeping)
    changed = load_spec(write_spec(tmp_path, name="x", runner="train", fixed={**TINY, "d_lr": 1e-3}, grid={"seed": [0]}))
    assert not is_finished(changed.job(changed.runs(tmp_path / "runs")[0]))
    logs = []
    sweep.run_sweep(changed, root=tmp_path / "runs", dry_run=True, log=logs.append)
    assert "1 to run" in logs[0] and "another configuration" in logs[0]
    (run.out / "config.json").write_text("not json")
    assert not is_finished(spec.job(run))


@pytest.mark.slow
def test_train_sweep_runs_resumes_records_failures_and_aggregates(tmp_path):
    common = dict(name="tiny", runner="train", fixed=TINY, grid={"method": ["source_only", "pfr_adv"], "seed": [0, 1]},
                  group_by=["method"], metrics=["target_miou", "source_miou"])
    # a run the config check rejects stops the sweep before anything starts
    bad = load_spec(write_spec(tmp_path, **common, runs=[{"method": "source_only", "seed": 5, "lambda_pfr": -1}]))
    with pytest.raises(ValueError, match="run 'method=source_only_seed=5_lambda_pfr=-1': lambda_pfr must be"):
        sweep.run_sweep(bad, root=tmp_path / "runs", jobs=2, log=lambda *_: None)
    assert not (tmp_path / "runs").exists()
    # a run that passes the checks but fails at run time (weights file that is not one) is recorded
    (tmp_path / "junk.pth").write_text("junk")
    spec = load_spec(write_spec(
        tmp_path, **common, runs=[{"method": "source_only", "seed": 5, "init": str(tmp_path / "junk.pth")}],
        figures={"bars.png": "figs/tiny_bars.png"},
    ))
    bad_name = spec.runs(tmp_path / "runs")[-1].name
    logs = []
    statuses = sweep.run_sweep(spec, root=tmp_path / "runs", jobs=2, log=logs.append)
    ok = {s["name"]: s["ok"] for s in statuses}
    assert sum(ok.values()) == 4 and ok[bad_name] is False
    failed = json.loads((tmp_path / "runs" / "tiny" / bad_name / "status.json").read_text())
    assert any("junk.pth" in line for line in failed["log_tail"]) and "junk.pth" in failed["error"]
    assert any(line.startswith(f"  FAILED {bad_name}") and "junk.pth" in line for line in logs)

    result = aggregate(spec, root=tmp_path / "runs")
    out = tmp_path / "runs" / "tiny"
    assert (out / "results.csv").read_text().count("\n") == 1 + 5  # the failed run too, marked failed
    with open(out / "results.csv", newline="") as f:
        assert {r["run"]: r["status"] for r in csv.DictReader(f)}[bad_name] == "failed"
    assert "| method | runs | target_miou | source_miou |" in result["markdown"]
    assert "| source_only | 2 (1 failed) |" in result["markdown"] and f"Failed runs (1" in result["markdown"]
    assert {e["method"]: (e["n"], e["failed"]) for e in result["summary"]} == {"source_only": (2, 1), "pfr_adv": (2, 0)}
    assert (out / "bars.png").exists() and (out / "per_class_iou.png").exists()
    # figures named in the spec are copied relative to the folder above the spec's folder
    assert result["figures"] == [tmp_path.parent / "figs" / "tiny_bars.png"]
    assert result["figures"][0].read_bytes() == (out / "bars.png").read_bytes()

    logs.clear()
    sweep.run_sweep(spec, root=tmp_path / "runs", jobs=2, log=logs.append)  # resume: only the failed one reruns
    assert "4 already finished, 1 to run" in logs[0]


@pytest.mark.slow
def test_notebook_sweep_records_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("PFR_SMOKE", "1")
    blocker = tmp_path / "a_file"
    blocker.write_text("")  # figures cannot go under a file: the run fails inside the notebook
    spec = load_spec(write_spec(
        tmp_path, name="nb", runner="notebook", notebook=str(ROOT / "notebooks" / "01_gram_matrices.ipynb"),
        grid={"gram_normalize": ["chw"]}, runs=[{"gram_normalize": "hw", "figures_dir": str(blocker / "figures")}],
        group_by=["gram_normalize"], metrics=["style_loss"],
    ))
    statuses = {s["name"].split("_figures_dir")[0]: s
                for s in sweep.run_sweep(spec, root=tmp_path / "runs", jobs=1, log=lambda *_: None)}
    assert statuses["gram_normalize=chw"]["ok"]
    bad = statuses["gram_normalize=hw"]
    assert not bad["ok"] and bad["failing_cell"]["ename"] == "NotADirectoryError" and "a_file" in bad["failing_cell"]["evalue"]
    result = aggregate(spec, root=tmp_path / "runs")
    # the failed run is listed as failed, not dropped
    assert [(e["gram_normalize"], e["n"], e["failed"]) for e in result["summary"]] == [("chw", 1, 0), ("hw", 0, 1)]
    assert "| hw | 0 (1 failed) | FAILED |" in result["markdown"]


def test_configs_built_through_the_config_api_equal_the_command_line_ones(tmp_path):
    """A sweep builds each run's TrainConfig with ``TrainConfig.preset(...).replace(...)``: for every
    run of every shipped spec it equals what ``python -m pfrlib.train`` would build from the same
    options (so moving off the argv round trip changed no run)."""
    from pfrlib.config.command_line import config_from_argv

    def argv(run):
        args = ["--out", str(run.out)]
        for k, v in run.params.items():
            args += [f"--{k.replace('_', '-')}", *([str(x) for x in v] if isinstance(v, list) else [str(v)])]
        return args

    for path in sorted((ROOT / "sweeps").glob("*.yaml")):
        spec = load_spec(path)
        if spec.runner != "train":
            continue
        for run in spec.runs(tmp_path):
            assert spec.config(run) == config_from_argv(argv(run)), (path.name, run.name)
    # a scalar for a list field is a one-item list, as on the command line
    spec = load_spec(write_spec(tmp_path, name="x", fixed=TINY, grid={"pfr_stages": [3]}))
    (run,) = spec.runs()
    assert spec.config(run).loss.pfr_stages == (3,)
