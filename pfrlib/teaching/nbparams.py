"""Notebook parameters: smoke mode, one-call checking of every parameter, where figures and runs go.

Papermill injects parameters as a new cell after the ``parameters``-tagged cell and only *warns*
about names the notebook does not declare, so a typo (``-p iters 50`` for ``iterations``) would
silently run the defaults. Each notebook therefore declares its parameters once (type, choices,
range) and checks them in one call right after the parameters cell::

    # parameters cell (papermill's injected cell follows it)
    seed = 0  # ...
    gram_normalize = "chw"  # ...
    figures_dir = None  # ...

    # the next cell
    from pfrlib import nbtools
    from pfrlib.teaching.nbtools import Param
    setup = nbtools.start(globals(), {
        "seed": Param(int, min=0),
        "gram_normalize": Param(str, choices=("chw", "hw", "none")),
        "figures_dir": Param(str, optional=True),
    })

:func:`start` finds the notebook's parameters as the names of its namespace that can be one
(:func:`notebook_parameters`: not private, not a module, function or class, not IPython's own),
so a name papermill injected that the notebook does not declare is reported by name. Import
lesson constants (tuples, dicts) *after* :func:`start`: before it they would look like parameters.
The older :func:`check_parameters` takes the names that existed before the parameters cell
instead (``_before = set(globals())``).
"""

from __future__ import annotations

import inspect
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from pfrlib.io import write_json
from pfrlib.launch.notebook_check import CHECK_ONLY, ParametersChecked

__all__ = ["smoke_from_env", "Param", "Setup", "start", "notebook_parameters", "IPYTHON_NAMES", "check_parameters", "figures_path", "series_settings", "save_metrics",
           "live_frontend", "SMOKE_TRAINING"]

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
        check: a further rule, ``check(value) -> why it is wrong, or None`` (for a ``list``: of each
            item), e.g. :func:`pfrlib.config.pfr_stages_problem` for a list of stage subsets.
    """

    type: type
    choices: Sequence[Any] | None = None
    min: float | None = None
    max: float | None = None
    optional: bool = False
    items: type | None = None
    nonempty: bool = True
    check: Callable[[Any], str | None] | None = None

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
                why = why or (self.check(item) if self.check is not None else None)
                if why:
                    return f"item {item!r}: {why}"
            return None
        return self._scalar_problem(value, self.type) or (self.check(value) if self.check is not None else None)

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
    return _checked(params, declared, choices, positive)


def _checked(params: Mapping[str, Any], declared: Mapping[str, Param | type] | Iterable[str],
             choices: Mapping[str, Iterable[Any]] | None = None, positive: Iterable[str] = ()) -> dict[str, Any]:
    """``params`` (name -> value) checked against ``declared`` (see :func:`check_parameters`)."""
    if isinstance(declared, Mapping):
        specs = {k: (v if isinstance(v, Param) else Param(v)) for k, v in declared.items()}
    else:
        specs = {k: None for k in declared}
    missing = sorted(set(specs) - set(params))
    if missing:
        raise ValueError(f"parameters {missing} are declared but not defined in the parameters cell")
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
    return {name: params[name] for name in specs}


#: Names IPython itself puts in a notebook's namespace (never parameters).
IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


def notebook_parameters(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The names of a notebook's namespace that can be parameters, with their values: every name
    that is not private (``_x``), not IPython's own (:data:`IPYTHON_NAMES`) and not a module, a
    function or a class (parameters are plain values: numbers, strings, lists, ``None``)."""
    return {k: v for k, v in namespace.items()
            if not k.startswith("_") and k not in IPYTHON_NAMES and not inspect.ismodule(v) and not callable(v)}


