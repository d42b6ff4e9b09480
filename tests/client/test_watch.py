"""watch() in both flavours against a real server: typed events of every kind and the filters,
replay after a sequence, resuming without a gap across a server restart and after being cut off
for lagging, a Snapshot on OUT_OF_RANGE, errors no retry can cure, and ending cleanly (breaking
out of the loop, closing the watch or the client)."""

from __future__ import annotations

import asyncio
import queue
import time
from dataclasses import replace
from typing import Any

import grpc
import pytest

from rescp.config import Config, EventSettings
from rescp.engine.breaker import Transition
from rescp.enums import BreakerState as ServerState
from rescp.events import EventLog
from rescp.testing import ServerThread
from rescp_client import (
    BreakerDeleted,
    BreakerState,
    BreakerTransition,
    DegradationChange,
    HealthChange,
    InvalidArgumentError,
    NotificationEvent,
    RateLimitExceeded,
    Snapshot,
    StatusError,
    _codec,
)
from rescp_client._backoff import Backoff
from rescp_client._proto import enums_pb2, events_pb2
from tests.client.conftest import Api, Followed


def sequence_now(api: Api) -> int:
    sequence: int = api.run(api.client.system_health()).sequence
    return sequence


def flip(api: Api, name: str = "websocket") -> None:
    """Open a breaker by hand and close it again: 3 events each way (the transition, and the
    degradation and health changes that an open circuit makes and unmakes)."""
    api.run(api.client.transition_breaker(name, "forced_open"))
    api.run(api.client.transition_breaker(name, "closed"))


def subscribers(server: ServerThread, count: int) -> None:
    assert server.running.plane.events.subscribers == count


def test_typed_events_of_every_kind_and_the_filters(api: Api) -> None:
    api.run(api.client.put_limit("tight", max_requests=1, window=30))
    start = sequence_now(api)
    everything = api.client.watch(after_sequence=start)
    breakers_and_health = api.client.watch(["breaker_transition", "health_change"],
                                           after_sequence=start)
    serious = api.client.watch(types="notification", min_severity="high", after_sequence=start)
    api.run(api.client.transition_breaker("websocket", "forced_open"))
    api.run(api.client.report(ValueError("bad value")))
    api.run(api.client.report(ConnectionError("refused")))
    limiter = api.client.limiter("tight")
    assert [api.run(limiter.record_request("u1")) for _ in range(3)] == [True, False, False]
    api.run(api.client.transition_breaker("websocket", "closed"))

    events = api.take(everything, 9)
    assert [type(e) for e in events] == [
        BreakerTransition, DegradationChange, HealthChange, NotificationEvent, NotificationEvent,
        RateLimitExceeded, BreakerTransition, DegradationChange, HealthChange]
    assert [e.sequence for e in events] == list(range(start + 1, start + 10))
    assert everything.last_sequence == start + 9
    assert all(abs(e.time - time.time()) < 60 for e in events)
    opened, degraded, warned, low, high, refused, closed, recovered, healed = events
    assert (opened.breaker, opened.from_state, opened.to_state, opened.reason) == (
        "websocket", BreakerState.CLOSED, BreakerState.FORCED_OPEN, "manual")
    assert degraded.is_degraded and degraded.open_circuits == ("websocket",)
    assert [(f.feature, f.status) for f in degraded.affected_features] == [
        ("real_time_updates", "degraded")]
    assert (warned.from_health, warned.to_health) == ("healthy", "warning")
    assert (low.notification.severity, high.notification.severity) == ("low", "high")
    assert high.notification.title == "NETWORK Error"
    assert (refused.limit, refused.key, refused.refused) == ("tight", "u1", 1)
    assert 29 < refused.retry_after <= 30  # the third refusal, within the window, adds no event
    assert closed.to_state is BreakerState.CLOSED
    assert not recovered.is_degraded and recovered.open_circuits == ()
    assert (healed.from_health, healed.to_health) == ("warning", "healthy")
    assert api.take(breakers_and_health, 4) == [opened, warned, closed, healed]
    assert api.take(serious, 1) == [high]


