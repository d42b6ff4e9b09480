"""The seed's REST API: its eight endpoints, shaped like the seed's examples.

Each endpoint runs the gRPC read or write side's own RPC through the Rpcs table and reshapes
the proto response, so REST and gRPC always agree and validate alike. Shapes: every answer has
`"status": "success"` and a top-level `"timestamp"`; times are ISO 8601 UTC with `Z`; enums are
lower-case names without their prefix (`half_open`, `network`, `critical`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from starlette.requests import Request

from rescp._proto import admin_pb2 as admin
from rescp._proto import guard_pb2 as guard
from rescp.clock import SystemClock
from rescp.enums import BreakerState, ErrorCategory, Health, Severity
from rescp.errors import InvalidArgument
from rescp.http.connect import JSON, decode, media_type
from rescp.http.errors import wrong_content_type
from rescp.http.rpcs import Rpcs
from rescp.http.schema import message_schema

ADMIN = "rescp.v1.AdminService/"
_clock = SystemClock()
JsonDict = dict[str, Any]


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def iso_time(value: Timestamp, is_set: bool = True) -> str | None:
    return iso(value.seconds + value.nanos / 1e9) if is_set else None


def success(**fields: Any) -> JsonDict:
    return {"status": "success", **fields, "timestamp": iso(_clock.wall())}


def breaker(b: admin.Breaker) -> JsonDict:
    return {"name": b.name, "state": BreakerState(b.state).name.lower(),
            "failure_count": b.failure_count, "success_count": b.success_count,
            "last_failure_time": iso_time(b.last_failure_time, b.HasField("last_failure_time"))}


def record(r: guard.ErrorRecord) -> JsonDict:
    return {"error_id": r.error_id, "operation": r.operation, "error_type": r.error_type,
            "message": r.message, "category": ErrorCategory(r.category).name.lower(),
            "severity": Severity(r.severity).name.lower(), "user_message": r.user_message,
            "timestamp": iso_time(r.time), "acknowledged": r.acknowledged,
            "user_id": r.user_id, "action": {"type": r.action.type, "message": r.action.message},
            "fingerprint": r.fingerprint, "context": dict(r.context), "service": r.service}


def notification(n: admin.Notification) -> JsonDict:
    return {"id": n.id, "title": n.title, "message": n.message,
            "severity": Severity(n.severity).name.lower(), "timestamp": iso_time(n.time),
            "action": {"type": n.action.type, "message": n.action.message}}


def severity_number(name: str | None) -> int:
    if name is None:
        return 0
    try:
        return int(Severity[name.upper()])
    except KeyError:
        raise InvalidArgument.one("severity", "must be low, medium, high or critical") from None


def router(rpcs: Rpcs) -> APIRouter:
    api = APIRouter(prefix="/api/errors", tags=["seed REST API"])

    async def call(method: str, request: Message) -> Any:
        return await rpcs.call(ADMIN + method, request)

    @api.get("/summary")
    async def summary() -> JsonDict:
        """Totals, counts by category and severity, the recent errors and the error rate."""
        s = await call("GetErrorSummary", admin.GetErrorSummaryRequest())
        recent = [{"error_id": r.error_id, "message": r.message,
                   "category": ErrorCategory(r.category).name.lower(),
                   "severity": Severity(r.severity).name.lower(), "timestamp": iso_time(r.time)}
                  for r in s.recent_errors]
        return success(data={"total_errors": s.total_errors,
                             "error_counts": dict(s.error_counts), "recent_errors": recent,
                             "errors_per_minute": s.errors_per_minute})

    @api.get("/rate-limit-status")
    async def rate_limit_status(limit: str = "", key: str = "") -> JsonDict:
        """Whether `key` is limited by `limit` now; looks, takes no tokens."""
        s = await call("GetLimitStatus", admin.GetLimitStatusRequest(limit=limit, key=key))
        retry = s.retry_after.seconds + s.retry_after.nanos / 1e9
        return success(is_rate_limited=s.is_rate_limited,
                       retry_after_seconds=retry if s.is_rate_limited else None,
                       remaining=s.remaining)

    @api.get("/circuit-breakers")
    async def circuit_breakers() -> JsonDict:
        """Every breaker by name."""
        s = await call("ListBreakers", admin.ListBreakersRequest())
        return success(circuit_breakers={b.name: breaker(b) for b in s.breakers})

    @api.get("/system-health")
    async def system_health() -> JsonDict:
        """Health, error totals, open circuits, and the breakers that are not closed."""
        s = await call("GetSystemHealth", admin.GetSystemHealthRequest())
        return success(health=Health(s.health).name.lower(),
                       metrics={"total_errors": s.total_errors,
                                "critical_errors": s.critical_errors,
                                "open_circuits": s.open_circuits},
                       circuit_breakers={b.name: breaker(b) for b in s.circuit_breakers})

    @api.get("/notifications")
    async def notifications(severity: str | None = None, limit: int = Query(10, ge=0, le=1000),
                            include_acknowledged: bool = False) -> JsonDict:
        """Unacknowledged errors (at least `severity`), newest first."""
        s = await call("ListNotifications", admin.ListNotificationsRequest(
            min_severity=severity_number(severity), limit=limit,  # type: ignore[arg-type]
            include_acknowledged=include_acknowledged))
        return success(notifications=[notification(n) for n in s.notifications], total=s.total)

    @api.post("/report", openapi_extra={"requestBody": {"required": True, "content": {
        JSON: {"schema": message_schema(guard.ReportRequest.DESCRIPTOR)}}}})
    async def report(request: Request) -> JsonDict:
        """Report an error: classified, scrubbed of secrets, stored, counted, notified."""
        media = media_type(request.headers.get("content-type", ""))
        if media != JSON:
            raise wrong_content_type(media, JSON)
        body = decode(await request.body(), JSON, guard.ReportRequest)
        r = await rpcs.call("rescp.v1.GuardService/Report", body)
        return success(data=record(r.record))

    @api.post("/acknowledge/{error_id}")
    async def acknowledge(error_id: str) -> JsonDict:
        """Acknowledge an error: it leaves the notifications and stops counting as critical."""
        r = await call("AcknowledgeError", admin.AcknowledgeErrorRequest(error_id=error_id))
        return success(data=record(r.record))

    @api.get("/degradation-mode")
    async def degradation_mode() -> JsonDict:
        """Open circuits and the features they degrade."""
        s = await call("GetDegradation", admin.GetDegradationRequest())
        return success(is_degraded=s.is_degraded, open_circuits=list(s.open_circuits),
                       affected_features=[{"feature": f.feature, "status": f.status,
                                           "message": f.message} for f in s.affected_features],
                       fallback_available=s.fallback_available)

    return api
