"""What a guarded call asks before it runs and tells after it; shared by both flavours.

A `GuardSpec` is the arguments of `guard(...)`. `follow_up` decides, without I/O, what goes out
after the block: a Record (with the error attached when the block raised) when a breaker was
consulted, a bare Report when only a limit was, nothing for a call the control plane never saw
(let through unchecked by on_unavailable="allow": rescp is down, and a Record without its
permit would only add load when it comes back) -- but the error of such a call, or of one
whose Record is lost, is never dropped: it goes to the outbox.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from rescp_client import _codec, _report
from rescp_client._proto import enums_pb2 as enums
from rescp_client._proto import guard_pb2 as guard
from rescp_client._rpc import RECORD, REPORT, Rpc
from rescp_client.errors import CallRefused, ControlPlaneUnavailable
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
        """The Allow to send; InvalidArgumentError for a value the wire cannot carry."""
        return _codec.checked(guard.AllowRequest, breaker=self.breaker, limit=self.limit,
                              key=self.key, cost=self.cost)

    @property
    def names(self) -> str:
        """What this guard consults, for logs: "breaker x, limit y"."""
        return ", ".join(f"{kind} {name!r}" for kind, name in (
            ("breaker", self.breaker), ("limit", self.limit)) if name) or "nothing"

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
                  service: str) -> tuple[tuple[Rpc[Any, Any], Message] | None,
                                         guard.ReportRequest | None]:
        """The background call to make after the block, if any, and the report of its error,
        if any (kept in the outbox should that call be lost, or when there is none)."""
        outcome, report = self.outcome(error, service)
        if not admission.checked:
            return None, report
        if self.breaker:
            return (RECORD, _codec.record(self.breaker, outcome, took, admission.permit,
                                          report)), report
        return ((REPORT, report) if report is not None else None), report


def falls_back(error: Exception, ran: bool) -> bool:
    """Whether a breaker handle's fallback answers for `error`: the guarded function's own
    failure, a refusal, or rescp unreachable; never a misconfiguration raised before the
    function ran (a bad name, an unknown breaker under "deny"), which it would hide."""
    return ran or isinstance(error, CallRefused | ControlPlaneUnavailable)


spec_of = functools.lru_cache(maxsize=4096)(GuardSpec)
"""The GuardSpec of these `guard(...)` arguments, shared by every call that repeats them (a
guarded call builds none: the cache's lookup is in C, cheaper than the dataclass's __init__)."""
