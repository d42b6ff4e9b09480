"""`make bench`: every benchmark in one run, ratios first, then the details behind them.

Usage: python -m bench [--quick]   (--quick: shorter rounds, for a smoke run)
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench import (
    batch,
    clients,
    engines,
    events,
    hostile,
    http,
    local,
    rpc,
    stores,
    watchers,
    workers,
)
from rescp.testing import free_port


@contextmanager
def bench_server(store: str = "memory") -> Iterator[tuple[str, str, int]]:
    """The benchmark server in its own process; yields (target, HTTP URL, pid)."""
    port, http_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.server", str(port), str(http_port),
                             store])
    target = f"127.0.0.1:{port}"
    try:
        with grpc.insecure_channel(target) as channel:
            grpc.channel_ready_future(channel).result(timeout=20)
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        yield target, f"http://127.0.0.1:{http_port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def redis_compared(rounds: int, seconds: float) -> dict[str, tuple[rpc.Load, rpc.Load]] | str:
    """Allow and Report on the Redis store against memory (a redis-server of its own, on the
    same machine), or why not."""
    from tests.redis_server import REDIS_SERVER, RedisServer

    if REDIS_SERVER is None:
        return "redis-server is not installed"
    with (RedisServer() as redis, bench_server() as (memory, _, memory_pid),
          bench_server(redis.url) as (on_redis, _, redis_pid)):
        return asyncio.run(stores.compare((memory, memory_pid), (on_redis, redis_pid), 64,
                                          rounds, seconds))


def machine() -> str:
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import os
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
            f"grpcio {grpc.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short rounds (smoke run)")
    args = parser.parse_args()
    seconds, rounds, ops = (0.25, 4, 50_000) if args.quick else (1.0, 12, 200_000)
    replayed, flips = (5_000, 50) if args.quick else (20_000, 150)
    watched_for, watched_pairs = (3.0, 1) if args.quick else (4.0, 3)

    print(f"rescp bench, {time.strftime('%Y-%m-%d %H:%M')}: {machine()}", flush=True)
    unary: dict[int, tuple[rpc.Load, rpc.Load]] = {}
    with bench_server() as (target, http_url, pid):
        for concurrency in (16, 64):
            unary[concurrency] = asyncio.run(rpc.compare(target, pid, concurrency, rounds, seconds))
        shapes = asyncio.run(batch.compare(target, pid, rounds // 2, seconds))
        watched, pushed = asyncio.run(events.one_subscriber(target, replayed, 3))
        fanned = asyncio.run(events.fan_out(target, 100, replayed // 10))
        delays = asyncio.run(events.latency(target, 100, flips))
        alone, crowd = watchers.compare(target, 1_000, watched_for, watched_pairs)
        stall, stall_name = hostile.worst_round_trip(target)
        over_grpc, over_http = asyncio.run(http.connect_vs_grpc(
            target, http_url, pid, 16, max(rounds // 2, 2), seconds))
        py_client = clients.python(target, rounds // 2, seconds)
        go_client = clients.go(target, rounds // 2, seconds)
        node_client = clients.node(target, rounds // 2, seconds)
        costs = local.costs(target, pid)
        trips = asyncio.run(local.trip_to_refusal(target, 100, flips // 15))
    with (tempfile.TemporaryDirectory() as data, bench_server() as (memory, _, memory_pid),
          bench_server(f"sqlite:{data}/rescp.db") as (sqlite, _, sqlite_pid)):
        by_store = asyncio.run(stores.compare((memory, memory_pid), (sqlite, sqlite_pid), 64,
                                              rounds, seconds))
    on_redis = redis_compared(rounds, seconds)
    on_workers = workers.measure(rounds // 2, seconds)
    pairs = engines.measure(ops)
    cost = http.metrics_cost(ops)
    encode = events.encode_us()

    print("\nratios (higher is better) [target]")
    for concurrency, (echo, allow) in unary.items():
        print(f"  Allow vs Echo throughput, {concurrency:>2} in flight   "
              f"{allow.throughput / echo.throughput:5.2f}x  [>= 0.9]")
    for name, target in (("Report", 0.7), ("Allow", 0.95)):
        on_memory, on_sqlite = by_store[name]
        print(f"  {name + ' sqlite vs memory, 64 in flight':<38} "
              f"{on_sqlite.throughput / on_memory.throughput:5.2f}x  [>= {target}]")
    if isinstance(on_redis, str):
        print(f"  {'redis vs memory':<38} skipped: {on_redis}")
    else:
        for name, target in (("Allow", ">= 0.8"), ("Report", "informational")):
            on_memory, on_other = on_redis[name]
            print(f"  {name + ' redis vs memory, 64 in flight':<38} "
                  f"{on_other.throughput / on_memory.throughput:5.2f}x  [{target}]")
    for pair in pairs:
        print(f"  {pair.name:<38} {pair.ratio:5.2f}x  [>= 3]  vs {pair.theirs}")
    print(f"  {'Watch events/s, 1 subscriber, vs push':<38} "
          f"{watched.per_second / pushed.per_second:5.2f}x  [>= 0.8]")
    print(f"  {'transition -> delivery p99, 100 subs':<38} "
          f"{events.percentile_ms(delays, 99):5.1f} ms [<= 50 ms]")
    print(f"  {'Allow p99, 1000 watchers vs none':<38} "
          f"{watchers.p99_ms(crowd.allow) / watchers.p99_ms(alone.allow):5.2f}x  [<= 2]")
    print(f"  {'event -> delivery p99, 1000 watchers':<38} "
          f"{watchers.p99_ms(crowd.deliveries):5.0f} ms [<= 1000 ms]")
    print(f"  {'worst request under 64 KiB, round trip':<38} {stall * 1e3:5.1f} ms [<= 10 ms]")
    batch.print_ratios(shapes)
    workers.print_ratio(on_workers)
    local.print_ratios(costs, trips)
    print(f"  {'Connect JSON Allow vs gRPC Allow, 16':<38} "
          f"{over_http.throughput / over_grpc.throughput:5.2f}x  [informational]")
    allow_cpu = unary[16][1].cpu_us_per_call
    print(f"  {'metrics share of an Allow server CPU':<38} "
          f"{cost.us_per_allow / allow_cpu * 100:5.2f}%  [<= 2%]")

    measured = {"python": py_client, "go": go_client, "node": node_client}
    for overhead in measured.values():
        if isinstance(overhead, clients.Overhead):
            print(f"  {overhead.client + ' guard vs bare Allow+Record':<38} "
                  f"{overhead.efficiency:5.2f}x  [>= 0.9]")
    for other, name in ((go_client, "Go"), (node_client, "TS")):
        if isinstance(other, clients.Overhead):
            print(f"  {'guarded no-op, ' + name + ' vs Python client':<38} "
                  f"{py_client.guarded_us / other.guarded_us:5.2f}x")

    print("\nguarded no-op call, one in flight, median microseconds per call")
    for name, overhead in measured.items():
        if isinstance(overhead, clients.Overhead):
            print(f"  {overhead.client:<8} guarded {overhead.guarded_us:8.0f}   bare Allow+Record "
                  f"{overhead.bare_us:8.0f}   ({overhead.calls} calls)")
        else:
            print(f"  {name:<8} skipped: {overhead}")

    print("\nunary RPCs, client and server sharing the machine")
    print(f"  {'':<22}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'server CPU us/call':>20}")
    for concurrency, loads in unary.items():
        for name, load in zip(("Echo", "Allow"), loads, strict=True):
            print(f"  {name + f', {concurrency} in flight':<22}{load.throughput:>10.0f}"
                  f"{load.percentile(50):>9.2f}{load.percentile(99):>9.2f}"
                  f"{load.cpu_us_per_call:>20.0f}")
    batch.print_table(shapes)
    workers.print_table(on_workers)
    local.print_table(costs, trips)
    compared = [("sqlite", by_store)] + ([] if isinstance(on_redis, str) else [("redis", on_redis)])
    for other, results in compared:
        for name, (on_memory, on_other) in results.items():
            for store, load in (("memory", on_memory), (other, on_other)):
                print(f"  {f'{name}, {store}, 64 in flight':<22}{load.throughput:>10.0f}"
                      f"{load.percentile(50):>9.2f}{load.percentile(99):>9.2f}"
                      f"{load.cpu_us_per_call:>20.0f}")
    print("\nevents")
    print(f"  Watch replay, 1 subscriber   {watched.per_second:>9.0f} events/s in "
          f"{watched.messages} messages ({watched.events / watched.messages:.0f} events each)")
    print(f"  bare push, 1 subscriber      {pushed.per_second:>9.0f} events/s in "
          f"{pushed.messages} messages ({pushed.events / pushed.messages:.0f} events each)")
    print(f"  fan-out to 100 subscribers   {fanned.per_second:>9.0f} deliveries/s "
          f"({fanned.events} deliveries)")
    print(f"  transition -> delivery, 100 subscribers: "
          f"p50 {events.percentile_ms(delays, 50):.1f} ms, "
          f"p99 {events.percentile_ms(delays, 99):.1f} ms over {len(delays)} deliveries")
    print(f"  1000 watchers, {watchers.FLIPS_PER_SECOND} flips/s: Allow p99 "
          f"{watchers.p99_ms(crowd.allow):.1f} ms ({len(crowd.allow)} calls) vs "
          f"{watchers.p99_ms(alone.allow):.1f} ms without watchers; {crowd.complete} of "
          f"{crowd.watchers} watchers got every event, {len(crowd.deliveries)} deliveries")
    print(f"  event encoding, once per event at append: {encode:.1f} us")
    print(f"  slowest hostile request: {stall_name}, {stall * 1e3:.1f} ms")
    print("\nHTTP, 16 in flight (16 keep-alive connections, a minimal asyncio client)")
    for name, load in (("gRPC Allow", over_grpc), ("Connect JSON Allow", over_http)):
        print(f"  {name:<22}{load.throughput:>10.0f} calls/s{load.percentile(50):>9.2f} ms p50"
              f"{load.percentile(99):>9.2f} ms p99{load.cpu_us_per_call:>8.0f} us server CPU")
    print(f"  metrics per Allow (gRPC observer + plane counters): {cost.us_per_allow:.2f} us")
    print("\nengines in-process, microseconds per operation")
    for pair in pairs:
        print(f"  {pair.name:<38} rescp {pair.ours_us:7.3f}   {pair.theirs} {pair.theirs_us:7.3f}")


if __name__ == "__main__":
    main()
