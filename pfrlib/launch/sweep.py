"""Parameter sweeps: run the training CLI (or a notebook) over a grid through the launcher, then aggregate.

``python -m pfrlib.sweep SPEC.yaml`` (or ``make sweep SPEC=...``; the spec's format is in
:mod:`pfrlib.launch.sweep_spec`):

* runs as many runs at once as the machine has cores (``--jobs``), each with one thread by
  default: on two cores two one-thread runs beat one two-thread run; every run is one
  :class:`pfrlib.launch.launcher.Job`, launched by :func:`pfrlib.launch.launcher.launch` (``--launcher``);
* is resumable: every run is planned once (:func:`pfrlib.launch.job.plan`); a finished run (its
  result file exists and, for the train runner, its saved ``config.json`` is still what the spec
  asks for) is skipped, and a run cut short (the sweep killed, the machine rebooted) resumes from
  its last good checkpoint; after a preset changes, its stale runs are retrained, not silently
  reused;
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
from pfrlib.io import check_positive_int, one_line, read_json, write_json
from pfrlib.launch.job import HELD, LAUNCH_LOCK, STATUS_FILE, Job, plan
from pfrlib.launch.launcher import BACKENDS, Claim, launch
from pfrlib.launch.local import Backend
from pfrlib.launch.sweep_spec import SweepSpec

__all__ = ["claim_root", "run_sweep"]

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
    out_root = spec.folder(root)
    if spec.path is None:
        return out_root
    me = _spec_id(spec, root)
    owner = out_root / OWNER_FILE
    specs: list[str] = []
    if owner.exists():
        try:
            specs = list(read_json(owner).get("specs", []))
        except (ValueError, OSError, AttributeError) as err:
            raise ValueError(f"{owner} cannot be read ({one_line(err)}); it records which sweep spec owns "
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


def _config_diff(job: Job) -> str:
    """``field: saved -> planned`` for the fields where a finished run's config.json differs."""
    try:
        saved = TrainConfig.from_dict(read_json(job.out / "config.json")).without_bookkeeping().to_dict()
    except (OSError, ValueError, TypeError, KeyError):
        return "its config.json is missing or unreadable"
    planned = job.config.without_bookkeeping().to_dict()
    diffs = []
    for section in sorted(set(saved) | set(planned)):
        a, b = saved.get(section), planned.get(section)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            diffs.append(f"{section}: {a!r} -> {b!r}")
    return ", ".join(diffs[:4]) + (f" and {len(diffs) - 4} more" if len(diffs) > 4 else "") if diffs else "unknown"


def _move_aside(job: Job, out_root: Path, stamp: str) -> Path:
    """Move a finished run's files to ``out_root/_replaced/<stamp>/<run>`` (never deleted); its
    folder stays, with the launch lock this sweep holds on it."""
    dest = out_root / "_replaced" / stamp / job.name
    n = 1
    while dest.exists():
        dest = out_root / "_replaced" / f"{stamp}-{n}" / job.name
        n += 1
    dest.mkdir(parents=True)
    for entry in job.out.iterdir():
        if entry.name != LAUNCH_LOCK:
            shutil.move(str(entry), str(dest / entry.name))
    return dest


# --------------------------------------------------------------------------- running
def run_sweep(spec: SweepSpec, root: str | os.PathLike = "runs", jobs: Optional[int] = None,
              dry_run: bool = False, log=print, share_dir: bool = False,
              check_paths: bool = True, backend: Optional[Backend] = None) -> list[dict[str, Any]]:
    """Check every run (:meth:`SweepSpec.checked_jobs`), claim ``root/<name>`` (:func:`claim_root`)
    and every run's folder, plan every run once (:class:`pfrlib.launch.launcher.Claim`), then
    launch every unfinished run with its plan (``jobs`` at a time on ``backend``, default the
    local one) and return all statuses.

    A finished run whose saved configuration differs from the spec's is moved to
    ``root/<name>/_replaced/<date-time>/`` with a warning before it is rerun; a run cut short
    resumes from its checkpoint; a run another sweep is running is left to it (its status is
    :data:`~pfrlib.launch.job.HELD`, ``ok`` false: no result yet, and not a failure). ``dry_run``
    plans without claiming anything and reports what a real run would do. Raises ``ValueError``
    (one line) for a bad spec or a folder another spec owns; nothing has started then.
    """
    check_positive_int(jobs, "jobs", none_ok=True)
    sweep_jobs = spec.checked_jobs(root, check_paths=check_paths)
    out_root = claim_root(spec, root, share=share_dir, write=not dry_run)
    jobs = jobs or spec.jobs or max(1, (os.cpu_count() or 1) // spec.threads)
    if dry_run:  # a forecast: nothing is locked or written
        _report(spec, sweep_jobs, [plan(j) for j in sweep_jobs], jobs, out_root, log, move=False)
        return []
    with Claim(sweep_jobs) as claim:
        launched = _report(spec, sweep_jobs, claim.plans, jobs, out_root, log, move=True)
        outcomes = launch(launched, backend or BACKENDS["local"](jobs=jobs), report=log, claim=claim)
    held = {o.job.name: o.to_status() for o in outcomes if o.status == HELD}  # another sweep's: its files untouched
    return [held.get(j.name) or _status(j) for j in sweep_jobs]


def _report(spec: SweepSpec, sweep_jobs: list[Job], plans: list[str], jobs: int, out_root: Path, log,
            move: bool) -> list[Job]:
    """Say what the sweep does with its runs (``plans``), move finished runs of another
    configuration aside (``move``; else say where they would go and each run's plan); return the
    jobs to launch (those to run and those another sweep holds)."""
    todo = [(j, p) for j, p in zip(sweep_jobs, plans) if p not in ("reuse", HELD)]
    held = sum(p == HELD for p in plans)
    stale = [j for j, _ in todo if j.result.exists()]
    resumed = sum(p == "resume" for _, p in todo)
    log(f"sweep {spec.name}: {len(sweep_jobs)} runs, {plans.count('reuse')} already finished, "
        f"{len(todo)} to run, {jobs} at a time x {spec.threads} thread(s)"
        + (f" ({resumed} resumed from their checkpoint)" if resumed else "")
        + (f" ({len(stale)} finished with another configuration: rerun)" if stale else "")
        + (f" ({held} in progress in another sweep)" if held else ""))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for j in stale:
        diff = _config_diff(j) if j.kind == "train" else "rerun requested"
        if not move:
            log(f"  WARNING: {j.name} finished with another configuration ({diff}); a real run would move it to "
                f"{out_root / '_replaced' / stamp / j.name} and retrain it")
            continue
        dest = _move_aside(j, out_root, stamp)
        log(f"  WARNING: {j.name} finished with another configuration ({diff}); its results are kept in {dest} "
            f"and the run is retrained")
    if not move:
        for j, p in todo:
            log(f"  {p} {j.name}: {j.describe()} -> {j.out}")
    return [j for j, p in zip(sweep_jobs, plans) if p != "reuse"]


def _status(job: Job) -> dict[str, Any]:
    """A run's ``status.json``; ``ok`` from its result file when there is none (older sweeps)."""
    path = job.out / STATUS_FILE
    status = None
    if path.exists():
        try:
            status = read_json(path)
        except (ValueError, OSError):
            status = None  # unreadable: fall back to whether the result file exists
    if isinstance(status, dict):
        return status
    return {"name": job.name, "ok": job.result.exists()}
