"""The sequenced event log and its subscribers.

Every state change is appended with a server-wide sequence (1, 2, 3, ...). Retention is bounded
by count and age; trimming is done in chunks so appends stay O(1) amortized. Subscribers are
cursors into the log rather than queues: an append copies nothing and touches no subscriber.
Each subscriber reads the events after its cursor in batches; one that has caught up waits.

Fan-out is one task that wakes the waiting subscribers in rounds, FANOUT_SLICE at a time, and
past a round's first ROUND_FREE rests after each slice in proportion to its cost (FANOUT_REST):
an Allow never waits behind more than one slice, fan-out takes a bounded share of the loop
however many watchers there are, and a subscriber woken late simply reads everything that
arrived meanwhile in one batch (coalescing per subscriber). Each round also cuts off the subscribers
that fell more than `max_lag` events behind the head (SubscriberTooSlow: they resume from
their last sequence); a subscriber may additionally be as far behind as the backlog it was
handed (the replay it asked for, or what arrived while fan-out let it wait), so replaying a
retained backlog is bounded by retention, not by `max_lag`. Wire encoding is the server's
(`encode`), done once per event as it is appended and cached on the event, so delivery to any
number of subscribers never encodes.

A durable store keeps the log: it restores it at start (same `log_id`, sequences continue), is
told of each append (`on_append`, to write it in the same commit as the change it reports), and
while `held`, subscribers see events only once the store has `publish`ed them as committed.
"""

from __future__ import annotations

import asyncio
import time
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
    frame: bytes | None = field(default=None, compare=False)  # the same, framed for a batch

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

    __slots__ = ("cursor", "failure", "filter", "queued", "round", "slack", "waiter")

    def __init__(self, cursor: int, event_filter: EventFilter, slack: int) -> None:
        self.cursor = cursor  # the next sequence this subscriber will read
        self.filter = event_filter
        self.slack = slack  # backlog it was handed (a replay, events while it waited)
        self.failure: RescpError | None = None
        self.waiter: asyncio.Future[None] | None = None  # set while it waits for events
        self.round = 0  # the fan-out round that woke it, until it is back (or gone)
        self.queued = False  # in the log's waiting list (a cancelled wait leaves it there)


FANOUT_SLICE = 16
"""Waiting subscribers woken at once: the longest a request waits behind fan-out is about one
slice's work (a fraction of a millisecond)."""
FANOUT_REST = 1.5
"""After a slice, fan-out rests this many times the slice's wall time (from its wake until
every woken subscriber has written its batch and is back), once the round is past ROUND_FREE:
fan-out takes at most about two fifths of the loop, in slices too short to delay a request
noticeably, however many watchers there are; a subscriber woken late reads everything that
arrived meanwhile in one message (coalescing per subscriber). Wall time, not the loop thread's
CPU: on a starved machine a CPU-sized rest let fan-out take most of the little time the loop
got."""
ROUND_FREE = 0.015
"""The first this-many seconds of a round are not paced: about a hundred watchers get every
event at once (100-subscriber delivery p99 ~20 ms here, against ~60 ms when pacing began after
2 ms), while a request still waits behind one slice at most, since the slices of an unpaced
round yield to the loop too. Pacing is for the rounds of hundreds or thousands."""
SLICE_CAP = 0.02
"""A slice is over after this long even if some woken subscriber is not back (its client may
have stopped reading): one stalled watcher must not slow delivery to the others."""
EVENT_OPEN_CIRCUITS = 100
EVENT_FEATURES = 25
"""What a DegradationChange event lists at most (with the counts whole): events stay small
however many circuits are open."""


