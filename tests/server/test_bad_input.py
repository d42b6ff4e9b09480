"""Bad input on every RPC gets INVALID_ARGUMENT (or NOT_FOUND) with details, and the server
keeps serving everyone else."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2

from rescp._proto import admin_pb2 as a
from rescp._proto import events_pb2 as e
from rescp._proto import guard_pb2 as g
from tests.server.conftest import Stubs, bad_fields, details

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND

BAD_REQUESTS: list[tuple[str, Any, set[str]]] = [
    ("Allow", g.AllowRequest(breaker="bad name"), {"breaker"}),
    ("Allow", g.AllowRequest(breaker="ok", limit="-starts-with-dash"), {"limit"}),
    ("Allow", g.AllowRequest(breaker="a" * 129, limit="ok\n"), {"breaker", "limit"}),
    ("Allow", g.AllowRequest(limit="api", key="k" * 257), {"key"}),
    ("Allow", g.AllowRequest(limit="api", cost=101), {"cost"}),
    ("Record", g.RecordRequest(breaker="", outcome=1), {"breaker"}),
    ("Record", g.RecordRequest(breaker="x"), {"outcome"}),
    ("Record", g.RecordRequest(breaker="x", outcome=9), {"outcome"}),
    ("Record", g.RecordRequest(breaker="x", outcome=2,
                               duration=duration_pb2.Duration(seconds=-1)), {"duration"}),
    ("Record", g.RecordRequest(breaker="x", outcome=2, permit="not-a-permit"), {"permit"}),
    ("Record", g.RecordRequest(breaker="x", outcome=2, error=g.ReportRequest()),
     {"error.error_type"}),
    ("Record", g.RecordRequest(breaker="b c", error=g.ReportRequest(http_status=1)),
     {"breaker", "outcome", "error.error_type", "error.http_status"}),
    ("PutBreaker", a.PutBreakerRequest(name="b c", config=a.BreakerConfig(window_type=7)),
     {"name", "config.window_type"}),
    ("Report", g.ReportRequest(), {"error_type"}),
    ("Report", g.ReportRequest(error_type="E", http_status=42, grpc_code=99, breaker="b c"),
     {"http_status", "grpc_code", "breaker"}),
    ("Report", g.ReportRequest(error_type="E", message="m" * 5000), {"message"}),
    ("Report", g.ReportRequest(error_type="E", context={f"k{i}": "v" * 1000 for i in range(9)}),
     {"context"}),
    ("PutBreaker", a.PutBreakerRequest(name="ok", config=a.BreakerConfig(
        failure_rate_threshold=150, window_size=2_000_000, window_type=9,  # all reported
        recovery_timeout=duration_pb2.Duration(seconds=-5))),
     {"config.failure_rate_threshold", "config.window_type", "config.recovery_timeout",
      "config.window_size"}),
    ("PutBreaker", a.PutBreakerRequest(name="ok", config=a.BreakerConfig(
        slow_call_rate_threshold=50)), {"config.slow_call_duration"}),
    ("PutBreaker", a.PutBreakerRequest(name=""), {"name"}),
    ("GetBreaker", a.GetBreakerRequest(name="a b"), {"name"}),
    ("DeleteBreaker", a.DeleteBreakerRequest(name=""), {"name"}),
    ("TransitionBreaker", a.TransitionBreakerRequest(name="dydx_api", state=2), {"state"}),
    ("TransitionBreaker", a.TransitionBreakerRequest(name="dydx_api"), {"state"}),
    ("PutLimit", a.PutLimitRequest(limit=a.Limit(name="l", max_requests=0)),
     {"limit.max_requests", "limit.window"}),
    ("PutLimit", a.PutLimitRequest(limit=a.Limit(
        name="bad name", max_requests=1, window=duration_pb2.Duration(seconds=0))),
     {"limit.name", "limit.window"}),
    ("DeleteLimit", a.DeleteLimitRequest(name="?"), {"name"}),
    ("GetLimitStatus", a.GetLimitStatusRequest(limit=""), {"limit"}),
    ("PutFeature", a.PutFeatureRequest(feature=a.Feature(name="f", breakers=["ok", "not ok"])),
     {"feature.breakers[1]"}),
    ("PutFeature", a.PutFeatureRequest(), {"feature.name"}),
    ("DeleteFeature", a.DeleteFeatureRequest(name=""), {"name"}),
    ("ListNotifications", a.ListNotificationsRequest(limit=5000, min_severity=7),
     {"limit", "min_severity"}),
    ("AcknowledgeError", a.AcknowledgeErrorRequest(), {"error_id"}),
]

NOT_FOUND_REQUESTS: list[tuple[str, Any, str]] = [
    ("Allow", g.AllowRequest(breaker="b", limit="no-such-limit"), "limit"),
    ("GetBreaker", a.GetBreakerRequest(name="ghost"), "breaker"),
    ("DeleteBreaker", a.DeleteBreakerRequest(name="ghost"), "breaker"),
    ("TransitionBreaker", a.TransitionBreakerRequest(name="ghost", state=4), "breaker"),
    ("DeleteLimit", a.DeleteLimitRequest(name="ghost"), "limit"),
    ("GetLimitStatus", a.GetLimitStatusRequest(limit="ghost"), "limit"),
    ("DeleteFeature", a.DeleteFeatureRequest(name="ghost"), "feature"),
    ("AcknowledgeError", a.AcknowledgeErrorRequest(error_id="ghost"), "error"),
]


def still_serving(stubs: Stubs) -> None:
    response = stubs.Allow(g.AllowRequest(breaker="healthy-check", limit="api", key="k"))
    assert response.allowed


@pytest.mark.parametrize(("method", "request_", "fields"), BAD_REQUESTS,
                         ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(BAD_REQUESTS)])
def test_bad_field_is_invalid_argument_naming_the_fields(
        stubs: Stubs, method: str, request_: Any, fields: set[str]) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stubs, method)(request_)
    error = caught.value
    assert error.code() is INVALID  # type: ignore[attr-defined]
    assert bad_fields(error) == fields
    info = details(error)["ErrorInfo"]
    assert (info.domain, info.reason) == ("rescp", "INVALID_FIELD")
    assert "Traceback" not in error.details()  # type: ignore[attr-defined]
    still_serving(stubs)


@pytest.mark.parametrize(("method", "request_", "kind"), NOT_FOUND_REQUESTS,
                         ids=[m for m, _, _ in NOT_FOUND_REQUESTS])
def test_unknown_resource_is_not_found_with_resource_info(
        stubs: Stubs, method: str, request_: Any, kind: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stubs, method)(request_)
    error = caught.value
    assert error.code() is NOT_FOUND  # type: ignore[attr-defined]
    found = details(error)
    assert found["ResourceInfo"].resource_type == kind
    assert found["ErrorInfo"].reason == f"{kind.upper()}_NOT_FOUND"
    still_serving(stubs)


ALL_METHODS = [
    f"/{service.full_name}/{method.name}"
    for module in (g, a, e)
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]


@pytest.mark.parametrize("path", ALL_METHODS)
def test_undecodable_request_is_invalid_argument(stubs: Stubs, path: str) -> None:
    raw = stubs.channel.unary_stream(path) if path.endswith("/Watch") else \
        stubs.channel.unary_unary(path)
    with pytest.raises(grpc.RpcError) as caught:
        result = raw(b"\xff\xff\xff\xff", timeout=5)
        list(result) if path.endswith("/Watch") else None
    assert caught.value.code() is INVALID  # type: ignore[attr-defined]
    assert bad_fields(caught.value) == {"request"}
    still_serving(stubs)


@pytest.mark.parametrize("size", [70_000, 5_000_000])
def test_request_over_64_kib_is_refused(stubs: Stubs, size: int) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stubs.Report(g.ReportRequest(error_type="E", context={"blob": "x" * size}))
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    if size < 4 * 1024 * 1024:  # beyond that grpc itself refuses it, before rescp sees it
        assert details(caught.value)["ErrorInfo"].reason == "REQUEST_TOO_LARGE"
    still_serving(stubs)


def test_watch_request_over_64_kib_is_refused(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        next(stubs.Watch(e.WatchRequest(types=[1] * 70_000), timeout=5))
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    assert details(caught.value)["ErrorInfo"].reason == "REQUEST_TOO_LARGE"


def test_watch_bad_filters_and_out_of_range(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        next(stubs.Watch(e.WatchRequest(types=[1, 99]), timeout=5))
    assert caught.value.code() is INVALID  # type: ignore[attr-defined]
    assert bad_fields(caught.value) == {"types[1]"}
    with pytest.raises(grpc.RpcError) as caught:
        next(stubs.Watch(e.WatchRequest(after_sequence=1_000_000), timeout=5))
    assert caught.value.code() is grpc.StatusCode.OUT_OF_RANGE  # type: ignore[attr-defined]
    assert details(caught.value)["ErrorInfo"].reason == "SEQUENCE_OUT_OF_RANGE"
    still_serving(stubs)
