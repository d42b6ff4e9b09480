"""The Lua engines against the Python ones: for any sequence of Allow, Record (one at a time or
in batches), time passing, advance_due, operator moves and reconfiguration, on one hand-driven
clock, the Redis store and the memory store give the same answers, states, views and events.

Both stores run on a ManualClock (the Redis one with `redis_time=False`, so its scripts take the
caller's time instead of Redis TIME), against a real redis-server flushed before each example.
Trial tokens are random in both, so permits are compared without them and each store is fed the
permits it handed out itself. Not compared: deadlines (memory may keep an earlier, harmless one
after a trial is recorded) and an alert's count of refusals once its key was idle (memory's
eviction and Redis expiry forget pending refusals at different moments; whether an alert fires
is compared).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis import Redis

from rescp.engine.breaker import BreakerConfig
from rescp.engine.ratelimit import LimitConfig
from rescp.enums import Algorithm, BreakerState, Outcome, WindowType
from rescp.errors import RescpError
from rescp.events import EventLog
from rescp.store.base import Applied
from rescp.store.memory import MemoryStore
from rescp.store.redis import RedisStore
from rescp.testing import ManualClock
from tests.redis_server import RedisServer, needs_redis

CONFIGS = [
    BreakerConfig(failure_threshold=2, recovery_timeout=1.5, half_open_permits=2),
    BreakerConfig(failure_threshold=0, failure_rate_threshold=50.0, window_size=4,
                  minimum_calls=2, recovery_timeout=2.0),
    BreakerConfig(failure_threshold=3, slow_call_rate_threshold=40.0, slow_call_duration=0.5,
                  window_type=WindowType.TIME, window_size=3, minimum_calls=2,
                  recovery_timeout=1.0, half_open_permits=3),
    BreakerConfig(failure_threshold=1, failure_rate_threshold=30.0,
                  window_type=WindowType.TIME, window_size=2, minimum_calls=1,
                  recovery_timeout=0.75),
]
LIMITS = [
    LimitConfig("sw", 3, 2.0),
    LimitConfig("tb", 4, 3.0, Algorithm.TOKEN_BUCKET),
    LimitConfig("tb2", 7, 0.7, Algorithm.TOKEN_BUCKET),
]
BREAKERS = ["a", "b", ""]

allow = st.tuples(st.just("allow"), st.sampled_from(BREAKERS),
                  st.sampled_from(["", "sw", "tb", "tb2"]), st.sampled_from(["k1", "k2"]),
                  st.integers(1, 3))
record = st.tuples(st.just("record"), st.sampled_from(["a", "b"]),
                   st.sampled_from([Outcome.SUCCESS, Outcome.FAILURE, Outcome.IGNORED]),
                   st.sampled_from([0.0, 0.2, 0.9]), st.sampled_from(["last", "", "old"]),
                   st.integers(1, 3))
wait = st.tuples(st.just("wait"), st.one_of(
    st.floats(0.0, 0.5, allow_nan=False), st.sampled_from([0.75, 1.0, 1.5, 2.0, 3.0])))
step = st.one_of(
    allow, allow, allow, record, record, record, wait, wait,
    st.tuples(st.just("allow_batch"), st.lists(allow, min_size=2, max_size=8)),
    st.tuples(st.just("record_batch"), st.lists(record, min_size=2, max_size=8)),
    st.tuples(st.just("advance")),
    st.tuples(st.just("transition"), st.sampled_from(["a", "b"]),
              st.sampled_from([BreakerState.CLOSED, BreakerState.FORCED_OPEN,
                               BreakerState.DISABLED, BreakerState.OPEN])),
    st.tuples(st.just("configure"), st.sampled_from(["a", "b"]),
              st.sampled_from(range(len(CONFIGS)))),
    st.tuples(st.just("view"), st.sampled_from(["a", "b"])),
    st.tuples(st.just("status"), st.sampled_from(["sw", "tb", "tb2"]),
              st.sampled_from(["k1", "k2"])),
    st.tuples(st.just("give_back"), st.sampled_from(["sw", "tb", "tb2"]),
              st.sampled_from(["k1", "k2"]), st.integers(1, 3)),
)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    needs_redis()
    with RedisServer() as server:
        yield server.url


def plain(value: Any) -> Any:
    """A result made comparable: errors by type and message, trial tokens cut off."""
    if isinstance(value, RescpError):
        return (type(value).__name__, str(value))
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "permit") and hasattr(value, "_replace"):
        return value._replace(permit=value.permit.split(".")[0],
                              alert=value.alert > 0)
    return value


@dataclass
class Side:
    """One store and the permits it handed out, per breaker."""

    store: Any
    permits: dict[str, list[str]] = field(default_factory=dict)

    def permit(self, breaker: str, which: str) -> str:
        handed = self.permits.get(breaker, [])
        if which == "last" and handed:
            return handed[-1]
        if which == "old" and len(handed) > 1:
            return handed[0]
        return ""


def applied(result: Applied[Any]) -> tuple[Any, ...]:
    events = [(e.type, plain(e.payload)) for e in result.events]
    return plain(result.result), events, dict(result.states)


async def run(steps: list[tuple[Any, ...]], url: str) -> None:
    with Redis.from_url(url) as client:
        client.flushall()
    clock = ManualClock()
    memory = Side(MemoryStore(EventLog(), clock))
    redis = Side(RedisStore(EventLog(), clock, url, timeout=1.0, redis_time=False))
    sides = (memory, redis)
    try:
        for side in sides:
            await side.store.load(clock.now())
            for config in LIMITS:
                await side.store.put_limit(config)
            for name in ("a", "b"):
                await side.store.put_breaker(name, CONFIGS[0], clock.now())
        for index, step in enumerate(steps):
            answers = [await one(side, step, clock.now()) for side in sides]
            assert answers[0] == answers[1], f"step {index}: {step}"
            if step[0] == "wait":
                clock.advance(step[1])
    finally:
        await redis.store.close()


async def one(side: Side, step: tuple[Any, ...], now: float) -> Any:
    store = side.store
    kind = step[0]
    try:
        if kind == "allow":
            _, breaker, limit, key, cost = step
            result = await store.allow([(breaker, limit, key, cost)], now)
            answer = result.result[0]
            if not isinstance(answer, RescpError) and answer.permit:
                side.permits.setdefault(breaker, []).append(answer.permit)
            return applied(result)
        if kind == "allow_batch":  # one store call: Redis reads each breaker once in it
            result = await store.allow([item[1:] for item in step[1]], now)
            for item, answer in zip(step[1], result.result, strict=True):
                if not isinstance(answer, RescpError) and answer.permit:
                    side.permits.setdefault(item[1], []).append(answer.permit)
            return applied(result)
        if kind == "record_batch":
            return applied(await store.record(
                [(b, o, d, side.permit(b, which), n) for _, b, o, d, which, n in step[1]], now))
        if kind == "record":
            _, breaker, outcome, duration, which, count = step
            permit = side.permit(breaker, which)
            return applied(await store.record([(breaker, outcome, duration, permit, count)],
                                              now))
        if kind == "advance":
            return applied(await store.advance_due(now))
        if kind == "transition":
            return applied(await store.transition_breaker(step[1], step[2], now))
        if kind == "configure":
            return applied(await store.put_breaker(step[1], CONFIGS[step[2]], now))
        if kind == "view":
            return applied(await store.get_breaker(step[1], now))
        if kind == "status":
            return await store.limit_status(step[1], step[2], now)
        if kind == "give_back":
            return await store.give_back(step[1], step[2], step[3], now)
    except RescpError as error:
        return plain(error)
    return None


@settings(max_examples=100)
@given(st.lists(step, min_size=1, max_size=60))
def test_the_lua_engines_answer_as_the_python_ones(redis_url: str,
                                                   steps: list[tuple[Any, ...]]) -> None:
    asyncio.run(run(steps, redis_url))
