"""The store conformance suite: every backend, through a real server, answers every operation
the same way and appends the same events with the same sequences.

Each test runs once per backend (see conftest.BACKENDS); what only a durable backend promises
(restarts, crashes, a failing disk) is in test_durability and test_crash.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from google.protobuf import duration_pb2

from rescp._proto import admin_pb2 as a
from rescp._proto import events_pb2 as e
from rescp._proto import guard_pb2 as g
from tests.server.conftest import Stubs

CLOSED, OPEN, HALF_OPEN, FORCED_OPEN = 1, 2, 3, 4
SUCCESS, FAILURE = 1, 2
TRANSITION, NOTIFICATION, DEGRADATION, HEALTH, RATE_LIMIT, DELETED = 1, 2, 3, 4, 5, 6


def take(stream: Iterator[e.WatchResponse], count: int) -> list[e.Event]:
    events: list[e.Event] = []
    for response in stream:
        events.extend(response.events)
        if len(events) >= count:
            return events
    raise AssertionError("stream ended early")


def kind(event: e.Event) -> str:
    return str(event.WhichOneof("payload"))


def fail(stubs: Stubs, breaker: str, times: int = 1) -> None:
    for _ in range(times):
        permit = stubs.Allow(g.AllowRequest(breaker=breaker)).permit
        stubs.Record(g.RecordRequest(breaker=breaker, outcome=FAILURE, permit=permit))


def put_breaker(stubs: Stubs, name: str, threshold: int, recovery: float) -> None:
    stubs.PutBreaker(a.PutBreakerRequest(name=name, config=a.BreakerConfig(
        failure_threshold=threshold,
        recovery_timeout=duration_pb2.Duration(nanos=int(recovery * 1e9) % 10**9,
                                               seconds=int(recovery)))))


def test_allow_creates_a_breaker_and_a_read_carries_the_sequence_it_reflects(
        stubs: Stubs) -> None:
    assert stubs.Allow(g.AllowRequest(breaker="fresh")).allowed
    listed = stubs.ListBreakers(a.ListBreakersRequest())
    assert "fresh" in [b.name for b in listed.breakers]
    stream = stubs.Watch(e.WatchRequest(after_sequence=listed.sequence))
    fail(stubs, "fresh", 5)  # the default threshold
    events = take(stream, 1)
    stream.cancel()
    first = events[0]
    assert first.sequence == listed.sequence + 1  # nothing missed, nothing repeated
    assert kind(first) == "breaker_transition"
    assert (first.breaker_transition.breaker, first.breaker_transition.to_state) == (
        "fresh", OPEN)


def test_a_transition_and_its_consequences_in_order_with_consecutive_sequences(
        stubs: Stubs) -> None:
    start = stubs.GetSystemHealth(a.GetSystemHealthRequest()).sequence
    stream = stubs.Watch(e.WatchRequest(after_sequence=start))
    fail(stubs, "websocket", 3)  # the example's threshold; feature real_time_updates degrades
    events = take(stream, 3)
    stream.cancel()
    assert [ev.sequence for ev in events[:3]] == [start + 1, start + 2, start + 3]
    assert [kind(ev) for ev in events[:3]] == [
        "breaker_transition", "degradation_change", "health_change"]
    assert events[1].degradation_change.is_degraded
    assert events[2].health_change.to_health != events[2].health_change.from_health


def test_a_deadline_moves_an_open_breaker_without_traffic_and_announces_it_once(
        stubs: Stubs) -> None:
    put_breaker(stubs, "timed", 1, 0.2)
    start = stubs.GetSystemHealth(a.GetSystemHealthRequest()).sequence
    stream = stubs.Watch(e.WatchRequest(after_sequence=start, types=[TRANSITION]))
    fail(stubs, "timed")
    events = take(stream, 2)
    time.sleep(0.3)  # anything announced twice would have arrived by now
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="timed", state=FORCED_OPEN))
    events += take(stream, 1)
    stream.cancel()
    moves = [(ev.breaker_transition.to_state, ev.breaker_transition.reason) for ev in events]
    assert moves[:3] == [(OPEN, "consecutive_failures"), (HALF_OPEN, "recovery_timeout"),
                         (FORCED_OPEN, "manual")]


def test_reports_count_once_per_idempotency_key_and_acknowledgement_sticks(
        stubs: Stubs) -> None:
    start = stubs.GetSystemHealth(a.GetSystemHealthRequest()).sequence
    stream = stubs.Watch(e.WatchRequest(after_sequence=start, types=[NOTIFICATION]))
    report = g.ReportRequest(error_type="TimeoutError", message="timed out",
                             idempotency_key="once")
    first = stubs.Report(report).record
    again = stubs.Report(report).record
    other = stubs.Report(g.ReportRequest(error_type="ValueError", message="bad input")).record
    assert first.error_id == again.error_id != other.error_id
    notes = take(stream, 2)
    stream.cancel()
    assert [n.notification.id for n in notes] == [first.error_id, other.error_id]
    acked = stubs.AcknowledgeError(a.AcknowledgeErrorRequest(error_id=first.error_id)).record
    assert acked.acknowledged
    summary = stubs.GetErrorSummary(a.GetErrorSummaryRequest())
    assert summary.total_errors == 2
    open_ones = stubs.ListNotifications(a.ListNotificationsRequest()).notifications
    assert [n.id for n in open_ones] == [other.error_id]


def test_configs_put_list_and_delete_with_deletion_events(stubs: Stubs) -> None:
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name="conf", max_requests=3, window=duration_pb2.Duration(seconds=9))))
    stubs.PutFeature(a.PutFeatureRequest(feature=a.Feature(name="f", breakers=["gone"])))
    assert stubs.Allow(g.AllowRequest(breaker="gone")).allowed
    assert "conf" in [x.name for x in stubs.ListLimits(a.ListLimitsRequest()).limits]
    assert "f" in [x.name for x in stubs.ListFeatures(a.ListFeaturesRequest()).features]
    start = stubs.GetSystemHealth(a.GetSystemHealthRequest()).sequence
    stream = stubs.Watch(e.WatchRequest(after_sequence=start, types=[DELETED]))
    stubs.DeleteBreaker(a.DeleteBreakerRequest(name="gone"))
    stubs.DeleteLimit(a.DeleteLimitRequest(name="conf"))
    stubs.DeleteFeature(a.DeleteFeatureRequest(name="f"))
    deleted = take(stream, 1)[0]
    stream.cancel()
    assert (deleted.breaker_deleted.breaker, deleted.breaker_deleted.last_state) == (
        "gone", CLOSED)
    assert "conf" not in [x.name for x in stubs.ListLimits(a.ListLimitsRequest()).limits]
    assert "f" not in [x.name for x in stubs.ListFeatures(a.ListFeaturesRequest()).features]


def test_a_rate_limit_refusal_appends_its_alert(stubs: Stubs) -> None:
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name="one", max_requests=1, window=duration_pb2.Duration(seconds=60))))
    start = stubs.GetSystemHealth(a.GetSystemHealthRequest()).sequence
    stream = stubs.Watch(e.WatchRequest(after_sequence=start, types=[RATE_LIMIT]))
    assert stubs.Allow(g.AllowRequest(limit="one", key="k")).allowed
    refused = stubs.Allow(g.AllowRequest(limit="one", key="k"))
    alert = take(stream, 1)[0]
    stream.cancel()
    assert not refused.allowed and refused.verdict == 3
    assert (alert.rate_limit_exceeded.limit, alert.rate_limit_exceeded.key) == ("one", "k")
    assert alert.sequence > start


def test_health_changes_are_announced_once_per_change(stubs: Stubs) -> None:
    start = stubs.GetSystemHealth(a.GetSystemHealthRequest()).sequence
    stream = stubs.Watch(e.WatchRequest(after_sequence=start, types=[HEALTH]))
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api", state=FORCED_OPEN))
    for _ in range(3):  # reads recompute health; none of them may announce it again
        stubs.GetSystemHealth(a.GetSystemHealthRequest())
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api", state=CLOSED))
    changes = take(stream, 2)
    stream.cancel()
    pairs = [(c.health_change.from_health, c.health_change.to_health) for c in changes]
    assert pairs[0][1] == pairs[1][0] and pairs[0][0] == pairs[1][1]
