"""The threaded side of what the two flavours genuinely do differently; written by hand, not
generated (scripts/unasync.py leaves this file alone).

Same names and signatures as `_async/_backend.py`:

- `ChannelSlot`: a sync channel needs no loop, so it is opened at once; threads sharing the
  client then never race to open it. Multicallables are built once per RPC.
- `Pending`: background calls as grpc futures, kept per key (a breaker) and bounded in number.
  grpc runs done-callbacks on its own threads, so they live under a condition variable that
  `settle` and `flush` wait on.
- `Stream`: a server-streaming call (Watch) with typed errors; cancelling it, or closing the
  channel, from any thread ends a `read` blocked in another with CANCELLED.
- `Wakeup`: a watch's backoff sleep, cut short when the watch (from any thread) or the client
  closes.
- `require_callable`: `call` runs plain callables only, refused at once otherwise.
- `Runner`: one background job at a time (the outbox's delivery), on a daemon thread;
  `sleep` is the flavour's own.
- `Lock`, `Nudge`: local mode keeps its flushes in order and paces its flusher (its
  follower and flusher run on `Runner`s).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic

import grpc
from google.protobuf.message import Message

from rescp_client._rpc import Req, Resp, Rpc
from rescp_client.errors import from_rpc_error

log = logging.getLogger("rescp_client")

Rescue = Callable[[], None] | None
"""What to do when a background call is lost (keep its report in the outbox), if anything."""


def require_callable(fn: object, what: str) -> None:
    """Refuse, before anything is asked or recorded, what `call` cannot run: a coroutine
    function would only hand back a coroutine, never awaited."""
    if not callable(fn) or inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            type(fn).__call__):
        raise TypeError(f"call needs a plain callable as {what}, not {fn!r}; a coroutine "
                        f"function goes to AsyncClient.breaker(...).call_async")


def sleep(seconds: float) -> None:
    time.sleep(seconds)


class Runner:
    """Runs one job at a time on a daemon thread. A start while the job runs makes it run once
    more when it ends, so work added as the job is finishing is never left waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    def start(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is not None:
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, args=(job,), daemon=True,
                                            name="rescp-outbox")
            self._thread.start()

    def stop(self) -> None:
        """Wait a moment for the job (it ends once the client is closed)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(1.0)

    def _run(self, job: Callable[[], None]) -> None:
        while True:
            job()
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False


class Wakeup:
    """A pause that `set()` cuts short (for good: a closed watch never sleeps again)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less when `set()` is called meanwhile."""
        self._event.wait(seconds)


class ChannelSlot:
    """The channel, opened at once, and its multicallables."""

    def __init__(self, target: str, options: Sequence[tuple[str, Any]]) -> None:
        self._channel = grpc.insecure_channel(target, options=list(options))
        self._methods: dict[str, grpc.UnaryUnaryMultiCallable[Any, Any]] = {}
        self._wakeups: weakref.WeakSet[Wakeup] = weakref.WeakSet()

    def method(self, rpc: Rpc[Req, Resp]) -> grpc.UnaryUnaryMultiCallable[Req, Resp]:
        """The unary multicallable of `rpc`, built once (a lost race builds two: harmless)."""
        method = self._methods.get(rpc.path)
        if method is None:
            method = self._methods[rpc.path] = self._channel.unary_unary(
                rpc.path, request_serializer=rpc.request.SerializeToString,
                response_deserializer=rpc.response.FromString)
        return method

    def stream(self, rpc: Rpc[Req, Resp], request: Req) -> Stream[Resp]:
        """Start a server-streaming call that fails fast when no connection is up."""
        method = self._channel.unary_stream(
            rpc.path, request_serializer=rpc.request.SerializeToString,
            response_deserializer=rpc.response.FromString)
        return Stream(method, request)

    def wakeup(self) -> Wakeup:
        """A pause for one watch; closing the client cuts it short."""
        wakeup = Wakeup()
        self._wakeups.add(wakeup)
        return wakeup

    def close(self) -> None:
        for wakeup in list(self._wakeups):
            wakeup.set()
        self._channel.close()


class Stream(Generic[Resp]):
    """One server-streaming call, its errors typed."""

    def __init__(self, method: grpc.UnaryStreamMultiCallable[Any, Resp], request: Message) -> None:
        self._call = method(request, wait_for_ready=False)

    def subscribed(self) -> dict[str, str] | None:
        """Wait until the server has accepted the call: its initial metadata, or None when the
        call has ended instead."""
        metadata = self._call.initial_metadata()
        if not self._call.is_active():
            return None
        return {key: value for key, value in metadata or () if isinstance(value, str)}

    def read(self) -> Resp | None:
        """The next response; None when the server ended the stream with OK."""
        try:
            return next(self._call, None)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error

    def cancel(self) -> None:
        self._call.cancel()


class Pending:
    """Background calls in flight, per key; at most `limit` at once, the rest dropped."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._by_key: dict[str, set[grpc.Future[Any]]] = {}
        self._in_flight: set[grpc.Future[Any]] = set()
        self._rescues: dict[grpc.Future[Any], Rescue] = {}
        self._changed = threading.Condition()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._in_flight)

    def start(self, key: str, method: grpc.UnaryUnaryMultiCallable[Req, Any],
              request: Req, within: float, rescue: Rescue = None) -> bool:
        """Send `request` in the background; False when it was dropped instead. `rescue` is
        called if it is lost (dropped, failed or cut off)."""
        with self._changed:
            if len(self._in_flight) >= self._limit:
                self._drop(key, "too many calls pending")
                lost = True
            else:
                future = method.future(request, timeout=within, wait_for_ready=False)
                self._by_key.setdefault(key, set()).add(future)
                self._in_flight.add(future)
                self._rescues[future] = rescue
                lost = False
        if lost:
            if rescue is not None:
                rescue()
            return False
        future.add_done_callback(lambda done: self._forget(key, done))
        return True

    def settle(self, key: str, within: float) -> bool:
        """Wait up to `within` seconds for the calls of `key` started so far (not for those
        other threads start meanwhile); True when none of them is left."""
        with self._changed:
            earlier = set(self._by_key.get(key, ()))
            return self._changed.wait_for(
                lambda: earlier.isdisjoint(self._by_key.get(key, ())), within)

    def flush(self, within: float) -> bool:
        """Wait up to `within` seconds for every call started so far; True when none is left."""
        with self._changed:
            earlier = set(self._in_flight)
            return self._changed.wait_for(lambda: earlier.isdisjoint(self._in_flight), within)

    def cancel(self) -> None:
        """Cut off every call still in flight; each is counted as dropped before this returns."""
        with self._changed:
            pending = [(key, future) for key, futures in self._by_key.items()
                       for future in futures]
        for key, future in pending:
            future.cancel()
            self._forget(key, future)

    def _forget(self, key: str, future: grpc.Future[Any]) -> None:
        """Count a finished call out, once: grpc's callback and `cancel` may both get here."""
        if not future.done():
            return
        failure = "cancelled" if future.cancelled() else future.exception()
        with self._changed:
            futures = self._by_key.get(key)
            if futures is None or future not in futures:
                return
            futures.discard(future)
            if not futures:
                del self._by_key[key]
            self._in_flight.discard(future)
            rescue = self._rescues.pop(future, None)
            if failure is not None:
                self._drop(key, failure)
            self._changed.notify_all()
        if failure is not None and rescue is not None:
            rescue()  # outside the lock: it takes the outbox's

    def _drop(self, key: str, why: object) -> None:
        """Count a lost call; the caller holds the lock."""
        self.dropped += 1
        log.debug("rescp: background call for %r dropped (%s)", key, why)


Lock = threading.Lock
"""Keeps local mode's flushes in order."""


class Nudge:
    """What local mode's flusher sleeps on between rounds: set when outcomes pile up."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, seconds: float) -> None:
        """Sleep `seconds`, or less when nudged meanwhile; then forget the nudge."""
        self._event.wait(seconds)
        self._event.clear()
