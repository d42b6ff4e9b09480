"""Local decisions (`decide="local"`): the breaker states the server pushes, and the outcomes
waiting to go back. Pure state shared by both flavours; the I/O is in `_async/_local.py`.

- A breaker is followed once an Allow of this client has shown its state (and the permit of
  its current generation) while the push stream was up. From then on the pushed transitions
  keep it current: CLOSED or DISABLED with a known permit admit here, OPEN refuses here until
  its recovery timeout has passed, FORCED_OPEN refuses here. Everything else -- HALF_OPEN (trial
  permits stay global), a generation whose permit is not known yet, a breaker never seen, and
  any breaker while the stream is down -- is asked of the server.
- An Allow's answer is taken only if no transition of that breaker was pushed while it was in
  flight (`changes`), so a slow answer never overwrites a newer pushed state.
- Outcomes are queued in order, with the permit they were admitted under, and handed to the
  flusher in batches (at most `FLUSH_AT` at once); the server applies them as Records one by one.
- Encoding: a queued outcome becomes RecordRequest wire bytes directly: the fields fixed per
  (breaker, outcome, permit) are encoded once and cached, the duration is two varints. Building
  each message (and its Duration) through protobuf's Python API costs ~15 µs per outcome, more
  than a guarded call may cost in all.
- Leases: for a limit with `Limit.lease` (its size learned once per subscription from
  ListLimits), a call takes a block of `lease` tokens with one Allow, then spends them here;
  a block older than the lease's lifetime goes back (ReturnTokens) unspent. A client holds at
  most `lease` tokens of a key at once, so admission over any window exceeds max_requests by at
  most lease x clients holding a lease. A refused block falls back to the exact server path.
- Locking: one lock, held for a few dict operations, so the blocking client's threads and its
  follower thread see one consistent table; in the asyncio client it is never contended. A
  guarded call's outcome takes no lock at all: it is appended to a deque (atomic), and the
  runs are gathered under the lock by whoever reads the queue (the flusher, mostly).
"""

from __future__ import annotations

import itertools
import operator
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

from rescp_client._proto import enums_pb2 as enums
from rescp_client._proto import guard_pb2 as guard
from rescp_client.errors import BreakerOpenError
from rescp_client.models import Admission, AffectedFeature, BreakerState, Degradation

FLUSH_AT = 500
"""Outcomes that make the flusher send at once instead of waiting for flush_interval."""
MAX_QUEUED = 10_000
"""Records (runs of outcomes) held while the server cannot take them; beyond that the oldest
are dropped, and each outcome they stood for is counted."""

_ADMITS = {enums.BREAKER_STATE_CLOSED: BreakerState.CLOSED,
           enums.BREAKER_STATE_DISABLED: BreakerState.DISABLED}

MAX_RUN = 1000
"""The most identical outcomes one RecordRequest may stand for (its `count`)."""


Arrival = tuple[str, "enums.Outcome", float, str, "guard.ReportRequest | None"]
"""An outcome as the guarded call left it: (breaker, outcome, took, permit, report)."""
_RUN = operator.itemgetter(0, 1, 3, 4)
"""What outcomes in a row must share to go as one Record (all but the duration)."""


class Rules(NamedTuple):
    """What local decisions need of a breaker's config, read once per subscription."""

    recovery_timeout: float
    aggregate: bool  # no slow-call rule: a run of successes may go as one counted Record


@dataclass(slots=True)
class Queued:
    """One Record to send, standing for `count` identical outcomes in a row."""

    breaker: str
    outcome: enums.Outcome
    took: float
    permit: str
    report: guard.ReportRequest | None
    count: int = 1


@dataclass(slots=True)
class Followed:
    """One breaker as last pushed or learned."""

    state: int  # a BreakerState number
    admission: Admission | None = None  # set while this client may admit locally
    open_until: float | None = None  # OPEN: when the server will move it to HALF_OPEN
    rules: Rules | None = None