class EventLog:
    def __init__(self, *, max_events: int = 10_000, max_age: float = 3600.0,
                 max_lag: int = 1_000, batch_size: int = 256,
                 encode: Callable[[Event], object] | None = None) -> None:
        """`encode` is called on each event as it is appended (the server caches its wire
        bytes on it), so delivery to any number of subscribers only copies bytes."""
        if not 1 <= max_lag <= max_events:
            raise ValueError("max_lag must be within 1..max_events")
        self.log_id = uuid.uuid4().hex  # a new log, a new id: sequences never cross logs
        self.max_events = max_events
        self.max_age = max_age
        self.max_lag = max_lag
        self.batch_size = batch_size
        self._encode = encode
        self._events: list[Event] = []
        self._first = 1  # the sequence of _events[0]
        self._subscribers: set[Subscription] = set()
        self._waiting: list[Subscription] = []
        self._fanout: asyncio.Task[None] | None = None
        self._pending = False  # appended since the last fan-out round began
        self._round = 0
        self._outstanding = 0  # subscribers woken by this round and not back yet
        self._round_over: asyncio.Future[None] | None = None
        self._closed = False
        self.on_append: Callable[[Event], None] | None = None  # the durable store's write
        self._observers: list[Callable[[Event], None]] = []
        self.held = False  # True: subscribers read only what the store has published
        self._published = 0

    def restore(self, log_id: str, last_sequence: int, events: list[Event]) -> None:
        """Continue a saved log: the retained `events` (oldest first) end at `last_sequence`."""
        self.log_id = log_id
        self._events = list(events)
        if self._encode is not None:
            for event in self._events:
                self._encode(event)
        self._first = last_sequence + 1 - len(events)
        self._published = last_sequence

    def publish(self, sequence: int) -> None:
        """Events up to `sequence` are committed: let held subscribers read them."""
        if sequence > self._published:
            self._published = sequence
            self._kick()

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
        """Append in O(1): subscribers are served by the fan-out task, never from here."""
        if isinstance(payload, Degradation):
            payload = payload.capped(EVENT_OPEN_CIRCUITS, EVENT_FEATURES)
        event = Event(self.last_sequence + 1, now, payload, _TYPES[type(payload)])
        if self._encode is not None:
            self._encode(event)
        self._events.append(event)
        if self.on_append is not None:
            self.on_append(event)
        self._took(event)
        return event

    def ingest(self, event: Event) -> None:
        """Take an event a shared log sequenced (a replica tails it in order): a repeat is
        ignored, and a gap (events trimmed from the shared log before this replica read them)
        restarts the retained log at `event`, so subscribers behind the gap are cut off and
        resume, never skip silently."""
        last = self.last_sequence
        if event.sequence <= last:
            return
        if event.sequence > last + 1:
            self._events.clear()
            self._first = event.sequence
        if self._encode is not None:
            self._encode(event)
        self._events.append(event)
        self._took(event)

    def observe(self, observer: Callable[[Event], None]) -> None:
        """Call `observer` with every event this log takes, appended or ingested."""
        self._observers.append(observer)

    def _took(self, event: Event) -> None:
        for observer in self._observers:
            observer(event)
        self._trim_count()
        if not self.held:
            self._kick()

    def _kick(self) -> None:
        """New events are readable: make sure a fan-out round will wake the waiting."""
        self._pending = True
        if self._subscribers and self._fanout is None:
            self._fanout = asyncio.get_running_loop().create_task(self._fan_out())

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
        sub = Subscription(after_sequence + 1, event_filter, last - after_sequence)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
        self._back(sub)

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
            sub.slack = 0  # caught up: from now on only max_lag bounds its lag
            self._back(sub)
            sub.waiter = asyncio.get_running_loop().create_future()
            if not sub.queued:  # once, however often a caller's timeout cancelled the wait
                sub.queued = True
                self._waiting.append(sub)
            try:
                await sub.waiter
            finally:
                sub.waiter = None

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
        if self._fanout is not None:
            self._fanout.cancel()
            self._fanout = None
        self._wake(self._waiting)

    async def _fan_out(self) -> None:
        """Rounds of waking the waiting subscribers, a paced slice at a time, while events
        keep arriving."""
        try:
            while self._pending and self._subscribers:
                self._pending = False
                self._cut_off_laggards()
                waiting, self._waiting = self._waiting, []
                busy = 0.0
                for i in range(0, len(waiting), FANOUT_SLICE):
                    started = time.perf_counter()
                    await self._slice_of(waiting[i:i + FANOUT_SLICE])
                    spent = time.perf_counter() - started
                    busy += spent
                    await asyncio.sleep(spent * FANOUT_REST if busy > ROUND_FREE else 0)
        finally:
            if self._fanout is asyncio.current_task():
                self._fanout = None

    async def _slice_of(self, waiting: list[Subscription]) -> None:
        """Wake `waiting`, then wait (SLICE_CAP at most) until all of them are back."""
        self._round += 1
        over = self._round_over = asyncio.get_running_loop().create_future()
        self._outstanding = self._wake(waiting, self._round)
        if self._outstanding:
            await asyncio.wait([over], timeout=SLICE_CAP)

    def _back(self, sub: Subscription) -> None:
        """`sub` has written what its round woke it for (or is gone)."""
        if sub.round and sub.round == self._round:
            self._outstanding -= 1
            if not self._outstanding and self._round_over and not self._round_over.done():
                self._round_over.set_result(None)
        sub.round = 0

    def _cut_off_laggards(self) -> None:
        """Fail the subscribers more than max_lag (plus their replay slack) behind the head."""
        floor = self.last_sequence + 1 - self.max_lag
        for sub in [s for s in self._subscribers if s.cursor + s.slack < floor]:
            if sub.waiter is None:  # a waiting one has caught up; it is only not woken yet
                self._fail_slow(sub)

    def _fail_slow(self, sub: Subscription) -> SubscriberTooSlow:
        sub.failure = failure = SubscriberTooSlow(
            f"subscriber fell more than {self.max_lag} events behind; "
            "resume after the last sequence it received")
        self._subscribers.discard(sub)
        return failure

    def _wake(self, subs: list[Subscription], round_: int = 0) -> int:
        """Wake these waiting subscribers (for fan-out round `round_`), and say how many; what
        arrived while they waited is their slack, not their lag (fan-out was late)."""
        head = self.visible_sequence + 1
        woken = 0
        for sub in subs:
            sub.queued = False
            if sub.waiter is not None and not sub.waiter.done():
                sub.slack = head - sub.cursor
                sub.round = round_
                sub.waiter.set_result(None)
                woken += 1
        return woken

    def _read(self, sub: Subscription) -> list[Event]:
        start = sub.cursor - self._first
        if start < 0:  # trimmed under a subscriber that had stopped reading
            sub.failure = SubscriberTooSlow(
                f"events after sequence {sub.cursor - 1} are no longer retained")
            raise sub.failure
        if sub.cursor + sub.slack <= self.last_sequence - self.max_lag:
            raise self._fail_slow(sub)
        end = min(start + self.batch_size, self.visible_sequence + 1 - self._first)
        chunk = self._events[start:end]
        sub.cursor += len(chunk)
        event_filter = sub.filter
        if not event_filter.types and event_filter.min_severity is None:
            return chunk
        wants = event_filter.wants
        return [e for e in chunk if wants(e)]

    def _trim_count(self) -> None:
        """Trim to max_events in chunks of `slack`, so an append is O(1) amortized."""
        excess = len(self._events) - self.max_events
        if excess > max(64, self.max_events // 8):
            self._cut(excess)

    def _cut(self, count: int) -> None:
        del self._events[:count]
        self._first += count
