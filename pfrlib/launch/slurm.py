"""The Slurm backend of the launcher: every run one Slurm job, submitted through ``submitit``.

``python -m pfrlib.sweep SPEC --launcher slurm [--partition P] [--gpus-per-run N] [--time
HH:MM:SS] [--mem 16G] [--slurm-extra KEY=VALUE ...]`` hands the sweep's unfinished runs to
:class:`SlurmBackend` instead of :class:`~pfrlib.launch.launcher.LocalBackend`:

* The runs are submitted as one job array (one array per distinct thread count) with
  ``submitit``; each array task runs the same command a local run does
  (:func:`pfrlib.launch.job.job_command`: ``python -m pfrlib.launch.job OUT/job.json``), with its output in
  ``OUT/log.txt``. A run with ``--gpus-per-run N > 1`` trains with DistributedDataParallel
  inside its job: one task, ``torchrun --standalone --nproc_per_node=N`` (see ``docs/cluster.md``).
* Preemption and time limits: Slurm signals the job (``USR2``, 90 s before the limit);
  submitit's handler in the job requeues it (``scontrol requeue``, up to ``max_requeues``
  times), and the requeued job starts the same command, which resumes the run from its last good
  checkpoint (:func:`pfrlib.launch.job.child_action`: the job's own checkpoint, written after
  its job file). A cluster that requeues preempted jobs itself
  (``PreemptMode=REQUEUE``) ends in the same place.
* ``OUT/slurm.json`` records the job id submitted for the run (and every earlier one), and
  whether it was submitted to train or to resume (from which iteration); each start and end of a
  job on a node appends a line to ``OUT/slurm_attempts.jsonl`` (:class:`~pfrlib.launch.slurm_run.SlurmRun`).
  A sweep submitted again skips finished runs (the launcher's rule) and does not submit a run
  whose recorded job is still queued or running: it follows that job.
* The sweep prints each job's state as it changes (``squeue``; no accounting database needed)
  and, when a job ends, its outcome (from the exit status the job recorded; ``OUT/status.json``
  as for a local run). A run finished by
  a Slurm job records ``launched: {"backend": "slurm", "job_id": ..., "node": ...}`` in its
  ``final.json``.

A cluster that does not answer (``squeue`` fails or takes over :data:`REACH_TIMEOUT_S`, e.g. a
wrong ``SLURM_CONF``) stops the sweep with one line when the backend is built, before the sweep
claims its folder or submits anything.

Stopping the sweep (Ctrl-C) does not cancel the jobs: submit the sweep again to follow them, or
``scancel`` them.
"""

from __future__ import annotations

import argparse
import getpass
import math
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import submitit

from pfrlib.launch.local import Backend, done_line
from pfrlib.engine.checkpoint import CHECKPOINT_LAST, checkpoint_iteration
from pfrlib.io import check_positive_int, read_json, write_json
from pfrlib.launch.job import LOG_FILE, STATUS_FILE, Job, Outcome, collect_outcome, job_command, job_environment
from pfrlib.launch.slurm_run import SlurmRun, read_attempts

__all__ = ["SlurmBackend", "SLURM_FILE", "ATTEMPTS_FILE", "REACH_TIMEOUT_S", "parse_time", "job_states"]

#: The run directory's record of the Slurm jobs submitted for it (written by the sweep).
SLURM_FILE = "slurm.json"
#: One JSON line per start and end of a job on a node (written by the job: :class:`SlurmRun`).
ATTEMPTS_FILE = "slurm_attempts.jsonl"
#: Slurm states of a job that is not over yet (``squeue -t all`` names them so).
ACTIVE = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                    "RESIZING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD", "PREEMPTED"})


