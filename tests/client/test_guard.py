"""The hot path against a real server: what `guard` records, what it refuses, and the order of
one client's Allows and Records."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time

import pytest

from rescp_client import (
    AsyncClient,
    BreakerOpenError,
    BreakerState,
    Client,
    RateLimitedError,
    RescpError,
)
from tests.client.conftest import RELAXED_ALLOW_TIMEOUT


class UpstreamError(Exception):
    pass


def fail() -> None:
    raise UpstreamError("upstream said no")


def breaker_view(server, name):
    return server.call(server.running.plane.get_breaker(name))


def test_success_is_recorded_with_its_duration(api, server, eventually) -> None:
    api.run(api.client.put_breaker("slowish", slow_call_rate_threshold=100.0,
                                   slow_call_duration=0.01, minimum_calls=1))
    assert api.guarded(lambda: time.sleep(0.02) or "done", breaker="slowish") == "done"

    def recorded() -> None:
        view = breaker_view(server, "slowish")
        assert view.success_count == 1
        assert view.slow_call_rate == 100.0  # the measured 20 ms is over slow_call_duration
    eventually(recorded)


def test_failure_is_recorded_reported_and_reraised(api, server, eventually) -> None:
    with pytest.raises(UpstreamError):
        api.guarded(fail, breaker="dydx_api", operation="get_account_info", user_id="user_123")

    def recorded() -> None:
        view = breaker_view(server, "dydx_api")
        assert (view.failure_count, view.success_count) == (1, 0)
        assert view.last_failure_time is not None
    eventually(recorded)
    [error] = api.run(api.client.error_summary()).recent_errors
    assert (error.error_type, error.message) == ("UpstreamError", "upstream said no")
    assert (error.operation, error.user_id, error.breaker) == (
        "get_account_info", "user_123", "dydx_api")


@pytest.mark.usefixtures("slow_records")
def test_seed_two_failures_open_the_breaker_and_the_third_call_is_refused(api) -> None:
    api.run(api.client.put_breaker("svc", failure_threshold=2, recovery_timeout=30))
    for _ in range(2):
        with pytest.raises(UpstreamError):
            api.guarded(fail, breaker="svc")
    ran = []
    with pytest.raises(BreakerOpenError) as caught:
        api.guarded(lambda: ran.append(1), breaker="svc")
    assert not ran
    assert 29 < caught.value.retry_after <= 30
    assert (caught.value.breaker, caught.value.state) == ("svc", "open")
    assert api.run(api.client.get_breaker("svc")).state is BreakerState.OPEN


@pytest.mark.usefixtures("slow_records")
def test_records_never_fall_behind_the_next_allow(api) -> None:
    """Every guarded call waits for this client's earlier Records of its breaker, so a run of
    failures is counted exactly: a success resets it, the threshold-th failure opens it."""
    api.run(api.client.put_breaker("ordered", failure_threshold=15))
    for outcome in [fail] * 14 + [lambda: None] + [fail] * 14:
        with contextlib.suppress(UpstreamError):
            api.guarded(outcome, breaker="ordered")
    view = api.run(api.client.get_breaker("ordered"))
    assert (view.state, view.failure_count, view.success_count) == (BreakerState.CLOSED, 28, 1)
    with pytest.raises(UpstreamError):
        api.guarded(fail, breaker="ordered")
    with pytest.raises(BreakerOpenError):
        api.guarded(fail, breaker="ordered")


def test_rate_limited_calls_are_refused_with_retry_after(api) -> None:
    api.run(api.client.put_limit("tight", max_requests=2, window=10))
    admissions = [api.guarded(lambda: None, limit="tight", key="user_1") for _ in range(2)]
    ran = []
    with pytest.raises(RateLimitedError) as caught:
        api.guarded(lambda: ran.append(1), limit="tight", key="user_1")
    assert not ran
    assert 0 < caught.value.retry_after <= 10
    assert (caught.value.limit, caught.value.key) == ("tight", "user_1")
    assert api.guarded(lambda: "other key passes", limit="tight", key="user_2") \
        == "other key passes"
    assert admissions == [None, None]


def test_the_guard_yields_what_allow_said(api) -> None:
    admission = api.admit(breaker="dydx_api", limit="api", key="u", cost=3)
    assert admission.checked
    assert (admission.breaker_state, admission.remaining) == (BreakerState.CLOSED, 97)


def test_ignored_exceptions_count_for_nothing(api, server, eventually) -> None:
    with pytest.raises(KeyError):
        api.guarded(lambda: {}["missing"], breaker="lenient", ignore=(KeyError,))
    api.guarded(lambda: None, breaker="lenient")
    eventually(lambda: _assert_counts(server, "lenient", failures=0, successes=1))


def _assert_counts(server, name, failures, successes) -> None:
    view = breaker_view(server, name)
    assert (view.failure_count, view.success_count) == (failures, successes)


def test_a_failure_guarded_by_a_limit_alone_is_still_reported(api, eventually) -> None:
    with pytest.raises(UpstreamError):
        api.guarded(fail, limit="api", key="user_9", operation="search")

    def reported() -> None:
        summary = api.run(api.client.error_summary())
        assert [(e.operation, e.error_type) for e in summary.recent_errors] == [
            ("search", "UpstreamError")]
    eventually(reported)


def test_a_guard_object_guards_one_block_at_a_time(server) -> None:
    with Client(server.target, allow_timeout=RELAXED_ALLOW_TIMEOUT) as client:
        guard = client.guard(breaker="reused")
        with guard, pytest.raises(RescpError, match="one per block"), guard:
            pass
        with guard:  # free again once the first block is done
            pass


def test_the_decorator_guards_every_call(server, eventually) -> None:
    with Client(server.target, allow_timeout=RELAXED_ALLOW_TIMEOUT) as client:
        @client.guard(breaker="decorated", user_id="user_7")
        def fetch(value: int) -> int:
            if value < 0:
                raise UpstreamError("negative")
            return value * 2

        assert fetch(21) == 42
        with pytest.raises(UpstreamError):
            fetch(-1)
        eventually(lambda: _assert_counts(server, "decorated", failures=1, successes=1))
        [error] = client.error_summary().recent_errors
        assert (error.operation, error.user_id) == ("fetch", "user_7")


def test_the_async_decorator_guards_every_call(server, eventually) -> None:
    async def main() -> None:
        async with AsyncClient(server.target, allow_timeout=RELAXED_ALLOW_TIMEOUT) as client:
            @client.guard(breaker="decorated_async", operation="fetch_prices")
            async def fetch(value: int) -> int:
                await asyncio.sleep(0)
                if value < 0:
                    raise UpstreamError("negative")
                return value * 2

            assert inspect.iscoroutinefunction(fetch)
            assert await asyncio.gather(fetch(1), fetch(2), fetch(3)) == [2, 4, 6]
            with pytest.raises(UpstreamError):
                await fetch(-1)
            [error] = (await client.error_summary()).recent_errors
            assert error.operation == "fetch_prices"

    asyncio.run(main())
    eventually(lambda: _assert_counts(server, "decorated_async", failures=1, successes=3))


def test_a_cancelled_task_counts_as_neither_success_nor_failure(server, eventually) -> None:
    async def main() -> None:
        async with AsyncClient(server.target, allow_timeout=RELAXED_ALLOW_TIMEOUT) as client:
            started = asyncio.Event()

            async def hang() -> None:
                async with client.guard(breaker="cancelled"):
                    started.set()
                    await asyncio.sleep(10)

            task = asyncio.create_task(hang())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            async with client.guard(breaker="cancelled"):
                pass

    asyncio.run(main())
    eventually(lambda: _assert_counts(server, "cancelled", failures=0, successes=1))
