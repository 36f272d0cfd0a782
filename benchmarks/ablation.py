"""The SynthStreets ablation: every method x several seeds at the ``cpu`` preset.

Usage::

    python benchmarks/ablation.py                          # 5 methods x seeds 0 1 2, runs/ablation
    python benchmarks/ablation.py --seeds 0 --methods source_only pfr_adv
    python benchmarks/ablation.py --jobs 2 --threads 1     # two runs at a time, one thread each
    python benchmarks/ablation.py -- --lambda-pfr 0.3       # extra options for every run
    python benchmarks/ablation.py --table1                 # + the four Table-1 baselines, runs/table1
    python benchmarks/ablation.py --collect runs/series --save benchmarks/results/ablation.json
    python benchmarks/ablation.py --table1 --collect runs/table1 --save benchmarks/results/table1.json
    python benchmarks/ablation.py --render benchmarks/results/ablation.json --markdown
    python benchmarks/ablation.py --readme                 # rewrite the README's generated tables

``--collect DIR`` trains nothing: it reads finished runs, in the sweep's layout
(``DIR/method={method}_seed={seed}``, what ``make sweep SPEC=sweeps/table1.yaml`` writes) or the
notebooks' (``DIR/{method}_s{seed}``, what notebooks 03-07 train with the same preset), and checks
that each is a finished ``cpu``-preset run of that method and seed. ``--save FILE`` writes the
summary (per-seed numbers, per-class means, wall times) to a file to commit; ``--render FILE``
prints the table of a saved summary without any run; ``--markdown`` prints the README's table
style. The README's result and benchmark tables are generated: ``--readme`` rewrites each block
between ``<!-- name:begin -->`` and ``<!-- name:end -->`` from its committed file in
``benchmarks/results/`` (:data:`README_BLOCKS`: the four results tables rendered from this
benchmark's JSON summaries, and the ``--markdown`` files of ``step_time.py``, ``synth_gap.py``,
``synth_speed.py`` and ``data_pipeline.py`` pasted as they are), and ``tests/test_docs_results.py`` checks that the
README matches them.

Each run is ``python -m pfrlib.train --preset cpu --method M --seed S --out OUT/method=M_seed=S``,
the layout of the shipped sweep ``sweeps/ablation.yaml`` (``python -m pfrlib.sweep``): either
reuses the other's finished runs (``--table1``: nine methods in ``runs/table1``, the layout of
``sweeps/table1.yaml``). A run whose ``final.json`` exists and whose saved
``config.json`` is what this command would train is reused (``--force`` retrains; a run made
with another preset or other options is retrained). Prints the table of target (and
source) val mIoU, mean +- std over seeds (sample std, ``ddof=1``), the per-run wall time, and the
share of the source-only -> oracle gap that each adaptation method closes:
``(method - source_only) / (oracle - source_only)``. Writes ``OUT/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pfrlib import methods  # noqa: E402

METHODS = methods.names("ladder")
#: Every runnable Table-1 row: the ladder and the baselines that change only the losses.
TABLE1_METHODS = methods.names("ladder") + methods.names("baseline")


def _run_dir(out: Path, method: str, seed: int) -> Path:
    """The sweep's run name for the grid (method, seed): ``method=M_seed=S``."""
    return out / f"method={method}_seed={seed}"


def _run(method: str, seed: int, out: Path, extra: list[str], threads: int | None, force: bool) -> dict:
    from pfrlib.config import config_from_argv
    from pfrlib.nbtools import same_configuration

    run_dir = _run_dir(out, method, seed)
    final = run_dir / "final.json"
    args = ["--preset", "cpu", "--method", method, "--seed", str(seed),
            "--out", str(run_dir), "--no-progress", "--overwrite", *extra]
    if threads:
        args += ["--num-threads", str(threads)]
    if final.exists() and not force and same_configuration(config_from_argv(args), run_dir):
        return json.loads(final.read_text())
    cmd = [sys.executable, "-m", "pfrlib.train", *args]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(final.read_text())
    result["process_wall_s"] = time.perf_counter() - t0
    final.with_name("process_wall.json").write_text(json.dumps({"process_wall_s": result["process_wall_s"]}))
    print(f"  {method} seed {seed}: target {100 * result['target_miou']:.1f}, "
          f"{result['process_wall_s']:.0f} s", file=sys.stderr, flush=True)
    return result


