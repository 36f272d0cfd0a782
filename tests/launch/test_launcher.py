"""pfrlib.launch.launcher: a job that another launching process holds is skipped, not failed, and
nothing is written in its folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pfrlib.config.train_config import TrainConfig
from pfrlib.launch.job import HELD, LAUNCH_LOCK, Job
from pfrlib.launch.launcher import launch
from pfrlib.launch.local import Backend

REPO = Path(__file__).resolve().parents[2]


class Recording(Backend):
    """Runs nothing; records the jobs it is given."""

    def __init__(self):
        self.given: list[str] = []

    def run(self, jobs, plans, report=print):
        self.given += [j.name for j in jobs]
        raise AssertionError(f"jobs handed to the backend: {self.given}")


@pytest.fixture
def holder(tmp_path):
    """Another process (as a second sweep would be) holding the launch lock of ``tmp_path/run``."""
    out = tmp_path / "run"
    out.mkdir()
    code = ("import sys, time; from pfrlib.engine.dirlock import FolderLock; "
            f"lock = FolderLock({str(out / LAUNCH_LOCK)!r}); assert lock.acquire() is None; lock.write_pid(); "
            "print('locked', flush=True); time.sleep(300)")
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield out, proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_job_another_launcher_holds_is_skipped_and_its_folder_left_alone(holder):
    out, pid = holder
    (out / "log.txt").write_text("the live run's log\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    job = Job(name="run", out=out, config=TrainConfig.preset("cpu", iterations=2))
    lines: list[str] = []
    backend = Recording()
    (outcome,) = launch([job], backend, report=lines.append)
    assert backend.given == []  # nothing started
    assert outcome.status == HELD and not outcome.ok and outcome.details["held_by"] == str(pid)
    assert outcome.error == f"in progress in another sweep (pid {pid})"
    (line,) = lines
    assert line.strip().startswith(f"skipped run: in progress in another sweep (pid {pid}")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no job.json, status.json, log written


def test_the_launch_lock_is_released_and_removed_after_the_jobs(tmp_path):
    job = Job(name="run", out=tmp_path / "run", config=TrainConfig.preset("cpu", iterations=2))

    class Fails(Backend):
        def run(self, jobs, plans, report=print):
            assert (jobs[0].out / LAUNCH_LOCK).read_text().strip() == str(os.getpid())  # held while it runs
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        launch([job], Fails(), report=lambda _: None)
    assert not (job.out / LAUNCH_LOCK).exists()


def test_a_started_line_names_the_run_and_its_log_and_the_pid_is_kept_in_job_json(tmp_path, monkeypatch):
    """A saved notebook keeps the lines it printed: no process id there (it is in ``job.json``)."""
    import json

    from pfrlib.launch import launcher as L
    from pfrlib.launch.job import JOB_FILE, LOG_FILE, write_job
    from pfrlib.launch.progress import ProgressBoard

    def command(job, action):  # a stand-in child: seconds of training are not what is tested
        write_job(job, action)
        return [sys.executable, "-c", "print('a line of the run')"]

    monkeypatch.setattr(L, "job_command", command)
    job = Job(name="run", out=tmp_path / "run", config=TrainConfig.preset("cpu", iterations=2), threads=1)
    lines: list[str] = []
    board = ProgressBoard(display=False, write=lines.append)
    (outcome,) = launch([job], L.LocalBackend(jobs=1, poll_s=0.01, progress=board), report=lines.append)
    assert f"  started run (log {job.out / LOG_FILE})" in lines
    assert not [line for line in lines if "pid" in line]
    assert json.loads((job.out / JOB_FILE).read_text())["pid"] == outcome.launched["pid"]
    assert (job.out / LOG_FILE).read_text() == "a line of the run\n"
