"""rescp's errors over HTTP, in the two shapes HTTP callers expect.

The seed's REST API answers `{"status": "error", "error": {"code", "reason", "message",
"fields"}}`; Connect answers `{"code": "invalid_argument", "message", "details"}` with the
details (ErrorInfo first, then BadRequest or ResourceInfo) as Connect's JSON encoding of
`google.protobuf.Any`. Both take the gRPC status rescp.server.status gives the error, so a
caller sees the same code and ErrorInfo reason whichever protocol it used. The HTTP status is
the Connect protocol's mapping of that code (Google's code.proto mapping, 499 for canceled).
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import grpc
from google.protobuf import any_pb2, json_format
from google.rpc import error_details_pb2  # noqa: F401  (registers the detail types for debug)
from starlette.responses import JSONResponse

from rescp.errors import InvalidArgument, RequestTooLarge, RescpError
from rescp.server.status import INTERNAL_ERROR, code_of, rich_status

log = logging.getLogger(__name__)

C = grpc.StatusCode
HTTP_STATUS = {
    C.CANCELLED: 499, C.UNKNOWN: 500, C.INVALID_ARGUMENT: 400, C.DEADLINE_EXCEEDED: 504,
    C.NOT_FOUND: 404, C.ALREADY_EXISTS: 409, C.PERMISSION_DENIED: 403,
    C.RESOURCE_EXHAUSTED: 429, C.FAILED_PRECONDITION: 400, C.ABORTED: 409,
    C.OUT_OF_RANGE: 400, C.UNIMPLEMENTED: 501, C.INTERNAL: 500, C.UNAVAILABLE: 503,
    C.DATA_LOSS: 500, C.UNAUTHENTICATED: 401,
}
"""The Connect protocol's HTTP status per code (connectrpc.com/docs/protocol#error-codes)."""


class HttpError(RescpError):
    """A refusal at the HTTP level (a body too large, a wrong content type): its own status."""

    def __init__(self, status: int, code: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.reason = status, code, reason


def body_too_large(limit: int) -> HttpError:
    return HttpError(413, C.RESOURCE_EXHAUSTED, RequestTooLarge.reason,
                     f"request body over {limit} bytes")


def wrong_content_type(got: str, wanted: str) -> HttpError:
    return HttpError(415, C.INVALID_ARGUMENT, InvalidArgument.reason,
                     f"content type {got or '(none)'!r}; {wanted} expected")


def known(error: Exception) -> RescpError:
    """`error` if it is rescp's, else the fixed INTERNAL error (the bug is logged here)."""
    if isinstance(error, RescpError):
        return error
    log.error("internal error serving HTTP", exc_info=error)
    return INTERNAL_ERROR


def _code(error: RescpError) -> grpc.StatusCode:
    return error.code if isinstance(error, HttpError) else code_of(error)


def _status(error: RescpError) -> int:
    return error.status if isinstance(error, HttpError) else HTTP_STATUS[code_of(error)]


def seed_error(error: Exception) -> JSONResponse:
    """The seed API's error body."""
    rescp_error = known(error)
    body: dict[str, Any] = {"code": _code(rescp_error).name, "reason": rescp_error.reason,
                            "message": str(rescp_error)}
    if isinstance(rescp_error, InvalidArgument):
        body["fields"] = [{"field": v.field, "description": v.description}
                          for v in rescp_error.violations]
    return JSONResponse({"status": "error", "error": body}, status_code=_status(rescp_error))


def connect_error(error: Exception) -> JSONResponse:
    """A Connect unary error: code, message and the same rich details as gRPC's."""
    rescp_error = known(error)
    details = [_detail(any_) for any_ in rich_status(rescp_error).details]
    body = {"code": _code(rescp_error).name.lower(), "message": str(rescp_error),
            "details": details}
    return JSONResponse(body, status_code=_status(rescp_error))


def _detail(any_: any_pb2.Any) -> dict[str, Any]:
    """Connect's JSON for one detail: base64 without padding, and a readable copy in debug."""
    debug = json_format.MessageToDict(any_)
    debug.pop("@type", None)
    return {"type": any_.type_url.rpartition("/")[2],
            "value": base64.b64encode(any_.value).decode().rstrip("="), "debug": debug}
