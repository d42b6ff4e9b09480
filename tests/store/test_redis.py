"""What only the Redis store promises, through real servers on a real redis-server: one round
trip per Allow and per Record, bounded and visible trouble (Redis paused, killed, down at
start) with recovery by itself, Watch included, and two servers on one Redis behaving as one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import grpc
import pytest
from google.protobuf import duration_pb2
from redis import Redis

from rescp._proto import admin_pb2 as a
from rescp._proto import events_pb2 as e
from rescp._proto import guard_pb2 as g
from rescp.config import Config
from rescp.testing import ServerThread
from tests.redis_server import RedisServer, needs_redis, patient
from tests.server.conftest import Stubs
from tests.support import eventually

CLOSED, OPEN, FORCED_OPEN = 1, 2, 4
FAILURE = 2
HEALTHY, CRITICAL = 1, 3
TIMEOUT = 0.02  # the default [server] redis_timeout


class Watcher:
    """A Watch stream read on a thread: the events it delivered so far."""

    def __init__(self, stubs: Stubs, after: int) -> None:
        self.events: list[e.Event] = []
        self._stream = stubs.Watch(e.WatchRequest(after_sequence=after))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for response in self._stream:
                self.events.extend(response.events)
        except grpc.RpcError:
            pass

    def transitions(self) -> list[tuple[str, int, int]]:
        return [(ev.breaker_transition.breaker, ev.breaker_transition.to_state, ev.sequence)
                for ev in self.events if ev.WhichOneof("payload") == "breaker_transition"]

    def close(self) -> None:
        self._stream.cancel()
        self._thread.join(5)


@pytest.fixture
def redis(redis_server: RedisServer) -> RedisServer:
    return redis_server


@pytest.fixture
def server(config: Config, redis: RedisServer) -> Iterator[ServerThread]:
    with ServerThread(config, store=redis.url) as running:
        yield running


@pytest.fixture
def stubs(server: ServerThread) -> Iterator[Stubs]:
    with grpc.insecure_channel(server.target) as channel:
        yield Stubs(channel)


def commands_during(redis: RedisServer, action: object) -> list[str]:
    """The top-level commands clients sent while `action()` ran (MONITOR; the commands a
    script runs inside show as from "lua" and are left out, as is the tailer's XREAD)."""
    with Redis.from_url(redis.url, decode_responses=True) as client, client.monitor() as monitor:
        client.echo("rescp-start")  # the monitor is attached once it sees this
        while "rescp-start" not in monitor.next_command()["command"]:
            pass
        action()  # type: ignore[operator]
        client.echo("rescp-end")
        seen = []
        while True:
            command = monitor.next_command()
            if "rescp-end" in command["command"]:
                return seen
            if command["client_type"] != "lua" and not command["command"].startswith("XREAD"):
                seen.append(command["command"].split()[0])


def test_an_allow_and_a_record_are_one_evalsha_each(stubs: Stubs, redis: RedisServer) -> None:
    stubs.Allow(g.AllowRequest(breaker="websocket", limit="api", key="k"))  # script loaded
    answers: list[g.AllowResponse] = []
    assert commands_during(redis, lambda: answers.append(
        stubs.Allow(g.AllowRequest(breaker="websocket", limit="api", key="k")))) == ["EVALSHA"]
    assert answers[0].allowed
    assert commands_during(redis, lambda: stubs.Record(g.RecordRequest(
        breaker="websocket", outcome=FAILURE, permit=answers[0].permit))) == ["EVALSHA"]
    batch = g.AllowBatchRequest(items=[g.AllowRequest(breaker=f"b{i}", limit="api", key="k")
                                       for i in range(50)])
    assert commands_during(redis, lambda: stubs.AllowBatch(batch)) == ["EVALSHA"]


def _expiries(redis: RedisServer, limit: str) -> dict[str, int]:
    """PTTL in ms of each Redis key of `limit`'s keys (-1: none set)."""
    with Redis.from_url(redis.url, decode_responses=True) as client:
        return {key: client.pttl(key) for key in client.scan_iter(f"rescp:{{l:{limit}:*")}


def test_limit_keys_always_expire_and_go_once_idle(stubs: Stubs, redis: RedisServer) -> None:
    """A key expires a second (the grace) after its window and alert throttle go idle; a busy
    one renews that once a second (the slack) rather than on each request. Whatever the path,
    every Redis key of a limit key holds an expiry of about grace to grace + slack + window."""
    window = duration_pb2.Duration(nanos=300_000_000)
    for name, algorithm in (("ttl-window", 1), ("ttl-bucket", 2)):
        stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
            name=name, algorithm=algorithm, max_requests=1000, window=window)))

    def bounded(limit: str, keys: int) -> None:
        expiries = _expiries(redis, limit)
        assert len(expiries) == keys and all(500 < ms <= 2400 for ms in expiries.values()), \
            expiries

    assert stubs.Allow(g.AllowRequest(limit="ttl-window", key="k")).allowed
    time.sleep(0.4)  # its entry out of the window: the next request empties the list first
    assert stubs.Allow(g.AllowRequest(limit="ttl-window", key="k")).allowed
    bounded("ttl-window", 2)  # the counters' hash and the entries' list
    busy_until = time.monotonic() + 2.5
    while time.monotonic() < busy_until:
        for limit in ("ttl-window", "ttl-bucket"):
            assert stubs.Allow(g.AllowRequest(limit=limit, key="k")).allowed
        bounded("ttl-window", 2)
        bounded("ttl-bucket", 1)
        time.sleep(0.02)
    eventually(lambda: _expiries(redis, "ttl-window") == _expiries(redis, "ttl-bucket") == {}
               or _fail("idle limit keys were not dropped"), within=5)


