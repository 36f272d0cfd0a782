"""Helpers the notebooks share: parameters (:mod:`pfrlib.teaching.nbparams`), tables and interactive views,
and load-or-train, which launches runs through the launcher (:func:`pfrlib.launch.launcher.launch`):
reused, resumed or trained by its one rule.

Notebooks import everything from here (``from pfrlib.teaching.nbtools import Param, start,
load_or_train_many, ...``). A notebook opens with one call, :func:`start` (its parameters checked,
smoke mode, where figures and runs go), and says what it will train, and about how long that takes
here from measured times (:mod:`pfrlib.teaching.timings`), with :func:`announce` before it trains.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from pfrlib import methods
from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.calibration import machine_seconds
from pfrlib.io import check_positive_int, format_duration, wrap
from pfrlib.launch.job import Job, plan
from pfrlib.launch.launcher import Claim, InProcessBackend, LocalBackend, launch
from pfrlib.launch.local import Backend
from pfrlib.launch.progress import ProgressBoard
from pfrlib.teaching.nbparams import live_frontend, start
from pfrlib.teaching.timings import MEASURED_TIMES, benchmark_of, measured_files, measured_rates, reference_calibration
from pfrlib.engine.trainer import TrainResult

__all__ = ["announce", "CALIBRATE_FROM_S", "NON_BREAKING_HYPHEN", "show_table", "say",
           "interactive", "load_or_train", "load_or_train_many"]


# --------------------------------------------------------------------------- display
#: A hyphen inside a word or number of a table's header or row label is shown as this
#: non-breaking one (U+2011), so that a narrow column never breaks "seeds 0-2" into "0-" and "2".
NON_BREAKING_HYPHEN = "\u2011"
_INNER_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")


def _keep_together(label: Any) -> Any:
    """A header or row label with its inner hyphens non-breaking (tuples: each part); others as they are."""
    if isinstance(label, tuple):
        return tuple(_keep_together(part) for part in label)
    return _INNER_HYPHEN.sub(NON_BREAKING_HYPHEN, label) if isinstance(label, str) else label


def show_table(data: Any, digits: int | Mapping[Any, int] = 2, index: str | Sequence[str] | None = None,
               caption: str | None = None, missing: str = "-", once: Sequence[str] = ()) -> None:
    """Display rows as a table (a pandas DataFrame: HTML in JupyterLab and on the course site,
    aligned text elsewhere) that fits a page and reads without explanation:

    * the rows are labelled by a column of the data (``index``; by default the first column), never
      by pandas' meaningless 0..n row numbers;
    * a column named by a tuple ``(group, name)`` is shown under a header ``group`` shared with the
      other columns of that group (e.g. one per seed set: ``("seeds 0-2", "mIoU (%)")``);
    * a column listed in ``once`` whose value is the same in every row is said once in the
      caption instead of repeated down the table;
    * headers and row labels do not break inside a word or a range (:data:`NON_BREAKING_HYPHEN`),
      and the caption is wrapped at word boundaries to :data:`pfrlib.io.PRINT_WIDTH`;
    * numbers are rounded to ``digits`` (per column with a mapping), missing values (``None``,
      NaN) shown as ``missing``, and every column is shown (pandas' column limit is lifted for
      this table only).

    Args:
        data: a list of dicts (one per row), a dict of columns, or a DataFrame.
        digits: decimals for float columns (a mapping: per column; a grouped column may be given
            by its tuple or by its name alone).
        index: the column, or columns (nested row labels), that label the rows.
        caption: a line printed above the table.
        missing: what a missing value shows as.
        once: columns to say once in the caption when they are constant.
    """
    import pandas as pd  # noqa: PLC0415  (optional heavy dependency: only notebooks show tables)
    from IPython.display import display  # noqa: PLC0415  (only inside a notebook kernel)

    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    notes = []
    for column in once:
        if column in frame.columns and len(frame) > 1 and frame[column].nunique(dropna=False) == 1:
            notes.append(f"{column}: {frame[column].iloc[0]} in every row")
            frame = frame.drop(columns=column)
    if index is None and isinstance(frame.index, pd.RangeIndex) and len(frame.columns) > 1:
        index = frame.columns[0]
    if index is not None:
        frame = frame.set_index(index if isinstance(index, str) else list(index))
    if not isinstance(digits, int):
        digits = {c: digits[c] if c in digits else digits[c[-1]] for c in frame.columns
                  if c in digits or (isinstance(c, tuple) and c[-1] in digits)}
    frame = frame.round(digits)
    if frame.isna().to_numpy().any():
        frame = frame.astype(object).where(frame.notna(), missing)
    if any(isinstance(c, tuple) for c in frame.columns):
        frame.columns = pd.MultiIndex.from_tuples([c if isinstance(c, tuple) else ("", c) for c in frame.columns])
    frame.columns = frame.columns.map(_keep_together)
    frame.index = frame.index.map(_keep_together)
    frame.index.names = [_keep_together(n) for n in frame.index.names]
    if caption or notes:
        print(wrap("; ".join([*([caption] if caption else []), *notes])))
    with pd.option_context("display.max_columns", None, "display.width", 1000):  # text too: one line per row
        display(frame)


def say(*parts: Any, sep: str = " ") -> None:
    """``print`` for a notebook's messages: the line wrapped at word boundaries to
    :data:`pfrlib.io.PRINT_WIDTH` characters (continuation lines indented), so that a page never
    breaks it inside a word."""
    print(wrap(sep.join(str(p) for p in parts)), flush=True)


def interactive(view: Callable[..., Any], controls: Mapping[str, Any], note: str | None = None) -> None:
    """An interactive view in a live notebook, a static one in a headless run.

    In JupyterLab (see :func:`live_frontend`) this is ``ipywidgets.interact(view, **controls)``:
    the view redraws whenever a control changes. In a headless run (and without ipywidgets) the
    view is drawn once with each control's current value, so the saved notebook shows a figure.

    Args:
        view: draws the figure (and shows it) for keyword arguments named like ``controls``.
        controls: ``{argument: ipywidgets control}`` (anything with a ``.value``).
        note: printed under the static figure (e.g. which controls a live kernel offers).
    """
    if live_frontend():
        try:
            import ipywidgets  # noqa: PLC0415  (only a live notebook needs widgets)
        except ImportError:  # pragma: no cover - ipywidgets is in requirements.txt
            pass
        else:
            ipywidgets.interact(view, **controls)
            return
    view(**{name: control.value for name, control in controls.items()})
    if note:
        print(note)


# --------------------------------------------------------------------------- runs
def _job(config: TrainConfig) -> Job:
    """The launcher's job for a notebook's run: ``config`` in its own ``run.out``, with the
    config's threads (:func:`load_or_train_many` sets a subprocess's)."""
    return Job(name=Path(config.run.out).name, out=Path(config.run.out), config=config, threads=None)


def load_or_train(config: TrainConfig, retrain: bool = False) -> TrainResult:
    """Reuse a finished run with the same configuration, resume a partial one, or train afresh,
    in this process.

    The load-or-train pattern of the UvA deep-learning tutorials: re-running a notebook (or
    running notebook 07 after 03-06) does not retrain what already exists in ``config.run.out``.
    It is :func:`load_or_train_many` for one run: the launcher's one rule
    (:func:`pfrlib.launch.job.plan`) decides, and :func:`pfrlib.launch.launcher.launch` carries it out:

    * ``final.json`` present and the saved ``config.json`` equal to ``config`` (ignoring the
      bookkeeping fields ``resume``, ``overwrite``, ``progress``, ``num_threads`` and the ``out``
      path it was saved under): reuse it;
    * a checkpoint present with an equal configuration but no ``final.json`` (an interrupted
      run): resume it (bit-exact on CPU);
    * anything else (no run, another configuration, ``retrain=True``): train from scratch,
      replacing what is in the directory.

    Prints a line saying which it did (and the run's mIoU).
    """
    return load_or_train_many([config], jobs=1, retrain=retrain)[0]


def load_or_train_many(configs, jobs: int | None = None, threads: int = 1, retrain: bool = False) -> list:
    """Reuse, resume or train several runs through the launcher, the missing ones side by side.

    Every run is claimed and planned once by the launcher's one rule
    (:class:`pfrlib.launch.launcher.Claim`, :func:`pfrlib.launch.job.plan`, as
    :func:`load_or_train` describes) and launched with :func:`pfrlib.launch.launcher.launch`.
    Several runs to train and ``jobs`` > 1 go to :class:`~pfrlib.launch.launcher.LocalBackend`:
    ``jobs`` subprocesses at a time, each with ``threads`` torch threads (on a two-core laptop two
    one-thread runs finish sooner than two two-thread runs one after the other). ``jobs=None``
    uses ``os.cpu_count() // threads``; ``jobs=1`` (or a single run to train) trains in this
    process (:class:`~pfrlib.launch.launcher.InProcessBackend`: its progress bar shows, its
    threads are the config's), one run after the other. Prints one line for all reused runs and
    one per trained run as it starts (naming its log file) and ends; runs in subprocesses show
    their progress meanwhile, one line each (:class:`pfrlib.launch.progress.ProgressBoard`:
    iterations, current losses, time left; in a notebook one display updated in place).

    Args:
        configs: :class:`~pfrlib.config.TrainConfig` objects with distinct ``run.out``.
        jobs: runs trained at once.
        threads: ``num_threads`` of each subprocess.
        retrain: train every run afresh.

    Returns:
        One :class:`pfrlib.engine.trainer.TrainResult` per config, in order.

    Raises:
        ValueError if two configs share an output directory; RuntimeError naming the run (and
        showing the end of its log) if one trained in a subprocess fails; in this process, the
        training's own error.
    """
    configs = list(configs)
    check_positive_int(threads, "threads")
    jobs = max(1, jobs or (os.cpu_count() or 1) // threads)
    run_jobs = [_job(c) for c in configs]
    with Claim(run_jobs, retrain) as claim:
        if jobs > 1 and sum(p in ("train", "resume") for p in claim.plans) > 1:
            backend: Backend = LocalBackend(jobs=jobs, progress=ProgressBoard())
            for job in run_jobs:
                job.threads = threads
        else:
            backend = InProcessBackend()
        outcomes = launch(run_jobs, backend, report=say, claim=claim)
    for o in outcomes:
        if not o.ok:
            tail = "\n".join(o.details.get("log_tail", []))
            raise RuntimeError(f"training {o.job.out} failed: {o.error}\n{tail}")
    return [TrainResult(out=Path(c.run.out), final=o.final, config=c) for c, o in zip(configs, outcomes)]


# --------------------------------------------------------------------------- what training will take
#: An estimate (on the reference machine) shorter than this many seconds is not scaled to this
#: machine: timing it would take a sizeable share of the training itself (a smoke run's, say).
CALIBRATE_FROM_S = 60.0


def _runs_line(configs: Sequence[Any]) -> str:
    """``"PFR only (Eq. 4): seeds 0, 1, 2; Non-adapted (source only): seed 0"`` (each method in
    words, :func:`pfrlib.methods.label`); several runs of a method on one seed (other settings)
    read ``"PFR only (Eq. 4): 4 settings, seed 0"``."""
    seeds: dict[str, list[int]] = {}
    for c in configs:
        seeds.setdefault(c.loss.method, []).append(c.run.seed)
    parts = []
    for method, runs in seeds.items():
        distinct = sorted(set(runs))
        listed = f"seed{'s' if len(distinct) > 1 else ''} {', '.join(str(x) for x in distinct)}"
        name = methods.label(method)
        parts.append(f"{name}: {listed}" if len(distinct) == len(runs) else f"{name}: {len(runs)} settings, {listed}")
    return "; ".join(parts)


def announce(configs, jobs: int | None = None, retrain: bool = False, files: Sequence[str] = MEASURED_TIMES,
             root: Path | None = None, calibration: Callable[[], float] = machine_seconds) -> str:
    """What :func:`load_or_train_many` (same ``configs``, ``jobs``, ``retrain``) will train, and about
    how long that takes here, from measured times; the notebook prints it before training.

    Which runs are reused, resumed or trained is the launcher's one rule
    (:func:`pfrlib.launch.job.plan`), asked here as a forecast (the notebook's next cell
    launches). The time is each run's measured seconds per iteration (:func:`pfrlib.teaching.timings.measured_rates` over
    ``files``, on the benchmark the run trains on: by default the series' own runs of the method
    first, the median run of the first file that times it; runs without a recorded count are taken
    at the ``cpu`` preset's iterations) times its iterations, shared over ``jobs`` one-thread runs
    at a time (default: one per core), never shorter than its longest run. A resumed run is counted
    whole (an upper bound). A method without a measured time is named, not guessed.

    The measured times are the reference machine's. When ``files`` hold its calibration
    (:func:`pfrlib.teaching.timings.reference_calibration`) and the estimate is at least :data:`CALIBRATE_FROM_S`, the same
    calibration is timed here (``calibration()``, by default
    :func:`pfrlib.engine.calibration.machine_seconds`: a few seconds, once per process) and every
    rate is scaled by this machine's time over the reference's; the line then says "here" and the
    ratio.

    Returns:
        One line, e.g. ``"Training 3 runs (PFR only (Eq. 4): seeds 0, 1, 2): 3 to train; about 7 min
        here on 2 cores (this machine 1.4x the reference; measured: series_runs.json,
        step_time_cpu.json in benchmarks/results)."``
    """
    configs = list(configs)
    jobs = max(1, jobs or os.cpu_count() or 1)
    decisions = [plan(_job(c), retrain) for c in configs]
    counts = {d: decisions.count(d) for d in ("reuse", "resume", "train")}
    head = f"Training {len(configs)} run{'s' if len(configs) != 1 else ''} ({_runs_line(configs)}): "
    parts = [f"{counts['reuse']} finished (reused)"] if counts["reuse"] else []
    parts += [f"{counts['resume']} to resume"] if counts["resume"] else []
    parts += [f"{counts['train']} to train"] if counts["train"] else []
    todo = [c for c, d in zip(configs, decisions) if d != "reuse"]
    if not todo:
        return head + "all finished, nothing to train."
    present = measured_files(files, root)
    if not present:
        return f"{head}{', '.join(parts)}; no measured times to estimate how long (none of {', '.join(files)} found)."
    iterations = TrainConfig.preset("cpu").optim.iterations
    by_benchmark = {b: measured_rates(present, root, iterations, b) for b in {benchmark_of(c) for c in todo}}
    found = [(c, by_benchmark[benchmark_of(c)].get(c.loss.method)) for c in todo]
    timed = [m[0] * c.optim.iterations for c, m in found if m]
    used = [f for f in files if f in {m[1] for _, m in found if m}]
    unmeasured = sorted({c.loss.method for c, m in found if not m})
    slots = min(jobs, len(todo))
    text = head + ", ".join(parts)
    if timed:
        seconds = max(sum(timed) / slots, max(timed))
        cores = f"{slots} core{'s' if slots > 1 else ''}"
        reference = reference_calibration(files, root) if seconds >= CALIBRATE_FROM_S else None
        if reference is None:
            text += f"; about {format_duration(seconds)} on {cores} (measured: {_file_list(used)})"
        else:
            factor = calibration() / reference[0]
            used = used + [reference[1]] if reference[1] not in used else used
            text += (f"; about {format_duration(seconds * factor)} here on {cores} (this machine {factor:.1f}x the "
                     f"reference; measured: {_file_list(used)})")
        if unmeasured:
            text += f", not counting {', '.join(map(methods.label, unmeasured))}, which {'have' if len(unmeasured) > 1 else 'has'} no measured time"
    else:
        text += f"; no measured time for {', '.join(map(methods.label, unmeasured))} in {_file_list(present)}"
    return text + "."


def _file_list(files: Sequence[str]) -> str:
    """``"a.json, b.json in benchmarks/results"`` when the files share a folder, else their paths."""
    folders = {str(Path(f).parent) for f in files}
    if len(folders) != 1 or folders == {"."}:
        return ", ".join(files)
    return f"{', '.join(Path(f).name for f in files)} in {folders.pop()}"
