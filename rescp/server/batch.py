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

import asyncio
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, cast

from rescp._proto import guard_pb2 as guard
from rescp.errors import InvalidArgument, RescpError
from rescp.plane import ControlPlane
from rescp.server.guard_codec import allow_args, encode_allow, encode_record, record_args
from rescp.server.rpc import RawUnary, Unary
from rescp.server.status import code_of
from rescp.server.textlimits import KEY_LIMIT
from rescp.store.base import AllowItem

MAX_ITEMS = 1000
MAX_FIELDS = 2 * MAX_ITEMS
"""Top-level fields a batch is read for at most: its items, and fields a newer client adds."""
UPB_BATCH_BYTES = 256 * 1024
RECORD_CHUNK_BYTES = 256 * 1024
"""A RecordBatch is applied this many request bytes at a time: 4 MiB of the largest reports
(each scrubbed and classified, ~0.2 ms) held the loop ~70 ms in one go, ~5 ms a chunk now."""
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
        listed = list(answers)
        encoded = list(map(self._cache.get, listed))  # in C; a miss leaves a None
        if None in encoded:
            encoded = [e or self(answer) for e, answer in zip(encoded, listed, strict=True)]
        return b"".join(cast("list[bytes]", encoded))  # no None is left

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


class _Unplain(Exception):
    """The bytes hold something the cut does not read: upb decodes them, or says why not."""


def item_wires(raw: bytes) -> list[bytes] | None:
    """Each item's own encoding (field 1, length-delimited), cut from the batch in order, the
    batch's other fields skipped; None for anything else, or anything upb may read another way
    (upb decodes it, see `upb_items`).

    Raises InvalidArgument at the field after MAX_FIELDS, reading no further: a 4 MiB batch of
    two-byte items is two million of them, a second of this loop and a sixth of upb's."""
    wires: list[bytes] = []
    append, end, i = wires.append, len(raw), 0
    try:
        for _ in range(MAX_FIELDS):
            if i >= end:
                return wires
            if raw[i] == 0x0A:  # field 1, wire type 2: an item
                length, i = raw[i + 1], i + 2
                if length > 0x7F:
                    length, i = _varint(raw, i - 1)
                stop = i + length
                if stop > end:
                    return None
                append(raw[i:stop])
                i = stop
            else:
                i = _skipped(raw, i)
    except (IndexError, _Unplain):
        return None
    if i < end:
        raise InvalidArgument.one(
            "items", f"more than {MAX_FIELDS} fields; a batch holds 1 to {MAX_ITEMS} items")
    return wires


def _varint(raw: bytes, start: int, most: int = 5) -> tuple[int, int]:
    """The varint at `start` and the index after it. upb reads a tag or a length in at most 5
    bytes, a value in 10; a longer one, or one cut short by the end, is not plain (and costs
    no more than its first bytes, where summing it whole cost the square of its length)."""
    value = shift = 0
    for at in range(start, min(start + most, len(raw))):
        byte = raw[at]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at + 1
        shift += 7
    raise _Unplain


def _skipped(raw: bytes, i: int) -> int:
    """The index after the field at `i`, one of the batch's own other than its items: a
    field numbered 2 or more, of wire type 0, 1, 2 or 5, whole."""
    tag, at = _varint(raw, i)
    kind = tag & 7
    if tag >> 3 < 2 or tag >> 32:
        raise _Unplain  # field 0 or 1 under another tag, or past upb's 32-bit tags
    if kind == 0:
        at = _varint(raw, at, 10)[1]
    elif kind == 2:
        length, at = _varint(raw, at)
        at += length
    elif kind in (1, 5):
        at += 8 if kind == 1 else 4
    else:
        raise _Unplain  # a group, or no wire type at all
    if at > len(raw):
        raise _Unplain
    return at


def upb_items(raw: bytes, parse: Callable[[bytes], Any]) -> Any:
    """A batch the cut does not read, decoded whole by upb (`parse`), with its count checked.

    Only a small one: upb makes a message of every item before the count is known, ~80 ns
    each, and a batch no encoder would write need not be served past what takes ~10 ms."""
    if len(raw) > UPB_BATCH_BYTES:
        raise InvalidArgument.one(
            "items", f"a batch of over {UPB_BATCH_BYTES} bytes must be plainly encoded: items "
                     "under the tag 0x0A, and whole fields of wire type 0, 1, 2 or 5")
    items = parse(raw).items
    _count_ok(len(items))
    return items


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
            return [self._validated(item)
                    for item in upb_items(raw, guard.AllowBatchRequest.FromString)]
        _count_ok(len(wires))
        known: list[AllowItem | None] = list(map(self._by_wire.get, wires))  # in C; new: None
        if None in known:
            return [item or self._first(wire) for item, wire in zip(known, wires, strict=True)]
        return cast("list[AllowItem | RescpError]", known)  # no None is left

    def decode_one(self, raw: bytes) -> AllowItem:
        """A unary AllowRequest's arguments, kept by its bytes like a batch item's (they are
        the same bytes); its InvalidArgument raised."""
        item = self._by_wire.get(raw) or self._first(raw)
        if isinstance(item, RescpError):
            raise item
        return item

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


class BatchServicer:
    """The two batch RPCs of GuardService."""

    def __init__(self, plane: ControlPlane, items: AllowItems) -> None:
        self._plane = plane
        self._items = items
        self._allow_bytes = Encodings(_allow_item)
        self._record_bytes = Encodings(_record_item)

    def methods(self) -> dict[str, Unary[Any, Any]]:
        return {
            "AllowBatch": RawUnary(guard.AllowBatchRequest, guard.AllowBatchResponse,
                                   self._allow_message, self._allow_batch),
            "RecordBatch": RawUnary(guard.RecordBatchRequest, guard.RecordBatchResponse,
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
        """The Records in order, a chunk of about RECORD_CHUNK_BYTES at a time, the loop free
        between chunks: each is applied as its unary Record would be then."""
        wires = item_wires(raw)
        chunks: list[Any]
        if wires is None:
            chunks = [upb_items(raw, guard.RecordBatchRequest.FromString)]  # 256 KiB at most
        else:
            _count_ok(len(wires))
            chunks = list(_chunked(wires, RECORD_CHUNK_BYTES))
        encoded, parts = self._record_bytes, []  # an answer that carries a record is not kept
        for n, chunk in enumerate(chunks):
            if n:
                await asyncio.sleep(0)
            items = chunk if wires is None else [guard.RecordRequest.FromString(w) for w in chunk]
            now = self._plane.clock.now()
            answers = await self._plane.record_many(_checked(record_args, i, now) for i in items)
            parts += [encoded(a) if not isinstance(a, RescpError) and a[1] is None
                      else _record_item(a) for a in answers]
        return b"".join(parts)


def _chunked(wires: list[bytes], size: int) -> Iterator[list[bytes]]:
    """`wires` in runs of about `size` bytes (each run at least one item), in order."""
    start, total = 0, 0
    for i, wire in enumerate(wires):
        total += len(wire)
        if total >= size:
            yield wires[start:i + 1]
            start, total = i + 1, 0
    if start < len(wires):
        yield wires[start:]
