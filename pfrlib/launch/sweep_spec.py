"""A sweep's spec: the YAML file, the runs it expands to, and the checks made before any run starts.

A sweep is a YAML file::

    name: ablation                 # runs go to runs/<name>/<run name>/
    runner: train                  # "train" (a TrainConfig per run) or "notebook"
    # notebook: notebooks/04_pfr_alignment.ipynb   # with runner: notebook
    fixed:                         # the same for every run
      preset: cpu
    grid:                          # every combination of these
      method: [source_only, adaptsegnet, pfr, pfr_adv, oracle]
      seed: [0, 1, 2]
    # runs:                        # or/and an explicit list of parameter sets
    #   - {method: pfr, pfr_stages: [2]}
    group_by: [method]             # aggregate mean +- std over the other keys (seeds)
    metrics: [target_miou, source_miou]   # keys of final.json (train) or metrics.json (notebook)
    figures:                       # optional: plots copied out of runs/<name>/ after aggregation,
      bars.png: figures/ablation_bars.png   # to paths relative to the repository root
    # stage_store: _stages         # optional: every run's RunConfig.stage_store, runs/_stages/

``stage_store`` is a folder relative to the runs root (``runs/`` for ``python -m pfrlib.sweep``),
the same for every run, so that several sweeps share it: the stages that runs of the same seed
have in common (a translator, a reference model, self-training's adapted model) are trained once
across run folders and sweeps (:mod:`pfrlib.engine.stage_store`). Like ``out``, the sweep sets
it itself (a bookkeeping field: it changes no run's result, nor which finished runs are reused).

A train run's parameters are :class:`~pfrlib.config.TrainConfig` fields (the options of
``python -m pfrlib.train`` without dashes) plus ``preset`` and ``config`` (a ``config.json`` to
start from); :meth:`SweepSpec.config` builds its configuration through the config's own API
(``TrainConfig.preset(...).replace(**params)``).

:func:`load_spec` reads the file into a :class:`SweepSpec`, which answers everything else a sweep
asks of it: its folder and runs (:meth:`SweepSpec.folder`, :meth:`SweepSpec.runs`), each run's
launcher job and result file (:meth:`SweepSpec.job`, :meth:`SweepSpec.result_path`), and all the
jobs at once, every run checked before the first one starts (:meth:`SweepSpec.checked_jobs`; a
bad spec is one error line naming the key and the allowed values).
"""

from __future__ import annotations

import ast
import difflib
import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from pfrlib.config.train_config import TrainConfig, bookkeeping_fields
from pfrlib.io import check_positive_int, one_line
from pfrlib.launch.job import Job
from pfrlib.launch.notebook_check import check_notebook_values
from pfrlib.engine.record import FINAL_JSON, METRIC_KEYS

__all__ = ["SweepSpec", "Run", "load_spec", "run_name", "TRAIN_METRICS", "RUNNERS", "PLOTS"]

RUNNERS = ("train", "notebook")
#: The plots :func:`pfrlib.launch.sweep_report.aggregate` writes (``heatmap.png`` only for two ``group_by`` keys).
PLOTS = ("bars.png", "heatmap.png", "per_class_iou.png")
_SPEC_KEYS = {"name", "runner", "notebook", "fixed", "grid", "runs", "group_by", "metrics", "jobs", "threads", "description",
              "figures", "stage_store"}
#: Top-level keys of the ``final.json`` a train run writes (a metric may be ``key`` or
#: ``key.sub.key``, e.g. ``target_val.per_class_iou.road``): :data:`pfrlib.engine.record.METRIC_KEYS`.
TRAIN_METRICS = METRIC_KEYS
#: Train options the sweep (through the launcher) sets itself for every run: the bookkeeping fields.
_SWEEP_SET = bookkeeping_fields()


@dataclass
class Run:
    """One parameter set of a sweep and where it goes."""

    name: str
    params: dict[str, Any]
    out: Path
    #: The spec's ``stage_store`` under the runs root, if it names one.
    stage_store: Optional[Path] = None