def parse_time(value: str) -> int:
    """A Slurm time limit ``[D-]HH:MM:SS``, ``HH:MM`` or ``MM`` -> whole minutes (rounded up)."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", str(value).strip())
    if not m:
        raise ValueError(f"--time: expected [D-]HH:MM:SS (e.g. 12:00:00), got {value!r}")
    days, a, b, c = (int(g) if g else None for g in m.groups())
    if b is None:  # MM (or D-HH)
        seconds = (days or 0) * 86400 + (a * 3600 if days is not None else a * 60)
    elif c is None:  # HH:MM
        seconds = (days or 0) * 86400 + a * 3600 + b * 60
    else:
        seconds = (days or 0) * 86400 + a * 3600 + b * 60 + c
    if seconds <= 0:
        raise ValueError(f"--time: the time limit must be positive, got {value!r}")
    return math.ceil(seconds / 60)


#: Seconds the controller has to answer the ``squeue`` that checks it is reachable, before anything is claimed.
REACH_TIMEOUT_S = 20


def job_states(job_ids: Sequence[str], timeout_s: float = 60) -> dict[str, str]:
    """``{job id: Slurm state}`` of this user's jobs among ``job_ids`` that ``squeue`` still
    knows (finished ones for ``MinJobAge`` seconds); a job it no longer lists is absent."""
    proc = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-u", getpass.getuser(), "-o", "%i|%T"],
                          capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"squeue failed: {proc.stderr.strip() or proc.stdout.strip()}")
    wanted, states = set(job_ids), {}
    for line in proc.stdout.splitlines():
        jid, _, state = line.strip().partition("|")
        if jid in wanted:
            states[jid] = state.split()[0] if state else "UNKNOWN"
    return states


def _check_reachable() -> None:
    """Ask the controller once (the ``squeue`` the backend follows its jobs with), so that an
    unreachable cluster is one line before any folder is claimed or any job submitted."""
    try:
        job_states([], timeout_s=REACH_TIMEOUT_S)
        return
    except subprocess.TimeoutExpired:
        why = f"squeue did not answer within {REACH_TIMEOUT_S} s"
    except (RuntimeError, OSError) as err:
        why = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
    conf = os.environ.get("SLURM_CONF")
    raise ValueError(f"--launcher slurm: the Slurm controller does not answer ({why}); check "
                     + (f"SLURM_CONF={conf}" if conf else "the cluster's slurm.conf")
                     + " and that slurmctld is up (scontrol ping); nothing was submitted or written")


@dataclass
class _Followed:
    """A submitted (or already queued) job the backend follows until it ends."""

    job: Job
    job_id: str
    resumed: bool
    start: float = field(default_factory=time.perf_counter)
    state: Optional[str] = None


class SlurmBackend(Backend):
    """Each run one Slurm job (one array per submission), through ``submitit``.

    Args:
        partition: ``--partition`` (None: the cluster's default).
        gpus_per_run: GPUs of each run's job; above 1 the run trains with DDP (``torchrun``) in it.
        time: the time limit ``[D-]HH:MM:SS`` of each job (requeued and resumed when reached).
        mem: ``--mem`` of each job (e.g. ``16G``; None: the cluster's default).
        extra: further ``sbatch`` options, ``{"qos": "high", "account": "lab"}``.
        folder: where submitit keeps its scripts and logs (default ``<runs' common folder>/_slurm``).
        jobs: at most this many runs of an array at once (None: all).
        max_requeues: how often a job is requeued after a time-out before it fails.
        poll_s: seconds between two ``squeue`` calls at first (up to ten times that later on).
    """

    name = "slurm"
    #: The command-line options (``python -m pfrlib.sweep ... --launcher slurm``) and their defaults.
    OPTIONS = {"partition": None, "gpus_per_run": 0, "time": "24:00:00", "mem": None, "slurm_extra": []}

    def __init__(self, partition: Optional[str] = None, gpus_per_run: int = 0, time: str = "24:00:00",
                 mem: Optional[str] = None, extra: Optional[dict[str, str]] = None,
                 folder: Optional[str | os.PathLike] = None, jobs: Optional[int] = None, max_requeues: int = 20,
                 poll_s: float = 1.0) -> None:
        check_positive_int(jobs, "jobs", none_ok=True)
        if isinstance(gpus_per_run, bool) or not isinstance(gpus_per_run, int) or gpus_per_run < 0:
            raise ValueError(f"--gpus-per-run: expected an integer >= 0, got {gpus_per_run!r}")
        if mem is not None and not re.fullmatch(r"\d+[KMGT]?", str(mem)):
            raise ValueError(f"--mem: expected a size such as 16G or 4000M, got {mem!r}")
        self.minutes = parse_time(time)
        self.partition, self.gpus_per_run, self.mem = partition, gpus_per_run, mem
        self.extra = dict(extra or {})
        self.folder = Path(folder) if folder is not None else None
        self.jobs, self.max_requeues, self.poll_s = jobs, max_requeues, poll_s
        if shutil.which("sbatch") is None or shutil.which("squeue") is None:
            raise ValueError("--launcher slurm: sbatch/squeue not found; run on a Slurm cluster's login node "
                             "(or start a one-node cluster with .ci/slurm-up)")
        _check_reachable()


    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("--launcher slurm (docs/cluster.md)")
        g.add_argument("--partition", default=None, help="the Slurm partition (default: the cluster's default)")
        g.add_argument("--gpus-per-run", type=int, default=None, metavar="N",
                       help="GPUs of each run's job; N > 1 trains with DDP (torchrun) in the job (default: 0)")
        g.add_argument("--time", default=None, metavar="HH:MM:SS",
                       help="each job's time limit, [D-]HH:MM:SS; a job that reaches it is requeued and resumes "
                            "(default: 24:00:00)")
        g.add_argument("--mem", default=None, help="memory of each job, e.g. 64G (default: the cluster's)")
        g.add_argument("--slurm-extra", action="append", default=None, metavar="KEY=VALUE",
                       help="a further sbatch option (repeatable), e.g. account=lab or qos=high")

    @classmethod
    def options_given(cls, args: argparse.Namespace) -> list[str]:
        return ["--" + k.replace("_", "-") for k in cls.OPTIONS if getattr(args, k, None) is not None]

    @classmethod
    def from_args(cls, args: argparse.Namespace, jobs: Optional[int] = None) -> "SlurmBackend":
        o = {k: default if getattr(args, k, None) is None else getattr(args, k) for k, default in cls.OPTIONS.items()}
        extra = {}
        for item in o["slurm_extra"]:
            key, sep, value = item.partition("=")
            if not sep or not key.strip("-"):
                raise ValueError(f"--slurm-extra: expected KEY=VALUE (an sbatch option without its dashes, "
                                 f"e.g. qos=high), got {item!r}")
            extra[key.strip("-")] = value
        return cls(partition=o["partition"], gpus_per_run=o["gpus_per_run"], time=o["time"], mem=o["mem"],
                   extra=extra, jobs=jobs)

    def at_once(self, jobs: Sequence[Job]) -> str:
        return ", one Slurm job each" + (f", {self.jobs} at a time" if self.jobs else "")

    # ----------------------------------------------------------------- submission
    def _argv(self, job: Job, action: str) -> list[str]:
        argv = job_command(job, action)  # [python, -m, pfrlib.launch.job, OUT/job.json]
        if self.gpus_per_run > 1:
            argv = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    f"--nproc_per_node={self.gpus_per_run}", *argv[1:]]
        return argv

    def _executor(self, jobs: Sequence[Job], threads: int) -> submitit.SlurmExecutor:
        root = self.folder or Path(os.path.commonpath([str(j.out.resolve().parent) for j in jobs])) / "_slurm"
        ex = submitit.SlurmExecutor(folder=root / "%j", max_num_timeout=self.max_requeues)
        params: dict[str, Any] = dict(
            job_name=f"pfr-{root.parent.name}", time=self.minutes, nodes=1, ntasks_per_node=1,
            cpus_per_task=threads * max(1, self.gpus_per_run), array_parallelism=min(self.jobs or len(jobs), len(jobs)),
            stderr_to_stdout=True, additional_parameters=self.extra)
        if self.partition:
            params["partition"] = self.partition
        if self.gpus_per_run:
            params["gpus_per_node"] = self.gpus_per_run
        if self.mem:
            params["mem"] = self.mem
        ex.update_parameters(**params)
        return ex

    def _submit(self, jobs: Sequence[Job], plans: Sequence[str]) -> list[str]:
        """Submit ``jobs`` to carry out ``plans`` (one array per thread count); record each job id and
        its plan in ``OUT/slurm.json``."""
        ids: dict[int, str] = {}
        by_threads: dict[int, list[int]] = {}
        for i, job in enumerate(jobs):
            by_threads.setdefault(job.threads or 1, []).append(i)
        for threads, idx in by_threads.items():
            for i in idx:
                jobs[i].out.mkdir(parents=True, exist_ok=True)
            ex = self._executor([jobs[i] for i in idx], threads)
            with ex.batch():
                submitted = [ex.submit(self._slurm_run(jobs[i], plans[i])) for i in idx]
            for i, sj in zip(idx, submitted):
                ids[i] = str(sj.job_id)
                path = jobs[i].out / SLURM_FILE
                earlier = read_json(path).get("history", []) if path.exists() else []
                ckpt = jobs[i].out / CHECKPOINT_LAST
                write_json(path, {"job_id": ids[i], "submitted": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                  "plan": plans[i], "from_iteration": checkpoint_iteration(ckpt) if plans[i] == "resume" else 0,
                                  "folder": str(sj.paths.folder), "history": earlier + [ids[i]]})
        return [ids[i] for i in range(len(jobs))]

    def _slurm_run(self, job: Job, action: str) -> SlurmRun:
        return SlurmRun(self._argv(job, action), job_environment(job), log=job.out / LOG_FILE,
                        final=job.result if job.kind == "train" else None, attempts=job.out / ATTEMPTS_FILE,
                        backend=self.name)

    # ----------------------------------------------------------------- following
    def run(self, jobs: Sequence[Job], plans: Sequence[str], report: Callable[[str], None] = print) -> list[Outcome]:
        jobs = list(jobs)
        followed: dict[int, _Followed] = {}
        queued = job_states([read_json(j.out / SLURM_FILE)["job_id"] for j in jobs if (j.out / SLURM_FILE).exists()])
        to_submit = []
        for i, job in enumerate(jobs):
            known = read_json(job.out / SLURM_FILE)["job_id"] if (job.out / SLURM_FILE).exists() else None
            if known in queued and queued[known] in ACTIVE:
                followed[i] = _Followed(job, known, plans[i] == "resume", state=queued[known])
                report(f"  {job.name}: Slurm job {known} is already {queued[known]}; following it (not submitted again)")
            else:
                to_submit.append(i)
        if to_submit:
            for i, jid in zip(to_submit, self._submit([jobs[i] for i in to_submit], [plans[i] for i in to_submit])):
                followed[i] = _Followed(jobs[i], jid, plans[i] == "resume")
                report(f"  submitted {jobs[i].name} as Slurm job {jid}"
                       + (" (resumes from its last checkpoint)" if plans[i] == "resume" else ""))
        outcomes: dict[int, Outcome] = {}
        begun = time.perf_counter()
        try:
            while followed:
                states = job_states([f.job_id for f in followed.values()])
                for i, f in list(followed.items()):
                    state = states.get(f.job_id)
                    if state is not None and state != f.state:
                        report(f"  {f.job.name}: Slurm job {f.job_id} {state}")
                        f.state = state
                    if state is None or state not in ACTIVE:
                        outcomes[i] = self._outcome(f, state)
                        report(done_line(outcomes[i], f.resumed))
                        del followed[i]
                if followed:  # every poll_s at first, then less often (at most every 10 poll_s)
                    time.sleep(self.poll_s * min(10.0, 1.0 + (time.perf_counter() - begun) / 60.0))
        except KeyboardInterrupt:
            report(f"stopped following {len(followed)} Slurm job(s); they keep running "
                   f"(submit the sweep again to follow them, scancel to stop them)")
            raise
        return [outcomes[i] for i in range(len(jobs))]

    def _outcome(self, f: _Followed, state: Optional[str]) -> Outcome:
        """The outcome of a job that left the queue (or reached a final ``state``), from the exit
        status the job recorded (:class:`SlurmRun`); a job that recorded none failed."""
        mine = [a for a in read_attempts(f.job.out / ATTEMPTS_FILE) if a.get("job_id") == f.job_id]
        f.resumed = f.resumed or sum("started" in a for a in mine) > 1  # requeued: the later starts resumed
        ended = [a for a in mine if "returncode" in a]
        launched = {"backend": self.name, "job_id": f.job_id, **({"node": mine[-1]["node"]} if mine else {})}
        returncode = ended[-1]["returncode"] if ended else -1
        outcome = collect_outcome(f.job, returncode, time.perf_counter() - f.start, launched)
        outcome.details["slurm_state"] = state
        if not outcome.ok:
            why = f"Slurm job {f.job_id} ended {state or 'and left the queue'}"
            outcome.error = f"{why}: {outcome.error}" if ended else f"{why} without finishing its command"
            write_json(f.job.out / STATUS_FILE, outcome.to_status())
        return outcome
