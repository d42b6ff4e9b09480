"""Error records and the bounded error log: eviction, counters, acknowledgement, rate, health."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from rescp.engine.classify import GUIDANCE, REDACTED, fingerprint
from rescp.engine.errorlog import ErrorLog, ErrorRecord, ErrorReport, build_record
from rescp.enums import ErrorCategory, Severity
from rescp.errors import NotFound
from rescp.testing import ManualClock

# one representative report per category
REPORTS = {
    ErrorCategory.NETWORK: ErrorReport(operation="charge", error_type="ConnectionError"),
    ErrorCategory.DATABASE: ErrorReport(operation="save", error_type="sqlite3.OperationalError"),
    ErrorCategory.API: ErrorReport(operation="fetch", error_type="HTTPError"),
    ErrorCategory.RATE_LIMIT: ErrorReport(operation="fetch", error_type="RateLimitError"),
    ErrorCategory.VALIDATION: ErrorReport(operation="signup", error_type="ValueError"),
    ErrorCategory.PROCESSING: ErrorReport(operation="render", error_type="RuntimeError"),
    ErrorCategory.SYSTEM: ErrorReport(operation="boot", error_type="MemoryError"),
    ErrorCategory.UNKNOWN: ErrorReport(operation="misc", error_type="Exception"),
}


def record(error_id: str, category: ErrorCategory, now: float) -> ErrorRecord:
    return build_record(REPORTS[category], error_id, now)


# --- records -------------------------------------------------------------------------------------


def test_build_record_classifies_and_guides() -> None:
    report = ErrorReport(
        operation="charge", error_type="ConnectionRefusedError", message="connection refused",
        user_id="u1", grpc_code=0, http_status=0, breaker="payments", service="checkout",
    )
    r = build_record(report, "e1", 1_700_000_000.5)
    assert r.error_id == "e1"
    assert r.time == 1_700_000_000.5
    assert (r.category, r.severity) == (ErrorCategory.NETWORK, Severity.HIGH)
    guidance = GUIDANCE[ErrorCategory.NETWORK]
    assert (r.user_message, r.action_type, r.action_message) == (
        guidance.user_message, guidance.action_type, guidance.action_message)
    assert not r.acknowledged
    assert (r.user_id, r.breaker, r.service) == ("u1", "payments", "checkout")
    assert (r.title, r.count_key) == ("NETWORK Error", "network_high")


def test_build_record_uses_codes() -> None:
    r = build_record(ErrorReport(error_type="AioRpcError", grpc_code=8), "e1", 0.0)
    assert (r.category, r.severity, r.title) == (
        ErrorCategory.RATE_LIMIT, Severity.MEDIUM, "RATE_LIMIT Error")
    assert r.count_key == "rate_limit_medium"


def test_build_record_scrubs_before_storing() -> None:
    report = ErrorReport(
        operation="GET /v1/pay?token=abc123",
        error_type="HTTPError",
        message="upstream said 401 for password=hunter2",
        context={"Authorization": "Bearer abc", "note": "card 4111 1111 1111 1111", "n": "1"},
    )
    r = build_record(report, "e1", 0.0)
    assert r.message == f"upstream said 401 for password={REDACTED}"
    assert r.operation == f"GET /v1/pay?token={REDACTED}"
    assert r.context == {"Authorization": REDACTED, "note": f"card {REDACTED}", "n": "1"}
    assert "hunter2" not in repr(r) and "abc123" not in repr(r)
    assert r.fingerprint == fingerprint("HTTPError", r.operation, r.message)


def test_same_error_with_other_ids_and_secrets_shares_a_fingerprint() -> None:
    a = build_record(ErrorReport("charge", "TimeoutError", "order 12 token=aaa after 30s"), "a", 0)
    b = build_record(ErrorReport("charge", "TimeoutError", "order 99 token=bbb after 5s"), "b", 0)
    c = build_record(ErrorReport("refund", "TimeoutError", "order 99 token=bbb after 5s"), "c", 0)
    assert a.fingerprint == b.fingerprint != c.fingerprint


@pytest.mark.parametrize("category", list(ErrorCategory))
def test_titles_and_count_keys(category: ErrorCategory) -> None:
    r = record("e", category, 0.0)
    assert r.category is category
    assert r.title == f"{category.name} Error"
    assert r.count_key == f"{category.name.lower()}_{r.severity.name.lower()}"


# --- history, counters, acknowledgement ----------------------------------------------------------


def test_eviction_keeps_counts() -> None:
    log = ErrorLog(history_limit=3)
    categories = [ErrorCategory.NETWORK, ErrorCategory.NETWORK, ErrorCategory.SYSTEM,
                  ErrorCategory.VALIDATION, ErrorCategory.NETWORK]
    for i, category in enumerate(categories):
        log.add(record(f"e{i}", category, float(i)))
    assert [r.error_id for r in log.records()] == ["e2", "e3", "e4"]
    assert log.total == 5
    assert log.critical_total == 1
    assert dict(log.counts) == {"network_high": 3, "system_critical": 1, "validation_low": 1}
    for gone in ("e0", "e1"):
        with pytest.raises(NotFound):
            log.get(gone)
    assert log.get("e3").category is ErrorCategory.VALIDATION


def test_counts_are_a_read_only_view() -> None:
    log = ErrorLog()
    counts = log.counts
    with pytest.raises(TypeError):
        counts["x"] = 1  # type: ignore[index]
    log.add(record("e1", ErrorCategory.API, 0.0))
    assert counts == {"api_medium": 1}
    with pytest.raises(KeyError):
        counts["network_high"]


def test_duplicate_error_id_is_refused() -> None:
    log = ErrorLog()
    log.add(record("e1", ErrorCategory.API, 0.0))
    with pytest.raises(ValueError, match="e1"):
        log.add(record("e1", ErrorCategory.API, 1.0))
    assert log.total == 1


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        ErrorLog(history_limit=0)
    with pytest.raises(ValueError):
        ErrorLog(critical_window=-1)


def test_acknowledge_replaces_in_place_and_is_idempotent() -> None:
    log = ErrorLog()
    for i in range(3):
        log.add(record(f"e{i}", ErrorCategory.API, float(i)))
    original = log.get("e1")
    acked = log.acknowledge("e1")
    assert acked.acknowledged and not original.acknowledged
    assert acked == dataclasses.replace(original, acknowledged=True)
    assert log.get("e1") is acked
    assert [r.error_id for r in log.records()] == ["e0", "e1", "e2"]
    assert log.acknowledge("e1") is acked
    assert log.total == 3 and log.counts == {"api_medium": 3}


def test_acknowledge_unknown_or_evicted_is_not_found() -> None:
    log = ErrorLog(history_limit=1)
    log.add(record("e1", ErrorCategory.API, 0.0))
    log.add(record("e2", ErrorCategory.API, 1.0))
    for error_id in ("nope", "e1"):
        with pytest.raises(NotFound) as caught:
            log.acknowledge(error_id)
        assert (caught.value.resource_type, caught.value.name) == ("error", error_id)
        assert caught.value.reason == "ERROR_NOT_FOUND"


def test_recent_is_newest_first() -> None:
    log = ErrorLog(history_limit=5)
    for i in range(8):
        log.add(record(f"e{i}", ErrorCategory.API, float(i)))
    assert [r.error_id for r in log.recent()] == ["e7", "e6", "e5", "e4", "e3"]
    assert [r.error_id for r in log.recent(2)] == ["e7", "e6"]
    assert log.recent(0) == []
    assert ErrorLog().recent() == []


def test_notifications_filter_order_and_total() -> None:
    log = ErrorLog()
    categories = [ErrorCategory.VALIDATION, ErrorCategory.SYSTEM, ErrorCategory.API,
                  ErrorCategory.NETWORK, ErrorCategory.SYSTEM, ErrorCategory.PROCESSING]
    for i, category in enumerate(categories):  # severities: LOW CRIT MED HIGH CRIT LOW
        log.add(record(f"e{i}", category, float(i)))
    log.acknowledge("e4")

    def ids(records: list[ErrorRecord]) -> list[str]:
        return [r.error_id for r in records]

    found, total = log.notifications(None, 100, include_acknowledged=True)
    assert (ids(found), total) == (["e5", "e4", "e3", "e2", "e1", "e0"], 6)
    found, total = log.notifications(None, 100, include_acknowledged=False)
    assert (ids(found), total) == (["e5", "e3", "e2", "e1", "e0"], 5)
    found, total = log.notifications(Severity.HIGH, 100, include_acknowledged=True)
    assert (ids(found), total) == (["e4", "e3", "e1"], 3)
    found, total = log.notifications(Severity.CRITICAL, 100, include_acknowledged=False)
    assert (ids(found), total) == (["e1"], 1)
    found, total = log.notifications(Severity.MEDIUM, 2, include_acknowledged=False)
    assert (ids(found), total) == (["e3", "e2"], 3)  # the total counts beyond the limit
    found, total = log.notifications(Severity.LOW, 0, include_acknowledged=True)
    assert (ids(found), total) == ([], 6)


# --- errors per minute ---------------------------------------------------------------------------


def test_errors_per_minute_moves_with_the_clock() -> None:
    clock = ManualClock(1_700_000_000.0)
    log = ErrorLog()
    assert log.errors_per_minute(clock.now()) == 0.0
    for i in range(3):
        log.add(record(f"a{i}", ErrorCategory.API, clock.now()))
    clock.advance(30)
    log.add(record("b", ErrorCategory.API, clock.now()))
    assert log.errors_per_minute(clock.now()) == 4.0
    clock.advance(29)  # the first three are 59 s old
    assert log.errors_per_minute(clock.now()) == 4.0
    clock.advance(1)  # now 60 s old: out of (now-60, now]
    assert log.errors_per_minute(clock.now()) == 1.0
    clock.advance(30)
    assert log.errors_per_minute(clock.now()) == 0.0


def test_errors_per_minute_after_long_gaps() -> None:
    clock = ManualClock(1_700_000_000.0)
    log = ErrorLog()
    log.add(record("a", ErrorCategory.API, clock.now()))
    clock.advance(60)  # the same bucket, a minute later: the old count must not leak in
    log.add(record("b", ErrorCategory.API, clock.now()))
    assert log.errors_per_minute(clock.now()) == 1.0
    clock.advance(3600 + 0.25)
    assert log.errors_per_minute(clock.now()) == 0.0
    for i in range(5):
        log.add(record(f"c{i}", ErrorCategory.API, clock.now()))
        clock.advance(7)
    assert log.errors_per_minute(clock.now()) == 5.0
    clock.advance(10**6)
    assert log.errors_per_minute(clock.now()) == 0.0


def test_errors_per_minute_counts_evicted_errors() -> None:
    log = ErrorLog(history_limit=2)
    for i in range(10):
        log.add(record(f"e{i}", ErrorCategory.API, 100.0 + i))
    assert log.errors_per_minute(110.0) == 10.0


def test_errors_per_minute_ignores_the_future_and_the_long_past() -> None:
    log = ErrorLog()
    log.add(record("late", ErrorCategory.API, 500.0))
    log.add(record("early", ErrorCategory.API, 440.0))  # its bucket belongs to second 500 now
    assert log.errors_per_minute(499.0) == 0.0
    assert log.errors_per_minute(500.0) == 1.0


# --- recent critical errors (health) -------------------------------------------------------------


def test_recent_critical_expires_with_the_window() -> None:
    clock = ManualClock()
    log = ErrorLog(critical_window=300.0)
    log.add(record("net", ErrorCategory.NETWORK, clock.now()))
    assert not log.has_recent_critical(clock.now())
    log.add(record("sys", ErrorCategory.SYSTEM, clock.now()))
    assert log.has_recent_critical(clock.now())
    clock.advance(299.5)
    assert log.has_recent_critical(clock.now())
    clock.advance(0.5)
    assert not log.has_recent_critical(clock.now())


def test_acknowledging_clears_only_that_critical_error() -> None:
    clock = ManualClock()
    log = ErrorLog()
    log.add(record("s1", ErrorCategory.SYSTEM, clock.now()))
    clock.advance(10)
    log.add(record("s2", ErrorCategory.SYSTEM, clock.now()))
    log.acknowledge("s2")
    assert log.has_recent_critical(clock.now())
    log.acknowledge("s1")
    assert not log.has_recent_critical(clock.now())
    assert log.critical_total == 2


def test_evicted_critical_error_stays_recent_until_the_window_passes() -> None:
    clock = ManualClock()
    log = ErrorLog(history_limit=2, critical_window=60.0)
    log.add(record("sys", ErrorCategory.SYSTEM, clock.now()))
    clock.advance(10)
    log.add(record("a", ErrorCategory.API, clock.now()))
    log.add(record("b", ErrorCategory.API, clock.now()))
    with pytest.raises(NotFound):
        log.get("sys")
    with pytest.raises(NotFound):
        log.acknowledge("sys")  # an evicted error cannot be acknowledged, so it stays
    assert log.has_recent_critical(clock.now())
    clock.advance(49.9)
    assert log.has_recent_critical(clock.now())
    clock.advance(0.1)
    assert not log.has_recent_critical(clock.now())


def test_acknowledged_critical_error_is_not_recent_when_added() -> None:
    log = ErrorLog()
    log.add(dataclasses.replace(record("s", ErrorCategory.SYSTEM, 0.0), acknowledged=True))
    assert not log.has_recent_critical(0.0)
    assert log.critical_total == 1


# --- against a reference model -------------------------------------------------------------------


class ErrorLogMachine(RuleBasedStateMachine):
    """Random adds, acknowledgements and clock moves, checked against every record ever added."""

    @initialize(limit=st.integers(1, 6), window=st.sampled_from([0.0, 5.0, 60.0, 300.0]))
    def setup(self, limit: int, window: float) -> None:
        self.clock = ManualClock(1_000.0)
        self.log = ErrorLog(history_limit=limit, critical_window=window)
        self.limit = limit
        self.window = window
        self.everything: list[ErrorRecord] = []  # the model: every record ever, as it now stands

    @rule(category=st.sampled_from(list(ErrorCategory)))
    def add(self, category: ErrorCategory) -> None:
        r = record(f"e{len(self.everything)}", category, self.clock.now())
        self.log.add(r)
        self.everything.append(r)

    @rule(seconds=st.sampled_from([0.0, 0.3, 1.0, 4.9, 30.0, 59.0, 61.0, 299.0, 1000.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: bool(self.everything))
    @rule(data=st.data())
    def acknowledge(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(self.everything) - 1))
        target = self.everything[i]
        if i < len(self.everything) - self.limit:
            with pytest.raises(NotFound):
                self.log.acknowledge(target.error_id)
        else:
            self.everything[i] = dataclasses.replace(target, acknowledged=True)
            assert self.log.acknowledge(target.error_id) == self.everything[i]

    @invariant()
    def agrees_with_the_model(self) -> None:
        if not hasattr(self, "log"):
            return
        now = self.clock.now()
        assert self.log.records() == self.everything[-self.limit:]
        assert self.log.total == len(self.everything)
        assert self.log.critical_total == sum(
            r.severity is Severity.CRITICAL for r in self.everything)
        expected_counts: dict[str, int] = {}
        for r in self.everything:
            expected_counts[r.count_key] = expected_counts.get(r.count_key, 0) + 1
        assert dict(self.log.counts) == expected_counts
        second = math.floor(now)
        assert self.log.errors_per_minute(now) == sum(
            second - 60 < math.floor(r.time) <= second for r in self.everything)
        assert self.log.has_recent_critical(now) == any(
            r.severity is Severity.CRITICAL and not r.acknowledged and r.time > now - self.window
            for r in self.everything)


TestErrorLogMachine = ErrorLogMachine.TestCase
TestErrorLogMachine.settings = settings(max_examples=80, stateful_step_count=30)