@dataclass
class SweepSpec:
    """A parsed sweep file (see the module docstring) and what follows from it: its runs, each
    run's configuration, job and result file."""

    name: str
    runner: str = "train"
    notebook: Optional[str] = None
    fixed: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list] = field(default_factory=dict)
    #: The explicit parameter sets, the file's ``runs:`` list.
    listed: list[dict[str, Any]] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=lambda: ["target_miou"])
    jobs: Optional[int] = None
    threads: int = 1
    description: str = ""
    #: ``{plot file in runs/<name>/: destination}``; destinations are relative to the folder that
    #: holds the spec's folder (the repository root for ``sweeps/*.yaml``).
    figures: dict[str, str] = field(default_factory=dict)
    #: A folder relative to the runs root: every run's ``RunConfig.stage_store`` (module docstring).
    stage_store: Optional[str] = None
    path: Optional[Path] = None

    def folder(self, root: str | os.PathLike = "runs") -> Path:
        """Where the sweep's runs and report go: ``root/<name>``."""
        return Path(root) / self.name

    def runs(self, root: str | os.PathLike = "runs") -> list[Run]:
        """The sweep's runs: the grid's product, then the explicit ``runs:``, each with ``fixed``.

        A run's name joins its varying ``key=value`` pairs (``method=pfr_seed=1``), so it is stable
        across invocations and a re-run finds the finished ones.
        """
        keys = list(self.grid)
        sets = [dict(zip(keys, values)) for values in itertools.product(*(self.grid[k] for k in keys))]
        sets.extend(dict(r) for r in self.listed)
        runs, seen = [], set()
        for varying in sets:
            name = run_name(varying)
            if name in seen:
                raise ValueError(f"sweep {self.name!r}: two runs share the name {name!r}")
            seen.add(name)
            store = Path(root) / self.stage_store if self.stage_store is not None else None
            runs.append(Run(name=name, params={**self.fixed, **varying}, out=self.folder(root) / name, stage_store=store))
        return runs

    def config(self, run: Run) -> TrainConfig:
        """The :class:`~pfrlib.config.TrainConfig` a train run trains: its ``preset`` (default
        ``cpu``) or ``config`` file with the run's other parameters applied, in ``run.out`` (and
        with ``run.stage_store``).

        Raises:
            ValueError naming the field and the value it cannot take (a list given to a field that
            takes one value says to put the list under ``grid:``).
        """
        params = {str(k).replace("-", "_"): v for k, v in run.params.items()}
        preset, base = params.pop("preset", "cpu"), params.pop("config", None)
        overrides = {k: _override(k, v) for k, v in params.items()}
        try:
            store = {} if run.stage_store is None else {"stage_store": str(run.stage_store)}
            if base is not None:
                return TrainConfig.from_json(str(base)).replace(**overrides, out=str(run.out), **store)
            # through preset(), as the command line does: the method's own recipe, then the overrides
            return TrainConfig.preset(str(preset), **overrides).replace(out=str(run.out), **store)
        except ValueError as err:
            lists = [k for k, v in overrides.items() if isinstance(v, list) and not isinstance(_DEFAULTS.get(k), tuple)
                     and str(err).startswith(f"{k}: ")]
            if lists:
                raise ValueError(f"{err} (a list given to an option that takes one value? to run each value, put the "
                                 f"list under 'grid:')") from None
            raise

    def result_path(self, run: Run) -> Path:
        """The file a finished run leaves: ``final.json`` (train) or ``metrics.json`` (notebook)."""
        return run.out / (FINAL_JSON if self.runner == "train" else "metrics.json")

    def job(self, run: Run) -> Job:
        """The launcher's :class:`~pfrlib.launch.job.Job` for one run (a notebook gets ``out_dir`` and
        ``figures_dir`` in the run's folder; the run's parameters are the job's ``meta``)."""
        if self.runner == "train":
            return Job(name=run.name, out=run.out, config=self.config(run), threads=self.threads, meta=run.params)
        params = {"out_dir": str(run.out.resolve()), "figures_dir": str(run.out.resolve() / "figures"), **run.params}
        return Job(name=run.name, out=run.out, notebook=Path(self.notebook), parameters=params, threads=self.threads,
                   meta=run.params)

    def checked_jobs(self, root: str | os.PathLike = "runs", check_paths: bool = True) -> list[Job]:
        """Every run's job, in order, after every run and metric passed :meth:`check` (nothing is
        written). Raises ``ValueError`` (one line) on the first problem."""
        runs = self.runs(root)
        self.check(runs, check_paths)
        return [self.job(r) for r in runs]

    def check(self, runs: list[Run], check_paths: bool = True) -> None:
        """Check every run and metric before anything starts; one ``ValueError`` line on the first problem.

        Train runner: every parameter name must be an option of ``python -m pfrlib.train`` (not one
        the sweep sets itself: the bookkeeping fields, ``out``, ``overwrite``, ``progress``,
        ``num_threads``, ``resume``, ``tensorboard``, ``stage_store``), and
        each run's configuration is built exactly as its job will train it (:meth:`config`) and
        validated (``TrainConfig.validate(check_paths=...)``: method, values, dataset roots).
        Notebook runner: parameter names must be assigned in the notebook's ``parameters`` cell,
        and each run's values pass the notebook's own ``start()`` check
        (:func:`pfrlib.launch.notebook_check.check_notebook_values`). Metrics: for train,
        top-level keys of ``final.json`` (:data:`TRAIN_METRICS`, optionally ``.sub.keys``); for a
        notebook, names its code mentions (``metrics.json`` is written from literal keys).
        """
        if self.runner == "train":
            self._check_train(runs, check_paths)
        else:
            self._check_notebook(runs)

    def _check_train(self, runs: list[Run], check_paths: bool) -> None:
        allowed = set(TrainConfig.field_index()) | {"preset", "config"}
        for key in dict.fromkeys(k for r in runs for k in r.params):
            norm = str(key).replace("-", "_")
            if norm in _SWEEP_SET:
                how = "; give it as the spec's top-level 'stage_store:' instead" if norm == "stage_store" else ""
                raise ValueError(f"{self.path}: {self._where(key)} is set by the sweep itself for every run "
                                 f"({', '.join(_SWEEP_SET)}); remove it{how}")
            if norm not in allowed:
                raise self._unknown_key(key, allowed, "the options of python -m pfrlib.train")
        for run in runs:
            try:
                self.config(run).validate(check_paths=check_paths)
            except (ValueError, TypeError, FileNotFoundError) as err:
                raise ValueError(f"{self.path}: run {run.name!r}: {one_line(err)}") from None
        for metric in self.metrics:
            if metric.split(".")[0] not in TRAIN_METRICS:
                close = difflib.get_close_matches(metric, TRAIN_METRICS, n=2)
                hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                raise ValueError(f"{self.path}: unknown metric {metric!r}{hint} (a train run's final.json holds "
                                 f"{', '.join(TRAIN_METRICS)}; sub-keys as key.sub, e.g. target_val.miou)")

    def _check_notebook(self, runs: list[Run]) -> None:
        nb = Path(self.notebook)
        names = _notebook_parameters(nb)
        if names is not None:
            allowed = names | {"out_dir", "figures_dir"}
            for key in dict.fromkeys(k for r in runs for k in r.params):
                if key not in allowed:
                    raise self._unknown_key(key, allowed, f"the parameters of {nb.name}")
        for run in runs:  # the values, by the notebook's own start() check (its Param declarations)
            try:
                check_notebook_values(nb, self.job(run).parameters)
            except ValueError as err:
                raise ValueError(f"{self.path}: run {run.name!r}: {nb.name}: {one_line(err)}") from None
        code = _notebook_code(nb)
        for metric in self.metrics:
            head = metric.split(".")[0]
            if not re.search(r"\b" + re.escape(head) + r"\b", code):
                raise ValueError(f"{self.path}: metric {metric!r} is not mentioned in {nb.name}'s code, so its "
                                 f"metrics.json cannot hold it; check the spelling against the notebook's save_metrics call")

    def _where(self, key: str) -> str:
        if key in self.grid:
            return f"grid key {key!r}"
        if key in self.fixed:
            return f"fixed key {key!r}"
        return f"runs key {key!r}"

    def _unknown_key(self, key: str, allowed: set[str], what: str) -> ValueError:
        close = difflib.get_close_matches(key, sorted(allowed), n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return ValueError(f"{self.path}: unknown {self._where(key)}{hint} ({what}: {', '.join(sorted(allowed))})")


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and check a sweep YAML file; errors name the file and the offending key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep spec not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ValueError(f"{path} is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a sweep spec is a mapping with keys {sorted(_SPEC_KEYS)}")
    unknown = sorted(set(data) - _SPEC_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(_SPEC_KEYS)}")
    if not isinstance(data.get("name"), str) or not data["name"].replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"{path}: 'name' must be a non-empty word (letters, digits, - and _), got {data.get('name')!r}")
    spec = SweepSpec(**{("listed" if k == "runs" else k): v for k, v in data.items()}, path=path)
    if spec.runner not in RUNNERS:
        raise ValueError(f"{path}: 'runner' must be one of {RUNNERS}, got {spec.runner!r}")
    if spec.runner == "notebook":
        if not spec.notebook:
            raise ValueError(f"{path}: runner 'notebook' needs 'notebook: path/to/NN_name.ipynb'")
        nb = _resolve(spec.notebook, path)
        if not nb.is_file():
            raise FileNotFoundError(f"{path}: notebook {spec.notebook} not found (looked at {nb})")
        spec.notebook = str(nb)
    for key in ("fixed", "grid"):
        if not isinstance(getattr(spec, key), dict):
            raise ValueError(f"{path}: '{key}' must be a mapping")
    for k, v in spec.grid.items():
        if not isinstance(v, list) or not v:
            raise ValueError(f"{path}: grid entry {k!r} must be a non-empty list, got {v!r}")
    if not isinstance(spec.listed, list) or not all(isinstance(r, dict) for r in spec.listed):
        raise ValueError(f"{path}: 'runs' must be a list of mappings")
    if not spec.grid and not spec.listed:
        raise ValueError(f"{path}: give a 'grid' or a list of 'runs' (or both)")
    if not isinstance(spec.figures, dict) or not all(isinstance(v, str) for v in spec.figures.values()):
        raise ValueError(f"{path}: 'figures' must map plot files of the sweep folder to destination paths")
    unknown_plots = sorted(set(spec.figures) - set(PLOTS))
    if unknown_plots:
        raise ValueError(f"{path}: 'figures' names unknown plot(s) {unknown_plots}; the plots are {PLOTS}")
    if spec.stage_store is not None and (not isinstance(spec.stage_store, str) or not spec.stage_store.strip()
                                         or Path(spec.stage_store).is_absolute() or ".." in Path(spec.stage_store).parts):
        raise ValueError(f"{path}: 'stage_store' must be a folder relative to the runs root (e.g. _stages for "
                         f"runs/_stages), got {spec.stage_store!r}")
    check_positive_int(spec.threads, f"{path}: 'threads'")
    check_positive_int(spec.jobs, f"{path}: 'jobs'", none_ok=True)
    for key in ("metrics", "group_by"):
        value = getattr(spec, key)
        if isinstance(value, str):
            setattr(spec, key, [value])
        elif not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"{path}: '{key}' must be a list of names, got {value!r}")
    if not spec.metrics:
        raise ValueError(f"{path}: 'metrics' must name at least one metric")
    params = set(spec.fixed) | set(spec.grid) | {k for r in spec.listed for k in r}
    for key in spec.group_by:
        if key not in params:
            raise ValueError(f"{path}: group_by key {key!r} is not a parameter of the sweep; "
                             f"its parameters: {sorted(params)}")
    return spec