def summarize(results: dict[str, list[dict]]) -> tuple[str, dict]:
    """Markdown table and a JSON summary from ``{method: [final.json, ...]}`` (``pfrlib.metrics.ladder``)."""
    from pfrlib.metrics import ladder

    target = ladder({m: [100 * r["target_miou"] for r in runs] for m, runs in results.items()})
    source = ladder({m: [100 * r["source_miou"] for r in runs] for m, runs in results.items()})
    summary: dict = {}
    lines = ["| method | target mIoU (mean +- std) | per seed | source mIoU | gap closed | wall time per run (s) |",
             "|---|---|---|---|---|---|"]
    for m, runs in results.items():
        t, s_ = target[m], source[m]
        walls = [r.get("process_wall_s", r["wall_time_s"]) for r in runs]
        summary[m] = {"target": (t["mean"], t["std"]), "source": (s_["mean"], s_["std"]), "per_seed_target": t["runs"],
                      "seeds": [r["seed"] for r in runs], "wall_s": walls,
                      "per_class_target": _mean_per_class([r["target_val"]["per_class_iou"] for r in runs])}
        gap = "-"
        if m not in ("source_only", "oracle") and t["gap_closed"] == t["gap_closed"]:  # not NaN
            summary[m]["gap_closed"] = t["gap_closed"]
            gap = f"{100 * t['gap_closed']:.0f}%"
        per_seed = ", ".join(f"{v:.1f}" for v in t["runs"])
        lines.append(f"| {m} | {t['mean']:.1f} +- {t['std']:.1f} | {per_seed} | "
                     f"{s_['mean']:.1f} +- {s_['std']:.1f} | {gap} | {', '.join(f'{v:.0f}' for v in walls)} |")
    return "\n".join(lines), summary


ROOT = Path(__file__).resolve().parent.parent

def _mean_per_class(per_class: list[dict]) -> dict:
    """Mean over runs of each class's target IoU, in % (``None`` for classes the data never draws)."""
    out = {}
    for name in per_class[0]:
        values = [p[name] for p in per_class if p.get(name) is not None]
        out[name] = 100 * sum(values) / len(values) if values else None
    return out


#: How the README names each method.
README_LABELS = {
    "source_only": "source only",
    "adaptsegnet": "AdaptSegNet (output-space adversarial, \"Conventional Adapt\")",
    "pfr": "PFR only (Eq. 4)",
    "pfr_adv": "**PFR + adversarial (the paper's method)**",
    "oracle": "oracle (target labels)",
}


#: How the README's Table-1 tables name each row (the paper's row names where it has one).
TABLE1_LABELS = {
    "source_only": "Non-adapted (source only)",
    "adaptsegnet": "AdaptSegNet",
    "pfr": "PFR only (Eq. 4)",
    "pfr_adv": "**PFR (the paper's method)**",
    "oracle": "Oracle (target labels)",
    "clan": "CLAN",
    "fcn_wild": "FCNs in the Wild",
    "road": "ROAD",
    "curriculum": "Curriculum DA",
}


def readme_table(summary: dict) -> str:
    """The README's results table (Markdown) from a summary written by ``--save``."""
    seeds = next(iter(summary.values()))["seeds"]
    lines = [f"| method (Eq. 6) | target mIoU | per seed ({', '.join(map(str, seeds))}) | source-val mIoU "
             "| share of the source-only -> oracle gap closed |", "|---|---|---|---|---|"]
    for m, row in summary.items():
        mean, std = row["target"]
        target = f"{mean:.1f} ± {std:.1f}"
        gap = f"{100 * row['gap_closed']:.0f}%" if "gap_closed" in row else "-"
        if m == "pfr_adv":
            target, gap = f"**{target}**", (f"**{gap}**" if gap != "-" else gap)
        per_seed = ", ".join(f"{v:.1f}" for v in row["per_seed_target"])
        lines.append(f"| {README_LABELS.get(m, m)} | {target} | {per_seed} | {row['source'][0]:.1f} ± {row['source'][1]:.1f} "
                     f"| {gap} |")
    return "\n".join(lines)


