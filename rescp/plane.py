"""The control plane: the one object the servicers call.

It runs each operation on the store, then settles its consequences: breaker transitions become
events the moment a store reports them; afterwards degradation and system health are
recomputed and an event is appended only when they differ. A timer per open breaker moves it to
HALF_OPEN on time (so watchers and probes see it without traffic), and a housekeeping tick
re-evaluates what time alone changes (health decay, event retention, idle rate-limit keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rescp.clock import Clock
from rescp.engine.breaker import BreakerConfig, Transition
from rescp.engine.errorlog import ErrorRecord, ErrorReport
from rescp.engine.health import Degradation, Feature, degradation, health
from rescp.engine.ratelimit import LimitConfig, LimitStatus
from rescp.enums import OPEN_STATES, BreakerState, Health, Outcome, Severity
from rescp.events import EventLog, HealthChange, RateLimitExceeded
from rescp.store.base import AllowResult, BreakerView, ErrorSummary, Store, StoreListener

log = logging.getLogger(__name__)

SWEEP_BUDGET = 10_000
"""Idle rate-limit keys forgotten per limit per housekeeping tick: a few milliseconds of work."""

BreakerStatusSink = Callable[[str, BreakerState | None], None]
"""Told every breaker's state as it changes (None when the breaker is deleted)."""


@dataclass(frozen=True, slots=True)
class PlaneSettings:
    error_rate_threshold: float = 10.0  # errors per minute above which health is WARNING
    recent_errors: int = 10  # errors listed by GetErrorSummary
    housekeeping_interval: float = 1.0  # seconds between re-evaluations of time-driven state


@dataclass(frozen=True, slots=True)
class SystemHealth:
    health: Health
    total_errors: int
    critical_errors: int
    open_circuits: int
    breakers: list[BreakerView]  # those not CLOSED
    sequence: int


