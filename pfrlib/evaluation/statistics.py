"""Paired comparisons of methods over training seeds: intervals, p-values, Holm's correction.

Every method of a results file was trained on the same seeds, so two methods are compared *paired
per seed*: the per-seed difference ``d_s = reference_s - method_s`` of their mIoU (in %, as the
files keep it), then

* its mean and a 95% **bootstrap interval** (Efron & Tibshirani 1993, ch. 13: the percentile
  interval), resampling seeds with replacement (:func:`bootstrap_interval`) or, where each seed's
  per-image confusion matrices on the test split are kept, resampling seeds and then the test
  images within each drawn seed (:func:`hierarchical_bootstrap_interval`; the two-stage scheme of
  Davison & Hinkley 1997, sec. 3.8), each seed's mIoU recomputed from the summed matrix by
  Eq. (7) (:func:`pfrlib.paper.metrics.miou`); per class, the same draws give each class's IoU
  difference and its interval (:func:`class_bootstrap_intervals`, claim (b)); for a statistic of
  more than two methods (a share of a gap closed), the same draws give its interval
  (:func:`hierarchical_bootstrap_statistic`);
* a two-sided **paired test**: Student's paired t-test (:func:`paired_t_p_value`, the protocol's
  choice; the distribution: :mod:`pfrlib.evaluation.student_t`) or the exact sign-flip
  permutation test (:func:`sign_flip_p_value`; Fisher 1935);
* **Holm's step-down correction** over the family of comparisons (:func:`holm`; Holm 1979).

:mod:`pfrlib.evaluation.comparisons` applies them to a results file (every method against a
reference, a verdict per row). What is compared, on which seeds and split, and why these tests:
``docs/protocol.md``.

Pure numpy and the standard library (scipy is not a dependency). Seeded and deterministic.

References: B. Efron, R. J. Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall 1993;
A. C. Davison, D. V. Hinkley, *Bootstrap Methods and their Application*, CUP 1997; R. A. Fisher,
*The Design of Experiments*, 1935 (ch. III, Darwin's paired plants); S. Holm, "A simple sequentially rejective multiple
test procedure", *Scand. J. Statist.* 6 (1979) 65-70.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import torch

from pfrlib.evaluation.student_t import t_quantile, t_two_sided_p
from pfrlib.paper.metrics import iou, miou

__all__ = ["CONFIDENCE", "RESAMPLES", "SEED", "EXACT_SIGN_FLIP_MAX", "paired_differences", "bootstrap_interval",
           "seed_mious", "hierarchical_bootstrap_interval", "hierarchical_bootstrap_statistic",
           "class_bootstrap_intervals", "t_interval", "paired_t_p_value", "sign_flip_p_value", "holm"]

#: The defaults: a 95% interval, bootstrap resamples (Efron & Tibshirani advise about 1000 or
#: more for an interval's end points) and the resampling generator's seed.
CONFIDENCE, RESAMPLES, SEED = 0.95, 4000, 0
#: Up to this many seeds the sign-flip test enumerates all 2^n sign vectors (exact p).
EXACT_SIGN_FLIP_MAX = 16


# --------------------------------------------------------------------------- checks
def _values(values: Any, name: str) -> np.ndarray:
    """``values`` as a 1-D float array of at least two finite numbers, else one error naming ``name``."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a sequence of numbers, got {values!r}") from None
    if array.ndim != 1:
        raise ValueError(f"{name}: expected one value per seed (a 1-D sequence), got shape {array.shape}")
    if array.size < 2:
        raise ValueError(f"{name}: need at least 2 seeds for a paired comparison, got {array.size}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: every value must be finite, got {array.tolist()}")
    return array


