import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rescp_client._proto import enums_pb2 as _enums_pb2
from rescp_client._proto import guard_pb2 as _guard_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BreakerConfig(_message.Message):
    __slots__ = ("failure_threshold", "failure_rate_threshold", "slow_call_rate_threshold", "slow_call_duration", "window_type", "window_size", "minimum_calls", "recovery_timeout", "half_open_permits")
    FAILURE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    FAILURE_RATE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SLOW_CALL_RATE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SLOW_CALL_DURATION_FIELD_NUMBER: _ClassVar[int]
    WINDOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SIZE_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_CALLS_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    HALF_OPEN_PERMITS_FIELD_NUMBER: _ClassVar[int]
    failure_threshold: int
    failure_rate_threshold: float
    slow_call_rate_threshold: float
    slow_call_duration: _duration_pb2.Duration
    window_type: _enums_pb2.WindowType
    window_size: int
    minimum_calls: int
    recovery_timeout: _duration_pb2.Duration
    half_open_permits: int
    def __init__(self, failure_threshold: _Optional[int] = ..., failure_rate_threshold: _Optional[float] = ..., slow_call_rate_threshold: _Optional[float] = ..., slow_call_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., window_type: _Optional[_Union[_enums_pb2.WindowType, str]] = ..., window_size: _Optional[int] = ..., minimum_calls: _Optional[int] = ..., recovery_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., half_open_permits: _Optional[int] = ...) -> None: ...

class Breaker(_message.Message):
    __slots__ = ("name", "config", "state", "failure_count", "success_count", "last_failure_time", "state_since", "failure_rate", "slow_call_rate")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_SINCE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_RATE_FIELD_NUMBER: _ClassVar[int]
    SLOW_CALL_RATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    config: BreakerConfig
    state: _enums_pb2.BreakerState
    failure_count: int
    success_count: int
    last_failure_time: _timestamp_pb2.Timestamp
    state_since: _timestamp_pb2.Timestamp
    failure_rate: float
    slow_call_rate: float
    def __init__(self, name: _Optional[str] = ..., config: _Optional[_Union[BreakerConfig, _Mapping]] = ..., state: _Optional[_Union[_enums_pb2.BreakerState, str]] = ..., failure_count: _Optional[int] = ..., success_count: _Optional[int] = ..., last_failure_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failure_rate: _Optional[float] = ..., slow_call_rate: _Optional[float] = ...) -> None: ...

class PutBreakerRequest(_message.Message):
    __slots__ = ("name", "config")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    name: str
    config: BreakerConfig
    def __init__(self, name: _Optional[str] = ..., config: _Optional[_Union[BreakerConfig, _Mapping]] = ...) -> None: ...

class PutBreakerResponse(_message.Message):
    __slots__ = ("breaker",)
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    breaker: Breaker
    def __init__(self, breaker: _Optional[_Union[Breaker, _Mapping]] = ...) -> None: ...

class GetBreakerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetBreakerResponse(_message.Message):
    __slots__ = ("breaker",)
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    breaker: Breaker
    def __init__(self, breaker: _Optional[_Union[Breaker, _Mapping]] = ...) -> None: ...

class ListBreakersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBreakersResponse(_message.Message):
    __slots__ = ("breakers", "sequence", "log_id", "next_page_token")
    BREAKERS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    breakers: _containers.RepeatedCompositeFieldContainer[Breaker]
    sequence: int
    log_id: str
    next_page_token: str
    def __init__(self, breakers: _Optional[_Iterable[_Union[Breaker, _Mapping]]] = ..., sequence: _Optional[int] = ..., log_id: _Optional[str] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteBreakerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteBreakerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TransitionBreakerRequest(_message.Message):
    __slots__ = ("name", "state")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: _enums_pb2.BreakerState
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[_enums_pb2.BreakerState, str]] = ...) -> None: ...

class TransitionBreakerResponse(_message.Message):
    __slots__ = ("breaker",)
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    breaker: Breaker
    def __init__(self, breaker: _Optional[_Union[Breaker, _Mapping]] = ...) -> None: ...

class Limit(_message.Message):
    __slots__ = ("name", "algorithm", "max_requests", "window", "lease")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    MAX_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    name: str
    algorithm: _enums_pb2.Algorithm
    max_requests: int
    window: _duration_pb2.Duration
    lease: int
    def __init__(self, name: _Optional[str] = ..., algorithm: _Optional[_Union[_enums_pb2.Algorithm, str]] = ..., max_requests: _Optional[int] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., lease: _Optional[int] = ...) -> None: ...

class PutLimitRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: Limit
    def __init__(self, limit: _Optional[_Union[Limit, _Mapping]] = ...) -> None: ...

