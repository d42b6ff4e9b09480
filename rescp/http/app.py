"""The HTTP app: one FastAPI application over the server's control plane.

It holds no state of its own. Every route runs the gRPC side's code (through the Rpcs table)
or reads the same event log, so HTTP and gRPC always agree. Bad input never reaches a route:
`Limits` refuses bodies over MAX_BODY and query strings over MAX_QUERY; every refusal and
error is JSON, shaped for the caller's protocol: a Connect error under a served service's
path (`/package.Service/...`), the seed's error body anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rescp.errors import FieldViolation, InvalidArgument, RescpError
from rescp.events import EventLog
from rescp.http import connect, dashboard, ops, seed, sse
from rescp.http.errors import C, HttpError, body_too_large, connect_error, seed_error
from rescp.http.rpcs import Rpcs
from rescp.metrics import Metrics

MAX_BODY = 1024 * 1024
MAX_QUERY = 8 * 1024


@dataclass(frozen=True, slots=True)
class HttpContext:
    rpcs: Rpcs
    log: EventLog
    metrics: Metrics


def error_response(request: Request, error: Exception) -> Response:
    """A Connect error under a served service's path (`/rescp.v1.GuardService/...`), else the
    seed API's error body."""
    service = request.url.path.lstrip("/").partition("/")[0]
    if service in request.app.state.connect_services:
        return connect_error(error)
    return seed_error(error)


class Limits:
    """ASGI middleware: refuse oversized query strings and bodies before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if len(scope["query_string"]) > MAX_QUERY:
            error = HttpError(414, C.INVALID_ARGUMENT, InvalidArgument.reason,
                              f"query string over {MAX_QUERY} bytes")
            await error_response(request, error)(scope, receive, send)
            return
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            await error_response(request, body_too_large(MAX_BODY))(scope, receive, send)
            return
        await self.app(scope, _counted(receive), send)


def _counted(receive: Receive) -> Receive:
    """`receive`, raising once the body (chunked, or longer than declared) exceeds MAX_BODY."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > MAX_BODY:
            raise body_too_large(MAX_BODY)
        return message

    return counted


def _invalid(error: RequestValidationError) -> InvalidArgument:
    return InvalidArgument([FieldViolation(".".join(str(part) for part in e["loc"][1:]) or
                                           "request", str(e["msg"]))
                            for e in error.errors()])


def _http_exception(error: HTTPException) -> HttpError:
    if error.status_code == 404:
        return HttpError(404, C.NOT_FOUND, "ROUTE_NOT_FOUND", "no such route")
    if error.status_code == 405:
        return HttpError(405, C.UNIMPLEMENTED, "METHOD_NOT_ALLOWED", "method not allowed here")
    return HttpError(error.status_code, C.INVALID_ARGUMENT, "BAD_REQUEST", str(error.detail))


def build(context: HttpContext) -> FastAPI:
    app = FastAPI(title="rescp", summary="rescp's HTTP API: the seed's REST API, Connect JSON "
                  "for every unary RPC, events, metrics and health", version="1",
                  docs_url="/docs", redoc_url=None, openapi_url="/openapi.json")

    async def rescp_error(request: Request, error: Exception) -> Response:
        return error_response(request, error)

    async def invalid(request: Request, error: Any) -> Response:
        return error_response(request, _invalid(error))

    async def http_error(request: Request, error: Any) -> Response:
        return error_response(request, _http_exception(error))

    app.state.connect_services = frozenset(
        procedure.partition("/")[0] for procedure in context.rpcs.unary)
    app.add_exception_handler(RescpError, rescp_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, rescp_error)
    app.add_middleware(Limits)
    app.include_router(seed.router(context.rpcs))
    app.include_router(sse.router(context.log))
    app.include_router(ops.router(context.rpcs, context.metrics))
    connect.add_routes(app, context.rpcs)
    dashboard.mount(app)
    return app
