"""The SQLite writer: one thread, group commit, never the event loop.

The loop submits writes (SQL and parameters, built on the loop so the thread reads no engine
object) and may await `commit()` for everything submitted so far. Writes submitted in one loop
step travel together, so an operation's change and the events it causes land in one transaction.
The thread takes every batch waiting when it wakes and commits them as one transaction: 64
`Report`s in flight cost one fsync, not 64.

A failed commit is rolled back and its waiters get StoreUnavailable. Writes marked `keep`
(state, events: idempotent upserts) are retried with the next commit, so they are not lost while
the disk is full; the others (a new error record, whose `Report` was answered UNAVAILABLE) are
dropped. The thread retries kept writes by itself every RETRY_INTERVAL until one commit works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rescp.errors import StoreUnavailable

log = logging.getLogger(__name__)

RETRY_INTERVAL = 0.5
"""Seconds between retries of kept writes while commits fail."""

MAX_KEPT = 200_000
"""Writes kept for retry at most; beyond, the oldest are dropped (and logged): a disk failing
for hours costs bounded memory. Keyed writes (a breaker's row) keep only their newest."""

Statement = tuple[str, Sequence[Any]]


@dataclass(slots=True)
class Write:
    statements: list[Statement]
    keep: bool  # retried after a failed commit (idempotent), or dropped with it
    sequence: int = 0  # the newest event sequence it carries (0: none)
    key: str = ""  # of writes with one key in a transaction, only the last runs (e.g. a counter)


@dataclass(slots=True)
class _Batch:
    writes: list[Write] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


CommitListener = Callable[[bool, int], None]
"""Told on the loop after each attempt: whether it committed, and the newest sequence in it."""


class Writer:
    def __init__(self, conn: sqlite3.Connection, on_commit: CommitListener) -> None:
        self._conn = conn
        self._on_commit = on_commit
        self._loop = asyncio.get_running_loop()
        self._queue: queue.Queue[_Batch | None] = queue.Queue()
        self._batch = _Batch()
        self._scheduled = False
        self._thread = threading.Thread(target=self._run, name="rescp-sqlite-writer",
                                        daemon=True)
        self._thread.start()

    def submit(self, statements: list[Statement], *, keep: bool = True, sequence: int = 0,
               key: str = "") -> None:
        self._batch.writes.append(Write(statements, keep, sequence, key))
        self._schedule()

    async def commit(self) -> None:
        """Wait until everything submitted so far is committed; StoreUnavailable if it failed."""
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._batch.waiters.append(waiter)
        self._schedule()
        await waiter

    async def close(self) -> None:
        """Commit what is pending, then stop the thread."""
        self._hand_off()
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    # the loop side

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._hand_off)

    def _hand_off(self) -> None:
        self._scheduled = False
        batch, self._batch = self._batch, _Batch()
        if batch.writes or batch.waiters:
            self._queue.put(batch)

    def _settle(self, error: str | None, sequence: int, waiters: list[asyncio.Future[None]]
                ) -> None:
        self._on_commit(error is None, sequence)
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(StoreUnavailable(f"the database is failing: {error}"))

    # the thread

    def _run(self) -> None:
        kept: list[Write] = []
        stopping = False
        while not stopping or kept:
            try:
                first = self._queue.get(timeout=RETRY_INTERVAL if kept else None)
            except queue.Empty:
                first = _Batch()
            batches = [first]
            while True:
                try:
                    batches.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = stopping or None in batches
            work = [b for b in batches if b is not None]
            writes = _newest(kept + [w for b in work for w in b.writes])
            waiters = [w for b in work for w in b.waiters]
            error = self._write(writes)
            kept = _kept(writes) if error is not None else []
            sequence = max((w.sequence for w in writes), default=0)
            self._loop.call_soon_threadsafe(self._settle, error, sequence, waiters)
            if stopping and error is not None:
                break  # closing on a failing disk: the kept writes are lost with the process
        self._conn.close()

    def _write(self, writes: list[Write]) -> str | None:
        """One transaction for all of `writes`; the error's text when it failed."""
        if not writes:
            return None
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for write in writes:
                for sql, params in write.statements:
                    conn.execute(sql, params)
            conn.execute("COMMIT")
        except Exception as error:  # a driver error, or a value it cannot bind: never a hang
            log.error("sqlite commit of %d writes failed: %s", len(writes), error)
            with contextlib.suppress(sqlite3.Error):  # the failure may have ended it already
                conn.execute("ROLLBACK")
            return str(error)
        return None


def _newest(writes: list[Write]) -> list[Write]:
    """The writes in order, each keyed one only where it occurs last."""
    last = {w.key: i for i, w in enumerate(writes) if w.key}
    return [w for i, w in enumerate(writes) if not w.key or last[w.key] == i]


def _kept(writes: list[Write]) -> list[Write]:
    """What a failed commit keeps for the next: the `keep` writes, the newest MAX_KEPT."""
    kept = [w for w in writes if w.keep]
    if len(kept) > MAX_KEPT:
        log.error("the database has failed for long: %d unsaved writes dropped",
                  len(kept) - MAX_KEPT)
        kept = kept[-MAX_KEPT:]
    return kept
