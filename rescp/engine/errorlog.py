"""Error records and the bounded error history behind Report, the error summary and health.

`build_record` turns what a caller sent into what is stored: classified, scrubbed (message,
context and operation, which often carries a URL) and fingerprinted, so nothing unscrubbed is
ever kept. `ErrorLog` keeps the newest `history_limit` records in an insertion-ordered dict
(O(1) get, acknowledge and eviction) and counters that survive eviction: totals, per-key counts,
and a ring of 60 one-second buckets for errors per minute, to the second. For health it keeps the
unacknowledged CRITICAL records still in history in time order, plus the latest time of any
evicted one: an evicted record can no longer be acknowledged, so that single time is all the
health check needs of it, and memory stays bounded by the history. Times are expected to move
forward; a record older than the ring's current second for its bucket is left out of the rate.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from types import MappingProxyType

from rescp.engine.classify import (
    GUIDANCE,
    SEVERITY,
    classify,
    fingerprint,
    scrub_context,
    scrub_text,
)
from rescp.enums import ErrorCategory, Severity
from rescp.errors import NotFound

_RATE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """An error as a caller reports it: raw, unclassified and unscrubbed."""

    operation: str = ""
    error_type: str = ""
    message: str = ""
    user_id: str = ""
    grpc_code: int = 0
    http_status: int = 0
    breaker: str = ""
    context: Mapping[str, str] = field(default_factory=dict)
    service: str = ""
    time: float | None = None  # when it happened, by the reporter's clock; None: when stored
    idempotency_key: str = ""  # a retry with the same key is the same error


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """An error as stored: classified, scrubbed and fingerprinted."""

    error_id: str
    operation: str
    error_type: str
    message: str
    category: ErrorCategory
    severity: Severity
    user_message: str
    time: float
    acknowledged: bool
    user_id: str
    action_type: str
    action_message: str
    fingerprint: str
    context: Mapping[str, str]
    service: str
    breaker: str
    idempotency_key: str = ""

    @property
    def title(self) -> str:
        """The notification title, e.g. "NETWORK Error"."""
        return f"{self.category.name} Error"

    @property
    def count_key(self) -> str:
        """The error_counts key, e.g. "network_high"."""
        return f"{self.category.name.lower()}_{self.severity.name.lower()}"


def build_record(report: ErrorReport, error_id: str, now: float) -> ErrorRecord:
    """Classify and scrub `report` into the record to store; nothing unscrubbed is kept."""
    message = scrub_text(report.message)
    operation = scrub_text(report.operation)
    category = classify(report.error_type, message, report.grpc_code, report.http_status)
    guidance = GUIDANCE[category]
    return ErrorRecord(
        error_id=error_id,
        operation=operation,
        error_type=report.error_type,
        message=message,
        category=category,
        severity=SEVERITY[category],
        user_message=guidance.user_message,
        time=now if report.time is None else report.time,
        acknowledged=False,
        user_id=report.user_id,
        action_type=guidance.action_type,
        action_message=guidance.action_message,
        fingerprint=fingerprint(report.error_type, operation, message),
        context=scrub_context(report.context),
        service=report.service,
        breaker=report.breaker,
        idempotency_key=report.idempotency_key,
    )


def _is_open_critical(record: ErrorRecord) -> bool:
    return record.severity is Severity.CRITICAL and not record.acknowledged


class ErrorLog:
    """The newest `history_limit` error records, and counters over every error ever added."""

    def __init__(self, history_limit: int = 1000, critical_window: float = 300.0) -> None:
        if history_limit < 1:
            raise ValueError("history_limit must be at least 1")
        if critical_window < 0:
            raise ValueError("critical_window must not be negative")
        self.history_limit = history_limit
        self.critical_window = critical_window
        self._history: OrderedDict[str, ErrorRecord] = OrderedDict()
        self._total = 0
        self._critical_total = 0
        self._counts: dict[str, int] = {}
        self._bucket_second = [-1] * _RATE_SECONDS  # which second each bucket now counts
        self._bucket_count = [0] * _RATE_SECONDS
        self._open_critical: OrderedDict[str, float] = OrderedDict()  # in history, by time added
        self._evicted_critical_time = -math.inf  # latest unacknowledged CRITICAL evicted
        self._by_key: dict[str, str] = {}  # idempotency key -> error_id, for records in history

    @property
    def total(self) -> int:
        """Errors ever added, evicted or not."""
        return self._total

    @property
    def critical_total(self) -> int:
        """CRITICAL errors ever added, acknowledged or not."""
        return self._critical_total

    @property
    def counts(self) -> Mapping[str, int]:
        """A read-only view of count_key -> errors ever added."""
        return MappingProxyType(self._counts)

    def add(self, record: ErrorRecord) -> None:
        """Store `record` as the newest, evicting the oldest beyond the limit; ids are unique."""
        if record.error_id in self._history:
            raise ValueError(f"error {record.error_id!r} is already in the log")
        self._history[record.error_id] = record
        if record.idempotency_key:
            self._by_key[record.idempotency_key] = record.error_id
        self._total += 1
        self._counts[record.count_key] = self._counts.get(record.count_key, 0) + 1
        if record.severity is Severity.CRITICAL:
            self._critical_total += 1
        if _is_open_critical(record):
            self._open_critical[record.error_id] = record.time
        self._count_in_rate(record.time)
        while len(self._history) > self.history_limit:
            self._evict_oldest()

    def _evict_oldest(self) -> None:
        error_id, record = self._history.popitem(last=False)
        if self._by_key.get(record.idempotency_key) == error_id:
            del self._by_key[record.idempotency_key]
        if self._open_critical.pop(error_id, None) is not None:
            self._evicted_critical_time = max(self._evicted_critical_time, record.time)

    def _count_in_rate(self, time: float) -> None:
        second = math.floor(time)
        slot = second % _RATE_SECONDS
        if self._bucket_second[slot] == second:
            self._bucket_count[slot] += 1
        elif self._bucket_second[slot] < second:
            self._bucket_second[slot] = second
            self._bucket_count[slot] = 1
        # else: a newer second owns the bucket, so this record is over a minute old already

    def get(self, error_id: str) -> ErrorRecord:
        """The record with `error_id`; NotFound if unknown or evicted."""
        try:
            return self._history[error_id]
        except KeyError:
            raise NotFound("error", error_id) from None

    def find_key(self, idempotency_key: str) -> ErrorRecord | None:
        """The record first added with this idempotency key, while it is in history."""
        error_id = self._by_key.get(idempotency_key)
        return None if error_id is None else self._history[error_id]

    def acknowledge(self, error_id: str) -> ErrorRecord:
        """Mark the record acknowledged (idempotent) and return it; NotFound if unknown/evicted."""
        record = self.get(error_id)
        if not record.acknowledged:
            record = dataclasses.replace(record, acknowledged=True)
            self._history[error_id] = record  # an existing key keeps its place
            self._open_critical.pop(error_id, None)
        return record

    def errors_per_minute(self, now: float) -> float:
        """Errors added whose second lies in the minute up to and including `now`'s second."""
        newest = math.floor(now)
        oldest = newest - _RATE_SECONDS + 1
        return float(sum(
            count
            for second, count in zip(self._bucket_second, self._bucket_count, strict=True)
            if oldest <= second <= newest
        ))

    def recent(self, limit: int = 10) -> list[ErrorRecord]:
        """At most `limit` records, newest first."""
        return list(islice(reversed(self._history.values()), max(limit, 0)))

    def notifications(
        self, min_severity: Severity | None, limit: int, include_acknowledged: bool
    ) -> tuple[list[ErrorRecord], int]:
        """Matching records newest first (at most `limit`), and how many matched in all."""
        matched: list[ErrorRecord] = []
        total = 0
        for record in reversed(self._history.values()):
            if min_severity is not None and record.severity < min_severity:
                continue
            if record.acknowledged and not include_acknowledged:
                continue
            total += 1
            if len(matched) < limit:
                matched.append(record)
        return matched, total

    def has_recent_critical(self, now: float) -> bool:
        """Whether an unacknowledged CRITICAL error was added within critical_window of `now`."""
        horizon = now - self.critical_window
        if self._evicted_critical_time > horizon:
            return True
        while self._open_critical:
            error_id, time = next(iter(self._open_critical.items()))
            if time > horizon:
                return True
            del self._open_critical[error_id]
        return False

    def load(self, records: list[ErrorRecord], total: int, critical_total: int,
             counts: Mapping[str, int]) -> None:
        """Take up a saved history (oldest first) and the counters over every error ever added."""
        for record in records:
            self.add(record)
        self._total, self._critical_total = total, critical_total
        self._counts = dict(counts)

    def records(self) -> list[ErrorRecord]:
        """The history, oldest first."""
        return list(self._history.values())
