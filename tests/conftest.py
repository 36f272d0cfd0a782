"""Shared test fixtures, and one thread per pytest-xdist worker."""

from __future__ import annotations

import os

import pytest
import torch

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
