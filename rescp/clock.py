"""The only reader of the system time.

Engines never call `time` themselves: every decision takes `now` from a `Clock`, so tests move a
`rescp.testing.ManualClock` instead of sleeping. A clock has two readings. `now()` is for
decisions and durations (windows, retry-after, recovery timeouts): seconds since the epoch on a
monotonic base, anchored to the wall clock once at start, so stepping the wall clock (an NTP
step, an operator's `date -s`) never makes an OPEN breaker wait ten minutes longer or a limit
refuse for ten minutes. `wall()` is the wall clock itself, used only to stamp error records and
events and to show times to people.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> float:
        """Seconds since the epoch, on a base that never jumps: for decisions."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch by the wall clock: for stamps."""
        ...

    def wall_offset(self) -> float:
        """wall() - now(), held steady between steps of the wall clock, so a moment shown
        twice shows the same."""
        ...


STEP = 0.001
"""Wall-clock movement against the monotonic clock (seconds) that counts as a step."""


class SystemClock:
    """The real clocks: monotonic for decisions, the wall clock for stamps."""

    def __init__(self) -> None:
        self._anchor = time.time() - time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self._anchor

    def wall(self) -> float:
        return time.time()

    def wall_offset(self) -> float:
        current = time.time() - self.now()
        if abs(current - self._offset) > STEP:
            self._offset = current
        return self._offset


def to_wall(clock: Clock, moment: float) -> float:
    """A moment on the decision base (from `now()`) as wall-clock time, to show it."""
    return moment + clock.wall_offset()


stopwatch = time.perf_counter
"""Seconds on a monotonic clock: how long a call took (metrics), never a decision's time."""
