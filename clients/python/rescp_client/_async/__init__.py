"""One flavour of the client (the module docstrings of its parts state the design)."""

from ._guard import AsyncGuard
from ._handles import AsyncBreakerHandle, AsyncLimiter
from ._watch import AsyncWatch
from .client import AsyncClient

__all__ = ["AsyncBreakerHandle", "AsyncClient", "AsyncGuard", "AsyncLimiter", "AsyncWatch"]
