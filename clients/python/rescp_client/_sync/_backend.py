"""The threaded side of what the two flavours genuinely do differently; written by hand, not
generated (scripts/unasync.py leaves this file alone).

Same names and signatures as `_async/_backend.py`:

- `ChannelSlot`: a sync channel needs no loop, so it is opened at once; threads sharing the
  client then never race to open it.
- `Pending`: background calls as grpc futures, kept per key (a breaker) and bounded in number.
  grpc runs done-callbacks on its own threads, so they live under a condition variable that
  `settle` and `flush` wait on.
- `Stream`: a server-streaming call (Watch) with typed errors; cancelling it, or closing the
  channel, from any thread ends a `read` blocked in another with CANCELLED.
- `ChannelSlot.pause`: a watch's backoff sleep, cut short when the client closes.
- `Lock`, `Wakeup`, `Background`: local mode's flusher and follower run as daemon threads,
  paced by an event set from the hot path; they end once the client is closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic

import grpc
from google.protobuf.message import Message

from rescp_client._rpc import Req, Resp, Rpc
from rescp_client.errors import from_rpc_error

log = logging.getLogger("rescp_client")


class ChannelSlot:
    """The channel, opened at once."""

    def __init__(self, target: str, options: Sequence[tuple[str, Any]]) -> None:
        self._channel = grpc.insecure_channel(target, options=list(options))
        self._closing = threading.Event()

    def channel(self) -> grpc.Channel:
        return self._channel

    def stream(self, rpc: Rpc[Req, Resp], request: Req) -> Stream[Resp]:
        """Start a server-streaming call that fails fast when no connection is up."""
        method = self._channel.unary_stream(
            rpc.path, request_serializer=rpc.request.SerializeToString,
            response_deserializer=rpc.response.FromString)
        return Stream(method, request)

    def pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less when the client closes meanwhile."""
        self._closing.wait(seconds)

    def close(self) -> None:
        self._closing.set()
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
        self._changed = threading.Condition()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._in_flight)

    def start(self, key: str, method: grpc.UnaryUnaryMultiCallable[Req, Any],
              request: Req, within: float) -> bool:
        """Send `request` in the background; False when it was dropped instead."""
        with self._changed:
            if len(self._in_flight) >= self._limit:
                self._drop(key, "too many calls pending")
                return False
            future = method.future(request, timeout=within, wait_for_ready=False)
            self._by_key.setdefault(key, set()).add(future)
            self._in_flight.add(future)
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
            if failure is not None:
                self._drop(key, failure)
            self._changed.notify_all()

    def _drop(self, key: str, why: object) -> None:
        """Count a lost call; the caller holds the lock."""
        self.dropped += 1
        log.debug("rescp: background call for %r dropped (%s)", key, why)


Lock = threading.Lock


class Wakeup:
    """An event a background loop sleeps on between rounds."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, seconds: float) -> None:
        """Sleep `seconds`, or less when set meanwhile; then clear it."""
        self._event.wait(seconds)
        self._event.clear()


class Background:
    """Background loops of one client: daemon threads."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []

    def spawn(self, work: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=work, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        """Wait (briefly) for the loops, which end by themselves once the client is closed."""
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(1.0)
