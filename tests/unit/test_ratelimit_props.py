"""Hypothesis properties of the rate-limit engine against naive reference models.

Every scenario runs three limiters side by side: one that never evicts (compared exactly with
the reference, alerts included), the default one (evicting a little on each new key) and one
swept with `evict_idle` before every step. Eviction must change no decision; it may only forget
unreported refusals, so the evicting limiters are compared on whether an alert is raised.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from fractions import Fraction

from hypothesis import example, given, settings
from hypothesis import strategies as st

from rescp.engine.ratelimit import (
    LimitConfig,
    LimitDecision,
    Limiter,
    SlidingWindowLimiter,
    TokenBucketLimiter,
    make_limiter,
)
from rescp.enums import Algorithm

Step = tuple[int, int, float]  # key, cost, time step


def never_evicting(config: LimitConfig) -> Limiter:
    limiter = make_limiter(config)
    limiter.sweep = lambda now, budget: 0  # type: ignore[method-assign]
    return limiter


@dataclass
class AlertModel:
    """The RateLimitExceeded throttle as the contract words it."""

    window: float
    last: dict[int, float] = field(default_factory=dict)
    pending: dict[int, int] = field(default_factory=dict)

    def refuse(self, key: int, now: float) -> int:
        self.pending[key] = self.pending.get(key, 0) + 1
        last = self.last.get(key)
        if last is not None and last + self.window > now:
            return 0
        self.last[key] = now
        return self.pending.pop(key)


class Trio:
    """The same requests through a never-evicting, a default and an always-swept limiter."""

    def __init__(self, config: LimitConfig) -> None:
        self.exact = never_evicting(config)
        self.default = make_limiter(config)
        self.swept = make_limiter(config)
        self.touched: dict[str, float] = {}
        self.window = config.window

    def acquire(self, key: str, cost: int, now: float) -> LimitDecision:
        self.swept.evict_idle(now)
        for held in self.swept._keys:  # what a sweep keeps was touched within the window
            assert self.touched[held] + self.window >= now
        grew = len(self.default)
        decisions = [lim.acquire(key, cost, now) for lim in (self.exact, self.default, self.swept)]
        self.touched[key] = now
        if len(self.default) > grew:  # the default table grows only when all it holds is live
            assert all(self.touched[k] + self.window >= now for k in self.default._keys)
        first = decisions[0]
        for other in decisions[1:]:
            assert other[:3] == first[:3]
            assert (other.alert > 0) == (first.alert > 0)
        assert self.exact.status(key, now) == self.swept.status(key, now)
        return first


def time_steps(window: float) -> st.SearchStrategy[float]:
    return st.one_of(
        st.just(0.0),
        st.sampled_from([window, window / 2, window / 3, window * 0.999, 2 * window]),
        st.floats(0.0, 1.5 * window),
    )


@st.composite
def sliding_scenarios(draw: st.DrawFn) -> tuple[LimitConfig, float, list[Step]]:
    cap = draw(st.integers(1, 6))
    window = draw(st.sampled_from([1.0, 2.5, 0.3, 10.0, 1 / 3, 0.1]))
    start = draw(st.sampled_from([0.0, 12.345, 1_700_000_000.0, 1_700_000_000.3]))
    steps = draw(st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, cap), time_steps(window)), max_size=80))
    return LimitConfig("p", cap, window), start, steps


@settings(max_examples=300)
@given(sliding_scenarios())
def test_sliding_window_matches_the_admitted_log(
        scenario: tuple[LimitConfig, float, list[Step]]) -> None:
    config, now, steps = scenario
    cap, window = config.max_requests, config.window
    trio, alerts = Trio(config), AlertModel(window)
    admitted: dict[int, list[tuple[float, int]]] = {}
    for key, cost, dt in steps:
        now += dt
        log = admitted.setdefault(key, [])
        live = [(t, c) for t, c in log if not t + window <= now]  # counts while now < t + window
        used = sum(c for _, c in live)
        decision = trio.acquire(str(key), cost, now)
        if used + cost <= cap:  # admitting keeps the bound: it must admit
            assert decision == (True, cap - used - cost, 0.0, 0)
            log.append((now, cost))
            continue
        freed, leave_at = 0, math.inf
        for t, c in live:
            freed += c
            if used + cost - freed <= cap:
                leave_at = t + window
                break
        assert decision == (False, cap - used, decision.retry_after, alerts.refuse(key, now))
        assert decision.retry_after > 0
        # exact up to the rounding of `leave_at - now`: then it passes, and not a step sooner
        assert now + decision.retry_after >= leave_at
        assert now + math.nextafter(decision.retry_after, 0.0) < leave_at or \
            now + math.nextafter(decision.retry_after, 0.0) == now + decision.retry_after
    for log in admitted.values():  # at most cap in any [a, a + window)
        for a, _ in log:
            assert sum(c for t, c in log if a <= t < a + window) <= cap


@st.composite
def bucket_scenarios(draw: st.DrawFn) -> tuple[LimitConfig, float, list[Step]]:
    """Dyadic times and windows, so float arithmetic is exact and a Fraction model agrees."""
    cap = draw(st.integers(1, 10))
    window = draw(st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0, 8.0]))
    start = draw(st.sampled_from([0.0, 1024.0, 1_700_000_000.0]))
    dt = st.integers(0, int(window * 96)).map(lambda k: k / 64)
    steps = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(1, cap), dt), max_size=80))
    return LimitConfig("p", cap, window, Algorithm.TOKEN_BUCKET), start, steps


@settings(max_examples=300)
@given(bucket_scenarios())
def test_token_bucket_matches_an_exact_model(
        scenario: tuple[LimitConfig, float, list[Step]]) -> None:
    config, now, steps = scenario
    cap, window = config.max_requests, Fraction(config.window)
    trio, alerts = Trio(config), AlertModel(config.window)
    buckets: dict[int, tuple[Fraction, Fraction]] = {}  # tokens, as of time
    for key, cost, dt in steps:
        now += dt
        tokens, last = buckets.get(key, (Fraction(cap), Fraction(now)))
        level = min(Fraction(cap), tokens + (Fraction(now) - last) * cap / window)
        decision = trio.acquire(str(key), cost, now)
        if level >= cost:
            assert decision == (True, math.floor(level - cost), 0.0, 0)
            buckets[key] = (level - cost, Fraction(now))
            continue
        wait = (cost - level) * window / cap
        assert decision[:2] == (False, math.floor(level))
        assert decision.alert == alerts.refuse(key, now)
        # exact up to the rounding of the clock reading it is added to
        assert math.isclose(decision.retry_after, wait, rel_tol=1e-12, abs_tol=4 * math.ulp(now))
        buckets[key] = (tokens, last)


@st.composite
def awkward_scenarios(draw: st.DrawFn) -> tuple[LimitConfig, float, list[Step]]:
    """Arbitrary floats: the retry-after promise must hold through every rounding."""
    algorithm = draw(st.sampled_from(Algorithm))
    cap = draw(st.integers(1, 1000))
    window = draw(st.floats(1e-3, 1e5))
    start = draw(st.floats(0.0, 2e9))
    steps = draw(st.lists(st.tuples(
        st.integers(0, 1), st.integers(1, cap), st.floats(0.0, window)), max_size=30))
    return LimitConfig("p", cap, window, algorithm), start, steps


@settings(max_examples=200)
@given(awkward_scenarios())
@example((LimitConfig("p", 1, 16386.26244452759), 0.0,  # reset_at fell an ulp before the retry
          [(0, 1, 0.0), (0, 1, 1.3134850713049673)]))
def test_waiting_exactly_retry_after_passes_and_a_hair_less_does_not(
        scenario: tuple[LimitConfig, float, list[Step]]) -> None:
    config, now, steps = scenario
    limiter = make_limiter(config)
    for key, cost, dt in steps:
        now += dt
        decision = limiter.acquire(str(key), cost, now)
        if decision.allowed:
            continue
        then = now + decision.retry_after
        assert then > now
        # "A hair less" is the next smaller step: the absolute time one ulp before `then` may
        # be no step's sum at all (sums of floats skip values).
        hair_less = now + math.nextafter(decision.retry_after, 0.0)
        if hair_less < then:  # a smaller step may round to the same time
            assert not copy.deepcopy(limiter).acquire(str(key), cost, hair_less).allowed
        assert copy.deepcopy(limiter).acquire(str(key), cost, then).allowed
        status = limiter.status(str(key), now)
        if cost == 1:
            assert status == (True, decision.remaining, decision.retry_after, status.reset_at)
        assert status.reset_at >= then


@settings(max_examples=100)
@given(st.sampled_from([SlidingWindowLimiter, TokenBucketLimiter]), st.integers(1, 5),
       st.lists(st.tuples(st.integers(0, 50), st.floats(0.0, 3.0)), max_size=200))
def test_len_never_exceeds_the_keys_touched_within_one_window(
        cls: type[Limiter], cap: int, steps: list[tuple[int, float]]) -> None:
    algorithm = Algorithm.TOKEN_BUCKET if cls is TokenBucketLimiter else Algorithm.SLIDING_WINDOW
    limiter = cls(LimitConfig("p", cap, 1.0, algorithm))
    now, peak = 1_700_000_000.0, 0
    touched: dict[int, float] = {}
    for key, dt in steps:
        now += dt
        limiter.acquire(str(key), 1, now)
        touched[key] = now
        peak = max(peak, sum(1 for t in touched.values() if t + 1.0 >= now))
        assert len(limiter) <= peak
