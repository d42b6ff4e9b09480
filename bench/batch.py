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
