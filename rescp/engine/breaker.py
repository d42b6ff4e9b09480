"""The circuit breaker: a validated config and a state machine driven by (call, now).

CLOSED and DISABLED admit everything; OPEN refuses until `recovery_timeout` has passed, then
HALF_OPEN hands out up to `half_open_permits` trial permits at once; FORCED_OPEN refuses until an
operator closes it. Every state change bumps `generation`, and every admitted call carries a
permit naming the generation it was admitted in (`"<generation>"`, or `"<generation>.<token>"`
for a half-open trial, the token 64 random bits, so one client cannot guess, and so spend,
another's trial). An outcome recorded under an older generation, for an expired trial, or with a
permit this breaker never handed out, is tallied in the counts but cannot move the breaker: only
calls admitted under the current rules may judge it. A trial permit expires after
`recovery_timeout` and its slot is handed out again; once more trials have expired in one
HALF_OPEN period than it has permits, the breaker reopens ("trials_expired"), so trials slower
than `recovery_timeout` can never wedge it HALF_OPEN.

The hot path is CLOSED: `allow` returns a Decision built once per generation, and `record`
recognises the current permit by string equality before parsing anything. Time only ever arrives
as `now`; `advance` applies what time alone changes, and `allow` applies it lazily too, so the
server's timer is a nicety for watchers, never a condition of correctness.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from rescp.engine.window import Window, WindowSnapshot, make_window
from rescp.enums import BreakerState, Outcome, WindowType
from rescp.errors import InvalidArgument, Violations

MAX_FAILURE_THRESHOLD = 1_000_000
MAX_COUNT_WINDOW = 1_000_000
MAX_TIME_WINDOW = 86_400
MAX_RECOVERY_TIMEOUT = 7 * 86_400.0
MAX_HALF_OPEN_PERMITS = 1000

_CLOSED = BreakerState.CLOSED
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN
_FORCED_OPEN = BreakerState.FORCED_OPEN
_DISABLED = BreakerState.DISABLED
_SUCCESS = Outcome.SUCCESS
_FAILURE = Outcome.FAILURE

_OPERATOR_TARGETS = frozenset({_CLOSED, _FORCED_OPEN, _DISABLED})
_PERMIT = re.compile(r"([0-9]{1,19})(?:\.([0-9a-z]{1,32}))?", re.ASCII)


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Final, validated values; the server maps proto zero-values to these defaults first."""

    failure_threshold: int = 5
    failure_rate_threshold: float = 0.0
    slow_call_rate_threshold: float = 0.0
    slow_call_duration: float = 0.0
    window_type: WindowType = WindowType.COUNT
    window_size: int = 100
    minimum_calls: int = 10
    recovery_timeout: float = 60.0
    half_open_permits: int = 1

    def __post_init__(self) -> None:
        _validate(self)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _validate(c: BreakerConfig) -> None:
    """Raise InvalidArgument naming every bad field at once."""
    v = Violations()
    v.check(_is_int(c.failure_threshold) and 0 <= c.failure_threshold <= MAX_FAILURE_THRESHOLD,
            "failure_threshold", f"must be 0 (off) to {MAX_FAILURE_THRESHOLD}")
    for field in ("failure_rate_threshold", "slow_call_rate_threshold"):
        value = getattr(c, field)
        v.check(_is_number(value) and 0 <= value <= 100, field,
                "must be a percentage in (0, 100], or 0 to turn the rule off")
    slow_rule = _is_number(c.slow_call_rate_threshold) and 0 < c.slow_call_rate_threshold <= 100
    if not (_is_number(c.slow_call_duration) and c.slow_call_duration >= 0):
        v.check(False, "slow_call_duration", "must be a finite number of seconds >= 0")
    else:
        v.check(c.slow_call_duration > 0 or not slow_rule, "slow_call_duration",
                "must be > 0 when slow_call_rate_threshold is set")
    window_type_ok = c.window_type in (WindowType.COUNT, WindowType.TIME)
    v.check(window_type_ok, "window_type", "must be COUNT or TIME")
    is_time = c.window_type == WindowType.TIME
    largest = MAX_TIME_WINDOW if is_time else MAX_COUNT_WINDOW
    size_ok = _is_int(c.window_size) and 1 <= c.window_size <= largest
    v.check(size_ok, "window_size",
            f"must be 1 to {largest} {'seconds' if is_time else 'calls'}")
    if not (_is_int(c.minimum_calls) and c.minimum_calls >= 1):
        v.check(False, "minimum_calls", "must be at least 1")
    elif window_type_ok and not is_time and size_ok:
        v.check(c.minimum_calls <= c.window_size, "minimum_calls",
                "must not exceed window_size for a COUNT window (the rate rules could never fire)")
    v.check(_is_number(c.recovery_timeout) and 0 < c.recovery_timeout <= MAX_RECOVERY_TIMEOUT,
            "recovery_timeout", f"must be > 0 and at most {MAX_RECOVERY_TIMEOUT:g} seconds")
    v.check(_is_int(c.half_open_permits) and 1 <= c.half_open_permits <= MAX_HALF_OPEN_PERMITS,
            "half_open_permits", f"must be 1 to {MAX_HALF_OPEN_PERMITS}")
    v.raise_if_any()


