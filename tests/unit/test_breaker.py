"""The breaker state machine, rule by rule, on a ManualClock."""

from __future__ import annotations

import math
from typing import Any

import pytest

from rescp.engine.breaker import Breaker, BreakerConfig, Decision, Transition
from rescp.enums import BreakerState, Outcome, WindowType
from rescp.errors import InvalidArgument
from rescp.testing import ManualClock

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
FORCED_OPEN, DISABLED = BreakerState.FORCED_OPEN, BreakerState.DISABLED
SUCCESS, FAILURE, IGNORED = Outcome.SUCCESS, Outcome.FAILURE, Outcome.IGNORED


class Harness:
    """A breaker on a manual clock, with the transitions it announced."""

    def __init__(self, **config: Any) -> None:
        self.clock = ManualClock()
        self.events: list[Transition] = []
        self.b = Breaker("db", BreakerConfig(**config), self.clock.now(), self.events.append)

    @property
    def now(self) -> float:
        return self.clock.now()

    def allow(self) -> Decision:
        return self.b.allow(self.now)

    def call(self, outcome: Outcome, duration: float = 0.001) -> BreakerState:
        """Allow then record, as a client would; the call must be allowed."""
        d = self.allow()
        assert d.allowed, d
        return self.b.record(outcome, duration, d.permit, self.now)

    def record(self, outcome: Outcome, permit: str = "", duration: float = 0.001) -> BreakerState:
        return self.b.record(outcome, duration, permit, self.now)

    def reasons(self) -> list[tuple[BreakerState, BreakerState, str]]:
        return [(e.from_state, e.to_state, e.reason) for e in self.events]

    def open(self) -> None:
        """Trip the breaker with consecutive failures (needs failure_threshold > 0)."""
        while self.b.state is CLOSED:
            self.call(FAILURE)

    def half_open(self) -> None:
        self.open()
        self.clock.advance(self.b.config.recovery_timeout)
        self.b.advance(self.now)
        assert self.b.state is HALF_OPEN


# -- the seed's example and the consecutive-failures rule ----------------------------------------

def test_seed_example_two_failures_open_it_and_the_third_call_is_refused() -> None:
    h = Harness(failure_threshold=2)
    assert h.call(FAILURE) is CLOSED
    assert h.call(FAILURE) is OPEN
    d = h.allow()
    assert d == Decision(False, OPEN, 60.0, "")
    assert h.reasons() == [(CLOSED, OPEN, "consecutive_failures")]
    assert h.b.failure_count == 2
    assert h.b.last_failure_time == h.now


def test_a_success_resets_the_run_of_failures() -> None:
    h = Harness(failure_threshold=3)
    for outcome in (FAILURE, FAILURE, SUCCESS, FAILURE, FAILURE):
        assert h.call(outcome) is CLOSED
    assert h.call(FAILURE) is OPEN
    assert (h.b.failure_count, h.b.success_count) == (5, 1)


def test_ignored_neither_extends_nor_resets_the_run() -> None:
    h = Harness(failure_threshold=2)
    h.call(FAILURE)
    h.call(IGNORED)
    assert h.b.state is CLOSED
    assert (h.b.failure_count, h.b.success_count) == (1, 0)
    assert h.b.failure_rate(h.now) == -1.0
    assert h.call(FAILURE) is OPEN


def test_failure_threshold_zero_turns_the_rule_off() -> None:
    h = Harness(failure_threshold=0)
    for _ in range(50):
        assert h.call(FAILURE) is CLOSED


def test_closed_decision_carries_the_generation_permit() -> None:
    h = Harness()
    d = h.allow()
    assert d == Decision(True, CLOSED, 0.0, d.permit)
    assert d.permit != ""
    assert h.allow() == d


def test_record_without_permit_counts_fully_while_closed() -> None:
    h = Harness(failure_threshold=2)
    h.record(FAILURE)
    assert h.record(FAILURE) is OPEN


# -- rate rules ----------------------------------------------------------------------------------

