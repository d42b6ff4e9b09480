"""GuardService: Allow, Record and Report — the hot path, kept to decode, call, encode."""

from __future__ import annotations

import grpc

from rescp._proto import guard_pb2 as guard
from rescp.engine.breaker import is_permit
from rescp.engine.errorlog import build_record
from rescp.enums import Outcome
from rescp.errors import NAME_PATTERN, Violations
from rescp.plane import ControlPlane
from rescp.server import convert
from rescp.server.convert import wire
from rescp.server.rpc import service, unary
from rescp.server.textlimits import KEY_LIMIT

SERVICE = "rescp.v1.GuardService"
_name_ok = NAME_PATTERN.fullmatch


class GuardServicer:
    def __init__(self, plane: ControlPlane) -> None:
        self._plane = plane

    def handler(self) -> grpc.GenericRpcHandler:
        return service(SERVICE, {
            "Allow": unary(guard.AllowRequest, guard.AllowResponse, self.allow),
            "Record": unary(guard.RecordRequest, guard.RecordResponse, self.record),
            "Report": unary(guard.ReportRequest, guard.ReportResponse, self.report),
            "Classify": unary(guard.ClassifyRequest, guard.ClassifyResponse, self.classify),
        })

    async def allow(self, request: guard.AllowRequest) -> guard.AllowResponse:
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
        result = await self._plane.allow(breaker, limit, key, request.cost or 1)
        response = guard.AllowResponse(
            allowed=result.allowed, verdict=wire(result.verdict),
            breaker_state=wire(result.breaker_state) if result.breaker_state else None,
            remaining=result.remaining,
            permit=result.permit)
        if result.retry_after > 0:
            response.retry_after.CopyFrom(convert.to_duration(result.retry_after))
        return response

    async def record(self, request: guard.RecordRequest) -> guard.RecordResponse:
        v = Violations()
        v.name(request.breaker, "breaker")
        v.check(request.outcome != 0, "outcome", "is required (SUCCESS, FAILURE or IGNORED)")
        outcome = convert.enum_value(Outcome, request.outcome, "outcome", v, None)
        duration = convert.duration_seconds(request.duration, "duration", v)
        v.check(is_permit(request.permit), "permit", "not a permit this server handed out")
        error = None
        with v.collect("error"):
            if request.HasField("error"):
                error = convert.error_report(request.error, self._plane.clock.now())
        v.raise_if_any()
        assert outcome is not None
        state, record = await self._plane.record(request.breaker, outcome, duration,
                                                 request.permit, error)
        response = guard.RecordResponse(breaker_state=wire(state))
        if record is not None:
            response.error.CopyFrom(convert.encode_record(record))
        return response

    async def report(self, request: guard.ReportRequest) -> guard.ReportResponse:
        record = await self._plane.report(
            convert.error_report(request, self._plane.clock.now()))
        return guard.ReportResponse(record=convert.encode_record(record))

    async def classify(self, request: guard.ClassifyRequest) -> guard.ClassifyResponse:
        """What Report would store, built by the same code, and stored nowhere."""
        v = Violations()
        with v.collect("error"):
            report = convert.error_report(request.error, self._plane.clock.now())
        v.raise_if_any()
        record = build_record(report, "", 0.0)
        return guard.ClassifyResponse(
            category=wire(record.category), severity=wire(record.severity),
            user_message=record.user_message,
            action=guard.RecoveryAction(type=record.action_type, message=record.action_message),
            fingerprint=record.fingerprint, message=record.message)
