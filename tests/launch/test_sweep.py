"""pfrlib.launch.sweep (and its spec and report): expansion, running (train and notebook runners),
resume, failures, aggregation, and the sweep's refusals.

A bad spec (unknown key, mistyped grid key or value, unknown metric, not YAML) stops before
anything runs, with one line naming the spec; failed runs appear in the summary; two specs with one
name do not share a folder unless asked; a finished run with another configuration is kept, not
overwritten (the ``reliability`` theme). Two sweeps of the same spec at once: the second leaves the
run the first is training to it, with one line naming the first sweep's pid, nothing written in the
run's folder, and exit status 0.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from one_line import one_line
from pfrlib.launch import launcher as launch
from pfrlib.launch import sweep
from pfrlib.launch.job import LAUNCH_LOCK, Outcome, is_finished
from pfrlib.launch.local import Backend
from pfrlib.launch.sweep_report import aggregate
from pfrlib.launch.sweep_spec import load_spec
from pfrlib.sweep import main as sweep_main

ROOT = Path(__file__).resolve().parents[2]
TINY = {"preset": "cpu", "iterations": 2, "synth_size": [32, 64], "synth_train_length": 8, "synth_val_length": 4,
        "batch_size": 2, "log_every": 1}
SWEEP_TINY = {"preset": "cpu", "iterations": 2, "synth_size": [32, 64], "synth_train_length": 4,
              "synth_val_length": 2, "batch_size": 2}
LONG = {"preset": "cpu", "iterations": 100000, "checkpoint_every": 100000, "log_every": 1, "val_every": 0,
        "synth_size": [32, 64], "synth_train_length": 4, "synth_val_length": 2, "batch_size": 2,
        "model_kwargs": {"widths": [8, 8, 16, 16]}}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


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
    # the ladder of the committed 9-class results (the sweep pins the benchmark its file holds)
    assert len(ablation) == 15 and ablation[0].params == {"preset": "cpu", "synth_classes": 9, "lambda_adv": 0.004,
                                                          "lambda_pfr": 0.1, "method": "source_only", "seed": 0}


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
        args = ["--out", str(run.out)] + (["--stage-store", str(run.stage_store)] if run.stage_store else [])
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


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()}


@pytest.mark.slow
def test_a_second_sweep_of_the_same_spec_skips_the_run_the_first_is_training(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"name": "twice", "fixed": LONG, "grid": {"seed": [0]}}, sort_keys=False))
    root, run = tmp_path / "runs", tmp_path / "runs" / "twice" / "seed=0"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # its output goes to a file, not a pipe (a pipe nobody reads fills up and blocks the sweep), and
    # it gets the default SIGINT: a shell that starts the tests in the background (`cmd &`) hands
    # them SIGINT ignored, and a Python started that way never raises KeyboardInterrupt
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen([sys.executable, "-m", "pfrlib.sweep", str(spec), "--root", str(root), "--jobs", "1"],
                             env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not (run / "metrics.jsonl").exists():  # the first sweep's run is training
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "the first sweep's run did not start"
            time.sleep(0.1)
        assert (run / LAUNCH_LOCK).read_text().strip() == str(first.pid)
        job_file = _files(run)["job.json"]
        capsys.readouterr()
        assert sweep_main([str(spec), "--root", str(root), "--jobs", "1"]) == 0  # not a failure
        out = capsys.readouterr().out
        assert f"skipped seed=0: in progress in another sweep (pid {first.pid}" in out
        assert "1 run(s) in progress in another sweep, left to it: ['seed=0']" in out
        assert "FAILED" not in out and "failed" not in out.replace("(0 failed)", "")
        assert first.poll() is None  # the first sweep's run goes on
        assert _files(run)["job.json"] == job_file and not (run / "status.json").exists()
        assert "in use by" not in (run / "log.txt").read_text()  # the second sweep wrote nothing into it
    finally:
        first.send_signal(signal.SIGINT)  # the first sweep stops its run (resumable later)
        first.wait(timeout=60)
        log.close()
    assert not (run / LAUNCH_LOCK).exists()  # the first sweep let go of the run


# --------------------------------------------------------------------------- bad specs, failed runs, shared folders
def spec_file(path: Path, **spec) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.reliability
@pytest.mark.parametrize("spec, phrases", [
    (dict(name="x", grid={"seed": [0]}, metircs=["target_miou"]),
     ["unknown key(s) ['metircs']", "allowed:", "'metrics'"]),
    (dict(name="x", fixed=SWEEP_TINY, grid={"metod": ["pfr"]}),
     ["unknown grid key 'metod'", "did you mean 'method'", "lambda_pfr"]),
    (dict(name="x", fixed=SWEEP_TINY, grid={"method": ["pfr", "pfr_advv"]}),
     ["run 'method=pfr_advv'", "method: unknown value 'pfr_advv'", "pfr_adv"]),
    (dict(name="x", fixed=SWEEP_TINY, grid={"seed": [0]}, metrics=["target_mIoU"]),
     ["unknown metric 'target_mIoU'", "did you mean 'target_miou'"]),
    (dict(name="x", fixed={**SWEEP_TINY, "out": "elsewhere"}, grid={"seed": [0]}),
     ["fixed key 'out' is set by the sweep itself"]),
    (dict(name="x", fixed={**SWEEP_TINY, "source": "folder:/no/such/dir"}, grid={"seed": [0]}),
     ["run 'seed=0'", "/no/such/dir", "does not exist"]),
    (dict(name="x", fixed=SWEEP_TINY, grid={"seed": [0]}, group_by=["method"]),
     ["group_by key 'method' is not a parameter"]),
    (dict(name="x", fixed={**SWEEP_TINY, "seed": [0, 1]}, grid={"method": ["pfr"]}),
     ["run 'method=pfr'", "seed: cannot interpret [0, 1]", "under 'grid:'"]),
    (dict(name=5, grid={"seed": [0]}), ["'name' must be a non-empty word"]),
])


@pytest.mark.reliability
def test_bad_sweep_specs_stop_before_anything_runs(tmp_path, capsys, spec, phrases):
    path = spec_file(tmp_path / "spec.yaml", **spec)
    assert sweep_main([str(path), "--root", str(tmp_path / "runs")]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: ") and str(path) in line
    for phrase in phrases:
        assert phrase in line, (phrase, line)
    assert not (tmp_path / "runs").exists()  # nothing started


@pytest.mark.reliability
def test_sweep_spec_that_is_not_yaml(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text("name: x\ngrid: {seed: [0}\n")
    assert sweep_main([str(path), "--root", str(tmp_path / "runs")]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"{path} is not valid YAML (line 2, column 16)" in line


def _fake_backend(fail: set[str]):
    """A stand-in for the local launcher: writes config.json (+ final.json unless the run should fail)."""
    class Fake(Backend):
        def __init__(self, jobs=None):
            pass

        def run(self, jobs, plans, report=print):
            outcomes = []
            for job in jobs:
                job.out.mkdir(parents=True, exist_ok=True)
                job.train_config().to_json(job.out / "config.json")
                ok = job.name not in fail
                if ok:
                    (job.out / "final.json").write_text(json.dumps({"target_miou": 0.25, "source_miou": 0.5}))
                outcome = Outcome(job, "finished" if ok else "failed", error=None if ok else "fake failure")
                (job.out / "status.json").write_text(json.dumps(outcome.to_status()))
                outcomes.append(outcome)
            return outcomes
    return Fake


@pytest.mark.reliability
def test_failed_runs_appear_in_the_summary(tmp_path, monkeypatch):
    monkeypatch.setitem(launch.BACKENDS, "local", _fake_backend({"method=pfr_seed=1", "method=pfr_adv_seed=0",
                                                                "method=pfr_adv_seed=1"}))
    spec = load_spec(spec_file(tmp_path / "spec.yaml", name="s", fixed=SWEEP_TINY,
                                     grid={"method": ["pfr", "pfr_adv"], "seed": [0, 1]}, group_by=["method"]))
    statuses = sweep.run_sweep(spec, root=tmp_path / "runs", log=lambda *_: None)
    assert sum(not s["ok"] for s in statuses) == 3
    result = aggregate(spec, root=tmp_path / "runs")
    md = result["markdown"]
    assert "| pfr | 1 (1 failed) | 25.0 ± 0.0 |" in md and "| pfr_adv | 0 (2 failed) | FAILED |" in md
    assert "Failed runs (3" in md and "method=pfr_adv_seed=1" in md
    csv_text = (tmp_path / "runs" / "s" / "results.csv").read_text()
    assert csv_text.count(",failed,") == 3 and csv_text.count(",ok,") == 1


@pytest.mark.reliability
def test_two_specs_with_one_name_do_not_share_a_folder_unless_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(launch.BACKENDS, "local", _fake_backend(set()))
    a = spec_file(tmp_path / "a" / "spec.yaml", name="same", fixed=SWEEP_TINY, grid={"seed": [0]})
    b = spec_file(tmp_path / "b" / "spec.yaml", name="same", fixed={**SWEEP_TINY, "lr": 1e-3}, grid={"seed": [0]})
    root = tmp_path / "runs"
    assert sweep_main([str(a), "--root", str(root)]) == 0
    capsys.readouterr()
    final = (root / "same" / "seed=0" / "final.json").read_text()
    assert sweep_main([str(b), "--root", str(root)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "holds the runs of sweep spec a/spec.yaml" in line and "b/spec.yaml" in line and "--share-dir" in line
    assert (root / "same" / "seed=0" / "final.json").read_text() == final  # untouched
    # asked to share: b may write there; its run (another configuration) is moved aside, not lost
    assert sweep_main([str(b), "--root", str(root), "--share-dir"]) == 0
    (kept,) = (root / "same" / "_replaced").glob("*/seed=0")
    assert (kept / "final.json").read_text() == final
    assert json.loads((root / "same" / "sweep.json").read_text())["specs"] == ["a/spec.yaml", "b/spec.yaml"]


@pytest.mark.reliability
def test_a_finished_run_with_another_configuration_is_kept_not_overwritten(tmp_path, monkeypatch):
    monkeypatch.setitem(launch.BACKENDS, "local", _fake_backend(set()))
    path = spec_file(tmp_path / "spec.yaml", name="s", fixed=SWEEP_TINY, grid={"seed": [0]})
    root = tmp_path / "runs"
    sweep.run_sweep(load_spec(path), root=root, log=lambda *_: None)
    run_dir = root / "s" / "seed=0"
    (run_dir / "final.json").write_text('{"target_miou": 0.99}')  # the old result, to be kept
    spec_file(path, name="s", fixed={**SWEEP_TINY, "lr": 1e-3}, grid={"seed": [0]})
    logs: list[str] = []
    sweep.run_sweep(load_spec(path), root=root, log=logs.append)
    warning = next(x for x in logs if "WARNING" in x)
    assert re.search(r"seed=0 finished with another configuration \(lr: [0-9.e-]+ -> 0.001\)", one_line(warning))
    (kept,) = (root / "s" / "_replaced").glob("*/seed=0")
    assert str(kept) in warning
    assert (kept / "final.json").read_text() == '{"target_miou": 0.99}'
    assert json.loads((run_dir / "final.json").read_text())["target_miou"] == 0.25  # the rerun


def test_a_spec_s_stage_store_is_every_run_s_under_the_runs_root(tmp_path):
    """``stage_store:`` (a folder relative to the runs root) is set by the sweep for every run; given
    as a run parameter it is refused with the way to give it; a bad value is named."""
    spec = load_spec(write_spec(tmp_path, name="x", stage_store="_stages", fixed=TINY, grid={"seed": [0, 1]}))
    root = tmp_path / "runs"
    jobs = spec.checked_jobs(root)
    assert {j.config.run.stage_store for j in jobs} == {str(root / "_stages")}
    shipped = load_spec(ROOT / "sweeps" / "tuning" / "tgcf_da.yaml")
    assert shipped.config(shipped.runs()[0]).run.stage_store == str(Path("runs") / "_stages")
    with pytest.raises(ValueError, match="set by the sweep itself.*top-level 'stage_store:'"):
        load_spec(write_spec(tmp_path, name="x", fixed={**TINY, "stage_store": "s"}, grid={"seed": [0]})).checked_jobs(root)
    for bad in ("/abs", "../up", ""):
        with pytest.raises(ValueError, match="'stage_store' must be a folder relative to the runs root"):
            load_spec(write_spec(tmp_path, name="x", stage_store=bad, grid={"seed": [0]}))
    (root / "blocked").parent.mkdir(parents=True, exist_ok=True)
    (root / "blocked").write_text("a file")
    spec = load_spec(write_spec(tmp_path, name="x", stage_store="blocked", fixed=TINY, grid={"seed": [0]}))
    with pytest.raises(ValueError, match="stage_store: .*blocked is a file"):
        spec.checked_jobs(root)
