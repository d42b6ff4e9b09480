"""Local mode's I/O: the push stream that keeps `LocalState` current, and the flusher that
sends its queued outcomes back (`rescp_client._local` holds the state and the rules).

- Push: one EventService.Watch (breaker transitions, deletions, degradation changes) from
  "now". Once subscribed the state goes live and the degradation is read; every pushed event
  is applied as it arrives. When the stream breaks the state goes down at once (every decision
  asks the server) and the stream is resubscribed after a backoff.
- Flush: every flush_interval, or at once when FLUSH_AT outcomes wait, the queue goes out as
  RecordBatch requests, oldest first, one at a time (a lock keeps flushes in order), so the
  server applies them as the same Records one by one. An Allow sent to the server for a
  breaker first flushes that breaker's outcomes, so it never overtakes them. A batch the
  server cannot take is dropped and counted, as a background Record would be; the error
  reports it carried go to the outbox.
- Leases: each flush also gives back the leases older than `lease_ttl` (all of them on
  close); the sizes are read from ListLimits when a subscription starts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import grpc

from rescp_client import _codec
from rescp_client._backoff import Backoff
from rescp_client._local import LocalState, RecordEncoder, Rules
from rescp_client._proto import admin_pb2 as admin
from rescp_client._proto import enums_pb2 as enums
from rescp_client._proto import events_pb2 as events
from rescp_client._proto import guard_pb2 as guard
from rescp_client._rpc import (
    ALLOW,
    GET_BREAKER,
    GET_DEGRADATION,
    LIST_LIMITS,
    RECORD_BATCH,
    RETURN_TOKENS,
    WATCH,
)
from rescp_client._spec import GuardSpec
from rescp_client.errors import ControlPlaneUnavailable, RescpError
from rescp_client.models import Admission

from ._backend import Lock, Nudge, Runner
from ._connection import Connection

log = logging.getLogger("rescp_client")

BATCH = 1000
"""Outcomes per RecordBatch: the most the server takes in one."""
LEASE_TTL_FLUSHES = 20
"""A lease lives this many flush intervals (1 s by default) before its rest goes back."""
PUSHED = [enums.EVENT_TYPE_BREAKER_TRANSITION, enums.EVENT_TYPE_BREAKER_DELETED,
          enums.EVENT_TYPE_DEGRADATION_CHANGE]


class LocalDecider:
    """The background half of local mode for one client."""

    def __init__(self, conn: Connection, *, flush_interval: float, allow_timeout: float,
                 record_timeout: float,
                 keep: Callable[[guard.ReportRequest, int], None]) -> None:
        self.state = LocalState()
        self._keep = keep  # reports of a batch that could not be delivered, into the outbox
        self.lease_ttl = LEASE_TTL_FLUSHES * flush_interval
        self._conn = conn
        self._flush_interval = flush_interval
        self._allow_timeout = allow_timeout
        self._record_timeout = record_timeout
        self._encoder = RecordEncoder()
        self._wakeup = Nudge()
        self._flushing = Lock()
        self._follower = Runner()
        self._backoff_pause = conn.wakeup()  # cut short when the client closes
        self._flusher = Runner()

    def start(self) -> None:
        """Follow and flush in the background unless already doing so (in the asyncio flavour,
        on the loop in use: after the first one has ended, on the next)."""
        self._follower.start(self._follow)
        self._flusher.start(self._flush_loop)

    def due(self) -> None:
        """Enough outcomes wait: flush now rather than at the end of flush_interval."""
        self._wakeup.set()

    async def before_server(self, breaker: str) -> None:
        """Send `breaker`'s queued outcomes before an Allow of it goes to the server."""
        if self.state.holds(breaker):
            await self.flush()

    async def learn(self, breaker: str, response: guard.AllowResponse, asked_at: int) -> None:
        """Follow `breaker` from a server Allow's answer (reading its rules once)."""
        rules = self.state.rules(breaker)
        if rules is None and self.state.live:
            rules = await self._rules(breaker)
        self.state.learn(breaker, response, asked_at, rules, time.monotonic())

    async def flush(self) -> None:
        """Send every outcome queued so far, oldest first."""
        async with self._flushing:
            while batch := self.state.take(BATCH):
                request = guard.RecordBatchRequest.FromString(self._encoder.batch(batch))
                try:
                    response = await self._conn.call(RECORD_BATCH, request, self._record_timeout,
                                                     wait_for_ready=False)
                except RescpError as error:
                    self.state.dropped += len(batch)
                    log.debug("rescp: %d outcomes dropped (%s)", len(batch), error)
                    for queued in batch:
                        if queued.report is not None:
                            self._keep(queued.report, time.time_ns())
                    return
                for item in response.items:
                    if item.HasField("error"):
                        log.debug("rescp: outcome refused: %s", item.error.message)

    async def leased(self, spec: GuardSpec, admission: Admission | None) -> Admission | None:
        """Admit a call on a leasing limit from this client's lease (taking a fresh block when
        it runs out), or None: decide it on the server. `admission`: the breaker's local
        one (None: no breaker)."""
        size = self.state.lease_size(spec.limit)
        if not size or spec.cost > size:
            return None
        granted = Admission(True, admission.breaker_state if admission else None, None,
                            admission.permit if admission else "")
        if self.state.spend(spec.limit, spec.key, spec.cost):
            return granted
        block = guard.AllowRequest(limit=spec.limit, key=spec.key, cost=size)
        try:
            response = await self._conn.call(ALLOW, block, self._allow_timeout,
                                             wait_for_ready=False)
        except RescpError:
            return None
        if not response.allowed:
            return None
        self.state.hold(spec.limit, spec.key, size - spec.cost, time.monotonic())
        return granted

    async def give_back(self, everything: bool = False) -> None:
        """Return the unspent part of leases past their lifetime (all of them: `everything`)."""
        cutoff = None if everything else time.monotonic() - self.lease_ttl
        for limit, key, tokens in self.state.expired_leases(cutoff):
            if tokens:
                request = guard.ReturnTokensRequest(limit=limit, key=key, tokens=tokens)
                try:
                    await self._conn.call(RETURN_TOKENS, request, self._record_timeout,
                                          wait_for_ready=False)
                except RescpError as error:
                    log.debug("rescp: %d leased tokens not returned (%s)", tokens, error)

    async def stop(self) -> None:
        self._wakeup.set()
        await self._follower.stop()
        await self._flusher.stop()

    async def _flush_loop(self) -> None:
        while not self._conn.closed:
            await self._wakeup.wait(self._flush_interval)
            if not self._conn.closed:
                await self.flush()
                await self.give_back()

    async def _follow(self) -> None:
        backoff = Backoff()
        while not self._conn.closed:
            try:
                await self._subscribed_session(backoff)
            except RescpError as error:
                if not self._conn.closed:
                    log.info("rescp: push stream down (%s); deciding on the server", error)
            finally:
                self.state.down()
            if not self._conn.closed:
                await self._backoff_pause.pause(backoff.next())

    async def _subscribed_session(self, backoff: Backoff) -> None:
        """One subscription of the push stream, applied until it breaks."""
        stream = self._conn.stream(WATCH, events.WatchRequest(types=PUSHED))
        try:
            if await stream.subscribed() is None:
                raise ControlPlaneUnavailable(grpc.StatusCode.UNAVAILABLE, "the stream ended")
            self.state.up()
            backoff.reset()
            asked_at = self.state.degradation_changes()
            read = await self._conn.call(GET_DEGRADATION, admin.GetDegradationRequest(),
                                         self._record_timeout, wait_for_ready=False)
            self.state.set_degradation(_codec.degradation(read), asked_at)
            self.state.set_lease_sizes(await self._lease_sizes())
            while (response := await stream.read()) is not None:
                now = time.monotonic()
                for message in response.events:
                    self._apply(message, now)
            raise ControlPlaneUnavailable(grpc.StatusCode.UNAVAILABLE, "the stream ended")
        finally:
            stream.cancel()

    def _apply(self, message: events.Event, now: float) -> None:
        match message.WhichOneof("payload"):
            case "breaker_transition":
                t = message.breaker_transition
                self.state.transition(t.breaker, t.to_state, now)
            case "breaker_deleted":
                self.state.transition(message.breaker_deleted.breaker,
                                      enums.BREAKER_STATE_UNSPECIFIED, now)
            case "degradation_change":
                d = message.degradation_change
                self.state.set_degradation(_codec.degradation(admin.GetDegradationResponse(
                    is_degraded=d.is_degraded, open_circuits=d.open_circuits,
                    affected_features=d.affected_features, sequence=message.sequence)))

    async def _lease_sizes(self) -> dict[str, int]:
        """Every limit's lease, from ListLimits, page by page."""
        sizes: dict[str, int] = {}
        request = admin.ListLimitsRequest(page_size=1000)
        while True:
            page = await self._conn.call(LIST_LIMITS, request, self._record_timeout,
                                         wait_for_ready=False)
            sizes.update((limit.name, limit.lease) for limit in page.limits)
            if not page.next_page_token:
                return sizes
            request.page_token = page.next_page_token

    async def _rules(self, breaker: str) -> Rules | None:
        try:
            response = await self._conn.call(GET_BREAKER, admin.GetBreakerRequest(name=breaker),
                                             self._allow_timeout, wait_for_ready=False)
        except RescpError:
            return None
        config = response.breaker.config
        return Rules(_codec.seconds(config.recovery_timeout),
                     aggregate=config.slow_call_rate_threshold == 0)
