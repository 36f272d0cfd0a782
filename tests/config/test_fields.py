"""pfrlib.config.fields: the bookkeeping and execution fields, one definition read by resume, sweeps and reuse."""

from __future__ import annotations

from pfrlib.config.fields import BOOKKEEPING, EXECUTION
from pfrlib.config.train_config import TrainConfig, bookkeeping_fields, fields_with_role, resume_free_fields
from pfrlib.engine.rundir import RESUME_FREE_FIELDS


def test_bookkeeping_is_one_definition_read_by_resume_sweep_and_reuse():
    assert bookkeeping_fields() == ("out", "num_threads", "progress", "resume", "overwrite", "tensorboard", "stage_store")
    assert set(fields_with_role(EXECUTION)) == {("data", "num_workers"), ("data", "prefetch_factor"),
                                                  ("data", "pin_memory"), ("data", "synth_in_memory"),
                                                  ("run", "device")}
    assert RESUME_FREE_FIELDS == resume_free_fields() == set(fields_with_role(BOOKKEEPING, EXECUTION))
    a = TrainConfig.preset("cpu", out="runs/a", num_threads=1, progress=False, resume=True, overwrite=True)
    b = TrainConfig.preset("cpu", out="../runs/b")
    assert a.without_bookkeeping() == b.without_bookkeeping()
    # an execution field is part of "the same run" (reuse), only free on resume
    assert a.without_bookkeeping() != b.replace(num_workers=2).without_bookkeeping()
    assert a.without_bookkeeping() != b.replace(seed=1).without_bookkeeping()
