"""What the control plane tells an observer (the Prometheus metrics) as things happen.

The plane calls these synchronously on the hot path, so an observer must be cheap: a dict
lookup and a counter increment. This base class observes nothing; the plane starts with it, so
a plane built without metrics (unit tests, benchmarks of the core) pays one no-op call.
"""

from __future__ import annotations

from collections.abc import Sequence

from rescp.engine.breaker import Transition
from rescp.engine.errorlog import ErrorRecord
from rescp.enums import Outcome
from rescp.errors import RescpError
from rescp.store.base import AllowItem, AllowResult


class PlaneObserver:
    def allowed(self, breaker: str, limit: str, result: AllowResult) -> None:
        """An Allow was decided (a refusal included)."""

    def allowed_many(self, items: Sequence[AllowItem],
                     answers: Sequence[AllowResult | RescpError]) -> None:
        """A batch of Allows was decided, item by item (an error answer is not counted)."""
        allowed = self.allowed
        for (breaker, limit, _, _), answer in zip(items, answers, strict=True):
            if type(answer) is AllowResult:
                allowed(breaker, limit, answer)

    def recorded(self, breaker: str, outcome: Outcome) -> None:
        """A Record's outcome reached the breaker."""

    def reported(self, record: ErrorRecord) -> None:
        """An error was stored."""

    def transitioned(self, transition: Transition) -> None:
        """A breaker changed state."""

    def breaker_deleted(self, name: str) -> None:
        """A breaker is gone: forget what is kept per breaker."""
