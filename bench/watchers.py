"""1,000 watchers: Allow's latency with them against without, and their delivery latency.

An admin flips a breaker 20 times a second (each flip is 1 to 3 events: the transition, and
the degradation and health changes it makes) while a prober sends Allows one after another.
The watchers live in a process of their own (`python -m bench.watchers TARGET COUNT SECONDS`),
so their decoding does not share the prober's interpreter; each delivery's latency is its
arrival minus the event's own time (one machine, one clock). The same probe runs without
watchers, alternating with the watched one (`compare`), so the ratio is what the watchers cost
the hot path.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import grpc

from rescp._proto import admin_pb2, events_pb2, guard_pb2

WATCH = "/rescp.v1.EventService/Watch"
ALLOW = "/rescp.v1.GuardService/Allow"
TRANSITION = "/rescp.v1.AdminService/TransitionBreaker"
FLIPS_PER_SECOND = 20


@dataclass
class Probe:
    allow: list[float]  # seconds per Allow
    deliveries: list[float]  # seconds from an event to its arrival at a watcher
    watchers: int
    complete: int  # watchers that received every event


def p99_ms(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] * 1e3 if len(samples) > 1 else 0.0


async def _flip(channel: grpc.aio.Channel, seconds: float) -> int:
    transition = channel.unary_unary(
        TRANSITION, request_serializer=admin_pb2.TransitionBreakerRequest.SerializeToString,
        response_deserializer=admin_pb2.TransitionBreakerResponse.FromString)
    flips, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        await transition(admin_pb2.TransitionBreakerRequest(
            name="bench", state=4 if flips % 2 == 0 else 1))
        flips += 1
        await asyncio.sleep(started + flips / FLIPS_PER_SECOND - time.perf_counter())
    return flips


async def _probe(target: str, seconds: float) -> list[float]:
    """Allow latencies while the breaker flips; the flips end closed (an even count)."""
    async with grpc.aio.insecure_channel(target) as channel:
        allow = channel.unary_unary(ALLOW)
        request = guard_pb2.AllowRequest(breaker="other", limit="bench", key="k")
        raw = request.SerializeToString()
        samples: list[float] = []
        flipping = asyncio.ensure_future(_flip(channel, seconds))
        while not flipping.done():
            started = time.perf_counter()
            await allow(raw)
            samples.append(time.perf_counter() - started)
            await asyncio.sleep(0.002)
        await flipping
        return samples


def measure(target: str, watchers: int, seconds: float) -> Probe:
    """The probe with `watchers` watching in another process (0: none)."""
    if not watchers:
        return Probe(asyncio.run(_probe(target, seconds)), [], 0, 0)
    child = subprocess.Popen([sys.executable, "-m", "bench.watchers", target, str(watchers),
                              str(seconds + 5)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        allow = asyncio.run(_probe(target, seconds))
        result = json.loads(child.stdout.readline())
    finally:
        child.wait(60)
    return Probe(allow, result["deliveries"], watchers, result["complete"])


def compare(target: str, watchers: int, seconds: float, pairs: int) -> tuple[Probe, Probe]:
    """The probe alone and with `watchers`, alternating `pairs` times, each side's samples
    pooled: the machine's drift over the run (this VM's Allow p99 alone moves between 2.5 and
    16 ms from minute to minute) lands on both sides instead of on whichever ran second."""
    alone, crowd = Probe([], [], 0, 0), Probe([], [], 0, 0)
    for _ in range(pairs):
        for pooled, count in ((alone, 0), (crowd, watchers)):
            probe = measure(target, count, seconds)
            pooled.allow += probe.allow
            pooled.deliveries += probe.deliveries
            pooled.watchers += probe.watchers
            pooled.complete += probe.complete
    return alone, crowd


async def _watch_all(target: str, count: int, seconds: float) -> None:
    channels = [grpc.aio.insecure_channel(target) for _ in range(8)]
    calls = [channels[i % 8].unary_stream(
        WATCH, request_serializer=events_pb2.WatchRequest.SerializeToString,
        response_deserializer=events_pb2.WatchResponse.FromString)(events_pb2.WatchRequest())
        for i in range(count)]
    await asyncio.gather(*(c.initial_metadata() for c in calls))
    print("ready", flush=True)
    deliveries: list[float] = []
    sequences: list[list[int]] = [[] for _ in calls]

    async def follow(i: int, call: grpc.aio.UnaryStreamCall) -> None:  # type: ignore[type-arg]
        async for response in call:
            arrived = time.time()
            for event in response.events:
                deliveries.append(arrived - event.time.ToNanoseconds() / 1e9)
                sequences[i].append(event.sequence)

    followers = [asyncio.ensure_future(follow(i, c)) for i, c in enumerate(calls)]
    await asyncio.sleep(seconds)
    for call in calls:
        call.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    for channel in channels:
        await channel.close()
    longest = max(sequences, key=len)
    complete = sum(1 for s in sequences if s == longest)
    print(json.dumps({"deliveries": deliveries, "complete": complete}), flush=True)


if __name__ == "__main__":
    asyncio.run(_watch_all(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
