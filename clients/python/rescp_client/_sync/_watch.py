# Generated from rescp_client/_async/_watch.py by scripts/unasync.py; do not edit.
"""`watch()`: the event log as an endless iterator that rides out broken streams without gaps.

- Position: a watch keeps the sequence of the last event it handed out (`last_sequence`), and
  every (re)subscription asks for the events after it. Started without `after_sequence`, it
  first reads the current sequence (GetSystemHealth), so even a watch that has seen no event
  yet resumes without a gap. That read happens on the first iteration: that is its "now".
- Transient failures -- UNAVAILABLE (a lost connection, a server stopping or restarting),
  DEADLINE_EXCEEDED, CANCELLED, RESOURCE_EXHAUSTED (this reader fell too far behind) -- are
  retried after an exponential backoff with jitter (`_backoff`), reset by each successful
  subscription. Every call fails fast instead of waiting for a connection, so the backoff alone
  paces the attempts; each failed one is logged (warning) on the "rescp_client" logger.
- OUT_OF_RANGE (the server no longer retains the events after the position, or it restarted
  with a younger log), or a subscription into a different log than the position counts in (a
  restarted server whose new log already passed it; each read and subscription names its log):
  the state is read afresh and handed out as a `Snapshot`, and the watch goes on after the
  smallest sequence of those reads, so an event may repeat what the snapshot already shows,
  but none is lost.
- Anything else is raised as its typed error. An event this client cannot represent (a type
  added to the protocol later) is skipped; its sequence still counts.
- Ending: closing the watch cancels its call at once, and so does dropping it (breaking out of
  the loop): the generator doing the work holds no reference to its watch, so it is freed with
  it and its `finally` cancels the call (at once in the blocking flavour; on the loop's next
  turn in the asyncio one, which finalizes dropped async generators). Closing the client ends
  the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import TypeGuard

import grpc

from rescp_client import _codec
from rescp_client._backoff import Backoff
from rescp_client._proto import admin_pb2 as admin
from rescp_client._proto import events_pb2 as events
from rescp_client._rpc import (
    GET_DEGRADATION,
    GET_SYSTEM_HEALTH,
    LIST_BREAKERS,
    PAGE_SIZE,
    WATCH,
    Req,
    Resp,
    Rpc,
)
from rescp_client.errors import ControlPlaneUnavailable, RescpError, StatusError
from rescp_client.models import Snapshot, WatchEvent

from ._backend import Stream
from ._connection import Connection

log = logging.getLogger("rescp_client")

LOG_ID = "rescp-log-id"
"""The Watch's initial metadata naming the log its sequences count in."""

RETRIED = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE})
"""Codes a watch rides out; OUT_OF_RANGE by re-reading the state first."""


class _Position:
    """Where a watch is in the log; shared by the watch and its generator, so that neither
    refers to the other."""

    __slots__ = ("sequence",)

    def __init__(self, sequence: int | None) -> None:
        self.sequence = sequence


class Watch:
    """Events as they happen (see `Client.watch`): `for event in watch`, or
    `with watch:` to close it on the way out."""

    def __init__(self, conn: Connection, request: events.WatchRequest, within: float,
                 target: str) -> None:
        start = request.after_sequence if request.HasField("after_sequence") else None
        self._position = _Position(start)
        self._events = _follow(conn, request, self._position, within, target)

    @property
    def last_sequence(self) -> int | None:
        """The sequence this watch has reached: that of the last event (or Snapshot) handed
        out, else the one it started after (None until a watch started without after_sequence
        has read it). A later watch given it as `after_sequence` carries on from here."""
        return self._position.sequence

    def __iter__(self) -> Watch:
        return self

    def __next__(self) -> WatchEvent:
        return next(self._events)

    def close(self) -> None:
        """End the watch and cancel its call, from where it is iterated (to end it from
        elsewhere, close the client)."""
        self._events.close()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _follow(
        conn: Connection, request: events.WatchRequest, at: _Position, within: float,
        target: str) -> Generator[WatchEvent]:
    """The events after `at`, for ever; ends when the client closes. Each read may take
    `within` seconds."""
    backoff = Backoff()
    stale = False  # the position is outside the server's log: re-read the state first
    log_id = ""  # the log the position counts in, once known
    while True:
        stream: Stream[events.WatchResponse] | None = None
        try:
            if stale:
                snapshot, log_id = _snapshot(conn, within)
                at.sequence, stale = snapshot.sequence, False
                yield snapshot
            if at.sequence is None:
                health = _read(conn, GET_SYSTEM_HEALTH, within)
                at.sequence, log_id = health.sequence, health.log_id
            stream = conn.stream(WATCH, _codec.resumed(request, at.sequence))
            metadata = stream.subscribed()
            if metadata is not None:
                log_id = _same_log(log_id, metadata.get(LOG_ID, ""))
                _subscribed(backoff, at.sequence, target)
            while (response := stream.read()) is not None:
                for message in response.events:
                    at.sequence = message.sequence
                    event = _codec.event(message)
                    if event is not None:
                        yield event
            raise ControlPlaneUnavailable(grpc.StatusCode.UNAVAILABLE, "the stream ended")
        except RescpError as error:
            if conn.closed:
                return
            if not _retried(error):
                raise
            stale = stale or error.code is grpc.StatusCode.OUT_OF_RANGE
            _back_off(conn, backoff, error, target)
        finally:
            if stream is not None:
                stream.cancel()


def _read(conn: Connection, rpc: Rpc[Req, Resp], within: float) -> Resp:
    """A read with no arguments, failing fast when no connection is up."""
    return conn.call(rpc, rpc.request(), within, wait_for_ready=False)


def _snapshot(conn: Connection, within: float) -> tuple[Snapshot, str]:
    """The state read afresh, and the log its sequence counts in."""
    request = admin.ListBreakersRequest(page_size=PAGE_SIZE)
    breakers = conn.call(LIST_BREAKERS, request, within, wait_for_ready=False)
    for page in (conn.pages(LIST_BREAKERS, request, breakers, within))[1:]:
        breakers.breakers.extend(page.breakers)  # every page reports the first one's sequence
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
    backoff.reset()


def _back_off(conn: Connection, backoff: Backoff, error: StatusError, target: str) -> None:
    delay = backoff.next()
    if error.code is grpc.StatusCode.OUT_OF_RANGE:
        log.info("watch on %s: %s; re-reading the state", target, error)
    else:
        log.warning("watch on %s: %s; retrying in %.1fs", target, error, delay)
    conn.pause(delay)
