"""How long a watch waits before it tries again; pure, shared by both flavours (the sleeping
itself is each flavour's own, in its `_backend`).

Delays double from `first` up to `cap`; each is drawn from the upper half of its step ("equal
jitter"), so watchers cut off together (a server restart ends every stream at once) do not
come back in lockstep, yet none retries sooner than half its step. A watch calls `reset()`
once a stream made progress, so the next break starts again from `first`.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Exponential backoff with jitter: 0.1 s doubling to 2 s by default."""

    def __init__(self, first: float = 0.1, cap: float = 2.0,
                 draw: Callable[[], float] = random.random) -> None:
        if not 0 < first <= cap:
            raise ValueError("backoff needs 0 < first <= cap")
        self._first = first
        self._cap = cap
        self._draw = draw  # uniform in [0, 1)
        self.failures = 0

    def next(self) -> float:
        """The delay before the next attempt; counts one more failure."""
        step = min(self._cap, self._first * 2.0 ** min(self.failures, 32))
        self.failures += 1
        return step / 2 + self._draw() * step / 2

    def reset(self) -> None:
        self.failures = 0