def _check_confidence(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a level strictly between 0 and 1 (0.95 for 95%), got {confidence!r}")
    return float(confidence)


def _check_resamples(resamples: int) -> int:
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 1:
        raise ValueError(f"resamples: expected a positive integer, got {resamples!r}")
    return int(resamples)


# --------------------------------------------------------------------------- differences and intervals
def paired_differences(a: Sequence[float], b: Sequence[float], name_a: str = "a", name_b: str = "b") -> np.ndarray:
    """Per-seed differences ``a - b`` of two methods trained on the same seeds.

    Args:
        a, b: (n,) one value per seed each (e.g. target mIoU in %), in the same seed order, n >= 2.
        name_a, name_b: how an error names the two arguments.

    Returns:
        (n,) float64 array.

    Raises:
        ValueError naming the argument when the lengths differ, a value is not finite or n < 2.
    """
    if np.ndim(a) == 1 and np.ndim(b) == 1 and len(a) != len(b):
        raise ValueError(f"{name_a} and {name_b}: a paired comparison needs one value per seed in both, "
                         f"got {len(a)} and {len(b)}")
    return _values(a, name_a) - _values(b, name_b)


def _percentile_interval(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def _seed_draws(rng: np.random.Generator, n: int, resamples: int) -> np.ndarray:
    """(resamples, n) seed indices drawn with replacement: the first draw of every bootstrap here,
    so that the seed-only and the hierarchical bootstrap of one ``seed`` resample the same seeds."""
    return rng.integers(0, n, size=(resamples, n))


def bootstrap_interval(differences: Sequence[float], confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                       seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-seed differences (Efron & Tibshirani 1993,
    sec. 13.3), resampling the seeds with replacement.

    Args:
        differences: (n,) per-seed differences, n >= 2 (:func:`paired_differences`).
        confidence: the interval's level (0.95: the 2.5th to 97.5th percentile of the resampled means).
        resamples: B, the number of bootstrap resamples.
        seed: the resampling generator's seed; the same seed gives the same interval.

    Returns:
        ``(low, high)`` in the differences' unit. With few seeds the percentile interval is too
        narrow (it cannot be wider than the range of the differences); docs/protocol.md says how
        the verdicts allow for that.
    """
    d = _values(differences, "differences")
    confidence, resamples = _check_confidence(confidence), _check_resamples(resamples)
    rng = np.random.default_rng(seed)
    means = d[_seed_draws(rng, d.size, resamples)].mean(axis=1)
    return _percentile_interval(means, confidence)


def _check_confusion(confusion: Any, name: str) -> np.ndarray:
    array = np.asarray(confusion)
    if array.ndim != 4 or array.shape[2] != array.shape[3]:
        raise ValueError(f"{name}: expected per-image confusion matrices of shape (seeds, images, K, K), "
                         f"got {array.shape}")
    if array.shape[0] < 2:
        raise ValueError(f"{name}: need at least 2 seeds for a paired comparison, got {array.shape[0]}")
    if array.shape[1] < 1 or not np.issubdtype(array.dtype, np.integer) or (array < 0).any():
        raise ValueError(f"{name}: expected non-negative integer pixel counts for at least one image per seed")
    return array.astype(np.int64, copy=False)


def seed_mious(confusion: Any, classes: Optional[Sequence[int]] = None) -> np.ndarray:
    """Each seed's mIoU (%) from its per-image confusion matrices: summed over the images, then
    Eq. (7) (:func:`pfrlib.paper.metrics.miou`), as the runs report it.

    Args:
        confusion: (S, N, K, K) non-negative counts, seed s's test image n's matrix (rows = ground
            truth, columns = prediction).
        classes: the class ids averaged over (default: those present, as :func:`miou`).

    Returns:
        (S,) float64 array, mIoU in %.
    """
    cm = _check_confusion(confusion, "confusion")
    return np.array([100 * miou(torch.from_numpy(cm[s].sum(axis=0)), classes) for s in range(cm.shape[0])])


def hierarchical_bootstrap_interval(confusion_reference: Any, confusion_method: Any, confidence: float = CONFIDENCE,
                                    resamples: int = RESAMPLES, seed: int = SEED,
                                    classes: Optional[Sequence[int]] = None) -> tuple[float, float, float]:
    """Mean paired mIoU difference and its percentile bootstrap interval, resampling seeds and then
    test images within each drawn seed (Davison & Hinkley 1997, sec. 3.8; the percentile interval of
    Efron & Tibshirani 1993, sec. 13.3).

    One resample draws n seeds with replacement (the same draw as :func:`bootstrap_interval` of the
    same ``seed``) and, for each drawn seed, the N test images with replacement; both methods get the
    same seeds and the same images (paired twice), each drawn seed's mIoU is recomputed from the sum
    of its drawn images' matrices (:func:`seed_mious`'s Eq. 7), and the resample's statistic is the
    mean over the drawn seeds of ``reference - method``.

    Args:
        confusion_reference, confusion_method: (S, N, K, K) per-image confusion matrices of the two
            methods on the same N test images, seeds in the same order, S >= 2.
        confidence, resamples, seed: as :func:`bootstrap_interval`.
        classes: as :func:`seed_mious`.

    Returns:
        ``(mean difference, low, high)`` in mIoU %.
    """
    ref, other = _paired_confusions(confusion_reference, confusion_method)
    confidence, resamples = _check_confidence(confidence), _check_resamples(resamples)
    mean = float((seed_mious(ref, classes) - seed_mious(other, classes)).mean())
    seeds = np.empty(0, dtype=np.int64)
    differences = np.empty(0)
    for seeds, drawn, sums in _image_resamples(ref, other, resamples=resamples, seed=seed):
        if differences.size == 0:
            differences = np.empty(seeds.size)  # one per (resample, position), in seeds.ravel()'s order
        differences[drawn] = [100 * (miou(torch.from_numpy(r), classes) - miou(torch.from_numpy(o), classes))
                              for r, o in zip(*sums)]
    return (mean, *_percentile_interval(differences.reshape(seeds.shape).mean(axis=1), confidence))


def _paired_confusions(confusion_reference: Any, confusion_method: Any) -> tuple[np.ndarray, np.ndarray]:
    ref = _check_confusion(confusion_reference, "confusion_reference")
    other = _check_confusion(confusion_method, "confusion_method")
    if ref.shape != other.shape:
        raise ValueError(f"confusion_reference and confusion_method: a paired comparison needs the same seeds, "
                         f"test images and classes, got shapes {ref.shape} and {other.shape}")
    return ref, other


def _image_resamples(ref: np.ndarray, *others: np.ndarray, resamples: int, seed: int):
    """The two-stage draws of :func:`hierarchical_bootstrap_interval`, seed by seed: for each seed s,
    ``(seeds, drawn, (reference sums, method sums, ...))``: the (resamples, n) seed draws, the flat
    positions of ``seeds`` that drew s, and for each of them every method's (K, K) matrices summed
    over the same N test images drawn with replacement (the draws do not depend on how many methods
    there are: two methods get the same draws here as in :func:`hierarchical_bootstrap_statistic`)."""
    n_seeds, n_images, k = ref.shape[:3]
    rng = np.random.default_rng(seed)
    seeds = _seed_draws(rng, n_seeds, resamples)
    for s in range(n_seeds):
        drawn = np.flatnonzero(seeds.ravel() == s)  # every (resample, position) that drew seed s
        # how often each test image is drawn in each of them: N draws with replacement
        weights = rng.multinomial(n_images, np.full(n_images, 1 / n_images), size=drawn.size)
        # float64 products (exact for counts below 2^53) so that the sum runs as a BLAS product
        sums = tuple((weights.astype(float) @ m[s].reshape(n_images, k * k).astype(float)).reshape(-1, k, k)
                     for m in (ref, *others))
        yield seeds, drawn, sums


def class_bootstrap_intervals(confusion_reference: Any, confusion_method: Any, classes: Sequence[int],
                              confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = SEED
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class, the mean paired IoU difference and its percentile bootstrap interval, resampling
    seeds and then test images within each drawn seed: :func:`hierarchical_bootstrap_interval`'s
    draws (the same ones for the same ``seed``), each drawn seed's per-class IoU recomputed from the
    summed matrix by Eq. (7) (:func:`pfrlib.paper.metrics.iou`).

    A class that a resampled seed lacks in both methods' matrices (absent from its drawn images'
    ground truth and predictions) is left out of that resample's mean over seeds; a resample in
    which no drawn seed has it is left out of that class's percentiles.

    Args:
        confusion_reference, confusion_method: (S, N, K, K) per-image confusion matrices, as
            :func:`hierarchical_bootstrap_interval`.
        classes: (C,) the class ids compared (indices into K).
        confidence, resamples, seed: as :func:`bootstrap_interval`.

    Returns:
        ``(means, lows, highs)``, each (C,) in IoU points (%): the mean over seeds of
        ``reference - method`` on the full test set, and the interval's ends.
    """
    ref, other = _paired_confusions(confusion_reference, confusion_method)
    confidence, resamples = _check_confidence(confidence), _check_resamples(resamples)
    ids = np.asarray(classes, dtype=np.int64)
    if ids.ndim != 1 or ids.size < 1 or (ids < 0).any() or (ids >= ref.shape[2]).any():
        raise ValueError(f"classes: expected class ids in 0..{ref.shape[2] - 1}, got {list(classes)!r}")

    def ious(matrices: np.ndarray) -> np.ndarray:  # (..., K, K) -> (..., C) IoU in %
        return 100 * iou(torch.from_numpy(matrices)).numpy()[..., ids]

    means = (ious(ref.sum(axis=1)) - ious(other.sum(axis=1))).mean(axis=0)
    seeds = np.empty(0, dtype=np.int64)
    differences = np.empty(0)
    for seeds, drawn, (r, o) in _image_resamples(ref, other, resamples=resamples, seed=seed):
        if differences.size == 0:
            differences = np.empty((seeds.size, ids.size))
        differences[drawn] = ious(r) - ious(o)
    differences = differences.reshape(*seeds.shape, ids.size)
    present = ~np.isnan(differences)
    counts = present.sum(axis=1)
    stats = np.where(counts > 0, np.where(present, differences, 0).sum(axis=1) / np.maximum(counts, 1), np.nan)
    tail = 100 * (1 - confidence) / 2
    lows, highs = np.nanpercentile(stats, [tail, 100 - tail], axis=0)
    return means, lows, highs


def hierarchical_bootstrap_statistic(confusions: Mapping[str, Any],
                                     statistic: Callable[[Mapping[str, np.ndarray]], Any], confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = SEED,
                                     classes: Optional[Sequence[int]] = None) -> tuple[float, float, float]:
    """A statistic of several methods' per-seed mIoU and its percentile bootstrap interval, with
    :func:`hierarchical_bootstrap_interval`'s draws: n seeds with replacement, then within each
    drawn seed the N test images with replacement, the same seeds and images for every method (for
    two methods, the same draws as :func:`hierarchical_bootstrap_interval` of the same ``seed``).

    For a ratio of paired differences (the gap closed of :mod:`pfrlib.evaluation.components`):
    ``statistic`` gets ``{name: per-seed mIoU (%)}`` and reduces over the last axis, so that it is
    computed once on the runs as they are (arrays of shape (S,)) and once for all resamples
    (shape (resamples, S), a row per resample). Resamples whose statistic is not finite (a zero
    denominator) are left out of the percentiles; if more than half are, the interval is NaN.

    Args:
        confusions: ``{name: (S, N, K, K) per-image confusion matrices}``, every one of one shape:
            the same seeds in the same order and N test images (the same images, or test sets of
            one size whose images are drawn by the same indices).
        statistic: ``f({name: mIoU %}) -> value(s)``, reducing over the last axis.
        confidence, resamples, seed: as :func:`bootstrap_interval`.
        classes: as :func:`seed_mious`.

    Returns:
        ``(statistic on the runs, low, high)``.
    """
    if not confusions:
        raise ValueError("confusions: expected at least one method's matrices")
    names = list(confusions)
    arrays = [_check_confusion(confusions[n], f"confusions[{n!r}]") for n in names]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError("confusions: the statistic's methods need the same seeds, test-set size and classes, got "
                         + ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays)))
    confidence, resamples = _check_confidence(confidence), _check_resamples(resamples)
    k = arrays[0].shape[2]
    ids = np.arange(k) if classes is None else np.asarray(list(classes), dtype=np.int64)
    if ids.ndim != 1 or (ids < 0).any() or (ids >= k).any():
        raise ValueError(f"classes: expected class ids in 0..{k - 1}, got {list(classes)!r}")

    def mious(matrices: np.ndarray) -> np.ndarray:  # (..., K, K) -> (...,) mIoU in %, as miou() averages
        values = iou(torch.from_numpy(np.asarray(matrices))).numpy()[..., ids]
        present = ~np.isnan(values)
        return np.where(present.any(-1), 100 * np.where(present, values, 0).sum(-1) / np.maximum(present.sum(-1), 1),
                        np.nan)

    with np.errstate(divide="ignore", invalid="ignore"):  # a zero denominator is NaN or inf, said by the caller
        value = float(statistic({n: mious(a.sum(axis=1)) for n, a in zip(names, arrays)}))
    seeds = np.empty(0, dtype=np.int64)
    drawn_mious = {n: np.empty(0) for n in names}
    for seeds, drawn, sums in _image_resamples(*arrays, resamples=resamples, seed=seed):
        for n, m in zip(names, sums):
            if drawn_mious[n].size == 0:
                drawn_mious[n] = np.empty(seeds.size)
            drawn_mious[n][drawn] = mious(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        stats = np.asarray(statistic({n: v.reshape(seeds.shape) for n, v in drawn_mious.items()}), dtype=float)
    finite = stats[np.isfinite(stats)]
    if finite.size * 2 < stats.size:
        return value, float("nan"), float("nan")
    return (value, *_percentile_interval(finite, confidence))


# --------------------------------------------------------------------------- tests on the differences
def t_interval(differences: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student's t interval of the mean of per-seed differences: mean ± t_{(1+c)/2, n-1} s / sqrt(n).

    Args:
        differences: (n,) per-seed differences, n >= 2.
        confidence: the level c.

    Returns:
        ``(low, high)``; deterministic (the protocol's adoption rule reads its half-width).
    """
    d = _values(differences, "differences")
    confidence = _check_confidence(confidence)
    half = t_quantile(confidence, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    return float(d.mean() - half), float(d.mean() + half)


def paired_t_p_value(differences: Sequence[float]) -> float:
    """Two-sided p of Student's paired t-test that the mean per-seed difference is 0.

    ``t = mean / (s / sqrt(n))`` with n - 1 degrees of freedom (s: the sample standard deviation).
    Differences that are all 0 give p = 1; equal non-zero differences (s = 0) give p = 0.

    Args:
        differences: (n,) per-seed differences, n >= 2.
    """
    d = _values(differences, "differences")
    mean, spread = float(d.mean()), float(d.std(ddof=1))
    if spread == 0:
        return 1.0 if mean == 0 else 0.0
    return t_two_sided_p(mean / (spread / math.sqrt(d.size)), d.size - 1)


def sign_flip_p_value(differences: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED) -> float:
    """Two-sided p of the sign-flip permutation test (Fisher 1935) that the per-seed differences are
    symmetric about 0: the share of sign vectors ``e`` in {-1, +1}^n with ``|sum(e * d)| >= |sum(d)|``.

    Exact (all 2^n vectors) for n <= :data:`EXACT_SIGN_FLIP_MAX`; above, ``resamples`` random vectors
    and ``(1 + hits) / (1 + resamples)``. The exact p is a multiple of 2 / 2^n: with 5 seeds it is
    never below 1/16.

    Args:
        differences: (n,) per-seed differences, n >= 2.
        resamples, seed: the random vectors when n is too large to enumerate.
    """
    d = _values(differences, "differences")
    observed = abs(d.sum())
    tolerance = 1e-9 * max(1.0, float(np.abs(d).sum()))  # equal sums must count as equal, not by rounding
    if d.size <= EXACT_SIGN_FLIP_MAX:
        signs = 1 - 2 * ((np.arange(2 ** d.size)[:, None] >> np.arange(d.size)) & 1)
        return float((np.abs(signs @ d) >= observed - tolerance).mean())
    resamples = _check_resamples(resamples)
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(resamples, d.size))
    return float((1 + (np.abs(signs @ d) >= observed - tolerance).sum()) / (1 + resamples))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values of a family of m tests.

    The k-th smallest p (k = 1..m) becomes ``max over j <= k of min(1, (m - j + 1) p_(j))``; a test is
    rejected at level alpha when its adjusted p is <= alpha, which controls the family-wise error
    rate at alpha for any dependence between the tests.

    Args:
        p_values: (m,) p-values in [0, 1], m >= 1.

    Returns:
        (m,) adjusted p-values in the input's order.
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or p.size < 1 or not ((p >= 0) & (p <= 1)).all():
        raise ValueError(f"p_values: expected a non-empty sequence of p-values in [0, 1], got {list(p_values)!r}")
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, (p.size - np.arange(p.size)) * p[order]))
    adjusted = np.empty_like(p)
    adjusted[order] = stepped
    return adjusted
