"""Which shift each family closes: the per-component grid (MinEnt and FDA among its rows).

SynthStreets-19's target shift is a sum of named components
(:meth:`pfrlib.data.synthstreets.shift.SynthShift19.components`: palette ... layout, class prior,
camera, shape). The grid (``sweeps/components.yaml``) renders the target four ways per component
``C`` and trains every method, its source-only run and its oracle on each, on the same seeds:

* ``"full"``: the whole shift (:data:`FULL`); ``"none"``: no shift at all (:data:`NONE`, where the
  source-only model should already match the oracle: the grid's floor);
* **C alone** (:func:`alone_shift`, ``"none,C=1"``): the source style with only ``C`` changed;
* **the full shift minus C** (:func:`minus_shift`, ``"full,C=0"``): every component but ``C``.

Two numbers per method ``m`` and component ``C``, each from the per-seed test mIoU (%, on that
cell's own target test split, the last iteration's model), paired by seed (seed ``s`` of every
method), with a 95% percentile bootstrap interval resampling seeds and then test images
(:func:`pfrlib.evaluation.statistics.hierarchical_bootstrap_statistic`: the same seeds and
images for every run in the formula):

* :func:`gap_closed`, on the **C alone** cell (and on the full shift, the maps' first column):

  ``G(m, C) = 100 * sum_s (m_s - so_s) / sum_s (or_s - so_s)``

  the share of the source-only -> oracle gap that ``C`` opens which ``m`` closes: 0 is source
  only, 100 the oracle, below 0 worse than not adapting. A ratio of the seeds' summed
  differences (the mean paired difference over the mean gap), not a mean of per-seed ratios,
  which one seed with a tiny gap would dominate.
* :func:`deficit_removed`, on the **full minus C** cell beside the full shift:

  ``R(m, C) = 100 * (D_full - D_minus) / D_full``, ``D_x = sum_s (or_{x,s} - m_{x,s})``

  the share of ``m``'s deficit to the oracle under the full shift that disappears when ``C`` is
  removed: near 100, ``C`` is (nearly) all that ``m`` fails to close; near 0, ``m`` already closes
  ``C`` (or ``C`` costs nothing); below 0, the others hurt ``m`` more without ``C``. For
  ``source_only`` it is the share of the whole gap that is ``C``'s. The oracle has no deficit
  (no row). The two cells have test sets of one size, whose images are drawn by the same indices.

The gap itself (:data:`GAP`: ``oracle - source_only``, mIoU points, per alone cell and the full
shift) is kept beside them: a component whose gap's interval includes 0 opens nothing to close,
and its shares are noise over a near-zero denominator.

A statistic is computed only when every run it reads has finished (every seed of every method in
its formula); otherwise its cell says so, ``not finished: N of M runs`` (:attr:`Cell.status`),
and nothing is dropped silently. Formulas and choices: docs/choices.md ("Which shift each family
closes"); the benchmark that writes the results and the map: ``benchmarks/components.py``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from pfrlib.data.synthstreets.shift import SynthShift19
from pfrlib.engine.record import FINAL_JSON, confusion_file, read_test_confusion
from pfrlib.evaluation.statistics import CONFIDENCE, RESAMPLES, SEED, hierarchical_bootstrap_statistic
from pfrlib.methods import label

__all__ = ["FULL", "NONE", "FULL_COLUMN", "GAP", "KINDS", "SOURCE_ONLY", "ORACLE", "alone_shift", "minus_shift",
           "grid_shifts", "gap_closed", "deficit_removed", "Cell", "ComponentGrid", "component_grid",
           "grid_markdown"]

#: The grid's two references: the floor and the ceiling of every gap.
SOURCE_ONLY, ORACLE = "source_only", "oracle"
#: The full shift and no shift, as ``DataConfig.synth_shift`` text.
FULL, NONE = SynthShift19.full().text(), SynthShift19.none().text()
#: The maps' first column: the full shift (gap closed on ``"full"``).
FULL_COLUMN = "full shift"
#: The ``method`` of the gap rows: ``oracle - source_only`` in mIoU points.
GAP = "gap"
#: ``"alone"``: :func:`gap_closed` on C alone (and the full shift); ``"minus"``: :func:`deficit_removed`.
KINDS: tuple[str, ...] = ("alone", "minus")


def alone_shift(component: str) -> str:
    """The target with only ``component`` changed from the source style: ``"none,C=1"``."""
    return SynthShift19.only(component).text()


def minus_shift(component: str) -> str:
    """The full shift with ``component`` set back to the source's: ``"full,C=0"``."""
    return SynthShift19.full().replace(**{component: 0.0}).text()


def grid_shifts(components: Sequence[str] = SynthShift19.components()) -> list[str]:
    """Every target of the grid, in the sweep's order: full, none, then per component alone and minus."""
    return [FULL, NONE] + [s for c in components for s in (alone_shift(c), minus_shift(c))]


