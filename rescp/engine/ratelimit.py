"""Rate limits: an exact sliding-window log and a continuous token bucket, per key, time passed in.

- Sliding window: each key keeps its admitted requests as a list of times, oldest first, with a
  head index past the expired ones (compacted once half the list is dead). Costs are implicit
  (one per entry) until a key first takes a cost above 1; from then a parallel list of running
  sums holds them, so the fit test and the retry search are a subtraction and a bisection. An
  entry admitted at `t` counts while `now < t + window`, and it is only ever compared as
  `t + window <= now`: that one float expression decides expiry, retry-after and freshness, so
  at most `max_requests` are admitted in any `[a, a + window)` and a retry-after is never early.
- Token bucket: each key keeps `(tokens, last)`, tokens a float; the level at `now` is one
  monotone function of them (exactly full once a whole window has passed), and a retry-after is
  the first float time at which that same function reaches the cost, found by a short search
  around the algebraic answer, so advancing a clock by exactly retry_after always passes.
- Keys live in an OrderedDict in least-recently-touched order (acquire touches; status does
  not). A key is fresh when its state equals a new key's: nothing left in the window / bucket
  full, and no alert in the last window. Each acquire that adds a key first drops up to
  `EVICT_PER_INSERT` fresh keys from the front; `evict_idle` sweeps them all. A key untouched
  for a window is fresh, so the table only grows when every key in it was touched in the last
  window: it never holds more keys than the most ever touched within one window. Memory is
  O(that + sliding-window entries still in their window). At a million keys, each hit once:
  ~240 B per key (sliding window) or ~190 B (bucket), plus the key string; about 37 B more
  per further entry (tests/unit/test_ratelimit_memory.py measures it).
- Evicting a fresh key never changes a later decision; it only forgets the key's refusals not
  yet carried by an alert, so its next refusal alerts as a first one (alert=1).
Time is expected not to run backwards; if it does, a key treats it as standing still.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
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


_new = tuple.__new__
"""Builds a NamedTuple without its generated Python `__new__`, which costs ~0.25 us a call."""


def _limited(now: float, delay: float, reset_at: float) -> LimitStatus:
    """A refusal's status; now + delay may overshoot by an ulp, and reset comes no earlier."""
    return LimitStatus(True, 0, delay, max(reset_at, now + delay))


def _delay(now: float, at: float) -> float:
    """A float step `d` with `now + d >= at`, so a clock advanced by it gets there; the smallest
    one when `at - now` overshoots, so a clock advanced by less does not."""
    d = at - now
    while now + d < at:
        d = math.nextafter(d, math.inf)
    if now + d > at and d > 0:
        d = _boundary(lambda step: now + step >= at, 0.0, d)
    return d


def _boundary(ready: Callable[[float], bool], lo: float, guess: float) -> float:
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


class _KeyState:
    """What every key keeps for the RateLimitExceeded throttle."""

    __slots__ = ("alerted", "refused")

    def __init__(self) -> None:
        self.alerted: float | None = None  # when the last alert was raised
        self.refused = 0  # refusals since then


S = TypeVar("S", bound=_KeyState)


class _Limiter(Generic[S]):
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
        return _new(LimitDecision, (True, left, 0.0, 0))

    def admit(self, key: str, cost: int, now: float) -> int:
        """`acquire` for the hot path: the tokens left after admitting `cost`, or -1 for a
        refusal, which takes nothing and is not yet counted: `refused` then says why.

        One frame per call and no decision object: a batch of 100 decides ~30% faster."""
        raise NotImplementedError

    def refused(self, key: str, cost: int, now: float) -> LimitDecision:
        """Why `admit` refused `cost` for `key` just now (at the same `now`): what is left,
        when it would fit, and the alert; counts the refusal for the alert throttle."""
        raise NotImplementedError

    def _added(self, key: str, cost: int, now: float) -> int:
        """Admit the first request of a key not held (room made for it first): tokens left."""
        self.sweep(now, EVICT_PER_INSERT)
        self._keys[key] = self._first(cost, now)
        return self._cap - cost

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


