"""Unit tests for pfrlib.evaluation.tables: Table-1 rows, the ablation ladder, class shares."""

from __future__ import annotations

import math

import pytest
import torch

from pfrlib.evaluation import statistics, tables
from pfrlib.evaluation.tables import class_pixel_share, ladder
from pfrlib.paper.metrics import CITYSCAPES_CLASSES


def test_table_row_formatting():
    per = {name: 0.5 for name in CITYSCAPES_CLASSES}
    per["train"] = float("nan")
    row = tables.format_table_row("ours", per, backbone="small")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "ours" and cells[1] == "small"
    assert cells[2] == "50.0" and cells[2 + 16] == "-"
    assert cells[-1] == "50.0"
    table = tables.format_table([row])
    assert table.splitlines()[0].startswith("| method | backbone | road")


def test_ladder_mean_std_and_gap_closed():
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
    rec = tables.table_record("ours", {"road": 0.9, "sky": None, "car": float("nan")}, miou_value=0.45, backbone="small")
    assert rec["method"] == "ours" and rec["road"] == pytest.approx(90.0) and math.isnan(rec["sky"])
    assert rec["mIoU"] == pytest.approx(45.0) and list(rec)[2:-1] == list(CITYSCAPES_CLASSES)
    frame = tables.table_frame([rec, tables.table_record("all", [0.5] * 19)])
    assert frame.loc["ours", "road"] == "90.0" and frame.loc["ours", "sky"] == "-" and frame.loc["ours", "car"] == "-"
    assert frame.loc["all", "mIoU"] == "50.0" and frame.loc["ours", "backbone"] == "small"
    with pytest.raises(ValueError, match="19 per-class"):
        tables.table_record("bad", [0.5] * 3)


def test_class_pixel_share_counts_labelled_pixels_only():
    labels = torch.tensor([[0, 0, 0, 2], [255, 255, 2, 18]])
    share = class_pixel_share(labels)
    assert share.shape == (19,) and share.dtype == torch.float64
    assert share[0] == 0.5 and share[2] == pytest.approx(2 / 6) and share[18] == pytest.approx(1 / 6)
    assert share.sum() == pytest.approx(1.0) and share[1] == 0
    with pytest.raises(ValueError, match="every pixel is ignore_index"):
        class_pixel_share(torch.full((2, 2), 255))
    with pytest.raises(ValueError, match=r"trainIds in 0\.\.18 or 255, got values 0\.\.19"):
        class_pixel_share(torch.tensor([0, 19]))


def test_gap_closed_is_shown_by_one_rule():
    """The bounds of the gap show "-" (None), not their 0% and 100%; unknown shares too."""
    table = ladder({"source_only": [20.0, 22.0], "pfr_adv": [40.0], "oracle": [80.0]})
    assert tables.gap_closed_percent("source_only", table["source_only"]) is None
    assert tables.gap_closed_percent("oracle", table["oracle"]) is None
    assert tables.gap_closed_percent("pfr_adv", table["pfr_adv"]) == pytest.approx(100 * 19 / 59)
    assert tables.gap_closed_percent("pfr_adv", None) is None
    assert tables.gap_closed_percent("pfr_adv", {"gap_closed": math.nan}) is None
    assert tables.gap_closed_percent("cycada", {"target": [1.0, 0.1]}) is None  # a results-file row without it
    cells = tables.seed_set_cells({"seeds 0-2": table, "held-out 5-7": {}}, "pfr_adv")
    assert cells == {("seeds 0-2", "mIoU (%)"): "40.0 ± 0.0", ("seeds 0-2", tables.GAP_CLOSED): pytest.approx(32.2, abs=0.1),
                     ("held-out 5-7", "mIoU (%)"): None, ("held-out 5-7", tables.GAP_CLOSED): None}


def test_table1_rows_set_ours_beside_the_papers_row_in_words():
    table = ladder({"source_only": [20.0, 22.0], "pfr_adv": [40.0], "oracle": [80.0]})
    from pfrlib import methods

    paper = [{"method": methods.get("pfr_adv").paper_row, "backbone": "ResNet-101", "mIoU": 44.5}]
    rows = tables.table1_rows({"seeds 0-2": table}, ["pfr_adv", "cycada"], paper)
    assert rows[0]["Table 1 row"] == methods.label("pfr_adv") and rows[1]["Table 1 row"] == methods.label("cycada")
    assert rows[0][("paper", "mIoU (%)")] == 44.5 and rows[0][("paper", "backbone")] == "ResNet-101"
    assert rows[1][("paper", "mIoU (%)")] is None  # no such row in this paper table
    assert rows[0][("seeds 0-2", "mIoU (%)")] == "40.0 ± 0.0" and rows[1][("seeds 0-2", "mIoU (%)")] is None


def test_a_method_s_own_interval_is_shown_where_it_has_enough_seeds():
    """mean ± std stays the default; "interval" shows mean [low, high] (the bootstrap of the values
    themselves) from INTERVAL_MIN_SEEDS seeds on, and mean ± std below that."""
    five = [30.0, 32.0, 31.0, 35.0, 29.0]
    table = ladder({"source_only": [20.0, 22.0, 21.0], "pfr_adv": five, "oracle": [80.0] * 5})
    mean, low, high = tables.method_interval(five)
    assert mean == pytest.approx(31.4) and (low, high) == statistics.bootstrap_interval(five)
    assert 29.0 <= low < mean < high <= 35.0
    assert tables.seed_set_cells({"held-out 5-9": table}, "pfr_adv")[("held-out 5-9", "mIoU (%)")] == "31.4 ± 2.3"
    cells = tables.seed_set_cells({"held-out 5-9": table}, "pfr_adv", spread="interval")
    assert cells[("held-out 5-9", "mIoU (%)")] == f"31.4 [{low:.1f}, {high:.1f}]"
    three = tables.seed_set_cells({"s": table}, "source_only", spread="interval")
    assert three[("s", "mIoU (%)")] == "21.0 ± 1.0"  # 3 seeds: too few for an interval of their own
    rows = tables.table1_rows({"held-out 5-9": table}, ["pfr_adv"], [], spread="interval")
    assert rows[0][("held-out 5-9", "mIoU (%)")] == cells[("held-out 5-9", "mIoU (%)")]
    with pytest.raises(ValueError, match=r"^spread: expected one of \['std', 'interval'\], got 'ci'"):
        tables.seed_set_cells({"s": table}, "pfr_adv", spread="ci")
