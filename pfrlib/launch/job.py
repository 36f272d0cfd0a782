"""A job: one run to launch (a training configuration or a notebook), the one rule that says
what to do with it (:func:`plan`), and the command that carries that out on any machine.

The plan is made once, where the run is launched, under the run's launch lock
(:class:`pfrlib.launch.launcher.Claim`), and travels with the job: :func:`job_command` writes ``OUT/job.json`` (what to run and the plan) and
every backend runs ``python -m pfrlib.launch.job OUT/job.json``. The child builds its
:class:`~pfrlib.config.train_config.TrainConfig` from the file and carries out the plan
(:func:`child_action`):

* ``"train"``: train afresh (an old run in ``OUT`` is moved aside and dropped once the new one
  has a good checkpoint);
* ``"resume"``: continue from ``OUT/checkpoint_last.pt`` (the trainer checks that its
  configuration is the same);
* a job started again with the same job file (a Slurm job requeued after a preemption or its
  time limit) finds its plan partly carried out. It resumes when ``checkpoint_last.pt`` was
  written after the job file (this job's own checkpoint); otherwise it was stopped before its
  first good checkpoint and follows the plan again (for ``"train"``, the old run it had moved
  aside is put back by the trainer and replaced again). A checkpoint older than the job file is
  the one the plan was made from, never taken for the job's own.

Finished jobs are never launched (``"reuse"``), so the child never decides to skip. Its output
goes to ``OUT/log.txt``; a child on this machine gets its process id added to the job file
(:func:`record_pid`); :func:`collect_outcome` writes ``OUT/status.json`` when it ends.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from pfrlib.engine.checkpoint import CHECKPOINT_LAST
from pfrlib.config.train_config import TrainConfig
from pfrlib.io import check_positive_int, read_json, write_json
from pfrlib.engine.record import FINAL_JSON, FinalRecord
from pfrlib.engine.run import train_to_exit_status

__all__ = ["Job", "Outcome", "same_configuration", "is_finished", "plan", "write_job", "record_pid", "read_job",
           "job_command", "job_environment", "child_action", "run_job_file", "collect_outcome", "RUN_LINE",
           "JOB_FILE", "LOG_FILE", "STATUS_FILE", "LAUNCH_LOCK", "HELD", "main"]

#: Files the launcher keeps in a job's folder: what to run, its output, its outcome.
JOB_FILE, LOG_FILE, STATUS_FILE = "job.json", "log.txt", "status.json"
#: The lock a launching process holds on a job's folder while it runs the job (the pid of that
#: process inside): another launcher, e.g. a second sweep of the same spec, leaves the job alone.
LAUNCH_LOCK = ".launch.lock"
#: The :class:`Outcome` status of a job that another launching process holds (its pid in ``details["held_by"]``).
HELD = "held"
#: Lines the launcher prints about runs (``pfrlib.reproduce`` picks them out of a notebook's output).
RUN_LINE = re.compile(r"^\s*(training \d+ run|reusing |started |resuming |trained |resumed |finished |FAILED |skipped )")


@dataclass
class Job:
    """One run to launch: a training configuration *or* a notebook with its parameters.

    Args:
        name: how report lines name it (a sweep's run name, a folder name).
        out: the folder it writes (the training run directory; for a notebook, where the executed
            copy, its log and status go).
        config: what to train (its ``run.out`` is replaced by ``out``).
        notebook: a notebook to execute with papermill instead, with ``parameters``.
        threads: torch / OpenMP threads of the job (``None``: as ``config`` and the environment say).
        cwd: the notebook kernel's working directory (default: the notebook's folder).
        meta: recorded in ``status.json`` (e.g. a sweep's parameters of the run).
    """

    name: str
    out: Path
    config: Optional[TrainConfig] = None
    notebook: Optional[Path] = None
    parameters: dict[str, Any] = field(default_factory=dict)
    threads: Optional[int] = 1
    cwd: Optional[Path] = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if (self.config is None) == (self.notebook is None):
            raise ValueError(f"job {self.name!r}: give a config or a notebook (exactly one)")
        if self.notebook is not None:
            self.notebook = Path(self.notebook)
        check_positive_int(self.threads, f"job {self.name!r}: threads", none_ok=True)

    @property
    def kind(self) -> str:
        """``"train"`` or ``"notebook"``."""
        return "train" if self.config is not None else "notebook"

    @property
    def result(self) -> Path:
        """The file a finished job leaves: ``final.json`` (train) or ``metrics.json`` (notebook)."""
        return self.out / (FINAL_JSON if self.kind == "train" else "metrics.json")

    @property
    def executed(self) -> Path:
        """Where a notebook job's executed copy goes."""
        return self.out / (self.notebook.name if self.notebook is not None else "notebook.ipynb")

    def train_config(self, action: str = "train", progress: bool = False) -> TrainConfig:
        """The configuration that carries out ``action`` (``"train"``: afresh, replacing what is
        in ``out``; ``"resume"``): ``config`` in ``out``, with ``threads`` threads, a progress bar
        only with ``progress`` (a child's output goes to a log file)."""
        if action not in ("train", "resume"):
            raise ValueError(f"job {self.name!r}: nothing to train for the plan {action!r}")
        threads = self.config.run.num_threads if self.threads is None else self.threads
        resume = action == "resume"
        return self.config.replace(out=str(self.out), num_threads=threads, progress=progress, resume=resume,
                                   overwrite=not resume)

    def describe(self) -> str:
        """A short line: what the job runs, for dry runs."""
        if self.kind == "notebook":
            params = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items())
            return f"papermill {self.notebook}" + (f" ({params})" if params else "")
        c = self.config
        return f"train {c.loss.method}, preset {c.preset_name}, seed {c.run.seed}, {c.optim.iterations} iterations"


