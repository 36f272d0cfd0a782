"""``python -m pfrlib.sweep SPEC.yaml``: run a parameter sweep through the launcher, then aggregate it.

What a sweep guarantees (resumable, checked before it starts, failures recorded, nothing finished lost) is
:mod:`pfrlib.launch.sweep`'s; the spec's format is :mod:`pfrlib.launch.sweep_spec`'s. ``make sweep SPEC=...``
runs this command.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from pfrlib.launch.job import HELD
from pfrlib.launch.launcher import add_launcher_arguments, backend_from_args
from pfrlib.launch.sweep import claim_root, run_sweep
from pfrlib.launch.sweep_report import aggregate
from pfrlib.launch.sweep_spec import load_spec


def _say(line: str) -> None:
    print(line, flush=True)  # each line as it happens, also into a pipe or a log file


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pfrlib.sweep", description="Run a parameter sweep and aggregate it.")
    p.add_argument("spec", help="sweep YAML file (see pfrlib/launch/sweep_spec.py)")
    p.add_argument("--root", default="runs", help="where runs/<name>/ goes (default: runs)")
    p.add_argument("--jobs", type=int, default=None, help="runs at once (default: cores / threads)")
    add_launcher_arguments(p)
    p.add_argument("--dry-run", action="store_true", help="print what each unfinished run would do")
    p.add_argument("--aggregate-only", action="store_true", help="do not run; aggregate what is finished")
    p.add_argument("--share-dir", action="store_true",
                   help="let this spec write into runs/<name>/ although another spec with the same name owns it")
    args = p.parse_args(argv)
    try:
        spec = load_spec(args.spec)
        backend = backend_from_args(args, jobs=args.jobs or spec.jobs)
        statuses = [] if args.aggregate_only else run_sweep(spec, args.root, args.jobs, args.dry_run, log=_say,
                                                            share_dir=args.share_dir, backend=backend)
        if args.dry_run:
            return 0
        if args.aggregate_only:
            claim_root(spec, args.root, share=args.share_dir, write=False)
        result = aggregate(spec, args.root)
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the running runs were stopped; run the sweep again to resume them from their "
              "last checkpoint (Slurm jobs keep running: the sweep follows them again)", file=sys.stderr)
        return 130
    print(result["markdown"])
    print(f"wrote {result['dir']}/results.csv, summary.csv, summary.md and plots")
    for w in result["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    held = [s["name"] for s in statuses if s.get("status") == HELD]
    if held:
        print(f"{len(held)} run(s) in progress in another sweep, left to it: {held} (run this sweep again once that "
              f"one has finished, to aggregate them)")
    failed = [s["name"] for s in statuses if not s.get("ok", True) and s.get("status") != HELD]
    if failed:
        print(f"{len(failed)} run(s) failed: {failed} (their status.json has the error)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
