"""Where the launcher's jobs run: the :class:`Backend` interface and the lines a run gets.

:func:`pfrlib.launch.launcher.launch` hands the jobs left to run to one backend, chosen by name in
:data:`pfrlib.launch.launcher.BACKENDS` (``--launcher``): :class:`pfrlib.launch.launcher.LocalBackend`
(subprocesses on this machine) or :class:`pfrlib.launch.slurm.SlurmBackend` (one Slurm job per run).
A backend gets the jobs with the plan :func:`~pfrlib.launch.launcher.launch` made for each
(``"train"`` or ``"resume"``), carries it out, and reports a run with :func:`start_line` /
:func:`done_line`. A backend's own command-line options (:meth:`Backend.add_arguments`) join
every command that launches (``python -m pfrlib.sweep``), and :meth:`Backend.from_args` builds
the backend from them.
"""

from __future__ import annotations

import abc
import argparse
from typing import Callable, ClassVar, Optional, Sequence

from pfrlib.engine.record import finished_line
from pfrlib.io import format_duration
from pfrlib.launch.job import STATUS_FILE, Job, Outcome

__all__ = ["Backend", "start_line", "done_line"]


def start_line(job: Job, resumed: bool, where: str) -> str:
    """The line a backend reports when a job starts (``where``: e.g. ``log runs/x/log.txt``, a
    cluster job id; never a local process id, which a saved notebook would keep for nothing)."""
    return f"  {'resuming' if resumed else 'started'} {job.name}{' from its last checkpoint' if resumed else ''} ({where})"


def done_line(outcome: Outcome, resumed: bool) -> str:
    """The line a backend reports when a job ends: its record's line
    (:func:`pfrlib.engine.record.finished_line`), or why it failed."""
    job = outcome.job
    if not outcome.ok:
        return (f"  FAILED {job.name} ({format_duration(outcome.seconds, exact=True)}): {outcome.error} "
                f"(see {job.out / STATUS_FILE})")
    if job.kind != "train":
        return f"  finished {job.name} ({format_duration(outcome.seconds, exact=True)})"
    return "  " + finished_line("resumed" if resumed else "trained", job.name, outcome.final or {}, outcome.seconds)


class Backend(abc.ABC):
    """Runs jobs somewhere; :func:`pfrlib.launch.launcher.launch` gives it only the jobs left to run."""

    #: The name ``--launcher`` selects it by (see :data:`pfrlib.launch.launcher.BACKENDS`).
    name: ClassVar[str] = ""

    @abc.abstractmethod
    def run(self, jobs: Sequence[Job], plans: Sequence[str], report: Callable[[str], None] = print) -> list[Outcome]:
        """Carry out each job's plan (``plans[i]``: ``"train"`` or ``"resume"``, what
        :func:`pfrlib.launch.job.plan` decided; the command of :func:`pfrlib.launch.job.job_command`),
        one ``report`` line per run as it starts and finishes; return one :class:`Outcome` per job,
        in order (:func:`pfrlib.launch.job.collect_outcome` makes it and writes the job's ``status.json``)."""

    def at_once(self, jobs: Sequence[Job]) -> str:
        """How the header line says ``jobs`` are spread (e.g. ``", 2 at a time"``)."""
        return ""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add this backend's own command-line options (default ``None``: not given); none here."""

    @classmethod
    def options_given(cls, args: argparse.Namespace) -> list[str]:
        """This backend's own options that ``args`` sets (an error under another ``--launcher``)."""
        return []

    @classmethod
    def from_args(cls, args: argparse.Namespace, jobs: Optional[int] = None) -> "Backend":
        """The backend the parsed options describe; ``jobs``: runs at once (None: its default)."""
        return cls(jobs=jobs)
