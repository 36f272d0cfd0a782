"""The SynthStreets ablation: every method x several seeds at the ``cpu`` preset.

Usage::

    python benchmarks/ablation.py                          # 5 methods x seeds 0 1 2, runs/ablation
    python benchmarks/ablation.py --seeds 0 --methods source_only pfr_adv
    python benchmarks/ablation.py --jobs 2 --threads 1     # two runs at a time, one thread each
    python benchmarks/ablation.py -- --lambda-pfr 0.3       # extra options for every run
    python benchmarks/ablation.py --table1                 # + the four Table-1 baselines, runs/table1
    python benchmarks/ablation.py --collect runs/series --save benchmarks/results/ablation.json
    python benchmarks/ablation.py --table1 --collect runs/table1 --save benchmarks/results/table1.json
    python benchmarks/ablation.py --methods cycada --seeds 0 1 2 --out runs/table1 --update benchmarks/results/table1.json
    python benchmarks/ablation.py --render benchmarks/results/ablation.json --markdown
    python benchmarks/ablation.py --docs                   # rewrite the generated tables (README, docs/)

``--collect DIR`` trains nothing: it reads finished runs, in the sweep's layout
(``DIR/method={method}_seed={seed}``, what ``make sweep SPEC=sweeps/table1.yaml`` writes) or the
notebooks' (``DIR/{method}_s{seed}``, what notebooks 03-07 train with the same preset), and checks
that each is a finished ``cpu``-preset run of that method and seed. ``--save FILE`` writes the
summary to a file to commit: per method and seed, target-val, target-test (the last model and the
checkpoint chosen on val, where the runs scored them) and source-val mIoU, per-class IoU, wall
times and iterations, the benchmark, each run's folder and the sha256 of its per-image test
confusion matrices (which stay in the run folder; :mod:`pfrlib.evaluation.results_files` gives the
schema), and the calibration the wall times go with (:func:`calibration`); ``--update FILE``
merges the summary of the methods trained or collected now into a saved one (its other rows kept,
rows in the registry's order, the share of the gap closed taken against the file's source-only
and oracle rows, which must be of the same seeds and benchmark), so one row can be added or retrained without
the others; ``--render FILE``
prints the table of a saved summary without any run; ``--markdown`` prints it as Markdown (the
ladder's own style, or Table 1's). The result and benchmark tables of ``README.md`` and
``docs/results.md`` are generated: ``--docs`` (older name ``--readme``) rewrites each block between
``<!-- name:begin -->`` and ``<!-- name:end -->`` from its committed files in ``benchmarks/results/``
(:data:`DOC_BLOCKS`: the Table-1 tables rendered from this benchmark's JSON summaries, the paper's
numbers from ``pfrlib/reference/table1.csv``, and the ``--markdown`` files of ``step_time.py``,
``synth_gap.py``, ``synth_speed.py`` and ``data_pipeline.py`` pasted as they are), and
``tests/docs/test_results_docs.py`` checks that the documents match them; ``--docs`` also draws the
Table-1 figures of ``docs/results.md`` (:data:`DOC_FIGURES`) from the same files.

Each run trains what ``python -m pfrlib.train --preset cpu --method M --seed S`` would, in
``OUT/method=M_seed=S``, launched by :mod:`pfrlib.launch.launcher` (like every sweep): the layout of the shipped sweep ``sweeps/ablation.yaml`` (``python -m pfrlib.sweep``): either
reuses the other's finished runs (``--table1``: nine methods in ``runs/table1``, the layout of
``sweeps/table1.yaml``). A run whose ``final.json`` exists and whose saved
``config.json`` is what this command would train is reused, an interrupted one resumed
(``--force`` retrains; a run made with another preset or other options is retrained). Prints the table of target (and
source) val mIoU, mean +- std over seeds (sample std, ``ddof=1``), the per-run wall time, and the
share of the source-only -> oracle gap that each adaptation method closes:
``(method - source_only) / (oracle - source_only)``. Writes ``OUT/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pfrlib import methods  # noqa: E402
from pfrlib.evaluation.memory_claim import MEMORY_FILES  # noqa: E402

METHODS = methods.names("ladder")
#: Every runnable Table-1 row: the ladder, the baselines that change only the losses and the
#: input-space (image-translation) methods, in the registry's order.
TABLE1_METHODS = methods.table1_names()


def _run_dir(out: Path, method: str, seed: int) -> Path:
    """The sweep's run name for the grid (method, seed): ``method=M_seed=S``."""
    from pfrlib.launch.sweep_spec import run_name

    return out / run_name({"method": method, "seed": seed})


