"""One exception hierarchy for everything rescp refuses.

Each class carries the `google.rpc.ErrorInfo` reason clients branch on; `rescp.server.status`
maps the classes to gRPC codes and rich details in one table. Engines and stores raise these and
nothing else crosses the servicer boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
"""What names of breakers, limits and features must match in full."""


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field: its path in the request (`config.window_size`) and what is wrong."""

    field: str
    description: str


class RescpError(Exception):
    """Base of every error rescp reports to callers."""

    reason = "INTERNAL"


MAX_VIOLATIONS = 32
"""Violations one request collects; beyond them only a count is kept ("and N more"), so a
request with 60,000 bad entries costs a bounded error and linear work."""


class InvalidArgument(RescpError):
    """The request is malformed; its bad fields are named (the first MAX_VIOLATIONS of them,
    with `more` counting the rest)."""

    reason = "INVALID_FIELD"

    def __init__(self, violations: Iterable[FieldViolation], reason: str = "INVALID_FIELD",
                 more: int = 0) -> None:
        self.violations = tuple(violations)
        self.reason = reason
        self.more = more
        text = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(f"{text}; and {more} more" if more else text)

    @classmethod
    def one(cls, field: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(field, description)])

    def under(self, prefix: str) -> InvalidArgument:
        """The same violations with their field paths nested under `prefix`."""
        return InvalidArgument(
            (FieldViolation(f"{prefix}.{v.field}", v.description) for v in self.violations),
            self.reason, self.more)


class Violations:
    """Collects field violations so a request reports its bad fields at once: one complaint
    per field, the first MAX_VIOLATIONS kept, the rest counted. Every step is O(1)."""

    def __init__(self) -> None:
        self._items: dict[str, FieldViolation] = {}
        self._more = 0

    @property
    def full(self) -> bool:
        """No further violation would be kept: a loop over a request's entries may stop."""
        return len(self._items) >= MAX_VIOLATIONS

    def check(self, ok: bool, field: str, description: str) -> None:
        if not ok:
            self._add(FieldViolation(field, description))

    def name(self, value: str, field: str) -> None:
        """Check that `value` is a valid resource name."""
        self.check(NAME_PATTERN.fullmatch(value) is not None, field,
                   "must match [A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")

    def extend(self, violations: Iterable[FieldViolation], more: int = 0) -> None:
        """Add violations of fields not already reported, and `more` uncounted ones."""
        for violation in violations:
            self._add(violation)
        self._more += more

    @contextmanager
    def collect(self, prefix: str = "") -> Iterator[None]:
        """Keep the violations raised inside (nested under the field `prefix`, if given) with
        these, instead of raising them on their own."""
        try:
            yield
        except InvalidArgument as error:
            nested = error.under(prefix) if prefix else error
            self.extend(nested.violations, nested.more)

    def raise_if_any(self) -> None:
        if self._items:
            raise InvalidArgument(self._items.values(), more=self._more)

    def _add(self, violation: FieldViolation) -> None:
        if violation.field in self._items:
            return
        if self.full:
            self._more += 1
        else:
            self._items[violation.field] = violation


def check_name(value: str, field: str) -> None:
    """Raise InvalidArgument unless `value` is a valid resource name."""
    if NAME_PATTERN.fullmatch(value) is None:
        v = Violations()
        v.name(value, field)
        v.raise_if_any()


class NotFound(RescpError):
    """A named resource does not exist."""

    def __init__(self, resource_type: str, name: str) -> None:
        self.resource_type = resource_type
        self.name = name
        self.reason = f"{resource_type.upper()}_NOT_FOUND"
        super().__init__(f"{resource_type} {name!r} not found")


class TooManyBreakers(RescpError):
    """Allow named an unknown breaker while `[defaults] max_breakers` already exist."""

    reason = "TOO_MANY_BREAKERS"


class RequestTooLarge(RescpError):
    """A request over the size rescp accepts (64 KiB)."""

    reason = "REQUEST_TOO_LARGE"


class StoreUnavailable(RescpError):
    """The store failed; the operation may be retried."""

    reason = "STORE_UNAVAILABLE"


class SequenceOutOfRange(RescpError):
    """A watch asked to resume from a sequence the event log no longer (or never) held."""

    reason = "SEQUENCE_OUT_OF_RANGE"


class SubscriberTooSlow(RescpError):
    """A watcher's queue overflowed; it should resume from its last sequence."""

    reason = "SUBSCRIBER_TOO_SLOW"


class ShuttingDown(RescpError):
    """The server is stopping; clients should reconnect."""

    reason = "SHUTTING_DOWN"
