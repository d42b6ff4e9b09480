"""Allow and Record between the wire and the plane, shared by the unary and the batch RPCs.

Validation is the unary RPCs' (every bad field named); a batch item is validated by the very
same function, so it is answered exactly as its unary RPC would be.
"""

from __future__ import annotations

from rescp._proto import guard_pb2 as guard
from rescp.engine.breaker import is_permit
from rescp.engine.errorlog import ErrorRecord, ErrorReport
from rescp.enums import BreakerState, Outcome
from rescp.errors import NAME_PATTERN, Violations
from rescp.server import convert
from rescp.server.convert import wire
from rescp.server.textlimits import KEY_LIMIT
from rescp.store.base import AllowResult

_name_ok = NAME_PATTERN.fullmatch
MAX_COUNT = 1000
"""The most identical outcomes one RecordRequest may stand for."""


def allow_args(request: guard.AllowRequest) -> tuple[str, str, str, int]:
    """(breaker, limit, key, cost) of a valid Allow; InvalidArgument naming every bad field."""
    breaker, limit, key = request.breaker, request.limit, request.key
    if ((breaker and not _name_ok(breaker)) or (limit and not _name_ok(limit))
            or len(key) > KEY_LIMIT):
        v = Violations()
        if breaker:
            v.name(breaker, "breaker")
        if limit:
            v.name(limit, "limit")
        v.check(len(key) <= KEY_LIMIT, "key", f"at most {KEY_LIMIT} characters")
        v.raise_if_any()
    return breaker, limit, key, request.cost or 1


def encode_allow(result: AllowResult) -> guard.AllowResponse:
    response = guard.AllowResponse(
        allowed=result.allowed, verdict=wire(result.verdict),
        breaker_state=wire(result.breaker_state) if result.breaker_state else None,
        remaining=result.remaining,
        permit=result.permit)
    if result.retry_after > 0:
        response.retry_after.CopyFrom(convert.to_duration(result.retry_after))
    return response


def record_args(request: guard.RecordRequest,
                now: float) -> tuple[str, Outcome, float, str, ErrorReport | None, int]:
    """(breaker, outcome, duration, permit, error, count) of a valid Record; InvalidArgument
    naming every bad field."""
    v = Violations()
    v.name(request.breaker, "breaker")
    v.check(request.outcome != 0, "outcome", "is required (SUCCESS, FAILURE or IGNORED)")
    outcome = convert.enum_value(Outcome, request.outcome, "outcome", v, None)
    duration = convert.duration_seconds(request.duration, "duration", v)
    v.check(is_permit(request.permit), "permit", "not a permit this server handed out")
    v.check(request.count <= MAX_COUNT, "count", f"at most {MAX_COUNT}")
    error = None
    with v.collect("error"):
        if request.HasField("error"):
            error = convert.error_report(request.error, now)
    v.check(error is None or request.count <= 1, "count", "must be 0 or 1 with an error")
    v.raise_if_any()
    assert outcome is not None
    return request.breaker, outcome, duration, request.permit, error, request.count or 1


def encode_record(state: BreakerState, record: ErrorRecord | None) -> guard.RecordResponse:
    response = guard.RecordResponse(breaker_state=wire(state))
    if record is not None:
        response.error.CopyFrom(convert.encode_record(record))
    return response
