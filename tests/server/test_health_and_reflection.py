"""grpc.health.v1 (Check and Watch, per breaker) and server reflection, over real gRPC."""

from __future__ import annotations

import queue
import threading
import time

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from rescp._proto import admin_pb2 as a
from rescp._proto import guard_pb2 as g
from rescp.testing import ServerThread
from tests.server.conftest import Stubs

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


@pytest.fixture
def health(server: ServerThread) -> health_pb2_grpc.HealthStub:
    channel = grpc.insecure_channel(server.target)
    return health_pb2_grpc.HealthStub(channel)


def check(health: health_pb2_grpc.HealthStub, service: str) -> int:
    return health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


@pytest.mark.parametrize("service", ["", "rescp.v1.GuardService", "rescp.v1.AdminService",
                                     "rescp.v1.EventService", "breaker/dydx_api"])
def test_check_serving(health: health_pb2_grpc.HealthStub, service: str) -> None:
    assert check(health, service) == SERVING


def test_check_unknown_is_not_found(health: health_pb2_grpc.HealthStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        check(health, "breaker/never-seen")
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]


def test_breaker_status_follows_its_state(health: health_pb2_grpc.HealthStub,
                                          stubs: Stubs) -> None:
    stubs.Allow(g.AllowRequest(breaker="created-by-allow"))
    assert check(health, "breaker/created-by-allow") == SERVING
    for state, expected in ((4, NOT_SERVING), (5, SERVING), (1, SERVING)):
        stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api", state=state))
        assert check(health, "breaker/dydx_api") == expected
    stubs.DeleteBreaker(a.DeleteBreakerRequest(name="dydx_api"))
    with pytest.raises(grpc.RpcError):
        check(health, "breaker/dydx_api")


def test_watch_pushes_every_change(health: health_pb2_grpc.HealthStub, stubs: Stubs) -> None:
    seen: queue.Queue[int] = queue.Queue()
    stream = health.Watch(health_pb2.HealthCheckRequest(service="breaker/websocket"))

    def read() -> None:
        try:
            for response in stream:
                seen.put(response.status)
        except grpc.RpcError:
            pass  # cancelled at the end of the test

    threading.Thread(target=read, daemon=True).start()
    assert seen.get(timeout=5) == SERVING
    for state in (4, 1, 4, 1):  # quick flips: none of them may be coalesced away
        stubs.TransitionBreaker(a.TransitionBreakerRequest(name="websocket", state=state))
    assert [seen.get(timeout=5) for _ in range(4)] == [NOT_SERVING, SERVING] * 2
    stubs.DeleteBreaker(a.DeleteBreakerRequest(name="websocket"))
    assert seen.get(timeout=5) == SERVICE_UNKNOWN
    stream.cancel()


def test_watch_unknown_then_created(health: health_pb2_grpc.HealthStub, stubs: Stubs) -> None:
    stream = health.Watch(health_pb2.HealthCheckRequest(service="breaker/later"))
    assert next(stream).status == SERVICE_UNKNOWN
    stubs.Allow(g.AllowRequest(breaker="later"))
    assert next(stream).status == SERVING
    stream.cancel()


def test_shutdown_turns_everything_not_serving_before_the_stream_ends() -> None:
    server = ServerThread().start()
    try:
        channel = grpc.insecure_channel(server.target)
        stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        assert next(stream).status == SERVING
        server.stop(grace=1.0)
        assert next(stream).status == NOT_SERVING
        with pytest.raises(grpc.RpcError) as caught:
            next(stream)
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    finally:
        server.stop()


def test_reflection_lists_services_and_resolves_messages(server: ServerThread) -> None:
    with grpc.insecure_channel(server.target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {"rescp.v1.GuardService", "rescp.v1.AdminService", "rescp.v1.EventService",
                "grpc.health.v1.Health"} <= services
        pool = descriptor_pool.DescriptorPool(database)
        allow = pool.FindServiceByName("rescp.v1.GuardService").methods_by_name["Allow"]
        assert allow.input_type.full_name == "rescp.v1.AllowRequest"
        assert pool.FindMessageTypeByName("rescp.v1.AllowResponse").fields_by_name["permit"]


def test_health_check_is_cheap_enough_for_probes(health: health_pb2_grpc.HealthStub) -> None:
    start = time.perf_counter()
    for _ in range(20):
        check(health, "")
    assert time.perf_counter() - start < 5  # a sanity bound, not a benchmark


def test_reflection_v1_is_served_beside_v1alpha(server: ServerThread) -> None:
    """Tools that ask grpc.reflection.v1 first (ghz, newer grpcurl) find every service."""
    request = reflection_pb2.ServerReflectionRequest
    with grpc.insecure_channel(server.target) as channel:
        info = channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=request.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        listed, found, itself = info(iter([
            request(list_services=""),
            request(file_containing_symbol="rescp.v1.GuardService"),
            request(file_containing_symbol="grpc.reflection.v1.ServerReflection")]))
    names = {s.name for s in listed.list_services_response.service}
    assert {"rescp.v1.GuardService", "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"} <= names
    files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
             for raw in found.file_descriptor_response.file_descriptor_proto]
    assert any(f.package == "rescp.v1" and any(s.name == "GuardService" for s in f.service)
               for f in files)
    assert itself.file_descriptor_response.file_descriptor_proto  # v1 describes itself
