"""Prometheus metrics of one server, in a registry of its own (so servers in one process, as in
the tests, never share counters).

Counters are fed as things happen: the plane calls `PlaneMetrics` (a `PlaneObserver`), and the
gRPC handlers call the observer `grpc_observer` built for their method, with the names and
labels go-grpc-prometheus uses so existing gRPC dashboards work. Each label combination's child
is looked up once and kept in a dict, so the hot path pays a dict lookup and an increment.
Gauges of state (breaker states, health, degradation, the event log) are read from the control
plane at scrape time by `StateCollector`: they can never drift from what the plane says.
"""

from __future__ import annotations

import operator
import os
from collections import Counter as Tally
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rescp.engine.breaker import Transition
from rescp.engine.errorlog import ErrorRecord
from rescp.enums import BreakerState, Health, Outcome, Verdict
from rescp.errors import RescpError
from rescp.observe import PlaneObserver
from rescp.plane import ControlPlane
from rescp.server.rpc import Observer
from rescp.store.base import AllowItem, AllowResult

HANDLING_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0, 10.0)
"""Finer than Prometheus' defaults at the low end: an Allow takes well under a millisecond."""
GO_CODE_NAMES = {code: "".join(part.capitalize() for part in code.name.split("_"))
                 for code in grpc.StatusCode} | {grpc.StatusCode.OK: "OK",
                                                 grpc.StatusCode.CANCELLED: "Canceled"}
"""grpc_code label values as grpc-go spells them (codes.Code.String())."""
HEALTH_VALUES = {Health.HEALTHY: 0, Health.WARNING: 1, Health.CRITICAL: 2}
_FIRST, _SECOND = operator.itemgetter(0), operator.itemgetter(1)
FEW_ALLOWS = 4


def lower(state: BreakerState) -> str:
    return state.name.lower()


class _Children:
    """A labelled metric's children, each looked up once."""

    def __init__(self, metric: Counter) -> None:
        self.metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def inc(self, *labels: str) -> None:
        self.add(labels, 1)

    def add(self, labels: tuple[str, ...], amount: int) -> None:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self.metric.labels(*labels)
        child.inc(amount)

    def forget(self, first_label: str) -> None:
        """Drop every series whose first label is `first_label` (a deleted breaker)."""
        for labels in [k for k in self._children if k[0] == first_label]:
            del self._children[labels]
            self.metric.remove(*labels)


