"""``benchmarks/ablation.py --collect``: finished runs (tests/fake_runs.py, the real writers) summarised
into a results file that keeps, per method and seed, what the claims need, and that
``python -m pfrlib.evaluation.comparisons`` compares on the test split over seeds and test images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_runs import BENCHMARK, write_run
from pfrlib.engine.record import TEST_CONFUSION
from pfrlib.evaluation import comparisons
from pfrlib.evaluation.results_files import read_results
from pfrlib.io import file_sha256
from script_module import load_script

ROOT = Path(__file__).resolve().parents[2]


def _ablation():
    return load_script("benchmarks/ablation.py")


def _runs(folder: Path) -> None:
    for method, skill in (("pfr_adv", 0.9), ("adaptsegnet", 0.6)):
        for seed in (5, 6, 7):
            write_run(folder / f"method={method}_seed={seed}", method, seed, skill)


def test_collect_saves_test_scores_per_seed_and_where_the_matrices_are(tmp_path, capsys):
    ablation = _ablation()
    _runs(tmp_path / "runs")
    saved = tmp_path / "results.json"
    assert ablation.main(["--collect", str(tmp_path / "runs"), "--methods", "pfr_adv", "adaptsegnet",
                          "--seeds", "5", "6", "7", "--save", str(saved)]) == 0
    results = read_results(saved)
    assert list(results) == ["pfr_adv", "adaptsegnet"]
    for method, row in results.items():
        finals = [json.loads((tmp_path / "runs" / f"method={method}_seed={s}" / "final.json").read_text())
                  for s in (5, 6, 7)]
        assert row["per_seed_test"] == pytest.approx([100 * f["target_test"]["miou"] for f in finals])
        assert row["per_seed_test_val_chosen"] == pytest.approx([100 * f["best_on_val"]["target_test"]["miou"]
                                                                 for f in finals])
        assert row["per_seed_target"] == pytest.approx([100 * f["target_miou"] for f in finals])
        assert len(row["per_seed_per_class_test"]) == 19 and row["benchmark"] == BENCHMARK
        assert row["wall_s"] == [17.0, 18.0, 19.0] and row["iterations"] == [10, 10, 10]
        for run, digest in zip(row["runs"], row["test_confusion_sha256"]):
            assert not Path(run).is_absolute() and digest == file_sha256(ROOT / run / TEST_CONFUSION)
        assert row["calibration"] == ablation.calibration() and row["calibration"]["from"]
    capsys.readouterr()
    assert comparisons.main([str(saved), "--resamples", "200"]) == 0  # runs found from the repository root
    out = capsys.readouterr().out
    assert out.count("Target test mIoU (%)") == 2 and out.count("resampling seeds and test images") == 2


def test_update_refuses_rows_of_another_benchmark(tmp_path):
    ablation = _ablation()
    _runs(tmp_path / "runs")
    _, summary = ablation.summarize(*ablation._collect(tmp_path / "runs", ["pfr_adv"], [5, 6, 7]))
    old = {"adaptsegnet": {"target": [30.0, 1.0], "per_seed_target": [30.0, 29.0, 31.0], "seeds": [5, 6, 7]}}
    with pytest.raises(ValueError, match="old.json: rows of different benchmarks"):
        ablation.merge_summary(old, summary, "old.json")  # a 9-class val-only row beside a SynthStreets-19 one
    assert ablation.merge_summary(summary, summary)["pfr_adv"]["benchmark"] == BENCHMARK
