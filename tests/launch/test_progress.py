"""pfrlib.launch.progress: each running run's line, read from the end of its metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.record import step_record
from pfrlib.engine.rundir import METRICS_FILE
from pfrlib.launch import progress as P
from pfrlib.launch.job import Job


def _job(tmp_path: Path, name: str, iterations: int = 300) -> Job:
    return Job(name=name, out=tmp_path / name, config=TrainConfig.preset("cpu", iterations=iterations), threads=1)


def _append(job: Job, *records, partial: str = "") -> None:
    job.out.mkdir(parents=True, exist_ok=True)
    with open(job.out / METRICS_FILE, "a") as f:
        f.write("".join(json.dumps(r) + "\n" for r in records) + partial)


def test_the_newest_step_record_skips_validation_records_and_a_line_being_written(tmp_path):
    job = _job(tmp_path, "a")
    assert P.newest_step_record(job.out) is None  # no folder yet
    _append(job, *(step_record(i, {"seg": 1.0 / i}, i * 0.1) for i in range(25, 5001, 25)))  # longer than the tail read
    _append(job, {"iter": 5000, "val_source_miou": 0.5, "val_target_miou": 0.3}, partial='{"iter": 5025, "se')
    assert P.newest_step_record(job.out) == step_record(5000, {"seg": 1.0 / 5000}, 500.0)


def test_the_board_shows_one_line_per_run_in_a_display_updated_in_place(tmp_path, monkeypatch):
    shown = []

    class Display:  # an IPython display handle's stand-in: what it shows now
        def show(self, lines):
            shown.append(list(lines))

    monkeypatch.setattr(P, "_Display", Display)
    now = [0.0]
    board = P.ProgressBoard(every_s=5, display=True, clock=lambda: now[0])
    a, b = _job(tmp_path, "a"), _job(tmp_path, "b")
    board.started(a)
    board.started(b)
    board.poll()
    assert shown[-1] == ["  a: 0 / 300 iterations, starting", "  b: 0 / 300 iterations, starting"]
    _append(a, step_record(100, {"seg": 0.5, "d": 0.7}, 25.0))
    now[0] = 1.0
    board.poll()  # within every_s of the last read: the folders are not read again
    assert len(shown) == 3
    now[0] = 6.0
    board.poll()
    assert shown[-1] == ["  a: 100 / 300 iterations, seg 0.5, d 0.7, about 50 s left",
                         "  b: 0 / 300 iterations, starting"]
    _append(a, step_record(300, {"seg": 0.25, "d": 0.7}, 75.0))
    board.ended(a, ok=True)
    board.ended(b, ok=False)
    assert shown[-1] == ["  a: 300 / 300 iterations, finished", "  b: no iterations, failed"]


def test_in_a_terminal_a_run_gets_a_line_when_it_moved_at_most_every_few_seconds(tmp_path):
    printed, now = [], [0.0]
    board = P.ProgressBoard(every_s=5, display=False, write=printed.append, clock=lambda: now[0])
    a = _job(tmp_path, "a")
    board.started(a)  # the backend's own line says it started
    _append(a, step_record(25, {"seg": 0.9}, 5.0))
    for t in (1.0, 3.0, 5.0, 6.0, 9.0):
        now[0] = t
        board.poll()
    assert printed == ["  a: 25 / 300 iterations, seg 0.9, about 55 s left"]  # at t=6, then nothing new
    _append(a, step_record(50, {"seg": 0.8}, 10.0))
    now[0] = 11.0
    board.poll()
    assert printed[-1] == "  a: 50 / 300 iterations, seg 0.8, about 50 s left" and len(printed) == 2
    board.ended(a, ok=True)
    assert len(printed) == 2  # the backend's finished line says it
