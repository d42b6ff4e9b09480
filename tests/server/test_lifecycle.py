"""`python -m rescp serve` as a real process: start-up, config errors, graceful SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rescp._proto import admin_pb2 as a
from rescp._proto import events_pb2 as e
from rescp.testing import ServerThread, free_port
from tests.server.conftest import Stubs
from tests.support import EXAMPLE


def wait_serving(target: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@pytest.fixture
def process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    target = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rescp", "serve", "--listen", target, "--http-listen", "off",
         "--config", str(EXAMPLE), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_serving(target)
        yield proc, target
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_shuts_down_gracefully(process: tuple[subprocess.Popen[str], str],
                                      sig: signal.Signals) -> None:
    proc, target = process
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        assert next(health).status == health_pb2.HealthCheckResponse.SERVING
        events = Stubs(channel).Watch(e.WatchRequest())
        events.initial_metadata()  # subscribed before the signal
        proc.send_signal(sig)
        assert next(health).status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.RpcError) as caught:
            next(events)
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        assert proc.wait(10) == 0
    assert proc.stdout is not None
    output = proc.stdout.read()
    assert "Traceback" not in output and "stopped" in output


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rescp", *args], capture_output=True,
                          text=True, timeout=30, check=False)


def test_invalid_config_is_reported_with_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[breakers.x]\nfailure_treshold = 3\nrecovery_timeout = -1\n'
                   '[limits.l]\nmax_requests = "many"\nwindow = 1\n')
    result = run_cli("serve", "--config", str(bad), "--listen", "127.0.0.1:0")
    assert result.returncode == 2
    for expected in ("breakers.x.failure_treshold: unknown key", "breakers.x.recovery_timeout",
                     "limits.l.max_requests: expected an integer"):
        assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error_with_status_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--listen", f"127.0.0.1:{port}", "--http-listen", "off",
                         "--data-dir", str(tmp_path))
    assert result.returncode == 1 and "cannot listen on" in result.stderr


SLOW = "/rescp.test.Slow/Sleep"


def slow_service(plane: object) -> list[grpc.GenericRpcHandler]:
    """A method that takes 0.5 s, to have an RPC in flight when the server stops."""
    async def sleep(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        await asyncio.sleep(0.5)
        return b"done"

    return [grpc.method_handlers_generic_handler("rescp.test.Slow", {
        "Sleep": grpc.unary_unary_rpc_method_handler(sleep)})]


def test_stopping_finishes_in_flight_rpcs_and_takes_no_new_ones() -> None:
    server = ServerThread(extra=slow_service).start()
    try:
        with grpc.insecure_channel(server.target) as channel:
            in_flight = channel.unary_unary(SLOW).future(b"", timeout=10)
            time.sleep(0.1)  # it has reached the server
            stopping = threading.Thread(target=server.stop, kwargs={"grace": 5.0})
            stopping.start()
            time.sleep(0.1)
            with pytest.raises(grpc.RpcError) as caught:
                Stubs(channel).GetSystemHealth(a.GetSystemHealthRequest(), timeout=2)
            assert caught.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
            assert in_flight.result() == b"done"  # finished within the grace period
            stopping.join(10)
    finally:
        server.stop()
