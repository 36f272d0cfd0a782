"""The protocol's tuning: one weight per method, five values, the tuning seeds, one adoption rule.

``docs/protocol.md`` ("The same tuning budget for every method", "The adoption rule") fixes how the
``cpu`` preset's values are chosen; this module is that text as code, read by the tuning sweeps'
check (``tests/evaluation/test_tuning.py``) and by ``benchmarks/tuning.py``, which applies the rule
to the finished runs and writes the table of ``docs/tuning.md``:

* every method tunes **one weight**, :attr:`pfrlib.methods.Method.tuned_weight` (the term it adds
  to source only; None for the bounds, source only and the oracle);
* its values are the ``cpu`` preset's value (the *incumbent*) times :data:`FACTORS`
  (:func:`tuning_values`), each trained on the :data:`TUNING_SEEDS` and scored on target **val**
  with the last iteration's model;
* an alternative ``v`` is adopted only if the mean of the paired differences
  ``d_s = mIoU(v, s) - mIoU(incumbent, s)`` exceeds the half-width of their 95% Student t interval
  (:func:`pfrlib.evaluation.statistics.t_interval`), i.e. the interval's lower end is above 0; of
  several, the largest mean; one round (:func:`adopt`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

from pfrlib import methods
from pfrlib.config.train_config import TrainConfig
from pfrlib.evaluation.statistics import CONFIDENCE, t_interval

__all__ = ["FACTORS", "TUNING_SEEDS", "HELD_OUT_SEEDS", "tuning_values", "Alternative", "Decision", "adopt", "decision_of"]

#: The incumbent's multiples tried: 4 alternatives and the incumbent (factor 1).
FACTORS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
#: Every value is chosen on these training seeds (and the target val split) only.
TUNING_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
#: Run once per row after every value is fixed; the claims are read from them.
HELD_OUT_SEEDS: tuple[int, ...] = (5, 6, 7, 8, 9)


def tuning_values(method: str, preset: str = "cpu", **overrides) -> tuple[str, float, list[float]]:
    """``(weight, incumbent, values)`` of ``method``'s tuning: the field it tunes, its value in
    ``preset`` (after ``overrides``, e.g. a value another method's tuning adopted) and the
    incumbent times :data:`FACTORS`, rounded to 12 significant digits (so 0.004 x 0.25 reads 0.001).

    **Every value must be a valid configuration** (``TrainConfig.validate``): the grid is never
    clipped or moved onto another scale. A tuned weight is therefore one whose every positive
    multiple is valid (a loss weight, never a proportion such as ``st_percentile``, whose
    ``x 4`` would leave [0, 1]); the registry's choices (:attr:`pfrlib.methods.Method.tuned_weight`)
    are such weights, and a choice that is not is refused here, before any run.

    Raises:
        ValueError for a method without a tuned weight (the bounds), naming it; ValueError naming
        the method, the weight and the first value that is no valid configuration.
    """
    weight = methods.get(method).tuned_weight
    if weight is None:
        raise ValueError(f"method {method!r} has no tuned weight (Method.tuned_weight is None): it is not tuned")
    incumbent = float(TrainConfig.preset(preset, method=method, **overrides).flat()[weight])
    values = [float(f"{incumbent * f:.12g}") for f in FACTORS]
    for value in values:
        try:
            TrainConfig.preset(preset, method=method, **{**overrides, weight: value}).validate(check_paths=False)
        except ValueError as err:
            raise ValueError(f"method {method!r}: {weight}={value:g} (the incumbent {incumbent:g} times a factor of "
                             f"{FACTORS}) is no valid configuration ({err}); a tuned weight must be one whose "
                             f"every multiple is valid (docs/protocol.md)") from None
    return weight, incumbent, values


@dataclass(frozen=True)
class Alternative:
    """One alternative value against the incumbent, over the tuning seeds (mIoU points)."""

    value: float
    mean: float          #: mean paired difference, alternative - incumbent
    low: float           #: the 95% t interval of that mean
    high: float
    wins: int            #: seeds on which the alternative scored higher
    adoptable: bool      #: the interval's lower end is above 0


@dataclass(frozen=True)
class Decision:
    """The adoption rule's outcome for one method."""

    weight: str
    incumbent: float
    incumbent_mean: float            #: the incumbent's mean mIoU over the seeds
    alternatives: tuple[Alternative, ...]
    adopted: float                   #: the incumbent unless an alternative passed

    @property
    def changed(self) -> bool:
        return self.adopted != self.incumbent


def adopt(weight: str, incumbent: float, scores: Mapping[float, Mapping[int, float]],
          seeds: Sequence[int] = TUNING_SEEDS, confidence: float = CONFIDENCE) -> Decision:
    """The protocol's adoption rule.

    Args:
        weight: the field tuned (for the record).
        incumbent: the current value; ``scores`` must hold it.
        scores: ``{value: {seed: target-val mIoU}}`` for the incumbent and each alternative.
        seeds: the seeds every value must have (default :data:`TUNING_SEEDS`).

    Returns:
        A :class:`Decision`: each alternative's paired mean difference and t interval, and the
        adopted value (the adoptable alternative with the largest mean, else the incumbent).

    Raises:
        ValueError naming the value and the seeds it lacks.
    """
    seeds = list(seeds)
    for value, per_seed in scores.items():
        missing = [s for s in seeds if s not in per_seed]
        if missing:
            raise ValueError(f"{weight}={value:g}: no score for seed(s) {missing} (needs seeds {seeds})")
    if incumbent not in scores:
        raise ValueError(f"{weight}: no scores for the incumbent {incumbent:g} (values: {sorted(scores)})")
    base = np.array([scores[incumbent][s] for s in seeds], dtype=float)
    rows = []
    for value in sorted(v for v in scores if v != incumbent):
        d = np.array([scores[value][s] for s in seeds], dtype=float) - base
        low, high = t_interval(d, confidence)
        rows.append(Alternative(value=value, mean=float(d.mean()), low=low, high=high,
                                wins=int((d > 0).sum()), adoptable=low > 0))
    passed = [a for a in rows if a.adoptable]
    adopted = max(passed, key=lambda a: a.mean).value if passed else incumbent
    return Decision(weight=weight, incumbent=incumbent, incumbent_mean=float(base.mean()),
                    alternatives=tuple(rows), adopted=adopted)


def decision_of(method: str, scores: Mapping[float, Mapping[int, float]], preset: str = "cpu",
                overrides: Optional[Mapping] = None) -> Decision:
    """:func:`adopt` for ``method`` with its weight and incumbent from :func:`tuning_values`."""
    weight, incumbent, _ = tuning_values(method, preset, **dict(overrides or {}))
    return adopt(weight, incumbent, scores)
