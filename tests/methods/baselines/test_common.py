"""pfrlib.methods.baselines.common: the class distributions the baselines share (labelled pixels, mean softmax)."""

from __future__ import annotations


import pytest
import torch

from pfrlib.methods.baselines.common import label_distribution, predicted_distribution

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_label_distribution_counts_labelled_pixels_only():
    labels = torch.tensor([[[0, 0, 1, 255], [2, 2, 2, 255]]], dtype=torch.uint8)  # 1 x 2 x 4
    p = label_distribution(labels, 4)
    assert torch.allclose(p, torch.tensor([[2 / 6, 1 / 6, 3 / 6, 0.0]]))
    assert torch.equal(label_distribution(torch.full((1, 2, 2), 255), 3), torch.zeros(1, 3))


def test_predicted_distribution_is_the_mean_softmax():
    logits = torch.zeros(2, 3, 4, 4)
    logits[0, 1] = 100.0  # image 0: all class 1
    p = predicted_distribution(logits)
    assert torch.allclose(p[0], torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    assert torch.allclose(p[1], torch.full((3,), 1 / 3))
