"""The SQLite and Redis stores against the memory store: the same calls to two benchmark
servers that differ only in `--store`, alternating between them round by round (ABBA) so drift
on a shared machine hits both alike.

- Report at 64 in flight: SQLite answers only once the record is committed (fsync'd, WAL,
  synchronous=FULL); group commit puts every waiting Report into one transaction. Redis answers
  once its script ran (one round trip; Redis's own persistence settings apply).
- Allow at 64 in flight: decided in memory by SQLite, which writes nothing for it; on Redis one
  Lua script per Allow (a round trip to a redis-server on the same machine, sharing its cores).
"""

from __future__ import annotations

import grpc

from bench.rpc import ALLOW, Load, Side, alternate, payloads
from rescp._proto import guard_pb2

REPORT = "/rescp.v1.GuardService/Report"


def reports() -> list[bytes]:
    return [guard_pb2.ReportRequest(operation="bench", error_type="TimeoutError",
                                    message=f"upstream timed out after {i} ms",
                                    user_id=f"user-{i}").SerializeToString()
            for i in range(100)]


async def compare(memory: tuple[str, int], other: tuple[str, int], concurrency: int,
                  rounds: int, seconds: float) -> dict[str, tuple[Load, Load]]:
    """{"Report": (memory, other), "Allow": (memory, other)}: (target, pid) of each server."""
    async with (grpc.aio.insecure_channel(memory[0]) as on_memory,
                grpc.aio.insecure_channel(other[0]) as on_other):
        results = {}
        for name, path, bodies in (("Report", REPORT, reports()), ("Allow", ALLOW, payloads())):
            results[name] = await alternate(Side(on_memory, path, memory[1], bodies),
                                            Side(on_other, path, other[1], bodies),
                                            concurrency, rounds, seconds)
        return results
