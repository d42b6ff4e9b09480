"""The seed application's examples, as it uses them, through both flavours: a breaker with a
cached fallback, error reports, the API rate limiter, degradation and breaker status."""

from __future__ import annotations

import functools
import time

import grpc
import pytest

from rescp_client import BreakerOpenError, BreakerState, InvalidArgumentError

CACHED = {"account": "cached"}


class ExchangeDown(ConnectionError):
    pass


def failing(error: Exception):
    def body() -> None:
        raise error
    return body


def call_breaker(api, name, fn, *args, **kwargs):
    """`breaker(name).call(...)`, or `await breaker(name).call_async(...)` with `fn` (and the
    fallback) made coroutines."""
    handle = api.client.breaker(name)
    if api.flavour == "sync":
        return handle.call(fn, *args, **kwargs)

    def as_async(f):
        @functools.wraps(f)
        async def run(*a, **k):
            return f(*a, **k)
        return run

    if kwargs.get("fallback") is not None:
        kwargs["fallback"] = as_async(kwargs["fallback"])
    return api.run(handle.call_async(as_async(fn), *args, **kwargs))


def test_breaker_call_falls_back_to_cached_data_while_open(api) -> None:
    calls = []

    def get_account_info(account_id: str) -> dict[str, str]:
        calls.append(account_id)
        raise ExchangeDown("dYdX API timed out")

    def get_cached_account_info(account_id: str) -> dict[str, str]:
        return {**CACHED, "id": account_id}

    assert call_breaker(api, "dydx_api", lambda x: {"account": x}, "acc_1") == {"account": "acc_1"}
    for _ in range(5):  # the seed's dydx_api opens after 5 consecutive failures
        with pytest.raises(ExchangeDown):
            call_breaker(api, "dydx_api", get_account_info, "acc_1")
    assert api.run(api.client.breaker("dydx_api").state) is BreakerState.OPEN
    calls.clear()
    assert call_breaker(api, "dydx_api", get_account_info, "acc_1",
                        fallback=get_cached_account_info) == {**CACHED, "id": "acc_1"}
    assert calls == []  # refused before the exchange was called
    with pytest.raises(BreakerOpenError) as caught:
        call_breaker(api, "dydx_api", get_account_info, "acc_1")
    assert 0 < caught.value.retry_after <= 60


def test_a_failed_call_with_a_fallback_is_still_recorded(api) -> None:
    def flaky() -> str:
        raise ExchangeDown("connection reset")

    assert call_breaker(api, "websocket", flaky, fallback=lambda: "polled") == "polled"
    status = api.run(api.client.breaker("websocket").get_status())
    assert (status["state"], status["failure_count"]) == ("closed", 1)
    [error] = api.run(api.client.error_summary()).recent_errors
    assert (error.operation, error.breaker, error.category) == ("flaky", "websocket", "network")


def test_get_status_is_the_seed_dict(api) -> None:
    before = time.time()
    with pytest.raises(ExchangeDown):
        api.guarded(failing(ExchangeDown("down")), breaker="websocket")
    api.guarded(lambda: None, breaker="orders_db")
    status = api.run(api.client.breaker("websocket").get_status())
    assert set(status) == {"name", "state", "failure_count", "success_count",
                           "last_failure_time"}
    assert (status["name"], status["state"]) == ("websocket", "closed")
    assert (status["failure_count"], status["success_count"]) == (1, 0)
    assert before - 1 <= status["last_failure_time"] <= time.time() + 1
    assert api.run(api.client.breaker("orders_db").get_status())["success_count"] == 1
    assert api.run(api.client.breaker("never_seen").get_status()) == {
        "name": "never_seen", "state": "closed", "failure_count": 0, "success_count": 0,
        "last_failure_time": None}
    assert api.run(api.client.breaker("never_seen").state) is BreakerState.CLOSED
    assert BreakerState.HALF_OPEN.value == "half_open"


