"""One launcher: run jobs several at a time, reuse what is finished, resume what was cut short.

A :class:`~pfrlib.launch.job.Job` is one run: a :class:`~pfrlib.config.TrainConfig` (or a notebook
and its parameters) and the folder it writes. :func:`launch` decides for every job, by one rule
(:func:`pfrlib.launch.job.plan`), whether it is *finished* (reused: its result file exists and its saved
``config.json`` is the configuration asked for, bookkeeping fields aside), *interrupted* (a
checkpoint of the same configuration: resumed from it) or *to train*, and hands the ones to run
to a :class:`Backend`. :class:`LocalBackend` runs them as subprocesses ``jobs`` at a time, one
line per run as it starts and finishes; :class:`~pfrlib.launch.slurm.SlurmBackend`, beside it in
:data:`BACKENDS`, submits the same command (:func:`pfrlib.launch.job.job_command`) as Slurm jobs.

While a job runs, the launching process holds the job's :data:`~pfrlib.launch.job.LAUNCH_LOCK`:
a second launcher (another sweep of the same spec, started meanwhile) skips that job with one
line naming the holder's pid, and writes nothing in its folder (its outcome is
:data:`~pfrlib.launch.job.HELD`, not a failure).

Children of :class:`LocalBackend` die with the launching process, even when that is killed with
``kill -9`` (Linux: a parent-death signal), so a re-launch never meets a second writer in a run
directory. ``sweep``, the notebooks' ``load_or_train_many``, ``benchmarks/ablation.py`` and
``reproduce`` all launch through :func:`launch`.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from pfrlib.engine.dirlock import FolderLock
from pfrlib.launch.local import Backend, done_line, start_line
from pfrlib.io import read_json
from pfrlib.launch.job import (HELD, LAUNCH_LOCK, LOG_FILE, Job, Outcome, collect_outcome, job_command, job_environment,
    plan)
from pfrlib.launch.slurm import SlurmBackend

__all__ = ["LocalBackend", "BACKENDS", "launch", "reused_line", "held_line", "add_launcher_arguments",
           "backend_from_args"]


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets SIGTERM when the launching process dies (Linux
    ``PR_SET_PDEATHSIG``), even by ``kill -9``; elsewhere only the process group is ended."""
    def setup() -> None:
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before the signal was armed
                os._exit(1)
    return setup


class LocalBackend(Backend):
    """Subprocesses on this machine, ``jobs`` at a time (default: cores / threads of a job).

    Each child runs in its own process group (Ctrl-C reaches only this process, which then ends
    the groups) and gets a parent-death signal: it dies with this process, however that ends
    (Linux sends it when the *thread* that started the child ends: call :meth:`run` from a thread
    that outlives it, as :func:`launch` does). ``follow(job, line)`` is called with every line a running child
    prints (e.g. to pass on a notebook's own run lines as they come).
    """

    name = "local"

    def __init__(self, jobs: Optional[int] = None, follow: Optional[Callable[[Job, str], None]] = None,
                 poll_s: float = 0.2):
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
            raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
        self.jobs, self.follow, self.poll_s = jobs, follow, poll_s

    def _slots(self, jobs: Sequence[Job]) -> int:
        threads = max((j.threads or 1 for j in jobs), default=1)
        return self.jobs or max(1, (os.cpu_count() or 1) // threads)

    def at_once(self, jobs: Sequence[Job]) -> str:
        return f", {min(self._slots(jobs), len(jobs))} at a time"

    def run(self, jobs: Sequence[Job], report: Callable[[str], None] = print, retrain: bool = False) -> list[Outcome]:
        jobs, slots = list(jobs), self._slots(jobs)
        waiting = list(range(len(jobs)))
        running: dict[int, tuple[Any, float, bool, Any, list]] = {}  # index -> (proc, start, resumed, log, [offset, partial])
        outcomes: dict[int, Outcome] = {}
        try:
            while waiting or running:
                while waiting and len(running) < slots:
                    i = waiting.pop(0)
                    job = jobs[i]
                    resumed = plan(job, retrain) == "resume"
                    job.out.mkdir(parents=True, exist_ok=True)
                    cmd = job_command(job, retrain)
                    log = open(job.out / LOG_FILE, "a" if resumed else "w")
                    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=job_environment(job),
                                            start_new_session=True, preexec_fn=_die_with_parent(os.getpid()))
                    running[i] = (proc, time.perf_counter(), resumed, log, [log.tell(), ""])
                    report(start_line(job, resumed, f"pid {proc.pid}"))
                time.sleep(self.poll_s)
                for i in list(running):
                    proc, start, resumed, log, tail = running[i]
                    ended = proc.poll() is not None
                    self._follow(jobs[i], tail)  # after the poll: an ended child's last lines are read too
                    if not ended:
                        continue
                    log.close()
                    del running[i]
                    outcomes[i] = collect_outcome(jobs[i], proc.returncode, time.perf_counter() - start,
                                                  {"backend": self.name, "pid": proc.pid})
                    report(done_line(outcomes[i], resumed))
        finally:
            for proc, _, _, log, _ in running.values():  # interrupted (Ctrl-C, an error): end the children
                _end_group(proc)
                log.close()
        return [outcomes[i] for i in range(len(jobs))]

    def _follow(self, job: Job, tail: list) -> None:
        if self.follow is None:
            return
        with open(job.out / LOG_FILE, errors="replace") as f:
            f.seek(tail[0])
            text = tail[1] + f.read()
            tail[0] = f.tell()
        *lines, tail[1] = text.split("\n")
        for line in lines:
            self.follow(job, line)


