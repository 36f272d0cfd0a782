"""Helpers the notebooks share: parameters (:mod:`pfrlib.nbparams`), tables and interactive views,
and load-or-train, which reuses, resumes or trains runs by the launcher's one rule
(:mod:`pfrlib.launch`).

Notebooks import everything from here (``from pfrlib.nbtools import Param, check_parameters,
load_or_train_many, ...``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from .io import read_json
from .launch import Job, LocalBackend, launch, plan, reused_line, same_configuration
from .nbparams import (SMOKE_TRAINING, Param, check_parameters, figures_path, live_frontend, save_metrics,
                       series_settings, smoke_from_env)
from .record import FINAL_JSON
from .train import TrainResult, train
from .viz import save_figure

__all__ = ["smoke_from_env", "Param", "check_parameters", "figures_path", "series_settings", "save_figure",
           "save_metrics", "live_frontend", "show_table", "interactive", "load_or_train", "load_or_train_many",
           "same_configuration", "SMOKE_TRAINING"]


# --------------------------------------------------------------------------- display
def show_table(data: Any, digits: int | Mapping[str, int] = 2, index: str | None = None,
               caption: str | None = None) -> None:
    """Display rows as a table (a pandas DataFrame: HTML in JupyterLab and on repository pages,
    aligned text elsewhere), numbers rounded to ``digits`` (per column with a mapping).

    Args:
        data: a list of dicts (one per row), a dict of columns, or a DataFrame.
        digits: decimals for float columns.
        index: the column to use as the row labels.
        caption: a line printed above the table.
    """
    import pandas as pd  # noqa: PLC0415  (optional heavy dependency: only notebooks show tables)
    from IPython.display import display  # noqa: PLC0415  (only inside a notebook kernel)

    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if index is not None:
        frame = frame.set_index(index)
    frame = frame.round(digits if isinstance(digits, int) else dict(digits))
    if caption:
        print(caption)
    display(frame)


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
def _job(config) -> Job:
    return Job(name=Path(config.run.out).name, out=Path(config.run.out), config=config, threads=None)


def _done_line(verb: str, out: Path, final: Mapping[str, Any], seconds: float) -> str:
    return (f"{verb} {out}: {final.get('method', '?')}, {final.get('iterations', '?')} iterations, "
            f"target mIoU {100 * final['target_miou']:.1f}, source mIoU {100 * final['source_miou']:.1f} "
            f"({seconds:.0f} s)")


def _train_here(config, decision: str) -> TrainResult:
    """Train (or resume) one run in this process (progress bars show in a live notebook)."""
    start = time.perf_counter()
    resume = decision == "resume"
    result = train(config.replace(resume=resume, overwrite=not resume))
    print(_done_line("resumed" if resume else "trained", Path(config.run.out), result.final,
                     time.perf_counter() - start), flush=True)
    return result


def load_or_train(config, retrain: bool = False) -> TrainResult:
    """Reuse a finished run with the same configuration, resume a partial one, or train afresh,
    in this process.

    The load-or-train pattern of the UvA deep-learning tutorials: re-running a notebook (or
    running notebook 07 after 03-06) does not retrain what already exists in ``config.run.out``.
    The decision is the launcher's one rule (:func:`pfrlib.launch.plan`):

    * ``final.json`` present and the saved ``config.json`` equal to ``config`` (ignoring the
      bookkeeping fields ``resume``, ``overwrite``, ``progress``, ``num_threads`` and the ``out``
      path it was saved under): reuse it;
    * a checkpoint present with an equal configuration but no ``final.json`` (an interrupted
      run): resume it (bit-exact on CPU);
    * anything else (no run, another configuration, ``retrain=True``): train from scratch,
      replacing what is in the directory.

    Prints one line saying which it did (and the run's mIoU).
    """
    decision = plan(_job(config), retrain)
    if decision == "reuse":
        out = Path(config.run.out)
        print(reused_line([out]))
        return TrainResult(out=out, final=read_json(out / FINAL_JSON), config=config)
    return _train_here(config, decision)


def load_or_train_many(configs, jobs: int | None = None, threads: int = 1, retrain: bool = False) -> list:
    """:func:`load_or_train` for several runs, training the missing ones side by side.

    Finished runs are reused and interrupted ones resumed, exactly as :func:`load_or_train`
    decides. The runs left to train go to :func:`pfrlib.launch.launch`: ``jobs`` subprocesses at
    a time, each with ``threads`` torch threads (on a two-core laptop two one-thread runs finish
    sooner than two two-thread runs one after the other). ``jobs=None`` uses
    ``os.cpu_count() // threads``; ``jobs=1`` (or a single run to train) trains in this process,
    one run after the other. Prints one line for all reused runs and one per trained run.

    Args:
        configs: :class:`~pfrlib.config.TrainConfig` objects with distinct ``run.out``.
        jobs: runs trained at once.
        threads: ``num_threads`` of each subprocess.
        retrain: train every run afresh.

    Returns:
        One :class:`pfrlib.train.TrainResult` per config, in order.

    Raises:
        ValueError if two configs share an output directory; RuntimeError naming the run (and
        showing the end of its log) if one fails.
    """
    configs = list(configs)
    jobs = max(1, jobs or (os.cpu_count() or 1) // max(1, threads))
    decisions = [plan(_job(c), retrain) for c in configs]
    todo = [c for c, d in zip(configs, decisions) if d != "reuse"]
    if jobs > 1 and len(todo) > 1:
        outcomes = launch([Job(name=Path(c.run.out).name, out=Path(c.run.out), config=c, threads=threads)
                           for c in configs], LocalBackend(jobs=jobs), retrain=retrain,
                          report=lambda line: print(line, flush=True))
        for o in outcomes:
            if not o.ok:
                tail = "\n".join(o.details.get("log_tail", []))
                raise RuntimeError(f"training {o.job.out} failed: {o.error}\n{tail}")
        return [TrainResult(out=Path(c.run.out), final=o.final, config=c) for c, o in zip(configs, outcomes)]
    outs = [str(Path(c.run.out).resolve()) for c in configs]
    if len(set(outs)) != len(outs):
        raise ValueError("load_or_train_many: several configs write to the same run.out")
    reused = [Path(c.run.out) for c, d in zip(configs, decisions) if d == "reuse"]
    if reused:
        print(reused_line(reused))
    if todo:
        print(f"training {len(todo)} run(s), 1 at a time: {', '.join(Path(c.run.out).name for c in todo)}", flush=True)
    return [TrainResult(out=Path(c.run.out), final=read_json(Path(c.run.out) / FINAL_JSON), config=c)
            if d == "reuse" else _train_here(c, d) for c, d in zip(configs, decisions)]
