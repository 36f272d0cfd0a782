"""``one_line``: the single line of an error message, for the tests of "one clear line" errors."""

from __future__ import annotations

import re


def one_line(text: str) -> str:
    """The single line of an error message (fails the test if there are more; progress bars aside)."""
    lines = [ln for ln in str(text).replace("\r", "\n").splitlines()
             if ln.strip() and not re.match(r"^\w+:\s+\d+%\|", ln)]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    return lines[0]
