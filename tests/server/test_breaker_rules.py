"""The breaker's rules through the real server: rate rules over COUNT and TIME windows, half-open
permits shared by every client and expiring when never recorded, DISABLED and IGNORED."""

from __future__ import annotations

import time

import grpc
from google.protobuf import duration_pb2

from rescp._proto import admin_pb2 as a
from rescp._proto import guard_pb2 as g
from rescp.testing import ServerThread
from tests.server.conftest import Stubs
from tests.support import eventually

CLOSED, OPEN, HALF_OPEN, DISABLED = 1, 2, 3, 5
SUCCESS, FAILURE, IGNORED = 1, 2, 3
RECOVERY = duration_pb2.Duration(nanos=200_000_000)


def put(stubs: Stubs, name: str, **config: object) -> None:
    stubs.PutBreaker(a.PutBreakerRequest(name=name, config=a.BreakerConfig(**config)))


def state(stubs: Stubs, name: str) -> int:
    return int(stubs.GetBreaker(a.GetBreakerRequest(name=name)).breaker.state)


def record(stubs: Stubs, name: str, outcome: int, seconds: float = 0.0) -> int:
    permit = stubs.Allow(g.AllowRequest(breaker=name)).permit
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(int(seconds * 1e9))
    reply = stubs.Record(g.RecordRequest(breaker=name, outcome=outcome, permit=permit,
                                         duration=duration))
    return int(reply.breaker_state)


def assert_state(stubs: Stubs, name: str, expected: int) -> None:
    assert state(stubs, name) == expected


def open_then_half_open(stubs: Stubs, name: str) -> None:
    record(stubs, name, FAILURE)
    time.sleep(0.3)  # the server's timer moves it to HALF_OPEN
    assert state(stubs, name) == HALF_OPEN


def test_failure_rate_over_a_time_window(stubs: Stubs) -> None:
    put(stubs, "rated", failure_threshold=0, failure_rate_threshold=50, window_type=2,
        window_size=60, minimum_calls=4)
    assert [record(stubs, "rated", o) for o in (FAILURE, SUCCESS, FAILURE)] == [CLOSED] * 3
    b = stubs.GetBreaker(a.GetBreakerRequest(name="rated")).breaker
    assert b.failure_rate == -1  # 3 calls < minimum_calls
    assert record(stubs, "rated", SUCCESS) == OPEN  # 2 of 4 failed: 50% reaches the threshold


def test_slow_call_rate_over_a_count_window(stubs: Stubs) -> None:
    put(stubs, "sluggish", failure_threshold=0, slow_call_rate_threshold=60,
        slow_call_duration=duration_pb2.Duration(nanos=100_000_000), window_size=5,
        minimum_calls=5)
    outcomes = [record(stubs, "sluggish", SUCCESS, s) for s in (0.5, 0.01, 0.5, 0.01, 0.5)]
    assert outcomes == [CLOSED] * 4 + [OPEN]  # 3 of 5 slower than 100 ms
    b = stubs.GetBreaker(a.GetBreakerRequest(name="sluggish")).breaker
    assert b.slow_call_rate == 60 and b.failure_rate == 0


def test_half_open_permits_are_shared_by_every_client(server: ServerThread) -> None:
    with grpc.insecure_channel(server.target) as one, \
            grpc.insecure_channel(server.target) as two:
        first, second = Stubs(one), Stubs(two)
        put(first, "shared", failure_threshold=1, recovery_timeout=RECOVERY, half_open_permits=2)
        open_then_half_open(first, "shared")
        trials = [first.Allow(g.AllowRequest(breaker="shared")),
                  second.Allow(g.AllowRequest(breaker="shared"))]
        assert all(t.allowed for t in trials) and trials[0].permit != trials[1].permit
        refused = second.Allow(g.AllowRequest(breaker="shared"))
        assert (refused.allowed, refused.breaker_state) == (False, HALF_OPEN)
        for stubs, trial in zip((first, second), trials, strict=True):
            stubs.Record(g.RecordRequest(breaker="shared", outcome=SUCCESS, permit=trial.permit))
        assert state(first, "shared") == CLOSED  # two successful trials close it


