"""One table from rescp's exceptions to gRPC status codes and rich error details.

Every error status carries a `google.rpc.ErrorInfo` (domain "rescp", an UPPER_SNAKE_CASE
reason) as AIP-193 asks, plus `BadRequest` for bad fields and `ResourceInfo` for unknown
resources, packed into `grpc-status-details-bin` by grpcio-status. Unexpected exceptions become
INTERNAL with a fixed message: the traceback goes to the server log, never on the wire.
"""

from __future__ import annotations

import logging
from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from rescp import errors

log = logging.getLogger(__name__)

DOMAIN = "rescp"

_CODES: dict[type[errors.RescpError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.StoreUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.SequenceOutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    errors.SubscriberTooSlow: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.RequestTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.TooManyBreakers: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.ShuttingDown: grpc.StatusCode.UNAVAILABLE,
}


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


MAX_STATUS_BYTES = 4096
"""Message plus details (base64, as they travel in `grpc-status-details-bin`) of any status
stay under this, far below the 16 KiB a client accepts in headers: echoed input is clipped and
violations beyond what fits are counted ("and N more")."""
MAX_ECHO_CHARS = 200
"""How much of a client's own text (a name, a field path) a status repeats."""


def clip(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """`text`, cut to `limit` characters with the cut said."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def code_of(error: errors.RescpError) -> grpc.StatusCode:
    """The gRPC status code for `error`."""
    return _CODES.get(type(error), grpc.StatusCode.INTERNAL)


def to_status(error: errors.RescpError) -> grpc.Status:
    """The gRPC status (code, message, details in trailing metadata) for `error`."""
    return rpc_status.to_status(rich_status(error))


def rich_status(error: errors.RescpError) -> status_pb2.Status:
    """The google.rpc.Status for `error`: what gRPC sends in trailers and Connect in JSON,
    under MAX_STATUS_BYTES."""
    if isinstance(error, errors.InvalidArgument):
        return _fitted(error)
    return _status(error)


def _fitted(error: errors.InvalidArgument) -> status_pb2.Status:
    """An INVALID_ARGUMENT status keeping as many violations as fit in MAX_STATUS_BYTES."""
    violations = [errors.FieldViolation(clip(v.field), clip(v.description, 2 * MAX_ECHO_CHARS))
                  for v in error.violations]
    keep = len(violations)
    while True:
        fitted = errors.InvalidArgument(violations[:keep], error.reason,
                                        error.more + len(violations) - keep)
        status = _status(fitted)
        if keep <= 1 or _size(status) <= MAX_STATUS_BYTES:
            return status
        keep //= 2


def _size(status: status_pb2.Status) -> int:
    encoded: int = status.ByteSize()
    return len(status.message.encode()) + 4 * -(-encoded // 3)


def _status(error: errors.RescpError) -> status_pb2.Status:
    code = code_of(error)
    details = []
    metadata: dict[str, str] = {}
    if isinstance(error, errors.InvalidArgument):
        details.append(_pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in error.violations])))
        metadata = {"fields": ",".join(dict.fromkeys(v.field for v in error.violations))}
    elif isinstance(error, errors.NotFound):
        name = clip(error.name)
        details.append(_pack(error_details_pb2.ResourceInfo(
            resource_type=error.resource_type, resource_name=name,
            description=f"{error.resource_type} {name!r} not found")))
        metadata = {"resourceType": error.resource_type, "resourceName": name}
    details.insert(0, _pack(error_details_pb2.ErrorInfo(
        reason=error.reason, domain=DOMAIN, metadata=metadata)))
    return status_pb2.Status(code=getattr(code_pb2, code.name),
                             message=clip(str(error), MAX_STATUS_BYTES // 4), details=details)


INTERNAL_ERROR = errors.RescpError("internal error; see the server log")
"""What a bug looks like on the wire: no detail of it leaves the server."""


def internal() -> grpc.Status:
    return to_status(INTERNAL_ERROR)


async def abort(context: grpc.aio.ServicerContext[object, object],
                error: errors.RescpError) -> NoReturn:
    await context.abort_with_status(to_status(error))
    raise AssertionError("abort_with_status returned")  # pragma: no cover


async def abort_internal(context: grpc.aio.ServicerContext[object, object]) -> NoReturn:
    log.exception("internal error serving %s", context.peer())
    await context.abort_with_status(internal())
    raise AssertionError("abort_with_status returned")  # pragma: no cover
