"""AllowBatch and RecordBatch over real gRPC: per-item answers, per-item errors, whole-request
limits, and (a Hypothesis property) the same answers and end state as the unary RPCs."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import duration_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rescp._proto import admin_pb2 as a
from rescp._proto import guard_pb2 as g
from tests.server.conftest import Stubs, bad_fields, details

CLOSED, OPEN = 1, 2
ALLOWED, BREAKER_OPEN, RATE_LIMITED = 1, 2, 3
SUCCESS, FAILURE = 1, 2
INVALID_ARGUMENT, NOT_FOUND = 3, 5


def test_allow_batch_answers_each_item_in_order(stubs: Stubs) -> None:
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name="two", max_requests=2, window=duration_pb2.Duration(seconds=60))))
    items = [g.AllowRequest(breaker="bb", limit="two", key="k")] * 3
    answers = stubs.AllowBatch(g.AllowBatchRequest(items=items)).items
    assert [(x.response.allowed, x.response.verdict, x.response.remaining) for x in answers] == [
        (True, ALLOWED, 1), (True, ALLOWED, 0), (False, RATE_LIMITED, 0)]
    assert all(not x.HasField("error") for x in answers)
    assert answers[2].response.retry_after.seconds > 0


def test_a_batch_sent_again_is_decided_afresh(stubs: Stubs) -> None:
    """Its items' decodings are kept (tests/server/test_batch_decode.py), never its answers."""
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name="three", max_requests=3, window=duration_pb2.Duration(seconds=60))))
    request = g.AllowBatchRequest(items=[g.AllowRequest(limit="three", key="k")] * 2
                                  + [g.AllowRequest(limit="three", key="other")])
    answers = [[(x.response.allowed, x.response.remaining) for x in stubs.AllowBatch(request).items]
               for _ in range(2)]
    assert answers == [[(True, 2), (True, 1), (True, 2)], [(True, 0), (False, 0), (True, 1)]]


def test_bad_items_get_their_own_errors_and_spoil_nothing(stubs: Stubs) -> None:
    items = [g.AllowRequest(breaker="ok"), g.AllowRequest(breaker="bad name!"),
             g.AllowRequest(limit="nope"), g.AllowRequest(breaker="ok", key="k" * 300)]
    answers = stubs.AllowBatch(g.AllowBatchRequest(items=items)).items
    assert answers[0].response.allowed and not answers[0].HasField("error")
    assert (answers[1].error.code, answers[1].error.reason, list(answers[1].error.fields)) == (
        INVALID_ARGUMENT, "INVALID_FIELD", ["breaker"])
    assert (answers[2].error.code, answers[2].error.reason) == (NOT_FOUND, "LIMIT_NOT_FOUND")
    assert list(answers[3].error.fields) == ["key"] and not answers[3].HasField("response")


def test_record_batch_trips_exactly_as_records_one_by_one(stubs: Stubs) -> None:
    stubs.PutBreaker(a.PutBreakerRequest(name="rb", config=a.BreakerConfig(failure_threshold=2)))
    items = [g.RecordRequest(breaker="rb", outcome=FAILURE),
             g.RecordRequest(breaker="ghost", outcome=FAILURE),
             g.RecordRequest(breaker="rb", outcome=0),
             g.RecordRequest(breaker="rb", outcome=FAILURE, error=g.ReportRequest(
                 error_type="TimeoutError", message="timed out, password=hunter2"))]
    answers = stubs.RecordBatch(g.RecordBatchRequest(items=items)).items
    assert answers[0].response.breaker_state == CLOSED
    assert (answers[1].error.code, answers[1].error.reason) == (NOT_FOUND, "BREAKER_NOT_FOUND")
    assert list(answers[2].error.fields) == ["outcome"]
    assert answers[3].response.breaker_state == OPEN
    assert "hunter2" not in answers[3].response.error.message
    assert answers[3].response.error.category == 1  # NETWORK


