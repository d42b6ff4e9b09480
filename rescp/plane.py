"""The control plane: the one object the servicers call.

It runs each operation on the store, then settles its consequences: breaker transitions become
events the moment a store reports them; afterwards degradation and system health are
recomputed and an event is appended only when they differ. A timer per open breaker moves it to
HALF_OPEN on time (so watchers and probes see it without traffic), and a housekeeping tick
re-evaluates what time alone changes (health decay, event retention, idle rate-limit keys); a
failure there is logged and the next tick runs as usual.

Decisions take `clock.now()` (monotonic); error records, events and the times shown to people take
`clock.wall()`. Reads that report a sequence are optimistic: the read is retried if an event was
appended while it awaited the store, so the state and the sequence it returns belong together and
list-then-watch never misses an event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from rescp.clock import Clock, to_wall
from rescp.engine.breaker import BreakerConfig, Transition
from rescp.engine.errorlog import ErrorRecord, ErrorReport
from rescp.engine.health import Degradation, Feature, degradation, health
from rescp.engine.ratelimit import LimitConfig, LimitStatus
from rescp.enums import OPEN_CIRCUIT_STATES, BreakerState, Health, Outcome, Severity, Verdict
from rescp.errors import RescpError, StoreUnavailable
from rescp.events import BreakerDeleted, EventLog, HealthChange, RateLimitExceeded
from rescp.observe import PlaneObserver
from rescp.store.base import AllowResult, BreakerView, ErrorSummary, Store, StoreListener

log = logging.getLogger(__name__)

SWEEP_BUDGET = 10_000
"""Idle rate-limit keys forgotten per limit per housekeeping tick: a few milliseconds of work."""

READ_ATTEMPTS = 8
"""Tries of a sequenced read before settling for one that may repeat (never miss) an event."""

T = TypeVar("T")

AllowArgs = tuple[str, str, str, int]
"""breaker, limit, key, cost: one validated Allow."""
RecordArgs = tuple[str, Outcome, float, str, ErrorReport | None, int]
"""breaker, outcome, duration, permit, error, count: one validated Record."""

BreakerStatusSink = Callable[[str, BreakerState | None], None]
"""Told every breaker's state as it changes (None when the breaker is deleted)."""