class PutLimitResponse(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: Limit
    def __init__(self, limit: _Optional[_Union[Limit, _Mapping]] = ...) -> None: ...

class ListLimitsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLimitsResponse(_message.Message):
    __slots__ = ("limits", "next_page_token")
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    limits: _containers.RepeatedCompositeFieldContainer[Limit]
    next_page_token: str
    def __init__(self, limits: _Optional[_Iterable[_Union[Limit, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteLimitRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteLimitResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetLimitStatusRequest(_message.Message):
    __slots__ = ("limit", "key")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    limit: str
    key: str
    def __init__(self, limit: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class GetLimitStatusResponse(_message.Message):
    __slots__ = ("is_rate_limited", "retry_after", "remaining", "reset_time")
    IS_RATE_LIMITED_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    RESET_TIME_FIELD_NUMBER: _ClassVar[int]
    is_rate_limited: bool
    retry_after: _duration_pb2.Duration
    remaining: int
    reset_time: _timestamp_pb2.Timestamp
    def __init__(self, is_rate_limited: _Optional[bool] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., remaining: _Optional[int] = ..., reset_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Feature(_message.Message):
    __slots__ = ("name", "breakers", "degraded_message", "fallback_available")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BREAKERS_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    breakers: _containers.RepeatedScalarFieldContainer[str]
    degraded_message: str
    fallback_available: bool
    def __init__(self, name: _Optional[str] = ..., breakers: _Optional[_Iterable[str]] = ..., degraded_message: _Optional[str] = ..., fallback_available: _Optional[bool] = ...) -> None: ...

class PutFeatureRequest(_message.Message):
    __slots__ = ("feature",)
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    feature: Feature
    def __init__(self, feature: _Optional[_Union[Feature, _Mapping]] = ...) -> None: ...

class PutFeatureResponse(_message.Message):
    __slots__ = ("feature",)
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    feature: Feature
    def __init__(self, feature: _Optional[_Union[Feature, _Mapping]] = ...) -> None: ...

class ListFeaturesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFeaturesResponse(_message.Message):
    __slots__ = ("features", "next_page_token")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[Feature]
    next_page_token: str
    def __init__(self, features: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteFeatureRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteFeatureResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AffectedFeature(_message.Message):
    __slots__ = ("feature", "status", "message")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    feature: str
    status: str
    message: str
    def __init__(self, feature: _Optional[str] = ..., status: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class GetDegradationRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDegradationResponse(_message.Message):
    __slots__ = ("is_degraded", "open_circuits", "affected_features", "fallback_available", "sequence", "log_id")
    IS_DEGRADED_FIELD_NUMBER: _ClassVar[int]
    OPEN_CIRCUITS_FIELD_NUMBER: _ClassVar[int]
    AFFECTED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    is_degraded: bool
    open_circuits: _containers.RepeatedScalarFieldContainer[str]
    affected_features: _containers.RepeatedCompositeFieldContainer[AffectedFeature]
    fallback_available: bool
    sequence: int
    log_id: str
    def __init__(self, is_degraded: _Optional[bool] = ..., open_circuits: _Optional[_Iterable[str]] = ..., affected_features: _Optional[_Iterable[_Union[AffectedFeature, _Mapping]]] = ..., fallback_available: _Optional[bool] = ..., sequence: _Optional[int] = ..., log_id: _Optional[str] = ...) -> None: ...

class GetErrorSummaryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetErrorSummaryResponse(_message.Message):
    __slots__ = ("total_errors", "error_counts", "recent_errors", "errors_per_minute")
    class ErrorCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TOTAL_ERRORS_FIELD_NUMBER: _ClassVar[int]
    ERROR_COUNTS_FIELD_NUMBER: _ClassVar[int]
    RECENT_ERRORS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    total_errors: int
    error_counts: _containers.ScalarMap[str, int]
    recent_errors: _containers.RepeatedCompositeFieldContainer[_guard_pb2.ErrorRecord]
    errors_per_minute: float
    def __init__(self, total_errors: _Optional[int] = ..., error_counts: _Optional[_Mapping[str, int]] = ..., recent_errors: _Optional[_Iterable[_Union[_guard_pb2.ErrorRecord, _Mapping]]] = ..., errors_per_minute: _Optional[float] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("id", "title", "message", "severity", "time", "action", "user_message")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    USER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    message: str
    severity: _enums_pb2.Severity
    time: _timestamp_pb2.Timestamp
    action: _guard_pb2.RecoveryAction
    user_message: str
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., message: _Optional[str] = ..., severity: _Optional[_Union[_enums_pb2.Severity, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., action: _Optional[_Union[_guard_pb2.RecoveryAction, _Mapping]] = ..., user_message: _Optional[str] = ...) -> None: ...

class ListNotificationsRequest(_message.Message):
    __slots__ = ("min_severity", "limit", "include_acknowledged", "page_token")
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    min_severity: _enums_pb2.Severity
    limit: int
    include_acknowledged: bool
    page_token: str
    def __init__(self, min_severity: _Optional[_Union[_enums_pb2.Severity, str]] = ..., limit: _Optional[int] = ..., include_acknowledged: _Optional[bool] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListNotificationsResponse(_message.Message):
    __slots__ = ("notifications", "total", "next_page_token")
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    total: int
    next_page_token: str
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ..., total: _Optional[int] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AcknowledgeErrorRequest(_message.Message):
    __slots__ = ("error_id",)
    ERROR_ID_FIELD_NUMBER: _ClassVar[int]
    error_id: str
    def __init__(self, error_id: _Optional[str] = ...) -> None: ...

class AcknowledgeErrorResponse(_message.Message):
    __slots__ = ("record",)
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: _guard_pb2.ErrorRecord
    def __init__(self, record: _Optional[_Union[_guard_pb2.ErrorRecord, _Mapping]] = ...) -> None: ...

class GetSystemHealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSystemHealthResponse(_message.Message):
    __slots__ = ("health", "total_errors", "critical_errors", "open_circuits", "circuit_breakers", "sequence", "log_id")
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ERRORS_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_ERRORS_FIELD_NUMBER: _ClassVar[int]
    OPEN_CIRCUITS_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_BREAKERS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    health: _enums_pb2.Health
    total_errors: int
    critical_errors: int
    open_circuits: int
    circuit_breakers: _containers.RepeatedCompositeFieldContainer[Breaker]
    sequence: int
    log_id: str
    def __init__(self, health: _Optional[_Union[_enums_pb2.Health, str]] = ..., total_errors: _Optional[int] = ..., critical_errors: _Optional[int] = ..., open_circuits: _Optional[int] = ..., circuit_breakers: _Optional[_Iterable[_Union[Breaker, _Mapping]]] = ..., sequence: _Optional[int] = ..., log_id: _Optional[str] = ...) -> None: ...
