"""The shared event log: a Redis Stream the scripts append to, tailed into each replica's log.

Entries have the id `<sequence>-0` and the fields sequence, time, type and payload (codec JSON),
so a replica resumes by sequence and every replica pushes the same sequences in the same order.
One task per replica blocks on XREAD and ingests what arrives; reads that hand out a sequence
catch up first (XRANGE), so a Watch after that sequence never asks for one the log lacks. A gap
(the stream trimmed past what this replica had) restarts the local log at the stream's oldest
entry: subscribers behind it are told they fell too far behind, as with any trimmed log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from rescp.errors import StoreUnavailable
from rescp.events import Event, EventLog
from rescp.store.redis_script import event, unavailable
from rescp.store.redis_watchdog import Watchdog

log = logging.getLogger(__name__)

BLOCK_MS = 1000
READ_COUNT = 512
RETRY = (0.05, 1.0)  # the tailer's first and longest pause after a failure


def _events(entries: Any, after: int = 0) -> list[Event]:
    """Stream entries (id, fields) as events, but those up to sequence `after` (held already)."""
    return [event((f["sequence"], f["type"], f["time"], f["payload"])) for _, f in entries
            if int(f["sequence"]) > after]


class SharedLog:
    """The stream `key` on `client`, fed into `local` in order."""

    def __init__(self, client: Redis, key: str, local: EventLog, timeout: float,
                 watchdog: Watchdog) -> None:
        self._client = client
        self._key = key
        self.local = local
        self._timeout = timeout
        self._watchdog = watchdog
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def take(self, events: Sequence[Event]) -> None:
        """An operation's own events: ingested at once when they follow on (else the tailer,
        or the next catch-up, brings what lies between first)."""
        if events and events[0].sequence <= self.local.last_sequence + 1:
            self._ingest(events)

    def _ingest(self, events: Sequence[Event]) -> None:
        if events and events[0].sequence > self.local.last_sequence + 1:
            log.warning("event log: sequences %d..%d were trimmed before this replica read "
                        "them; the local log restarts at %d", self.local.last_sequence + 1,
                        events[0].sequence - 1, events[0].sequence)
        for e in events:
            self.local.ingest(e)

    async def restore(self, log_id: str, sequence: int) -> None:
        """Start the local log as the stream stands: its retained tail, up to `sequence`."""
        count = self.local.max_events
        try:
            async with self._watchdog.bounded(max(self._timeout, 1.0)):
                entries: Any = await self._client.xrevrange(self._key, f"{sequence}-0", "-",
                                                            count)
        except (RedisError, OSError, TimeoutError) as error:
            raise unavailable(error) from None
        events = _events(entries[::-1])  # contiguous: the stream is trimmed from its oldest
        whole = bool(events) and events[-1].sequence == sequence
        self.local.restore(log_id, sequence, events if whole else [])

    async def catch_up(self, sequence: int) -> None:
        """Ingest the stream up to `sequence` at least (a read is about to hand it out)."""
        if self.local.last_sequence >= sequence:
            return
        async with self._lock:
            try:
                async with self._watchdog.bounded(self._timeout):
                    while self.local.last_sequence < sequence:
                        entries = await self._client.xrange(
                            self._key, f"{self.local.last_sequence + 1}-0", "+", READ_COUNT)
                        if not entries:
                            break
                        self._ingest(_events(entries, self.local.last_sequence))
            except (RedisError, OSError, TimeoutError) as error:
                raise unavailable(error) from None

    def start(self, client: Redis) -> None:
        """Tail the stream on `client` (its own connection: XREAD blocks), unless it is."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._tail(client))

    async def _tail(self, client: Redis) -> None:
        pause = RETRY[0]
        while True:
            try:
                answer: Any = await client.xread(
                    {self._key: f"{self.local.last_sequence}-0"}, count=READ_COUNT,
                    block=BLOCK_MS)
                for _, entries in answer:
                    self._ingest(_events(entries, self.local.last_sequence))
                pause = RETRY[0]
            except (RedisError, OSError, StoreUnavailable) as error:
                log.debug("event log tailer: %r; retrying in %.2f s", error, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY[1])

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
