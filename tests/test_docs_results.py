"""The README's results table is generated from the committed results file, never typed."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ablation.json"


def _ablation():
    spec = importlib.util.spec_from_file_location("ablation_benchmark", ROOT / "benchmarks" / "ablation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_results_table_matches_the_committed_results():
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- ablation:begin -->\n(.*?)\n<!-- ablation:end -->", readme, re.S)
    assert m, "README.md has no <!-- ablation:begin --> ... <!-- ablation:end --> block"
    expected = _ablation().readme_table(json.loads(RESULTS.read_text()))
    assert m.group(1).strip() == expected.strip(), (
        "README's results table differs from benchmarks/results/ablation.json: paste the output of "
        "`python benchmarks/ablation.py --render benchmarks/results/ablation.json --markdown`"
    )


def test_results_file_is_consistent():
    summary = json.loads(RESULTS.read_text())
    assert list(summary) == ["source_only", "adaptsegnet", "pfr", "pfr_adv", "oracle"]
    for method, row in summary.items():
        runs = row["per_seed_target"]
        assert len(runs) == len(row["seeds"]) >= 1
        assert abs(sum(runs) / len(runs) - row["target"][0]) < 1e-9, method
    lo, hi = summary["source_only"]["target"][0], summary["oracle"]["target"][0]
    share = (summary["pfr_adv"]["target"][0] - lo) / (hi - lo)
    assert abs(share - summary["pfr_adv"]["gap_closed"]) < 1e-9
