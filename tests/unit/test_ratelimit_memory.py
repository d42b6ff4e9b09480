"""Memory of the rate-limit engine: a bounded cost per key, all given back once keys go idle.

Bytes per key are traced on 100k keys (tracemalloc makes a million take ~25 s per algorithm);
the million-key run checks eviction without it, on the sliding window. Measured on CPython
3.11, one entry per key, key strings excluded (they belong to the caller until stored):
sliding window 251 B/key at 100k keys and 240 at 1M, token bucket 203 and 192. The bounds
below leave ~30% headroom."""

from __future__ import annotations

import tracemalloc

import pytest

from rescp.engine.ratelimit import (
    MAX_SLIDING_KEY_BYTES,
    MAX_SLIDING_REQUESTS,
    MAX_WINDOW,
    LimitConfig,
    make_limiter,
)
from rescp.enums import Algorithm

TRACED_KEYS = 100_000
KEYS = 1_000_000
BYTES_PER_KEY = {Algorithm.SLIDING_WINDOW: 330, Algorithm.TOKEN_BUCKET: 270}
T0 = 1_700_000_000.0


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_bytes_per_key_are_bounded_and_given_back(algorithm: Algorithm) -> None:
    keys = [f"key-{i:07d}" for i in range(TRACED_KEYS)]
    limiter = make_limiter(LimitConfig("mem", 100, 3600.0, algorithm))
    now = T0
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for key in keys:
            now += 1e-5  # a float of its own per request, as a real clock gives
            assert limiter.acquire(key, 1, now).allowed
        per_key = (tracemalloc.get_traced_memory()[0] - base) / TRACED_KEYS
        assert len(limiter) == TRACED_KEYS
        assert per_key < BYTES_PER_KEY[algorithm], f"{per_key:.1f} B/key"
        assert limiter.evict_idle(now + 3600.0) == TRACED_KEYS
        assert len(limiter) == 0
        assert tracemalloc.get_traced_memory()[0] - base < 64 * 1024
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_a_million_idle_keys_are_dropped() -> None:
    """The sliding window, the heavier of the two; the bucket shares the key table."""
    limiter = make_limiter(LimitConfig("mem", 1, 60.0))
    acquire = limiter.acquire
    for i in range(KEYS):  # ten seconds of traffic, each key hit once
        acquire(f"a{i}", 1, T0 + i * 1e-5)
    assert len(limiter) == KEYS
    now = T0 + 70.0  # every one of them is idle now
    for i in range(KEYS // 4):
        acquire(f"b{i}", 1, now)
    assert len(limiter) == KEYS - 2 * (KEYS // 4) + KEYS // 4  # each new key dropped two idle ones
    assert limiter.evict_idle(now) == KEYS // 2  # the idle rest; the new keys are busy
    assert len(limiter) == KEYS // 4
    assert limiter.evict_idle(now + 60.0) == KEYS // 4
    assert len(limiter) == 0


@pytest.mark.parametrize("first_cost", [1, 2])
def test_one_sliding_window_key_is_bounded_by_the_cap(first_cost: int) -> None:
    """A key at the sliding window's cap (the most it may ever hold, however long the window)
    stays within MAX_SLIDING_KEY_BYTES: 3.1 MiB with implicit costs, 6.9 MiB once one cost
    above 1 made it keep running sums (the worst case)."""
    limiter = make_limiter(LimitConfig("mem", MAX_SLIDING_REQUESTS, MAX_WINDOW))
    now, cost = T0, first_cost
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        while limiter.acquire("k", cost, now).allowed:
            now, cost = now + 1e-3, 1
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert used < MAX_SLIDING_KEY_BYTES, f"{used / 2**20:.1f} MiB"
