"""Server reflection in both of its protocols: grpc.reflection.v1 and v1alpha.

grpcio-reflection serves only v1alpha, while current tools (ghz, newer grpcurl, Postman) ask for
grpc.reflection.v1 first and some never fall back. The two are the same messages under another
package name, so one servicer answers both: v1 requests are decoded with the v1alpha classes (the
wire is identical), and a v1 copy of the reflection proto is registered in the descriptor pool,
so the v1 service can itself be described.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1_SERVICE = "grpc.reflection.v1.ServerReflection"
_ALPHA, _V1 = ".grpc.reflection.v1alpha.", ".grpc.reflection.v1."


def _v1_file() -> bytes:
    """grpc/reflection/v1/reflection.proto, made from the v1alpha file by renaming its package."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = "grpc/reflection/v1/reflection.proto"
    proto.package = "grpc.reflection.v1"
    for message in proto.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = field.type_name.replace(_ALPHA, _V1)
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(_ALPHA, _V1)
            method.output_type = method.output_type.replace(_ALPHA, _V1)
    return proto.SerializeToString()


def enable(server: grpc.aio.Server, service_names: Iterable[str]) -> None:
    """Serve reflection, v1 and v1alpha, listing `service_names` and both reflection services."""
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName("grpc/reflection/v1/reflection.proto")
    except KeyError:
        pool.AddSerializedFile(_v1_file())
    servicer = reflection.aio.ReflectionServicer(
        [*service_names, reflection.SERVICE_NAME, V1_SERVICE])
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(  # type: ignore[no-untyped-call]
        servicer, server)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(V1_SERVICE, {
        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString),
    })])
