"""The seed's surface: `breaker(name)` and `limiter(name)` handles over a client.

A handle is a name and a client, nothing more: every answer comes from rescp, so handles made
in different processes agree. `state` is a property that asks rescp each time it is read (in
the asyncio flavour it reads as an awaitable; see the README).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from rescp_client._spec import falls_back
from rescp_client.errors import NotFoundError, RateLimitedError
from rescp_client.models import Breaker, BreakerState, BreakerStatus

from ._backend import require_callable

if TYPE_CHECKING:
    from .client import AsyncClient

T = TypeVar("T")


class AsyncBreakerHandle:
    """One breaker by name: guarded calls with a fallback, and its state."""

    def __init__(self, client: AsyncClient, name: str) -> None:
        self._client = client
        self.name = name

    async def call_async(
            self, fn: Callable[..., Awaitable[T]], *args: Any,
            fallback: Callable[..., Awaitable[T]] | None = None, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` under the breaker; refused, unavailable (on_unavailable="deny")
        or failed, `fallback(*args, **kwargs)` when given (the failure is still recorded), else
        the exception. A misconfiguration (a bad name, say) is raised, never hidden by the
        fallback; `fn` and `fallback` of the wrong kind are a TypeError before anything runs."""
        require_callable(fn, "fn")
        if fallback is not None:
            require_callable(fallback, "fallback")
        operation = getattr(fn, "__name__", self.name)
        ran = False
        try:
            async with self._client.guard(breaker=self.name, operation=operation):
                ran = True
                return await fn(*args, **kwargs)
        except Exception as error:
            if fallback is None or not falls_back(error, ran):
                raise
            return await fallback(*args, **kwargs)

    @property
    def state(self) -> Awaitable[BreakerState]:
        """The breaker's state now; a breaker rescp has never seen reads CLOSED."""
        return self._state()

    async def _state(self) -> BreakerState:
        found = await self._find()
        return found.state if found else BreakerState.CLOSED

    async def get_status(self) -> BreakerStatus:
        """The seed's status dict; a breaker rescp has never seen reads closed with no counts."""
        found = await self._find()
        if found is None:
            return BreakerStatus(name=self.name, state=BreakerState.CLOSED.value,
                                 failure_count=0, success_count=0, last_failure_time=None)
        return BreakerStatus(name=found.name, state=found.state.value,
                             failure_count=found.failure_count,
                             success_count=found.success_count,
                             last_failure_time=found.last_failure_time)

    async def _find(self) -> Breaker | None:
        try:
            return await self._client.get_breaker(self.name)
        except NotFoundError:
            return None


class AsyncLimiter:
    """One rate limit by name, per key."""

    def __init__(self, client: AsyncClient, name: str) -> None:
        self._client = client
        self.name = name

    async def is_rate_limited(self, key: str = "") -> bool:
        """Whether a request for `key` would be refused now; takes no token."""
        return (await self._client.limit_status(self.name, key)).is_rate_limited

    async def record_request(self, key: str = "", cost: int = 1) -> bool:
        """Take `cost` tokens for `key`: True when admitted, False when limited.

        Follows on_unavailable like `guard`: unreachable rescp means True ("allow") or
        ControlPlaneUnavailable ("deny")."""
        try:
            async with self._client.guard(limit=self.name, key=key, cost=cost):
                return True
        except RateLimitedError:
            return False

    async def get_retry_after(self, key: str = "") -> float | None:
        """Seconds until `key` can pass again, or None when it is not limited."""
        status = await self._client.limit_status(self.name, key)
        return status.retry_after if status.is_rate_limited else None
