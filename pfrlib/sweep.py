"""Parameter sweeps: run a notebook (papermill) or the training CLI over a grid, then aggregate.

A sweep is a YAML file::

    name: ablation                 # runs go to runs/<name>/<run name>/
    runner: train                  # "train" (python -m pfrlib.train) or "notebook"
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

``python -m pfrlib.sweep SPEC.yaml`` (or ``make sweep SPEC=...``):

* runs as many runs at once as the machine has cores (``--jobs``), each with one thread by
  default: on two cores two one-thread runs beat one two-thread run;
* is resumable: a run whose result file exists is skipped, so an interrupted sweep continues
  where it stopped; for the train runner only if the run's saved ``config.json`` is still what
  the spec asks for (after a preset changes, its stale runs are retrained, not silently reused);
* checks before the first run starts: the spec's keys, every run's parameters (for the train
  runner the full configuration each run would train is built and validated, dataset paths
  included; for notebooks the parameter names against the notebook's parameters cell) and every
  metric name; a bad spec is one error line naming the key and the allowed values;
* records a failed run in its ``status.json`` (with the failing notebook cell, for notebooks)
  and goes on with the others; failed runs are listed as failed in ``results.csv`` and the
  summary (never silently dropped);
* keeps what is finished: ``runs/<name>/sweep.json`` records the spec that owns the folder, and
  another spec with the same ``name:`` is refused unless ``--share-dir`` is given; a finished
  run whose saved configuration differs from the spec's is moved to
  ``runs/<name>/_replaced/<date-time>/<run>/`` (with a warning) before it is rerun;
* writes ``results.csv`` (one row per run), ``summary.csv`` and ``summary.md`` (mean +- std per
  group) and plots into ``runs/<name>/``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import difflib
import io
import itertools
import math
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import yaml

from .config import bookkeeping_fields
from .io import read_json, write_json
from .record import METRIC_KEYS

__all__ = ["SweepSpec", "Run", "load_spec", "expand", "is_finished", "check_runs", "claim_root", "run_sweep",
           "aggregate", "main", "TRAIN_METRICS"]

RUNNERS = ("train", "notebook")
#: The plots :func:`aggregate` writes (``heatmap.png`` only for two ``group_by`` keys).
PLOTS = ("bars.png", "heatmap.png", "per_class_iou.png")
_SPEC_KEYS = {"name", "runner", "notebook", "fixed", "grid", "runs", "group_by", "metrics", "jobs", "threads", "description", "figures"}
#: Top-level keys of the ``final.json`` a train run writes (a metric may be ``key`` or
#: ``key.sub.key``, e.g. ``target_val.per_class_iou.road``).
TRAIN_METRICS = METRIC_KEYS
#: Train options the sweep sets itself for every run.
_SWEEP_SET = bookkeeping_fields()
#: The file in ``runs/<name>/`` that records which spec owns the folder.
OWNER_FILE = "sweep.json"


@dataclass
class SweepSpec:
    """A parsed sweep file (see the module docstring)."""

    name: str
    runner: str = "train"
    notebook: Optional[str] = None
    fixed: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=lambda: ["target_miou"])
    jobs: Optional[int] = None
    threads: int = 1
    description: str = ""
    #: ``{plot file in runs/<name>/: destination}``; destinations are relative to the folder that
    #: holds the spec's folder (the repository root for ``sweeps/*.yaml``).
    figures: dict[str, str] = field(default_factory=dict)
    path: Optional[Path] = None


@dataclass
class Run:
    """One parameter set of a sweep and where it goes."""

    name: str
    params: dict[str, Any]
    out: Path


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
    spec = SweepSpec(**{k: v for k, v in data.items()}, path=path)
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
    if not isinstance(spec.runs, list) or not all(isinstance(r, dict) for r in spec.runs):
        raise ValueError(f"{path}: 'runs' must be a list of mappings")
    if not spec.grid and not spec.runs:
        raise ValueError(f"{path}: give a 'grid' or a list of 'runs' (or both)")
    if not isinstance(spec.figures, dict) or not all(isinstance(v, str) for v in spec.figures.values()):
        raise ValueError(f"{path}: 'figures' must map plot files of the sweep folder to destination paths")
    unknown_plots = sorted(set(spec.figures) - set(PLOTS))
    if unknown_plots:
        raise ValueError(f"{path}: 'figures' names unknown plot(s) {unknown_plots}; the plots are {PLOTS}")
    if not isinstance(spec.threads, int) or isinstance(spec.threads, bool) or spec.threads < 1:
        raise ValueError(f"{path}: 'threads' must be an integer >= 1, got {spec.threads!r}")
    if spec.jobs is not None and (not isinstance(spec.jobs, int) or isinstance(spec.jobs, bool) or spec.jobs < 1):
        raise ValueError(f"{path}: 'jobs' must be an integer >= 1, got {spec.jobs!r}")
    for key in ("metrics", "group_by"):
        value = getattr(spec, key)
        if isinstance(value, str):
            setattr(spec, key, [value])
        elif not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"{path}: '{key}' must be a list of names, got {value!r}")
    if not spec.metrics:
        raise ValueError(f"{path}: 'metrics' must name at least one metric")
    params = set(spec.fixed) | set(spec.grid) | {k for r in spec.runs for k in r}
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


def _fmt(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "".join(str(x) for x in v)
    return str(v).replace("/", "_").replace(" ", "")


def expand(spec: SweepSpec, root: str | os.PathLike = "runs") -> list[Run]:
    """The sweep's runs: the grid's product, then the explicit ``runs``, each with ``fixed``.

    A run's name joins its varying ``key=value`` pairs (``method=pfr_seed=1``), so it is stable
    across invocations and a re-run finds the finished ones.
    """
    sets: list[dict[str, Any]] = []
    keys = list(spec.grid)
    for values in itertools.product(*(spec.grid[k] for k in keys)):
        sets.append(dict(zip(keys, values)))
    sets.extend(dict(r) for r in spec.runs)
    out_root = Path(root) / spec.name
    runs, seen = [], set()
    for varying in sets:
        name = "_".join(f"{k}={_fmt(v)}" for k, v in varying.items()) or "default"
        if name in seen:
            raise ValueError(f"sweep {spec.name!r}: two runs share the name {name!r}")
        seen.add(name)
        runs.append(Run(name=name, params={**spec.fixed, **varying}, out=out_root / name))
    return runs


# --------------------------------------------------------------------------- checks before running
def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _where(spec: SweepSpec, key: str) -> str:
    if key in spec.grid:
        return f"grid key {key!r}"
    if key in spec.fixed:
        return f"fixed key {key!r}"
    return f"runs key {key!r}"


def _unknown_key(spec: SweepSpec, key: str, allowed: set[str], what: str) -> ValueError:
    close = difflib.get_close_matches(key, sorted(allowed), n=3)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"{spec.path}: unknown {_where(spec, key)}{hint} ({what}: {', '.join(sorted(allowed))})")


def _parse_quietly(args: list[str]):
    """``config_from_argv(args)``; an argparse error becomes a ``ValueError`` (no usage dump)."""
    from .config import config_from_argv

    buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(buf):
            return config_from_argv(args)
    except SystemExit:
        lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
        msg = lines[-1] if lines else "the training command line rejected the parameters"
        msg = msg.split(" error: ", 1)[-1]
        if "unrecognized arguments" in msg:
            msg += (" (a list given to an option that takes one value? to run each value, put the list under "
                    "'grid:')")
        raise ValueError(msg) from None


def _notebook_parameters(notebook: Path) -> Optional[set[str]]:
    """Names assigned in the notebook's ``parameters`` cell (``None`` if it has none)."""
    import ast

    import nbformat

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
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def check_runs(spec: SweepSpec, runs: list[Run], check_paths: bool = True) -> None:
    """Check every run and metric before anything starts; one ``ValueError`` line on the first problem.

    Train runner: every parameter name must be an option of ``python -m pfrlib.train`` (not one
    the sweep sets itself: ``out``, ``overwrite``, ``progress``, ``num_threads``, ``resume``), and
    each run's configuration is built exactly as its subprocess will build it and validated
    (``TrainConfig.validate(check_paths=...)``: method, values, dataset roots). Notebook runner:
    parameter names must be assigned in the notebook's ``parameters`` cell. Metrics: for train,
    top-level keys of ``final.json`` (:data:`TRAIN_METRICS`, optionally ``.sub.keys``); for a
    notebook, names its code mentions (``metrics.json`` is written from literal keys).
    """
    keys = list(dict.fromkeys(k for r in runs for k in r.params))
    if spec.runner == "train":
        from .config import TrainConfig

        allowed = set(TrainConfig.field_index()) | {"preset", "config"}
        for key in keys:
            norm = str(key).replace("-", "_")
            if norm in _SWEEP_SET:
                raise ValueError(f"{spec.path}: {_where(spec, key)} is set by the sweep itself for every run "
                                 f"({', '.join(_SWEEP_SET)}); remove it")
            if norm not in allowed:
                raise _unknown_key(spec, key, allowed, "the options of python -m pfrlib.train")
        for run in runs:
            try:
                _parse_quietly(_train_args(run, spec.threads)).validate(check_paths=check_paths)
            except (ValueError, TypeError, FileNotFoundError) as err:
                raise ValueError(f"{spec.path}: run {run.name!r}: {_one_line(err)}") from None
        for metric in spec.metrics:
            if metric.split(".")[0] not in TRAIN_METRICS:
                close = difflib.get_close_matches(metric, TRAIN_METRICS, n=2)
                hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                raise ValueError(f"{spec.path}: unknown metric {metric!r}{hint} (a train run's final.json holds "
                                 f"{', '.join(TRAIN_METRICS)}; sub-keys as key.sub, e.g. target_val.miou)")
        return
    nb = Path(spec.notebook)
    names = _notebook_parameters(nb)
    if names is not None:
        allowed = names | {"out_dir", "figures_dir"}
        for key in keys:
            if key not in allowed:
                raise _unknown_key(spec, key, allowed, f"the parameters of {nb.name}")
    code = _notebook_code(nb)
    for metric in spec.metrics:
        head = metric.split(".")[0]
        if not re.search(r"\b" + re.escape(head) + r"\b", code):
            raise ValueError(f"{spec.path}: metric {metric!r} is not mentioned in {nb.name}'s code, so its "
                             f"metrics.json cannot hold it; check the spelling against the notebook's save_metrics call")


