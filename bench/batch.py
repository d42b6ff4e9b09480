"""Decisions per server CPU-second: unary Allow against AllowBatch of 10 and 100 items.

Every decision is the same work (a breaker and a sliding-window limit over 1,000 keys), sent
one per RPC or many per RPC, by the same grpc.aio client with 16 calls in flight; the server's
CPU is read from /proc. Rounds alternate the three shapes so drift hits them alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from bench.rpc import ALLOW, KEYS, Load, drive
from rescp._proto import guard_pb2

ALLOW_BATCH = "/rescp.v1.GuardService/AllowBatch"
SIZES = (1, 10, 100)
IN_FLIGHT = 16


@dataclass
class Shape:
    items: int
    load: Load

    @property
    def decisions_per_cpu_second(self) -> float:
        return self.load.calls * self.items / self.load.cpu_seconds

    @property
    def decisions_per_second(self) -> float:
        return self.load.calls * self.items / self.load.seconds


def bodies(items: int, breaker: str = "bench", limit: str = "bench") -> list[bytes]:
    """Pre-serialized requests: unary AllowRequests for 1, AllowBatchRequests otherwise."""
    requests = [guard_pb2.AllowRequest(breaker=breaker, limit=limit, key=f"user-{i}")
                for i in range(KEYS)]
    if items == 1:
        return [r.SerializeToString() for r in requests]
    return [guard_pb2.AllowBatchRequest(items=[requests[(start + i) % KEYS]
                                               for i in range(items)]).SerializeToString()
            for start in range(0, KEYS, items)]


async def compare(target: str, server_pid: int, rounds: int, seconds: float) -> list[Shape]:
    shapes = [Shape(items, Load()) for items in SIZES]
    payloads = {shape.items: bodies(shape.items) for shape in shapes}
    async with grpc.aio.insecure_channel(target) as channel:
        for round_ in range(rounds + 1):
            for shape in shapes if round_ % 2 == 0 else shapes[::-1]:
                path = ALLOW if shape.items == 1 else ALLOW_BATCH
                into = shape.load if round_ else Load()  # round 0 warms up
                await drive(channel, path, IN_FLIGHT, seconds, server_pid, into,
                            payloads[shape.items])
    return shapes


def print_ratios(shapes: list[Shape]) -> None:
    unary = shapes[0].decisions_per_cpu_second
    for shape in shapes[1:]:
        print(f"  {f'AllowBatch of {shape.items} vs unary, per CPU-s':<38} "
              f"{shape.decisions_per_cpu_second / unary:5.1f}x  [>= 40 at 100]")
    print(f"  {'AllowBatch of 100: decisions/CPU-s':<38} "
          f"{shapes[-1].decisions_per_cpu_second:7.0f}  [>= 100,000]")


def print_table(shapes: list[Shape]) -> None:
    print(f"\ndecisions, {IN_FLIGHT} calls in flight")
    print(f"  {'':<22}{'decisions/s':>12}{'per server CPU-s':>18}{'CPU us/call':>13}")
    for shape in shapes:
        name = "unary Allow" if shape.items == 1 else f"AllowBatch of {shape.items}"
        print(f"  {name:<22}{shape.decisions_per_second:>12.0f}"
              f"{shape.decisions_per_cpu_second:>18.0f}{shape.load.cpu_us_per_call:>13.0f}")