def _job(method: str, seed: int, out: Path, extra: list[str], threads: int | None):
    """One run: ``python -m pfrlib.train --preset cpu --method M --seed S [extra]`` in the sweep's layout."""
    from pfrlib.config.command_line import config_from_argv
    from pfrlib.launch.job import Job

    config = config_from_argv(["--preset", "cpu", "--method", method, "--seed", str(seed), *extra])
    run_dir = _run_dir(out, method, seed)
    return Job(name=run_dir.name, out=run_dir, config=config, threads=threads)


def _run_all(jobs: list, parallel: int, force: bool) -> list[dict]:
    """Train the unfinished runs through the launcher (``force``: all of them); every run's
    ``final.json``, with ``process_wall_s`` (the training process's wall time, kept in
    ``process_wall.json``) for the runs trained now or before."""
    from pfrlib.launch.launcher import LocalBackend, launch

    outcomes = launch(jobs, LocalBackend(jobs=parallel), retrain=force,
                      report=lambda line: print(line, file=sys.stderr, flush=True))
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise RuntimeError(f"{failed[0].job.name} failed: {failed[0].error} (see {failed[0].job.out / 'log.txt'})")
    results = []
    for o in outcomes:
        result, wall = dict(o.final), o.job.out / "process_wall.json"
        if o.status == "finished":
            wall.write_text(json.dumps({"process_wall_s": o.seconds}))
        if wall.exists():
            result["process_wall_s"] = json.loads(wall.read_text())["process_wall_s"]
        results.append(result)
    return results


def calibration() -> dict:
    """The reference machine's calibration (the step-time benchmark's calibration row,
    :func:`pfrlib.teaching.timings.reference_calibration`), which a results file keeps beside the
    wall times: each run's own, timed in its process, is its row's ``calibration_s``, and the
    ratio of the two scales its wall time to the reference machine."""
    from pfrlib.teaching.timings import reference_calibration

    found = reference_calibration(root=ROOT)
    if found is None:
        return {"median_s": None, "from": "no step-time results file holds the reference machine's calibration"}
    seconds, name = found
    return {"median_s": seconds, "from": f"{name}: the calibration row of the reference machine "
                                         f"(benchmarks/step_time.py --add-calibration); each run's own is in "
                                         f"calibration_s"}


def summarize(results: dict[str, list[dict]], folders: dict[str, list[Path]] | None = None) -> tuple[str, dict]:
    """Markdown table and a JSON summary from ``{method: [final.json, ...]}``: the summary's rows are
    :func:`pfrlib.evaluation.results_files.summarize_runs` (the schema the notebooks read); with
    ``folders`` (``{method: [run folder, ...]}``, collected runs) the rows also record the benchmark,
    the run folders relative to the repository root, the sha256 of each run's per-image test
    confusion matrices, and the calibration the wall times go with (:func:`calibration`)."""
    from pfrlib.evaluation.results_files import summarize_runs

    summary = summarize_runs(results, folders=folders, root=ROOT,
                             calibration=None if folders is None else calibration())
    lines = ["| method | target mIoU (mean +- std) | per seed | source mIoU | gap closed | wall time per run (s) |",
             "|---|---|---|---|---|---|"]
    for m, row in summary.items():
        (t_mean, t_std), (s_mean, s_std) = row["target"], row["source"]
        gap = f"{100 * row['gap_closed']:.0f}%" if "gap_closed" in row else "-"
        per_seed = ", ".join(f"{v:.1f}" for v in row["per_seed_target"])
        lines.append(f"| {m} | {t_mean:.1f} +- {t_std:.1f} | {per_seed} | "
                     f"{s_mean:.1f} +- {s_std:.1f} | {gap} | {', '.join(f'{v:.0f}' for v in row['wall_s'])} |")
    return "\n".join(lines), summary


