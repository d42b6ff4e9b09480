import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rescp_client._proto import admin_pb2 as _admin_pb2
from rescp_client._proto import enums_pb2 as _enums_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WatchRequest(_message.Message):
    __slots__ = ("types", "min_severity", "after_sequence")
    TYPES_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    types: _containers.RepeatedScalarFieldContainer[_enums_pb2.EventType]
    min_severity: _enums_pb2.Severity
    after_sequence: int
    def __init__(self, types: _Optional[_Iterable[_Union[_enums_pb2.EventType, str]]] = ..., min_severity: _Optional[_Union[_enums_pb2.Severity, str]] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("sequence", "time", "breaker_transition", "notification", "degradation_change", "health_change", "rate_limit_exceeded", "breaker_deleted")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    BREAKER_TRANSITION_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    DEGRADATION_CHANGE_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHANGE_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_EXCEEDED_FIELD_NUMBER: _ClassVar[int]
    BREAKER_DELETED_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    time: _timestamp_pb2.Timestamp
    breaker_transition: BreakerTransition
    notification: _admin_pb2.Notification
    degradation_change: DegradationChange
    health_change: HealthChange
    rate_limit_exceeded: RateLimitExceeded
    breaker_deleted: BreakerDeleted
    def __init__(self, sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., breaker_transition: _Optional[_Union[BreakerTransition, _Mapping]] = ..., notification: _Optional[_Union[_admin_pb2.Notification, _Mapping]] = ..., degradation_change: _Optional[_Union[DegradationChange, _Mapping]] = ..., health_change: _Optional[_Union[HealthChange, _Mapping]] = ..., rate_limit_exceeded: _Optional[_Union[RateLimitExceeded, _Mapping]] = ..., breaker_deleted: _Optional[_Union[BreakerDeleted, _Mapping]] = ...) -> None: ...

class BreakerTransition(_message.Message):
    __slots__ = ("breaker", "from_state", "to_state", "reason")
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    breaker: str
    from_state: _enums_pb2.BreakerState
    to_state: _enums_pb2.BreakerState
    reason: str
    def __init__(self, breaker: _Optional[str] = ..., from_state: _Optional[_Union[_enums_pb2.BreakerState, str]] = ..., to_state: _Optional[_Union[_enums_pb2.BreakerState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class DegradationChange(_message.Message):
    __slots__ = ("is_degraded", "affected_features", "open_circuits", "open_circuit_count", "affected_feature_count")
    IS_DEGRADED_FIELD_NUMBER: _ClassVar[int]
    AFFECTED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    OPEN_CIRCUITS_FIELD_NUMBER: _ClassVar[int]
    OPEN_CIRCUIT_COUNT_FIELD_NUMBER: _ClassVar[int]
    AFFECTED_FEATURE_COUNT_FIELD_NUMBER: _ClassVar[int]
    is_degraded: bool
    affected_features: _containers.RepeatedCompositeFieldContainer[_admin_pb2.AffectedFeature]
    open_circuits: _containers.RepeatedScalarFieldContainer[str]
    open_circuit_count: int
    affected_feature_count: int
    def __init__(self, is_degraded: _Optional[bool] = ..., affected_features: _Optional[_Iterable[_Union[_admin_pb2.AffectedFeature, _Mapping]]] = ..., open_circuits: _Optional[_Iterable[str]] = ..., open_circuit_count: _Optional[int] = ..., affected_feature_count: _Optional[int] = ...) -> None: ...

class HealthChange(_message.Message):
    __slots__ = ("from_health", "to_health")
    FROM_HEALTH_FIELD_NUMBER: _ClassVar[int]
    TO_HEALTH_FIELD_NUMBER: _ClassVar[int]
    from_health: _enums_pb2.Health
    to_health: _enums_pb2.Health
    def __init__(self, from_health: _Optional[_Union[_enums_pb2.Health, str]] = ..., to_health: _Optional[_Union[_enums_pb2.Health, str]] = ...) -> None: ...

class RateLimitExceeded(_message.Message):
    __slots__ = ("limit", "key", "retry_after", "refused")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    limit: str
    key: str
    retry_after: _duration_pb2.Duration
    refused: int
    def __init__(self, limit: _Optional[str] = ..., key: _Optional[str] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., refused: _Optional[int] = ...) -> None: ...

class BreakerDeleted(_message.Message):
    __slots__ = ("breaker", "last_state")
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    LAST_STATE_FIELD_NUMBER: _ClassVar[int]
    breaker: str
    last_state: _enums_pb2.BreakerState
    def __init__(self, breaker: _Optional[str] = ..., last_state: _Optional[_Union[_enums_pb2.BreakerState, str]] = ...) -> None: ...