@dataclass
class Outcome:
    """What became of one job.

    ``status`` is ``"finished"`` (ran and left its result), ``"reused"`` (was finished already),
    ``"failed"`` (``error`` says why in one line) or :data:`HELD` (another launching process runs
    it: nothing was started or written here, and there is no result yet); ``ok`` means a result is
    there (finished or reused). ``final`` is its ``final.json`` (train) or
    ``metrics.json`` (notebook) when there is one; ``launched`` says how it ran (``backend``, and
    the backend's id of the job, e.g. ``pid``).
    """

    job: Job
    status: str
    final: Optional[dict[str, Any]] = None
    seconds: float = 0.0
    error: Optional[str] = None
    launched: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("finished", "reused")

    def to_status(self) -> dict[str, Any]:
        """The job's ``status.json``."""
        status = {"name": self.job.name, "ok": self.ok, "status": self.status, "seconds": round(self.seconds, 1),
                  "launched": self.launched, "params": self.job.meta, **self.details}
        if self.error is not None:
            status["error"] = self.error
        return status


# --------------------------------------------------------------------------- the one rule
def same_configuration(config: TrainConfig, out: str | os.PathLike | None = None) -> bool:
    """Whether the run directory ``out`` (default ``config.run.out``) holds a ``config.json``
    equal to ``config``, bookkeeping aside (``resume``, ``overwrite``, ``progress``,
    ``num_threads`` and the saved ``out`` path: :func:`pfrlib.config.bookkeeping_fields`) and
    the device-automatic options resolved (:meth:`TrainConfig.identity`). False
    if there is none or it cannot be read: after a preset changes, an old run is retrained
    instead of silently reused."""
    path = Path(config.run.out if out is None else out) / "config.json"
    try:
        saved = TrainConfig.from_dict(read_json(path))
    except (OSError, ValueError, TypeError, KeyError):
        return False
    return saved.identity() == config.identity()


