"""The HTTP listener's life: served by `rescp serve` beside gRPC, /healthz through a graceful
shutdown, event streams ended by it, and a clear error for a port in use."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import grpc
import httpx
import pytest

from rescp.testing import ServerThread, free_port
from tests.server.test_lifecycle import SLOW, run_cli, slow_service, wait_serving
from tests.support import EXAMPLE, eventually


def test_healthz_goes_503_during_the_grace_period_and_streams_end() -> None:
    server = ServerThread(extra=slow_service, http=True).start()
    try:
        url = server.http_url
        with grpc.insecure_channel(server.target) as channel, \
                httpx.Client(base_url=url, timeout=10) as http, \
                http.stream("GET", "/api/events") as events:
            assert http.get("/healthz").status_code == 200
            in_flight = channel.unary_unary(SLOW).future(b"", timeout=10)
            time.sleep(0.1)
            stopping = threading.Thread(target=server.stop, kwargs={"grace": 5.0})
            stopping.start()

            def not_serving() -> None:
                response = http.get("/healthz")
                assert (response.status_code, response.json()) == (
                    503, {"status": "NOT_SERVING"})

            eventually(not_serving)
            assert list(events.iter_lines()) == ["retry: 2000", ""]  # ended, not hung
            assert in_flight.result() == b"done"
            stopping.join(10)
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/healthz", timeout=2)
    finally:
        server.stop()


def test_rescp_serve_serves_http_and_stops_on_sigterm() -> None:
    target, http_port = f"127.0.0.1:{free_port()}", free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rescp", "serve", "--listen", target, "--http-listen",
         f"127.0.0.1:{http_port}", "--config", str(EXAMPLE)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_serving(target)
        url = f"http://127.0.0.1:{http_port}"
        assert httpx.get(url + "/healthz", timeout=5).status_code == 200
        breakers = httpx.get(url + "/api/errors/circuit-breakers", timeout=5).json()
        assert set(breakers["circuit_breakers"]) == {"dydx_api", "websocket", "orders_db"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    assert proc.stdout is not None
    output = proc.stdout.read()
    proc.stdout.close()
    assert "Traceback" not in output and "stopped" in output


@pytest.mark.parametrize(("listen", "status"), [
    ("taken", 1), ("nonsense", 2), ("127.0.0.1:99999", 2)])  # cannot start: 1; usage: 2
def test_a_bad_or_busy_http_listen_is_a_clear_error(listen: str, status: int) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        if listen == "taken":
            listen = f"127.0.0.1:{taken.getsockname()[1]}"
        result = run_cli("serve", "--listen", f"127.0.0.1:{free_port()}", "--store", "memory",
                         "--http-listen", listen)
    assert result.returncode == status
    assert "HTTP" in result.stderr or "--http-listen" in result.stderr
    assert "Traceback" not in result.stderr