def test_failure_rate_is_minus_one_below_minimum_calls_then_trips_at_threshold() -> None:
    h = Harness(failure_threshold=0, failure_rate_threshold=50, window_size=10, minimum_calls=4)
    for outcome in (FAILURE, FAILURE, SUCCESS):
        h.call(outcome)
        assert h.b.failure_rate(h.now) == -1.0
        assert h.b.slow_call_rate(h.now) == -1.0
    assert h.call(SUCCESS) is OPEN  # 2 of 4 = 50% >= 50%
    assert h.reasons() == [(CLOSED, OPEN, "failure_rate")]
    assert h.b.failure_rate(h.now) == 50.0
    assert h.b.slow_call_rate(h.now) == 0.0


def test_failure_rate_just_below_threshold_stays_closed() -> None:
    h = Harness(failure_threshold=0, failure_rate_threshold=50, window_size=10, minimum_calls=3)
    for outcome in (FAILURE, SUCCESS, SUCCESS, SUCCESS, FAILURE):
        assert h.call(outcome) is CLOSED
    assert h.b.failure_rate(h.now) == 40.0


def test_count_window_forgets_old_failures() -> None:
    h = Harness(failure_threshold=0, failure_rate_threshold=60, window_size=4, minimum_calls=4)
    for outcome in (FAILURE, FAILURE, SUCCESS, SUCCESS, SUCCESS, SUCCESS, FAILURE, FAILURE):
        assert h.call(outcome) is CLOSED  # never more than 2 failures in the last 4
    assert h.call(FAILURE) is OPEN  # the last 4: S F F F = 75%


def test_slow_call_rate_trips_and_a_failure_can_be_slow() -> None:
    h = Harness(failure_threshold=0, slow_call_rate_threshold=50, slow_call_duration=1.0,
                window_size=10, minimum_calls=4)
    h.call(SUCCESS, duration=1.0)   # not slow: the limit itself is not "slower than"
    h.call(SUCCESS, duration=0.5)
    h.call(FAILURE, duration=2.0)   # slow failure
    assert h.b.slow_call_rate(h.now) == -1.0
    assert h.call(SUCCESS, duration=5.0) is OPEN  # 2 slow of 4
    assert h.reasons() == [(CLOSED, OPEN, "slow_call_rate")]
    assert h.b.failure_rate(h.now) == 25.0


def test_durations_are_never_slow_while_the_slow_rule_is_off() -> None:
    h = Harness(failure_threshold=0, slow_call_duration=0.1, minimum_calls=1)
    h.call(SUCCESS, duration=100.0)
    assert h.b.slow_call_rate(h.now) == 0.0


def test_rule_order_names_consecutive_failures_first() -> None:
    h = Harness(failure_threshold=2, failure_rate_threshold=10, window_size=10, minimum_calls=2)
    h.call(FAILURE)
    h.call(FAILURE)
    assert h.reasons() == [(CLOSED, OPEN, "consecutive_failures")]


def test_failure_rate_before_slow_rate() -> None:
    h = Harness(failure_threshold=0, failure_rate_threshold=50, slow_call_rate_threshold=50,
                slow_call_duration=0.5, window_size=2, minimum_calls=1)
    h.call(FAILURE, duration=1.0)
    assert h.reasons() == [(CLOSED, OPEN, "failure_rate")]


def test_time_window_rate_forgets_calls_as_the_clock_moves() -> None:
    h = Harness(failure_threshold=0, failure_rate_threshold=50, window_type=WindowType.TIME,
                window_size=10, minimum_calls=3)
    h.call(FAILURE)
    h.call(FAILURE)
    h.clock.advance(11)  # both failures leave the window
    assert h.b.failure_rate(h.now) == -1.0
    for _ in range(3):
        assert h.call(SUCCESS) is CLOSED
    assert h.b.failure_rate(h.now) == 0.0
    h.call(FAILURE)
    h.call(FAILURE)
    assert h.b.failure_rate(h.now) == 40.0
    assert h.call(FAILURE) is OPEN  # 3 of 6


def test_time_window_gap_longer_than_the_window() -> None:
    h = Harness(failure_threshold=0, failure_rate_threshold=100, window_type=WindowType.TIME,
                window_size=5, minimum_calls=2)
    h.call(FAILURE)
    h.clock.advance(3600)
    assert h.call(FAILURE) is CLOSED  # alone in the window: below minimum_calls
    assert h.call(FAILURE) is OPEN


