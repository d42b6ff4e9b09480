"""Method handlers built by hand instead of by the generated `_pb2_grpc` code.

Requests arrive as raw bytes and are decoded here, so a request that does not decode is
INVALID_ARGUMENT (grpcio's own deserializer would make it UNKNOWN) and every servicer method is
a plain `async (request) -> response` with no gRPC in sight. Exceptions are mapped in one place,
without an interceptor on the hot path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from rescp.errors import InvalidArgument, RequestTooLarge, RescpError
from rescp.server.status import abort, abort_internal

MAX_REQUEST_BYTES = 64 * 1024
"""Requests rescp accepts. grpc itself stops at GRPC_MAX_REQUEST_BYTES (set on the server), so
anything between gets a RESOURCE_EXHAUSTED with rescp's ErrorInfo like every other error."""
GRPC_MAX_REQUEST_BYTES = 4 * 1024 * 1024

Request = TypeVar("Request", bound=Message)
Response = TypeVar("Response", bound=Message)
Context = grpc.aio.ServicerContext[Any, Any]


async def fail(context: Context, error: Exception, request_type: type[Message]) -> NoReturn:
    """End the call with the status for `error` (call it while handling the exception, so a bug
    is logged with its traceback)."""
    if isinstance(error, DecodeError):
        name = request_type.DESCRIPTOR.full_name
        error = InvalidArgument.one("request", f"does not decode as {name}")
    if isinstance(error, RescpError):
        await abort(context, error)
    await abort_internal(context)


def unary(request_type: type[Request], response_type: type[Response],
          method: Callable[[Request], Awaitable[Response]]) -> grpc.RpcMethodHandler[Any, Any]:
    parse = request_type.FromString

    async def handle(raw: bytes, context: Context) -> bytes:
        try:
            if len(raw) > MAX_REQUEST_BYTES:
                raise _too_large(raw)
            return (await method(parse(raw))).SerializeToString()
        except Exception as error:
            await fail(context, error, request_type)

    return grpc.unary_unary_rpc_method_handler(handle)


def server_stream(request_type: type[Request],
                  method: Callable[[Request, Context], AsyncIterator[bytes]],
                  ) -> grpc.RpcMethodHandler[Any, Any]:
    """A server-streaming handler whose responses are already serialized bytes."""
    async def handle(raw: bytes, context: Context) -> AsyncIterator[bytes]:
        try:
            if len(raw) > MAX_REQUEST_BYTES:
                raise _too_large(raw)
            async for chunk in method(request_type.FromString(raw), context):
                yield chunk
        except Exception as error:
            await fail(context, error, request_type)

    return grpc.unary_stream_rpc_method_handler(handle)


def _too_large(raw: bytes) -> RequestTooLarge:
    return RequestTooLarge(f"request of {len(raw)} bytes; at most {MAX_REQUEST_BYTES} accepted")


def service(full_name: str,
            methods: dict[str, grpc.RpcMethodHandler[Any, Any]]) -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(full_name, methods)
