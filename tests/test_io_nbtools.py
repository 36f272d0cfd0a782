"""Tests for pfrlib.io (atomic writes) and pfrlib.nbtools (notebook parameters)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from pfrlib import io, nbtools


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
    assert nbtools.smoke_from_env(None) is False
    monkeypatch.setenv("PFR_SMOKE", "1")
    assert nbtools.smoke_from_env(None) is True
    assert nbtools.smoke_from_env(False) is False
    with pytest.raises(ValueError, match="smoke"):
        nbtools.smoke_from_env("yes")


def test_check_parameters():
    before = {"np", "torch"}
    ns = {"np": 1, "torch": 2, "seed": 0, "norm": "chw", "n": 4, "_private": 1}
    assert nbtools.check_parameters(ns, before, declared=("seed", "norm", "n"), choices={"norm": ("chw", "hw")}, positive=("n",)) == {
        "seed": 0, "norm": "chw", "n": 4,
    }
    with pytest.raises(ValueError, match=r"unknown notebook parameter\(s\) \['iters'\]"):
        nbtools.check_parameters(ns | {"iters": 5}, before, declared=("seed", "norm", "n"))
    with pytest.raises(ValueError, match="'norm' must be one of"):
        nbtools.check_parameters(ns | {"norm": "bogus"}, before, declared=("seed", "norm", "n"), choices={"norm": ("chw",)})
    with pytest.raises(ValueError, match="'n' must be a number > 0"):
        nbtools.check_parameters(ns | {"n": 0}, before, declared=("seed", "norm", "n"), positive=("n",))


def test_figures_path_smoke_never_targets_committed_figures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert nbtools.figures_path(None, smoke=True).as_posix().endswith("runs/smoke/figures")
    assert nbtools.figures_path(None, smoke=False).as_posix() == "../figures"
    assert nbtools.figures_path(str(tmp_path / "f"), smoke=True) == tmp_path / "f"


def test_atomic_write_gives_normal_permissions(tmp_path):
    path = io.write_json(tmp_path / "m.json", {})
    assert path.stat().st_mode & 0o044, "written files must be readable by others (umask permitting), not 0600"


def test_series_settings():
    runs_dir, o = nbtools.series_settings(False)
    assert runs_dir == "../runs/series" and o == {"progress": True}
    runs_dir, o = nbtools.series_settings(True, None, 50)
    assert runs_dir == "../runs/smoke/series" and o == {"progress": False, **nbtools.SMOKE_TRAINING}
    assert nbtools.series_settings(False, "/x/runs", 50) == ("/x/runs", {"progress": True, "iterations": 50})
    for bad in (0, -5, 2.5, True, "100"):
        with pytest.raises(ValueError, match="iterations"):
            nbtools.series_settings(False, None, bad)


def test_same_configuration_ignores_bookkeeping_only(tmp_path):
    from pfrlib.config import TrainConfig, config_from_argv
    from pfrlib.nbtools import same_configuration

    cfg = TrainConfig.preset("cpu", method="pfr_adv", seed=1, out=str(tmp_path / "run"))
    assert not same_configuration(cfg)  # no run there
    (tmp_path / "run").mkdir()
    cfg.replace(num_threads=1, progress=False, overwrite=True).to_json(tmp_path / "run" / "config.json")
    assert same_configuration(cfg)
    # the command line builds the same configuration; another value of a real field does not match
    argv = ["--preset", "cpu", "--method", "pfr_adv", "--seed", "1", "--out", str(tmp_path / "run"), "--no-progress"]
    assert same_configuration(config_from_argv(argv), tmp_path / "run")
    assert not same_configuration(config_from_argv(argv + ["--d-lr", "1e-4"]), tmp_path / "run")
    (tmp_path / "run" / "config.json").write_text("{broken")
    assert not same_configuration(cfg)