def test_disabled_counts_but_never_trips() -> None:
    h = Harness(failure_threshold=1, failure_rate_threshold=1, minimum_calls=1)
    h.b.transition(DISABLED, h.now)
    d = h.allow()
    assert d.allowed and d.state is DISABLED
    for _ in range(20):
        assert h.call(FAILURE) is DISABLED
    assert h.b.failure_count == 20
    assert h.b.failure_rate(h.now) == 100.0
    assert h.record(FAILURE) is DISABLED  # no permit: counts fully too
    assert h.b.failure_count == 21


# -- OPEN and HALF_OPEN --------------------------------------------------------------------------

def test_open_refuses_with_the_time_left_and_advance_half_opens_it() -> None:
    h = Harness(failure_threshold=1, recovery_timeout=30)
    h.call(FAILURE)
    opened = h.now
    assert h.b.next_deadline() == opened + 30
    h.clock.advance(10)
    assert h.allow() == Decision(False, OPEN, 20.0, "")
    h.b.advance(h.now)
    assert h.b.state is OPEN
    h.clock.advance(20)
    h.b.advance(h.now)
    assert h.b.state is HALF_OPEN
    assert h.b.state_since == h.now
    assert h.reasons()[-1] == (OPEN, HALF_OPEN, "recovery_timeout")
    assert h.b.next_deadline() is None


def test_allow_half_opens_lazily_without_the_timer() -> None:
    h = Harness(failure_threshold=1, recovery_timeout=30)
    h.call(FAILURE)
    h.clock.advance(45)
    d = h.allow()
    assert d.allowed and d.state is HALF_OPEN and d.permit
    assert h.b.state_since == h.now
    assert h.reasons()[-1] == (OPEN, HALF_OPEN, "recovery_timeout")


def test_records_while_open_count_but_do_not_move_it() -> None:
    h = Harness(failure_threshold=1)
    h.call(FAILURE)
    assert h.record(SUCCESS) is OPEN
    assert h.record(FAILURE) is OPEN
    assert (h.b.failure_count, h.b.success_count) == (2, 1)


def test_half_open_hands_out_at_most_the_permits_and_refuses_with_earliest_expiry() -> None:
    h = Harness(failure_threshold=1, recovery_timeout=10, half_open_permits=2)
    h.half_open()
    first = h.allow()
    h.clock.advance(3)
    second = h.allow()
    assert first.allowed and second.allowed and first.permit != second.permit
    assert h.b.trials_outstanding == 2
    assert h.b.next_deadline() == h.now - 3 + 10
    assert h.allow() == Decision(False, HALF_OPEN, 7.0, "")


def test_a_recorded_trial_frees_its_slot_for_a_new_permit() -> None:
    h = Harness(failure_threshold=1, half_open_permits=2)
    h.half_open()
    first, second = h.allow(), h.allow()
    assert not h.allow().allowed
    assert h.record(SUCCESS, first.permit) is HALF_OPEN
    third = h.allow()
    assert third.allowed and third.permit not in (first.permit, second.permit)
    assert h.record(SUCCESS, second.permit) is CLOSED


def test_unrecorded_trial_permits_expire_after_recovery_timeout() -> None:
    h = Harness(failure_threshold=1, recovery_timeout=10)
    h.half_open()
    lost = h.allow()
    assert not h.allow().allowed
    h.clock.advance(10)
    h.b.advance(h.now)
    assert h.b.trials_outstanding == 0 and h.b.next_deadline() is None
    fresh = h.allow()
    assert fresh.allowed
    # the crashed client's late record is tallied but is no trial any more
    assert h.record(FAILURE, lost.permit) is HALF_OPEN
    assert h.record(SUCCESS, fresh.permit) is CLOSED


