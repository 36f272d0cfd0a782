"""The Slurm launcher (pfrlib.launch.slurm) against a real one-node Slurm cluster (.ci/slurm-up).

CI brings the cluster up before the tests (.ci/run) and these tests must run there: they are
skipped only where no Slurm is installed *and* CI is not set; in CI a missing or stopped cluster
fails them. Tiny runs (SynthStreets 32x64, the small model); what is checked is the machinery:
the same numbers as a local sweep, recorded job ids, resume after ``scancel``, a bad spec
refused before anything is submitted, a queued job not submitted twice.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from pfrlib.launch import sweep
from pfrlib.sweep import main as sweep_main
from pfrlib.config.train_config import TrainConfig
from pfrlib.launch.job import Job
from pfrlib.launch.slurm import ATTEMPTS_FILE, SLURM_FILE, SlurmBackend, job_states
from pfrlib.launch.slurm_run import read_attempts

REPO = Path(__file__).resolve().parents[2]
FIXED = {"preset": "cpu", "iterations": 40, "checkpoint_every": 4, "log_every": 4, "synth_size": [32, 64],
         "synth_train_length": 8, "synth_val_length": 4, "batch_size": 2, "model_kwargs": {"widths": [8, 8, 16, 16]}}
METHODS = ["source_only", "adaptsegnet"]

if shutil.which("sinfo") is None and not os.environ.get("CI"):
    pytest.skip("no Slurm here (run .ci/slurm-up to start a one-node cluster); CI always runs these",
                allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def cluster():
    """The cluster must be up: a failure here (CI included) says how to start it."""
    try:
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.fail(f"no Slurm cluster answers ({err}); run `bash .ci/slurm-up` first")
    if not any(s.strip("*~#") in ("idle", "mixed", "allocated") for s in state.split()):
        pytest.fail(f"the Slurm node is not up (sinfo: {state.strip()!r}); run `bash .ci/slurm-up` first")


def _spec(path: Path, name: str, **extra) -> Path:
    spec = {"name": name, "runner": "train", "fixed": FIXED, "group_by": ["method"], "metrics": ["target_miou"], **extra}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _sweep(spec: Path, root: Path, *args: str) -> tuple[int, str, str]:
    """``python -m pfrlib.sweep SPEC --root ROOT ARGS`` in this process: (exit status, stdout, stderr).
    (In-process saves an interpreter and a torch import per call; the runs are subprocesses or jobs.)"""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = sweep_main([str(spec), "--root", str(root), *args])
    return code, out.getvalue(), err.getvalue()


def _numbers(final_json: Path) -> dict:
    """final.json without what may differ between two launches: timings and launch info."""
    final = json.loads(final_json.read_text())
    final.pop("wall_time_s")
    final.pop("launched", None)
    for scores in (final["source_val"], final["target_val"], final["target_test"],
                   (final["best_on_val"] or {}).get("target_test")):
        if scores is not None:
            scores.pop("megapixels_per_s")
    return final


def _runs(root: Path, name: str) -> dict[str, Path]:
    """{method: run directory} of a sweep's finished runs."""
    return {json.loads((p / "config.json").read_text())["loss"]["method"]: p
            for p in sorted((root / name).iterdir()) if (p / "final.json").exists()}


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory):
    """The reference: the same runs launched locally."""
    tmp = tmp_path_factory.mktemp("local")
    code, out, err = _sweep(_spec(tmp / "spec.yaml", "pair", grid={"method": METHODS}), tmp / "runs", "--launcher", "local")
    assert code == 0, out[-2000:] + err[-2000:]
    return _runs(tmp / "runs", "pair")


