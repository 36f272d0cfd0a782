"""Label shift in the predictions: where adaptation moves the target's predicted class distribution.

Reads finished runs (their per-image test confusions; trains nothing) and writes, per group of
runs (one method, or one method on a changed target shift), the test mIoU and the total-variation
distance of the predicted class distribution on the target test set to the target's true one and
to the source's (:mod:`pfrlib.evaluation.label_shift`), and the per-class shares. The source's
true shares are counted on its own label maps (300 source training images of the benchmark).

Two named sets of groups:

* ``tuning``: the bounds and the ladder on the tuning seeds 0-4 at the ``cpu`` preset's adopted
  weights (``sweeps/tuning/``: ``tune_bounds``, ``tune_adaptsegnet``, ``tune_pfr_adv``, ``tune_pfr``);
* ``shift``: source only and AdaptSegNet with the target's camera and class prior set back to the
  source's, alone and together (``sweeps/shift_label.yaml``), beside the full shift's runs.

::

    python benchmarks/label_shift.py --set tuning --root runs            # print the tables
    python benchmarks/label_shift.py --set tuning --root runs --save     # + benchmarks/results/label_shift_tuning.{json,md}
    python benchmarks/label_shift.py --set tuning --docs                 # docs/tuning.md's block from the saved file

A group whose runs are not all finished is left out and named.
"""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from pfrlib import methods  # noqa: E402
from pfrlib.config.train_config import TrainConfig  # noqa: E402
from pfrlib.data.synthstreets.class_facts import benchmark_class_facts  # noqa: E402
from pfrlib.data.synthstreets.dataset import CLASS_IDS, DEFAULT_CLASSES  # noqa: E402
from pfrlib.engine.record import FINAL_JSON  # noqa: E402
from pfrlib.evaluation.label_shift import ShiftRow, paired_markdown, rows_markdown, shares_markdown, shift_rows  # noqa: E402
from pfrlib.evaluation.tuning import TUNING_SEEDS  # noqa: E402
from pfrlib.io import read_json, write_block, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "tuning.md"
#: Source images whose labels give the source's true class shares.
SOURCE_IMAGES = 300
#: The seeds every group must have finished (default; ``--seeds`` changes it).
SEEDS = TUNING_SEEDS


def _tuned(method: str, sweep: str) -> str:
    """The run folders' glob of ``method``'s tuning sweep at the ``cpu`` preset's value of its weight."""
    weight = methods.get(method).tuned_weight
    value = TrainConfig.preset("cpu", method=method).flat()[weight]
    return f"{sweep}/{weight}={value:g}_seed={{seed}}"


#: ``--set shift``'s comparisons: ``(target, method group, baseline group)``.
SHIFT_TARGETS = ("full shift", "full,camera=0", "full,class_prior=0", "full,camera=0,class_prior=0")


def pairs_of(groups) -> list[tuple[str, str, str]]:
    """AdaptSegNet against source only on each target of ``--set shift`` whose two groups are there."""
    return [(t, f"AdaptSegNet, {t}", f"source only, {t}") for t in SHIFT_TARGETS
            if f"AdaptSegNet, {t}" in groups and f"source only, {t}" in groups]


def group_sets() -> dict[str, dict[str, str]]:
    """``{set: {group: run folder pattern with {seed}, relative to --root}}``."""
    shift = {"source only, full shift": "tune_bounds/method=source_only_seed={seed}",
             "AdaptSegNet, full shift": _tuned("adaptsegnet", "tune_adaptsegnet")}
    for target in SHIFT_TARGETS[1:]:
        changed = target.split(",", 1)[1]
        for method, label in (("source_only", "source only"), ("adaptsegnet", "AdaptSegNet")):
            shift[f"{label}, full,{changed}"] = f"shift_label/seed={{seed}}_synth_shift=full,{changed}_method={method}"
    return {
        "tuning": {"source only": "tune_bounds/method=source_only_seed={seed}",
                   "AdaptSegNet": _tuned("adaptsegnet", "tune_adaptsegnet"),
                   "PFR only": _tuned("pfr", "tune_pfr"),
                   "PFR + adversarial": _tuned("pfr_adv", "tune_pfr_adv"),
                   "oracle": "tune_bounds/method=oracle_seed={seed}"},
        "shift": shift,
    }


def collect(groups: dict[str, str], root: Path, seeds=SEEDS) -> tuple[dict[str, list[str]], list[str]]:
    """The finished runs of each group (every seed finished) and the names of the groups left out."""
    found, pending = {}, []
    for name, pattern in groups.items():
        runs = [sorted(glob.glob(str(root / pattern.format(seed=s)))) for s in seeds]
        if all(len(r) == 1 and (Path(r[0]) / FINAL_JSON).is_file() for r in runs):
            found[name] = [r[0] for r in runs]
        else:
            pending.append(name)
    return found, pending


