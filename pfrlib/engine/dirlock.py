"""One writer per folder: an exclusive ``fcntl.flock`` on a lock file that holds the writer's pid.

The kernel releases an flock when the process holding it exits, however it ends (``kill -9``
included), so a lock is never left behind by a dead writer: the lock *file* may stay, the lock
does not. A second process that asks for the lock is told the holder's pid at once (it does not
wait). :class:`pfrlib.engine.rundir.RunDirectory` takes one on ``.lock`` before it writes anything.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Optional

__all__ = ["FolderLock"]


class FolderLock:
    """An exclusive lock on the file ``path`` (created if missing).

    :meth:`acquire` takes it or names the holder; :meth:`write_pid` records this process as the
    holder; :meth:`release` lets go (optionally removing a lock file this process created).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.created = False  # this process created the lock file
        self._file: Optional[IO[str]] = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> Optional[str]:
        """Take the lock: ``None`` when taken, else the holder's pid as written in the file (``"?"``
        before it wrote it). Raises ``OSError`` if the file cannot be created or opened."""
        for _ in range(10):  # retry if the lock file was removed and re-created between open and flock
            try:
                fd, created = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
            except FileExistsError:
                fd, created = os.open(self.path, os.O_RDWR), False
            f = os.fdopen(fd, "r+")
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = f.read().strip() or "?"
                f.close()
                return holder
            try:
                same = os.path.samestat(os.fstat(f.fileno()), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:  # the file we locked is still the lock file
                self._file, self.created = f, created
                return None
            f.close()
        raise OSError(f"cannot take the lock {self.path}: the file keeps being replaced")

    def write_pid(self) -> None:
        """Write this process's pid into the lock file (what a refused process is told)."""
        f = self._file
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()

    def release(self, remove_created: bool = False) -> None:
        """Let go of the lock; with ``remove_created``, first remove the lock file if this process
        created it (while still holding it)."""
        if self._file is None:
            return
        if remove_created and self.created:
            self.path.unlink(missing_ok=True)
        self._file.close()
        self._file = None