def test_a_slurm_sweep_gives_the_local_numbers_and_records_its_jobs(tmp_path, local_runs):
    spec = _spec(tmp_path / "spec.yaml", "pair", grid={"method": METHODS})
    code, out, err = _sweep(spec, tmp_path / "runs", "--launcher", "slurm", "--time", "00:10:00")
    assert code == 0, out[-3000:] + err[-3000:]
    runs = _runs(tmp_path / "runs", "pair")
    assert sorted(runs) == sorted(METHODS)
    for method, run in runs.items():
        assert _numbers(run / "final.json") == _numbers(local_runs[method] / "final.json"), method
        job_id = json.loads((run / SLURM_FILE).read_text())["job_id"]
        launched = json.loads((run / "final.json").read_text())["launched"]
        assert launched["backend"] == "slurm" and launched["job_id"] == job_id
        assert json.loads((run / "status.json").read_text())["launched"]["job_id"] == job_id
        assert f"submitted {run.name} as Slurm job {job_id}" in out
        assert f"Slurm job {job_id} COMPLETED" in out  # the state changes are printed
        assert [a.get("returncode") for a in read_attempts(run / ATTEMPTS_FILE)] == [None, 0]  # started, ended
    assert "target_miou" in out  # aggregated as a local sweep is

    code, out, err = _sweep(spec, tmp_path / "runs", "--launcher", "slurm")
    assert code == 0, err[-2000:]
    assert "submitted" not in out  # finished runs are skipped
    for run in runs.values():
        assert len(json.loads((run / SLURM_FILE).read_text())["history"]) == 1


def test_a_cancelled_job_resumes_from_its_checkpoint_when_the_sweep_is_resubmitted(tmp_path, local_runs):
    spec = _spec(tmp_path / "spec.yaml", "one", grid={"method": ["adaptsegnet"]})
    first: dict = {}
    sweeping = threading.Thread(target=lambda: first.update(r=_sweep(spec, tmp_path / "runs", "--launcher", "slurm")))
    sweeping.start()
    run = tmp_path / "runs" / "one" / "method=adaptsegnet"
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (run / "checkpoint_last.pt").exists():
            time.sleep(0.1)  # the first good checkpoint: cancel the job there, mid-run
        assert (run / "checkpoint_last.pt").exists(), "no checkpoint within 120 s"
        job_id = json.loads((run / SLURM_FILE).read_text())["job_id"]
        subprocess.run(["scancel", job_id], check=True)
    finally:
        sweeping.join(timeout=150)
    code, out, err = first["r"]
    assert code == 1, out[-3000:] + err[-3000:]  # the sweep reports the run as failed
    assert f"Slurm job {job_id} CANCELLED" in out and f"FAILED {run.name}" in out
    assert not (run / "final.json").exists()

    code, out, err = _sweep(spec, tmp_path / "runs", "--launcher", "slurm")
    assert code == 0, out[-3000:] + err[-3000:]
    assert "(resumes from its last checkpoint)" in out
    record = json.loads((run / SLURM_FILE).read_text())
    assert record["history"] == [job_id, record["job_id"]] and record["job_id"] != job_id
    assert record["plan"] == "resume" and record["from_iteration"] >= FIXED["checkpoint_every"]
    # bit-identical to the uninterrupted local run
    assert _numbers(run / "final.json") == _numbers(local_runs["adaptsegnet"] / "final.json")


def _jobs_named(name: str) -> list[str]:
    """Job ids of the Slurm jobs called ``name`` (the sweep names its jobs ``pfr-<sweep name>``)."""
    out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-n", name, "-o", "%i"], capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