def _fail(why: str) -> bool:
    raise AssertionError(why)


def test_a_paused_redis_is_bounded_and_visible_and_everything_recovers(
        stubs: Stubs, redis: RedisServer) -> None:
    start = stubs.GetSystemHealth(a.GetSystemHealthRequest()).sequence
    watcher = Watcher(stubs, start)
    stop = threading.Event()
    slowest = [0.0]

    def load() -> None:  # Allows in flight all along
        while not stop.is_set():
            began = time.monotonic()
            stubs.Allow(g.AllowRequest(breaker="orders_db"))
            slowest[0] = max(slowest[0], time.monotonic() - began)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        redis.pause()
        time.sleep(0.2)
        began = time.monotonic()
        answer = stubs.Allow(g.AllowRequest(breaker="orders_db", limit="api", key="k"))
        assert time.monotonic() - began < 0.5
        assert answer.allowed and answer.breaker_state == 0  # the failure mode answered
        with pytest.raises(grpc.RpcError) as refused:
            stubs.Report(g.ReportRequest(error_type="ValueError", message="during the pause"))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert stubs.GetSystemHealth(a.GetSystemHealthRequest()).health == CRITICAL
        redis.resume()
        eventually(lambda: _decided(stubs))
        assert stubs.GetSystemHealth(a.GetSystemHealthRequest()).health == HEALTHY
        stop.set()
        loader.join(5)
        assert slowest[0] < 0.5  # every Allow under load answered within ~the timeout
        stubs.TransitionBreaker(a.TransitionBreakerRequest(name="orders_db", state=FORCED_OPEN))
        eventually(lambda: _saw(watcher, ("orders_db", FORCED_OPEN)))
    finally:
        stop.set()
        watcher.close()


def _decided(stubs: Stubs) -> None:
    assert stubs.Allow(g.AllowRequest(breaker="orders_db")).breaker_state == CLOSED


def _saw(watcher: Watcher, transition: tuple[str, int]) -> None:
    assert transition in [t[:2] for t in watcher.transitions()]


