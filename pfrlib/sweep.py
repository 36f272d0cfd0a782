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
* records a failed run in its ``status.json`` (with the failing notebook cell, for notebooks)
  and goes on with the others;
* writes ``results.csv`` (one row per run), ``summary.csv`` and ``summary.md`` (mean +- std per
  group) and plots into ``runs/<name>/``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import yaml

from .io import read_json, write_json

__all__ = ["SweepSpec", "Run", "load_spec", "expand", "is_finished", "run_sweep", "aggregate", "main"]

RUNNERS = ("train", "notebook")
#: The plots :func:`aggregate` writes (``heatmap.png`` only for two ``group_by`` keys).
PLOTS = ("bars.png", "heatmap.png", "per_class_iou.png")
_SPEC_KEYS = {"name", "runner", "notebook", "fixed", "grid", "runs", "group_by", "metrics", "jobs", "threads", "description", "figures"}


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
        raise ValueError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a sweep spec is a mapping with keys {sorted(_SPEC_KEYS)}")
    unknown = sorted(set(data) - _SPEC_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(_SPEC_KEYS)}")
    if not data.get("name") or not str(data["name"]).replace("_", "").replace("-", "").isalnum():
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
    if not isinstance(spec.threads, int) or spec.threads < 1:
        raise ValueError(f"{path}: 'threads' must be an integer >= 1, got {spec.threads!r}")
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
    (threads, progress, resume/overwrite) aside. A notebook run is finished once it wrote its
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
    except Exception:  # noqa: BLE001 (the notebook may not have been written)
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
        tail = (run.out / "log.txt").read_text().splitlines()[-15:]
        status["log_tail"] = tail
        if spec.runner == "notebook":
            status["failing_cell"] = _failing_cell(run.out / "notebook.ipynb")
    write_json(run.out / "status.json", status)
    return status


def run_sweep(spec: SweepSpec, root: str | os.PathLike = "runs", jobs: Optional[int] = None,
              dry_run: bool = False, log=print) -> list[dict[str, Any]]:
    """Run every unfinished run of ``spec`` (``jobs`` at a time), then return all statuses."""
    runs = expand(spec, root)
    jobs = jobs or spec.jobs or max(1, (os.cpu_count() or 1) // spec.threads)
    todo = [r for r in runs if not is_finished(spec, r)]
    stale = sum(_result_path(spec, r).exists() for r in todo)
    log(f"sweep {spec.name}: {len(runs)} runs, {len(runs) - len(todo)} already finished, "
        f"{len(todo)} to run, {jobs} at a time x {spec.threads} thread(s)"
        + (f" ({stale} finished with another configuration: rerun)" if stale else ""))
    if dry_run:
        for r in todo:
            cmd = _train_command(r, spec.threads) if spec.runner == "train" else _notebook_command(spec, r)
            log("  " + " ".join(cmd))
        return []

    def one(r: Run) -> dict[str, Any]:
        status = execute(spec, r, spec.threads)
        log(f"  {'ok    ' if status['ok'] else 'FAILED'} {r.name} ({status['seconds']:.0f} s)"
            + ("" if status["ok"] else f": see {r.out / 'status.json'}"))
        return status

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, todo))
    return [read_json(r.out / "status.json") if (r.out / "status.json").exists() else {"name": r.name, "ok": True}
            for r in runs]


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
    """Collect every finished run's metrics; write results.csv, summary.csv/.md and the plots.

    Metrics that are fractions (mIoU) are reported in percent. Returns the summary rows.
    """
    runs = expand(spec, root)
    out_root = Path(root) / spec.name
    out_root.mkdir(parents=True, exist_ok=True)
    rows = []
    for r in runs:
        path = _result_path(spec, r)
        if not path.exists():
            continue
        result = read_json(path)
        row = {**{k: v for k, v in r.params.items()}, "run": r.name}
        for m in spec.metrics:
            v = _lookup(result, m)
            row[m] = 100 * v if isinstance(v, (int, float)) and "miou" in m and abs(v) <= 1 else v
        row["_result"] = result
        rows.append(row)
    param_keys = list(dict.fromkeys(k for r in runs for k in r.params))
    with open(out_root / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", *param_keys, *spec.metrics])
        for row in rows:
            w.writerow([row["run"], *[_cell(row.get(k)) for k in param_keys], *[_cell(row.get(m)) for m in spec.metrics]])

    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(_cell(row.get(k)) for k in spec.group_by), []).append(row)
    summary = []
    for key, members in groups.items():
        entry = dict(zip(spec.group_by, key))
        entry["n"] = len(members)
        for m in spec.metrics:
            entry[m + "_mean"], entry[m + "_std"] = _mean_std([x.get(m) for x in members])
        entry["_members"] = members
        summary.append(entry)
    with open(out_root / "summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        cols = [*spec.group_by, "n", *[c for m in spec.metrics for c in (m + "_mean", m + "_std")]]
        w.writerow(cols)
        for e in summary:
            w.writerow([_cell(e.get(c)) for c in cols])
    md = summary_markdown(spec, summary)
    (out_root / "summary.md").write_text(md)
    _plots(spec, summary, rows, out_root)
    copied = _copy_figures(spec, out_root)
    return {"rows": rows, "summary": summary, "markdown": md, "dir": out_root, "figures": copied}


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
    for e in summary:
        cells = [str(_cell(e.get(k))) for k in spec.group_by] + [str(e["n"])]
        for m in spec.metrics:
            mean, std = e[m + "_mean"], e[m + "_std"]
            cells.append("-" if math.isnan(mean) else f"{mean:.1f} ± {std:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
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
    args = p.parse_args(argv)
    spec = load_spec(args.spec)
    statuses = [] if args.aggregate_only else run_sweep(spec, args.root, args.jobs, args.dry_run)
    if args.dry_run:
        return 0
    result = aggregate(spec, args.root)
    print(result["markdown"])
    print(f"wrote {result['dir']}/results.csv, summary.csv, summary.md and plots")
    failed = [s["name"] for s in statuses if not s.get("ok", True)]
    if failed:
        print(f"{len(failed)} run(s) failed: {failed} (their status.json has the error)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