def gap_closed(method: np.ndarray, source_only: np.ndarray, oracle: np.ndarray) -> np.ndarray:
    """``100 * sum_s (m_s - so_s) / sum_s (or_s - so_s)`` over the last axis (per-seed mIoU, seeds
    in the same order): the share of the source-only -> oracle gap the method closes (%)."""
    m, so, orc = (np.asarray(x, dtype=float) for x in (method, source_only, oracle))
    return 100 * (m - so).sum(-1) / (orc - so).sum(-1)


def deficit_removed(method_full: np.ndarray, oracle_full: np.ndarray, method_minus: np.ndarray,
                    oracle_minus: np.ndarray) -> np.ndarray:
    """``100 * (D_full - D_minus) / D_full``, ``D = sum_s (oracle_s - method_s)`` over the last axis:
    the share of the method's full-shift deficit to the oracle that disappears without the component (%)."""
    d_full = (np.asarray(oracle_full, dtype=float) - np.asarray(method_full, dtype=float)).sum(-1)
    d_minus = (np.asarray(oracle_minus, dtype=float) - np.asarray(method_minus, dtype=float)).sum(-1)
    return 100 * (d_full - d_minus) / d_full


@dataclass(frozen=True)
class Cell:
    """One statistic of the grid: a method's gap closed (``"alone"``) or deficit removed
    (``"minus"``) for a component (or :data:`FULL_COLUMN`), or the gap itself (``method`` :data:`GAP`).

    ``value``, ``low``, ``high`` are None until all ``expected`` runs it reads have finished."""

    kind: str
    method: str
    component: str
    finished: int
    expected: int
    value: Optional[float] = None
    low: Optional[float] = None
    high: Optional[float] = None

    @property
    def done(self) -> bool:
        return self.value is not None

    @property
    def status(self) -> str:
        """``"v [low, high]"``, or why there is no value."""
        if not self.done:
            return f"not finished: {self.finished} of {self.expected} runs"
        if self.low is None or not np.isfinite(self.low):
            return f"{self.value:.0f} (no interval)"
        return f"{self.value:.0f} [{self.low:.0f}, {self.high:.0f}]"

    @property
    def includes_zero(self) -> bool:
        """Its interval includes 0 (or it has none): no evidence that it differs from 0."""
        return not (self.done and self.low is not None and np.isfinite(self.low) and (self.low > 0 or self.high < 0))


@dataclass
class ComponentGrid:
    """Every :class:`Cell` of the grid, and how many of its runs have finished."""

    methods: tuple[str, ...]
    components: tuple[str, ...]
    seeds: tuple[int, ...]
    cells: list[Cell]
    finished_runs: int
    expected_runs: int
    confidence: float = CONFIDENCE
    resamples: int = RESAMPLES
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, kind: str, method: str, component: str) -> Cell:
        for c in self.cells:
            if (c.kind, c.method, c.component) == (kind, method, component):
                return c
        raise KeyError(f"no {kind} cell for method {method!r} and component {component!r}")

    def rows(self, kind: str) -> tuple[str, ...]:
        """The methods of a map: ``"alone"`` without the two references (0 and 100 by definition),
        ``"minus"`` without the oracle (no deficit)."""
        left_out = {SOURCE_ONLY, ORACLE} if kind == "alone" else {ORACLE}
        return tuple(m for m in self.methods if m not in left_out)

    def columns(self, kind: str) -> tuple[str, ...]:
        """The components of a map (``"alone"`` first has the full shift)."""
        return ((FULL_COLUMN,) if kind == "alone" else ()) + self.components

    def to_json(self) -> dict:
        return {"methods": list(self.methods), "components": list(self.components), "seeds": list(self.seeds),
                "finished_runs": self.finished_runs, "expected_runs": self.expected_runs,
                "confidence": self.confidence, "resamples": self.resamples,
                "cells": [asdict(c) for c in self.cells], **self.extra}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "ComponentGrid":
        known = {"methods", "components", "seeds", "finished_runs", "expected_runs", "confidence", "resamples", "cells"}
        return cls(tuple(d["methods"]), tuple(d["components"]), tuple(d["seeds"]), [Cell(**c) for c in d["cells"]],
                   d["finished_runs"], d["expected_runs"], d["confidence"], d["resamples"],
                   {k: v for k, v in d.items() if k not in known})


def _finished(folder: Optional[str | os.PathLike]) -> bool:
    return folder is not None and (Path(folder) / FINAL_JSON).is_file() and confusion_file(folder).is_file()


