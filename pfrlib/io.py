"""The foundation every layer imports: atomic writes and JSON, and the few checks and formats
that every layer's messages share (a count that must be a positive integer, a number or a
duration in a line, an error in one line, a long message wrapped to the width a notebook shows).

A result or checkpoint is first written to a temporary file in the same directory and then
renamed over the destination (``os.replace`` is atomic on POSIX): a crash mid-write leaves the
previous file intact, never a truncated one.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Callable, Optional

__all__ = ["atomic_write", "write_json", "read_json", "write_block", "file_sha256", "to_jsonable", "check_writable_folder",
           "check_positive_int", "format_number", "format_duration", "format_bytes", "one_line", "PRINT_WIDTH", "wrap", "wrap_command"]


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


def write_block(path: str | os.PathLike, name: str, text: str) -> Path:
    """Replace the generated block ``name`` of the Markdown file ``path``: what lies between the
    lines ``<!-- name:start -->`` and ``<!-- name:end -->`` becomes ``text`` (a trailing newline is
    added if missing). Every generated table of ``docs/`` and the README is written this way.

    Raises:
        ValueError naming the file and the markers when the block is not there (nothing written).
    """
    path = Path(path)
    begin, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    old = path.read_text()
    if begin not in old or end not in old.split(begin, 1)[1]:
        raise ValueError(f"{path}: no {begin} ... {end} block to write into")
    head, rest = old.split(begin, 1)
    body = text if text.endswith("\n") else text + "\n"
    atomic_write(path, lambda f: f.write(f"{head}{begin}\n{body}{end}{rest.split(end, 1)[1]}"), mode="w")
    return path


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, in hex (read in 1 MiB blocks): what a results file records of
    a run's test confusion, and what keys a given checkpoint by its contents, not its path."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


# --------------------------------------------------------------------------- checks and formats
def check_positive_int(value: Any, name: str, none_ok: bool = False) -> Optional[int]:
    """``value`` if it is an integer >= 1 (``none_ok``: or ``None``); a bool is not a count.

    Raises:
        ValueError ``"<name> must be an integer >= 1, got <value>"`` (``name`` says where, e.g.
        ``"spec.yaml: 'jobs'"``; with ``none_ok`` the message adds ``or None``).
    """
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1{' or None' if none_ok else ''}, got {value!r}")
    return value


def format_number(value: Any, digits: int = 1, missing: str = "-", percent: bool = False) -> str:
    """``value`` with ``digits`` decimals (``percent``: a fraction 0..1 shown in percent, as every
    mIoU is reported); ``missing`` for ``None``, NaN or a value that is not a number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(float(value)):
        return missing
    return f"{100 * value if percent else value:.{digits}f}"


def format_duration(seconds: float, exact: bool = False) -> str:
    """A duration as a line shows it: ``"45 s"`` below 90 s; above, ``"7 min"`` (rounded, for an
    estimate) or with ``exact`` ``"7 min 03 s"`` (a measured time)."""
    if seconds < 90:
        return f"{max(1, round(seconds)) if not exact else round(seconds)} s"
    if not exact:
        return f"{round(seconds / 60)} min"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"


def format_bytes(n: float) -> str:
    """A size as a line shows it: ``"812 bytes"``, ``"61.3 KiB"``, ``"1.4 MiB"``, ``"3.0 GiB"``."""
    for unit in ("bytes", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def one_line(err: BaseException) -> str:
    """An exception's message on one line (a ``KeyError``'s key unquoted; its type's name when it has none)."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(text.split()) or type(err).__name__


#: The widest printed line (characters) that a notebook output shows unbroken at 1,200 pixels.
PRINT_WIDTH = 100


def wrap(text: str, width: int = PRINT_WIDTH, indent: str = "    ") -> str:
    """``text`` with every line longer than ``width`` broken at word boundaries (never inside a
    word); the continuation lines keep the line's own indentation plus ``indent``."""
    out = []
    for line in str(text).splitlines() or [""]:
        if len(line) <= width:
            out.append(line)
            continue
        lead = line[: len(line) - len(line.lstrip())]
        out.append(textwrap.fill(line.strip(), width, initial_indent=lead, subsequent_indent=lead + indent,
                                 break_long_words=False, break_on_hyphens=False))
    return "\n".join(out)


def wrap_command(command: str, width: int = PRINT_WIDTH, indent: str = "    ") -> str:
    """A shell command broken at spaces into lines of at most ``width`` characters, each but the
    last ending in `` \\`` (so that the lines pasted into a shell are the same command); the first
    line starts with ``indent``, the others with twice it."""
    words, lines, line = command.split(), [], indent
    for word in words:
        if line.strip() and len(line) + 1 + len(word) + 2 > width:
            lines.append(line + " \\")
            line = 2 * indent + word
        else:
            line = (line + " " + word) if line.strip() else indent + word
    return "\n".join([*lines, line])
