"""A results file's methods compared with a reference method, paired per seed: the claim table.

Each method of a results file (:mod:`pfrlib.evaluation.results_files`) against the reference
(the claims': ``pfr_adv``), on the seeds both were trained on: the mean per-seed difference
``reference - method`` of target mIoU (%), its bootstrap interval, the paired test's p, Holm's
adjustment over the family, and a verdict (:func:`compare`); :func:`comparison_markdown` prints
it, its caption naming the split and the model. One family is one seed set (one file) with one
model column: the last iteration's model (primary) or the checkpoint chosen on target val. The
scores are the target **test** split's where every row of the family has them, else target val
(files written before the runs scored test), said so in every row. :func:`recorded_confusions`
finds the per-image test confusion matrices of the runs a file records (``runs``, checked against
``test_confusion_sha256``), and :func:`seed_confusions` stacks a method's runs' matrices
(:func:`pfrlib.engine.record.read_test_confusion`) into what :func:`compare` resamples; without
them the interval resamples seeds only, and the row says why. The statistics themselves are
:mod:`pfrlib.evaluation.statistics`; the protocol that fixes the seeds, the split, the test and the
family is ``docs/protocol.md``. From the command line::

    python -m pfrlib.evaluation.comparisons benchmarks/results/table1_heldout.json --reference pfr_adv
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from pfrlib import methods as _methods
from pfrlib.engine.record import confusion_file, read_test_confusion
from pfrlib.evaluation.results_files import ROOT, SPLITS, TEST_SCORES, read_results, seed_scores
from pfrlib.evaluation.statistics import (CONFIDENCE, RESAMPLES, SEED, bootstrap_interval,
    hierarchical_bootstrap_interval, holm, paired_differences, paired_t_p_value, sign_flip_p_value)
from pfrlib.io import file_sha256, one_line

__all__ = ["TESTS", "VERDICTS", "TEST", "ALPHA", "MODELS", "Comparison", "paired_seeds", "verdict", "compare",
           "seed_confusions", "recorded_confusions", "format_p", "comparison_markdown", "main"]

#: The paired tests :func:`compare` can use, each with how a table names it.
TESTS: dict[str, str] = {"t": "two-sided paired t-test", "sign_flip": "two-sided sign-flip permutation test"}
#: A row's verdict, read as "<reference> beats / ties / loses to <method>".
VERDICTS: tuple[str, ...] = ("beats", "ties", "loses to")
#: The protocol's test and family-wise error rate (docs/protocol.md; the intervals' level and the
#: bootstrap's resamples and seed are :mod:`pfrlib.evaluation.statistics`'s defaults).
TEST, ALPHA = "t", 0.05
#: The two models a run scores on test (docs/protocol.md): the last iteration's (primary), and the
#: checkpoint chosen on target val; each is one family.
MODELS: tuple[str, ...] = tuple(TEST_SCORES)
#: Each model in words, for a table's caption.
_MODEL_WORDS = {"last": "the last iteration's model", "best_on_val": "the checkpoint chosen on target val"}


@dataclass(frozen=True)
class Comparison:
    """One row of the claim table: ``reference`` against ``method``, paired over ``seeds``.

    Attributes:
        method, reference: ``--method`` names.
        seeds: the seeds paired, in the reference's order.
        differences: per seed, ``reference - method`` (mIoU, %).
        mean: their mean (with confusion matrices: the mean of the recomputed per-seed mIoUs).
        interval: the bootstrap interval of ``mean``; ``resampled``: what it resampled.
        p: the paired test's two-sided p (:data:`TESTS`); ``p_holm``: Holm-adjusted over the family.
        verdict: one of :data:`VERDICTS`: "beats" / "loses to" when ``p_holm <= alpha`` and the
            interval excludes 0, else "ties".
        test, confidence, alpha: how ``p``, ``interval`` and ``verdict`` were computed.
        model: one of :data:`MODELS`; split: where the scores come from (``"test"``, or ``"val"``
            for a file that holds no test scores).
        note: why the interval resampled seeds only where test images were expected, else "".
    """

    method: str
    reference: str
    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    mean: float
    interval: tuple[float, float]
    resampled: str
    p: float
    p_holm: float
    verdict: str
    test: str
    confidence: float
    alpha: float
    model: str = MODELS[0]
    split: str = "test"
    note: str = ""

    @property
    def seeds_won(self) -> int:
        """On how many seeds the reference scored higher."""
        return sum(d > 0 for d in self.differences)


def paired_seeds(results: Mapping[str, Mapping[str, Any]], method: str, reference: str) -> tuple[list[int], list[int]]:
    """How two methods pair: the reference's seeds and where each one is in ``method``'s entry; an
    error when they differ."""
    ref_seeds, seeds = list(results[reference]["seeds"]), list(results[method]["seeds"])
    if sorted(ref_seeds) != sorted(seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"results: {method} was trained on seeds {seeds} and {reference} on {ref_seeds}; "
                         f"a paired comparison needs the same seeds")
    return ref_seeds, [seeds.index(s) for s in ref_seeds]


def _family_key(results: Mapping[str, Mapping[str, Any]], members: Sequence[str], model: str) -> str:
    """The per-seed key the whole family is compared on: the test scores of ``model`` when every
    member has them, else (the last iteration's model only) target val for all of them."""
    keys = {m: seed_scores(results[m], model)[1] for m in members}
    if len(set(keys.values())) == 1:
        return keys[members[0]]
    return "per_seed_target"  # some rows were scored on val only: never mix the splits in one family


def compare(results: Mapping[str, Mapping[str, Any]], reference: str = "pfr_adv",
            methods: Optional[Sequence[str]] = None, confusion: Optional[Mapping[str, Any]] = None,
            test: str = TEST, confidence: float = CONFIDENCE, alpha: float = ALPHA, resamples: int = RESAMPLES,
            seed: int = SEED, model: str = MODELS[0], root: Optional[str | Path] = None) -> list[Comparison]:
    """Every method of a results file against ``reference``, paired per seed, one Holm family.

    Args:
        results: ``{method: entry}`` as :func:`pfrlib.evaluation.results_files.read_results` returns
            (``seeds`` and the per-seed scores of :func:`pfrlib.evaluation.results_files.seed_scores`
            are read: target test where every row of the family has it, else target val).
        reference: the method every other is compared with (the claims': ``pfr_adv``).
        methods: the family (default: every other method of the file, in its order).
        confusion: optional ``{method: (S, N, K, K) per-image test confusion matrices}``, seeds in
            the entry's order; where both methods have them the interval resamples seeds and test
            images (:func:`hierarchical_bootstrap_interval`), else seeds (:func:`bootstrap_interval`).
            Default: those the file records (:func:`recorded_confusions` under ``root``), on the test split.
        test: a key of :data:`TESTS`.
        confidence, alpha: the intervals' level and the family-wise error rate of the verdicts.
        resamples, seed: the bootstraps' (the same seed for every row: deterministic).
        model: one of :data:`MODELS`, the family's model column.
        root: the folder a file's ``runs`` are relative to (default: the repository root).

    Returns:
        One :class:`Comparison` per method of the family, in its order.
    """
    if reference not in results:
        raise ValueError(f"reference: {reference!r} is not in the results; they hold {list(results)}")
    family = [m for m in results if m != reference] if methods is None else list(methods)
    absent = [m for m in family if m not in results or m == reference]
    if absent or not family:
        raise ValueError(f"methods: {absent or family} cannot be compared with {reference}; "
                         f"expected other methods of the results, {[m for m in results if m != reference]}")
    if test not in TESTS:
        raise ValueError(f"test: expected one of {list(TESTS)}, got {test!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha: expected a level strictly between 0 and 1, got {alpha!r}")
    key = _family_key(results, [reference, *family], model)
    split = SPLITS[key]
    classes: dict[str, tuple[int, ...]] = {}
    if confusion is not None and split != "test":
        raise ValueError(f"confusion: per-image test matrices cannot go with the results' {split} scores "
                         f"('{key}'); the family holds no test scores")
    if confusion is None:
        confusion, classes, missing = ({}, {}, {}) if split != "test" else \
            recorded_confusions(results, [reference, *family], model, root)
    else:
        missing = {}
    rows = []
    for method in family:
        seeds, where = paired_seeds(results, method, reference)
        other = [results[method][key][i] for i in where]
        d = paired_differences(results[reference][key], other, f"{reference}'s {key}", f"{method}'s {key}")
        note = "; ".join(missing[m] for m in (reference, method) if m in missing)
        if reference in confusion and method in confusion:
            matrices = np.asarray(confusion[method])[where]  # in the reference's seed order
            mean, low, high = hierarchical_bootstrap_interval(confusion[reference], matrices, confidence, resamples,
                                                              seed, classes.get(reference))
            resampled = "seeds and test images"
        else:
            mean, (low, high), resampled = float(d.mean()), bootstrap_interval(d, confidence, resamples, seed), "seeds"
        p = paired_t_p_value(d) if test == "t" else sign_flip_p_value(d, resamples, seed)
        rows.append((method, tuple(seeds), tuple(map(float, d)), mean, (low, high), resampled, note, p))
    adjusted = holm([r[-1] for r in rows])
    out = []
    for (method, seeds, d, mean, (low, high), resampled, note, p), p_holm in zip(rows, adjusted):
        out.append(Comparison(method, reference, seeds, d, mean, (low, high), resampled, p, float(p_holm),
                              verdict(mean, (low, high), float(p_holm), alpha), test, confidence, alpha, model,
                              split, note))
    return out


def verdict(mean: float, interval: tuple[float, float], p_holm: float, alpha: float = ALPHA) -> str:
    """The protocol's verdict on a difference ``reference - method``: "beats" / "loses to" (one of
    :data:`VERDICTS`) when ``p_holm <= alpha`` and ``interval`` excludes 0, else "ties"."""
    low, high = interval
    if p_holm <= alpha and (low > 0 or high < 0):
        return VERDICTS[0] if mean > 0 else VERDICTS[2]
    return VERDICTS[1]


def recorded_confusions(results: Mapping[str, Mapping[str, Any]], methods: Sequence[str], model: str = MODELS[0],
                        root: Optional[str | Path] = None
                        ) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, ...]], dict[str, str]]:
    """The per-image test confusion matrices of the runs a results file records, where they are present.

    Args:
        results: ``{method: entry}``; an entry's ``runs`` (one folder per seed, relative to ``root``)
            and ``test_confusion_sha256`` say where each seed's matrices are and what they must be.
        methods: the methods wanted.
        model: one of :data:`MODELS`.
        root: the folder ``runs`` are relative to (default: the repository root).

    Returns:
        ``({method: (S, N, K, K) counts, seeds in the entry's order}, {method: the class ids its
        mIoU averages over}, {method: why its matrices are not there})``.

    Raises:
        ValueError naming the file whose sha256 is not the one recorded (the run changed after it
        was collected), or the run that kept no matrices of ``model``.
    """
    root = ROOT if root is None else Path(root)
    found: dict[str, np.ndarray] = {}
    classes: dict[str, tuple[int, ...]] = {}
    missing: dict[str, str] = {}
    for method in methods:
        entry = results[method]
        if "runs" not in entry or "test_confusion_sha256" not in entry:
            missing[method] = f"the results file records no test confusion matrices of {method}"
            continue
        folders = [root / run for run in entry["runs"]]
        paths = []
        for folder in folders:
            try:
                paths.append(confusion_file(folder))
            except FileNotFoundError:
                break
        if len(paths) < len(folders):
            missing[method] = f"{method}'s run {folders[len(paths)]} is not here (its matrices stay in the run folders)"
            continue
        for path, expected in zip(paths, entry["test_confusion_sha256"]):
            actual = file_sha256(path)
            if actual != expected:
                raise ValueError(f"{path}: sha256 {actual} is not the {expected} the results file records for "
                                 f"{method}; the run changed after it was collected (collect it again)")
        found[method] = seed_confusions(folders, model)
        classes[method] = read_test_confusion(folders[0]).class_ids
    return found, classes, missing


