"""Outcome windows: the totals the breaker's rate rules read, as calls arrive and time passes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rescp.engine.window import CountWindow, TimeWindow, make_window
from rescp.enums import WindowType
from rescp.testing import ManualClock


def test_count_window_fills_then_drops_the_oldest() -> None:
    w = CountWindow(3)
    assert w.totals(0.0) == (0, 0, 0)
    w.add(True, False, 0.0)
    w.add(False, True, 0.0)
    assert w.totals(0.0) == (2, 1, 1)
    w.add(True, True, 0.0)
    assert w.totals(0.0) == (3, 2, 2)
    w.add(False, False, 0.0)  # evicts the first failure
    assert w.totals(0.0) == (3, 1, 2)
    w.add(False, False, 0.0)  # evicts the slow success
    assert w.totals(0.0) == (3, 1, 1)
    w.add(False, False, 0.0)  # evicts the slow failure
    assert w.totals(0.0) == (3, 0, 0)


def test_count_window_ignores_time() -> None:
    w = CountWindow(2)
    w.add(True, False, 0.0)
    assert w.totals(1e9) == (1, 1, 0)


def test_count_window_of_one() -> None:
    w = CountWindow(1)
    for failed in (True, False, True, True, False):
        w.add(failed, failed, 0.0)
        assert w.totals(0.0) == (1, int(failed), int(failed))


def test_count_window_clear_starts_over() -> None:
    w = CountWindow(2)
    for _ in range(5):
        w.add(True, True, 0.0)
    w.clear()
    assert w.totals(0.0) == (0, 0, 0)
    w.add(False, False, 0.0)
    w.add(True, False, 0.0)
    w.add(True, False, 0.0)
    assert w.totals(0.0) == (2, 2, 0)


def test_time_window_counts_the_last_size_seconds() -> None:
    clock = ManualClock(1000.0)
    w = TimeWindow(3)
    w.add(True, False, clock.now())            # second 1000
    w.add(False, True, clock.advance(0.9))     # still second 1000
    w.add(False, False, clock.advance(1.0))    # second 1001
    assert w.totals(clock.now()) == (3, 1, 1)
    assert w.totals(1002.99) == (3, 1, 1)      # window is seconds 1000..1002
    assert w.totals(1003.0) == (1, 0, 0)       # second 1000 has left
    assert w.totals(1004.0) == (0, 0, 0)


def test_time_window_gap_longer_than_the_window_empties_it() -> None:
    w = TimeWindow(5)
    for second in range(100, 105):
        w.add(True, True, float(second))
    assert w.totals(104.5) == (5, 5, 5)
    w.add(False, False, 1000.25)  # a long quiet spell, then one call
    assert w.totals(1000.25) == (1, 0, 0)
    assert w.totals(10_000.0) == (0, 0, 0)


def test_time_window_expires_on_add_without_being_read() -> None:
    w = TimeWindow(2)
    w.add(True, False, 10.0)
    w.add(True, False, 11.0)
    w.add(False, False, 12.0)  # second 10 leaves as second 12 opens
    assert w.totals(12.0) == (2, 1, 0)


def test_time_window_clock_stepping_back_adds_to_the_newest_bucket() -> None:
    w = TimeWindow(2)
    w.add(False, False, 50.0)
    w.add(True, False, 49.0)
    assert w.totals(50.0) == (2, 1, 0)
    assert w.totals(52.0) == (0, 0, 0)


def test_time_window_clear() -> None:
    w = TimeWindow(10)
    w.add(True, True, 5.0)
    w.clear()
    assert w.totals(5.0) == (0, 0, 0)
    w.add(True, False, 6.0)
    assert w.totals(6.0) == (1, 1, 0)


def test_make_window_picks_the_type() -> None:
    assert isinstance(make_window(WindowType.COUNT, 10), CountWindow)
    assert isinstance(make_window(WindowType.TIME, 10), TimeWindow)
    assert make_window(WindowType.TIME, 7).size == 7
    with pytest.raises(ValueError):
        make_window(0, 10)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [CountWindow, TimeWindow])
def test_size_below_one_is_refused(cls: type[CountWindow] | type[TimeWindow]) -> None:
    with pytest.raises(ValueError):
        cls(0)


calls = st.lists(st.tuples(st.booleans(), st.booleans()), max_size=60)


@given(size=st.integers(1, 8), outcomes=calls)
def test_count_window_matches_a_naive_slice(size: int, outcomes: list[tuple[bool, bool]]) -> None:
    w = CountWindow(size)
    for i, (failed, slow) in enumerate(outcomes):
        w.add(failed, slow, 0.0)
        last = outcomes[max(0, i + 1 - size): i + 1]
        assert w.totals(0.0) == (len(last), sum(f for f, _ in last), sum(s for _, s in last))


@given(
    size=st.integers(1, 6),
    steps=st.lists(st.tuples(st.floats(0, 4), st.booleans(), st.booleans()), max_size=60),
)
def test_time_window_matches_a_naive_filter(
    size: int, steps: list[tuple[float, bool, bool]]
) -> None:
    w = TimeWindow(size)
    now = 1_700_000_000.0
    seen: list[tuple[float, bool, bool]] = []
    for gap, failed, slow in steps:
        now += gap
        w.add(failed, slow, now)
        seen.append((now, failed, slow))
        live = [(f, s) for t, f, s in seen if int(t) > int(now) - size]
        assert w.totals(now) == (len(live), sum(f for f, _ in live), sum(s for _, s in live))
