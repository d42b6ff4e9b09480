"""The store interface: operations, not rows.

A store answers whole operations (allow, record, add an error, transition a breaker ...) so each
backend makes one operation atomic in its own way: memory runs the engines on the event loop
(single-threaded, no locks); SQLite runs the same engines in memory and writes through what must
survive (rescp.store.sqlite); Redis will run them in Lua, one round trip per Allow. Stores
report breaker transitions and creations to a `StoreListener` as they happen, so the control
plane can turn them into events whichever backend made them; a durable store also keeps the
event log (`EventLog.on_append`, `held`), so an event is written in the same commit as the
change it reports. `load` takes saved state up before the first operation. Engine state a
backend saves is plain data (`BreakerSnapshot`, `WindowSnapshot`, `KeySnapshot`, rescp.store.
codec for text). Driver errors are translated into StoreUnavailable at this boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from rescp.engine.breaker import BreakerConfig, Transition
from rescp.engine.errorlog import ErrorRecord, ErrorReport
from rescp.engine.health import Degradation, Feature
from rescp.engine.ratelimit import LimitConfig, LimitStatus
from rescp.enums import BreakerState, Health, Outcome, Severity, Verdict


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


class AllowResult(NamedTuple):
    allowed: bool
    verdict: Verdict
    breaker_state: BreakerState | None  # None when no breaker was consulted
    retry_after: float
    remaining: int  # -1 when no limit was consulted
    permit: str
    alert: int  # > 0: the limit refused and a RateLimitExceeded event is due, with this count


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    total: int
    counts: Mapping[str, int]
    recent: Sequence[ErrorRecord]
    errors_per_minute: float


@dataclass(frozen=True, slots=True)
class HealthFacts:
    """What system health is computed from, besides the open circuits."""

    recent_critical: bool
    errors_per_minute: float
    critical_total: int
    total: int


@dataclass(frozen=True, slots=True)
class LastEmitted:
    """The health and degradation last announced by a saved log (None: never, or not saved),
    so a restart does not announce again what its log already said."""

    health: Health | None
    degradation: Degradation | None


class StoreListener(Protocol):
    def breaker_created(self, name: str, state: BreakerState) -> None: ...

    def breaker_transitioned(self, transition: Transition) -> None: ...


class Store(Protocol):
    """Every operation the control plane needs; `now` always comes from the caller's clock."""

    ok: bool  # False while the backend is failing; health turns CRITICAL

    async def load(self, now: float) -> LastEmitted:
        """Take up saved state before the first operation, telling the listener of every
        breaker; DatabaseRefused when the saved state cannot be used."""
        ...

    # the guard
    async def allow(self, breaker: str, limit: str, key: str, cost: int,
                    now: float) -> AllowResult: ...

    async def record(self, breaker: str, outcome: Outcome, duration: float, permit: str,
                     now: float) -> BreakerState:
        """Feed an outcome; an unknown breaker is NotFound (only allow creates breakers)."""
        ...

    async def add_error(self, report: ErrorReport, now: float) -> tuple[ErrorRecord, bool]:
        """Store the report's record; with a known idempotency key, the first record and False."""
        ...

    # breakers
    async def put_breaker(self, name: str, config: BreakerConfig, now: float) -> BreakerView: ...

    async def get_breaker(self, name: str, now: float) -> BreakerView:
        """The breaker as it stands at `now`: a due transition is applied first."""
        ...

    async def list_breakers(self, now: float, after: str = "",
                            limit: int | None = None) -> list[BreakerView]:
        """Breakers by name, due transitions applied first: those after `after`, at most
        `limit` (a page costs its size)."""
        ...

    async def delete_breaker(self, name: str) -> BreakerState:
        """Forget the breaker; return the state it was in."""
        ...

    async def transition_breaker(self, name: str, state: BreakerState,
                                 now: float) -> BreakerView: ...

    async def advance_breaker(self, name: str, now: float) -> float | None:
        """Apply what time alone changes; return the breaker's next deadline, if any."""
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

    # features
    async def put_feature(self, feature: Feature) -> Feature: ...

    async def list_features(self, after: str = "", limit: int | None = None) -> list[Feature]:
        """Features by name, paged like list_breakers."""
        ...

    async def delete_feature(self, name: str) -> None: ...

    # errors
    async def error_summary(self, now: float, recent: int) -> ErrorSummary: ...

    async def notifications(self, min_severity: Severity | None, limit: int,
                            include_acknowledged: bool,
                            after: str = "") -> tuple[list[ErrorRecord], int]:
        """Matching records newest first, older than the record `after` if given, at most
        `limit`; and how many match in all."""
        ...

    async def acknowledge(self, error_id: str) -> ErrorRecord: ...

    async def health_facts(self, now: float) -> HealthFacts: ...

    async def close(self) -> None: ...
