"""The Redis store's timeout: a call fails once Redis has been silent for `timeout`, not once
the call itself is `timeout` old.

A per-call deadline would count time the call spends queued in this process: at 64 requests in
flight the event loop alone can hold a reply for longer than 20 ms, and a healthy Redis would
look down. So a call fails when no call at all has come back for its allowance (the store's
timeout, more for a batch) since it started or since the last answer, whichever is later: a
stopped or unreachable Redis still fails every call within about the timeout, while a busy
process keeps its calls. One timer serves every call in flight.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Watchdog:
    def __init__(self) -> None:
        self._calls: dict[asyncio.Timeout, tuple[float, float]] = {}  # start, allowance
        self._answered = 0.0  # loop time of the last call that came back
        self._timer: asyncio.TimerHandle | None = None

    @asynccontextmanager
    async def bounded(self, allowance: float) -> AsyncIterator[None]:
        """Run the block; TimeoutError when Redis is silent for `allowance` seconds."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        async with asyncio.timeout(None) as deadline:
            self._calls[deadline] = (start, allowance)
            due = start + allowance
            if self._timer is None or self._timer.when() > due:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = loop.call_at(due, self._check)
            try:
                yield
            finally:
                del self._calls[deadline]
            self._answered = loop.time()  # an answer (a failure that raised is none)

    def _check(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._timer = None
        soonest = math.inf
        for deadline, (start, allowance) in self._calls.items():
            due = max(start, self._answered) + allowance
            if due <= now:
                deadline.reschedule(now)  # expires: the call raises TimeoutError
            else:
                soonest = min(soonest, due)
        if soonest < math.inf:
            self._timer = loop.call_at(soonest, self._check)