class PlaneMetrics(PlaneObserver):
    """The counters the control plane feeds."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.transitions = _Children(Counter(
            "rescp_breaker_transitions_total", "Breaker state transitions.",
            ["breaker", "from", "to"], registry=registry))
        self.calls = _Children(Counter(
            "rescp_breaker_calls_total", "Calls through a breaker: Record outcomes and refusals.",
            ["breaker", "outcome"], registry=registry))
        self.decisions = _Children(Counter(
            "rescp_limit_decisions_total", "Rate-limit decisions.", ["limit", "verdict"],
            registry=registry))
        self.errors = _Children(Counter(
            "rescp_errors_reported_total", "Errors reported, as classified.",
            ["category", "severity"], registry=registry))

    def allowed(self, breaker: str, limit: str, result: AllowResult) -> None:
        if result.verdict is Verdict.BREAKER_OPEN:
            self.calls.inc(breaker, "refused")
        elif limit:  # the breaker (if any) admitted, so the limit decided
            self.decisions.inc(limit, "rate_limited" if result.verdict is Verdict.RATE_LIMITED
                               else "allowed")

    def allowed_many(self, items: Sequence[AllowItem],
                     answers: Sequence[AllowResult | RescpError]) -> None:
        """Counted per label set, then added once each: a batch of 1,000 Allows costs a few
        increments, not a thousand locked ones. The counting runs in C (`Tally` over zipped
        item getters); a batch with an item error counts its decided items in Python. A few
        Allows (a unary one) are counted one by one: a Tally costs ~5 us to set up."""
        if len(items) < FEW_ALLOWS:
            super().allowed_many(items, answers)
            return
        verdicts: Sequence[Any] = answers  # an error among them makes _SECOND raise TypeError
        try:
            counted = Tally(zip(map(_FIRST, items), map(_SECOND, items), map(_SECOND, verdicts),
                                strict=True))
        except TypeError:  # an answer is an error, not an AllowResult
            counted = Tally((item[0], item[1], answer[1])
                            for item, answer in zip(items, answers, strict=True)
                            if type(answer) is AllowResult)
        for (breaker, limit, verdict), n in counted.items():
            if verdict is Verdict.BREAKER_OPEN:
                self.calls.add((breaker, "refused"), n)
            elif limit:
                self.decisions.add((limit, "rate_limited" if verdict is Verdict.RATE_LIMITED
                                    else "allowed"), n)

    def recorded(self, breaker: str, outcome: Outcome) -> None:
        self.calls.inc(breaker, outcome.name.lower())

    def reported(self, record: ErrorRecord) -> None:
        self.errors.inc(record.category.name.lower(), record.severity.name.lower())

    def transitioned(self, transition: Transition) -> None:
        self.transitions.inc(transition.breaker, lower(transition.from_state),
                             lower(transition.to_state))

    def breaker_deleted(self, name: str) -> None:
        self.transitions.forget(name)
        self.calls.forget(name)


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    breakers: list[tuple[str, BreakerState]]
    health: Health
    degraded_features: int
    subscribers: int
    sequence: int


class StateCollector(Collector):
    """Gauges of the plane's state, from a snapshot taken just before each scrape."""

    def __init__(self) -> None:
        self.snapshot: StateSnapshot | None = None

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:
            return
        states = GaugeMetricFamily("rescp_breaker_state",
                                   "1 for the breaker's current state, 0 for the others.",
                                   labels=["breaker", "state"])
        for name, current in snap.breakers:
            for state in BreakerState:
                states.add_metric([name, lower(state)], 1.0 if state is current else 0.0)
        yield states
        for name, help_text, value in (
                ("rescp_system_health", "0 healthy, 1 warning, 2 critical.",
                 HEALTH_VALUES[snap.health]),
                ("rescp_degraded_features", "Features degraded or unavailable.",
                 snap.degraded_features),
                ("rescp_watch_subscribers", "Subscribers following the event log (Watch, SSE).",
                 snap.subscribers),
                ("rescp_event_sequence", "The newest event's sequence.", snap.sequence)):
            yield GaugeMetricFamily(name, help_text, value=float(value))
        process = GaugeMetricFamily("rescp_process_info", "1, labelled with the pid of the "
                                    "process answering: tells --workers apart.", labels=["pid"])
        process.add_metric([str(os.getpid())], 1.0)
        yield process


class Metrics:
    """One server's metrics: its registry, the plane's counters, the gRPC server metrics."""

    def __init__(self, plane: ControlPlane) -> None:
        self._plane = plane
        self.registry = CollectorRegistry()
        self.plane = PlaneMetrics(self.registry)
        self._state = StateCollector()
        self.registry.register(self._state)
        labels = ["grpc_type", "grpc_service", "grpc_method"]
        self._handled = Counter("grpc_server_handled_total",
                                "RPCs completed on the server, by status code.",
                                [*labels, "grpc_code"], registry=self.registry)
        self._seconds = Histogram("grpc_server_handling_seconds",
                                  "Time the server took to handle an RPC.", labels,
                                  buckets=HANDLING_BUCKETS, registry=self.registry)

    def grpc_observer(self, service: str, method: str, kind: str) -> Observer:
        """An rpc.ObserverFactory: the observer of one method, its OK series bound up front."""
        handled, seconds = self._handled, self._seconds.labels(kind, service, method)
        ok = handled.labels(kind, service, method, "OK")
        others: dict[grpc.StatusCode, Any] = {}

        def observe(code: grpc.StatusCode, elapsed: float) -> None:
            if code is grpc.StatusCode.OK:
                ok.inc()
            else:
                child = others.get(code)
                if child is None:
                    child = others[code] = handled.labels(kind, service, method,
                                                          GO_CODE_NAMES[code])
                child.inc()
            seconds.observe(elapsed)

        return observe

    async def scrape(self) -> bytes:
        """The Prometheus text exposition, with the gauges of state read just now."""
        plane = self._plane
        views, _ = await plane.list_breakers()
        health, _ = await plane.system_health()
        degradation, _ = await plane.degradation()
        self._state.snapshot = StateSnapshot(
            [(v.name, v.state) for v in views], health.health,
            len(degradation.affected_features), plane.events.subscribers,
            plane.events.last_sequence)
        return generate_latest(self.registry)  # no await since the snapshot: it is consistent
