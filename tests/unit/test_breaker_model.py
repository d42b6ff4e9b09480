"""The Breaker against a reference model of the contract, step by step, under Hypothesis.

The model is written for obviousness, not speed: it keeps every counted call in a list and
computes the window and the rates by filtering that list, and it names permits by what they are
(a tuple) rather than by a string. After every step the two must agree on state, generation,
counts, rates, deadlines and every transition announced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from rescp.engine.breaker import Breaker, BreakerConfig, Transition
from rescp.enums import BreakerState, Outcome, WindowType
from rescp.testing import ManualClock

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
FORCED_OPEN, DISABLED = BreakerState.FORCED_OPEN, BreakerState.DISABLED

# ("full", generation, 0) admitted in CLOSED/DISABLED; ("trial", generation, id) in HALF_OPEN;
# None for a call recorded without a permit.
Token = tuple[str, int, int] | None
Event = tuple[BreakerState, BreakerState, str, float]


@dataclass
class Model:
    c: BreakerConfig
    since: float
    state: BreakerState = CLOSED
    gen: int = 0
    failures: int = 0
    successes: int = 0
    last_failure: float | None = None
    run: int = 0
    calls: list[tuple[float, bool, bool]] = field(default_factory=list)  # (time, failed, slow)
    trials: dict[int, float] = field(default_factory=dict)  # id -> expiry
    next_id: int = 0
    trial_wins: int = 0
    expired: int = 0  # trials expired in this HALF_OPEN period
    events: list[Event] = field(default_factory=list)

    def window(self, now: float) -> list[tuple[float, bool, bool]]:
        if self.c.window_type == WindowType.COUNT:
            return self.calls[-self.c.window_size:]
        return [x for x in self.calls if int(x[0]) > int(now) - self.c.window_size]

    def rate(self, now: float, index: int) -> float:
        window = self.window(now)
        if len(window) < self.c.minimum_calls:
            return -1.0
        return 100.0 * sum(1 for x in window if x[index]) / len(window)

    def next_deadline(self) -> float | None:
        if self.state == OPEN:
            return self.since + self.c.recovery_timeout
        if self.state == HALF_OPEN and self.trials:
            return min(self.trials.values())
        return None

    def reset(self) -> None:
        self.failures = self.successes = self.run = 0
        self.calls = []

    def enter(self, to: BreakerState, reason: str, now: float) -> None:
        self.events.append((self.state, to, reason, now))
        self.state, self.gen, self.since = to, self.gen + 1, now
        self.trials, self.trial_wins, self.expired = {}, 0, 0
        if to == CLOSED:
            self.reset()

    def tick(self, now: float) -> None:
        if self.state == OPEN and now >= self.since + self.c.recovery_timeout:
            self.enter(HALF_OPEN, "recovery_timeout", now)
        self.expire(now)

    def expire(self, now: float) -> None:
        """Trials past their expiry are gone; more of them than permits reopens."""
        gone = [t for t, e in self.trials.items() if e <= now]
        for t in gone:
            del self.trials[t]
        self.expired += len(gone)
        if self.state == HALF_OPEN and self.expired > self.c.half_open_permits:
            self.enter(OPEN, "trials_expired", now)

    def allow(self, now: float) -> tuple[bool, BreakerState, float, Token]:
        self.tick(now)
        if self.state in (CLOSED, DISABLED):
            return True, self.state, 0.0, ("full", self.gen, 0)
        if self.state == OPEN:
            return False, OPEN, self.since + self.c.recovery_timeout - now, None
        if self.state == FORCED_OPEN:
            return False, FORCED_OPEN, 0.0, None
        if len(self.trials) < self.c.half_open_permits:
            self.next_id += 1
            self.trials[self.next_id] = now + self.c.recovery_timeout
            return True, HALF_OPEN, 0.0, ("trial", self.gen, self.next_id)
        return False, HALF_OPEN, min(self.trials.values()) - now, None

    def tally(self, outcome: Outcome, now: float) -> None:
        if outcome == Outcome.FAILURE:
            self.failures += 1
            self.last_failure = now
        elif outcome == Outcome.SUCCESS:
            self.successes += 1

    def record(self, outcome: Outcome, duration: float, token: Token, now: float) -> None:
        if self.state in (CLOSED, DISABLED) and token in (None, ("full", self.gen, 0)):
            self.record_fully(outcome, duration, now)
        elif token is not None and token[:2] == ("trial", self.gen):
            self.expire(now)
            if token[:2] == ("trial", self.gen) and self.trials.pop(token[2], None) is not None:
                self.record_trial(outcome, now)
            else:
                self.tally(outcome, now)
        else:
            self.tally(outcome, now)

    def record_fully(self, outcome: Outcome, duration: float, now: float) -> None:
        if outcome == Outcome.IGNORED:
            return
        self.tally(outcome, now)
        failed = outcome == Outcome.FAILURE
        self.run = self.run + 1 if failed else 0
        slow = self.c.slow_call_rate_threshold > 0 and duration > self.c.slow_call_duration
        self.calls.append((now, failed, slow))
        if self.state != CLOSED:
            return
        if self.c.failure_threshold and self.run >= self.c.failure_threshold:
            self.enter(OPEN, "consecutive_failures", now)
        elif self.c.failure_rate_threshold and self.rate(now, 1) >= self.c.failure_rate_threshold:
            self.enter(OPEN, "failure_rate", now)
        elif self.c.slow_call_rate_threshold and (
                self.rate(now, 2) >= self.c.slow_call_rate_threshold):
            self.enter(OPEN, "slow_call_rate", now)

    def record_trial(self, outcome: Outcome, now: float) -> None:
        self.tally(outcome, now)
        if outcome == Outcome.SUCCESS:
            self.trial_wins += 1
            if self.trial_wins >= self.c.half_open_permits:
                self.enter(CLOSED, "trials_succeeded", now)
        elif outcome == Outcome.FAILURE:
            self.enter(OPEN, "trial_failed", now)

    def release(self, token: Token) -> None:
        if token is not None and token[:2] == ("trial", self.gen):
            self.trials.pop(token[2], None)

    def transition(self, to: BreakerState, now: float) -> None:
        if to == self.state:
            if to == CLOSED:
                self.reset()
        else:
            self.enter(to, "manual", now)


@st.composite
def configs(draw: st.DrawFn) -> BreakerConfig:
    window_type = draw(st.sampled_from(WindowType))
    window_size = draw(st.integers(1, 6))
    top = window_size if window_type == WindowType.COUNT else 8
    slow_rate = draw(st.sampled_from([0.0, 25.0, 50.0, 100.0]))
    return BreakerConfig(
        failure_threshold=draw(st.integers(0, 3)),
        failure_rate_threshold=draw(st.sampled_from([0.0, 20.0, 50.0, 66.7, 100.0])),
        slow_call_rate_threshold=slow_rate,
        slow_call_duration=1.0 if slow_rate else draw(st.sampled_from([0.0, 1.0])),
        window_type=window_type,
        window_size=window_size,
        minimum_calls=draw(st.integers(1, top)),
        recovery_timeout=draw(st.sampled_from([0.5, 1.0, 3.0, 10.0])),
        half_open_permits=draw(st.integers(1, 3)),
    )


durations = st.sampled_from([0.0, 0.5, 1.0, 1.5, 5.0])
indexes = st.one_of(st.integers(-1, 2), st.integers(0, 50))  # mostly the newest permits
gaps = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0, 3.0, 10.0]), st.floats(0, 20))


class BreakerMachine(RuleBasedStateMachine):
    """Real breaker and model side by side; permits held as (real string, model token)."""

    @initialize(config=configs())
    def start(self, config: BreakerConfig) -> None:
        self.clock = ManualClock()
        self.heard: list[tuple[Transition, int, int, int, float]] = []
        self.held: list[tuple[str, Token]] = []
        self.model = Model(config, self.clock.now())
        self.breaker = Breaker("m", config, self.clock.now(), self.listen)

    def listen(self, t: Transition) -> None:
        b = self.breaker
        self.heard.append((t, b.generation, b.failure_count, b.success_count,
                           b.failure_rate(t.time)))

    def pick(self, index: int) -> tuple[str, Token]:
        """The index-th newest permit held (maybe recorded already, maybe stale), or none."""
        if not self.held or index < 0:
            return "", None
        return self.held[-1 - index % len(self.held)]

    @rule()
    def allow(self) -> None:
        now = self.clock.now()
        d = self.breaker.allow(now)
        allowed, state, retry_after, token = self.model.allow(now)
        assert (d.allowed, d.state, d.retry_after) == (allowed, state, retry_after)
        assert (d.permit != "") == d.allowed
        if d.allowed:
            self.held.append((d.permit, token))

    @rule(outcome=st.sampled_from(Outcome), duration=durations, index=indexes)
    def record(self, outcome: Outcome, duration: float, index: int) -> None:
        now = self.clock.now()
        permit, token = self.pick(index)
        state = self.breaker.record(outcome, duration, permit, now)
        self.model.record(outcome, duration, token, now)
        assert state == self.model.state

    @rule(outcome=st.sampled_from(Outcome), duration=durations)
    def call(self, outcome: Outcome, duration: float) -> None:
        """What a client does: ask, and if admitted, report how it went."""
        self.allow()
        if self.held:
            self.record(outcome, duration, 0)

    @rule(index=indexes)
    def release(self, index: int) -> None:
        permit, token = self.pick(index)
        self.breaker.release(permit, self.clock.now())
        self.model.release(token)

    @rule(gap=gaps)
    def pass_time(self, gap: float) -> None:
        self.clock.advance(gap)

    @rule()
    def pass_to_the_next_deadline(self) -> None:
        deadline = self.model.next_deadline()
        if deadline is not None and deadline > self.clock.now():
            self.clock.advance(deadline - self.clock.now())

    @rule()
    def timer_fires(self) -> None:
        self.breaker.advance(self.clock.now())
        self.model.tick(self.clock.now())

    @rule(to=st.sampled_from([CLOSED, FORCED_OPEN, DISABLED]), dice=st.integers(0, 3))
    def operator(self, to: BreakerState, dice: int) -> None:
        if dice:  # operators are rare; let the breaker's own cycle run most of the time
            return
        self.breaker.transition(to, self.clock.now())
        self.model.transition(to, self.clock.now())

    @invariant()
    def agrees_with_the_model(self) -> None:
        b, m, now = self.breaker, self.model, self.clock.now()
        assert (b.state, b.generation, b.state_since) == (m.state, m.gen, m.since)
        assert (b.failure_count, b.success_count) == (m.failures, m.successes)
        assert b.last_failure_time == m.last_failure
        assert b.failure_rate(now) == m.rate(now, 1)
        assert b.slow_call_rate(now) == m.rate(now, 2)
        assert b.next_deadline() == m.next_deadline()
        assert b.trials_outstanding == len(m.trials)
        assert [(t.from_state, t.to_state, t.reason, t.time) for t, *_ in self.heard] == m.events

    @invariant()
    def holds_its_own_promises(self) -> None:
        b = self.breaker
        assert b.trials_outstanding <= b.config.half_open_permits
        assert b.generation == len(self.heard)  # starts at 0, one per announced change
        for i, (t, generation, failures, successes, rate) in enumerate(self.heard):
            assert generation == i + 1
            assert t.breaker == "m" and t.from_state != t.to_state
            if t.to_state == CLOSED:
                assert (failures, successes, rate) == (0, 0, -1.0)


BreakerMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=60)
TestBreakerAgainstModel = BreakerMachine.TestCase
