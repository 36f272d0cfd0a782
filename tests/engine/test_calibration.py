"""pfrlib.engine.calibration: a few timed iterations here, once per process, torch's threads kept."""

from __future__ import annotations

import torch

from pfrlib.engine import calibration as C


def test_the_calibration_times_real_iterations_and_puts_the_threads_back():
    before = torch.get_num_threads()
    seconds = C.calibration_seconds(C.Calibration(warmup=0, steps=1))
    assert 0 < seconds < 60 and torch.get_num_threads() == before


def test_a_process_times_its_machine_once(monkeypatch):
    calls = []
    monkeypatch.setattr(C, "calibration_seconds", lambda calibration: calls.append(calibration) or 0.5)
    mine = C.Calibration(steps=2)  # not the default, so the real one's cached value stays as it is
    assert C.machine_seconds(mine) == 0.5 and C.machine_seconds(mine) == 0.5 and calls == [mine]
    times = iter([0.7, 0.4, 0.6])
    monkeypatch.setattr(C, "calibration_seconds", lambda calibration: next(times))
    row = C.calibration_row(mine, repeat=3)  # the reference: the fastest of a few, the machine at its best
    assert row["label"] == C.CALIBRATION_LABEL and row["steps"] == 2 and row["threads"] == 1 and row["median_s"] == 0.4
