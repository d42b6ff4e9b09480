"""Delivering the outbox: its reports sent to rescp, oldest first, as soon as it answers.

One job at a time (`Runner`) takes the oldest report and sends it as a plain Report, failing
fast when no connection is up. Delivered: it leaves the outbox. Unreachable: the job waits
(backoff from 0.2 s doubling to 2 s, reset by a delivery) and tries the same report again, so
order is kept. Refused by rescp (INVALID_ARGUMENT: a report older than the 24 h rescp accepts,
say): no retry can cure it, so it is dropped and counted. A report resent after a lost answer
carries the same idempotency key, so rescp stores it once. The job ends when the outbox is
empty or the client closes; `keep` starts it again. `flush` waits for the outbox to empty.
"""

from __future__ import annotations

import time

from rescp_client._backoff import Backoff
from rescp_client._outbox import Outbox
from rescp_client._proto import guard_pb2 as guard
from rescp_client._rpc import REPORT
from rescp_client.errors import ControlPlaneUnavailable, RescpError, StatusError

from ._backend import Runner, sleep
from ._connection import Connection

FLUSH_POLL = 0.01
"""Seconds between flush's looks at the outbox."""


class Delivery:
    """Sends what the outbox holds while rescp answers."""

    def __init__(self, conn: Connection, outbox: Outbox, within: float) -> None:
        self._conn = conn
        self._outbox = outbox
        self._within = within
        self._runner = Runner()
        self._backoff = Backoff(first=0.2, cap=2.0)

    def keep(self, report: guard.ReportRequest, seen: int) -> None:
        """Queue `report`, its error seen at `seen` (time.time_ns()), and see that it goes
        out."""
        report.time.FromNanoseconds(seen)
        self._outbox.put(report)
        self.kick()

    def kick(self) -> None:
        """Start delivering, if anything waits and nothing delivers yet."""
        if len(self._outbox) and not self._conn.closed:
            self._runner.start(self._deliver)

    async def flush(self, within: float) -> bool:
        """Wait up to `within` seconds for the outbox to empty; True when it has."""
        deadline = time.monotonic() + within
        self.kick()
        while len(self._outbox):
            left = deadline - time.monotonic()
            if left <= 0 or self._conn.closed:
                return False
            await sleep(min(FLUSH_POLL, left))
        return True

    async def stop(self) -> None:
        await self._runner.stop()

    async def _deliver(self) -> None:
        wakeup = self._conn.wakeup()  # one per run: a run may be on another event loop
        while not self._conn.closed and (payload := self._outbox.peek()) is not None:
            request = guard.ReportRequest.FromString(payload)
            try:
                await self._conn.call(REPORT, request, self._within, wait_for_ready=False)
            except ControlPlaneUnavailable:
                await wakeup.pause(self._backoff.next())
                continue
            except StatusError as error:
                self._outbox.give_up(payload, error)
                continue
            except RescpError:  # the client closed meanwhile
                return
            self._backoff.reset()
            self._outbox.done(payload)
