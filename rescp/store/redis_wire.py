"""The hot path's connection to Redis: one socket that pipelines every call in flight.

redis-py spends several hundred microseconds of CPU per command (a pooled connection each, its
own send and read per call), more than the Allow it carries. Here every call in flight shares
one connection: a call queues its command (hiredis packs it), the commands queued in one turn
of the event loop go out in one write, and replies, which Redis sends in order, resolve the
calls in order (hiredis parses them). While commands are out, new ones wait for their replies
and then go together, so under load one write and one read carry many calls (a send costs
~200 us of a loaded VM's CPU). A call the store gave up on keeps its place, and its late reply
is dropped; `reset` closes the connection (the store does after a timeout, so a stopped Redis
does not collect a backlog) and the next call opens a new one. redis-py serves the rest (the
tailer's blocking XREAD, paging reads).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any, cast

import hiredis
from redis.asyncio.connection import SSLConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError


class _Pipe(asyncio.Protocol):
    def __init__(self) -> None:
        self._reader = hiredis.Reader(encoding="utf-8")
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._queued: list[bytes] = []
        self._sent = 0  # commands written whose replies have not all come
        self._scheduled = False
        self._transport: asyncio.Transport | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's is one without subclassing asyncio.Transport)
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        while (reply := reader.gets()) is not False:
            self._sent -= 1
            future = self._waiting.popleft()
            if not future.done():  # else its caller gave up on it
                future.set_result(reply)
        if not self._sent and self._queued:
            self._flush()  # what queued while those were out goes now, in one write

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = RedisConnectionError(f"connection to Redis lost: {exc or 'closed'}")
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)

    def send(self, command: bytes) -> asyncio.Future[Any]:
        if self.lost is not None:
            raise self.lost
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queued.append(command)
        self._waiting.append(future)
        if not self._sent and not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        """Write what is queued, unless commands are out: their replies flush it then."""
        self._scheduled = False
        if self._sent or not self._queued:
            return
        queued, self._queued = self._queued, []
        self._sent = len(queued)
        if self._transport is not None and self.lost is None:
            self._transport.write(b"".join(queued))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()


class Wire:
    """Calls on one pipelined connection to the Redis of `url` (redis:// or rediss://)."""

    def __init__(self, url: str) -> None:
        options = parse_url(url)
        self._host = str(options.get("host", "localhost"))
        self._port = int(options.get("port", 6379))
        self._tls = options.get("connection_class") is SSLConnection
        self._setup: list[tuple[Any, ...]] = []
        if options.get("password"):
            auth = [options["username"]] if options.get("username") else []
            self._setup.append(("AUTH", *auth, options["password"]))
        if options.get("db"):
            self._setup.append(("SELECT", options["db"]))
        self._pipe: _Pipe | None = None
        self._opening: asyncio.Future[_Pipe] | None = None

    async def call(self, *args: Any) -> Any:
        """One command's reply; ResponseError for an error reply, ConnectionError when the
        connection fails."""
        pipe = self._pipe
        if pipe is None or pipe.lost is not None:
            pipe = await self._open()
        reply = await pipe.send(hiredis.pack_command(args))
        if isinstance(reply, hiredis.ReplyError):
            raise ResponseError(str(reply))
        return reply

    async def _open(self) -> _Pipe:
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._connect())
        opening = self._opening
        try:
            return await asyncio.shield(opening)
        finally:
            if opening.done() and self._opening is opening:
                self._opening = None

    async def _connect(self) -> _Pipe:
        loop = asyncio.get_running_loop()
        try:
            _, pipe = await loop.create_connection(
                _Pipe, self._host, self._port,
                ssl=ssl.create_default_context() if self._tls else None)
        except OSError as error:
            raise RedisConnectionError(f"cannot connect to Redis: {error}") from None
        for command in self._setup:
            reply = await pipe.send(hiredis.pack_command(command))
            if isinstance(reply, hiredis.ReplyError):
                pipe.close()
                raise ResponseError(str(reply))
        self._pipe = pipe
        return pipe

    def reset(self) -> None:
        """Drop the connection (its calls fail); the next call opens another."""
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None

    def close(self) -> None:
        self.reset()