class _Log(_KeyState):
    """One key's admitted requests: times[head:] oldest first, costs as running sums or implicit.

    `sums` is None while every cost was 1; otherwise len(sums) == len(times) + 1 and entry i cost
    sums[i + 1] - sums[i]. A list of floats is far lighter than a deque at a million keys.
    """

    __slots__ = ("head", "sums", "times")

    def __init__(self, now: float, cost: int) -> None:
        super().__init__()
        self.times = [now]
        self.sums: list[int] | None = None if cost == 1 else [0, cost]
        self.head = 0

    def live(self, start: int) -> int:
        """Total cost of the entries from index `start` on."""
        if self.sums is None:
            return len(self.times) - start
        return self.sums[-1] - self.sums[start]

    def leave_index(self, start: int, excess: int) -> int:
        """Index of the entry whose expiry frees `excess` cost, counting from `start`."""
        if self.sums is None:
            return start + excess - 1
        return bisect_left(self.sums, self.sums[start] + excess, start + 1) - 1

    def append(self, now: float, cost: int) -> None:
        times = self.times
        if times and times[-1] > now:
            now = times[-1]  # the clock stepped back: keep the log sorted
        if self.sums is None and cost != 1:
            self.sums = list(range(len(times) + 1))
        times.append(now)
        if self.sums is not None:
            self.sums.append(self.sums[-1] + cost)

    def drop_expired(self, now: float, window: float) -> int:
        """Advance head past entries out of the window (compacting once half the list is
        dead), and say the total cost of what is left (`live(head)`, in the same pass)."""
        times, head, sums = self.times, self.head, self.sums
        n = len(times)
        while head < n and times[head] + window <= now:
            head += 1
        if head * 2 >= n:
            del times[:head]
            if sums is not None:
                del sums[:head]
            n -= head
            head = 0
        self.head = head
        return n - head if sums is None else sums[-1] - sums[head]


class SlidingWindowLimiter(_Limiter[_Log]):
    """At most max_requests (sum of costs) per key in any half-open window, exactly."""

    def _first(self, cost: int, now: float) -> _Log:
        return _Log(now, cost)

    def _snapshot(self, key: str, state: _Log) -> KeySnapshot:
        head, sums = state.head, state.sums
        times = tuple(state.times[head:])
        costs = (1,) * len(times) if sums is None else tuple(
            sums[i + 1] - sums[i] for i in range(head, len(sums) - 1))
        return KeySnapshot(key, times, costs)

    def _restored(self, snap: KeySnapshot) -> _Log:
        log = _Log(snap.times[0], snap.costs[0])
        for time, cost in zip(snap.times[1:], snap.costs[1:], strict=True):
            log.append(time, cost)
        return log

    def admit(self, key: str, cost: int, now: float) -> int:
        if cost != 1:
            self._check_cost(cost)
        log = self._keys.get(key)
        if log is None:
            return self._added(key, cost, now)
        self._keys.move_to_end(key)
        live = log.drop_expired(now, self._window)
        if live + cost > self._cap:
            return -1
        log.append(now, cost)
        return self._cap - live - cost

    def refused(self, key: str, cost: int, now: float) -> LimitDecision:
        log = self._keys[key]  # `admit` dropped what expired by `now`
        live = log.live(log.head)
        at = log.times[log.leave_index(log.head, live + cost - self._cap)] + self._window
        return LimitDecision(False, self._cap - live, _delay(now, at), self._alert(log, now))

    def status(self, key: str, now: float) -> LimitStatus:
        """Look at `key` as a cost-1 acquire would see it, changing nothing."""
        log = self._keys.get(key)
        if log is None:
            return LimitStatus(False, self._cap, 0.0, now)
        window = self._window
        start = bisect_right(log.times, now, log.head, key=lambda t: t + window)
        live = log.live(start)
        if live == 0:
            return LimitStatus(False, self._cap, 0.0, now)
        # the time a clock at `now` advanced by the retry step reads: a float sum may land an
        # ulp past `times[-1] + window`, and reset_at must never precede now + retry_after
        reset_at = now + _delay(now, log.times[-1] + window)
        if live < self._cap:
            return LimitStatus(False, self._cap - live, 0.0, reset_at)
        at = log.times[log.leave_index(start, live + 1 - self._cap)] + window
        return _limited(now, _delay(now, at), reset_at)

    def give_back(self, key: str, tokens: int, now: float) -> None:
        """Undo up to `tokens` of the key's newest admissions (a lease's unused part), newest
        first, the last one undone only in part if need be; never more than were taken."""
        log = self._keys.get(key)
        if log is None:
            return
        log.drop_expired(now, self._window)
        times, sums = log.times, log.sums
        while tokens and len(times) > log.head:
            cost = 1 if sums is None else sums[-1] - sums[-2]
            if sums is not None and cost > tokens:
                sums[-1] -= tokens  # the newest entry keeps the part that was used
                return
            times.pop()
            if sums is not None:
                sums.pop()
            tokens -= cost

    def _fresh(self, state: _Log, now: float) -> bool:
        times = state.times
        return (not times or times[-1] + self._window <= now) and self._alert_fresh(state, now)


