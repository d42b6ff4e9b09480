"""Unit tests of the rate-limit engine, on a ManualClock (never sleeping)."""

from __future__ import annotations

import math

import pytest

from rescp.engine.ratelimit import (
    MAX_SLIDING_REQUESTS,
    LimitConfig,
    LimitDecision,
    LimitStatus,
    SlidingWindowLimiter,
    TokenBucketLimiter,
    make_limiter,
)
from rescp.enums import Algorithm
from rescp.errors import InvalidArgument
from rescp.testing import ManualClock

SW = Algorithm.SLIDING_WINDOW
TB = Algorithm.TOKEN_BUCKET


def sliding(max_requests: int = 3, window: float = 10.0) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(LimitConfig("api", max_requests, window))


def bucket(max_requests: int = 10, window: float = 10.0) -> TokenBucketLimiter:
    return TokenBucketLimiter(LimitConfig("api", max_requests, window, TB))


def fields(exc: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in exc.value.violations]


# --- config -------------------------------------------------------------------------------------


def test_config_defaults_to_sliding_window() -> None:
    config = LimitConfig("api.v1/users:read", 1, 0.001)
    assert config.algorithm is SW
    assert isinstance(make_limiter(config), SlidingWindowLimiter)
    assert isinstance(make_limiter(LimitConfig("x", 1, 1.0, TB)), TokenBucketLimiter)


def test_config_accepts_the_bounds() -> None:
    LimitConfig("a" * 128, 1_000_000_000, 7 * 24 * 3600.0, TB)
    LimitConfig("a", MAX_SLIDING_REQUESTS, 7 * 24 * 3600.0)
    LimitConfig("a", 1, 5e-9)
    LimitConfig("a", 5, 60)  # an int window is fine


def test_config_names_every_bad_field() -> None:
    with pytest.raises(InvalidArgument) as exc:
        LimitConfig("", 0, 0.0)
    assert fields(exc) == ["name", "max_requests", "window"]
    assert exc.value.reason == "INVALID_FIELD"


@pytest.mark.parametrize("name", ["", "-lead", "a b", "x\n", "a" * 129, "é"])
def test_config_rejects_bad_names(name: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        LimitConfig(name, 1, 1.0)
    assert fields(exc) == ["name"]


@pytest.mark.parametrize("max_requests", [0, -1, 1_000_000_001, True, 2.0])
def test_config_rejects_bad_max_requests(max_requests: int) -> None:
    with pytest.raises(InvalidArgument) as exc:
        LimitConfig("a", max_requests, 1.0)
    assert fields(exc) == ["max_requests"]


@pytest.mark.parametrize("window", [0.0, -1.0, math.inf, math.nan, 7 * 24 * 3600.0 + 1, True])
def test_config_rejects_bad_windows(window: float) -> None:
    with pytest.raises(InvalidArgument) as exc:
        LimitConfig("a", 1, window)
    assert fields(exc) == ["window"]


def test_config_rejects_a_raw_algorithm_number() -> None:
    with pytest.raises(InvalidArgument) as exc:
        LimitConfig("a", 1, 1.0, 0)  # type: ignore[arg-type]
    assert fields(exc) == ["algorithm"]


@pytest.mark.parametrize("algorithm", [SW, TB])
@pytest.mark.parametrize("cost", [0, -1, 4])
def test_cost_outside_one_to_capacity_is_invalid(algorithm: Algorithm, cost: int) -> None:
    limiter = make_limiter(LimitConfig("a", 3, 1.0, algorithm))
    with pytest.raises(InvalidArgument) as exc:
        limiter.acquire("k", cost, 0.0)
    assert fields(exc) == ["cost"]
    assert len(limiter) == 0


# --- sliding window -----------------------------------------------------------------------------


def test_sliding_window_admits_max_then_refuses_until_the_oldest_leaves() -> None:
    clock = ManualClock()
    limiter = sliding(3, 10.0)
    t0 = clock.now()
    assert limiter.acquire("k", 1, t0) == LimitDecision(True, 2, 0.0, 0)
    assert limiter.acquire("k", 1, clock.advance(2)) == LimitDecision(True, 1, 0.0, 0)
    assert limiter.acquire("k", 1, clock.advance(2)) == LimitDecision(True, 0, 0.0, 0)
    refused = limiter.acquire("k", 1, clock.advance(1))
    assert refused == LimitDecision(False, 0, 5.0, 1)
    # other keys are independent
    assert limiter.acquire("other", 1, clock.now()).allowed
    clock.advance(refused.retry_after)
    assert clock.now() == t0 + 10.0
    assert limiter.acquire("k", 1, clock.now()) == LimitDecision(True, 0, 0.0, 0)
    assert limiter.acquire("k", 1, clock.now()) == LimitDecision(False, 0, 2.0, 0)


def test_sliding_window_is_half_open() -> None:
    limiter = sliding(1, 10.0)
    assert limiter.acquire("k", 1, 100.0).allowed
    assert not limiter.acquire("k", 1, math.nextafter(110.0, 0.0)).allowed
    assert limiter.acquire("k", 1, 110.0).allowed


@pytest.mark.parametrize("window", [10.0, 0.1, 1 / 3, 59.999, 604_800.0])
def test_sliding_window_retry_after_is_exact(window: float) -> None:
    clock = ManualClock(1_700_000_000.123)
    limiter = sliding(4, window)
    for _ in range(60):
        decision = limiter.acquire("k", 1, clock.now())
        if decision.allowed:
            clock.advance(window / 7)
            continue
        assert decision.retry_after > 0
        early = clock.now() + decision.retry_after - max(1e-6, window * 1e-9)
        assert not sliding_copy_allows(limiter, early)
        clock.advance(decision.retry_after)
        assert limiter.acquire("k", 1, clock.now()).allowed


def sliding_copy_allows(limiter: SlidingWindowLimiter, now: float) -> bool:
    """What acquire would say at `now`, read through status so nothing is taken."""
    return not limiter.status("k", now).is_limited


def test_sliding_window_retry_after_survives_a_rounding_tie() -> None:
    # now + (at - now) rounds to even below `at` here; retry_after must still get there
    limiter = sliding(1, 1 + 2**-52)
    clock = ManualClock(0.0)
    limiter.acquire("k", 1, clock.now())
    decision = limiter.acquire("k", 1, clock.advance(2**-53))
    assert not decision.allowed
    assert limiter.acquire("k", 1, clock.advance(decision.retry_after)).allowed


def test_sliding_window_costs() -> None:
    clock = ManualClock(0.0)
    limiter = sliding(10, 10.0)
    assert limiter.acquire("k", 4, clock.now()) == LimitDecision(True, 6, 0.0, 0)
    assert limiter.acquire("k", 1, clock.advance(1)) == LimitDecision(True, 5, 0.0, 0)
    assert limiter.acquire("k", 3, clock.advance(1)) == LimitDecision(True, 2, 0.0, 0)
    # 8 in the window: cost 5 needs 3 freed -> the cost-4 entry at t=0 must leave
    assert limiter.acquire("k", 5, clock.advance(1)) == LimitDecision(False, 2, 7.0, 1)
    # cost 7 needs 5 freed -> entries at t=0 (4) and t=1 (1) must leave
    assert limiter.acquire("k", 7, clock.now()) == LimitDecision(False, 2, 8.0, 0)
    assert limiter.acquire("k", 10, clock.now()).retry_after == 9.0
    assert limiter.acquire("k", 2, clock.now()) == LimitDecision(True, 0, 0.0, 0)
    clock.advance(7.0)  # t=10: the cost-4 entry left
    assert limiter.acquire("k", 4, clock.now()) == LimitDecision(True, 0, 0.0, 0)


def test_sliding_window_cost_equal_to_capacity() -> None:
    limiter = sliding(5, 1.0)
    assert limiter.acquire("k", 5, 0.0) == LimitDecision(True, 0, 0.0, 0)
    assert limiter.acquire("k", 5, 0.5) == LimitDecision(False, 0, 0.5, 1)
    assert limiter.acquire("k", 5, 1.0).allowed


def test_sliding_window_unit_costs_then_larger_cost() -> None:
    limiter = sliding(5, 10.0)
    for t in range(4):
        assert limiter.acquire("k", 1, float(t)).allowed
    # 4 unit entries at t=0..3; cost 3 needs 2 freed -> the entry at t=1 must leave
    assert limiter.acquire("k", 3, 4.0) == LimitDecision(False, 1, 7.0, 1)
    assert limiter.acquire("k", 1, 4.0) == LimitDecision(True, 0, 0.0, 0)
    assert limiter.acquire("k", 3, 12.0) == LimitDecision(True, 0, 0.0, 0)


def test_sliding_window_refusal_takes_nothing() -> None:
    limiter = sliding(2, 10.0)
    limiter.acquire("k", 2, 0.0)
    for t in range(1, 10):
        assert not limiter.acquire("k", 1, float(t)).allowed
    assert limiter.acquire("k", 2, 10.0).allowed


def test_sliding_window_long_log_is_compacted() -> None:
    limiter = sliding(100, 1.0)
    for i in range(10_000):
        assert limiter.acquire("k", 1, i * 0.02).allowed  # 50 per window
    state = limiter._keys["k"]
    assert len(state.times) <= 2 * 51


def test_sliding_window_tolerates_a_clock_stepping_back() -> None:
    limiter = sliding(2, 10.0)
    assert limiter.acquire("k", 1, 100.0).allowed
    assert limiter.acquire("k", 1, 95.0).allowed  # counted as at 100
    assert limiter.acquire("k", 1, 105.0).retry_after == 5.0
    assert limiter.acquire("k", 2, 110.0).allowed


def test_sliding_window_status_looks_without_taking() -> None:
    clock = ManualClock(1000.0)
    limiter = sliding(2, 10.0)
    assert limiter.status("k", clock.now()) == LimitStatus(False, 2, 0.0, 1000.0)
    assert len(limiter) == 0  # status creates no key
    limiter.acquire("k", 1, clock.now())
    assert limiter.status("k", clock.advance(3)) == LimitStatus(False, 1, 0.0, 1010.0)
    limiter.acquire("k", 1, clock.now())
    for _ in range(3):
        assert limiter.status("k", clock.now()) == LimitStatus(True, 0, 7.0, 1013.0)
    assert limiter.status("k", clock.advance(7)) == LimitStatus(False, 1, 0.0, 1013.0)
    # the expired entry is skipped by status but still physically present: nothing mutated
    assert limiter.status("k", clock.advance(3)) == LimitStatus(False, 2, 0.0, 1013.0)
    assert limiter.acquire("k", 2, clock.now()).allowed


def test_sliding_window_status_with_costs() -> None:
    limiter = sliding(10, 10.0)
    limiter.acquire("k", 6, 0.0)
    limiter.acquire("k", 4, 1.0)
    assert limiter.status("k", 2.0) == LimitStatus(True, 0, 8.0, 11.0)
    assert limiter.status("k", 10.0) == LimitStatus(False, 6, 0.0, 11.0)


# --- token bucket -------------------------------------------------------------------------------


def test_token_bucket_starts_full_and_refills_continuously() -> None:
    clock = ManualClock(0.0)
    limiter = bucket(10, 10.0)  # one token a second
    assert limiter.acquire("k", 10, clock.now()) == LimitDecision(True, 0, 0.0, 0)
    assert limiter.acquire("k", 1, clock.advance(0.5)) == LimitDecision(False, 0, 0.5, 1)
    assert limiter.acquire("k", 1, clock.advance(0.5)) == LimitDecision(True, 0, 0.0, 0)
    assert limiter.acquire("k", 3, clock.advance(2.5)) == LimitDecision(False, 2, 0.5, 0)
    assert limiter.acquire("k", 2, clock.now()) == LimitDecision(True, 0, 0.0, 0)  # 0.5 left
    clock.advance(100.0)
    assert limiter.acquire("k", 1, clock.now()) == LimitDecision(True, 9, 0.0, 0)  # capped


def test_token_bucket_remaining_is_floored() -> None:
    limiter = bucket(3, 3.0)
    limiter.acquire("k", 3, 0.0)
    assert limiter.status("k", 2.5).remaining == 2
    assert limiter.acquire("k", 1, 2.5) == LimitDecision(True, 1, 0.0, 0)


@pytest.mark.parametrize(("max_requests", "window", "cost"),
                         [(7, 3.3, 5), (3, 0.1, 1), (1_000_000_000, 604_800.0, 999_999_937),
                          (1, 604_800.0, 1), (999, 1e-6, 998), (10, 1 / 3, 10)])
def test_token_bucket_retry_after_is_exact(max_requests: int, window: float, cost: int) -> None:
    clock = ManualClock(1_700_000_000.0 + 1 / 7)
    limiter = bucket(max_requests, window)
    refusals = 0
    for _ in range(40):
        decision = limiter.acquire("k", cost, clock.now())
        if decision.allowed:
            clock.advance(window / 11)
            continue
        refusals += 1
        before = math.nextafter(clock.now() + decision.retry_after, 0.0)
        assert limiter._level(limiter._keys["k"], before) < cost
        clock.advance(decision.retry_after)
        assert limiter.acquire("k", cost, clock.now()).allowed
    assert refusals > 0


def test_token_bucket_retry_after_is_exact_near_time_zero() -> None:
    limiter = bucket(3, 0.7)
    now = 0.1
    for _ in range(50):
        decision = limiter.acquire("k", 2, now)
        if not decision.allowed:
            now += decision.retry_after
            assert limiter.acquire("k", 2, now).allowed


def test_token_bucket_is_exactly_full_a_window_after_it_was_emptied() -> None:
    # 0.7 * 3 / 0.7 rounds to 2.9999999999999996: the level must not
    limiter = bucket(3, 0.7)
    limiter.acquire("k", 3, 0.0)
    assert limiter.status("k", 0.7).remaining == 3
    assert limiter.evict_idle(0.7) == 1


def test_token_bucket_status_and_reset_at() -> None:
    clock = ManualClock(0.0)
    limiter = bucket(4, 8.0)  # a token every 2 s
    assert limiter.status("k", 5.0) == LimitStatus(False, 4, 0.0, 5.0)
    assert len(limiter) == 0
    limiter.acquire("k", 4, clock.now())
    for _ in range(3):
        now = clock.advance(0.5)
        assert limiter.status("k", now) == LimitStatus(True, 0, 2.0 - now, 8.0)
    assert limiter.status("k", clock.advance(0.5)) == LimitStatus(False, 1, 0.0, 8.0)
    assert limiter.status("k", 9.0) == LimitStatus(False, 4, 0.0, 9.0)
    assert limiter.acquire("k", 4, 8.0).allowed  # status took nothing


def test_token_bucket_tolerates_a_clock_stepping_back() -> None:
    limiter = bucket(2, 2.0)
    limiter.acquire("k", 2, 100.0)
    assert not limiter.acquire("k", 1, 99.0).allowed
    assert limiter.acquire("k", 1, 101.0) == LimitDecision(True, 0, 0.0, 0)
    assert limiter.acquire("k", 1, 110.0) == LimitDecision(True, 1, 0.0, 0)
    assert limiter.acquire("k", 1, 109.0).allowed  # the last token, as if at 110
    assert not limiter.acquire("k", 1, 110.5).allowed  # 109..110 is not refilled again


# --- alerts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [SW, TB])
def test_alerts_are_throttled_to_one_per_window(algorithm: Algorithm) -> None:
    limiter = make_limiter(LimitConfig("a", 1, 60.0, algorithm))
    t0 = 1_700_000_000.0
    limiter.acquire("k", 1, t0)
    limiter.acquire("other", 1, t0)
    alerts = [limiter.acquire("k", 1, t0 + dt).alert for dt in (0, 1, 2, 30, 59.5)]
    assert alerts == [1, 0, 0, 0, 0]
    assert limiter.acquire("other", 1, t0 + 1).alert == 1  # per key
    assert limiter.acquire("k", 1, t0 + 60.0).allowed  # a window after the admission at t0
    assert limiter.acquire("k", 1, t0 + 60.5).alert == 5  # 4 since the alert, and this one
    assert limiter.acquire("k", 1, t0 + 61.0).alert == 0
    assert limiter.acquire("k", 1, t0 + 120.5).allowed
    assert limiter.acquire("k", 1, t0 + 120.5).alert == 2  # t0 + 61 and this one
    assert limiter.acquire("k", 1, t0 + 120.5).alert == 0


def test_alert_example_from_the_contract() -> None:
    limiter = sliding(1, 60.0)
    limiter.acquire("k", 1, -0.5)
    assert [limiter.acquire("k", 1, t).alert for t in (0.0, 1.0, 2.0)] == [1, 0, 0]
    assert limiter.acquire("k", 1, 59.5).allowed
    assert limiter.acquire("k", 1, 61.0).alert == 3


@pytest.mark.parametrize("algorithm", [SW, TB])
def test_an_evicted_key_forgets_its_unreported_refusals(algorithm: Algorithm) -> None:
    limiter = make_limiter(LimitConfig("a", 1, 10.0, algorithm))
    limiter.acquire("k", 1, 0.0)
    assert limiter.acquire("k", 1, 1.0).alert == 1
    assert limiter.acquire("k", 1, 2.0).alert == 0
    # back to fresh (entry gone / bucket full) at 10, but the alert at 1 holds it until 11
    assert limiter.evict_idle(10.5) == 0
    assert limiter.evict_idle(11.0) == 1
    limiter.acquire("k", 1, 12.0)
    assert limiter.acquire("k", 1, 13.0).alert == 1  # not 2: the refusal at t=2 is forgotten


# --- eviction -----------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [SW, TB])
def test_evict_idle_drops_only_fresh_keys(algorithm: Algorithm) -> None:
    limiter = make_limiter(LimitConfig("a", 2, 10.0, algorithm))
    limiter.acquire("old", 2, 0.0)
    limiter.acquire("new", 2, 5.0)
    assert len(limiter) == 2
    assert limiter.evict_idle(9.0) == 0
    assert limiter.evict_idle(10.0) == 1
    assert len(limiter) == 1
    assert limiter.status("new", 10.0).remaining == (0 if algorithm is SW else 1)
    assert limiter.evict_idle(15.0) == 1
    assert len(limiter) == 0


def test_token_bucket_is_fresh_as_soon_as_it_is_full() -> None:
    limiter = bucket(10, 10.0)
    limiter.acquire("k", 3, 0.0)
    assert limiter.evict_idle(2.9) == 0
    assert limiter.evict_idle(3.0) == 1


@pytest.mark.parametrize("algorithm", [SW, TB])
def test_new_keys_evict_idle_ones_incrementally(algorithm: Algorithm) -> None:
    limiter = make_limiter(LimitConfig("a", 5, 10.0, algorithm))
    for i in range(100):
        limiter.acquire(f"old{i}", 5, 0.0)
    # refused at 9 (so moved to the back) with an alert that holds it until 19
    assert limiter.acquire("old0", 5, 9.0).alert == 1
    for i in range(49):
        limiter.acquire(f"new{i}", 1, 10.0)
    assert len(limiter) == 100 - 2 * 49 + 49  # each new key dropped two idle ones
    limiter.acquire("new49", 1, 10.0)
    assert len(limiter) == 51  # old99 dropped, then the front was old0, which is not fresh
    for i in range(50, 60):
        limiter.acquire(f"new{i}", 1, 10.0)
    assert len(limiter) == 61
    assert "old0" in limiter._keys
    limiter.evict_idle(19.0)
    assert "old0" not in limiter._keys


@pytest.mark.parametrize("algorithm", [SW, TB])
def test_eviction_never_changes_a_decision(algorithm: Algorithm) -> None:
    config = LimitConfig("a", 3, 1.0, algorithm)
    swept, kept = make_limiter(config), make_limiter(config)
    kept.sweep = lambda now, budget: 0  # type: ignore[method-assign]
    clock = ManualClock(1_700_000_000.0)
    for i in range(3000):
        now = clock.advance((i * 7919 % 13) / 17)
        key, cost = f"k{i * 31 % 23}", 1 + i % 3
        if i % 5 == 0:
            swept.evict_idle(now)
        a, b = swept.acquire(key, cost, now), kept.acquire(key, cost, now)
        assert a[:3] == b[:3]
        assert (a.alert > 0) == (b.alert > 0)
        assert swept.status(key, now) == kept.status(key, now)
    assert len(swept) < len(kept)


def test_evict_idle_shrinks_the_table() -> None:
    limiter = sliding(1, 1.0)
    for i in range(1000):
        limiter.acquire(str(i), 1, 0.0)
    table = limiter._keys
    assert limiter.evict_idle(1.0) == 1000
    assert limiter._keys is not table
    assert len(limiter) == 0


def test_sweep_is_bounded_and_stops_at_the_first_busy_key() -> None:
    limiter = sliding(1, 1.0)
    for i in range(100):
        limiter.acquire(f"old{i}", 1, 0.0)
    limiter.acquire("busy", 1, 0.9)
    for i in range(10):
        limiter.acquire(f"behind{i}", 1, 0.0 if i % 2 else 0.95)
    assert limiter.sweep(1.5, budget=40) == 40  # the budget bounds the work
    assert limiter.sweep(1.5, budget=1000) == 60  # then it stops at "busy"
    assert len(limiter) == 11
    assert limiter.sweep(2.0, budget=1000) == 11  # a window later everything is fresh


def test_give_back_undoes_the_newest_admissions_never_more() -> None:
    for algorithm in Algorithm:
        limiter = make_limiter(LimitConfig("g", 10, 60.0, algorithm, lease=5))
        limiter.acquire("k", 1, 0.0)
        limiter.acquire("k", 5, 1.0)  # a block of 5, 2 of it used
        limiter.give_back("k", 3, 2.0)
        assert limiter.status("k", 2.0).remaining == 10 - 1 - 2
        limiter.give_back("k", 100, 2.0)
        assert limiter.status("k", 2.0).remaining == 10
        limiter.give_back("unknown", 3, 2.0)
        assert limiter.status("unknown", 2.0).remaining == 10
