"""Tests for pfrlib.io (atomic writes) and pfrlib.teaching.nbtools (notebook parameters)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from pfrlib import io
from pfrlib.teaching import nbtools
from pfrlib.teaching.nbparams import SMOKE_TRAINING, check_parameters, figures_path, live_frontend, series_settings, smoke_from_env


def test_write_json_roundtrip_and_nan(tmp_path):
    path = io.write_json(tmp_path / "a" / "m.json", {"x": torch.tensor([1.0, float("nan")]), "p": tmp_path, "t": (1, 2)})
    data = json.loads(path.read_text())
    assert data == {"x": [1.0, None], "p": str(tmp_path), "t": [1, 2]}
    assert io.read_json(path) == data


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "result.json"
    io.write_json(path, {"ok": 1})

    def boom(f):
        f.write("partial")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        io.atomic_write(path, boom, mode="w")
    assert io.read_json(path) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left behind


def test_read_json_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        io.read_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        io.read_json(bad)


def test_unwritable_directory_is_a_clear_error(tmp_path):
    # a parent that is a regular file cannot hold a directory, even for root (CI runs as root)
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    with pytest.raises(OSError, match="not_a_dir"):
        io.write_json(blocker / "run" / "x.json", {})


def test_smoke_from_env(monkeypatch):
    monkeypatch.delenv("PFR_SMOKE", raising=False)
    assert smoke_from_env(None) is False
    monkeypatch.setenv("PFR_SMOKE", "1")
    assert smoke_from_env(None) is True
    assert smoke_from_env(False) is False
    with pytest.raises(ValueError, match="smoke"):
        smoke_from_env("yes")


def test_check_parameters():
    before = {"np", "torch"}
    ns = {"np": 1, "torch": 2, "seed": 0, "norm": "chw", "n": 4, "_private": 1}
    assert check_parameters(ns, before, declared=("seed", "norm", "n"), choices={"norm": ("chw", "hw")}, positive=("n",)) == {
        "seed": 0, "norm": "chw", "n": 4,
    }
    with pytest.raises(ValueError, match=r"unknown notebook parameter\(s\) \['iters'\]"):
        check_parameters(ns | {"iters": 5}, before, declared=("seed", "norm", "n"))
    with pytest.raises(ValueError, match="'norm' must be one of"):
        check_parameters(ns | {"norm": "bogus"}, before, declared=("seed", "norm", "n"), choices={"norm": ("chw",)})
    with pytest.raises(ValueError, match="'n' must be a number > 0"):
        check_parameters(ns | {"n": 0}, before, declared=("seed", "norm", "n"), positive=("n",))


def test_figures_path_smoke_never_targets_committed_figures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert figures_path(None, smoke=True).as_posix().endswith("runs/smoke/figures")
    assert figures_path(None, smoke=False).as_posix() == "../figures"
    assert figures_path(str(tmp_path / "f"), smoke=True) == tmp_path / "f"


def test_atomic_write_gives_normal_permissions(tmp_path):
    path = io.write_json(tmp_path / "m.json", {})
    assert path.stat().st_mode & 0o044, "written files must be readable by others (umask permitting), not 0600"


def test_series_settings(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("PFR_LIVE", raising=False)
    runs_dir, o = series_settings(False)
    assert runs_dir == "../runs/series" and o == {"progress": False}  # headless: summary lines, no frozen bars
    runs_dir, o = series_settings(True, None, 50)
    assert runs_dir == "../runs/smoke/series" and o == {"progress": False, **SMOKE_TRAINING}
    assert series_settings(False, "/x/runs", 50) == ("/x/runs", {"progress": False, "iterations": 50})
    monkeypatch.setenv("JPY_SESSION_NAME", "/lab/notebooks/03.ipynb")  # a kernel JupyterLab started
    assert series_settings(False)[1] == {"progress": True}
    assert series_settings(True)[1]["progress"] is False
    monkeypatch.setenv("PFR_LIVE", "0")
    assert live_frontend() is False
    for bad in (0, -5, 2.5, True, "100"):
        with pytest.raises(ValueError, match="iterations"):
            series_settings(False, None, bad)


def test_check_parameters_with_declared_types_choices_and_ranges():
    from pfrlib.teaching.nbparams import Param

    spec = {
        "smoke": Param(bool, optional=True),
        "seed": Param(int, min=0),
        "num_images": Param(int, min=2, max=512),
        "lr": Param(float, min=0),
        "norm": Param(str, choices=("chw", "hw", "none")),
        "seeds": Param(list, items=int, min=0),
        "figures_dir": Param(str, optional=True),
        "note": str,
    }
    good = {"smoke": None, "seed": 0, "num_images": 64, "lr": 1, "norm": "hw", "seeds": [0, 1],
            "figures_dir": None, "note": "x"}
    assert check_parameters(good, (), spec) == good  # an int is a valid float
    bad_values = [
        ("num_images", 64.5, "'num_images' must be an integer, got 64.5"),
        ("num_images", "abc", "'num_images' must be an integer, got 'abc'"),
        ("num_images", True, "'num_images' must be an integer"),
        ("num_images", 1, "'num_images' must be >= 2"),
        ("num_images", 1000, "'num_images' must be <= 512"),
        ("seed", None, "'seed' must be an integer, got None"),
        ("lr", float("nan"), "'lr' must be a number"),
        ("lr", -1.0, "'lr' must be >= 0"),
        ("norm", "bogus", "'norm' must be one of"),
        ("smoke", "yes", "'smoke' must be True or False"),
        ("seeds", [], "'seeds' must not be empty"),
        ("seeds", [0, 1.5], "'seeds' item 1.5: must be an integer"),
        ("seeds", 3, "'seeds' must be a list of integers"),
        ("note", 3, "'note' must be a string"),
    ]
    for name, value, message in bad_values:
        with pytest.raises(ValueError, match=re.escape(message)):
            check_parameters(good | {name: value}, (), spec)
    with pytest.raises(ValueError, match=r"unknown notebook parameter\(s\) \['num_imgs'\]"):
        check_parameters(good | {"num_imgs": 3}, (), spec)


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
    lines = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("reusing 3 finished runs") and "oracle_s0" in lines[0]
    assert [r.final["target_miou"] for r in results] == [0.25] * 3


def test_same_configuration_ignores_bookkeeping_only(tmp_path):
    from pfrlib.config.train_config import TrainConfig
    from pfrlib.config.command_line import config_from_argv
    from pfrlib.launch.job import same_configuration

    cfg = TrainConfig.preset("cpu", method="pfr_adv", seed=1, out=str(tmp_path / "run"))
    assert not same_configuration(cfg)  # no run there
    (tmp_path / "run").mkdir()
    cfg.replace(num_threads=1, progress=False, overwrite=True).to_json(tmp_path / "run" / "config.json")
    assert same_configuration(cfg)
    # the command line builds the same configuration; another value of a real field does not match
    argv = ["--preset", "cpu", "--method", "pfr_adv", "--seed", "1", "--out", str(tmp_path / "run"), "--no-progress"]
    assert same_configuration(config_from_argv(argv), tmp_path / "run")
    assert not same_configuration(config_from_argv(argv + ["--d-lr", "1e-4"]), tmp_path / "run")
    # where a run lives is bookkeeping too: a notebook saves "../runs/series/x", the root names it
    # "runs/series/x", a sweep may hold a copy; all are the same run
    (tmp_path / "copy").mkdir()
    cfg.replace(out="../runs/series/pfr_adv_s1").to_json(tmp_path / "copy" / "config.json")
    assert same_configuration(cfg, tmp_path / "copy")
    (tmp_path / "run" / "config.json").write_text("{broken")
    assert not same_configuration(cfg)
