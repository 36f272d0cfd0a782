"""Helpers the notebooks share: smoke mode, parameter checking, progress, tables, load-or-train.

Papermill injects parameters as a new cell after the ``parameters``-tagged cell and only *warns*
about names the notebook does not declare, so a typo (``-p iters 50`` for ``iterations``) would
silently run the defaults. Each notebook therefore snapshots its namespace before the parameters
cell and checks every parameter in one call right after it, declaring each one's type, choices
and range once::

    _before = set(globals())          # cell before the parameters cell
    ...                               # parameters cell (papermill's injected cell follows it)
    P = check_parameters(globals(), _before, {
        "seed": Param(int, min=0),
        "gram_normalize": Param(str, choices=("chw", "hw", "none")),
        "figures_dir": Param(str, optional=True),
    })

The names are declared explicitly: the injected cell runs between the parameters cell and the
check, so the namespace alone cannot tell a declared name from a mistyped one.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .device import device_type
from .io import write_json
from .viz import save_figure  # noqa: F401  (re-exported: notebooks import it from here)

__all__ = ["smoke_from_env", "Param", "check_parameters", "figures_path", "series_settings", "save_figure",
           "save_metrics", "live_frontend", "show_table", "interactive", "load_or_train", "load_or_train_many",
           "SMOKE_TRAINING"]

#: Training overrides in smoke mode: a few iterations, no periodic validation, tiny val sets.
SMOKE_TRAINING: dict[str, Any] = dict(iterations=4, val_every=0, synth_val_length=8)

_TRUE = {"1", "true", "yes", "on"}


def smoke_from_env(value: bool | None = None) -> bool:
    """Resolve the ``smoke`` parameter: an explicit bool wins, else ``$PFR_SMOKE`` (default off)."""
    if value is not None:
        if not isinstance(value, bool):
            raise ValueError(f"parameter 'smoke' must be True, False or None, got {value!r}")
        return value
    return os.environ.get("PFR_SMOKE", "").strip().lower() in _TRUE


# --------------------------------------------------------------------------- parameters
_TYPE_NAMES = {bool: "True or False", int: "an integer", float: "a number", str: "a string", list: "a list"}


@dataclass(frozen=True)
class Param:
    """What one notebook parameter may hold, for :func:`check_parameters`.

    Args:
        type: ``bool``, ``int``, ``float`` (ints accepted), ``str`` or ``list`` (a list or tuple).
        choices: the allowed values, if only a few are.
        min, max: inclusive bounds for numbers (for a list: for each item).
        optional: ``None`` is allowed as well.
        items: for a ``list``: the type of each item (``int``, ``float`` or ``str``).
        nonempty: for a ``list``: at least one item.
    """

    type: type
    choices: Sequence[Any] | None = None
    min: float | None = None
    max: float | None = None
    optional: bool = False
    items: type | None = None
    nonempty: bool = True

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed (``None`` when it is)."""
        if value is None:
            return None if self.optional else f"must be {self._describe()}, got None"
        if self.type is list:
            if not isinstance(value, (list, tuple)):
                return f"must be {self._describe()}, got {value!r}"
            if self.nonempty and not value:
                return "must not be empty"
            for item in value:
                why = self._scalar_problem(item, self.items) if self.items is not None else None
                if why:
                    return f"item {item!r}: {why}"
            return None
        return self._scalar_problem(value, self.type)

    def _scalar_problem(self, value: Any, kind: type) -> str | None:
        ok = {
            bool: isinstance(value, bool),
            int: isinstance(value, int) and not isinstance(value, bool),
            float: isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
            str: isinstance(value, str),
        }.get(kind, isinstance(value, kind))
        if not ok:
            return f"must be {_TYPE_NAMES.get(kind, kind.__name__)}, got {value!r}"
        if self.choices is not None and value not in tuple(self.choices):
            return f"must be one of {tuple(self.choices)}, got {value!r}"
        if self.min is not None and value < self.min:
            return f"must be >= {self.min}, got {value!r}"
        if self.max is not None and value > self.max:
            return f"must be <= {self.max}, got {value!r}"
        return None

    def _describe(self) -> str:
        text = _TYPE_NAMES.get(self.type, self.type.__name__)
        if self.type is list and self.items is not None:
            text += " of " + {int: "integers", float: "numbers", str: "strings", bool: "booleans"}.get(
                self.items, self.items.__name__)
        if self.choices is not None:
            text = f"one of {tuple(self.choices)}"
        return text + (" (or None)" if self.optional else "")