ROOT = Path(__file__).resolve().parent.parent


def merge_summary(saved: dict, new: dict, where: str = "the saved summary") -> dict:
    """``saved`` with the rows of ``new`` added or replaced, in :data:`TABLE1_METHODS` order (then any
    other method); every row's share of the gap closed recomputed against the merged source-only
    and oracle rows. All rows must be of the same seeds (a ValueError naming ``where`` otherwise)."""
    merged = {**saved, **new}
    seeds = {m: row["seeds"] for m, row in merged.items()}
    if len({tuple(v) for v in seeds.values()}) > 1:
        raise ValueError(f"{where}: rows of different seeds cannot be merged: "
                         + ", ".join(f"{m} {v}" for m, v in seeds.items()))
    benchmarks = {m: row.get("benchmark") for m, row in merged.items()}
    if len({json.dumps(b, sort_keys=True) for b in benchmarks.values()}) > 1:
        raise ValueError(f"{where}: rows of different benchmarks (or rows with and without one) cannot be merged: "
                         + ", ".join(f"{m} {b}" for m, b in benchmarks.items()))
    from pfrlib.evaluation.results_files import results_ladder

    order = [m for m in TABLE1_METHODS if m in merged] + [m for m in merged if m not in TABLE1_METHODS]
    merged = {m: dict(merged[m]) for m in order}
    table = results_ladder(merged)  # the gap between the merged file's own source-only and oracle rows
    for m, row in merged.items():
        row.pop("gap_closed", None)
        if m not in ("source_only", "oracle") and table[m]["gap_closed"] == table[m]["gap_closed"]:  # not NaN
            row["gap_closed"] = table[m]["gap_closed"]
    return merged


def _save(summary: dict, save: str | None, update: str | None) -> None:
    """``--save FILE`` (the summary as it is) and ``--update FILE`` (merged into the file's rows)."""
    if save:
        Path(save).parent.mkdir(parents=True, exist_ok=True)
        Path(save).write_text(json.dumps(summary, indent=2) + "\n")
    if update:
        path = Path(update)
        if not path.is_file():
            raise FileNotFoundError(f"--update {path}: no saved summary there (write one with --save)")
        try:
            saved = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"--update {path}: not a JSON summary ({err})") from None
        text = json.dumps(merge_summary(saved, summary, str(path)), indent=2) + "\n"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)


#: The method shown in bold in the tables: the paper's.
PAPERS_METHOD = "pfr_adv"


def _label(method: str, table1: bool = False) -> str:
    """A method's name in a table, from the registry: its title (the ladder) or its Table-1 row name."""
    m = methods.get(method)
    text = (m.table1_row or m.title) if table1 else m.title
    return f"**{text}**" if method == PAPERS_METHOD else text


def readme_table(summary: dict) -> str:
    """The ablation ladder as a Markdown table (``--markdown``) from a summary written by ``--save``."""
    seeds = next(iter(summary.values()))["seeds"]
    lines = [f"| method (Eq. 6) | target mIoU | per seed ({', '.join(map(str, seeds))}) | source-val mIoU "
             "| share of the source-only -> oracle gap closed |", "|---|---|---|---|---|"]
    for m, row in summary.items():
        mean, std = row["target"]
        target = f"{mean:.1f} ± {std:.1f}"
        gap = f"{100 * row['gap_closed']:.0f}%" if "gap_closed" in row else "-"
        if m == PAPERS_METHOD:
            target, gap = f"**{target}**", (f"**{gap}**" if gap != "-" else gap)
        per_seed = ", ".join(f"{v:.1f}" for v in row["per_seed_target"])
        lines.append(f"| {_label(m)} | {target} | {per_seed} | {row['source'][0]:.1f} ± {row['source'][1]:.1f} "
                     f"| {gap} |")
    return "\n".join(lines)


