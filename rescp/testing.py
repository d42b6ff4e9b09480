"""Helpers for tests of rescp and of code that uses it: a clock you move by hand."""

from __future__ import annotations


class ManualClock:
    """A clock that stands still until told to move, so engine tests never sleep."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds` and return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += seconds
        return self._now
