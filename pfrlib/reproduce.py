"""``python -m pfrlib.reproduce`` (``make reproduce``): run the notebook series headless, reporting as it goes.

What it runs and reports is :mod:`pfrlib.teaching.reproduce`'s::

    python -m pfrlib.reproduce                  # the series (pfrlib.teaching.student.SERIES_GLOB)
    python -m pfrlib.reproduce notebooks/03_source_only_baseline.ipynb --out runs/notebooks
    python -m pfrlib.reproduce --all            # also retrain every multi-seed table (make reproduce ALL=1)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from pfrlib.teaching.reproduce import ALL_PARAMETER, SERIES_TIMES, run_series, write_times
from pfrlib.teaching.nbparams import SERIES_RUNS
from pfrlib.teaching.student import SERIES_GLOB, series_notebooks


def main(argv: Optional[list[str]] = None) -> int:
    """Parse ``argv``, run the notebooks one by one, print the summary; the exit status."""
    p = argparse.ArgumentParser(prog="python -m pfrlib.reproduce", description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", help=f"notebooks to run (default: {SERIES_GLOB})")
    p.add_argument("--out", default="runs/notebooks",
                   help="folder for the executed copies, one subfolder per notebook (default: runs/notebooks)")
    p.add_argument("--cwd", default="notebooks", help="working directory of the kernels (default: notebooks)")
    p.add_argument("--all", action="store_true",
                   help=f"also retrain every multi-seed table: {ALL_PARAMETER}=True for the notebooks that declare it")
    p.add_argument("--times-markdown", default=None, metavar="FILE",
                   help="also write the time per notebook (papermill's records) as a Markdown table to FILE")
    p.add_argument("--series-runs", default=SERIES_TIMES, metavar="FILE",
                   help="with --times-markdown, also write the series' training runs (method, seed, iterations, "
                        f"seconds, benchmark) as JSON to FILE (default: {SERIES_TIMES})")
    p.add_argument("--times-only", action="store_true",
                   help="run nothing: write --times-markdown from the executed notebooks already in --out")
    args = p.parse_args(argv)
    paths = [Path(n) for n in args.notebooks] or series_notebooks()
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 2
    if args.times_only and not args.times_markdown:
        p.error("--times-only needs --times-markdown FILE")
    if args.times_only:
        return write_times(Path(args.out), paths, Path(args.times_markdown), Path(args.cwd) / SERIES_RUNS,
                           Path(args.series_runs))
    return run_series(paths, Path(args.out), args.cwd, args.all, args.times_markdown, args.series_runs)


if __name__ == "__main__":
    sys.exit(main())