def check_parameters(
    namespace: Mapping[str, Any],
    before: Iterable[str],
    declared: Mapping[str, Param | type] | Iterable[str],
    choices: Mapping[str, Iterable[Any]] | None = None,
    positive: Iterable[str] = (),
) -> dict[str, Any]:
    """Check a notebook's parameters in one call and return them as a dict (for ``metrics.json``).

    Args:
        namespace: the notebook's ``globals()`` after the parameters (and any injected) cell.
        before: the names that existed before the parameters cell.
        declared: ``{name: Param(...)}`` (a bare type such as ``int`` stands for ``Param(int)``),
            or just the names (then only ``choices`` and ``positive`` are checked).
        choices: allowed values per parameter name (for the names-only form).
        positive: names whose values must be numbers > 0 (for the names-only form).

    Raises:
        ValueError naming the unknown parameter (and listing the valid ones), or the parameter
        whose value is not allowed and why.
    """
    before = set(before) | {"_before"}
    params = {k: v for k, v in namespace.items() if k not in before and not k.startswith("_")}
    if isinstance(declared, Mapping):
        specs = {k: (v if isinstance(v, Param) else Param(v)) for k, v in declared.items()}
    else:
        specs = {k: None for k in declared}
    missing = sorted(set(specs) - set(params))
    if missing:
        raise ValueError(f"parameters {missing} are declared but not defined before check_parameters")
    unknown = sorted(set(params) - set(specs))
    if unknown:
        raise ValueError(f"unknown notebook parameter(s) {unknown}; this notebook takes: {sorted(specs)}")
    for name, spec in specs.items():
        why = spec.problem(params[name]) if spec is not None else None
        if why:
            raise ValueError(f"parameter {name!r} {why}")
    for name, allowed in (choices or {}).items():
        allowed = tuple(allowed)
        if params.get(name) not in allowed:
            raise ValueError(f"parameter {name!r} must be one of {allowed}, got {params.get(name)!r}")
    for name in positive:
        value = params.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"parameter {name!r} must be a number > 0, got {value!r}")
    return params


