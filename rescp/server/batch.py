"""AllowBatch and RecordBatch: many decisions per round trip, each as its unary RPC decides.

grpc's per-RPC work costs ~400 µs of server CPU in Python and rescp's own work per decision
~10 µs, so a batch pays the first once. The rest is kept lean: the request is cut into its
items' encodings and an item seen before is looked up by them (a first one is decoded by upb
and validated by the unary RPC's own code; a bad item becomes its ItemError, never the
batch's), the plane decides the items in order at one clock reading, and answers are
assembled from cached wire bytes: a repeated field is its items' encodings concatenated, and
most answers ("allowed, CLOSED, no limit") repeat, so each distinct answer is encoded once.
The 64 KiB cap of the unary RPCs does not apply over gRPC (grpc's 4 MiB does); over HTTP a
batch is a unary RPC like the others, with its cap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from rescp._proto import guard_pb2 as guard
from rescp.errors import InvalidArgument, RescpError
from rescp.plane import ControlPlane
from rescp.server.guard_codec import allow_args, encode_allow, encode_record, record_args
from rescp.server.rpc import Request, Response, Unary
from rescp.server.status import code_of
from rescp.server.textlimits import KEY_LIMIT
from rescp.store.base import AllowItem

MAX_ITEMS = 1000
CACHE_LIMIT = 4096
"""Distinct answers whose encoding is kept; the cache starts afresh beyond that."""


class Encodings:
    """Wire bytes of one batch item per distinct answer, computed once; an error is encoded
    each time (it is never kept)."""

    def __init__(self, encode: Callable[[Any], bytes]) -> None:
        self._encode = encode
        self._cache: dict[Hashable, bytes] = {}

    def join(self, answers: Iterable[Hashable]) -> bytes:
        """The answers' encodings concatenated: the repeated field of a batch response."""
        cached, encode = self._cache.get, self
        return b"".join([cached(answer) or encode(answer) for answer in answers])

    def __call__(self, answer: Hashable) -> bytes:
        encoded = self._cache.get(answer)
        if encoded is None:
            encoded = self._encode(answer)
            if not isinstance(answer, RescpError):
                if len(self._cache) >= CACHE_LIMIT:
                    self._cache.clear()
                self._cache[answer] = encoded
        return encoded


def item_error(error: RescpError) -> guard.ItemError:
    """What the unary RPC's status would have said, as one item's answer."""
    fields = ([v.field for v in error.violations] if isinstance(error, InvalidArgument) else [])
    return guard.ItemError(code=code_of(error).value[0], reason=error.reason,
                           message=str(error), fields=fields)


def _allow_item(answer: Any) -> bytes:
    item = (guard.AllowBatchItem(error=item_error(answer)) if isinstance(answer, RescpError)
            else guard.AllowBatchItem(response=encode_allow(answer)))
    return guard.AllowBatchResponse(items=[item]).SerializeToString()


def _record_item(answer: Any) -> bytes:
    item = (guard.RecordBatchItem(error=item_error(answer)) if isinstance(answer, RescpError)
            else guard.RecordBatchItem(response=encode_record(*answer)))
    return guard.RecordBatchResponse(items=[item]).SerializeToString()


def _count_ok(count: int) -> None:
    if not 1 <= count <= MAX_ITEMS:
        raise InvalidArgument.one("items", f"{count} items; a batch holds 1 to {MAX_ITEMS}")


def _checked(check: Callable[..., Any], *args: Any) -> Any:
    """`check(*args)`, or the InvalidArgument it raised as the item's answer."""
    try:
        return check(*args)
    except InvalidArgument as error:
        return error


def item_wires(raw: bytes) -> list[bytes] | None:
    """Each item's own encoding, cut from a batch that holds nothing but items (field 1,
    length-delimited, as every encoder writes them); None for anything else (upb decodes it)."""
    wires: list[bytes] = []
    append, end, i = wires.append, len(raw), 0
    while i < end:
        if raw[i] != 0x0A:  # field 1, wire type 2
            return None
        i += 1
        length = shift = 0
        while True:  # the item's length, a varint
            if i >= end:
                return None
            byte = raw[i]
            i += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        if i + length > end:
            return None
        append(raw[i:i + length])
        i += length
    return wires