def claim_root(spec: SweepSpec, root: str | os.PathLike = "runs", share: bool = False, write: bool = True) -> Path:
    """Make ``runs/<name>/`` this spec's folder; refuse one that another spec with the same name owns.

    ``runs/<name>/sweep.json`` lists the spec file(s) that write there (relative to the folder
    that holds ``root``, e.g. ``sweeps/ablation.yaml``). A folder without it (an older sweep) is
    claimed silently. ``share=True`` adds this spec to the list instead of
    refusing. Returns the folder.

    Raises:
        ValueError naming both spec files and the ``--share-dir`` option.
    """
    out_root = Path(root) / spec.name
    if spec.path is None:
        return out_root
    me = _spec_id(spec, root)
    owner = out_root / OWNER_FILE
    specs: list[str] = []
    if owner.exists():
        try:
            specs = list(read_json(owner).get("specs", []))
        except (ValueError, OSError, AttributeError) as err:
            raise ValueError(f"{owner} cannot be read ({_one_line(err)}); it records which sweep spec owns "
                             f"{out_root}: fix or remove it") from None
    if specs and me not in specs and not share:
        raise ValueError(f"{out_root} holds the runs of sweep spec {specs[0]}, which has the same name "
                         f"{spec.name!r} as {me}; give this spec another 'name:' or pass --share-dir to let both "
                         f"write there (finished runs with another configuration are then moved to {out_root}/_replaced/)")
    if me not in specs and write:
        write_json(owner, {"name": spec.name, "specs": [*specs, me]})
    return out_root


