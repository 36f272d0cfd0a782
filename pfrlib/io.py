"""Small file helpers shared by the engine and the notebooks: atomic writes, JSON.

A result or checkpoint is first written to a temporary file in the same directory and then
renamed over the destination (``os.replace`` is atomic on POSIX): a crash mid-write leaves the
previous file intact, never a truncated one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = ["atomic_write", "write_json", "read_json", "to_jsonable", "check_writable_folder"]


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it to ``path``.

    Raises:
        PermissionError / OSError naming ``path`` when its directory cannot be created or written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise type(err)(f"cannot write {path}: {err.strerror or err}") from err
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file normal permissions
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def check_writable_folder(path: str | os.PathLike, option: str, expected: str) -> Path:
    """Check, before any work, that files can be written in the folder ``path`` (it may not exist
    yet: then in its nearest existing parent, where it will be created), by creating and removing
    a probe file there: permissions, a read-only mount and a full inode table all show.

    Raises:
        OSError (its subclass as the probe raised it) in one line naming ``option``, the folder
        and ``expected``, e.g. ``save_results: cannot write in /r (Read-only file system); expected
        a new or empty folder that can be written``.
    """
    path = Path(path)
    where = next((p for p in (path, *path.parents) if p.exists()), Path.cwd())
    if not where.is_dir():
        raise NotADirectoryError(f"{option}: {where} is a file, not a folder; expected {expected}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=where)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise type(err)(f"{option}: cannot write in {where} ({err.strerror or err}); expected {expected}") from None
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def to_jsonable(obj: Any) -> Any:
    """Recursively convert tensors, numpy scalars, tuples, paths and NaN/inf to JSON values.

    NaN and infinities become ``None`` (JSON has no NaN), so files stay strict JSON.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "tolist") and callable(obj.tolist):  # torch / numpy
        return to_jsonable(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` (made JSON-safe by :func:`to_jsonable`) to ``path`` atomically."""
    text = json.dumps(to_jsonable(obj), indent=indent, sort_keys=False) + "\n"
    return atomic_write(path, lambda f: f.write(text), mode="w")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, with an error that names the file when it is missing or malformed."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no such JSON file: {path}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
