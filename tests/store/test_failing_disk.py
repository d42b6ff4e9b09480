"""A full disk, made without root: the server's file-size limit (RLIMIT_FSIZE, set from outside
with prlimit) stops its database from growing. Report answers UNAVAILABLE and never "stored"
when it was not, health goes CRITICAL with Allow still working, and once the limit is lifted
everything recovers by itself; a SIGKILL afterwards loses no answered report."""

from __future__ import annotations

import resource
from pathlib import Path

import grpc
import pytest

from rescp._proto import admin_pb2 as a
from rescp._proto import guard_pb2 as g
from tests.server.conftest import Stubs
from tests.store.processes import Server
from tests.support import eventually

CRITICAL = 3
ATTEMPTS = 3000


def limit_file_size(pid: int, limit: int) -> None:
    """Set the soft limit only: lifting it again needs no privilege."""
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))


def report(stubs: Stubs, n: int) -> str | None:
    """The error_id of a stored report, or None when the server answered UNAVAILABLE."""
    try:
        request = g.ReportRequest(error_type="TimeoutError", message=f"report {n}: " + "x" * 900)
        return str(stubs.Report(request, timeout=5).record.error_id)
    except grpc.RpcError as error:
        assert error.code() is grpc.StatusCode.UNAVAILABLE, error
        return None


def fill_until_refused(stubs: Stubs, stored: list[str]) -> None:
    for n in range(ATTEMPTS):
        error_id = report(stubs, n)
        if error_id is None:
            return
        stored.append(error_id)
    pytest.fail(f"{ATTEMPTS} reports fitted under the file-size limit")


@pytest.mark.slow
def test_a_full_disk_refuses_reports_keeps_allowing_and_recovers(tmp_path: Path) -> None:
    db = tmp_path / "rescp.db"
    stored: list[str] = []
    with Server(db) as server:
        with server.stubs() as stubs:
            sizes = [p.stat().st_size for p in tmp_path.iterdir() if p.name.startswith("rescp")]
            limit_file_size(server.pid, max(sizes) + 64 * 1024)
            fill_until_refused(stubs, stored)

            def critical() -> None:
                assert stubs.GetSystemHealth(a.GetSystemHealthRequest()).health == CRITICAL
            eventually(critical, within=10)
            assert stubs.Allow(g.AllowRequest(breaker="still_deciding")).allowed
            assert report(stubs, -1) is None  # still full: still refused

            limit_file_size(server.pid, resource.RLIM_INFINITY)

            def recovered() -> None:
                assert report(stubs, -2) is not None
                assert stubs.GetSystemHealth(a.GetSystemHealthRequest()).health != CRITICAL
            eventually(recovered, within=10, every=0.2)
        server.kill()
    with Server(db) as server, server.stubs() as stubs:
        for error_id in stored[-900:]:
            stubs.AcknowledgeError(a.AcknowledgeErrorRequest(error_id=error_id))
        assert "still_deciding" in [
            b.name for b in stubs.ListBreakers(a.ListBreakersRequest()).breakers]
