"""The worst requests a client can build under 64 KiB, each timed on its own: its round trip
bounds how long it can have held the server's event loop (the goal is 10 ms). The requests
are those of tests/server/test_hostile_requests.py: 60,000 bad Watch types, 32,000 empty
feature names, 1,000 bad names, 6,000 report context keys, a 60,000-character health service
and breaker name."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2

from rescp._proto import admin_pb2 as a
from rescp._proto import events_pb2 as e
from rescp._proto import guard_pb2 as g

REQUESTS: list[tuple[str, str, Message]] = [
    ("/rescp.v1.EventService/Watch", "stream", e.WatchRequest(types=[99] * 60_000)),
    ("/rescp.v1.AdminService/PutFeature", "unary",
     a.PutFeatureRequest(feature=a.Feature(name="f", breakers=[""] * 32_000))),
    ("/rescp.v1.AdminService/PutFeature", "unary",
     a.PutFeatureRequest(feature=a.Feature(name="f", breakers=["-" * 60] * 1000))),
    ("/rescp.v1.GuardService/Report", "unary",
     g.ReportRequest(error_type="E", context={f"{i}": "" for i in range(6_000)})),
    ("/grpc.health.v1.Health/Check", "unary", health_pb2.HealthCheckRequest(service="x" * 60_000)),
    ("/rescp.v1.AdminService/GetBreaker", "unary", a.GetBreakerRequest(name="-" * 60_000)),
]


def worst_round_trip(target: str, tries: int = 5) -> tuple[float, str]:
    """The slowest of the hostile requests (each its fastest of `tries`), in seconds."""
    worst, name = 0.0, ""
    with grpc.insecure_channel(target) as channel:
        for path, kind, request in REQUESTS:
            raw = request.SerializeToString()
            call: Callable[[bytes], object] = (
                channel.unary_stream(path) if kind == "stream" else channel.unary_unary(path))
            best = float("inf")
            for _ in range(tries):
                started = time.perf_counter()
                try:
                    result = call(raw)
                    if kind == "stream":
                        next(iter(result))  # type: ignore[call-overload]
                except grpc.RpcError:
                    pass  # refused, as it must be
                best = min(best, time.perf_counter() - started)
            if best > worst:
                worst, name = best, f"{path.rsplit('/', 1)[1]} ({len(raw)} B)"
    return worst, name
