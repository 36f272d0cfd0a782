"""pfrlib.teaching.nbtools: tables and views in a notebook, runs reused in one line, and
``announce`` (what training will take, from measured step times)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pfrlib import methods
from pfrlib.config.train_config import TrainConfig
from pfrlib.io import write_json
from pfrlib.teaching import nbtools


def test_show_table_and_static_interactive_view(capsys, monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("PFR_LIVE", raising=False)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    nbtools.show_table([{"stage": 2, "ratio": 1.23456}, {"stage": 3, "ratio": 2.0}], digits=2, index="stage",
                       caption="ratios")
    frame = shown[0]
    assert list(frame.columns) == ["ratio"] and frame.loc[2, "ratio"] == 1.23 and "ratios" in capsys.readouterr().out
    # missing values read "-"; a wide table keeps every column (pandas would cut one past 20 with "...")
    import pandas as pd

    htmls = []
    monkeypatch.setattr("IPython.display.display", lambda obj: htmls.append(obj._repr_html_()))
    wide = [{"row": "a", **{f"c{i}": float(i) for i in range(30)}, "last": None}, {"row": "b", "last": 1.0}]
    with pd.option_context("display.max_columns", 20):  # a notebook kernel's default
        nbtools.show_table(wide, digits=1, index="row")
        before = pd.get_option("display.max_columns")
    assert "c29" in htmls[0] and "<th>last</th>" in htmls[0] and "..." not in htmls[0] and "NaN" not in htmls[0]
    assert "<td>-</td>" in htmls[0] and before == 20  # for that table only

    class Control:
        def __init__(self, value):
            self.value = value

    calls = []
    nbtools.interactive(lambda stage, on: calls.append((stage, on)), {"stage": Control(3), "on": Control(True)},
                        note="live: pick a stage")
    assert calls == [(3, True)] and "live: pick a stage" in capsys.readouterr().out


def test_show_table_labels_rows_groups_columns_and_keeps_ranges_together(capsys, monkeypatch):
    """No 0..n row numbers (the first column labels the rows), nested row labels, columns grouped
    under a shared header, a constant column said once in the caption, and no header that breaks
    inside "seeds 0-2"."""
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    nbtools.show_table([{"method": "PFR", "x": 1.0}, {"method": "CLAN", "x": 2.0}])
    assert list(shown[-1].index) == ["PFR", "CLAN"] and list(shown[-1].columns) == ["x"]
    rows = [{"method": "CyCADA", "stage": s, "peak (MiB)": p, "after imports (MiB)": 679, "seeds 0-2": 1.234}
            for s, p in (("translation", 1500), ("segmentation", 1600))]
    nbtools.show_table(rows, digits={"seeds 0-2": 1}, index=["method", "stage"], once=["after imports (MiB)"],
                       caption="memory")
    frame, out = shown[-1], capsys.readouterr().out
    assert frame.index.names == ["method", "stage"] and "after imports (MiB)" not in frame.columns
    assert out.startswith("memory; after imports (MiB): 679 in every row")
    assert f"seeds 0{nbtools.NON_BREAKING_HYPHEN}2" in frame.columns and frame.iloc[0, -1] == 1.2
    grouped = [{"method": "PFR", ("seeds 0-2", "mIoU (%)"): "39.7 ± 3.2", ("seeds 0-2", "gap closed (%)"): 34.93,
                ("held-out 5-7", "mIoU (%)"): "39.8 ± 1.9", ("held-out 5-7", "gap closed (%)"): None}]
    nbtools.show_table(grouped, digits={"gap closed (%)": 1})
    frame = shown[-1]
    assert frame.columns.nlevels == 2 and frame.iloc[0, 1] == 34.9 and frame.iloc[0, 3] == "-"
    assert frame.columns[0] == (f"seeds 0{nbtools.NON_BREAKING_HYPHEN}2", "mIoU (%)")
    html = frame._repr_html_()
    assert 'colspan="2"' in html and not re.search(r"<th>\d+</th>", html)


def test_say_wraps_at_word_boundaries(capsys):
    nbtools.say(" ".join(["word"] * 40), "end")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 1 and all(len(l) <= 100 for l in lines) and lines[1].startswith("    word")
    assert " ".join(l.strip() for l in lines) == " ".join(["word"] * 40 + ["end"])


def test_load_or_train_many_reports_reused_runs_in_one_line(tmp_path, capsys):
    from pfrlib.config.train_config import TrainConfig
    from pfrlib.io import write_json

    cfgs = [TrainConfig.preset("cpu", method=m, out=str(tmp_path / "series" / f"{m}_s0"), progress=False)
            for m in ("source_only", "oracle", "pfr")]
    for cfg in cfgs:
        out = tmp_path / "series" / Path(cfg.run.out).name
        out.mkdir(parents=True)
        cfg.to_json(out / "config.json")
        write_json(out / "final.json", {"method": cfg.loss.method, "target_miou": 0.25, "source_miou": 0.5,
                                        "iterations": 1500, "wall_time_s": 1.0})
    results = nbtools.load_or_train_many(cfgs, jobs=2)
    out = capsys.readouterr().out
    lines = [l for l in out.splitlines() if l.strip() and not l[0].isspace()]  # a wrapped line's rest is indented
    assert len(lines) == 1 and lines[0].startswith("reusing 3 finished runs") and "oracle_s0" in out
    assert [r.final["target_miou"] for r in results] == [0.25] * 3


# --------------------------------------------------------------------------- announce
def _configs(tmp_path, methods=("source_only", "pfr"), seeds=(0, 1), iterations=300):
    return [TrainConfig.preset("cpu", method=m, seed=s, iterations=iterations, out=str(tmp_path / "series" / f"{m}_s{s}"),
                               progress=False) for m in methods for s in seeds]


def _results(root, name, walls, iterations=None):
    entries = {m: {"target": [1.0, 0.1], "wall_s": w, **({"iterations": iterations} if iterations else {})}
               for m, w in walls.items()}
    write_json(root / name, entries)
    return name


def _finish(cfg):
    out = Path(cfg.run.out)
    out.mkdir(parents=True)
    cfg.to_json(out / "config.json")
    write_json(out / "final.json", {"method": cfg.loss.method, "target_miou": 0.2, "source_miou": 0.5,
                                    "iterations": cfg.optim.iterations, "wall_time_s": 1.0})


def test_announce_estimates_from_measured_times_scaled_by_iterations_and_shared_over_jobs(tmp_path):
    # measured: 1500 iterations in 150 s (source_only's fastest run) and 300 s (pfr): 0.1 and 0.2 s per iteration
    name = _results(tmp_path, "t.json", {"source_only": [150.0, 170.0], "pfr": [300.0]}, iterations=1500)
    configs = _configs(tmp_path, iterations=3000)  # 2 x 300 s + 2 x 600 s = 1800 s of runs
    text = nbtools.announce(configs, jobs=2, files=(name,), root=tmp_path)
    assert text.startswith("Training 4 runs (Non-adapted (source only): seeds 0, 1; PFR only (Eq. 4): seeds 0, 1): "
                           "4 to train")
    assert "about 15 min on 2 cores (measured: t.json)" in text  # 1800 s / 2 jobs
    assert "about 30 min on 1 core" in nbtools.announce(configs, jobs=1, files=(name,), root=tmp_path)
    # never shorter than the longest run: four jobs for four runs take one pfr run (600 s)
    assert "about 10 min on 4 cores" in nbtools.announce(configs, jobs=8, files=(name,), root=tmp_path)


def test_announce_counts_reused_runs_by_the_launchers_rule(tmp_path):
    name = _results(tmp_path, "t.json", {"source_only": [150.0], "pfr": [300.0]}, iterations=1500)
    configs = _configs(tmp_path, iterations=1500)
    for cfg in configs[:3]:
        _finish(cfg)
    text = nbtools.announce(configs, jobs=2, files=(name,), root=tmp_path)
    assert "3 finished (reused), 1 to train; about 5 min on 1 core" in text  # only pfr seed 1 is left
    _finish(configs[3])
    assert nbtools.announce(configs, files=(name,), root=tmp_path).endswith("all finished, nothing to train.")
    assert "4 to train" in nbtools.announce(configs, jobs=2, retrain=True, files=(name,), root=tmp_path)


def test_announce_names_several_settings_of_one_method_and_seed(tmp_path):
    name = _results(tmp_path, "t.json", {"pfr": [300.0]}, iterations=1500)
    configs = [TrainConfig.preset("cpu", method="pfr", seed=0, iterations=1500, pfr_stages=stages,
                                  out=str(tmp_path / f"pfr{i}"), progress=False) for i, stages in enumerate([(2, 3), (4, 5)])]
    text = nbtools.announce(configs, jobs=2, files=(name,), root=tmp_path)
    assert text.startswith("Training 2 runs (PFR only (Eq. 4): 2 settings, seed 0): 2 to train; about 5 min on 2 cores")


def test_the_fastest_measured_run_decides_and_unrecorded_iterations_are_the_cpu_presets(tmp_path):
    preset = TrainConfig.preset("cpu").optim.iterations
    a = _results(tmp_path, "a.json", {"source_only": [100.0, 400.0, 130.0]})  # no iterations recorded: the preset's
    b = _results(tmp_path, "b.json", {"source_only": [300.0], "pfr": [600.0]}, iterations=[preset])
    rate, used = nbtools.measured_seconds_per_iteration((a, b, "missing.json"), tmp_path, default_iterations=preset)
    # each method's fastest run over the files (the least slowed by other work): source_only 100 s in a.json
    assert used == ["a.json", "b.json"]
    assert rate == {"source_only": pytest.approx(100.0 / preset), "pfr": pytest.approx(600.0 / preset)}
    configs = _configs(tmp_path, methods=("source_only",), seeds=(0,), iterations=preset)
    assert "about 2 min on 1 core (measured: a.json)." in nbtools.announce(configs, files=(a, b), root=tmp_path)


def test_the_step_time_benchmark_is_read_for_the_cpu_presets_rows(tmp_path):
    """The step-time benchmark's file is a list of rows; only the ``cpu`` preset's rows time the
    notebooks' runs, and only for the methods no results file times (a committed run trained as a
    notebook trains, so it wins over a step timed alone)."""
    write_json(tmp_path / "steps.json", [
        {"label": "cpu preset (small, SynthStreets 64x128, batch 4)", "method": "pfr", "median_s": 0.05},
        {"label": "cpu preset (small, SynthStreets 64x128, batch 4)", "method": "clan", "median_s": 0.04},
        {"label": "DeepLab-v2 R101 multi-level", "method": "pfr", "median_s": 4.0},
        {"label": "DeepLab-v2 R101 multi-level", "method": "road", "median_s": 3.0}])
    runs = _results(tmp_path, "runs.json", {"pfr": [900.0], "source_only": [150.0]}, iterations=1500)
    rate, used = nbtools.measured_seconds_per_iteration(("steps.json", runs), tmp_path)
    assert rate == {"pfr": pytest.approx(0.6), "source_only": pytest.approx(0.1), "clan": pytest.approx(0.04)}
    assert used == ["steps.json", "runs.json"]
    configs = _configs(tmp_path, methods=("clan",), seeds=(0, 1), iterations=1500)  # 2 x 60 s on 2 cores
    assert "about 60 s on 2 cores (measured: steps.json)" in nbtools.announce(configs, jobs=2, files=("steps.json", runs),
                                                                              root=tmp_path)
    write_json(tmp_path / "bad.json", [{"label": "cpu preset", "method": "pfr"}])
    with pytest.raises(ValueError, match="bad.json: expected step-time rows"):
        nbtools.measured_seconds_per_iteration(("bad.json",), tmp_path)


def _steps_with_calibration(root, calibration_s=0.02, **settings):
    """A step-time file: pfr at 0.1 s per iteration, and the reference machine's calibration row."""
    from dataclasses import asdict

    from pfrlib.engine.calibration import CALIBRATION, CALIBRATION_LABEL

    write_json(root / "steps.json", [
        {"label": "cpu preset (small, SynthStreets 64x128, batch 4)", "method": "pfr", "median_s": 0.1},
        {"label": CALIBRATION_LABEL, **asdict(CALIBRATION), **settings, "median_s": calibration_s}])
    return "steps.json"


