"""pfrlib.launch.launcher / pfrlib.launch.job: the one rule (plan), made once and carried in the job file to the
child, which resumes its own checkpoint when started again; children that die with the launcher (kill -9
included), a re-run that resumes, and the names the launch layer offers."""

from __future__ import annotations

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

from pfrlib.launch import job as launch_job, launcher as launch, sweep
from pfrlib.config.train_config import TrainConfig
from pfrlib.io import write_json
from pfrlib.launch.job import JOB_FILE, child_action, read_job
from pfrlib.launch.job import Job, job_command, job_environment, plan
from pfrlib.launch.sweep_spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
TINY = {"iterations": 2, "synth_size": [32, 64], "synth_train_length": 8, "synth_val_length": 4, "batch_size": 2,
        "log_every": 1}


def tiny_job(tmp_path: Path, name: str = "run", **overrides) -> Job:
    return Job(name=name, out=tmp_path / name, config=TrainConfig.preset("cpu", **{**TINY, **overrides}))


def test_one_rule_reuse_resume_train(tmp_path):
    job = tiny_job(tmp_path)
    assert plan(job) == "train" and not launch_job.is_finished(job)  # nothing there
    job.out.mkdir()
    job.train_config().replace(num_threads=3, overwrite=True).to_json(job.out / "config.json")
    (job.out / "checkpoint_last.pt").write_bytes(b"")
    assert plan(job) == "resume"  # a checkpoint of the same configuration, no result: resume it
    write_json(job.out / "final.json", {"target_miou": 0.5})
    assert plan(job) == "reuse" and launch_job.is_finished(job)  # bookkeeping (threads, overwrite) aside
    assert plan(job, retrain=True) == "train"
    other = tiny_job(tmp_path, lr=1e-3)  # another experiment in the same folder: trained, not reused
    assert plan(other) == "train" and not launch_job.is_finished(other)
    nb = Job(name="nb", out=tmp_path / "nb", notebook=ROOT / "notebooks" / "01_gram_matrices.ipynb")
    assert plan(nb) == "train"
    write_json(nb.out / "metrics.json", {"style_loss": 1.0})
    assert plan(nb) == "reuse"


def test_job_file_holds_the_configuration_and_the_command_runs_it(tmp_path):
    job = tiny_job(tmp_path, method="pfr_adv", seed=3)
    job.threads = 2
    cmd = job_command(job, "resume")
    assert cmd == [sys.executable, "-m", "pfrlib.launch.job", str(job.out / JOB_FILE)]
    again, recorded = read_job(job.out / JOB_FILE)
    assert again.train_config() == job.train_config() and recorded == "resume"
    assert json.loads((job.out / JOB_FILE).read_text())["config"] == job.config.replace(out=str(job.out)).to_dict()
    assert again.train_config().run.num_threads == 2 and again.train_config().run.out == str(job.out)
    env = job_environment(job, {"PYTHONPATH": "/elsewhere"})
    assert env["OMP_NUM_THREADS"] == "2" and env["PYTHONPATH"].split(os.pathsep) == [str(ROOT), "/elsewhere"]
    with pytest.raises(ValueError, match="exactly one"):
        Job(name="x", out=tmp_path / "x")
    with pytest.raises(ValueError, match="same run.out"):
        launch.launch([tiny_job(tmp_path), tiny_job(tmp_path)], report=lambda _: None)
    (tmp_path / "bad.json").write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "pfrlib.launch.job", str(tmp_path / "bad.json")], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "bad.json is not a job file" in proc.stderr


def test_the_child_carries_out_the_recorded_plan_and_a_restarted_job_resumes_its_own_checkpoint(tmp_path):
    """A job file records the launcher's plan; the child follows it, except that a checkpoint
    written after the job file (this job's own: a Slurm job requeued after a preemption) is resumed."""
    job = tiny_job(tmp_path)
    job.out.mkdir()
    checkpoint = job.out / "checkpoint_last.pt"
    checkpoint.write_bytes(b"")  # an old run's checkpoint, there when the plan was made
    os.utime(checkpoint, ns=(time.time_ns() - 10**9,) * 2)
    write = launch_job.write_job
    write(job, "train")
    assert child_action(job, "train") == "train"  # the old checkpoint is replaced, as planned
    assert child_action(job, "resume") == "resume"
    checkpoint.write_bytes(b"")  # the job's first start saved a checkpoint, then it was requeued
    os.utime(checkpoint, ns=(time.time_ns() + 10**9,) * 2)
    assert child_action(job, "train") == "resume"
    checkpoint.unlink()  # stopped before its first good checkpoint: train afresh, as planned
    assert child_action(job, "train") == "train"
    with pytest.raises(ValueError, match="train or resume"):
        write(job, "reuse")  # a finished job is never launched
    (job.out / JOB_FILE).write_text(json.dumps({**json.loads((job.out / JOB_FILE).read_text()), "plan": "later"}))
    with pytest.raises(ValueError, match="not a job file"):
        read_job(job.out / JOB_FILE)


