"""Proto <-> domain, with validation of everything that comes in.

Decoders raise InvalidArgument naming every bad field by its path in the request; zero values
that mean "default" are filled in here, so the domain only ever sees final values. Encoders are
written for the hot path: plain constructor calls, durations set only when non-zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from enum import IntEnum
from functools import lru_cache
from itertools import compress, count, islice
from operator import not_
from typing import Any, TypeVar

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from rescp._proto import admin_pb2 as admin
from rescp._proto import events_pb2 as events_pb
from rescp._proto import guard_pb2 as guard
from rescp.engine.breaker import BreakerConfig, Transition
from rescp.engine.errorlog import ErrorRecord, ErrorReport
from rescp.engine.health import MAX_FEATURE_BREAKERS, Degradation, Feature
from rescp.engine.ratelimit import LimitConfig
from rescp.enums import Algorithm, EventType, WindowType
from rescp.errors import MAX_VIOLATIONS, InvalidArgument, Violations
from rescp.events import BreakerDeleted, Event, HealthChange, RateLimitExceeded
from rescp.server.textlimits import REPORT_LIMITS, check_map, check_text
from rescp.store.base import BreakerView

REPORT_PAST = 86_400.0
REPORT_FUTURE = 300.0
"""How far a report's own `time` may lie behind (24 h) or ahead (5 min) of the server's."""

# durations and times


def duration_seconds(value: Duration, field: str, v: Violations) -> float:
    """A non-negative duration in seconds; a negative or malformed one is a violation."""
    ok = 0 <= value.seconds <= 315_576_000_000 and 0 <= value.nanos <= 999_999_999
    v.check(ok, field, "must be a non-negative duration")
    return value.seconds + value.nanos / 1e9 if ok else 0.0


def to_duration(seconds: float) -> Duration:
    """A non-negative number of seconds as a Duration, to the nanosecond."""
    whole, nanos = divmod(round(seconds * 1e9), 1_000_000_000)
    return Duration(seconds=whole, nanos=nanos)


def to_timestamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    set_timestamp(stamp, seconds)
    return stamp


def set_timestamp(target: Timestamp, seconds: float) -> None:
    """Set a message's Timestamp field in place (no Timestamp object built and copied)."""
    whole = math.floor(seconds)
    target.seconds = whole
    target.nanos = min(round((seconds - whole) * 1e9), 999_999_999)


E = TypeVar("E", bound=IntEnum)
T = TypeVar("T")


def wire(value: IntEnum) -> Any:
    """A domain enum for a generated message field: it is the same int (the numbers match),
    but the generated stubs only accept their own enum types."""
    return value


def build(make: Callable[..., T], v: Violations, **values: object) -> T:
    """`make(**values)`, reporting its violations together with those already in `v`."""
    with v.collect():
        result = make(**values)
    v.raise_if_any()
    return result


def enum_value(kind: type[E], number: int, field: str, v: Violations,
               default: E | None) -> E | None:
    """The domain enum for a wire number; 0 is `default`; an unknown number is a violation."""
    if number == 0:
        return default
    try:
        return kind(number)
    except ValueError:
        v.check(False, field, f"unknown {kind.__name__} {number}")
        return default


# breakers


def breaker_config(msg: admin.BreakerConfig, default: BreakerConfig) -> BreakerConfig:
    """A BreakerConfig from the wire: rules taken literally, zero tuning fields defaulted."""
    v = Violations()
    window_type = enum_value(WindowType, msg.window_type, "window_type", v, WindowType.COUNT)
    assert window_type is not None
    window_size = msg.window_size or default.window_size
    minimum_calls = msg.minimum_calls or default.minimum_calls
    if not msg.minimum_calls and window_type is WindowType.COUNT:
        minimum_calls = min(minimum_calls, window_size)
    recovery = default.recovery_timeout
    if msg.HasField("recovery_timeout"):
        recovery = duration_seconds(msg.recovery_timeout, "recovery_timeout", v)
    slow = duration_seconds(msg.slow_call_duration, "slow_call_duration", v)
    return build(
        BreakerConfig, v,
        failure_threshold=msg.failure_threshold,
        failure_rate_threshold=msg.failure_rate_threshold,
        slow_call_rate_threshold=msg.slow_call_rate_threshold,
        slow_call_duration=slow,
        window_type=window_type,
        window_size=window_size,
        minimum_calls=minimum_calls,
        recovery_timeout=recovery,
        half_open_permits=msg.half_open_permits or default.half_open_permits,
    )


@lru_cache(maxsize=1024)
def encode_breaker_config(config: BreakerConfig) -> admin.BreakerConfig:
    """The config's message, cached (configs are few and shared; callers copy it, never
    change it): a page of 1,000 breakers must not build 1,000 of them."""
    return admin.BreakerConfig(
        failure_threshold=config.failure_threshold,
        failure_rate_threshold=config.failure_rate_threshold,
        slow_call_rate_threshold=config.slow_call_rate_threshold,
        slow_call_duration=to_duration(config.slow_call_duration),
        window_type=wire(config.window_type),
        window_size=config.window_size,
        minimum_calls=config.minimum_calls,
        recovery_timeout=to_duration(config.recovery_timeout),
        half_open_permits=config.half_open_permits,
    )


def encode_breaker(view: BreakerView) -> admin.Breaker:
    """Fields set in place (building Timestamps and enums as objects costs several times more):
    a page of 1,000 breakers is encoded in a few milliseconds."""
    msg = admin.Breaker(name=view.name)
    msg.state = wire(view.state)
    msg.failure_count, msg.success_count = view.failure_count, view.success_count
    msg.failure_rate, msg.slow_call_rate = view.failure_rate, view.slow_call_rate
    msg.config.CopyFrom(encode_breaker_config(view.config))
    set_timestamp(msg.state_since, view.state_since)
    if view.last_failure_time is not None:
        set_timestamp(msg.last_failure_time, view.last_failure_time)
    return msg


# limits


def limit_config(msg: admin.Limit) -> LimitConfig:
    v = Violations()
    algorithm = enum_value(Algorithm, msg.algorithm, "algorithm", v, Algorithm.SLIDING_WINDOW)
    assert algorithm is not None
    v.check(msg.HasField("window"), "window", "is required")
    window = duration_seconds(msg.window, "window", v)
    v.check(window > 0 or not msg.HasField("window"), "window", "must be positive")
    return build(LimitConfig, v, name=msg.name, max_requests=msg.max_requests,
                 window=window if window > 0 else 1.0, algorithm=algorithm, lease=msg.lease)


def encode_limit(config: LimitConfig) -> admin.Limit:
    return admin.Limit(name=config.name, algorithm=wire(config.algorithm),
                       max_requests=config.max_requests, window=to_duration(config.window),
                       lease=config.lease)


# features and degradation


def feature(msg: admin.Feature) -> Feature:
    if len(msg.breakers) > MAX_FEATURE_BREAKERS:  # refused by its length, before it is read
        raise InvalidArgument.one("breakers", f"at most {MAX_FEATURE_BREAKERS} breakers, "
                                              f"not {len(msg.breakers)}")
    return Feature(name=msg.name, breakers=tuple(msg.breakers),
                   degraded_message=msg.degraded_message,
                   fallback_available=msg.fallback_available)


def encode_feature(value: Feature) -> admin.Feature:
    return admin.Feature(name=value.name, breakers=value.breakers,
                         degraded_message=value.degraded_message,
                         fallback_available=value.fallback_available)


def encode_affected(value: Degradation) -> list[admin.AffectedFeature]:
    return [admin.AffectedFeature(feature=a.feature, status=a.status, message=a.message)
            for a in value.affected_features]


# errors


def error_report(msg: guard.ReportRequest, wall: float) -> ErrorReport:
    """A report from the wire; `wall` (the server's wall clock) bounds the report's own time.
    The text bounds are the protos' `text_limit` options, the ones clients truncate to."""
    v = Violations()
    for field, limit in REPORT_LIMITS.items():
        value = getattr(msg, field)
        if isinstance(value, str):
            check_text(value, field, limit, v)
        elif len(value) > limit.max_entries:  # refused by its length, before it is read
            v.check(False, field, f"at most {limit.max_entries} entries, not {len(value)}")
        else:
            check_map(dict(value), field, limit, v)
    v.check(bool(msg.error_type or msg.message), "error_type",
            "error_type or message is required")
    v.check(0 <= msg.grpc_code <= 16, "grpc_code", "must be a gRPC code, 0..16")
    v.check(msg.http_status == 0 or 100 <= msg.http_status <= 599, "http_status",
            "must be 0 or an HTTP status, 100..599")
    if msg.breaker:
        v.name(msg.breaker, "breaker")
    time = None
    if msg.HasField("time"):
        time = msg.time.seconds + msg.time.nanos / 1e9
        v.check(wall - REPORT_PAST <= time <= wall + REPORT_FUTURE, "time",
                "must lie within the last 24 hours and at most 5 minutes ahead")
    v.raise_if_any()
    return ErrorReport(operation=msg.operation, error_type=msg.error_type, message=msg.message,
                       user_id=msg.user_id, grpc_code=msg.grpc_code,
                       http_status=msg.http_status, breaker=msg.breaker,
                       context=dict(msg.context), service=msg.service, time=time,
                       idempotency_key=msg.idempotency_key)


