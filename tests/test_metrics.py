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


def test_iou_hand_case_and_nan_for_absent():
    cm = torch.tensor([[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    values = metrics.iou(cm)
    assert math.isclose(float(values[0]), 1 / 3)  # TP 1, FN 1, FP 1
    assert math.isclose(float(values[1]), 2 / 3)  # TP 2, FP 1
    assert float(values[2]) == 0.0  # present in GT, never right
    assert math.isnan(float(values[3]))  # absent from both
    assert math.isclose(metrics.miou(cm), (1 / 3 + 2 / 3 + 0) / 3)
    assert math.isclose(metrics.miou(cm, classes=[0, 1]), 0.5)


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


def test_table_row_formatting():
    per = {name: 0.5 for name in metrics.CITYSCAPES_CLASSES}
    per["train"] = float("nan")
    row = metrics.format_table_row("ours", per, backbone="small")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "ours" and cells[1] == "small"
    assert cells[2] == "50.0" and cells[2 + 16] == "-"
    assert cells[-1] == "50.0"
    table = metrics.format_table([row])
    assert table.splitlines()[0].startswith("| method | backbone | road")
    assert len(metrics.per_class_iou(torch.eye(19, dtype=torch.long))) == 19


def test_ladder_mean_std_and_gap_closed():
    from pfrlib.paper.metrics import ladder

    t = ladder({"source_only": [20.0, 22.0], "pfr_adv": [35.0, 37.0, 39.0], "oracle": [70.0, 74.0]})
    assert list(t) == ["source_only", "pfr_adv", "oracle"]
    assert t["pfr_adv"]["mean"] == 37.0 and math.isclose(t["pfr_adv"]["std"], 2.0)
    assert math.isclose(t["pfr_adv"]["gap_closed"], (37 - 21) / (72 - 21))
    assert t["source_only"]["gap_closed"] == 0.0 and t["oracle"]["gap_closed"] == 1.0
    single = ladder({"pfr": [30.0]})
    assert single["pfr"]["std"] == 0.0 and math.isnan(single["pfr"]["gap_closed"])  # no bounds
    with pytest.raises(ValueError, match="no runs"):
        ladder({"pfr": []})


def test_table_record_and_frame_render_percent_and_dashes():
    rec = metrics.table_record("ours", {"road": 0.9, "sky": None, "car": float("nan")}, miou_value=0.45, backbone="small")
    assert rec["method"] == "ours" and rec["road"] == pytest.approx(90.0) and math.isnan(rec["sky"])
    assert rec["mIoU"] == pytest.approx(45.0) and list(rec)[2:-1] == list(metrics.CITYSCAPES_CLASSES)
    frame = metrics.table_frame([rec, metrics.table_record("all", [0.5] * 19)])
    assert frame.loc["ours", "road"] == "90.0" and frame.loc["ours", "sky"] == "-" and frame.loc["ours", "car"] == "-"
    assert frame.loc["all", "mIoU"] == "50.0" and frame.loc["ours", "backbone"] == "small"
    with pytest.raises(ValueError, match="19 per-class"):
        metrics.table_record("bad", [0.5] * 3)


def test_class_pixel_share_counts_labelled_pixels_only():
    from pfrlib.paper.metrics import class_pixel_share

    labels = torch.tensor([[0, 0, 0, 2], [255, 255, 2, 18]])
    share = class_pixel_share(labels)
    assert share.shape == (19,) and share.dtype == torch.float64
    assert share[0] == 0.5 and share[2] == pytest.approx(2 / 6) and share[18] == pytest.approx(1 / 6)
    assert share.sum() == pytest.approx(1.0) and share[1] == 0
    with pytest.raises(ValueError, match="every pixel is ignore_index"):
        class_pixel_share(torch.full((2, 2), 255))
    with pytest.raises(ValueError, match=r"trainIds in 0\.\.18 or 255, got values 0\.\.19"):
        class_pixel_share(torch.tensor([0, 19]))
