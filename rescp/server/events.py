"""EventService.Watch: the event log streamed to a subscriber.

Each response is assembled from the events' cached wire bytes: a `WatchResponse` is nothing but
its repeated field 1, so each event is encoded once, behind its field tag and length, and a
response is a join of those frames, packed by bytes (WATCH_BATCH_BYTES) rather than by count.
A fan-out to many subscribers encodes each event once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import grpc

from rescp._proto import events_pb2 as events_pb
from rescp.enums import Severity
from rescp.errors import Violations
from rescp.events import Event, EventFilter, EventLog
from rescp.server import convert
from rescp.server.rpc import Context, server_stream, service

SERVICE = "rescp.v1.EventService"
_EVENTS_TAG = b"\x0a"  # field 1, length-delimited
LOG_ID_HEADER = "rescp-log-id"
"""Initial metadata of a subscribed Watch: the log its sequences count in."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


WATCH_BATCH_BYTES = 512 * 1024
"""A WatchResponse holds at most this many bytes (one event is under 64 KiB), well below the
4 MiB a client accepts, so a resuming watcher never meets a message it cannot take."""


def framed(event: Event) -> bytes:
    """The event as one entry of WatchResponse.events (tag, length, bytes), cached on it."""
    if event.frame is None:
        wire = convert.encode_event(event)
        event.frame = _EVENTS_TAG + _varint(len(wire)) + wire
    return event.frame


def watch_responses(batch: list[Event]) -> Iterator[bytes]:
    """Serialized WatchResponses holding the batch in order, each at most WATCH_BATCH_BYTES."""
    frames = [e.frame or framed(e) for e in batch]
    if sum(map(len, frames)) <= WATCH_BATCH_BYTES:
        yield b"".join(frames)
        return
    start = size = 0
    for i, frame in enumerate(frames):
        if size + len(frame) > WATCH_BATCH_BYTES and i > start:
            yield b"".join(frames[start:i])
            start, size = i, 0
        size += len(frame)
    yield b"".join(frames[start:])


class EventServicer:
    def __init__(self, log: EventLog) -> None:
        self._log = log

    def handler(self) -> grpc.GenericRpcHandler:
        return service(SERVICE, {"Watch": server_stream(events_pb.WatchRequest, self.watch)})

    async def watch(self, request: events_pb.WatchRequest,
                    context: Context) -> AsyncIterator[bytes]:
        v = Violations()
        severity = convert.enum_value(Severity, request.min_severity, "min_severity", v, None)
        v.raise_if_any()
        wanted = EventFilter(convert.event_types(request.types), severity)
        after = request.after_sequence if request.HasField("after_sequence") else None
        sub = self._log.subscribe(after, wanted)
        try:
            await context.send_initial_metadata(((LOG_ID_HEADER, self._log.log_id),))
            while True:
                batch = await self._log.next_batch(sub)
                for response in watch_responses(batch):
                    yield response
        finally:
            self._log.unsubscribe(sub)
