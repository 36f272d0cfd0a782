"""One launcher: run jobs several at a time, reuse what is finished, resume what was cut short.

A :class:`~pfrlib.launch.job.Job` is one run: a :class:`~pfrlib.config.TrainConfig` (or a notebook
and its parameters) and the folder it writes. :func:`launch` first claims every job's folder
(:class:`Claim`: the job's :data:`~pfrlib.launch.job.LAUNCH_LOCK`, held until the jobs are done)
and then decides once for every job, by one rule (:func:`pfrlib.launch.job.plan`), whether it is
*finished* (reused: its result file exists and its saved ``config.json`` is the configuration
asked for, bookkeeping fields aside), *interrupted* (a checkpoint of the same configuration:
resumed from it), *to train*, or held by another launcher (a second sweep of the same spec: it is
skipped with one line naming the holder's pid, nothing is written in its folder, and its outcome
is :data:`~pfrlib.launch.job.HELD`, not a failure). It hands the ones to run, each with its plan,
to a :class:`Backend`. :class:`LocalBackend` runs them as subprocesses ``jobs`` at a time, one
line per run as it starts and finishes; :class:`~pfrlib.launch.slurm.SlurmBackend`, beside it in
:data:`BACKENDS`, submits the same command (:func:`pfrlib.launch.job.job_command`) as Slurm jobs;
:class:`InProcessBackend` trains in the calling process, one run after the other (a notebook's
run, with its progress bar).

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
from pfrlib.engine.run import train
from pfrlib.launch.local import Backend, done_line, start_line
from pfrlib.io import check_positive_int, read_json, write_json
from pfrlib.launch.job import (HELD, LAUNCH_LOCK, LOG_FILE, STATUS_FILE, Job, Outcome, collect_outcome, job_command,
    job_environment, plan, record_pid)
from pfrlib.launch.progress import ProgressBoard
from pfrlib.launch.slurm import SlurmBackend

__all__ = ["LocalBackend", "InProcessBackend", "BACKENDS", "Claim", "launch", "reused_line", "held_line",
           "add_launcher_arguments",
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
    prints (e.g. to pass on a notebook's own run lines as they come); ``progress`` (a
    :class:`~pfrlib.launch.progress.ProgressBoard`) shows each training run's progress as it goes.
    A run's line names its log file; its pid is recorded in its ``job.json``.
    """

    name = "local"

    def __init__(self, jobs: Optional[int] = None, follow: Optional[Callable[[Job, str], None]] = None,
                 poll_s: float = 0.2, progress: Optional[ProgressBoard] = None):
        self.jobs = check_positive_int(jobs, "jobs", none_ok=True)
        self.follow, self.poll_s, self.progress = follow, poll_s, progress

    def _slots(self, jobs: Sequence[Job]) -> int:
        threads = max((j.threads or 1 for j in jobs), default=1)
        return self.jobs or max(1, (os.cpu_count() or 1) // threads)

    def at_once(self, jobs: Sequence[Job]) -> str:
        return f", {min(self._slots(jobs), len(jobs))} at a time"

    def run(self, jobs: Sequence[Job], plans: Sequence[str], report: Callable[[str], None] = print) -> list[Outcome]:
        jobs, slots = list(jobs), self._slots(jobs)
        waiting = list(range(len(jobs)))
        running: dict[int, tuple[Any, float, bool, Any, list]] = {}  # index -> (proc, start, resumed, log, [offset, partial])
        outcomes: dict[int, Outcome] = {}
        try:
            while waiting or running:
                while waiting and len(running) < slots:
                    i = waiting.pop(0)
                    job = jobs[i]
                    resumed = plans[i] == "resume"
                    job.out.mkdir(parents=True, exist_ok=True)
                    cmd = job_command(job, plans[i])
                    log = open(job.out / LOG_FILE, "a" if resumed else "w")
                    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=job_environment(job),
                                            start_new_session=True, preexec_fn=_die_with_parent(os.getpid()))
                    running[i] = (proc, time.perf_counter(), resumed, log, [log.tell(), ""])
                    record_pid(job, proc.pid)
                    report(start_line(job, resumed, f"log {job.out / LOG_FILE}"))
                    if self.progress:
                        self.progress.started(job)
                time.sleep(self.poll_s)
                if self.progress:
                    self.progress.poll()
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
                    if self.progress:
                        self.progress.ended(jobs[i], outcomes[i].ok)
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


class InProcessBackend(Backend):
    """Trains each job in this process, one after the other, with its own progress bar and
    threads (:meth:`pfrlib.launch.job.Job.train_config`): a notebook's runs when there is one to
    train, or one at a time. Training jobs only; an error stops it as the training raised it
    (a notebook shows the traceback), a finished run writes ``status.json`` as a child's would."""

    name = "in-process"

    def at_once(self, jobs: Sequence[Job]) -> str:
        return ", 1 at a time in this process"

    def run(self, jobs: Sequence[Job], plans: Sequence[str], report: Callable[[str], None] = print) -> list[Outcome]:
        outcomes = []
        for job, action in zip(jobs, plans):
            if job.kind != "train":
                raise ValueError(f"job {job.name!r}: {self.name} runs training jobs, not notebooks")
            report(start_line(job, action == "resume", "in this process"))
            start = time.perf_counter()
            result = train(job.train_config(action, progress=job.config.run.progress))
            outcome = Outcome(job, "finished", result.final, time.perf_counter() - start, launched={"backend": self.name})
            write_json(job.out / STATUS_FILE, outcome.to_status())
            report(done_line(outcome, action == "resume"))
            outcomes.append(outcome)
        return outcomes


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