def test_a_bad_spec_or_option_is_refused_before_anything_is_submitted(tmp_path):
    name = f"bad{os.getpid()}x{time.time_ns() % 10**6}"  # names its jobs, were any submitted
    bad = _spec(tmp_path / "bad.yaml", name, grid={"method": ["adaptsegnet"]}, runs=[{"method": "pfr", "lambda_pfr": -1}])
    code, _, err = _sweep(bad, tmp_path / "runs", "--launcher", "slurm")
    assert code == 2 and "lambda_pfr" in err, err
    good = _spec(tmp_path / "good.yaml", name, grid={"method": ["adaptsegnet"]})
    for option, words in ((["--time", "soon"], "--time"), (["--mem", "lots"], "--mem"),
                          (["--slurm-extra", "qos"], "--slurm-extra"), (["--gpus-per-run", "-1"], "--gpus-per-run")):
        code, _, err = _sweep(good, tmp_path / "runs", "--launcher", "slurm", *option)
        assert code == 2 and words in err, (option, err)
    code, _, err = _sweep(good, tmp_path / "runs", "--partition", "gpu")  # a Slurm option, local launcher
    assert code == 2 and "--partition" in err and "--launcher slurm" in err, err
    assert not list(tmp_path.rglob(SLURM_FILE)) and not list(tmp_path.rglob("_slurm"))
    assert _jobs_named(f"pfr-{name}") == []


def test_a_run_whose_job_is_still_queued_is_followed_not_submitted_again(tmp_path):
    """A held job stands for a run's job still in the queue: the backend follows it, reports its
    state changes, and submits nothing."""
    held = subprocess.run(["sbatch", "--parsable", "--hold", "-o", "/dev/null", "--wrap", "sleep 1"],
                          capture_output=True, text=True, check=True).stdout.strip().split(";")[0]
    out = tmp_path / "run"
    out.mkdir()
    (out / SLURM_FILE).write_text(json.dumps({"job_id": held, "history": [held]}))
    job = Job(name="run", out=out, config=TrainConfig.preset("cpu", method="source_only", out=str(out)))
    lines: list[str] = []
    result = {}
    worker = threading.Thread(target=lambda: result.update(o=SlurmBackend(poll_s=0.5).run([job], ["train"], lines.append)))
    worker.start()
    try:
        for _ in range(100):
            if any("already PENDING" in line for line in lines):
                break
            time.sleep(0.1)
        assert any(f"Slurm job {held} is already PENDING" in line for line in lines), lines
    finally:
        subprocess.run(["scontrol", "release", held], check=True)
        worker.join(timeout=120)
    assert not worker.is_alive()
    assert json.loads((out / SLURM_FILE).read_text())["history"] == [held]  # nothing submitted
    assert not list(tmp_path.rglob("_slurm")) and not (out / "job.json").exists()
    assert any(f"Slurm job {held} RUNNING" in line or f"Slurm job {held} COMPLETED" in line for line in lines), lines
    (outcome,) = result["o"]
    assert outcome.status == "failed" and f"Slurm job {held} ended" in outcome.error  # it left no result
    assert job_states([held]).get(held) == "COMPLETED"


def test_several_gpus_per_run_train_with_torchrun_in_one_task_of_the_job(tmp_path):
    """What a multi-GPU run's job asks Slurm for and runs (this cluster has no GPU to run it on)."""
    backend = SlurmBackend(partition="gpu", gpus_per_run=4, time="1-00:00:00", mem="64G", extra={"qos": "high"})
    job = Job(name="r", out=tmp_path / "r", config=TrainConfig.preset("cpu", out=str(tmp_path / "r")), threads=2)
    argv = backend._slurm_run(job, "train").argv
    assert argv[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4"]
    assert argv[5:7] == ["-m", "pfrlib.launch.job"] and argv[7] == str(tmp_path / "r" / "job.json")
    p = backend._executor([job], threads=2).parameters
    assert (p["nodes"], p["ntasks_per_node"], p["gpus_per_node"], p["cpus_per_task"]) == (1, 1, 4, 8)
    assert (p["time"], p["mem"], p["partition"], p["additional_parameters"]) == (1440, "64G", "gpu", {"qos": "high"})
    one_gpu = SlurmBackend(gpus_per_run=1)._slurm_run(job, "train").argv
    assert one_gpu[1:3] == ["-m", "pfrlib.launch.job"]  # one GPU: the plain command
