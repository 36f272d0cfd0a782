"""Label shift in the predictions: does adaptation pull the target's predicted classes toward the source's?

Distribution alignment makes the target's outputs (AdaptSegNet's discriminator) or features
(PFR's Gram matrices) look like the source's. Where the two domains' class frequencies differ, a
*label shift*, outputs that look like the source's include the source's class frequencies: the
cheapest way to fool an output-space discriminator can be to predict the source's amount of sky
on the target. Zhao et al. (ICML 2019, "On Learning Invariant Representations for Domain
Adaptation") show that an aligned representation then has a lower bound on its joint error that
grows with the difference of the label distributions; Tachet des Combes et al. (NeurIPS 2020,
"Domain Adaptation with Conditional Distribution Matching and Generalized Label Shift") name the
setting.

This module measures it from what a run already keeps, its per-image test confusion
(:class:`pfrlib.engine.record.PerImageConfusion`, rows = ground truth, columns = prediction):

* :func:`class_shares`: the true and the predicted share of each class on the target test set;
* :func:`total_variation`: half the L1 distance of two distributions (0 = equal, 1 = disjoint);
* :func:`shift_rows`: per group of runs (a method, or a method on a changed shift), the test
  mIoU and the distance of the predicted class distribution to the target's true one and to the
  source's, each a mean with its 95% t interval over the runs' seeds;
* :func:`shares_markdown` / :func:`rows_markdown` / :func:`paired_markdown`: the tables
  ``benchmarks/label_shift.py`` writes (the last: a method against its baseline, paired by seed).

A run whose predictions move toward the source's distribution (its distance to the source falls,
to the target rises) is aligning label shift, not appearance.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from pfrlib.data.labels import CLASS_NAMES
from pfrlib.engine.record import read_test_confusion
from pfrlib.evaluation.statistics import t_interval
from pfrlib.paper.metrics import miou

__all__ = ["class_shares", "total_variation", "ShiftRow", "shift_rows", "shares_markdown", "rows_markdown",
           "paired_markdown"]


def class_shares(confusion) -> tuple[np.ndarray, np.ndarray]:
    """``(true, predicted)``: each class's share of the labelled pixels (summing to 1) of a K x K
    confusion matrix or an (N, K, K) stack of per-image ones (rows = ground truth, columns =
    prediction; ignored pixels are in neither).

    Raises:
        ValueError for a matrix that is not square, has negative counts or counts nothing.
    """
    m = np.asarray(confusion, dtype=np.float64)
    if m.ndim == 3:
        m = m.sum(0)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.size == 0:
        raise ValueError(f"confusion: expected a K x K or N x K x K matrix, got shape {np.shape(confusion)}")
    if (m < 0).any() or m.sum() <= 0:
        raise ValueError("confusion: expected non-negative counts with at least one labelled pixel")
    total = m.sum()
    return m.sum(1) / total, m.sum(0) / total


def total_variation(p: Sequence[float], q: Sequence[float]) -> float:
    """Total variation distance ``0.5 * sum_k |p_k - q_k|`` of two distributions over the same
    classes (each must sum to 1 within 1e-6)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"total_variation: expected two distributions of one length, got shapes {p.shape}, {q.shape}")
    for name, d in (("p", p), ("q", q)):
        if (d < 0).any() or abs(d.sum() - 1) > 1e-6:
            raise ValueError(f"total_variation: {name} must be non-negative and sum to 1, got sum {d.sum():.6g}")
    return float(0.5 * np.abs(p - q).sum())


@dataclass(frozen=True)
class ShiftRow:
    """One group of runs: its seeds' test mIoU and where its predicted class distribution lies."""

    name: str
    runs: int
    miou: tuple[float, float, float]            #: test mIoU (%): mean, 95% t interval low, high
    tv_target: tuple[float, float, float]       #: TV(predicted, target's true): mean, low, high
    tv_source: tuple[float, float, float]       #: TV(predicted, source's true): mean, low, high
    tv_domains: float                           #: TV(target's true, source's true): the label shift itself
    predicted: np.ndarray                       #: mean predicted share per class (K)
    target: np.ndarray                          #: the target test set's true share per class (K)
    per_seed_miou: tuple[float, ...] = ()       #: test mIoU (%) of each run, in the group's order


def _mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return float(v.mean()), float("nan"), float("nan")
    low, high = t_interval(v)
    return float(v.mean()), float(low), float(high)


