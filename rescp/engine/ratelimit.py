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

from bisect import bisect_left, bisect_right

from rescp.engine.limiter import (
    EVICT_PER_INSERT,
    MAX_REQUESTS,
    MAX_SLIDING_KEY_BYTES,
    MAX_SLIDING_REQUESTS,
    MAX_WINDOW,
    KeySnapshot,
    KeyState,
    KeyTable,
    LimitConfig,
    LimitDecision,
    LimitStatus,
    boundary,
    delay_to,
    limited,
)
from rescp.enums import Algorithm

__all__ = [  # what every caller takes from here, the shared parts included
    "EVICT_PER_INSERT", "MAX_REQUESTS", "MAX_SLIDING_KEY_BYTES", "MAX_SLIDING_REQUESTS",
    "MAX_WINDOW", "KeySnapshot", "LimitConfig", "LimitDecision", "LimitStatus", "Limiter",
    "SlidingWindowLimiter", "TokenBucketLimiter", "make_limiter"]

class _Log(KeyState):
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


class SlidingWindowLimiter(KeyTable[_Log]):
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
        log = self._touched(key, cost, now)
        if log is None:
            return self._cap - cost
        live = log.drop_expired(now, self._window)
        if live + cost > self._cap:
            return -1
        log.append(now, cost)
        return self._cap - live - cost

    def refused(self, key: str, cost: int, now: float) -> LimitDecision:
        log = self._keys[key]  # `admit` dropped what expired by `now`
        live = log.live(log.head)
        at = log.times[log.leave_index(log.head, live + cost - self._cap)] + self._window
        return LimitDecision(False, self._cap - live, delay_to(now, at), self._alert(log, now))

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
        reset_at = now + delay_to(now, log.times[-1] + window)
        if live < self._cap:
            return LimitStatus(False, self._cap - live, 0.0, reset_at)
        at = log.times[log.leave_index(start, live + 1 - self._cap)] + window
        return limited(now, delay_to(now, at), reset_at)

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


class _Bucket(KeyState):
    """One key's bucket: `tokens` as of time `last`."""

    __slots__ = ("last", "tokens")

    def __init__(self, tokens: float, last: float) -> None:
        super().__init__()
        self.tokens = tokens
        self.last = last


class TokenBucketLimiter(KeyTable[_Bucket]):
    """max_requests tokens per key, refilled continuously at max_requests per window."""

    def _first(self, cost: int, now: float) -> _Bucket:
        return _Bucket(float(self._cap - cost), now)

    def _snapshot(self, key: str, state: _Bucket) -> KeySnapshot:
        return KeySnapshot(key, tokens=state.tokens, last=state.last)

    def _restored(self, snap: KeySnapshot) -> _Bucket:
        return _Bucket(snap.tokens, snap.last)

    def admit(self, key: str, cost: int, now: float) -> int:
        bucket = self._touched(key, cost, now)
        if bucket is None:
            return self._cap - cost
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
        return LimitDecision(False, int(level), delay_to(now, at), self._alert(bucket, now))

    def status(self, key: str, now: float) -> LimitStatus:
        """Look at `key` as a cost-1 acquire would see it, changing nothing."""
        bucket = self._keys.get(key)
        if bucket is None:
            return LimitStatus(False, self._cap, 0.0, now)
        level = self._level(bucket, now)
        reset_at = now if level >= self._cap else self._reaches(bucket, self._cap, now)
        if level >= 1:
            return LimitStatus(False, int(level), 0.0, reset_at)
        return limited(now, delay_to(now, self._reaches(bucket, 1, now)), reset_at)

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
        return boundary(lambda t: self._level(bucket, t) >= need, now, guess)

    def _fresh(self, state: _Bucket, now: float) -> bool:
        return self._level(state, now) >= self._cap and self._alert_fresh(state, now)


Limiter = SlidingWindowLimiter | TokenBucketLimiter


def make_limiter(config: LimitConfig) -> Limiter:
    """The limiter for `config.algorithm`."""
    if config.algorithm is Algorithm.TOKEN_BUCKET:
        return TokenBucketLimiter(config)
    return SlidingWindowLimiter(config)
