"""Method handlers built by hand instead of by the generated `_pb2_grpc` code.

Requests arrive as raw bytes and are decoded here, so a request that does not decode is
INVALID_ARGUMENT (grpcio's own deserializer would make it UNKNOWN) and every servicer method is
a plain `async (request) -> response` with no gRPC in sight. Exceptions are mapped in one place,
without an interceptor on the hot path.

A servicer describes its methods as `Unary` and `Stream` specs; `Service` turns them into gRPC
handlers and keeps them, so the HTTP side (Connect JSON) dispatches to the very same code from
the same table. `Service.instrument` wraps every handler with an observer (the gRPC server
metrics) told each call's status code and duration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from rescp.clock import stopwatch
from rescp.errors import InvalidArgument, RequestTooLarge, RescpError
from rescp.server.status import abort, abort_internal, code_of

MAX_REQUEST_BYTES = 64 * 1024
"""Requests rescp accepts. grpc itself stops at GRPC_MAX_REQUEST_BYTES (set on the server), so
anything between gets a RESOURCE_EXHAUSTED with rescp's ErrorInfo like every other error."""
GRPC_MAX_REQUEST_BYTES = 4 * 1024 * 1024

Request = TypeVar("Request", bound=Message)
Response = TypeVar("Response", bound=Message)
Context = grpc.aio.ServicerContext[Any, Any]


Observer = Callable[[grpc.StatusCode, float], None]
"""Told how one call of one method ended (its status code) and how long it took (seconds)."""
ObserverFactory = Callable[[str, str, str], Observer]
"""(service, method, grpc type "unary" | "server_stream") -> that method's observer."""


def _unobserved(code: grpc.StatusCode, seconds: float) -> None:
    """The observer of a service nobody instruments."""


def as_rescp_error(error: Exception, request_type: type[Message]) -> Exception:
    """A request that does not decode is INVALID_ARGUMENT; anything else stays as it is."""
    if isinstance(error, DecodeError):
        name = request_type.DESCRIPTOR.full_name
        return InvalidArgument.one("request", f"does not decode as {name}")
    return error


def status_code(error: Exception) -> grpc.StatusCode:
    return code_of(error) if isinstance(error, RescpError) else grpc.StatusCode.INTERNAL


async def fail(context: Context, error: Exception, request_type: type[Message]) -> NoReturn:
    """End the call with the status for `error` (call it while handling the exception, so a bug
    is logged with its traceback)."""
    error = as_rescp_error(error, request_type)
    if isinstance(error, RescpError):
        await abort(context, error)
    await abort_internal(context)


def check_size(size: int) -> None:
    if size > MAX_REQUEST_BYTES:
        raise RequestTooLarge(f"request of {size} bytes; at most {MAX_REQUEST_BYTES} accepted")


@dataclass(frozen=True, slots=True)
class Unary(Generic[Request, Response]):
    """A unary method as plain code, served over gRPC and over HTTP (Connect)."""

    request_type: type[Request]
    response_type: type[Response]
    method: Callable[[Request], Awaitable[Response]]

    def grpc_handler(self, observe: Observer) -> grpc.RpcMethodHandler[Any, Any]:
        serve, request_type = self.serve_bytes(), self.request_type

        async def handle(raw: bytes, context: Context) -> bytes:
            start = stopwatch()
            try:
                response = await serve(raw)
            except Exception as error:
                observe(status_code(as_rescp_error(error, request_type)), stopwatch() - start)
                await fail(context, error, request_type)
            observe(grpc.StatusCode.OK, stopwatch() - start)
            return response

        return grpc.unary_unary_rpc_method_handler(handle)

    def serve_bytes(self) -> Callable[[bytes], Awaitable[bytes]]:
        """Request bytes to response bytes over gRPC: the size cap, decode, method, encode
        (the batch RPCs serve theirs their own way)."""
        parse, method = self.request_type.FromString, self.method

        async def serve(raw: bytes) -> bytes:
            check_size(len(raw))
            return (await method(parse(raw))).SerializeToString()

        return serve


@dataclass(frozen=True, slots=True)
class RawUnary(Unary[Request, Response]):
    """A unary method that serves gRPC from request bytes to response bytes its own way (`raw`:
    decodings and encodings kept by their bytes); over HTTP through `method`, like any other."""

    raw: Callable[[bytes], Awaitable[bytes]]

    def serve_bytes(self) -> Callable[[bytes], Awaitable[bytes]]:
        return self.raw


@dataclass(frozen=True, slots=True)
class Stream(Generic[Request]):
    """A server-streaming method whose responses are already serialized bytes."""

    request_type: type[Request]
    method: Callable[[Request, Context], AsyncIterator[bytes]]

    def grpc_handler(self, observe: Observer) -> grpc.RpcMethodHandler[Any, Any]:
        method, request_type = self.method, self.request_type

        async def handle(raw: bytes, context: Context) -> AsyncIterator[bytes]:
            start = stopwatch()
            try:
                check_size(len(raw))
                async for chunk in method(request_type.FromString(raw), context):
                    yield chunk
            except Exception as error:
                code = status_code(as_rescp_error(error, request_type))
                observe(code, stopwatch() - start)
                await fail(context, error, request_type)
            observe(grpc.StatusCode.OK, stopwatch() - start)

        return grpc.unary_stream_rpc_method_handler(handle)


def unary(request_type: type[Request], response_type: type[Response],
          method: Callable[[Request], Awaitable[Response]]) -> Unary[Request, Response]:
    return Unary(request_type, response_type, method)


def server_stream(request_type: type[Request],
                  method: Callable[[Request, Context], AsyncIterator[bytes]],
                  ) -> Stream[Request]:
    return Stream(request_type, method)


class Service(grpc.GenericRpcHandler):
    """One gRPC service built from its method specs; `methods` stays readable for HTTP."""

    def __init__(self, full_name: str, methods: dict[str, Unary[Any, Any] | Stream[Any]]) -> None:
        self.full_name = full_name
        self.methods = methods
        self.instrument(lambda _service, _method, _kind: _unobserved)

    def instrument(self, observers: ObserverFactory) -> None:
        """(Re)build the gRPC handlers, each telling its observer how every call ended."""
        handlers = {}
        for name, spec in self.methods.items():
            kind = "unary" if isinstance(spec, Unary) else "server_stream"
            handlers[name] = spec.grpc_handler(observers(self.full_name, name, kind))
        self._generic = grpc.method_handlers_generic_handler(self.full_name, handlers)

    def service(self, handler_call_details: grpc.HandlerCallDetails,
                ) -> grpc.RpcMethodHandler[Any, Any] | None:
        return self._generic.service(handler_call_details)


def service(full_name: str, methods: dict[str, Unary[Any, Any] | Stream[Any]]) -> Service:
    return Service(full_name, methods)
