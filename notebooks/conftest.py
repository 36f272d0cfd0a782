"""pytest settings for the notebooks under nbval (tooling, not part of the series).

`make test` runs the notebooks and the tests in one pytest session on every core (pytest-xdist),
so that neither waits for the other's slowest item: ``pytest notebooks tests --nbval-lax ...``.

- **Smoke mode.** A notebook's kernel starts with ``PFR_SMOKE=1`` unless the variable is set
  (``PFR_SMOKE=0`` runs the notebooks at their defaults); the tests' own processes never see it.
- **Scheduling.** The cells of a notebook run in one kernel, in order, so a notebook goes to one
  worker as a whole. Notebooks that declare a ``runs_dir`` parameter share their load-or-train
  runs (``../runs/smoke/series`` in smoke mode): they go to one worker together and run one after
  another, so a run one of them trains is reused by the next instead of being trained by two at
  once into the same folder. Every test is a unit of its own. The largest units (the notebooks)
  are handed out first; a worker gets the next unit when it has two items or fewer left.
- **Threads.** Under xdist, each worker's kernels compute on one thread (``OMP_NUM_THREADS=1``).

(xdist's own ``xdist_group`` marks would say this, but with pytest 9 the group suffix xdist puts on
the node id is lost and cells scatter; hence a scheduler whose scope is the group.)
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import nbformat
import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one xdist worker per core: its notebook kernels (they inherit the variable) compute on one
    # thread, so two kernels do not oversubscribe the cores; the outputs nbval compares do not change
    os.environ.setdefault("OMP_NUM_THREADS", "1")

SMOKE_VARIABLE = "PFR_SMOKE"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """Start a notebook's kernel (nbval starts it when the notebook's first cell is set up) with
    ``PFR_SMOKE=1`` unless the variable is set; restore the environment right after."""
    if item.path.suffix != ".ipynb" or SMOKE_VARIABLE in os.environ:
        yield
        return
    os.environ[SMOKE_VARIABLE] = "1"
    try:
        yield
    finally:
        os.environ.pop(SMOKE_VARIABLE, None)


@cache
def _group(path: Path) -> str:
    """The scheduling group of a notebook: ``shared runs_dir`` or the notebook's own name."""
    nb = nbformat.read(path, as_version=4)
    params = next((c.source for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), "")
    return "shared runs_dir" if re.search(r"^runs_dir\s*=", params, re.M) else path.stem


def pytest_xdist_make_scheduler(config, log):
    # imported here: this hook only runs under pytest-xdist (`-n`), which plain `pytest notebooks` lacks
    from xdist.scheduler import LoadScopeScheduling

    class NotebookGroups(LoadScopeScheduling):
        """xdist's scope scheduling: one scope per group of notebooks, one per test (see above)."""

        def _split_scope(self, nodeid: str) -> str:
            path = config.rootpath / nodeid.split("::", 1)[0]
            return _group(path) if path.suffix == ".ipynb" else nodeid

    return NotebookGroups(config, log)
