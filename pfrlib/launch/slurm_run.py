"""What one Slurm job of the launcher runs (the node's side of :mod:`pfrlib.launch.slurm`).

submitit pickles a :class:`SlurmRun` at submission and calls it inside the job. It runs the
run's command (``python -m pfrlib.launch.job OUT/job.json``, which carries out the plan recorded
in the job file, or resumes the job's own checkpoint when the job was requeued), appends the
output to the run's log, and records the attempt. It imports neither
torch nor the configuration: the job's own Python process starts in a second, and only the
command it starts loads the heavy libraries.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

import submitit

from pfrlib.engine.record import FinalRecord

__all__ = ["SlurmRun", "read_attempts"]


def _append_line(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def read_attempts(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a run's attempts file (one JSON object a line; none if there is no file)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class SlurmRun(submitit.helpers.Checkpointable):
    """One run's command inside a Slurm job.

    Args:
        argv: the command (:func:`pfrlib.launch.job.job_command`, or ``torchrun`` around it).
        env: its environment as the launcher computed it (:func:`pfrlib.launch.job.job_environment`);
            the node's own ``SLURM_*`` variables are kept.
        log: the run's log file (appended to).
        final: a training run's ``final.json``, which gets ``"launched"`` (None for a notebook).
        attempts: where each start and end of the job is recorded (one JSON line each).
        backend: the launcher backend's name, recorded in ``"launched"``.

    Checkpointable: on a time-out or preemption submitit requeues the job with this same object;
    the command then finds the checkpoint the job saved and resumes from it
    (:func:`pfrlib.launch.job.child_action`).
    """

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, final: Optional[Path], attempts: Path,
                 backend: str) -> None:
        self.argv, self.log, self.final, self.attempts, self.backend = list(argv), log, final, attempts, backend
        self.env = {k: v for k, v in env.items() if not k.startswith("SLURM_")}

    def __call__(self) -> int:
        launched = {"backend": self.backend, "job_id": submitit.JobEnvironment().job_id, "node": socket.gethostname()}
        started = time.time()
        _append_line(self.attempts, {**launched, "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
        with open(self.log, "a") as log:
            log.write(f"slurm job {launched['job_id']} on {launched['node']}\n")
            log.flush()
            returncode = subprocess.call(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **self.env})
        if returncode == 0:
            self._record_launch(launched, started)
        _append_line(self.attempts, {**launched, "ended": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                     "returncode": returncode})
        return returncode

    def _record_launch(self, launched: dict[str, Any], started: float) -> Optional[Path]:
        """Record ``launched`` in a ``final.json`` this job wrote (not in one it found finished)."""
        if self.final is None or not self.final.exists() or self.final.stat().st_mtime < started:
            return None
        record = FinalRecord.read(self.final)
        record.launched = launched
        return record.write(self.final)
