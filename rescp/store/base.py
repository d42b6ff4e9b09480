"""The store interface: whole operations, each atomic with the events it causes.

A store answers whole operations (decide a batch of Allows, apply a batch of Records, add an
error, move a breaker ...), and each backend makes one operation atomic in its own way: memory runs
the engines on the event loop (single-threaded, no locks); SQLite runs the same engines in memory
and commits what must survive, the events with it (rescp.store.sqlite); Redis runs them in Lua,
one script per operation (rescp.store.redis).

An operation returns `Applied`: its result, the events it appended (sequenced by the store's log,
in order), the log's sequence right after it, and the store's earliest deadline. Nothing calls
back into the control plane. The store owns everything a second replica would need:

- **the log** (`log`): the store appends to it in the same atomic step as the change (memory,
  SQLite) or tails the shared log into it (Redis), so every replica pushes the same sequences;
- **deadlines**: when an OPEN breaker is due to half-open or a trial permit expires; `advance_due`
  applies what is due, idempotently (a transition happens and is announced once, whoever asks);
- **health and degradation**: recomputed from store state inside each operation that can move
  them (and by `refresh` for what time alone changes); a change is appended only when it differs
  from the last one appended (compare-and-set on the last emitted value);
- **reads with a sequence**: `list_breakers`, `system_health`, `degradation` return the sequence
  their state reflects, from one atomic read, so list-then-watch never misses or repeats an event.

Times: `now` is the caller's monotonic clock (a store sharing state across processes uses its
own clock, and returns deadlines on the caller's); events and records are stamped with wall time.
Engine state a backend saves is plain data (`BreakerSnapshot`, `WindowSnapshot`, `KeySnapshot`,
rescp.store.codec for text). Driver errors are translated into StoreUnavailable at this boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, Protocol, TypeVar

from rescp.engine.breaker import BreakerConfig
from rescp.engine.errorlog import ErrorRecord, ErrorReport
from rescp.engine.health import Degradation, Feature
from rescp.engine.ratelimit import LimitConfig, LimitStatus
from rescp.enums import BreakerState, Health, Outcome, Severity, Verdict
from rescp.errors import RescpError
from rescp.events import Event, EventLog

T = TypeVar("T")


AllowItem = tuple[str, str, str, int]
"""One validated Allow: breaker, limit, key, cost ("" for no breaker or no limit); a plain tuple,
as batches of a thousand are built per message."""

RecordItem = tuple[str, Outcome, float, str, int]
"""One validated Record: breaker, outcome, duration, permit, and how many times in a row (each
exactly as one Record)."""


class AllowResult(NamedTuple):
    allowed: bool
    verdict: Verdict
    breaker_state: BreakerState | None  # None when no breaker was consulted
    retry_after: float
    remaining: int  # -1 when no limit was consulted
    permit: str
    alert: int  # > 0: the limit refused and its RateLimitExceeded event was appended


class Applied(NamedTuple, Generic[T]):
    """What one store operation did."""

    result: T
    events: Sequence[Event] = ()  # appended by this operation, in sequence order
    sequence: int = 0  # the log's last sequence right after it: what a read's result reflects
    deadline: float | None = None  # the store's earliest breaker deadline now (caller's clock)
    states: Mapping[str, BreakerState | None] = {}  # breakers it created, moved or deleted


@dataclass(frozen=True, slots=True)
class BreakerView:
    """A breaker's config and live state at one moment."""

    name: str
    config: BreakerConfig
    state: BreakerState
    failure_count: int
    success_count: int
    last_failure_time: float | None
    state_since: float
    failure_rate: float
    slow_call_rate: float


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    total: int
    counts: Mapping[str, int]
    recent: Sequence[ErrorRecord]
    errors_per_minute: float


@dataclass(frozen=True, slots=True)
class SystemHealth:
    health: Health
    total_errors: int
    critical_errors: int
    open_circuits: int
    breakers: list[BreakerView]  # those not CLOSED


@dataclass(frozen=True, slots=True)
class HealthRules:
    """What health is judged by, besides open circuits and critical errors (`[health]`)."""

    error_rate_threshold: float = 10.0  # errors per minute above which health is WARNING