@dataclass(slots=True)
class LocalState:
    """The followed breakers, the pushed degradation, and the outcome queue."""

    live: bool = False
    degradation: Degradation | None = None
    dropped: int = 0
    breakers: dict[str, Followed] = field(default_factory=dict)  # never rebound: guards read it
    _changes: dict[str, int] = field(default_factory=dict)
    _degradation_changes: int = 0
    _arrived: deque[Arrival] = field(default_factory=deque)  # appended without the lock
    _outcomes: list[Queued] = field(default_factory=list)  # Records to send, runs gathered
    _aggregating: set[str] = field(default_factory=set)  # followed, with no slow-call rule
    _lease_sizes: dict[str, int] = field(default_factory=dict)
    _leases: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # [tokens, taken]
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # deciding

    def decide(self, breaker: str) -> Admission | None:
        """A local admission, a BreakerOpenError raised, or None: ask the server. Reads the
        table without the lock: one lookup of an entry that is replaced, never changed."""
        followed = self.breakers.get(breaker)
        if followed is None:
            return None
        if followed.admission is not None:
            return followed.admission
        if followed.state == enums.BREAKER_STATE_FORCED_OPEN:
            raise BreakerOpenError(breaker, BreakerState.FORCED_OPEN.value, 0.0)
        if followed.open_until is not None:
            left = followed.open_until - time.monotonic()
            if left > 0:
                raise BreakerOpenError(breaker, BreakerState.OPEN.value, left)
        return None

    def changes(self, breaker: str) -> int:
        """A token to pass to `learn`: how many transitions of `breaker` were pushed so far."""
        return self._changes.get(breaker, 0)

    def learn(self, breaker: str, response: guard.AllowResponse, asked_at: int,
              rules: Rules | None, now: float) -> None:
        """Follow `breaker` from a server Allow's answer, unless a push overtook it."""
        with self._lock:
            if not self.live or self._changes.get(breaker, 0) != asked_at:
                return
            state = response.breaker_state
            followed = Followed(state, rules=rules)
            if state in _ADMITS and response.allowed:
                followed.admission = Admission(True, _ADMITS[state], None, response.permit)
            elif state == enums.BREAKER_STATE_OPEN:
                retry = response.retry_after
                followed.open_until = now + retry.seconds + retry.nanos / 1e9
            self.breakers[breaker] = followed
            if rules is not None and rules.aggregate:
                self._aggregating.add(breaker)
            else:
                self._aggregating.discard(breaker)

    def rules(self, breaker: str) -> Rules | None:
        followed = self.breakers.get(breaker)
        return None if followed is None else followed.rules

    # what the push stream says

    def up(self) -> None:
        """The stream is subscribed: learning may start (from nothing: pushes may be lost)."""
        with self._lock:
            self.breakers.clear()
            self._aggregating.clear()
            self.degradation = None
            self.live = True

    def down(self) -> None:
        """The stream broke: every decision goes to the server until it is up again."""
        with self._lock:
            self.live = False
            self.breakers.clear()
            self._aggregating.clear()
            self.degradation = None

    def transition(self, breaker: str, to_state: int, now: float) -> None:
        """A pushed transition (or deletion, with to_state UNSPECIFIED)."""
        with self._lock:
            self._changes[breaker] = self._changes.get(breaker, 0) + 1
            followed = self.breakers.get(breaker)
            if followed is None:
                return
            if to_state == enums.BREAKER_STATE_UNSPECIFIED:
                del self.breakers[breaker]
                self._aggregating.discard(breaker)
                return
            rules = followed.rules
            self.breakers[breaker] = Followed(
                to_state, rules=rules,
                open_until=now + rules.recovery_timeout if to_state == enums.BREAKER_STATE_OPEN
                and rules is not None else None)

    def degradation_changes(self) -> int:
        return self._degradation_changes

    def set_degradation(self, value: Degradation, asked_at: int | None = None) -> None:
        """The degradation read (`asked_at`: the token before the read) or pushed (None)."""
        with self._lock:
            if asked_at is None:
                self._degradation_changes += 1
            elif not self.live or asked_at != self._degradation_changes:
                return
            self.degradation = value

    def feature_status(self, feature: str) -> AffectedFeature | None:
        """The pushed status of `feature` (None: not affected); only while `degradation`."""
        assert self.degradation is not None
        return next((f for f in self.degradation.affected_features if f.feature == feature),
                    None)

    # leases

    def lease_size(self, limit: str) -> int | None:
        """The limit's lease (0: none), or None while unknown."""
        return self._lease_sizes.get(limit)

    def set_lease_sizes(self, sizes: dict[str, int]) -> None:
        with self._lock:
            self._lease_sizes = dict(sizes)

    def spend(self, limit: str, key: str, cost: int) -> bool:
        """Take `cost` tokens from this client's lease of (limit, key), if it holds that many."""
        with self._lock:
            held = self._leases.get((limit, key))
            if held is None or held[0] < cost:
                return False
            held[0] -= cost
            return True

    def hold(self, limit: str, key: str, tokens: int, now: float) -> None:
        """A fresh block's unspent `tokens`, replacing (and forgetting) an exhausted one."""
        with self._lock:
            self._leases[(limit, key)] = [tokens, now]

    def expired_leases(self, taken_before: float | None) -> list[tuple[str, str, int]]:
        """The leases taken before `taken_before` (None: all), out of the table, as
        (limit, key, unspent tokens) to give back."""
        with self._lock:
            due = [k for k, (_, taken) in self._leases.items()
                   if taken_before is None or taken < taken_before]
            return [(limit, key, int(self._leases.pop((limit, key))[0])) for limit, key in due]

    # outcomes

    def add(self, breaker: str, outcome: enums.Outcome, took: float, permit: str,
            report: guard.ReportRequest | None) -> bool:
        """Queue an outcome; True when FLUSH_AT Records wait, to flush now. Takes no lock but
        every FLUSH_AT-th time: `deque.append` is atomic, and runs are gathered in bulk."""
        arrived = self._arrived
        arrived.append((breaker, outcome, took, permit, report))
        if len(arrived) % FLUSH_AT:
            return False
        with self._lock:
            self._gather()
            return len(self._outcomes) >= FLUSH_AT

    def holds(self, breaker: str) -> bool:
        """Whether an outcome of `breaker` waits to be sent."""
        with self._lock:
            self._gather()
            return any(o.breaker == breaker for o in self._outcomes)

    def take(self, most: int) -> list[Queued]:
        """The oldest `most` queued outcomes, out of the queue."""
        with self._lock:
            self._gather()
            taken, self._outcomes[:most] = self._outcomes[:most], []
            return taken

    def _gather(self) -> None:
        """Move what arrived into the queue of Records, in order (lock held): a run of
        successes of a breaker without a slow-call rule goes as one Record with a count
        (up to MAX_RUN), joined to the Record before it when that one is like them."""
        arrived, queue, aggregating = self._arrived, self._outcomes, self._aggregating
        pop = arrived.popleft
        taken = [pop() for _ in range(len(arrived))]
        for (breaker, outcome, permit, report), run in itertools.groupby(taken, _RUN):
            if report is not None or breaker not in aggregating:
                queue.extend(Queued(*item) for item in run)
                continue
            items = list(run)
            count, took = len(items), items[0][2]  # the run's Record carries its first duration
            last = queue[-1] if queue else None
            if (last is not None and last.permit == permit and last.breaker == breaker
                    and last.outcome == outcome and last.report is None):
                joined = min(count, MAX_RUN - last.count)
                last.count += joined
                count -= joined
            while count:
                queue.append(Queued(breaker, outcome, took, permit, None, min(count, MAX_RUN)))
                count -= queue[-1].count
        if len(queue) > MAX_QUEUED:
            cut = len(queue) - MAX_QUEUED
            self.dropped += sum(q.count for q in queue[:cut])
            del queue[:cut]


