"""Domain enums, numbered exactly as in rescp.v1, so converting to and from the wire is `int()`.

The engines use these instead of the generated protobuf enums so that they import nothing of
gRPC or protobuf.
"""

from __future__ import annotations

from enum import IntEnum


class BreakerState(IntEnum):
    CLOSED = 1
    OPEN = 2
    HALF_OPEN = 3
    FORCED_OPEN = 4
    DISABLED = 5


class Verdict(IntEnum):
    ALLOWED = 1
    BREAKER_OPEN = 2
    RATE_LIMITED = 3


class Outcome(IntEnum):
    SUCCESS = 1
    FAILURE = 2
    IGNORED = 3


class ErrorCategory(IntEnum):
    NETWORK = 1
    DATABASE = 2
    API = 3
    RATE_LIMIT = 4
    VALIDATION = 5
    PROCESSING = 6
    SYSTEM = 7
    UNKNOWN = 8


class Severity(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class Health(IntEnum):
    HEALTHY = 1
    WARNING = 2
    CRITICAL = 3


class WindowType(IntEnum):
    COUNT = 1
    TIME = 2


class Algorithm(IntEnum):
    SLIDING_WINDOW = 1
    TOKEN_BUCKET = 2


class EventType(IntEnum):
    BREAKER_TRANSITION = 1
    NOTIFICATION = 2
    DEGRADATION_CHANGE = 3
    HEALTH_CHANGE = 4
    RATE_LIMIT_EXCEEDED = 5
    BREAKER_DELETED = 6


REFUSING_STATES = frozenset({BreakerState.OPEN, BreakerState.FORCED_OPEN})
"""States that refuse every call: grpc health says NOT_SERVING for them."""

OPEN_CIRCUIT_STATES = frozenset({BreakerState.OPEN, BreakerState.HALF_OPEN,
                                 BreakerState.FORCED_OPEN})
"""States counted as an open circuit (health, degradation, open_circuits): HALF_OPEN refuses
every call beyond its trial permits, so it is one too (the seed's example shows it so)."""
"""States in which a circuit counts as open for health, degradation and grpc.health."""