class Transition(NamedTuple):
    breaker: str
    from_state: BreakerState
    to_state: BreakerState
    reason: str
    time: float


class BreakerSnapshot(NamedTuple):
    """What of a breaker outlives its process: plain data a store saves and loads. Trial permits
    are not in it: after a restart a HALF_OPEN breaker hands out fresh trials."""

    state: BreakerState
    generation: int
    state_since: float
    failure_count: int
    success_count: int
    last_failure_time: float | None
    run: int
    window: WindowSnapshot = WindowSnapshot()


class Decision(NamedTuple):
    allowed: bool
    state: BreakerState
    retry_after: float  # seconds; 0.0 when allowed
    permit: str  # "" when refused


TransitionListener = Callable[[Transition], None]

_FORCED_OPEN_REFUSAL = Decision(False, _FORCED_OPEN, 0.0, "")


def is_permit(permit: str) -> bool:
    """Whether `permit` has the form of one this server hands out (empty: no permit)."""
    return not permit or _PERMIT.fullmatch(permit) is not None


def _parse_permit(permit: str) -> tuple[int, str | None]:
    """(generation, trial token or None); the empty permit, held by no call, is generation -1."""
    if not permit:
        return -1, None
    match = _PERMIT.fullmatch(permit)
    if match is None:
        raise InvalidArgument.one("permit", "not a permit this server handed out")
    generation, trial = match.groups()
    return int(generation), trial


def _percent(part: int, calls: int, minimum_calls: int) -> float:
    return -1.0 if calls < minimum_calls else 100.0 * part / calls


