"""``stop_at``: cut a training run short at a chosen iteration, as a kill would, for the
bit-exact resume tests."""

from __future__ import annotations

from typing import Callable

import pytest


class Interrupted(Exception):
    """Raised in place of a trainer's step where :func:`stop_at` cuts the run."""


def stop_at(monkeypatch, trainer_cls: type, iteration: int, run: Callable[[], object]) -> None:
    """Run ``run()`` with ``trainer_cls.step`` raising :class:`Interrupted` when the trainer is at
    ``iteration`` (after the checkpoints before it are written); the real step is back afterwards."""
    real_step = trainer_cls.step

    def step_then_stop(self):
        if self.iteration == iteration:
            raise Interrupted
        return real_step(self)

    monkeypatch.setattr(trainer_cls, "step", step_then_stop)
    try:
        with pytest.raises(Interrupted):
            run()
    finally:
        monkeypatch.setattr(trainer_cls, "step", real_step)
