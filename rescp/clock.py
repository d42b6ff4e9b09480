"""The only reader of the system time.

Engines never call `time` themselves: every decision takes `now` (seconds since the epoch, as a
float) from a `Clock`, so tests move a `rescp.testing.ManualClock` instead of sleeping. One time
base for everything keeps stored times meaningful across restarts and convertible to
`google.protobuf.Timestamp` without bookkeeping.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        return time.time()


stopwatch = time.perf_counter
"""Seconds on a monotonic clock: how long a call took (metrics), never a decision's time."""
