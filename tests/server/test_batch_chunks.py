"""A RecordBatch of large reports is applied a chunk at a time, the event loop free between
chunks: 4 MiB of the largest reports took ~70 ms of the loop in one go."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from rescp._proto import enums_pb2 as en
from rescp._proto import guard_pb2 as g
from rescp.clock import SystemClock
from rescp.engine.breaker import BreakerConfig
from rescp.events import EventLog
from rescp.plane import ControlPlane
from rescp.server.batch import RECORD_CHUNK_BYTES, AllowItems, BatchServicer
from rescp.store.memory import MemoryStore

T = TypeVar("T")


async def _servicer() -> BatchServicer:
    clock = SystemClock()
    plane = ControlPlane(MemoryStore(EventLog(), clock), clock)
    for i in range(10):
        await plane.put_breaker(f"b{i}", BreakerConfig())
    return BatchServicer(plane, AllowItems())


async def _with_turns(work: Awaitable[T]) -> tuple[T, int]:
    """`work`'s result, and how many times another task got the loop while it ran."""
    turns, done = 0, False

    async def other() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.ensure_future(other())
    await asyncio.sleep(0)
    before = turns
    result = await work
    done = True
    await counter
    return result, turns - before


def _largest_reports(count: int) -> bytes:
    report = g.ReportRequest(
        error_type="TimeoutError", operation="op",
        message=("password=hunter2 user@example.com 10.0.0.1 " * 100)[:4096],
        context={f"k{j}": "v" * 100 for j in range(64)})
    return g.RecordBatchRequest(items=[
        g.RecordRequest(breaker=f"b{i % 10}", outcome=en.OUTCOME_FAILURE, error=report)
        for i in range(count)]).SerializeToString()


def test_a_large_record_batch_lets_the_loop_run_between_chunks() -> None:
    raw = _largest_reports(370)
    assert len(raw) > 4_000_000

    async def run() -> tuple[bytes, int]:
        servicer = await _servicer()
        return await _with_turns(servicer.methods()["RecordBatch"].serve_bytes()(raw))

    answer, turns = asyncio.run(run())
    assert RECORD_CHUNK_BYTES <= 256 * 1024
    assert turns >= 14  # 4.1 MB in chunks of 256 KiB: 16 chunks, 15 turns between them
    items = g.RecordBatchResponse.FromString(answer).items
    assert len(items) == 370
    assert all(item.HasField("response") and item.response.error.error_type == "TimeoutError"
               for item in items)
    assert "hunter2" not in items[-1].response.error.message


def test_a_small_record_batch_is_applied_in_one_go() -> None:
    raw = _largest_reports(3)

    async def run() -> tuple[bytes, int]:
        servicer = await _servicer()
        return await _with_turns(servicer.methods()["RecordBatch"].serve_bytes()(raw))

    answer, turns = asyncio.run(run())
    assert turns == 0
    assert len(g.RecordBatchResponse.FromString(answer).items) == 3
