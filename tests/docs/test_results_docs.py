"""The result tables of README.md and docs/ are generated from the committed results files, never
typed; every relative link of those documents resolves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from script_module import load_script

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def _ablation():
    return load_script("benchmarks/ablation.py")


ABLATION = _ablation()


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("marker", list(ABLATION.DOC_BLOCKS))
def test_generated_table_matches_the_committed_results(marker):
    doc, sources, _ = ABLATION.DOC_BLOCKS[marker]
    text = (ROOT / doc).read_text()
    m = re.search(rf"<!-- {marker}:begin -->\n(.*?)\n<!-- {marker}:end -->", text, re.S)
    assert m, f"{doc} has no <!-- {marker}:begin --> ... <!-- {marker}:end --> block"
    assert m.group(1).strip() == ABLATION.doc_block(marker).strip(), (
        f"{doc}'s {marker} table differs from {', '.join(sources)}: run `python benchmarks/ablation.py --docs`"
    )


def test_each_generated_table_appears_once_in_its_own_document():
    """One writer, one place: no other document holds a copy of a generated block."""
    for marker, (doc, _, _) in ABLATION.DOC_BLOCKS.items():
        holders = [p.relative_to(ROOT).as_posix() for p in DOCS
                   if re.search(rf"^<!-- {marker}:begin -->$", p.read_text(), re.M)]
        assert holders == [doc], f"<!-- {marker}:begin --> is in {holders}, expected only in {doc}"
    for path in DOCS:
        for marker in re.findall(r"^<!-- (\w+):begin -->$", path.read_text(), re.M):
            assert marker in ABLATION.DOC_BLOCKS, f"{path.name}: block {marker} has no writer in DOC_BLOCKS"


def test_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail to docs/"


def test_the_ladder_rows_of_table1_are_the_ablation_runs():
    """The ladder's five rows are shown once, inside Table 1: its summary must be the ablation's."""
    ablation = json.loads((RESULTS / "ablation.json").read_text())
    table1 = json.loads((RESULTS / "table1.json").read_text())
    for method, row in ablation.items():
        assert table1[method]["per_seed_target"] == row["per_seed_target"], method
        assert table1[method]["source"] == row["source"] and table1[method]["seeds"] == row["seeds"], method


def test_paper_column_comes_from_the_shipped_table():
    import csv

    with open(ROOT / ABLATION.PAPER_TABLE, newline="") as f:
        shipped = {r["method"]: r["mIoU"] for r in csv.DictReader(f)}
    paper = ABLATION.paper_results()
    assert set(paper) <= set(ABLATION.TABLE1_METHODS) and paper["pfr_adv"][0] == 44.5
    for method, row in ABLATION.PAPER_ROWS.items():
        assert paper[method][0] == float(shipped[row]), method


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_and_anchors_exist(path):
    """Every relative link and image of README.md and docs/*.md names an existing file (and heading)."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links or path.name != "README.md"
    for link in links:
        if re.match(r"[a-z]+:", link):  # http(s), mailto: not checked here
            continue
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        where = f"{path.relative_to(ROOT)} links to {link}"
        assert file.exists(), f"{where}, which does not exist"
        if anchor:
            assert anchor in _anchors(file), f"{where}: no heading with that anchor in {file.name}"


@pytest.mark.parametrize("name, methods", [("ablation", "ladder"), ("table1", "table1"), ("table1_heldout", "table1")])
def test_results_file_is_consistent(name, methods):
    summary = json.loads((RESULTS / f"{name}.json").read_text())
    expected = ABLATION.METHODS if methods == "ladder" else ABLATION.TABLE1_METHODS
    assert list(summary) == list(expected)
    seeds = summary["source_only"]["seeds"]
    for method, row in summary.items():
        runs = row["per_seed_target"]
        assert row["seeds"] == seeds and len(runs) == len(seeds) >= 1, method
        assert abs(sum(runs) / len(runs) - row["target"][0]) < 1e-9, method
    lo, hi = summary["source_only"]["target"][0], summary["oracle"]["target"][0]
    for method, row in summary.items():
        if method in ("source_only", "oracle"):
            assert "gap_closed" not in row
        else:
            assert abs((row["target"][0] - lo) / (hi - lo) - row["gap_closed"]) < 1e-9, method
    if name.endswith("heldout"):
        assert not set(seeds) & {0, 1, 2, 3, 4}, "held-out results must not use the tuning seeds 0-4"


def test_update_docs_rewrites_stale_blocks(tmp_path):
    for rel in ("benchmarks", "pfrlib"):
        (tmp_path / rel).symlink_to(ROOT / rel)
    docs = list(dict.fromkeys(d for d, _, _ in ABLATION.DOC_BLOCKS.values()))
    (tmp_path / "docs").mkdir()
    for doc in docs:
        blocks = "".join(f"<!-- {m}:begin -->\nstale\n<!-- {m}:end -->\n\n"
                         for m, (d, _, _) in ABLATION.DOC_BLOCKS.items() if d == doc)
        (tmp_path / doc).write_text("# title\n\n" + blocks + "tail\n")
    changed = ABLATION.update_docs(tmp_path)
    assert changed == list(ABLATION.DOC_BLOCKS)
    for doc in docs:
        text = (tmp_path / doc).read_text()
        assert "stale" not in text and text.startswith("# title") and text.endswith("tail\n")
    assert ABLATION.update_docs(tmp_path) == []
    (tmp_path / "README.md").write_text("# no blocks\n")
    with pytest.raises(ValueError, match="README.md has no <!-- table1:begin"):
        ABLATION.update_docs(tmp_path)


def test_collect_reads_both_run_layouts(tmp_path):
    def fake_run(folder: Path, method: str, seed: int, miou: float) -> None:
        folder.mkdir(parents=True)
        per_class = {"road": miou, "sky": None}
        (folder / "final.json").write_text(json.dumps(dict(
            method=method, seed=seed, preset="cpu", iterations=10, target_miou=miou, source_miou=0.8,
            wall_time_s=12.0, target_val={"per_class_iou": per_class})))
        (folder / "config.json").write_text(json.dumps({"optim": {"iterations": 10}}))

    fake_run(tmp_path / "method=pfr_seed=0", "pfr", 0, 0.30)  # the sweep's layout
    fake_run(tmp_path / "pfr_s1", "pfr", 1, 0.40)              # the notebooks' layout
    results, folders = ABLATION._collect(tmp_path, ["pfr"], [0, 1])
    assert [r["target_miou"] for r in results["pfr"]] == [0.30, 0.40]
    assert folders["pfr"] == [tmp_path / "method=pfr_seed=0", tmp_path / "pfr_s1"]
    with pytest.raises(FileNotFoundError, match="pfr_s2/final.json"):
        ABLATION._collect(tmp_path, ["pfr"], [2])
    fake_run(tmp_path / "pfr_s3", "oracle", 3, 0.7)
    with pytest.raises(ValueError, match="not a cpu-preset pfr run of seed 3"):
        ABLATION._collect(tmp_path, ["pfr"], [3])


def test_step_time_results_cover_every_method():
    committed = (RESULTS / "step_time_cpu.md").read_text()
    rows = [r for r in json.loads((RESULTS / "step_time_cpu.json").read_text())
            if r["label"] != "calibration"]  # the notebooks' reference (tests/teaching/test_nbtools.py), no table row
    methods = {r["method"] for r in rows}
    assert {"adaptsegnet", "pfr_adv", "clan", "fcn_wild", "road", "curriculum"} <= methods
    for r in rows:
        assert f"| {r['method']} |" in committed and r["median_s"] > 0 and r["peak_mib"] > 0


def _row(mean: float, seeds=(0, 1, 2)) -> dict:
    return {"target": [mean, 0.0], "per_seed_target": [mean] * len(seeds), "seeds": list(seeds)}


def test_update_merges_rows_and_recomputes_the_gap(tmp_path):
    """``--update`` adds a method's rows to a saved summary without retraining the others: the
    registry's order, the gap closed against the file's source-only and oracle rows."""
    saved = {"source_only": _row(20.0), "oracle": _row(70.0), "clan": {**_row(30.0), "gap_closed": 0.2}}
    merged = ABLATION.merge_summary(saved, {"cycada": _row(45.0), "adaptsegnet": _row(40.0)})
    assert list(merged) == ["source_only", "adaptsegnet", "oracle", "clan", "cycada"]
    assert merged["cycada"]["gap_closed"] == pytest.approx(0.5) and merged["adaptsegnet"]["gap_closed"] == pytest.approx(0.4)
    assert "gap_closed" not in merged["source_only"] and merged["clan"]["gap_closed"] == pytest.approx(0.2)
    # a retrained oracle moves every gap
    assert ABLATION.merge_summary(merged, {"oracle": _row(120.0)})["cycada"]["gap_closed"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="results.json: rows of different seeds"):
        ABLATION.merge_summary(saved, {"dlow": _row(40.0, seeds=(5, 6, 7))}, "results.json")
    # a missing or broken file is named, and left as it was
    broken = tmp_path / "summary.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="summary.json: not a JSON summary"):
        ABLATION._save({"cycada": _row(45.0)}, None, str(broken))
    assert broken.read_text() == "{not json"
    with pytest.raises(FileNotFoundError, match="nothing.json: no saved summary"):
        ABLATION._save({"cycada": _row(45.0)}, None, str(tmp_path / "nothing.json"))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(saved))
    ABLATION._save({"cycada": _row(45.0)}, None, str(good))
    assert list(json.loads(good.read_text())) == ["source_only", "oracle", "clan", "cycada"]


def test_docs_figures_are_drawn_from_the_committed_summaries(tmp_path):
    (tmp_path / "benchmarks").symlink_to(ROOT / "benchmarks")
    written = ABLATION.draw_figures(tmp_path)
    assert written == list(ABLATION.DOC_FIGURES)
    for figure in written:
        assert (tmp_path / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", figure
    for figure in ABLATION.DOC_FIGURES:  # every drawn figure is shown somewhere in the docs
        assert any(Path(figure).name in p.read_text() for p in (ROOT / "docs").glob("*.md")), figure
