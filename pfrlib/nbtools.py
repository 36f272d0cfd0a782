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

__all__ = ["smoke_from_env", "check_parameters", "figures_path", "save_figure", "save_metrics"]

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


def save_metrics(out_dir: str | os.PathLike, metrics: Mapping[str, Any], name: str = "metrics.json") -> Path:
    """Write a notebook's metrics as JSON next to its run, so batches compare without parsing notebooks."""
    return write_json(Path(out_dir) / name, metrics)


def load_or_train(config, retrain: bool = False):
    """Reuse a finished run with the same configuration, resume a partial one, or train afresh.

    The load-or-train pattern of the UvA deep-learning tutorials: re-running a notebook (or
    running notebook 07 after 03-06) does not retrain what already exists in ``config.run.out``.

    * ``final.json`` present and the saved ``config.json`` equal to ``config``: reuse it;
    * a checkpoint present with an equal configuration but no ``final.json`` (an interrupted
      run): resume it (bit-exact on CPU);
    * anything else (no run, another configuration, ``retrain=True``): train from scratch,
      replacing what is in the directory.

    Returns:
        :class:`pfrlib.train.TrainResult`.
    """
    from .config import TrainConfig
    from .io import read_json
    from .train import CHECKPOINT_LAST, TrainResult, train

    out = Path(config.run.out)
    bookkeeping = dict(resume=False, overwrite=False, progress=True)

    def same(saved_path: Path) -> bool:
        try:
            saved = TrainConfig.from_dict(read_json(saved_path))
        except (ValueError, TypeError, KeyError):
            return False
        return saved.replace(**bookkeeping).to_dict() == config.replace(**bookkeeping).to_dict()

    if not retrain and (out / "config.json").exists() and same(out / "config.json"):
        if (out / "final.json").exists():
            print(f"reusing the finished run in {out} (delete it or pass retrain=True to train again)")
            return TrainResult(out=out, final=read_json(out / "final.json"), config=config)
        if (out / CHECKPOINT_LAST).exists():
            print(f"resuming the interrupted run in {out}")
            return train(config.replace(resume=True, overwrite=False))
    return train(config.replace(resume=False, overwrite=True))
