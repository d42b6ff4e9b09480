"""The control plane on its own event loop, with stores that really await (as SQLite or Redis
will): a stale settle never disarms a newer timer, sequenced reads never miss an event, and
housekeeping survives any failure."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from rescp.clock import SystemClock
from rescp.engine.breaker import BreakerConfig, Transition
from rescp.enums import BreakerState, Outcome
from rescp.events import Event, EventLog
from rescp.plane import ControlPlane, PlaneSettings
from rescp.store.base import BreakerView, StoreListener
from rescp.store.memory import MemoryStore

FAST = PlaneSettings(housekeeping_interval=0.01)


class AwaitingStore(MemoryStore):
    """The memory store, but its reads answer what they saw and then wait, as a round trip to a
    real backend does: whatever happens meanwhile is not in the answer. The first deadline read
    is the slowest, so it is the one that comes back stale."""

    def __init__(self, listener: StoreListener) -> None:
        super().__init__(listener)
        self.delays: list[float] = []

    async def advance_breaker(self, name: str, now: float) -> float | None:
        deadline = await super().advance_breaker(name, now)
        await asyncio.sleep(self.delays.pop() if self.delays else 0.001)
        return deadline

    async def list_breakers(self, now: float, after: str = "",
                            limit: int | None = None) -> list[BreakerView]:
        views = await super().list_breakers(now, after, limit)
        await asyncio.sleep(0.02)
        return views


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
    def make(listener: StoreListener) -> MemoryStore:
        return store(listener)
    return ControlPlane(make, SystemClock(), EventLog(), settings)


def test_a_stale_settle_never_disarms_the_timer_of_a_newer_state() -> None:
    async def scenario() -> list[tuple[BreakerState, BreakerState]]:
        plane = plane_with(AwaitingStore)
        await plane.put_breaker("b", BreakerConfig(failure_threshold=1, recovery_timeout=0.1))
        assert isinstance(plane.store, AwaitingStore)
        plane.store.delays = [0.1]  # the reset's settle, below, is the slow one

        async def trip() -> None:
            await asyncio.sleep(0.005)  # while the reset below waits for its deadline
            await plane.record("b", Outcome.FAILURE, 0.0, "", None)

        await asyncio.gather(plane.transition_breaker("b", BreakerState.CLOSED), trip())
        await asyncio.sleep(0.4)  # no traffic: only the timer can move it to HALF_OPEN
        found = [(t.payload.from_state, t.payload.to_state) for t in await _transitions(plane)]
        await plane.stop()
        return found

    assert asyncio.run(scenario()) == [(BreakerState.CLOSED, BreakerState.OPEN),
                                      (BreakerState.OPEN, BreakerState.HALF_OPEN)]


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
        health = (await plane.system_health()).health
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