class RecordEncoder:
    """RecordBatchRequest wire bytes for queued outcomes (see "Encoding" above)."""

    def __init__(self) -> None:
        self._heads: dict[tuple[str, int, str], bytes] = {}

    def batch(self, outcomes: list[Queued]) -> bytes:
        parts = []
        for queued in outcomes:
            body = self._head(queued.breaker, queued.outcome, queued.permit) + _duration(
                queued.took)
            if queued.count > 1:
                body += b"\x30" + _varint(queued.count)  # field 6, varint
            report = queued.report
            if report is not None:
                error = report.SerializeToString()
                body += b"\x2a" + _varint(len(error)) + error  # field 5, length-delimited
            parts.append(b"\x0a" + _varint(len(body)) + body)  # RecordBatchRequest.items
        return b"".join(parts)

    def _head(self, breaker: str, outcome: int, permit: str) -> bytes:
        key = (breaker, outcome, permit)
        head = self._heads.get(key)
        if head is None:
            if len(self._heads) >= MAX_QUEUED:
                self._heads.clear()
            head = self._heads[key] = guard.RecordRequest(
                breaker=breaker, outcome=outcome, permit=permit).SerializeToString()  # type: ignore[arg-type]
        return head


def _duration(seconds: float) -> bytes:
    """RecordRequest.duration (field 3) as wire bytes; a negative duration counts as 0."""
    whole, nanos = divmod(max(round(seconds * 1e9), 0), 1_000_000_000)
    if not whole:  # the common case: under a second, nanos alone
        value = b"\x10" + _varint(nanos) if nanos else b""
        return b"\x1a" + bytes((len(value),)) + value
    value = b"\x08" + _varint(whole) + (b"\x10" + _varint(nanos) if nanos else b"")
    return b"\x1a" + _varint(len(value)) + value


def _varint(value: int) -> bytes:
    """A non-negative int as a protobuf varint; unrolled up to 2**28 (durations up to 268 ms in
    nanoseconds, every length and id), which is most of what is encoded here."""
    if value < 0x80:
        return bytes((value,))
    if value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    if value < 0x200000:
        return bytes((value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80, value >> 14))
    if value < 0x10000000:
        return bytes((value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80,
                      value >> 14 & 0x7F | 0x80, value >> 21))
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
