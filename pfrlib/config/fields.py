"""What a configuration field may say about itself, and how a value becomes the field's type.

Field metadata (``dataclasses.field(metadata=...)``), read by validation, the command line and
the notebooks' parameter checks:

* :func:`choices` - the allowed values of a field (``gan``: ``("bce", "lsgan")``), defined by the
  module that implements them (:mod:`pfrlib.paper.losses`, :mod:`pfrlib.paper.optim`, :mod:`pfrlib.methods`);
* :func:`role` - :data:`BOOKKEEPING` (how or where a run is driven: never changes what it
  computes) or :data:`EXECUTION` (which machine resources it uses: may change on resume).

:func:`coerce` converts a value given as text (command line, notebook parameter, YAML) to a
field's type, with a one-line error naming the field.
"""

from __future__ import annotations

import json
import os
import types
import typing
from dataclasses import Field
from typing import Any, Optional

__all__ = ["BOOKKEEPING", "EXECUTION", "role", "choices", "field_choices", "field_role", "one_of", "coerce",
           "field_types", "unwrap_optional", "type_name", "jsonable"]

#: Role of a field that does not change what a run computes, only how or where it is driven
#: (output folder, resume/overwrite, progress bar, thread count: the last may change float
#: summation order, the last bits, not the experiment). Ignored when deciding whether a saved
#: run is "the same run" (the notebooks' load-or-train, the sweep) and free to change on resume;
#: a sweep or launcher sets these itself for every run.
BOOKKEEPING = "bookkeeping"
#: Role of a field that says on which machine resources a run executes (device, loader workers,
#: page-locked memory): free to change when a run is *resumed* (e.g. on another machine), but
#: part of "the same run" for reuse (a CUDA run is not bit-identical to a CPU one).
EXECUTION = "execution"


def role(kind: str) -> dict:
    """Field metadata giving the field's role, :data:`BOOKKEEPING` or :data:`EXECUTION`."""
    if kind not in (BOOKKEEPING, EXECUTION):
        raise ValueError(f"role must be {BOOKKEEPING!r} or {EXECUTION!r}, got {kind!r}")
    return {"role": kind}


def choices(allowed: tuple) -> dict:
    """Field metadata listing the allowed values (for a tuple field: of each item)."""
    return {"choices": tuple(allowed)}


def field_choices(f: Field) -> Optional[tuple]:
    """The allowed values of dataclass field ``f`` (None = not a closed set)."""
    return f.metadata.get("choices")


def field_role(f: Field) -> Optional[str]:
    """The role of dataclass field ``f`` (None = it changes what a run computes)."""
    return f.metadata.get("role")


def one_of(name: str, value: Any, allowed: tuple) -> None:
    """``ValueError`` naming the field unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name}: unknown value {value!r}; expected one of {tuple(allowed)}")


def field_types(cls: type) -> dict[str, Any]:
    """``{field name: resolved type}`` of a section dataclass."""
    return typing.get_type_hints(cls)


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``(T, True)`` for ``Optional[T]``, else ``(tp, False)``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def type_name(tp: Any) -> str:
    """A field type in words: ``int``, ``tuple of int, int``, ``float or none``."""
    base, optional = unwrap_optional(tp)
    name = getattr(base, "__name__", str(base))
    if typing.get_origin(base) is tuple:
        name = "tuple of " + ", ".join(getattr(a, "__name__", str(a)) for a in typing.get_args(base) if a is not Ellipsis)
    return name + (" or none" if optional else "")


_NONE_STRINGS = ("none", "null", "", "auto")


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` (possibly a string from the CLI or a notebook) to the field type ``tp``."""
    base, optional = unwrap_optional(tp)
    if optional and isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        value = value[0] if value[0].strip().lower() in _NONE_STRINGS else value  # a tuple option: --x none
    if value is None or (optional and isinstance(value, str) and value.strip().lower() in _NONE_STRINGS):
        if optional:
            return None
        raise ValueError(f"{key} must not be None")
    if isinstance(value, list) and len(value) == 1 and typing.get_origin(base) is not tuple:
        value = value[0]
    try:
        if base is bool:
            return _to_bool(value)
        if base is int:
            if isinstance(value, bool):
                raise ValueError(value)
            if isinstance(value, float):
                if value != int(value):
                    raise ValueError(value)
                return int(value)
            return int(str(value).replace("_", "")) if isinstance(value, str) else int(value)
        if base is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if base is str:
            if not isinstance(value, (str, os.PathLike)):
                raise ValueError(value)
            return str(value)
        if base is dict:
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, dict):
                raise ValueError(value)
            return json.loads(json.dumps(value))  # plain JSON values (tuples -> lists)
        if typing.get_origin(base) is tuple:
            if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                value = ",".join(value)  # command line: ["2", "3"] or ["2,3"]
            if isinstance(value, str):
                value = [v for v in value.replace("x", ",").replace(" ", ",").split(",") if v]
            args = typing.get_args(base)
            items = list(value)
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(coerce(v, args[0], key) for v in items)
            if len(items) != len(args):
                raise ValueError(value)
            return tuple(coerce(v, a, key) for v, a in zip(items, args))
    except (TypeError, ValueError, json.JSONDecodeError):
        raise ValueError(f"{key}: cannot interpret {value!r} as {type_name(tp)}") from None
    return value


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(value)
    if isinstance(value, (bool, int)) and value in (0, 1):
        return bool(value)
    raise ValueError(value)


def jsonable(obj: Any) -> Any:
    """Tuples (at any depth) as lists: the JSON form of a section's values."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj
