"""What the SQLite store keeps across a restart of the server (clean here; by SIGKILL in
test_crash): configs, breaker states with their remaining time, error records with counts and
acknowledgements, and the event log, so Watch resumes with the same log_id."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2

from rescp._proto import admin_pb2 as a
from rescp._proto import events_pb2 as e
from rescp._proto import guard_pb2 as g
from rescp.config import Config
from rescp.store import sqlite_schema
from rescp.testing import ServerThread
from tests.server.conftest import Stubs
from tests.store.test_conformance import FORCED_OPEN, OPEN, fail, kind, put_breaker, take

DISABLED = 5


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "rescp.db"


@contextmanager
def serving(config: Config, db: Path) -> Iterator[Stubs]:
    """Stubs to a server on `db`, stopped cleanly at the end."""
    with (ServerThread(config, store=f"sqlite:{db}") as server,
          grpc.insecure_channel(server.target) as channel):
        yield Stubs(channel)


def seconds(d: duration_pb2.Duration) -> float:
    return d.seconds + d.nanos / 1e9


def test_breaker_states_survive_with_the_rest_of_their_recovery_time(
        config: Config, db: Path) -> None:
    with serving(config, db) as stubs:
        put_breaker(stubs, "down", 1, 30.0)
        fail(stubs, "down")
        stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api", state=FORCED_OPEN))
        stubs.TransitionBreaker(a.TransitionBreakerRequest(name="websocket", state=DISABLED))
    time.sleep(0.5)
    with serving(config, db) as stubs:
        refused = stubs.Allow(g.AllowRequest(breaker="down"))
        assert (refused.allowed, refused.breaker_state) == (False, OPEN)
        assert 28.0 < seconds(refused.retry_after) < 29.6
        states = {b.name: b.state for b in stubs.ListBreakers(a.ListBreakersRequest()).breakers}
        assert (states["dydx_api"], states["websocket"]) == (FORCED_OPEN, DISABLED)
        assert stubs.GetBreaker(a.GetBreakerRequest(name="down")).breaker.failure_count == 1


def test_a_breaker_window_survives_so_its_rate_rule_judges_across_a_restart(
        config: Config, db: Path) -> None:
    with serving(config, db) as stubs:
        stubs.PutBreaker(a.PutBreakerRequest(name="rated", config=a.BreakerConfig(
            failure_threshold=0, failure_rate_threshold=50.0, window_size=10, minimum_calls=5)))
        fail(stubs, "rated", 4)  # one call short of minimum_calls
    with serving(config, db) as stubs:
        fail(stubs, "rated")
        assert stubs.GetBreaker(a.GetBreakerRequest(name="rated")).breaker.state == OPEN


@pytest.mark.parametrize("algorithm", [1, 2])
def test_limit_counters_survive_a_clean_restart(config: Config, db: Path, algorithm: int) -> None:
    with serving(config, db) as stubs:
        stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
            name="few", max_requests=3, window=duration_pb2.Duration(seconds=60),
            algorithm=algorithm)))
        assert [stubs.Allow(g.AllowRequest(limit="few", key="k")).allowed for _ in range(3)] == [
            True, True, True]
    with serving(config, db) as stubs:
        refused = stubs.Allow(g.AllowRequest(limit="few", key="k"))
        assert not refused.allowed and seconds(refused.retry_after) > 10
        assert stubs.Allow(g.AllowRequest(limit="few", key="other")).allowed


def test_errors_counts_acknowledgements_and_configs_survive(config: Config, db: Path) -> None:
    with serving(config, db) as stubs:
        kept = stubs.Report(g.ReportRequest(error_type="TimeoutError", message="slow",
                                            idempotency_key="k1")).record
        acked = stubs.Report(g.ReportRequest(error_type="ValueError", message="bad")).record
        stubs.AcknowledgeError(a.AcknowledgeErrorRequest(error_id=acked.error_id))
        stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
            name="kept", max_requests=7, window=duration_pb2.Duration(seconds=5))))
        stubs.PutFeature(a.PutFeatureRequest(feature=a.Feature(name="feat", breakers=["x"])))
        before = stubs.GetErrorSummary(a.GetErrorSummaryRequest())
    with serving(config, db) as stubs:
        after = stubs.GetErrorSummary(a.GetErrorSummaryRequest())
        assert after.total_errors == before.total_errors == 2
        assert dict(after.error_counts) == dict(before.error_counts)
        every = stubs.ListNotifications(a.ListNotificationsRequest(include_acknowledged=True))
        unacked = stubs.ListNotifications(a.ListNotificationsRequest())
        assert {n.id for n in every.notifications} == {kept.error_id, acked.error_id}
        assert [n.id for n in unacked.notifications] == [kept.error_id]
        same = stubs.Report(g.ReportRequest(error_type="TimeoutError", message="slow",
                                            idempotency_key="k1")).record
        assert same.error_id == kept.error_id  # the key is remembered too
        limits = {x.name: x.max_requests for x in stubs.ListLimits(a.ListLimitsRequest()).limits}
        assert limits["kept"] == 7
        assert "feat" in [f.name for f in stubs.ListFeatures(a.ListFeaturesRequest()).features]


def test_watch_resumes_across_a_restart_with_the_same_log_id(config: Config, db: Path) -> None:
    with serving(config, db) as stubs:
        listed = stubs.ListBreakers(a.ListBreakersRequest())
        # a transition, then the degradation (feature "trading") and health changes it causes
        stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api", state=FORCED_OPEN))
    first = listed.sequence + 1
    with serving(config, db) as stubs:
        stream = stubs.Watch(e.WatchRequest(after_sequence=listed.sequence))
        assert dict(stream.initial_metadata())["rescp-log-id"] == listed.log_id
        replayed = take(stream, 3)
        assert [ev.sequence for ev in replayed] == [first, first + 1, first + 2]
        assert [kind(ev) for ev in replayed] == [
            "breaker_transition", "degradation_change", "health_change"]
        stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api", state=1))
        live = take(stream, 1)[0]
        stream.cancel()
        assert live.sequence == first + 3  # sequences continue, never repeat
        health = stubs.GetSystemHealth(a.GetSystemHealthRequest())
        assert health.log_id == listed.log_id and health.sequence >= first + 3


def test_a_restart_announces_nothing_its_log_already_said(config: Config, db: Path) -> None:
    with serving(config, db) as stubs:
        before = stubs.GetSystemHealth(a.GetSystemHealthRequest()).sequence
        stubs.TransitionBreaker(a.TransitionBreakerRequest(name="dydx_api", state=FORCED_OPEN))
    with serving(config, db) as stubs:
        time.sleep(0.2)  # startup settles and a housekeeping tick would have announced by now
        # the transition, its degradation and its health change; nothing since
        assert stubs.GetSystemHealth(a.GetSystemHealthRequest()).sequence == before + 3


def test_a_database_of_the_previous_schema_is_migrated_keeping_its_data(
        config: Config, db: Path) -> None:
    conn = sqlite_schema.connect(db)
    sqlite_schema.migrate(conn, 0, sqlite_schema.VERSION - 1)
    conn.execute("INSERT INTO limits VALUES ('old', ?)",
                 ('{"name":"old","max_requests":4,"window":2.0,"algorithm":2}',))
    conn.close()
    with serving(config, db) as stubs:
        limits = {x.name: (x.max_requests, x.algorithm)
                  for x in stubs.ListLimits(a.ListLimitsRequest()).limits}
        assert limits["old"] == (4, 2)
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == sqlite_schema.VERSION
