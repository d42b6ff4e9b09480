"""What a guarded call asks before it runs and tells after it; shared by both flavours.

A `GuardSpec` is the arguments of `guard(...)`. `follow_up` decides, without I/O, what goes out
after the block: a Record (with the error attached when the block raised) when a breaker was
consulted, a bare Report when only a limit was, nothing for a call the control plane never saw
(let through unchecked by on_unavailable="allow": rescp is down, and a Record without its
permit would only add load when it comes back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from rescp_client import _codec, _report
from rescp_client._proto import enums_pb2 as enums
from rescp_client._proto import guard_pb2 as guard
from rescp_client._rpc import RECORD, REPORT, Rpc
from rescp_client.models import Admission


@dataclass(slots=True)
class GuardSpec:
    """The arguments of one `guard(...)`; never changed once made (not frozen only because a
    frozen dataclass costs a microsecond more to build, on every guarded call)."""

    breaker: str = ""
    limit: str = ""
    key: str = ""
    cost: int = 1
    operation: str = ""
    user_id: str = ""
    ignore: tuple[type[BaseException], ...] = ()

    def allow_request(self) -> guard.AllowRequest:
        return guard.AllowRequest(breaker=self.breaker, limit=self.limit, key=self.key,
                                  cost=self.cost)

    def outcome(self, error: BaseException | None,
                service: str) -> tuple[enums.Outcome, guard.ReportRequest | None]:
        """How the block ended, and the report of its failure, if it failed."""
        outcome = _report.outcome(error, self.ignore)
        report = None
        if outcome == enums.OUTCOME_FAILURE and error is not None:
            report = _report.report_request(
                error, operation=self.operation or self.breaker, user_id=self.user_id,
                service=service, breaker=self.breaker)
        return outcome, report

    def follow_up(self, admission: Admission, took: float, error: BaseException | None,
                  service: str) -> tuple[Rpc[Any, Any], Message] | None:
        """The background call to make after the block, if any."""
        if not admission.checked:
            return None
        outcome, report = self.outcome(error, service)
        if self.breaker:
            return RECORD, _codec.record(self.breaker, outcome, took, admission.permit, report)
        return (REPORT, report) if report is not None else None