def _spec_id(spec: SweepSpec, root: str | os.PathLike) -> str:
    """The spec file relative to the folder that holds ``root`` (e.g. ``sweeps/ablation.yaml``),
    so that moving the whole repository keeps the record valid; absolute if it lies elsewhere."""
    spec_abs = Path(spec.path).resolve()
    try:
        return str(spec_abs.relative_to(Path(root).resolve().parent))
    except ValueError:
        return str(spec_abs)


def _config_diff(run: Run) -> str:
    """``field: saved -> planned`` for the fields where a finished run's config.json differs."""
    from .config import TrainConfig
    
    try:
        saved = TrainConfig.from_dict(read_json(run.out / "config.json")).without_bookkeeping().to_dict()
    except (OSError, ValueError, TypeError, KeyError):
        return "its config.json is missing or unreadable"
    planned = _planned_config(run).without_bookkeeping().to_dict()
    diffs = []
    for section in sorted(set(saved) | set(planned)):
        a, b = saved.get(section), planned.get(section)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            diffs.append(f"{section}: {a!r} -> {b!r}")
    return ", ".join(diffs[:4]) + (f" and {len(diffs) - 4} more" if len(diffs) > 4 else "") if diffs else "unknown"


def _move_aside(run: Run, out_root: Path, stamp: str) -> Path:
    """Move a finished run's folder to ``out_root/_replaced/<stamp>/<run>`` (never deleted)."""
    dest = out_root / "_replaced" / stamp / run.name
    n = 1
    while dest.exists():
        dest = out_root / "_replaced" / f"{stamp}-{n}" / run.name
        n += 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run.out), str(dest))
    return dest


