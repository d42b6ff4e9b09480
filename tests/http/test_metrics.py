"""/metrics over real HTTP, parsed with prometheus_client's own parser, its values checked
after known traffic through gRPC; and /healthz."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rescp._proto import admin_pb2 as a
from rescp._proto import enums_pb2 as enums
from rescp._proto import guard_pb2 as g
from tests.server.conftest import Stubs

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
GUARD = {"grpc_type": "unary", "grpc_service": "rescp.v1.GuardService"}


def scrape(http: httpx.Client) -> Samples:
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_counters_and_gauges_after_known_traffic(http: httpx.Client, stubs: Stubs) -> None:
    for _ in range(3):  # websocket's threshold: it opens
        stubs.Record(g.RecordRequest(breaker="websocket", outcome=enums.OUTCOME_FAILURE))
    assert not stubs.Allow(g.AllowRequest(breaker="websocket")).allowed
    for _ in range(102):
        stubs.Allow(g.AllowRequest(limit="api", key="k"))
    stubs.Report(g.ReportRequest(error_type="TimeoutError", message="timed out"))
    stubs.Report(g.ReportRequest(error_type="MemoryError", message="out of memory"))
    with pytest.raises(grpc.RpcError):
        stubs.GetBreaker(a.GetBreakerRequest(name="nope"))
    samples = scrape(http)

    assert value(samples, "rescp_breaker_calls_total", breaker="websocket",
                 outcome="failure") == 3
    assert value(samples, "rescp_breaker_calls_total", breaker="websocket",
                 outcome="refused") == 1
    assert value(samples, "rescp_breaker_transitions_total", breaker="websocket",
                 **{"from": "closed", "to": "open"}) == 1
    assert value(samples, "rescp_limit_decisions_total", limit="api", verdict="allowed") == 100
    assert value(samples, "rescp_limit_decisions_total", limit="api",
                 verdict="rate_limited") == 2
    assert value(samples, "rescp_errors_reported_total", category="network",
                 severity="high") == 1
    assert value(samples, "rescp_errors_reported_total", category="system",
                 severity="critical") == 1
    states = {dict(labels)["state"]: v for (name, labels), v in samples.items()
              if name == "rescp_breaker_state" and dict(labels)["breaker"] == "websocket"}
    assert states == {"closed": 0, "open": 1, "half_open": 0, "forced_open": 0, "disabled": 0}
    assert value(samples, "rescp_system_health") == 2  # an unacknowledged critical error
    assert value(samples, "rescp_degraded_features") == 1  # real_time_updates
    sequence = stubs.ListBreakers(a.ListBreakersRequest()).sequence
    assert value(samples, "rescp_event_sequence") == sequence

    assert value(samples, "grpc_server_handled_total", grpc_method="Record", grpc_code="OK",
                 **GUARD) == 3
    assert value(samples, "grpc_server_handled_total", grpc_method="Allow", grpc_code="OK",
                 **GUARD) == 103
    assert value(samples, "grpc_server_handled_total", grpc_type="unary",
                 grpc_service="rescp.v1.AdminService", grpc_method="GetBreaker",
                 grpc_code="NotFound") == 1
    assert value(samples, "grpc_server_handling_seconds_count", grpc_method="Allow",
                 **GUARD) == 103
    assert value(samples, "grpc_server_handling_seconds_bucket", grpc_method="Allow",
                 le="+Inf", **GUARD) == 103


def test_a_batch_counts_each_decision_as_its_unary_allow_would(http: httpx.Client,
                                                               stubs: Stubs) -> None:
    for _ in range(3):  # websocket's threshold: it opens
        stubs.Record(g.RecordRequest(breaker="websocket", outcome=enums.OUTCOME_FAILURE))
    items = [g.AllowRequest(limit="api", key="b")] * 102 + [g.AllowRequest(breaker="websocket")]
    items += [g.AllowRequest(breaker="no such name!")]  # its error is not a decision
    items += [g.AllowRequest(limit="missing", key="b")]  # nor is the store's NotFound
    stubs.AllowBatch(g.AllowBatchRequest(items=items))
    samples = scrape(http)
    assert value(samples, "rescp_limit_decisions_total", limit="api", verdict="allowed") == 100
    assert value(samples, "rescp_limit_decisions_total", limit="api",
                 verdict="rate_limited") == 2
    assert value(samples, "rescp_breaker_calls_total", breaker="websocket",
                 outcome="refused") == 1


def test_gauges_follow_subscribers_and_deleted_breakers(http: httpx.Client, stubs: Stubs,
                                                        eventually: Any) -> None:
    stubs.Record(g.RecordRequest(breaker="dydx_api", outcome=enums.OUTCOME_SUCCESS))
    assert value(scrape(http), "rescp_watch_subscribers") == 0
    with http.stream("GET", "/api/events") as events:
        assert events.status_code == 200
        assert value(scrape(http), "rescp_watch_subscribers") == 1

    def unsubscribed() -> None:
        assert value(scrape(http), "rescp_watch_subscribers") == 0

    eventually(unsubscribed)
    stubs.DeleteBreaker(a.DeleteBreakerRequest(name="dydx_api"))
    samples = scrape(http)
    assert not [labels for name, labels in samples
                if name.startswith(("rescp_breaker_state", "rescp_breaker_calls"))
                and ("breaker", "dydx_api") in labels]


def test_healthz_serves_while_the_server_does(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "SERVING"})
    assert http.head("/healthz").status_code == 200  # load balancers that probe with HEAD
