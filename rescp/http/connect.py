"""Every unary RPC as JSON, in the Connect protocol's unary form.

`POST /rescp.v1.GuardService/Allow` with `Content-Type: application/json` (or
`application/proto`) and the request in proto3 JSON (or binary); the answer is the response in
the same codec, or a Connect error body with the HTTP status its code maps to. Routes are made
from the Rpcs table, one per RPC, each documented in the OpenAPI document with its request and
response schemas generated from the descriptors. `Connect-Timeout-Ms` is honoured as a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from fastapi import FastAPI
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rescp.errors import InvalidArgument
from rescp.http.errors import HttpError, connect_error, wrong_content_type
from rescp.http.rpcs import Rpcs
from rescp.http.schema import message_schema
from rescp.server.rpc import Unary

JSON = "application/json"
PROTO = "application/proto"


def add_routes(app: FastAPI, rpcs: Rpcs) -> None:
    for procedure, spec in rpcs.unary.items():
        app.add_api_route(
            f"/{procedure}", _endpoint(rpcs, procedure, spec.request_type), methods=["POST"],
            tags=[procedure.partition("/")[0]], summary=procedure, openapi_extra=_doc(spec),
            response_class=JSONResponse)


def _endpoint(rpcs: Rpcs, procedure: str,
              request_type: type[Message]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            codec = _codec(request.headers.get("content-type", ""))
            message = decode(await request.body(), codec, request_type)
            timeout = _timeout(request.headers.get("connect-timeout-ms"))
            async with asyncio.timeout(timeout):
                response = await rpcs.call(procedure, message)
        except TimeoutError:
            return connect_error(HttpError(504, grpc.StatusCode.DEADLINE_EXCEEDED,
                                           "DEADLINE_EXCEEDED",
                                           "the Connect-Timeout-Ms deadline passed"))
        except Exception as error:
            return connect_error(error)
        if codec == PROTO:
            return Response(response.SerializeToString(), media_type=PROTO)
        return JSONResponse(json_format.MessageToDict(
            response, always_print_fields_with_no_presence=True))

    endpoint.__name__ = procedure.replace(".", "_").replace("/", "_")
    return endpoint


def media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _codec(content_type: str) -> str:
    media = media_type(content_type)
    if media not in (JSON, PROTO):
        raise wrong_content_type(media, f"{JSON} or {PROTO}")
    return media


def decode(body: bytes, codec: str, request_type: type[Message]) -> Message:
    message = request_type()
    name = request_type.DESCRIPTOR.full_name
    try:
        if codec == PROTO:
            message.ParseFromString(body)
        else:
            json_format.Parse(body.decode("utf-8") if body.strip() else "{}", message)
    except UnicodeDecodeError:
        raise InvalidArgument.one("request", "is not valid UTF-8") from None
    except (json_format.ParseError, DecodeError, RecursionError, ValueError) as error:
        raise InvalidArgument.one("request", f"is not a valid {name}: {error}") from None
    return message


def _timeout(header: str | None) -> float | None:
    if header is None:
        return None
    if not header.isdigit() or len(header) > 10:
        raise InvalidArgument.one("Connect-Timeout-Ms", "must be a positive integer, "
                                  "at most 10 digits")
    return int(header) / 1000


def _doc(spec: Unary[Any, Any]) -> dict[str, Any]:
    def content(descriptor: Any) -> dict[str, Any]:
        return {JSON: {"schema": message_schema(descriptor)}}

    return {
        "requestBody": {"required": True, "content": content(spec.request_type.DESCRIPTOR)},
        "responses": {"200": {"description": "the response, in proto3 JSON",
                              "content": content(spec.response_type.DESCRIPTOR)},
                      "default": {"description": "a Connect error "
                                                 "({\"code\", \"message\", \"details\"})"}},
    }

