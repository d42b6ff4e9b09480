"""EventService.Watch: the event log streamed to a subscriber.

Each response is assembled from the events' cached wire bytes: a `WatchResponse` is nothing but
its repeated field 1, so the bytes of several events are concatenated behind their field tags
instead of building and serializing a message per subscriber. A fan-out to many subscribers
encodes each event once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from rescp._proto import events_pb2 as events_pb
from rescp.enums import Severity
from rescp.errors import Violations
from rescp.events import EventFilter, EventLog
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


def watch_response(wires: list[bytes]) -> bytes:
    """The serialized WatchResponse holding these serialized events."""
    return b"".join(_EVENTS_TAG + _varint(len(w)) + w for w in wires)


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
                yield watch_response([convert.encode_event(e) for e in batch])
        finally:
            self._log.unsubscribe(sub)
