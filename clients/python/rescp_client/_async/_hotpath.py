"""The hot path: one Allow before a guarded call, its Record sent in the background after it.

- Budget: `admit` never takes longer than allow_timeout in all: first it waits for this
  client's own earlier Records of the same breaker, then the Allow gets whatever is left as its
  deadline and fails fast when no connection is up. When the budget runs out or rescp cannot
  be reached, on_unavailable decides: "allow" lets the call through unchecked, "deny" raises
  ControlPlaneUnavailable. Only transport failures count as unavailability; the server's own
  answers (a bad name, a cost above capacity) are raised as the typed errors they are.
- Misconfiguration: a breaker or limit rescp does not know (NOT_FOUND: say, a runtime limit a
  restart lost), or a value the wire cannot carry (a negative cost), is a control-plane
  problem rather than the caller's, so it too follows on_unavailable: "allow" lets the call
  through unchecked, "deny" raises the typed error (NotFoundError, InvalidArgumentError). Each
  is counted (`misconfigured`) and logged as an error once per guard target.
- Order: a client never lets its Allow overtake its own earlier Record on the same breaker, so
  two failures in a row open a failure_threshold=2 breaker before a third call is let in.
- Bounds: at most max_pending background calls at once; the rest are dropped and counted.
- Local mode (`local` given): a breaker the push stream follows is decided here, with no round
  trip, and every outcome of a breaker joins the local queue instead of a Record of its own;
  what local state cannot decide (HALF_OPEN trials, limits without a lease, unknown breakers,
  a stream that is down) is asked of the server as above, after that breaker's queued
  outcomes (`_local`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

import grpc

from rescp_client import _codec
from rescp_client._local import Followed
from rescp_client._proto import guard_pb2 as guard
from rescp_client._rpc import ALLOW
from rescp_client._spec import GuardSpec
from rescp_client.errors import ControlPlaneUnavailable, InvalidArgumentError, NotFoundError
from rescp_client.models import Admission

from ._backend import Pending
from ._connection import Connection
from ._local import LocalDecider

log = logging.getLogger("rescp_client")

UNCHECKED = Admission(checked=False)
LOGGED_NAMES = 1000
"""Guard targets whose misconfiguration is remembered as logged (beyond that, each is logged)."""


class HotPath:
    """Admits guarded calls and records their outcomes for one client."""

    def __init__(self, connection: Connection, *, allow_timeout: float, record_timeout: float,
                 deny: bool, service: str, max_pending: int,
                 keep: Callable[[guard.ReportRequest, int], None],
                 local: LocalDecider | None = None) -> None:
        self.local = local
        # what Guard reads on entry: the breakers local state may admit (empty in server mode)
        self.followed: dict[str, Followed] = {} if local is None else local.state.breakers
        self._conn = connection
        self._keep = keep  # into the outbox
        self._allow_timeout = allow_timeout
        self._record_timeout = record_timeout
        self._deny = deny
        self.service = service
        self._pending = Pending(max_pending)
        self._logged: set[str] = set()
        self.misconfigured = 0

    @property
    def dropped(self) -> int:
        local = 0 if self.local is None else self.local.state.dropped
        return self._pending.dropped + local

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def admit(self, spec: GuardSpec) -> Admission:
        """Ask rescp whether the call may run: an Admission, or a refusal raised."""
        local = self.local
        if local is not None:
            admission = local.state.decide(spec.breaker) if spec.breaker else None
            if admission is not None and not spec.limit:
                return admission
            if spec.limit and (admission is not None or not spec.breaker):
                leased = await local.leased(spec, admission)
                if leased is not None:
                    return leased
        return await self._ask(spec)

    async def _ask(self, spec: GuardSpec) -> Admission:
        started = time.perf_counter()
        try:
            request = spec.allow_request()
        except InvalidArgumentError as error:
            return self._misconfigured(spec, error)
        if self.local is not None:
            self.local.start()
        local = self.local if spec.breaker else None
        asked_at = 0
        if local is not None:
            await local.before_server(spec.breaker)
            asked_at = local.state.changes(spec.breaker)
        settled = not spec.breaker or await self._pending.settle(spec.breaker,
                                                                 self._allow_timeout)
        left = self._allow_timeout - (time.perf_counter() - started)
        if not settled or left <= 0:
            return self._unavailable(spec, ControlPlaneUnavailable(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"allow_timeout spent waiting for earlier records of {spec.breaker!r}"))
        try:
            response = await self._conn.call(ALLOW, request, left, wait_for_ready=False)
        except ControlPlaneUnavailable as error:
            return self._unavailable(spec, error)
        except NotFoundError as error:
            return self._misconfigured(spec, error)
        if local is not None:
            await local.learn(spec.breaker, response, asked_at)
        return _codec.admission(response, request)

    def finish(self, spec: GuardSpec, admission: Admission, took: float,
               error: BaseException | None) -> None:
        """Send what follows a call the local queue does not take (AsyncGuard queues the rest);
        never blocks, never raises. The error's report goes to the outbox when there is no call
        to carry it, or it is lost."""
        call, report = spec.follow_up(admission, took, error, self.service)
        if call is None or self._conn.closed:
            if report is not None:
                self._keep(report, time.time_ns())
            return
        rpc, request = call
        rescue = None if report is None else functools.partial(self._keep, report,
                                                               time.time_ns())
        self._pending.start(spec.breaker, self._conn.method(rpc), request, self._record_timeout,
                            rescue)

    async def settle(self, breaker: str | None, within: float) -> bool:
        """Wait up to `within` seconds for this client's Records of `breaker` (None: for all
        background calls); True when none is left. Local outcomes are sent first."""
        if self.local is not None:
            await self.local.flush()
        if breaker is None:
            return await self._pending.flush(within)
        return await self._pending.settle(breaker, within)

    async def cancel(self) -> None:
        """Cut off every background call still in flight (they count as dropped)."""
        await self._pending.cancel()

    def _unavailable(self, spec: GuardSpec, error: ControlPlaneUnavailable) -> Admission:
        if self._deny:
            raise error
        log.debug("rescp: %s; %r let through unchecked", error, spec.breaker or spec.limit)
        return UNCHECKED

    def _misconfigured(self, spec: GuardSpec,
                       error: InvalidArgumentError | NotFoundError) -> Admission:
        self.misconfigured += 1
        if spec.names not in self._logged:
            if len(self._logged) < LOGGED_NAMES:
                self._logged.add(spec.names)
            log.error("rescp cannot check calls guarded by %s: %s (%s)", spec.names, error,
                      "denied" if self._deny else "let through unchecked")
        if self._deny:
            raise error
        return UNCHECKED
