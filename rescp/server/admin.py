"""AdminService: configuration and the read side."""

from __future__ import annotations

import grpc

from rescp._proto import admin_pb2 as admin
from rescp.engine.breaker import BreakerConfig
from rescp.engine.errorlog import ErrorRecord
from rescp.engine.health import Feature
from rescp.engine.ratelimit import LimitConfig
from rescp.enums import BreakerState, Severity
from rescp.errors import Violations, check_name
from rescp.plane import ControlPlane
from rescp.server import convert, paging
from rescp.server.rpc import service, unary
from rescp.server.textlimits import KEY_LIMIT
from rescp.store.base import BreakerView

SERVICE = "rescp.v1.AdminService"
MANUAL_STATES = (BreakerState.CLOSED, BreakerState.FORCED_OPEN, BreakerState.DISABLED)
DEFAULT_NOTIFICATIONS = 50
MAX_NOTIFICATIONS = 1000


class AdminServicer:
    def __init__(self, plane: ControlPlane, default_breaker: BreakerConfig) -> None:
        self._plane = plane
        self._default_breaker = default_breaker

    def handler(self) -> grpc.GenericRpcHandler:
        a = admin
        return service(SERVICE, {
            "PutBreaker": unary(a.PutBreakerRequest, a.PutBreakerResponse, self.put_breaker),
            "GetBreaker": unary(a.GetBreakerRequest, a.GetBreakerResponse, self.get_breaker),
            "ListBreakers": unary(a.ListBreakersRequest, a.ListBreakersResponse,
                                  self.list_breakers),
            "DeleteBreaker": unary(a.DeleteBreakerRequest, a.DeleteBreakerResponse,
                                   self.delete_breaker),
            "TransitionBreaker": unary(a.TransitionBreakerRequest, a.TransitionBreakerResponse,
                                       self.transition_breaker),
            "PutLimit": unary(a.PutLimitRequest, a.PutLimitResponse, self.put_limit),
            "ListLimits": unary(a.ListLimitsRequest, a.ListLimitsResponse, self.list_limits),
            "DeleteLimit": unary(a.DeleteLimitRequest, a.DeleteLimitResponse, self.delete_limit),
            "GetLimitStatus": unary(a.GetLimitStatusRequest, a.GetLimitStatusResponse,
                                    self.get_limit_status),
            "PutFeature": unary(a.PutFeatureRequest, a.PutFeatureResponse, self.put_feature),
            "ListFeatures": unary(a.ListFeaturesRequest, a.ListFeaturesResponse,
                                  self.list_features),
            "DeleteFeature": unary(a.DeleteFeatureRequest, a.DeleteFeatureResponse,
                                   self.delete_feature),
            "GetDegradation": unary(a.GetDegradationRequest, a.GetDegradationResponse,
                                    self.get_degradation),
            "GetErrorSummary": unary(a.GetErrorSummaryRequest, a.GetErrorSummaryResponse,
                                     self.get_error_summary),
            "ListNotifications": unary(a.ListNotificationsRequest, a.ListNotificationsResponse,
                                       self.list_notifications),
            "AcknowledgeError": unary(a.AcknowledgeErrorRequest, a.AcknowledgeErrorResponse,
                                      self.acknowledge_error),
            "GetSystemHealth": unary(a.GetSystemHealthRequest, a.GetSystemHealthResponse,
                                     self.get_system_health),
        })

    def _page(self, size: int, token: str, kind: str) -> paging.Page:
        return paging.page(size, token, kind, self._plane.events.log_id)

    # breakers

    async def put_breaker(self, request: admin.PutBreakerRequest) -> admin.PutBreakerResponse:
        v = Violations()
        v.name(request.name, "name")
        config = self._default_breaker
        with v.collect("config"):
            if request.HasField("config"):
                config = convert.breaker_config(request.config, self._default_breaker)
        v.raise_if_any()
        view = await self._plane.put_breaker(request.name, config)
        return admin.PutBreakerResponse(breaker=convert.encode_breaker(view))

    async def get_breaker(self, request: admin.GetBreakerRequest) -> admin.GetBreakerResponse:
        check_name(request.name, "name")
        view = await self._plane.get_breaker(request.name)
        return admin.GetBreakerResponse(breaker=convert.encode_breaker(view))

    async def list_breakers(self, request: admin.ListBreakersRequest,
                            ) -> admin.ListBreakersResponse:
        wanted = self._page(request.page_size, request.page_token, "breakers")
        views, sequence = await self._plane.list_breakers(wanted.after, wanted.size + 1)
        sequence = sequence if wanted.sequence is None else wanted.sequence
        views, token = paging.split(views, wanted, _name, sequence)
        return admin.ListBreakersResponse(breakers=[convert.encode_breaker(v) for v in views],
                                          sequence=sequence, log_id=wanted.log_id,
                                          next_page_token=token)

    async def delete_breaker(
            self, request: admin.DeleteBreakerRequest) -> admin.DeleteBreakerResponse:
        check_name(request.name, "name")
        await self._plane.delete_breaker(request.name)
        return admin.DeleteBreakerResponse()

    async def transition_breaker(
            self, request: admin.TransitionBreakerRequest) -> admin.TransitionBreakerResponse:
        v = Violations()
        v.name(request.name, "name")
        v.check(int(request.state) in MANUAL_STATES, "state",
                "must be BREAKER_STATE_CLOSED, BREAKER_STATE_FORCED_OPEN or "
                "BREAKER_STATE_DISABLED")
        v.raise_if_any()
        view = await self._plane.transition_breaker(request.name, BreakerState(request.state))
        return admin.TransitionBreakerResponse(breaker=convert.encode_breaker(view))

    # limits

    async def put_limit(self, request: admin.PutLimitRequest) -> admin.PutLimitResponse:
        v = Violations()
        with v.collect("limit"):
            config = convert.limit_config(request.limit)
        v.raise_if_any()
        stored = await self._plane.put_limit(config)
        return admin.PutLimitResponse(limit=convert.encode_limit(stored))

    async def list_limits(self, request: admin.ListLimitsRequest) -> admin.ListLimitsResponse:
        wanted = self._page(request.page_size, request.page_token, "limits")
        limits = await self._plane.list_limits(wanted.after, wanted.size + 1)
        limits, token = paging.split(limits, wanted, _name)
        return admin.ListLimitsResponse(limits=[convert.encode_limit(c) for c in limits],
                                        next_page_token=token)

    async def delete_limit(self, request: admin.DeleteLimitRequest) -> admin.DeleteLimitResponse:
        check_name(request.name, "name")
        await self._plane.delete_limit(request.name)
        return admin.DeleteLimitResponse()

    async def get_limit_status(
            self, request: admin.GetLimitStatusRequest) -> admin.GetLimitStatusResponse:
        v = Violations()
        v.name(request.limit, "limit")
        v.check(len(request.key) <= KEY_LIMIT, "key", f"at most {KEY_LIMIT} characters")
        v.raise_if_any()
        status = await self._plane.limit_status(request.limit, request.key)
        return admin.GetLimitStatusResponse(
            is_rate_limited=status.is_limited, retry_after=convert.to_duration(status.retry_after),
            remaining=status.remaining, reset_time=convert.to_timestamp(status.reset_at))

    # features

    async def put_feature(self, request: admin.PutFeatureRequest) -> admin.PutFeatureResponse:
        v = Violations()
        with v.collect("feature"):
            feature = convert.feature(request.feature)
        v.raise_if_any()
        stored = await self._plane.put_feature(feature)
        return admin.PutFeatureResponse(feature=convert.encode_feature(stored))

    async def list_features(self, request: admin.ListFeaturesRequest,
                            ) -> admin.ListFeaturesResponse:
        wanted = self._page(request.page_size, request.page_token, "features")
        features = await self._plane.list_features(wanted.after, wanted.size + 1)
        features, token = paging.split(features, wanted, _name)
        return admin.ListFeaturesResponse(features=[convert.encode_feature(f) for f in features],
                                          next_page_token=token)

    async def delete_feature(
            self, request: admin.DeleteFeatureRequest) -> admin.DeleteFeatureResponse:
        check_name(request.name, "name")
        await self._plane.delete_feature(request.name)
        return admin.DeleteFeatureResponse()

    async def get_degradation(
            self, _: admin.GetDegradationRequest) -> admin.GetDegradationResponse:
        state, sequence = await self._plane.degradation()
        return admin.GetDegradationResponse(
            is_degraded=state.is_degraded, open_circuits=state.open_circuits,
            affected_features=convert.encode_affected(state),
            fallback_available=state.fallback_available, sequence=sequence,
            log_id=self._plane.events.log_id)

    # errors and health

    async def get_error_summary(
            self, _: admin.GetErrorSummaryRequest) -> admin.GetErrorSummaryResponse:
        summary = await self._plane.error_summary()
        return admin.GetErrorSummaryResponse(
            total_errors=summary.total, error_counts=summary.counts,
            recent_errors=[convert.encode_record(r) for r in summary.recent],
            errors_per_minute=summary.errors_per_minute)

    async def list_notifications(
            self, request: admin.ListNotificationsRequest) -> admin.ListNotificationsResponse:
        v = Violations()
        severity = convert.enum_value(Severity, request.min_severity, "min_severity", v, None)
        v.check(request.limit <= MAX_NOTIFICATIONS, "limit", f"at most {MAX_NOTIFICATIONS}")
        v.raise_if_any()
        size = request.limit or DEFAULT_NOTIFICATIONS
        wanted = self._page(size, request.page_token, "notifications")
        records, total = await self._plane.notifications(
            severity, size + 1, request.include_acknowledged, wanted.after)
        records, token = paging.split(records, wanted, _error_id)
        return admin.ListNotificationsResponse(
            notifications=[convert.encode_notification(r) for r in records], total=total,
            next_page_token=token)

    async def acknowledge_error(
            self, request: admin.AcknowledgeErrorRequest) -> admin.AcknowledgeErrorResponse:
        v = Violations()
        v.check(0 < len(request.error_id) <= 64, "error_id", "is required (at most 64 characters)")
        v.raise_if_any()
        record = await self._plane.acknowledge(request.error_id)
        return admin.AcknowledgeErrorResponse(record=convert.encode_record(record))

    async def get_system_health(
            self, _: admin.GetSystemHealthRequest) -> admin.GetSystemHealthResponse:
        h, sequence = await self._plane.system_health()
        return admin.GetSystemHealthResponse(
            health=convert.wire(h.health), total_errors=h.total_errors,
            critical_errors=h.critical_errors, open_circuits=h.open_circuits,
            circuit_breakers=[convert.encode_breaker(v) for v in h.breakers],
            sequence=sequence, log_id=self._plane.events.log_id)


def _name(item: BreakerView | LimitConfig | Feature) -> str:
    return item.name


def _error_id(record: ErrorRecord) -> str:
    return record.error_id
