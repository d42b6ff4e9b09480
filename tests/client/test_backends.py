"""The two hand-written backends behave alike: waiting for a key's background calls waits for
those started before, never for those started meanwhile (else steady traffic from other threads
or tasks would starve an Allow of its whole budget), and cancelling counts every call dropped."""

from __future__ import annotations

import asyncio
import threading
import time

import grpc

from rescp_client._async import _backend as async_backend
from rescp_client._proto import guard_pb2
from rescp_client._rpc import RECORD
from rescp_client._sync import _backend as sync_backend

DELAY = 0.4  # each Record takes this long on the fake server
LATER = 0.2  # a second Record starts this long after the first
REQUEST = guard_pb2.RecordRequest(breaker="b", outcome="OUTCOME_SUCCESS")


def _method(channel):
    return channel.unary_unary(RECORD.path, request_serializer=RECORD.request.SerializeToString,
                               response_deserializer=RECORD.response.FromString)


def test_sync_settle_and_flush_wait_only_for_earlier_calls(fake_server) -> None:
    slow = fake_server(record_delay=DELAY)
    with grpc.insecure_channel(slow.target) as channel:
        method, pending = _method(channel), sync_backend.Pending(10)
        for wait in (lambda: pending.settle("b", 5.0), lambda: pending.flush(5.0)):
            assert pending.start("b", method, REQUEST, 5.0)
            threading.Timer(LATER, pending.start, ("b", method, REQUEST, 5.0)).start()
            started = time.perf_counter()
            assert wait()
            assert DELAY * 0.8 < time.perf_counter() - started < DELAY + LATER * 0.7
            assert pending.flush(5.0) and len(pending) == 0
        assert pending.dropped == 0


def test_async_settle_and_flush_wait_only_for_earlier_calls(fake_server) -> None:
    slow = fake_server(record_delay=DELAY)

    async def main() -> None:
        async with grpc.aio.insecure_channel(slow.target) as channel:
            method, pending = _method(channel), async_backend.Pending(10)
            for wait in (lambda: pending.settle("b", 5.0), lambda: pending.flush(5.0)):
                assert pending.start("b", method, REQUEST, 5.0)
                asyncio.get_running_loop().call_later(
                    LATER, pending.start, "b", method, REQUEST, 5.0)
                started = time.perf_counter()
                assert await wait()
                assert DELAY * 0.8 < time.perf_counter() - started < DELAY + LATER * 0.7
                assert await pending.flush(5.0) and len(pending) == 0
            assert pending.dropped == 0

    asyncio.run(main())


def test_cancel_counts_every_call_dropped(fake_server) -> None:
    slow = fake_server(record_delay=10.0)
    with grpc.insecure_channel(slow.target) as channel:
        pending = sync_backend.Pending(10)
        for key in "abc":
            pending.start(key, _method(channel), REQUEST, 30.0)
        pending.cancel()
        assert (len(pending), pending.dropped) == (0, 3)

    async def main() -> None:
        async with grpc.aio.insecure_channel(slow.target) as channel:
            pending = async_backend.Pending(10)
            for key in "abc":
                pending.start(key, _method(channel), REQUEST, 30.0)
            await pending.cancel()
            assert (len(pending), pending.dropped) == (0, 3)

    asyncio.run(main())