def _collect(folder: Path, methods, seeds) -> tuple[dict[str, list[dict]], dict[str, list[Path]]]:
    """Finished runs in ``folder`` (nothing is trained): the sweep's layout
    ``folder/method={m}_seed={s}`` (``make sweep``) or the notebooks' ``folder/{m}_s{s}``;
    ``({method: [final.json of each seed]}, {method: [its run folder]})``."""
    results: dict[str, list[dict]] = {m: [] for m in methods}
    folders: dict[str, list[Path]] = {m: [] for m in methods}
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
            folders[m].append(run)
    return results, folders


#: The generated tables of the README and ``docs/``: ``{marker: (document, committed source files, style)}``.
#: ``python benchmarks/ablation.py --docs`` (or ``--readme``) rewrites each block between
#: ``<!-- marker:begin -->`` and ``<!-- marker:end -->`` in its document, the only place it appears;
#: ``tests/docs/test_results_docs.py`` checks every document matches. Styles: ``front`` (the README's
#: Table 1: both seed sets and the paper's number, each row once), ``table1`` / ``table1_timed``
#: (one seed set, per seed; ``timed`` adds the wall times), ``pasted`` (another benchmark's
#: ``--markdown`` file, copied as it is). The ablation ladder's five rows are the first rows of
#: each Table-1 table (``ablation.json`` holds the same runs as ``table1.json``'s ladder rows).
DOC_BLOCKS = {
    "table1": ("README.md", ("benchmarks/results/table1.json", "benchmarks/results/table1_heldout.json"), "front"),
    "table1_tuned": ("docs/results.md", ("benchmarks/results/table1.json",), "table1"),
    "table1_heldout": ("docs/results.md", ("benchmarks/results/table1_heldout.json",), "table1_timed"),
    "synth_gap": ("docs/results.md", ("benchmarks/results/synth_gap.md",), "pasted"),
    "synth_speed": ("docs/results.md", ("benchmarks/results/synth_speed.md",), "pasted"),
    "step_time_cpu": ("docs/results.md", ("benchmarks/results/step_time_cpu.md",), "pasted"),
    "data_pipeline": ("docs/results.md", ("benchmarks/results/data_pipeline.md",), "pasted"),
    "memory": ("docs/results.md", ("benchmarks/results/memory.md",), "pasted"),
    "claim_c": ("docs/results.md", tuple(MEMORY_FILES.values()), "claim_c"),
    "dlow_flow": ("docs/results.md", ("benchmarks/results/dlow_flow.md",), "pasted"),
    "reproduce_times": ("docs/teaching.md", ("benchmarks/results/reproduce_times.md",), "pasted"),
    "translation_tuning": ("docs/tuning.md", ("benchmarks/results/translation_tuning.md",), "pasted"),
}

#: The paper's Table-1 row (``method`` column of :data:`PAPER_TABLE`) of each method that has one,
#: among :data:`TABLE1_METHODS`, from the registry (``Method.paper_row``); source only, PFR only and the
#: oracle are not rows of the paper's table.
PAPER_ROWS = {m.name: m.paper_row for m in methods.methods() if m.paper_row is not None and m.name in TABLE1_METHODS}
#: The paper's Table 1 as shipped with the package (GTA5 -> Cityscapes val, mIoU in %).
PAPER_TABLE = "pfrlib/reference/table1.csv"


def paper_results(root: Path = ROOT) -> dict[str, tuple[float, str]]:
    """``{method: (the paper's mIoU, its backbone)}`` for the methods in :data:`PAPER_ROWS`."""
    import csv

    with open(root / PAPER_TABLE, newline="") as f:
        rows = {r["method"]: (float(r["mIoU"]), r["backbone"]) for r in csv.DictReader(f)}
    return {m: rows[name] for m, name in PAPER_ROWS.items()}