def encode_record(record: ErrorRecord) -> guard.ErrorRecord:
    return guard.ErrorRecord(
        error_id=record.error_id, operation=record.operation, error_type=record.error_type,
        message=record.message, category=wire(record.category),
        severity=wire(record.severity),
        user_message=record.user_message, time=to_timestamp(record.time),
        acknowledged=record.acknowledged, user_id=record.user_id,
        action=guard.RecoveryAction(type=record.action_type, message=record.action_message),
        fingerprint=record.fingerprint, context=record.context, service=record.service,
        breaker=record.breaker)


def encode_notification(record: ErrorRecord) -> admin.Notification:
    return admin.Notification(
        id=record.error_id, title=record.title, message=record.message,
        severity=wire(record.severity), time=to_timestamp(record.time),
        action=guard.RecoveryAction(type=record.action_type, message=record.action_message),
        user_message=record.user_message)


# events


_EVENT_NUMBERS = frozenset(int(t) for t in EventType)


MAX_WATCH_TYPES = 64
"""Entries a Watch's `types` may hold (there are six event types): a longer list is refused by
its length, before its entries are read."""


def event_types(numbers: Sequence[int]) -> frozenset[EventType]:
    """The wanted types, checked by C-level iterators only: the first bad entries are named,
    the rest counted."""
    v = Violations()
    if len(numbers) > MAX_WATCH_TYPES:
        v.check(False, "types", f"at most {MAX_WATCH_TYPES} entries, not {len(numbers)}")
        v.raise_if_any()
    values = list(numbers)
    distinct = set(values)
    if not distinct <= _EVENT_NUMBERS:
        known = _EVENT_NUMBERS.__contains__
        shown = list(islice(compress(count(), map(not_, map(known, values))), MAX_VIOLATIONS))
        for i in shown:
            v.check(False, f"types[{i}]", f"unknown EventType {values[i]}")
        v.extend((), more=len(values) - sum(map(known, values)) - len(shown))
    v.raise_if_any()
    return frozenset(EventType(n) for n in distinct)


def encode_event(event: Event) -> bytes:
    """The event's wire bytes, encoded once and cached on the event for every subscriber."""
    if event.wire is None:  # fields set in place: no message objects built for the common case
        msg = events_pb.Event(sequence=event.sequence)
        set_timestamp(msg.time, event.time)
        payload = event.payload
        if isinstance(payload, Transition):
            change = msg.breaker_transition
            change.breaker, change.reason = payload.breaker, payload.reason
            change.from_state, change.to_state = wire(payload.from_state), wire(payload.to_state)
        elif isinstance(payload, ErrorRecord):
            msg.notification.CopyFrom(encode_notification(payload))
        elif isinstance(payload, Degradation):
            msg.degradation_change.CopyFrom(events_pb.DegradationChange(
                is_degraded=payload.is_degraded, affected_features=encode_affected(payload),
                open_circuits=payload.open_circuits, open_circuit_count=payload.open_count,
                affected_feature_count=payload.affected_count))
        elif isinstance(payload, HealthChange):
            msg.health_change.CopyFrom(events_pb.HealthChange(
                from_health=wire(payload.from_health), to_health=wire(payload.to_health)))
        elif isinstance(payload, BreakerDeleted):
            msg.breaker_deleted.CopyFrom(events_pb.BreakerDeleted(
                breaker=payload.breaker, last_state=wire(payload.last_state)))
        elif isinstance(payload, RateLimitExceeded):
            msg.rate_limit_exceeded.CopyFrom(events_pb.RateLimitExceeded(
                limit=payload.limit, key=payload.key,
                retry_after=to_duration(payload.retry_after), refused=payload.refused))
        event.wire = msg.SerializeToString()
    return event.wire
