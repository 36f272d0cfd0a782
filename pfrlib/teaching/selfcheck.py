"""Self-checks for the notebooks' exercises: a verdict and a hint, not an assertion error.

A wrong answer is told what is wrong (which entry, too high or too low, which type or shape) and
gets the exercise's hint, never the expected value: a check that prints the answer gives the
exercise away.

Each exercise in the series is a ``solution`` cell followed by a self-check cell that calls one
of these functions with the student's answer. Each prints one line that starts with
:data:`PASS` or :data:`FAIL` (or :data:`TODO` while the answer is still the ``...`` of the
student copy) and returns nothing (a check on a cell's last line adds no ``True`` to the
output). Pass the answer itself, not an expression of it, so that ``...`` is recognised::

    check_close("per-class IoU", iou_by_hand, metrics.iou(cm))
    check_range("share of the gap closed", share, 0.0, 1.0)
    check_true("Gram matrix unchanged", bool(same), hint="a shared permutation keeps every sum")
"""

from __future__ import annotations

import math
from typing import Any

import torch

from pfrlib.io import wrap

__all__ = ["PASS", "FAIL", "TODO", "is_unanswered", "check_close", "check_range", "check_true", "check_equal"]

PASS = "✔"
FAIL = "✘"
TODO = "…"


def is_unanswered(*answers: Any) -> bool:
    """Whether any answer is still ``...`` (the placeholder a student copy starts with)."""
    return any(a is Ellipsis for a in answers)


def _unanswered(what: str) -> None:
    print(wrap(f"{TODO} {what}: not answered yet: replace the `...` in the cell above with your solution and run it"))


def _report(ok: bool, what: str, detail: str, hint: str | None) -> None:
    """Print the verdict, wrapped at word boundaries to the width a notebook shows (:func:`pfrlib.io.wrap`)."""
    if ok:
        print(wrap(f"{PASS} {what}: correct ({detail})"))
    else:
        print(wrap(f"{FAIL} {what}: not yet ({detail})" + (f". Hint: {hint}" if hint else "")))


def _direction(answer: float, expected: float) -> str:
    """'too high', 'too low' or 'not a number' for one entry: what is wrong, not what is right."""
    if math.isnan(answer):
        return "not a number"
    if math.isnan(expected):
        return "should not be a number"
    return "too high" if answer > expected else "too low"


def _as_tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().double().cpu()
    if isinstance(x, dict):
        raise TypeError("compare dicts key by key")
    return torch.as_tensor(x, dtype=torch.float64)


def check_close(what: str, answer: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-6,
                hint: str | None = None) -> None:
    """Whether ``answer`` equals ``expected`` within tolerance (numbers, sequences or tensors;
    NaN matches NaN). Dicts are compared key by key. Prints a verdict line; on a wrong answer it
    names the first wrong entry and whether it is too high or too low, never the expected value."""
    if is_unanswered(answer):
        return _unanswered(what)
    labels = None
    if isinstance(expected, dict):
        if not isinstance(answer, dict) or set(answer) != set(expected):
            return _report(False, what, f"expected a dict with keys {sorted(expected)}", hint)
        labels = list(expected)
        answer = [answer[k] for k in expected]
        expected = list(expected.values())
    try:
        a, e = _as_tensor(answer), _as_tensor(expected)
    except (TypeError, ValueError, RuntimeError) as err:
        return _report(False, what, f"could not read the answer as numbers: {err}", hint)
    if a.shape != e.shape:
        return _report(False, what, f"shape {tuple(a.shape)}, expected {tuple(e.shape)}", hint)
    close = torch.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        worst = float((a - e).nan_to_num().abs().max()) if a.numel() else 0.0
        return _report(True, what, f"largest difference {worst:.1e}", hint)
    bad = int((~close).sum())
    first = int((~close).flatten().nonzero()[0])
    yours, right = float(a.flatten()[first]), float(e.flatten()[first])
    verdict = f"your {yours:.4g} is {_direction(yours, right)}"
    if a.numel() == 1:  # a single number: no count, no entry
        return _report(False, what, verdict, hint)
    name = f"entry {labels[first]!r}" if labels is not None and a.dim() == 1 else f"entry {first}"
    count = f"1 of {a.numel()} values is off" if bad == 1 else f"{bad} of {a.numel()} values are off"
    where = f"it is {name}" if bad == 1 else f"the first is {name}"
    return _report(False, what, f"{count}; {where}: {verdict}", hint)


def check_range(what: str, answer: Any, low: float, high: float, hint: str | None = None) -> None:
    """Whether the number ``answer`` lies in ``[low, high]``. Prints a verdict line (the range is
    shown only once the answer is in it: a wrong answer is told "too high" or "too low")."""
    if is_unanswered(answer):
        return _unanswered(what)
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return _report(False, what, f"expected a number, got {answer!r}", hint)
    ok = not math.isnan(value) and low <= value <= high
    if ok:
        return _report(True, what, f"{value:.4g}, expected between {low:g} and {high:g}", hint)
    wrong = "not a number" if math.isnan(value) else ("too high" if value > high else "too low")
    return _report(False, what, f"{value:.4g} is {wrong}", hint)


def check_true(what: str, condition: Any, detail: str = "", hint: str | None = None) -> None:
    """Whether ``condition`` holds (``...`` counts as unanswered). Prints a verdict line."""
    if is_unanswered(condition):
        return _unanswered(what)
    return _report(bool(condition), what, detail or ("holds" if condition else "does not hold"), hint)


def check_equal(what: str, answer: Any, expected: Any, hint: str | None = None) -> None:
    """Whether ``answer == expected`` (names, integers, lists of them). Prints a verdict line; a
    wrong answer is told how it differs in kind (type, length), never what was expected."""
    if is_unanswered(answer):
        return _unanswered(what)
    ok = answer == expected
    if ok:
        return _report(True, what, f"{answer!r}", hint)
    if type(answer) is not type(expected):
        detail = f"{answer!r} is a {type(answer).__name__}; the answer is a {type(expected).__name__}"
    elif isinstance(expected, (list, tuple)) and len(answer) != len(expected):
        detail = f"{len(answer)} items: " + ("too many" if len(answer) > len(expected) else "too few")
    else:
        detail = f"{answer!r} is not it"
    return _report(False, what, detail, hint)