def figures_path(figures_dir: str | None, smoke: bool, default: str = "../figures") -> Path:
    """Where a notebook writes figures: ``figures_dir``, else ``../figures`` (``../runs/smoke/figures``
    in smoke mode, so a quick check never overwrites the committed figures)."""
    if figures_dir is None:
        figures_dir = "../runs/smoke/figures" if smoke else default
    path = Path(figures_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def live_frontend() -> bool:
    """Whether this kernel was started by a Jupyter server (JupyterLab, Notebook), i.e. a person is
    looking at it, as opposed to a headless run (papermill, ``nbconvert --execute``).

    Jupyter servers set ``$JPY_SESSION_NAME`` for the kernels they start; headless runners do not.
    ``$PFR_LIVE`` (``1``/``0``) overrides the guess. Live kernels get progress-bar widgets and
    interactive views; headless runs get plain summary lines and a static figure, which is what
    a saved notebook can show.
    """
    forced = os.environ.get("PFR_LIVE", "").strip().lower()
    if forced:
        return forced in _TRUE
    return "JPY_SESSION_NAME" in os.environ


def series_settings(smoke: bool, runs_dir: str | None = None, iterations: int | None = None) -> tuple[str, dict[str, Any]]:
    """The run directory and training overrides shared by the training notebooks (03-07).

    Args:
        smoke: smoke mode (see :func:`smoke_from_env`).
        runs_dir: the notebook's ``runs_dir`` parameter; ``None`` means ``../runs/series``
            (``../runs/smoke/series`` in smoke mode), where notebooks 03-07 share their runs.
        iterations: the notebook's ``iterations`` parameter; ``None`` keeps the preset's.

    Returns:
        ``(runs_dir, overrides)``: ``overrides`` (flat :class:`~pfrlib.config.TrainConfig` fields)
        hold ``progress`` (progress bars only in a live, non-smoke kernel: see
        :func:`live_frontend`), ``iterations`` when given, and :data:`SMOKE_TRAINING` in smoke mode.
    """
    if iterations is not None and (isinstance(iterations, bool) or not isinstance(iterations, int) or iterations <= 0):
        raise ValueError(f"parameter 'iterations' must be None or a positive integer, got {iterations!r}")
    if runs_dir is None:
        runs_dir = "../runs/smoke/series" if smoke else "../runs/series"
    overrides: dict[str, Any] = dict(progress=live_frontend() and not smoke)
    if iterations is not None:
        overrides["iterations"] = iterations
    if smoke:
        overrides.update(SMOKE_TRAINING)
    return runs_dir, overrides


def save_metrics(out_dir: str | os.PathLike, metrics: Mapping[str, Any], name: str = "metrics.json") -> Path:
    """Write a notebook's metrics as JSON next to its run, so batches compare without parsing notebooks."""
    return write_json(Path(out_dir) / name, metrics)


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
    import pandas as pd  # noqa: PLC0415
    from IPython.display import display  # noqa: PLC0415

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
            import ipywidgets  # noqa: PLC0415
        except ImportError:  # pragma: no cover - ipywidgets is in requirements.txt
            pass
        else:
            ipywidgets.interact(view, **controls)
            return
    view(**{name: control.value for name, control in controls.items()})
    if note:
        print(note)


# --------------------------------------------------------------------------- runs
def same_configuration(config, out: str | os.PathLike | None = None) -> bool:
    """Whether the run directory ``out`` (default ``config.run.out``) holds a ``config.json``
    equal to ``config``, ignoring bookkeeping (``resume``, ``overwrite``, ``progress``,
    ``num_threads`` and the saved ``out`` path itself). False if there is none or it cannot be
    read: after a preset changes, an old run is then retrained instead of silently reused (by
    :func:`load_or_train`, ``pfrlib.sweep`` and ``benchmarks/ablation.py``)."""
    from .config import TrainConfig
    from .io import read_json

    path = Path(config.run.out if out is None else out) / "config.json"
    try:
        saved = TrainConfig.from_dict(read_json(path))
    except (OSError, ValueError, TypeError, KeyError):
        return False
    return _comparable(saved) == _comparable(config)


#: Options whose ``None`` means "decide by device" (on for CUDA, off on CPU): a run saved with
#: ``False`` before they became automatic is the same run as ``None`` on a CPU.
_DEVICE_AUTO = (("run", "bf16"), ("run", "channels_last"), ("run", "cudnn_benchmark"), ("run", "tf32"),
                ("data", "pin_memory"))


def _comparable(config) -> dict:
    """``config.to_dict()`` without bookkeeping, with the device-automatic options resolved."""
    d = config.without_bookkeeping().to_dict()  # pfrlib.config.BOOKKEEPING: how and where it is driven
    cuda = device_type(config.run.device) == "cuda"
    for section, name in _DEVICE_AUTO:
        if section in d and d[section].get(name) is None:
            d[section][name] = cuda
    return d


def _plan(config, retrain: bool) -> str:
    """``"reuse"``, ``"resume"`` or ``"train"`` for one configuration (see :func:`load_or_train`)."""
    from .train import CHECKPOINT_LAST

    out = Path(config.run.out)
    if retrain or not same_configuration(config):
        return "train"
    if (out / "final.json").exists():
        return "reuse"
    return "resume" if (out / CHECKPOINT_LAST).exists() else "train"


def _done_line(verb: str, out: Path, final: Mapping[str, Any], seconds: float | None = None) -> str:
    took = final.get("wall_time_s") if seconds is None else seconds
    return (f"{verb} {out}: {final.get('method', '?')}, {final.get('iterations', '?')} iterations, "
            f"target mIoU {100 * final['target_miou']:.1f}, source mIoU {100 * final['source_miou']:.1f}"
            + (f" ({took:.0f} s)" if took is not None else ""))


def _train_here(config, plan: str):
    """Train (or resume) one run in this process; one summary line when it is done."""
    from .train import train

    start = time.perf_counter()
    if plan == "resume":
        result = train(config.replace(resume=True, overwrite=False))
    else:
        result = train(config.replace(resume=False, overwrite=True))
    print(_done_line("resumed" if plan == "resume" else "trained", Path(config.run.out), result.final,
                     time.perf_counter() - start), flush=True)
    return result


def _reused_line(outs: Sequence[Path]) -> str:
    """One line for all the runs reused (instead of one line each)."""
    if len(outs) == 1:
        return (f"reusing the finished run in {outs[0]} with the same configuration "
                "(delete it, or pass retrain=True, to train it again)")
    parents = sorted({str(p.parent) for p in outs})
    where = parents[0] if len(parents) == 1 else ", ".join(parents)
    names = ", ".join(p.name for p in outs)
    return (f"reusing {len(outs)} finished runs with the same configuration from {where}: {names} "
            "(delete a run directory, or pass retrain=True, to train it again)")


def load_or_train(config, retrain: bool = False):
    """Reuse a finished run with the same configuration, resume a partial one, or train afresh.

    The load-or-train pattern of the UvA deep-learning tutorials: re-running a notebook (or
    running notebook 07 after 03-06) does not retrain what already exists in ``config.run.out``.

    * ``final.json`` present and the saved ``config.json`` equal to ``config`` (ignoring
      ``resume``, ``overwrite``, ``progress``, ``num_threads`` and the ``out`` path it was saved
      under): reuse it;
    * a checkpoint present with an equal configuration but no ``final.json`` (an interrupted
      run): resume it (bit-exact on CPU);
    * anything else (no run, another configuration, ``retrain=True``): train from scratch,
      replacing what is in the directory.

    Prints one line saying which it did (and the run's mIoU).

    Returns:
        :class:`pfrlib.train.TrainResult`.
    """
    from .io import read_json
    from .train import TrainResult

    out = Path(config.run.out)
    plan = _plan(config, retrain)
    if plan == "reuse":
        print(_reused_line([out]))
        return TrainResult(out=out, final=read_json(out / "final.json"), config=config)
    return _train_here(config, plan)


def load_or_train_many(configs, jobs: int | None = None, threads: int = 1, retrain: bool = False) -> list:
    """:func:`load_or_train` for several runs, training the missing ones side by side.

    Finished runs are reused and interrupted ones resumed, exactly as :func:`load_or_train`
    decides. The runs left to train go to ``jobs`` subprocesses at a time
    (``python -m pfrlib.train --config ...``), each with ``threads`` torch threads: on a
    two-core laptop two one-thread runs finish sooner than two two-thread runs one after the
    other. ``jobs=None`` uses ``os.cpu_count() // threads``; ``jobs=1`` trains in this process,
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
        showing the end of its log) if a subprocess fails.
    """
    import subprocess
    import sys
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from .io import read_json
    from .train import TrainResult

    configs = list(configs)
    outs = [str(Path(c.run.out).resolve()) for c in configs]
    if len(set(outs)) != len(outs):
        raise ValueError("load_or_train_many: several configs write to the same run.out")
    plans = [_plan(c, retrain) for c in configs]
    todo = [(c, p) for c, p in zip(configs, plans) if p != "reuse"]
    reused = [Path(c.run.out) for c, p in zip(configs, plans) if p == "reuse"]
    jobs = max(1, jobs or (os.cpu_count() or 1) // max(1, threads))
    if reused:
        print(_reused_line(reused))
    if todo:
        names = ", ".join(Path(c.run.out).name for c, _ in todo)
        at_once = 1 if jobs == 1 or len(todo) == 1 else min(jobs, len(todo))
        print(f"training {len(todo)} run(s), {at_once} at a time: {names}", flush=True)
    results: dict[int, Any] = {}
    if jobs == 1 or len(todo) <= 1:
        for i, (config, plan) in enumerate(zip(configs, plans)):
            if plan != "reuse":
                results[i] = _train_here(config, plan)
    else:
        def run_one(item) -> None:
            config, plan = item
            out = Path(config.run.out)
            out.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                cfg_path = Path(tmp) / "config.json"
                config.replace(num_threads=threads, progress=False).to_json(cfg_path)
                cmd = [sys.executable, "-m", "pfrlib.train", "--config", str(cfg_path),
                       "--resume" if plan == "resume" else "--overwrite"]
                proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"training {out} failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")
            print(_done_line("resumed" if plan == "resume" else "trained", out, read_json(out / "final.json"),
                             time.perf_counter() - start), flush=True)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(run_one, todo))
    return [results.get(i) or TrainResult(out=Path(c.run.out), final=read_json(Path(c.run.out) / "final.json"), config=c)
            for i, c in enumerate(configs)]
