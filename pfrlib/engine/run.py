"""One run of any method, the way every caller starts one (``python -m pfrlib.train``, a launched
job, a notebook): the loop of Eq. (6) (:mod:`pfrlib.engine.trainer`), or for the input-space
methods a translator first, then the loop (:mod:`pfrlib.engine.two_stage`), and for the
self-training methods an adapted model, then rounds of pseudo-labels
(:mod:`pfrlib.engine.two_stage.self_training`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.record import FINAL_JSON, finished_line
from pfrlib.engine.trainer import TrainResult, train_loop
from pfrlib.engine.two_stage.run import train_translation
from pfrlib.engine.two_stage.self_training import train_self_training
from pfrlib.engine.watchdog import NonFiniteLossError

__all__ = ["train", "train_to_exit_status"]


def train(config: TrainConfig) -> TrainResult:
    """Train the run ``config`` describes (the Python API; notebooks call this).

    Returns a :class:`~pfrlib.engine.trainer.TrainResult` (``.final`` is the content of
    ``final.json``). ``--resume`` of a run that already finished says so and returns its result
    without training or writing."""
    config.validate()
    if config.method_info.family == "translation":
        final = train_translation(config)
        return TrainResult(out=Path(config.run.out), final=final, config=config)
    if config.method_info.self_training:
        final = train_self_training(config)
        return TrainResult(out=Path(config.run.out), final=final, config=config)
    return train_loop(config)


def train_to_exit_status(cfg: TrainConfig) -> int:
    """Train ``cfg`` as a command does: one ``error: ...`` line and status 2 for bad input (3 for a
    non-finite loss), else the finished line (:func:`pfrlib.engine.record.finished_line`, with
    where the record is) on rank 0 and status 0. ``python -m pfrlib.train`` and a launched job
    (:mod:`pfrlib.launch.job`) both end here."""
    try:
        result = train(cfg)
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError, FileExistsError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        verb = "resumed" if cfg.run.resume else "trained"
        print(finished_line(verb, str(result.out), result.final) + f" -> {result.out / FINAL_JSON}")
    return 0
