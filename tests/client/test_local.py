"""decide="local" against a real server: local admissions, pushed trips and forced states,
global half-open trials, outcomes applied as Records, feature_status, and the fall-back to
server decisions while the push stream is down."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from rescp.config import Config
from rescp.testing import ServerThread
from rescp_client import (
    BreakerOpenError,
    BreakerState,
    ControlPlaneUnavailable,
    RateLimitedError,
)
from tests.client.conftest import Api
from tests.support import eventually

Make = Callable[..., Api]


def fail() -> None:
    raise ConnectionError("upstream down")


def followed(api: Api, breaker: str) -> None:
    """Wait until `api` follows `breaker` (its push stream up and the breaker learned), then
    let the outcomes of the probing calls reach the server."""
    def check() -> None:
        try:
            api.admit(breaker=breaker)
        except (BreakerOpenError, ControlPlaneUnavailable) as refused:
            raise AssertionError("not admitted") from refused
        assert api.client._hot.local.state.decide(breaker) is not None
    eventually(check)
    api.run(api.client._hot.settle(breaker, 5.0))


def _fail(why: str) -> bool:
    raise AssertionError(why)


def refusal(api: Api, breaker: str) -> BreakerOpenError:
    """The refusal of a call on `breaker` (AssertionError when it is admitted, for eventually)."""
    try:
        api.admit(breaker=breaker)
    except BreakerOpenError as refused:
        return refused
    raise AssertionError(f"{breaker!r} admitted the call")


def leasing(api: Api, limit: str, size: int, key: str = "probe") -> None:
    """Wait until `api` knows `limit`'s lease (its push stream is up), probing with `key`."""
    def check() -> None:
        api.run(api.client.limiter(limit).record_request(key))
        assert api.client._hot.local.state.lease_size(limit) == size
    eventually(check)