@pytest.mark.parametrize("count", [0, 1001])
def test_a_batch_of_no_items_or_too_many_fails_as_a_whole(stubs: Stubs, count: int) -> None:
    for rpc, item in ((stubs.AllowBatch, g.AllowBatchRequest(items=[g.AllowRequest()] * count)),
                      (stubs.RecordBatch, g.RecordBatchRequest(
                          items=[g.RecordRequest(breaker="x", outcome=SUCCESS)] * count))):
        with pytest.raises(grpc.RpcError) as caught:
            rpc(item)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert bad_fields(caught.value) == {"items"}


def test_batches_are_not_held_to_the_unary_64_kib_cap(stubs: Stubs) -> None:
    items = [g.AllowRequest(breaker="big", key=f"{i:0>200}") for i in range(1000)]
    request = g.AllowBatchRequest(items=items)
    assert request.ByteSize() > 64 * 1024
    assert all(x.response.allowed for x in stubs.AllowBatch(request).items)


def test_a_batch_that_does_not_decode_is_invalid_argument(stubs: Stubs) -> None:
    raw = stubs.channel.unary_unary("/rescp.v1.GuardService/AllowBatch")
    with pytest.raises(grpc.RpcError) as caught:
        raw(b"\xff\xff")
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert details(caught.value)["ErrorInfo"].reason == "INVALID_FIELD"


# The property: a sequence of Allows and Records, sent as batches (each run of one kind in one
# batch) or as unary calls, gives the same answers and leaves the same state.


@dataclass(frozen=True)
class Allow:
    breaker: str
    limit: str
    key: str
    cost: int


@dataclass(frozen=True)
class Record:
    breaker: str
    outcome: int
    permit_of: int  # the permit of the n-th Allow so far (mod their number); -1: none


ops = st.lists(st.one_of(
    st.builds(Allow, st.sampled_from(["b", "c", "", "bad name!"]),
              st.sampled_from(["", "lim", "nolimit"]), st.sampled_from(["k1", "k2"]),
              st.sampled_from([0, 1, 2, 9])),
    st.builds(Record, st.sampled_from(["b", "c", "ghost"]), st.sampled_from([0, 1, 2, 3]),
              st.integers(-1, 5))), min_size=1, max_size=40)
runs = itertools.count()


def _setup(stubs: Stubs, prefix: str) -> None:
    for name in ("b", "c"):
        stubs.PutBreaker(a.PutBreakerRequest(name=prefix + name, config=a.BreakerConfig(
            failure_threshold=3, recovery_timeout=duration_pb2.Duration(seconds=600))))
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name=prefix + "lim", max_requests=4, window=duration_pb2.Duration(seconds=600))))


def _name(prefix: str, name: str) -> str:
    return prefix + name if name and name not in ("bad name!", "nolimit") else name


def _allow_request(op: Allow, prefix: str) -> g.AllowRequest:
    return g.AllowRequest(breaker=_name(prefix, op.breaker), limit=_name(prefix, op.limit),
                          key=op.key, cost=op.cost)


def _record_request(op: Record, prefix: str, permits: list[str]) -> g.RecordRequest:
    permit = permits[op.permit_of % len(permits)] if permits and op.permit_of >= 0 else ""
    return g.RecordRequest(breaker=_name(prefix, op.breaker), outcome=op.outcome, permit=permit)


def _answer(response: g.AllowResponse | g.RecordResponse) -> tuple[object, ...]:
    if isinstance(response, g.AllowResponse):
        # Every retry-after here is ~600 s (the window and the recovery timeout), a little less
        # the later the decision: unary calls decide a few ms after a batch's one instant.
        retry = response.retry_after.seconds + response.retry_after.nanos / 1e9
        return ("allow", response.allowed, response.verdict, response.breaker_state,
                response.remaining, bool(response.permit), 600 if 590 < retry <= 600 else retry)
    return ("record", response.breaker_state)