class ControlPlane(StoreListener):
    def __init__(self, make_store: Callable[[StoreListener], Store], clock: Clock,
                 events: EventLog, settings: PlaneSettings = PlaneSettings()) -> None:
        self.clock = clock
        self.events = events
        self.settings = settings
        self.store = make_store(self)
        self._states: dict[str, BreakerState] = {}
        self._open: set[str] = set()
        self._sinks: list[BreakerStatusSink] = []
        self._to_advance: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._dirty = True
        self._health = Health.HEALTHY
        self._degradation = Degradation(False, (), (), False)
        self._housekeeper: asyncio.Task[None] | None = None

    # lifecycle

    async def start(self) -> None:
        await self._settle()
        self._housekeeper = asyncio.create_task(self._housekeeping())

    async def stop(self) -> None:
        self.events.close()
        for handle in self._timers.values():
            handle.cancel()
        tasks = [*self._tasks, *([self._housekeeper] if self._housekeeper else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.close()

    def watch_breakers(self, sink: BreakerStatusSink) -> None:
        """Call `sink` now for every breaker and later on every change."""
        self._sinks.append(sink)
        for name, state in self._states.items():
            sink(name, state)

    # StoreListener: called by the store, synchronously, as things happen

    def breaker_created(self, name: str, state: BreakerState) -> None:
        self._set_state(name, state)

    def breaker_transitioned(self, transition: Transition) -> None:
        self.events.append(transition, transition.time)
        self._set_state(transition.breaker, transition.to_state)
        self._to_advance.add(transition.breaker)
        self._dirty = True

    # the guard

    async def allow(self, breaker: str, limit: str, key: str, cost: int) -> AllowResult:
        now = self.clock.now()
        result = await self.store.allow(breaker, limit, key, cost, now)
        if result.alert:
            self.events.append(RateLimitExceeded(limit, key, result.retry_after, result.alert), now)
        if self._dirty:
            await self._settle()
        return result

    async def record(self, breaker: str, outcome: Outcome, duration: float, permit: str,
                     error: ErrorReport | None) -> tuple[BreakerState, ErrorRecord | None]:
        state = await self.store.record(breaker, outcome, duration, permit, self.clock.now())
        record = await self.report(error) if error is not None else None
        if self._dirty:
            await self._settle()
        return state, record

    async def report(self, report: ErrorReport) -> ErrorRecord:
        now = self.clock.now()
        record, new = await self.store.add_error(report, now)
        if new:
            self.events.append(record, now)
            self._dirty = True
            await self._settle()
        return record

    # breakers

    async def put_breaker(self, name: str, config: BreakerConfig) -> BreakerView:
        view = await self.store.put_breaker(name, config, self.clock.now())
        return await self._settled(view, name)

    async def get_breaker(self, name: str) -> BreakerView:
        return await self.store.get_breaker(name, self.clock.now())

    async def list_breakers(self, after: str = "",
                            limit: int | None = None) -> tuple[list[BreakerView], int]:
        views = await self.store.list_breakers(self.clock.now(), after, limit)
        return views, self.events.last_sequence

    async def delete_breaker(self, name: str) -> None:
        await self.store.delete_breaker(name)
        self._set_state(name, None)
        if (handle := self._timers.pop(name, None)) is not None:
            handle.cancel()
        self._dirty = True
        await self._settle()

    async def transition_breaker(self, name: str, state: BreakerState) -> BreakerView:
        view = await self.store.transition_breaker(name, state, self.clock.now())
        return await self._settled(view, name)

    # limits

    async def put_limit(self, config: LimitConfig) -> LimitConfig:
        return await self.store.put_limit(config)

    async def list_limits(self, after: str = "", limit: int | None = None) -> list[LimitConfig]:
        return await self.store.list_limits(after, limit)

    async def delete_limit(self, name: str) -> None:
        await self.store.delete_limit(name)

    async def limit_status(self, name: str, key: str) -> LimitStatus:
        return await self.store.limit_status(name, key, self.clock.now())

    # features and degradation

    async def put_feature(self, feature: Feature) -> Feature:
        stored = await self.store.put_feature(feature)
        self._dirty = True
        await self._settle()
        return stored

    async def list_features(self, after: str = "", limit: int | None = None) -> list[Feature]:
        return await self.store.list_features(after, limit)

    async def delete_feature(self, name: str) -> None:
        await self.store.delete_feature(name)
        self._dirty = True
        await self._settle()

    async def degradation(self) -> tuple[Degradation, int]:
        await self._settle()
        return self._degradation, self.events.last_sequence

    # errors and health

    async def error_summary(self) -> ErrorSummary:
        return await self.store.error_summary(self.clock.now(), self.settings.recent_errors)

    async def notifications(self, min_severity: Severity | None, limit: int,
                            include_acknowledged: bool,
                            after: str = "") -> tuple[list[ErrorRecord], int]:
        return await self.store.notifications(min_severity, limit, include_acknowledged, after)

    async def acknowledge(self, error_id: str) -> ErrorRecord:
        record = await self.store.acknowledge(error_id)
        self._dirty = True
        await self._settle()
        return record

    async def system_health(self) -> SystemHealth:
        self._dirty = True
        await self._settle()
        now = self.clock.now()
        facts = await self.store.health_facts(now)
        views = await self.store.list_breakers(now)
        return SystemHealth(self._health, facts.total, facts.critical_total, len(self._open),
                            [v for v in views if v.state is not BreakerState.CLOSED],
                            self.events.last_sequence)

    # consequences

    def _set_state(self, name: str, state: BreakerState | None) -> None:
        if state is None:
            self._states.pop(name, None)
        else:
            self._states[name] = state
        was_open = name in self._open
        if state in OPEN_STATES:
            self._open.add(name)
        else:
            self._open.discard(name)
        if was_open != (name in self._open):
            self._dirty = True
        for sink in self._sinks:
            sink(name, state)

    async def _settled(self, view: BreakerView, name: str) -> BreakerView:
        """Settle after an admin change to one breaker, then re-read it if it moved."""
        self._to_advance.add(name)
        await self._settle()
        if self._states.get(name) is view.state:
            return view
        return await self.store.get_breaker(name, self.clock.now())

    async def _settle(self) -> None:
        """Arm timers for breakers that changed, then emit degradation and health changes."""
        while self._to_advance:
            name = self._to_advance.pop()
            deadline = await self.store.advance_breaker(name, self.clock.now())
            self._arm(name, deadline)
        if not self._dirty:
            return
        self._dirty = False
        now = self.clock.now()
        current = degradation(await self.store.list_features(), self._open)
        if current != self._degradation:
            self._degradation = current
            self.events.append(current, now)
        facts = await self.store.health_facts(now)
        new = health(open_circuits=len(self._open), recent_critical=facts.recent_critical,
                     errors_per_minute=facts.errors_per_minute,
                     error_rate_threshold=self.settings.error_rate_threshold,
                     store_ok=self.store.ok)
        if new is not self._health:
            self.events.append(HealthChange(self._health, new), now)
            self._health = new

    def _arm(self, name: str, deadline: float | None) -> None:
        if (handle := self._timers.pop(name, None)) is not None:
            handle.cancel()
        if deadline is None:
            return
        loop = asyncio.get_running_loop()
        delay = max(deadline - self.clock.now(), 0.0)
        self._timers[name] = loop.call_later(delay, self._fire, name)

    def _fire(self, name: str) -> None:
        self._timers.pop(name, None)
        self._to_advance.add(name)
        self._spawn(self._settle)

    def _spawn(self, work: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            try:
                await work()
            except Exception:
                log.exception("background settle failed")

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.settings.housekeeping_interval)
            now = self.clock.now()
            self.events.trim(now)
            await self.store.sweep_idle(now, SWEEP_BUDGET)
            self._dirty = True
            try:
                await self._settle()
            except Exception:
                log.exception("housekeeping failed")
