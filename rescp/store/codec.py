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


def to_plain(value: Any) -> Any:
    """JSON-ready structure: enums become their numbers, tuples lists, mappings dicts."""
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {name: to_plain(item) for name, item in zip(value._fields, value, strict=True)}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value


def dumps(value: object) -> str:
    return json.dumps(to_plain(value), separators=(",", ":"), allow_nan=False)


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
    if isinstance(hint, type) and (dataclasses.is_dataclass(hint) or hasattr(hint, "_fields")):
        hints = _hints(hint)
        return hint(**{name: from_plain(hints[name], v) for name, v in value.items()})
    if hint is float:
        return float(value)
    return value
