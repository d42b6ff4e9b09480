"""What an in-process store's operation caused, gathered while it runs.

The memory and SQLite stores run the engines in this process, so one `Effects` object keeps the
consequences of each operation as the engines report them: the events appended to the log, the
breakers whose state moved, the set of open circuits, every breaker's next deadline, and the
health and degradation last appended. `applied` closes an operation: it re-judges health and
degradation if anything they depend on changed (appending an event only when the answer differs
from the last one appended) and returns the operation's `Applied`. All of it is plain
bookkeeping on the event loop: no I/O, no awaiting, so an operation stays atomic.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable
from typing import TypeVar

from rescp.clock import Clock
from rescp.engine.breaker import Transition
from rescp.engine.health import Degradation, Feature, degradation, health
from rescp.enums import OPEN_CIRCUIT_STATES, BreakerState, Health
from rescp.events import Event, EventLog, HealthChange, Payload
from rescp.store.base import Applied, HealthRules

T = TypeVar("T")

HealthInputs = Callable[[float], tuple[bool, float]]
"""(a recent unacknowledged critical error?, errors per minute) at a wall time."""


class Effects:
    def __init__(self, log: EventLog, clock: Clock, rules: HealthRules,
                 features: Callable[[], Iterable[Feature]], errors: HealthInputs) -> None:
        self.log = log
        self.health = Health.HEALTHY  # as last appended (or restored)
        self.degradation = Degradation(False, (), (), False)
        self.store_ok = True
        self._clock = clock
        self._rules = rules
        self._features = features
        self._errors = errors
        self._events: list[Event] = []
        self._states: dict[str, BreakerState | None] = {}
        self._open: set[str] = set()
        self._unclosed: set[str] = set()
        self._deadline: dict[str, float] = {}
        self._due: list[tuple[float, str]] = []  # a heap; entries no longer in _deadline are stale
        self._dirty = True

    @property
    def open_circuits(self) -> Collection[str]:
        return self._open

    @property
    def unclosed(self) -> Collection[str]:
        """Breakers not CLOSED: what system health lists."""
        return self._unclosed

    # what the engines and the store report

    def emit(self, payload: Payload) -> Event:
        event = self.log.append(payload, self._clock.wall())
        self._events.append(event)
        return event

    def stale(self) -> None:
        """Something health or degradation depends on changed: judge them again."""
        self._dirty = True

    def state(self, name: str, state: BreakerState | None) -> None:
        """A breaker was created (or restored), moved, or deleted (None)."""
        self._states[name] = state
        was_open = name in self._open
        if state in OPEN_CIRCUIT_STATES:
            self._open.add(name)
        else:
            self._open.discard(name)
        if state is None or state is BreakerState.CLOSED:
            self._unclosed.discard(name)
        else:
            self._unclosed.add(name)
        if was_open != (name in self._open):
            self._dirty = True

    def transitioned(self, transition: Transition) -> None:
        self.emit(transition)
        self.state(transition.breaker, transition.to_state)

    def deadline(self, name: str, at: float | None) -> None:
        """The breaker's next deadline (None: only calls can change it)."""
        if at is None:
            self._deadline.pop(name, None)
        elif self._deadline.get(name) != at:
            self._deadline[name] = at
            heapq.heappush(self._due, (at, name))

    def due(self, now: float) -> list[str]:
        """The breakers whose deadline has come, each once; their deadlines are dropped (the
        store sets them again after advancing)."""
        names = []
        due = self._due
        while due and due[0][0] <= now:
            at, name = heapq.heappop(due)
            if self._deadline.get(name) == at:
                del self._deadline[name]
                names.append(name)
        return names

    def next_deadline(self) -> float | None:
        due = self._due
        while due and self._deadline.get(due[0][1]) != due[0][0]:
            heapq.heappop(due)  # stale: that breaker's deadline moved or went
        return due[0][0] if due else None

    # closing an operation

    def applied(self, result: T) -> Applied[T]:
        """The operation's Applied, after judging health and degradation if they may have
        moved; the gathered events and states start afresh for the next operation."""
        if self._dirty:
            self.judge()
        events, states = self._events, self._states
        if events:
            self._events = []
        if states:
            self._states = {}
        return Applied(result, events, self.log.last_sequence, self.next_deadline(), states)

    def judge(self) -> None:
        """Recompute degradation and health; append each only when it differs from the last."""
        self._dirty = False
        current = degradation(self._features(), self._open)
        if current != self.degradation:
            self.degradation = current
            self.emit(current)
        recent_critical, per_minute = self._errors(self._clock.wall())
        new = health(open_circuits=len(self._open), recent_critical=recent_critical,
                     errors_per_minute=per_minute,
                     error_rate_threshold=self._rules.error_rate_threshold,
                     store_ok=self.store_ok)
        if new is not self.health:
            self.emit(HealthChange(self.health, new))
            self.health = new
