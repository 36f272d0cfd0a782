"""Student's t distribution, for the paired t-test and the t interval over seeds, without scipy.

With n seeds, the mean of n per-seed differences divided by its standard error follows Student's t
with n - 1 degrees of freedom (when the differences are normal). Its two-sided tail is a
regularised incomplete beta function, ``P(|T| >= t) = I_{df / (df + t^2)}(df / 2, 1 / 2)``
(Abramowitz & Stegun 1964, sec. 26.7), evaluated by its continued fraction (A&S sec. 26.5) with the
modified Lentz method; the quantile is found by bisection on that tail. Checked against closed
forms and a numerical integral of the density in ``tests/evaluation/test_student_t.py``.

Used by :mod:`pfrlib.evaluation.statistics`.
"""

from __future__ import annotations

import math

__all__ = ["regularized_beta", "t_two_sided_p", "t_quantile"]


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function, evaluated by the modified Lentz
    method (converges fast for ``x < (a + 1) / (a + b + 2)``)."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 1000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < eps:
            break
    return result


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularised incomplete beta function, for 0 <= x <= 1."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1 - math.exp(log_front) * _beta_continued_fraction(b, a, 1 - x) / b


def t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2)."""
    return regularized_beta(df / 2, 0.5, df / (df + t * t)) if math.isfinite(t) else 0.0


def t_quantile(confidence: float, df: int) -> float:
    """The t such that P(|T| <= t) = ``confidence`` (bisection on :func:`t_two_sided_p`)."""
    if not 0 < confidence < 1 or df < 1:
        raise ValueError(f"t_quantile: expected 0 < confidence < 1 and df >= 1, got {confidence!r} and {df!r}")
    low, high = 0.0, 1.0
    while t_two_sided_p(high, df) > 1 - confidence:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if t_two_sided_p(mid, df) > 1 - confidence else (low, mid)
        if high - low < 1e-12 * high:
            break
    return (low + high) / 2