def test_a_killed_and_restarted_redis_keeps_state_and_the_server_recovers(
        config: Config) -> None:
    needs_redis()
    with RedisServer(persist=True) as redis, \
            ServerThread(patient(config), store=redis.url) as server, \
            grpc.insecure_channel(server.target) as channel:
        stubs = Stubs(channel)
        stubs.TransitionBreaker(a.TransitionBreakerRequest(name="orders_db", state=FORCED_OPEN))
        sequence = stubs.GetSystemHealth(a.GetSystemHealthRequest()).sequence
        watcher = Watcher(stubs, sequence)
        try:
            redis.kill()
            assert stubs.Allow(g.AllowRequest(breaker="orders_db")).allowed  # failure mode
            redis.start()
            eventually(lambda: _refused(stubs))  # FORCED_OPEN survived in Redis
            stubs.TransitionBreaker(a.TransitionBreakerRequest(name="orders_db", state=CLOSED))
            eventually(lambda: _saw(watcher, ("orders_db", CLOSED)))
            assert watcher.transitions()[0][2] == sequence + 1  # the same log, continued
        finally:
            watcher.close()


def _refused(stubs: Stubs) -> None:
    assert not stubs.Allow(g.AllowRequest(breaker="orders_db")).allowed


def test_a_redis_that_lost_its_data_is_loaded_afresh(stubs: Stubs, redis: RedisServer) -> None:
    stubs.Allow(g.AllowRequest(breaker="fresh"))
    redis.restart()  # no persistence: everything is gone
    eventually(lambda: _allowed_and_known(stubs))


def _allowed_and_known(stubs: Stubs) -> None:
    assert stubs.Allow(g.AllowRequest(breaker="fresh")).breaker_state == CLOSED


def test_a_server_started_while_redis_is_down_starts_and_recovers(config: Config) -> None:
    needs_redis()
    redis = RedisServer()
    with ServerThread(patient(config, 0.2), store=redis.url) as server, \
            grpc.insecure_channel(server.target) as channel:
        stubs = Stubs(channel)
        assert stubs.Allow(g.AllowRequest(breaker="orders_db")).allowed  # failure mode
        assert stubs.GetSystemHealth(a.GetSystemHealthRequest()).health == CRITICAL
        try:
            redis.start()
            eventually(lambda: _decided(stubs))
            eventually(lambda: _seeded(stubs, config))
        finally:
            redis.stop()


def _seeded(stubs: Stubs, config: Config) -> None:
    names = {b.name for b in stubs.ListBreakers(a.ListBreakersRequest()).breakers}
    assert set(config.breakers) <= names  # the config was put once Redis answered


def test_deny_mode_refuses_while_redis_is_paused(config: Config, redis: RedisServer) -> None:
    deny = replace(config, server=replace(config.server, store_failure_mode="deny"))
    with ServerThread(deny, store=redis.url) as server, \
            grpc.insecure_channel(server.target) as channel:
        stubs = Stubs(channel)
        redis.pause()
        try:
            assert not stubs.Allow(g.AllowRequest(breaker="orders_db")).allowed
        finally:
            redis.resume()


def test_two_servers_on_one_redis_behave_as_one(config: Config, redis: RedisServer) -> None:
    with ServerThread(patient(config), store=redis.url) as first, \
            ServerThread(patient(config), store=redis.url) as second, \
            grpc.insecure_channel(first.target) as a_channel, \
            grpc.insecure_channel(second.target) as b_channel:
        on_a, on_b = Stubs(a_channel), Stubs(b_channel)
        sequence = on_b.GetSystemHealth(a.GetSystemHealthRequest()).sequence
        watch_a, watch_b = Watcher(on_a, sequence), Watcher(on_b, sequence)
        try:
            for _ in range(3):  # the example's websocket breaker opens at 3 failures
                permit = on_a.Allow(g.AllowRequest(breaker="websocket")).permit
                on_a.Record(g.RecordRequest(breaker="websocket", outcome=FAILURE,
                                            permit=permit))
            assert not on_b.Allow(g.AllowRequest(breaker="websocket")).allowed
            eventually(lambda: _saw(watch_b, ("websocket", OPEN)))
            eventually(lambda: _same_events(watch_a, watch_b))
            kinds = [ev.WhichOneof("payload") for ev in watch_b.events]
            assert kinds.count("health_change") == 1  # once, not once per server
        finally:
            watch_a.close()
            watch_b.close()


def _same_events(first: Watcher, second: Watcher) -> None:
    assert len(first.events) >= 3
    assert [ev.SerializeToString() for ev in first.events] == [
        ev.SerializeToString() for ev in second.events]