def test_each_job_is_planned_once_under_its_claim_and_launched_with_that_plan(tmp_path, monkeypatch):
    """A :class:`Claim` locks every job's folder and plans each job once; :func:`launch` given the
    claim hands those plans to the backend as they are (not made again), for some of its jobs too."""
    from pfrlib.launch.local import Backend

    seen, planned = [], []
    real_plan = launch.plan
    monkeypatch.setattr(launch, "plan", lambda job, retrain=False: planned.append(job.name) or real_plan(job, retrain))

    class Record(Backend):
        def run(self, jobs, plans, report=print):
            assert all((j.out / launch_job.LAUNCH_LOCK).exists() for j in jobs)  # held while they run
            seen.extend(zip([j.name for j in jobs], plans))
            return [launch_job.Outcome(j, "failed", error="not run") for j in jobs]

    jobs = [tiny_job(tmp_path, f"s{seed}", seed=seed) for seed in (0, 1, 2)]
    jobs[1].out.mkdir()
    jobs[1].train_config().to_json(jobs[1].out / "config.json")
    write_json(jobs[1].result, {"target_miou": 0.5})  # finished: reused
    with launch.Claim(jobs) as claim:
        assert claim.plans == ["train", "reuse", "train"] and planned == ["s0", "s1", "s2"]
        outcomes = launch.launch(jobs[:2], Record(), report=lambda _: None, claim=claim)
    assert seen == [("s0", "train")] and [o.status for o in outcomes] == ["failed", "reused"]
    assert planned == ["s0", "s1", "s2"]  # launch planned nothing again
    assert not any((j.out / launch_job.LAUNCH_LOCK).exists() for j in jobs)  # released, lock files removed
    with launch.Claim(jobs[:1]) as claim, pytest.raises(ValueError, match="not one of this claim's jobs"):
        launch.launch(jobs[1:], Record(), report=lambda _: None, claim=claim)


def test_a_reused_run_is_one_line_and_nothing_starts(tmp_path):
    jobs = [tiny_job(tmp_path, f"s{seed}", seed=seed) for seed in (0, 1)]
    for job in jobs:
        job.out.mkdir()
        job.train_config().to_json(job.out / "config.json")
        write_json(job.out / "final.json", {"target_miou": 0.25, "method": "source_only"})
    lines: list[str] = []
    outcomes = launch.launch(jobs, report=lines.append)
    assert len(lines) == 1 and lines[0].startswith("reusing 2 finished runs") and "s0, s1" in lines[0]
    assert [o.status for o in outcomes] == ["reused", "reused"] and outcomes[1].final["target_miou"] == 0.25
    assert not (jobs[0].out / "status.json").exists()


def test_one_place_starts_runs():
    """Only pfrlib/launch/launcher.py starts training subprocesses (``benchmarks/step_time.py`` times one
    measurement in a child of its own, one at a time)."""
    starters = {}
    for path in [*(ROOT / "pfrlib").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]:
        text = path.read_text()
        hits = re.findall(r"ThreadPoolExecutor|ProcessPoolExecutor|subprocess\.Popen|multiprocessing\.Pool", text)
        if hits:
            starters[str(path.relative_to(ROOT))] = hits
    assert starters == {"pfrlib/launch/launcher.py": ["subprocess.Popen"]}


def test_the_sweep_spec_answers_for_its_runs(tmp_path):
    """One object: the spec gives its folder, runs, each run's configuration, job and result file."""
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(dict(name="s", fixed={"preset": "cpu", **TINY}, grid={"seed": [0, 1]},
                                             runs=[{"seed": 2, "lr": 1e-3}])))
    spec = load_spec(spec_path)
    runs = spec.runs(tmp_path / "runs")
    assert [r.name for r in runs] == ["seed=0", "seed=1", "lr=0.001_seed=2"] and spec.listed == [{"seed": 2, "lr": 1e-3}]
    assert runs[0].out == spec.folder(tmp_path / "runs") / "seed=0" == tmp_path / "runs" / "s" / "seed=0"
    jobs = spec.checked_jobs(tmp_path / "runs")
    assert [j.config for j in jobs] == [spec.config(r) for r in runs] and jobs[2].config.optim.lr == 1e-3
    assert [j.result for j in jobs] == [spec.result_path(r) for r in runs] and jobs[0].meta == runs[0].params