def source_shares(classes: int = DEFAULT_CLASSES) -> np.ndarray:
    facts = benchmark_class_facts(images=SOURCE_IMAGES, classes=classes, domain="source", split="train")
    return np.array([f["share"] for f in facts.values()]) / 100


def markdown(rows: list[ShiftRow], source: np.ndarray, pending: list[str], seeds=SEEDS,
             classes: int = DEFAULT_CLASSES) -> str:
    seeds = "seeds " + ", ".join(map(str, seeds))
    text = [f"Target **test** split, last iteration's model, {seeds} (mean [95% t interval over seeds]); "
            f"TV = total variation distance between class distributions (0 = equal, 100 = disjoint); the "
            f"source's true shares counted on {SOURCE_IMAGES} of its training images. "
            "Generated by `python benchmarks/label_shift.py`.", "", rows_markdown(rows)]
    pairs = pairs_of({r.name for r in rows})
    if pairs:
        text += ["AdaptSegNet against source only on the same target, paired by seed (mean [95% t interval]):", "",
                 paired_markdown(rows, pairs)]
    text += ["Class shares (% of labelled pixels): the two domains' true ones and each group's prediction on the "
            "target test set, mean over seeds:", "", shares_markdown(rows, source, CLASS_IDS[classes])]
    if pending:
        text += [f"Not finished (left out): {', '.join(pending)}.", ""]
    return "\n".join(text)


def _pct(values) -> list[float]:
    """Fractions as the tables print them: percent, one decimal (the file holds what the docs show)."""
    return [round(100 * float(v), 1) for v in np.atleast_1d(values)]


def _row_json(r: ShiftRow) -> dict:
    return {"name": r.name, "runs": r.runs, "miou_pct": [float(v) for v in r.miou],
            "tv_target_pct": _pct(r.tv_target), "tv_source_pct": _pct(r.tv_source),
            "tv_domains_pct": _pct(r.tv_domains)[0], "per_class_predicted_pct": _pct(r.predicted),
            "per_class_target_pct": _pct(r.target), "per_seed_miou_pct": [float(v) for v in r.per_seed_miou]}


def _row_from_json(d: dict) -> ShiftRow:
    frac = lambda key: tuple(v / 100 for v in d[key])  # noqa: E731
    return ShiftRow(name=d["name"], runs=d["runs"], miou=tuple(d["miou_pct"]), tv_target=frac("tv_target_pct"),
                    tv_source=frac("tv_source_pct"), tv_domains=d["tv_domains_pct"] / 100,
                    predicted=np.array(frac("per_class_predicted_pct")), target=np.array(frac("per_class_target_pct")),
                    per_seed_miou=tuple(d["per_seed_miou_pct"]))


def main(argv: list[str] | None = None) -> str:
    sets = group_sets()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", choices=sorted(sets), default="tuning", help="which groups of runs (default: tuning)")
    p.add_argument("--root", type=Path, default=ROOT / "runs", help="the folder holding the sweeps' run folders")
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                   help=f"the seeds every group must have finished (default: {' '.join(map(str, SEEDS))})")
    p.add_argument("--save", action="store_true", help="write benchmarks/results/label_shift_<set>.{json,md}")
    p.add_argument("--docs", action="store_true",
                   help="write docs/tuning.md's block label-shift-<set> from the saved json (no runs needed)")
    args = p.parse_args(argv)
    saved = RESULTS / f"label_shift_{args.set}.json"
    if args.docs and not args.save:
        if not saved.is_file():
            p.error(f"--docs renders {saved.relative_to(ROOT)}, which does not exist: run with --save first")
        data = read_json(saved)
        rows, pending = [_row_from_json(r) for r in data["rows"]], data["pending"]
        source = np.array(data["per_class_source_pct"]) / 100
        args.seeds = data["seeds"]
    else:
        if not args.root.is_dir():
            p.error(f"--root {args.root}: no such folder; expected the folder that holds the sweeps' run folders")
        found, pending = collect(sets[args.set], args.root, args.seeds)
        if not found:
            p.error(f"--root {args.root}: no group of --set {args.set} has all its runs finished "
                    f"(looked for {', '.join(sets[args.set].values())})")
        source = source_shares()
        rows = shift_rows(found, source)
    text = markdown(rows, source, pending, args.seeds)
    print(text)
    if args.save:
        write_json(saved, {"set": args.set, "seeds": list(args.seeds), "per_class_source_pct": _pct(source), "pending": pending,
                           "rows": [_row_json(r) for r in rows]})
        saved.with_suffix(".md").write_text(text)
    if args.docs:
        write_block(DOCS, f"label-shift-{args.set}", text)
    return text


if __name__ == "__main__":
    main()
