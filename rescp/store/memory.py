"""The in-memory store: the engines themselves, run on the event loop.

Every operation runs to completion without awaiting anything, so each is atomic with no locks
(asyncio runs one coroutine step at a time), and the events it causes are appended to the log in
the same step (rescp.store.effects gathers them). Nothing survives a restart; the SQLite store
is this one with a durable copy underneath.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from sortedcontainers import SortedDict

from rescp.clock import Clock
from rescp.engine.breaker import Breaker, BreakerConfig, Transition
from rescp.engine.errorlog import ErrorLog, ErrorRecord, ErrorReport, build_record
from rescp.engine.health import Degradation, Feature
from rescp.engine.ratelimit import LimitConfig, Limiter, LimitStatus, make_limiter
from rescp.enums import BreakerState, Severity, Verdict
from rescp.errors import InvalidArgument, NotFound, RescpError, TooManyBreakers
from rescp.events import BreakerDeleted, EventLog, RateLimitExceeded
from rescp.store.base import (
    AllowItem,
    AllowResult,
    Applied,
    BreakerView,
    ErrorSummary,
    HealthRules,
    RecordItem,
    SystemHealth,
)
from rescp.store.effects import Effects

_HALF_OPEN = BreakerState.HALF_OPEN
_ALLOWED, _BREAKER_OPEN, _RATE_LIMITED = Verdict.ALLOWED, Verdict.BREAKER_OPEN, Verdict.RATE_LIMITED


def _result(fields: tuple[Any, ...]) -> AllowResult:
    """An AllowResult from its fields in order, without NamedTuple's argument parsing."""
    result: AllowResult = tuple.__new__(AllowResult, fields)
    return result


def _page(items: SortedDict[str, Any], after: str, limit: int | None) -> Iterator[str]:
    """The keys after `after` (all when empty), at most `limit`, in order."""
    keys = items.irange(minimum=after, inclusive=(False, True)) if after else iter(items)
    return islice(keys, limit)


def view(breaker: Breaker, now: float) -> BreakerView:
    return BreakerView(
        name=breaker.name, config=breaker.config, state=breaker.state,
        failure_count=breaker.failure_count, success_count=breaker.success_count,
        last_failure_time=breaker.last_failure_time, state_since=breaker.state_since,
        failure_rate=breaker.failure_rate(now), slow_call_rate=breaker.slow_call_rate(now),
    )


