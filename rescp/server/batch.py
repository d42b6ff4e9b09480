"""AllowBatch and RecordBatch: many decisions per round trip, each as its unary RPC decides.

grpc's per-RPC work costs ~400 µs of server CPU in Python and rescp's own work per decision
~10 µs, so a batch pays the first once. The rest is kept lean: the request is decoded once by
upb, each item is validated by the unary RPC's own code (a bad item becomes its ItemError,
never the batch's), the plane decides the items in order at one clock reading, and answers are
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
    """Wire bytes of one batch item per distinct answer, computed once."""

    def __init__(self, encode: Callable[[Any], bytes]) -> None:
        self._encode = encode
        self._cache: dict[Hashable, bytes] = {}

    def __call__(self, answer: Hashable) -> bytes:
        cached = self._cache.get(answer)
        if cached is None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            cached = self._cache[answer] = self._encode(answer)
        return cached


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


class ValidNames:
    """Names already found valid, so a batch checks each distinct name once (bounded)."""

    def __init__(self) -> None:
        self._names: set[str] = {""}

    def allow_items(self, items: Iterable[guard.AllowRequest]) -> list[AllowItem | RescpError]:
        """Each item as allow_args decodes it; names seen valid before skip the pattern."""
        names = self._names
        decoded: list[AllowItem | RescpError] = []
        for item in items:
            breaker, limit, key = item.breaker, item.limit, item.key
            if breaker in names and limit in names and len(key) <= KEY_LIMIT:
                decoded.append((breaker, limit, key, item.cost or 1))
                continue
            args = _checked(allow_args, item)
            if not isinstance(args, RescpError):
                if len(names) >= CACHE_LIMIT:
                    names.clear()
                    names.add("")
                names.update((breaker, limit))
            decoded.append(args)
        return decoded


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
        self._names = ValidNames()
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
        items = guard.AllowBatchRequest.FromString(raw).items
        _count_ok(len(items))
        answers = await self._plane.allow_many(self._names.allow_items(items))
        encoded = self._allow_bytes
        return b"".join([encoded(a) if not isinstance(a, RescpError) else _allow_item(a)
                         for a in answers])

    async def _record_batch(self, raw: bytes) -> bytes:
        items = guard.RecordBatchRequest.FromString(raw).items
        _count_ok(len(items))
        now = self._plane.clock.now()
        answers = await self._plane.record_many(_checked(record_args, i, now) for i in items)
        encoded = self._record_bytes
        return b"".join([encoded(a) if not isinstance(a, RescpError) and a[1] is None
                         else _record_item(a) for a in answers])
