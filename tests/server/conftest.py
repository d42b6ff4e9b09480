"""Fixtures for server tests: a real server on a free loopback port and raw stubs for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from rescp._proto import admin_pb2, events_pb2, guard_pb2
from rescp.testing import ServerThread


class Stubs:
    """Every rescp.v1 RPC as a plain callable on one channel, built from the descriptors."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        for module in (guard_pb2, admin_pb2, events_pb2):
            for service in module.DESCRIPTOR.services_by_name.values():
                for method in service.methods:
                    request = message_factory.GetMessageClass(method.input_type)
                    response = message_factory.GetMessageClass(method.output_type)
                    make = channel.unary_stream if method.server_streaming else channel.unary_unary
                    setattr(self, method.name, make(
                        f"/{service.full_name}/{method.name}",
                        request_serializer=request.SerializeToString,
                        response_deserializer=response.FromString))

    def __getattr__(self, name: str) -> Any:  # for mypy: attributes are set dynamically
        raise AttributeError(name)


def details(error: grpc.RpcError) -> dict[str, Any]:
    """The rich details of an error status, by type name."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "the status carries no details"
    found: dict[str, Any] = {}
    for packed in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest,
                     error_details_pb2.ResourceInfo):
            if packed.Is(kind.DESCRIPTOR):
                value = kind()
                packed.Unpack(value)
                found[kind.__name__] = value
    return found


def bad_fields(error: grpc.RpcError) -> set[str]:
    return {v.field for v in details(error)["BadRequest"].field_violations}


@pytest.fixture
def stubs(server: ServerThread) -> Iterator[Stubs]:
    with grpc.insecure_channel(server.target) as channel:
        yield Stubs(channel)
