"""From a Python exception to what rescp is told about it; shared by both flavours.

`report()` sends the ReportRequest built here, and `guard` attaches the very same request to its
Record, so an error is described one way whichever path it takes. The server classifies it from
the type name, the message, the gRPC code and the HTTP status, so those are taken from wherever
common libraries keep them. Text is cut to the server's bounds here (`_limits`, read from the
protos): a long message must never turn a report into INVALID_ARGUMENT and lose the error.
Every report gets a fresh `idempotency_key` when it is built, so one sent twice (a retry after
a lost answer, a resend from the outbox) is stored once. Its `time` is set only when it goes to
the outbox (`_delivery.keep`), to the moment the error was seen, so that delivered late it keeps
its place; a report sent at once carries none (rescp stamps it), so a client whose clock is
off can never get a fresh report, or the Record carrying it, refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import grpc

from rescp_client import _limits
from rescp_client._proto import enums_pb2 as enums
from rescp_client._proto import guard_pb2 as guard
from rescp_client.errors import StatusError


def grpc_code(error: BaseException) -> int:
    """The numeric gRPC code of a failed gRPC call (or of a rescp error), else 0."""
    code = None
    if isinstance(error, StatusError):
        code = error.code
    elif isinstance(error, grpc.RpcError):
        code = getattr(error, "code", lambda: None)()
    return int(code.value[0]) if isinstance(code, grpc.StatusCode) else 0


def http_status(error: BaseException) -> int:
    """The HTTP status an exception carries (`status_code`, `status`, or on `.response`)."""
    response = getattr(error, "response", None)
    for value in (getattr(error, "status_code", None), getattr(error, "status", None),
                  getattr(response, "status_code", None), getattr(response, "status", None)):
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            return value
    return 0


def report_request(error: BaseException, *, operation: str = "", user_id: str = "",
                   context: Mapping[str, object] | None = None, service: str = "",
                   breaker: str = "") -> guard.ReportRequest:
    """The report of `error`, cut to fit, with a new idempotency key."""
    cut: list[str] = []
    error_type = _limits.fit_text("error_type", type(error).__name__, cut)
    request = guard.ReportRequest(
        operation=_limits.fit_text("operation", _limits.wire_text(operation), cut),
        error_type=error_type,
        message=_limits.fit_text("message", _limits.wire_text(error), cut),
        user_id=_limits.fit_text("user_id", _limits.wire_text(user_id), cut),
        service=_limits.fit_text("service", _limits.wire_text(service), cut),
        grpc_code=grpc_code(error), http_status=http_status(error), breaker=breaker,
        idempotency_key=uuid.uuid4().hex)
    fitted = _limits.fit_context(context or {}, cut)
    _limits.mark(fitted, cut, error_type)
    request.context.update(fitted)
    return request


def outcome(error: BaseException | None, ignore: tuple[type[BaseException], ...]) -> enums.Outcome:
    """SUCCESS, FAILURE for an Exception, IGNORED for `ignore` and for cancellation and exits
    (a KeyboardInterrupt or a cancelled task says nothing about the upstream's health)."""
    if error is None:
        return enums.OUTCOME_SUCCESS
    if isinstance(error, ignore) or not isinstance(error, Exception):
        return enums.OUTCOME_IGNORED
    return enums.OUTCOME_FAILURE
