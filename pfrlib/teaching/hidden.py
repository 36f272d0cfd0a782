"""What a hidden test runs inside a graded notebook: the exercise's own self-check, made strict.

A self-check (:mod:`pfrlib.teaching.selfcheck`) prints a verdict and never raises, so that a student copy
runs from top to bottom. A grader needs the opposite: a test cell that fails when the answer is
wrong, since a grade cell scores its points when it runs without an error (nbgrader's rule, and
:mod:`pfrlib.teaching.grading`'s). The hidden test of an exercise is its self-check cell again,
inside :func:`graded`::

    with graded("exercise 1", globals()):
        check_close("per-class IoU", iou_by_hand, metrics.iou(cm))

Inside the block the notebook's ``check_close``, ``check_equal``, ``check_range`` and
``check_true`` are strict versions of the real ones (a student cannot pass by redefining
``check_close``), and what the names held before comes back afterwards. Each strict check runs
the real one and keeps its verdict line; leaving the block raises :class:`AssertionError` with the first verdict
that is not a pass (``✘ ... not yet ...`` or ``… not answered yet``), which names what is wrong
and never the expected value, or when no check ran at all. So the test compares values as the
self-check does: a correct answer written another way passes.
"""

from __future__ import annotations

import contextlib
import io
from typing import Callable, Iterator

from pfrlib.teaching import selfcheck

__all__ = ["graded", "GRADED_PASS"]

_MISSING = object()

#: The line a passing hidden test prints (the grader reads errors, not this line).
GRADED_PASS = "graded: {what} passes its tests"


def _verdicts(check: Callable, verdicts: list[str]) -> Callable:
    """``check`` with its printed verdict (one line, however it was wrapped) recorded in
    ``verdicts`` instead of shown."""

    def strict(*args, **kwargs):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            check(*args, **kwargs)
        lines: list[str] = []
        for line in buffer.getvalue().splitlines():
            if line[:1].isspace() and lines:  # a long verdict is wrapped: its indented continuation
                lines[-1] += " " + line.strip()
            elif line.strip():
                lines.append(line)
        verdicts.extend(lines)

    strict.__name__ = check.__name__
    strict.__doc__ = check.__doc__
    return strict


@contextlib.contextmanager
def graded(what: str, namespace: dict) -> Iterator[None]:
    """Strict check functions in ``namespace`` for one exercise's checks; raises
    :class:`AssertionError` on leaving if a check did not pass or none ran."""
    verdicts: list[str] = []
    checks = (selfcheck.check_close, selfcheck.check_equal, selfcheck.check_range, selfcheck.check_true)
    saved = {f.__name__: namespace.get(f.__name__, _MISSING) for f in checks}
    namespace.update({f.__name__: _verdicts(f, verdicts) for f in checks})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = value
    if not verdicts:
        raise AssertionError(f"{what}: no check ran")
    failed = [v for v in verdicts if not v.startswith(selfcheck.PASS)]
    if failed:
        raise AssertionError(failed[0])
    print(GRADED_PASS.format(what=what))