class Store(Protocol):
    """Every operation the control plane needs; `now` always comes from the caller's clock."""

    log: EventLog  # what watchers read: appended to by this store, or tailed from a shared one

    @property
    def ok(self) -> bool:
        """False while the backend is failing; health turns CRITICAL."""
        ...

    async def load(self, now: float) -> Applied[None]:
        """Take up saved state before the first operation; `states` holds every breaker.
        DatabaseRefused when the saved state cannot be used."""
        ...

    # the guard

    async def allow(self, items: Sequence[AllowItem],
                    now: float) -> Applied[list[AllowResult | RescpError]]:
        """Decide the items in order, each as one Allow; an item's error is its answer alone.
        StoreUnavailable (for the whole batch) when the backend fails."""
        ...

    async def record(self, items: Sequence[RecordItem],
                     now: float) -> Applied[list[BreakerState | RescpError]]:
        """Apply the items in order; an unknown breaker is that item's NotFound (only Allow
        creates breakers)."""
        ...

    async def add_error(self, report: ErrorReport,
                        now: float) -> Applied[tuple[ErrorRecord, bool]]:
        """Store the report's record and append its notification; with a known idempotency key,
        the first record and False (nothing appended)."""
        ...

    # breakers

    async def put_breaker(self, name: str, config: BreakerConfig,
                          now: float) -> Applied[BreakerView]: ...

    async def get_breaker(self, name: str, now: float) -> Applied[BreakerView]:
        """The breaker as it stands at `now`: a due transition is applied (and appended) first."""
        ...

    async def list_breakers(self, now: float, after: str = "",
                            limit: int | None = None) -> Applied[list[BreakerView]]:
        """Breakers by name, due transitions applied first: those after `after`, at most `limit`
        (a page costs its size)."""
        ...

    async def delete_breaker(self, name: str, now: float) -> Applied[BreakerState]:
        """Forget the breaker and append BreakerDeleted; the state it was in."""
        ...

    async def transition_breaker(self, name: str, state: BreakerState,
                                 now: float) -> Applied[BreakerView]: ...

    async def advance_due(self, now: float) -> Applied[None]:
        """Apply what time alone changes to every breaker whose deadline has come (idempotent:
        a second caller finds nothing due)."""
        ...

    # limits

    async def put_limit(self, config: LimitConfig) -> LimitConfig: ...

    async def list_limits(self, after: str = "", limit: int | None = None) -> list[LimitConfig]:
        """Limits by name, paged like list_breakers."""
        ...

    async def delete_limit(self, name: str) -> None: ...

    async def limit_status(self, name: str, key: str, now: float) -> LimitStatus: ...

    async def give_back(self, name: str, key: str, tokens: int, now: float) -> int:
        """Return a lease's unused tokens to the key; the tokens it has left."""
        ...

    async def sweep_idle(self, now: float, budget: int) -> None:
        """Forget up to `budget` idle rate-limit keys per limit (bounded work per call)."""
        ...

    # features and degradation

    async def put_feature(self, feature: Feature, now: float) -> Applied[Feature]: ...

    async def list_features(self, after: str = "", limit: int | None = None) -> list[Feature]:
        """Features by name, paged like list_breakers."""
        ...

    async def delete_feature(self, name: str, now: float) -> Applied[None]: ...

    async def degradation(self, now: float) -> Applied[Degradation]:
        """The degradation now, with the sequence it reflects."""
        ...

    # errors and health

    async def error_summary(self, now: float, recent: int) -> ErrorSummary: ...

    async def notifications(self, min_severity: Severity | None, limit: int,
                            include_acknowledged: bool,
                            after: str = "") -> tuple[list[ErrorRecord], int]:
        """Matching records newest first, older than the record `after` if given, at most
        `limit`; and how many match in all."""
        ...

    async def acknowledge(self, error_id: str, now: float) -> Applied[ErrorRecord]: ...

    async def system_health(self, now: float) -> Applied[SystemHealth]:
        """Health, counts and the breakers not CLOSED, with the sequence they reflect."""
        ...

    async def refresh(self, now: float) -> Applied[None]:
        """Re-judge health and degradation (what time alone changes: the error rate decays, a
        critical error ages out, the backend recovered) and append what differs."""
        ...

    async def close(self) -> None: ...
