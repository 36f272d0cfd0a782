"""Tests for the results figures in pfrlib.viz (training curves, per-class bars, Fig. 3 grid, ladder)."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from pfrlib import viz  # noqa: E402
from pfrlib.viz.results import plot_iou_heatmap, plot_ladder, plot_per_class_iou, plot_share_vs_difference, plot_training_curves
from pfrlib.viz.scenes import prediction_grid


def test_training_curves_skip_missing_keys_and_cut_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"iter": i, "seg": 1.0 / (i + 1)}) for i in range(1, 20)]
    lines += [json.dumps({"iter": 20, "val_target_miou": 0.4}), '{"iter": 21, "se']  # last line cut by a kill
    path.write_text("\n".join(lines))
    fig = plot_training_curves({"a": path}, keys=("seg", "val_target_miou", "adv"))
    axes = fig.axes
    assert len(axes[0].lines) == 1 and len(axes[0].lines[0].get_xdata()) == 19
    assert axes[1].lines[0].get_ydata()[0] == pytest.approx(40.0)  # validation shown in percent
    assert not axes[2].lines  # a key never logged is skipped


def test_per_class_iou_bars_only_present_classes():
    fig = plot_per_class_iou({"a": {"road": 0.9, "car": 0.5, "train": None}, "b": {"road": 0.8, "car": None}})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["road", "car"]
    assert len(ax.patches) == 4


def test_prediction_grid_shape_and_titles():
    images = torch.randint(0, 255, (2, 3, 8, 16), dtype=torch.uint8)
    preds = {"m1": torch.zeros(2, 8, 16, dtype=torch.long), "m2": torch.ones(2, 8, 16, dtype=torch.long)}
    labels = torch.full((2, 8, 16), 255)
    fig = prediction_grid(images, preds, labels)
    assert len(fig.axes) == 2 * 4
    assert fig.axes[0].get_title() == "image" and fig.axes[3].get_title() == "ground truth"
    gt = fig.axes[3].images[0].get_array()
    assert np.all(np.asarray(gt) == 0)  # ignore (255) is black
    with pytest.raises(ValueError, match="4 columns"):
        prediction_grid(images, preds, labels, titles=("a", "b"))


def test_ladder_bars():
    table = {"source_only": {"mean": 20.0, "std": 1.0, "runs": [19, 21]}, "pfr_adv": {"mean": 40.0, "std": 2.0, "runs": [38, 42]}}
    fig = plot_ladder(table)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [20.0, 40.0]


def test_iou_heatmap_cells_and_highlight():
    rows = {"A": {"road": 80.0, "sky": None, "car": 12.5}, "Ours": {"road": 70.0, "sky": None, "car": 60.0}}
    fig = plot_iou_heatmap(rows, highlight="Ours")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["road", "car"]  # sky has no value anywhere
    assert sorted(t.get_text() for t in ax.texts) == ["12", "60", "70", "80"]
    bold = [t.get_text() for t in ax.get_yticklabels() if t.get_fontweight() == "bold"]
    assert bold == ["Ours"]
    assert ax.images[0].get_array().shape == (2, 2)


def test_share_vs_difference_colours_by_group():
    fig = plot_share_vs_difference({"road": 30.0, "pole": 4.0, "sky": 10.0}, {"road": 3.0, "pole": -2.0}, split=11.1)
    ax = fig.axes[0]
    points = {tuple(c.get_offsets()[0].tolist()): tuple(c.get_facecolor()[0]) for c in ax.collections}
    assert set(points) == {(30.0, 3.0), (4.0, -2.0)}  # sky has no difference: not drawn
    assert points[(30.0, 3.0)] != points[(4.0, -2.0)]  # frequent and rare in different colours
    assert sorted(t.get_text() for t in ax.texts if t.get_text() in ("road", "pole")) == ["pole", "road"]
