"""A results file's methods compared with a reference method, paired per seed: the claim table.

Each method of a results file (:mod:`pfrlib.evaluation.results_files`) against the reference
(the claims': ``pfr_adv``), on the seeds both were trained on: the mean per-seed difference
``reference - method`` of target mIoU (%), its bootstrap interval, the paired test's p, Holm's
adjustment over the family, and a verdict (:func:`compare`); :func:`comparison_markdown` prints
it; :func:`seed_confusions` stacks a method's runs' per-image test confusion matrices
(:func:`pfrlib.engine.record.read_test_confusion`) into what :func:`compare` resamples. The
statistics themselves are :mod:`pfrlib.evaluation.statistics`; the protocol that fixes
the seeds, the split, the test and the family is ``docs/protocol.md``. From the command line::

    python -m pfrlib.evaluation.comparisons benchmarks/results/table1_heldout.json --reference pfr_adv
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from pfrlib import methods as _methods
from pfrlib.engine.record import read_test_confusion
from pfrlib.evaluation.results_files import read_results
from pfrlib.evaluation.statistics import (CONFIDENCE, RESAMPLES, SEED, bootstrap_interval,
    hierarchical_bootstrap_interval, holm, paired_differences, paired_t_p_value, sign_flip_p_value)
from pfrlib.io import one_line

__all__ = ["TESTS", "VERDICTS", "TEST", "ALPHA", "MODELS", "Comparison", "compare", "seed_confusions",
           "comparison_markdown", "main"]

#: The paired tests :func:`compare` can use, each with how a table names it.
TESTS: dict[str, str] = {"t": "two-sided paired t-test", "sign_flip": "two-sided sign-flip permutation test"}
#: A row's verdict, read as "<reference> beats / ties / loses to <method>".
VERDICTS: tuple[str, ...] = ("beats", "ties", "loses to")
#: The protocol's test and family-wise error rate (docs/protocol.md; the intervals' level and the
#: bootstrap's resamples and seed are :mod:`pfrlib.evaluation.statistics`'s defaults).
TEST, ALPHA = "t", 0.05
#: The two models a run scores on test (docs/protocol.md): the last iteration's, and the checkpoint
#: chosen on target val.
MODELS: tuple[str, ...] = ("last", "best_on_val")


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

    @property
    def seeds_won(self) -> int:
        """On how many seeds the reference scored higher."""
        return sum(d > 0 for d in self.differences)


def _aligned(results: Mapping[str, Mapping[str, Any]], method: str, reference: str) -> tuple[list[int], list[int]]:
    """The reference's seeds and where each one is in ``method``'s entry; an error when they differ."""
    ref_seeds, seeds = list(results[reference]["seeds"]), list(results[method]["seeds"])
    if sorted(ref_seeds) != sorted(seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"results: {method} was trained on seeds {seeds} and {reference} on {ref_seeds}; "
                         f"a paired comparison needs the same seeds")
    return ref_seeds, [seeds.index(s) for s in ref_seeds]


def compare(results: Mapping[str, Mapping[str, Any]], reference: str = "pfr_adv",
            methods: Optional[Sequence[str]] = None, confusion: Optional[Mapping[str, Any]] = None,
            test: str = TEST, confidence: float = CONFIDENCE, alpha: float = ALPHA, resamples: int = RESAMPLES,
            seed: int = SEED) -> list[Comparison]:
    """Every method of a results file against ``reference``, paired per seed, one Holm family.

    Args:
        results: ``{method: entry}`` as :func:`pfrlib.evaluation.results_files.read_results` returns
            (``per_seed_target`` and ``seeds`` are read).
        reference: the method every other is compared with (the claims': ``pfr_adv``).
        methods: the family (default: every other method of the file, in its order).
        confusion: optional ``{method: (S, N, K, K) per-image test confusion matrices}``, seeds in
            the entry's order; where both methods have them the interval resamples seeds and test
            images (:func:`hierarchical_bootstrap_interval`), else seeds (:func:`bootstrap_interval`).
        test: a key of :data:`TESTS`.
        confidence, alpha: the intervals' level and the family-wise error rate of the verdicts.
        resamples, seed: the bootstraps' (the same seed for every row: deterministic).

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
    confusion = confusion or {}
    rows = []
    for method in family:
        seeds, where = _aligned(results, method, reference)
        other = [results[method]["per_seed_target"][i] for i in where]
        d = paired_differences(results[reference]["per_seed_target"], other, f"{reference}'s per_seed_target",
                               f"{method}'s per_seed_target")
        if reference in confusion and method in confusion:
            matrices = np.asarray(confusion[method])[where]  # in the reference's seed order
            mean, low, high = hierarchical_bootstrap_interval(confusion[reference], matrices, confidence, resamples, seed)
            resampled = "seeds and test images"
        else:
            mean, (low, high), resampled = float(d.mean()), bootstrap_interval(d, confidence, resamples, seed), "seeds"
        p = paired_t_p_value(d) if test == "t" else sign_flip_p_value(d, resamples, seed)
        rows.append((method, tuple(seeds), tuple(map(float, d)), mean, (low, high), resampled, p))
    adjusted = holm([r[-1] for r in rows])
    out = []
    for (method, seeds, d, mean, (low, high), resampled, p), p_holm in zip(rows, adjusted):
        clear = p_holm <= alpha and (low > 0 or high < 0)
        verdict = VERDICTS[1] if not clear else VERDICTS[0] if mean > 0 else VERDICTS[2]
        out.append(Comparison(method, reference, seeds, d, mean, (low, high), resampled, p, float(p_holm), verdict,
                              test, confidence, alpha))
    return out


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


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def comparison_markdown(rows: Sequence[Comparison]) -> str:
    """:func:`compare`'s rows as a Markdown table and a caption, methods named in words
    (:func:`pfrlib.methods.label`); a difference whose verdict is not "ties" is in bold."""
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
                     f"{_p(r.p)} | {_p(r.p_holm)} | {r.verdict} |")
    resampled = sorted({r.resampled for r in rows})
    lines += ["", f"Paired per seed ({', '.join(map(str, first.seeds))}); interval: percentile bootstrap "
                 f"resampling {' or '.join(resampled)}; Holm over the {len(rows)} comparisons; "
                 f"bold: {ref} beats or loses to the method at family-wise alpha {first.alpha:g}."]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m pfrlib.evaluation.comparisons FILE [--reference M]``: the comparison table of a
    results file, printed as Markdown."""
    p = argparse.ArgumentParser(prog="python -m pfrlib.evaluation.comparisons",
                                description="the comparison table of a results file, printed as Markdown")
    p.add_argument("results", help="a results file (benchmarks/results/table1.json, table1_heldout.json)")
    p.add_argument("--reference", default="pfr_adv", help="the method every other is compared with")
    p.add_argument("--methods", nargs="+", default=None, help="the family (default: every other method)")
    p.add_argument("--confusion", default=None, metavar="NPZ",
                   help="per-image test confusion matrices: one (seeds, images, K, K) array per method")
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
        rows = compare(results, args.reference, args.methods, confusion, args.test, args.confidence, args.alpha,
                       args.resamples, args.seed)
    except (ValueError, OSError) as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    print(comparison_markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
