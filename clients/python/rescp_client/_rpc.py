"""The RPCs the client calls and the channel it calls them on; shared by both flavours.

There are no generated `_pb2_grpc` stubs: each RPC is a path plus its request and response
types (unary, or server-streaming for Watch), and each flavour builds its multicallables from
this table. The channel options make a
client heal by itself: reconnect attempts every 1-2 s whatever happened before (grpc's default
backoff grows to 120 s, so a client that saw rescp down for a while would stay blind long after
it came back), and keepalive pings so a silently dropped connection is noticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf.message import Message

from rescp_client._proto import admin_pb2 as admin
from rescp_client._proto import events_pb2 as events
from rescp_client._proto import guard_pb2 as guard

PAGE_SIZE = 1000
"""Items asked per page of a List RPC: the server's maximum, so a listing takes few calls."""

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)

CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 1_000),
    ("grpc.min_reconnect_backoff_ms", 1_000),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
)


@dataclass(frozen=True, slots=True)
class Rpc(Generic[Req, Resp]):
    """One RPC: where it lives and what goes in and out."""

    path: str
    request: type[Req]
    response: type[Resp]


_GUARD = "/rescp.v1.GuardService/"
_ADMIN = "/rescp.v1.AdminService/"
_EVENTS = "/rescp.v1.EventService/"

ALLOW = Rpc(_GUARD + "Allow", guard.AllowRequest, guard.AllowResponse)
RECORD = Rpc(_GUARD + "Record", guard.RecordRequest, guard.RecordResponse)
RETURN_TOKENS = Rpc(_GUARD + "ReturnTokens", guard.ReturnTokensRequest,
                    guard.ReturnTokensResponse)
RECORD_BATCH = Rpc(_GUARD + "RecordBatch", guard.RecordBatchRequest, guard.RecordBatchResponse)
REPORT = Rpc(_GUARD + "Report", guard.ReportRequest, guard.ReportResponse)
CLASSIFY = Rpc(_GUARD + "Classify", guard.ClassifyRequest, guard.ClassifyResponse)

PUT_BREAKER = Rpc(_ADMIN + "PutBreaker", admin.PutBreakerRequest, admin.PutBreakerResponse)
GET_BREAKER = Rpc(_ADMIN + "GetBreaker", admin.GetBreakerRequest, admin.GetBreakerResponse)
LIST_BREAKERS = Rpc(_ADMIN + "ListBreakers", admin.ListBreakersRequest,
                    admin.ListBreakersResponse)
DELETE_BREAKER = Rpc(_ADMIN + "DeleteBreaker", admin.DeleteBreakerRequest,
                     admin.DeleteBreakerResponse)
TRANSITION_BREAKER = Rpc(_ADMIN + "TransitionBreaker", admin.TransitionBreakerRequest,
                         admin.TransitionBreakerResponse)
PUT_LIMIT = Rpc(_ADMIN + "PutLimit", admin.PutLimitRequest, admin.PutLimitResponse)
LIST_LIMITS = Rpc(_ADMIN + "ListLimits", admin.ListLimitsRequest, admin.ListLimitsResponse)
DELETE_LIMIT = Rpc(_ADMIN + "DeleteLimit", admin.DeleteLimitRequest, admin.DeleteLimitResponse)
GET_LIMIT_STATUS = Rpc(_ADMIN + "GetLimitStatus", admin.GetLimitStatusRequest,
                       admin.GetLimitStatusResponse)
PUT_FEATURE = Rpc(_ADMIN + "PutFeature", admin.PutFeatureRequest, admin.PutFeatureResponse)
LIST_FEATURES = Rpc(_ADMIN + "ListFeatures", admin.ListFeaturesRequest,
                    admin.ListFeaturesResponse)
DELETE_FEATURE = Rpc(_ADMIN + "DeleteFeature", admin.DeleteFeatureRequest,
                     admin.DeleteFeatureResponse)
GET_DEGRADATION = Rpc(_ADMIN + "GetDegradation", admin.GetDegradationRequest,
                      admin.GetDegradationResponse)
GET_ERROR_SUMMARY = Rpc(_ADMIN + "GetErrorSummary", admin.GetErrorSummaryRequest,
                        admin.GetErrorSummaryResponse)
LIST_NOTIFICATIONS = Rpc(_ADMIN + "ListNotifications", admin.ListNotificationsRequest,
                         admin.ListNotificationsResponse)
ACKNOWLEDGE_ERROR = Rpc(_ADMIN + "AcknowledgeError", admin.AcknowledgeErrorRequest,
                        admin.AcknowledgeErrorResponse)
GET_SYSTEM_HEALTH = Rpc(_ADMIN + "GetSystemHealth", admin.GetSystemHealthRequest,
                        admin.GetSystemHealthResponse)

WATCH = Rpc(_EVENTS + "Watch", events.WatchRequest, events.WatchResponse)  # server-streaming
