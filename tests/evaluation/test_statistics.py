"""Paired comparisons over seeds (pfrlib.evaluation.statistics): hand-computed cases, reference values
computed here in plain Python (closed forms, an enumeration of sign vectors), the properties every
interval and p-value must have, and one clear error for bad input."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
import torch

from pfrlib.evaluation.statistics import (bootstrap_interval, class_bootstrap_intervals,
    hierarchical_bootstrap_interval, hierarchical_bootstrap_statistic, holm, paired_differences, paired_t_p_value, seed_mious, sign_flip_p_value,
    t_interval)
from pfrlib.evaluation.student_t import t_quantile, t_two_sided_p
from pfrlib.paper.metrics import iou, miou


# --------------------------------------------------------------------------- by hand
def test_three_seed_paired_difference_by_hand():
    d = paired_differences([40.0, 42.0, 38.0], [35.0, 41.0, 36.0])
    assert d.tolist() == [5.0, 1.0, 2.0]
    # 27 equally likely resamples of 3 seeds; the lowest mean (1, all three the seed of d = 1) and the
    # highest (5) each have probability 1/27 > 2.5%, so they are the 2.5th and 97.5th percentiles
    assert bootstrap_interval(d, resamples=4000, seed=0) == (1.0, 5.0)
    # t interval: mean 8/3, s = sqrt(13/3), df 2, whose quantile is (2p - 1) / sqrt(2p(1 - p))
    q = 0.95 / math.sqrt(2 * 0.975 * 0.025)
    half = q * math.sqrt(13 / 3) / math.sqrt(3)
    assert t_interval(d) == pytest.approx((8 / 3 - half, 8 / 3 + half), rel=1e-9)
    # t = (8/3) / (sqrt(13/3) / sqrt(3)) = 8 / sqrt(13); with df 2, p = 1 - t / sqrt(2 + t^2) = 1 - 8 / sqrt(90)
    assert paired_t_p_value(d) == pytest.approx(1 - 8 / math.sqrt(90), rel=1e-9)


def test_exact_sign_flip_p_value_counted_by_hand():
    # |d| = 6, 1, 2, 3, 1 sum to 13 and the observed sum is 11 (the -1 flipped). A sign vector reaches
    # |sum| >= 11 only by flipping nothing (13) or one of the two 1s (11): 3 vectors, and their
    # negatives: 6 of 2^5 = 32.
    assert sign_flip_p_value([6.0, -1.0, 2.0, 3.0, 1.0]) == pytest.approx(6 / 32)
    # three positive differences: only all + and all - reach the observed sum, 2 of 8
    assert sign_flip_p_value([5.0, 1.0, 2.0]) == pytest.approx(2 / 8)


def test_holm_worked_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04; step-down keeps the
    # running maximum, so the last becomes 0.06; back in the input's order:
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]).tolist() == [1.0, 1.0]  # 2 x 0.5 = 1, capped at 1, and the maximum carries
    assert holm([0.2]).tolist() == [0.2]


# --------------------------------------------------------------------------- reference values in plain Python
def test_paired_t_p_value_is_student_s_tail_of_the_t_statistic():
    # df 1 (Cauchy): d = 1, 3 has mean 2, s = sqrt(2), t = 2; p = 1 - (2 / pi) atan(2)
    assert paired_t_p_value([1.0, 3.0]) == pytest.approx(1 - 2 / math.pi * math.atan(2), rel=1e-9)
    rng = random.Random(7)
    for n in (4, 5, 8):  # t computed here; its tail is checked in test_student_t.py
        d = [rng.gauss(1.0, 2.0) for _ in range(n)]
        mean = sum(d) / n
        s = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
        assert paired_t_p_value(d) == pytest.approx(t_two_sided_p(mean / (s / math.sqrt(n)), n - 1), rel=1e-12)
        low, high = t_interval(d)
        assert (high - low) / 2 == pytest.approx(t_quantile(0.95, n - 1) * s / math.sqrt(n), rel=1e-12)


def test_exact_sign_flip_p_value_matches_an_enumeration_in_plain_python():
    rng = random.Random(3)
    d = [rng.gauss(0.5, 1.0) for _ in range(7)]
    observed = abs(sum(d))
    hits = sum(abs(sum(e * x for e, x in zip(signs, d))) >= observed - 1e-12
               for signs in itertools.product((-1, 1), repeat=len(d)))
    assert sign_flip_p_value(d) == pytest.approx(hits / 2 ** len(d))


# --------------------------------------------------------------------------- properties
def test_the_interval_contains_the_mean_difference():
    rng = np.random.default_rng(1)
    for n in (2, 3, 5, 10):
        d = rng.normal(2.0, 3.0, n)
        low, high = bootstrap_interval(d, resamples=500, seed=n)
        assert low <= d.mean() <= high
        low, high = t_interval(d)
        assert low < d.mean() < high


def test_identical_methods_differ_by_zero_with_p_one():
    a = [30.1, 32.4, 29.9, 31.0]
    d = paired_differences(a, list(a))
    assert d.tolist() == [0.0] * 4
    assert bootstrap_interval(d, resamples=200) == (0.0, 0.0) and t_interval(d) == (0.0, 0.0)
    assert paired_t_p_value(d) == 1.0 and sign_flip_p_value(d) == 1.0
    cm = _confusions(seeds=3, images=4, k=3, seed=0)
    assert hierarchical_bootstrap_interval(cm, cm.copy(), resamples=50) == (0.0, 0.0, 0.0)


def test_the_same_seed_gives_the_same_interval():
    d = [4.0, -1.0, 2.5, 0.5, 3.0]
    assert bootstrap_interval(d, seed=5) == bootstrap_interval(d, seed=5)
    assert bootstrap_interval(d, seed=5) != bootstrap_interval(d, seed=6)
    a, b = _confusions(3, 5, 3, seed=1), _confusions(3, 5, 3, seed=2)
    assert hierarchical_bootstrap_interval(a, b, resamples=100, seed=9) == \
        hierarchical_bootstrap_interval(a, b, resamples=100, seed=9)
    d20 = np.linspace(-1.0, 3.0, 20)  # above the exact limit: random sign vectors, seeded
    assert sign_flip_p_value(d20, resamples=500, seed=4) == sign_flip_p_value(d20, resamples=500, seed=4)
    assert sign_flip_p_value(np.ones(20), resamples=500, seed=4) <= 3 / 501  # exact p: 2 / 2^20


# --------------------------------------------------------------------------- seeds and test images
def _confusions(seeds: int, images: int, k: int, seed: int) -> np.ndarray:
    """(seeds, images, k, k) random per-image confusion matrices, mostly on the diagonal."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 20, (seeds, images, k, k)) + 60 * np.eye(k, dtype=np.int64)