def component_grid(runs: Mapping[tuple[str, str, int], str | os.PathLike], methods: Sequence[str],
                   components: Sequence[str] = SynthShift19.components(), seeds: Sequence[int] = (0, 1, 2),
                   confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = SEED) -> ComponentGrid:
    """The grid's statistics from its run folders.

    Args:
        runs: ``{(synth_shift text, method, seed): run folder}`` for every run of the sweep (the
            benchmark maps the sweep's runs; a folder need not exist yet). A run has finished when
            it holds ``final.json`` and its test confusion.
        methods: the grid's methods; must include ``source_only`` and ``oracle``.
        components, seeds: the grid's components and seeds (each statistic pairs every seed).
        confidence, resamples, seed: the bootstrap's
            (:func:`~pfrlib.evaluation.statistics.hierarchical_bootstrap_statistic`).

    Raises:
        ValueError naming what is wrong: a reference missing from ``methods``, fewer than 2 seeds,
        an unknown component, or a cell's runs scored on test sets of different classes.
    """
    methods = tuple(methods)
    missing = [m for m in (SOURCE_ONLY, ORACLE) if m not in methods]
    if missing:
        raise ValueError(f"methods: the grid needs {missing[0]!r} (every gap runs from source only to the oracle), "
                         f"got {list(methods)}")
    if len(seeds) < 2:
        raise ValueError(f"seeds: an interval needs at least 2 seeds, got {list(seeds)}")
    unknown = [c for c in components if c not in SynthShift19.components()]
    if unknown:
        raise ValueError(f"components: unknown {unknown}; expected some of {SynthShift19.components()}")
    cache: dict[tuple[str, str], np.ndarray] = {}
    classes: dict[tuple[str, str], tuple[int, ...]] = {}

    def folders(shift: str, method: str) -> list:
        return [runs.get((shift, method, s)) for s in seeds]

    def confusions(shift: str, method: str) -> np.ndarray:
        if (shift, method) not in cache:
            kept = [read_test_confusion(f) for f in folders(shift, method)]
            cache[shift, method] = np.stack([k.last for k in kept]).astype(np.int64)
            classes[shift, method] = tuple(kept[0].class_ids)
        return cache[shift, method]

    def cell(kind: str, method: str, component: str, groups: Sequence[tuple[str, str]], formula) -> Cell:
        needed = list(dict.fromkeys(groups))
        paths = [f for g in needed for f in folders(*g)]
        done = sum(_finished(f) for f in paths)
        if done < len(paths):
            return Cell(kind, method, component, done, len(paths))
        arrays = {f"{shift}|{m}": confusions(shift, m) for shift, m in needed}
        ids = {classes[g] for g in needed}
        if len(ids) != 1:
            raise ValueError(f"{kind} cell {method!r}, {component!r}: its runs average over different classes {ids}")
        value, low, high = hierarchical_bootstrap_statistic(
            arrays, lambda v: formula(*(v[f"{shift}|{m}"] for shift, m in groups)), confidence, resamples, seed,
            classes=next(iter(ids)))
        return Cell(kind, method, component, done, len(paths), value, low, high)

    cells: list[Cell] = []
    alone_columns = [(FULL_COLUMN, FULL)] + [(c, alone_shift(c)) for c in components]
    for column, shift in alone_columns:
        cells.append(cell("alone", GAP, column, [(shift, ORACLE), (shift, SOURCE_ONLY)], lambda o, s: (o - s).mean(-1)))
        for m in methods:
            if m not in (SOURCE_ONLY, ORACLE):
                cells.append(cell("alone", m, column, [(shift, m), (shift, SOURCE_ONLY), (shift, ORACLE)], gap_closed))
    for c in components:
        for m in methods:
            if m != ORACLE:
                cells.append(cell("minus", m, c, [(FULL, m), (FULL, ORACLE), (minus_shift(c), m),
                                                  (minus_shift(c), ORACLE)], deficit_removed))
    expected = {(shift, m, s) for shift in grid_shifts(components) for m in methods for s in seeds}
    finished = sum(_finished(runs.get(k)) for k in expected)
    return ComponentGrid(methods, tuple(components), tuple(seeds), cells, finished, len(expected), confidence,
                         resamples)


#: Each map's caption: what a cell is.
CAPTIONS = {
    "alone": "Gap closed (%) with only the component changed (`none,C=1`; first column: the full shift): "
             "100 x (method - source only) / (oracle - source only), per-seed test mIoU summed over seeds",
    "minus": "Deficit removed (%) without the component (`full,C=0`): the share of the method's full-shift "
             "deficit to the oracle that disappears when the component is set back to the source's",
}


def grid_markdown(grid: ComponentGrid) -> str:
    """Both maps as tables (a component per row, a method per column), each cell the value with its
    interval, **bold** where the interval excludes 0, or ``not finished: N of M runs``; the gap
    (oracle - source only, mIoU points) in the first map's last column."""
    out = [f"{grid.finished_runs} of {grid.expected_runs} runs finished; seeds {', '.join(map(str, grid.seeds))}; "
           f"{100 * grid.confidence:g}% intervals resampling seeds and test images ({grid.resamples} resamples).", ""]
    for kind in KINDS:
        rows = grid.rows(kind)
        extra = [GAP] if kind == "alone" else []
        out.append(CAPTIONS[kind] + ".")
        out.append("")
        head = ["component"] + [label(m) for m in rows] + (["gap: oracle - source only (points)"] if extra else [])
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for column in grid.columns(kind):
            cells = []
            for m in list(rows) + extra:
                c = grid.get(kind, m, column)
                text = c.status
                if m == GAP and c.done:  # points, one decimal
                    has_interval = c.low is not None and np.isfinite(c.low)
                    text = f"{c.value:.1f} [{c.low:.1f}, {c.high:.1f}]" if has_interval else f"{c.value:.1f}"
                cells.append(f"**{text}**" if c.done and not c.includes_zero else text)
            out.append(f"| {column.replace('_', ' ')} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)
