"""The asyncio side of what the two flavours genuinely do differently; written by hand.

`_sync/_backend.py` is its counterpart with the same names and signatures, so the generated
code calls either without knowing which.

- `ChannelSlot`: a grpc.aio channel (and its multicallables) belongs to the event loop it was
  made on, so each loop that uses the client gets its own, opened on first use there: a client
  built outside any loop, or used by one `asyncio.run` after another, keeps working. Channels
  of loops that have closed are forgotten.
- `Pending`: background calls (Records, Reports), each awaited in its own task, grouped per key
  (a breaker) and bounded in number; the client waits for a key's calls before its next Allow
  on that key, and for all of them (up to close_timeout, then cancels them) when it closes.
- `Stream`: a server-streaming call (Watch) with typed errors. grpc.aio raises CancelledError
  from a call that the channel's closing cut off; that becomes ControlPlaneUnavailable
  (CANCELLED), so only a cancellation of the reading task itself propagates as one.
- `Wakeup`: a watch's backoff sleep, cut short when the watch or the client closes.
- `require_callable`: `call_async` runs coroutine functions only, refused at once otherwise.
- `Runner`: one background job at a time (the outbox's delivery), a task on the loop that
  starts it; `sleep` is the flavour's own.
- `Lock`, `Nudge`: local mode keeps its flushes in order and paces its flusher (its
  follower and flusher run on `Runner`s).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import weakref
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from typing import Any, Generic

import grpc

from rescp_client._rpc import Req, Resp, Rpc
from rescp_client.errors import ControlPlaneUnavailable, from_rpc_error

log = logging.getLogger("rescp_client")

Rescue = Callable[[], None] | None
"""What to do when a background call is lost (keep its report in the outbox), if anything."""


def require_callable(fn: object, what: str) -> None:
    """Refuse, before anything is asked or recorded, what `call_async` cannot await: a plain
    function's TypeError would otherwise count against the breaker as an upstream failure."""
    if not (inspect.iscoroutinefunction(fn)
            or (callable(fn) and inspect.iscoroutinefunction(type(fn).__call__))):
        raise TypeError(f"call_async needs a coroutine function (async def) as {what}, "
                        f"not {fn!r}; a plain function goes to Client.breaker(...).call")


class Wakeup:
    """A pause that `set()` cuts short (for good: a closed watch never sleeps again)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()  # bound to a loop only once waited on

    def set(self) -> None:
        self._event.set()

    async def pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less when `set()` is called meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)


async def sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class Runner:
    """Runs one job at a time in the background: a task on the loop that starts it (a task of
    a loop that has ended is done, so the next start makes a new one on the current loop)."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start `job` unless it is running; it must look for work again before it ends.
        Outside any loop this does nothing: the next start inside one does it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._task is None or self._task.done():
            self._task = loop.create_task(job())

    async def stop(self) -> None:
        """Cut the job off, if it runs on this loop."""
        task, self._task = self._task, None
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class _LoopChannel:
    """One loop's channel and the multicallables built on it."""

    __slots__ = ("channel", "loop", "methods")

    def __init__(self, loop: asyncio.AbstractEventLoop, channel: grpc.aio.Channel) -> None:
        self.loop = loop
        self.channel = channel
        self.methods: dict[str, grpc.aio.UnaryUnaryMultiCallable[Any, Any]] = {}


