"""The error a dataset raises when one of its files cannot be used.

:class:`DataFileError` is a :class:`ValueError` whose message is **one line naming the file**
(``label /d/labels/a.png holds values [200] ...``). The command lines print ``error: <message>``
for a ``ValueError`` and exit with status 2, so a bad file ends a run with one readable line.

Why the class parses its own message: when a dataset item is read in a DataLoader *worker*
process, torch catches the exception there and re-raises it in the main process by calling
``type(err)(text)``, where ``text`` is ``"Caught DataFileError in DataLoader worker process N.
Original Traceback (most recent call last): ...``" - a 30- to 50-line traceback with the file
name at its very end. :class:`DataFileError` recognises that text when it is constructed,
keeps the whole of it in :attr:`DataFileError.worker_traceback` (for debugging) and makes
``str(err)`` the original one-line message, with the worker noted. The same applies to every
subclass.
"""

from __future__ import annotations

import os
import re
from typing import Optional

__all__ = ["DataFileError"]

_WORKER_HEAD = re.compile(r"^Caught (\w+) (in DataLoader worker process \d+|[^\n]*)\.\nOriginal Traceback", re.S)


class DataFileError(ValueError):
    """A dataset file is missing, undecodable or holds values the dataset cannot use.

    Args:
        message: naming the file and what was expected (whitespace runs, newlines included,
            are collapsed to single spaces: the message is one line).
        path: the offending file (kept in :attr:`path`; ``None`` when re-raised from a worker).

    Attributes:
        path: the file, or ``None``.
        worker_traceback: the worker's full traceback text when torch's DataLoader re-raised
            this error in the main process, else ``None``.
    """

    def __init__(self, message: str, path: Optional[str | os.PathLike] = None) -> None:
        self.path = None if path is None else str(path)
        self.worker_traceback: Optional[str] = None
        text = str(message)
        head = _WORKER_HEAD.match(text)
        if head is not None:
            self.worker_traceback = text
            original = _original_message(text, head.group(1))
            if original is not None:
                text = f"{original} (in a DataLoader worker)"
        else:
            text = " ".join(text.split())  # one line, whatever a decoder's message held
        super().__init__(text)


def _original_message(text: str, class_name: str) -> Optional[str]:
    """The message of the last ``...ClassName: message`` line of a formatted traceback."""
    pattern = re.compile(r"^(?:[\w.]+\.)?" + re.escape(class_name) + r": (.*)$")
    found = None
    for line in text.splitlines():
        m = pattern.match(line)
        if m is not None:
            found = m.group(1)
    return found
