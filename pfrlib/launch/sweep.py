"""Parameter sweeps: run the training CLI (or a notebook) over a grid through the launcher, then aggregate.

``python -m pfrlib.sweep SPEC.yaml`` (or ``make sweep SPEC=...``; the spec's format is in
:mod:`pfrlib.launch.sweep_spec`):

* runs as many runs at once as the machine has cores (``--jobs``), each with one thread by
  default: on two cores two one-thread runs beat one two-thread run; every run is one
  :class:`pfrlib.launch.launcher.Job`, launched by :func:`pfrlib.launch.launcher.launch` (``--launcher``);
* is resumable: a finished run (:func:`pfrlib.launch.launcher.is_finished`: its result file exists and,
  for the train runner, its saved ``config.json`` is still what the spec asks for) is skipped,
  and a run cut short (the sweep killed, the machine rebooted) resumes from its last good
  checkpoint; after a preset changes, its stale runs are retrained, not silently reused;
* kills its runs when it is killed itself (even by ``kill -9``): no run goes on unattended to
  meet a second writer when the sweep is started again;
* checks before the first run starts: the spec's keys, every run's parameters (for the train
  runner the full configuration each run would train is built and validated, dataset paths
  included; for notebooks the parameter names against the notebook's parameters cell) and every
  metric name; a bad spec is one error line naming the key and the allowed values;
* leaves a run that another sweep is running (started meanwhile on the same spec) to that sweep:
  one line naming its pid, nothing written in the run's folder, not counted as failed;
* records a failed run in its ``status.json`` (with the failing notebook cell, for notebooks)
  and goes on with the others; failed runs are listed as failed in ``results.csv`` and the
  summary (never silently dropped);
* keeps what is finished: ``runs/<name>/sweep.json`` records the spec that owns the folder, and
  another spec with the same ``name:`` is refused unless ``--share-dir`` is given; a finished
  run whose saved configuration differs from the spec's is moved to
  ``runs/<name>/_replaced/<date-time>/<run>/`` (with a warning) before it is rerun;
* writes ``results.csv`` (one row per run), ``summary.csv`` and ``summary.md`` (mean +- std per
  group) and plots into ``runs/<name>/`` (:mod:`pfrlib.launch.sweep_report`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Optional

from pfrlib.config.train_config import TrainConfig
from pfrlib.io import read_json, write_json
from pfrlib.launch.launcher import BACKENDS, launch
from pfrlib.launch.local import Backend
from pfrlib.launch.job import HELD, plan
from pfrlib.launch.job import is_finished as job_is_finished
from pfrlib.launch.sweep_spec import (Run, SweepSpec, _one_line, check_runs, expand, planned_config, result_path,
    sweep_job)

__all__ = ["is_finished", "claim_root", "run_sweep"]

#: The file in ``runs/<name>/`` that records which spec owns the folder.
OWNER_FILE = "sweep.json"


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
    try:
        saved = TrainConfig.from_dict(read_json(run.out / "config.json")).without_bookkeeping().to_dict()
    except (OSError, ValueError, TypeError, KeyError):
        return "its config.json is missing or unreadable"
    planned = planned_config(run).without_bookkeeping().to_dict()
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
def is_finished(spec: SweepSpec, run: Run) -> bool:
    """Whether ``run`` can be skipped, by the launcher's one rule (:func:`pfrlib.launch.launcher.is_finished`):
    its result file exists and (train runner) the saved ``config.json`` equals the configuration
    the spec asks for today, bookkeeping fields aside (a run copied in from the notebooks'
    ``runs/series/`` counts). A run whose parameters the config rejects is not finished (it runs,
    fails and says why)."""
    try:
        job = sweep_job(spec, run)
    except (ValueError, TypeError, FileNotFoundError):
        return False
    return job_is_finished(job)


def run_sweep(spec: SweepSpec, root: str | os.PathLike = "runs", jobs: Optional[int] = None,
              dry_run: bool = False, log=print, share_dir: bool = False,
              check_paths: bool = True, backend: Optional[Backend] = None) -> list[dict[str, Any]]:
    """Check every run (:func:`check_runs`), claim ``root/<name>`` (:func:`claim_root`), then
    launch every unfinished run (``jobs`` at a time on ``backend``, default the local one) and
    return all statuses.

    A finished run whose saved configuration differs from the spec's is moved to
    ``root/<name>/_replaced/<date-time>/`` with a warning before it is rerun (``dry_run`` only
    reports it); a run cut short resumes from its checkpoint; a run another sweep is running is
    left to it (its status is :data:`~pfrlib.launch.job.HELD`, ``ok`` false: no result yet, and
    not a failure). Raises ``ValueError`` (one line) for a bad spec or a folder another spec owns;
    nothing has started then.
    """
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    runs = expand(spec, root)
    check_runs(spec, runs, check_paths=check_paths)
    out_root = claim_root(spec, root, share=share_dir, write=not dry_run)
    jobs = jobs or spec.jobs or max(1, (os.cpu_count() or 1) // spec.threads)
    todo = [(r, j) for r, j in ((r, sweep_job(spec, r)) for r in runs) if not job_is_finished(j)]
    stale = [r for r, _ in todo if result_path(spec, r).exists()]
    resumed = sum(plan(j) == "resume" for _, j in todo)
    log(f"sweep {spec.name}: {len(runs)} runs, {len(runs) - len(todo)} already finished, "
        f"{len(todo)} to run, {jobs} at a time x {spec.threads} thread(s)"
        + (f" ({resumed} resumed from their checkpoint)" if resumed else "")
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
        for r, j in todo:
            log(f"  {plan(j)} {r.name}: {j.describe()} -> {r.out}")
        return []
    outcomes = launch([j for _, j in todo], backend or BACKENDS["local"](jobs=jobs), report=log)
    held = {o.job.name: o.to_status() for o in outcomes if o.status == HELD}  # another sweep's: its files untouched
    return [held.get(r.name) or _status(spec, r) for r in runs]


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
    return {"name": run.name, "ok": result_path(spec, run).exists()}


# --------------------------------------------------------------------------- CLI
