"""The control plane on its own event loop, with stores that really await (as SQLite or Redis
do): one timer serves every deadline however they come and go, a read's sequence matches its
state, advancing due breakers is idempotent across planes sharing a store, and housekeeping
survives any failure."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from rescp.clock import SystemClock
from rescp.engine.breaker import BreakerConfig, Transition
from rescp.engine.errorlog import ErrorReport
from rescp.enums import BreakerState, Outcome
from rescp.events import Event, EventLog
from rescp.plane import ControlPlane, PlaneSettings
from rescp.store.base import Applied, BreakerView
from rescp.store.memory import MemoryStore

FAST = PlaneSettings(housekeeping_interval=0.01)
SLOW = PlaneSettings(housekeeping_interval=60.0)  # only the timer can move a breaker


class AwaitingStore(MemoryStore):
    """The memory store, but its reads answer what they saw and then wait, as a round trip to a
    real backend does: whatever happens meanwhile is not in the answer."""

    async def list_breakers(self, now: float, after: str = "",
                            limit: int | None = None) -> Applied[list[BreakerView]]:
        applied = await super().list_breakers(now, after, limit)
        await asyncio.sleep(0.02)
        return applied


class FailingStore(MemoryStore):
    """A store whose idle-key sweep always fails and whose close is recorded."""

    sweeps = 0
    closed = False

    async def sweep_idle(self, now: float, budget: int) -> None:
        self.sweeps += 1
        raise OSError("disk on fire")

    async def close(self) -> None:
        self.closed = True


def plane_with(store: type[MemoryStore], settings: PlaneSettings = FAST) -> ControlPlane:
    clock = SystemClock()
    return ControlPlane(store(EventLog(), clock), clock, settings)


async def _trip(plane: ControlPlane, name: str, recovery: float) -> None:
    await plane.put_breaker(name, BreakerConfig(failure_threshold=1, recovery_timeout=recovery))
    await plane.record(name, Outcome.FAILURE, 0.0, "", None)


def test_one_timer_serves_deadlines_that_come_and_go() -> None:
    async def scenario() -> list[tuple[str, BreakerState]]:
        plane = plane_with(MemoryStore, SLOW)
        await _trip(plane, "late", 1.0)
        await _trip(plane, "early", 0.1)  # an earlier deadline moves the timer forward
        await _trip(plane, "gone", 0.05)
        await plane.transition_breaker("gone", BreakerState.CLOSED)  # its deadline goes
        await asyncio.sleep(0.4)
        moved = [(t.payload.breaker, t.payload.to_state) for t in await _transitions(plane)
                 if t.payload.reason == "recovery_timeout"]
        await asyncio.sleep(0.9)
        moved += [(t.payload.breaker, t.payload.to_state) for t in await _transitions(plane)
                  if t.payload.reason == "recovery_timeout" and t.payload.breaker == "late"]
        await plane.stop()
        return moved

    assert asyncio.run(scenario()) == [("early", BreakerState.HALF_OPEN),
                                      ("late", BreakerState.HALF_OPEN)]


def test_planes_sharing_a_store_announce_a_due_transition_once() -> None:
    async def scenario() -> list[Event]:
        clock = SystemClock()
        store = MemoryStore(EventLog(), clock)
        first, second = (ControlPlane(store, clock, FAST), ControlPlane(store, clock, FAST))
        await second.start()  # its housekeeping races first's timer for the deadline
        await _trip(first, "b", 0.05)
        await asyncio.sleep(0.3)
        found = [t for t in await _transitions(first) if t.payload.reason == "recovery_timeout"]
        await first.stop()
        await second.stop()
        return found

    assert len(asyncio.run(scenario())) == 1


class Counted:
    """A store whose every operation is counted: what one plane call costs in round trips."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.store, name)
        if not asyncio.iscoroutinefunction(found):
            return found

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return await found(*args, **kwargs)
        return counted


def test_a_half_opening_allow_and_a_report_are_one_store_operation_each() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        clock = SystemClock()
        counted = Counted(MemoryStore(EventLog(), clock))
        plane = ControlPlane(counted, clock, SLOW)  # type: ignore[arg-type]
        await _trip(plane, "b", 0.01)
        await asyncio.sleep(0.02)
        if plane._timer is not None:
            plane._timer.cancel()  # the Allow below, not the timer, half-opens it
        counted.calls.clear()
        assert (await plane.allow("b", "", "", 1)).breaker_state is BreakerState.HALF_OPEN
        allow_calls, counted.calls = counted.calls, []
        await plane.report(ErrorReport(error_type="TimeoutError", message="slow"))
        report_calls = list(counted.calls)
        await plane.stop()
        return allow_calls, report_calls

    allow_calls, report_calls = asyncio.run(scenario())
    assert allow_calls == ["allow"] and report_calls == ["add_error"]


def test_a_sequenced_read_matches_its_sequence() -> None:
    async def scenario() -> tuple[BreakerState, int, int]:
        plane = plane_with(AwaitingStore)
        await plane.put_breaker("b", BreakerConfig())

        async def force() -> None:
            await asyncio.sleep(0.005)  # while the list below is in flight
            await plane.transition_breaker("b", BreakerState.FORCED_OPEN)

        (views, sequence), _ = await asyncio.gather(plane.list_breakers(), force())
        forced_at = (await _transitions(plane))[-1].sequence
        await plane.stop()
        return views[0].state, sequence, forced_at

    state, sequence, forced_at = asyncio.run(scenario())
    # either the read shows the change and its sequence covers its event, or neither
    assert (state is BreakerState.FORCED_OPEN) == (sequence >= forced_at)


def test_housekeeping_survives_a_failing_step_and_stop_still_closes_the_store(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> tuple[FailingStore, list[Any]]:
        plane = plane_with(FailingStore)
        await plane.start()
        store = plane.store
        assert isinstance(store, FailingStore)
        await asyncio.sleep(0.1)
        await plane.put_breaker("b", BreakerConfig(failure_threshold=1))
        await plane.transition_breaker("b", BreakerState.FORCED_OPEN)  # health WARNING
        await asyncio.sleep(0.05)  # the later steps of each tick still ran
        health = (await plane.system_health())[0].health
        await plane.stop()
        return store, [health]

    with caplog.at_level(logging.ERROR):
        store, (health,) = asyncio.run(scenario())
    assert store.sweeps >= 5 and store.closed
    assert health.name == "WARNING"
    assert "idle rate-limit keys failed" in caplog.text


async def _transitions(plane: ControlPlane) -> list[Event]:
    """Every transition event in the plane's log so far."""
    sub = plane.events.subscribe(0)
    found: list[Event] = []
    while sub.cursor <= plane.events.last_sequence:
        found.extend(e for e in await plane.events.next_batch(sub)
                     if isinstance(e.payload, Transition))
    plane.events.unsubscribe(sub)
    return found
