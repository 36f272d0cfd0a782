"""The committed multi-seed results files the notebooks read (pfrlib.evaluation.results_files): their schema,
clear errors naming the file, and the same rows whether read from a file or built from runs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from pfrlib import methods
from pfrlib.evaluation.results_files import (SPLITS, TABLE1, TABLE1_FILES, TABLE1_HELDOUT, read_results,
    results_ladder, summarize_runs)

ROOT = Path(__file__).resolve().parents[2]


def _final(method: str, seed: int, target: float, road: float) -> dict:
    """A final.json record with the fields the summary reads (the layout pfrlib.engine.record writes)."""
    return {"method": method, "seed": seed, "target_miou": target, "source_miou": 0.8, "wall_time_s": 10.0 + seed,
            "iterations": 100, "target_val": {"per_class_iou": {"road": road, "wall": None}}}


def _runs() -> dict[str, list[dict]]:
    return {"source_only": [_final("source_only", 0, 0.20, 0.5), _final("source_only", 1, 0.22, 0.7)],
            "pfr_adv": [_final("pfr_adv", 0, 0.40, 0.6), _final("pfr_adv", 1, 0.36, None)],
            "oracle": [_final("oracle", 0, 0.60, 0.9), _final("oracle", 1, 0.62, 0.9)]}


def test_summary_of_runs_round_trips_through_a_file(tmp_path):
    summary = summarize_runs(_runs())
    row = summary["pfr_adv"]
    assert row["per_seed_target"] == pytest.approx([40.0, 36.0]) and row["seeds"] == [0, 1]
    assert row["target"][0] == pytest.approx(38.0) and row["target"][1] == pytest.approx(math.sqrt(8))
    assert row["per_class_target"] == {"road": pytest.approx(60.0), "wall": None}  # a None run is left out
    assert row["gap_closed"] == pytest.approx((38 - 21) / (61 - 21))
    assert "gap_closed" not in summary["source_only"] and "gap_closed" not in summary["oracle"]
    assert row["wall_s"] == [10.0, 11.0] and row["iterations"] == [100, 100]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(summary))
    read = read_results(path)
    assert list(read) == ["source_only", "pfr_adv", "oracle"] and read["pfr_adv"]["seeds"] == [0, 1]
    table = results_ladder(read, ["pfr_adv"])
    assert list(table) == ["pfr_adv"]  # the bounds come from the same file, shown or not
    assert table["pfr_adv"]["gap_closed"] == pytest.approx(row["gap_closed"])
    assert table["pfr_adv"]["runs"] == pytest.approx([40.0, 36.0])
    with pytest.raises(ValueError, match=r"no rows for \['clan'\]"):
        results_ladder(read, ["clan"])


def test_runs_scored_on_val_and_test_say_which_split_each_number_comes_from():
    runs = _runs()
    for seed, final in enumerate(runs["pfr_adv"]):
        final["target_test"] = {"miou": 0.30 + seed / 10, "per_class_iou": {"road": 0.5, "wall": None}}
    summary = summarize_runs(runs)
    row = summary["pfr_adv"]
    assert row["splits"] == SPLITS == {"target": "val", "test": "test"}
    assert row["per_seed_test"] == pytest.approx([30.0, 40.0]) and row["test"][0] == pytest.approx(35.0)
    assert row["per_seed_target"] == pytest.approx([40.0, 36.0])  # the val numbers are unchanged
    assert row["per_class_test"] == {"road": pytest.approx(50.0), "wall": None}
    assert "splits" not in summary["oracle"]  # runs scored on val only: no test keys, as before


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "expected a non-empty {method"),
    ('{"nonsense": {}}', "unknown method 'nonsense'"),
    ('{"pfr": {"target": [1, 2], "seeds": [0]}}', r"pfr: missing \['per_seed_target', 'per_class_target'\]"),
    ('{"pfr": {"target": [1], "per_seed_target": [1], "seeds": [0], "per_class_target": {}}}', "'target' must be"),
    ('{"pfr": {"target": [1, 0], "per_seed_target": [1, 2], "seeds": [0], "per_class_target": {}}}',
     "'seeds' must list one integer seed"),
    ('{"pfr": {"target": [1, 0], "per_seed_target": [1], "seeds": [0], "per_class_target": {"road": "x"}}}',
     "'per_class_target' must map"),
])
def test_a_malformed_file_is_named_with_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        read_results(path)
    assert str(path) in str(err.value)


def test_a_missing_file_says_how_to_regenerate_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="results file not found") as err:
        TABLE1_HELDOUT.read(root=tmp_path)
    text = str(err.value)
    assert str(tmp_path / "benchmarks/results/table1_heldout.json") in text
    assert "make sweep SPEC=sweeps/table1_heldout.yaml" in text and "--seeds 5 6 7" in text


def test_the_files_match_their_sweeps_and_read():
    """Each file's seeds and run folder are those of its sweep spec (the world the file comes from)."""
    import yaml

    for f in TABLE1_FILES:
        spec = yaml.safe_load((ROOT / f.sweep).read_text())
        assert tuple(spec["grid"]["seed"]) == f.seeds and f.runs == f"runs/{spec['name']}"
        data = f.read()
        for method in spec["grid"]["method"]:
            assert data[method]["seeds"] == list(f.seeds), (f.path, method)
    assert TABLE1.resolve() == ROOT / "benchmarks/results/table1.json"


def test_paper_rows_are_rows_of_the_shipped_paper_table():
    with open(ROOT / "pfrlib/reference/table1.csv", newline="") as fh:
        shipped = {r["method"] for r in csv.DictReader(fh)}
    named = {m.paper_row for m in methods.methods() if m.paper_row is not None}
    assert named == shipped  # every paper row has exactly one method, and no method names a row the paper lacks
    assert methods.get("pfr_adv").paper_row == "PFR (paper)" and methods.get("source_only").paper_row is None


def test_seed_set_summaries_read_the_files_or_summarize_the_trained_runs():
    from pfrlib.evaluation.results_files import TABLE1_FILES, seed_set_summaries

    said: list[str] = []
    read = seed_set_summaries(say=said.append)
    assert list(read) == [f.label for f in TABLE1_FILES]
    assert all(f.path in line and "regenerate it with" in line for f, line in zip(TABLE1_FILES, said))
    runs = _runs()
    trained = {(m, r["seed"]): r for m, rs in runs.items() for r in rs}
    said.clear()
    mine = seed_set_summaries(trained, list(runs), {"seeds": [0], "held-out": [1]}, where="runs/series", say=said.append)
    assert list(mine) == ["seeds 0", "held-out 1"] and said == ["computed from the runs trained above in runs/series"]
    assert mine["held-out 1"]["pfr_adv"]["per_seed_target"] == pytest.approx([36.0])
    assert mine["seeds 0"]["pfr_adv"]["gap_closed"] == pytest.approx((40 - 20) / (60 - 20))
