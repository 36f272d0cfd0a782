"""pfrlib.engine.run.train: the machine calibration every run times in its own process at the
start, kept in final.json beside the wall time, without changing what the run computes."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from pfrlib.config.train_config import TrainConfig
from pfrlib.engine import calibration as C
from pfrlib.engine import run as R
from pfrlib.engine.record import FINAL_JSON, FinalRecord

TINY = dict(synth_size=(32, 64), synth_train_length=8, synth_val_length=4, batch_size=2, iterations=4, log_every=2,
            checkpoint_every=4, val_every=0, progress=False, model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1,
            tensorboard=False)
QUICK = C.Calibration(warmup=0, steps=1)  # the real calibration's trainer, one timed iteration


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _draws() -> tuple:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def test_the_run_calibration_leaves_every_random_state_as_it_was(monkeypatch):
    monkeypatch.setenv(C.SKIP_VARIABLE, "1")
    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    expected = _draws()
    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    C.calibration_seconds(QUICK)  # the bare timing seeds and draws: what run_calibration must undo
    assert _draws() != expected
    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    seconds = C.run_calibration(QUICK)
    assert seconds is not None and 0 < seconds < 60 and _draws() == expected
    monkeypatch.setenv(C.SKIP_VARIABLE, "0")
    assert C.run_calibration(QUICK) is None


def test_a_run_keeps_its_calibration_and_computes_the_same_without_it(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "run_calibration", lambda: C.run_calibration(QUICK))
    monkeypatch.setenv(C.SKIP_VARIABLE, "1")
    timed = R.train(TrainConfig.preset("cpu", method="pfr_adv", out=str(tmp_path / "timed"), **TINY))
    monkeypatch.setenv(C.SKIP_VARIABLE, "0")
    plain = R.train(TrainConfig.preset("cpu", method="pfr_adv", out=str(tmp_path / "plain"), **TINY))
    on_disk = json.loads((tmp_path / "timed" / FINAL_JSON).read_text())
    assert on_disk["calibration_s"] == timed.final["calibration_s"] > 0
    assert json.loads((tmp_path / "plain" / FINAL_JSON).read_text())["calibration_s"] is None
    assert list(on_disk) == [k for k in FinalRecord.__dataclass_fields__ if k in on_disk]  # the record's key order
    for key in ("target_miou", "source_miou"):
        assert timed.final[key] == plain.final[key], key
    assert timed.final["target_val"]["per_class_iou"] == plain.final["target_val"]["per_class_iou"]
    a, b = (torch.load(tmp_path / d / "checkpoint_last.pt", map_location="cpu", weights_only=True)["model"]
            for d in ("timed", "plain"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_finished_run_read_back_keeps_its_own_record(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "run_calibration", lambda: 0.123)
    monkeypatch.setenv(C.SKIP_VARIABLE, "1")
    config = TrainConfig.preset("cpu", out=str(tmp_path / "run"), **TINY)
    assert R.train(config).final["calibration_s"] == 0.123
    monkeypatch.setattr(R, "run_calibration", lambda: 9.0)  # another process's calibration is not this run's
    again = R.train(config.replace(resume=True))
    assert again.final["calibration_s"] == 0.123
    assert json.loads((tmp_path / "run" / FINAL_JSON).read_text())["calibration_s"] == 0.123
