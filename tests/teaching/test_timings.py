"""pfrlib.teaching.timings: the measured times a notebook's estimate comes from (file precedence,
the median run, the benchmark a run trained on), and the series' own runs that ``make reproduce``
writes for it (:func:`pfrlib.teaching.reproduce.write_times`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pfrlib import methods
from pfrlib.config.train_config import TrainConfig
from pfrlib.io import write_json
from pfrlib.teaching import timings
from pfrlib.teaching.reproduce import SERIES_TIMES, write_times

PRESET = TrainConfig.preset("cpu").optim.iterations
CPU = timings.benchmark_of()  # the cpu preset's (synth_classes, synth_size)
STEP_LABEL = "cpu preset (small, SynthStreets 64x128, batch 4)"


def _results(root, name, walls, iterations=None, **recorded):
    """A results file ``{method: {"wall_s": [...], ...}}``; ``recorded``: extra fields of every entry."""
    write_json(root / name, {m: {"target": [1.0, 0.1], "wall_s": w, **({"iterations": iterations} if iterations else {}),
                                 **recorded} for m, w in walls.items()})
    return name


def test_a_methods_time_comes_from_the_first_file_that_times_it(tmp_path):
    """File precedence: the series' runs win over the sweeps', even where a sweep run was faster,
    and the step-time benchmark (last) only fills the gaps."""
    series = _results(tmp_path, "series.json", {"source_only": [89.1]}, iterations=[PRESET])
    sweep = _results(tmp_path, "sweep.json", {"source_only": [55.96, 55.06, 63.54], "pfr": [150.0]}, iterations=PRESET)
    write_json(tmp_path / "steps.json", [{"label": STEP_LABEL, "method": m, "median_s": 0.05} for m in ("pfr", "clan")])
    measured = timings.measured_rates((series, "missing.json", sweep, "steps.json"), tmp_path)
    assert measured == {"source_only": (pytest.approx(89.1 / PRESET), series), "pfr": (pytest.approx(150.0 / PRESET), sweep),
                        "clan": (pytest.approx(0.05), "steps.json")}
    # the order is the precedence: the step-time file first times pfr and clan, the sweep source_only
    first = timings.measured_rates(("steps.json", sweep, series), tmp_path)
    assert {m: where for m, (_, where) in first.items()} == {"pfr": "steps.json", "clan": "steps.json", "source_only": sweep}
    # without the series' file (before make reproduce writes it) the next file times the method
    rate, used = timings.measured_seconds_per_iteration(("absent.json", sweep, "steps.json"), tmp_path)
    assert rate["source_only"] == pytest.approx(55.96 / PRESET) and used == [sweep, "steps.json"]


def test_within_a_file_the_median_run_decides(tmp_path):
    a = _results(tmp_path, "a.json", {"source_only": [100.0, 400.0, 130.0], "pfr": [200.0, 300.0]})  # no count: the default
    b = _results(tmp_path, "b.json", {"oracle": [90.0, 60.0, 900.0]}, iterations=[1000, 1000, 3000])
    rate, used = timings.measured_seconds_per_iteration((a, b), tmp_path, default_iterations=PRESET)
    assert used == [a, b]
    assert rate == {"source_only": pytest.approx(130.0 / PRESET), "pfr": pytest.approx(250.0 / PRESET),
                    "oracle": pytest.approx(0.09)}  # per-iteration rates 0.09, 0.06, 0.3: the median
    assert timings.measured_rates((a,), tmp_path) == {}  # no recorded count and no default: nothing to divide by


def test_runs_on_another_benchmark_than_the_one_to_train_set_no_rate(tmp_path):
    """A file that records the benchmark (the series' file, per run) times only runs on it; the
    others fall through to the next file. A file that does not record it times any."""
    classes, size = CPU
    other = 19 if classes != 19 else 9
    write_json(tmp_path / "series.json", {
        "source_only": {"wall_s": [90.0, 900.0], "iterations": [PRESET, PRESET], "synth_classes": [classes, other],
                        "synth_size": [list(size), list(size)]},
        "pfr": {"wall_s": [300.0], "iterations": [PRESET], "synth_classes": [other], "synth_size": [list(size)]},
        "oracle": {"wall_s": [600.0], "iterations": [PRESET], "synth_classes": [classes], "synth_size": [[32, 64]]}})
    sweep = _results(tmp_path, "sweep.json", {"pfr": [150.0], "oracle": [60.0]}, iterations=PRESET)
    measured = timings.measured_rates(("series.json", sweep), tmp_path)
    assert measured == {"source_only": (pytest.approx(90.0 / PRESET), "series.json"),
                        "pfr": (pytest.approx(150.0 / PRESET), sweep), "oracle": (pytest.approx(60.0 / PRESET), sweep)}
    on_other = timings.measured_rates(("series.json", sweep), tmp_path, benchmark=(other, size))
    assert on_other["source_only"] == (pytest.approx(900.0 / PRESET), "series.json")
    assert on_other["pfr"] == (pytest.approx(300.0 / PRESET), "series.json")
    # one value for the whole file, and step-time rows that record the benchmark, filter the same way
    _results(tmp_path, "all19.json", {"clan": [120.0]}, iterations=PRESET, synth_classes=other, synth_size=list(size))
    write_json(tmp_path / "steps.json", [{"label": STEP_LABEL, "method": "road", "median_s": 0.1, "synth_classes": other}])
    assert timings.measured_rates(("all19.json", "steps.json"), tmp_path) == {}
    assert set(timings.measured_rates(("all19.json", "steps.json"), tmp_path, benchmark=(other, size))) == {"clan", "road"}
    # a list that does not match the runs is named
    write_json(tmp_path / "bad.json", {"pfr": {"wall_s": [1.0, 2.0], "iterations": [PRESET] * 2, "synth_classes": [classes]}})
    with pytest.raises(ValueError, match=r"bad.json: pfr has 2 wall times but 1 values of 'synth_classes'"):
        timings.measured_rates(("bad.json",), tmp_path)


def test_the_step_time_benchmark_is_read_for_the_cpu_presets_rows(tmp_path):
    """The step-time benchmark's file is a list of rows; only the ``cpu`` preset's rows time the
    notebooks' runs."""
    write_json(tmp_path / "steps.json", [
        {"label": STEP_LABEL, "method": "pfr", "median_s": 0.05},
        {"label": STEP_LABEL, "method": "clan", "median_s": 0.04},
        {"label": "DeepLab-v2 R101 multi-level", "method": "pfr", "median_s": 4.0},
        {"label": "DeepLab-v2 R101 multi-level", "method": "road", "median_s": 3.0}])
    runs = _results(tmp_path, "runs.json", {"pfr": [900.0], "source_only": [150.0]}, iterations=1500)
    rate, used = timings.measured_seconds_per_iteration((runs, "steps.json"), tmp_path)
    assert rate == {"pfr": pytest.approx(0.6), "source_only": pytest.approx(0.1), "clan": pytest.approx(0.04)}
    assert used == [runs, "steps.json"]
    write_json(tmp_path / "bad.json", [{"label": "cpu preset", "method": "pfr"}])
    with pytest.raises(ValueError, match="bad.json: expected step-time rows"):
        timings.measured_seconds_per_iteration(("bad.json",), tmp_path)


def test_a_bad_results_file_is_named(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="t.json"):
        timings.measured_seconds_per_iteration(("t.json",), tmp_path)
    (tmp_path / "n.json").write_text("3")
    with pytest.raises(ValueError, match="n.json: expected"):
        timings.measured_rates(("n.json",), tmp_path)


def _series_tree(runs):
    """A fake ``runs/series``: finished runs (final.json, config.json, job.json, status.json), one
    trained in two parts, one still training, and a translator's folder without a final.json."""
    classes, size = CPU

    def run(name, method, wall_time_s, seconds, plan="train", synth_classes=classes, iterations=PRESET):
        cfg = TrainConfig.preset("cpu", method=method, seed=0, iterations=iterations, out=str(runs / name),
                                 synth_classes=synth_classes)
        (runs / name).mkdir(parents=True)
        cfg.to_json(runs / name / "config.json")
        write_json(runs / name / "final.json", {"method": method, "seed": 0, "iterations": iterations,
                                                "wall_time_s": wall_time_s})
        write_json(runs / name / "job.json", {"name": name, "plan": plan})
        write_json(runs / name / "status.json", {"name": name, "ok": True, "status": "finished", "seconds": seconds})

    run("source_only_s0", "source_only", 75.5, 89.1)
    run("oracle_s0", "oracle", 80.2, 93.7)
    run("pfr_s0", "pfr", 121.7, 135.5)
    run("pfr_stages23_s0", "pfr", 112.3, 40.0, plan="resume")  # the last part's process: the trainer's total counts
    run("pfr_s19", "pfr", 300.0, 320.0, synth_classes=19 if classes != 19 else 9)
    (runs / "pfr_adv_s0").mkdir()  # still training: no final.json
    (runs / "pfr_adv_s0" / "config.json").write_text("{}")
    (runs / "dlow_s0" / "translation").mkdir(parents=True)


def _executed_series(out, names):
    """Executed copies with papermill's duration, as ``make reproduce`` leaves them in ``--out``."""
    for name, seconds in names.items():
        (out / name).mkdir(parents=True)
        (out / name / f"{name}.ipynb").write_text(json.dumps({"metadata": {"papermill": {
            "duration": seconds, "start_time": "2026-12-07T10:00:00"}}, "cells": []}))
    return [Path(f"{name}.ipynb") for name in names]


def test_write_times_writes_the_series_runs_that_measured_rates_reads_first(tmp_path, capsys):
    runs = tmp_path / "runs" / "series"
    _series_tree(runs)
    paths = _executed_series(tmp_path / "out", {"03_source_only_baseline": 97.0})
    series = tmp_path / SERIES_TIMES
    assert write_times(tmp_path / "out", paths, tmp_path / "times.md", runs, series) == 0
    assert "| 03_source_only_baseline | 1 min 37 s |" in (tmp_path / "times.md").read_text()
    written = json.loads(series.read_text())
    assert set(written) == {"source_only", "oracle", "pfr"}  # no unfinished run, no translator folder
    pfr = written["pfr"]
    assert pfr["runs"] == ["pfr_s0", "pfr_s19", "pfr_stages23_s0"] and pfr["seeds"] == [0, 0, 0]
    # the process's seconds where it trained in one go, else the trainer's own total
    assert pfr["wall_s"] == [135.5, 320.0, 112.3] and pfr["train_s"] == [121.7, 300.0, 112.3]
    assert pfr["iterations"] == [PRESET] * 3 and pfr["synth_size"] == [list(CPU[1])] * 3
    assert pfr["synth_classes"][0] == CPU[0] and pfr["synth_classes"][1] != CPU[0]
    assert f"wrote {series} (5 runs" in capsys.readouterr().out
    # read back: the median of the runs on this benchmark (the other benchmark's run left out)
    measured = timings.measured_rates((SERIES_TIMES,), tmp_path)
    assert measured["source_only"] == (pytest.approx(89.1 / PRESET), SERIES_TIMES)
    assert measured["pfr"][0] == pytest.approx((135.5 + 112.3) / 2 / PRESET)
    # no executed series: a one-line error and nothing written
    series.unlink()
    assert write_times(tmp_path / "nowhere", paths, tmp_path / "times2.md", runs, series) == 2
    assert not series.exists() and not (tmp_path / "times2.md").exists()


def test_the_measured_times_name_the_series_file_first_and_the_step_times_last():
    assert timings.MEASURED_TIMES[0] == SERIES_TIMES
    assert timings.MEASURED_TIMES[-1] == "benchmarks/results/step_time_cpu.json"


def test_the_committed_results_files_time_every_table1_method():
    root = Path(timings.__file__).resolve().parents[2]
    if not (root / "benchmarks/results/step_time_cpu.json").is_file():
        pytest.skip("the committed results files are not next to this pfrlib")
    rate, used = timings.measured_seconds_per_iteration(default_iterations=PRESET)
    seconds, where = timings.reference_calibration()  # the reference machine's calibration, beside its step times
    assert where == "benchmarks/results/step_time_cpu.json" and 0 < seconds < 1
    assert set(methods.table1_names()) <= set(rate)  # every Table-1 method has a measured time
    assert all(0 < r < 10 for r in rate.values())
    assert used == timings.measured_files([f for f in timings.MEASURED_TIMES if f in used])
