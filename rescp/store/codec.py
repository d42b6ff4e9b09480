"""Plain data to JSON and back, driven by the classes' own type hints.

Configs, error records, event payloads and engine snapshots are frozen dataclasses and named
tuples of numbers, strings, enums, tuples and string mappings, so one codec serves them all and a
stored row never depends on a pickle of a class. Any backend that keeps state as text (SQLite
columns today, Redis hashes next) uses this same codec.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Mapping
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


@cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind))


def _default(value: Any) -> Any:
    """What json cannot write by itself: dataclasses as objects, mappings as dicts. (Enums are
    ints already, tuples, named ones too, become lists.)"""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: getattr(value, name) for name in _field_names(type(value))}
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot store a {type(value).__name__}")


_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_default).encode


def dumps(value: object) -> str:
    return _encode(value)


def loads(kind: type[T], text: str) -> T:
    """The `kind` instance `dumps` wrote; ValueError/TypeError/KeyError when it does not fit."""
    result: T = from_plain(kind, json.loads(text))
    return result


@cache
def _hints(kind: type) -> dict[str, Any]:
    return get_type_hints(kind)


def from_plain(hint: Any, value: Any) -> Any:
    """Rebuild `value` as `hint` describes it."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in get_args(hint):
            return None
        return from_plain(next(a for a in get_args(hint) if a is not type(None)), value)
    if origin is tuple:
        item = get_args(hint)[0]
        return tuple(from_plain(item, v) for v in value)
    if origin is not None and issubclass(origin, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if isinstance(hint, type) and hasattr(hint, "_fields"):  # a named tuple, stored as a list
        hints = _hints(hint)  # a shorter list, saved before a field was added, gets its default
        return hint(*(from_plain(hints[name], v)
                      for name, v in zip(hint._fields, value, strict=False)))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = _hints(hint)
        return hint(**{name: from_plain(hints[name], v) for name, v in value.items()})
    if hint is float:
        return float(value)
    return value