def test_replay_after_a_sequence_then_live(api: Api) -> None:
    start = sequence_now(api)
    flip(api)
    watch = api.client.watch(after_sequence=start + 3)
    replayed = api.take(watch, 3)
    assert [e.sequence for e in replayed] == [start + 4, start + 5, start + 6]
    assert replayed[0].to_state is BreakerState.CLOSED
    api.run(api.client.transition_breaker("dydx_api", "forced_open"))
    live = api.take(watch, 1)[0]
    assert (live.sequence, live.breaker) == (start + 7, "dydx_api")


def test_without_after_sequence_a_watch_starts_at_its_first_iteration(
        api: Api, server: ServerThread, eventually: Any) -> None:
    flip(api)
    watch = api.client.watch(types=["breaker_transition"])
    assert watch.last_sequence is None
    followed = api.follow(watch)
    eventually(lambda: subscribers(server, 1))
    before = sequence_now(api)
    api.run(api.client.transition_breaker("orders_db", "disabled"))
    event = followed.next()
    assert (event.sequence, event.breaker, event.to_state) == (
        before + 1, "orders_db", BreakerState.DISABLED)


def test_resumes_across_a_server_restart_with_a_snapshot(
        make_api: Any, config: Config, free_port: Any) -> None:
    port = free_port()
    first = ServerThread(config, port=port).start()
    try:
        api = make_api(first.target)
        watch = api.client.watch(after_sequence=0)
        flip(api)
        api.run(api.client.transition_breaker("orders_db", "disabled"))
        assert [e.sequence for e in api.take(watch, 7)] == list(range(1, 8))
    finally:
        first.stop()
    with ServerThread(config, port=port):
        # The stream ends with UNAVAILABLE; the new server's log is younger than sequence 7
        # (OUT_OF_RANGE), so the watch re-reads the state and carries on after it.
        snapshot = api.take(watch, 1)[0]
        assert isinstance(snapshot, Snapshot) and snapshot.sequence == 0
        assert {b.name: b.state for b in snapshot.breakers} == {
            "dydx_api": BreakerState.CLOSED, "websocket": BreakerState.CLOSED,
            "orders_db": BreakerState.CLOSED}  # what the new server knows, not the old
        assert snapshot.health.health == "healthy" and not snapshot.degradation.is_degraded
        api.run(api.client.transition_breaker("websocket", "forced_open"))
        after = api.take(watch, 3)
        assert [(type(e), e.sequence) for e in after] == [
            (BreakerTransition, 1), (DegradationChange, 2), (HealthChange, 3)]


def test_a_restarted_server_whose_log_passed_the_position_gives_a_snapshot(
        make_api: Any, config: Config, free_port: Any) -> None:
    """The new log already counts past where the watch was: its numbers would look like a
    continuation, but they count another history; the log id tells them apart."""
    port = free_port()
    with ServerThread(config, port=port) as first:
        api = make_api(first.target)
        watch = api.client.watch(after_sequence=0)
        flip(api)
        assert [e.sequence for e in api.take(watch, 6)] == list(range(1, 7))
    with ServerThread(config, port=port) as second:
        for state in ("forced_open", "closed", "forced_open", "closed"):
            second.call(second.running.plane.transition_breaker(
                "orders_db", ServerState.FORCED_OPEN if state == "forced_open"
                else ServerState.CLOSED))
        assert second.running.plane.events.last_sequence == 12  # past the watch's 6
        snapshot = api.take(watch, 1)[0]
        assert isinstance(snapshot, Snapshot) and snapshot.sequence == 12
        api.run(api.client.transition_breaker("websocket", "forced_open"))
        assert [e.sequence for e in api.take(watch, 3)] == [13, 14, 15]


