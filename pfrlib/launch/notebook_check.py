"""A notebook run's parameter values, checked before it is launched, by the notebook's own check.

A notebook declares its parameters right after its ``parameters`` cell, in one call to
:func:`pfrlib.teaching.nbparams.start` (a ``Param`` per name: type, choices, range).
:func:`check_notebook_values` runs the parameters cell, assigns the run's parameters as papermill
injects them, and runs the next cell in a namespace that holds :data:`CHECK_ONLY`. There
``start()`` checks the parameters exactly as it does in the notebook and then stops
(:class:`ParametersChecked`) before it does anything else (no folder made, nothing written). So a
sweep refuses ``num_images: abc`` before any run starts, with the notebook's own message, and the
rule is written once, in :mod:`pfrlib.teaching.nbparams`.

The next cell is run only when it calls ``start(``; a notebook that declares its parameters
otherwise has its values checked when it runs (its names are checked before, from the parameters
cell: :func:`pfrlib.launch.sweep_spec.check_runs`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Optional

__all__ = ["CHECK_ONLY", "ParametersChecked", "check_notebook_values"]

#: The name that marks a notebook namespace as being checked, not run: ``start()`` stores the
#: checked parameters under it and raises :class:`ParametersChecked`.
CHECK_ONLY = "__pfrlib_check_only__"


class ParametersChecked(Exception):
    """``start()`` in a namespace holding :data:`CHECK_ONLY`: the parameters passed its check."""


def check_notebook_values(notebook: str | Path, parameters: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """Check ``parameters`` (name -> value, as papermill injects them) with ``notebook``'s own
    ``start()`` call. Returns the checked parameters, or ``None`` when the notebook has no
    ``parameters`` cell followed by a cell that calls ``start(`` (or that cell needs more than this
    process has: then the run checks its values itself when it starts).

    Raises:
        ValueError: the notebook's message, naming the parameter and what it expected.
    """
    import nbformat  # noqa: PLC0415  (only notebook runs need it)

    cells = [c for c in nbformat.read(Path(notebook), as_version=4).cells if c.cell_type == "code"]
    at = next((i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if at is None or at + 1 >= len(cells) or not re.search(r"\bstart\(", cells[at + 1].source):
        return None
    namespace: dict[str, Any] = {"__name__": "__main__", CHECK_ONLY: {}}
    try:
        exec(compile(cells[at].source, f"{Path(notebook).name}, parameters cell", "exec"), namespace)
        namespace.update(parameters)
        exec(compile(cells[at + 1].source, f"{Path(notebook).name}, the cell after it", "exec"), namespace)
    except ParametersChecked:
        return namespace[CHECK_ONLY]["params"]
    except ValueError:
        if "checking" in namespace[CHECK_ONLY]:  # start()'s check refused a value
            raise
        return None
    except Exception:  # noqa: BLE001  (e.g. an import only the notebook's kernel has)
        return None
    return None
