"""The committed multi-seed results files the notebooks read (pfrlib.evaluation.results_files): their schema,
clear errors naming the file, and the same rows whether read from a file or built from runs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from pfrlib import methods
from fake_runs import BENCHMARK, write_runs
from pfrlib.engine.record import TEST_CONFUSION
from pfrlib.io import file_sha256
from pfrlib.evaluation.results_files import (SPLITS, TABLE1, TABLE1_FILES, TABLE1_HELDOUT, read_results,
    results_ladder, seed_scores, summarize_runs)

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
    assert row["per_seed_source"] == pytest.approx([80.0, 80.0])
    assert row["per_seed_per_class_target"] == {"road": [pytest.approx(60.0), None], "wall": [None, None]}
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
    assert row["splits"]["per_seed_target"] == "val" and row["splits"]["per_seed_test"] == "test"
    assert row["splits"] == {k: v for k, v in SPLITS.items() if k in row}
    assert row["splits"]["per_seed_source"] == "source val"
    assert row["per_seed_test"] == pytest.approx([30.0, 40.0]) and row["test"][0] == pytest.approx(35.0)
    assert row["per_seed_target"] == pytest.approx([40.0, 36.0])  # the val numbers are unchanged
    assert row["per_class_test"] == {"road": pytest.approx(50.0), "wall": None}
    assert row["per_seed_per_class_test"] == {"road": [pytest.approx(50.0)] * 2, "wall": [None, None]}
    assert "per_seed_test_val_chosen" not in row  # these runs kept no checkpoint chosen on val
    oracle = summary["oracle"]  # runs scored on val only: no test keys, and every key says it is val
    assert not any(SPLITS[k] == "test" for k in oracle["splits"]) and "per_seed_test" not in oracle
    assert seed_scores(oracle) == ([60.0, 62.0], "per_seed_target", "val")
    assert seed_scores(row)[1:] == ("per_seed_test", "test")
    with pytest.raises(ValueError, match="'best_on_val' needs 'per_seed_test_val_chosen'"):
        seed_scores(row, "best_on_val")  # no val score stands in for a test one


def _collected(tmp_path) -> tuple[dict, dict]:
    """Two methods x three seeds of fake finished runs under ``tmp_path/runs``: (finals, folders)."""
    finals, folders = write_runs(tmp_path, {"pfr_adv": 0.9, "adaptsegnet": 0.6})
    return finals, folders


def test_runs_collected_from_folders_keep_what_the_claims_need(tmp_path):
    finals, folders = _collected(tmp_path)
    calibration = {"median_s": 0.05, "from": "a step-time file"}
    for run, own in zip(finals["adaptsegnet"], (0.06, 0.07, None)):  # a run from before calibration_s keeps none
        run.pop("calibration_s", None)
        if own is not None:
            run["calibration_s"] = own
    summary = summarize_runs(finals, folders=folders, root=tmp_path, calibration=calibration)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(summary))
    row = read_results(path)["adaptsegnet"]
    runs = finals["adaptsegnet"]
    assert row["per_seed_test"] == pytest.approx([100 * r["target_test"]["miou"] for r in runs])
    chosen = [100 * r["best_on_val"]["target_test"]["miou"] for r in runs]
    assert row["per_seed_test_val_chosen"] == pytest.approx(chosen)
    assert row["per_seed_test_val_chosen"] != pytest.approx(row["per_seed_test"])  # two models, two columns
    assert row["val_chosen_iteration"] == [5, 5, 5] and row["per_seed_source"] == pytest.approx([80.0] * 3)
    per_class = row["per_seed_per_class_test"]
    assert len(per_class) == 19 and per_class["road"] == pytest.approx([100 * r["target_test"]["per_class_iou"]["road"]
                                                                       for r in runs])
    assert row["benchmark"] == BENCHMARK and row["calibration"] == calibration
    assert row["calibration_s"] == [0.06, 0.07, None]  # each seed's own, beside its wall_s
    assert row["runs"] == ["runs/adaptsegnet_s5", "runs/adaptsegnet_s6", "runs/adaptsegnet_s7"]  # relative to root
    assert row["test_confusion_sha256"] == [file_sha256(tmp_path / r / TEST_CONFUSION) for r in row["runs"]]
    assert row["splits"]["per_seed_test_val_chosen"] == "test" and row["splits"]["target"] == "val"
    assert seed_scores(row, "best_on_val") == (pytest.approx(row["per_seed_test_val_chosen"]),
                                               "per_seed_test_val_chosen", "test")


def test_runs_of_different_benchmarks_are_not_summarized_together(tmp_path):
    finals, folders = _collected(tmp_path)
    config = folders["pfr_adv"][1] / "config.json"
    data = json.loads(config.read_text())
    data["data"]["synth_classes"] = 9
    config.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="were trained on different benchmarks"):
        summarize_runs(finals, folders=folders, root=tmp_path)
    folders["pfr_adv"] = [folders["pfr_adv"][1]] * 3  # every seed of one row on 9 classes, the other on 19
    with pytest.raises(ValueError, match="the methods were trained on different benchmarks"):
        summarize_runs(finals, folders=folders, root=tmp_path)


def test_a_target_with_another_shift_is_another_benchmark(tmp_path):
    finals, folders = _collected(tmp_path)
    config = folders["pfr_adv"][2] / "config.json"
    data = json.loads(config.read_text())
    data["data"]["synth_shift"] = "full,camera=0"
    config.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="synth_shift.*full,camera=0.*a row's seeds must share one"):
        summarize_runs(finals, folders=folders, root=tmp_path)
    for folder in folders["pfr_adv"] + folders["adaptsegnet"]:  # every run on the shifted target: one benchmark
        (folder / "config.json").write_text(json.dumps(data))
    row = summarize_runs(finals, folders=folders, root=tmp_path)["pfr_adv"]
    assert row["benchmark"] == {**BENCHMARK, "synth_shift": "full,camera=0"}


def test_an_old_file_s_numbers_are_read_as_val():
    """The committed 9-class files were written before the runs scored the test split."""
    for f in TABLE1_FILES:
        for method, entry in f.read().items():
            values, key, split = seed_scores(entry)
            assert (key, split) == ("per_seed_target", "val") and values == entry["per_seed_target"], (f.path, method)


_ENTRY = '"target": [1, 0], "per_seed_target": [1], "seeds": [0], "per_class_target": {}'


@pytest.mark.parametrize("content, message", [
    ('{"pfr": {%s, "per_seed_test": [1, 2]}}' % _ENTRY, r"'per_seed_test' must list one number per seed \(1\)"),
    ('{"pfr": {%s, "test_confusion_sha256": ["abc"]}}' % _ENTRY, "'test_confusion_sha256' must list one sha256"),
    ('{"pfr": {%s, "per_seed_per_class_test": {"road": [1, 2]}}}' % _ENTRY, "'per_seed_per_class_test' must map"),
    ('{"pfr": {%s, "splits": {"per_seed_target": "test"}}}' % _ENTRY, "'splits' must give each key's split"),
    ('{"pfr": {%s, "benchmark": {"synth_classes": 19}}}' % _ENTRY, "'benchmark' must hold"),
    ('{"pfr": {%s, "calibration": {"median_s": 1}}}' % _ENTRY, "'calibration' must be"),
    ('{"pfr": {%s, "calibration_s": [0]}}' % _ENTRY, r"'calibration_s' must list one calibration in seconds"),
    ('{"pfr": {%s, "calibration_s": [0.1, 0.2]}}' % _ENTRY, r"'calibration_s' must list one calibration"),
])
def test_a_malformed_optional_key_is_named(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        read_results(path)
    assert f"{path}: pfr:" in str(err.value)


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
        # the benchmark the file's runs were trained on: pinned by the sweep, said by its label
        assert spec["fixed"]["synth_classes"] == f.synth_classes and f"{f.synth_classes}-class" in f.label
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


def test_the_claims_sweeps_train_every_row_on_both_seed_sets_at_the_adopted_weights():
    """Every method (Table 1 and beyond) on SynthStreets-19, tuning seeds 0-4 and held-out 5-9, each
    run exactly the cpu preset (whose weights are the adopted ones: tests/evaluation/test_tuning.py)
    with only the method, the seed, the benchmark and keep_best set: no weight is typed twice."""
    from pfrlib.config.train_config import TrainConfig
    from pfrlib.evaluation.tuning import HELD_OUT_SEEDS, TUNING_SEEDS
    from pfrlib.launch.sweep_spec import load_spec

    for name, seeds in (("claims", TUNING_SEEDS), ("claims_heldout", HELD_OUT_SEEDS)):
        spec = load_spec(ROOT / "sweeps" / f"{name}.yaml")
        runs = spec.runs("runs")
        assert {r.params["method"] for r in runs} == set(methods.names())
        assert sorted({r.params["seed"] for r in runs}) == list(seeds) and len(runs) == 5 * len(methods.names())
        assert spec.jobs == 2 and spec.threads == 1
        for run in runs:
            m, s = run.params["method"], run.params["seed"]
            expected = TrainConfig.preset("cpu", method=m, seed=s, synth_classes=19, keep_best=True, out=str(run.out),
                                          stage_store=str(Path("runs") / "_stages"))  # shared stages: bookkeeping
            assert spec.config(run) == expected, run.name
        spec.checked_jobs("runs", check_paths=False)  # every run's configuration validates


def test_the_claims_files_are_new_files_filled_by_the_claims_sweeps():
    import yaml

    from pfrlib.evaluation.results_files import BEYOND_ROWS, CLAIMS_FILES

    assert not {f.path for f in CLAIMS_FILES} & {f.path for f in TABLE1_FILES}  # the 9-class files stay
    assert len({f.path for f in CLAIMS_FILES}) == len(CLAIMS_FILES)
    covered: dict[str, set] = {}
    for f in CLAIMS_FILES:
        spec = yaml.safe_load((ROOT / f.sweep).read_text())
        assert tuple(spec["grid"]["seed"]) == f.seeds and f.runs == f"runs/{spec['name']}"
        assert spec["fixed"]["synth_classes"] == f.synth_classes == 19
        assert set(f.rows()) <= set(spec["grid"]["method"]) and "pfr_adv" in f.rows()  # the reference
        covered.setdefault(f.sweep, set()).update(f.rows())
        assert f.regenerate() == f"make sweep SPEC={f.sweep} && {f.collect()}"
    for sweep, rows in covered.items():  # no row of a claims sweep is left out of every file
        assert rows == set(yaml.safe_load((ROOT / sweep).read_text())["grid"]["method"]), sweep
    assert set(methods.names("beyond")) <= set(BEYOND_ROWS) and {"source_only", "oracle"} <= set(BEYOND_ROWS)


def test_a_claims_file_s_command_writes_it_from_the_sweep_s_runs(tmp_path, monkeypatch):
    """The beyond file's collect() command, run on fake finished runs in the sweep's layout, writes
    every row it names on its seeds."""
    import shlex

    from fake_runs import write_run
    from pfrlib.evaluation.results_files import BEYOND_SYNTH19_HELDOUT as f
    from script_module import load_script

    for i, method in enumerate(f.rows()):
        for seed in f.seeds:
            write_run(tmp_path / f.runs / f"method={method}_seed={seed}", method, seed, 0.3 + 0.05 * i)
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(f.collect())
    assert argv[:2] == ["python", "benchmarks/ablation.py"]
    (tmp_path / f.path).parent.mkdir(parents=True)
    assert load_script("benchmarks/ablation.py").main(argv[2:]) == 0
    data = f.read(root=tmp_path)
    assert list(data) == list(f.rows())
    assert all(row["seeds"] == list(f.seeds) and len(row["per_seed_test"]) == 5 for row in data.values())