async def flood(log: EventLog) -> None:
    """Append big events until the only subscriber is cut off for falling behind."""
    burst = Transition("flood", ServerState.CLOSED, ServerState.OPEN, "x" * 2000, 0.0)
    for _ in range(5000):
        for _ in range(20):
            log.append(burst, time.time())
        await asyncio.sleep(0.001)
        if log.subscribers == 0:
            return
    raise AssertionError("the stalled watch was never cut off")


def test_resumes_without_a_gap_after_being_cut_off_for_lagging(
        make_api: Any, config: Config, caplog: pytest.LogCaptureFixture) -> None:
    config = replace(config, events=EventSettings(max_events=1_000_000, max_lag=100))
    with ServerThread(config) as server:
        api = make_api(server.target)
        watch = api.client.watch(after_sequence=0)
        api.run(api.client.transition_breaker("websocket", "forced_open"))
        assert api.take(watch, 1)[0].sequence == 1  # subscribed; now stalled
        server.call(flood(server.running.plane.events), timeout=30)
        last = server.running.plane.events.last_sequence
        events = api.take(watch, last - 1)
        assert [e.sequence for e in events] == list(range(2, last + 1))
        assert not any(isinstance(e, Snapshot) for e in events)
        assert "RESOURCE_EXHAUSTED" in caplog.text


def test_out_of_range_gives_a_snapshot_then_events(make_api: Any, config: Config) -> None:
    config = replace(config, events=EventSettings(max_events=10, max_lag=10))
    with ServerThread(config) as server:
        api = make_api(server.target)
        for _ in range(14):
            flip(api)
        api.run(api.client.transition_breaker("orders_db", "disabled"))
        assert server.running.plane.events.first_sequence > 1  # the oldest are gone
        trimmed = api.client.watch(after_sequence=0)
        ahead = api.client.watch(after_sequence=10**6)  # "a server restarted without its log"
        snapshot = api.take(trimmed, 1)[0]
        assert isinstance(snapshot, Snapshot)
        assert snapshot.sequence == trimmed.last_sequence == 85
        assert {b.name: b.state for b in snapshot.breakers}["orders_db"] is BreakerState.DISABLED
        assert [b.name for b in snapshot.health.circuit_breakers] == ["orders_db"]
        assert api.take(ahead, 1) == [snapshot]
        api.run(api.client.transition_breaker("orders_db", "closed"))
        assert [e.sequence for e in api.take(trimmed, 1)] == [86]
        assert [e.sequence for e in api.take(ahead, 1)] == [86]


def test_breaking_out_of_the_loop_ends_the_stream(
        api: Api, server: ServerThread, eventually: Any) -> None:
    start = sequence_now(api)
    flip(api)
    if api.flavour == "sync":
        for got in api.client.watch(after_sequence=start):
            event = got
            break
        with api.client.watch(after_sequence=start) as watch:
            assert next(watch) == event
    else:
        async def first() -> Any:
            async for event in api.client.watch(after_sequence=start):
                return event
            raise AssertionError("the watch ended")

        async def first_within() -> Any:
            async with api.client.watch(after_sequence=start) as watch:
                return await anext(watch)

        event = api.run(first())
        assert api.run(first_within()) == event
    assert event.sequence == start + 1
    eventually(lambda: subscribers(server, 0))


def test_closing_the_client_ends_a_watch(api: Api, server: ServerThread,
                                         eventually: Any) -> None:
    followed = api.follow(api.client.watch())
    eventually(lambda: subscribers(server, 1))
    api.run(api.client.close())
    assert followed.next(within=2) is Followed.END
    eventually(lambda: subscribers(server, 0))


def test_closing_the_client_ends_a_watch_that_is_retrying(make_api: Any,
                                                         free_port: Any) -> None:
    api = make_api(f"127.0.0.1:{free_port()}")
    followed = api.follow(api.client.watch())
    with pytest.raises(queue.Empty):
        followed.next(within=0.5)  # still trying: nothing listens there
    started = time.monotonic()
    api.run(api.client.close())
    assert followed.next(within=2) is Followed.END
    assert time.monotonic() - started < 1.0  # its backoff sleep was cut short


