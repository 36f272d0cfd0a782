"""``make reproduce``: run the notebook series headless and report as it goes.

Each notebook runs through papermill with its default parameters (``--cwd notebooks``), one
:class:`pfrlib.launch.Job` at a time; the executed copies go to ``runs/notebooks/<name>/``
(with the notebook's log) and the figures the notebooks write to ``figures/``, never over a
committed notebook. The report has one line per notebook as it starts (what it trains: the
notebook's own ``pfr.trains`` metadata, see :func:`what_it_trains`), a line for each run it
starts, finishes or reuses (read from the notebook's own output as it arrives), its elapsed time
when done, and a closing summary::

    python -m pfrlib.reproduce                  # all notebooks/[0-9][0-9]_*.ipynb
    python -m pfrlib.reproduce notebooks/03_source_only_baseline.ipynb --out runs/notebooks
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Optional

from .launch import LOG_FILE, RUN_LINE, Job, LocalBackend, launch

__all__ = ["what_it_trains", "run_notebook", "main"]

# the kernel's transport notice (it talks to papermill over localhost): noise in a report
_NOISE = re.compile(r"Kernel is running over TCP without encryption")


def _fmt(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def what_it_trains(notebook: Path) -> str:
    """What a notebook trains, in words: its metadata ``{"pfr": {"trains": ...}}``, else the title
    of its first markdown cell."""
    try:
        nb = json.loads(Path(notebook).read_text())
    except (OSError, ValueError):
        return "see the notebook"
    trains = nb.get("metadata", {}).get("pfr", {}).get("trains")
    if isinstance(trains, str) and trains:
        return trains
    titles = ["".join(c.get("source", "")).strip() for c in nb.get("cells", []) if c.get("cell_type") == "markdown"]
    if titles and titles[0]:
        return f"see the notebook ({titles[0].splitlines()[0].lstrip('# ').strip()})"
    return "see the notebook"


def run_notebook(path: Path, out: Path, cwd: Path) -> tuple[bool, float, list[str]]:
    """Execute one notebook (a launcher job in ``out``); print its run lines as they come.

    Returns ``(ok, seconds, tail)``: ``tail`` holds the last lines of its log (for an error report).
    """
    start = time.perf_counter()

    def follow(job: Job, line: str) -> None:
        if RUN_LINE.match(line) and not _NOISE.search(line):
            print(f"      {line.strip()}  [{_fmt(time.perf_counter() - start)}]", flush=True)

    job = Job(name=path.stem, out=out, notebook=path, parameters={}, cwd=cwd, threads=None)
    (outcome,) = launch([job], LocalBackend(jobs=1, follow=follow), retrain=True, report=lambda line: None)
    log = (out / LOG_FILE).read_text(errors="replace").splitlines() if (out / LOG_FILE).exists() else []
    tail = [line for line in log if not _NOISE.search(line)][-40:]
    return outcome.ok, time.perf_counter() - start, tail


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m pfrlib.reproduce``: see the module docstring."""
    p = argparse.ArgumentParser(prog="python -m pfrlib.reproduce", description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", help="notebooks to run (default: notebooks/[0-9][0-9]_*.ipynb)")
    p.add_argument("--out", default="runs/notebooks",
                   help="folder for the executed copies, one subfolder per notebook (default: runs/notebooks)")
    p.add_argument("--cwd", default="notebooks", help="working directory of the kernels (default: notebooks)")
    args = p.parse_args(argv)
    paths = [Path(n) for n in args.notebooks] or sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    Path("figures").mkdir(exist_ok=True)
    done: list[tuple[str, float, bool]] = []
    total_start = time.perf_counter()
    for k, path in enumerate(paths, start=1):
        print(f"[{k}/{len(paths)}] {path.stem}: trains {what_it_trains(path)}  "
              f"(series so far {_fmt(time.perf_counter() - total_start)})", flush=True)
        ok, seconds, tail = run_notebook(path, out_dir / path.stem, Path(args.cwd))
        done.append((path.stem, seconds, ok))
        if not ok:
            print(f"      FAILED after {_fmt(seconds)}; the end of its log:", flush=True)
            print("\n".join("      | " + line for line in tail), flush=True)
            break
        print(f"      done in {_fmt(seconds)}", flush=True)
    total = time.perf_counter() - total_start
    print("\nSummary")
    width = max(len(name) for name, _, _ in done)
    for name, seconds, ok in done:
        print(f"  {name:<{width}}  {_fmt(seconds):>12}  {'ok' if ok else 'FAILED'}")
    print(f"  {'all':<{width}}  {_fmt(total):>12}")
    print(f"Executed notebooks in {out_dir}/<name>/, figures in figures/, each notebook's metrics.json and training "
          "runs under runs/ (runs/series/ is shared by notebooks 03-07).")
    return 0 if all(ok for _, _, ok in done) and len(done) == len(paths) else 1


if __name__ == "__main__":
    sys.exit(main())
