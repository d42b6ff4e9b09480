"""Decisions never jump when the wall clock is stepped (the contract's "Time"): a real server,
its wall clock stepped back ten minutes in the middle of an OPEN period and a limit's window."""

from __future__ import annotations

import time

import pytest
from google.protobuf import duration_pb2

from rescp._proto import admin_pb2 as a
from rescp._proto import guard_pb2 as g
from tests.server.conftest import Stubs

FAILURE, RATE_LIMITED, BREAKER_OPEN = 2, 3, 2


def seconds(d: duration_pb2.Duration) -> float:
    return d.seconds + d.nanos / 1e9


def test_stepping_the_wall_clock_back_moves_no_deadline(
        stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> None:
    stubs.PutBreaker(a.PutBreakerRequest(name="b", config=a.BreakerConfig(
        failure_threshold=1, recovery_timeout=duration_pb2.Duration(seconds=30))))
    stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
        name="l", max_requests=1, window=duration_pb2.Duration(seconds=1))))
    permit = stubs.Allow(g.AllowRequest(breaker="b")).permit
    stubs.Record(g.RecordRequest(breaker="b", outcome=FAILURE, permit=permit))
    assert stubs.Allow(g.AllowRequest(limit="l", key="k")).allowed

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 600)  # an NTP step, an operator's date -s

    refused = stubs.Allow(g.AllowRequest(breaker="b"))
    assert refused.verdict == BREAKER_OPEN and 29 < seconds(refused.retry_after) <= 30
    limited = stubs.Allow(g.AllowRequest(limit="l", key="k"))
    assert limited.verdict == RATE_LIMITED and 0 < seconds(limited.retry_after) <= 1
    record = stubs.Report(g.ReportRequest(error_type="E", message="stamped")).record
    assert abs(record.time.seconds - (real() - 600)) < 5  # records are stamped by the wall clock