def _unary(stubs: Stubs, sequence: list[Allow | Record], prefix: str) -> list[object]:
    answers: list[object] = []
    permits: list[str] = []
    for op in sequence:
        try:
            if isinstance(op, Allow):
                response = stubs.Allow(_allow_request(op, prefix))
                permits.append(response.permit)
            else:
                response = stubs.Record(_record_request(op, prefix, permits))
            answers.append(_answer(response))
        except grpc.RpcError as error:
            if isinstance(op, Allow):
                permits.append("")
            info = details(error)
            fields = sorted(v.field for v in info["BadRequest"].field_violations) \
                if "BadRequest" in info else []
            answers.append(("error", error.code().value[0], info["ErrorInfo"].reason, fields))
    return answers


def _batched(stubs: Stubs, sequence: list[Allow | Record], prefix: str) -> list[object]:
    answers: list[object] = []
    permits: list[str] = []
    for is_allow, group in itertools.groupby(sequence, key=lambda op: isinstance(op, Allow)):
        run = list(group)
        if is_allow:
            items = stubs.AllowBatch(g.AllowBatchRequest(
                items=[_allow_request(op, prefix) for op in run if isinstance(op, Allow)])).items
            permits.extend(x.response.permit for x in items)
        else:
            items = stubs.RecordBatch(g.RecordBatchRequest(items=[
                _record_request(op, prefix, permits) for op in run
                if isinstance(op, Record)])).items
        answers.extend(_answer(item.response) if item.HasField("response") else (
            "error", item.error.code, item.error.reason, sorted(item.error.fields))
            for item in items)
    return answers


def _state(stubs: Stubs, prefix: str) -> list[object]:
    state: list[object] = []
    for name in ("b", "c"):
        b = stubs.GetBreaker(a.GetBreakerRequest(name=prefix + name)).breaker
        state.append((b.state, b.failure_count, b.success_count, b.failure_rate))
    for key in ("k1", "k2"):
        status = stubs.GetLimitStatus(a.GetLimitStatusRequest(limit=prefix + "lim", key=key))
        state.append((status.is_rate_limited, status.remaining))
    return state


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_batches_answer_and_end_like_unary_calls(stubs: Stubs,
                                                 sequence: list[Allow | Record]) -> None:
    run = next(runs)
    unary, batched = f"u{run}-", f"v{run}-"
    _setup(stubs, unary)
    _setup(stubs, batched)
    assert _batched(stubs, sequence, batched) == _unary(stubs, sequence, unary)
    assert _state(stubs, batched) == _state(stubs, unary)


def test_return_tokens_gives_back_a_lease_s_unused_part(stubs: Stubs) -> None:
    for algorithm in (1, 2):  # SLIDING_WINDOW, TOKEN_BUCKET
        name = f"leased{algorithm}"
        put = stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
            name=name, algorithm=algorithm, max_requests=10, lease=4,
            window=duration_pb2.Duration(seconds=600))))
        assert put.limit.lease == 4
        block = stubs.Allow(g.AllowRequest(limit=name, key="k", cost=4))
        assert block.allowed and block.remaining == 6
        returned = stubs.ReturnTokens(g.ReturnTokensRequest(limit=name, key="k", tokens=4))
        assert returned.remaining == 10
        assert stubs.ReturnTokens(g.ReturnTokensRequest(  # never more than was taken
            limit=name, key="k", tokens=4)).remaining == 10


def test_a_lease_above_max_requests_or_an_unknown_limit_is_refused(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
            name="toolarge", max_requests=3, lease=4, window=duration_pb2.Duration(seconds=1))))
    assert bad_fields(caught.value) == {"limit.lease"}
    with pytest.raises(grpc.RpcError) as caught:
        stubs.ReturnTokens(g.ReturnTokensRequest(limit="nope", key="k", tokens=1))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
