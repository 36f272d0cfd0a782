"""The NaN watchdog: notice a non-finite loss term or weight, and say which one and when.

A diverging run (too high a learning rate, an overflowing weighted sum in Eq. 6) first shows as a
NaN or infinite loss term. Reading every term back to the host every iteration would stall a GPU,
so :class:`FiniteCheck` keeps the record on the device (:meth:`FiniteCheck.update`, no sync) and
the run loop reads it back once per log interval and around every checkpoint
(:meth:`FiniteCheck.verdict`, one sync; all ranks together under torchrun). :func:`all_finite`
checks a checkpoint's tensors before it is written: non-finite weights are never saved.

What happens to the checkpoints when the watchdog fires (the pending one is dropped, the newest
good one kept) is the run directory's policy: :meth:`pfrlib.engine.rundir.RunDirectory.discard_pending`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Optional

import torch
from torch import Tensor

__all__ = ["NonFiniteLossError", "FiniteCheck", "all_finite"]


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; training stopped and kept the last good checkpoint."""


class FiniteCheck:
    """A device-side record of non-finite loss terms: no host sync until :meth:`first_failure`.

    :meth:`update` ORs ``~isfinite`` of each term into a flag tensor and remembers the first
    iteration (and the values) where any term failed, all with tensor ops on the terms' device.
    :meth:`first_failure` reads the flags back once (the run loop calls it once per log interval
    and around every checkpoint) and returns ``None`` or ``(iteration, {term: value})``.
    """

    def __init__(self) -> None:
        self.names: Optional[list[str]] = None
        self.bad: Optional[Tensor] = None
        self.first_iteration: Optional[Tensor] = None
        self.first_values: Optional[Tensor] = None

    def update(self, terms: Mapping[str, Tensor], iteration: int) -> None:
        """Record the terms of ``iteration`` (1-based)."""
        values = torch.stack([v.detach().float().reshape(()) for v in terms.values()])
        bad = ~torch.isfinite(values)
        if self.bad is None or self.names != list(terms):
            self.names = list(terms)
            self.bad = torch.zeros_like(bad)
            self.first_iteration = torch.full((), -1, dtype=torch.long, device=values.device)
            self.first_values = torch.zeros_like(values)
        new = bad.any() & ~self.bad.any()
        self.first_iteration = torch.where(new, torch.full_like(self.first_iteration, iteration), self.first_iteration)
        self.first_values = torch.where(new, values, self.first_values)
        self.bad = self.bad | bad

    def failed(self) -> Tensor:
        """A device bool: whether any term has been non-finite."""
        if self.bad is None:
            return torch.zeros((), dtype=torch.bool)
        return self.bad.any()

    def first_failure(self) -> Optional[tuple[int, dict[str, float], dict[str, float]]]:
        """``None`` if every recorded term was finite, else ``(iteration, bad terms, all terms)``:
        the first iteration where a term was non-finite, those terms, and every term's value then."""
        if self.bad is None or not bool(self.bad.any()):
            return None
        it = int(self.first_iteration)
        vals = dict(zip(self.names, self.first_values.tolist()))
        return it, {n: v for n, v in vals.items() if not math.isfinite(v)}, vals

    def verdict(self, weights: Mapping[str, float],
                all_reduce: Optional[Callable[[Tensor], Any]] = None) -> Optional[str]:
        """``None`` while every term was finite (on every rank), else what went wrong, in words.

        ``all_reduce`` (e.g. :func:`pfrlib.engine.distributed.all_reduce_sum`) sums the failure flag over
        the ranks, so that all of them stop together. When only the weighted sum of Eq. (6) is
        non-finite, the message names the largest weighted term (``weights`` are Eq. 6's).
        """
        failed = self.failed().to(torch.int32).reshape(1)
        if all_reduce is not None:
            all_reduce(failed)
        if int(failed[0]) == 0:
            return None
        first = self.first_failure()
        if first is None:
            return "a loss term became non-finite on another rank"
        it, bad, values = first
        terms = ", ".join(f"{k!r} = {v}" for k, v in bad.items())
        what = f"non-finite loss at iteration {it}: term {terms}"
        if set(bad) == {"total"}:  # every term finite, their weighted sum not: name the culprit
            weighted = {k: abs(weights[k] * v) for k, v in values.items() if k in weights}
            if weighted:
                k = max(weighted, key=weighted.get)
                what += (f"; every term is finite but Eq. (6) overflowed: the largest weighted term is {k!r} "
                         f"({values[k]:.3g} x weight {weights[k]:.3g})")
        return what


def all_finite(state: Any) -> bool:
    """Whether every floating-point tensor in ``state`` (nested dicts / lists, e.g. a checkpoint:
    weights, optimiser moments, a baseline's statistics) is finite; one host sync."""
    tensors: list[Tensor] = []

    def collect(x: Any) -> None:
        if torch.is_tensor(x):
            if x.is_floating_point():
                tensors.append(x)
        elif isinstance(x, Mapping):
            for v in x.values():
                collect(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                collect(v)

    collect(state)
    if not tensors:
        return True
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())
