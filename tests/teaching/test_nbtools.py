"""pfrlib.teaching.nbtools: tables and views in a notebook, runs reused in one line, and
``announce`` (what training will take, from measured times: :mod:`pfrlib.teaching.timings`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pfrlib import methods
from pfrlib.config.train_config import TrainConfig
from pfrlib.io import write_json
from pfrlib.teaching import nbtools, timings


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
    # measured: 1500 iterations in 150 s (source_only's median run) and 300 s (pfr): 0.1 and 0.2 s per iteration
    name = _results(tmp_path, "t.json", {"source_only": [150.0, 130.0, 170.0], "pfr": [300.0]}, iterations=1500)
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


def test_announce_takes_unrecorded_iterations_at_the_cpu_presets_and_a_files_median_run(tmp_path):
    preset = TrainConfig.preset("cpu").optim.iterations
    a = _results(tmp_path, "a.json", {"source_only": [100.0, 400.0, 130.0]})  # no iterations recorded: the preset's
    b = _results(tmp_path, "b.json", {"source_only": [30.0], "pfr": [600.0]}, iterations=[preset])
    configs = _configs(tmp_path, methods=("source_only",), seeds=(0,), iterations=preset)
    # a.json comes first and times source_only: its median run (130 s), not b.json's faster one
    assert "about 2 min on 1 core (measured: a.json)." in nbtools.announce(configs, files=(a, b), root=tmp_path)


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
    assert timings.reference_calibration((name,), tmp_path) == (pytest.approx(0.02), name)
    configs = _configs(tmp_path, methods=("pfr",), seeds=(0, 1), iterations=1500)  # 2 x 150 s on the reference
    timed = []
    text = nbtools.announce(configs, jobs=2, files=(name,), root=tmp_path, calibration=lambda: timed.append(1) or 0.04)
    # 0.04 s here / 0.02 s there = 2: 150 s x 2 = 300 s per run, two at a time
    assert "2 to train; about 5 min here on 2 cores (this machine 2.0x the reference; measured: steps.json)." in text
    assert timed == [1]
    assert "about 75 s here" in nbtools.announce(configs, jobs=2, files=(name,), root=tmp_path, calibration=lambda: 0.01)
    # a short estimate is not worth timing the machine; nor can a calibration made another way be compared
    short = _configs(tmp_path, methods=("pfr",), seeds=(0,), iterations=300)  # 30 s
    assert "about 30 s on 1 core (measured: steps.json)." in nbtools.announce(
        short, files=(name,), root=tmp_path, calibration=lambda: pytest.fail("timed a short estimate"))
    other = _steps_with_calibration(tmp_path, steps=99)
    assert timings.reference_calibration((other,), tmp_path) is None
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


def test_announce_for_notebook_03_uses_the_series_runs_not_the_fastest_sweep_run(tmp_path):
    """Notebook 03 trains source only and the oracle side by side. The fastest sweep runs (the
    trainer's own time, 55 s and 56 s) gave "about 56 s"; its runs took 89 s and 94 s as processes
    (start-up and the test split included). The series' own runs of the same configs time it."""
    preset = TrainConfig.preset("cpu").optim.iterations
    classes, size = timings.benchmark_of()
    write_json(tmp_path / "series_runs.json", {m: {"wall_s": [w], "iterations": [preset], "synth_classes": [classes],
                                                   "synth_size": [list(size)]}
                                               for m, w in (("source_only", 89.1), ("oracle", 93.7))})
    sweep = _results(tmp_path, "sweep.json", {"source_only": [55.96, 55.06, 63.54], "oracle": [55.97, 60.48, 61.21]},
                     iterations=preset)
    steps = _steps_with_calibration(tmp_path, calibration_s=0.04)
    configs = _configs(tmp_path, methods=("source_only", "oracle"), seeds=(0,), iterations=preset)
    text = nbtools.announce(configs, jobs=2, files=("series_runs.json", sweep, steps), root=tmp_path,
                            calibration=lambda: 0.04)  # this machine as fast as the reference
    # max(two runs over two cores, the longest run) = the oracle's 93.7 s, not the sweep's 56 s
    assert "2 to train; about 2 min here on 2 cores (this machine 1.0x the reference; measured: series_runs.json, " \
           "steps.json)." in text
    # the old rule (the fastest sweep run) stayed under a minute; the sweep's median alone is still far off
    assert "about 60 s on 2 cores (measured: sweep.json)." in nbtools.announce(configs, jobs=2, files=(sweep,), root=tmp_path)
    # a machine twice as slow: the estimate doubles (the estimate is above CALIBRATE_FROM_S, so it is scaled)
    assert "about 3 min here" in nbtools.announce(configs, jobs=2, files=("series_runs.json", steps), root=tmp_path,
                                                  calibration=lambda: 0.08)


def test_announce_names_the_files_once_with_their_folder(tmp_path):
    folder = tmp_path / "benchmarks" / "results"
    folder.mkdir(parents=True)
    name = _results(folder, "t.json", {"pfr": [300.0]}, iterations=1500)
    configs = _configs(tmp_path, methods=("pfr",), seeds=(0,), iterations=300)  # 60 s: scaled if a calibration existed
    text = nbtools.announce(configs, files=(f"benchmarks/results/{name}",), root=tmp_path)
    assert text.endswith("about 60 s on 1 core (measured: t.json in benchmarks/results).")
