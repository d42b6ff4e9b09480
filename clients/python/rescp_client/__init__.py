"""rescp-client: the Python client of rescp, the resilience control plane.

`Client` (blocking) and `AsyncClient` (asyncio) have the same methods; the logic is written
once for asyncio in `_async` and `_sync` is generated from it by scripts/unasync.py. Every value
returned is a model from `rescp_client.models`; every error raised derives from `RescpError`.
"""

from rescp_client._async import AsyncBreakerHandle, AsyncClient, AsyncGuard, AsyncLimiter
from rescp_client._sync import BreakerHandle, Client, Guard, Limiter
from rescp_client.errors import (
    BreakerOpenError,
    CallRefused,
    ControlPlaneUnavailable,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    RateLimitedError,
    RescpError,
    StatusError,
)
from rescp_client.models import (
    Admission,
    AffectedFeature,
    Breaker,
    BreakerConfig,
    BreakerState,
    BreakerStatus,
    Degradation,
    ErrorRecord,
    ErrorSummary,
    Feature,
    Limit,
    LimitStatus,
    Notification,
    RecoveryAction,
    SystemHealth,
)

__all__ = [
    "Admission",
    "AffectedFeature",
    "AsyncBreakerHandle",
    "AsyncClient",
    "AsyncGuard",
    "AsyncLimiter",
    "Breaker",
    "BreakerConfig",
    "BreakerHandle",
    "BreakerOpenError",
    "BreakerState",
    "BreakerStatus",
    "CallRefused",
    "Client",
    "ControlPlaneUnavailable",
    "Degradation",
    "ErrorRecord",
    "ErrorSummary",
    "Feature",
    "FieldViolation",
    "Guard",
    "InvalidArgumentError",
    "Limit",
    "LimitStatus",
    "Limiter",
    "NotFoundError",
    "Notification",
    "RateLimitedError",
    "RecoveryAction",
    "RescpError",
    "StatusError",
    "SystemHealth",
]
