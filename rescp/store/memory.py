"""The in-memory store: the engines themselves, run on the event loop.

Every method runs to completion without awaiting anything, so each operation is atomic with no
locks (asyncio runs one coroutine step at a time). Nothing survives a restart.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from itertools import islice
from typing import Any

from sortedcontainers import SortedDict

from rescp.engine.breaker import Breaker, BreakerConfig
from rescp.engine.errorlog import ErrorLog, ErrorRecord, ErrorReport, build_record
from rescp.engine.health import Feature
from rescp.engine.ratelimit import LimitConfig, Limiter, LimitStatus, make_limiter
from rescp.enums import BreakerState, Outcome, Severity, Verdict
from rescp.errors import InvalidArgument, NotFound, TooManyBreakers
from rescp.store.base import (
    AllowResult,
    BreakerView,
    ErrorSummary,
    HealthFacts,
    LastEmitted,
    StoreListener,
)


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
    def __init__(self, listener: StoreListener, default_breaker: BreakerConfig = BreakerConfig(),
                 *, error_history: int = 1000, critical_window: float = 300.0,
                 max_breakers: int = 10_000, auto_create: bool = True) -> None:
        self.ok = True
        self._listener = listener
        self._default_breaker = default_breaker
        self._max_breakers = max_breakers
        self._auto_create = auto_create
        self._breakers: SortedDict[str, Breaker] = SortedDict()  # sorted: pages cost their size
        self._limiters: SortedDict[str, Limiter] = SortedDict()
        self._features: SortedDict[str, Feature] = SortedDict()
        self._errors = ErrorLog(error_history, critical_window)

    async def load(self, now: float) -> LastEmitted:
        return LastEmitted(None, None)  # nothing is saved

    # the guard

    async def allow(self, breaker: str, limit: str, key: str, cost: int,
                    now: float) -> AllowResult:
        limiter = self._limiter(limit) if limit else None
        if limiter is not None and cost > limiter.config.max_requests:
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
            if not decision.allowed:
                return AllowResult(False, Verdict.BREAKER_OPEN, state, decision.retry_after,
                                   -1, "", 0)
        if limiter is None:
            return AllowResult(True, Verdict.ALLOWED, state, 0.0, -1, permit, 0)
        taken = limiter.acquire(key, cost, now)
        if not taken.allowed:
            if cb is not None:
                cb.release(permit, now)
            return AllowResult(False, Verdict.RATE_LIMITED, state, taken.retry_after,
                               taken.remaining, "", taken.alert)
        return AllowResult(True, Verdict.ALLOWED, state, 0.0, taken.remaining, permit, 0)

    async def record(self, breaker: str, outcome: Outcome, duration: float, permit: str,
                     now: float) -> BreakerState:
        return self._breaker(breaker).record(outcome, duration, permit, now)

    async def add_error(self, report: ErrorReport, now: float) -> tuple[ErrorRecord, bool]:
        if report.idempotency_key:
            first = self._errors.find_key(report.idempotency_key)
            if first is not None:
                return first, False
        record = build_record(report, uuid.uuid4().hex, now)
        self._errors.add(record)
        return record, True

    # breakers

    async def put_breaker(self, name: str, config: BreakerConfig, now: float) -> BreakerView:
        cb = self._breakers.get(name)
        if cb is None:
            cb = self._create(name, now, config)
        else:
            cb.reconfigure(config, now)
        return view(cb, now)

    async def get_breaker(self, name: str, now: float) -> BreakerView:
        cb = self._breaker(name)
        cb.advance(now)  # a due transition shows, though its timer has not fired yet
        return view(cb, now)

    async def list_breakers(self, now: float, after: str = "",
                            limit: int | None = None) -> list[BreakerView]:
        views = []
        for name in _page(self._breakers, after, limit):
            cb = self._breakers[name]
            cb.advance(now)
            views.append(view(cb, now))
        return views

    async def delete_breaker(self, name: str) -> BreakerState:
        cb = self._breaker(name)
        del self._breakers[name]
        return cb.state

    async def transition_breaker(self, name: str, state: BreakerState,
                                 now: float) -> BreakerView:
        cb = self._breaker(name)
        cb.transition(state, now)
        return view(cb, now)

    async def advance_breaker(self, name: str, now: float) -> float | None:
        cb = self._breakers.get(name)
        if cb is None:
            return None
        cb.advance(now)
        return cb.next_deadline()

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

    # features

    async def put_feature(self, feature: Feature) -> Feature:
        self._features[feature.name] = feature
        return feature

    async def list_features(self, after: str = "", limit: int | None = None) -> list[Feature]:
        return [self._features[n] for n in _page(self._features, after, limit)]

    async def delete_feature(self, name: str) -> None:
        if self._features.pop(name, None) is None:
            raise NotFound("feature", name)

    # errors

    async def error_summary(self, now: float, recent: int) -> ErrorSummary:
        log = self._errors
        return ErrorSummary(log.total, dict(log.counts), log.recent(recent),
                            log.errors_per_minute(now))

    async def notifications(self, min_severity: Severity | None, limit: int,
                            include_acknowledged: bool,
                            after: str = "") -> tuple[list[ErrorRecord], int]:
        return self._errors.notifications(min_severity, limit, include_acknowledged, after)

    async def acknowledge(self, error_id: str) -> ErrorRecord:
        return self._errors.acknowledge(error_id)

    async def health_facts(self, now: float) -> HealthFacts:
        log = self._errors
        return HealthFacts(log.has_recent_critical(now), log.errors_per_minute(now),
                           log.critical_total, log.total)

    async def close(self) -> None:
        pass

    # helpers

    def _create(self, name: str, now: float, config: BreakerConfig | None = None) -> Breaker:
        # Generations start at the creation time in µs: a permit of a deleted namesake (whose
        # generations started earlier and rose by one per transition) never looks current.
        cb = Breaker(name, config or self._default_breaker, now,
                     self._listener.breaker_transitioned, generation=int(now * 1e6))
        self._breakers[name] = cb
        self._listener.breaker_created(name, cb.state)
        return cb

    def _auto_created(self, name: str, now: float) -> Breaker:
        """An unknown breaker named by Allow, created unless that is off or too many exist."""
        if not self._auto_create:
            raise NotFound("breaker", name)
        if len(self._breakers) >= self._max_breakers:
            raise TooManyBreakers(f"breaker {name!r} not created: {self._max_breakers} breakers "
                                  f"exist ([defaults] max_breakers)")
        return self._create(name, now)

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
