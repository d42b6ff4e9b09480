"""Models <-> protos, shared by both flavours: pure functions, no I/O.

Requests are built from the keyword arguments users pass (float seconds, lower-case enum names);
a bad enum name is refused here, before anything is sent, with the same InvalidArgumentError the
server would raise. Responses become the frozen dataclasses of `models`. Enum values travel as
their proto names, so every mapping is "PREFIX_" + upper-case of the user's word and back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypedDict, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from rescp_client._proto import admin_pb2 as admin
from rescp_client._proto import enums_pb2 as enums
from rescp_client._proto import events_pb2 as events
from rescp_client._proto import guard_pb2 as guard
from rescp_client.errors import BreakerOpenError, InvalidArgumentError, RateLimitedError
from rescp_client.models import (
    Admission,
    AffectedFeature,
    Breaker,
    BreakerConfig,
    BreakerDeleted,
    BreakerState,
    BreakerTransition,
    Classification,
    Degradation,
    DegradationChange,
    ErrorRecord,
    ErrorSummary,
    Feature,
    HealthChange,
    Limit,
    LimitStatus,
    Notification,
    NotificationEvent,
    NotificationList,
    RateLimitExceeded,
    RecoveryAction,
    Snapshot,
    SystemHealth,
    WatchEvent,
)


class BreakerFields(TypedDict, total=False):
    """`put_breaker` keywords: any BreakerConfig field; durations in float seconds."""

    failure_threshold: int
    failure_rate_threshold: float
    slow_call_rate_threshold: float
    slow_call_duration: float
    window_type: str  # "count" | "time"
    window_size: int
    minimum_calls: int
    recovery_timeout: float
    half_open_permits: int


_DURATION_FIELDS = frozenset({"slow_call_duration", "recovery_timeout"})
MANUAL_STATES = ("closed", "forced_open", "disabled")

M = TypeVar("M", bound=Message)

_INT_RANGES = {
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1), FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1)}
MAX_SECONDS = 315_576_000_000
"""The largest Duration the wire carries (10,000 years)."""

# scalars


def checked(kind: type[M], prefix: str = "", **values: Any) -> M:
    """`kind(**values)`, or the InvalidArgumentError naming the first value the wire cannot
    carry (protobuf's own ValueError/TypeError names no field)."""
    try:
        return kind(**values)
    except (TypeError, ValueError):
        pass
    for name, value in values.items():
        try:
            kind(**{name: value})
        except (TypeError, ValueError):
            raise InvalidArgumentError.local(prefix + name, _carries(kind, name)) from None
    raise InvalidArgumentError.local(prefix.rstrip(".") or kind.DESCRIPTOR.name,
                                     "cannot be encoded")


def _carries(kind: type[Message], name: str) -> str:
    """What field `name` of `kind` can carry, for an error message."""
    field = kind.DESCRIPTOR.fields_by_name.get(name)
    if field is None:
        return "is not a field of " + kind.DESCRIPTOR.name
    if field.cpp_type in _INT_RANGES:
        low, high = _INT_RANGES[field.cpp_type]
        return f"must be an integer from {low} to {high}"
    if field.cpp_type == FieldDescriptor.CPPTYPE_DOUBLE:
        return "must be a number"
    return "has the wrong type"


def duration(seconds: float, field: str = "duration") -> Duration:
    """Float seconds as a Duration; anything that is not a finite number of seconds the wire
    can carry is refused here."""
    if (isinstance(seconds, bool) or not isinstance(seconds, int | float)
            or not math.isfinite(seconds) or abs(seconds) > MAX_SECONDS):
        raise InvalidArgumentError.local(field, "must be a finite number of seconds")
    value = Duration()
    value.FromNanoseconds(round(seconds * 1e9))
    return value


def seconds(value: Duration) -> float:
    return value.seconds + value.nanos / 1e9


def instant(value: Timestamp) -> float:
    return value.seconds + value.nanos / 1e9


def epoch(value: Timestamp, present: bool) -> float | None:
    """Float epoch seconds, or None when the field was never set."""
    return instant(value) if present else None


def enum_name(kind: EnumTypeWrapper, prefix: str, word: str, field: str,
              allowed: tuple[str, ...] | None = None) -> str:
    """The proto name for a user's word ("time" -> "WINDOW_TYPE_TIME"), any case."""
    word = str(word).lower()
    names: list[str] = kind.keys()
    words = allowed or tuple(n.removeprefix(prefix).lower() for n in names
                             if not n.endswith("_UNSPECIFIED"))
    if word not in words:
        raise InvalidArgumentError.local(field, f"must be one of {', '.join(words)}")
    return prefix + word.upper()


def enum_word(kind: EnumTypeWrapper, prefix: str, number: int) -> str:
    """The lower-case word for a proto enum value; "unknown" for a value newer than the client."""
    try:
        return kind.Name(number).removeprefix(prefix).lower()
    except ValueError:
        return "unknown"


_STATES = {enums.BreakerState.Value(f"BREAKER_STATE_{s.name}"): s for s in BreakerState}


def breaker_state(number: int) -> BreakerState | None:
    """The state, or None when no breaker was consulted (UNSPECIFIED)."""
    return _STATES.get(number)


# requests


def put_breaker(name: str, fields: BreakerFields) -> admin.PutBreakerRequest:
    """No fields: the server's default config. Some: those, every other rule off."""
    unknown = set(fields) - set(BreakerFields.__annotations__)
    if unknown:
        raise TypeError(f"put_breaker() got unexpected keyword arguments: {sorted(unknown)}")
    if not fields:
        return admin.PutBreakerRequest(name=name)
    values: dict[str, Any] = dict(fields)
    for key in _DURATION_FIELDS & values.keys():
        values[key] = duration(values[key], "config." + key)
    if "window_type" in values:
        values["window_type"] = enum_name(enums.WindowType, "WINDOW_TYPE_",
                                          values["window_type"], "config.window_type")
    config = checked(admin.BreakerConfig, "config.", **values)
    return checked(admin.PutBreakerRequest, name=name, config=config)


def transition(name: str, state: str) -> admin.TransitionBreakerRequest:
    return admin.TransitionBreakerRequest(name=name, state=enum_name(
        enums.BreakerState, "BREAKER_STATE_", str(state), "state", MANUAL_STATES))


def put_limit(name: str, max_requests: int, window: float,
              algorithm: str, lease: int = 0) -> admin.PutLimitRequest:
    return admin.PutLimitRequest(limit=checked(
        admin.Limit, "limit.", name=name, max_requests=max_requests,
        window=duration(window, "limit.window"), lease=lease,
        algorithm=enum_name(enums.Algorithm, "ALGORITHM_", algorithm, "limit.algorithm")))


def notifications(min_severity: str | None, limit: int,
                  include_acknowledged: bool) -> admin.ListNotificationsRequest:
    """`min_severity` None means every severity."""
    severity = ("SEVERITY_UNSPECIFIED" if min_severity is None else
                enum_name(enums.Severity, "SEVERITY_", min_severity, "min_severity"))
    return checked(admin.ListNotificationsRequest, min_severity=severity, limit=limit,
                   include_acknowledged=include_acknowledged)


def watch_request(types: Iterable[str] | None, min_severity: str | None,
                  after_sequence: int | None) -> events.WatchRequest:
    """What a watch asks for. `types` None or empty means every type (a lone string is one
    type); `min_severity` None means every notification."""
    wanted = (types,) if isinstance(types, str) else tuple(types or ())
    severity = ("SEVERITY_UNSPECIFIED" if min_severity is None else
                enum_name(enums.Severity, "SEVERITY_", min_severity, "min_severity"))
    request = events.WatchRequest(min_severity=severity, types=[
        enum_name(enums.EventType, "EVENT_TYPE_", word, f"types[{i}]")
        for i, word in enumerate(wanted)])
    if after_sequence is not None:
        if after_sequence < 0:
            raise InvalidArgumentError.local("after_sequence", "must be 0 or more")
        request.after_sequence = after_sequence
    return request


def resumed(request: events.WatchRequest, after_sequence: int) -> events.WatchRequest:
    """The same filter, asking for the events after `after_sequence`."""
    again = events.WatchRequest()
    again.CopyFrom(request)
    again.after_sequence = after_sequence
    return again


def record(breaker: str, outcome: enums.Outcome, took: float, permit: str,
           error: guard.ReportRequest | None) -> guard.RecordRequest:
    request = guard.RecordRequest(breaker=breaker, outcome=outcome,
                                  duration=duration(max(took, 0.0)), permit=permit)
    if error is not None:
        request.error.CopyFrom(error)
    return request


# responses


def admission(response: guard.AllowResponse, request: guard.AllowRequest) -> Admission:
    """What an AllowResponse grants, or the refusal it says, raised."""
    state = breaker_state(response.breaker_state)
    if response.allowed:
        return Admission(checked=True, breaker_state=state,
                         remaining=response.remaining if request.limit else None,
                         permit=response.permit)
    retry_after = seconds(response.retry_after)
    if response.verdict == enums.VERDICT_RATE_LIMITED:
        raise RateLimitedError(request.limit, request.key, retry_after)
    raise BreakerOpenError(request.breaker, state.value if state else "open", retry_after)


def breaker_config(msg: admin.BreakerConfig) -> BreakerConfig:
    return BreakerConfig(
        failure_threshold=msg.failure_threshold,
        failure_rate_threshold=msg.failure_rate_threshold,
        slow_call_rate_threshold=msg.slow_call_rate_threshold,
        slow_call_duration=seconds(msg.slow_call_duration),
        window_type=enum_word(enums.WindowType, "WINDOW_TYPE_", msg.window_type),
        window_size=msg.window_size, minimum_calls=msg.minimum_calls,
        recovery_timeout=seconds(msg.recovery_timeout),
        half_open_permits=msg.half_open_permits)


def _rate(value: float) -> float | None:
    return None if value < 0 else value


def breaker(msg: admin.Breaker) -> Breaker:
    return Breaker(
        name=msg.name, config=breaker_config(msg.config),
        state=breaker_state(msg.state) or BreakerState.CLOSED,
        failure_count=msg.failure_count, success_count=msg.success_count,
        last_failure_time=epoch(msg.last_failure_time, msg.HasField("last_failure_time")),
        state_since=epoch(msg.state_since, msg.HasField("state_since")),
        failure_rate=_rate(msg.failure_rate), slow_call_rate=_rate(msg.slow_call_rate))


def limit(msg: admin.Limit) -> Limit:
    return Limit(name=msg.name, max_requests=msg.max_requests, window=seconds(msg.window),
                 algorithm=enum_word(enums.Algorithm, "ALGORITHM_", msg.algorithm),
                 lease=msg.lease)


def limit_status(msg: admin.GetLimitStatusResponse) -> LimitStatus:
    return LimitStatus(is_rate_limited=msg.is_rate_limited, retry_after=seconds(msg.retry_after),
                       remaining=msg.remaining,
                       reset_time=epoch(msg.reset_time, msg.HasField("reset_time")))


def feature(msg: admin.Feature) -> Feature:
    return Feature(name=msg.name, breakers=tuple(msg.breakers),
                   degraded_message=msg.degraded_message,
                   fallback_available=msg.fallback_available)


def _affected(features: Iterable[admin.AffectedFeature]) -> tuple[AffectedFeature, ...]:
    return tuple(AffectedFeature(a.feature, a.status, a.message) for a in features)


def degradation(msg: admin.GetDegradationResponse) -> Degradation:
    return Degradation(
        is_degraded=msg.is_degraded, open_circuits=tuple(msg.open_circuits),
        affected_features=_affected(msg.affected_features),
        fallback_available=msg.fallback_available, sequence=msg.sequence)


def _action(msg: guard.RecoveryAction) -> RecoveryAction:
    return RecoveryAction(type=msg.type, message=msg.message)


def _severity(number: int) -> str:
    return enum_word(enums.Severity, "SEVERITY_", number)


def error_record(msg: guard.ErrorRecord) -> ErrorRecord:
    return ErrorRecord(
        error_id=msg.error_id, operation=msg.operation, error_type=msg.error_type,
        message=msg.message,
        category=enum_word(enums.ErrorCategory, "ERROR_CATEGORY_", msg.category),
        severity=_severity(msg.severity), user_message=msg.user_message,
        time=epoch(msg.time, msg.HasField("time")), acknowledged=msg.acknowledged,
        user_id=msg.user_id, action=_action(msg.action), fingerprint=msg.fingerprint,
        context=dict(msg.context), service=msg.service, breaker=msg.breaker)


def notification(msg: admin.Notification) -> Notification:
    return Notification(id=msg.id, title=msg.title, message=msg.message,
                        severity=_severity(msg.severity),
                        time=epoch(msg.time, msg.HasField("time")), action=_action(msg.action),
                        user_message=msg.user_message)


def notification_list(msg: admin.ListNotificationsResponse) -> NotificationList:
    return NotificationList((notification(n) for n in msg.notifications), msg.total)


def classification(msg: guard.ClassifyResponse) -> Classification:
    return Classification(
        category=enum_word(enums.ErrorCategory, "ERROR_CATEGORY_", msg.category),
        severity=_severity(msg.severity), user_message=msg.user_message,
        action=_action(msg.action), fingerprint=msg.fingerprint, message=msg.message)


def error_summary(msg: admin.GetErrorSummaryResponse) -> ErrorSummary:
    return ErrorSummary(total_errors=msg.total_errors, error_counts=dict(msg.error_counts),
                        recent_errors=tuple(error_record(r) for r in msg.recent_errors),
                        errors_per_minute=msg.errors_per_minute)


def _health(number: int) -> str:
    return enum_word(enums.Health, "HEALTH_", number)


def system_health(msg: admin.GetSystemHealthResponse) -> SystemHealth:
    return SystemHealth(
        health=_health(msg.health), total_errors=msg.total_errors,
        critical_errors=msg.critical_errors, open_circuits=msg.open_circuits,
        circuit_breakers=tuple(breaker(b) for b in msg.circuit_breakers), sequence=msg.sequence)


def event(msg: events.Event) -> WatchEvent | None:
    """The typed event, or None for one this client cannot represent: a payload type added to
    the protocol after it (an unknown oneof field) or a breaker state it does not know."""
    at = msg.sequence, instant(msg.time)
    match msg.WhichOneof("payload"):
        case "breaker_transition":
            t = msg.breaker_transition
            states = breaker_state(t.from_state), breaker_state(t.to_state)
            if states[0] is None or states[1] is None:
                return None
            return BreakerTransition(*at, t.breaker, states[0], states[1], t.reason)
        case "notification":
            return NotificationEvent(*at, notification(msg.notification))
        case "degradation_change":
            d = msg.degradation_change
            return DegradationChange(*at, d.is_degraded, tuple(d.open_circuits),
                                     _affected(d.affected_features))
        case "health_change":
            h = msg.health_change
            return HealthChange(*at, _health(h.from_health), _health(h.to_health))
        case "rate_limit_exceeded":
            r = msg.rate_limit_exceeded
            return RateLimitExceeded(*at, r.limit, r.key, seconds(r.retry_after), r.refused)
        case "breaker_deleted":
            gone = msg.breaker_deleted
            return BreakerDeleted(*at, gone.breaker, breaker_state(gone.last_state))
    return None


def snapshot(breakers: admin.ListBreakersResponse, health: admin.GetSystemHealthResponse,
             degraded: admin.GetDegradationResponse) -> Snapshot:
    """Three reads as one state; its sequence is the oldest of theirs, so watching after it
    misses nothing any of them missed."""
    return Snapshot(sequence=min(breakers.sequence, health.sequence, degraded.sequence),
                    breakers=tuple(breaker(b) for b in breakers.breakers),
                    health=system_health(health), degradation=degradation(degraded))