def _resolve(p: str, spec_path: Path) -> Path:
    """A path in a spec is relative to the working directory, or else to the repository root."""
    candidate = Path(p)
    if candidate.is_absolute() or candidate.exists():
        return candidate.resolve()
    for parent in spec_path.resolve().parents:
        if (parent / p).exists():
            return (parent / p).resolve()
    return candidate


def _name_part(v: Any) -> str:
    """A parameter value as it reads in a folder name (a list joined, no ``/`` or spaces)."""
    if isinstance(v, (list, tuple)):
        return "".join(str(x) for x in v)
    return str(v).replace("/", "_").replace(" ", "")


def run_name(varying: dict[str, Any]) -> str:
    """A run's folder name: its varying ``key=value`` pairs joined (``method=pfr_seed=1``)."""
    return "_".join(f"{k}={_name_part(v)}" for k, v in varying.items()) or "default"


# --------------------------------------------------------------------------- reading a notebook
def _notebook_parameters(notebook: Path) -> Optional[set[str]]:
    """Names assigned in the notebook's ``parameters`` cell (``None`` if it has none)."""
    import nbformat  # noqa: PLC0415  (only notebook sweeps need it)

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return None
            names: set[str] = set()
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
            return names
    return None


def _notebook_code(notebook: Path) -> str:
    import nbformat  # noqa: PLC0415  (only notebook sweeps need it)

    nb = nbformat.read(notebook, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


# --------------------------------------------------------------------------- a run's configuration
#: ``{flat field: default}``: which fields take a tuple (a scalar there means a one-item list).
_DEFAULTS = TrainConfig().flat()


def _override(key: str, value: Any) -> Any:
    if isinstance(_DEFAULTS.get(key), tuple) and not isinstance(value, (list, tuple)) and value is not None:
        return [value]  # pfr_stages: 2 -> (2,), as on the command line
    return value
