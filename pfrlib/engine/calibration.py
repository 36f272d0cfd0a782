"""How fast this machine trains: a few timed iterations that scale measured times to it.

The notebooks estimate how long their training takes from step times measured on one machine
(``benchmarks/step_time.py``, the *reference*). Another machine, or the same one while it does
other work, is faster or slower. :func:`calibration_seconds` times the same few iterations here
that the benchmark times on the reference (:data:`CALIBRATION`: the ``cpu`` preset's
``source_only``, one thread, the median of a few iterations after a warm-up), and the ratio of
the two scales every measured rate (:func:`pfrlib.teaching.nbtools.announce`). It costs a second or two
(on a busy 2-core machine), once per process (:func:`machine_seconds` keeps the result).

Every training run also times it in its own process when it starts (:func:`run_calibration`,
called by :func:`pfrlib.engine.run.train`), and keeps it in ``final.json`` as ``calibration_s``
beside its wall time, so that a run's time can be scaled to the reference machine: the RNG
states are put back afterwards, so the run computes exactly what it would without it.
:data:`SKIP_VARIABLE` set to ``0`` skips it (the test suite, which times nothing).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import lru_cache

import torch

from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.checkpoint import rng_state, set_rng_state
from pfrlib.engine.trainer import Trainer

__all__ = ["Calibration", "CALIBRATION", "CALIBRATION_LABEL", "calibration_seconds", "machine_seconds",
           "calibration_row", "SKIP_VARIABLE", "run_calibration"]


@dataclass(frozen=True)
class Calibration:
    """What the calibration times: ``steps`` iterations of ``method`` at ``preset`` on ``threads``
    torch threads, after ``warmup`` untimed ones (the first iterations allocate)."""

    preset: str = "cpu"
    method: str = "source_only"
    threads: int = 1
    warmup: int = 2
    steps: int = 8


#: The calibration the notebooks run and the step-time benchmark records for the reference machine.
CALIBRATION = Calibration()
#: The ``label`` of the calibration's row in the step-time benchmark's results file.
CALIBRATION_LABEL = "calibration"
#: The environment variable that, set to ``0``, makes :func:`run_calibration` skip the timing.
SKIP_VARIABLE = "PFR_RUN_CALIBRATION"


def calibration_seconds(calibration: Calibration = CALIBRATION) -> float:
    """Median seconds per iteration of ``calibration`` on this machine, now (on the CPU, in this
    process; torch's thread count is put back afterwards)."""
    threads = torch.get_num_threads()
    try:
        with tempfile.TemporaryDirectory(prefix="pfr-calibration-") as tmp:
            config = TrainConfig.preset(calibration.preset, method=calibration.method, out=tmp, progress=False,
                                        device="cpu", num_threads=calibration.threads, tensorboard=False)
            trainer = Trainer(config, prepare_output=False)
            times = []
            for i in range(calibration.warmup + calibration.steps):
                start = time.perf_counter()
                trainer.step()
                if i >= calibration.warmup:
                    times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return statistics.median(times)


@lru_cache(maxsize=None)
def machine_seconds(calibration: Calibration = CALIBRATION) -> float:
    """:func:`calibration_seconds`, measured once per process (a notebook pays it once)."""
    return calibration_seconds(calibration)


def calibration_row(calibration: Calibration = CALIBRATION, repeat: int = 1) -> dict:
    """The step-time benchmark's row for the reference machine: its label, the settings, and as
    ``median_s`` the fastest of ``repeat`` calibrations (the one least slowed by whatever else the
    machine did: the reference is the machine at its best)."""
    fastest = min(calibration_seconds(calibration) for _ in range(repeat))
    return {"label": CALIBRATION_LABEL, **asdict(calibration), "repeat": repeat, "median_s": fastest}


def run_calibration(calibration: Calibration = CALIBRATION) -> float | None:
    """:func:`calibration_seconds` for a run's ``final.json``, timed now in this process, with every
    RNG state (torch CPU and CUDA, numpy, python) as it was before: the calibration's own trainer
    seeds and draws, and the run must not see it. None when :data:`SKIP_VARIABLE` is ``0``."""
    if os.environ.get(SKIP_VARIABLE, "").strip() == "0":
        return None
    state = rng_state()
    try:
        return round(calibration_seconds(calibration), 6)
    finally:
        set_rng_state(state)
