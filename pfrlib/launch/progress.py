"""Live progress of runs trained in subprocesses, one line per run, read from their folders.

A run that :class:`pfrlib.launch.launcher.LocalBackend` trains writes its log to ``log.txt`` and,
every ``log_every`` iterations, a step record to ``metrics.jsonl``
(:func:`pfrlib.engine.record.step_record`). :class:`ProgressBoard` reads the newest step record of
each running job (the end of the file only) and shows one line per run:
:func:`pfrlib.engine.record.progress_line` (iterations done of all, the current loss terms, the
time left), updated in place:

* in a Jupyter kernel (JupyterLab, or a headless papermill / nbconvert run) one display, its
  lines rewritten (an IPython display handle): a saved notebook keeps the last state of each run,
  one line each;
* elsewhere (a terminal) a run's line is printed when it changed, at most every ``every_s``
  seconds per run.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from pfrlib.engine.record import is_step_record, progress_line
from pfrlib.engine.rundir import METRICS_FILE
from pfrlib.io import wrap
from pfrlib.launch.job import Job

__all__ = ["newest_step_record", "ProgressBoard", "in_jupyter_kernel"]

#: How much of the end of ``metrics.jsonl`` is read for its newest record (a record is ~200 bytes).
_TAIL_BYTES = 8192


def newest_step_record(out: Path) -> Optional[dict[str, Any]]:
    """The newest step record in ``out/metrics.jsonl`` (``None`` when there is none yet); reads
    only the end of the file, skips a line still being written and validation records."""
    try:
        with open(Path(out) / METRICS_FILE, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read().decode(errors="replace")
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:  # cut by the window's start, or not yet finished
            continue
        if is_step_record(record):
            return record
    return None


def in_jupyter_kernel() -> bool:
    """Whether this process is a Jupyter kernel (live or headless), where a display can be updated."""
    try:
        from IPython import get_ipython  # noqa: PLC0415  (optional: only notebooks have IPython)
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _Display:
    """One IPython display, its text replaced on each :meth:`show`."""

    def __init__(self) -> None:
        from IPython.display import display  # noqa: PLC0415  (only inside a notebook kernel)

        self.handle = display({"text/plain": ""}, raw=True, display_id=True)

    def show(self, lines: Sequence[str]) -> None:
        self.handle.update({"text/plain": "\n".join(lines)}, raw=True)


class ProgressBoard:
    """One progress line per training job that a backend runs, read from its folder.

    The backend calls :meth:`started` and :meth:`ended` for each job and :meth:`poll` as it
    waits; the folders are read at most every ``every_s`` seconds.

    Args:
        every_s: seconds between reads (and, in a terminal, between two lines of one run).
        display: ``True``: an updated display (a Jupyter kernel); ``False``: printed lines;
            ``None``: the first in a Jupyter kernel (:func:`in_jupyter_kernel`), else the second.
        write: where printed lines go.
        clock: the time in seconds (tests pass their own).
    """

    def __init__(self, every_s: float = 5.0, display: Optional[bool] = None,
                 write: Callable[[str], None] = lambda line: print(line, flush=True),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s, self.write, self.clock = every_s, write, clock
        self.use_display = in_jupyter_kernel() if display is None else display
        self._display: Optional[_Display] = None
        self.lines: dict[str, str] = {}  # job name -> its line, in the order the jobs started
        self._running: dict[str, Job] = {}
        self._printed: dict[str, tuple[str, float]] = {}  # terminal: job name -> (line, when printed)
        self._read_at = float("-inf")

    def _line(self, job: Job, state: Optional[str] = None) -> str:
        record = newest_step_record(job.out)
        line = progress_line(record, job.config.optim.iterations)
        if state is not None:
            done = f"{int(record['iter'])} / {job.config.optim.iterations} iterations" if record else "no iterations"
            line = f"{done}, {state}"
        return wrap(f"  {job.name}: {line}")  # a narrow page breaks it at a word, not inside one

    def started(self, job: Job) -> None:
        """``job`` (a training job) started: its line appears."""
        if job.kind != "train":
            return
        self._running[job.name] = job
        self.lines[job.name] = self._line(job)
        if self.use_display:
            self._show()
        else:  # the backend's own line says it started: the first progress line comes ``every_s`` later
            self._printed[job.name] = (self.lines[job.name], self.clock())

    def ended(self, job: Job, ok: bool) -> None:
        """``job`` ended (``ok``: it finished): in a display its line says so and stays (in a
        terminal the backend's own line says it)."""
        if self._running.pop(job.name, None) is None:
            return
        self.lines[job.name] = self._line(job, "finished" if ok else "failed")
        if self.use_display:
            self._show()

    def poll(self) -> None:
        """Read the running jobs' folders and show what changed (at most every ``every_s`` seconds)."""
        now = self.clock()
        if not self._running or now - self._read_at < self.every_s:
            return
        self._read_at = now
        for name, job in self._running.items():
            self.lines[name] = self._line(job)
        if self.use_display:
            self._show()
            return
        for name in self._running:
            line, (last, when) = self.lines[name], self._printed.get(name, ("", float("-inf")))
            if line != last and now - when >= self.every_s:
                self.write(line)
                self._printed[name] = (line, now)

    def _show(self) -> None:
        """Rewrite the display with every run's line (made on first use)."""
        if self._display is None:
            self._display = _Display()
        self._display.show(list(self.lines.values()))
