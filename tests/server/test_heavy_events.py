"""Events under heavy state: bounded event sizes however many circuits are open, Watch
responses packed by bytes, and a resume replaying far more than max_lag."""

from __future__ import annotations

import threading
from dataclasses import replace

import grpc

from rescp._proto import admin_pb2 as a
from rescp._proto import events_pb2 as e
from rescp.config import EventSettings, load
from rescp.engine.errorlog import ErrorRecord
from rescp.enums import ErrorCategory, EventType, Severity
from rescp.events import EVENT_FEATURES, EVENT_OPEN_CIRCUITS, Event
from rescp.server.events import WATCH_BATCH_BYTES, watch_responses
from rescp.testing import ServerThread
from tests.server.conftest import Stubs
from tests.server.test_watch import flip, read_until
from tests.support import EXAMPLE

FORCED_OPEN = 4


def test_degradation_events_stay_small_with_many_open_circuits(stubs: Stubs) -> None:
    opened = 300
    names = [f"b{i:04}" for i in range(opened)]
    for name in names:
        stubs.PutBreaker(a.PutBreakerRequest(name=name))
    for i in range(0, opened, 10):  # 30 features of 10 breakers each
        stubs.PutFeature(a.PutFeatureRequest(feature=a.Feature(name=f"f{i:04}",
                                                               breakers=names[i:i + 10])))
    start = stubs.ListBreakers(a.ListBreakersRequest()).sequence
    for name in names:
        stubs.TransitionBreaker(a.TransitionBreakerRequest(name=name, state=FORCED_OPEN))
    last = stubs.GetDegradation(a.GetDegradationRequest()).sequence
    events = read_until(stubs.Watch(e.WatchRequest(after_sequence=start)), last)
    changes = [ev.degradation_change for ev in events if ev.HasField("degradation_change")]
    assert len(changes) == opened
    final = changes[-1]
    assert final.open_circuit_count == opened and final.affected_feature_count == 30
    assert list(final.open_circuits) == names[:EVENT_OPEN_CIRCUITS]
    assert len(final.affected_features) == EVENT_FEATURES
    assert max(ev.ByteSize() for ev in events) < 64 * 1024
    whole = stubs.GetDegradation(a.GetDegradationRequest())
    assert list(whole.open_circuits) == names  # the read side still lists them all


def _notification(sequence: int, size: int) -> Event:
    record = ErrorRecord(
        error_id=f"e{sequence}", operation="op", error_type="E", message="m" * size,
        category=ErrorCategory.UNKNOWN, severity=Severity.LOW, user_message="u", time=0.0,
        acknowledged=False, user_id="", action_type="retry", action_message="retry",
        fingerprint="0" * 16, context={}, service="", breaker="")
    return Event(sequence, 0.0, record, EventType.NOTIFICATION)


def test_watch_responses_are_packed_by_bytes_in_order() -> None:
    batch = [_notification(i, 4000) for i in range(1, 257)]  # ~1 MiB in all
    responses = [e.WatchResponse.FromString(r) for r in watch_responses(batch)]
    assert len(responses) > 1
    assert all(r.ByteSize() <= WATCH_BATCH_BYTES for r in responses)
    assert [ev.sequence for r in responses for ev in r.events] == list(range(1, 257))
    small = [_notification(i, 10) for i in range(1, 257)]
    assert len(list(watch_responses(small))) == 1


def test_resume_replays_far_more_than_max_lag() -> None:
    config = replace(load(EXAMPLE), events=EventSettings(max_events=10_000, max_lag=100))
    with ServerThread(config) as server, grpc.insecure_channel(server.target) as channel:
        stubs = Stubs(channel)
        flip(stubs, "websocket", 3_000)  # 3,000 events back, 30 times max_lag
        stream = stubs.Watch(e.WatchRequest(after_sequence=0))
        stream.initial_metadata()
        live = threading.Thread(target=flip, args=(stubs, "dydx_api", 50))
        live.start()  # live events arrive while it replays
        live.join()
        last = server.running.plane.events.last_sequence
        events = read_until(stream, last)
        assert [ev.sequence for ev in events] == list(range(1, last + 1))