def test_trials_that_keep_expiring_reopen_the_breaker() -> None:
    """Every trial outlives recovery_timeout: the slot is handed out again once, then the
    breaker reopens instead of staying HALF_OPEN for ever (the late outcomes only count)."""
    h = Harness(failure_threshold=1, recovery_timeout=10, half_open_permits=1)
    h.half_open()
    slow = h.allow()
    h.clock.advance(10)
    again = h.allow()  # the expired slot, handed out again
    assert again.allowed and h.b.state is HALF_OPEN
    assert h.record(SUCCESS, slow.permit) is HALF_OPEN  # too late to judge
    h.clock.advance(10)
    h.b.advance(h.now)
    assert h.b.state is OPEN and h.events[-1].reason == "trials_expired"
    assert h.record(SUCCESS, again.permit) is OPEN
    h.clock.advance(10)
    assert h.allow().allowed and h.b.state is HALF_OPEN  # and it recovers as usual


def test_trial_permits_are_unguessable_and_bound_to_their_breaker() -> None:
    h = Harness(failure_threshold=1, recovery_timeout=10, half_open_permits=2)
    other = Harness(failure_threshold=1, recovery_timeout=10, half_open_permits=2)
    h.half_open()
    other.half_open()
    mine = h.allow().permit
    generation, token = mine.split(".")
    assert len(token) == 16 and int(token, 16) >= 0  # 64 random bits
    forged = f"{generation}.{int(token, 16) ^ 1:016x}"
    assert h.record(SUCCESS, forged) is HALF_OPEN  # counts as no permit
    assert other.record(FAILURE, mine) is HALF_OPEN  # a foreign permit is no trial either
    assert h.b.trials_outstanding == 1 and h.record(FAILURE, mine) is OPEN


def test_allow_expires_trials_lazily() -> None:
    h = Harness(failure_threshold=1, recovery_timeout=10)
    h.half_open()
    h.allow()
    h.clock.advance(10)
    assert h.allow().allowed


def test_a_trial_recorded_after_expiry_is_not_a_trial() -> None:
    h = Harness(failure_threshold=1, recovery_timeout=10)
    h.half_open()
    late = h.allow()
    h.clock.advance(10)  # expired, though nothing has swept it yet
    assert h.record(SUCCESS, late.permit) is HALF_OPEN
    assert h.b.trials_outstanding == 0


def test_release_gives_back_a_trial_permit() -> None:
    h = Harness(failure_threshold=1)
    h.half_open()
    d = h.allow()
    h.b.release(d.permit, h.now)
    assert h.b.trials_outstanding == 0
    again = h.allow()
    assert again.allowed
    h.b.release(d.permit, h.now)  # already released: nothing
    h.b.release("", h.now)
    h.b.release("0", h.now)
    assert h.b.trials_outstanding == 1
    assert h.record(SUCCESS, d.permit) is HALF_OPEN  # a released permit is no trial


def test_ignored_trial_gives_back_its_permit() -> None:
    h = Harness(failure_threshold=1)
    h.half_open()
    d = h.allow()
    assert h.record(IGNORED, d.permit) is HALF_OPEN
    assert h.b.trials_outstanding == 0
    assert (h.b.failure_count, h.b.success_count) == (1, 0)
    assert h.allow().allowed


def test_a_failed_trial_reopens_with_a_fresh_timeout() -> None:
    h = Harness(failure_threshold=1, recovery_timeout=10, half_open_permits=3)
    h.half_open()
    ok, bad, pending = h.allow(), h.allow(), h.allow()
    h.record(SUCCESS, ok.permit)
    h.clock.advance(4)
    assert h.record(FAILURE, bad.permit) is OPEN
    assert h.reasons()[-1] == (HALF_OPEN, OPEN, "trial_failed")
    assert h.b.state_since == h.now
    assert h.b.next_deadline() == h.now + 10
    assert h.allow() == Decision(False, OPEN, 10.0, "")
    assert h.record(SUCCESS, pending.permit) is OPEN  # older generation: counts only
    assert h.b.success_count == 2


def test_enough_successful_trials_close_it_with_an_empty_window_and_reset_counts() -> None:
    h = Harness(failure_threshold=2, failure_rate_threshold=50, window_size=10,
                minimum_calls=2, half_open_permits=2)
    h.half_open()
    assert h.b.failure_rate(h.now) == 100.0
    a, b = h.allow(), h.allow()
    assert h.record(SUCCESS, a.permit) is HALF_OPEN
    assert h.b.success_count == 1
    assert h.record(SUCCESS, b.permit) is CLOSED
    assert h.reasons()[-1] == (HALF_OPEN, CLOSED, "trials_succeeded")
    assert (h.b.failure_count, h.b.success_count) == (0, 0)
    assert h.b.failure_rate(h.now) == -1.0
    assert h.b.last_failure_time is not None  # the last failure is history, not a count
    assert h.call(FAILURE) is CLOSED  # the run started over too


