"""The README's result tables are generated from the committed results files, never typed."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _ablation():
    spec = importlib.util.spec_from_file_location("ablation_benchmark", ROOT / "benchmarks" / "ablation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ABLATION = _ablation()


@pytest.mark.parametrize("marker", list(ABLATION.README_BLOCKS))
def test_readme_results_table_matches_the_committed_results(marker):
    readme = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- {marker}:begin -->\n(.*?)\n<!-- {marker}:end -->", readme, re.S)
    assert m, f"README.md has no <!-- {marker}:begin --> ... <!-- {marker}:end --> block"
    expected = ABLATION.readme_block(marker)
    assert m.group(1).strip() == expected.strip(), (
        f"README's {marker} table differs from {ABLATION.README_BLOCKS[marker][0]}: "
        "run `python benchmarks/ablation.py --readme`"
    )


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


def test_update_readme_rewrites_a_stale_block(tmp_path):
    readme = tmp_path / "README.md"
    blocks = "".join(f"<!-- {m}:begin -->\nstale\n<!-- {m}:end -->\n\n" for m in ABLATION.README_BLOCKS)
    readme.write_text("# title\n\n" + blocks + "tail\n")
    (tmp_path / "benchmarks").symlink_to(ROOT / "benchmarks")
    changed = ABLATION.update_readme(readme)
    assert changed == list(ABLATION.README_BLOCKS)
    text = readme.read_text()
    assert "stale" not in text and text.startswith("# title") and text.endswith("tail\n")
    assert ABLATION.update_readme(readme) == []
    readme.write_text("# no blocks\n")
    with pytest.raises(ValueError, match="ablation:begin"):
        ABLATION.update_readme(readme)


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
    results = ABLATION._collect(tmp_path, ["pfr"], [0, 1])
    assert [r["target_miou"] for r in results["pfr"]] == [0.30, 0.40]
    with pytest.raises(FileNotFoundError, match="pfr_s2/final.json"):
        ABLATION._collect(tmp_path, ["pfr"], [2])
    fake_run(tmp_path / "pfr_s3", "oracle", 3, 0.7)
    with pytest.raises(ValueError, match="not a cpu-preset pfr run of seed 3"):
        ABLATION._collect(tmp_path, ["pfr"], [3])


def test_step_time_results_cover_every_method():
    committed = (RESULTS / "step_time_cpu.md").read_text()
    rows = json.loads((RESULTS / "step_time_cpu.json").read_text())
    methods = {r["method"] for r in rows}
    assert {"adaptsegnet", "pfr_adv", "clan", "fcn_wild", "road", "curriculum"} <= methods
    for r in rows:
        assert f"| {r['method']} |" in committed and r["median_s"] > 0 and r["peak_mib"] > 0
