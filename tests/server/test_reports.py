"""Report and Classify over real gRPC: idempotent late reports, their own time, text bounds."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest
from google.protobuf import timestamp_pb2

from rescp._proto import admin_pb2 as a
from rescp._proto import guard_pb2 as g
from tests.server.conftest import Stubs, bad_fields, details


def stamp(seconds: float) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=int(seconds), nanos=int(seconds % 1 * 1e9))


def test_classify_answers_what_report_would_store_and_stores_nothing(stubs: Stubs) -> None:
    error = g.ReportRequest(error_type="ConnectionError", operation="get_account_info",
                            message="connection refused, password=hunter2")
    c = stubs.Classify(g.ClassifyRequest(error=error))
    assert stubs.GetErrorSummary(a.GetErrorSummaryRequest()).total_errors == 0
    stored = stubs.Report(error).record
    assert (c.category, c.severity, c.user_message, c.fingerprint, c.message) == (
        stored.category, stored.severity, stored.user_message, stored.fingerprint, stored.message)
    assert c.action == stored.action and "hunter2" not in c.message


def test_classify_validates_like_report(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        stubs.Classify(g.ClassifyRequest(error=g.ReportRequest(error_type="x" * 300)))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(refused.value) == {"error.error_type"}


def test_same_idempotency_key_is_stored_and_counted_once(stubs: Stubs) -> None:
    key = uuid.uuid4().hex
    report = g.ReportRequest(error_type="TimeoutError", message="timed out", idempotency_key=key)
    first = stubs.Report(report).record
    again = stubs.Report(report).record
    other = stubs.Report(g.ReportRequest(error_type="TimeoutError", message="timed out")).record
    assert again.error_id == first.error_id != other.error_id
    assert stubs.GetErrorSummary(a.GetErrorSummaryRequest()).total_errors == 2


def test_a_late_report_keeps_its_own_time(stubs: Stubs) -> None:
    then = time.time() - 3600
    record = stubs.Report(g.ReportRequest(error_type="OSError", message="disk",
                                          time=stamp(then))).record
    assert abs(record.time.seconds + record.time.nanos / 1e9 - then) < 1e-3
    summary = stubs.GetErrorSummary(a.GetErrorSummaryRequest())
    assert summary.errors_per_minute == 0  # an hour old: not in the last minute


@pytest.mark.parametrize("offset", [-86_400 - 60, 301])
def test_a_time_too_far_off_is_invalid(stubs: Stubs, offset: float) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        stubs.Report(g.ReportRequest(error_type="E", time=stamp(time.time() + offset)))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(refused.value) == {"time"}


def test_notifications_carry_the_message_and_the_user_message(stubs: Stubs) -> None:
    record = stubs.Report(g.ReportRequest(error_type="ConnectionError",
                                          message="Connection timeout")).record
    listed = stubs.ListNotifications(a.ListNotificationsRequest()).notifications
    assert [(n.id, n.message, n.user_message) for n in listed] == [
        (record.error_id, "Connection timeout", record.user_message)]


def test_text_bounds_come_from_the_protos(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        stubs.Report(g.ReportRequest(error_type="E", message="m" * 4097,
                                     context={f"k{i}": "v" * 200 for i in range(50)}))
    assert bad_fields(refused.value) == {"message", "context"}
    assert details(refused.value)["ErrorInfo"].reason == "INVALID_FIELD"
