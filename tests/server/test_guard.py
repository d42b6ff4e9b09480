"""GuardService over real gRPC on loopback: Allow, Record and Report as the contract says."""

from __future__ import annotations

import threading
import time

import grpc
from google.protobuf import duration_pb2

from rescp._proto import admin_pb2 as a
from rescp._proto import guard_pb2 as g
from rescp.config import parse
from rescp.testing import ServerThread
from tests.server.conftest import Stubs

CLOSED, OPEN, HALF_OPEN, FORCED_OPEN, DISABLED = 1, 2, 3, 4, 5
ALLOWED, BREAKER_OPEN, RATE_LIMITED = 1, 2, 3
SUCCESS, FAILURE, IGNORED = 1, 2, 3


def seconds(d: duration_pb2.Duration) -> float:
    return d.seconds + d.nanos / 1e9


def test_allow_with_nothing_consults_nothing(stubs: Stubs) -> None:
    r = stubs.Allow(g.AllowRequest())
    assert (r.allowed, r.verdict, r.breaker_state, r.remaining) == (True, ALLOWED, 0, -1)


def test_unknown_breaker_is_created_with_the_default_config(stubs: Stubs) -> None:
    r = stubs.Allow(g.AllowRequest(breaker="fresh"))
    assert (r.allowed, r.breaker_state) == (True, CLOSED) and r.permit
    b = stubs.GetBreaker(a.GetBreakerRequest(name="fresh")).breaker
    assert b.config.failure_threshold == 5 and seconds(b.config.recovery_timeout) == 60


def test_seed_example_two_failures_open_and_refuse_the_third(stubs: Stubs) -> None:
    stubs.PutBreaker(a.PutBreakerRequest(name="svc", config=a.BreakerConfig(
        failure_threshold=2, recovery_timeout=duration_pb2.Duration(seconds=30))))
    for _ in range(2):
        r = stubs.Allow(g.AllowRequest(breaker="svc"))
        assert r.allowed
        stubs.Record(g.RecordRequest(breaker="svc", outcome=FAILURE, permit=r.permit))
    third = stubs.Allow(g.AllowRequest(breaker="svc"))
    assert (third.allowed, third.verdict, third.breaker_state) == (False, BREAKER_OPEN, OPEN)
    assert 29 < seconds(third.retry_after) <= 30
    assert third.permit == ""


def test_half_open_by_timer_then_trial_closes(stubs: Stubs) -> None:
    stubs.PutBreaker(a.PutBreakerRequest(name="t", config=a.BreakerConfig(
        failure_threshold=1, recovery_timeout=duration_pb2.Duration(nanos=200_000_000))))
    r = stubs.Allow(g.AllowRequest(breaker="t"))
    stubs.Record(g.RecordRequest(breaker="t", outcome=FAILURE, permit=r.permit))
    assert stubs.GetBreaker(a.GetBreakerRequest(name="t")).breaker.state == OPEN
    time.sleep(0.35)  # no traffic: the server's timer moves it
    assert stubs.GetBreaker(a.GetBreakerRequest(name="t")).breaker.state == HALF_OPEN
    trial = stubs.Allow(g.AllowRequest(breaker="t"))
    assert (trial.allowed, trial.breaker_state) == (True, HALF_OPEN)
    refused = stubs.Allow(g.AllowRequest(breaker="t"))
    assert (refused.allowed, refused.verdict, refused.breaker_state) == (
        False, BREAKER_OPEN, HALF_OPEN)
    done = stubs.Record(g.RecordRequest(breaker="t", outcome=SUCCESS, permit=trial.permit))
    assert done.breaker_state == CLOSED


def test_stale_permit_counts_but_never_transitions(stubs: Stubs) -> None:
    stubs.PutBreaker(a.PutBreakerRequest(name="s", config=a.BreakerConfig(failure_threshold=1)))
    old = stubs.Allow(g.AllowRequest(breaker="s")).permit
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="s", state=FORCED_OPEN))
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="s", state=CLOSED))
    r = stubs.Record(g.RecordRequest(breaker="s", outcome=FAILURE, permit=old))
    assert r.breaker_state == CLOSED
    b = stubs.GetBreaker(a.GetBreakerRequest(name="s")).breaker
    assert b.failure_count == 1 and b.state == CLOSED


def test_rate_limit_refusal_gives_back_the_half_open_permit(stubs: Stubs) -> None:
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name="one", max_requests=1, window=duration_pb2.Duration(seconds=60))))
    stubs.PutBreaker(a.PutBreakerRequest(name="h", config=a.BreakerConfig(
        failure_threshold=1, recovery_timeout=duration_pb2.Duration(nanos=100_000_000))))
    r = stubs.Allow(g.AllowRequest(breaker="h"))
    stubs.Record(g.RecordRequest(breaker="h", outcome=FAILURE, permit=r.permit))
    time.sleep(0.25)
    assert stubs.Allow(g.AllowRequest(limit="one", key="k")).allowed  # uses the key up
    limited = stubs.Allow(g.AllowRequest(breaker="h", limit="one", key="k"))
    assert (limited.allowed, limited.verdict, limited.breaker_state) == (
        False, RATE_LIMITED, HALF_OPEN)
    again = stubs.Allow(g.AllowRequest(breaker="h"))  # the permit came back
    assert again.allowed and again.breaker_state == HALF_OPEN


