"""pfrlib.methods.baselines.curriculum: Curriculum DA's KL term and label-distribution estimator."""

from __future__ import annotations

import math

import pytest
import torch

from pfrlib.methods.baselines.curriculum import LabelDistributionEstimator, estimator_loss, label_distribution_kl

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_curriculum_kl_is_zero_when_the_prediction_matches_the_estimate():
    p = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    assert label_distribution_kl(p, p).item() == pytest.approx(0.0, abs=1e-6)
    q = torch.tensor([[0.25, 0.25, 0.5], [0.2, 0.3, 0.5]])
    expected = 0.5 * (0.5 * math.log(2) * 2)  # image 0: 2 x 0.5 log(0.5 / 0.25); image 1: 0; batch mean
    assert label_distribution_kl(p, q).item() == pytest.approx(expected, rel=1e-5)
    assert estimator_loss(p.clamp_min(1e-12).log(), p).item() == pytest.approx(0.0, abs=1e-6)


def test_curriculum_estimator_outputs_a_distribution():
    est = LabelDistributionEstimator(16, 5)
    q = est(torch.randn(3, 16, 4, 8)).exp()
    assert q.shape == (3, 5) and torch.allclose(q.sum(1), torch.ones(3))