def test_each_seed_s_miou_is_eq7_of_its_summed_images():
    cm = _confusions(3, 4, 3, seed=0)
    expected = [100 * miou(torch.from_numpy(cm[s].sum(0))) for s in range(3)]
    assert seed_mious(cm).tolist() == pytest.approx(expected)


def test_hierarchical_bootstrap_centres_on_the_per_seed_difference():
    a, b = _confusions(4, 6, 3, seed=3), _confusions(4, 6, 3, seed=4)
    mean, low, high = hierarchical_bootstrap_interval(a, b, resamples=300, seed=0)
    assert mean == pytest.approx(float((seed_mious(a) - seed_mious(b)).mean()))
    assert low <= mean <= high


def test_images_that_all_agree_add_nothing_to_the_seeds_interval():
    """When every test image of a seed has the same matrix, resampling images changes no mIoU (IoU is
    a ratio of counts), so the hierarchical interval is the seed bootstrap's of the same seed."""
    rng = np.random.default_rng(2)
    a = np.repeat(rng.integers(1, 50, (4, 1, 3, 3)), 5, axis=1)
    b = np.repeat(rng.integers(1, 50, (4, 1, 3, 3)), 5, axis=1)
    mean, low, high = hierarchical_bootstrap_interval(a, b, resamples=200, seed=8)
    assert (low, high) == pytest.approx(bootstrap_interval(seed_mious(a) - seed_mious(b), resamples=200, seed=8))


