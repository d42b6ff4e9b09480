"""AdminService over real gRPC on loopback: configuration, errors, health and degradation."""

from __future__ import annotations

from dataclasses import replace

import grpc
import pytest
from google.protobuf import duration_pb2

from rescp._proto import admin_pb2 as a
from rescp._proto import guard_pb2 as g
from rescp.config import ErrorSettings, load
from rescp.testing import ServerThread
from tests.server.conftest import Stubs
from tests.support import EXAMPLE

CLOSED, OPEN, HALF_OPEN, FORCED_OPEN, DISABLED = 1, 2, 3, 4, 5
HEALTHY, WARNING, CRITICAL = 1, 2, 3


def test_start_up_config_is_served(stubs: Stubs) -> None:
    breakers = {b.name: b for b in stubs.ListBreakers(a.ListBreakersRequest()).breakers}
    assert breakers["dydx_api"].config.failure_threshold == 5
    assert breakers["websocket"].config.failure_threshold == 3
    assert all(b.state == CLOSED for b in breakers.values())
    assert [x.name for x in stubs.ListLimits(a.ListLimitsRequest()).limits] == ["api"]
    features = stubs.ListFeatures(a.ListFeaturesRequest()).features
    assert [f.name for f in features] == ["real_time_updates", "trading"]


def test_put_breaker_fills_defaults_and_keeps_state_on_replace(stubs: Stubs) -> None:
    put = stubs.PutBreaker(a.PutBreakerRequest(name="db", config=a.BreakerConfig(
        failure_rate_threshold=50, window_size=10))).breaker
    c = put.config
    assert (c.window_type, c.window_size, c.minimum_calls, c.half_open_permits) == (1, 10, 10, 1)
    assert c.recovery_timeout.seconds == 60 and c.failure_threshold == 0
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="db", state=FORCED_OPEN))
    replaced = stubs.PutBreaker(a.PutBreakerRequest(name="db", config=a.BreakerConfig(
        failure_threshold=3))).breaker
    assert replaced.state == FORCED_OPEN and replaced.config.failure_threshold == 3


def test_rates_read_minus_one_below_minimum_calls(stubs: Stubs) -> None:
    stubs.PutBreaker(a.PutBreakerRequest(name="r", config=a.BreakerConfig(
        failure_rate_threshold=90, window_size=4, minimum_calls=4)))
    outcomes = [2, 1, 1]
    for outcome in outcomes:
        stubs.Record(g.RecordRequest(breaker="r", outcome=outcome))
    assert stubs.GetBreaker(a.GetBreakerRequest(name="r")).breaker.failure_rate == -1
    stubs.Record(g.RecordRequest(breaker="r", outcome=1))
    b = stubs.GetBreaker(a.GetBreakerRequest(name="r")).breaker
    assert b.failure_rate == 25 and b.slow_call_rate == 0 and b.state == CLOSED


def test_transition_and_delete(stubs: Stubs) -> None:
    for state in (FORCED_OPEN, DISABLED, CLOSED):
        b = stubs.TransitionBreaker(a.TransitionBreakerRequest(name="websocket", state=state))
        assert b.breaker.state == state
    stubs.DeleteBreaker(a.DeleteBreakerRequest(name="websocket"))
    with pytest.raises(grpc.RpcError) as caught:
        stubs.GetBreaker(a.GetBreakerRequest(name="websocket"))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]


def test_limits_put_list_delete(stubs: Stubs) -> None:
    limit = a.Limit(name="burst", max_requests=5, window=duration_pb2.Duration(seconds=1))
    stored = stubs.PutLimit(a.PutLimitRequest(limit=limit)).limit
    assert stored.algorithm == 1  # unset means SLIDING_WINDOW
    names = [x.name for x in stubs.ListLimits(a.ListLimitsRequest()).limits]
    assert names == ["api", "burst"]
    stubs.DeleteLimit(a.DeleteLimitRequest(name="burst"))
    assert [x.name for x in stubs.ListLimits(a.ListLimitsRequest()).limits] == ["api"]


def test_degradation_follows_open_circuits(stubs: Stubs) -> None:
    before = stubs.GetDegradation(a.GetDegradationRequest())
    assert not before.is_degraded and not before.affected_features
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="websocket", state=FORCED_OPEN))
    d = stubs.GetDegradation(a.GetDegradationRequest())
    assert d.is_degraded and list(d.open_circuits) == ["websocket"] and d.fallback_available
    assert [(f.feature, f.status, f.message) for f in d.affected_features] == [
        ("real_time_updates", "degraded", "Real-time updates (using polling fallback)")]
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api", state=FORCED_OPEN))
    d = stubs.GetDegradation(a.GetDegradationRequest())
    assert [(f.feature, f.status) for f in d.affected_features] == [
        ("real_time_updates", "degraded"), ("trading", "unavailable")]
    assert d.sequence > before.sequence
    stubs.DeleteFeature(a.DeleteFeatureRequest(name="trading"))
    d = stubs.GetDegradation(a.GetDegradationRequest())
    assert [f.feature for f in d.affected_features] == ["real_time_updates"]