@pytest.fixture
def allows(server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The breakers of every Allow the server decides, in order."""
    plane, seen = server.running.plane, []
    allow = plane.allow

    async def counted(breaker: str, *args: Any) -> Any:
        seen.append(breaker)
        return await allow(breaker, *args)

    monkeypatch.setattr(plane, "allow", counted)
    return seen


def test_a_followed_closed_breaker_admits_without_asking(
        make_api: Make, server: ServerThread, allows: list[str]) -> None:
    api = make_api(server.target, decide="local")
    api.run(api.client.put_breaker("loc", failure_threshold=3))
    followed(api, "loc")
    before = len(allows)
    for _ in range(50):
        assert api.admit(breaker="loc").breaker_state is BreakerState.CLOSED
    assert len(allows) == before


def test_outcomes_are_applied_as_records_one_by_one(make_api: Make,
                                                    server: ServerThread) -> None:
    api = make_api(server.target, decide="local")
    api.run(api.client.put_breaker("agg", failure_threshold=3))
    followed(api, "agg")
    successes = api.run(api.client.get_breaker("agg")).success_count
    for _ in range(7):
        api.guarded(lambda: None, breaker="agg")
    for _ in range(2):
        with pytest.raises(ConnectionError):
            api.guarded(fail, breaker="agg")
    b = api.run(api.client.get_breaker("agg"))  # reads its own writes: the queue goes first
    assert (b.state, b.success_count - successes, b.failure_count) == (BreakerState.CLOSED, 7, 2)
    api.guarded(lambda: None, breaker="agg")  # resets the run of failures, as a Record would
    for _ in range(2):
        with pytest.raises(ConnectionError):
            api.guarded(fail, breaker="agg")
    assert api.run(api.client.get_breaker("agg")).state is BreakerState.CLOSED
    with pytest.raises(ConnectionError):
        api.guarded(fail, breaker="agg")
    def opened() -> None:
        assert api.run(api.client.get_breaker("agg")).state is BreakerState.OPEN
    eventually(opened)


def test_a_trip_anywhere_is_refused_locally_everywhere(make_api: Make, server: ServerThread,
                                                       allows: list[str]) -> None:
    tripper = make_api(server.target)
    watchers = [make_api(server.target, decide="local") for _ in range(3)]
    tripper.run(tripper.client.put_breaker("trip", failure_threshold=2, recovery_timeout=30))
    for api in watchers:
        followed(api, "trip")
    for _ in range(2):
        with pytest.raises(ConnectionError):
            tripper.guarded(fail, breaker="trip")
    assert tripper.run(tripper.client.get_breaker("trip")).state is BreakerState.OPEN
    for api in watchers:
        refused = eventually(lambda api=api: refusal(api, "trip"))
        assert refused.state == "open" and 25 < refused.retry_after <= 30
    before = len(allows)
    for api in watchers:
        with pytest.raises(BreakerOpenError):
            api.admit(breaker="trip")
    assert len(allows) == before  # refused here, not by the server


def test_forced_open_refuses_locally_and_closed_admits_again(make_api: Make,
                                                             server: ServerThread) -> None:
    api = make_api(server.target, decide="local")
    api.run(api.client.put_breaker("forced"))
    followed(api, "forced")
    api.run(api.client.transition_breaker("forced", "forced_open"))

    assert eventually(lambda: refusal(api, "forced")).state == "forced_open"
    api.run(api.client.transition_breaker("forced", "closed"))
    followed(api, "forced")  # asked of the server once (a new generation), then local again


def test_half_open_trials_stay_global_across_clients(make_api: Make,
                                                     server: ServerThread) -> None:
    a, b = (make_api(server.target, decide="local") for _ in range(2))
    a.run(a.client.put_breaker("trial", failure_threshold=1, recovery_timeout=0.3,
                               half_open_permits=1))
    followed(a, "trial")
    followed(b, "trial")
    with pytest.raises(ConnectionError):
        a.guarded(fail, breaker="trial")
    def half_open() -> None:
        assert a.run(a.client.get_breaker("trial")).state is BreakerState.HALF_OPEN
        try:  # and `a`'s own deadline, counted from the push (a little after the server's)
            assert a.client._hot.local.state.decide("trial") is None
        except BreakerOpenError as refused:
            raise AssertionError("`a` still refuses locally") from refused
    eventually(half_open)

    def while_the_trial_runs() -> str:  # `a` holds the one permit: `b` is refused by the server
        return refusal(b, "trial").state

    assert a.guarded(while_the_trial_runs, breaker="trial") == "half_open"
    eventually(lambda: a.run(a.client.get_breaker("trial")).state is BreakerState.CLOSED
               or _fail("the successful trial did not close it"))


def test_feature_status_comes_from_pushed_state(make_api: Make, server: ServerThread) -> None:
    api = make_api(server.target, decide="local")
    api.run(api.client.put_breaker("feed"))
    api.run(api.client.put_feature("live_prices", breakers=["feed"], degraded_message="polling",
                                   fallback_available=True))
    followed(api, "feed")
    assert api.run(api.client.feature_status("live_prices")) is None
    api.run(api.client.transition_breaker("feed", "forced_open"))

    def degraded() -> None:
        status = api.run(api.client.feature_status("live_prices"))
        assert status is not None and (status.status, status.message) == ("degraded", "polling")
    eventually(degraded)
    state = api.client._hot.local.state
    assert state.live and state.degradation is not None


def test_a_dropped_stream_falls_back_to_the_server(make_api: Make, config: Config,
                                                   free_port: Callable[[], int]) -> None:
    port = free_port()
    server = ServerThread(config, port=port).start()
    try:
        api = make_api(server.target, decide="local", on_unavailable="deny", allow_timeout=0.2)
        api.run(api.client.put_breaker("fb"))
        followed(api, "fb")
        server.stop()
        def down() -> None:
            assert not api.client._hot.local.state.live
        eventually(down)
        with pytest.raises(ControlPlaneUnavailable):  # never admitted from stale state
            api.admit(breaker="fb")
        server = ServerThread(config, port=port).start()
        followed(api, "fb")
    finally:
        server.stop()


def test_leases_admit_locally_and_give_back_what_they_did_not_use(
        make_api: Make, server: ServerThread, allows: list[str]) -> None:
    api = make_api(server.target, decide="local")
    api.run(api.client.put_limit("leased", max_requests=100, window=600, lease=10))
    leasing(api, "leased", 10)
    status = api.run(api.client.limit_status("leased", "k"))
    before = len(allows)
    for _ in range(3):
        api.admit(limit="leased", key="k")
    assert len(allows) - before <= 1  # one block, then spent here
    taken = api.run(api.client.limit_status("leased", "k")).remaining
    assert taken == status.remaining - 10 or taken == status.remaining  # a block, or reused
    api.run(api.client.close())  # gives the unspent part back
    check = make_api(server.target)
    assert check.run(check.client.limit_status("leased", "k")).remaining \
        == status.remaining - 3


def test_a_limit_without_a_lease_stays_exact_on_the_server(
        make_api: Make, server: ServerThread, allows: list[str]) -> None:
    api = make_api(server.target, decide="local")
    api.run(api.client.put_limit("exact", max_requests=3, window=600))
    before = len(allows)
    assert [api.run(api.client.limiter("exact").record_request("k")) for _ in range(4)] == [
        True, True, True, False]
    assert len(allows) - before == 4


def test_a_followed_breaker_with_a_limit_without_a_lease_asks_the_server(
        make_api: Make, server: ServerThread, allows: list[str]) -> None:
    """The breaker alone would admit locally; its limit, exact on the server, still refuses."""
    api = make_api(server.target, decide="local")
    api.run(api.client.put_breaker("both", failure_threshold=3))
    api.run(api.client.put_limit("both-exact", max_requests=2, window=600))
    followed(api, "both")
    before = len(allows)
    assert [api.admit(breaker="both", limit="both-exact", key="k").checked
             for _ in range(2)] == [True, True]
    with pytest.raises(RateLimitedError):
        api.admit(breaker="both", limit="both-exact", key="k")
    assert len(allows) - before == 3


def test_over_admission_is_bounded_by_lease_times_clients(make_api: Make,
                                                          server: ServerThread) -> None:
    """3 clients, lease 4, 10 per 1 s window: in no 1 s window more than 10 + 4 x 3 pass."""
    fleet = [make_api(server.target, decide="local", flush_interval=0.02) for _ in range(3)]
    fleet[0].run(fleet[0].client.put_limit("bound", max_requests=10, window=1.0, lease=4))
    for api in fleet:
        leasing(api, "bound", 4, key="warm-up")
    admitted: list[float] = []
    stop = time.monotonic() + 2.5
    while time.monotonic() < stop:
        admitted.extend(time.monotonic() for api in fleet
                        if api.run(api.client.limiter("bound").record_request("k")))
    assert admitted
    for start in admitted:
        in_window = sum(1 for t in admitted if start <= t < start + 1.0)
        assert in_window <= 10 + 4 * 3, in_window
