"""Decisions per second on Redis with `rescp serve --workers 1` and `--workers 2`, batched.

Both servers run at once on one redis-server (each with a key prefix of its own) and the same
client alternates between them round by round (ABBA, as bench/rpc.alternate does), sending
AllowBatch requests of 100 items (a breaker and a sliding-window limit over 1,000 keys, as
bench/batch.py) with 16 in flight. The load goes over 8 connections: the kernel hands each
connection to one worker for its whole life, so one connection would measure one worker.
The load starts only once every worker listens. CPU is the server's processes' (parent and
workers) and redis-server's, from /proc.

The config is the benchmark server's (bench/server.py, its patient Redis timeout included): an
operation that times out is answered by the store-failure mode, not decided, and would count
as a (cheap) decision, so a server that logged a store failure is reported beside its figures.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.batch import ALLOW_BATCH, bodies
from bench.rpc import Load, load, process_cpu
from bench.server import CONFIG
from rescp.testing import free_port
from tests.redis_server import REDIS_SERVER, RedisServer

ITEMS = 100
IN_FLIGHT = 16
CONNECTIONS = 8
WORKERS = (1, 2)


@dataclass
class Served:
    workers: int
    target: str
    pid: int
    log: Path
    load: Load = field(default_factory=Load)
    redis_cpu: float = 0.0
    client_cpu: float = 0.0  # this process's, driving the load

    store_failures: int = 0

    @property
    def decisions_per_second(self) -> float:
        return self.load.calls * ITEMS / self.load.seconds


def listeners(port: int) -> int:
    """Sockets listening on `port` (each worker has its own), from /proc/net."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                count += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port
    return count


@contextmanager
def serve(redis_url: str, workers: int, scratch: Path) -> Iterator[Served]:
    port = free_port()
    config = scratch / f"workers-{workers}.toml"
    config.write_text(CONFIG.replace("[server]", f'[server]\nredis_prefix = "bench{workers}:"'))
    log = scratch / f"workers-{workers}.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rescp", "serve", "--listen", f"127.0.0.1:{port}",
             "--http-listen", "off", "--store", redis_url, "--workers", str(workers),
             "--config", str(config), "--log-level", "warning"], stderr=err)
    target = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while listeners(port) < workers:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"--workers {workers} did not start: {log.read_text()}")
            time.sleep(0.05)
        with grpc.insecure_channel(target) as channel:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        yield Served(workers, target, proc.pid, log)
    finally:
        proc.terminate()
        proc.wait(20)


def _sender(channels: list[grpc.aio.Channel],
            payloads: list[bytes]) -> Callable[[int], Awaitable[object]]:
    calls = [channel.unary_unary(ALLOW_BATCH) for channel in channels]
    return lambda n: calls[n % len(calls)](payloads[n % len(payloads)])


async def _run(servers: list[Served], redis_pid: int, rounds: int, seconds: float) -> None:
    payloads = bodies(ITEMS)
    channels = {s.workers: [grpc.aio.insecure_channel(
        s.target, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(CONNECTIONS)]
        for s in servers}
    try:
        for group in channels.values():
            await asyncio.gather(*(channel.channel_ready() for channel in group))
        sends = {s.workers: _sender(channels[s.workers], payloads) for s in servers}
        for served in servers:  # warm-up
            await load(sends[served.workers], IN_FLIGHT, 0.5, served.pid, Load())
        for round_ in range(rounds):
            for served in servers if round_ % 2 == 0 else servers[::-1]:
                redis0, client0 = process_cpu(redis_pid), time.process_time()
                await load(sends[served.workers], IN_FLIGHT, seconds, served.pid, served.load)
                served.redis_cpu += process_cpu(redis_pid) - redis0
                served.client_cpu += time.process_time() - client0
    finally:
        for group in channels.values():
            for channel in group:
                await channel.close()


def measure(rounds: int, seconds: float) -> list[Served] | str:
    """The two servers' figures, or why they were not measured."""
    if REDIS_SERVER is None:
        return "redis-server is not installed"
    with (tempfile.TemporaryDirectory() as scratch, RedisServer() as redis, ExitStack() as stack):
        servers = [stack.enter_context(serve(redis.url, n, Path(scratch))) for n in WORKERS]
        asyncio.run(_run(servers, redis.pid, rounds, seconds))
        for served in servers:
            served.store_failures = served.log.read_text().count("redis store failing")
        return servers


def print_ratio(measured: list[Served] | str) -> None:
    name = "decisions/s, 2 vs 1 workers, Redis"
    if isinstance(measured, str):
        print(f"  {name:<38} skipped: {measured}")
        return
    one, two = measured
    print(f"  {name:<38} {two.decisions_per_second / one.decisions_per_second:5.2f}x  "
          f"[>= 1.5]  AllowBatch of {ITEMS}")


def print_table(measured: list[Served] | str) -> None:
    if isinstance(measured, str):
        return
    print(f"\n--workers on Redis: AllowBatch of {ITEMS}, {IN_FLIGHT} in flight over "
          f"{CONNECTIONS} connections")
    print(f"  {'':<11}{'decisions/s':>12}   CPU-s/s: {'server':>6}{'redis':>6}{'client':>7}"
          f"{'p50 ms':>8}{'p99 ms':>8}  store failures")
    for s in measured:
        per_second = [cpu / s.load.seconds for cpu in (s.load.cpu_seconds, s.redis_cpu,
                                                        s.client_cpu)]
        print(f"  {f'{s.workers} worker' + ('s' if s.workers > 1 else ''):<11}"
              f"{s.decisions_per_second:>12.0f}{'':>12}{per_second[0]:>6.2f}{per_second[1]:>6.2f}"
              f"{per_second[2]:>7.2f}{s.load.percentile(50):>8.1f}{s.load.percentile(99):>8.1f}"
              f"  {s.store_failures}")