def test_what_a_notebook_trains_is_read_from_the_notebook(tmp_path):
    from pfrlib.teaching.reproduce import what_it_trains

    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        trains = json.loads(nb.read_text())["metadata"]["pfr"]["trains"]
        assert what_it_trains(nb) == trains and trains
    assert "ablation ladder" in what_it_trains(ROOT / "notebooks" / "05_adversarial_output.ipynb")
    bare = tmp_path / "x.ipynb"
    bare.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": ["# 09 · A title\n", "text"]}],
                                "metadata": {}}))
    assert what_it_trains(bare) == "see the notebook (09 · A title)"


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_killed_sweep_takes_its_run_along_and_a_rerun_resumes_it(tmp_path):
    """``kill -9`` of a sweep ends its training child within seconds; the sweep started again
    resumes the run from its last checkpoint (metrics.jsonl continues, its first records kept)."""
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(dict(name="k", fixed={"preset": "cpu", **TINY, "iterations": 40,
                                                               "checkpoint_every": 4, "synth_size": [64, 128]},
                                             grid={"seed": [0]}, jobs=1)))
    root = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "pfrlib.sweep", str(spec_path), "--root", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    run = root / "k" / "seed=0"
    try:
        child = None
        for line in proc.stdout:
            if re.search(r"started seed=0 \(log .*log\.txt\)", line):  # the line names the log, not the pid
                child = json.loads((run / JOB_FILE).read_text())["pid"]  # the job file keeps it
                break
        assert child is not None and not _gone(child)
        deadline = time.time() + 240
        while not (run / "checkpoint_last.pt").exists() and time.time() < deadline:
            time.sleep(0.05)
        assert (run / "checkpoint_last.pt").exists()
    finally:
        proc.kill()  # SIGKILL: no cleanup in the sweep
        proc.wait()
    deadline = time.time() + 10
    while not _gone(child) and time.time() < deadline:
        time.sleep(0.1)
    assert _gone(child), "the training child outlived the killed sweep"
    assert not (run / "final.json").exists(), "the run finished before the sweep was killed: make it longer"
    before = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]

    logs: list[str] = []
    statuses = sweep.run_sweep(load_spec(spec_path), root=root, log=logs.append)
    assert statuses[0]["ok"] and "1 resumed from their checkpoint" in logs[0]
    assert any(x.startswith("  resuming seed=0 from its last checkpoint") for x in logs)
    after = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in after] == list(range(1, 41))  # continued, no iteration twice
    kept = [r for r in before if r["iter"] <= 4]
    assert kept and after[:len(kept)] == kept  # the records up to the checkpoint are the first process's
    assert json.loads((run / "final.json").read_text())["iterations"] == 40


@pytest.mark.slow
def test_interrupted_sweep_stops_its_runs_and_says_how_to_resume(tmp_path):
    """Ctrl-C (SIGINT to the sweep only: its runs sit in their own process groups) ends the runs
    too, and the sweep exits 130 with one line saying how to resume."""
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(dict(name="i", fixed={"preset": "cpu", **TINY, "iterations": 1000},
                                             grid={"seed": [0]}, jobs=1)))
    # Ctrl-C in a terminal reaches a sweep whose SIGINT is the default; a process started with SIGINT
    # ignored (as a test worker may leave it) keeps it ignored, and Python then never raises
    # KeyboardInterrupt: the sweep ran to its end (exit 0) in two CI runs. Start it as a shell would.
    proc = subprocess.Popen([sys.executable, "-m", "pfrlib.sweep", str(spec_path), "--root", str(tmp_path / "runs")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        next(line for line in proc.stdout if line.startswith("  started seed=0 (log "))
        child = json.loads((tmp_path / "runs" / "i" / "seed=0" / JOB_FILE).read_text())["pid"]
        proc.send_signal(signal.SIGINT)
        # communicate, not wait: it keeps reading both pipes, so a sweep that still has output to
        # write (flushed at exit) cannot block on a full pipe while the test waits for it
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130
    finally:
        proc.kill()
    assert _gone(child)
    assert "interrupted: the running runs were stopped; run the sweep again to resume" in err


def test_same_configuration_ignores_bookkeeping_only(tmp_path):
    from pfrlib.config.train_config import TrainConfig
    from pfrlib.config.command_line import config_from_argv
    from pfrlib.launch.job import same_configuration

    cfg = TrainConfig.preset("cpu", method="pfr_adv", seed=1, out=str(tmp_path / "run"))
    assert not same_configuration(cfg)  # no run there
    (tmp_path / "run").mkdir()
    cfg.replace(num_threads=1, progress=False, overwrite=True).to_json(tmp_path / "run" / "config.json")
    assert same_configuration(cfg)
    # the command line builds the same configuration; another value of a real field does not match
    argv = ["--preset", "cpu", "--method", "pfr_adv", "--seed", "1", "--out", str(tmp_path / "run"), "--no-progress"]
    assert same_configuration(config_from_argv(argv), tmp_path / "run")
    assert not same_configuration(config_from_argv(argv + ["--d-lr", "1e-4"]), tmp_path / "run")
    # where a run lives is bookkeeping too: a notebook saves "../runs/series/x", the root names it
    # "runs/series/x", a sweep may hold a copy; all are the same run
    (tmp_path / "copy").mkdir()
    cfg.replace(out="../runs/series/pfr_adv_s1").to_json(tmp_path / "copy" / "config.json")
    assert same_configuration(cfg, tmp_path / "copy")
    (tmp_path / "run" / "config.json").write_text("{broken")
    assert not same_configuration(cfg)