class Claim:
    """This process's hold on the folders of ``jobs`` and the plan of each, made once under it.

    Entering takes every job's :data:`~pfrlib.launch.job.LAUNCH_LOCK` (creating its folder; a
    folder that cannot be written is planned without one, and a job to run there fails with the
    trainer's own message), then plans each job by the one rule (:func:`pfrlib.launch.job.plan`):
    a job another launching process holds is :data:`~pfrlib.launch.job.HELD` (nothing is written
    in its folder), any other gets ``"reuse"``, ``"resume"`` or ``"train"``. Planned under the
    lock, a run another launcher finished meanwhile is reused, never trained twice. Leaving
    releases the locks (and removes the lock files this process created).

    A caller that needs the plans before it launches (a sweep's summary line, the backend a
    notebook's runs need) holds the claim and passes it to :func:`launch`, which then plans
    nothing itself. Raises ``ValueError`` if two jobs share an output folder.
    """

    def __init__(self, jobs: Sequence[Job], retrain: bool = False) -> None:
        self.jobs, self.retrain = list(jobs), retrain
        outs = [str(j.out.resolve()) for j in self.jobs]
        if len(set(outs)) != len(outs):
            twice = sorted({o for o in outs if outs.count(o) > 1})
            raise ValueError(f"several jobs write to the same folder (same run.out): {', '.join(twice)}")
        self.plans: list[str] = []
        #: ``{id(job): the pid of the process that holds it}`` for the jobs planned :data:`HELD`.
        self.holders: dict[int, str] = {}
        self._locks: list[FolderLock] = []

    def __enter__(self) -> "Claim":
        try:
            for job in self.jobs:
                holder = self._lock(job)
                if holder is not None:
                    self.holders[id(job)] = holder
            self.plans = [HELD if id(j) in self.holders else plan(j, self.retrain) for j in self.jobs]
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _lock(self, job: Job) -> Optional[str]:
        """Take ``job``'s launch lock: ``None`` when taken (or the folder cannot be written), else the holder's pid."""
        lock = FolderLock(job.out / LAUNCH_LOCK)
        try:
            job.out.mkdir(parents=True, exist_ok=True)
            holder = lock.acquire()
        except OSError:
            return None
        if holder is None:
            lock.write_pid()
            self._locks.append(lock)
        return holder

    def plan_of(self, job: Job) -> str:
        """The plan made for ``job`` (one of this claim's jobs)."""
        for j, p in zip(self.jobs, self.plans):
            if j is job:
                return p
        raise ValueError(f"job {job.name!r} is not one of this claim's jobs")

    def release(self) -> None:
        """Let go of every lock taken (removing the lock files this process created)."""
        for lock in self._locks:
            lock.release(remove_created=True)
        self._locks = []


def launch(jobs: Sequence[Job], backend: Optional[Backend] = None, retrain: bool = False,
           report: Callable[[str], None] = print, claim: Optional[Claim] = None) -> list[Outcome]:
    """Run every job that is not finished (``retrain``: every job) on ``backend`` (default
    :class:`LocalBackend`); return one :class:`Outcome` per job, in order.

    The jobs are claimed and planned once (:class:`Claim`), here or by the caller, who then passes
    its ``claim`` (``jobs`` may be some of its jobs) and holds it until this returns. Each job to
    run goes to the backend with its plan; a job another process holds is skipped
    (:func:`held_line`, outcome :data:`~pfrlib.launch.job.HELD`). Prints (``report``) one line for
    all reused runs, a header line, and one line per run as it starts and as it finishes. Raises
    ``ValueError`` if two jobs share an output folder.
    """
    jobs = list(jobs)
    if claim is None:
        with Claim(jobs, retrain) as claim:
            return launch(jobs, backend, report=report, claim=claim)
    backend = backend or LocalBackend()
    plans = {id(j): claim.plan_of(j) for j in jobs}
    reused = [j for j in jobs if plans[id(j)] == "reuse"]
    todo = [j for j in jobs if plans[id(j)] not in ("reuse", HELD)]
    if reused:
        report(reused_line([j.out for j in reused]))
    for j in jobs:
        if plans[id(j)] == HELD:
            report(held_line(j, claim.holders[id(j)]))
    done: dict[int, Outcome] = {}
    if todo:
        report(f"training {len(todo)} run(s){backend.at_once(todo)}: {', '.join(j.name for j in todo)}")
        done = {id(o.job): o for o in backend.run(todo, [plans[id(j)] for j in todo], report)}
    return [done[id(j)] if id(j) in done
            else Outcome(j, HELD, details={"held_by": claim.holders[id(j)]},
                         error=f"in progress in another sweep (pid {claim.holders[id(j)]})") if plans[id(j)] == HELD
            else Outcome(j, "reused", read_json(j.result)) for j in jobs]