class _Bucket(_KeyState):
    """One key's bucket: `tokens` as of time `last`."""

    __slots__ = ("last", "tokens")

    def __init__(self, tokens: float, last: float) -> None:
        super().__init__()
        self.tokens = tokens
        self.last = last


class TokenBucketLimiter(_Limiter[_Bucket]):
    """max_requests tokens per key, refilled continuously at max_requests per window."""

    def _first(self, cost: int, now: float) -> _Bucket:
        return _Bucket(float(self._cap - cost), now)

    def _snapshot(self, key: str, state: _Bucket) -> KeySnapshot:
        return KeySnapshot(key, tokens=state.tokens, last=state.last)

    def _restored(self, snap: KeySnapshot) -> _Bucket:
        return _Bucket(snap.tokens, snap.last)

    def admit(self, key: str, cost: int, now: float) -> int:
        if cost != 1:
            self._check_cost(cost)
        bucket = self._keys.get(key)
        if bucket is None:
            return self._added(key, cost, now)
        self._keys.move_to_end(key)
        level = self._level(bucket, now)
        if level < cost:
            return -1
        bucket.tokens = level - cost
        bucket.last = max(bucket.last, now)
        return int(bucket.tokens)

    def refused(self, key: str, cost: int, now: float) -> LimitDecision:
        bucket = self._keys[key]
        level = self._level(bucket, now)
        at = self._reaches(bucket, cost, now)
        return LimitDecision(False, int(level), _delay(now, at), self._alert(bucket, now))

    def status(self, key: str, now: float) -> LimitStatus:
        """Look at `key` as a cost-1 acquire would see it, changing nothing."""
        bucket = self._keys.get(key)
        if bucket is None:
            return LimitStatus(False, self._cap, 0.0, now)
        level = self._level(bucket, now)
        reset_at = now if level >= self._cap else self._reaches(bucket, self._cap, now)
        if level >= 1:
            return LimitStatus(False, int(level), 0.0, reset_at)
        return _limited(now, _delay(now, self._reaches(bucket, 1, now)), reset_at)

    def give_back(self, key: str, tokens: int, now: float) -> None:
        """Return `tokens` (a lease's unused part) to the key's bucket, never beyond full."""
        bucket = self._keys.get(key)
        if bucket is not None:
            bucket.tokens = min(float(self._cap), self._level(bucket, now) + tokens)
            bucket.last = max(bucket.last, now)

    def _level(self, bucket: _Bucket, now: float) -> float:
        """Tokens at `now`: monotone in `now`, and exactly full once a window has passed."""
        elapsed = now - bucket.last
        if elapsed >= self._window:
            return float(self._cap)
        if elapsed <= 0.0:
            return bucket.tokens
        return min(float(self._cap), bucket.tokens + elapsed * self._cap / self._window)

    def _reaches(self, bucket: _Bucket, need: int, now: float) -> float:
        """The first float time after `now` at which `_level` says the bucket holds `need`.

        The algebraic answer can be off by rounding, so search from it for the boundary of
        `_level` itself: then the time a refusal promises is exactly the time the request passes.
        """
        guess = bucket.last + (need - bucket.tokens) * self._window / self._cap
        return _boundary(lambda t: self._level(bucket, t) >= need, now, guess)

    def _fresh(self, state: _Bucket, now: float) -> bool:
        return self._level(state, now) >= self._cap and self._alert_fresh(state, now)


Limiter = SlidingWindowLimiter | TokenBucketLimiter


def make_limiter(config: LimitConfig) -> Limiter:
    """The limiter for `config.algorithm`."""
    if config.algorithm is Algorithm.TOKEN_BUCKET:
        return TokenBucketLimiter(config)
    return SlidingWindowLimiter(config)
