"""pfrlib.engine.rundir: ``--resume`` after an ``--overwrite`` that was killed before its first good
checkpoint continues the run that is put back, with that run's own configuration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pfrlib.engine.rundir import CONFIG_FILE, resume_config_file
from pfrlib.train import main as train_main

REPO = Path(__file__).resolve().parents[2]
TINY = ["--preset", "cpu", "--synth-size", "32", "64", "--synth-train-length", "4", "--synth-val-length", "2",
        "--batch-size", "2", "--model-kwargs", json.dumps({"widths": [8, 8, 16, 16]}), "--no-progress",
        "--num-threads", "1"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` but the lock file (it holds the last writer's pid)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def _kill_overwrite_before_its_first_checkpoint(out: Path) -> None:
    """Start ``--overwrite --iterations 150`` in ``out`` and ``kill -9`` it once it has moved the old
    run aside and logged its first iteration (its first checkpoint would come at iteration 1000)."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "pfrlib.train", *TINY, "--out", str(out), "--overwrite",
                             "--iterations", "150", "--checkpoint-every", "1000", "--log-every", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (list(out.glob(".replaced-*")) and (out / "metrics.jsonl").exists()):  # it trains
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the --overwrite run did not start training"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert list(out.glob(".replaced-*")) and json.loads((out / CONFIG_FILE).read_text())["optim"]["iterations"] == 150
    assert not (out / "checkpoint_last.pt").exists()


def test_resume_after_a_killed_overwrite_reports_the_finished_run_put_back(tmp_path, capsys):
    out = tmp_path / "run"
    assert train_main([*TINY, "--out", str(out), "--iterations", "2", "--checkpoint-every", "2"]) == 0
    before = _files(out)
    _kill_overwrite_before_its_first_checkpoint(out)
    assert resume_config_file(out).parent.name.startswith(".replaced-")  # the run that --resume continues
    capsys.readouterr()
    assert train_main(["--out", str(out), "--resume", "--no-progress", "--num-threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "put back the run" in err and "stopped before its first good checkpoint" in err
    assert f"resume: {out} already finished all 2 iterations" in err and "differs" not in err
    assert _files(out) == before  # the finished run, as it was; nothing of the killed run is left
    assert resume_config_file(out) == out / CONFIG_FILE


def test_resume_after_a_killed_overwrite_continues_the_unfinished_run_put_back(tmp_path, capsys):
    out = tmp_path / "run"
    # an unfinished run: 4 iterations asked for, stopped after its good checkpoint at iteration 2
    assert train_main([*TINY, "--out", str(out), "--iterations", "2", "--checkpoint-every", "2"]) == 0
    (out / "final.json").unlink()
    config = json.loads((out / CONFIG_FILE).read_text())
    config["optim"]["iterations"] = 4
    (out / CONFIG_FILE).write_text(json.dumps(config))
    from pfrlib.engine.checkpoint import load_checkpoint, save_checkpoint

    state = load_checkpoint(out / "checkpoint_last.pt")
    state["config"]["optim"]["iterations"] = 4
    save_checkpoint(out / "checkpoint_last.pt", state)
    _kill_overwrite_before_its_first_checkpoint(out)
    capsys.readouterr()
    assert train_main(["--out", str(out), "--resume", "--no-progress", "--num-threads", "1"]) == 0
    assert "put back the run" in capsys.readouterr().err
    final = json.loads((out / "final.json").read_text())
    assert final["iterations"] == 4  # the put-back run, continued from iteration 2 with its own configuration
    assert not list(out.glob(".replaced-*"))


def test_resume_config_file_is_the_runs_own_without_an_overwrite_in_the_way(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    assert resume_config_file(out) == out / CONFIG_FILE
    (out / ".replaced-20260101-000000-1").mkdir()
    assert resume_config_file(out) == out / ".replaced-20260101-000000-1" / CONFIG_FILE
    (out / "checkpoint_last.pt").write_bytes(b"")  # the replacing run has a good checkpoint: it is the run
    assert resume_config_file(out) == out / CONFIG_FILE