def shift_rows(groups: Mapping[str, Sequence[str | os.PathLike]], source_shares: Sequence[float]) -> list[ShiftRow]:
    """:class:`ShiftRow` of each group of finished runs (``{name: run folders}``, one per seed).

    Args:
        groups: run folders holding a test confusion (``python -m pfrlib.train`` with a target
            test set); a group's runs must share their test set.
        source_shares: the source domain's true class shares (K values summing to 1), counted on
            its own label maps (:func:`pfrlib.data.synthstreets.class_facts.benchmark_class_facts`).

    Raises:
        ValueError naming the group: no runs, runs on different test sets, or K that differs from
        ``source_shares``; FileNotFoundError naming a run without a test confusion.
    """
    source = np.asarray(source_shares, dtype=np.float64)
    rows = []
    for name, runs in groups.items():
        if not runs:
            raise ValueError(f"group {name!r}: no runs")
        confusions = [read_test_confusion(r) for r in runs]
        if len({c.spec for c in confusions}) > 1 or len({c.last.shape for c in confusions}) > 1:
            raise ValueError(f"group {name!r}: its runs were scored on different test sets "
                             f"({sorted({c.spec for c in confusions})}); a group is one method on one benchmark")
        k = confusions[0].last.shape[1]
        if k != len(source):
            raise ValueError(f"group {name!r}: {k} classes, but source_shares has {len(source)}")
        ids = list(confusions[0].class_ids)
        shares = [class_shares(c.last) for c in confusions]
        mious = [100 * miou(torch.as_tensor(c.last.sum(0)), ids) for c in confusions]
        target = shares[0][0]
        rows.append(ShiftRow(
            name=name, runs=len(runs), miou=_mean_interval(mious),
            tv_target=_mean_interval([total_variation(pred, true) for true, pred in shares]),
            tv_source=_mean_interval([total_variation(pred, source) for _, pred in shares]),
            tv_domains=total_variation(target, source),
            predicted=np.mean([pred for _, pred in shares], axis=0), target=target,
            per_seed_miou=tuple(mious)))
    return rows


def paired_markdown(rows: Sequence[ShiftRow], pairs: Sequence[tuple[str, str, str]]) -> str:
    """For each ``(label, method group, baseline group)``: the paired per-seed difference of test
    mIoU, method - baseline (the groups' runs in the same seed order), its mean with the 95% t
    interval, and the seeds on which the method scored higher.

    Raises:
        ValueError naming a group that is missing or whose seed count differs from its partner's.
    """
    by_name = {r.name: r for r in rows}
    lines = ["| target | method - baseline, test mIoU (points) | seeds won |", "|---|---|---|"]
    for label, method, baseline in pairs:
        missing = [g for g in (method, baseline) if g not in by_name]
        if missing:
            raise ValueError(f"paired_markdown: no group {missing[0]!r} (groups: {sorted(by_name)})")
        a, b = by_name[method].per_seed_miou, by_name[baseline].per_seed_miou
        if len(a) != len(b) or not a:
            raise ValueError(f"paired_markdown: {method!r} has {len(a)} runs, {baseline!r} {len(b)}; "
                             f"a paired difference needs the same seeds")
        d = np.asarray(a) - np.asarray(b)
        mean, low, high = _mean_interval(d)
        cell = f"{mean:+.1f}" if np.isnan(low) else f"{mean:+.1f} [{low:+.1f}, {high:+.1f}]"
        lines.append(f"| {label} | {cell} | {int((d > 0).sum())} of {len(d)} |")
    return "\n".join(lines) + "\n"


def _cell(triple: tuple[float, float, float], scale: float = 1.0, digits: int = 1) -> str:
    mean, low, high = (scale * v for v in triple)
    if np.isnan(low):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def rows_markdown(rows: Sequence[ShiftRow]) -> str:
    """One line per group: runs, test mIoU, and the predicted class distribution's distance to the
    target's and to the source's true one (total variation, in %), each with its 95% t interval
    over seeds, beside the two domains' own distance."""
    lines = ["| runs | seeds | test mIoU (%) | TV(predicted, target) (%) | TV(predicted, source) (%) "
             "| TV(target, source) (%) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.name} | {r.runs} | {_cell(r.miou)} | {_cell(r.tv_target, 100)} | "
                     f"{_cell(r.tv_source, 100)} | {100 * r.tv_domains:.1f} |")
    return "\n".join(lines) + "\n"


def shares_markdown(rows: Sequence[ShiftRow], source_shares: Sequence[float], class_ids: Sequence[int],
                    names: Sequence[str] = CLASS_NAMES) -> str:
    """Per class (of ``class_ids``): the source's and the first row's target's true share and each
    group's mean predicted share on the target (% of labelled pixels)."""
    head = "| class | source, true | target, true | " + " | ".join(f"{r.name}, predicted" for r in rows) + " |"
    lines = [head, "|---|---|---|" + "---|" * len(rows)]
    for c in class_ids:
        cells = " | ".join(f"{100 * r.predicted[c]:.1f}" for r in rows)
        lines.append(f"| {names[c]} | {100 * source_shares[c]:.1f} | {100 * rows[0].target[c]:.1f} | {cells} |")
    return "\n".join(lines) + "\n"
