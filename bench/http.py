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
import httpx

from bench.rpc import ALLOW, KEYS, Load, drive, process_cpu
from rescp.clock import SystemClock
from rescp.engine.breaker import BreakerConfig
from rescp.enums import BreakerState, Verdict
from rescp.events import EventLog
from rescp.metrics import Metrics
from rescp.plane import ControlPlane
from rescp.store.base import AllowResult
from rescp.store.memory import MemoryStore

CONNECT_ALLOW = "/rescp.v1.GuardService/Allow"


async def _drive_http(client: httpx.AsyncClient, concurrency: int, seconds: float,
                      server_pid: int, into: Load) -> None:
    bodies = [json.dumps({"breaker": "bench", "limit": "bench", "key": f"user-{i}"}).encode()
              for i in range(KEYS)]
    headers = {"content-type": "application/json"}
    loop = asyncio.get_running_loop()
    stop = loop.time() + seconds

    async def worker(offset: int) -> int:
        n = 0
        while loop.time() < stop:
            started = time.perf_counter()
            response = await client.post(CONNECT_ALLOW, content=bodies[(offset + n) % KEYS],
                                         headers=headers)
            response.raise_for_status()
            into.latencies.append(time.perf_counter() - started)
            n += 1
        return n

    cpu0, t0 = process_cpu(server_pid), time.perf_counter()
    counts = await asyncio.gather(*(worker(i * 37) for i in range(concurrency)))
    into.seconds += time.perf_counter() - t0
    into.cpu_seconds += process_cpu(server_pid) - cpu0
    into.calls += sum(counts)


async def connect_vs_grpc(target: str, http_url: str, server_pid: int, concurrency: int,
                          rounds: int, seconds: float) -> tuple[Load, Load]:
    """(grpc, connect) Allow loads, in alternating rounds after a warm-up."""
    over_grpc, over_http, scratch = Load(), Load(), Load()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with grpc.aio.insecure_channel(target) as channel, \
            httpx.AsyncClient(base_url=http_url, limits=limits) as client:
        await drive(channel, ALLOW, concurrency, 0.5, server_pid, scratch)
        await _drive_http(client, concurrency, 0.5, server_pid, scratch)
        for round_ in range(rounds):
            if round_ % 2 == 0:
                await drive(channel, ALLOW, concurrency, seconds, server_pid, over_grpc)
            await _drive_http(client, concurrency, seconds, server_pid, over_http)
            if round_ % 2 == 1:
                await drive(channel, ALLOW, concurrency, seconds, server_pid, over_grpc)
    return over_grpc, over_http


@dataclass(frozen=True)
class MetricsCost:
    us_per_allow: float


def metrics_cost(ops: int) -> MetricsCost:
    """Microseconds of metrics work per Allow: best of 5 repeats of `ops` Allows' calls."""
    plane = ControlPlane(lambda listener: MemoryStore(listener, BreakerConfig()), SystemClock(),
                         EventLog())
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