def _collect(folder: Path, methods, seeds) -> dict[str, list[dict]]:
    """Finished runs in ``folder`` (nothing is trained): the sweep's layout
    ``folder/method={m}_seed={s}`` (``make sweep``) or the notebooks' ``folder/{m}_s{s}``."""
    results: dict[str, list[dict]] = {m: [] for m in methods}
    for m in methods:
        for s in seeds:
            run = _run_dir(folder, m, s)
            if not run.is_dir():
                run = folder / f"{m}_s{s}"
            if not (run / "final.json").is_file():
                raise FileNotFoundError(f"no finished run of {m}, seed {s} in {folder}: expected "
                                        f"{_run_dir(folder, m, s).name}/final.json or {m}_s{s}/final.json")
            final = json.loads((run / "final.json").read_text())
            config = json.loads((run / "config.json").read_text())
            if final.get("method") != m or final.get("seed") != s or final.get("preset") != "cpu":
                raise ValueError(f"{run} is not a cpu-preset {m} run of seed {s}: {final.get('preset')}, "
                                 f"{final.get('method')}, {final.get('seed')}")
            if config.get("optim", {}).get("iterations") != final.get("iterations"):
                raise ValueError(f"{run} did not finish its iterations")
            wall = run / "process_wall.json"
            if wall.exists():
                final["process_wall_s"] = json.loads(wall.read_text())["process_wall_s"]
            results[m].append(final)
    return results


#: The README's generated tables: ``{marker: (committed results file, table style, methods or None for all)}``;
#: style ``pasted`` is another benchmark's ``--markdown`` output, copied as it is.
#: ``python benchmarks/ablation.py --readme`` rewrites each block between ``<!-- marker:begin -->`` and
#: ``<!-- marker:end -->``; ``tests/test_docs_results.py`` checks the README matches.
README_BLOCKS = {
    "ablation": ("benchmarks/results/ablation.json", "ladder", None),
    "ablation_heldout": ("benchmarks/results/table1_heldout.json", "ladder", METHODS),
    "table1": ("benchmarks/results/table1.json", "table1", None),
    "table1_heldout": ("benchmarks/results/table1_heldout.json", "table1_timed", None),
    # other benchmarks' --markdown files, pasted unchanged
    "step_time_cpu": ("benchmarks/results/step_time_cpu.md", "pasted", None),
    "synth_gap": ("benchmarks/results/synth_gap.md", "pasted", None),
    "synth_speed": ("benchmarks/results/synth_speed.md", "pasted", None),
    "data_pipeline": ("benchmarks/results/data_pipeline.md", "pasted", None),
}


def table1_table(summary: dict, walls: bool = False) -> str:
    """The README's Table-1 (SynthStreets edition) table from a saved summary: every row with its
    spread, per-seed values, source mIoU, share of the gap closed and (``walls``) each run's
    wall time."""
    seeds = next(iter(summary.values()))["seeds"]
    lines = [f"| method | target mIoU | per seed ({', '.join(map(str, seeds))}) | source-val mIoU | gap closed |"
             + (" wall time per run (s) |" if walls else ""), "|---|---|---|---|---|" + ("---|" if walls else "")]
    for m, row in summary.items():
        gap = f"{100 * row['gap_closed']:.0f}%" if "gap_closed" in row else "-"
        per_seed = ", ".join(f"{v:.1f}" for v in row["per_seed_target"])
        times = ", ".join(f"{v:.0f}" for v in row["wall_s"])
        lines.append(f"| {TABLE1_LABELS.get(m, m)} | {row['target'][0]:.1f} ± {row['target'][1]:.1f} | {per_seed} "
                     f"| {row['source'][0]:.1f} ± {row['source'][1]:.1f} | {gap} |" + (f" {times} |" if walls else ""))
    return "\n".join(lines)


def readme_block(marker: str, root: Path = ROOT) -> str:
    """The Markdown of one generated README block (see :data:`README_BLOCKS`)."""
    path, style, methods = README_BLOCKS[marker]
    if style == "pasted":
        return (root / path).read_text().strip()
    summary = json.loads((root / path).read_text())
    if methods is not None:
        summary = {m: summary[m] for m in methods}
    if style == "ladder":
        return readme_table(summary)
    return table1_table(summary, walls=style == "table1_timed")