def test_closed_permit_in_half_open_is_no_trial() -> None:
    h = Harness(failure_threshold=1)
    h.half_open()
    assert h.record(SUCCESS, str(h.b.generation)) is HALF_OPEN
    assert h.record(SUCCESS) is HALF_OPEN  # no permit: it held no trial
    assert h.b.success_count == 2


# -- generations ---------------------------------------------------------------------------------

def test_generation_rises_with_every_state_change() -> None:
    h = Harness(failure_threshold=1, recovery_timeout=5)
    generations = [h.b.generation]
    h.call(FAILURE)
    generations.append(h.b.generation)
    h.clock.advance(5)
    h.b.advance(h.now)
    generations.append(h.b.generation)
    h.call(SUCCESS)
    generations.append(h.b.generation)
    assert generations == list(range(generations[0], generations[0] + 4))


def test_old_generation_records_never_transition() -> None:
    h = Harness(failure_threshold=2)
    stale = [h.allow().permit for _ in range(5)]
    h.b.transition(FORCED_OPEN, h.now)
    h.b.transition(CLOSED, h.now)
    for permit in stale:
        assert h.record(FAILURE, permit) is CLOSED
    assert h.b.failure_count == 5
    assert h.b.failure_rate(h.now) == -1.0
    assert h.call(FAILURE) is CLOSED  # the stale failures did not extend the run
    assert h.call(FAILURE) is OPEN


def test_a_permit_from_a_future_generation_counts_only() -> None:
    """E.g. a permit from before the breaker was deleted and recreated."""
    h = Harness(failure_threshold=1)
    assert h.record(FAILURE, "99") is CLOSED
    assert h.record(FAILURE, "99.0") is CLOSED
    assert h.b.failure_count == 2


@pytest.mark.parametrize("permit", ["x", "1.", ".1", "1.2.3", "-1", " 1", "1\n", "\u0661", "1_0",
                                    "1" * 20])
def test_malformed_permits_are_invalid(permit: str) -> None:
    h = Harness()
    with pytest.raises(InvalidArgument) as e:
        h.record(SUCCESS, permit)
    assert [v.field for v in e.value.violations] == ["permit"]
    with pytest.raises(InvalidArgument):
        h.b.release(permit, h.now)


# -- operators -----------------------------------------------------------------------------------

def test_forced_open_refuses_until_closed() -> None:
    h = Harness()
    h.call(FAILURE)
    h.b.transition(FORCED_OPEN, h.now)
    assert h.allow() == Decision(False, FORCED_OPEN, 0.0, "")
    h.clock.advance(1e6)
    h.b.advance(h.now)
    assert h.allow().state is FORCED_OPEN
    assert h.b.next_deadline() is None
    assert h.record(FAILURE) is FORCED_OPEN
    assert h.b.failure_count == 2
    h.b.transition(CLOSED, h.now)
    assert h.allow().allowed
    assert h.b.failure_count == 0
    assert h.reasons() == [(CLOSED, FORCED_OPEN, "manual"), (FORCED_OPEN, CLOSED, "manual")]


def test_closing_a_closed_breaker_resets_without_a_state_change() -> None:
    h = Harness(failure_threshold=3, minimum_calls=1)
    since = h.b.state_since
    h.call(FAILURE)
    h.call(FAILURE)
    generation = h.b.generation
    h.clock.advance(1)
    h.b.transition(CLOSED, h.now)
    assert h.events == []
    assert h.b.generation == generation
    assert h.b.state_since == since
    assert (h.b.failure_count, h.b.success_count, h.b.failure_rate(h.now)) == (0, 0, -1.0)
    h.call(FAILURE)
    h.call(FAILURE)
    assert h.b.state is CLOSED  # the run was reset


