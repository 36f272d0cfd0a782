"""Helpers the notebooks share: smoke mode, parameter validation, figure and metrics output.

Papermill injects parameters as a new cell after the ``parameters``-tagged cell and only *warns*
about names the notebook does not declare, so a typo (``--p iterations 50`` for ``iters``) would
silently run the defaults. Each notebook therefore snapshots its namespace before the parameters
cell and calls :func:`check_parameters` right after it::

    _before = set(globals())          # cell before the parameters cell
    ...                               # parameters cell (papermill's injected cell follows it)
    P = check_parameters(globals(), _before, declared=("smoke", "seed", ...),
                         choices={"gram_normalize": ("chw", "hw", "none")})

The declared names are listed explicitly: the injected cell runs between the parameters cell and
the check, so the namespace alone cannot tell a declared name from a mistyped one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from .io import write_json
from .viz import save_figure  # noqa: F401  (re-exported: notebooks import it from here)

__all__ = ["smoke_from_env", "check_parameters", "figures_path", "series_settings", "save_figure", "save_metrics",
           "load_or_train", "load_or_train_many", "SMOKE_TRAINING"]

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


def check_parameters(
    namespace: Mapping[str, Any],
    before: Iterable[str],
    declared: Iterable[str],
    choices: Mapping[str, Iterable[Any]] | None = None,
    positive: Iterable[str] = (),
) -> dict[str, Any]:
    """Validate a notebook's parameters and return them as a dict (for ``metrics.json``).

    Args:
        namespace: the notebook's ``globals()`` after the parameters (and any injected) cell.
        before: the names that existed before the parameters cell.
        declared: the parameter names the notebook's ``parameters`` cell defines.
        choices: allowed values per parameter name.
        positive: names whose values must be numbers > 0.

    Raises:
        ValueError naming the unknown parameter (and listing the valid ones), or the parameter
        whose value is not allowed.
    """
    before = set(before) | {"_before"}
    params = {k: v for k, v in namespace.items() if k not in before and not k.startswith("_")}
    declared = set(declared)
    missing = sorted(declared - set(params))
    if missing:
        raise ValueError(f"parameters {missing} are declared but not defined before check_parameters")
    unknown = sorted(set(params) - declared)
    if unknown:
        raise ValueError(
            f"unknown notebook parameter(s) {unknown}; this notebook takes: {sorted(declared)}"
        )
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
    in smoke mode, so CI never overwrites the committed figures)."""
    if figures_dir is None:
        figures_dir = "../runs/smoke/figures" if smoke else default
    path = Path(figures_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def series_settings(smoke: bool, runs_dir: str | None = None, iterations: int | None = None) -> tuple[str, dict[str, Any]]:
    """The run directory and training overrides shared by the training notebooks (03-07).

    Args:
        smoke: smoke mode (see :func:`smoke_from_env`).
        runs_dir: the notebook's ``runs_dir`` parameter; ``None`` means ``../runs/series``
            (``../runs/smoke/series`` in smoke mode), where notebooks 03-07 share their runs.
        iterations: the notebook's ``iterations`` parameter; ``None`` keeps the preset's.

    Returns:
        ``(runs_dir, overrides)``: ``overrides`` (flat :class:`~pfrlib.config.TrainConfig` fields)
        hold ``progress`` (off in smoke mode), ``iterations`` when given, and
        :data:`SMOKE_TRAINING` in smoke mode.
    """
    if iterations is not None and (isinstance(iterations, bool) or not isinstance(iterations, int) or iterations <= 0):
        raise ValueError(f"parameter 'iterations' must be None or a positive integer, got {iterations!r}")
    if runs_dir is None:
        runs_dir = "../runs/smoke/series" if smoke else "../runs/series"
    overrides: dict[str, Any] = dict(progress=not smoke)
    if iterations is not None:
        overrides["iterations"] = iterations
    if smoke:
        overrides.update(SMOKE_TRAINING)
    return runs_dir, overrides


def save_metrics(out_dir: str | os.PathLike, metrics: Mapping[str, Any], name: str = "metrics.json") -> Path:
    """Write a notebook's metrics as JSON next to its run, so batches compare without parsing notebooks."""
    return write_json(Path(out_dir) / name, metrics)


#: Settings that do not change what a run computes (only how it is driven): ignored when deciding
#: whether a saved run is "the same run". ``num_threads`` may change float summation order (last
#: bits), not the experiment.
_BOOKKEEPING = dict(resume=False, overwrite=False, progress=True, num_threads=None)


def same_configuration(config, out: str | os.PathLike | None = None) -> bool:
    """Whether the run directory ``out`` (default ``config.run.out``) holds a ``config.json``
    equal to ``config``, ignoring bookkeeping (``resume``, ``overwrite``, ``progress``,
    ``num_threads``). False if there is none or it cannot be read: after a preset changes, an
    old run is then retrained instead of silently reused (by :func:`load_or_train`,
    ``pfrlib.sweep`` and ``benchmarks/ablation.py``)."""
    from .config import TrainConfig
    from .io import read_json

    path = Path(config.run.out if out is None else out) / "config.json"
    try:
        saved = TrainConfig.from_dict(read_json(path))
    except (OSError, ValueError, TypeError, KeyError):
        return False
    return saved.replace(**_BOOKKEEPING).to_dict() == config.replace(**_BOOKKEEPING).to_dict()


def _plan(config, retrain: bool) -> str:
    """``"reuse"``, ``"resume"`` or ``"train"`` for one configuration (see :func:`load_or_train`)."""
    from .train import CHECKPOINT_LAST

    out = Path(config.run.out)
    if retrain or not same_configuration(config):
        return "train"
    if (out / "final.json").exists():
        return "reuse"
    return "resume" if (out / CHECKPOINT_LAST).exists() else "train"


def load_or_train(config, retrain: bool = False):
    """Reuse a finished run with the same configuration, resume a partial one, or train afresh.

    The load-or-train pattern of the UvA deep-learning tutorials: re-running a notebook (or
    running notebook 07 after 03-06) does not retrain what already exists in ``config.run.out``.

    * ``final.json`` present and the saved ``config.json`` equal to ``config`` (ignoring
      ``resume``, ``overwrite``, ``progress`` and ``num_threads``): reuse it;
    * a checkpoint present with an equal configuration but no ``final.json`` (an interrupted
      run): resume it (bit-exact on CPU);
    * anything else (no run, another configuration, ``retrain=True``): train from scratch,
      replacing what is in the directory.

    Returns:
        :class:`pfrlib.train.TrainResult`.
    """
    from .io import read_json
    from .train import TrainResult, train

    out = Path(config.run.out)
    plan = _plan(config, retrain)
    if plan == "reuse":
        print(f"reusing the finished run in {out} (delete it or pass retrain=True to train again)")
        return TrainResult(out=out, final=read_json(out / "final.json"), config=config)
    if plan == "resume":
        print(f"resuming the interrupted run in {out}")
        return train(config.replace(resume=True, overwrite=False))
    return train(config.replace(resume=False, overwrite=True))


def load_or_train_many(configs, jobs: int | None = None, threads: int = 1, retrain: bool = False) -> list:
    """:func:`load_or_train` for several runs, training the missing ones side by side.

    Finished runs are reused and interrupted ones resumed, exactly as :func:`load_or_train`
    decides. The runs left to train go to ``jobs`` subprocesses at a time
    (``python -m pfrlib.train --config ...``), each with ``threads`` torch threads: on a
    two-core laptop two one-thread runs finish sooner than two two-thread runs one after the
    other. ``jobs=None`` uses ``os.cpu_count() // threads``; ``jobs=1`` trains in this process,
    one run after the other, with progress bars.

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
    jobs = max(1, jobs or (os.cpu_count() or 1) // max(1, threads))
    if todo:
        print(f"{len(configs) - len(todo)} run(s) reused, {len(todo)} to train, {min(jobs, len(todo))} at a time")
    if jobs == 1 or len(todo) <= 1:
        return [load_or_train(c, retrain) for c in configs]

    def run_one(item) -> None:
        config, plan = item
        out = Path(config.run.out)
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            cfg_path = Path(tmp) / "config.json"
            config.replace(num_threads=threads, progress=False).to_json(cfg_path)
            cmd = [sys.executable, "-m", "pfrlib.train", "--config", str(cfg_path),
                   "--resume" if plan == "resume" else "--overwrite"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"training {out} failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")
        final = read_json(out / "final.json")
        print(f"  {'resumed' if plan == 'resume' else 'trained'} {out}: target mIoU {100 * final['target_miou']:.1f}"
              f" ({final['wall_time_s']:.0f} s)", flush=True)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(run_one, todo))
    for config, plan in zip(configs, plans):
        if plan == "reuse":
            print(f"reusing the finished run in {config.run.out}")
    return [TrainResult(out=Path(c.run.out), final=read_json(Path(c.run.out) / "final.json"), config=c)
            for c in configs]
