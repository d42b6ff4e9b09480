"""What every rate limit shares, whatever its algorithm: its config, its answers, the float
arithmetic of a retry-after, and the key table (keys in least-recently-touched order, the
eviction of fresh keys, the RateLimitExceeded throttle). rescp.engine.ratelimit holds the two
algorithms built on it, and says how they keep their keys."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from rescp.enums import Algorithm
from rescp.errors import InvalidArgument, Violations

MAX_REQUESTS = 1_000_000_000
MAX_SLIDING_REQUESTS = 100_000
MAX_SLIDING_KEY_BYTES = 8 * 1024 * 1024
"""A sliding window keeps one entry per admitted request still in its window, so its
max_requests is capped and one key holds at most MAX_SLIDING_KEY_BYTES however long the window
(tests/unit/test_ratelimit_memory.py holds it). Above the cap, TOKEN_BUCKET keeps two numbers
per key at any rate."""
MAX_WINDOW = 7 * 24 * 3600.0
EVICT_PER_INSERT = 2
"""Fresh keys dropped per new key at most: more than the one it adds, so a backlog of idle keys
drains while new keys arrive, and no acquire does more than O(1) eviction work."""


@dataclass(frozen=True, slots=True)
class LimitConfig:
    """One named limit: `max_requests` per `window` seconds for each key."""

    name: str
    max_requests: int
    window: float
    algorithm: Algorithm = Algorithm.SLIDING_WINDOW
    lease: int = 0  # the most tokens one local-mode client may hold; 0: decided on the server

    def __post_init__(self) -> None:
        v = Violations()
        if isinstance(self.name, str):
            v.name(self.name, "name")
        else:
            v.check(False, "name", "must be a string")
        m = self.max_requests
        v.check(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= MAX_REQUESTS,
                "max_requests", f"must be an integer from 1 to {MAX_REQUESTS}")
        w = self.window
        v.check(isinstance(w, int | float) and not isinstance(w, bool) and 0 < w <= MAX_WINDOW,
                "window", "must be more than 0 s and at most 7 days")  # NaN fails the comparison
        v.check(isinstance(self.algorithm, Algorithm), "algorithm",
                "must be SLIDING_WINDOW or TOKEN_BUCKET")
        v.check(self.algorithm is not Algorithm.SLIDING_WINDOW or not isinstance(m, int)
                or m <= MAX_SLIDING_REQUESTS, "max_requests",
                f"at most {MAX_SLIDING_REQUESTS} for SLIDING_WINDOW, which keeps every admitted "
                "request of its window; use TOKEN_BUCKET for larger limits (constant memory)")
        lease = self.lease
        v.check(isinstance(lease, int) and not isinstance(lease, bool) and lease >= 0
                and (lease == 0 or not isinstance(m, int) or lease <= m),
                "lease", "must be an integer from 0 to max_requests")
        v.raise_if_any()


class LimitDecision(NamedTuple):
    """The answer to one acquire."""

    allowed: bool
    remaining: int
    """Tokens left for the key after this decision (floored for the token bucket)."""
    retry_after: float
    """Seconds until a request of this cost can pass; 0.0 when allowed."""
    alert: int
    """> 0: raise a RateLimitExceeded event now, carrying this many refusals; 0: no event."""


class LimitStatus(NamedTuple):
    """A look at one key that takes nothing."""

    is_limited: bool
    remaining: int
    retry_after: float
    """Seconds until a cost-1 request can pass; 0.0 if not limited."""
    reset_at: float
    """When the key is back at full capacity; `now` if it already is."""


new_tuple = tuple.__new__
"""Builds a NamedTuple without its generated Python `__new__`, which costs ~0.25 us a call."""


def limited(now: float, delay: float, reset_at: float) -> LimitStatus:
    """A refusal's status; now + delay may overshoot by an ulp, and reset comes no earlier."""
    return LimitStatus(True, 0, delay, max(reset_at, now + delay))


def delay_to(now: float, at: float) -> float:
    """A float step `d` with `now + d >= at`, so a clock advanced by it gets there; the smallest
    one when `at - now` overshoots, so a clock advanced by less does not."""
    d = at - now
    while now + d < at:
        d = math.nextafter(d, math.inf)
    if now + d > at and d > 0:
        d = boundary(lambda step: now + step >= at, 0.0, d)
    return d


def boundary(ready: Callable[[float], bool], lo: float, guess: float) -> float:
    """The first float above `lo` at which monotone `ready` holds, given `not ready(lo)`.

    Gallops from `guess` (usually within an ulp or two) to bracket the boundary, then bisects.
    """
    hi = max(lo, guess)
    step = math.ulp(hi)
    while not ready(hi):
        lo, hi, step = hi, hi + step, step * 2
    while hi - step > lo and ready(hi - step):
        hi, step = hi - step, step * 2
    lo = max(lo, hi - step)
    while (mid := lo + (hi - lo) / 2) > lo and mid < hi:
        if ready(mid):
            hi = mid
        else:
            lo = mid
    return hi


class KeySnapshot(NamedTuple):
    """One key's counters as plain data, for a store to save: a sliding window's live entries
    (times and costs, oldest first), or a bucket's `tokens` as of `last`."""

    key: str
    times: tuple[float, ...] = ()
    costs: tuple[int, ...] = ()
    tokens: float = 0.0
    last: float = 0.0