# --------------------------------------------------------------------------- running
def _result_path(spec: SweepSpec, run: Run) -> Path:
    return run.out / ("final.json" if spec.runner == "train" else "metrics.json")


def _planned_config(run: Run):
    """The :class:`~pfrlib.config.TrainConfig` that :func:`_train_command` would train."""
    from .config import config_from_argv

    return config_from_argv(_train_args(run, 1))


def is_finished(spec: "SweepSpec", run: Run) -> bool:
    """Whether ``run`` can be skipped: its result file exists and (train runner) the saved
    ``config.json`` equals the configuration the spec asks for today, bookkeeping fields
    (threads, progress, resume/overwrite, the saved ``out`` path) aside: a run copied in from the
    notebooks' ``runs/series/`` counts. A notebook run is finished once it wrote its
    ``metrics.json``."""
    if not _result_path(spec, run).exists():
        return False
    if spec.runner != "train":
        return True
    from .nbtools import same_configuration

    try:
        planned = _planned_config(run)
    except (ValueError, TypeError, SystemExit):  # a parameter set the CLI rejects: run it, it fails and says why
        return False
    return same_configuration(planned, run.out)


def _train_args(run: Run, threads: int) -> list[str]:
    """The ``python -m pfrlib.train`` arguments of one train-runner run."""
    args = ["--out", str(run.out), "--overwrite", "true", "--progress", "false", "--num-threads", str(threads)]
    for k, v in run.params.items():
        values = [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]
        args += [f"--{k.replace('_', '-')}", *values]
    return args


def _train_command(run: Run, threads: int) -> list[str]:
    return [sys.executable, "-m", "pfrlib.train", *_train_args(run, threads)]


def _notebook_command(spec: SweepSpec, run: Run) -> list[str]:
    nb = Path(spec.notebook)
    params = {"out_dir": str(run.out.resolve()), "figures_dir": str(run.out.resolve() / "figures"), **run.params}
    cmd = [sys.executable, "-m", "papermill", "--cwd", str(nb.parent), "-k", "python3", "--no-progress-bar", "--log-level", "WARNING",
           str(nb), str(run.out / "notebook.ipynb")]
    for k, v in params.items():
        cmd += ["-y", yaml.safe_dump({k: v}, default_flow_style=True).strip()]
    return cmd


def _failing_cell(notebook: Path) -> dict[str, Any] | None:
    """The first cell of an executed notebook whose output is an error (papermill's record)."""
    import nbformat

    try:
        nb = nbformat.read(notebook, as_version=4)
    except (OSError, ValueError, nbformat.reader.NotJSONError):  # not written, or cut short by the failure
        return None
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return {"index": i, "source": cell.source[:500], "ename": out.get("ename"), "evalue": out.get("evalue")}
    return None


def execute(spec: SweepSpec, run: Run, threads: int = 1) -> dict[str, Any]:
    """Run one parameter set in a subprocess; return (and write) its ``status.json``."""
    run.out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PFR_SMOKE=os.environ.get("PFR_SMOKE", ""))
    cmd = _train_command(run, threads) if spec.runner == "train" else _notebook_command(spec, run)
    t0 = time.perf_counter()
    with open(run.out / "log.txt", "w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    status: dict[str, Any] = {
        "name": run.name, "params": run.params, "returncode": proc.returncode,
        "seconds": round(time.perf_counter() - t0, 1), "ok": proc.returncode == 0 and _result_path(spec, run).exists(),
    }
    if not status["ok"]:
        tail = (run.out / "log.txt").read_text(errors="replace").splitlines()[-15:]
        status["log_tail"] = tail
        errors = [ln[len("error: "):] for ln in tail if ln.startswith("error: ")]
        status["error"] = errors[-1] if errors else (tail[-1] if tail else f"exit status {proc.returncode}")
        if spec.runner == "notebook":
            cell = _failing_cell(run.out / "notebook.ipynb")
            status["failing_cell"] = cell
            if cell:
                status["error"] = f"cell {cell['index']}: {cell['ename']}: {cell['evalue']}"
    write_json(run.out / "status.json", status)
    return status


