"""pfrlib.launch.sweep: two sweeps of the same spec at once. The second leaves the run the first is
training to it: one line naming the first sweep's pid, nothing written in the run's folder, not a
failure (exit status 0)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pfrlib.launch.job import LAUNCH_LOCK
from pfrlib.sweep import main as sweep_main

REPO = Path(__file__).resolve().parents[2]
LONG = {"preset": "cpu", "iterations": 100000, "checkpoint_every": 100000, "log_every": 1, "val_every": 0,
        "synth_size": [32, 64], "synth_train_length": 4, "synth_val_length": 2, "batch_size": 2,
        "model_kwargs": {"widths": [8, 8, 16, 16]}}


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()}


@pytest.mark.slow
def test_a_second_sweep_of_the_same_spec_skips_the_run_the_first_is_training(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"name": "twice", "fixed": LONG, "grid": {"seed": [0]}}, sort_keys=False))
    root, run = tmp_path / "runs", tmp_path / "runs" / "twice" / "seed=0"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    first = subprocess.Popen([sys.executable, "-m", "pfrlib.sweep", str(spec), "--root", str(root), "--jobs", "1"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (run / "metrics.jsonl").exists():  # the first sweep's run is training
            assert first.poll() is None, first.stdout.read()
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
        first.stdout.close()
    assert not (run / LAUNCH_LOCK).exists()  # the first sweep let go of the run
