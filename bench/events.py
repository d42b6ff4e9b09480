"""Watch: delivery rate to one subscriber vs a bare push, fan-out to 100, and latency.

- one subscriber: Watch replays N events filled into the log (256 per message, as it batches a
  waiting backlog) vs a bare server-streaming push of the same N serialized events, 256 per
  message, on the same server; both clients decode every message.
- fan-out: N events filled at once, delivered to each of 100 subscribers.
- latency: 100 subscribers watch breaker transitions while an admin flips a breaker every
  20 ms; each delivery's latency is its arrival minus the event's own time (one machine, one
  clock), so it covers the server's fan-out, the network stack and the client's decoding.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import time
from dataclasses import dataclass

import grpc

from rescp._proto import admin_pb2, events_pb2
from rescp.engine.breaker import Transition
from rescp.enums import BreakerState
from rescp.events import EventLog
from rescp.server.events import framed

WATCH = "/rescp.v1.EventService/Watch"
PUSH = "/rescp.bench.Bare/Push"
FILL = "/rescp.bench.Bare/Fill"
TRANSITION = "/rescp.v1.AdminService/TransitionBreaker"


@dataclass
class Rate:
    events: int = 0
    seconds: float = 0.0
    messages: int = 0

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


async def fill(channel: grpc.aio.Channel, count: int) -> int:
    """Append `count` events to the log; the last sequence."""
    reply = await channel.unary_unary(FILL)(struct.pack(">I", count))
    return int(struct.unpack(">Q", reply)[0])


async def replay(channel: grpc.aio.Channel, after: int, count: int, into: Rate) -> None:
    """Watch from `after` until `count` events arrived."""
    watch = channel.unary_stream(
        WATCH, request_serializer=events_pb2.WatchRequest.SerializeToString,
        response_deserializer=events_pb2.WatchResponse.FromString)
    started, got = time.perf_counter(), 0
    call = watch(events_pb2.WatchRequest(after_sequence=after))
    async for response in call:
        got += len(response.events)
        into.messages += 1
        if got >= count:
            break
    into.seconds += time.perf_counter() - started
    into.events += got
    call.cancel()


async def push(channel: grpc.aio.Channel, into: Rate) -> None:
    """The bare push of the events the last fill made, decoded like Watch's responses."""
    call = channel.unary_stream(PUSH, response_deserializer=events_pb2.WatchResponse.FromString)
    started = time.perf_counter()
    async for response in call(b""):
        into.messages += 1
        into.events += len(response.events)
    into.seconds += time.perf_counter() - started


async def one_subscriber(target: str, count: int, rounds: int) -> tuple[Rate, Rate]:
    """(rescp Watch, bare push) delivery rates, alternating rounds."""
    watched, pushed = Rate(), Rate()
    async with grpc.aio.insecure_channel(target) as channel:
        for round_ in range(rounds + 1):  # the first round warms up both
            last = await fill(channel, count)
            sink = (watched, pushed) if round_ else (Rate(), Rate())
            await replay(channel, last - count, count, sink[0])
            await push(channel, sink[1])
    return watched, pushed


async def _subscribers(channels: list[grpc.aio.Channel], count: int,
                       request: events_pb2.WatchRequest) -> list[grpc.aio.UnaryStreamCall]:  # type: ignore[type-arg]
    calls = []
    for i in range(count):
        watch = channels[i % len(channels)].unary_stream(
            WATCH, request_serializer=events_pb2.WatchRequest.SerializeToString,
            response_deserializer=events_pb2.WatchResponse.FromString)
        calls.append(watch(request))
    await asyncio.gather(*(c.initial_metadata() for c in calls))
    return calls


async def fan_out(target: str, subscribers: int, count: int) -> Rate:
    """Deliveries per second of `count` events to each of `subscribers`."""
    channels = [grpc.aio.insecure_channel(target) for _ in range(4)]
    try:
        calls = await _subscribers(channels, subscribers, events_pb2.WatchRequest())
        started = time.perf_counter()
        last = await fill(channels[0], count)

        async def drain(call: grpc.aio.UnaryStreamCall) -> int:  # type: ignore[type-arg]
            got = 0
            async for response in call:
                got += len(response.events)
                if response.events[-1].sequence >= last:
                    break
            call.cancel()
            return got

        delivered = sum(await asyncio.gather(*(drain(c) for c in calls)))
        return Rate(delivered, time.perf_counter() - started)
    finally:
        for channel in channels:
            await channel.close()


async def latency(target: str, subscribers: int, flips: int) -> list[float]:
    """Transition-to-delivery latencies (seconds) across all subscribers."""
    channels = [grpc.aio.insecure_channel(target) for _ in range(4)]
    try:
        calls = await _subscribers(channels, subscribers, events_pb2.WatchRequest(types=[1]))
        samples: list[float] = []

        async def follow(call: grpc.aio.UnaryStreamCall) -> None:  # type: ignore[type-arg]
            seen = 0
            async for response in call:
                arrived = time.time()
                samples.extend(arrived - e.time.ToNanoseconds() / 1e9 for e in response.events)
                seen += len(response.events)
                if seen >= flips:
                    break
            call.cancel()

        followers = [asyncio.create_task(follow(c)) for c in calls]
        transition = channels[0].unary_unary(
            TRANSITION, request_serializer=admin_pb2.TransitionBreakerRequest.SerializeToString,
            response_deserializer=admin_pb2.TransitionBreakerResponse.FromString)
        for i in range(flips):
            await transition(admin_pb2.TransitionBreakerRequest(
                name="bench", state=4 if i % 2 == 0 else 1))
            await asyncio.sleep(0.02)
        await asyncio.wait_for(asyncio.gather(*followers), timeout=30)
        return samples
    finally:
        for channel in channels:
            await channel.close()


def percentile_ms(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] * 1e3


def encode_us(count: int = 20_000) -> float:
    """Microseconds to encode one breaker transition for Watch, paid once per event when it is
    appended (by the operation that made it), never per subscriber."""
    log = EventLog(max_events=count, max_lag=count, encode=framed)
    now = time.time()
    transition = Transition("bench", BreakerState.CLOSED, BreakerState.OPEN, "bench", now)
    started = time.perf_counter()
    for _ in range(count):
        log.append(transition, now)
    return (time.perf_counter() - started) / count * 1e6