def test_bad_filters_are_refused_before_anything_is_sent(api: Api) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        api.client.watch(types=["breaker_transition", "nope"])
    assert [v.field for v in caught.value.field_violations] == ["types[1]"]
    with pytest.raises(InvalidArgumentError, match="min_severity"):
        api.client.watch(min_severity="urgent")
    with pytest.raises(InvalidArgumentError, match="after_sequence"):
        api.client.watch(after_sequence=-1)


def test_errors_no_retry_can_cure_are_raised(make_api: Any, fake_server: Any) -> None:
    api = make_api(fake_server().target)  # a GuardService and nothing else
    with pytest.raises(StatusError) as caught:
        api.take(api.client.watch(after_sequence=0), 1)
    assert caught.value.code is grpc.StatusCode.UNIMPLEMENTED


def test_backoff_doubles_with_jitter_up_to_its_cap_and_starts_over() -> None:
    low, high = Backoff(draw=lambda: 0.0), Backoff(draw=lambda: 1.0)
    assert [low.next() for _ in range(7)] == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1, 1])
    assert [high.next() for _ in range(7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2, 2])
    low.reset()
    assert (low.failures, low.next()) == (0, pytest.approx(0.05))


def test_events_this_client_cannot_represent_are_skipped() -> None:
    field_20 = bytes([0xA2, 0x01, 0])  # a payload field this client does not know, empty
    newer_type = events_pb2.Event(sequence=7).SerializeToString() + field_20
    assert _codec.event(events_pb2.Event.FromString(newer_type)) is None
    newer_state = events_pb2.Event(sequence=8)
    newer_state.breaker_transition.from_state = 1
    newer_state.breaker_transition.to_state = 9  # type: ignore[assignment]
    assert _codec.event(newer_state) is None
    newer_state.breaker_transition.to_state = 2  # type: ignore[assignment]
    assert isinstance(_codec.event(newer_state), BreakerTransition)


def test_a_deleted_breaker_is_a_typed_event() -> None:
    message = events_pb2.Event(sequence=9)
    message.time.FromSeconds(1_700_000_000)
    message.breaker_deleted.breaker = "payments"
    message.breaker_deleted.last_state = 2  # type: ignore[assignment]
    assert _codec.event(message) == BreakerDeleted(9, 1_700_000_000.0, "payments",
                                                   BreakerState.OPEN)
    assert BreakerDeleted.type == "breaker_deleted"


def test_watch_selects_deleted_breakers_by_name() -> None:
    request = _codec.watch_request(["breaker_deleted"], None, None)
    assert list(request.types) == [enums_pb2.EVENT_TYPE_BREAKER_DELETED]


def test_a_deleted_breaker_reaches_the_watch(api: Api) -> None:
    api.run(api.client.transition_breaker("websocket", "forced_open"))
    start = api.run(api.client.system_health()).sequence
    watch = api.client.watch(types=["breaker_deleted"], after_sequence=start)
    api.run(api.client.delete_breaker("websocket"))
    [deleted] = api.take(watch, 1)
    assert isinstance(deleted, BreakerDeleted)
    assert (deleted.breaker, deleted.last_state) == ("websocket", BreakerState.FORCED_OPEN)


def test_a_stream_that_breaks_at_the_same_place_backs_off(
        make_api: Any, server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """A batch this client cannot receive (here: over a 1 KB receive limit) breaks every
    attempt at the same sequence; the watch must slow down, not retry every 0.1 s for ever."""
    reporter = make_api(server.target)
    reporter.run(reporter.client.report(RuntimeError("x" * 2_000)))
    api = make_api(server.target, channel_options=[("grpc.max_receive_message_length", 1024)])
    followed = api.follow(api.client.watch(after_sequence=0))
    time.sleep(3.0)
    api.run(api.client.close())
    assert followed.next() is Followed.END
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert all("RESOURCE_EXHAUSTED" in r.getMessage() for r in retries)
    assert 2 <= len(retries) <= 6  # 0.1 s doubling: 5 in 3 s; resetting each time, ~40
