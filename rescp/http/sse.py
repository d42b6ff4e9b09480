"""`GET /api/events`: the Watch stream as Server-Sent Events.

Each event is one `data:` line of its proto3 JSON (the same Event Watch sends) with `id:` = its
sequence, so a browser's EventSource resumes by itself after a drop (it sends `Last-Event-ID`,
which wins over `?after=`). The subscription is the event log's own, with its bounded lag: a
subscriber too slow is cut off, and its EventSource reconnects from the last id it got. A
comment line every KEEPALIVE seconds keeps proxies from closing an idle stream and notices a
client that went away.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Header
from google.protobuf import json_format
from starlette.responses import StreamingResponse

from rescp._proto import events_pb2 as events_pb
from rescp.enums import EventType, Severity
from rescp.errors import InvalidArgument, RescpError
from rescp.events import EventFilter, EventLog, Subscription
from rescp.server import convert

KEEPALIVE = 15.0
RETRY_MS = 2000  # how soon an EventSource reconnects after the stream ends
EVENT_TYPES = ", ".join(t.name.lower() for t in EventType)


def _sequence(value: str, field: str) -> int:
    if not value.isdigit() or len(value) > 20:
        raise InvalidArgument.one(field, "must be an event sequence (a non-negative integer)")
    return int(value)


def _types(value: str) -> frozenset[EventType]:
    names = [name.strip().upper() for name in value.split(",") if name.strip()]
    try:
        return frozenset(EventType[name] for name in names)
    except KeyError:
        raise InvalidArgument.one("types", f"names among: {EVENT_TYPES}") from None


def _severity(value: str | None) -> Severity | None:
    if not value:
        return None
    try:
        return Severity[value.upper()]
    except KeyError:
        raise InvalidArgument.one("min_severity",
                                  "must be low, medium, high or critical") from None


def frame(wire: bytes, sequence: int) -> bytes:
    data = json.dumps(json_format.MessageToDict(events_pb.Event.FromString(wire)),
                      separators=(",", ":"))
    return f"id: {sequence}\ndata: {data}\n\n".encode()


async def _stream(log: EventLog, sub: Subscription) -> AsyncIterator[bytes]:
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        while True:
            try:
                batch = await asyncio.wait_for(log.next_batch(sub), KEEPALIVE)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            except RescpError:  # too slow, or shutting down: the client resumes from its id
                return
            for event in batch:
                yield frame(convert.encode_event(event), event.sequence)
    finally:
        log.unsubscribe(sub)


def router(log: EventLog) -> APIRouter:
    api = APIRouter(tags=["events"])

    @api.get("/api/events", response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "one `id:` + `data:` (an Event as JSON) each"}})
    async def events(after: str | None = None, types: str = "", min_severity: str | None = None,
                     last_event_id: str | None = Header(None)) -> StreamingResponse:
        """Events as they happen; with `after` (or Last-Event-ID), first every retained event
        after that sequence. Types: breaker_transition, notification, degradation_change,
        health_change, rate_limit_exceeded."""
        resume = last_event_id if last_event_id is not None else after
        sequence = None if resume is None else _sequence(
            resume, "Last-Event-ID" if last_event_id is not None else "after")
        sub = log.subscribe(sequence, EventFilter(_types(types), _severity(min_severity)))
        return StreamingResponse(_stream(log, sub), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no",
                                          "X-Rescp-Log-Id": log.log_id})

    return api