@dataclass(frozen=True, slots=True)
class PlaneSettings:
    """The `[health]` table; the ranges are what the config file may set."""

    error_rate_threshold: float = field(  # errors per minute above which health is WARNING
        default=10.0, metadata={"range": (0.0, 1e9)})
    recent_errors: int = field(default=10, metadata={"range": (0, 1000)})  # in GetErrorSummary
    housekeeping_interval: float = field(  # seconds between re-evaluations of time-driven state
        default=1.0, metadata={"range": (0.01, 60.0)})


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
                 events: EventLog, settings: PlaneSettings = PlaneSettings(), *,
                 allow_on_store_failure: bool = True) -> None:
        self.clock = clock
        self.allow_on_store_failure = allow_on_store_failure  # --store-failure-mode allow|deny
        self.events = events
        self.settings = settings
        self.store = make_store(self)
        self.observer = PlaneObserver()  # the server's metrics replace it
        self._states: dict[str, BreakerState] = {}
        self._open: set[str] = set()
        self._sinks: list[BreakerStatusSink] = []
        self._to_advance: set[str] = set()
        self._changes: dict[str, int] = {}  # transitions seen per breaker: a settle's staleness
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._dirty = True
        self._health = Health.HEALTHY
        self._degradation = Degradation(False, (), (), False)
        self._housekeeper: asyncio.Task[None] | None = None

    # lifecycle

    async def restore(self) -> None:
        """Take up the store's saved state, before anything else touches it: breakers come back
        in their states (timers armed for the OPEN ones), and health and degradation as last
        announced, so a restart repeats no announcement."""
        last = await self.store.load(self.clock.now())
        self._health = last.health or self._health
        self._degradation = last.degradation or self._degradation
        self._to_advance.update(self._states)
        self._dirty = True

    async def start(self) -> None:
        await self._settle()
        self._housekeeper = asyncio.create_task(self._housekeeping())

    async def stop(self) -> None:
        """Stop timers and background work, then close the store, whatever they raised."""
        try:
            self.events.close()
            for handle in self._timers.values():
                handle.cancel()
            tasks = [*self._tasks, *([self._housekeeper] if self._housekeeper else [])]
            for task in tasks:
                task.cancel()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.error("background work had failed", exc_info=outcome)
        finally:
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
        name = transition.breaker
        self.events.append(transition, self.clock.wall())
        self.observer.transitioned(transition)
        self._set_state(name, transition.to_state)
        self._changes[name] = self._changes.get(name, 0) + 1
        self._to_advance.add(name)
        self._dirty = True

    # the guard

    async def allow(self, breaker: str, limit: str, key: str, cost: int) -> AllowResult:
        return await self._allow_at(self.clock.now(), breaker, limit, key, cost)

    async def allow_many(self, items: Iterable[AllowArgs | RescpError],
                         ) -> list[AllowResult | RescpError]:
        """Many Allows decided in order at one instant, each as `allow` decides it; an item that
        is already an error (it did not validate) or fails is answered with its error, and never
        stops the others. One clock read per batch; consequences settle as after each Allow."""
        now = self.clock.now()
        allow, observe = self.store.allow, self.observer.allowed
        results: list[AllowResult | RescpError] = []
        append = results.append
        for item in items:
            if isinstance(item, RescpError):
                append(item)
                continue
            try:
                result = await allow(*item, now)
            except StoreUnavailable:
                append(self._without_store())
                continue
            except RescpError as error:
                append(error)
                continue
            observe(item[0], item[1], result)
            if result.alert or result.breaker_state is BreakerState.HALF_OPEN:
                self._allowed(result, item[0], item[1], item[2])
            if self._dirty or self._to_advance:
                await self._settle()
            append(result)
        return results

    async def record_many(self, items: Iterable[RecordArgs | RescpError],
                          ) -> list[tuple[BreakerState, ErrorRecord | None] | RescpError]:
        """Many Records applied in order, each exactly as `record` applies it; an item's error
        is its answer and never stops the others."""
        results: list[tuple[BreakerState, ErrorRecord | None] | RescpError] = []
        for item in items:
            if isinstance(item, RescpError):
                results.append(item)
                continue
            breaker, outcome, duration, permit, error, count = item
            try:
                results.append(await self.record(breaker, outcome, duration, permit, error,
                                                 count=count))
            except RescpError as error:
                results.append(error)
        return results

    async def _allow_at(self, now: float, breaker: str, limit: str, key: str,
                        cost: int) -> AllowResult:
        try:
            result = await self.store.allow(breaker, limit, key, cost, now)
        except StoreUnavailable:
            return self._without_store()
        self.observer.allowed(breaker, limit, result)
        self._allowed(result, breaker, limit, key)
        if self._dirty or self._to_advance:
            await self._settle()
        return result

    def _without_store(self) -> AllowResult:
        """The decision while the store fails: `allow_on_store_failure` says which."""
        if self.allow_on_store_failure:
            return AllowResult(True, Verdict.ALLOWED, None, 0.0, -1, "", 0)
        return AllowResult(False, Verdict.BREAKER_OPEN, None, 1.0, -1, "", 0)

    def _allowed(self, result: AllowResult, breaker: str, limit: str, key: str) -> None:
        """Note what an Allow caused: a rate-limit alert, a trial permit's deadline."""
        if result.alert:
            self.events.append(RateLimitExceeded(limit, key, result.retry_after, result.alert),
                               self.clock.wall())
        if result.permit and result.breaker_state is BreakerState.HALF_OPEN:
            self._to_advance.add(breaker)  # a trial permit: its expiry is a deadline to arm

    async def record(self, breaker: str, outcome: Outcome, duration: float, permit: str,
                     error: ErrorReport | None, *,
                     count: int = 1) -> tuple[BreakerState, ErrorRecord | None]:
        """Feed an outcome, `count` times in a row (each exactly as one Record)."""
        state = await self.store.record(breaker, outcome, duration, permit, self.clock.now())
        self.observer.recorded(breaker, outcome)
        for _ in range(count - 1):
            if self._dirty:
                await self._settle()
            state = await self.store.record(breaker, outcome, duration, permit,
                                            self.clock.now())
            self.observer.recorded(breaker, outcome)
        record = await self.report(error) if error is not None else None
        if self._dirty:
            await self._settle()
        return state, record

    async def report(self, report: ErrorReport) -> ErrorRecord:
        wall = self.clock.wall()
        record, new = await self.store.add_error(report, wall)
        if new:
            self.observer.reported(record)
            self.events.append(record, wall)
            self._dirty = True
            await self._settle()
        return record

    # breakers

    async def put_breaker(self, name: str, config: BreakerConfig) -> BreakerView:
        view = await self.store.put_breaker(name, config, self.clock.now())
        return await self._settled(view, name)

    async def get_breaker(self, name: str) -> BreakerView:
        view = await self.store.get_breaker(name, self.clock.now())
        await self._settle_if_needed()
        return self._shown(view)

    async def list_breakers(self, after: str = "",
                            limit: int | None = None) -> tuple[list[BreakerView], int]:
        views, sequence = await self._sequenced(
            lambda: self.store.list_breakers(self.clock.now(), after, limit))
        return [self._shown(v) for v in views], sequence

    async def delete_breaker(self, name: str) -> None:
        last_state = await self.store.delete_breaker(name)
        self.events.append(BreakerDeleted(name, last_state), self.clock.wall())
        self.observer.breaker_deleted(name)
        self._set_state(name, None)
        self._changes.pop(name, None)
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

    async def give_back(self, name: str, key: str, tokens: int) -> int:
        return await self.store.give_back(name, key, tokens, self.clock.now())

    async def limit_status(self, name: str, key: str) -> LimitStatus:
        status = await self.store.limit_status(name, key, self.clock.now())
        return status._replace(reset_at=to_wall(self.clock, status.reset_at))

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
        async def read() -> Degradation:
            self._dirty = True
            await self._settle()
            return self._degradation
        return await self._sequenced(read)

    # errors and health

    async def error_summary(self) -> ErrorSummary:
        return await self.store.error_summary(self.clock.wall(), self.settings.recent_errors)

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
        async def read() -> SystemHealth:
            views = await self.store.list_breakers(self.clock.now())
            self._dirty = True
            await self._settle()
            facts = await self.store.health_facts(self.clock.wall())
            return SystemHealth(self._health, facts.total, facts.critical_total, len(self._open),
                                [self._shown(v) for v in views
                                 if v.state is not BreakerState.CLOSED], 0)
        result, sequence = await self._sequenced(read)
        return replace(result, sequence=sequence)

    # consequences

    def _set_state(self, name: str, state: BreakerState | None) -> None:
        if state is None:
            self._states.pop(name, None)
        else:
            self._states[name] = state
        was_open = name in self._open
        if state in OPEN_CIRCUIT_STATES:
            self._open.add(name)
        else:
            self._open.discard(name)
        if was_open != (name in self._open):
            self._dirty = True
        for sink in self._sinks:
            sink(name, state)

    def _shown(self, view: BreakerView) -> BreakerView:
        """The view with its times on the wall clock, as people and clients read them."""
        last_failure = view.last_failure_time
        return replace(view, state_since=to_wall(self.clock, view.state_since),
                       last_failure_time=None if last_failure is None
                       else to_wall(self.clock, last_failure))

    async def _sequenced(self, read: Callable[[], Awaitable[T]]) -> tuple[T, int]:
        """`read()` and the sequence it reflects: retried while events land during it, so the
        two match; after READ_ATTEMPTS the sequence from before the read (never a miss)."""
        for _ in range(READ_ATTEMPTS):
            before = self.events.visible_sequence
            result = await read()
            if self.events.visible_sequence == before:
                return result, before
        return result, before

    async def _settle_if_needed(self) -> None:
        if self._dirty or self._to_advance:
            await self._settle()

    async def _settled(self, view: BreakerView, name: str) -> BreakerView:
        """Settle after an admin change to one breaker, then re-read it if it moved."""
        self._to_advance.add(name)
        await self._settle()
        if self._states.get(name) is not view.state:
            view = await self.store.get_breaker(name, self.clock.now())
        return self._shown(view)

    async def _settle(self) -> None:
        """Arm timers for breakers that changed, then emit degradation and health changes.

        A breaker that transitions while its deadline is being read is settled again, so a stale
        answer never replaces the timer of a newer state."""
        while self._to_advance:
            name = self._to_advance.pop()
            seen = self._changes.get(name, 0)
            deadline = await self.store.advance_breaker(name, self.clock.now())
            if self._changes.get(name, 0) == seen:
                self._arm(name, deadline)
            else:
                self._to_advance.add(name)
        if not self._dirty:
            return
        self._dirty = False
        wall = self.clock.wall()
        current = degradation(await self.store.list_features(), self._open)
        if current != self._degradation:
            self._degradation = current
            self.events.append(current, wall)
        facts = await self.store.health_facts(wall)
        new = health(open_circuits=len(self._open), recent_critical=facts.recent_critical,
                     errors_per_minute=facts.errors_per_minute,
                     error_rate_threshold=self.settings.error_rate_threshold,
                     store_ok=self.store.ok)
        if new is not self._health:
            self.events.append(HealthChange(self._health, new), wall)
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
        """Every tick: retention, idle keys, then health and degradation; a failing step is
        logged and the others, and the next tick, run as usual."""
        steps: tuple[tuple[str, Callable[[], Awaitable[None]]], ...] = (
            ("event retention", self._trim_events),
            ("idle rate-limit keys", lambda: self.store.sweep_idle(self.clock.now(),
                                                                    SWEEP_BUDGET)),
            ("health and degradation", self._resettle),
        )
        while True:
            await asyncio.sleep(self.settings.housekeeping_interval)
            for what, step in steps:
                try:
                    await step()
                except Exception:
                    log.exception("housekeeping: %s failed; retrying next tick", what)

    async def _trim_events(self) -> None:
        self.events.trim(self.clock.wall())

    async def _resettle(self) -> None:
        self._dirty = True
        await self._settle()
