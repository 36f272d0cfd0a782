"""Shared test fixtures, and one thread per pytest-xdist worker.

The tests mirror the package: ``tests/<folder>/test_<module>.py`` tests ``pfrlib/<folder>/<module>.py``
(tests/test_layout.py checks it). Themes that cut across modules are markers, declared in
pyproject.toml: ``slow``, ``reliability`` (bad input and faults: one clear line, nothing lost) and
``notebooks``; e.g. ``pytest tests -m reliability``. Helpers shared by several folders are plain
modules here (``one_line``, ``shipped_datasets``, ``synth_folders``), imported by name.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.calibration import SKIP_VARIABLE
from pfrlib.engine.run import train

# The tests time nothing: no run (here or in the processes they start) times the machine
# calibration it keeps in final.json; tests/engine/test_run.py turns it on where it is tested.
os.environ.setdefault(SKIP_VARIABLE, "0")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one xdist worker per core. Each worker, and what it starts (training
    # subprocesses, torchrun ranks, notebook kernels inherit the variable), computes on one thread:
    # a thread per core in every worker would oversubscribe the cores, and OpenMP threads spin
    # while they wait for each other. Only the speed changes: every test sets the threads it checks.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)


@pytest.fixture
def one_torch_thread():
    """Run with one torch thread (tiny tensors; robust on a busy 2-core CI box), restore after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """One tiny finished run (source_only, SynthStreets 32x64, 2 iterations): its checkpoint_last.pt.
    Read, never changed, by the checkpoint and evaluation tests."""
    out = tmp_path_factory.mktemp("run") / "run"
    result = train(TrainConfig.preset("cpu", out=str(out), synth_size=(32, 64), synth_train_length=4,
                                      synth_val_length=2, batch_size=2, iterations=2, log_every=1, checkpoint_every=2,
                                      val_every=0, progress=False, model_kwargs={"widths": [8, 8, 16, 16]},
                                      num_threads=1))
    ckpt = result.out / "checkpoint_last.pt"
    assert ckpt.is_file()
    return ckpt