def run_sweep(spec: SweepSpec, root: str | os.PathLike = "runs", jobs: Optional[int] = None,
              dry_run: bool = False, log=print, share_dir: bool = False,
              check_paths: bool = True) -> list[dict[str, Any]]:
    """Check every run (:func:`check_runs`), claim ``root/<name>`` (:func:`claim_root`), then run
    every unfinished run (``jobs`` at a time) and return all statuses.

    A finished run whose saved configuration differs from the spec's is moved to
    ``root/<name>/_replaced/<date-time>/`` with a warning before it is rerun (``dry_run`` only
    reports it). Raises ``ValueError`` (one line) for a bad spec or a folder another spec owns;
    nothing has started then.
    """
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    runs = expand(spec, root)
    check_runs(spec, runs, check_paths=check_paths)
    out_root = claim_root(spec, root, share=share_dir, write=not dry_run)
    jobs = jobs or spec.jobs or max(1, (os.cpu_count() or 1) // spec.threads)
    todo = [r for r in runs if not is_finished(spec, r)]
    stale = [r for r in todo if _result_path(spec, r).exists()]
    log(f"sweep {spec.name}: {len(runs)} runs, {len(runs) - len(todo)} already finished, "
        f"{len(todo)} to run, {jobs} at a time x {spec.threads} thread(s)"
        + (f" ({len(stale)} finished with another configuration: rerun)" if stale else ""))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for r in stale:
        diff = _config_diff(r) if spec.runner == "train" else "rerun requested"
        if dry_run:
            log(f"  WARNING: {r.name} finished with another configuration ({diff}); a real run would move it to "
                f"{out_root / '_replaced' / stamp / r.name} and retrain it")
            continue
        dest = _move_aside(r, out_root, stamp)
        log(f"  WARNING: {r.name} finished with another configuration ({diff}); its results are kept in {dest} "
            f"and the run is retrained")
    if dry_run:
        for r in todo:
            cmd = _train_command(r, spec.threads) if spec.runner == "train" else _notebook_command(spec, r)
            log("  " + " ".join(cmd))
        return []

    def one(r: Run) -> dict[str, Any]:
        status = execute(spec, r, spec.threads)
        log(f"  {'ok    ' if status['ok'] else 'FAILED'} {r.name} ({status['seconds']:.0f} s)"
            + ("" if status["ok"] else f": {status.get('error', '?')} (see {r.out / 'status.json'})"))
        return status

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, todo))
    return [_status(spec, r) for r in runs]


def _status(spec: SweepSpec, run: Run) -> dict[str, Any]:
    """A run's ``status.json``; ``ok`` from its result file when there is none (older sweeps)."""
    path = run.out / "status.json"
    status = None
    if path.exists():
        try:
            status = read_json(path)
        except (ValueError, OSError):
            status = None  # unreadable: fall back to whether the result file exists
    if isinstance(status, dict):
        return status
    return {"name": run.name, "ok": _result_path(spec, run).exists()}


