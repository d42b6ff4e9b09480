"""The asyncio side of what the two flavours genuinely do differently; written by hand.

`_sync/_backend.py` is its counterpart with the same names and signatures, so the generated
code calls either without knowing which.

- `ChannelSlot`: a grpc.aio channel belongs to the event loop it was made on, so it is opened on
  first use, inside the loop that uses the client (which may be built outside any loop).
- `Pending`: background calls (Records, Reports), each awaited in its own task, grouped per key
  (a breaker) and bounded in number; the client waits for a key's calls before its next Allow
  on that key, and for all of them (up to close_timeout, then cancels them) when it closes.
- `Stream`: a server-streaming call (Watch) with typed errors. grpc.aio raises CancelledError
  from a call that the channel's closing cut off; that becomes ControlPlaneUnavailable
  (CANCELLED), so only a cancellation of the reading task itself propagates as one.
- `ChannelSlot.pause`: a watch's backoff sleep, cut short when the client closes.
- `Lock`, `Wakeup`, `Background`: local mode's flusher and follower run as tasks on the loop
  that first used the client, paced by an event set from the hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from typing import Any, Generic

import grpc

from rescp_client._rpc import Req, Resp, Rpc
from rescp_client.errors import ControlPlaneUnavailable, from_rpc_error

log = logging.getLogger("rescp_client")


class ChannelSlot:
    """The channel, opened on first use inside the running loop."""

    def __init__(self, target: str, options: Sequence[tuple[str, Any]]) -> None:
        self._target = target
        self._options = list(options)
        self._channel: grpc.aio.Channel | None = None
        self._closing = asyncio.Event()  # bound to a loop only once waited on

    def channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self._target, options=self._options)
        return self._channel

    def stream(self, rpc: Rpc[Req, Resp], request: Req) -> Stream[Resp]:
        """Start a server-streaming call that fails fast when no connection is up."""
        method = self.channel().unary_stream(
            rpc.path, request_serializer=rpc.request.SerializeToString,
            response_deserializer=rpc.response.FromString)
        return Stream(method(request, wait_for_ready=False), rpc.response)

    async def pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less when the client closes meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    async def close(self) -> None:
        self._closing.set()
        if self._channel is not None:
            await self._channel.close()


@contextlib.contextmanager
def _typed_errors() -> Iterator[None]:
    try:
        yield
    except grpc.RpcError as error:
        raise from_rpc_error(error) from error
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # this task was cancelled: not ours to swallow
        raise ControlPlaneUnavailable(grpc.StatusCode.CANCELLED, "the call was cut off "
                                      "(the client closed)") from None


def _text(metadata: Iterable[tuple[str, str | bytes]]) -> dict[str, str]:
    """The text entries of some metadata."""
    return {key: value for key, value in metadata if isinstance(value, str)}


class Stream(Generic[Resp]):
    """One server-streaming call, its errors typed."""

    def __init__(self, call: grpc.aio.UnaryStreamCall[Any, Resp], response: type[Resp]) -> None:
        self._call = call
        self._response = response

    async def subscribed(self) -> dict[str, str] | None:
        """Wait until the server has accepted the call: its initial metadata, or None when the
        call has ended instead."""
        with _typed_errors():
            metadata = await self._call.initial_metadata()
        return None if self._call.done() else _text(metadata or ())

    async def read(self) -> Resp | None:
        """The next response; None when the server ended the stream with OK."""
        with _typed_errors():
            response = await self._call.read()
        return response if isinstance(response, self._response) else None

    def cancel(self) -> None:
        self._call.cancel()


class Pending:
    """Background calls in flight, per key; at most `limit` at once, the rest dropped."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._by_key: dict[str, set[asyncio.Task[None]]] = {}
        self._count = 0
        self.dropped = 0

    def __len__(self) -> int:
        return self._count

    def start(self, key: str, method: grpc.aio.UnaryUnaryMultiCallable[Req, Any],
              request: Req, within: float) -> bool:
        """Send `request` in the background; False when it was dropped instead."""
        if self._count >= self._limit:
            self._drop(key, "too many calls pending")
            return False
        call = method(request, timeout=within, wait_for_ready=False)
        task = asyncio.get_running_loop().create_task(self._finish(key, call))
        self._by_key.setdefault(key, set()).add(task)
        self._count += 1
        task.add_done_callback(lambda done: self._forget(key, done))
        return True

    async def settle(self, key: str, within: float) -> bool:
        """Wait up to `within` seconds for the calls of `key` started so far (not for those
        other tasks start meanwhile); True when none of them is left."""
        tasks = self._by_key.get(key)
        if not tasks:
            return True
        _, left = await asyncio.wait(set(tasks), timeout=within)
        return not left

    async def flush(self, within: float) -> bool:
        """Wait up to `within` seconds for every call started so far; True when none is left."""
        tasks = {task for tasks in self._by_key.values() for task in tasks}
        if not tasks:
            return True
        _, left = await asyncio.wait(tasks, timeout=within)
        return not left

    async def cancel(self) -> None:
        """Cut off every call still in flight; each is counted as dropped before this returns."""
        tasks = [task for tasks in self._by_key.values() for task in tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _finish(self, key: str, call: grpc.aio.UnaryUnaryCall[Req, Any]) -> None:
        try:
            await call
        except grpc.RpcError as error:
            self._drop(key, error)

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        tasks = self._by_key[key]
        tasks.discard(task)
        self._count -= 1
        if not tasks:
            del self._by_key[key]
        if task.cancelled():
            self._drop(key, "cancelled")

    def _drop(self, key: str, why: object) -> None:
        self.dropped += 1
        log.debug("rescp: background call for %r dropped (%s)", key, why)


Lock = asyncio.Lock


class Wakeup:
    """An event a background loop sleeps on between rounds."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Sleep `seconds`, or less when set meanwhile; then clear it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()


class Background:
    """Background loops of one client: tasks on the running loop."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Cancel the loops and wait until they have ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
