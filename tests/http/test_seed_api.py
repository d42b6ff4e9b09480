"""The seed's REST API over real HTTP: each endpoint shaped like the seed's examples, and in
agreement with the gRPC read side of the same server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from rescp._proto import admin_pb2 as a
from rescp._proto import enums_pb2 as enums
from rescp._proto import guard_pb2 as g
from tests.server.conftest import Stubs

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
GETS = ["/api/errors/summary", "/api/errors/rate-limit-status?limit=api&key=user_1",
        "/api/errors/circuit-breakers", "/api/errors/system-health",
        "/api/errors/notifications?severity=high&limit=10", "/api/errors/degradation-mode"]


def when(text: str) -> datetime:
    assert ISO_Z.fullmatch(text), text
    return datetime.fromisoformat(text)


def get(http: httpx.Client, path: str) -> Any:
    response = http.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    return body


def fail(stubs: Stubs, breaker: str, times: int) -> None:
    for _ in range(times):
        stubs.Record(g.RecordRequest(breaker=breaker, outcome=enums.OUTCOME_FAILURE))


def iso_of(timestamp: Any) -> datetime:
    return timestamp.ToDatetime(tzinfo=UTC)


@pytest.mark.parametrize("path", GETS)
def test_every_answer_has_status_and_an_iso_utc_timestamp(http: httpx.Client, path: str) -> None:
    body = get(http, path)
    assert abs(when(body["timestamp"]) - datetime.now(UTC)) < timedelta(seconds=5)


def test_circuit_breakers_agree_with_grpc(http: httpx.Client, stubs: Stubs) -> None:
    fail(stubs, "websocket", 3)  # its threshold: it opens
    fail(stubs, "dydx_api", 1)
    listed = {b.name: b for b in stubs.ListBreakers(a.ListBreakersRequest()).breakers}
    breakers = get(http, "/api/errors/circuit-breakers")["circuit_breakers"]
    assert set(breakers) == set(listed) == {"dydx_api", "websocket", "orders_db"}
    assert breakers["orders_db"] == {"name": "orders_db", "state": "closed", "failure_count": 0,
                                     "success_count": 0, "last_failure_time": None}
    for name in ("websocket", "dydx_api"):
        shown, truth = breakers[name], listed[name]
        assert set(shown) == {"name", "state", "failure_count", "success_count",
                              "last_failure_time"}
        assert shown["state"] == enums.BreakerState.Name(truth.state).removeprefix(
            "BREAKER_STATE_").lower()
        assert (shown["failure_count"], shown["success_count"]) == (
            truth.failure_count, truth.success_count)
        assert abs(when(shown["last_failure_time"]) - iso_of(truth.last_failure_time)) < \
            timedelta(milliseconds=1)
    assert (breakers["websocket"]["state"], breakers["dydx_api"]["state"]) == ("open", "closed")


def test_system_health_and_degradation_follow_an_open_circuit(http: httpx.Client,
                                                              stubs: Stubs) -> None:
    healthy = get(http, "/api/errors/system-health")
    assert (healthy["health"], healthy["circuit_breakers"]) == ("healthy", {})
    assert healthy["metrics"] == {"total_errors": 0, "critical_errors": 0, "open_circuits": 0}
    fail(stubs, "websocket", 3)
    health = get(http, "/api/errors/system-health")
    truth = stubs.GetSystemHealth(a.GetSystemHealthRequest())
    assert health["health"] == "warning" and truth.health == enums.HEALTH_WARNING
    assert health["metrics"]["open_circuits"] == truth.open_circuits == 1
    assert list(health["circuit_breakers"]) == ["websocket"]
    assert health["circuit_breakers"]["websocket"]["state"] == "open"
    degraded = get(http, "/api/errors/degradation-mode")
    assert degraded["is_degraded"] is True and degraded["open_circuits"] == ["websocket"]
    assert degraded["affected_features"] == [{
        "feature": "real_time_updates", "status": "degraded",
        "message": "Real-time updates (using polling fallback)"}]
    assert degraded["fallback_available"] is True
    grpc_view = stubs.GetDegradation(a.GetDegradationRequest())
    assert [f.feature for f in grpc_view.affected_features] == ["real_time_updates"]


def test_report_summary_notifications_and_acknowledge(http: httpx.Client, stubs: Stubs) -> None:
    response = http.post("/api/errors/report", json={
        "operation": "get_account_info", "error_type": "TimeoutError",
        "message": "Connection timeout, password=hunter2", "user_id": "user_123",
        "context": {"account": "acc_1"}})
    assert response.status_code == 200, response.text
    record = response.json()["data"]
    assert (record["category"], record["severity"]) == ("network", "high")
    assert record["message"] == "Connection timeout, password=[REDACTED]"
    assert record["action"]["type"] and record["acknowledged"] is False
    assert record["user_id"] == "user_123" and record["context"] == {"account": "acc_1"}
    when(record["timestamp"])

    summary = get(http, "/api/errors/summary")["data"]
    assert summary["total_errors"] == 1 and summary["error_counts"] == {"network_high": 1}
    assert summary["recent_errors"] == [{
        "error_id": record["error_id"], "message": record["message"], "category": "network",
        "severity": "high", "timestamp": record["timestamp"]}]
    truth = stubs.GetErrorSummary(a.GetErrorSummaryRequest())
    assert summary["errors_per_minute"] == pytest.approx(truth.errors_per_minute, abs=0.5)
    assert dict(truth.error_counts) == summary["error_counts"]

    notes = get(http, "/api/errors/notifications?severity=high&limit=10")
    assert notes["total"] == 1
    [note] = notes["notifications"]
    assert note["id"] == record["error_id"] and note["title"] == "NETWORK Error"
    assert note["severity"] == "high" and set(note["action"]) == {"type", "message"}
    assert get(http, "/api/errors/notifications?severity=critical")["notifications"] == []

    acked = http.post(f"/api/errors/acknowledge/{record['error_id']}")
    assert acked.status_code == 200 and acked.json()["data"]["acknowledged"] is True
    assert get(http, "/api/errors/notifications")["notifications"] == []
    listed = stubs.ListNotifications(a.ListNotificationsRequest(include_acknowledged=True))
    assert [n.id for n in listed.notifications] == [record["error_id"]]


def test_rate_limit_status_looks_and_takes_nothing(http: httpx.Client, stubs: Stubs) -> None:
    for _ in range(100):
        stubs.Allow(g.AllowRequest(limit="api", key="user_1"))
    limited = get(http, "/api/errors/rate-limit-status?limit=api&key=user_1")
    assert limited["is_rate_limited"] is True and limited["remaining"] == 0
    assert 0 < limited["retry_after_seconds"] <= 60
    free = get(http, "/api/errors/rate-limit-status?limit=api&key=user_2")
    assert (free["is_rate_limited"], free["retry_after_seconds"], free["remaining"]) == (
        False, None, 100)
    assert stubs.GetLimitStatus(a.GetLimitStatusRequest(limit="api", key="user_2")).remaining \
        == 100


@pytest.mark.parametrize(("method", "path", "status", "code", "reason", "fields"), [
    ("POST", "/api/errors/acknowledge/nope", 404, "NOT_FOUND", "ERROR_NOT_FOUND", None),
    ("GET", "/api/errors/rate-limit-status?limit=nope&key=k", 404, "NOT_FOUND",
     "LIMIT_NOT_FOUND", None),
    ("GET", "/api/errors/rate-limit-status?limit=bad%20name", 400, "INVALID_ARGUMENT",
     "INVALID_FIELD", ["limit"]),
    ("GET", "/api/errors/notifications?severity=urgent", 400, "INVALID_ARGUMENT",
     "INVALID_FIELD", ["severity"]),
    ("GET", "/api/errors/notifications?limit=-1", 400, "INVALID_ARGUMENT", "INVALID_FIELD",
     ["limit"]),
    ("GET", "/api/errors/nothing-here", 404, "NOT_FOUND", "ROUTE_NOT_FOUND", None),
    ("DELETE", "/api/errors/summary", 405, "UNIMPLEMENTED", "METHOD_NOT_ALLOWED", None),
])
def test_errors_are_json_with_grpcs_status(http: httpx.Client, method: str, path: str,
                                           status: int, code: str, reason: str,
                                           fields: list[str] | None) -> None:
    response = http.request(method, path)
    assert response.status_code == status
    body = response.json()
    assert body["status"] == "error"
    assert (body["error"]["code"], body["error"]["reason"]) == (code, reason)
    assert body["error"]["message"]
    if fields is not None:
        assert [f["field"] for f in body["error"]["fields"]] == fields


def test_a_bad_report_names_its_fields(http: httpx.Client) -> None:
    response = http.post("/api/errors/report", json={"message": "x" * 5000,
                                                      "http_status": 1000})
    assert response.status_code == 400
    fields = {f["field"] for f in response.json()["error"]["fields"]}
    assert "message" in fields
