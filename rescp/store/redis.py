"""The Redis store: all state in Redis, every operation one Lua script (rescp/store/lua).

Many replicas share one Redis and behave as one server: breakers, windows, trial permits,
deadlines, limit counters, error records and the event log live there, and each operation
(a batch of Allows, a batch of Records, a Report ...) is one EVALSHA that applies the change,
appends its events to the shared stream and re-judges health and degradation with a
compare-and-set on the last value appended, so a change is announced once whoever causes it.
Redis TIME is the clock of shared state; deadlines and times come back on the caller's clock
(the offset between the two is taken from each reply). While Redis fails, `ok` is False and
every operation raises StoreUnavailable within the timeout; the next answer restores it. A
replica started while Redis is down starts anyway and keeps trying to load.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.typing import EncodableT

from rescp.clock import Clock
from rescp.engine.breaker import BreakerConfig, is_permit
from rescp.engine.errorlog import ErrorRecord, ErrorReport, build_record
from rescp.engine.health import Degradation, Feature
from rescp.engine.ratelimit import LimitConfig, LimitStatus
from rescp.enums import BreakerState, Health, Severity
from rescp.errors import InvalidArgument, NotFound, RescpError, StoreUnavailable
from rescp.events import EVENT_FEATURES, EVENT_OPEN_CIRCUITS, EventLog, Payload
from rescp.store import codec
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
from rescp.store.redis_log import SharedLog
from rescp.store.redis_script import (
    NotLoaded,
    Reply,
    Scripts,
    allow_result,
    config_values,
    unavailable,
    view,
)
from rescp.store.redis_watchdog import Watchdog
from rescp.store.redis_wire import Wire

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 0.02
LOAD_RETRY = 0.5
"""Seconds between attempts to load while Redis is unreachable at start."""
LOAD_TIMEOUT = 2.0
"""Seconds the load may take: it connects, loads the script and reads every breaker."""
OFFSET_STEP = 0.005
"""Seconds the caller's clock may drift against the script's before deadlines follow it."""
DUE_BUDGET = 1000
"""Due breakers advanced per advance_due call."""


def connect(url: str, timeout: float | None) -> Redis:
    """A client for redis:// or rediss:// that never retries by itself: a failure is reported
    at once, and the caller's timeout bounds every wait."""
    client: Redis = Redis.from_url(url, decode_responses=True, socket_timeout=timeout,
                                   socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))
    return client


