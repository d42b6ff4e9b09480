"""rescp's pure engines in-process vs the libraries services use in-process today.

- breaker: `Breaker.allow` + `Breaker.record(SUCCESS)` vs `pybreaker.CircuitBreaker.call` on a
  no-op (both closed, a 5-failure rule).
- sliding window: `SlidingWindowLimiter.acquire` vs `limits`' `MovingWindowRateLimiter.hit`
  (memory storage), both 100 per minute over 10,000 keys, every request admitted.
Each side runs the same number of operations; the best of several repeats is kept (the least
disturbed by the rest of the machine), as timeit advises.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pybreaker
from limits import RateLimitItemPerMinute, storage, strategies

from rescp.engine.breaker import Breaker, BreakerConfig
from rescp.engine.ratelimit import LimitConfig, make_limiter
from rescp.enums import Outcome

KEYS = [f"user-{i}" for i in range(10_000)]


@dataclass(frozen=True)
class Pair:
    name: str
    ours_us: float
    theirs_us: float
    theirs: str

    @property
    def ratio(self) -> float:
        return self.theirs_us / self.ours_us


def best_us_per_op(run: Callable[[int], None], ops: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run(ops)
        best = min(best, time.perf_counter() - started)
    return best / ops * 1e6


def rescp_breaker(ops: int) -> None:
    breaker = Breaker("bench", BreakerConfig(), 1_700_000_000.0)
    allow, record, success = breaker.allow, breaker.record, Outcome.SUCCESS
    now = 1_700_000_000.0
    for _ in range(ops):
        permit = allow(now).permit
        record(success, 0.001, permit, now)


def pybreaker_breaker(ops: int) -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)

    def noop() -> None:
        return None

    call = breaker.call
    for _ in range(ops):
        call(noop)


def rescp_sliding_window(ops: int) -> None:
    limiter = make_limiter(LimitConfig("bench", max_requests=100, window=60.0))
    acquire, keys, n = limiter.acquire, KEYS, len(KEYS)
    now = time.time()
    for i in range(ops):
        acquire(keys[i % n], 1, now + i * 1e-6)


def limits_moving_window(ops: int) -> None:
    limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
    item, hit, keys, n = RateLimitItemPerMinute(100), limiter.hit, KEYS, len(KEYS)
    for i in range(ops):
        hit(item, keys[i % n])


def measure(ops: int = 200_000, repeats: int = 5) -> list[Pair]:
    return [
        Pair("breaker allow+record", best_us_per_op(rescp_breaker, ops, repeats),
             best_us_per_op(pybreaker_breaker, ops, repeats), "pybreaker CircuitBreaker.call"),
        Pair("sliding window acquire, 10k keys", best_us_per_op(rescp_sliding_window, ops, repeats),
             best_us_per_op(limits_moving_window, ops, repeats),
             "limits MovingWindowRateLimiter.hit"),
    ]
