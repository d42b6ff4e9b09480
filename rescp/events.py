"""The sequenced event log and its subscribers.

Every state change is appended with a server-wide sequence (1, 2, 3, ...). Retention is bounded
by count and age; trimming is done in chunks so appends stay O(1) amortized. Subscribers are
cursors into the log rather than queues: an append copies nothing per subscriber, it only wakes
the waiting ones, and each subscriber reads the events after its cursor in batches (so a busy
log hands several events to each read). A subscriber whose cursor falls more than `max_lag`
events behind the head is failed with SubscriberTooSlow and must resume from its last sequence;
this is its bounded queue, and it can never hold back the log or other subscribers. Wire
encoding is left to the server, which caches it on the event so a fan-out encodes once.

A durable store keeps the log: it restores it at start (same `log_id`, sequences continue), is
told of each append (`on_append`, to write it in the same commit as the change it reports), and
while `held`, subscribers see events only once the store has `publish`ed them as committed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from rescp.engine.breaker import Transition
from rescp.engine.errorlog import ErrorRecord
from rescp.engine.health import Degradation
from rescp.enums import BreakerState, EventType, Health, Severity
from rescp.errors import RescpError, SequenceOutOfRange, ShuttingDown, SubscriberTooSlow


@dataclass(frozen=True, slots=True)
class HealthChange:
    from_health: Health
    to_health: Health


@dataclass(frozen=True, slots=True)
class BreakerDeleted:
    breaker: str
    last_state: BreakerState


@dataclass(frozen=True, slots=True)
class RateLimitExceeded:
    limit: str
    key: str
    retry_after: float
    refused: int


Payload = (Transition | ErrorRecord | Degradation | HealthChange | RateLimitExceeded
           | BreakerDeleted)

_TYPES: dict[type, EventType] = {
    Transition: EventType.BREAKER_TRANSITION,
    ErrorRecord: EventType.NOTIFICATION,
    Degradation: EventType.DEGRADATION_CHANGE,
    HealthChange: EventType.HEALTH_CHANGE,
    RateLimitExceeded: EventType.RATE_LIMIT_EXCEEDED,
    BreakerDeleted: EventType.BREAKER_DELETED,
}
PAYLOAD_TYPES: dict[EventType, type] = {kind: cls for cls, kind in _TYPES.items()}
"""Each event type's payload class, to rebuild stored events."""


