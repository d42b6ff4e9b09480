"""Unary Allow vs a bare Echo on the same grpc.aio server, driven by the same grpc.aio client.

Both methods get the same pre-serialized AllowRequest bytes and hand back raw bytes, so the
client does identical work and the difference is what rescp does on the server. Many short
rounds alternate Echo and Allow (ABBA order) so drift on a shared machine hits both alike.
Server CPU per call is read from /proc for the server process.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc

from rescp._proto import guard_pb2

ECHO = "/rescp.bench.Bare/Echo"
ALLOW = "/rescp.v1.GuardService/Allow"
KEYS = 1000


@dataclass
class Load:
    calls: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.calls / self.seconds

    @property
    def cpu_us_per_call(self) -> float:
        return self.cpu_seconds / self.calls * 1e6

    def percentile(self, q: float) -> float:
        return statistics.quantiles(self.latencies, n=100)[int(q) - 1] * 1e3


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and of its live children (a `--workers`
    server's workers), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        children = [int(child) for child in f.read().split()]
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(process_cpu(child) for child in children)


def payloads() -> list[bytes]:
    return [guard_pb2.AllowRequest(breaker="bench", limit="bench", key=f"user-{i}")
            .SerializeToString() for i in range(KEYS)]


async def drive(channel: grpc.aio.Channel, path: str, concurrency: int, seconds: float,
                server_pid: int, into: Load, bodies: list[bytes] | None = None) -> None:
    """Call `path` from `concurrency` workers for `seconds`, cycling through `bodies` (by
    default one AllowRequest per key), adding calls, time and server CPU to `into`."""
    call = channel.unary_unary(path)
    bodies = bodies or payloads()
    keys = len(bodies)
    await load(lambda n: call(bodies[n % keys]), concurrency, seconds, server_pid, into)


async def load(send: Callable[[int], Awaitable[object]], concurrency: int, seconds: float,
               server_pid: int, into: Load) -> None:
    """`concurrency` workers calling `send(n)` back to back for `seconds`, counted into `into`."""
    loop = asyncio.get_running_loop()
    stop = loop.time() + seconds
    latencies = into.latencies

    async def worker(offset: int) -> int:
        n = 0
        while loop.time() < stop:
            started = time.perf_counter()
            await send(offset + n)
            latencies.append(time.perf_counter() - started)
            n += 1
        return n

    cpu0, t0 = process_cpu(server_pid), time.perf_counter()
    counts = await asyncio.gather(*(worker(i * 37) for i in range(concurrency)))
    into.seconds += time.perf_counter() - t0
    into.cpu_seconds += process_cpu(server_pid) - cpu0
    into.calls += sum(counts)


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a method on a server, called with these request bodies."""

    channel: grpc.aio.Channel
    path: str
    pid: int
    bodies: list[bytes]

    async def run(self, concurrency: int, seconds: float, into: Load) -> None:
        call, bodies = self.channel.unary_unary(self.path), self.bodies
        await load(lambda n: call(bodies[n % len(bodies)]), concurrency, seconds, self.pid, into)


async def alternate(first: Side, second: Side, concurrency: int, rounds: int,
                    seconds: float) -> tuple[Load, Load]:
    """(first, second) measured in alternating rounds (ABBA) after a warm-up of each."""
    loads, scratch = (Load(), Load()), Load()
    for side in (first, second):
        await side.run(concurrency, 0.5, scratch)
    for round_ in range(rounds):
        order = [(first, loads[0]), (second, loads[1])]
        for side, into in order if round_ % 2 == 0 else order[::-1]:
            await side.run(concurrency, seconds, into)
    return loads


async def compare(target: str, server_pid: int, concurrency: int, rounds: int,
                  seconds: float) -> tuple[Load, Load]:
    """(echo, allow) on one server."""
    async with grpc.aio.insecure_channel(target) as channel:
        return await alternate(Side(channel, ECHO, server_pid, payloads()),
                               Side(channel, ALLOW, server_pid, payloads()),
                               concurrency, rounds, seconds)