# --------------------------------------------------------------------------- aggregation
def _lookup(d: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def _mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return float("nan"), float("nan")
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def aggregate(spec: SweepSpec, root: str | os.PathLike = "runs") -> dict[str, Any]:
    """Collect every run's metrics; write results.csv, summary.csv/.md and the plots.

    Every run of the spec has a row in ``results.csv`` with its ``status`` (``ok``, ``failed``,
    ``not run``); a group's summary counts its finished (``n``), failed and not-run runs, and
    the means run over the finished ones. Metrics that are fractions (mIoU) are reported in
    percent. A metric found in none of the finished runs is reported in ``warnings``.
    Returns ``{"rows" (finished), "all_rows", "summary", "markdown", "dir", "figures", "warnings"}``.
    """
    runs = expand(spec, root)
    out_root = Path(root) / spec.name
    out_root.mkdir(parents=True, exist_ok=True)
    rows, all_rows = [], []
    for r in runs:
        path = _result_path(spec, r)
        row = {**{k: v for k, v in r.params.items()}, "run": r.name, "_result": {}}
        if path.exists():
            try:
                result = read_json(path)
            except (ValueError, OSError) as err:
                raise ValueError(f"{path} cannot be read ({_one_line(err)}); rerun {r.name} or remove it") from None
            row["status"] = "ok"
            for m in spec.metrics:
                v = _lookup(result, m)
                row[m] = 100 * v if isinstance(v, (int, float)) and "miou" in m and abs(v) <= 1 else v
            row["_result"] = result
            rows.append(row)
        else:
            row["status"] = "failed" if (r.out / "status.json").exists() else "not run"
        all_rows.append(row)
    warnings = []
    for m in spec.metrics:
        if rows and all(row.get(m) is None for row in rows):
            warnings.append(f"metric {m!r} is in none of the {len(rows)} finished runs' "
                            f"{_result_path(spec, runs[0]).name}")
    param_keys = list(dict.fromkeys(k for r in runs for k in r.params))
    with open(out_root / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", *param_keys, "status", *spec.metrics])
        for row in all_rows:
            w.writerow([row["run"], *[_cell(row.get(k)) for k in param_keys], row["status"],
                        *[_cell(row.get(m)) for m in spec.metrics]])

    groups: dict[tuple, list[dict]] = {}
    for row in all_rows:
        groups.setdefault(tuple(_cell(row.get(k)) for k in spec.group_by), []).append(row)
    summary = []
    for key, members in groups.items():
        ok = [x for x in members if x["status"] == "ok"]
        entry = dict(zip(spec.group_by, key))
        entry["n"] = len(ok)
        entry["failed"] = sum(x["status"] == "failed" for x in members)
        entry["not_run"] = sum(x["status"] == "not run" for x in members)
        for m in spec.metrics:
            entry[m + "_mean"], entry[m + "_std"] = _mean_std([x.get(m) for x in ok])
        entry["_members"] = ok
        entry["_failed_runs"] = [x["run"] for x in members if x["status"] == "failed"]
        summary.append(entry)
    with open(out_root / "summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        cols = [*spec.group_by, "n", "failed", "not_run", *[c for m in spec.metrics for c in (m + "_mean", m + "_std")]]
        w.writerow(cols)
        for e in summary:
            w.writerow([_cell(e.get(c)) for c in cols])
    md = summary_markdown(spec, summary)
    if warnings:
        md += "".join(f"\nWarning: {w_}\n" for w_ in warnings)
    (out_root / "summary.md").write_text(md)
    _plots(spec, [e for e in summary if e["n"]], rows, out_root)
    copied = _copy_figures(spec, out_root)
    return {"rows": rows, "all_rows": all_rows, "summary": summary, "markdown": md, "dir": out_root,
            "figures": copied, "warnings": warnings}


def _copy_figures(spec: SweepSpec, out_root: Path) -> list[Path]:
    """Copy the plots named in ``spec.figures`` to their destinations (atomically)."""
    from .io import atomic_write

    base = spec.path.resolve().parent.parent if spec.path is not None else Path.cwd()
    copied = []
    for plot, dest in spec.figures.items():
        src = out_root / plot
        if not src.exists():
            continue
        data = src.read_bytes()
        copied.append(atomic_write(base / dest, lambda f, data=data: f.write(data)))
    return copied


def _cell(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    if isinstance(v, float):
        return round(v, 4)
    return v


def summary_markdown(spec: SweepSpec, summary: list[dict]) -> str:
    """The summary as a markdown table: one row per group, ``mean ± std (n)`` per metric."""
    head = [*spec.group_by, "runs", *spec.metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    failed = []
    for e in summary:
        extra = [f"{e[k]} {label}" for k, label in (("failed", "failed"), ("not_run", "not run")) if e.get(k)]
        runs_cell = str(e["n"]) + (f" ({', '.join(extra)})" if extra else "")
        cells = [str(_cell(e.get(k))) for k in spec.group_by] + [runs_cell]
        for m in spec.metrics:
            mean, std = e[m + "_mean"], e[m + "_std"]
            cells.append(("FAILED" if e.get("failed") and not e["n"] else "-") if math.isnan(mean) else f"{mean:.1f} ± {std:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
        failed += e.get("_failed_runs", [])
    if failed:
        lines.append("")
        lines.append(f"Failed runs ({len(failed)}; their status.json has the error): {', '.join(failed)}")
    return "\n".join(lines) + "\n"


def _plots(spec: SweepSpec, summary: list[dict], rows: list[dict], out_root: Path) -> None:
    """Bar chart of the first metric per group; a heatmap for 2-key groups; per-class IoU bars."""
    if not summary:
        return
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .nbtools import save_figure

    metric = spec.metrics[0]
    labels = [" / ".join(str(_cell(e.get(k))) for k in spec.group_by) or "all" for e in summary]
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(summary) + 2), 3.4))
    ax.bar(range(len(summary)), [e[metric + "_mean"] for e in summary], yerr=[e[metric + "_std"] for e in summary], capsize=4)
    for i, e in enumerate(summary):
        vals = [x.get(metric) for x in e["_members"] if isinstance(x.get(metric), (int, float))]
        ax.scatter([i] * len(vals), vals, color="k", s=10, zorder=3)
    ax.set_xticks(range(len(summary)), labels, rotation=20, ha="right")
    ax.set_ylabel(metric + (" (%)" if "miou" in metric else ""))
    ax.set_title(f"{spec.name}: mean ± std over the other parameters")
    fig.tight_layout()
    save_figure(fig, out_root / "bars.png")
    plt.close(fig)

    if len(spec.group_by) == 2:
        a, b = spec.group_by
        xs = sorted({_cell(e[a]) for e in summary}, key=_sort_key)
        ys = sorted({_cell(e[b]) for e in summary}, key=_sort_key)
        grid = np.full((len(ys), len(xs)), np.nan)
        for e in summary:
            grid[ys.index(_cell(e[b])), xs.index(_cell(e[a]))] = e[metric + "_mean"]
        fig, ax = plt.subplots(figsize=(1.1 * len(xs) + 2.5, 0.8 * len(ys) + 1.8))
        im = ax.imshow(grid, cmap="viridis", origin="lower")
        for i in range(len(ys)):
            for j in range(len(xs)):
                if not np.isnan(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", color="w", fontsize=8)
        ax.set_xticks(range(len(xs)), xs)
        ax.set_yticks(range(len(ys)), ys)
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        fig.colorbar(im, ax=ax, label=metric)
        ax.set_title(f"{spec.name}: {metric} (mean over seeds)")
        fig.tight_layout()
        save_figure(fig, out_root / "heatmap.png")
        plt.close(fig)

    per_class = {}
    for e, label in zip(summary, labels):
        ious = [_lookup(x["_result"], "target_val.per_class_iou") for x in e["_members"]]
        ious = [d for d in ious if isinstance(d, dict)]
        if ious:
            names = ious[0].keys()
            per_class[label] = {n: _mean_std([d.get(n) for d in ious])[0] for n in names}
    if per_class:
        from .viz import plot_per_class_iou

        fig = plot_per_class_iou(per_class, title=f"{spec.name}: target per-class IoU (mean over seeds)")
        save_figure(fig, out_root / "per_class_iou.png")
        plt.close(fig)


def _sort_key(v: Any):
    try:
        return (0, float(v))
    except (TypeError, ValueError):
        return (1, str(v))


# --------------------------------------------------------------------------- CLI
def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pfrlib.sweep", description="Run a parameter sweep and aggregate it.")
    p.add_argument("spec", help="sweep YAML file (see pfrlib/sweep.py)")
    p.add_argument("--root", default="runs", help="where runs/<name>/ goes (default: runs)")
    p.add_argument("--jobs", type=int, default=None, help="runs at once (default: cores / threads)")
    p.add_argument("--dry-run", action="store_true", help="print the commands of the unfinished runs")
    p.add_argument("--aggregate-only", action="store_true", help="do not run; aggregate what is finished")
    p.add_argument("--share-dir", action="store_true",
                   help="let this spec write into runs/<name>/ although another spec with the same name owns it")
    args = p.parse_args(argv)
    try:
        spec = load_spec(args.spec)
        statuses = [] if args.aggregate_only else run_sweep(spec, args.root, args.jobs, args.dry_run,
                                                            share_dir=args.share_dir)
        if args.dry_run:
            return 0
        if args.aggregate_only:
            claim_root(spec, args.root, share=args.share_dir, write=False)
        result = aggregate(spec, args.root)
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(result["markdown"])
    print(f"wrote {result['dir']}/results.csv, summary.csv, summary.md and plots")
    for w in result["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    failed = [s["name"] for s in statuses if not s.get("ok", True)]
    if failed:
        print(f"{len(failed)} run(s) failed: {failed} (their status.json has the error)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