def test_announce_scales_the_measured_times_by_this_machine(tmp_path):
    """This machine's calibration over the reference's scales every rate; the line says so."""
    name = _steps_with_calibration(tmp_path, calibration_s=0.02)
    assert nbtools.reference_calibration((name,), tmp_path) == (pytest.approx(0.02), name)
    configs = _configs(tmp_path, methods=("pfr",), seeds=(0, 1), iterations=1500)  # 2 x 150 s on the reference
    timed = []
    text = nbtools.announce(configs, jobs=2, files=(name,), root=tmp_path, calibration=lambda: timed.append(1) or 0.04)
    # 0.04 s here / 0.02 s there = 2: 150 s x 2 = 300 s per run, two at a time
    assert "2 to train; about 5 min here on 2 cores (this machine 2.0x the reference's time per iteration; " \
           "measured: steps.json)." in text and timed == [1]
    assert "about 75 s here" in nbtools.announce(configs, jobs=2, files=(name,), root=tmp_path, calibration=lambda: 0.01)
    # a short estimate is not worth timing the machine; nor can a calibration made another way be compared
    short = _configs(tmp_path, methods=("pfr",), seeds=(0,), iterations=300)  # 30 s
    assert "about 30 s on 1 core (measured: steps.json)." in nbtools.announce(
        short, files=(name,), root=tmp_path, calibration=lambda: pytest.fail("timed a short estimate"))
    other = _steps_with_calibration(tmp_path, steps=99)
    assert nbtools.reference_calibration((other,), tmp_path) is None
    assert "about 2 min on 2 cores (measured: steps.json)." in nbtools.announce(
        configs, jobs=2, files=(other,), root=tmp_path, calibration=lambda: pytest.fail("no reference to compare"))


