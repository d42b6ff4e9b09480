"""Paged List RPCs as AIP-158 has them: `page_size` and `page_token` in, `next_page_token` out.

A page token is opaque to clients (url-safe base64 of a small JSON list): it names the list it
belongs to, the last key the previous page returned, the event sequence the first page
reflected (every page of one listing reports that sequence, so list-then-watch resumes from the
oldest state read and misses nothing), and the event log it counts in. A token from another
list, another log (a restarted server) or not made by rescp is INVALID_ARGUMENT.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from rescp.errors import Violations

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
"""A page holds DEFAULT_PAGE_SIZE items when the request leaves page_size 0, and never more
than MAX_PAGE_SIZE (a larger page_size is served as the maximum)."""
MAX_TOKEN_CHARS = 1024
"""Longer than any token rescp makes (a name is at most 128 characters)."""


@dataclass(frozen=True, slots=True)
class Page:
    """Where a page starts, how long it is, the listing's sequence (None on page one), and
    what the next token must name."""

    size: int
    after: str
    sequence: int | None
    kind: str
    log_id: str


def page(page_size: int, page_token: str, kind: str, log_id: str) -> Page:
    """The page a request asks for; raises InvalidArgument naming the bad fields."""
    v = Violations()
    v.check(page_size >= 0, "page_size", "must not be negative")
    after, sequence = "", None
    if page_token:
        decoded = _decode(page_token) if len(page_token) <= MAX_TOKEN_CHARS else None
        ok = (isinstance(decoded, list) and len(decoded) == 4 and decoded[0] == kind
              and isinstance(decoded[1], str) and isinstance(decoded[2], int))
        v.check(ok, "page_token", f"is not a page token of {kind}; start again without one")
        if ok:
            assert isinstance(decoded, list)
            v.check(decoded[3] == log_id, "page_token",
                    "comes from another event log (the server restarted); start again")
            after, sequence = decoded[1], decoded[2]
    v.raise_if_any()
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    return Page(size, after, sequence, kind, log_id)


def next_token(kind: str, last_key: str, sequence: int, log_id: str) -> str:
    """The token of the page after the one ending at `last_key`."""
    raw = json.dumps([kind, last_key, sequence, log_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(token: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        return None


def split(items: list[T], wanted: Page, key: Callable[[T], str],
          sequence: int = 0) -> tuple[list[T], str]:
    """The page out of `items` (read with one more than the page size, to know whether more
    follow) and the next page's token, empty on the last page."""
    if len(items) <= wanted.size:
        return items, ""
    items = items[:wanted.size]
    return items, next_token(wanted.kind, key(items[-1]), sequence, wanted.log_id)
