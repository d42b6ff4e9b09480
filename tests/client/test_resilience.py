"""The client when rescp is down, silent, slow or restarting: the hot path stays within
allow_timeout, background records never block, and the channel heals by itself."""

from __future__ import annotations

import time
from functools import partial

import pytest

from rescp.testing import ServerThread
from rescp_client import ControlPlaneUnavailable
from tests.client.conftest import within_budget

ALLOW_TIMEOUT = 0.05
SLACK = 0.02  # what the hot path may take beyond allow_timeout


@pytest.fixture(params=["nothing_listening", "silent_listener", "slow_server"])
def dead_target(request, free_port, silent_listener, fake_server) -> str:
    """A control plane that cannot answer: a closed port, a TCP listener that never speaks
    HTTP/2, and a gRPC server whose Allow takes 10 s."""
    if request.param == "nothing_listening":
        return f"127.0.0.1:{free_port()}"
    if request.param == "silent_listener":
        return silent_listener
    return fake_server(allow_delay=10.0).target


def test_allow_lets_calls_through_within_allow_timeout(make_api, dead_target) -> None:
    def calls() -> list[float]:
        api = make_api(dead_target, allow_timeout=ALLOW_TIMEOUT, on_unavailable="allow")
        times = []
        for _ in range(3):  # the first call, on a fresh channel, counts too
            ran: list[int] = []
            took, error = api.timed_guard(partial(ran.append, 1), breaker="dydx_api")
            assert error is None and ran == [1]
            times.append(took)
        assert api.client.pending_records == 0  # a call rescp never saw sends no Record
        return times

    within_budget(calls, ALLOW_TIMEOUT + SLACK)


def test_deny_refuses_calls_within_allow_timeout(make_api, dead_target) -> None:
    def calls() -> list[float]:
        api = make_api(dead_target, allow_timeout=ALLOW_TIMEOUT, on_unavailable="deny")
        times = []
        for _ in range(3):
            ran: list[int] = []
            took, error = api.timed_guard(partial(ran.append, 1), breaker="dydx_api",
                                          limit="api")
            assert isinstance(error, ControlPlaneUnavailable) and not ran
            times.append(took)
        return times

    within_budget(calls, ALLOW_TIMEOUT + SLACK)


def test_record_request_follows_the_same_policy(make_api, free_port) -> None:
    target = f"127.0.0.1:{free_port()}"
    allowing = make_api(target, on_unavailable="allow")
    assert allowing.run(allowing.client.limiter("api").record_request("user_1")) is True
    denying = make_api(target, on_unavailable="deny")
    with pytest.raises(ControlPlaneUnavailable):
        denying.run(denying.client.limiter("api").record_request("user_1"))


def test_admin_calls_raise_unavailable_after_their_timeout(make_api, silent_listener) -> None:
    api = make_api(silent_listener, timeout=0.3)
    started = time.perf_counter()
    with pytest.raises(ControlPlaneUnavailable) as caught:
        api.run(api.client.list_breakers())
    assert 0.25 < time.perf_counter() - started < 1.0
    assert caught.value.code.name == "DEADLINE_EXCEEDED"


def test_records_go_out_in_the_background(make_api, fake_server, eventually) -> None:
    # Scaled up from 50 ms so a loaded machine cannot make an Allow fail open here: this is
    # about what waits for what (the dead-control-plane tests hold the 50 ms budget).
    allow_timeout, record_delay = 0.3, 2.0
    slow = fake_server(record_delay=record_delay)
    api = make_api(slow.target, allow_timeout=allow_timeout)
    assert api.admit().checked  # connected (no breaker: nothing to record)
    took, error = api.timed_guard(breaker="b1")
    # Allow is quick, and the slow Record is not waited for.
    assert error is None and took < allow_timeout
    assert api.client.pending_records == 1
    # The next Allow on b1 waits for that Record, but never much past allow_timeout ...
    took, error = api.timed_guard(breaker="b1")
    assert error is None and allow_timeout * 0.8 < took < allow_timeout + 0.2
    # ... and other breakers do not wait at all.
    took, error = api.timed_guard(breaker="b2")
    assert error is None and took < allow_timeout
    eventually(lambda: _assert_equal(slow.records, 2), within=record_delay + 5)


def _assert_equal(actual: object, expected: object) -> None:
    assert actual == expected


def test_background_records_are_bounded(make_api, fake_server) -> None:
    slow = fake_server(record_delay=10.0)
    # a generous allow_timeout: this is about records, and a loaded machine must not fail open
    api = make_api(slow.target, max_pending_records=3, close_timeout=0.2, allow_timeout=2.0)
    for i in range(5):
        api.guarded(lambda: None, breaker=f"b{i}")
    assert (api.client.pending_records, api.client.dropped_records) == (3, 2)
    started = time.perf_counter()
    api.run(api.client.close())  # gives the stuck records 0.2 s, then cuts them off
    assert time.perf_counter() - started < 1.0
    assert api.client.dropped_records == 5


def test_close_flushes_pending_records(make_api, server) -> None:
    api = make_api(server.target)
    for _ in range(20):
        api.guarded(lambda: None, breaker="flushed")
    api.run(api.client.close())
    view = server.call(server.running.plane.get_breaker("flushed"))
    assert view.success_count == 20


def test_the_client_heals_across_server_restarts(make_api, config, free_port,
                                                 eventually) -> None:
    """Created while rescp is down, the client works once it is up, lets calls through while it
    restarts, and works again after, without being recreated."""
    port = free_port()
    api = make_api(f"127.0.0.1:{port}", allow_timeout=ALLOW_TIMEOUT)

    def checked() -> bool:
        return api.admit(breaker="dydx_api").checked

    def healed() -> None:
        assert checked()

    def let_through() -> list[float]:
        took, error = api.timed_guard(breaker="dydx_api")
        assert error is None
        return [took]

    assert not checked()
    for _ in range(2):
        with ServerThread(config, port=port):
            eventually(healed, within=8.0, every=0.05)
        within_budget(let_through, ALLOW_TIMEOUT + SLACK)