class KeyState:
    """What every key keeps for the RateLimitExceeded throttle."""

    __slots__ = ("alerted", "refused")

    def __init__(self) -> None:
        self.alerted: float | None = None  # when the last alert was raised
        self.refused = 0  # refusals since then


S = TypeVar("S", bound=KeyState)


class KeyTable(Generic[S]):
    """The key table, its eviction and the alert throttle, shared by both algorithms."""

    def __init__(self, config: LimitConfig) -> None:
        self.config = config
        self._cap = config.max_requests
        self._window = float(config.window)
        self._keys: OrderedDict[str, S] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def acquire(self, key: str, cost: int, now: float) -> LimitDecision:
        """Admit `cost` for `key` if it fits; a refusal takes nothing."""
        left = self.admit(key, cost, now)
        if left < 0:
            return self.refused(key, cost, now)
        return new_tuple(LimitDecision, (True, left, 0.0, 0))

    def admit(self, key: str, cost: int, now: float) -> int:
        """`acquire` for the hot path: the tokens left after admitting `cost`, or -1 for a
        refusal, which takes nothing and is not yet counted: `refused` then says why.

        No decision object and no frame per algorithm: a batch of 100 decides ~30% faster."""
        raise NotImplementedError

    def refused(self, key: str, cost: int, now: float) -> LimitDecision:
        """Why `admit` refused `cost` for `key` just now (at the same `now`): what is left,
        when it would fit, and the alert; counts the refusal for the alert throttle."""
        raise NotImplementedError

    def _touched(self, key: str, cost: int, now: float) -> S | None:
        """The state of `key`, now the most recently touched, to admit `cost` against; None
        when the key was not held and has just been added with `cost` taken (room made first)."""
        if cost != 1:
            self._check_cost(cost)
        keys = self._keys
        state = keys.get(key)
        if state is None:
            self.sweep(now, EVICT_PER_INSERT)
            keys[key] = self._first(cost, now)
            return None
        keys.move_to_end(key)
        return state

    def _first(self, cost: int, now: float) -> S:
        """The state of a key whose first request takes `cost` at `now`."""
        raise NotImplementedError

    def touched_since(self, since: float, budget: int) -> list[KeySnapshot]:
        """Keys that may have changed since `since`, newest first, at most `budget` of them.

        Keys are kept in order of last touch, and a key touched at t was last admitted after
        t - window (a refusal needs a full window), so the scan stops at the first key last
        admitted before since - window: every key behind it was touched before `since`."""
        horizon = since - self._window
        found: list[KeySnapshot] = []
        for key in reversed(self._keys):
            snap = self._snapshot(key, self._keys[key])
            if len(found) >= budget or self.idle_from(snap) - self._window < horizon:
                break
            found.append(snap)
        return found

    def snapshot(self) -> list[KeySnapshot]:
        """Every key, least recently touched first."""
        return [self._snapshot(key, state) for key, state in self._keys.items()]

    def restore(self, snaps: list[KeySnapshot], now: float) -> None:
        """Take up saved keys, least recently touched first, but those idle by `now`."""
        for snap in snaps:
            if self.idle_from(snap) > now:
                self._keys[snap.key] = self._restored(snap)

    def idle_from(self, snap: KeySnapshot) -> float:
        """When the key will hold nothing a fresh key does not (a store may forget it then)."""
        return (snap.times[-1] if snap.times else snap.last) + self._window

    def _snapshot(self, key: str, state: S) -> KeySnapshot:
        raise NotImplementedError

    def _restored(self, snap: KeySnapshot) -> S:
        raise NotImplementedError

    def evict_idle(self, now: float) -> int:
        """Drop every key whose state equals a fresh key's; return how many were dropped."""
        stale = [key for key, state in self._keys.items() if self._fresh(state, now)]
        for key in stale:
            del self._keys[key]
        if stale and len(stale) >= len(self._keys):
            # A dict never shrinks its table on delete; a copy sized to what is left returns it.
            self._keys = OrderedDict(self._keys)
        return len(stale)

    def _fresh(self, state: S, now: float) -> bool:
        raise NotImplementedError

    def _alert_fresh(self, state: S, now: float) -> bool:
        return state.alerted is None or state.alerted + self._window <= now

    def _check_cost(self, cost: int) -> None:
        if not 1 <= cost <= self._cap:
            raise InvalidArgument.one(
                "cost", f"must be from 1 to the limit's max_requests ({self._cap})")

    def sweep(self, now: float, budget: int) -> int:
        """Drop fresh keys from the least-recently-touched end, stopping at the first busy key or
        after `budget` keys; return how many were dropped.

        Bounded work, so the server's housekeeping can return memory after traffic stops without
        stalling (a full `evict_idle` of a million keys takes most of a second). A fresh key
        behind a busy one waits for a later sweep: every key turns fresh within a window of its
        last touch, so the front keeps moving.
        """
        keys = self._keys
        dropped = 0
        while dropped < budget and keys:
            front = next(iter(keys))
            if not self._fresh(keys[front], now):
                break
            del keys[front]
            dropped += 1
        if dropped > EVICT_PER_INSERT and len(keys) < dropped:
            self._keys = OrderedDict(keys)  # let a table that shrank by half give memory back
        return dropped

    def _alert(self, state: S, now: float) -> int:
        """Count a refusal; the first one, then at most one per window, raises an alert."""
        state.refused += 1
        if not self._alert_fresh(state, now):
            return 0
        count, state.refused, state.alerted = state.refused, 0, now
        return count
