"""pfrlib.table1.read_results: the multi-seed rows of a committed results file, absent rows as None."""

from __future__ import annotations

import json

import pytest

from pfrlib.table1 import RESULT_KEYS, read_results


def _write(path, rows) -> str:
    path.write_text(json.dumps(rows))
    return str(path)


ROW = {"target": [30.5, 1.25], "per_seed_target": [29.0, 31.0, 31.5], "seeds": [0, 1, 2], "gap_closed": 0.4}


def test_rows_in_the_asked_order_and_absent_ones_as_none(tmp_path):
    path = _write(tmp_path / "t.json", {"source_only": ROW, "dlow": {**ROW, "target": [33.0, 0.5]}})
    rows = read_results(path, ["cycada", "dlow", "source_only"])
    assert list(rows) == ["cycada", "dlow", "source_only"]
    assert rows["cycada"] is None and rows["dlow"]["target"] == [33.0, 0.5] and rows["source_only"] == ROW
    assert list(read_results(path)) == ["source_only", "dlow"]  # every row of the file, in its order


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "expected an object"),
    ("{not json", "not JSON"),
    (json.dumps({"dlow": {"target": [1.0, 0.0]}}), "the row of 'dlow' lacks ['per_seed_target', 'seeds']"),
])
def test_bad_files_are_named(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="bad.json") as err:
        read_results(path)
    assert message in str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        read_results(tmp_path / "nowhere.json")


def test_the_committed_files_hold_every_key():
    from pathlib import Path

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    for name in ("table1.json", "table1_heldout.json"):
        rows = read_results(results / name)
        assert "source_only" in rows and all(set(RESULT_KEYS) <= set(r) for r in rows.values())


def test_every_table1_row_of_the_registry_finds_the_papers_row():
    """Each method with a paper row finds it in the shipped CSV (the paper's Table 1 has nine rows
    of other methods plus PFR's; source only, PFR only and the oracle are not among them)."""
    from pfrlib import methods
    from pfrlib.table1 import paper_record, reference_records

    found = {m: paper_record(methods.get(m).table1_row) for m in methods.names()}
    missing = {m for m, r in found.items() if r is None}
    assert missing == {"source_only", "pfr", "oracle"}
    assert found["pfr_adv"]["mIoU"] == 44.5 and found["dlow"]["mIoU"] == 42.3 and found["cycada"]["backbone"] == "ResNet-101"
    assert len({r["method"] for r in found.values() if r}) == len(reference_records())  # every paper row, once
    assert paper_record(None) is None