def test_report_classifies_the_seed_error(api) -> None:
    record = api.run(api.client.report(
        ConnectionError("Failed to connect to dYdX API"), operation="get_account_info",
        user_id="user_123", context={"account": "acc_1", "attempt": 2}))
    assert (record.category, record.severity) == ("network", "high")
    assert record.error_id and record.user_message
    assert (record.error_type, record.operation, record.user_id) == (
        "ConnectionError", "get_account_info", "user_123")
    assert record.context == {"account": "acc_1", "attempt": "2"}
    assert record.action.type and record.action.message
    assert time.time() - 60 < record.time <= time.time() + 1


class Throttled(Exception):
    status_code = 429


class Response:
    status_code = 503


class UpstreamFailed(Exception):
    response = Response()


class Unreachable(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(("error", "category"), [
    (Throttled("slow down"), "rate_limit"),  # exc.status_code
    (UpstreamFailed("bad gateway"), "api"),  # exc.response.status_code
    (Unreachable("no route"), "network"),  # a grpc.RpcError's code
])
def test_report_carries_http_status_and_grpc_code(api, error, category) -> None:
    record = api.run(api.client.report(error, service="trading", breaker="dydx_api"))
    assert record.category == category
    assert (record.service, record.breaker) == ("trading", "dydx_api")


def test_report_cuts_long_text_to_the_servers_limits(api) -> None:
    record = api.run(api.client.report(ValueError("x" * 10_000), operation="o" * 1_000))
    assert record.category == "validation"
    assert len(record.operation) == 256


def test_limiter_around_a_limit(api) -> None:
    api.run(api.client.put_limit("api", max_requests=3, window=30))
    limiter = api.client.limiter("api")
    assert api.run(limiter.is_rate_limited("user_123")) is False
    assert api.run(limiter.get_retry_after("user_123")) is None
    assert [api.run(limiter.record_request("user_123")) for _ in range(4)] == [
        True, True, True, False]
    assert api.run(limiter.is_rate_limited("user_123")) is True
    assert 0 < api.run(limiter.get_retry_after("user_123")) <= 30
    assert api.run(limiter.is_rate_limited("user_456")) is False  # limits are per key


def test_degradation_of_the_seed_features(api) -> None:
    assert not api.run(api.client.degradation()).is_degraded
    api.run(api.client.transition_breaker("websocket", "forced_open"))
    degraded = api.run(api.client.degradation())
    assert degraded.is_degraded and degraded.fallback_available
    assert degraded.open_circuits == ("websocket",)
    assert [(a.feature, a.status, a.message) for a in degraded.affected_features] == [
        ("real_time_updates", "degraded", "Real-time updates (using polling fallback)")]

    for _ in range(5):
        with pytest.raises(ExchangeDown):
            api.guarded(failing(ExchangeDown("down")), breaker="dydx_api")
    both = api.run(api.client.degradation())
    assert both.open_circuits == ("dydx_api", "websocket")
    assert [(a.feature, a.status) for a in both.affected_features] == [
        ("real_time_updates", "degraded"), ("trading", "unavailable")]
    assert both.sequence > degraded.sequence


def test_call_refuses_a_function_of_the_other_flavour_and_records_nothing(api, server) -> None:
    def plain() -> str:
        return "ran"

    async def coroutine() -> str:
        return "ran"

    handle = api.client.breaker("orders_db")
    wrong = plain if api.flavour == "async" else coroutine
    with pytest.raises(TypeError, match="coroutine"):
        api.run(handle.call_async(wrong) if api.flavour == "async" else handle.call(wrong))
    view = server.call(server.running.plane.get_breaker("orders_db"))
    assert (view.failure_count, view.success_count) == (0, 0)


def test_the_fallback_never_hides_a_misconfiguration(api) -> None:
    with pytest.raises(InvalidArgumentError):
        call_breaker(api, "bad name!", lambda: "live", fallback=lambda: CACHED)
    assert call_breaker(api, "dydx_api", failing(ExchangeDown("down")),
                        fallback=lambda: CACHED) == CACHED
