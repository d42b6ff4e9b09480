"""Configuration through both flavours, against a real server: breakers, limits, features, and
the typed errors bad input gets back."""

from __future__ import annotations

import grpc
import pytest

from rescp_client import (
    BreakerState,
    Feature,
    InvalidArgumentError,
    Limit,
    NotFoundError,
    RescpError,
    StatusError,
)

pytestmark = pytest.mark.usefixtures("server")


def test_breaker_lifecycle(api) -> None:
    put = api.run(api.client.put_breaker(
        "payments", failure_threshold=3, failure_rate_threshold=50.0, window_type="time",
        window_size=30, minimum_calls=4, recovery_timeout=2.5, slow_call_rate_threshold=80.0,
        slow_call_duration=0.75, half_open_permits=2))
    config = put.config
    assert (put.name, put.state, put.failure_count) == ("payments", BreakerState.CLOSED, 0)
    assert (config.failure_threshold, config.failure_rate_threshold) == (3, 50.0)
    assert (config.window_type, config.window_size, config.minimum_calls) == ("time", 30, 4)
    assert (config.recovery_timeout, config.slow_call_duration) == (2.5, 0.75)
    assert (config.slow_call_rate_threshold, config.half_open_permits) == (80.0, 2)
    assert put.failure_rate is None  # fewer than minimum_calls calls in the window
    assert api.run(api.client.get_breaker("payments")) == put

    assert "payments" in [b.name for b in api.run(api.client.list_breakers())]
    forced = api.run(api.client.transition_breaker("payments", "forced_open"))
    assert forced.state is BreakerState.FORCED_OPEN
    assert api.run(api.client.transition_breaker("payments", BreakerState.DISABLED)).state \
        is BreakerState.DISABLED
    assert api.run(api.client.transition_breaker("payments", "closed")).state \
        is BreakerState.CLOSED

    api.run(api.client.delete_breaker("payments"))
    with pytest.raises(NotFoundError):
        api.run(api.client.get_breaker("payments"))


def test_put_breaker_without_fields_takes_the_server_defaults(api, config) -> None:
    breaker = api.run(api.client.put_breaker("plain"))
    assert breaker.config.failure_threshold == config.default_breaker.failure_threshold
    assert breaker.config.recovery_timeout == config.default_breaker.recovery_timeout


def test_put_breaker_refuses_an_unknown_field(api) -> None:
    with pytest.raises(TypeError, match="failure_treshold"):
        api.run(api.client.put_breaker("typo", failure_treshold=3))


def test_limit_lifecycle(api) -> None:
    put = api.run(api.client.put_limit("search", max_requests=5, window=2.5,
                                       algorithm="token_bucket"))
    assert put == Limit(name="search", max_requests=5, window=2.5, algorithm="token_bucket")
    assert put in api.run(api.client.list_limits())
    status = api.run(api.client.limit_status("search", "user_1"))
    assert (status.is_rate_limited, status.remaining, status.retry_after) == (False, 5, 0.0)
    api.run(api.client.delete_limit("search"))
    assert put not in api.run(api.client.list_limits())


def test_re_putting_a_limit_starts_its_keys_afresh_only_when_the_config_changes(api) -> None:
    api.run(api.client.put_limit("search", max_requests=2, window=60))

    def remaining() -> int:
        return api.run(api.client.limit_status("search", "user_1")).remaining

    assert api.run(api.client.limiter("search").record_request("user_1"))
    api.run(api.client.put_limit("search", max_requests=2, window=60))  # identical
    assert remaining() == 1
    api.run(api.client.put_limit("search", max_requests=3, window=60))  # different
    assert remaining() == 3


def test_feature_lifecycle(api) -> None:
    put = api.run(api.client.put_feature("search", breakers=["dydx_api", "orders_db"],
                                         degraded_message="Search is slower than usual",
                                         fallback_available=True))
    assert put == Feature("search", ("dydx_api", "orders_db"), "Search is slower than usual",
                          True)
    assert put in api.run(api.client.list_features())
    api.run(api.client.delete_feature("search"))
    assert "search" not in [f.name for f in api.run(api.client.list_features())]


def test_bad_input_is_invalid_argument_with_every_bad_field(api) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        api.run(api.client.put_limit("bad name!", max_requests=0, window=1.0))
    error = caught.value
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_FIELD"
    fields = {v.field for v in error.field_violations}
    assert fields == {"limit.name", "limit.max_requests"}
    assert all(v.description for v in error.field_violations)
    assert isinstance(error, ValueError)


def test_a_bad_enum_word_is_refused_before_sending(api) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        api.run(api.client.put_breaker("x", window_type="sideways"))
    assert [v.field for v in caught.value.field_violations] == ["config.window_type"]
    with pytest.raises(InvalidArgumentError, match="closed, forced_open, disabled"):
        api.run(api.client.transition_breaker("x", "open"))
    with pytest.raises(InvalidArgumentError):
        api.run(api.client.put_limit("x", max_requests=1, window=1, algorithm="leaky"))


def test_unknown_resources_are_not_found_with_resource_info(api) -> None:
    for call, kind in ((lambda: api.client.get_breaker("ghost"), "breaker"),
                       (lambda: api.client.delete_limit("ghost"), "limit"),
                       (lambda: api.client.delete_feature("ghost"), "feature"),
                       (lambda: api.client.limit_status("ghost", "k"), "limit")):
        with pytest.raises(NotFoundError) as caught:
            api.run(call())
        error = caught.value
        assert (error.resource_type, error.resource_name) == (kind, "ghost")
        assert error.code is grpc.StatusCode.NOT_FOUND
        assert error.reason == f"{kind.upper()}_NOT_FOUND"
        assert isinstance(error, StatusError) and isinstance(error, LookupError)


def test_a_closed_client_says_so(api) -> None:
    api.run(api.client.close())
    with pytest.raises(RescpError, match="closed"):
        api.run(api.client.list_breakers())
