"""Student's t distribution without scipy (pfrlib.evaluation.student_t), against closed forms and a
numerical integral of its density computed here in plain Python."""

from __future__ import annotations

import math

import pytest

from pfrlib.evaluation.student_t import regularized_beta, t_quantile, t_two_sided_p


def _two_sided_p_by_integration(t: float, df: int, steps: int = 2000) -> float:
    """1 - 2 * the integral of Student's t density from 0 to |t| (Simpson's rule)."""
    c = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    density = lambda x: c * (1 + x * x / df) ** (-(df + 1) / 2)  # noqa: E731
    h = abs(t) / steps
    total = density(0) + density(abs(t)) + sum((4 if i % 2 else 2) * density(i * h) for i in range(1, steps))
    return 1 - 2 * total * h / 3


def test_closed_forms_of_one_and_two_degrees_of_freedom():
    for t in (0.3, 1.0, 2.0, 7.5):
        assert t_two_sided_p(t, 1) == pytest.approx(1 - 2 / math.pi * math.atan(t), rel=1e-10)  # Cauchy
        assert t_two_sided_p(-t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-10)
    assert t_quantile(0.95, 1) == pytest.approx(math.tan(0.95 * math.pi / 2), rel=1e-10)
    assert t_quantile(0.95, 2) == pytest.approx(0.95 / math.sqrt(2 * 0.975 * 0.025), rel=1e-10)
    assert t_two_sided_p(0.0, 3) == 1.0 and t_two_sided_p(math.inf, 3) == 0.0


@pytest.mark.parametrize("df", [3, 4, 9, 30])
def test_tail_and_quantile_agree_with_the_integrated_density(df):
    for t in (0.5, 1.7, 3.2):
        assert t_two_sided_p(t, df) == pytest.approx(_two_sided_p_by_integration(t, df), abs=1e-8)
    q = t_quantile(0.95, df)
    assert _two_sided_p_by_integration(q, df) == pytest.approx(0.05, abs=1e-8)


def test_regularized_beta_identities():
    for x in (0.0, 0.1, 0.5, 0.93, 1.0):
        assert regularized_beta(1, 1, x) == pytest.approx(x)  # uniform
        assert regularized_beta(2.5, 1, x) == pytest.approx(x ** 2.5)
        assert regularized_beta(2.0, 0.5, x) == pytest.approx(1 - regularized_beta(0.5, 2.0, 1 - x))


def test_a_quantile_outside_its_range_is_refused():
    with pytest.raises(ValueError, match="t_quantile: expected 0 < confidence < 1 and df >= 1"):
        t_quantile(1.5, 4)
