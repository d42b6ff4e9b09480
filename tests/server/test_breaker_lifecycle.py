"""How breakers come and go through the real server: only Allow creates them, within
`[defaults] max_breakers`; a Record never re-creates one; deletion is an event; reads show a
due transition; the configured defaults fill unset fields; HALF_OPEN is an open circuit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import pytest
from google.protobuf import duration_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rescp._proto import admin_pb2 as a
from rescp._proto import events_pb2 as e
from rescp._proto import guard_pb2 as g
from rescp.config import parse
from rescp.testing import ServerThread
from tests.server.conftest import Stubs, details

CLOSED, OPEN, HALF_OPEN = 1, 2, 3
FAILURE = 2
BREAKER_DELETED = 6
WARNING = 2
SHORT = duration_pb2.Duration(nanos=200_000_000)


@contextmanager
def serving(toml: str) -> Iterator[Stubs]:
    """Stubs for a real server started with this config, stopped afterwards."""
    with ServerThread(parse(toml)) as server, grpc.insecure_channel(server.target) as channel:
        yield Stubs(channel)


def test_allow_creates_breakers_up_to_max_breakers_then_refuses() -> None:
    with serving("[defaults]\nmax_breakers = 3\n[breakers.declared]\n") as stubs:
        assert stubs.Allow(g.AllowRequest(breaker="one")).allowed
        assert stubs.Allow(g.AllowRequest(breaker="two")).allowed
        with pytest.raises(grpc.RpcError) as refused:
            stubs.Allow(g.AllowRequest(breaker="three"))
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details(refused.value)["ErrorInfo"].reason == "TOO_MANY_BREAKERS"
        assert stubs.Allow(g.AllowRequest(breaker="one")).allowed  # known ones still work
        listed = stubs.ListBreakers(a.ListBreakersRequest()).breakers
        assert sorted(b.name for b in listed) == ["declared", "one", "two"]


def test_auto_create_off_makes_an_unknown_breaker_not_found() -> None:
    with serving("[defaults]\nauto_create = false\n[breakers.known]\n") as stubs:
        assert stubs.Allow(g.AllowRequest(breaker="known")).allowed
        with pytest.raises(grpc.RpcError) as refused:
            stubs.Allow(g.AllowRequest(breaker="unknown"))
        assert refused.value.code() is grpc.StatusCode.NOT_FOUND
        assert details(refused.value)["ErrorInfo"].reason == "BREAKER_NOT_FOUND"


def test_record_never_creates_or_recreates_a_breaker(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as never_allowed:
        stubs.Record(g.RecordRequest(breaker="ghost", outcome=FAILURE))
    assert never_allowed.value.code() is grpc.StatusCode.NOT_FOUND
    permit = stubs.Allow(g.AllowRequest(breaker="brief")).permit
    stubs.DeleteBreaker(a.DeleteBreakerRequest(name="brief"))
    with pytest.raises(grpc.RpcError) as deleted:
        stubs.Record(g.RecordRequest(breaker="brief", outcome=FAILURE, permit=permit))
    assert deleted.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as gone:
        stubs.GetBreaker(a.GetBreakerRequest(name="brief"))
    assert gone.value.code() is grpc.StatusCode.NOT_FOUND


def test_deleting_a_breaker_is_an_event(stubs: Stubs) -> None:
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="websocket", state=4))
    sequence = stubs.ListBreakers(a.ListBreakersRequest()).sequence
    stubs.DeleteBreaker(a.DeleteBreakerRequest(name="websocket"))
    stream = stubs.Watch(e.WatchRequest(after_sequence=sequence, types=[BREAKER_DELETED]))
    event = next(stream).events[0]
    stream.cancel()
    assert event.sequence > sequence and event.WhichOneof("payload") == "breaker_deleted"
    assert (event.breaker_deleted.breaker, event.breaker_deleted.last_state) == ("websocket", 4)


def test_reads_show_a_due_transition_before_its_timer_fires(stubs: Stubs) -> None:
    stubs.PutBreaker(a.PutBreakerRequest(name="due", config=a.BreakerConfig(
        failure_threshold=1, recovery_timeout=SHORT)))
    permit = stubs.Allow(g.AllowRequest(breaker="due")).permit
    stubs.Record(g.RecordRequest(breaker="due", outcome=FAILURE, permit=permit))
    time.sleep(0.2)  # due now; whether or not the timer has fired, every read says HALF_OPEN
    assert stubs.GetBreaker(a.GetBreakerRequest(name="due")).breaker.state == HALF_OPEN
    listed = {b.name: b.state for b in stubs.ListBreakers(a.ListBreakersRequest()).breakers}
    assert listed["due"] == HALF_OPEN


def test_unset_fields_take_the_configured_defaults() -> None:
    with serving("[defaults.breaker]\nminimum_calls = 7\nhalf_open_permits = 3\n"
                 "window_size = 50\n") as stubs:
        put = stubs.PutBreaker(a.PutBreakerRequest(name="p", config=a.BreakerConfig(
            failure_threshold=2))).breaker.config
        assert (put.minimum_calls, put.half_open_permits, put.window_size) == (7, 3, 50)
        stubs.Allow(g.AllowRequest(breaker="auto"))
        auto = stubs.GetBreaker(a.GetBreakerRequest(name="auto")).breaker.config
        assert (auto.minimum_calls, auto.half_open_permits, auto.window_size) == (7, 3, 50)


def test_a_half_open_breaker_is_an_open_circuit(stubs: Stubs) -> None:
    """The seed's example: a half-open websocket is an open circuit and its feature degraded;
    its grpc health stays SERVING so trials get through."""
    stubs.PutBreaker(a.PutBreakerRequest(name="websocket", config=a.BreakerConfig(
        failure_threshold=1, recovery_timeout=SHORT)))
    permit = stubs.Allow(g.AllowRequest(breaker="websocket")).permit
    stubs.Record(g.RecordRequest(breaker="websocket", outcome=FAILURE, permit=permit))
    time.sleep(0.25)
    health = stubs.GetSystemHealth(a.GetSystemHealthRequest())
    assert [b.state for b in health.circuit_breakers if b.name == "websocket"] == [HALF_OPEN]
    assert (health.health, health.open_circuits) == (WARNING, 1)
    degradation = stubs.GetDegradation(a.GetDegradationRequest())
    assert degradation.is_degraded and list(degradation.open_circuits) == ["websocket"]
    assert [f.feature for f in degradation.affected_features] == ["real_time_updates"]
    probe = health_pb2_grpc.HealthStub(stubs.channel)
    check = probe.Check(health_pb2.HealthCheckRequest(service="breaker/websocket"))
    assert check.status == health_pb2.HealthCheckResponse.SERVING
