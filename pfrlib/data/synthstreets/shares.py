"""Per-class pixel shares: SynthStreets-19's against Cityscapes' published ones.

The benchmark's long tail is only meaningful if it is Cityscapes' long tail, so the target
domain's shares are compared with a published table (``pfrlib/reference/cityscapes_class_shares.csv``,
its source in ``pfrlib/reference/README.md``), never with numbers derived from the generator.

:func:`published_shares` reads the table, :func:`label_shares` counts a dataset's labels,
:func:`compare_shares` gives the numbers the acceptance test and the docs table use, and
:func:`shares_markdown` the two-column table of ``docs/datasets.md``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from pfrlib.data.labels import CLASS_NAMES, NUM_CLASSES

__all__ = ["REFERENCE_FILE", "published_shares", "label_shares", "spearman", "compare_shares", "shares_markdown",
           "SHARE_RULES"]

#: The published Cityscapes shares (percent of all fine-annotated training pixels per class).
REFERENCE_FILE = Path(__file__).resolve().parents[2] / "reference" / "cityscapes_class_shares.csv"

#: What "follows Cityscapes' published shares" means, checked by :func:`compare_shares`:
#: the rank correlation of the 19 shares, each class within this factor of its published share,
#: and the most frequent class at least this many times the least frequent.
SHARE_RULES = {"min_spearman": 0.9, "max_factor": 10.0, "min_head_tail_ratio": 100.0}


def published_shares(path: str | Path = REFERENCE_FILE) -> np.ndarray:
    """Cityscapes' 19 class shares as fractions of the 19 classes' pixels (trainId order, sum 1)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if [int(r["train_id"]) for r in rows] != list(range(NUM_CLASSES)):
        raise ValueError(f"{path}: expected one row per trainId 0..{NUM_CLASSES - 1} in order")
    p = np.array([float(r["percent_of_pixels"]) for r in rows])
    return p / p.sum()


def label_shares(dataset, n: int | None = None) -> np.ndarray:
    """Each trainId's fraction of the labelled (non-ignore) pixels of the first ``n`` items.

    ``dataset`` is a SynthStreets (its :meth:`render` is used, so no transform is applied).
    """
    n = len(dataset) if n is None else min(n, len(dataset))
    counts = np.zeros(256, np.int64)
    for i in range(n):
        counts += np.bincount(dataset.render(i)[1].ravel(), minlength=256)
    c = counts[:NUM_CLASSES].astype(float)
    return c / c.sum()


def _ranks(x: np.ndarray) -> np.ndarray:
    r = np.empty(len(x))
    r[np.argsort(x, kind="stable")] = np.arange(len(x))
    return r


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (ties broken by position; the shares have none that matter)."""
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / np.sqrt((ra**2).sum() * (rb**2).sum()))


def compare_shares(ours: np.ndarray, published: np.ndarray | None = None) -> dict:
    """How closely ``ours`` follows the published shares, against :data:`SHARE_RULES`.

    Returns ``spearman``, ``head_tail_ratio`` (most / least frequent of ours; inf if a class is
    missing), ``factors`` (ours / published per class), ``missing`` (classes with no pixel),
    ``off`` (classes outside the factor) and ``ok`` (every rule holds).
    """
    pub = published_shares() if published is None else np.asarray(published, float)
    ours = np.asarray(ours, float)
    missing = [CLASS_NAMES[i] for i in range(NUM_CLASSES) if ours[i] <= 0]
    factors = np.where(ours > 0, ours / pub, 0.0)
    rho = spearman(ours, pub)
    ratio = float(ours.max() / ours.min()) if ours.min() > 0 else float("inf")
    m = SHARE_RULES["max_factor"]
    off = [CLASS_NAMES[i] for i in range(NUM_CLASSES) if not (1 / m <= factors[i] <= m)]
    ok = (not missing and rho >= SHARE_RULES["min_spearman"] and not off
          and ratio >= SHARE_RULES["min_head_tail_ratio"])
    return {"spearman": rho, "head_tail_ratio": ratio, "factors": factors.tolist(), "missing": missing,
            "off": off, "ok": bool(ok)}


def shares_markdown(ours: np.ndarray, what: str) -> str:
    """The docs table: per class, our share next to the published one (percent of labelled pixels)."""
    pub = published_shares()
    cmp_ = compare_shares(ours, pub)
    lines = [f"Per-class pixel shares, {what}, against Cityscapes' published fine-annotation shares "
             f"(`pfrlib/reference/cityscapes_class_shares.csv`, renormalised to the 19 classes); "
             f"Spearman rho {cmp_['spearman']:.3f}, most / least frequent {cmp_['head_tail_ratio']:.0f}x.", "",
             "| trainId | class | SynthStreets-19 (%) | Cityscapes (%) | ratio |", "|---|---|---|---|---|"]
    for i in range(NUM_CLASSES):
        lines.append(f"| {i} | {CLASS_NAMES[i]} | {100 * ours[i]:.3f} | {100 * pub[i]:.3f} | {cmp_['factors'][i]:.2f} |")
    return "\n".join(lines) + "\n"