def plan(job: Job, retrain: bool = False) -> str:
    """The one rule, made once per run where it is launched: ``"reuse"`` (finished: its result
    file exists and, for training, the saved ``config.json`` is the job's configuration,
    :func:`same_configuration`), ``"resume"`` (a checkpoint of the same configuration and no
    result) or ``"train"`` (anything else, or ``retrain``: the trainer moves an old run aside and
    drops it once the new one has a checkpoint). A notebook job is finished once it wrote its
    ``metrics.json``. ``config.json`` is read at most once."""
    if retrain:
        return "train"
    if job.kind != "train":
        return "reuse" if job.result.exists() else "train"
    finished, checkpoint = job.result.exists(), (job.out / CHECKPOINT_LAST).exists()
    if not (finished or checkpoint) or not same_configuration(job.config, job.out):
        return "train"
    return "reuse" if finished else "resume"


def is_finished(job: Job) -> bool:
    """Whether :func:`plan` reuses ``job``: its result is there, made with its configuration."""
    return plan(job) == "reuse"


# --------------------------------------------------------------------------- the command of one job
def write_job(job: Job, action: str) -> Path:
    """Write ``out/job.json``: what the child runs and the plan it carries out, ``action``
    (``"train"`` or ``"resume"``: see :func:`read_job`). A training job's configuration is stored
    once, as :meth:`TrainConfig.to_dict` gives it."""
    if action not in ("train", "resume"):
        raise ValueError(f"job {job.name!r}: a job is launched to train or resume, not with the plan {action!r}")
    data: dict[str, Any] = {"name": job.name, "plan": action, "threads": job.threads, "meta": job.meta}
    if job.kind == "train":
        data["config"] = job.config.replace(out=str(job.out)).to_dict()
    else:
        data.update(notebook=str(Path(job.notebook).resolve()), parameters=job.parameters,
                    cwd=str(Path(job.cwd or job.notebook.parent).resolve()))
    return write_json(job.out / JOB_FILE, data)


def record_pid(job: Job, pid: int) -> Path:
    """Add the started child's process id to ``out/job.json`` (where it is looked up, not in a
    line that a saved notebook would keep)."""
    path = job.out / JOB_FILE
    return write_json(path, {**read_json(path), "pid": pid})


def read_job(path: str | os.PathLike) -> tuple[Job, str]:
    """``(job, plan)`` from a file :func:`write_job` wrote; ``out`` is the file's folder."""
    path = Path(path)
    try:
        d = read_json(path)
        config = TrainConfig.from_dict(d["config"]) if "config" in d else None
        job = Job(name=d["name"], out=path.parent, config=config, notebook=d.get("notebook"),
                  parameters=d.get("parameters", {}), threads=d["threads"], cwd=d.get("cwd"), meta=d.get("meta", {}))
        if d["plan"] not in ("train", "resume"):
            raise ValueError(f"plan {d['plan']!r}")
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise ValueError(f"{path} is not a job file written by pfrlib.launch.job.write_job ({err})") from None
    return job, d["plan"]


def job_command(job: Job, action: str) -> list[str]:
    """The command that carries out the plan ``action`` for ``job`` on any machine that sees
    ``job.out``: ``python -m pfrlib.launch.job OUT/job.json`` (writes the job file)."""
    return [sys.executable, "-m", "pfrlib.launch.job", str(write_job(job, action))]


