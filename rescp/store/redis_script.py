"""The Redis store's one Lua script, the call that runs it, and its answers decoded.

rescp/store/lua holds the engines in Lua (package data), joined into one script that dispatches
on the operation's name, called by SHA (EVALSHA); when Redis answers NOSCRIPT (restarted,
flushed, or never loaded), it is loaded (SCRIPT LOAD) and called again, once, as redis-py's
`register_script` does (rescp.store.redis_wire says why the hot path has its own connection).
Every driver error and every timeout becomes StoreUnavailable here, at the boundary.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, NamedTuple

from redis.exceptions import RedisError, ResponseError
from redis.typing import EncodableT

from rescp.clock import Clock
from rescp.engine.breaker import BreakerConfig
from rescp.enums import BreakerState, EventType, Verdict
from rescp.errors import (
    InvalidArgument,
    NotFound,
    RescpError,
    StoreUnavailable,
    TooManyBreakers,
)
from rescp.events import PAYLOAD_TYPES, Event, Payload
from rescp.store import codec
from rescp.store.base import AllowItem, AllowResult, BreakerView
from rescp.store.redis_watchdog import Watchdog
from rescp.store.redis_wire import Wire

log = logging.getLogger(__name__)

LUA_FILES = ("common", "breaker", "ratelimit", "errors", "ops")
PER_ITEM = 0.0001
"""Seconds a batch's call may take per item beyond the store's timeout: a batch is one call,
its items run one after another inside Redis."""


def source() -> str:
    """The script: the files in dependency order (each sees the locals of those before it)."""
    lua = resources.files("rescp.store") / "lua"
    return "\n".join((lua / f"{name}.lua").read_text(encoding="utf-8") for name in LUA_FILES)


def event(fields: Sequence[str], known: Mapping[str, Payload] | None = None) -> Event:
    """An event as the script (or the stream) carries it: sequence, type, time, payload JSON
    (decoded unless `known` holds the payload of that JSON already)."""
    sequence, kind, time, text = fields
    event_type = EventType(int(kind))
    payload = known.get(text) if known else None
    if payload is None:
        payload = codec.loads(PAYLOAD_TYPES[event_type], text)
    return Event(int(sequence), float(time), payload, event_type)


class Reply(NamedTuple):
    """One script call's answer; times are the script's (Redis time, or the caller's clock)."""

    result: Any
    events: list[Event]
    states: dict[str, BreakerState | None]
    deadline: float | None
    sequence: int
    now: float


class NotLoaded(StoreUnavailable):
    """Redis answers but holds no rescp state (restarted without persistence, or flushed)."""


def unavailable(error: BaseException) -> StoreUnavailable:
    log.debug("redis store: %r", error)
    reason = str(error) or type(error).__name__
    return StoreUnavailable(f"the Redis store is unreachable: {reason}")


class Scripts:
    """Calls of the script on one pipelined connection, with the time it runs at and a bounded
    wait. The script is loaded (SCRIPT LOAD) when Redis answers NOSCRIPT, then called again."""

    def __init__(self, wire: Wire, prefix: str, timeout: float, watchdog: Watchdog,
                 clock: Clock | None = None) -> None:
        """`clock`: run shared state on this (one process's) clock instead of Redis TIME, so a
        test can drive time by hand; None in production."""
        self._wire = wire
        self._prefix = prefix
        self._timeout = timeout
        self._watchdog = watchdog
        self._clock = clock
        self._source = source()
        self._sha = hashlib.sha1(self._source.encode()).hexdigest()
        self._key = prefix + "seq"  # declared for routing: the script builds its other keys

    def _head(self, op: str, now: float) -> list[EncodableT]:
        if self._clock is None:
            return [self._prefix, "", "0", op]
        return [self._prefix, repr(now), repr(self._clock.wall_offset()), op]

    async def call(self, op: str, args: Sequence[EncodableT], now: float, items: int = 1, *,
                   within: float | None = None,
                   known: Mapping[str, Payload] | None = None) -> Reply:
        """Run `op`; StoreUnavailable when Redis fails or does not answer in time (the store's
        timeout and PER_ITEM, or `within` seconds). `known`: payloads the caller holds, by
        their JSON, so its events need not be decoded."""
        command = ("EVALSHA", self._sha, 1, self._key, *self._head(op, now), *args)
        try:
            async with self._watchdog.bounded(within or self._timeout + PER_ITEM * items):
                try:
                    raw = await self._wire.call(*command)
                except ResponseError as error:
                    if not str(error).startswith("NOSCRIPT"):
                        raise
                    await self._wire.call("SCRIPT", "LOAD", self._source)
                    raw = await self._wire.call(*command)
        except ResponseError as error:
            if str(error).startswith("RESCPLOAD"):
                raise NotLoaded(str(error)) from None
            raise unavailable(error) from None
        except TimeoutError as error:
            self._wire.reset()  # a stopped Redis must not collect a backlog
            raise unavailable(error) from None
        except (RedisError, OSError) as error:
            raise unavailable(error) from None
        return parse(raw, known)


def parse(raw: list[Any], known: Mapping[str, Payload] | None = None) -> Reply:
    result, events, changed, due, sequence, now = raw
    states: dict[str, BreakerState | None] = {
        changed[i]: BreakerState(int(changed[i + 1])) if changed[i + 1] != "0" else None
        for i in range(0, len(changed), 2)}
    return Reply(result, [event(e, known) for e in events], states,
                 float(due) if due else None, int(sequence), float(now))


def config_values(config: BreakerConfig) -> str:
    """The nine numbers the Lua breaker reads, in its CONFIG order."""
    c = config
    return " ".join(repr(v) for v in (
        c.failure_threshold, c.failure_rate_threshold, c.slow_call_rate_threshold,
        c.slow_call_duration, int(c.window_type), c.window_size, c.minimum_calls,
        c.recovery_timeout, c.half_open_permits))


def allow_result(answer: list[Any], item: AllowItem) -> AllowResult | RescpError:
    breaker, limit, _, cost = item
    code = answer[0]
    if code == "ok":
        _, allowed, verdict, state, retry_after, remaining, permit, alert = answer
        return AllowResult(bool(allowed), Verdict(int(verdict)),
                           BreakerState(int(state)) if state else None, float(retry_after),
                           int(remaining), permit, int(alert))
    if code == "nf_limit":
        return NotFound("limit", limit)
    if code == "nf_breaker":
        return NotFound("breaker", breaker)
    if code == "too_many":
        return TooManyBreakers(f"breaker {breaker!r} not created: {answer[1]} breakers "
                               "exist ([defaults] max_breakers)")
    return InvalidArgument.one(
        "cost", f"{cost} exceeds the capacity of limit {limit!r} ({answer[1]}); "
                "it could never pass")


def view(fields: list[str], offset: float) -> BreakerView:
    """A breaker as the script shows it, its times moved onto the caller's clock."""
    name, config, state, failures, successes, last_failure, since, rate, slow_rate = fields
    return BreakerView(
        name=name, config=codec.loads(BreakerConfig, config), state=BreakerState(int(state)),
        failure_count=int(failures), success_count=int(successes),
        last_failure_time=float(last_failure) + offset if last_failure else None,
        state_since=float(since) + offset, failure_rate=float(rate),
        slow_call_rate=float(slow_rate))
