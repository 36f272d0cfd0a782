"""Claim (b) per class: the reference minus another method, class by class, paired per seed.

The paper says PFR's gain "primarily comes from" road, building, wall, fence, terrain, rider, truck
and bus (:data:`pfrlib.paper.metrics.PAPER_GAIN_CLASSES`) and that it is weaker than class-wise
alignment (CLAN) on less frequent objects (Sec. 4.2). :func:`compare_classes` tests that on a
results file, with the rules of the overall comparison (docs/protocol.md, "The comparisons"):

* per class present, the per-seed differences of test IoU, ``reference - method`` in points
  (``per_seed_per_class_test``; target val, said so, for a file with no test scores);
* their mean and a 95% interval: where the runs' per-image test confusion matrices are here
  (:func:`pfrlib.evaluation.comparisons.recorded_confusions`) the hierarchical bootstrap over seeds
  and test images, each drawn seed's per-class IoU recomputed from the summed matrix
  (:func:`pfrlib.evaluation.statistics.class_bootstrap_intervals`); else seeds only, and each row
  says why;
* the paired test's p per class, Holm over the classes present (one family), and the verdict
  (:func:`pfrlib.evaluation.comparisons.verdict`).

:func:`class_comparison_markdown` prints the rows beside each class's pixel share and mean instance
size on the benchmark (:func:`pfrlib.data.synthstreets.class_facts.benchmark_class_facts`), and
:func:`claim_b_words` says in words where the reference wins. The figure is
:func:`pfrlib.viz.claims.plot_class_differences`. From the command line::

    python -m pfrlib.evaluation.class_comparisons FILE --method clan --reference pfr_adv
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from pfrlib import methods as _methods
from pfrlib.data.synthstreets.class_facts import FACTS_IMAGES, benchmark_class_facts
from pfrlib.evaluation.comparisons import (ALPHA, TEST, TESTS, VERDICTS, format_p, paired_seeds,
    recorded_confusions, verdict)
from pfrlib.evaluation.results_files import SPLITS, read_results
from pfrlib.evaluation.statistics import (CONFIDENCE, RESAMPLES, SEED, bootstrap_interval, class_bootstrap_intervals,
    holm, paired_differences, paired_t_p_value, sign_flip_p_value)
from pfrlib.io import one_line
from pfrlib.paper.metrics import CITYSCAPES_CLASSES, PAPER_GAIN_CLASSES

__all__ = ["CLASS_KEYS", "ClassComparison", "compare_classes", "class_comparison_markdown", "claim_b_words", "main"]

#: The per-seed per-class keys of a results entry, best first: target test, else target val.
CLASS_KEYS: tuple[str, ...] = ("per_seed_per_class_test", "per_seed_per_class_target")


@dataclass(frozen=True)
class ClassComparison:
    """One class of claim (b): ``reference`` minus ``method`` on class ``name``, paired over ``seeds``.

    Attributes:
        name: the class (a Cityscapes class name).
        method, reference, seeds, test, confidence, alpha, split, note: as
            :class:`pfrlib.evaluation.comparisons.Comparison`.
        differences: per seed, ``reference - method`` (IoU, points).
        mean: their mean (with confusion matrices: of the per-class IoUs recomputed from them).
        interval, resampled: the bootstrap interval of ``mean`` and what it resampled.
        p, p_holm: the paired test's p and its Holm adjustment over the classes compared.
        verdict: one of :data:`pfrlib.evaluation.comparisons.VERDICTS`.
    """

    name: str
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
    split: str = "test"
    note: str = ""

    @property
    def seeds_won(self) -> int:
        """On how many seeds the reference scored higher on this class."""
        return sum(d > 0 for d in self.differences)


def _class_key(results: Mapping[str, Mapping[str, Any]], members: Sequence[str]) -> str:
    for key in CLASS_KEYS:
        if all(key in results[m] for m in members):
            return key
    raise ValueError(f"results: {' and '.join(members)} do not both keep per-class IoU per seed "
                     f"({' or '.join(CLASS_KEYS)}); collect the runs again (benchmarks/ablation.py --collect)")


def compare_classes(results: Mapping[str, Mapping[str, Any]], method: str = "clan", reference: str = "pfr_adv",
                    confusion: Optional[Mapping[str, Any]] = None, test: str = TEST,
                    confidence: float = CONFIDENCE, alpha: float = ALPHA, resamples: int = RESAMPLES,
                    seed: int = SEED, root: Optional[str | Path] = None) -> list[ClassComparison]:
    """``reference`` minus ``method`` per class, paired per seed: one Holm family over the classes.

    Args:
        results: ``{method: entry}`` (:func:`pfrlib.evaluation.results_files.read_results`); both
            entries' ``seeds`` and per-seed per-class IoU (:data:`CLASS_KEYS`) are read.
        method, reference: the two ``--method`` names (the claim's: ``clan`` and ``pfr_adv``).
        confusion: optional ``{method: (S, N, K, K) per-image test confusion matrices}`` (K = the
            19 Cityscapes classes, seeds in the entry's order); default: those the file records
            (under ``root``), on the test split. Without them the intervals resample seeds only.
        test, confidence, alpha, resamples, seed, root: as :func:`pfrlib.evaluation.comparisons.compare`.

    Returns:
        One :class:`ClassComparison` per class that both methods scored on every seed, in trainId
        order (a class absent from the test labels and every prediction has no IoU: not compared).
    """
    for name, value in (("method", method), ("reference", reference)):
        if value not in results:
            raise ValueError(f"{name}: {value!r} is not in the results; they hold {list(results)}")
    if method == reference:
        raise ValueError(f"method: {method!r} is the reference; compare it with another method")
    if test not in TESTS:
        raise ValueError(f"test: expected one of {list(TESTS)}, got {test!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha: expected a level strictly between 0 and 1, got {alpha!r}")
    key = _class_key(results, [reference, method])
    split = SPLITS[key]
    seeds, where = paired_seeds(results, method, reference)
    ref_classes, other_classes = results[reference][key], results[method][key]
    names = [n for n in CITYSCAPES_CLASSES if n in ref_classes and n in other_classes
             and all(v is not None for v in ref_classes[n]) and all(v is not None for v in other_classes[n])]
    if not names:
        raise ValueError(f"results: no class has an IoU on every seed of both {reference} and {method} ('{key}')")
    if confusion is not None and split != "test":
        raise ValueError(f"confusion: per-image test matrices cannot go with the results' {split} scores ('{key}')")
    notes: dict[str, str] = {}
    if confusion is None:
        confusion, _, notes = ({}, {}, {}) if split != "test" else \
            recorded_confusions(results, [reference, method], root=root)
    note = "; ".join(notes[m] for m in (reference, method) if m in notes)
    differences = {n: paired_differences(ref_classes[n], [other_classes[n][i] for i in where],
                                         f"{reference}'s {key}[{n!r}]", f"{method}'s {key}[{n!r}]") for n in names}
    if reference in confusion and method in confusion:
        ref_cm, other_cm = np.asarray(confusion[reference]), np.asarray(confusion[method])[where]
        if ref_cm.ndim != 4 or ref_cm.shape[-1] != len(CITYSCAPES_CLASSES):
            raise ValueError(f"confusion: expected (seeds, images, {len(CITYSCAPES_CLASSES)}, "
                             f"{len(CITYSCAPES_CLASSES)}) matrices of the Cityscapes classes, got {ref_cm.shape}")
        ids = [CITYSCAPES_CLASSES.index(n) for n in names]
        means, lows, highs = class_bootstrap_intervals(ref_cm, other_cm, ids, confidence, resamples, seed)
        intervals = {n: (float(m), (float(lo), float(hi))) for n, m, lo, hi in zip(names, means, lows, highs)}
        resampled = "seeds and test images"
    else:
        intervals = {n: (float(d.mean()), bootstrap_interval(d, confidence, resamples, seed))
                     for n, d in differences.items()}
        resampled = "seeds"
    ps = [paired_t_p_value(differences[n]) if test == "t" else sign_flip_p_value(differences[n], resamples, seed)
          for n in names]
    rows = []
    for n, p, p_holm in zip(names, ps, holm(ps)):
        mean, interval = intervals[n]
        rows.append(ClassComparison(n, method, reference, tuple(seeds), tuple(map(float, differences[n])), mean,
                                    interval, resampled, float(p), float(p_holm),
                                    verdict(mean, interval, float(p_holm), alpha), test, confidence, alpha, split,
                                    note))
    return rows


def _fact(facts: Optional[Mapping[str, Mapping[str, Any]]], name: str, key: str, digits: int) -> str:
    value = None if facts is None or name not in facts else facts[name].get(key)
    return "-" if value is None else f"{value:.{digits}f}"


def class_comparison_markdown(rows: Sequence[ClassComparison],
                              facts: Optional[Mapping[str, Mapping[str, Any]]] = None) -> str:
    """:func:`compare_classes`' rows as a Markdown table with a caption: per class, whether the
    paper names it (:data:`PAPER_GAIN_CLASSES`), its pixel share and mean instance size (``facts``:
    :func:`pfrlib.data.synthstreets.class_facts.label_class_facts`' dict; columns left out without
    it), the difference, its interval, the seeds won, p, Holm's p and the verdict; a difference
    whose verdict is not "ties" in bold."""
    if not rows:
        raise ValueError("rows: expected at least one class comparison")
    first = rows[0]
    ref, other = _methods.label(first.reference), _methods.label(first.method)
    fact_head = "pixel share (%) | mean instance size (px) | " if facts is not None else ""
    lines = [f"| class | named by the paper | {fact_head}{ref} minus {other} (IoU points) | "
             f"{100 * first.confidence:g}% interval | seeds won | p ({TESTS[first.test]}) | Holm p | "
             f"verdict: {ref} ... {other} |",
             "|---|---|" + ("---|---|" if facts is not None else "") + "---|---|---|---|---|---|"]
    for r in rows:
        mark = "**" if r.verdict != VERDICTS[1] else ""
        cells = f"{_fact(facts, r.name, 'share', 2)} | {_fact(facts, r.name, 'mean_instance_px', 0)} | " \
            if facts is not None else ""
        lines.append(f"| {r.name} | {'yes' if r.name in PAPER_GAIN_CLASSES else ''} | {cells}"
                     f"{mark}{r.mean:+.1f}{mark} | {mark}{r.interval[0]:+.1f} to {r.interval[1]:+.1f}{mark} | "
                     f"{r.seeds_won} of {len(r.seeds)} | {format_p(r.p)} | {format_p(r.p_holm)} | {r.verdict} |")
    split = "target test IoU (%)" if first.split == "test" else \
        "target val IoU (%): the file holds no per-class test scores, so these are not test numbers"
    lines += ["", f"{ref} minus {other} per class, {split} of the last iteration's model. Paired per seed "
                 f"({', '.join(map(str, first.seeds))}); interval: percentile bootstrap resampling "
                 f"{first.resampled}; Holm over the {len(rows)} classes present; bold: told apart at "
                 f"family-wise alpha {first.alpha:g}."]
    if first.note:
        lines.append(f"Seeds only where test images were expected: {first.note}.")
    return "\n".join(lines)


def _names(classes: Sequence[str]) -> str:
    return "none" if not classes else classes[0] if len(classes) == 1 else \
        f"{', '.join(classes[:-1])} and {classes[-1]}"


def claim_b_words(rows: Sequence[ClassComparison], facts: Mapping[str, Mapping[str, Any]]) -> str:
    """Claim (b)'s verdict in words, generated from :func:`compare_classes`' rows and the classes'
    facts: where the reference beats, ties and loses to the method, how many of the paper's eight
    classes are among its wins, and whether the wins sit among the more frequent and the larger
    classes (pixel share, mean instance size above the median of the classes compared)."""
    if not rows:
        raise ValueError("rows: expected at least one class comparison")
    absent = [r.name for r in rows if r.name not in facts]
    if absent:
        raise ValueError(f"facts: no pixel share or instance size for {absent}; count them on the benchmark "
                         f"(pfrlib.data.synthstreets.class_facts.benchmark_class_facts)")
    ref, other = _methods.label(rows[0].reference), _methods.label(rows[0].method)
    by = {v: [r.name for r in rows if r.verdict == v] for v in VERDICTS}
    unseen = [r.name for r in rows if facts[r.name].get("mean_instance_px") is None]
    seen = [r.name for r in rows if r.name not in unseen]
    share = np.median([facts[n]["share"] for n in seen]) if seen else np.nan
    size = np.median([facts[n]["mean_instance_px"] for n in seen]) if seen else np.nan
    named = [r.name for r in rows if r.name in PAPER_GAIN_CLASSES]
    text = [f"Over the {len(rows)} classes compared, {ref} beats {other} on {len(by['beats'])} "
            f"({_names(by['beats'])}), ties on {len(by['ties'])} and loses on {len(by['loses to'])} "
            f"({_names(by['loses to'])})."]
    text.append(f"Of the paper's eight classes, {len(named)} are compared here and {ref} beats {other} on "
                f"{sum(n in by['beats'] for n in named)} of them ({_names([n for n in named if n in by['beats']])}).")
    if unseen:
        unseen_names = _names(unseen)
        one = len(unseen) == 1
        text.append(f"{unseen_names[0].upper()}{unseen_names[1:]} {'has' if one else 'have'} no pixel in the images "
                    f"counted, so {'it is' if one else 'they are'} left out of what follows.")
    for verdict_name, nouns in (("beats", ("win", "wins")), ("loses to", ("loss", "losses"))):
        won = [n for n in by[verdict_name] if n in seen]
        if won:
            frequent = sum(facts[n]["share"] > share for n in won)
            large = sum(facts[n]["mean_instance_px"] > size for n in won)
            text.append(f"Of its {len(won)} {nouns[len(won) != 1]}, {frequent} {'is' if frequent == 1 else 'are'} "
                        f"among the more frequent half of the classes (pixel share above the median, {share:.2f}%) and {large} "
                        f"among the larger half (mean instance size above the median, {size:.0f} px).")
    if not by["beats"] and not by["loses to"]:
        text.append("No class tells the two apart at this number of seeds: the per-class data neither support "
                    "nor refute the paper's reading.")
    return " ".join(text)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m pfrlib.evaluation.class_comparisons FILE [--method clan] [--reference pfr_adv]``:
    claim (b)'s per-class table of a results file and its verdict in words, printed as Markdown."""
    p = argparse.ArgumentParser(prog="python -m pfrlib.evaluation.class_comparisons",
                                description="claim (b): the reference minus a method per class, as Markdown")
    p.add_argument("results", help="a results file with per-class IoU per seed")
    p.add_argument("--method", default="clan", help="the method compared per class (default: clan)")
    p.add_argument("--reference", default="pfr_adv", help="the reference (default: pfr_adv)")
    p.add_argument("--root", default=None, help="the folder the file's run folders are relative to")
    p.add_argument("--facts-images", type=int, default=FACTS_IMAGES,
                   help="target test images the classes' pixel share and instance size are counted on; 0: none")
    p.add_argument("--test", choices=list(TESTS), default=TEST, help=f"the paired test (default: {TEST})")
    p.add_argument("--confidence", type=float, default=CONFIDENCE, help="the intervals' level")
    p.add_argument("--alpha", type=float, default=ALPHA, help="the verdicts' family-wise error rate")
    p.add_argument("--resamples", type=int, default=RESAMPLES, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=SEED, help="the bootstrap's seed")
    args = p.parse_args(argv)
    try:
        if args.facts_images < 0:
            raise ValueError(f"--facts-images: expected 0 or more test images, got {args.facts_images}")
        results = read_results(args.results)
        rows = compare_classes(results, args.method, args.reference, None, args.test, args.confidence, args.alpha,
                               args.resamples, args.seed, args.root)
        facts = None
        if args.facts_images:
            bench = results[args.reference].get("benchmark", {})
            facts = benchmark_class_facts(args.facts_images, bench.get("synth_classes", 19),
                                          bench.get("synth_size"), bench.get("synth_seed", 0))
        out = class_comparison_markdown(rows, facts)
        if facts is not None:
            out += "\n\n" + claim_b_words(rows, facts)
    except (ValueError, OSError) as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