class ChannelSlot:
    """A channel per event loop, each opened on first use inside its loop."""

    def __init__(self, target: str, options: Sequence[tuple[str, Any]]) -> None:
        self._target = target
        self._options = list(options)
        self._by_loop: dict[asyncio.AbstractEventLoop, _LoopChannel] = {}
        self._wakeups: weakref.WeakSet[Wakeup] = weakref.WeakSet()

    def _here(self) -> _LoopChannel:
        loop = asyncio.get_running_loop()
        here = self._by_loop.get(loop)
        if here is None:
            for gone in [x for x in self._by_loop if x.is_closed()]:
                del self._by_loop[gone]
            channel = grpc.aio.insecure_channel(self._target, options=self._options)
            here = self._by_loop[loop] = _LoopChannel(loop, channel)
        return here

    def method(self, rpc: Rpc[Req, Resp]) -> grpc.aio.UnaryUnaryMultiCallable[Req, Resp]:
        """The unary multicallable of `rpc` on this loop's channel, built once."""
        here = self._here()
        method = here.methods.get(rpc.path)
        if method is None:
            method = here.methods[rpc.path] = here.channel.unary_unary(
                rpc.path, request_serializer=rpc.request.SerializeToString,
                response_deserializer=rpc.response.FromString)
        return method

    def stream(self, rpc: Rpc[Req, Resp], request: Req) -> Stream[Resp]:
        """Start a server-streaming call that fails fast when no connection is up."""
        method = self._here().channel.unary_stream(
            rpc.path, request_serializer=rpc.request.SerializeToString,
            response_deserializer=rpc.response.FromString)
        return Stream(method(request, wait_for_ready=False), rpc.response)

    def wakeup(self) -> Wakeup:
        """A pause for one watch; closing the client cuts it short."""
        wakeup = Wakeup()
        self._wakeups.add(wakeup)
        return wakeup

    async def close(self) -> None:
        """Close every channel: this loop's awaited, another live loop's handed to it."""
        for wakeup in list(self._wakeups):
            wakeup.set()
        current = asyncio.get_running_loop()
        for loop, entry in self._by_loop.items():
            if loop is current:
                await entry.channel.close()
            elif not loop.is_closed():
                asyncio.run_coroutine_threadsafe(entry.channel.close(), loop)
        self._by_loop.clear()


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


def _here(tasks: Iterable[asyncio.Task[None]]) -> set[asyncio.Task[None]]:
    """The tasks of the running loop: another loop's cannot be awaited here (and a loop that
    `asyncio.run` ended has cancelled its own already)."""
    loop = asyncio.get_running_loop()
    return {task for task in tasks if task.get_loop() is loop}


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
              request: Req, within: float, rescue: Rescue = None) -> bool:
        """Send `request` in the background; False when it was dropped instead. `rescue` is
        called if it is lost (dropped, failed or cut off)."""
        if self._count >= self._limit:
            self._drop(key, "too many calls pending", rescue)
            return False
        call = method(request, timeout=within, wait_for_ready=False)
        task = asyncio.get_running_loop().create_task(self._finish(key, call, rescue))
        self._by_key.setdefault(key, set()).add(task)
        self._count += 1
        task.add_done_callback(lambda done: self._forget(key, done, rescue))
        return True

    async def settle(self, key: str, within: float) -> bool:
        """Wait up to `within` seconds for the calls of `key` started so far (not for those
        other tasks start meanwhile); True when none of them is left."""
        tasks = _here(self._by_key.get(key, ()))
        if not tasks:
            return True
        _, left = await asyncio.wait(tasks, timeout=within)
        return not left

    async def flush(self, within: float) -> bool:
        """Wait up to `within` seconds for every call started so far; True when none is left."""
        tasks = _here(task for tasks in self._by_key.values() for task in tasks)
        if not tasks:
            return True
        _, left = await asyncio.wait(tasks, timeout=within)
        return not left

    async def cancel(self) -> None:
        """Cut off every call still in flight; each is counted as dropped before this returns."""
        tasks = _here(task for tasks in self._by_key.values() for task in tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _finish(self, key: str, call: grpc.aio.UnaryUnaryCall[Req, Any],
                      rescue: Rescue) -> None:
        try:
            await call
        except grpc.RpcError as error:
            self._drop(key, error, rescue)

    def _forget(self, key: str, task: asyncio.Task[None], rescue: Rescue) -> None:
        tasks = self._by_key[key]
        tasks.discard(task)
        self._count -= 1
        if not tasks:
            del self._by_key[key]
        if task.cancelled():
            self._drop(key, "cancelled", rescue)

    def _drop(self, key: str, why: object, rescue: Rescue) -> None:
        self.dropped += 1
        log.debug("rescp: background call for %r dropped (%s)", key, why)
        if rescue is not None:
            rescue()


Lock = asyncio.Lock
"""Keeps local mode's flushes in order."""


class Nudge:
    """What local mode's flusher sleeps on between rounds: set when outcomes pile up."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Sleep `seconds`, or less when nudged meanwhile; then forget the nudge."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()
