# Generated from rescp_client/_async/client.py by scripts/unasync.py; do not edit.
"""The client of rescp: configuration, the hot path, and the read side, over one channel.

Written once for asyncio; `scripts/unasync.py` generates the blocking flavour from this file.
The hot path (`guard`, `breaker(...).call`, `limiter(...).record_request`) is bounded by
allow_timeout and follows on_unavailable when rescp is slow or down; every other method is
bounded by timeout and raises ControlPlaneUnavailable when rescp cannot answer within it --
except reports: one that cannot be delivered waits in the outbox (`_outbox`, `_delivery`) and
goes out when rescp is back, so no error reported is lost while it is down.
Calls on a breaker, and reads of errors, health and degradation, first wait (within that same
timeout) for this client's own background Records, so a client reads its own writes: two
failed calls, then `get_breaker`, show both failures. `watch` is the exception to both bounds:
it follows the event log for ever, riding out outages (`_watch`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Unpack

from rescp_client import _codec, _report, _rpc
from rescp_client._codec import BreakerFields
from rescp_client._outbox import DEFAULT_LIMIT, Outbox
from rescp_client._proto import admin_pb2 as admin
from rescp_client._proto import guard_pb2 as guard
from rescp_client._rpc import PAGE_SIZE, Req, Resp, Rpc
from rescp_client._spec import spec_of
from rescp_client.errors import ControlPlaneUnavailable
from rescp_client.models import (
    AffectedFeature,
    Breaker,
    Classification,
    Degradation,
    ErrorRecord,
    ErrorSummary,
    Feature,
    Limit,
    LimitStatus,
    NotificationList,
    SystemHealth,
)

from ._connection import Connection
from ._delivery import Delivery
from ._guard import Guard
from ._handles import BreakerHandle, Limiter
from ._hotpath import HotPath
from ._local import LocalDecider
from ._watch import Watch


class Client:
    """A client of one rescp server.

    target: "host:port". on_unavailable: what the hot path does when rescp cannot answer within
    allow_timeout seconds: "allow" the call unchecked, or "deny" it with ControlPlaneUnavailable.
    timeout: seconds every other call may take. service: the default `service` of reports.
    max_pending_records: background Records/Reports in flight before new ones are dropped.
    close_timeout: seconds `close()` waits for them (and for the outbox).
    outbox_size: reports kept while rescp cannot be reached before the oldest are dropped.
    outbox_path: a file to keep them in too, so the app's own crash or restart loses none (a
    client started on the same path delivers them); one process at a time.
    decide: "server" asks rescp before every guarded call; "local" decides calls on breakers
    from the state rescp pushes (no round trip while CLOSED or DISABLED, local refusals while
    OPEN or FORCED_OPEN, HALF_OPEN trials and limits without a lease still asked of the
    server) and sends the outcomes in batches every `flush_interval` seconds (or every 500).
    See `_local`.
    """

    def __init__(self, target: str, *, on_unavailable: Literal["allow", "deny"] = "allow",
                 allow_timeout: float = 0.05, timeout: float = 5.0, service: str = "",
                 max_pending_records: int = 1000, close_timeout: float = 1.0,
                 channel_options: Sequence[tuple[str, Any]] = (),
                 outbox_size: int = DEFAULT_LIMIT,
                 outbox_path: str | os.PathLike[str] | None = None,
                 decide: Literal["server", "local"] = "server",
                 flush_interval: float = 0.05) -> None:
        if on_unavailable not in ("allow", "deny"):
            raise ValueError(f"on_unavailable must be 'allow' or 'deny', not {on_unavailable!r}")
        if allow_timeout <= 0 or timeout <= 0 or flush_interval <= 0:
            raise ValueError("allow_timeout, timeout and flush_interval must be positive")
        if decide not in ("server", "local"):
            raise ValueError(f"decide must be 'server' or 'local', not {decide!r}")
        self.target = target
        self._timeout = timeout
        self._service = service
        self._close_timeout = close_timeout
        self._outbox = Outbox(outbox_size, outbox_path)
        self._conn = Connection(target, [*_rpc.CHANNEL_OPTIONS, *channel_options])
        self._delivery = Delivery(self._conn, self._outbox, timeout)
        local = None if decide == "server" else LocalDecider(
            self._conn, flush_interval=flush_interval, allow_timeout=allow_timeout,
            record_timeout=timeout, keep=self._delivery.keep)
        self._hot = HotPath(self._conn, allow_timeout=allow_timeout, record_timeout=timeout,
                            deny=on_unavailable == "deny", service=service,
                            max_pending=max_pending_records, keep=self._delivery.keep,
                            local=local)
        self._delivery.kick()  # reports a previous run left in outbox_path

    # lifecycle

    def close(self) -> None:
        """Wait up to close_timeout for background records (then cut them off) and for the
        outbox, and close the channel. What the outbox still holds stays in outbox_path (or is
        lost, and counted in dropped_reports). Nothing of the client runs after this returns."""
        if not self._conn.closed:
            started = time.perf_counter()
            if self._hot.local is not None:
                self._hot.local.give_back(everything=True)
            if not self._hot.settle(None, self._close_timeout):
                self._hot.cancel()
            left = self._close_timeout - (time.perf_counter() - started)
            self._delivery.flush(max(left, 0.0))
            self._conn.close()
            if self._hot.local is not None:
                self._hot.local.stop()
            self._delivery.stop()
            self._outbox.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dropped_records(self) -> int:
        """Background Records/Reports lost: over the cap, failed, or cut off by close() (and in
        local mode outcomes lost: over the queue's bound, or refused by an unreachable rescp)."""
        return self._hot.dropped

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait up to `timeout` seconds until every background record has gone out and the
        outbox is empty; True when both are."""
        started = time.perf_counter()
        settled = self._hot.settle(None, timeout)
        left = timeout - (time.perf_counter() - started)
        return self._delivery.flush(max(left, 0.0)) and settled

    @property
    def dropped_reports(self) -> int:
        """Reports lost for good: the oldest when the outbox overflowed, those rescp refused on
        delivery, and, without outbox_path, those still waiting when the client closed."""
        return self._outbox.dropped

    @property
    def queued_reports(self) -> int:
        """Reports waiting in the outbox now."""
        return len(self._outbox)

    @property
    def misconfigured_calls(self) -> int:
        """Guarded calls rescp could not check for a reason of their own (an unknown breaker or
        limit, a value the wire cannot carry), let through or denied as on_unavailable says."""
        return self._hot.misconfigured

    @property
    def pending_records(self) -> int:
        """Background Records/Reports in flight now."""
        return self._hot.pending

    # the hot path

    def guard(self, breaker: str = "", limit: str = "", key: str = "", cost: int = 1, *,
              operation: str = "", user_id: str = "",
              ignore: tuple[type[BaseException], ...] = ()) -> Guard:
        """Allow before the block, Record after; a context manager and a decorator.

        Exceptions in `ignore` count as neither success nor failure (OUTCOME_IGNORED).
        """
        return Guard(self._hot, spec_of(breaker, limit, key, cost, operation, user_id,
                                             ignore))

    def breaker(self, name: str) -> BreakerHandle:
        return BreakerHandle(self, name)

    def limiter(self, name: str) -> Limiter:
        return Limiter(self, name)

    def report(
            self, error: BaseException, *, operation: str = "", user_id: str = "",
            context: Mapping[str, object] | None = None, service: str | None = None,
            breaker: str = "") -> ErrorRecord | None:
        """File an error: rescp classifies, scrubs and stores it, and returns the record.

        When rescp cannot be reached within timeout (or earlier reports still wait), the
        report goes to the outbox instead, to be delivered when rescp is back, and this returns
        None: a report is never lost to an outage, nor raised into the error path."""
        seen = time.time_ns()
        request = _report.report_request(
            error, operation=operation, user_id=user_id, context=context,
            service=self._service if service is None else service, breaker=breaker)
        if not len(self._outbox):
            try:
                response = self._conn.call(_rpc.REPORT, request, self._timeout,
                                                 wait_for_ready=False)
            except ControlPlaneUnavailable:
                pass
            else:
                return _codec.error_record(response.record)
        self._delivery.keep(request, seen)
        return None

    def classify(
            self, error: BaseException, *, operation: str = "", user_id: str = "",
            context: Mapping[str, object] | None = None, service: str | None = None,
            breaker: str = "") -> Classification:
        """What rescp makes of `error` (category, severity, user message, recovery action,
        fingerprint), exactly as `report()` would file it, without storing anything."""
        request = guard.ClassifyRequest(error=_report.report_request(
            error, operation=operation, user_id=user_id, context=context,
            service=self._service if service is None else service, breaker=breaker))
        return _codec.classification(self._call(_rpc.CLASSIFY, request))

    # breakers

    def put_breaker(self, name: str, **fields: Unpack[BreakerFields]) -> Breaker:
        """Create or replace a breaker. No fields: the server's default config; some: those,
        with every rule not given off (durations in float seconds, window_type "count"|"time")."""
        request = _codec.put_breaker(name, fields)
        response = self._after_records(_rpc.PUT_BREAKER, request, name)
        return _codec.breaker(response.breaker)

    def get_breaker(self, name: str) -> Breaker:
        request = admin.GetBreakerRequest(name=name)
        response = self._after_records(_rpc.GET_BREAKER, request, name)
        return _codec.breaker(response.breaker)

    def list_breakers(self) -> list[Breaker]:
        """Every breaker, read a page at a time."""
        request = admin.ListBreakersRequest(page_size=PAGE_SIZE)
        first = self._after_records(_rpc.LIST_BREAKERS, request)
        pages = self._conn.pages(_rpc.LIST_BREAKERS, request, first, self._timeout)
        return [_codec.breaker(b) for page in pages for b in page.breakers]

    def delete_breaker(self, name: str) -> None:
        request = admin.DeleteBreakerRequest(name=name)
        self._after_records(_rpc.DELETE_BREAKER, request, name)

    def transition_breaker(self, name: str, state: str) -> Breaker:
        """Move a breaker by hand to "closed" (a reset), "forced_open" or "disabled"."""
        request = _codec.transition(name, state)
        response = self._after_records(_rpc.TRANSITION_BREAKER, request, name)
        return _codec.breaker(response.breaker)

    # limits

    def put_limit(
            self, name: str, *, max_requests: int, window: float,
            algorithm: str = "sliding_window", lease: int = 0) -> Limit:
        """Create or replace a limit: `max_requests` per `window` seconds per key
        ("sliding_window" or "token_bucket"). A config different from the stored one starts
        every key afresh; the very same config changes nothing (keys keep their counts).
        `lease` > 0 lets local-mode clients take that many tokens at a time and spend them
        locally (admission may then exceed max_requests by lease x clients holding a lease)."""
        request = _codec.put_limit(name, max_requests, window, algorithm, lease)
        return _codec.limit((self._call(_rpc.PUT_LIMIT, request)).limit)

    def list_limits(self) -> list[Limit]:
        """Every limit, read a page at a time."""
        request = admin.ListLimitsRequest(page_size=PAGE_SIZE)
        first = self._call(_rpc.LIST_LIMITS, request)
        pages = self._conn.pages(_rpc.LIST_LIMITS, request, first, self._timeout)
        return [_codec.limit(x) for page in pages for x in page.limits]

    def delete_limit(self, name: str) -> None:
        self._call(_rpc.DELETE_LIMIT, admin.DeleteLimitRequest(name=name))

    def limit_status(self, name: str, key: str = "") -> LimitStatus:
        """How `key` stands with the limit; takes no token."""
        request = admin.GetLimitStatusRequest(limit=name, key=key)
        return _codec.limit_status(self._call(_rpc.GET_LIMIT_STATUS, request))

    # features and the read side

    def put_feature(
            self, name: str, *, breakers: Sequence[str], degraded_message: str = "",
            fallback_available: bool = False) -> Feature:
        """Create or replace a feature that degrades while any of `breakers` is open."""
        request = admin.PutFeatureRequest(feature=admin.Feature(
            name=name, breakers=list(breakers), degraded_message=degraded_message,
            fallback_available=fallback_available))
        return _codec.feature((self._call(_rpc.PUT_FEATURE, request)).feature)

    def list_features(self) -> list[Feature]:
        """Every feature, read a page at a time."""
        request = admin.ListFeaturesRequest(page_size=PAGE_SIZE)
        first = self._call(_rpc.LIST_FEATURES, request)
        pages = self._conn.pages(_rpc.LIST_FEATURES, request, first, self._timeout)
        return [_codec.feature(f) for page in pages for f in page.features]

    def delete_feature(self, name: str) -> None:
        self._call(_rpc.DELETE_FEATURE, admin.DeleteFeatureRequest(name=name))

    def degradation(self) -> Degradation:
        return _codec.degradation(
            self._after_records(_rpc.GET_DEGRADATION, admin.GetDegradationRequest()))

    def feature_status(self, name: str) -> AffectedFeature | None:
        """How open circuits affect feature `name` ("degraded" or "unavailable"), or None when
        they do not. In local mode, while the push stream is up, from pushed state (no RPC)."""
        local = self._hot.local
        if local is not None and local.state.live and local.state.degradation is not None:
            return local.state.feature_status(name)
        affected = (self.degradation()).affected_features
        return next((f for f in affected if f.feature == name), None)

    def error_summary(self) -> ErrorSummary:
        return _codec.error_summary(
            self._after_records(_rpc.GET_ERROR_SUMMARY, admin.GetErrorSummaryRequest()))

    def notifications(
            self, min_severity: str | None = "high", limit: int = 10,
            include_acknowledged: bool = False) -> NotificationList:
        """Stored errors at least `min_severity` severe (None: all), newest first: a list whose
        `.total` counts every match before `limit`."""
        request = _codec.notifications(min_severity, limit, include_acknowledged)
        response = self._after_records(_rpc.LIST_NOTIFICATIONS, request)
        return _codec.notification_list(response)

    def acknowledge(self, error_id: str) -> ErrorRecord:
        request = admin.AcknowledgeErrorRequest(error_id=error_id)
        return _codec.error_record((self._call(_rpc.ACKNOWLEDGE_ERROR, request)).record)

    def system_health(self) -> SystemHealth:
        return _codec.system_health(
            self._after_records(_rpc.GET_SYSTEM_HEALTH, admin.GetSystemHealthRequest()))

    # events

    def watch(self, types: Iterable[str] | None = None, *, min_severity: str | None = None,
              after_sequence: int | None = None) -> Watch:
        """Events as they happen, for ever: `for event in client.watch(...)`.

        types: any of "breaker_transition", "notification", "degradation_change",
        "health_change", "rate_limit_exceeded" (None: all). min_severity: "low" .. "critical",
        for notifications only. after_sequence: begin with the retained events after it (a
        read's `.sequence`, or an earlier watch's `last_sequence`); None: from the first
        iteration on. A broken stream is resumed where it broke, without a gap; when the server
        cannot do that (OUT_OF_RANGE) a `Snapshot` of the state comes first. Bad filters raise
        InvalidArgumentError here; errors no retry can cure are raised from the loop.
        """
        request = _codec.watch_request(types, min_severity, after_sequence)
        return Watch(self._conn, request, self._timeout, self.target)

    def _call(self, rpc: Rpc[Req, Resp], request: Req) -> Resp:
        self._delivery.kick()
        return self._conn.call(rpc, request, self._timeout)

    def _after_records(self, rpc: Rpc[Req, Resp], request: Req,
                             breaker: str | None = None) -> Resp:
        """A call that comes after this client's own background Records (of `breaker`, or all
        of them), within the one timeout: a client reads its own writes."""
        self._delivery.kick()
        started = time.perf_counter()
        self._hot.settle(breaker, self._timeout)
        left = self._timeout - (time.perf_counter() - started)
        return self._conn.call(rpc, request, max(left, 0.0))