def test_a_trial_permit_never_recorded_expires(stubs: Stubs) -> None:
    put(stubs, "crashy", failure_threshold=1, recovery_timeout=RECOVERY)
    open_then_half_open(stubs, "crashy")
    assert stubs.Allow(g.AllowRequest(breaker="crashy")).allowed  # its client then crashes
    assert not stubs.Allow(g.AllowRequest(breaker="crashy")).allowed
    time.sleep(0.3)  # recovery_timeout after it was handed out
    trial = stubs.Allow(g.AllowRequest(breaker="crashy"))
    assert trial.allowed and trial.breaker_state == HALF_OPEN


def test_trials_slower_than_recovery_timeout_never_wedge_half_open(stubs: Stubs) -> None:
    """Each trial outlives its permit; the second expiry reopens the breaker by the server's
    timer, with no further traffic, instead of leaving it HALF_OPEN for ever."""
    put(stubs, "slowpoke", failure_threshold=1, recovery_timeout=RECOVERY)
    open_then_half_open(stubs, "slowpoke")
    first = stubs.Allow(g.AllowRequest(breaker="slowpoke"))
    time.sleep(0.25)  # the first trial is still running when its permit expires
    second = stubs.Allow(g.AllowRequest(breaker="slowpoke"))
    assert first.allowed and second.allowed and first.permit != second.permit
    late = stubs.Record(g.RecordRequest(breaker="slowpoke", outcome=SUCCESS, permit=first.permit))
    assert late.breaker_state == HALF_OPEN  # too late to judge it
    eventually(lambda: assert_state(stubs, "slowpoke", OPEN), within=2)


def test_a_forged_trial_permit_cannot_close_a_half_open_breaker(stubs: Stubs) -> None:
    put(stubs, "guarded", failure_threshold=1, recovery_timeout=duration_pb2.Duration(seconds=5))
    record(stubs, "guarded", FAILURE)
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="guarded", state=CLOSED))
    record(stubs, "guarded", FAILURE)
    put(stubs, "guarded", failure_threshold=1, recovery_timeout=RECOVERY)
    time.sleep(0.3)
    real = stubs.Allow(g.AllowRequest(breaker="guarded")).permit
    generation = real.split(".")[0]
    for guess in (f"{generation}.0", f"{generation}.1", f"{generation}.{'0' * 16}"):
        reply = stubs.Record(g.RecordRequest(breaker="guarded", outcome=SUCCESS, permit=guess))
        assert reply.breaker_state == HALF_OPEN
    reply = stubs.Record(g.RecordRequest(breaker="guarded", outcome=FAILURE, permit=real))
    assert reply.breaker_state == OPEN  # the real trial's verdict still counts


def test_ignored_counts_for_nothing_and_gives_back_its_permit(stubs: Stubs) -> None:
    put(stubs, "neutral", failure_threshold=2, recovery_timeout=RECOVERY)
    record(stubs, "neutral", FAILURE)
    record(stubs, "neutral", IGNORED)  # does not reset the run of failures ...
    b = stubs.GetBreaker(a.GetBreakerRequest(name="neutral")).breaker
    assert (b.failure_count, b.success_count, b.state) == (1, 0, CLOSED)
    assert record(stubs, "neutral", FAILURE) == OPEN  # ... so this is the second in a row
    time.sleep(0.3)
    trial = stubs.Allow(g.AllowRequest(breaker="neutral"))
    stubs.Record(g.RecordRequest(breaker="neutral", outcome=IGNORED, permit=trial.permit))
    assert stubs.Allow(g.AllowRequest(breaker="neutral")).allowed  # the slot came back


def test_disabled_admits_everything_never_trips_but_counts(stubs: Stubs) -> None:
    put(stubs, "off", failure_threshold=1)
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name="off", state=DISABLED))
    assert [record(stubs, "off", FAILURE) for _ in range(5)] == [DISABLED] * 5
    b = stubs.GetBreaker(a.GetBreakerRequest(name="off")).breaker
    assert (b.state, b.failure_count) == (DISABLED, 5)
