"""Text bounds read from the protos, where they are declared once for server and clients.

Each bounded field carries a `(rescp.v1.text_limit)` option (`protos/rescp/v1/limits.proto`):
the server refuses more with INVALID_ARGUMENT, and clients read the same option from their own
copy of the descriptors to truncate what they send, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rescp._proto import guard_pb2 as guard
from rescp._proto import limits_pb2
from rescp.errors import Violations


@dataclass(frozen=True, slots=True)
class TextLimit:
    max_chars: int
    max_entries: int
    max_key_chars: int
    max_total_chars: int


def text_limits(message: Any) -> dict[str, TextLimit]:
    """The bounded fields of the message descriptor `message`, by name."""
    out: dict[str, TextLimit] = {}
    extension: Any = limits_pb2.text_limit
    for field in message.fields:
        options = field.GetOptions()
        if options.HasExtension(extension):
            o = options.Extensions[extension]
            out[field.name] = TextLimit(o.max_chars, o.max_entries, o.max_key_chars,
                                        o.max_total_chars)
    return out


REPORT_LIMITS = text_limits(guard.ReportRequest.DESCRIPTOR)
KEY_LIMIT = text_limits(guard.AllowRequest.DESCRIPTOR)["key"].max_chars


def check_text(value: str, field: str, limit: TextLimit, v: Violations) -> None:
    v.check(len(value) <= limit.max_chars, field, f"at most {limit.max_chars} characters")


def check_map(value: dict[str, str], field: str, limit: TextLimit, v: Violations) -> None:
    v.check(len(value) <= limit.max_entries, field, f"at most {limit.max_entries} entries")
    v.check(all(len(k) <= limit.max_key_chars and len(x) <= limit.max_chars
                for k, x in value.items())
            and sum(len(k) + len(x) for k, x in value.items()) <= limit.max_total_chars,
            field, f"keys at most {limit.max_key_chars}, values {limit.max_chars} characters, "
                   f"{limit.max_total_chars} in all")