def test_class_intervals_use_the_same_draws_per_class():
    """Per class, the same two-stage draws as the mIoU interval: with one class present besides
    none, the per-class difference is the mIoU difference, interval and all."""
    a, b = _confusions(4, 6, 3, seed=3), _confusions(4, 6, 3, seed=4)
    means, lows, highs = class_bootstrap_intervals(a, b, [0, 2], resamples=300, seed=0)
    per_seed = [100 * (iou(torch.from_numpy(x.sum(0))) - iou(torch.from_numpy(y.sum(0)))).numpy() for x, y in zip(a, b)]
    assert means == pytest.approx(np.mean(per_seed, axis=0)[[0, 2]])
    assert (lows <= means).all() and (means <= highs).all()
    one = np.zeros((4, 6, 3, 3), np.int64)
    one[..., 0, 0], one[..., 0, 1], one[..., 1, 0] = a[..., 0, 0], a[..., 0, 1], a[..., 1, 0]
    other = np.zeros_like(one)
    other[..., 0, 0], other[..., 0, 1], other[..., 1, 0] = b[..., 0, 0], b[..., 0, 1], b[..., 1, 0]
    # classes 0 and 1 only: with classes=[0] the mIoU over [0] is class 0's IoU, the same draws
    (m,), (lo,), (hi,) = class_bootstrap_intervals(one, other, [0], resamples=300, seed=5)
    assert (m, lo, hi) == pytest.approx(hierarchical_bootstrap_interval(one, other, resamples=300, seed=5, classes=[0]))
    with pytest.raises(ValueError, match=r"^classes: expected class ids in 0..2, got \[3\]"):
        class_bootstrap_intervals(a, b, [3])


def test_a_statistic_of_several_methods_uses_the_same_draws():
    """Of two methods, the mean difference is hierarchical_bootstrap_interval, interval and all; of
    three, a ratio is computed on the runs as they are and its interval holds it."""
    a, b, c = _confusions(4, 6, 3, seed=3), _confusions(4, 6, 3, seed=4), _confusions(4, 6, 3, seed=5)
    diff = hierarchical_bootstrap_statistic({"a": a, "b": b}, lambda v: (v["a"] - v["b"]).mean(-1),
                                            resamples=300, seed=2)
    assert diff == pytest.approx(hierarchical_bootstrap_interval(a, b, resamples=300, seed=2))
    c[:, :, 0, 0] += 400  # c scores best on every seed: the ratio's denominator stays away from 0
    ratio = lambda v: (v["b"] - v["a"]).mean(-1) / (v["c"] - v["a"]).mean(-1)  # noqa: E731
    value, low, high = hierarchical_bootstrap_statistic({"a": a, "b": b, "c": c}, ratio, resamples=300, seed=2)
    sa, sb, sc = seed_mious(a), seed_mious(b), seed_mious(c)
    assert value == pytest.approx((sb - sa).mean() / (sc - sa).mean()) and low <= value <= high
    # a statistic that is never finite (a zero denominator on every draw) has no interval
    value, low, high = hierarchical_bootstrap_statistic({"a": a, "b": b}, lambda v: (v["b"] - v["a"]).mean(-1) / 0.0,
                                                        resamples=50)
    assert math.isnan(low) and math.isnan(high)
    with pytest.raises(ValueError, match=r"^confusions: the statistic's methods need the same seeds"):
        hierarchical_bootstrap_statistic({"a": a, "b": _confusions(3, 6, 3, 0)}, lambda v: v["a"].mean(-1))


# --------------------------------------------------------------------------- bad input
@pytest.mark.reliability
def test_bad_input_gets_one_error_naming_the_argument():
    with pytest.raises(ValueError, match=r"^a and b: .* got 3 and 2"):
        paired_differences([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"^differences: need at least 2 seeds .*, got 1"):
        bootstrap_interval([1.0])
    with pytest.raises(ValueError, match=r"^differences: need at least 2 seeds"):
        paired_t_p_value([0.5])
    with pytest.raises(ValueError, match=r"^confidence: "):
        t_interval([1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match=r"^p_values: "):
        holm([0.2, 1.5])
    with pytest.raises(ValueError, match=r"^confusion_reference and confusion_method: .*same seeds"):
        hierarchical_bootstrap_interval(_confusions(3, 4, 3, 0), _confusions(2, 4, 3, 0))
