"""What the client returns: frozen dataclasses and string enums, never raw protos.

Conventions, the same everywhere: durations are float seconds; times are float epoch seconds
(`time.time()` scale; None when the server never set them); enum-like values (categories,
severities, health, window types, algorithms) are lower-case strings as the seed used them
("network", "high"); a rate that the server reports as -1 (too few calls in the window) is None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, TypedDict


class BreakerState(StrEnum):
    """A breaker's state; `.value` is the seed's lower-case name."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """A breaker's rules as stored, defaults filled in; a rule at 0 is off."""

    failure_threshold: int
    failure_rate_threshold: float
    slow_call_rate_threshold: float
    slow_call_duration: float
    window_type: str  # "count" | "time"
    window_size: int
    minimum_calls: int
    recovery_timeout: float
    half_open_permits: int


@dataclass(frozen=True, slots=True)
class Breaker:
    """A breaker's config and live state; counts are since it last closed."""

    name: str
    config: BreakerConfig
    state: BreakerState
    failure_count: int
    success_count: int
    last_failure_time: float | None
    state_since: float | None
    failure_rate: float | None
    slow_call_rate: float | None


class BreakerStatus(TypedDict):
    """The seed's `get_status()` dict."""

    name: str
    state: str
    failure_count: int
    success_count: int
    last_failure_time: float | None


@dataclass(frozen=True, slots=True)
class Admission:
    """What `guard` was told before the block ran (the value of `with c.guard(...) as a`).

    `checked` is False when the control plane was unreachable and `on_unavailable="allow"` let
    the call through unchecked; such a call sends no Record.
    """

    checked: bool
    breaker_state: BreakerState | None = None
    remaining: int | None = None  # tokens left for the key; None when no limit was consulted
    permit: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class Limit:
    """A rate limit: `max_requests` per `window` seconds per key."""

    name: str
    max_requests: int
    window: float
    algorithm: str  # "sliding_window" | "token_bucket"
    lease: int = 0  # tokens a local-mode client may hold at once; 0: decided on the server


@dataclass(frozen=True, slots=True)
class LimitStatus:
    """How a key of a limit stands now, read without taking a token."""

    is_rate_limited: bool
    retry_after: float
    remaining: int
    reset_time: float | None


@dataclass(frozen=True, slots=True)
class Feature:
    """A part of the product that degrades while any of its breakers is open."""

    name: str
    breakers: tuple[str, ...]
    degraded_message: str
    fallback_available: bool


@dataclass(frozen=True, slots=True)
class AffectedFeature:
    """A feature hit by open circuits: status "degraded" (has a fallback) or "unavailable"."""

    feature: str
    status: str
    message: str


@dataclass(frozen=True, slots=True)
class Degradation:
    """Which features open circuits affect; `sequence` is the event-log position it reflects."""

    is_degraded: bool
    open_circuits: tuple[str, ...]
    affected_features: tuple[AffectedFeature, ...]
    fallback_available: bool
    sequence: int


@dataclass(frozen=True, slots=True)
class RecoveryAction:
    """What to do about an error: a machine-readable `type` and a human `message`."""

    type: str
    message: str


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """A stored, classified, scrubbed error; `time` is float epoch seconds."""

    error_id: str
    operation: str
    error_type: str
    message: str
    category: str  # "network", "database", "api", "rate_limit", ...
    severity: str  # "low" | "medium" | "high" | "critical"
    user_message: str
    time: float | None
    acknowledged: bool
    user_id: str
    action: RecoveryAction
    fingerprint: str
    context: dict[str, str]
    service: str
    breaker: str


@dataclass(frozen=True, slots=True)
class Classification:
    """What rescp makes of an error without storing it (`classify()`): what `report()` would
    store. `message` is the error's message scrubbed of secrets."""

    category: str
    severity: str
    user_message: str
    action: RecoveryAction
    fingerprint: str
    message: str


@dataclass(frozen=True, slots=True)
class Notification:
    """A stored error as an operator sees it; `id` is its error_id, `message` the error's own
    (scrubbed) message, `user_message` the text fit to show a user."""

    id: str
    title: str
    message: str
    severity: str
    time: float | None
    action: RecoveryAction
    user_message: str = ""


class NotificationList(list[Notification]):
    """What `notifications()` returns: the notifications, newest first, and `total`, how many
    matched before `limit` cut the list."""

    def __init__(self, items: Iterable[Notification] = (), total: int = 0) -> None:
        super().__init__(items)
        self.total = total


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    """Error counts keyed "<category>_<severity>" (they survive eviction) and recent errors."""

    total_errors: int
    error_counts: dict[str, int]
    recent_errors: tuple[ErrorRecord, ...]
    errors_per_minute: float


@dataclass(frozen=True, slots=True)
class SystemHealth:
    """The system's health ("healthy" | "warning" | "critical") and what it was computed from."""

    health: str
    total_errors: int
    critical_errors: int
    open_circuits: int
    circuit_breakers: tuple[Breaker, ...]  # those not CLOSED
    sequence: int


# Events pushed by `watch()`: each carries its log `sequence` and `time` (float epoch seconds),
# and `type`, the name `watch(types=...)` selects it by.


@dataclass(frozen=True, slots=True)
class BreakerTransition:
    """A breaker changed state; `reason` is e.g. "failure_threshold", "recovery_timeout",
    "trial_failed" or "manual"."""

    type: ClassVar[str] = "breaker_transition"
    sequence: int
    time: float
    breaker: str
    from_state: BreakerState
    to_state: BreakerState
    reason: str


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    """An error was stored; `notification` is what `notifications()` would list for it."""

    type: ClassVar[str] = "notification"
    sequence: int
    time: float
    notification: Notification


@dataclass(frozen=True, slots=True)
class DegradationChange:
    """The set of open circuits, and so of affected features, changed."""

    type: ClassVar[str] = "degradation_change"
    sequence: int
    time: float
    is_degraded: bool
    open_circuits: tuple[str, ...]
    affected_features: tuple[AffectedFeature, ...]


@dataclass(frozen=True, slots=True)
class HealthChange:
    """The system's health changed ("healthy" | "warning" | "critical")."""

    type: ClassVar[str] = "health_change"
    sequence: int
    time: float
    from_health: str
    to_health: str


@dataclass(frozen=True, slots=True)
class RateLimitExceeded:
    """A limit refused a key: raised on its first refusal and at most once more per window,
    `refused` counting the refusals since the previous such event."""

    type: ClassVar[str] = "rate_limit_exceeded"
    sequence: int
    time: float
    limit: str
    key: str
    retry_after: float
    refused: int


@dataclass(frozen=True, slots=True)
class BreakerDeleted:
    """A breaker was deleted (its health status `breaker/<name>` is gone too); `last_state` is
    the state it was in (None when the server did not say)."""

    type: ClassVar[str] = "breaker_deleted"
    sequence: int
    time: float
    breaker: str
    last_state: BreakerState | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state re-read when a watch could not resume where it was (OUT_OF_RANGE): the watch
    goes on after `sequence`, the smallest of its reads, so an event after it may repeat what
    the snapshot already shows, but none is lost."""

    type: ClassVar[str] = "snapshot"
    sequence: int
    breakers: tuple[Breaker, ...]
    health: SystemHealth
    degradation: Degradation


WatchEvent = (BreakerTransition | NotificationEvent | DegradationChange | HealthChange
              | RateLimitExceeded | BreakerDeleted | Snapshot)
"""Anything `watch()` yields."""
