"""SQLite under SIGKILL, with real processes: every acknowledged Report survives, an OPEN breaker
comes back OPEN with the rest of its recovery time, sequences continue in the same log; and the
files it must refuse (locked by another server, corrupt, of a newer schema) are refused with
exit status 1 and left as they were."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import threading
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2

from rescp._proto import admin_pb2 as a
from rescp._proto import guard_pb2 as g
from rescp.store.sqlite import SNAPSHOT_INTERVAL
from tests.server.conftest import Stubs
from tests.store.processes import Server, refused
from tests.store.test_conformance import OPEN, fail, put_breaker

CYCLES = 20
WRITERS = 8
KEPT = 900
"""Acknowledged ids sure to be in the error history (1000 records, of which up to WRITERS may
be reports committed but never answered)."""


def report_until_stopped(target: str, stop: threading.Event, acked: list[str]) -> None:
    """Report as fast as one channel answers; keep the ids of answered reports."""
    with grpc.insecure_channel(target) as channel:
        report = Stubs(channel).Report
        while not stop.is_set():
            try:
                record = report(g.ReportRequest(error_type="TimeoutError",
                                                message="timed out"), timeout=2).record
            except grpc.RpcError:
                return  # the server died under us
            acked.append(record.error_id)


def load_then_kill(server: Server, rng: random.Random) -> list[str]:
    acked: list[str] = []
    stop = threading.Event()
    writers = [threading.Thread(target=report_until_stopped, args=(server.target, stop, acked))
               for _ in range(WRITERS)]
    for writer in writers:
        writer.start()
    time.sleep(rng.uniform(0.05, 0.4))
    server.kill()  # mid-flight: some reports are committed but never answered, none the reverse
    stop.set()
    for writer in writers:
        writer.join(10)
    return acked


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_acknowledged_report_survives_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "rescp.db"
    rng = random.Random()
    acked: list[str] = []
    log_id, sequence = "", 0
    for _ in range(CYCLES):
        with Server(db) as server:
            with server.stubs() as stubs:
                health = stubs.GetSystemHealth(a.GetSystemHealthRequest())
                assert health.total_errors >= len(acked)
                assert health.sequence >= sequence and health.log_id == (log_id or health.log_id)
                log_id, sequence = health.log_id, health.sequence
                for error_id in rng.sample(acked[-KEPT:], min(len(acked), 50)):
                    stubs.AcknowledgeError(a.AcknowledgeErrorRequest(error_id=error_id))
            acked += load_then_kill(server, rng)
    assert len(acked) > CYCLES  # the load really ran
    with Server(db) as server, server.stubs() as stubs:
        for error_id in acked[-KEPT:]:
            stubs.AcknowledgeError(a.AcknowledgeErrorRequest(error_id=error_id))
        assert stubs.GetErrorSummary(a.GetErrorSummaryRequest()).total_errors >= len(acked)


def test_an_open_breaker_survives_sigkill_with_the_rest_of_its_recovery_time(
        tmp_path: Path) -> None:
    db = tmp_path / "rescp.db"
    with Server(db) as server:
        with server.stubs() as stubs:
            put_breaker(stubs, "upstream", 1, 60.0)
            fail(stubs, "upstream")
            stubs.PutBreaker(a.PutBreakerRequest(name="cfg", config=a.BreakerConfig(
                failure_threshold=9, recovery_timeout=duration_pb2.Duration(seconds=42))))
            fail(stubs, "cfg", 3)  # counts without a transition: saved by the next snapshot
            stubs.PutLimit(a.PutLimitRequest(limit=a.Limit(
                name="one", max_requests=1, window=duration_pb2.Duration(seconds=60))))
            assert stubs.Allow(g.AllowRequest(limit="one", key="k")).allowed
            time.sleep(SNAPSHOT_INTERVAL + 0.5)
        server.kill()
    opened = time.monotonic()
    with Server(db) as server, server.stubs() as stubs:
        answer = stubs.Allow(g.AllowRequest(breaker="upstream"))
        waited = time.monotonic() - opened
        cfg = stubs.GetBreaker(a.GetBreakerRequest(name="cfg")).breaker
        assert not stubs.Allow(g.AllowRequest(limit="one", key="k")).allowed
    retry = answer.retry_after.seconds + answer.retry_after.nanos / 1e9
    assert (answer.allowed, answer.breaker_state) == (False, OPEN)
    assert 60.0 - waited - 2.0 < retry < 60.0 - waited + 0.5
    assert (cfg.config.failure_threshold, cfg.config.recovery_timeout.seconds) == (9, 42)
    assert cfg.failure_count == 3


def test_a_second_server_on_the_same_database_is_refused_naming_the_holder(
        tmp_path: Path) -> None:
    db = tmp_path / "rescp.db"
    with Server(db) as server:
        second = refused(db)
    assert second.returncode == 1
    assert f"pid {server.pid}" in second.stderr and "Traceback" not in second.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_corrupt_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "rescp.db"
    db.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    before = digest(db)
    result = refused(db)
    assert result.returncode == 1 and "not a usable rescp database" in result.stderr
    assert "Traceback" not in result.stderr and digest(db) == before


def test_a_database_of_a_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "rescp.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = digest(db)
    result = refused(db)
    assert result.returncode == 1 and "schema version 99" in result.stderr
    assert digest(db) == before
