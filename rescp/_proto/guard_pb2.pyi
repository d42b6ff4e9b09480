import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rescp._proto import enums_pb2 as _enums_pb2
from rescp._proto import limits_pb2 as _limits_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AllowRequest(_message.Message):
    __slots__ = ("breaker", "limit", "key", "cost")
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    breaker: str
    limit: str
    key: str
    cost: int
    def __init__(self, breaker: _Optional[str] = ..., limit: _Optional[str] = ..., key: _Optional[str] = ..., cost: _Optional[int] = ...) -> None: ...

class AllowResponse(_message.Message):
    __slots__ = ("allowed", "verdict", "breaker_state", "retry_after", "remaining", "permit")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    BREAKER_STATE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    PERMIT_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    verdict: _enums_pb2.Verdict
    breaker_state: _enums_pb2.BreakerState
    retry_after: _duration_pb2.Duration
    remaining: int
    permit: str
    def __init__(self, allowed: _Optional[bool] = ..., verdict: _Optional[_Union[_enums_pb2.Verdict, str]] = ..., breaker_state: _Optional[_Union[_enums_pb2.BreakerState, str]] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., remaining: _Optional[int] = ..., permit: _Optional[str] = ...) -> None: ...

class RecordRequest(_message.Message):
    __slots__ = ("breaker", "outcome", "duration", "permit", "error", "count")
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    PERMIT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    breaker: str
    outcome: _enums_pb2.Outcome
    duration: _duration_pb2.Duration
    permit: str
    error: ReportRequest
    count: int
    def __init__(self, breaker: _Optional[str] = ..., outcome: _Optional[_Union[_enums_pb2.Outcome, str]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., permit: _Optional[str] = ..., error: _Optional[_Union[ReportRequest, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class RecordResponse(_message.Message):
    __slots__ = ("breaker_state", "error")
    BREAKER_STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    breaker_state: _enums_pb2.BreakerState
    error: ErrorRecord
    def __init__(self, breaker_state: _Optional[_Union[_enums_pb2.BreakerState, str]] = ..., error: _Optional[_Union[ErrorRecord, _Mapping]] = ...) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("operation", "error_type", "message", "user_id", "grpc_code", "http_status", "breaker", "context", "service", "time", "idempotency_key")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    GRPC_CODE_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    operation: str
    error_type: str
    message: str
    user_id: str
    grpc_code: int
    http_status: int
    breaker: str
    context: _containers.ScalarMap[str, str]
    service: str
    time: _timestamp_pb2.Timestamp
    idempotency_key: str
    def __init__(self, operation: _Optional[str] = ..., error_type: _Optional[str] = ..., message: _Optional[str] = ..., user_id: _Optional[str] = ..., grpc_code: _Optional[int] = ..., http_status: _Optional[int] = ..., breaker: _Optional[str] = ..., context: _Optional[_Mapping[str, str]] = ..., service: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ReportResponse(_message.Message):
    __slots__ = ("record",)
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: ErrorRecord
    def __init__(self, record: _Optional[_Union[ErrorRecord, _Mapping]] = ...) -> None: ...

class RecoveryAction(_message.Message):
    __slots__ = ("type", "message")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    type: str
    message: str
    def __init__(self, type: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ErrorRecord(_message.Message):
    __slots__ = ("error_id", "operation", "error_type", "message", "category", "severity", "user_message", "time", "acknowledged", "user_id", "action", "fingerprint", "context", "service", "breaker")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ERROR_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    USER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    error_id: str
    operation: str
    error_type: str
    message: str
    category: _enums_pb2.ErrorCategory
    severity: _enums_pb2.Severity
    user_message: str
    time: _timestamp_pb2.Timestamp
    acknowledged: bool
    user_id: str
    action: RecoveryAction
    fingerprint: str
    context: _containers.ScalarMap[str, str]
    service: str
    breaker: str
    def __init__(self, error_id: _Optional[str] = ..., operation: _Optional[str] = ..., error_type: _Optional[str] = ..., message: _Optional[str] = ..., category: _Optional[_Union[_enums_pb2.ErrorCategory, str]] = ..., severity: _Optional[_Union[_enums_pb2.Severity, str]] = ..., user_message: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., acknowledged: _Optional[bool] = ..., user_id: _Optional[str] = ..., action: _Optional[_Union[RecoveryAction, _Mapping]] = ..., fingerprint: _Optional[str] = ..., context: _Optional[_Mapping[str, str]] = ..., service: _Optional[str] = ..., breaker: _Optional[str] = ...) -> None: ...

class ClassifyRequest(_message.Message):
    __slots__ = ("error",)
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: ReportRequest
    def __init__(self, error: _Optional[_Union[ReportRequest, _Mapping]] = ...) -> None: ...

class ClassifyResponse(_message.Message):
    __slots__ = ("category", "severity", "user_message", "action", "fingerprint", "message")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    USER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    category: _enums_pb2.ErrorCategory
    severity: _enums_pb2.Severity
    user_message: str
    action: RecoveryAction
    fingerprint: str
    message: str
    def __init__(self, category: _Optional[_Union[_enums_pb2.ErrorCategory, str]] = ..., severity: _Optional[_Union[_enums_pb2.Severity, str]] = ..., user_message: _Optional[str] = ..., action: _Optional[_Union[RecoveryAction, _Mapping]] = ..., fingerprint: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class AllowBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[AllowRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[AllowRequest, _Mapping]]] = ...) -> None: ...

class AllowBatchResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[AllowBatchItem]
    def __init__(self, items: _Optional[_Iterable[_Union[AllowBatchItem, _Mapping]]] = ...) -> None: ...

class AllowBatchItem(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: AllowResponse
    error: ItemError
    def __init__(self, response: _Optional[_Union[AllowResponse, _Mapping]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...

class RecordBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[RecordRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[RecordRequest, _Mapping]]] = ...) -> None: ...

class RecordBatchResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[RecordBatchItem]
    def __init__(self, items: _Optional[_Iterable[_Union[RecordBatchItem, _Mapping]]] = ...) -> None: ...

class RecordBatchItem(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: RecordResponse
    error: ItemError
    def __init__(self, response: _Optional[_Union[RecordResponse, _Mapping]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "reason", "message", "fields")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    code: int
    reason: str
    message: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, code: _Optional[int] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ...) -> None: ...

class ReturnTokensRequest(_message.Message):
    __slots__ = ("limit", "key", "tokens")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    limit: str
    key: str
    tokens: int
    def __init__(self, limit: _Optional[str] = ..., key: _Optional[str] = ..., tokens: _Optional[int] = ...) -> None: ...

class ReturnTokensResponse(_message.Message):
    __slots__ = ("remaining",)
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    remaining: int
    def __init__(self, remaining: _Optional[int] = ...) -> None: ...
