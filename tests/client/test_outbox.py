"""Nothing reported is lost while rescp is down: reports wait in a bounded outbox (optionally a
spool file that survives the application's crash) and are delivered when rescp is back, with
their original time and an idempotency key, so a report delivered twice is stored once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rescp.config import Config
from rescp.testing import ServerThread
from rescp_client import Client, RescpError
from rescp_client._report import report_request
from rescp_client._spool import MAGIC, Spool
from tests.client.conftest import Api

ROOT = Path(__file__).resolve().parents[2]


def _failing() -> None:
    raise ConnectionError("exchange down while rescp was down")


def test_reports_wait_while_rescp_is_down_and_keep_their_time(
        make_api, config: Config, free_port) -> None:
    port = free_port()
    api: Api = make_api(f"127.0.0.1:{port}", allow_timeout=0.05, timeout=1.0)
    assert api.run(api.client.report(ValueError("filed while down"))) is None
    with pytest.raises(ConnectionError):
        api.guarded(_failing, breaker="dydx_api")  # let through unchecked, its error kept
    assert api.client.queued_reports == 2
    assert api.run(api.client.flush(0.2)) is False  # nobody to deliver to
    down_until = time.time()
    with ServerThread(config, port=port):
        assert api.run(api.client.flush(15.0)) is True
        summary = api.run(api.client.error_summary())
    assert api.client.queued_reports == 0 and api.client.dropped_reports == 0
    assert [e.message for e in summary.recent_errors] == [
        "exchange down while rescp was down", "filed while down"]
    assert all(e.time is not None and e.time <= down_until for e in summary.recent_errors)


def test_the_outbox_is_bounded_and_drops_the_oldest(make_api, config: Config,
                                                    free_port) -> None:
    port = free_port()
    api: Api = make_api(f"127.0.0.1:{port}", timeout=0.5, outbox_size=3)
    for i in range(5):
        api.run(api.client.report(ValueError(f"report {i}")))
    assert (api.client.queued_reports, api.client.dropped_reports) == (3, 2)
    with ServerThread(config, port=port):
        assert api.run(api.client.flush(15.0))
        messages = [e.message for e in api.run(api.client.error_summary()).recent_errors]
    assert messages == ["report 4", "report 3", "report 2"]


def test_without_a_spool_what_is_left_at_close_is_counted_lost(make_api, free_port) -> None:
    api: Api = make_api(f"127.0.0.1:{free_port()}", timeout=0.5, close_timeout=0.1)
    api.run(api.client.report(ValueError("never delivered")))
    api.run(api.client.close())
    assert api.client.dropped_reports == 1


def test_a_report_sent_twice_is_stored_once(server: ServerThread, tmp_path: Path) -> None:
    """A crash between a delivery and its record in the spool sends the report again."""
    path = tmp_path / "outbox"
    spool = Spool(path)
    spool.load()
    payload = report_request(ConnectionError("delivered, then the app crashed")).SerializeToString()
    spool.put(payload)
    spool.put(payload)
    spool.close()
    with Client(server.target, outbox_path=path) as client:
        assert client.flush(10.0)
        summary = client.error_summary()
    assert summary.total_errors == 1


def test_a_report_rescp_refuses_is_dropped_and_counted(server: ServerThread,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "outbox"
    spool = Spool(path)
    spool.load()
    stale = report_request(ValueError("two days old"))
    stale.time.FromSeconds(int(time.time()) - 2 * 86_400)
    spool.put(stale.SerializeToString())
    spool.put(report_request(ValueError("fresh")).SerializeToString())
    spool.close()
    with Client(server.target, outbox_path=path) as client:
        assert client.flush(10.0)
        assert client.dropped_reports == 1
        assert [e.message for e in client.error_summary().recent_errors] == ["fresh"]


CHILD = textwrap.dedent("""
    import sys, time
    from rescp_client import Client
    client = Client(sys.argv[1], outbox_path=sys.argv[2], timeout=0.5)
    for i in range(3):
        assert client.report(ConnectionError(f"crash {i}")) is None
    print("queued", flush=True)
    time.sleep(60)  # killed here, before any close
""")


def test_a_killed_process_loses_nothing_its_successor_delivers_it(
        server: ServerThread, free_port, tmp_path: Path) -> None:
    path = tmp_path / "outbox"
    before = time.time()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, f"127.0.0.1:{free_port()}", str(path)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "queued"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    with Client(server.target, outbox_path=path) as client:
        assert client.queued_reports == 3
        assert client.flush(10.0)
        errors = client.error_summary().recent_errors
    assert [e.message for e in errors] == ["crash 2", "crash 1", "crash 0"]
    assert all(before <= e.time <= time.time() for e in errors if e.time is not None)
    assert path.read_bytes() == MAGIC  # delivered: the spool is empty again


def test_one_spool_one_process(tmp_path: Path, free_port) -> None:
    path = tmp_path / "outbox"
    with Client(f"127.0.0.1:{free_port()}", outbox_path=path), pytest.raises(
            RescpError, match="in use"):
        Client(f"127.0.0.1:{free_port()}", outbox_path=path)


def test_a_torn_tail_is_cut_off_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "outbox"
    spool = Spool(path)
    spool.load()
    kept = [report_request(ValueError(f"kept {i}")).SerializeToString() for i in range(2)]
    for payload in kept:
        spool.put(payload)
    spool.take(kept[:1], kept[1:], len(kept[1]))
    spool.close()
    with open(path, "ab") as torn:
        torn.write(b"P\x00\x00\x01\x00")  # a frame header cut short by a crash
    size = os.path.getsize(path)
    spool = Spool(path)
    assert spool.load() == kept[1:]
    spool.close()
    assert os.path.getsize(path) == size - 5


def test_the_error_of_a_lost_record_is_kept(make_api, config: Config, free_port) -> None:
    port = free_port()
    api: Api = make_api(f"127.0.0.1:{port}", timeout=1.0)
    server = ServerThread(config, port=port).start()

    def fail_after_rescp_stops() -> None:
        server.stop()
        raise ConnectionError("failed as rescp stopped")

    with pytest.raises(ConnectionError):
        api.guarded(fail_after_rescp_stops, breaker="dydx_api")  # admitted; its Record fails
    assert api.run(api.client.flush(0.5)) is False and api.client.queued_reports == 1
    with ServerThread(config, port=port):
        assert api.run(api.client.flush(15.0))
        messages = [e.message for e in api.run(api.client.error_summary()).recent_errors]
    assert messages == ["failed as rescp stopped"]


def test_a_report_after_close_is_counted_lost(server: ServerThread) -> None:
    client = Client(server.target)

    def close_then_fail() -> None:
        client.close()  # another thread's doing, say
        raise ConnectionError("failed after the client closed")

    with pytest.raises(ConnectionError), client.guard(breaker="dydx_api"):
        close_then_fail()
    assert client.dropped_reports == 1


def test_a_failing_disk_costs_the_spool_not_the_report(tmp_path: Path, free_port,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    client = Client(f"127.0.0.1:{free_port()}", outbox_path=tmp_path / "outbox", timeout=0.5,
                    close_timeout=0.1)
    spool = client._outbox._spool
    assert spool is not None
    real = spool._file
    spool._file = open("/dev/full", "ab", buffering=0)  # every write: ENOSPC  # noqa: SIM115
    try:
        assert client.report(ValueError("kept in memory")) is None
        assert client.queued_reports == 1 and "spool" in caplog.text
    finally:
        real.close()
        client.close()
    assert client.dropped_reports == 1  # memory only, and the client closed before delivery
