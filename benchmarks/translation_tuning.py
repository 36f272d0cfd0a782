"""Tuning the `cpu` preset of the image-translation rows (CyCADA, DLOW, TGCF-DA) on seeds 0-4.

Each variant changes one thing against the preset as it stood (``base``) and is trained on the
tuning seeds 0-4 only (the held-out seeds 5-7 are never looked at here). The rule, fixed before
any run: a variant is **adopted** when it raises the method's mean target-val mIoU by at least
:data:`MIN_GAIN` points *and* beats ``base`` on at least :data:`MIN_WINS` of the 5 seeds.

Usage::

    python benchmarks/translation_tuning.py --run --out runs/tune_translation --jobs 2   # train (resumable)
    python benchmarks/translation_tuning.py --collect runs/tune_translation \\
        --json benchmarks/results/translation_tuning.json --markdown benchmarks/results/translation_tuning.md
    python benchmarks/ablation.py --docs     # pastes the Markdown into docs/tuning.md

``--run`` trains every unfinished run through the project's launcher (``pfrlib.launch.launcher``) in
``OUT/<variant>/method=M_seed=S`` with ``python -m pfrlib.train --preset cpu --method M --seed S
[the variant's options]``, one thread each; ``--only`` restricts it to some variants.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pfrlib.io import write_json  # noqa: E402

#: The tuning seeds (the held-out seeds 5-7 stay out of every choice).
SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
#: The adoption rule: at least this mean gain (mIoU points) ...
MIN_GAIN = 1.0
#: ... and at least this many of the seeds won.
MIN_WINS = 4


@dataclass(frozen=True)
class Variant:
    """One configuration tried: ``options`` (command-line options of ``pfrlib.train``) for ``method``."""

    name: str
    method: str
    options: tuple[str, ...]
    what: str


#: Every variant tried, the preset as it stood first (``base``; DLOW's stage 2 was then unweighted).
VARIANTS: tuple[Variant, ...] = (
    Variant("base", "cycada", (), "the preset as sized by cost"),
    Variant("base", "dlow", ("--dlow-adv-weighting", "none"), "the preset as sized by cost (stage 2 unweighted)"),
    Variant("base", "tgcf_da", (), "the preset as sized by cost (lambda_consistency 10)"),
    Variant("tgcf_consistency100", "tgcf_da", ("--lambda-consistency", "100"), "consistency weight 100 (10x)"),
    Variant("tgcf_consistency1", "tgcf_da", ("--lambda-consistency", "1"), "consistency weight 1 (1/10)"),
    Variant("iters600", "cycada", ("--translation-iterations", "600"), "600 translator iterations (3x)"),
    Variant("iters600", "tgcf_da", ("--translation-iterations", "600"), "600 translator iterations (3x)"),
    Variant("cycada_semantic3", "cycada", ("--lambda-semantic", "3"), "semantic consistency weight 3 (3x)"),
    Variant("dlow_sqrt", "dlow", ("--dlow-adv-weighting", "sqrt_one_minus_z"),
            "stage 2's adversarial term weighted by sqrt(1 - z) (DLOW's paper)"),
    Variant("dlow_sqrt_same_mean", "dlow", ("--dlow-adv-weighting", "sqrt_one_minus_z", "--lambda-adv", "0.006"),
            "weighted by sqrt(1 - z), lambda_adv 0.006 (the same mean weight: sqrt(1 - z) averages 0.65 over the sets)"),
)


def run_dir(out: Path, variant: Variant, seed: int) -> Path:
    """``OUT/<variant>/method=M_seed=S`` (the sweeps' run name)."""
    from pfrlib.launch.sweep_spec import run_name

    return out / variant.name / run_name({"method": variant.method, "seed": seed})


def jobs(out: Path, variants: tuple[Variant, ...] = VARIANTS, seeds: tuple[int, ...] = SEEDS, threads: int = 1) -> list:
    """The launcher's jobs of ``variants`` x ``seeds`` (options checked by the command line's parser)."""
    from pfrlib.config.command_line import config_from_argv
    from pfrlib.launch.job import Job

    out_jobs = []
    for v in variants:
        for s in seeds:
            config = config_from_argv(["--preset", "cpu", "--method", v.method, "--seed", str(s), *v.options])
            path = run_dir(out, v, s)
            out_jobs.append(Job(name=f"{v.name}/{path.name}", out=path, config=config, threads=threads))
    return out_jobs


def collect(out: Path, variants: tuple[Variant, ...] = VARIANTS, seeds: tuple[int, ...] = SEEDS) -> list[dict]:
    """One row per variant: its per-seed target-val mIoU (%) and the comparison with ``base`` of its
    method (mean gain, seeds won, adopted by the rule). A variant with missing runs is an error naming them."""
    per_seed: dict[tuple[str, str], list[float]] = {}
    for v in variants:
        values = []
        for s in seeds:
            final = run_dir(out, v, s) / "final.json"
            if not final.is_file():
                raise FileNotFoundError(f"{final}: run {v.name} {v.method} seed {s} has not finished "
                                        f"(python benchmarks/translation_tuning.py --run --out {out})")
            record = json.loads(final.read_text())
            if record.get("method") != v.method or record.get("seed") != s:
                raise ValueError(f"{final}: expected method {v.method!r}, seed {s}; found {record.get('method')!r}, "
                                 f"{record.get('seed')!r}")
            values.append(100 * record["target_miou"])
        per_seed[(v.name, v.method)] = values
    rows = []
    for v in variants:
        values = per_seed[(v.name, v.method)]
        row = {"variant": v.name, "method": v.method, "what": v.what, "options": list(v.options),
               "seeds": list(seeds), "per_seed_target": values, "mean": statistics.mean(values)}
        base = per_seed.get(("base", v.method))
        if v.name != "base" and base is not None:
            wins = sum(a > b for a, b in zip(values, base))
            gain = row["mean"] - statistics.mean(base)
            row.update(gain=gain, wins=wins, adopted=gain >= MIN_GAIN and wins >= MIN_WINS)
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    """The table of ``docs/tuning.md``: every variant, per seed, and the rule's verdict."""
    seeds = ", ".join(map(str, rows[0]["seeds"]))
    lines = [f"| method | variant | per seed ({seeds}) | mean | vs base | seeds won | adopted |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        per = ", ".join(f"{x:.1f}" for x in r["per_seed_target"])
        if "gain" in r:
            cmp, won, verdict = f"{r['gain']:+.1f}", f"{r['wins']} of {len(r['seeds'])}", "yes" if r["adopted"] else "no"
        else:
            cmp = won = verdict = "-"
        lines.append(f"| {r['method']} | {r['what']} | {per} | {r['mean']:.1f} | {cmp} | {won} | {verdict} |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", action="store_true", help="train every unfinished run of the variants")
    p.add_argument("--out", type=Path, default=Path("runs/tune_translation"), help="the runs' root (--run)")
    p.add_argument("--only", nargs="+", metavar="VARIANT", help="these variants only (and base)")
    p.add_argument("--jobs", type=int, default=2, help="runs at a time (--run)")
    p.add_argument("--collect", type=Path, metavar="DIR", help="read the finished runs under DIR")
    p.add_argument("--json", type=Path, help="write the rows to this file (--collect)")
    p.add_argument("--markdown", type=Path, help="write the Markdown table to this file (--collect)")
    args = p.parse_args(argv)
    names = {v.name for v in VARIANTS}
    unknown = sorted(set(args.only or ()) - names)
    if unknown:
        p.error(f"--only: unknown variant(s) {unknown}; expected some of {sorted(names)}")
    chosen = tuple(v for v in VARIANTS if args.only is None or v.name in args.only or v.name == "base")
    if not args.run and args.collect is None:
        p.error("nothing to do: give --run and/or --collect DIR")
    if args.run:
        from pfrlib.launch.launcher import LocalBackend, launch

        outcomes = launch(jobs(args.out, chosen), LocalBackend(jobs=max(1, args.jobs)),
                          report=lambda line: print(line, file=sys.stderr, flush=True))
        failed = [o for o in outcomes if not o.ok]
        if failed:
            print(f"{failed[0].job.name} failed: {failed[0].error}", file=sys.stderr)
            return 1
    if args.collect is not None:
        rows = collect(args.collect, chosen)
        table = markdown(rows)
        print(table)
        if args.json:
            write_json(args.json, {"seeds": list(SEEDS), "min_gain": MIN_GAIN, "min_wins": MIN_WINS, "rows": rows})
        if args.markdown:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)
            args.markdown.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