def _end_group(proc: Any, grace_s: float = 5.0) -> None:
    """SIGTERM a child's process group, SIGKILL it if it is still there after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue


#: ``--launcher`` name -> backend class.
BACKENDS: dict[str, type[Backend]] = {"local": LocalBackend, "slurm": SlurmBackend}


def add_launcher_arguments(parser: argparse.ArgumentParser) -> None:
    """``--launcher`` and every backend's own options (e.g. ``--partition`` for Slurm)."""
    parser.add_argument("--launcher", default="local", choices=sorted(BACKENDS),
                        help="where the runs go (default: local, subprocesses on this machine; slurm: one "
                             "Slurm job per run, see docs/cluster.md)")
    for cls in BACKENDS.values():
        cls.add_arguments(parser)


def backend_from_args(args: argparse.Namespace, jobs: Optional[int] = None) -> Backend:
    """The backend ``--launcher`` names, built from its options; another backend's options are an error."""
    for name, cls in BACKENDS.items():
        given = cls.options_given(args) if name != args.launcher else []
        if given:
            raise ValueError(f"{', '.join(given)}: option(s) of --launcher {name}, not of --launcher {args.launcher}")
    return BACKENDS[args.launcher].from_args(args, jobs)


# --------------------------------------------------------------------------- launch
def reused_line(outs: Sequence[Path]) -> str:
    """One line for all the runs reused (instead of one line each)."""
    if len(outs) == 1:
        return f"reusing the finished run in {outs[0]} with the same configuration (delete it to train it again)"
    parents = sorted({str(p.parent) for p in outs})
    where = parents[0] if len(parents) == 1 else ", ".join(parents)
    return (f"reusing {len(outs)} finished runs with the same configuration from {where}: "
            f"{', '.join(p.name for p in outs)} (delete a run directory to train it again)")


def held_line(job: Job, holder: str) -> str:
    """The line for a job that another launching process holds."""
    return (f"  skipped {job.name}: in progress in another sweep (pid {holder}, lock {job.out / LAUNCH_LOCK}); "
            f"nothing was started or written here: run this again once that one has finished")


def _claim(jobs: Sequence[Job]) -> tuple[list[FolderLock], dict[int, str]]:
    """Take every job's launch lock (creating its folder): ``(locks taken, {id(job): holder's pid}
    of the jobs another process holds)``."""
    locks, held = [], {}
    for job in jobs:
        job.out.mkdir(parents=True, exist_ok=True)
        lock = FolderLock(job.out / LAUNCH_LOCK)
        holder = lock.acquire()
        if holder is None:
            lock.write_pid()
            locks.append(lock)
        else:
            held[id(job)] = holder
    return locks, held


def launch(jobs: Sequence[Job], backend: Optional[Backend] = None, retrain: bool = False,
           report: Callable[[str], None] = print) -> list[Outcome]:
    """Run every job that is not finished (``retrain``: every job) on ``backend`` (default
    :class:`LocalBackend`); return one :class:`Outcome` per job, in order.

    Each job to run is claimed first (its :data:`~pfrlib.launch.job.LAUNCH_LOCK`, held until the
    backend is done); a job another process holds is skipped (:func:`held_line`, outcome
    :data:`~pfrlib.launch.job.HELD`), and one it finished meanwhile is reused. Prints (``report``)
    one line for all reused runs, a header line, and one line per run as it starts and as it
    finishes. Raises ``ValueError`` if two jobs share an output folder.
    """
    jobs = list(jobs)
    outs = [str(j.out.resolve()) for j in jobs]
    if len(set(outs)) != len(outs):
        twice = sorted({o for o in outs if outs.count(o) > 1})
        raise ValueError(f"several jobs write to the same folder (same run.out): {', '.join(twice)}")
    backend = backend or LocalBackend()
    locks, held = _claim([j for j in jobs if plan(j, retrain) != "reuse"])
    try:
        decisions = {id(j): HELD if id(j) in held else plan(j, retrain) for j in jobs}  # after the claim: final
        reused = [j for j in jobs if decisions[id(j)] == "reuse"]
        todo = [j for j in jobs if decisions[id(j)] not in ("reuse", HELD)]
        if reused:
            report(reused_line([j.out for j in reused]))
        for j in jobs:
            if id(j) in held:
                report(held_line(j, held[id(j)]))
        done: dict[int, Outcome] = {}
        if todo:
            report(f"training {len(todo)} run(s){backend.at_once(todo)}: {', '.join(j.name for j in todo)}")
            done = {id(o.job): o for o in backend.run(todo, report, retrain)}
    finally:
        for lock in locks:
            lock.release(remove_created=True)
    return [done[id(j)] if id(j) in done
            else Outcome(j, HELD, details={"held_by": held[id(j)]},
                         error=f"in progress in another sweep (pid {held[id(j)]})") if id(j) in held
            else Outcome(j, "reused", read_json(j.result)) for j in jobs]