@dataclass(frozen=True)
class Setup:
    """What :func:`start` settled for a notebook.

    Attributes:
        params: the checked parameters as the notebook runs them (``smoke`` resolved, smoke caps
            applied): what it saves in ``metrics.json``.
        smoke: smoke mode (see :func:`smoke_from_env`).
        figures: the folder figures go to (see :func:`figures_path`).
        runs_dir: the series' shared run directory (see :func:`series_settings`); ``None`` for a
            notebook without a ``runs_dir`` parameter.
        base: the training overrides every run of the notebook shares (see :func:`series_settings`).
    """

    params: dict[str, Any]
    smoke: bool
    figures: Path
    runs_dir: str | None = None
    base: dict[str, Any] = field(default_factory=dict)


def start(namespace: dict[str, Any], spec: Mapping[str, Param | type],
          smoke_caps: Mapping[str, int] | None = None) -> Setup:
    """Everything a notebook does after its parameters cell, in one call.

    Checks every parameter against ``spec`` (an undeclared name, e.g. one papermill injected with
    a typo, is reported by name with the list of the parameters the notebook takes), resolves
    ``smoke`` (``None``: ``$PFR_SMOKE``), cuts the parameters named in ``smoke_caps`` in smoke
    mode, and works out where figures and runs go. ``smoke`` and the cut values are written back
    into ``namespace``, so the rest of the notebook reads the values it runs with.

    Args:
        namespace: the notebook's ``globals()``, right after the parameters (and any injected) cell.
        spec: ``{name: Param(...)}`` for every parameter (a bare type stands for ``Param(type)``);
            ``smoke``, ``figures_dir``, ``runs_dir`` and ``iterations`` have their usual meaning
            (:func:`figures_path`, :func:`series_settings`) when declared.
        smoke_caps: in smoke mode, ``{name: n}``: an integer parameter becomes at most ``n``, a
            list parameter its first ``n`` items (e.g. ``{"seeds": 1, "num_images": 4}``).

    Returns:
        A :class:`Setup`.

    Raises:
        ValueError naming the parameter and what was expected. In a namespace holding
        :data:`pfrlib.launch.notebook_check.CHECK_ONLY` (a sweep checking a run before it
        launches the notebook) ``start`` checks and then raises ``ParametersChecked``.
    """
    check_only = namespace.get(CHECK_ONLY)  # a launcher checks a run's values before it starts the notebook
    if check_only is not None:
        check_only["checking"] = True
    params = _checked(notebook_parameters(namespace), spec)
    if check_only is not None:
        check_only["params"] = params
        raise ParametersChecked()  # checked: nothing else is done (pfrlib.launch.notebook_check)
    smoke = smoke_from_env(params.get("smoke"))
    if "smoke" in spec:
        params["smoke"] = smoke
    if smoke:
        for name, cap in (smoke_caps or {}).items():
            if name not in params:
                raise ValueError(f"smoke_caps names {name!r}, which is not a parameter of this notebook")
            value = params[name]
            params[name] = list(value)[:cap] if isinstance(value, (list, tuple)) else min(value, cap)
    written = ["smoke", *(smoke_caps or {})] if smoke else ["smoke"]
    namespace.update({k: params[k] for k in written if k in params})
    runs_dir, base = series_settings(smoke, params.get("runs_dir"), params.get("iterations"))
    return Setup(params=params, smoke=smoke, figures=figures_path(params.get("figures_dir"), smoke),
                 runs_dir=runs_dir if "runs_dir" in spec else None, base=base)


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


#: Where notebooks 03-07 share their runs, relative to a notebook's folder (``runs_dir=None``),
#: and where they do in smoke mode.
SERIES_RUNS = "../runs/series"
SMOKE_SERIES_RUNS = "../runs/smoke/series"


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
        runs_dir = SMOKE_SERIES_RUNS if smoke else SERIES_RUNS
    overrides: dict[str, Any] = dict(progress=live_frontend() and not smoke)
    if iterations is not None:
        overrides["iterations"] = iterations
    if smoke:
        overrides.update(SMOKE_TRAINING)
    return runs_dir, overrides


def save_metrics(out_dir: str | os.PathLike, metrics: Mapping[str, Any], name: str = "metrics.json") -> Path:
    """Write a notebook's metrics as JSON next to its run, so batches compare without parsing notebooks."""
    return write_json(Path(out_dir) / name, metrics)
