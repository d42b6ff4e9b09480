"""/api/events over real HTTP: the Watch stream as Server-Sent Events, `id:` = sequence,
resumable with Last-Event-ID (as a browser's EventSource resumes) or ?after=."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from rescp._proto import admin_pb2 as a
from rescp._proto import enums_pb2 as enums
from rescp._proto import guard_pb2 as g
from tests.server.conftest import Stubs


@contextmanager
def stream(http: httpx.Client, query: str = "",
           headers: dict[str, str] | None = None) -> Iterator[Iterator[dict[str, Any]]]:
    """The SSE frames of /api/events (comments and data-less frames skipped)."""
    with http.stream("GET", f"/api/events{query}", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield _frames(response.iter_lines())


def _frames(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    current: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in current:
                yield {"id": int(current["id"]), "event": json.loads(current["data"])}
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            current[field] = value.removeprefix(" ")


def take(frames: Iterator[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    return [next(frames) for _ in range(count)]


def force_open(stubs: Stubs, name: str) -> None:
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name=name,
                                                       state=enums.BREAKER_STATE_FORCED_OPEN))


def close(stubs: Stubs, name: str) -> None:
    stubs.TransitionBreaker(a.TransitionBreakerRequest(name=name,
                                                       state=enums.BREAKER_STATE_CLOSED))


def test_events_arrive_live_with_their_sequence_as_id(http: httpx.Client, stubs: Stubs) -> None:
    with stream(http) as frames:
        force_open(stubs, "dydx_api")
        got = take(frames, 3)  # the transition, then degradation and health change
    ids = [f["id"] for f in got]
    assert ids == list(range(ids[0], ids[0] + 3))
    assert [f["event"]["sequence"] for f in got] == [str(i) for i in ids]
    transition = got[0]["event"]["breakerTransition"]
    assert (transition["breaker"], transition["fromState"], transition["toState"]) == (
        "dydx_api", "BREAKER_STATE_CLOSED", "BREAKER_STATE_FORCED_OPEN")
    assert got[1]["event"]["degradationChange"]["isDegraded"] is True
    assert got[2]["event"]["healthChange"]["toHealth"] == "HEALTH_WARNING"


def test_last_event_id_resumes_without_gap_or_duplicate(http: httpx.Client,
                                                        stubs: Stubs) -> None:
    with stream(http) as frames:
        force_open(stubs, "dydx_api")
        first = take(frames, 3)
    close(stubs, "dydx_api")  # while disconnected: three more events
    force_open(stubs, "websocket")
    last = first[-1]["id"]
    with stream(http, "?after=0", headers={"Last-Event-ID": str(last)}) as frames:
        resumed = take(frames, 4)
    assert [f["id"] for f in resumed] == [last + 1, last + 2, last + 3, last + 4]
    assert resumed[0]["event"]["breakerTransition"]["toState"] == "BREAKER_STATE_CLOSED"


def test_after_a_read_nothing_is_missed(http: httpx.Client, stubs: Stubs) -> None:
    force_open(stubs, "websocket")
    sequence = stubs.ListBreakers(a.ListBreakersRequest()).sequence
    close(stubs, "websocket")
    with stream(http, f"?after={sequence}&types=breaker_transition") as frames:
        [frame] = take(frames, 1)
    assert frame["id"] == sequence + 1
    assert frame["event"]["breakerTransition"]["toState"] == "BREAKER_STATE_CLOSED"


def test_types_and_min_severity_filter(http: httpx.Client, stubs: Stubs) -> None:
    with stream(http, "?types=notification&min_severity=high") as frames:
        stubs.Report(g.ReportRequest(error_type="ValueError", message="bad value"))  # low
        force_open(stubs, "dydx_api")
        stubs.Report(g.ReportRequest(error_type="TimeoutError", message="timed out"))  # high
        [frame] = take(frames, 1)
    notification = frame["event"]["notification"]
    assert notification["severity"] == "SEVERITY_HIGH" and notification["title"]


@pytest.mark.parametrize(("query", "headers", "reason", "field"), [
    ("?after=abc", {}, "INVALID_FIELD", "after"),
    ("?after=-1", {}, "INVALID_FIELD", "after"),
    ("", {"Last-Event-ID": "x"}, "INVALID_FIELD", "Last-Event-ID"),
    ("?types=bogus", {}, "INVALID_FIELD", "types"),
    ("?min_severity=extreme", {}, "INVALID_FIELD", "min_severity"),
    ("?after=999999", {}, "SEQUENCE_OUT_OF_RANGE", None),
])
def test_bad_requests_are_json_errors(http: httpx.Client, query: str, headers: dict[str, str],
                                      reason: str, field: str | None) -> None:
    response = http.get(f"/api/events{query}", headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["reason"] == reason
    if field is not None:
        assert [f["field"] for f in error["fields"]] == [field]
