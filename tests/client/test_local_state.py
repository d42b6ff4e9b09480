"""Local mode's pure parts: outcomes encoded straight to wire bytes decode as the protobuf
messages they stand for, and pushed transitions never let a stale answer win."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rescp_client import BreakerOpenError, _codec
from rescp_client._local import LocalState, Queued, RecordEncoder, Rules
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
