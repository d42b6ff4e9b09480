"""The HTTP side: Connect JSON Allow against gRPC Allow on the same server, and what the
metrics cost an Allow.

Connect JSON goes through uvicorn, Starlette and proto3 JSON, so it is expected to be slower
than gRPC; the ratio says by how much, for the same Allow on the same plane. The metrics
cost is the observer calls one gRPC Allow makes (the gRPC server metrics and the plane's
counters), timed in-process and set against the server CPU an Allow takes in this run.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import grpc

from bench.rpc import ALLOW, KEYS, Load, drive, load
from rescp.clock import SystemClock
from rescp.engine.breaker import BreakerConfig
from rescp.enums import BreakerState, Verdict
from rescp.events import EventLog
from rescp.metrics import Metrics
from rescp.plane import ControlPlane
from rescp.store.base import AllowResult
from rescp.store.memory import MemoryStore

CONNECT_ALLOW = "/rescp.v1.GuardService/Allow"


class _Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: httpx's async client costs the
    shared cores more than the server does (about 100 calls/s here), which would measure the
    client, not rescp. Nagle is off (asyncio's default), as curl and browsers have it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, request: bytes) -> None:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace"))
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await self.reader.readexactly(length)


def _requests(host: str) -> list[bytes]:
    out = []
    for i in range(KEYS):
        body = json.dumps({"breaker": "bench", "limit": "bench", "key": f"user-{i}"}).encode()
        out.append(f"POST {CONNECT_ALLOW} HTTP/1.1\r\nHost: {host}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                   .encode() + body)
    return out


async def _drive_http(http_url: str, concurrency: int, seconds: float, server_pid: int,
                      into: Load) -> None:
    host, _, port = http_url.removeprefix("http://").partition(":")
    connections = [_Connection(*await asyncio.open_connection(host, int(port)))
                   for _ in range(concurrency)]
    requests = _requests(host)
    free = asyncio.Queue[_Connection]()
    for connection in connections:
        free.put_nowait(connection)

    async def send(n: int) -> None:
        connection = await free.get()
        try:
            await connection.post(requests[n % KEYS])
        finally:
            free.put_nowait(connection)

    try:
        await load(send, concurrency, seconds, server_pid, into)
    finally:
        for connection in connections:
            connection.writer.close()


async def connect_vs_grpc(target: str, http_url: str, server_pid: int, concurrency: int,
                          rounds: int, seconds: float) -> tuple[Load, Load]:
    """(grpc, connect) Allow loads, in alternating rounds after a warm-up."""
    over_grpc, over_http, scratch = Load(), Load(), Load()
    async with grpc.aio.insecure_channel(target) as channel:
        await drive(channel, ALLOW, concurrency, 0.5, server_pid, scratch)
        await _drive_http(http_url, concurrency, 0.5, server_pid, scratch)
        for round_ in range(rounds):
            if round_ % 2 == 0:
                await drive(channel, ALLOW, concurrency, seconds, server_pid, over_grpc)
            await _drive_http(http_url, concurrency, seconds, server_pid, over_http)
            if round_ % 2 == 1:
                await drive(channel, ALLOW, concurrency, seconds, server_pid, over_grpc)
    return over_grpc, over_http


@dataclass(frozen=True)
class MetricsCost:
    us_per_allow: float


def metrics_cost(ops: int) -> MetricsCost:
    """Microseconds of metrics work per Allow: best of 5 repeats of `ops` Allows' calls."""
    clock = SystemClock()
    plane = ControlPlane(MemoryStore(EventLog(), clock, BreakerConfig()), clock)
    metrics = Metrics(plane)
    observe = metrics.grpc_observer("rescp.v1.GuardService", "Allow", "unary")
    allowed = metrics.plane.allowed
    result = AllowResult(True, Verdict.ALLOWED, BreakerState.CLOSED, 0.0, 99, "", 0)
    ok = grpc.StatusCode.OK
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(ops):
            allowed("bench", "bench", result)
            observe(ok, 0.0002)
        best = min(best, time.perf_counter() - t0)
    return MetricsCost(best / ops * 1e6)
