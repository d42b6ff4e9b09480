"""What the control plane tells an observer (the Prometheus metrics) as things happen.

The plane calls these synchronously on the hot path, so an observer must be cheap: a dict
lookup and a counter increment. This base class observes nothing; the plane starts with it, so
a plane built without metrics (unit tests, benchmarks of the core) pays one no-op call.
"""

from __future__ import annotations

from rescp.engine.breaker import Transition
from rescp.engine.errorlog import ErrorRecord
from rescp.enums import Outcome
from rescp.store.base import AllowResult


class PlaneObserver:
    def allowed(self, breaker: str, limit: str, result: AllowResult) -> None:
        """An Allow was decided (a refusal included)."""

    def recorded(self, breaker: str, outcome: Outcome) -> None:
        """A Record's outcome reached the breaker."""

    def reported(self, record: ErrorRecord) -> None:
        """An error was stored."""

    def transitioned(self, transition: Transition) -> None:
        """A breaker changed state."""

    def breaker_deleted(self, name: str) -> None:
        """A breaker is gone: forget what is kept per breaker."""
