"""pfrlib.methods.baselines.fcn_wild: FCNs in the Wild's class-size bounds and constraint, its feature discriminator."""

from __future__ import annotations


import pytest
import torch

from pfrlib.methods.baselines.fcn_wild import FeatureDiscriminator, class_size_bounds, class_size_constraint_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_fcn_wild_bounds_come_from_the_images_that_contain_the_class():
    sizes = torch.tensor([[0.5, 0.5, 0.0], [0.1, 0.9, 0.0], [0.3, 0.0, 0.7]])
    lo, hi = class_size_bounds(sizes, 0.0, 1.0)
    assert torch.allclose(lo, torch.tensor([0.1, 0.5, 0.7])) and torch.allclose(hi, torch.tensor([0.5, 0.9, 0.7]))
    lo, hi = class_size_bounds(torch.zeros(4, 2), 0.1, 0.9)
    assert torch.equal(lo, torch.zeros(2)) and torch.equal(hi, torch.zeros(2))  # never seen: (0, 0)


def test_fcn_wild_constraint_is_zero_inside_the_bounds_and_a_hinge_outside():
    alpha, beta = torch.tensor([0.2, 0.1]), torch.tensor([0.6, 0.3])
    present = torch.ones(1, 2, dtype=torch.bool)
    inside = torch.tensor([[0.5, 0.2]])
    assert class_size_constraint_loss(inside, alpha, beta, present).item() == 0.0
    outside = torch.tensor([[0.1, 0.5]], requires_grad=True)  # 0.1 below, 0.2 above
    loss = class_size_constraint_loss(outside, alpha, beta, present)
    assert loss.item() == pytest.approx(0.1 + 0.2)
    loss.backward()
    assert torch.equal(outside.grad, torch.tensor([[-1.0, 1.0]]))  # pushes both back inside
    absent = torch.tensor([[True, False]])
    assert class_size_constraint_loss(outside.detach(), alpha, beta, absent).item() == pytest.approx(0.1)


def test_feature_discriminator_keeps_the_resolution():
    d = FeatureDiscriminator(16, ndf=8)
    assert d(torch.randn(2, 16, 8, 16)).shape == (2, 1, 8, 16)
    with pytest.raises(ValueError, match="f:"):
        d(torch.randn(2, 15, 8, 16))
