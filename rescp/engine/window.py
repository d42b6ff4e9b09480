"""Outcome windows: what the breaker's rate rules look at.

Both windows keep running totals (calls, failures, slow calls), so reading them is O(1) and a rate
never needs a scan. `CountWindow` holds the last `size` calls in a ring of one byte per call (bit 0
failed, bit 1 slow) that grows only as calls arrive, so a huge, little-used window costs little
memory. `TimeWindow` holds one-second buckets (bucket = int(now)) in a deque, oldest first; each
bucket is appended once and dropped once, so an add is O(1) amortized however long the gaps
between calls. Time comes in as `now`; a clock that steps back adds to the newest bucket rather
than rewriting the past.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from rescp.enums import WindowType

_FAILED = 1
_SLOW = 2
_TO_TEXT = bytes.maketrans(b"\x00\x01\x02\x03", b"0123")
_FROM_TEXT = bytes.maketrans(b"0123", b"\x00\x01\x02\x03")


class WindowSnapshot(NamedTuple):
    """A window's calls as plain data, for a store to save: a COUNT window's calls oldest first,
    one digit each (bit 0 failed, bit 1 slow); a TIME window's [second, calls, failures, slow]
    buckets, oldest first."""

    flags: str = ""
    buckets: tuple[tuple[int, int, int, int], ...] = ()


class CountWindow:
    """The last `size` calls, whenever they happened."""

    __slots__ = ("_calls", "_failures", "_pos", "_ring", "_size", "_slow")
    _calls: int
    _failures: int
    _pos: int
    _slow: int

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a window holds at least one call")
        self._size = size
        self.clear()

    @property
    def size(self) -> int:
        return self._size

    def add(self, failed: bool, slow: bool, now: float) -> None:
        # Branches rather than bool arithmetic: int + bool misses CPython's fast int path.
        flags = 0
        if failed:
            flags = _FAILED
            self._failures += 1
        if slow:
            flags += _SLOW
            self._slow += 1
        if self._calls < self._size:
            self._ring.append(flags)
            self._calls += 1
            return
        pos = self._pos
        old = self._ring[pos]
        self._ring[pos] = flags
        if old:
            self._failures -= old & _FAILED
            self._slow -= old >> 1
        pos += 1
        self._pos = 0 if pos == self._size else pos

    def totals(self, now: float) -> tuple[int, int, int]:
        return self._calls, self._failures, self._slow

    def snapshot(self) -> WindowSnapshot:
        ring, pos = self._ring, self._pos
        return WindowSnapshot(flags=(ring[pos:] + ring[:pos]).translate(_TO_TEXT).decode())

    def restore(self, snap: WindowSnapshot) -> None:
        """Take up saved calls (the newest `size` of them), oldest first."""
        ring = bytearray(snap.flags[-self._size:].encode().translate(_FROM_TEXT))
        self._ring, self._pos, self._calls = ring, 0, len(ring)
        self._failures = ring.count(_FAILED) + ring.count(_FAILED | _SLOW)
        self._slow = ring.count(_SLOW) + ring.count(_FAILED | _SLOW)

    def clear(self) -> None:
        self._ring = bytearray()
        self._pos = 0  # the oldest call once the ring is full
        self._calls = 0
        self._failures = 0
        self._slow = 0


class TimeWindow:
    """The calls of the last `size` whole seconds, the current one included."""

    __slots__ = ("_buckets", "_calls", "_failures", "_size", "_slow")
    _calls: int
    _failures: int
    _slow: int

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a window spans at least one second")
        self._size = size
        # [second, calls, failures, slow calls], oldest first
        self._buckets: deque[list[int]] = deque()
        self.clear()

    @property
    def size(self) -> int:
        return self._size

    def add(self, failed: bool, slow: bool, now: float) -> None:
        second = int(now)
        buckets = self._buckets
        if buckets and buckets[-1][0] >= second:
            bucket = buckets[-1]
        else:
            self._expire(second)
            bucket = [second, 0, 0, 0]
            buckets.append(bucket)
        bucket[1] += 1
        bucket[2] += failed
        bucket[3] += slow
        self._calls += 1
        self._failures += failed
        self._slow += slow

    def totals(self, now: float) -> tuple[int, int, int]:
        self._expire(int(now))
        return self._calls, self._failures, self._slow

    def snapshot(self) -> WindowSnapshot:
        return WindowSnapshot(buckets=tuple((b[0], b[1], b[2], b[3]) for b in self._buckets))

    def restore(self, snap: WindowSnapshot) -> None:
        """Take up saved buckets, oldest first (the next read drops those out of the window)."""
        self.clear()
        for second, calls, failures, slow in snap.buckets:
            self._buckets.append([second, calls, failures, slow])
            self._calls += calls
            self._failures += failures
            self._slow += slow

    def clear(self) -> None:
        self._buckets.clear()
        self._calls = 0
        self._failures = 0
        self._slow = 0

    def _expire(self, second: int) -> None:
        """Drop the buckets that fell out of a window ending at `second`."""
        oldest_kept = second - self._size + 1
        buckets = self._buckets
        while buckets and buckets[0][0] < oldest_kept:
            _, calls, failures, slow = buckets.popleft()
            self._calls -= calls
            self._failures -= failures
            self._slow -= slow


Window = CountWindow | TimeWindow


def make_window(window_type: WindowType, size: int) -> Window:
    """The window a breaker config asks for."""
    if window_type == WindowType.TIME:
        return TimeWindow(size)
    if window_type == WindowType.COUNT:
        return CountWindow(size)
    raise ValueError(f"unknown window type {window_type!r}")
