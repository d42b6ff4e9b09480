"""`rescp serve --workers 2` as an operator runs it: two processes answering on one gRPC port and
one HTTP port, SIGTERM stopping all of them, a dead worker stopping the rest, and the ports
shared with nobody else. On Redis through the real CLI; and on memory stores through
tests/replicas/memory_workers.py, so the process machinery is tested without Redis too (what
only the machinery decides, SIGINT and the ports, runs there alone)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from rescp._proto import guard_pb2 as g
from rescp.testing import free_port
from tests.server.conftest import Stubs
from tests.store.processes import RESCP, Server, refused
from tests.support import eventually

ALLOWS_OK = r'grpc_server_handled_total\{grpc_code="OK",grpc_method="Allow"[^}]*\} (\S+)'
MEMORY_WORKERS = (sys.executable, str(Path(__file__).with_name("memory_workers.py")))


class Workers:
    """A `rescp serve --workers 2` parent, its gRPC target and its HTTP URL."""

    def __init__(self, store: str, rescp: tuple[str, ...]) -> None:
        http = f"127.0.0.1:{free_port()}"
        self.url = f"http://{http}"
        self.parent = Server(store, "--workers", "2", "--http-listen", http, rescp=rescp)

    def pids(self) -> dict[int, str]:
        return answering(self.url)


def answering(url: str) -> dict[int, str]:
    """Each of two workers' pid and its /metrics, scraped over fresh connections until both
    have answered (a starting worker refuses, or answers 503 until its store is reachable)."""
    seen: dict[int, str] = {}

    def both() -> None:
        try:
            with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
                text = response.read().decode()
        except urllib.error.URLError as error:  # not listening yet, or 503
            raise AssertionError(f"/metrics: {error}") from None
        seen[int(_sample(text, r'rescp_process_info\{pid="(\d+)"\}', "pid"))] = text
        assert len(seen) == 2

    eventually(both, within=20)
    return seen


def _sample(text: str, pattern: str, what: str) -> str:
    found = re.search(pattern, text)
    assert found is not None, f"no {what} in the metrics"
    return found.group(1)


BOTH = pytest.mark.parametrize("workers", ["memory", "redis"], indirect=True)
MEMORY = pytest.mark.parametrize("workers", ["memory"], indirect=True)
"""What the machinery alone decides (signals, ports) runs on memory stores only."""


@pytest.fixture
def workers(request: pytest.FixtureRequest) -> Iterator[Workers]:
    if request.param == "redis":
        made = Workers(request.getfixturevalue("redis_url"), RESCP)
    else:
        made = Workers("memory", MEMORY_WORKERS)
    try:
        yield made
    finally:
        made.parent.kill()


def fresh_channel(target: str) -> grpc.Channel:
    """A channel with a TCP connection of its own (channels in one process share connections
    to the same target by default), so the kernel picks a worker for it."""
    return grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


@BOTH
def test_both_workers_answer_on_the_one_grpc_and_http_port(workers: Workers) -> None:
    calls = 40
    for _ in range(calls):
        with fresh_channel(workers.parent.target) as channel:
            assert Stubs(channel).Allow(g.AllowRequest(breaker="b"), timeout=5).allowed
    allows = {pid: int(float(_sample(text, ALLOWS_OK, "Allow count")))
              for pid, text in workers.pids().items()}
    assert all(parent_of(pid) == workers.parent.pid for pid in allows)
    assert sum(allows.values()) == calls and all(allows.values()), allows


@BOTH
def test_sigterm_stops_every_worker_and_the_parent_exits_0(workers: Workers) -> None:
    stops_every_worker(workers, signal.SIGTERM)


@MEMORY
def test_sigint_stops_every_worker_and_the_parent_exits_0(workers: Workers) -> None:
    stops_every_worker(workers, signal.SIGINT)


def stops_every_worker(workers: Workers, sig: signal.Signals) -> None:
    pids = workers.pids()
    workers.parent.proc.send_signal(sig)
    assert workers.parent.proc.wait(20) == 0
    assert not any(alive(pid) for pid in pids)


@BOTH
def test_a_worker_that_dies_stops_the_other_and_the_parent_exits_1(workers: Workers) -> None:
    killed, other = workers.pids()
    os.kill(killed, signal.SIGKILL)
    assert workers.parent.proc.wait(20) == 1
    assert f"(pid {killed}) was killed by SIGKILL; stopping the others" in workers.parent.stderr()
    assert not alive(other)


@MEMORY
def test_the_ports_are_shared_with_no_other_server(workers: Workers) -> None:
    grpc_port = ("--listen", workers.parent.target)
    http_port = ("--http-listen", workers.url.removeprefix("http://"))
    lone = refused("memory", *grpc_port)  # one worker: grpc.so_reuseport stays 0
    assert lone.returncode == 1 and "cannot listen on" in lone.stderr
    lone_http = refused("memory", *http_port)
    assert lone_http.returncode == 1 and "(HTTP): Address already in use" in lone_http.stderr
    more = refused("memory", "--workers", "2", *grpc_port, rescp=MEMORY_WORKERS)
    assert more.returncode == 1
    assert "cannot listen on" in more.stderr and "(gRPC): Address already in use" in more.stderr
    workers.pids()  # still serving


@pytest.mark.parametrize("store", ["memory", "sqlite", "sqlite:rescp.db"])
def test_workers_without_a_shared_store_exit_2_naming_the_reason(store: str) -> None:
    result = refused(store, "--workers", "2")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "workers: 2 workers need a shared store (redis:// or rediss://)" in result.stderr


def test_workers_out_of_range_exit_2() -> None:
    for count in ("0", "257"):
        result = refused("memory", "--workers", count)
        assert result.returncode == 2 and "must be 1 to 256" in result.stderr


def test_port_0_is_one_port_every_worker_shares() -> None:
    proc = subprocess.Popen(
        [*MEMORY_WORKERS, "serve", "--workers", "2", "--store", "memory", "--log-level", "info",
         "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stderr is not None
        started = re.compile(r"2 workers \(pids \d+, \d+\) on (127\.0\.0\.1:\d+), "
                             r"HTTP on (127\.0\.0\.1:\d+)")
        while not (found := started.search(proc.stderr.readline())):
            assert proc.poll() is None, "the server exited"
        target, http = found.groups()
        assert not target.endswith(":0") and not http.endswith(":0")
        answering(f"http://{http}")
        with fresh_channel(target) as channel:
            Stubs(channel).Allow(g.AllowRequest(breaker="b"), timeout=10)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()


def test_the_config_file_sets_workers_too(tmp_path: Path) -> None:
    config = tmp_path / "rescp.toml"
    config.write_text('[server]\nworkers = 3\nstore = "memory"\n')
    result = refused("memory", "--config", str(config))
    assert result.returncode == 2 and "workers: 3 workers need a shared store" in result.stderr
    config.write_text("[server]\nworkers = 0\n")
    assert "server.workers: must be 1 to 256" in refused("memory", "--config", str(config)).stderr