def seed_confusions(runs: Sequence[str | os.PathLike], model: str = "last") -> np.ndarray:
    """One method's per-image test confusion matrices, a seed per run: :func:`compare`'s ``confusion``.

    Args:
        runs: the method's run folders, in the order of its results entry's ``seeds``.
        model: one of :data:`MODELS`: the last iteration's model, or the checkpoint chosen on val.

    Returns:
        (S, N, K, K) int64 counts (:class:`pfrlib.engine.record.PerImageConfusion`).

    Raises:
        FileNotFoundError naming a run that kept none; ValueError when the runs were scored on
        different test sets, or a run has no ``model`` (no checkpoint chosen on val).
    """
    if model not in MODELS:
        raise ValueError(f"model: expected one of {MODELS}, got {model!r}")
    if not runs:
        raise ValueError("runs: expected at least one run folder")
    kept = [(run, read_test_confusion(run)) for run in runs]
    first_run, first = kept[0]
    matrices = []
    for run, c in kept:
        if (c.spec, c.class_ids, c.last.shape) != (first.spec, first.class_ids, first.last.shape):
            raise ValueError(f"runs: {run} was scored on {c.spec} ({c.last.shape[0]} images) and {first_run} on "
                             f"{first.spec} ({first.last.shape[0]} images); a paired comparison needs one test set")
        m = c.last if model == "last" else c.best_on_val
        if m is None:
            raise ValueError(f"runs: {run} has no checkpoint chosen on val (train with --keep-best and --val-every)")
        matrices.append(m)
    return np.stack(matrices)


