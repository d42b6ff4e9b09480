# Generated from rescp_client/_async/_watch.py by scripts/unasync.py; do not edit.
"""`watch()`: the event log as an endless iterator that rides out broken streams without gaps.

- Position: a watch keeps the sequence of the last event it handed out (`last_sequence`), and
  every (re)subscription asks for the events after it. Started without `after_sequence`, it
  first reads the current sequence (GetSystemHealth), so even a watch that has seen no event
  yet resumes without a gap. That read happens on the first iteration: that is its "now".
- Transient failures -- UNAVAILABLE (a lost connection, a server stopping or restarting),
  DEADLINE_EXCEEDED, CANCELLED, RESOURCE_EXHAUSTED (this reader fell too far behind, or a
  batch too large to receive) -- are retried after an exponential backoff with jitter
  (`_backoff`, 0.1 s doubling to 5 s). It starts over only once a stream made progress (handed
  out an event, or stayed up for STEADY seconds): a stream that breaks at the same place every
  time (a batch the client cannot take) is retried ever more slowly, never in a tight loop.
  Every call fails fast instead of waiting for a connection, so the backoff alone paces the
  attempts; each failed one is logged (warning) on the "rescp_client" logger.
- OUT_OF_RANGE (the server no longer retains the events after the position, or it restarted
  with a younger log), or a subscription into a different log than the position counts in (a
  restarted server whose new log already passed it; each read and subscription names its log):
  the state is read afresh and handed out as a `Snapshot`, and the watch goes on after the
  smallest sequence of those reads, so an event may repeat what the snapshot already shows,
  but none is lost.
- Anything else is raised as its typed error. An event this client cannot represent (a type
  added to the protocol later) is skipped; its sequence still counts.
- Ending: closing the watch cancels its call at once, from anywhere (the loop iterating it, in
  another thread or task, then ends); so does dropping it (breaking out of the loop): the
  generator doing the work holds no reference to its watch, so it is freed with it and its
  `finally` cancels the call (at once in the blocking flavour; on the loop's next turn in the
  asyncio one, which finalizes dropped async generators). Closing the client ends the loop.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Generator
from typing import TypeGuard

import grpc

from rescp_client import _codec
from rescp_client._backoff import Backoff
from rescp_client._proto import events_pb2 as events
from rescp_client._rpc import (
    GET_DEGRADATION,
    GET_SYSTEM_HEALTH,
    LIST_BREAKERS,
    WATCH,
    Req,
    Resp,
    Rpc,
)
from rescp_client.errors import ControlPlaneUnavailable, RescpError, StatusError
from rescp_client.models import Snapshot, WatchEvent

from ._backend import Stream, Wakeup
from ._connection import Connection

log = logging.getLogger("rescp_client")

LOG_ID = "rescp-log-id"
"""The Watch's initial metadata naming the log its sequences count in."""

STEADY = 10.0
"""Seconds a subscription must stay up to count as progress when it hands out no event."""

BACKOFF_CAP = 5.0
"""The longest pause between a watch's attempts."""

RETRIED = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE})
"""Codes a watch rides out; OUT_OF_RANGE by re-reading the state first."""


class _Position:
    """Where a watch is in the log, and how to stop it; shared by the watch and its generator,
    so that neither refers to the other."""

    __slots__ = ("closed", "sequence", "stream", "wakeup")

    def __init__(self, sequence: int | None, wakeup: Wakeup) -> None:
        self.sequence = sequence
        self.wakeup = wakeup
        self.stream: Stream[events.WatchResponse] | None = None
        self.closed = False

    def attach(self, stream: Stream[events.WatchResponse]) -> None:
        """Make `stream` the one `close()` cancels (at once, if the watch closed already)."""
        self.stream = stream
        if self.closed:
            stream.cancel()

    def close(self) -> None:
        """Stop the watch from anywhere: cancel its stream, cut its pause short."""
        self.closed = True
        self.wakeup.set()
        if self.stream is not None:
            self.stream.cancel()


