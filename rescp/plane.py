"""The control plane: the one object the servicers call.

It runs each operation on the store and acts on what the operation returns (`Applied`): metrics
for the transitions it caused, the breakers' states for grpc health and pushed state, and one
timer for the store's earliest deadline, so an OPEN breaker half-opens on time with no traffic
(`advance_due`, idempotent, so replicas racing for it announce a transition once). The plane
keeps no state a second replica would need: the store owns the log, the deadlines, health and
degradation. A housekeeping tick asks the store for what time alone changes (due deadlines,
health decay, event retention, idle rate-limit keys); a failing step is logged and the next tick
runs as usual.

Decisions take `clock.now()` (monotonic); times shown to people are on the wall clock.
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
from rescp.engine.health import Degradation, Feature
from rescp.engine.ratelimit import LimitConfig, LimitStatus
from rescp.enums import BreakerState, Outcome, Severity, Verdict
from rescp.errors import NotFound, RescpError, StoreUnavailable
from rescp.events import BreakerDeleted, Event, EventLog
from rescp.observe import PlaneObserver
from rescp.store.base import (
    AllowItem,
    AllowResult,
    Applied,
    BreakerView,
    ErrorSummary,
    RecordItem,
    Store,
    SystemHealth,
)

log = logging.getLogger(__name__)

SWEEP_BUDGET = 10_000
"""Idle rate-limit keys forgotten per limit per housekeeping tick: a few milliseconds of work."""

T = TypeVar("T")

RecordArgs = tuple[str, Outcome, float, str, ErrorReport | None, int]
"""breaker, outcome, duration, permit, error, count: one validated Record and its report."""

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


class ControlPlane:
    def __init__(self, store: Store, clock: Clock, settings: PlaneSettings = PlaneSettings(),
                 *, allow_on_store_failure: bool = True) -> None:
        self.clock = clock
        self.allow_on_store_failure = allow_on_store_failure  # --store-failure-mode allow|deny
        self.settings = settings
        self.store = store
        self.observer = PlaneObserver()  # the server's metrics replace it
        self._states: dict[str, BreakerState] = {}
        self._sinks: list[BreakerStatusSink] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._housekeeper: asyncio.Task[None] | None = None
        store.log.observe(self._logged)

    @property
    def events(self) -> EventLog:
        """The store's log: what watchers read."""
        return self.store.log

    # lifecycle

    async def restore(self) -> None:
        """Take up the store's saved state before anything else touches it: breakers come back
        in their states, with the timer armed for the earliest deadline."""
        self._take(await self.store.load(self.clock.now()))

    async def start(self) -> None:
        self._housekeeper = asyncio.create_task(self._housekeeping())

    async def stop(self) -> None:
        """Stop timers and background work, then close the store, whatever they raised."""
        try:
            self.events.close()
            if self._timer is not None:
                self._timer.cancel()
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

    # the guard

    async def allow(self, breaker: str, limit: str, key: str, cost: int) -> AllowResult:
        result = (await self.allow_many(((breaker, limit, key, cost),)))[0]
        if isinstance(result, RescpError):
            raise result
        return result

    async def allow_many(self, items: Iterable[AllowItem | RescpError],
                         ) -> list[AllowResult | RescpError]:
        """Many Allows decided in order at one instant, in one store operation, each as a
        unary Allow decides it; an item that did not validate keeps its error, and an item's
        error never stops the others. While the store fails, the failure mode answers."""
        listed = list(items)
        valid = [i for i in listed if type(i) is tuple]
        answers: list[AllowResult | RescpError]
        try:
            answers = self._take(await self.store.allow(valid, self.clock.now()))
        except StoreUnavailable:
            answers = [self._without_store()] * len(valid)
        self.observer.allowed_many(valid, answers)
        if len(valid) == len(listed):
            return answers
        decided = iter(answers)
        return [item if isinstance(item, RescpError) else next(decided) for item in listed]

    def _without_store(self) -> AllowResult:
        """The decision while the store fails: `allow_on_store_failure` says which."""
        if self.allow_on_store_failure:
            return AllowResult(True, Verdict.ALLOWED, None, 0.0, -1, "", 0)
        return AllowResult(False, Verdict.BREAKER_OPEN, None, 1.0, -1, "", 0)

    async def record(self, breaker: str, outcome: Outcome, duration: float, permit: str,
                     error: ErrorReport | None, *,
                     count: int = 1) -> tuple[BreakerState, ErrorRecord | None]:
        """Feed an outcome, `count` times in a row (each exactly as one Record)."""
        answer = (await self.record_many(((breaker, outcome, duration, permit, error, count),)))[0]
        if isinstance(answer, RescpError):
            raise answer
        return answer

    async def record_many(self, items: Iterable[RecordArgs | RescpError],
                          ) -> list[tuple[BreakerState, ErrorRecord | None] | RescpError]:
        """Many Records applied in order in one store operation, each as a unary Record; then
        the reports some carry. An item's error is its answer and never stops the others."""
        listed = list(items)
        valid: list[RecordItem] = [(b, o, d, p, n) for b, o, d, p, _, n in
                                   (i for i in listed if not isinstance(i, RescpError))]
        applied: list[BreakerState | RescpError] = self._take(
            await self.store.record(valid, self.clock.now()))
        states = iter(applied)
        results: list[tuple[BreakerState, ErrorRecord | None] | RescpError] = []
        for item in listed:
            if isinstance(item, RescpError):
                results.append(item)
                continue
            state = next(states)
            if isinstance(state, RescpError):
                results.append(state)
                continue
            self.observer.recorded(item[0], item[1])
            error = item[4]
            try:
                record = await self.report(error) if error is not None else None
            except RescpError as failure:
                results.append(failure)
                continue
            results.append((state, record))
        return results

    async def report(self, report: ErrorReport) -> ErrorRecord:
        record, new = self._take(await self.store.add_error(report, self.clock.now()))
        if new:
            self.observer.reported(record)
        return record

    # breakers

    async def put_breaker(self, name: str, config: BreakerConfig) -> BreakerView:
        view = self._take(await self.store.put_breaker(name, config, self.clock.now()))
        return self._shown(view)

    async def get_breaker(self, name: str) -> BreakerView:
        return self._shown(self._take(await self.store.get_breaker(name, self.clock.now())))

    async def breaker_state(self, name: str) -> BreakerState | None:
        """The breaker's state read from the store (None: there is none), and followed from
        then on: how a replica learns of a breaker another one created."""
        try:
            state = (await self.get_breaker(name)).state
        except NotFound:
            return None
        self._set_state(name, state)
        return state

    async def list_breakers(self, after: str = "",
                            limit: int | None = None) -> tuple[list[BreakerView], int]:
        """A page of breakers and the sequence it reflects (one atomic read)."""
        applied = await self.store.list_breakers(self.clock.now(), after, limit)
        return [self._shown(v) for v in self._take(applied)], applied.sequence

    async def delete_breaker(self, name: str) -> None:
        self._take(await self.store.delete_breaker(name, self.clock.now()))
        self.observer.breaker_deleted(name)

    async def transition_breaker(self, name: str, state: BreakerState) -> BreakerView:
        view = self._take(await self.store.transition_breaker(name, state, self.clock.now()))
        return self._shown(view)

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
        return self._take(await self.store.put_feature(feature, self.clock.now()))

    async def list_features(self, after: str = "", limit: int | None = None) -> list[Feature]:
        return await self.store.list_features(after, limit)

    async def delete_feature(self, name: str) -> None:
        self._take(await self.store.delete_feature(name, self.clock.now()))

    async def degradation(self) -> tuple[Degradation, int]:
        applied = await self.store.degradation(self.clock.now())
        return self._take(applied), applied.sequence

    # errors and health

    async def error_summary(self) -> ErrorSummary:
        return await self.store.error_summary(self.clock.now(), self.settings.recent_errors)

    async def notifications(self, min_severity: Severity | None, limit: int,
                            include_acknowledged: bool,
                            after: str = "") -> tuple[list[ErrorRecord], int]:
        return await self.store.notifications(min_severity, limit, include_acknowledged, after)

    async def acknowledge(self, error_id: str) -> ErrorRecord:
        return self._take(await self.store.acknowledge(error_id, self.clock.now()))

    async def system_health(self) -> tuple[SystemHealth, int]:
        """Health, counts and the breakers not CLOSED, and the sequence they reflect."""
        applied = await self.store.system_health(self.clock.now())
        health = self._take(applied)
        return replace(health, breakers=[self._shown(v) for v in health.breakers]), \
            applied.sequence

    # consequences

    def _take(self, applied: Applied[T]) -> T:
        """Act on what a store operation caused; its result."""
        for name, state in applied.states.items():
            self._set_state(name, state)
        if applied.deadline is not None:
            self._arm(applied.deadline)
        return applied.result

    def _logged(self, event: Event) -> None:
        """Every event the store's log takes, whichever process caused it: the metrics of
        transitions, and breakers' states (a replica learns of another's moves here)."""
        payload = event.payload
        if isinstance(payload, Transition):
            self.observer.transitioned(payload)
            self._set_state(payload.breaker, payload.to_state)
        elif isinstance(payload, BreakerDeleted):
            self._set_state(payload.breaker, None)

    def _set_state(self, name: str, state: BreakerState | None) -> None:
        if self._states.get(name) is state:
            return
        if state is None:
            del self._states[name]
        else:
            self._states[name] = state
        for sink in self._sinks:
            sink(name, state)

    def _shown(self, view: BreakerView) -> BreakerView:
        """The view with its times on the wall clock, as people and clients read them."""
        last_failure = view.last_failure_time
        return replace(view, state_since=to_wall(self.clock, view.state_since),
                       last_failure_time=None if last_failure is None
                       else to_wall(self.clock, last_failure))

    def _arm(self, deadline: float) -> None:
        """Keep one timer, at the earliest deadline known; firing early costs one empty
        `advance_due`, which names the next one."""
        if self._timer is not None:
            if self._timer_at <= deadline:
                return
            self._timer.cancel()
        delay = max(deadline - self.clock.now(), 0.0)
        self._timer_at = deadline
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._spawn(self._advance)

    async def _advance(self) -> None:
        self._take(await self.store.advance_due(self.clock.now()))

    def _spawn(self, work: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            try:
                await work()
            except Exception:
                log.exception("advancing due breakers failed; the next tick retries")

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _housekeeping(self) -> None:
        """Every tick: due deadlines, retention, idle keys, then health and degradation; a
        failing step is logged and the others, and the next tick, run as usual."""
        steps: tuple[tuple[str, Callable[[], Awaitable[None]]], ...] = (
            ("due breakers", self._advance),
            ("event retention", self._trim_events),
            ("idle rate-limit keys", lambda: self.store.sweep_idle(self.clock.now(),
                                                                    SWEEP_BUDGET)),
            ("health and degradation", self._refresh),
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

    async def _refresh(self) -> None:
        self._take(await self.store.refresh(self.clock.now()))