def job_environment(job: Job, base: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The child's environment: ``base`` (default ``os.environ``) with OpenMP / MKL limited to
    ``job.threads`` threads (when it says), and this ``pfrlib`` first on ``PYTHONPATH`` (the child
    imports the code that launched it, installed or not)."""
    env = dict(os.environ if base is None else base)
    root = str(Path(__file__).resolve().parents[2])
    if env.get("PYTHONPATH", "").split(os.pathsep)[0] != root:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    if job.threads is not None:
        env.update(OMP_NUM_THREADS=str(job.threads), MKL_NUM_THREADS=str(job.threads))
    return env


def _notebook_argv(job: Job) -> list[str]:
    cmd = [sys.executable, "-m", "papermill", "--cwd", str(job.cwd), "-k", "python3", "--no-progress-bar",
           "--log-output", "--log-level", "INFO", str(job.notebook), str(job.executed)]
    for k, v in job.parameters.items():
        cmd += ["-y", yaml.safe_dump({k: v}, default_flow_style=True).strip()]
    return cmd


def child_action(job: Job, recorded: str) -> str:
    """What the child does now: the ``recorded`` plan, unless this job already saved a checkpoint
    (``checkpoint_last.pt`` written after ``job.json``: the job was started again, e.g. requeued
    after a preemption), which it then resumes."""
    checkpoint, job_file = job.out / CHECKPOINT_LAST, job.out / JOB_FILE
    try:
        own = checkpoint.stat().st_mtime_ns > job_file.stat().st_mtime_ns
    except OSError:  # no checkpoint (or no job file): nothing of this job's to continue
        own = False
    return "resume" if own else recorded


def run_job_file(path: str | os.PathLike) -> int:
    """The child's side (``python -m pfrlib.launch.job OUT/job.json``): carry out the job's plan
    (:func:`child_action`); a notebook is executed with papermill (in this process's place)."""
    job, recorded = read_job(path)
    if job.kind == "notebook":
        argv = _notebook_argv(job)
        os.execv(argv[0], argv)  # keeps the pid, so the parent-death signal and the process group stay
    return train_to_exit_status(job.train_config(child_action(job, recorded)))


def _log_tail(job: Job, lines: int = 15) -> list[str]:
    try:
        return (job.out / LOG_FILE).read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def _failing_cell(notebook: Path) -> Optional[dict[str, Any]]:
    """The first cell of an executed notebook whose output is an error (papermill's record)."""
    import nbformat  # noqa: PLC0415  (only notebook jobs need it)

    try:
        nb = nbformat.read(notebook, as_version=4)
    except (OSError, ValueError, nbformat.reader.NotJSONError):  # not written, or cut short by the failure
        return None
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return {"index": i, "source": cell.source[:500], "ename": out.get("ename"), "evalue": out.get("evalue")}
    return None


def collect_outcome(job: Job, returncode: int, seconds: float, launched: dict[str, Any]) -> Outcome:
    """The :class:`Outcome` of a job whose command exited with ``returncode``; writes ``status.json``.
    A training job succeeded when it exited 0 *and* left ``final.json``."""
    ok = returncode == 0 and (job.kind != "train" or job.result.exists())
    details: dict[str, Any] = {"returncode": returncode}
    error = final = None
    if ok and job.result.exists():  # a training run's record is checked key by key (FinalRecord)
        try:
            final = FinalRecord.read(job.result).to_dict() if job.kind == "train" else read_json(job.result)
        except (OSError, ValueError) as err:
            ok, error = False, str(err)
    if not ok:
        tail = _log_tail(job)
        details["log_tail"] = tail
        errors = [ln[len("error: "):] for ln in tail if ln.startswith("error: ")]
        error = error or (errors[-1] if errors else (tail[-1] if tail else f"exit status {returncode}"))
        if job.kind == "notebook":
            cell = _failing_cell(job.executed)
            details["failing_cell"] = cell
            if cell:
                error = f"cell {cell['index']}: {cell['ename']}: {cell['evalue']}"
    outcome = Outcome(job, "finished" if ok else "failed", final, seconds, error, launched, details)
    write_json(job.out / STATUS_FILE, outcome.to_status())
    return outcome


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m pfrlib.launch.job OUT/job.json``: run one job (what every backend's child runs)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m pfrlib.launch.job OUT/job.json  (written by pfrlib.launch.job.job_command)", file=sys.stderr)
        return 2
    try:
        return run_job_file(argv[0])
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