def test_transition_to_the_current_state_is_a_no_op() -> None:
    h = Harness()
    h.b.transition(DISABLED, h.now)
    h.call(FAILURE)
    h.b.transition(DISABLED, h.now)
    assert len(h.events) == 1
    assert h.b.failure_count == 1


@pytest.mark.parametrize("target", [OPEN, HALF_OPEN, 0, 9])
def test_operators_cannot_open_or_half_open(target: BreakerState) -> None:
    h = Harness()
    with pytest.raises(InvalidArgument) as e:
        h.b.transition(target, h.now)
    assert [v.field for v in e.value.violations] == ["state"]
    assert h.b.state is CLOSED


def test_operator_close_from_half_open_drops_outstanding_trials() -> None:
    h = Harness(failure_threshold=1)
    h.half_open()
    d = h.allow()
    h.b.transition(CLOSED, h.now)
    assert h.b.trials_outstanding == 0
    assert h.record(FAILURE, d.permit) is CLOSED
    assert h.reasons()[-1] == (HALF_OPEN, CLOSED, "manual")


def test_listener_sees_every_transition_with_name_and_time() -> None:
    h = Harness(failure_threshold=1, recovery_timeout=5)
    h.call(FAILURE)
    t_open = h.now
    h.clock.advance(5)
    h.call(FAILURE)
    assert h.events == [
        Transition("db", CLOSED, OPEN, "consecutive_failures", t_open),
        Transition("db", OPEN, HALF_OPEN, "recovery_timeout", h.now),
        Transition("db", HALF_OPEN, OPEN, "trial_failed", h.now),
    ]


def test_works_without_a_listener() -> None:
    b = Breaker("x", BreakerConfig(failure_threshold=1), 0.0)
    b.record(FAILURE, 0.0, b.allow(0.0).permit, 0.0)
    assert b.state is OPEN and b.name == "x"


# -- reconfigure ---------------------------------------------------------------------------------

def test_reconfigure_keeps_state_counts_and_window_when_the_window_is_unchanged() -> None:
    h = Harness(failure_threshold=0, minimum_calls=1)
    h.call(FAILURE)
    h.call(SUCCESS)
    h.b.reconfigure(BreakerConfig(failure_threshold=1, minimum_calls=1), h.now)
    assert (h.b.failure_count, h.b.success_count, h.b.failure_rate(h.now)) == (1, 1, 50.0)
    assert h.b.state is CLOSED and h.events == []
    assert h.call(FAILURE) is OPEN  # the new rule judges the next call


def test_reconfigure_with_a_new_window_starts_it_empty() -> None:
    h = Harness(failure_threshold=0, minimum_calls=1)
    h.call(FAILURE)
    h.b.reconfigure(BreakerConfig(window_type=WindowType.TIME, window_size=60,
                                  minimum_calls=1), h.now)
    assert h.b.failure_rate(h.now) == -1.0
    assert h.b.failure_count == 1
    h.b.reconfigure(BreakerConfig(window_type=WindowType.TIME, window_size=30,
                                  minimum_calls=1), h.now)
    h.call(SUCCESS)
    assert h.b.failure_rate(h.now) == 0.0


def test_reconfigure_moves_an_open_breakers_deadline() -> None:
    h = Harness(failure_threshold=1, recovery_timeout=60)
    h.call(FAILURE)
    opened = h.now
    h.clock.advance(20)
    h.b.reconfigure(BreakerConfig(failure_threshold=1, recovery_timeout=10), h.now)
    assert h.b.state is OPEN
    assert h.b.next_deadline() == opened + 10
    assert h.allow().state is HALF_OPEN


def test_reconfigure_slow_rule_applies_to_later_calls() -> None:
    h = Harness(failure_threshold=0, minimum_calls=1)
    h.call(SUCCESS, duration=9.0)
    h.b.reconfigure(BreakerConfig(failure_threshold=0, minimum_calls=2,
                                  slow_call_rate_threshold=50, slow_call_duration=1.0), h.now)
    assert h.call(SUCCESS, duration=9.0) is OPEN
    assert h.reasons() == [(CLOSED, OPEN, "slow_call_rate")]


# -- config validation ---------------------------------------------------------------------------

