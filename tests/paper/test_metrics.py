"""Unit tests for pfrlib.paper.metrics (Eq. 7)."""

from __future__ import annotations

import math

import pytest
import torch

from pfrlib.paper import metrics


def test_confusion_matrix_hand_case():
    target = torch.tensor([[0, 0, 1], [1, 2, 255]])
    pred = torch.tensor([[0, 1, 1], [1, 0, 2]])
    cm = metrics.confusion_matrix(pred, target, 3)
    expected = torch.tensor([[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    assert torch.equal(cm, expected)
    assert cm.dtype == torch.int64
    assert int(cm.sum()) == 5  # the ignored pixel does not count


def test_per_image_confusion_matrices_sum_to_the_batch_s():
    target = torch.tensor([[[0, 0, 1], [1, 2, 255]], [[2, 2, 2], [255, 255, 0]]])
    pred = torch.tensor([[[0, 1, 1], [1, 0, 2]], [[2, 1, 2], [0, 0, 0]]])
    each = metrics.confusion_matrices(pred, target, 3)
    assert each.shape == (2, 3, 3) and each.dtype == torch.int64
    assert torch.equal(each[0], metrics.confusion_matrix(pred[0], target[0], 3))
    assert torch.equal(each[1], torch.tensor([[1, 0, 0], [0, 0, 0], [0, 1, 2]]))  # its ignored pixels left out
    assert torch.equal(each.sum(0), metrics.confusion_matrix(pred, target, 3))
    with pytest.raises(ValueError, match="outside 0..2"):
        metrics.confusion_matrices(pred, target.clamp(max=3), 3)
    with pytest.raises(ValueError, match="leading image dimension"):
        metrics.confusion_matrices(torch.tensor(1), torch.tensor(1), 3)


def test_iou_hand_case_and_nan_for_absent():
    cm = torch.tensor([[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    values = metrics.iou(cm)
    assert math.isclose(float(values[0]), 1 / 3)  # TP 1, FN 1, FP 1
    assert math.isclose(float(values[1]), 2 / 3)  # TP 2, FP 1
    assert float(values[2]) == 0.0  # present in GT, never right
    assert math.isnan(float(values[3]))  # absent from both
    assert math.isclose(metrics.miou(cm), (1 / 3 + 2 / 3 + 0) / 3)
    assert math.isclose(metrics.miou(cm, classes=[0, 1]), 0.5)
    stack = torch.stack([cm, torch.eye(4, dtype=torch.long)])  # a bootstrap's stack: one IoU vector each
    assert torch.equal(metrics.iou(stack)[0].nan_to_num(-1), values.nan_to_num(-1))
    assert metrics.iou(stack)[1].tolist() == [1.0] * 4
    with pytest.raises(ValueError, match="one \\(K, K\\) confusion matrix"):
        metrics.miou(stack)


def test_the_papers_eight_classes_are_benchmark_classes():
    assert len(metrics.PAPER_GAIN_CLASSES) == 8
    assert [metrics.CITYSCAPES_CLASSES.index(c) for c in metrics.PAPER_GAIN_CLASSES] == [0, 2, 3, 4, 9, 12, 14, 15]


def test_ignored_pixels_do_not_change_iou():
    torch.manual_seed(0)
    target = torch.randint(0, 4, (2, 10, 10))
    pred = torch.randint(0, 4, (2, 10, 10))
    cm = metrics.confusion_matrix(pred, target, 4)
    noisy_target = target.clone()
    noisy_target[:, :2] = 255
    cm2 = metrics.confusion_matrix(pred, noisy_target, 4)
    assert int(cm2.sum()) == 160
    assert not torch.equal(cm, cm2)
    pred2 = pred.clone()
    pred2[:, :2] = 3  # predictions under ignored pixels do not matter
    assert torch.equal(cm2, metrics.confusion_matrix(pred2, noisy_target, 4))


def test_perfect_prediction():
    t = torch.randint(0, 19, (1, 32, 32))
    cm = metrics.confusion_matrix(t, t, 19)
    assert metrics.miou(cm) == 1.0


def test_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        metrics.confusion_matrix(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="outside 0..1"):
        metrics.confusion_matrix(torch.zeros(4, dtype=torch.long), torch.tensor([0, 1, 2, 255]), 2)
    with pytest.raises(TypeError, match="argmax"):
        metrics.confusion_matrix(torch.zeros(4), torch.zeros(4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="square"):
        metrics.iou(torch.zeros(2, 3))


def test_per_class_iou_names_each_class():
    per = metrics.per_class_iou(torch.eye(19, dtype=torch.long))
    assert list(per) == list(metrics.CITYSCAPES_CLASSES) and all(v == 1.0 for v in per.values())
    with pytest.raises(ValueError, match="3 class names"):
        metrics.per_class_iou(torch.eye(19, dtype=torch.long), names=("a", "b", "c"))
