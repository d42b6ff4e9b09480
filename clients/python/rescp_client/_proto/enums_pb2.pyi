from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class BreakerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAKER_STATE_UNSPECIFIED: _ClassVar[BreakerState]
    BREAKER_STATE_CLOSED: _ClassVar[BreakerState]
    BREAKER_STATE_OPEN: _ClassVar[BreakerState]
    BREAKER_STATE_HALF_OPEN: _ClassVar[BreakerState]
    BREAKER_STATE_FORCED_OPEN: _ClassVar[BreakerState]
    BREAKER_STATE_DISABLED: _ClassVar[BreakerState]

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_ALLOWED: _ClassVar[Verdict]
    VERDICT_BREAKER_OPEN: _ClassVar[Verdict]
    VERDICT_RATE_LIMITED: _ClassVar[Verdict]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_SUCCESS: _ClassVar[Outcome]
    OUTCOME_FAILURE: _ClassVar[Outcome]
    OUTCOME_IGNORED: _ClassVar[Outcome]

class ErrorCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CATEGORY_UNSPECIFIED: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_NETWORK: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_DATABASE: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_API: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_RATE_LIMIT: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_VALIDATION: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_PROCESSING: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_SYSTEM: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_UNKNOWN: _ClassVar[ErrorCategory]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_LOW: _ClassVar[Severity]
    SEVERITY_MEDIUM: _ClassVar[Severity]
    SEVERITY_HIGH: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]

class Health(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEALTH_UNSPECIFIED: _ClassVar[Health]
    HEALTH_HEALTHY: _ClassVar[Health]
    HEALTH_WARNING: _ClassVar[Health]
    HEALTH_CRITICAL: _ClassVar[Health]

class WindowType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WINDOW_TYPE_UNSPECIFIED: _ClassVar[WindowType]
    WINDOW_TYPE_COUNT: _ClassVar[WindowType]
    WINDOW_TYPE_TIME: _ClassVar[WindowType]

class Algorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALGORITHM_UNSPECIFIED: _ClassVar[Algorithm]
    ALGORITHM_SLIDING_WINDOW: _ClassVar[Algorithm]
    ALGORITHM_TOKEN_BUCKET: _ClassVar[Algorithm]

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_BREAKER_TRANSITION: _ClassVar[EventType]
    EVENT_TYPE_NOTIFICATION: _ClassVar[EventType]
    EVENT_TYPE_DEGRADATION_CHANGE: _ClassVar[EventType]
    EVENT_TYPE_HEALTH_CHANGE: _ClassVar[EventType]
    EVENT_TYPE_RATE_LIMIT_EXCEEDED: _ClassVar[EventType]
    EVENT_TYPE_BREAKER_DELETED: _ClassVar[EventType]
BREAKER_STATE_UNSPECIFIED: BreakerState
BREAKER_STATE_CLOSED: BreakerState
BREAKER_STATE_OPEN: BreakerState
BREAKER_STATE_HALF_OPEN: BreakerState
BREAKER_STATE_FORCED_OPEN: BreakerState
BREAKER_STATE_DISABLED: BreakerState
VERDICT_UNSPECIFIED: Verdict
VERDICT_ALLOWED: Verdict
VERDICT_BREAKER_OPEN: Verdict
VERDICT_RATE_LIMITED: Verdict
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_SUCCESS: Outcome
OUTCOME_FAILURE: Outcome
OUTCOME_IGNORED: Outcome
ERROR_CATEGORY_UNSPECIFIED: ErrorCategory
ERROR_CATEGORY_NETWORK: ErrorCategory
ERROR_CATEGORY_DATABASE: ErrorCategory
ERROR_CATEGORY_API: ErrorCategory
ERROR_CATEGORY_RATE_LIMIT: ErrorCategory
ERROR_CATEGORY_VALIDATION: ErrorCategory
ERROR_CATEGORY_PROCESSING: ErrorCategory
ERROR_CATEGORY_SYSTEM: ErrorCategory
ERROR_CATEGORY_UNKNOWN: ErrorCategory
SEVERITY_UNSPECIFIED: Severity
SEVERITY_LOW: Severity
SEVERITY_MEDIUM: Severity
SEVERITY_HIGH: Severity
SEVERITY_CRITICAL: Severity
HEALTH_UNSPECIFIED: Health
HEALTH_HEALTHY: Health
HEALTH_WARNING: Health
HEALTH_CRITICAL: Health
WINDOW_TYPE_UNSPECIFIED: WindowType
WINDOW_TYPE_COUNT: WindowType
WINDOW_TYPE_TIME: WindowType
ALGORITHM_UNSPECIFIED: Algorithm
ALGORITHM_SLIDING_WINDOW: Algorithm
ALGORITHM_TOKEN_BUCKET: Algorithm
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_BREAKER_TRANSITION: EventType
EVENT_TYPE_NOTIFICATION: EventType
EVENT_TYPE_DEGRADATION_CHANGE: EventType
EVENT_TYPE_HEALTH_CHANGE: EventType
EVENT_TYPE_RATE_LIMIT_EXCEEDED: EventType
EVENT_TYPE_BREAKER_DELETED: EventType
