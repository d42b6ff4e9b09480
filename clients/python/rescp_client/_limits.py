"""Cutting a report to the server's text bounds, read from the client's own descriptors.

The bounds are declared once, as `(rescp.v1.text_limit)` options on the fields of the protos;
the server refuses more, and this module reads the same options from the generated
`_proto/limits_pb2` copy, so the client never keeps a second set of numbers that could drift.
A report is always cut to fit rather than refused: losing the tail of a message is better than
losing the error. What was cut is said in the report itself (the context entry
`TRUNCATED_KEY`) and in a warning on the "rescp_client" logger.

A context map is bounded per key, per value, in entries and in total characters. It is cut
fairly: entries past `max_entries`, or whose keys alone do not fit, are dropped; then the
longest values are shortened to one common length, so every kept entry keeps as much as the
total allows (a "water level"), instead of the first values eating the whole budget.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rescp_client._proto import guard_pb2 as guard
from rescp_client._proto import limits_pb2

log = logging.getLogger("rescp_client")

TRUNCATED_KEY = "rescp.truncated"
"""The context entry naming the fields a report had cut to fit, e.g. "message, context"."""


@dataclass(frozen=True, slots=True)
class TextLimit:
    """One field's bound, as declared in the protos (0 where it does not apply)."""

    max_chars: int
    max_entries: int
    max_key_chars: int
    max_total_chars: int


def text_limits(message: Any) -> dict[str, TextLimit]:
    """The bounded fields of a message descriptor, by name."""
    extension: Any = limits_pb2.text_limit
    out: dict[str, TextLimit] = {}
    for field in message.fields:
        options = field.GetOptions()
        if options.HasExtension(extension):
            o = options.Extensions[extension]
            out[field.name] = TextLimit(o.max_chars, o.max_entries, o.max_key_chars,
                                        o.max_total_chars)
    return out


REPORT = text_limits(guard.ReportRequest.DESCRIPTOR)
NOTE_CHARS = 200
"""Room kept in the context for the TRUNCATED_KEY entry's value."""


def wire_text(value: object) -> str:
    """`str(value)` as text protobuf can carry: a lone surrogate becomes "?"."""
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    return text


def fit_text(name: str, value: str, cut: list[str]) -> str:
    """`value` within the bound of ReportRequest field `name`; notes a cut in `cut`."""
    limit = REPORT[name].max_chars
    if len(value) <= limit:
        return value
    cut.append(f"{name} ({len(value)} chars)")
    return value[:limit]


def fit_context(context: Mapping[str, object], cut: list[str]) -> dict[str, str]:
    """The context as text within its bounds, with room left for the TRUNCATED_KEY entry."""
    if not context:
        return {}
    limit = REPORT["context"]
    room_total = limit.max_total_chars - len(TRUNCATED_KEY) - NOTE_CHARS
    kept: list[tuple[str, str]] = []
    key_chars, keys_cut = 0, False
    for key, value in list(context.items())[:limit.max_entries - 1]:
        text = wire_text(key)
        if key_chars + min(len(text), limit.max_key_chars) > room_total:
            break
        keys_cut = keys_cut or len(text) > limit.max_key_chars
        kept.append((text[:limit.max_key_chars], wire_text(value)))
        key_chars += len(kept[-1][0])
    level = min(limit.max_chars, _level([len(v) for _, v in kept], room_total - key_chars))
    fitted = {key: value[:level] for key, value in kept}
    if keys_cut or len(fitted) < len(context) or any(len(v) > level for _, v in kept):
        cut.append(f"context ({len(context)} entries)")
    return fitted


def _level(lengths: list[int], budget: int) -> int:
    """The largest cap c with sum(min(n, c)) <= budget (`budget` when nothing needs one)."""
    remaining, left = budget, len(lengths)
    for n in sorted(lengths):
        if n * left > remaining:
            return remaining // left
        remaining -= n
        left -= 1
    return budget


def mark(context: dict[str, str], cut: list[str], error_type: str) -> None:
    """Say in the report, and in the log, what was cut (nothing when nothing was)."""
    if not cut:
        return
    note = ", ".join(cut)[:NOTE_CHARS]
    context[TRUNCATED_KEY] = note
    log.warning("rescp: report of %s cut to fit the server's bounds: %s", error_type, note)
