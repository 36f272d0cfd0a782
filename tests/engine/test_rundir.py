"""pfrlib.engine.rundir: the run directory, its lock, ``--resume`` / ``--overwrite``, a full disk.

One writer at a time (a second is refused with one line naming the holder); resuming a finished
run changes nothing; a resume that changes the learning rate records it per iteration range; a
refused run leaves no folder it created; an ``--overwrite`` killed before its first good checkpoint
is put back at the next start, and ``--resume`` then continues the run put back, with that run's
own configuration. A full disk is one line naming the file, and nothing half-written stays (the
full-disk tests mount a small tmpfs: root, as in CI). Most of these are the ``reliability`` theme.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from one_line import one_line
from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.run import train
from pfrlib.engine.rundir import CONFIG_FILE, RUN_FILES, DiskFullError, RunDirectory, resume_config_file
from pfrlib.engine.trainer import Trainer
from pfrlib.train import main as train_main
from synth_folders import label_folder

REPO = Path(__file__).resolve().parents[2]
TINY = ["--preset", "cpu", "--synth-size", "32", "64", "--synth-train-length", "4", "--synth-val-length", "2",
        "--batch-size", "2", "--model-kwargs", json.dumps({"widths": [8, 8, 16, 16]}), "--no-progress",
        "--num-threads", "1"]
TINY_CONFIG = dict(
    synth_size=(32, 64), synth_train_length=4, synth_val_length=2, batch_size=2,
    iterations=2, log_every=1, checkpoint_every=2, val_every=0, progress=False,
    model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1,
)

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


# --------------------------------------------------------------------------- one writer, resume, refusals
def _run_args(out: Path, *extra: str) -> list[str]:
    """``python -m pfrlib.train`` arguments of a tiny run in ``out``."""
    return ["--preset", "cpu", "--out", str(out), "--synth-size", "32", "64", "--synth-train-length", "4",
            "--synth-val-length", "2", "--batch-size", "2", "--iterations", "2", "--checkpoint-every", "2",
            "--model-kwargs", json.dumps(TINY_CONFIG["model_kwargs"]), "--no-progress", "--num-threads", "1", *extra]


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.reliability
def test_a_second_writer_is_refused_with_one_line_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    holder = ("import time; from pfrlib.config.train_config import TrainConfig; from pfrlib.engine.rundir import RunDirectory; "
              f"r = RunDirectory(TrainConfig.preset('cpu', out={str(out)!r})); print('locked', flush=True); "
              "time.sleep(300)")
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", holder], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        before = _snapshot(out)
        for extra in ([], ["--overwrite"], ["--resume"]):
            assert train_main(_run_args(out, *extra)) == 2
            line = one_line(capsys.readouterr().err)
            assert f"run directory {out} is in use by process {proc.pid}" in line, line
            assert f"lock file {out / '.lock'}" in line and "--out" in line
            assert _snapshot(out) == before  # nothing written beside the holder's lock file
    finally:
        proc.kill()  # the holder dies without letting go: the kernel releases its lock
        proc.wait()
    assert train_main(_run_args(out)) == 0
    assert json.loads((out / "final.json").read_text())["iterations"] == 2


@pytest.mark.reliability
def test_resuming_a_finished_run_changes_nothing(tmp_path, capsys):
    out = tmp_path / "fin"
    assert train_main(_run_args(out)) == 0
    capsys.readouterr()
    before = _snapshot(out)
    assert train_main(_run_args(out, "--resume")) == 0
    captured = capsys.readouterr()
    assert f"resume: {out} already finished all 2 iterations" in captured.err and "nothing written" in captured.err
    assert ", 2 iterations," in captured.out  # the run's result is reported as usual
    assert _snapshot(out) == before
    # a changed learning rate would train nothing: refused, and the record still says what was trained
    assert train_main(_run_args(out, "--resume", "--lr", "0.1")) == 2
    line = one_line(capsys.readouterr().err)
    lr = json.loads(before["config.json"][0])["optim"]["lr"]
    assert str(out) in line and "already finished all 2 iterations" in line and f"lr {lr} -> 0.1" in line
    assert _snapshot(out) == before
    # the Python API returns the finished run's result
    cfg = TrainConfig.from_json(out / "config.json").replace(resume=True)
    assert train(cfg).final == json.loads(before["final.json"][0])
    assert _snapshot(out) == before


class _Interrupted(RuntimeError):
    pass


def _interrupt_at(monkeypatch, call: int) -> None:
    """Make the ``call``-th ``Trainer.step`` of the next run raise (a run stopped mid-way)."""
    real, calls = Trainer.step, {"n": 0}

    def step(self):
        calls["n"] += 1
        if calls["n"] == call:
            raise _Interrupted("stopped")
        return real(self)

    monkeypatch.setattr(Trainer, "step", step)


@pytest.mark.reliability
def test_a_resume_that_changes_lr_records_it_per_iteration_range(tmp_path, monkeypatch, capsys):
    cfg = TrainConfig.preset("cpu", **{**TINY_CONFIG, "iterations": 6, "out": str(tmp_path / "lr")})
    lr, d_lr = cfg.optim.lr, cfg.optim.d_lr
    _interrupt_at(monkeypatch, 5)  # checkpoint 2 confirmed by iteration 3; checkpoint 4 still pending
    with pytest.raises(_Interrupted):
        train(cfg)
    monkeypatch.undo()
    _interrupt_at(monkeypatch, 4)  # resumed at 2: checkpoint 4 confirmed by iteration 5
    with pytest.raises(_Interrupted):
        train(cfg.replace(resume=True, lr=lr / 2))
    assert f"resume: continuing from iteration 2 with lr {lr} -> {lr / 2}" in capsys.readouterr().err
    monkeypatch.undo()
    result = train(cfg.replace(resume=True, lr=lr / 4, d_lr=d_lr * 2))
    assert result.final["iterations"] == 6
    saved = json.loads((tmp_path / "lr" / "config.json").read_text())
    assert saved["lr_history"] == [
        {"from_iteration": 0, "lr": lr, "d_lr": d_lr},
        {"from_iteration": 2, "lr": lr / 2, "d_lr": d_lr},
        {"from_iteration": 4, "lr": lr / 4, "d_lr": d_lr * 2},
    ]
    assert saved["optim"]["lr"] == lr / 4  # the rates in effect now: what a further resume must match
    assert TrainConfig.from_json(tmp_path / "lr" / "config.json") == cfg.replace(resume=True, lr=lr / 4, d_lr=d_lr * 2)


@pytest.mark.reliability
def test_a_refused_run_leaves_no_folder_it_created(tmp_path, capsys):
    unlabelled = tmp_path / "unlabelled"
    (unlabelled / "images").mkdir(parents=True)
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(unlabelled / "images" / "f0.png")
    noise = label_folder(tmp_path / "noise", [np.full((32, 64), 200)] * 2)  # every label value unknown
    cases = {
        "no source labels": (["--source", f"folder:{unlabelled}"], "has no labels"),
        "unknown label values": (["--source", f"folder:{noise}", "--source-val", "synth:source",
                                  "--source-size", "32", "64", "--num-workers", "1"], "[200]"),
        "nothing to resume": (["--resume"], "holds no checkpoint_last.pt"),
    }
    existing = tmp_path / "existing"
    existing.mkdir()
    for name, (extra, phrase) in cases.items():
        new = tmp_path / "new" / "deeper" / "run"
        assert train_main(_run_args(new, *extra)) == 2, name
        assert phrase in one_line(capsys.readouterr().err), name
        assert not (tmp_path / "new").exists(), name
        assert train_main(_run_args(existing, *extra)) == 2, name
        capsys.readouterr()
        assert list(existing.iterdir()) == [], name  # an existing folder is left as it was: empty


@pytest.mark.reliability
def test_an_interrupted_overwrite_is_put_back_at_the_next_start(tmp_path, capsys):
    out = tmp_path / "ow"
    assert train_main(_run_args(out)) == 0
    before = {k: v[0] for k, v in _snapshot(out).items()}
    # what a --overwrite killed before its first good checkpoint leaves: the old run moved aside
    aside = out / ".replaced-20260101-000000-1"
    aside.mkdir()
    for name in RUN_FILES:  # what --overwrite moves aside (its events folder included)
        if (out / name).exists():
            (out / name).rename(aside / name)
    (out / "config.json").write_text(before["config.json"].decode().replace('"seed": 0', '"seed": 7'))
    (out / "checkpoint_pending.pt").write_bytes(b"half")
    capsys.readouterr()
    assert train_main(_run_args(out)) == 2  # the old run is back: a new run is refused as usual
    err = capsys.readouterr().err
    assert "put back the run" in err and "already holds a run" in err
    assert {k: v[0] for k, v in _snapshot(out).items()} == before


# --------------------------------------------------------------------------- a full disk
@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of a given size (the machine must allow mounting one: root, e.g. CI)."""
    mounted = []

    def mount(size: str) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here ({(proc.stderr or proc.stdout).strip()[:120]}); "
                        f"the full-disk tests need root")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(disk: Path) -> None:
    """Fill ``disk`` to the last byte."""
    with open(disk / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass


@pytest.mark.reliability
def test_a_full_disk_is_one_line_naming_the_file_and_nothing_half_written_stays(small_disk, capsys):
    disk = small_disk("1m")  # config.json and metrics fit, a checkpoint (~2.4 MB) does not
    out = disk / "run"
    assert train_main(_run_args(out)) == 2
    line = one_line(capsys.readouterr().err)
    assert re.match(rf"error: disk full: cannot write {re.escape(str(out))}/checkpoint_pending.pt "
                    r"\([0-9.]+ (bytes|KiB|MiB) left on its file system\); nothing half-written was kept", line), line
    assert not list(out.glob(".*.tmp")) and not (out / "checkpoint_pending.pt").exists()
    for rec in (out / "metrics.jsonl").read_text().splitlines():
        json.loads(rec)  # whole records only


@pytest.mark.reliability
def test_overwrite_on_a_nearly_full_disk_keeps_the_old_run(small_disk, capsys):
    disk = small_disk("4m")  # one run fits, a second checkpoint beside it does not
    out = disk / "run"
    assert train_main(_run_args(out)) == 0
    before = _snapshot(out)
    capsys.readouterr()
    assert train_main(_run_args(out, "--overwrite", "--seed", "1")) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"error: disk full: cannot write {out}/") and "the run it was replacing is put back" in line
    assert {k: v[0] for k, v in _snapshot(out).items()} == {k: v[0] for k, v in before.items()}
    assert not list(out.glob(".replaced-*")) and not list(out.glob(".*.tmp"))


@pytest.mark.reliability
def test_a_metrics_record_cut_by_a_full_disk_is_taken_back(small_disk):
    disk = small_disk("64k")
    rundir = RunDirectory(TrainConfig.preset("cpu", out=str(disk / "run")))
    rundir.start()
    rundir.log({"iter": 1, "seg": 1.0})
    kept = (disk / "run" / "metrics.jsonl").read_bytes()
    _fill(disk)
    with pytest.raises(DiskFullError) as err:
        rundir.log({"iter": 2, "note": "x" * 20000})
    assert f"cannot write {disk / 'run' / 'metrics.jsonl'}" in one_line(err.value)
    assert (disk / "run" / "metrics.jsonl").read_bytes() == kept
    rundir.fail()