def test_breaker_refusal_takes_no_tokens(stubs: Stubs) -> None:
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name="two", max_requests=2, window=duration_pb2.Duration(seconds=60))))
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api", state=FORCED_OPEN))
    refused = stubs.Allow(g.AllowRequest(breaker="dydx_api", limit="two", key="k"))
    assert (refused.allowed, refused.verdict) == (False, BREAKER_OPEN)
    status = stubs.GetLimitStatus(a.GetLimitStatusRequest(limit="two", key="k"))
    assert status.remaining == 2 and not status.is_rate_limited


def test_sliding_window_remaining_and_retry_after(stubs: Stubs) -> None:
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name="w", max_requests=3, window=duration_pb2.Duration(seconds=10))))
    remaining = [stubs.Allow(g.AllowRequest(limit="w", key="u", cost=1)).remaining
                 for _ in range(3)]
    assert remaining == [2, 1, 0]
    refused = stubs.Allow(g.AllowRequest(limit="w", key="u"))
    assert (refused.allowed, refused.verdict) == (False, RATE_LIMITED)
    assert 9 < seconds(refused.retry_after) <= 10
    assert stubs.Allow(g.AllowRequest(limit="w", key="other")).allowed  # per key
    status = stubs.GetLimitStatus(a.GetLimitStatusRequest(limit="w", key="u"))
    assert status.is_rate_limited and status.remaining == 0
    assert status.reset_time.seconds >= int(time.time()) + 9


def test_token_bucket_cost(stubs: Stubs) -> None:
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name="tb", algorithm=2, max_requests=10, window=duration_pb2.Duration(seconds=10))))
    assert stubs.Allow(g.AllowRequest(limit="tb", cost=10)).remaining == 0
    refused = stubs.Allow(g.AllowRequest(limit="tb", cost=5))
    assert not refused.allowed and 4 < seconds(refused.retry_after) <= 5


def test_record_with_error_reports_it_in_the_same_round_trip(stubs: Stubs) -> None:
    r = stubs.Allow(g.AllowRequest(breaker="dydx_api"))
    response = stubs.Record(g.RecordRequest(
        breaker="dydx_api", outcome=FAILURE, permit=r.permit,
        duration=duration_pb2.Duration(nanos=5_000_000),
        error=g.ReportRequest(operation="get_account_info", error_type="ConnectionError",
                              message="connection refused, password=hunter2")))
    assert response.breaker_state == CLOSED
    assert response.error.category == 1 and response.error.severity == 3
    assert "hunter2" not in response.error.message
    summary = stubs.GetErrorSummary(a.GetErrorSummaryRequest())
    assert summary.total_errors == 1 and dict(summary.error_counts) == {"network_high": 1}


def test_report_classifies_scrubs_and_stores(stubs: Stubs) -> None:
    record = stubs.Report(g.ReportRequest(
        operation="get_account_info", error_type="TimeoutError", message="timed out after 30s",
        user_id="user_123", context={"api_key": "sk_live_abc", "symbol": "BTC-USD"},
        service="trader")).record
    assert record.error_id and record.user_message and record.action.type
    assert record.category == 1 and record.severity == 3
    assert record.context["api_key"] == "[REDACTED]" and record.context["symbol"] == "BTC-USD"
    assert record.time.seconds > 0 and len(record.fingerprint) == 16
    listed = stubs.ListNotifications(a.ListNotificationsRequest()).notifications
    assert [n.id for n in listed] == [record.error_id]
    assert listed[0].title == "NETWORK Error"


def test_many_clients_hammering_one_limit_get_exactly_max_requests() -> None:
    config = parse('[limits.hot]\nmax_requests = 150\nwindow = 60.0\n')
    with ServerThread(config) as server:
        admitted: list[int] = []
        lock = threading.Lock()

        def hammer() -> None:
            with grpc.insecure_channel(server.target) as channel:
                allow = Stubs(channel).Allow
                count = sum(allow(g.AllowRequest(limit="hot", key="shared")).allowed
                            for _ in range(50))
            with lock:
                admitted.append(count)

        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(admitted) == 150 and len(admitted) == 8


def test_permit_of_a_deleted_namesake_never_transitions(stubs: Stubs) -> None:
    config = a.BreakerConfig(failure_threshold=1)
    stubs.PutBreaker(a.PutBreakerRequest(name="phoenix", config=config))
    old = stubs.Allow(g.AllowRequest(breaker="phoenix")).permit
    stubs.DeleteBreaker(a.DeleteBreakerRequest(name="phoenix"))
    stubs.PutBreaker(a.PutBreakerRequest(name="phoenix", config=config))
    assert stubs.Record(g.RecordRequest(breaker="phoenix", outcome=FAILURE,
                                        permit=old)).breaker_state == CLOSED
    b = stubs.GetBreaker(a.GetBreakerRequest(name="phoenix")).breaker
    assert (b.state, b.failure_count) == (CLOSED, 1)