def update_readme(readme: Path = ROOT / "README.md") -> list[str]:
    """Rewrite every generated block of the README from its committed results file; returns the
    markers whose block changed. A marker missing from the README is an error."""
    import re

    text = readme.read_text()
    changed = []
    for marker in README_BLOCKS:
        pattern = re.compile(rf"(<!-- {marker}:begin -->\n)(.*?)\n?(<!-- {marker}:end -->)", re.S)
        m = pattern.search(text)
        if m is None:
            raise ValueError(f"{readme} has no <!-- {marker}:begin --> ... <!-- {marker}:end --> block")
        new = readme_block(marker, readme.parent)
        if m.group(2) != new:
            changed.append(marker)
        text = text[:m.start()] + m.group(1) + new + "\n" + m.group(3) + text[m.end():]
    tmp = readme.with_name(readme.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, readme)  # atomic: an interrupted rewrite never leaves half a README
    return changed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", nargs="+", default=None, help=f"default: {' '.join(METHODS)}")
    p.add_argument("--table1", action="store_true",
                   help=f"every runnable Table-1 row ({' '.join(TABLE1_METHODS)}); default --out runs/table1")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--out", default=None, help="default: runs/ablation (runs/table1 with --table1)")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1: honest wall times)")
    p.add_argument("--threads", type=int, default=None, help="--num-threads for each run")
    p.add_argument("--force", action="store_true", help="retrain runs that already have final.json")
    p.add_argument("--collect", default=None, metavar="DIR",
                   help="read finished runs DIR/{method}_s{seed} (the notebooks' layout) instead of training")
    p.add_argument("--save", default=None, metavar="FILE", help="also write the summary to FILE")
    p.add_argument("--render", default=None, metavar="FILE", help="print the table of a saved summary; no runs")
    p.add_argument("--markdown", action="store_true", help="print the README's table")
    p.add_argument("--readme", action="store_true",
                   help="rewrite the README's generated tables from the committed results files; no runs")
    p.add_argument("extra", nargs="*", help="options passed to every pfrlib.train run (after --)")
    args = p.parse_args(argv)
    methods_given = args.methods is not None
    if args.methods is None:
        args.methods = list(TABLE1_METHODS if args.table1 else METHODS)

    def _print(summary: dict) -> None:
        if methods_given:
            summary = {m: summary[m] for m in args.methods}
        table1 = args.table1 or len(summary) > len(METHODS)
        if not args.markdown:
            print(json.dumps(summary, indent=2))
        else:
            print(table1_table(summary, walls=True) if table1 else readme_table(summary))

    if args.readme:
        changed = update_readme()
        print(f"README.md: {', '.join(changed) or 'no'} table(s) changed")
        return 0
    if args.render:
        _print(json.loads(Path(args.render).read_text()))
        return 0
    if args.collect:
        try:
            results = _collect(Path(args.collect), args.methods, args.seeds)
        except (OSError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        table, summary = summarize(results)
        if args.save:
            Path(args.save).parent.mkdir(parents=True, exist_ok=True)
            Path(args.save).write_text(json.dumps(summary, indent=2) + "\n")
        if args.markdown:
            _print(summary)
        else:
            print(table)
        return 0
    out = Path(args.out or ("runs/table1" if args.table1 else "runs/ablation"))
    jobs = [(m, s) for m in args.methods for s in args.seeds]
    print(f"{len(jobs)} runs -> {out}", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {(m, s): pool.submit(_run, m, s, out, args.extra, args.threads, args.force) for m, s in jobs}
        results: dict[str, list[dict]] = {m: [] for m in args.methods}
        for (m, s), fut in futures.items():
            r = fut.result()
            wall = _run_dir(out, m, s) / "process_wall.json"
            if "process_wall_s" not in r and wall.exists():
                r["process_wall_s"] = json.loads(wall.read_text())["process_wall_s"]
            results[m].append(r)
    table, summary = summarize(results)
    print(f"\nSynthStreets source -> target, cpu preset, seeds {args.seeds} (target val mIoU, %)\n")
    print(readme_table(summary) if args.markdown else table)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
