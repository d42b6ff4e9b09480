"""The store seam itself, operation by operation, over every backend: what each returns in
`Applied` (its events, with consecutive sequences, the sequence a read reflects, the earliest
deadline, the breakers' states), that a batch is one operation with every item's answer, and
that advancing due breakers is idempotent. test_conformance checks the same through a server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from rescp.clock import SystemClock
from rescp.config import Config, ServerSettings
from rescp.engine.breaker import BreakerConfig, Transition
from rescp.engine.errorlog import ErrorRecord, ErrorReport
from rescp.engine.health import Degradation, Feature
from rescp.engine.ratelimit import LimitConfig
from rescp.enums import Algorithm, BreakerState, Health, Outcome, Verdict
from rescp.errors import NotFound
from rescp.events import BreakerDeleted, EventLog, HealthChange, RateLimitExceeded
from rescp.server.app import make_store
from rescp.store.base import AllowResult, Store
from tests.redis_server import RedisServer, needs_redis
from tests.store.conftest import BACKENDS

OPEN_AT_ONCE = BreakerConfig(failure_threshold=1, recovery_timeout=0.2)


def run(backend: str, tmp_path: Path, scenario: Callable[[Store], Awaitable[None]]) -> None:
    """Run `scenario` on a loaded store of `backend` (Redis: a redis-server of its own, with
    a timeout a loaded machine does not reach), closed afterwards."""
    async def main(location: str) -> None:
        config = Config(server=ServerSettings(store=location, redis_timeout=1.0))
        store = make_store(config, EventLog(), SystemClock())
        await store.load(SystemClock().now())
        try:
            await scenario(store)
        finally:
            await store.close()
    if backend == "redis":
        needs_redis()
        with RedisServer() as redis:
            asyncio.run(main(redis.url))
        return
    asyncio.run(main(f"sqlite:{tmp_path / 'rescp.db'}" if backend == "sqlite" else backend))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def now() -> float:
    return SystemClock().now()


def test_a_trip_returns_its_transition_consequences_state_and_deadline(
        backend: str, tmp_path: Path) -> None:
    async def scenario(store: Store) -> None:
        put = await store.put_breaker("b", OPEN_AT_ONCE, now())
        assert put.states == {"b": BreakerState.CLOSED} and put.deadline is None
        before = put.sequence
        tripped = await store.record([("b", Outcome.FAILURE, 0.0, "", 1)], now())
        assert tripped.result == [BreakerState.OPEN]
        kinds = [type(e.payload) for e in tripped.events]
        assert kinds == [Transition, Degradation, HealthChange]  # one step, in this order
        assert [e.sequence for e in tripped.events] == [before + 1, before + 2, before + 3]
        assert tripped.sequence == before + 3 and tripped.states == {"b": BreakerState.OPEN}
        assert tripped.deadline is not None and 0.1 < tripped.deadline - now() <= 0.2
        health = tripped.events[-1].payload
        assert isinstance(health, HealthChange) and health.to_health is Health.WARNING
    run(backend, tmp_path, scenario)


def test_a_batch_is_one_operation_with_an_answer_per_item(backend: str, tmp_path: Path) -> None:
    async def scenario(store: Store) -> None:
        await store.put_breaker("b", OPEN_AT_ONCE, now())
        await store.put_limit(LimitConfig("l", 2, 60.0, Algorithm.TOKEN_BUCKET))
        applied = await store.allow(
            [("b", "l", "k", 1), ("b", "l", "k", 1), ("b", "l", "k", 1), ("", "nope", "k", 1)],
            now())
        first, second, third, unknown = applied.result
        assert isinstance(first, AllowResult) and first.allowed and first.remaining == 1
        assert isinstance(second, AllowResult) and second.allowed and second.remaining == 0
        assert isinstance(third, AllowResult) and third.verdict is Verdict.RATE_LIMITED
        assert isinstance(unknown, NotFound)
        alerts = [e.payload for e in applied.events]
        assert len(alerts) == 1 and isinstance(alerts[0], RateLimitExceeded)
        recorded = await store.record([("b", Outcome.SUCCESS, 0.0, first.permit, 2),
                                       ("nobody", Outcome.FAILURE, 0.0, "", 1)], now())
        assert recorded.result[0] is BreakerState.CLOSED
        assert isinstance(recorded.result[1], NotFound) and not recorded.events
        assert (await store.get_breaker("b", now())).result.success_count == 2
    run(backend, tmp_path, scenario)


def test_advancing_is_idempotent_and_announces_once(backend: str, tmp_path: Path) -> None:
    async def scenario(store: Store) -> None:
        await store.put_breaker("b", OPEN_AT_ONCE, now())
        tripped = await store.record([("b", Outcome.FAILURE, 0.0, "", 1)], now())
        assert tripped.deadline is not None
        early = await store.advance_due(now())
        assert not early.events and early.deadline == tripped.deadline
        await asyncio.sleep(max(tripped.deadline - now(), 0.0) + 0.01)
        first, second = await store.advance_due(now()), await store.advance_due(now())
        moved = [e.payload for e in first.events if isinstance(e.payload, Transition)]
        assert [(t.from_state, t.to_state) for t in moved] == [(BreakerState.OPEN,
                                                                  BreakerState.HALF_OPEN)]
        assert first.states == {"b": BreakerState.HALF_OPEN} and first.deadline is None
        assert not second.events and second.sequence == first.sequence
    run(backend, tmp_path, scenario)


def test_reads_carry_the_sequence_they_reflect(backend: str, tmp_path: Path) -> None:
    async def scenario(store: Store) -> None:
        await store.put_feature(Feature("checkout", ("b",)), now())
        forced = await store.put_breaker("b", BreakerConfig(), now())
        forced = await store.transition_breaker("b", BreakerState.FORCED_OPEN, now())
        listed = await store.list_breakers(now())
        assert listed.sequence == forced.sequence == store.log.last_sequence
        assert [v.state for v in listed.result] == [BreakerState.FORCED_OPEN]
        degraded = await store.degradation(now())
        assert degraded.result.affected_count == 1 and degraded.sequence == forced.sequence
        health = await store.system_health(now())
        assert health.result.health is Health.WARNING and health.result.open_circuits == 1
        assert [v.name for v in health.result.breakers] == ["b"]
        gone = await store.delete_breaker("b", now())
        assert isinstance(gone.events[0].payload, BreakerDeleted)
        assert gone.states == {"b": None} and gone.result is BreakerState.FORCED_OPEN
        healed = [e.payload for e in gone.events[1:]]
        assert [type(p) for p in healed] == [Degradation, HealthChange]  # nothing open now
    run(backend, tmp_path, scenario)


def test_a_report_appends_its_notification_once_per_idempotency_key(
        backend: str, tmp_path: Path) -> None:
    async def scenario(store: Store) -> None:
        report = ErrorReport(error_type="TimeoutError", message="upstream timed out",
                             idempotency_key="k1")
        first = await store.add_error(report, now())
        record, new = first.result
        assert new and isinstance(first.events[0].payload, ErrorRecord)
        again = await store.add_error(report, now())
        assert again.result == (record, False) and not again.events
        acked = await store.acknowledge(record.error_id, now())
        assert acked.result.acknowledged
        with pytest.raises(NotFound):
            await store.acknowledge("nope", now())
    run(backend, tmp_path, scenario)
