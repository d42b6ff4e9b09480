"""The worst requests a client can build under 64 KiB (4 MiB for the batch RPCs): each is
answered at once with a small, complete status, and never holds the event loop long enough to
delay anyone else."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import grpc
import pytest
from google.protobuf import duration_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rescp._proto import admin_pb2 as a
from rescp._proto import events_pb2 as e
from rescp._proto import guard_pb2 as g
from rescp.engine.ratelimit import MAX_SLIDING_REQUESTS
from rescp.errors import MAX_VIOLATIONS
from rescp.server.status import MAX_STATUS_BYTES
from rescp.testing import ServerThread
from tests.server.conftest import Stubs, details

STALL_BOUND = 0.5
"""The longest stall of the server's loop a test accepts: far above the 10 ms goal (a shared
CI machine can starve the loop's thread that long; the measured figure is in `make bench`),
far below the minute a quadratic validation of 60,000 entries took."""


def _watch(stubs: Stubs, request: e.WatchRequest) -> None:
    next(stubs.Watch(request, timeout=10))


def _health(stubs: Stubs, service: str) -> None:
    health_pb2_grpc.HealthStub(stubs.channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=10)


def _batch(stubs: Stubs, method: str, raw: bytes) -> None:
    stubs.channel.unary_unary(f"/rescp.v1.GuardService/{method}")(raw, timeout=10)


EMPTY_ITEMS = b"\x0a\x00" * 2_000_000
"""Two million empty items, 4 MB: a batch is refused past its field bound, unread beyond."""

HOSTILE: list[tuple[str, Callable[[Stubs], object]]] = [
    ("watch-60k-bad-types", lambda s: _watch(s, e.WatchRequest(types=[99] * 60_000))),
    ("watch-100-bad-types", lambda s: _watch(s, e.WatchRequest(types=[99] * 100))),
    ("feature-32k-empty-names", lambda s: s.PutFeature(a.PutFeatureRequest(
        feature=a.Feature(name="f", breakers=[""] * 32_000)), timeout=10)),
    ("feature-1000-bad-names", lambda s: s.PutFeature(a.PutFeatureRequest(
        feature=a.Feature(name="f", breakers=["-" * 60] * 1000)), timeout=10)),
    ("feature-40-bad-names", lambda s: s.PutFeature(a.PutFeatureRequest(
        feature=a.Feature(name="f", breakers=["-"] * 40)), timeout=10)),
    ("report-6k-context-keys", lambda s: s.Report(g.ReportRequest(
        error_type="E", context={f"{i}": "" for i in range(6_000)}), timeout=10)),
    ("health-long-service", lambda s: _health(s, "x" * 60_000)),
    ("health-3000-service", lambda s: _health(s, "x" * 3_000)),
    ("breaker-long-name", lambda s: s.GetBreaker(a.GetBreakerRequest(name="-" * 60_000),
                                                 timeout=10)),
    ("allow-batch-2m-empty-items", lambda s: _batch(s, "AllowBatch", EMPTY_ITEMS)),
    ("record-batch-2m-empty-items", lambda s: _batch(s, "RecordBatch", EMPTY_ITEMS)),
    ("allow-batch-200k-byte-varint",
     lambda s: _batch(s, "AllowBatch", b"\x0a" + b"\xff" * 200_000)),
    ("record-batch-unplain-4mb", lambda s: _batch(s, "RecordBatch", b"\x0b\x0c" + EMPTY_ITEMS)),
]


def _status_bytes(error: grpc.RpcError) -> int:
    """What the status costs in headers: its message and its details, base64 encoded."""
    details_bin = dict(error.trailing_metadata() or ()).get(  # type: ignore[attr-defined]
        "grpc-status-details-bin", b"")
    assert isinstance(details_bin, bytes)
    message: str = error.details()  # type: ignore[attr-defined]
    return len(message.encode()) + 4 * -(-len(details_bin) // 3)


@pytest.mark.parametrize(("name", "send"), HOSTILE, ids=[n for n, _ in HOSTILE])
def test_hostile_request_gets_a_small_complete_status(
        stubs: Stubs, name: str, send: Callable[[Stubs], object]) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        send(stubs)
    error = caught.value
    assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT,  # type: ignore[attr-defined]
                            grpc.StatusCode.NOT_FOUND)
    assert details(error)["ErrorInfo"].domain == "rescp"
    assert _status_bytes(error) < MAX_STATUS_BYTES


def test_many_violations_are_capped_and_counted(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        _watch(stubs, e.WatchRequest(types=[1] + [99] * 63))
    violations = details(caught.value)["BadRequest"].field_violations
    assert 0 < len(violations) <= MAX_VIOLATIONS
    assert violations[0].field == "types[1]"
    shown = len(violations)
    assert caught.value.details().endswith(  # type: ignore[attr-defined]
        f"and {63 - shown} more")


async def _longest_stall(stop: asyncio.Event) -> float:
    """The longest the loop this runs on went without running it (a 1 ms heartbeat)."""
    longest, last = 0.0, time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    return longest


def test_no_hostile_request_stalls_the_loop(server: ServerThread, stubs: Stubs) -> None:
    stop = asyncio.Event()
    loop = server.call(_current_loop())
    heartbeat = asyncio.run_coroutine_threadsafe(_longest_stall(stop), loop)
    started = time.perf_counter()
    for _, send in HOSTILE:
        with pytest.raises(grpc.RpcError):
            send(stubs)
        assert stubs.Allow(g.AllowRequest(breaker="b", limit="api", key="k"), timeout=5).allowed
    elapsed = time.perf_counter() - started
    loop.call_soon_threadsafe(stop.set)
    assert heartbeat.result(10) < STALL_BOUND
    assert elapsed < STALL_BOUND * len(HOSTILE)


async def _current_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_sliding_window_over_its_cap_points_to_the_token_bucket(stubs: Stubs) -> None:
    window = duration_pb2.Duration(seconds=7 * 24 * 3600)
    with pytest.raises(grpc.RpcError) as caught:
        stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
            name="unlimited", max_requests=1_000_000_000, window=window)))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "TOKEN_BUCKET" in caught.value.details()  # type: ignore[attr-defined]
    assert {v.field for v in details(caught.value)["BadRequest"].field_violations} == {
        "limit.max_requests"}
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name="unlimited", max_requests=1_000_000_000, window=window, algorithm=2)))
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name="capped", max_requests=MAX_SLIDING_REQUESTS, window=window)))
