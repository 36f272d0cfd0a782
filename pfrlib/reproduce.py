"""``make reproduce``: run the notebook series headless and report as it goes.

Each notebook runs through papermill with its default parameters (``--cwd notebooks``); the
executed copies go to ``runs/notebooks/`` and the figures the notebooks write to ``figures/``,
never over a committed notebook. The report has one line per notebook as it starts (what it
trains), a line for each run it starts, finishes or reuses (read from the notebook's own
output as it arrives), its elapsed time when done, and a closing summary::

    python -m pfrlib.reproduce                  # all notebooks/[0-9][0-9]_*.ipynb
    python -m pfrlib.reproduce notebooks/03_source_only_baseline.ipynb --out runs/notebooks
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

__all__ = ["WHAT_IT_TRAINS", "run_notebook", "main"]

#: What each notebook of the series trains (the report's first line for it).
WHAT_IT_TRAINS: dict[str, str] = {
    "01_gram_matrices": "nothing (Gram matrices of a random network)",
    "02_feature_taps": "a short source-only run",
    "03_source_only_baseline": "source only and the oracle, seed 0",
    "04_pfr_alignment": "PFR on stage subsets and the loss-scale trap",
    "05_adversarial_output": "the ablation ladder: 5 methods x 3 seeds (finished runs reused)",
    "06_full_gpu_training": "a few stand-in iterations of the paper preset (no GPU or GTA5 needed)",
    "07_evaluation_and_figures": "the four Table-1 baselines (CLAN, FCNs in the Wild, ROAD, Curriculum DA) x 3 seeds, "
                                 "two at a time; reuses the runs of 03-05",
}

# lines of a notebook's output worth reporting live: runs started, finished, resumed or reused
_REPORT = re.compile(r"^\s*(training \d+ run|trained |resumed |resuming |reusing )")
# the kernel's transport notice (it talks to papermill over localhost): noise in a report
_NOISE = re.compile(r"Kernel is running over TCP without encryption")


def _fmt(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def run_notebook(path: Path, out: Path, cwd: Path, python: str = sys.executable) -> tuple[bool, float, list[str]]:
    """Execute one notebook with papermill; print its run lines as they come.

    Returns ``(ok, seconds, tail)``: ``tail`` holds the last lines of papermill's log (for an
    error report).
    """
    cmd = [python, "-m", "papermill", "--cwd", str(cwd), "-k", "python3", "--log-output", "--log-level", "INFO",
           "--no-progress-bar", str(path), str(out)]
    start = time.perf_counter()
    tail: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            if _NOISE.search(line):
                continue
            tail = (tail + [line])[-40:]
            if _REPORT.match(line):
                print(f"      {line.strip()}  [{_fmt(time.perf_counter() - start)}]", flush=True)
        proc.wait()
    return proc.returncode == 0, time.perf_counter() - start, tail


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m pfrlib.reproduce``: see the module docstring."""
    p = argparse.ArgumentParser(prog="python -m pfrlib.reproduce", description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", help="notebooks to run (default: notebooks/[0-9][0-9]_*.ipynb)")
    p.add_argument("--out", default="runs/notebooks", help="folder for the executed copies (default: runs/notebooks)")
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
        what = WHAT_IT_TRAINS.get(path.stem, "see the notebook")
        print(f"[{k}/{len(paths)}] {path.stem}: trains {what}  (series so far {_fmt(time.perf_counter() - total_start)})",
              flush=True)
        ok, seconds, tail = run_notebook(path, out_dir / path.name, Path(args.cwd))
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
    print(f"Executed notebooks in {out_dir}/, figures in figures/, each notebook's metrics.json and training "
          "runs under runs/ (runs/series/ is shared by notebooks 03-07).")
    return 0 if all(ok for _, _, ok in done) and len(done) == len(paths) else 1


if __name__ == "__main__":
    sys.exit(main())