def front_table(tuned: dict, heldout: dict, paper: dict[str, tuple[float, str]]) -> str:
    """The README's Table 1 (SynthStreets edition): each row once, the paper's GTA5 -> Cityscapes
    mIoU beside the target-val mIoU (mean ± std) on the tuning seeds and on the held-out seeds,
    and the share of the source-only -> oracle gap closed on each."""
    s1, s2 = (", ".join(map(str, next(iter(t.values()))["seeds"])) for t in (tuned, heldout))
    lines = [f"| method | paper, GTA5 -> Cityscapes | SynthStreets, seeds {s1} | held-out seeds {s2} "
             "| gap closed (tuning / held-out) |", "|---|---|---|---|---|"]

    def gap(row: dict) -> str:
        return f"{100 * row['gap_closed']:.0f}%" if "gap_closed" in row else "-"

    for m, row in tuned.items():
        held = heldout[m]
        ours = [f"{r['target'][0]:.1f} ± {r['target'][1]:.1f}" for r in (row, held)]
        theirs = f"{paper[m][0]:.1f} ({paper[m][1]})" if m in paper else "-"
        if m == PAPERS_METHOD:
            ours, theirs = [f"**{v}**" for v in ours], f"**{theirs}**"
        lines.append(f"| {_label(m, table1=True)} | {theirs} | {ours[0]} | {ours[1]} | {gap(row)} / {gap(held)} |")
    return "\n".join(lines)


def table1_table(summary: dict, walls: bool = False) -> str:
    """A Table-1 (SynthStreets edition) table of one seed set from a saved summary: every row with its
    spread, per-seed values, source mIoU, share of the gap closed and (``walls``) each run's
    wall time."""
    seeds = next(iter(summary.values()))["seeds"]
    lines = [f"| method | target mIoU | per seed ({', '.join(map(str, seeds))}) | source-val mIoU | gap closed |"
             + (" wall time per run (s) |" if walls else ""), "|---|---|---|---|---|" + ("---|" if walls else "")]
    for m, row in summary.items():
        gap = f"{100 * row['gap_closed']:.0f}%" if "gap_closed" in row else "-"
        per_seed = ", ".join(f"{v:.1f}" for v in row["per_seed_target"])
        times = ", ".join(f"{v:.0f}" for v in row["wall_s"])
        lines.append(f"| {_label(m, table1=True)} | {row['target'][0]:.1f} ± {row['target'][1]:.1f} | {per_seed} "
                     f"| {row['source'][0]:.1f} ± {row['source'][1]:.1f} | {gap} |" + (f" {times} |" if walls else ""))
    return "\n".join(lines)


def doc_block(marker: str, root: Path = ROOT) -> str:
    """The Markdown of one generated block (see :data:`DOC_BLOCKS`), from the files under ``root``."""
    _, sources, style = DOC_BLOCKS[marker]
    if style == "pasted":
        return (root / sources[0]).read_text().strip()
    if style == "claim_c":  # a file not measured yet is said to be missing, with its command
        from pfrlib.evaluation.memory_claim import MEASURE_COMMANDS, claim_c_markdown

        files = [({"cpu": "On the CPU", "cuda": "On a GPU"}[kind], json.loads((root / path).read_text()) if (root / path).is_file() else None,
                  MEASURE_COMMANDS[kind]) for kind, path in MEMORY_FILES.items()]
        return claim_c_markdown(files)
    summaries = [json.loads((root / path).read_text()) for path in sources]
    if style == "front":
        return front_table(*summaries, paper_results(root))
    return table1_table(summaries[0], walls=style == "table1_timed")


#: The generated figures of ``docs/results.md``: ``{figure: (committed summary, seeds in words)}``,
#: drawn by ``--docs`` from the same files as the tables (so a row added with ``--update`` appears
#: in both); the sweeps' own plots stay in their run folders.
DOC_FIGURES = {
    "figures/table1_per_class_iou.png": ("benchmarks/results/table1.json", "seeds 0-2"),
    "figures/table1_heldout_per_class_iou.png": ("benchmarks/results/table1_heldout.json", "held-out seeds 5-7"),
}