def test_announce_names_a_method_without_measured_time_instead_of_guessing(tmp_path):
    name = _results(tmp_path, "t.json", {"source_only": [60.0]}, iterations=1500)
    configs = _configs(tmp_path, methods=("source_only", "pfr"), seeds=(0,), iterations=1500)
    text = nbtools.announce(configs, jobs=2, files=(name,), root=tmp_path)
    assert re.search(r"about 60 s on 2 cores \(measured: t\.json\), not counting PFR only \(Eq\. 4\), which has no measured time", text)
    only = nbtools.announce(configs[1:], files=(name,), root=tmp_path)
    assert "about" not in only and only.endswith("no measured time for PFR only (Eq. 4) in t.json.")


def test_announce_without_the_results_files_says_no_measured_times(tmp_path):
    configs = _configs(tmp_path, seeds=(0,))
    text = nbtools.announce(configs, files=("benchmarks/results/table1.json",), root=tmp_path / "elsewhere")
    assert "2 to train" in text and "no measured times" in text and "about" not in text


def test_a_bad_results_file_is_named(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="t.json"):
        nbtools.measured_seconds_per_iteration(("t.json",), tmp_path)


def test_announce_reads_the_committed_results_files():
    root = Path(nbtools.__file__).resolve().parents[2]
    if not all((root / f).is_file() for f in nbtools.MEASURED_TIMES):
        pytest.skip("the committed results files are not next to this pfrlib")
    rate, used = nbtools.measured_seconds_per_iteration(default_iterations=TrainConfig.preset("cpu").optim.iterations)
    seconds, where = nbtools.reference_calibration()  # the reference machine's calibration, beside its step times
    assert where == "benchmarks/results/step_time_cpu.json" and 0 < seconds < 1
    assert set(methods.table1_names()) <= set(rate)  # every Table-1 method has a measured time
    assert all(0 < r < 10 for r in rate.values())