def test_defaults_are_valid() -> None:
    c = BreakerConfig()
    assert (c.failure_threshold, c.window_type, c.window_size, c.minimum_calls) == (
        5, WindowType.COUNT, 100, 10)
    assert (c.recovery_timeout, c.half_open_permits) == (60.0, 1)


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(InvalidArgument) as e:
        BreakerConfig(failure_threshold=-1, failure_rate_threshold=101,
                      slow_call_rate_threshold=math.nan, slow_call_duration=-1,
                      window_size=0, minimum_calls=0, recovery_timeout=0, half_open_permits=0)
    assert [v.field for v in e.value.violations] == [
        "failure_threshold", "failure_rate_threshold", "slow_call_rate_threshold",
        "slow_call_duration", "window_size", "minimum_calls", "recovery_timeout",
        "half_open_permits",
    ]


@pytest.mark.parametrize(("fields", "bad"), [
    ({"failure_threshold": 1_000_001}, "failure_threshold"),
    ({"failure_threshold": True}, "failure_threshold"),
    ({"failure_rate_threshold": -0.5}, "failure_rate_threshold"),
    ({"failure_rate_threshold": math.inf}, "failure_rate_threshold"),
    ({"slow_call_rate_threshold": 100.01}, "slow_call_rate_threshold"),
    ({"slow_call_rate_threshold": 50}, "slow_call_duration"),
    ({"slow_call_rate_threshold": 50, "slow_call_duration": math.inf}, "slow_call_duration"),
    ({"slow_call_duration": math.nan}, "slow_call_duration"),
    ({"window_type": 0}, "window_type"),
    ({"window_size": 1_000_001, "minimum_calls": 1}, "window_size"),
    ({"window_type": WindowType.TIME, "window_size": 86_401}, "window_size"),
    ({"window_size": 5}, "minimum_calls"),
    ({"window_size": 2.5}, "window_size"),
    ({"recovery_timeout": 7 * 86_400 + 1}, "recovery_timeout"),
    ({"recovery_timeout": -math.inf}, "recovery_timeout"),
    ({"recovery_timeout": math.nan}, "recovery_timeout"),
    ({"half_open_permits": 1001}, "half_open_permits"),
])
def test_bad_fields(fields: dict[str, Any], bad: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        BreakerConfig(**fields)
    assert [v.field for v in e.value.violations] == [bad]


def test_edges_that_are_valid() -> None:
    BreakerConfig(failure_threshold=0, failure_rate_threshold=100, slow_call_rate_threshold=100,
                  slow_call_duration=0.001, window_size=1, minimum_calls=1,
                  recovery_timeout=7 * 86_400, half_open_permits=1000)
    BreakerConfig(window_type=WindowType.TIME, window_size=86_400, minimum_calls=10**6)
    BreakerConfig(window_size=1_000_000, minimum_calls=1_000_000, failure_threshold=1_000_000)


def test_minimum_calls_may_exceed_a_time_windows_size() -> None:
    c = BreakerConfig(window_type=WindowType.TIME, window_size=5, minimum_calls=50)
    assert Breaker("t", c, 0.0).failure_rate(0.0) == -1.0


def test_next_deadline_is_none_while_only_calls_can_change_anything() -> None:
    h = Harness()
    assert h.b.next_deadline() is None
    h.b.transition(DISABLED, h.now)
    assert h.b.next_deadline() is None


def test_a_listener_may_move_the_breaker_from_inside_the_callback() -> None:
    clock = ManualClock()
    seen: list[Transition] = []

    def listener(t: Transition) -> None:
        seen.append(t)
        if t.to_state is HALF_OPEN:
            b.transition(FORCED_OPEN, t.time)

    b = Breaker("re", BreakerConfig(failure_threshold=1, recovery_timeout=1), clock.now(),
                listener)
    b.record(FAILURE, 0.0, b.allow(clock.now()).permit, clock.now())
    clock.advance(1)
    assert b.allow(clock.now()) == Decision(False, FORCED_OPEN, 0.0, "")
    assert [t.to_state for t in seen] == [OPEN, HALF_OPEN, FORCED_OPEN]
    assert b.generation == 3