class Breaker:
    """One named breaker. Not thread-safe: the store serialises calls to it."""

    __slots__ = (
        "_admit", "_config", "_expired_trials", "_failure_count", "_generation",
        "_last_failure_time", "_listener", "_name", "_permit", "_rate_rules", "_run", "_run_limit",
        "_slow_limit", "_state", "_state_since", "_success_count", "_trial_successes", "_trials",
        "_window",
    )

    def __init__(self, name: str, config: BreakerConfig, now: float,
                 on_transition: TransitionListener | None = None, *, generation: int = 0) -> None:
        """`generation` is the first one: a store that may recreate a deleted breaker starts the
        new one where no permit of the old one can reach (e.g. at the creation time in µs)."""
        self._name = name
        self._listener = on_transition
        self._state = _CLOSED
        self._generation = generation
        self._state_since = now
        self._failure_count = 0
        self._success_count = 0
        self._last_failure_time: float | None = None
        self._run = 0  # consecutive failures counted in full
        self._trials: dict[str, float] = {}  # outstanding trial token -> when its permit expires
        self._expired_trials = 0  # in this HALF_OPEN period
        self._trial_successes = 0
        self._window: Window = make_window(config.window_type, config.window_size)
        self._use(config)
        self._prebuild()

    @property
    def name(self) -> str:
        return self._name

    @property
    def config(self) -> BreakerConfig:
        return self._config

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def failure_count(self) -> int:
        return self._failure_count

    @property
    def success_count(self) -> int:
        return self._success_count

    @property
    def last_failure_time(self) -> float | None:
        return self._last_failure_time

    @property
    def state_since(self) -> float:
        return self._state_since

    @property
    def trials_outstanding(self) -> int:
        """Half-open trial permits handed out and not yet recorded, released or expired."""
        return len(self._trials)

    def failure_rate(self, now: float) -> float:
        calls, failures, _ = self._window.totals(now)
        return _percent(failures, calls, self._config.minimum_calls)

    def slow_call_rate(self, now: float) -> float:
        calls, _, slow = self._window.totals(now)
        return _percent(slow, calls, self._config.minimum_calls)

    def next_deadline(self) -> float | None:
        """When `advance` would next change something; None when only calls can."""
        if self._state is _OPEN:
            return self._state_since + self._config.recovery_timeout
        if self._state is _HALF_OPEN and self._trials:
            return min(self._trials.values())
        return None

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(self._state, self._generation, self._state_since,
                               self._failure_count, self._success_count, self._last_failure_time,
                               self._run, self._window.snapshot())

    def restore(self, snap: BreakerSnapshot) -> None:
        """Take up a saved state (on a freshly built breaker, before any call)."""
        self._state = snap.state
        self._generation = snap.generation
        self._state_since = snap.state_since
        self._failure_count = snap.failure_count
        self._success_count = snap.success_count
        self._last_failure_time = snap.last_failure_time
        self._run = snap.run
        self._window.restore(snap.window)
        self._prebuild()

    # -- the hot path --------------------------------------------------------------------------

    def allow(self, now: float) -> Decision:
        """Admit or refuse one call; a due OPEN -> HALF_OPEN happens here even without a timer."""
        admit = self._admit
        if admit is not None:  # CLOSED or DISABLED
            return admit
        if self._state is _OPEN:
            deadline = self._state_since + self._config.recovery_timeout
            if now < deadline:
                return Decision(False, _OPEN, deadline - now, "")
            self._enter(_HALF_OPEN, "recovery_timeout", now)
            return self.allow(now)  # the listener may have moved it again
        if self._state is _HALF_OPEN:
            return self._allow_trial(now)
        return _FORCED_OPEN_REFUSAL

    def record(self, outcome: Outcome, duration: float, permit: str, now: float) -> BreakerState:
        """Feed a call's outcome; returns the state after it."""
        current = self._permit
        if current is not None and (permit == current or not permit):
            return self._count(outcome, duration > self._slow_limit, now)
        generation, trial = _parse_permit(permit)
        if trial is not None and generation == self._generation:
            self._expire_trials(now)  # an expired trial is no trial (and may reopen us)
            if generation == self._generation and self._trials.pop(trial, None) is not None:
                return self._finish_trial(outcome, now)
        self._tally(outcome, now)
        return self._state

    def release(self, permit: str, now: float) -> None:
        """Give back an unused trial permit, e.g. when the rate limit refused the call."""
        generation, trial = _parse_permit(permit)
        if trial is not None and generation == self._generation:
            self._trials.pop(trial, None)

    # -- time and operators ------------------------------------------------------------------

    def advance(self, now: float) -> None:
        if self._state is _OPEN:
            if now >= self._state_since + self._config.recovery_timeout:
                self._enter(_HALF_OPEN, "recovery_timeout", now)
        elif self._state is _HALF_OPEN:
            self._expire_trials(now)

    def transition(self, to: BreakerState, now: float) -> None:
        """An operator's move: CLOSED (a reset, even from CLOSED), FORCED_OPEN or DISABLED."""
        if to not in _OPERATOR_TARGETS:
            raise InvalidArgument.one(
                "state", "a breaker can be set only to CLOSED, FORCED_OPEN or DISABLED")
        if to == self._state:
            if to == _CLOSED:
                self._reset_counts()
            return
        self._enter(BreakerState(to), "manual", now)

    def reconfigure(self, config: BreakerConfig, now: float) -> None:
        """Keep state and counts; the new rules judge the next call, not the past ones."""
        old = self._config
        if (config.window_type, config.window_size) != (old.window_type, old.window_size):
            self._window = make_window(config.window_type, config.window_size)
        self._use(config)

    # -- internals ---------------------------------------------------------------------------

    def _use(self, config: BreakerConfig) -> None:
        self._config = config
        slow_rule = config.slow_call_rate_threshold > 0
        self._slow_limit = config.slow_call_duration if slow_rule else math.inf
        self._rate_rules = slow_rule or config.failure_rate_threshold > 0
        self._run_limit: float = config.failure_threshold or math.inf

    def _prebuild(self) -> None:
        """The admitting Decision is immutable, so build it once per generation."""
        if self._state is _CLOSED or self._state is _DISABLED:
            self._permit: str | None = str(self._generation)
            self._admit: Decision | None = Decision(True, self._state, 0.0, self._permit)
        else:
            self._permit = None
            self._admit = None

    def _count(self, outcome: Outcome, slow: bool, now: float) -> BreakerState:
        """A call admitted under the current rules: it feeds the window and may trip them."""
        if outcome is _SUCCESS:
            self._success_count += 1
            self._run = 0
            self._window.add(False, slow, now)
            if not self._rate_rules:  # a success cannot complete a run of failures
                return self._state
        elif outcome is _FAILURE:
            self._failure_count += 1
            self._last_failure_time = now
            self._run += 1
            self._window.add(True, slow, now)
        else:
            return self._state
        if self._state is _CLOSED:
            reason = self._tripped(now)
            if reason is not None:
                self._enter(_OPEN, reason, now)
        return self._state

    def _tripped(self, now: float) -> str | None:
        """The first rule that trips, in a fixed order so the reason is deterministic."""
        if self._run >= self._run_limit:
            return "consecutive_failures"
        if not self._rate_rules:
            return None
        config = self._config
        calls, failures, slow = self._window.totals(now)
        minimum = config.minimum_calls
        threshold = config.failure_rate_threshold
        if threshold > 0 and _percent(failures, calls, minimum) >= threshold:
            return "failure_rate"
        threshold = config.slow_call_rate_threshold
        if threshold > 0 and _percent(slow, calls, minimum) >= threshold:
            return "slow_call_rate"
        return None

    def _tally(self, outcome: Outcome, now: float) -> None:
        """An outcome that may not judge the breaker still counts."""
        if outcome is _FAILURE:
            self._failure_count += 1
            self._last_failure_time = now
        elif outcome is _SUCCESS:
            self._success_count += 1

    def _allow_trial(self, now: float) -> Decision:
        self._expire_trials(now)
        if self._state is not _HALF_OPEN:  # the expired trials reopened it
            return self.allow(now)
        trials = self._trials
        if len(trials) < self._config.half_open_permits:
            trial = secrets.token_hex(8)
            trials[trial] = now + self._config.recovery_timeout
            return Decision(True, _HALF_OPEN, 0.0, f"{self._generation}.{trial}")
        return Decision(False, _HALF_OPEN, min(trials.values()) - now, "")

    def _finish_trial(self, outcome: Outcome, now: float) -> BreakerState:
        """A live trial's verdict; its slot is already free."""
        if outcome is _SUCCESS:
            self._success_count += 1
            self._trial_successes += 1
            if self._trial_successes >= self._config.half_open_permits:
                self._enter(_CLOSED, "trials_succeeded", now)
        elif outcome is _FAILURE:
            self._failure_count += 1
            self._last_failure_time = now
            self._enter(_OPEN, "trial_failed", now)
        return self._state

    def _expire_trials(self, now: float) -> None:
        """Free the slots of trials never recorded in time, so a crashed client cannot wedge us;
        reopen once trials keep expiring (more of them than permits), so slow ones cannot."""
        trials = self._trials
        if trials:
            expired = [t for t, expires in trials.items() if expires <= now]
            for trial in expired:
                del trials[trial]
            self._expired_trials += len(expired)
            if self._expired_trials > self._config.half_open_permits:
                self._enter(_OPEN, "trials_expired", now)

    def _reset_counts(self) -> None:
        self._failure_count = 0
        self._success_count = 0
        self._run = 0
        self._window.clear()

    def _enter(self, to: BreakerState, reason: str, now: float) -> None:
        """Change state; the listener is told last, so it sees the breaker as it now is."""
        from_state = self._state
        self._state = to
        self._generation += 1
        self._state_since = now
        self._trials.clear()
        self._expired_trials = 0
        self._trial_successes = 0
        if to is _CLOSED:
            self._reset_counts()
        self._prebuild()
        if self._listener is not None:
            self._listener(Transition(self._name, from_state, to, reason, now))
