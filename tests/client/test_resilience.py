"""The client when rescp is down, silent, slow or restarting: the hot path stays within
allow_timeout, background records never block, and the channel heals by itself."""

from __future__ import annotations

import time
from functools import partial

import pytest
from rescp_client import ControlPlaneUnavailable

from rescp.testing import ServerThread

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
    api = make_api(dead_target, allow_timeout=ALLOW_TIMEOUT, on_unavailable="allow")
    for _ in range(3):  # the first call, on a fresh channel, counts too
        ran: list[int] = []
        took, error = api.timed_guard(partial(ran.append, 1), breaker="dydx_api")
        assert error is None and ran == [1]
        assert took < ALLOW_TIMEOUT + SLACK
    assert api.client.pending_records == 0  # a call rescp never saw sends no Record


def test_deny_refuses_calls_within_allow_timeout(make_api, dead_target) -> None:
    api = make_api(dead_target, allow_timeout=ALLOW_TIMEOUT, on_unavailable="deny")
    for _ in range(3):
        ran: list[int] = []
        took, error = api.timed_guard(partial(ran.append, 1), breaker="dydx_api", limit="api")
        assert isinstance(error, ControlPlaneUnavailable) and not ran
        assert took < ALLOW_TIMEOUT + SLACK


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
    slow = fake_server(record_delay=0.5)
    api = make_api(slow.target, allow_timeout=ALLOW_TIMEOUT)
    assert api.admit().checked  # connected (no breaker: nothing to record)
    took, error = api.timed_guard(breaker="b1")
    # Allow is quick, and the 0.5 s Record is not waited for.
    assert error is None and took < ALLOW_TIMEOUT
    assert api.client.pending_records == 1
    # The next Allow on b1 waits for that Record, but never past allow_timeout ...
    took, error = api.timed_guard(breaker="b1")
    assert error is None and ALLOW_TIMEOUT * 0.8 < took < ALLOW_TIMEOUT + SLACK
    # ... and other breakers do not wait at all.
    took, error = api.timed_guard(breaker="b2")
    assert error is None and took < ALLOW_TIMEOUT
    eventually(lambda: _assert_equal(slow.records, 2))


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

    assert not checked()
    for _ in range(2):
        with ServerThread(config, port=port):
            eventually(healed, within=8.0, every=0.05)
        took, error = api.timed_guard(breaker="dydx_api")
        assert error is None and took < ALLOW_TIMEOUT + SLACK