class MemoryStore:
    def __init__(self, log: EventLog, clock: Clock,
                 default_breaker: BreakerConfig = BreakerConfig(), *,
                 rules: HealthRules = HealthRules(), error_history: int = 1000,
                 critical_window: float = 300.0, max_breakers: int = 10_000,
                 auto_create: bool = True) -> None:
        self.log = log
        self._clock = clock
        self._default_breaker = default_breaker
        self._max_breakers = max_breakers
        self._auto_create = auto_create
        self._breakers: SortedDict[str, Breaker] = SortedDict()  # sorted: pages cost their size
        self._limiters: SortedDict[str, Limiter] = SortedDict()
        self._features: SortedDict[str, Feature] = SortedDict()
        self._errors = ErrorLog(error_history, critical_window)
        self._effects = Effects(log, clock, rules, self._features.values, self._error_facts)

    @property
    def ok(self) -> bool:
        return self._effects.store_ok

    async def load(self, now: float) -> Applied[None]:
        return self._effects.applied(None)  # nothing is saved

    # the guard

    async def allow(self, items: Sequence[AllowItem],
                    now: float) -> Applied[list[AllowResult | RescpError]]:
        results: list[AllowResult | RescpError] = []
        append, decide = results.append, self._allow
        for item in items:
            try:
                append(decide(item, now))
            except RescpError as error:
                append(error)
        return self._effects.applied(results)

    def _allow(self, item: AllowItem, now: float) -> AllowResult:
        """One Allow; the hot path, so results are built as plain tuples (`_result`)."""
        breaker, limit, key, cost = item
        limiter = None
        if limit:
            limiter = self._limiters.get(limit)
            if limiter is None:
                raise NotFound("limit", limit)
            if cost > limiter.config.max_requests:
                raise InvalidArgument.one(
                    "cost", f"{cost} exceeds the capacity of limit {limit!r} "
                            f"({limiter.config.max_requests}); it could never pass")
        state: BreakerState | None = None
        permit = ""
        cb = None
        if breaker:
            cb = self._breakers.get(breaker) or self._auto_created(breaker, now)
            decision = cb.allow(now)
            state, permit = decision.state, decision.permit
            if state is _HALF_OPEN:
                self._effects.deadline(breaker, cb.next_deadline())  # a trial's expiry
            if not decision.allowed:
                return _result((False, _BREAKER_OPEN, state, decision.retry_after, -1, "", 0))
        if limiter is None:
            return _result((True, _ALLOWED, state, 0.0, -1, permit, 0))
        left = limiter.admit(key, cost, now)
        if left >= 0:
            return _result((True, _ALLOWED, state, 0.0, left, permit, 0))
        taken = limiter.refused(key, cost, now)
        if cb is not None:
            cb.release(permit, now)
        if taken.alert:
            self._effects.emit(RateLimitExceeded(limit, key, taken.retry_after, taken.alert))
        return _result((False, _RATE_LIMITED, state, taken.retry_after, taken.remaining,
                        "", taken.alert))

    async def record(self, items: Sequence[RecordItem],
                     now: float) -> Applied[list[BreakerState | RescpError]]:
        results: list[BreakerState | RescpError] = []
        for breaker, outcome, duration, permit, count in items:
            cb = self._breakers.get(breaker)
            if cb is None:
                results.append(NotFound("breaker", breaker))
                continue
            state = cb.state
            for _ in range(count):
                state = cb.record(outcome, duration, permit, now)
            results.append(state)
            self._recorded(cb)
        return self._effects.applied(results)

    async def add_error(self, report: ErrorReport,
                        now: float) -> Applied[tuple[ErrorRecord, bool]]:
        if report.idempotency_key:
            first = self._errors.find_key(report.idempotency_key)
            if first is not None:
                return self._effects.applied((first, False))
        record = build_record(report, uuid.uuid4().hex, self._clock.wall())
        self._keep_error(record)
        return self._effects.applied((record, True))

    # breakers

    async def put_breaker(self, name: str, config: BreakerConfig,
                          now: float) -> Applied[BreakerView]:
        cb = self._breakers.get(name)
        if cb is None:
            cb = self._create(name, now, config)
        else:
            cb.reconfigure(config, now)
        self._changed(cb)
        return self._effects.applied(view(cb, now))

    async def get_breaker(self, name: str, now: float) -> Applied[BreakerView]:
        cb = self._breaker(name)
        self._advance(cb, now)  # a due transition shows, though its timer has not fired yet
        return self._effects.applied(view(cb, now))

    async def list_breakers(self, now: float, after: str = "",
                            limit: int | None = None) -> Applied[list[BreakerView]]:
        views = []
        for name in _page(self._breakers, after, limit):
            cb = self._breakers[name]
            self._advance(cb, now)
            views.append(view(cb, now))
        return self._effects.applied(views)

    async def delete_breaker(self, name: str, now: float) -> Applied[BreakerState]:
        cb = self._breaker(name)
        del self._breakers[name]
        self._deleted(name)
        self._effects.emit(BreakerDeleted(name, cb.state))
        self._effects.state(name, None)
        self._effects.deadline(name, None)
        return self._effects.applied(cb.state)

    async def transition_breaker(self, name: str, state: BreakerState,
                                 now: float) -> Applied[BreakerView]:
        cb = self._breaker(name)
        cb.transition(state, now)
        self._changed(cb)
        return self._effects.applied(view(cb, now))

    async def advance_due(self, now: float) -> Applied[None]:
        for name in self._effects.due(now):
            cb = self._breakers.get(name)
            if cb is not None:
                self._advance(cb, now)
        return self._effects.applied(None)

    # limits

    async def put_limit(self, config: LimitConfig) -> LimitConfig:
        current = self._limiters.get(config.name)
        if current is None or current.config != config:
            self._limiters[config.name] = make_limiter(config)
        return config

    async def list_limits(self, after: str = "", limit: int | None = None) -> list[LimitConfig]:
        return [self._limiters[n].config for n in _page(self._limiters, after, limit)]

    async def delete_limit(self, name: str) -> None:
        self._limiter(name)
        del self._limiters[name]

    async def limit_status(self, name: str, key: str, now: float) -> LimitStatus:
        return self._limiter(name).status(key, now)

    async def give_back(self, name: str, key: str, tokens: int, now: float) -> int:
        limiter = self._limiter(name)
        limiter.give_back(key, tokens, now)
        return limiter.status(key, now).remaining

    async def sweep_idle(self, now: float, budget: int) -> None:
        for limiter in self._limiters.values():
            limiter.sweep(now, budget)

    # features and degradation

    async def put_feature(self, feature: Feature, now: float) -> Applied[Feature]:
        self._features[feature.name] = feature
        self._effects.stale()
        return self._effects.applied(feature)

    async def list_features(self, after: str = "", limit: int | None = None) -> list[Feature]:
        return [self._features[n] for n in _page(self._features, after, limit)]

    async def delete_feature(self, name: str, now: float) -> Applied[None]:
        if self._features.pop(name, None) is None:
            raise NotFound("feature", name)
        self._effects.stale()
        return self._effects.applied(None)

    async def degradation(self, now: float) -> Applied[Degradation]:
        self._effects.judge()
        return self._effects.applied(self._effects.degradation)

    # errors and health

    async def error_summary(self, now: float, recent: int) -> ErrorSummary:
        log = self._errors
        return ErrorSummary(log.total, dict(log.counts), log.recent(recent),
                            log.errors_per_minute(self._clock.wall()))

    async def notifications(self, min_severity: Severity | None, limit: int,
                            include_acknowledged: bool,
                            after: str = "") -> tuple[list[ErrorRecord], int]:
        return self._errors.notifications(min_severity, limit, include_acknowledged, after)

    async def acknowledge(self, error_id: str, now: float) -> Applied[ErrorRecord]:
        record = self._errors.acknowledge(error_id)
        self._effects.stale()
        return self._effects.applied(record)

    async def system_health(self, now: float) -> Applied[SystemHealth]:
        unclosed = sorted(self._effects.unclosed)
        for name in unclosed:
            self._advance(self._breakers[name], now)
        self._effects.judge()
        log = self._errors
        breakers = [view(self._breakers[n], now) for n in sorted(self._effects.unclosed)]
        return self._effects.applied(SystemHealth(
            self._effects.health, log.total, log.critical_total,
            len(self._effects.open_circuits), breakers))

    async def refresh(self, now: float) -> Applied[None]:
        self._effects.stale()
        return self._effects.applied(None)

    async def close(self) -> None:
        pass

    # what a durable store adds to (hooks; here they only keep the bookkeeping)

    def _transitioned(self, transition: Transition) -> None:
        self._effects.transitioned(transition)
        cb = self._breakers.get(transition.breaker)
        if cb is not None:
            self._effects.deadline(cb.name, cb.next_deadline())

    def _changed(self, cb: Breaker) -> None:
        """An admin change to the breaker (its config, or an operator's move)."""

    def _recorded(self, cb: Breaker) -> None:
        """Outcomes were counted on the breaker."""

    def _deleted(self, name: str) -> None:
        """The breaker is gone."""

    def _keep_error(self, record: ErrorRecord) -> None:
        self._errors.add(record)
        self._effects.emit(record)
        self._effects.stale()

    # helpers

    def _error_facts(self, wall: float) -> tuple[bool, float]:
        return self._errors.has_recent_critical(wall), self._errors.errors_per_minute(wall)

    def _advance(self, cb: Breaker, now: float) -> None:
        cb.advance(now)
        self._effects.deadline(cb.name, cb.next_deadline())

    def _create(self, name: str, now: float, config: BreakerConfig | None = None) -> Breaker:
        # Generations start at the creation time in µs: a permit of a deleted namesake (whose
        # generations started earlier and rose by one per transition) never looks current.
        cb = Breaker(name, config or self._default_breaker, now, self._transitioned,
                     generation=int(now * 1e6))
        self._breakers[name] = cb
        self._effects.state(name, cb.state)
        return cb

    def _auto_created(self, name: str, now: float) -> Breaker:
        """An unknown breaker named by Allow, created unless that is off or too many exist."""
        if not self._auto_create:
            raise NotFound("breaker", name)
        if len(self._breakers) >= self._max_breakers:
            raise TooManyBreakers(f"breaker {name!r} not created: {self._max_breakers} breakers "
                                  f"exist ([defaults] max_breakers)")
        cb = self._create(name, now)
        self._changed(cb)
        return cb

    def _breaker(self, name: str) -> Breaker:
        cb = self._breakers.get(name)
        if cb is None:
            raise NotFound("breaker", name)
        return cb

    def _limiter(self, name: str) -> Limiter:
        limiter = self._limiters.get(name)
        if limiter is None:
            raise NotFound("limit", name)
        return limiter