def format_p(value: float) -> str:
    """A p-value as the tables print it: three decimals, "<0.001" below."""
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def comparison_markdown(rows: Sequence[Comparison]) -> str:
    """:func:`compare`'s rows as a Markdown table and a caption naming the split and the model,
    methods named in words (:func:`pfrlib.methods.label`); a difference whose verdict is not "ties"
    is in bold; a row whose interval resampled seeds only where test images were expected says why."""
    if not rows:
        raise ValueError("rows: expected at least one comparison")
    first = rows[0]
    ref = _methods.label(first.reference)
    lines = [f"| method | {ref} minus it | {100 * first.confidence:g}% interval | seeds won | "
             f"p ({TESTS[first.test]}) | Holm p | verdict: {ref} ... it |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        mark = "**" if r.verdict != VERDICTS[1] else ""
        lines.append(f"| {_methods.label(r.method)} | {mark}{r.mean:+.1f}{mark} | "
                     f"{mark}{r.interval[0]:+.1f} to {r.interval[1]:+.1f}{mark} | {r.seeds_won} of {len(r.seeds)} | "
                     f"{format_p(r.p)} | {format_p(r.p_holm)} | {r.verdict} |")
    resampled = sorted({r.resampled for r in rows})
    split = (f"target test mIoU (%) of {_MODEL_WORDS[first.model]}" if first.split == "test" else
             f"target val mIoU (%) of {_MODEL_WORDS[first.model]}: the file holds no test scores, "
             f"so these are not test numbers")
    notes = list(dict.fromkeys(r.note for r in rows if r.note))
    lines += ["", f"{split[0].upper()}{split[1:]}. Paired per seed ({', '.join(map(str, first.seeds))}); interval: "
                 f"percentile bootstrap resampling {' or '.join(resampled)}; Holm over the {len(rows)} comparisons; "
                 f"bold: {ref} beats or loses to the method at family-wise alpha {first.alpha:g}."]
    if notes:
        lines.append(f"Seeds only where test images were expected: {'; '.join(notes)}.")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m pfrlib.evaluation.comparisons FILE [--reference M]``: the comparison tables of a
    results file, printed as Markdown: the last iteration's model, then (where the file has it) the
    checkpoint chosen on target val, each its own Holm family."""
    p = argparse.ArgumentParser(prog="python -m pfrlib.evaluation.comparisons",
                                description="the comparison tables of a results file, printed as Markdown")
    p.add_argument("results", help="a results file (benchmarks/results/table1.json, table1_heldout.json)")
    p.add_argument("--reference", default="pfr_adv", help="the method every other is compared with")
    p.add_argument("--methods", nargs="+", default=None, help="the family (default: every other method)")
    p.add_argument("--model", choices=list(MODELS), default=None,
                   help="one model column (default: the last iteration's, then the val-chosen one where kept)")
    p.add_argument("--confusion", default=None, metavar="NPZ",
                   help="per-image test confusion matrices: one (seeds, images, K, K) array per method "
                        "(default: those of the runs the file records, where present)")
    p.add_argument("--root", default=None, help="the folder the file's run folders are relative to "
                                                "(default: the repository root)")
    p.add_argument("--test", choices=list(TESTS), default=TEST, help=f"the paired test (default: {TEST})")
    p.add_argument("--confidence", type=float, default=CONFIDENCE, help="the intervals' level")
    p.add_argument("--alpha", type=float, default=ALPHA, help="the verdicts' family-wise error rate")
    p.add_argument("--resamples", type=int, default=RESAMPLES, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=SEED, help="the bootstrap's seed")
    args = p.parse_args(argv)
    try:
        results = read_results(args.results)
        confusion = None
        if args.confusion:
            with np.load(args.confusion) as archive:
                confusion = {name: archive[name] for name in archive.files}
        models = [args.model] if args.model else \
            [m for m in MODELS if m == MODELS[0] or all(TEST_SCORES[m] in e for e in results.values())]
        tables = [comparison_markdown(compare(results, args.reference, args.methods, confusion, args.test,
                                              args.confidence, args.alpha, args.resamples, args.seed, model,
                                              args.root)) for model in models]
    except (ValueError, OSError) as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
