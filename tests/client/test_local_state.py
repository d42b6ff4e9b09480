"""Local mode's pure parts: outcomes encoded straight to wire bytes decode as the protobuf
messages they stand for, and pushed transitions never let a stale answer win."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rescp_client import BreakerOpenError, _codec
from rescp_client._local import LocalState, RecordEncoder
from rescp_client._proto import guard_pb2 as guard

outcomes = st.lists(st.tuples(
    st.sampled_from(["a", "b/c", "ü"]), st.sampled_from([1, 2, 3]),
    st.floats(0, 10_000, allow_nan=False), st.sampled_from(["", "17", "17.abcdef"]),
    st.none() | st.builds(guard.ReportRequest, message=st.text(max_size=20),
                          error_type=st.sampled_from(["", "ValueError"]))), max_size=30)


@given(outcomes)
def test_encoded_outcomes_decode_as_the_records_they_stand_for(batch: list) -> None:  # type: ignore[type-arg]
    encoded = guard.RecordBatchRequest.FromString(RecordEncoder().batch(batch))
    assert encoded == guard.RecordBatchRequest(items=[_codec.record(*o) for o in batch])


def test_an_answer_overtaken_by_a_push_is_not_learned() -> None:
    state = LocalState()
    state.up()
    asked_at = state.changes("x")
    state.transition("x", 4, 0.0)  # FORCED_OPEN pushed while the Allow was in flight
    state.learn("x", guard.AllowResponse(allowed=True, breaker_state=1, permit="5"), asked_at,
                60.0, 0.0)
    assert state.decide("x") is None  # not followed: ask the server again
    state.learn("x", guard.AllowResponse(allowed=True, breaker_state=1, permit="5"),
                state.changes("x"), 60.0, 0.0)
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
