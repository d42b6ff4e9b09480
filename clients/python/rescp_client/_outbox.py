"""The outbox: reports that could not be delivered, kept in order until rescp is back.

The seed's "notifications fail -> queue for later delivery", applied to rescp itself. A report
that cannot reach rescp (rescp down or slow, a guarded call let through unchecked, a background
Record lost with its error attached) waits here, oldest first, already stamped with its `time`
and `idempotency_key` (`_report`), so that delivered late it keeps its place, and delivered
twice (an answer lost on the way back) it is stored once. The queue is bounded (`limit`): when
it is full the oldest report is dropped and counted (`dropped`). With a path, every report is
also kept in a spool file (`_spool`) and a client started again on the same path picks up
where the last one stopped. Shared by both flavours and used from grpc's callback threads in
the blocking one, so every change happens under one lock; the sending is `_delivery`'s.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable

from rescp_client._proto import guard_pb2 as guard
from rescp_client._spool import Spool

log = logging.getLogger("rescp_client")

DEFAULT_LIMIT = 10_000


class Outbox:
    """Reports waiting for delivery, oldest first, at most `limit` of them."""

    def __init__(self, limit: int = DEFAULT_LIMIT,
                 path: str | os.PathLike[str] | None = None) -> None:
        if limit < 1:
            raise ValueError("outbox_size must be at least 1")
        self._limit = limit
        self._lock = threading.Lock()
        self._queue: deque[bytes] = deque()
        self._bytes = 0
        self._spool = Spool(path) if path is not None else None
        self._closed = False
        self.dropped = 0
        if self._spool is not None:
            for payload in self._spool.load():
                self._append(payload)
            if self._queue:
                log.info("rescp: outbox %s holds %d reports from before", path, len(self._queue))

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, report: guard.ReportRequest) -> None:
        """Keep `report` for later; when the outbox is full the oldest one goes."""
        payload = report.SerializeToString()
        with self._lock:
            if self._closed:  # the client closed: nothing would ever send it
                self.dropped += 1
                log.warning("rescp: report of %s lost: the client is closed", report.error_type)
                return
            self._spooled(Spool.put, payload)
            self._append(payload)

    def peek(self) -> bytes | None:
        """The oldest report waiting, serialized, if any (it stays until `done` or
        `give_up`)."""
        with self._lock:
            return self._queue[0] if self._queue else None

    def done(self, payload: bytes) -> None:
        """`payload` (the head, as peeked) was delivered."""
        self._take(payload)

    def give_up(self, payload: bytes, why: object) -> None:
        """`payload` (the head) can never be delivered (rescp refuses it): drop and count it."""
        if self._take(payload):
            self.dropped += 1
            log.error("rescp: a queued report was refused and dropped: %s", why)

    def close(self) -> None:
        """Let go of the spool; without one, what still waits is lost, and counted."""
        with self._lock:
            self._closed = True
            if self._spool is not None:
                self._spool.close()
                self._spool = None
            elif self._queue:
                self.dropped += len(self._queue)
                log.warning("rescp: %d undelivered reports lost (no outbox_path)",
                            len(self._queue))
                self._queue.clear()

    def _append(self, payload: bytes) -> None:
        """Queue `payload`, dropping the oldest when full; the caller holds the lock."""
        self._queue.append(payload)
        self._bytes += len(payload)
        if len(self._queue) > self._limit:
            oldest = self._queue.popleft()
            self._bytes -= len(oldest)
            self.dropped += 1
            self._spooled(Spool.take, [oldest], self._queue, self._bytes)
            log.warning("rescp: outbox full (%d reports); the oldest was dropped", self._limit)

    def _take(self, payload: bytes) -> bool:
        """Remove the head if it is still `payload`; False when it is gone already (dropped
        meanwhile because the outbox overflowed)."""
        with self._lock:
            if not self._queue or self._queue[0] is not payload:
                return False
            self._queue.popleft()
            self._bytes -= len(payload)
            self._spooled(Spool.take, [payload], self._queue, self._bytes)
            return True

    def _spooled(self, write: Callable[..., None], *args: object) -> None:
        """Write to the spool, if any; a failing disk costs the spool, never the report (it
        stays queued in memory) nor the caller (a guard's exit never raises)."""
        if self._spool is None:
            return
        try:
            write(self._spool, *args)
        except OSError as error:
            log.error("rescp: outbox spool %s failed (%s); keeping reports in memory only",
                      self._spool.path, error)
            self._spool.abandon()
            self._spool = None