@dataclass(slots=True)
class Event:
    sequence: int
    time: float
    payload: Payload
    type: EventType
    wire: bytes | None = field(default=None, compare=False)  # cached encoding, set by the server

    @property
    def severity(self) -> Severity | None:
        return self.payload.severity if isinstance(self.payload, ErrorRecord) else None


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a subscriber wants: `types` empty means all; `min_severity` filters
    notifications only."""

    types: frozenset[EventType] = frozenset()
    min_severity: Severity | None = None

    def wants(self, event: Event) -> bool:
        if self.types and event.type not in self.types:
            return False
        severity = event.severity
        return severity is None or self.min_severity is None or severity >= self.min_severity


class Subscription:
    """A cursor into the log; read it with `EventLog.next_batch`."""

    __slots__ = ("cursor", "failure", "filter")

    def __init__(self, cursor: int, event_filter: EventFilter) -> None:
        self.cursor = cursor  # the next sequence this subscriber will read
        self.filter = event_filter
        self.failure: RescpError | None = None


class EventLog:
    def __init__(self, *, max_events: int = 10_000, max_age: float = 3600.0,
                 max_lag: int = 1_000, batch_size: int = 256) -> None:
        if not 1 <= max_lag <= max_events:
            raise ValueError("max_lag must be within 1..max_events")
        self.log_id = uuid.uuid4().hex  # a new log, a new id: sequences never cross logs
        self.max_events = max_events
        self.max_age = max_age
        self.max_lag = max_lag
        self.batch_size = batch_size
        self._events: list[Event] = []
        self._first = 1  # the sequence of _events[0]
        self._subscribers: set[Subscription] = set()
        self._changed: asyncio.Event | None = None
        self._closed = False
        self.on_append: Callable[[Event], None] | None = None
        self.held = False  # True: subscribers read only what the store has published
        self._published = 0

    def restore(self, log_id: str, last_sequence: int, events: list[Event]) -> None:
        """Continue a saved log: the retained `events` (oldest first) end at `last_sequence`."""
        self.log_id = log_id
        self._events = list(events)
        self._first = last_sequence + 1 - len(events)
        self._published = last_sequence

    def publish(self, sequence: int) -> None:
        """Events up to `sequence` are committed: let held subscribers read them."""
        if sequence > self._published:
            self._published = sequence
            self._wake()

    @property
    def visible_sequence(self) -> int:
        """The newest event subscribers may read: with a durable store, the newest committed,
        so a sequence a read reports never has to be taken back after a crash."""
        return self._published if self.held else self.last_sequence

    @property
    def last_sequence(self) -> int:
        """The newest event's sequence; 0 before the first event."""
        return self._first + len(self._events) - 1

    @property
    def subscribers(self) -> int:
        """Subscribers currently following the log."""
        return len(self._subscribers)

    @property
    def first_sequence(self) -> int:
        """The oldest retained event's sequence (last_sequence + 1 when none is retained)."""
        return self._first

    def append(self, payload: Payload, now: float) -> Event:
        event = Event(self.last_sequence + 1, now, payload, _TYPES[type(payload)])
        self._events.append(event)
        if self.on_append is not None:
            self.on_append(event)
        self._trim_count()
        oldest_allowed = event.sequence - self.max_lag + 1
        behind = [sub for sub in self._subscribers if sub.cursor < oldest_allowed]
        for sub in behind:  # cut off and forgotten at once, even if its writer is blocked
            sub.failure = SubscriberTooSlow(
                f"subscriber fell more than {self.max_lag} events behind; "
                "resume after the last sequence it received")
            self._subscribers.discard(sub)
        self._wake()
        return event

    def subscribe(self, after_sequence: int | None,
                  event_filter: EventFilter = EventFilter()) -> Subscription:
        """A cursor after `after_sequence`, or after the newest event when it is None.

        Raises SequenceOutOfRange when the events right after `after_sequence` are no longer
        retained, or when it lies beyond the newest event (a server restarted without its log).
        """
        if self._closed:
            raise ShuttingDown("the server is shutting down")
        last = self.last_sequence
        if after_sequence is None:
            after_sequence = last
        elif after_sequence > last or after_sequence < self._first - 1:
            raise SequenceOutOfRange(
                f"sequence {after_sequence} is outside the retained log "
                f"[{self._first - 1}, {last}]; re-read the state and watch again")
        sub = Subscription(after_sequence + 1, event_filter)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    async def next_batch(self, sub: Subscription) -> list[Event]:
        """Wait for events after the cursor and return those the filter wants (never empty).

        Raises the subscription's failure (SubscriberTooSlow, ShuttingDown) instead.
        """
        while True:
            if sub.failure is not None:
                raise sub.failure
            if sub.cursor <= self.visible_sequence:
                batch = self._read(sub)
                if batch:
                    return batch
                continue
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._changed.wait()

    def trim(self, now: float) -> None:
        """Drop events beyond max_events or older than max_age (called each second)."""
        events = self._events
        cut = max(len(events) - self.max_events, 0)
        horizon = now - self.max_age
        while cut < len(events) and events[cut].time < horizon:
            cut += 1
        if cut:
            self._cut(cut)

    def close(self) -> None:
        """Fail every subscriber with ShuttingDown and refuse new ones."""
        self._closed = True
        for sub in self._subscribers:
            sub.failure = ShuttingDown("the server is shutting down; reconnect and resume")
        self._subscribers.clear()
        self._wake()

    def _read(self, sub: Subscription) -> list[Event]:
        start = sub.cursor - self._first
        if start < 0:  # trimmed by age under a subscriber that had stopped reading
            sub.failure = SubscriberTooSlow(
                f"events after sequence {sub.cursor - 1} are no longer retained")
            raise sub.failure
        end = min(start + self.batch_size, self.visible_sequence + 1 - self._first)
        chunk = self._events[start:end]
        sub.cursor += len(chunk)
        wants = sub.filter.wants
        return [e for e in chunk if wants(e)]

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _trim_count(self) -> None:
        """Trim to max_events in chunks of `slack`, so an append is O(1) amortized."""
        excess = len(self._events) - self.max_events
        if excess > max(64, self.max_events // 8):
            self._cut(excess)

    def _cut(self, count: int) -> None:
        del self._events[:count]
        self._first += count