class RedisStore:
    def __init__(self, log: EventLog, clock: Clock, url: str,
                 default_breaker: BreakerConfig = BreakerConfig(), *,
                 rules: HealthRules = HealthRules(), error_history: int = 1000,
                 critical_window: float = 300.0, max_breakers: int = 10_000,
                 auto_create: bool = True, timeout: float = DEFAULT_TIMEOUT,
                 prefix: str = "rescp:", redis_time: bool = True) -> None:
        """`redis_time` False keeps shared state on `clock` instead of Redis TIME, so a test
        can drive it by hand (one process only: replicas' clocks differ)."""
        self.ok = True
        self.failure = ""  # why `ok` is False
        self.log = log
        self._clock = clock
        self._timeout = timeout
        # a script call's own timeout bounds it; the socket's is a backstop for a lost reply
        self._client = connect(url, max(timeout * 50, 1.0))
        self._tail_client = connect(url, None)
        self._watchdog = Watchdog()
        self._wire = Wire(url)
        self._scripts = Scripts(self._wire, prefix, timeout, self._watchdog,
                                None if redis_time else clock)
        self._shared = SharedLog(self._client, prefix + "log", log, timeout, self._watchdog)
        self._settings: dict[str, EncodableT] = {
            "max_events": log.max_events, "max_age": log.max_age, "history": error_history,
            "critical_window": critical_window, "max_breakers": max_breakers,
            "auto_create": int(auto_create),
            "error_rate_threshold": rules.error_rate_threshold,
            "default_values": config_values(default_breaker),
            "default_json": codec.dumps(default_breaker),
            "event_open_circuits": EVENT_OPEN_CIRCUITS, "event_features": EVENT_FEATURES,
            "new_log_id": uuid.uuid4().hex}
        self._prefix = prefix
        self._clock_offset = 0.0
        self._loader: asyncio.Task[None] | None = None
        self._loaded = False

    # the boundary

    async def _run(self, op: str, args: Sequence[EncodableT], now: float, items: int = 1,
                   known: Mapping[str, Payload] | None = None) -> Reply:
        if not self._loaded:
            raise StoreUnavailable(f"the Redis store is not loaded yet: {self.failure}")
        try:
            try:
                reply = await self._scripts.call(op, args, now, items, known=known)
            except NotLoaded:
                log.warning("redis store: Redis lost rescp's state (restarted without "
                            "persistence?); loading afresh, as a new log")
                await self._load(now)
                reply = await self._scripts.call(op, args, now, items, known=known)
        except StoreUnavailable as error:
            self._failed(error)
            raise
        self.ok, self.failure = True, ""
        self._shared.take(reply.events)
        return reply

    def _failed(self, error: StoreUnavailable) -> None:
        if self.ok:
            log.warning("redis store failing: %s", error)
        self.ok, self.failure = False, str(error)

    def _applied(self, reply: Reply, result: Any, now: float) -> Applied[Any]:
        offset = self._offset(reply, now)
        deadline = None if reply.deadline is None else reply.deadline + offset
        return Applied(result, reply.events, reply.sequence, deadline, reply.states)

    def _offset(self, reply: Reply, now: float) -> float:
        """The caller's clock minus the script's, held steady while it moves less than
        OFFSET_STEP (a round trip's jitter), so a deadline reads the same from call to call."""
        offset = now - reply.now
        if abs(offset - self._clock_offset) > OFFSET_STEP:
            self._clock_offset = offset
        return self._clock_offset

    async def _command(self, coroutine: Any) -> Any:
        """A plain command (paging reads), bounded and translated like a script call."""
        try:
            async with self._watchdog.bounded(self._timeout):
                return await coroutine
        except (RedisError, OSError, TimeoutError) as error:
            failure = unavailable(error)
            self._failed(failure)
            raise failure from None

    # start and stop

    async def load(self, now: float) -> Applied[None]:
        try:
            return await self._load(now)
        except StoreUnavailable as error:
            log.warning("redis store: not reachable at start (%s); retrying in the background",
                        error)
            self._loader = asyncio.get_running_loop().create_task(self._load_later())
            return Applied(None)

    async def _load(self, now: float) -> Applied[None]:
        """Settings into Redis (the log's id only if it has none), the local log restarted
        from the stream, the tailer started."""
        args = [v for pair in self._settings.items() for v in pair]
        try:
            reply = await self._scripts.call("load", args, now, within=LOAD_TIMEOUT)
            await self._shared.restore(reply.result[0], reply.sequence)
        except StoreUnavailable as error:
            self._failed(error)
            raise
        self.ok, self.failure, self._loaded = True, "", True
        self._shared.start(self._tail_client)  # once: a reload keeps the running tailer
        return self._applied(reply, None, now)

    async def _load_later(self) -> None:
        while True:
            await asyncio.sleep(LOAD_RETRY)
            try:
                await self._load(self._clock.now())
            except StoreUnavailable:
                continue
            log.info("redis store: loaded")
            return

    async def close(self) -> None:
        if self._loader is not None:
            self._loader.cancel()
        await self._shared.close()
        self._wire.close()
        await self._client.aclose()
        await self._tail_client.aclose()

    # the guard

    async def allow(self, items: Sequence[AllowItem],
                    now: float) -> Applied[list[AllowResult | RescpError]]:
        # each item's trial token (used only if its breaker is HALF_OPEN): 64 random bits, all
        # of a batch's from one read of the system's CSPRNG (a read per token cost ~1 us)
        tokens = os.urandom(8 * len(items)).hex()
        args: list[EncodableT] = [len(items)]
        for i, (breaker, limit, key, cost) in enumerate(items):
            args += [breaker, limit, key, cost, tokens[16 * i:16 * i + 16]]
        reply = await self._run("allow", args, now, len(items))
        results = [allow_result(r, item) for r, item in zip(reply.result, items, strict=True)]
        return self._applied(reply, results, now)

    async def record(self, items: Sequence[RecordItem],
                     now: float) -> Applied[list[BreakerState | RescpError]]:
        results: list[BreakerState | RescpError] = []
        valid: list[int] = []
        args: list[EncodableT] = [0]
        calls = 0
        for i, (breaker, outcome, duration, permit, count) in enumerate(items):
            if not is_permit(permit):
                results.append(InvalidArgument.one("permit", "not a permit this server handed out"))
                continue
            results.append(BreakerState.CLOSED)  # replaced by the script's answer below
            valid.append(i)
            calls += count
            args += [breaker, int(outcome), repr(float(duration)), permit, count]
        args[0] = len(valid)
        if not valid:
            return Applied(results, sequence=self.log.last_sequence)
        reply = await self._run("record", args, now, calls)
        for i, answer in zip(valid, reply.result, strict=True):
            results[i] = (BreakerState(int(answer[1])) if answer[0] == "ok"
                          else NotFound("breaker", items[i][0]))
        return self._applied(reply, results, now)

    async def add_error(self, report: ErrorReport,
                        now: float) -> Applied[tuple[ErrorRecord, bool]]:
        record = build_record(report, uuid.uuid4().hex, self._clock.wall())
        text = codec.dumps(record)
        reply = await self._run("add_error", [
            text, record.error_id, record.idempotency_key, record.count_key,
            int(record.severity), repr(record.time)], now, known={text: record})
        new, first = reply.result
        return self._applied(reply, (record if new else codec.loads(ErrorRecord, first),
                                     bool(new)), now)

    # breakers

    async def put_breaker(self, name: str, config: BreakerConfig,
                          now: float) -> Applied[BreakerView]:
        reply = await self._run("put_breaker", [name, config_values(config),
                                                codec.dumps(config)], now)
        return self._applied(reply, view(reply.result, self._offset(reply, now)), now)

    async def get_breaker(self, name: str, now: float) -> Applied[BreakerView]:
        reply = await self._run("get_breaker", [name], now)
        if reply.result == "nf":
            raise NotFound("breaker", name)
        return self._applied(reply, view(reply.result, self._offset(reply, now)), now)

    async def list_breakers(self, now: float, after: str = "",
                            limit: int | None = None) -> Applied[list[BreakerView]]:
        reply = await self._run("list_breakers", [after, "" if limit is None else limit], now)
        await self._shared.catch_up(reply.sequence)
        offset = self._offset(reply, now)
        return self._applied(reply, [view(v, offset) for v in reply.result], now)

    async def delete_breaker(self, name: str, now: float) -> Applied[BreakerState]:
        reply = await self._run("delete_breaker", [name], now)
        if reply.result == "nf":
            raise NotFound("breaker", name)
        return self._applied(reply, BreakerState(int(reply.result)), now)

    async def transition_breaker(self, name: str, state: BreakerState,
                                 now: float) -> Applied[BreakerView]:
        reply = await self._run("transition", [name, int(state)], now)
        if reply.result == "nf":
            raise NotFound("breaker", name)
        if reply.result == "bad_state":
            raise InvalidArgument.one(
                "state", "a breaker can be set only to CLOSED, FORCED_OPEN or DISABLED")
        return self._applied(reply, view(reply.result, self._offset(reply, now)), now)

    async def advance_due(self, now: float) -> Applied[None]:
        """Nothing while Redis fails (`ok` says so): the next tick after it returns does it."""
        try:
            reply = await self._run("advance_due", [DUE_BUDGET], now)
        except StoreUnavailable:
            return Applied(None, sequence=self.log.last_sequence)
        return self._applied(reply, None, now)

    # limits

    async def put_limit(self, config: LimitConfig) -> LimitConfig:
        await self._run("put_limit", [config.name, codec.dumps(config)], self._now())
        return config

    async def list_limits(self, after: str = "", limit: int | None = None) -> list[LimitConfig]:
        names = await self._page(self._prefix + "limits:names", after, limit)
        if not names:
            return []
        texts = await self._command(self._client.hmget(self._prefix + "limits", names))
        return [codec.loads(LimitConfig, t) for t in texts if t is not None]

    async def delete_limit(self, name: str) -> None:
        reply = await self._run("delete_limit", [name], self._now())
        if reply.result == "nf":
            raise NotFound("limit", name)

    async def limit_status(self, name: str, key: str, now: float) -> LimitStatus:
        return await self._limit_op("limit_status", [name, key], name, now)

    async def give_back(self, name: str, key: str, tokens: int, now: float) -> int:
        status = await self._limit_op("give_back", [name, key, tokens], name, now)
        return status.remaining

    async def _limit_op(self, op: str, args: list[EncodableT], name: str,
                        now: float) -> LimitStatus:
        reply = await self._run(op, args, now)
        if reply.result == "nf":
            raise NotFound("limit", name)
        limited, remaining, retry, reset_at = reply.result
        # as a time from now, so `now` itself (a full key) reads exactly `now`, and a refusal's
        # reset_at never precedes now + retry_after, as the engine promises
        reset, retry_after = now + (float(reset_at) - reply.now), float(retry)
        if limited:
            reset = max(reset, now + retry_after)
        return LimitStatus(bool(limited), int(remaining), retry_after, reset)

    async def sweep_idle(self, now: float, budget: int) -> None:
        """Nothing to do: Redis expires a key (PEXPIRE) once it is idle."""

    # features and degradation

    async def put_feature(self, feature: Feature, now: float) -> Applied[Feature]:
        reply = await self._run("put_feature", [feature.name, codec.dumps(feature)], now)
        return self._applied(reply, feature, now)

    async def list_features(self, after: str = "", limit: int | None = None) -> list[Feature]:
        names = await self._page(self._prefix + "features:names", after, limit)
        if not names:
            return []
        texts = await self._command(self._client.hmget(self._prefix + "features", names))
        return [codec.loads(Feature, t) for t in texts if t is not None]

    async def delete_feature(self, name: str, now: float) -> Applied[None]:
        reply = await self._run("delete_feature", [name], now)
        if reply.result == "nf":
            raise NotFound("feature", name)
        return self._applied(reply, None, now)

    async def degradation(self, now: float) -> Applied[Degradation]:
        reply = await self._run("degradation", [], now)
        await self._shared.catch_up(reply.sequence)
        return self._applied(reply, codec.loads(Degradation, reply.result), now)

    # errors and health

    async def error_summary(self, now: float, recent: int) -> ErrorSummary:
        reply = await self._run("error_summary", [recent], now)
        total, counts, records, per_minute = reply.result
        return ErrorSummary(int(total), {counts[i]: int(counts[i + 1])
                                         for i in range(0, len(counts), 2)},
                            [codec.loads(ErrorRecord, r) for r in records], float(per_minute))

    async def notifications(self, min_severity: Severity | None, limit: int,
                            include_acknowledged: bool,
                            after: str = "") -> tuple[list[ErrorRecord], int]:
        reply = await self._run("notifications", [
            0 if min_severity is None else int(min_severity), limit, int(include_acknowledged),
            after], self._now())
        records, total = reply.result
        return [codec.loads(ErrorRecord, r) for r in records], int(total)

    async def acknowledge(self, error_id: str, now: float) -> Applied[ErrorRecord]:
        reply = await self._run("acknowledge", [error_id], now)
        if reply.result == "nf":
            raise NotFound("error", error_id)
        return self._applied(reply, codec.loads(ErrorRecord, reply.result), now)

    async def system_health(self, now: float) -> Applied[SystemHealth]:
        try:
            reply = await self._run("system_health", [], now)
        except StoreUnavailable:
            # what this replica can say without Redis: CRITICAL, and why (`failure`)
            return Applied(SystemHealth(Health.CRITICAL, 0, 0, 0, []),
                           sequence=self.log.last_sequence)
        await self._shared.catch_up(reply.sequence)
        health, total, critical, open_circuits, views = reply.result
        offset = self._offset(reply, now)
        return self._applied(reply, SystemHealth(
            Health(int(health)), int(total), int(critical), int(open_circuits),
            [view(v, offset) for v in views]), now)

    async def refresh(self, now: float) -> Applied[None]:
        """Also the stream's age limit. Nothing while Redis fails: `ok` already says so."""
        try:
            reply = await self._run("refresh", [], now)
        except StoreUnavailable:
            return Applied(None, sequence=self.log.last_sequence)
        return self._applied(reply, None, now)

    # helpers

    def _now(self) -> float:
        """For operations the protocol gives no `now` (their answers hold no time)."""
        return self._clock.now()

    async def _page(self, key: str, after: str, limit: int | None) -> list[str]:
        low = f"({after}" if after else "-"
        if limit is None:
            names = await self._command(self._client.zrangebylex(key, low, "+"))
        else:
            names = await self._command(self._client.zrangebylex(key, low, "+", 0, limit))
        return list(names)
