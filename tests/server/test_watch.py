"""EventService.Watch over real gRPC: replay then live without gaps, filters, fan-out, and a
stalled subscriber cut off without anyone else noticing."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import grpc
import pytest
from google.protobuf import duration_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from rescp._proto import admin_pb2 as a
from rescp._proto import events_pb2 as e
from rescp._proto import guard_pb2 as g
from rescp.config import EventSettings, load, parse
from rescp.engine.breaker import Transition
from rescp.enums import BreakerState
from rescp.testing import ServerThread
from tests.server.conftest import Stubs
from tests.support import EXAMPLE

FORCED_OPEN, CLOSED = 4, 1


def read_until(stream: Iterator[e.WatchResponse], last: int) -> list[e.Event]:
    """Events from the stream up to and including sequence `last`."""
    events: list[e.Event] = []
    for response in stream:
        events.extend(response.events)
        if events and events[-1].sequence >= last:
            return events
    raise AssertionError("stream ended early")


def take(stream: Iterator[e.WatchResponse], count: int) -> list[e.Event]:
    """The next `count` events, however they are batched."""
    events: list[e.Event] = []
    while len(events) < count:
        events.extend(next(stream).events)
    assert len(events) == count, "more events than expected"
    return events


def flip(stubs: Stubs, name: str, times: int) -> None:
    for i in range(times):
        state = FORCED_OPEN if i % 2 == 0 else CLOSED
        stubs.TransitionBreaker(a.TransitionBreakerRequest(name=name, state=state))


def test_live_events_in_order_with_payloads(stubs: Stubs) -> None:
    stream = stubs.Watch(e.WatchRequest())
    stream.initial_metadata()  # subscribed: everything from here on is delivered
    flip(stubs, "websocket", 2)
    stubs.Report(g.ReportRequest(error_type="ConnectionError", message="refused"))
    last = stubs.ListBreakers(a.ListBreakersRequest()).sequence
    events = read_until(stream, last)
    stream.cancel()
    kinds = [ev.WhichOneof("payload") for ev in events]
    assert kinds == ["breaker_transition", "degradation_change", "health_change",
                     "breaker_transition", "degradation_change", "health_change",
                     "notification"]
    assert [ev.sequence for ev in events] == list(range(1, 8))
    t = events[0].breaker_transition
    assert (t.breaker, t.from_state, t.to_state, t.reason) == ("websocket", 1, 4, "manual")
    assert events[1].degradation_change.affected_features[0].feature == "real_time_updates"
    assert events[6].notification.title == "NETWORK Error" and events[6].time.seconds > 0


def test_read_then_watch_misses_nothing_and_repeats_nothing(stubs: Stubs) -> None:
    flip(stubs, "dydx_api", 3)
    seen = stubs.ListBreakers(a.ListBreakersRequest()).sequence
    flip(stubs, "dydx_api", 1)
    stream = stubs.Watch(e.WatchRequest(after_sequence=seen))
    flip(stubs, "dydx_api", 2)
    last = stubs.ListBreakers(a.ListBreakersRequest()).sequence
    events = read_until(stream, last)
    stream.cancel()
    assert [ev.sequence for ev in events] == list(range(seen + 1, last + 1))


def test_filters(stubs: Stubs) -> None:
    transitions = stubs.Watch(e.WatchRequest(types=[1]))
    serious = stubs.Watch(e.WatchRequest(types=[2], min_severity=3))
    severe_and_health = stubs.Watch(e.WatchRequest(types=[2, 4], min_severity=4))
    for stream in (transitions, serious, severe_and_health):
        stream.initial_metadata()
    for error_type in ("ValueError", "ConnectionError", "MemoryError"):
        stubs.Report(g.ReportRequest(error_type=error_type, message="x"))
    flip(stubs, "websocket", 1)
    assert [ev.breaker_transition.breaker for ev in take(transitions, 1)] == ["websocket"]
    assert [ev.notification.severity for ev in take(serious, 2)] == [3, 4]
    kinds = [ev.WhichOneof("payload") for ev in take(severe_and_health, 2)]
    assert kinds == ["notification", "health_change"]  # HEALTHY -> CRITICAL; the flip changes none
    for stream in (transitions, serious, severe_and_health):
        stream.cancel()


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ServerThread]:
    config = parse(EXAMPLE.read_text() + "\n[limits.tight]\nmax_requests = 1\nwindow = 0.05\n")
    with ServerThread(config) as server:
        yield server


OPS = st.lists(st.sampled_from(["flip", "report", "refuse", "allow"]), min_size=1, max_size=25)


@settings(max_examples=25)
@given(ops=OPS, join_at=st.integers(0, 25), back=st.integers(0, 30))
def test_replay_live_boundary_under_concurrent_writes(
        shared_server: ServerThread, ops: list[str], join_at: int, back: int) -> None:
    """A subscriber joining mid-stream, from any retained sequence, sees exactly the log."""
    with grpc.insecure_channel(shared_server.target) as channel:
        stubs = Stubs(channel)
        start = stubs.ListBreakers(a.ListBreakersRequest()).sequence
        reference = stubs.Watch(e.WatchRequest(after_sequence=start))
        reference.initial_metadata()
        joined: list[Iterator[e.WatchResponse]] = []
        after: list[int] = []

        def writer() -> None:
            for i, op in enumerate(ops):
                if i == min(join_at, len(ops) - 1):
                    now = stubs.ListBreakers(a.ListBreakersRequest()).sequence
                    after.append(max(start, now - back))
                    joined.append(stubs.Watch(e.WatchRequest(after_sequence=after[0])))
                if op == "flip":
                    flip(stubs, "websocket", 1)
                elif op == "report":
                    stubs.Report(g.ReportRequest(error_type="TimeoutError", message=f"t{i}"))
                else:
                    stubs.Allow(g.AllowRequest(limit="tight", key=op))

        thread = threading.Thread(target=writer)
        thread.start()
        thread.join()
        last = stubs.ListBreakers(a.ListBreakersRequest()).sequence
        if last == start:
            reference.cancel()
            joined[0].cancel()
            return
        everything = read_until(reference, last)
        assert [ev.sequence for ev in everything] == list(range(start + 1, last + 1))
        if after[0] < last:
            tail = read_until(joined[0], last)
            assert tail == everything[after[0] - start:]
        reference.cancel()
        joined[0].cancel()


def test_hundred_subscribers_receive_identical_streams(stubs: Stubs, server: ServerThread) -> None:
    async def run() -> list[list[bytes]]:
        async with grpc.aio.insecure_channel(server.target) as channel:
            watch = channel.unary_stream("/rescp.v1.EventService/Watch",
                                         request_serializer=e.WatchRequest.SerializeToString,
                                         response_deserializer=e.WatchResponse.FromString)
            calls = [watch(e.WatchRequest()) for _ in range(100)]
            await asyncio.gather(*(c.initial_metadata() for c in calls))
            await asyncio.get_running_loop().run_in_executor(None, flip, stubs, "websocket", 40)
            last = stubs.ListBreakers(a.ListBreakersRequest()).sequence

            async def collect(call: grpc.aio.UnaryStreamCall) -> list[bytes]:  # type: ignore[type-arg]
                got: list[bytes] = []
                async for response in call:
                    got += [ev.SerializeToString() for ev in response.events]
                    if response.events[-1].sequence >= last:
                        call.cancel()
                        break
                return got

            return await asyncio.gather(*(collect(c) for c in calls))

    streams = asyncio.run(run())
    assert len(streams) == 100 and len(streams[0]) == 120
    assert all(s == streams[0] for s in streams)


def test_stalled_subscriber_is_cut_off_and_nobody_else_notices() -> None:
    config = replace(load(EXAMPLE), events=EventSettings(max_events=100_000, max_lag=500))
    with ServerThread(config) as server, grpc.insecure_channel(server.target) as channel:
        stubs = Stubs(channel)
        stalled = stubs.Watch(e.WatchRequest())
        stalled.initial_metadata()  # subscribed, and never read until the end
        healthy = stubs.Watch(e.WatchRequest())
        healthy.initial_metadata()
        log = server.running.plane.events
        received: list[e.Event] = []
        latencies: list[float] = []
        flooding = threading.Event()

        def follow() -> None:
            try:
                for response in healthy:
                    received.extend(response.events)
            except grpc.RpcError:
                pass  # cancelled at the end

        def probe() -> None:
            while not flooding.is_set():
                started = time.perf_counter()
                assert stubs.Allow(g.AllowRequest(breaker="dydx_api")).allowed
                latencies.append(time.perf_counter() - started)

        async def flood() -> int:
            burst = Transition("flood", BreakerState.CLOSED, BreakerState.OPEN, "x" * 200, 0.0)
            for i in range(5000):
                for _ in range(50):
                    log.append(burst, time.time())
                await asyncio.sleep(0.002)  # a heavy but sustainable rate, ~20k events/s
                if log.subscribers == 1:
                    return i
            return -1

        threads = [threading.Thread(target=follow, daemon=True), threading.Thread(target=probe)]
        for thread in threads:
            thread.start()
        try:
            assert server.call(flood(), timeout=60) >= 0  # the stalled one was cut off
        finally:
            flooding.set()
        threads[1].join()
        last = log.last_sequence
        deadline = time.monotonic() + 10
        while (not received or received[-1].sequence < last) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [ev.sequence for ev in received] == list(range(1, last + 1))  # no gap
        assert latencies and max(latencies) < 0.5  # a sanity bound: nobody waited for it
        sequences = []
        with pytest.raises(grpc.RpcError) as caught:
            for response in stalled:
                sequences += [ev.sequence for ev in response.events]
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
        assert sequences == list(range(1, len(sequences) + 1))  # what it got is gap-free
        healthy.cancel()


def test_reads_and_watch_name_the_log_their_sequences_count_in(stubs: Stubs) -> None:
    log_ids = {stubs.ListBreakers(a.ListBreakersRequest()).log_id,
               stubs.GetSystemHealth(a.GetSystemHealthRequest()).log_id,
               stubs.GetDegradation(a.GetDegradationRequest()).log_id}
    stream = stubs.Watch(e.WatchRequest())
    log_ids.add(dict(stream.initial_metadata())["rescp-log-id"])
    stream.cancel()
    assert len(log_ids) == 1
    (log_id,) = log_ids
    assert len(log_id) == 32
    with ServerThread() as other, grpc.insecure_channel(other.target) as channel:
        elsewhere = Stubs(channel).ListBreakers(a.ListBreakersRequest()).log_id
    assert len(elsewhere) == 32 and elsewhere != log_id


def test_rate_limit_alerts_are_throttled_per_key_and_count_refusals(stubs: Stubs) -> None:
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name="burst", max_requests=1, window=duration_pb2.Duration(nanos=400_000_000))))
    stream = stubs.Watch(e.WatchRequest(types=[5]))
    stream.initial_metadata()
    allow = g.AllowRequest(limit="burst", key="k")
    assert stubs.Allow(allow).allowed
    for _ in range(3):  # the first refusal alerts; the next two only count
        assert not stubs.Allow(allow).allowed
    assert stubs.Allow(g.AllowRequest(limit="burst", key="other")).allowed
    time.sleep(0.45)  # a window after the alert (and the admitted request has left it too)
    assert stubs.Allow(allow).allowed
    assert not stubs.Allow(allow).allowed  # alerts again, carrying the refusals since the last
    alerts = [ev.rate_limit_exceeded for ev in take(stream, 2)]
    stream.cancel()
    assert [(x.limit, x.key, x.refused) for x in alerts] == [("burst", "k", 1), ("burst", "k", 3)]
    assert 0 < alerts[1].retry_after.nanos <= 400_000_000


def test_a_backlog_arrives_several_events_per_response(stubs: Stubs) -> None:
    flip(stubs, "websocket", 100)  # 300 events
    last = stubs.ListBreakers(a.ListBreakersRequest()).sequence
    stream = stubs.Watch(e.WatchRequest(after_sequence=0))
    sizes: list[int] = []
    for response in stream:
        sizes.append(len(response.events))
        if response.events[-1].sequence >= last:
            break
    stream.cancel()
    assert sum(sizes) == last and max(sizes) > 1 and len(sizes) < last