class AllowItems:
    """A batch's items decoded and validated, each distinct item once: its decoding is kept
    by its wire bytes (bounded), so an item seen before costs a cut and a lookup. An item seen
    first is decoded by upb and validated by the unary RPC's code, names seen valid before
    skipping the pattern."""

    def __init__(self) -> None:
        self._by_wire: dict[bytes, AllowItem] = {}
        self._names: set[str] = {""}

    def decode(self, raw: bytes) -> list[AllowItem | RescpError]:
        wires = item_wires(raw)
        if wires is None:
            items = guard.AllowBatchRequest.FromString(raw).items
            _count_ok(len(items))
            return [self._validated(item) for item in items]
        _count_ok(len(wires))
        known, first = self._by_wire.get, self._first
        return [known(wire) or first(wire) for wire in wires]

    def _first(self, wire: bytes) -> AllowItem | RescpError:
        decoded = self._validated(guard.AllowRequest.FromString(wire))
        if not isinstance(decoded, RescpError):
            if len(self._by_wire) >= CACHE_LIMIT:
                self._by_wire.clear()
            self._by_wire[wire] = decoded
        return decoded

    def _validated(self, item: guard.AllowRequest) -> AllowItem | RescpError:
        """The item as allow_args decodes it, or its error."""
        names = self._names
        breaker, limit, key = item.breaker, item.limit, item.key
        if breaker in names and limit in names and len(key) <= KEY_LIMIT:
            return breaker, limit, key, item.cost or 1
        args: AllowItem | RescpError = _checked(allow_args, item)
        if not isinstance(args, RescpError):
            if len(names) >= CACHE_LIMIT:
                names.clear()
                names.add("")
            names.update((breaker, limit))
        return args


@dataclass(frozen=True, slots=True)
class BatchUnary(Unary[Request, Response]):
    """A batch RPC: over gRPC from raw bytes to assembled bytes, without the unary 64 KiB cap;
    over HTTP through `method`, like any unary RPC."""

    raw: Callable[[bytes], Awaitable[bytes]]

    def serve_bytes(self) -> Callable[[bytes], Awaitable[bytes]]:
        return self.raw


class BatchServicer:
    """The two batch RPCs of GuardService."""

    def __init__(self, plane: ControlPlane) -> None:
        self._plane = plane
        self._items = AllowItems()
        self._allow_bytes = Encodings(_allow_item)
        self._record_bytes = Encodings(_record_item)

    def methods(self) -> dict[str, Unary[Any, Any]]:
        return {
            "AllowBatch": BatchUnary(guard.AllowBatchRequest, guard.AllowBatchResponse,
                                     self._allow_message, self._allow_batch),
            "RecordBatch": BatchUnary(guard.RecordBatchRequest, guard.RecordBatchResponse,
                                      self._record_message, self._record_batch)}

    async def _allow_message(self, request: guard.AllowBatchRequest) -> guard.AllowBatchResponse:
        raw = await self._allow_batch(request.SerializeToString())
        return guard.AllowBatchResponse.FromString(raw)

    async def _record_message(self, request: guard.RecordBatchRequest,
                              ) -> guard.RecordBatchResponse:
        raw = await self._record_batch(request.SerializeToString())
        return guard.RecordBatchResponse.FromString(raw)

    async def _allow_batch(self, raw: bytes) -> bytes:
        return self._allow_bytes.join(await self._plane.allow_many(self._items.decode(raw)))

    async def _record_batch(self, raw: bytes) -> bytes:
        items = guard.RecordBatchRequest.FromString(raw).items
        _count_ok(len(items))
        now = self._plane.clock.now()
        answers = await self._plane.record_many(_checked(record_args, i, now) for i in items)
        encoded = self._record_bytes  # an answer that carries a record is not kept
        return b"".join([encoded(a) if not isinstance(a, RescpError) and a[1] is None
                         else _record_item(a) for a in answers])
