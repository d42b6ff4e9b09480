"""Local mode's pure parts: outcomes encoded straight to wire bytes decode as the protobuf
messages they stand for, and pushed transitions never let a stale answer win."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from rescp_client import BreakerOpenError, _codec
from rescp_client._local import (
    FLUSH_AT,
    MAX_QUEUED,
    MAX_RUN,
    LocalState,
    Queued,
    RecordEncoder,
    Rules,
)
from rescp_client._proto import guard_pb2 as guard

outcomes = st.lists(st.builds(
    Queued, st.sampled_from(["a", "b/c", "ü"]), st.sampled_from([1, 2, 3]),
    st.floats(0, 10_000, allow_nan=False), st.sampled_from(["", "17", "17.abcdef"]),
    st.none() | st.builds(guard.ReportRequest, message=st.text(max_size=20),
                          error_type=st.sampled_from(["", "ValueError"])),
    st.integers(1, 1000)), max_size=30)


def _record(queued: Queued) -> guard.RecordRequest:
    request = _codec.record(queued.breaker, queued.outcome, queued.took, queued.permit,
                            queued.report)
    request.count = queued.count if queued.count > 1 else 0
    return request


@given(outcomes)
def test_encoded_outcomes_decode_as_the_records_they_stand_for(batch: list[Queued]) -> None:
    encoded = guard.RecordBatchRequest.FromString(RecordEncoder().batch(batch))
    assert encoded == guard.RecordBatchRequest(items=[_record(o) for o in batch])


def test_runs_of_successes_aggregate_only_without_a_slow_call_rule() -> None:
    state = LocalState()
    state.up()
    for name, aggregate in (("plain", True), ("slow", False)):
        state.learn(name, guard.AllowResponse(allowed=True, breaker_state=1, permit="1"),
                    state.changes(name), Rules(60.0, aggregate), 0.0)
        for _ in range(3):
            state.add(name, 1, 0.001, "1", None)
        state.add(name, 2, 0.001, "1", None)
        state.add(name, 2, 0.001, "1", guard.ReportRequest(message="boom"))
    assert [(q.breaker, q.outcome, q.count) for q in state.take(100)] == [
        ("plain", 1, 3), ("plain", 2, 1), ("plain", 2, 1),
        ("slow", 1, 1), ("slow", 1, 1), ("slow", 1, 1), ("slow", 2, 1), ("slow", 2, 1)]


def _following(*names: str, aggregate: bool = True) -> LocalState:
    state = LocalState()
    state.up()
    for name in names:
        state.learn(name, guard.AllowResponse(allowed=True, breaker_state=1, permit="1"),
                    state.changes(name), Rules(60.0, aggregate), 0.0)
    return state


REPORT = guard.ReportRequest(message="boom")
arrivals = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from([1, 2]),
                              st.sampled_from(["1", "2"]), st.booleans(), st.booleans()),
                    max_size=3 * FLUSH_AT)


@given(arrivals)
def test_gathered_records_stand_for_every_outcome_in_order(
        calls: list[tuple[str, int, str, bool, bool]]) -> None:
    """Whenever the queue is read (`take` after any call), the Records expand back to the
    outcomes added, in order; only reportless runs of an aggregating breaker share one."""
    state = _following("a")  # "b" has a slow-call rule: never aggregated
    records: list[Queued] = []
    for breaker, outcome, permit, with_report, read_now in calls:
        state.add(breaker, outcome, 0.001, permit, REPORT if with_report else None)  # type: ignore[arg-type]
        if read_now:
            records += state.take(7)
    records += state.take(len(calls) + 1)
    expanded = [(q.breaker, q.outcome, q.permit, q.report is not None)
                for q in records for _ in range(q.count)]
    assert expanded == [(b, o, p, r) for b, o, p, r, _ in calls]
    assert all(q.count == 1 or (q.breaker == "a" and q.report is None and q.count <= MAX_RUN)
               for q in records)


def test_outcomes_added_from_many_threads_while_the_queue_is_read_are_all_kept() -> None:
    state = _following("a")
    threads, each = 4, 20_000
    taken: list[Queued] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            taken.extend(state.take(FLUSH_AT))

    def writer() -> None:
        for _ in range(each):
            state.add("a", 1, 0.001, "1", None)

    reading = threading.Thread(target=reader)
    reading.start()
    writers = [threading.Thread(target=writer) for _ in range(threads)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reading.join()
    taken.extend(state.take(MAX_QUEUED))
    assert sum(q.count for q in taken) == threads * each
    assert state.dropped == 0


def test_past_max_queued_the_oldest_records_go_and_each_outcome_is_counted() -> None:
    state = _following(aggregate=False)
    for i in range(MAX_QUEUED + 10):
        state.add("slow", 1, 0.001, str(i), None)
    kept = state.take(2 * MAX_QUEUED)
    assert len(kept) == MAX_QUEUED and state.dropped == 10
    assert kept[0].permit == "10"


def test_a_long_run_is_split_at_max_run() -> None:
    state = _following("a")
    for _ in range(2 * MAX_RUN + 5):
        state.add("a", 1, 0.001, "1", None)
    assert [q.count for q in state.take(10)] == [MAX_RUN, MAX_RUN, 5]


def test_an_answer_overtaken_by_a_push_is_not_learned() -> None:
    state = LocalState()
    state.up()
    asked_at = state.changes("x")
    state.transition("x", 4, 0.0)  # FORCED_OPEN pushed while the Allow was in flight
    state.learn("x", guard.AllowResponse(allowed=True, breaker_state=1, permit="5"), asked_at,
                Rules(60.0, aggregate=True), 0.0)
    assert state.decide("x") is None  # not followed: ask the server again
    state.learn("x", guard.AllowResponse(allowed=True, breaker_state=1, permit="5"),
                state.changes("x"), Rules(60.0, aggregate=True), 0.0)
    assert state.decide("x") is not None
    state.transition("x", 2, 1e12)  # OPEN, far in the future: refused here
    try:
        state.decide("x")
    except BreakerOpenError as refused:
        assert refused.state == "open" and refused.retry_after > 0
    else:
        raise AssertionError("not refused")
    state.down()
    assert state.decide("x") is None