class Watch:
    """Events as they happen (see `Client.watch`): `for event in watch`, or
    `with watch:` to close it on the way out."""

    def __init__(self, conn: Connection, request: events.WatchRequest, within: float,
                 target: str) -> None:
        start = request.after_sequence if request.HasField("after_sequence") else None
        self._position = _Position(start, conn.wakeup())
        self._events = _follow(conn, request, self._position, within, target)
        self._iterating = 0  # calls of __next__ in progress

    @property
    def last_sequence(self) -> int | None:
        """The sequence this watch has reached: that of the last event (or Snapshot) handed
        out, else the one it started after (None until a watch started without after_sequence
        has read it). A later watch given it as `after_sequence` carries on from here."""
        return self._position.sequence

    def __iter__(self) -> Watch:
        return self

    def __next__(self) -> WatchEvent:
        self._iterating += 1
        try:
            return next(self._events)
        finally:
            self._iterating -= 1

    def close(self) -> None:
        """End the watch and cancel its call, from anywhere: where it is iterated, or another
        task or thread, whose loop over it then simply ends."""
        self._position.close()
        if not self._iterating:
            # A __next__ that starts meanwhile finds the watch closed; the generator itself
            # refuses to be closed while it runs, and ends by itself then.
            with contextlib.suppress(RuntimeError, ValueError):
                self._events.close()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _follow(
        conn: Connection, request: events.WatchRequest, at: _Position, within: float,
        target: str) -> Generator[WatchEvent]:
    """The events after `at`, for ever; ends when the watch or the client closes. Each read
    may take `within` seconds."""
    backoff = Backoff(cap=BACKOFF_CAP)
    stale = False  # the position is outside the server's log: re-read the state first
    log_id = ""  # the log the position counts in, once known
    while not at.closed:
        stream: Stream[events.WatchResponse] | None = None
        up_since: float | None = None  # when the server accepted this attempt's stream
        try:
            if stale:
                snapshot, log_id = _snapshot(conn, within)
                at.sequence, stale = snapshot.sequence, False
                yield snapshot
            if at.sequence is None:
                health = _read(conn, GET_SYSTEM_HEALTH, within)
                at.sequence, log_id = health.sequence, health.log_id
            stream = conn.stream(WATCH, _codec.resumed(request, at.sequence))
            at.attach(stream)
            metadata = stream.subscribed()
            if metadata is not None:
                log_id = _same_log(log_id, metadata.get(LOG_ID, ""))
                _subscribed(backoff, at.sequence, target)
            up_since = time.monotonic()
            for event in _events_of(stream, at, backoff):
                yield event
            raise ControlPlaneUnavailable(grpc.StatusCode.UNAVAILABLE, "the stream ended")
        except RescpError as error:
            if conn.closed or at.closed:
                return
            if not _retried(error):
                raise
            stale = stale or error.code is grpc.StatusCode.OUT_OF_RANGE
            if up_since is not None and time.monotonic() - up_since >= STEADY:
                backoff.reset()
            _back_off(at.wakeup, backoff, error, target)
        finally:
            if stream is not None:
                stream.cancel()


def _events_of(stream: Stream[events.WatchResponse], at: _Position,
                     backoff: Backoff) -> Generator[WatchEvent]:
    """The events of one stream until the server ends it; each batch is progress."""
    while (response := stream.read()) is not None:
        if response.events:
            backoff.reset()
        for message in response.events:
            at.sequence = message.sequence
            event = _codec.event(message)
            if event is not None:
                yield event


def _read(conn: Connection, rpc: Rpc[Req, Resp], within: float) -> Resp:
    """A read with no arguments, failing fast when no connection is up."""
    return conn.call(rpc, rpc.request(), within, wait_for_ready=False)


def _snapshot(conn: Connection, within: float) -> tuple[Snapshot, str]:
    """The state read afresh, and the log its sequence counts in."""
    breakers = _read(conn, LIST_BREAKERS, within)
    health = _read(conn, GET_SYSTEM_HEALTH, within)
    degraded = _read(conn, GET_DEGRADATION, within)
    return _codec.snapshot(breakers, health, degraded), breakers.log_id


def _same_log(known: str, served: str) -> str:
    """The log a subscription follows, which must be the one the position counts in: a server
    that restarted without its log counts anew, so its numbers mean something else."""
    if known and served and served != known:
        raise StatusError(grpc.StatusCode.OUT_OF_RANGE,
                          "the server keeps a different event log now (it restarted)")
    return served or known


def _retried(error: RescpError) -> TypeGuard[StatusError]:
    return isinstance(error, StatusError) and error.code in RETRIED


def _subscribed(backoff: Backoff, after: int, target: str) -> None:
    if backoff.failures:
        log.info("watch on %s: subscribed again, after sequence %d", target, after)


def _back_off(wakeup: Wakeup, backoff: Backoff, error: StatusError, target: str) -> None:
    delay = backoff.next()
    if error.code is grpc.StatusCode.OUT_OF_RANGE:
        log.info("watch on %s: %s; re-reading the state", target, error)
    else:
        log.warning("watch on %s: %s; retrying in %.1fs", target, error, delay)
    wakeup.pause(delay)
