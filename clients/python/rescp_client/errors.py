"""Every exception the client raises, and the one function that turns a gRPC error into one.

Callers never see a bare `grpc.RpcError`. A server status becomes a `StatusError` carrying the
code, the message and the rich details of `grpc-status-details-bin` (AIP-193: branch on
`.reason`, not on the message); INVALID_ARGUMENT and NOT_FOUND get their own classes with the
BadRequest / ResourceInfo fields unpacked. Transport failures (nothing listening, a deadline, a
cancelled call) become `ControlPlaneUnavailable`. Refusals are not RPC errors at all: they are
answers, raised as `BreakerOpenError` / `RateLimitedError` with `retry_after`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

log = logging.getLogger("rescp_client")

TRANSPORT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                             grpc.StatusCode.CANCELLED})
"""Codes that say the control plane could not be reached in time, not that it said no."""

_DETAIL_TYPES: tuple[type[Message], ...] = (
    error_details_pb2.ErrorInfo, error_details_pb2.BadRequest, error_details_pb2.ResourceInfo)


class RescpError(Exception):
    """Base of everything the client raises."""


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field of a request: its path (`limit.window`) and what is wrong with it."""

    field: str
    description: str


class StatusError(RescpError):
    """rescp answered with an error status (or could not be reached: see the subclass)."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "",
                 metadata: dict[str, str] | None = None,
                 details: tuple[Message, ...] = ()) -> None:
        super().__init__(f"{code.name}: {message}" if message else code.name)
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = metadata or {}
        self.details = details


class InvalidArgumentError(StatusError, ValueError):
    """INVALID_ARGUMENT: `.field_violations` names every bad field."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "",
                 metadata: dict[str, str] | None = None,
                 details: tuple[Message, ...] = ()) -> None:
        super().__init__(code, message, reason, metadata, details)
        self.field_violations = tuple(
            FieldViolation(v.field, v.description)
            for d in details if isinstance(d, error_details_pb2.BadRequest)
            for v in d.field_violations)

    @classmethod
    def local(cls, field: str, description: str) -> InvalidArgumentError:
        """A bad argument caught before anything was sent."""
        detail = error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=description)])
        return cls(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {description}",
                   "INVALID_FIELD", {"fields": field}, (detail,))


class NotFoundError(StatusError, LookupError):
    """NOT_FOUND: `.resource_type` and `.resource_name` say what is missing."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "",
                 metadata: dict[str, str] | None = None,
                 details: tuple[Message, ...] = ()) -> None:
        super().__init__(code, message, reason, metadata, details)
        info = next((d for d in details if isinstance(d, error_details_pb2.ResourceInfo)), None)
        self.resource_type = info.resource_type if info else self.metadata.get("resourceType", "")
        self.resource_name = info.resource_name if info else self.metadata.get("resourceName", "")


class ControlPlaneUnavailable(StatusError):
    """rescp could not be reached, or did not answer within the time allowed."""


class CallRefused(RescpError):
    """rescp refused the call; trying again after `.retry_after` seconds can succeed."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BreakerOpenError(CallRefused):
    """The breaker refused the call (OPEN, FORCED_OPEN, or HALF_OPEN with no free trial)."""

    def __init__(self, breaker: str, state: str, retry_after: float) -> None:
        super().__init__(f"breaker {breaker!r} is {state}; retry in {retry_after:.3f}s",
                         retry_after)
        self.breaker = breaker
        self.state = state


class RateLimitedError(CallRefused):
    """The rate limit refused the call for this key."""

    def __init__(self, limit: str, key: str, retry_after: float) -> None:
        super().__init__(f"limit {limit!r} refused key {key!r}; retry in {retry_after:.3f}s",
                         retry_after)
        self.limit = limit
        self.key = key


def _unpack(status: status_pb2.Status | None) -> tuple[str, dict[str, str], tuple[Message, ...]]:
    """The ErrorInfo reason and metadata, and every detail the client knows how to decode."""
    if status is None:
        return "", {}, ()
    details: list[Message] = []
    for packed in status.details:
        for kind in _DETAIL_TYPES:
            if packed.Is(kind.DESCRIPTOR):
                detail = kind()
                packed.Unpack(detail)
                details.append(detail)
    info = next((d for d in details if isinstance(d, error_details_pb2.ErrorInfo)), None)
    if info is None:
        return "", {}, tuple(details)
    return info.reason, dict(info.metadata), tuple(details)


def from_rpc_error(error: grpc.RpcError) -> StatusError:
    """The typed exception for a failed call (sync `grpc.RpcError` or `grpc.aio.AioRpcError`)."""
    call = cast(grpc.Call, error)
    code, message = call.code(), call.details() or ""
    try:
        # The sync helper: grpc_status.rpc_status.aio.from_call fails on an AioRpcError.
        status = rpc_status.from_call(call)
    except ValueError:  # details that contradict the status line; keep code and message
        log.debug("undecodable status details for %s", code.name)
        status = None
    reason, metadata, details = _unpack(status)
    kind: type[StatusError] = StatusError
    if code in TRANSPORT_CODES:
        kind = ControlPlaneUnavailable
    elif code is grpc.StatusCode.INVALID_ARGUMENT:
        kind = InvalidArgumentError
    elif code is grpc.StatusCode.NOT_FOUND:
        kind = NotFoundError
    return kind(code, message, reason, metadata, details)