def draw_figures(root: Path = ROOT) -> list[str]:
    """Draw every figure of :data:`DOC_FIGURES` from its committed summary: Table 1 as a heatmap,
    one row per method (the registry's Table-1 name), one column per class SynthStreets draws,
    mean target IoU over the seeds. Returns the figures written."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from pfrlib.viz.results import plot_iou_heatmap
    from pfrlib.viz.figure import save_figure

    written = []
    for figure, (source, seeds) in DOC_FIGURES.items():
        summary = json.loads((root / source).read_text())
        rows = {_label(m, table1=True).strip("*"): row["per_class_target"] for m, row in summary.items()}
        fig = plot_iou_heatmap(rows, highlight=_label(PAPERS_METHOD, table1=True).strip("*"),
                               title=f"Table 1, SynthStreets edition: target val IoU (%), mean over {seeds}")
        save_figure(fig, root / figure)
        written.append(figure)
    return written


def update_docs(root: Path = ROOT) -> list[str]:
    """Rewrite every generated block of the README and ``docs/`` from its committed files (each
    document atomically: an interrupted rewrite never leaves half a file); returns the markers
    whose block changed. A marker missing from its document is an error naming both."""
    import re

    changed = []
    for doc in dict.fromkeys(d for d, _, _ in DOC_BLOCKS.values()):
        path = root / doc
        text = path.read_text()
        for marker in (m for m, (d, _, _) in DOC_BLOCKS.items() if d == doc):
            pattern = re.compile(rf"(<!-- {marker}:begin -->\n)(.*?)\n?(<!-- {marker}:end -->)", re.S)
            m = pattern.search(text)
            if m is None:
                raise ValueError(f"{path} has no <!-- {marker}:begin --> ... <!-- {marker}:end --> block")
            new = doc_block(marker, root)
            if m.group(2) != new:
                changed.append(marker)
            text = text[:m.start()] + m.group(1) + new + "\n" + m.group(3) + text[m.end():]
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
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
    p.add_argument("--update", default=None, metavar="FILE",
                   help="merge the rows of these methods into the saved summary FILE (its other rows kept)")
    p.add_argument("--render", default=None, metavar="FILE", help="print the table of a saved summary; no runs")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--docs", "--readme", dest="docs", action="store_true",
                   help="rewrite the generated tables of README.md and docs/ from the committed results files; "
                        "no runs (--readme: the older name)")
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

    if args.docs:
        changed = update_docs()
        docs = ", ".join(dict.fromkeys(d for d, _, _ in DOC_BLOCKS.values()))
        print(f"{docs}: {', '.join(changed) or 'no'} table(s) changed; drew {', '.join(draw_figures())}")
        return 0
    if args.render:
        _print(json.loads(Path(args.render).read_text()))
        return 0
    if args.collect:
        try:
            results, folders = _collect(Path(args.collect), args.methods, args.seeds)
            table, summary = summarize(results, folders)
        except (OSError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        try:
            _save(summary, args.save, args.update)
        except (OSError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if args.markdown:
            _print(summary)
        else:
            print(table)
        return 0
    out = Path(args.out or ("runs/table1" if args.table1 else "runs/ablation"))
    pairs = [(m, s) for m in args.methods for s in args.seeds]
    print(f"{len(pairs)} runs -> {out}", file=sys.stderr)
    finals = _run_all([_job(m, s, out, args.extra, args.threads) for m, s in pairs], max(1, args.jobs), args.force)
    results: dict[str, list[dict]] = {m: [] for m in args.methods}
    folders: dict[str, list[Path]] = {m: [] for m in args.methods}
    for (m, s), final in zip(pairs, finals):
        results[m].append(final)
        folders[m].append(_run_dir(out, m, s))
    table, summary = summarize(results, folders)
    print(f"\nSynthStreets source -> target, cpu preset, seeds {args.seeds} (target val mIoU, %)\n")
    print(readme_table(summary) if args.markdown else table)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    try:
        _save(summary, args.save, args.update)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