def test_system_health_warning_then_critical_then_back(stubs: Stubs) -> None:
    h = stubs.GetSystemHealth(a.GetSystemHealthRequest())
    assert (h.health, h.open_circuits, len(h.circuit_breakers)) == (HEALTHY, 0, 0)
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api", state=FORCED_OPEN))
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="websocket", state=DISABLED))
    h = stubs.GetSystemHealth(a.GetSystemHealthRequest())
    assert (h.health, h.open_circuits) == (WARNING, 1)
    assert sorted(b.name for b in h.circuit_breakers) == ["dydx_api", "websocket"]
    critical = stubs.Report(g.ReportRequest(error_type="MemoryError", message="out of memory"))
    assert critical.record.severity == 4
    h = stubs.GetSystemHealth(a.GetSystemHealthRequest())
    assert (h.health, h.total_errors, h.critical_errors) == (CRITICAL, 1, 1)
    acked = stubs.AcknowledgeError(a.AcknowledgeErrorRequest(error_id=critical.record.error_id))
    assert acked.record.acknowledged
    assert stubs.GetSystemHealth(a.GetSystemHealthRequest()).health == WARNING
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api", state=CLOSED))
    assert stubs.GetSystemHealth(a.GetSystemHealthRequest()).health == HEALTHY


def test_notifications_filter_order_limit_and_acknowledged(stubs: Stubs) -> None:
    ids = [stubs.Report(g.ReportRequest(error_type=t, message="m")).record.error_id
           for t in ("ValueError", "ConnectionError", "OSError", "HTTPError")]
    everything = stubs.ListNotifications(a.ListNotificationsRequest())
    assert [n.id for n in everything.notifications] == ids[::-1] and everything.total == 4
    high = stubs.ListNotifications(a.ListNotificationsRequest(min_severity=3, limit=1))
    assert [n.id for n in high.notifications] == [ids[2]] and high.total == 2
    assert high.notifications[0].title == "SYSTEM Error"
    stubs.AcknowledgeError(a.AcknowledgeErrorRequest(error_id=ids[2]))
    unacked = stubs.ListNotifications(a.ListNotificationsRequest(min_severity=3))
    assert [n.id for n in unacked.notifications] == [ids[1]]
    with_acked = stubs.ListNotifications(
        a.ListNotificationsRequest(min_severity=3, include_acknowledged=True))
    assert with_acked.total == 2


def test_error_summary_counts(stubs: Stubs) -> None:
    for error_type in ("ConnectionError", "ConnectionError", "ValueError"):
        stubs.Report(g.ReportRequest(error_type=error_type, message="x"))
    summary = stubs.GetErrorSummary(a.GetErrorSummaryRequest())
    assert summary.total_errors == 3
    assert dict(summary.error_counts) == {"network_high": 2, "validation_low": 1}
    assert len(summary.recent_errors) == 3 and summary.errors_per_minute == 3
    assert summary.recent_errors[0].error_type == "ValueError"


def test_read_sequences_follow_the_event_log(stubs: Stubs) -> None:
    s0 = stubs.ListBreakers(a.ListBreakersRequest()).sequence
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api", state=FORCED_OPEN))
    s1 = stubs.ListBreakers(a.ListBreakersRequest()).sequence
    assert s1 == s0 + 3  # the transition, the degradation change, the health change
    assert stubs.GetSystemHealth(a.GetSystemHealthRequest()).sequence == s1
    assert stubs.GetDegradation(a.GetDegradationRequest()).sequence == s1


def test_error_history_is_bounded_and_counts_survive_eviction() -> None:
    config = replace(load(EXAMPLE), errors=ErrorSettings(history=3))
    with ServerThread(config) as server, grpc.insecure_channel(server.target) as channel:
        stubs = Stubs(channel)
        ids = [stubs.Report(g.ReportRequest(error_type="ConnectionError", message=f"m{i}"))
               .record.error_id for i in range(5)]
        summary = stubs.GetErrorSummary(a.GetErrorSummaryRequest())
        assert summary.total_errors == 5 and dict(summary.error_counts) == {"network_high": 5}
        assert [r.error_id for r in summary.recent_errors] == ids[:1:-1]  # the 3 kept
        listed = stubs.ListNotifications(a.ListNotificationsRequest())
        assert listed.total == 3
        with pytest.raises(grpc.RpcError) as caught:  # evicted: no longer acknowledgeable
            stubs.AcknowledgeError(a.AcknowledgeErrorRequest(error_id=ids[0]))
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
