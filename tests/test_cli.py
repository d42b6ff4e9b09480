"""`rescp status` and `rescp watch` as an operator runs them (`python -m rescp` in a subprocess,
against a real server on loopback), and the pure formatting behind them."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from rescp import console_format as fmt
from rescp.config import Config
from rescp.testing import ServerThread, free_port
from rescp_client import (
    AffectedFeature,
    Breaker,
    BreakerConfig,
    BreakerState,
    BreakerTransition,
    Client,
    Degradation,
    DegradationChange,
    HealthChange,
    Limit,
    Notification,
    NotificationEvent,
    RateLimitExceeded,
    RecoveryAction,
    Snapshot,
    SystemHealth,
)
from tests.support import eventually

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def rescp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rescp", *args], capture_output=True,
                          text=True, timeout=30, check=False)


@pytest.fixture
def client(server: ServerThread) -> Iterator[Client]:
    with Client(server.target) as made:
        yield made


class Watching:
    """`rescp watch ...` in a subprocess, its output read line by line as it comes."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rescp", "watch", *args], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None and self.process.stderr is not None
        self._pumps = [threading.Thread(target=self._pump, args=pipe, daemon=True) for pipe in
                       ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr))]
        for pump in self._pumps:
            pump.start()

    @staticmethod
    def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    def line(self, within: float = 10.0) -> str:
        return self.stdout.get(timeout=within)

    def stop(self, how: signal.Signals = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(how)
        status = self.process.wait(10)
        for pump in self._pumps:
            pump.join(5)
        for pipe in (self.process.stdout, self.process.stderr):
            assert pipe is not None
            pipe.close()
        return status


@pytest.fixture
def watching() -> Iterator[Callable[..., Watching]]:
    started: list[Watching] = []

    def start(*args: str) -> Watching:
        started.append(Watching(*args))
        return started[-1]

    yield start
    for run in started:
        if run.process.poll() is None:
            run.process.kill()
        run.stop()


def subscribed(server: ServerThread) -> None:
    eventually(lambda: _subscribers(server, 1), within=10.0)


# status


def test_status_prints_aligned_tables(server: ServerThread, client: Client) -> None:
    client.transition_breaker("websocket", "forced_open")
    result = rescp("status", "--target", server.target)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    breakers = lines[:lines.index("")]
    assert breakers[0].split() == ["BREAKER", "STATE", "FAILURES", "SUCCESSES", "FAILURE",
                                   "RATE", "SLOW", "CALLS", "LAST", "FAILURE", "SINCE"]
    assert [line.split()[:4] for line in breakers[1:]] == [
        ["dydx_api", "closed", "0", "0"], ["orders_db", "closed", "0", "0"],
        ["websocket", "forced_open", "0", "0"]]
    assert len({line.index(line.split()[1]) for line in breakers}) == 1  # one STATE column
    assert re.search(r"^api +sliding_window +100 +60s$", result.stdout, re.M)
    assert re.search(r"^warning +0 +0 +1 +3$", result.stdout, re.M)  # health; sequence 3
    assert re.search(r"^yes +websocket +yes$", result.stdout, re.M)  # degraded
    assert re.search(r"^real_time_updates +degraded +Real-time updates \(using polling "
                     r"fallback\)$", result.stdout, re.M)


def test_status_of_an_unreachable_server_is_one_line_and_status_1() -> None:
    target = f"127.0.0.1:{free_port()}"
    result = rescp("status", "--target", target, "--timeout", "0.3")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"rescp: cannot reach rescp at {target}: ")
    assert result.stderr.count("\n") == 1


# watch


def test_watch_prints_json_lines_and_ends_on_sigterm(
        server: ServerThread, client: Client, watching: Callable[..., Watching]) -> None:
    run = watching("--json", "--target", server.target)
    subscribed(server)
    client.transition_breaker("websocket", "forced_open")
    lines = [json.loads(run.line()) for _ in range(3)]
    assert [(line["type"], line["sequence"]) for line in lines] == [
        ("breaker_transition", 1), ("degradation_change", 2), ("health_change", 3)]
    assert lines[0] | {"time": 0} == {
        "type": "breaker_transition", "sequence": 1, "time": 0, "breaker": "websocket",
        "from_state": "closed", "to_state": "forced_open", "reason": "manual"}
    assert lines[1]["affected_features"][0]["feature"] == "real_time_updates"
    assert run.stop(signal.SIGTERM) == 0
    assert run.stdout.empty()


def test_watch_prints_readable_lines_filtered_and_ends_on_ctrl_c(
        server: ServerThread, client: Client, watching: Callable[..., Watching]) -> None:
    run = watching("--types", "breaker_transition,notification", "--min-severity", "high",
                   "--target", server.target)
    subscribed(server)
    client.report(ValueError("low, skipped"))
    client.report(ConnectionError("refused"))
    client.transition_breaker("dydx_api", "forced_open")
    assert re.fullmatch(rf"#2 {ISO} notification high NETWORK Error: .+", run.line())
    assert re.fullmatch(rf"#3 {ISO} breaker dydx_api closed -> forced_open \(manual\)",
                        run.line())
    assert run.stop(signal.SIGINT) == 0
    assert run.stdout.empty()


def test_watch_keeps_retrying_until_the_server_is_up(
        config: Config, watching: Callable[..., Watching]) -> None:
    port = free_port()
    run = watching("--target", f"127.0.0.1:{port}")
    assert run.stderr.get(timeout=10) == f"rescp: watching 127.0.0.1:{port}; Ctrl-C to stop"
    complaint = run.stderr.get(timeout=10)
    assert "UNAVAILABLE" in complaint and "retrying in" in complaint
    with ServerThread(config, port=port) as server, Client(server.target) as client:
        subscribed(server)
        client.transition_breaker("websocket", "forced_open")
        assert " breaker websocket closed -> forced_open (manual)" in run.line()
        assert run.stop() == 0


def test_watch_refuses_a_bad_type_with_status_2() -> None:
    result = rescp("watch", "--types", "breaker_transition,nope", "--target", "127.0.0.1:1")
    assert result.returncode == 2 and result.stdout == ""
    assert "types[1]" in result.stderr


def test_the_server_side_never_imports_the_client() -> None:
    script = ("import sys\n"
              "import rescp.cli, rescp.server.app\n"
              "assert 'rescp_client' not in sys.modules\n"
              "sys.modules['rescp_client'] = None  # as if it were not installed\n"
              "sys.exit(rescp.cli.main(['status', '--target', '127.0.0.1:1']))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 1
    assert "`rescp status` needs the Python client: pip install rescp-client" in result.stderr


# formatting, pure

NOW = 1_795_000_000.123
BREAKER = Breaker("dydx_api", BreakerConfig(5, 0, 0, 0, "count", 100, 10, 60, 1),
                  BreakerState.OPEN, 5, 0, NOW, NOW, 50.0, None)
DEGRADED = Degradation(True, ("dydx_api",), (AffectedFeature("trading", "unavailable",
                                                             "Trading is down"),), False, 9)


def test_iso_times_are_utc_with_milliseconds() -> None:
    assert fmt.iso(0.0) == "1970-01-01T00:00:00.000Z"
    assert fmt.iso(NOW) == "2026-11-18T11:06:40.123Z"
    assert fmt.iso(None) == "-"


def test_event_lines() -> None:
    note = Notification("e1", "NETWORK Error", "Try again", "high", NOW,
                        RecoveryAction("retry", "retry"))
    assert [fmt.event_line(e) for e in (
        BreakerTransition(42, NOW, "dydx_api", BreakerState.CLOSED, BreakerState.OPEN,
                          "consecutive_failures"),
        NotificationEvent(43, NOW, note),
        DegradationChange(44, NOW, True, ("dydx_api",), DEGRADED.affected_features),
        DegradationChange(45, NOW, False, (), ()),
        HealthChange(46, NOW, "healthy", "warning"),
        RateLimitExceeded(47, NOW, "api", "user_1", 0.5, 3),
    )] == [
        "#42 2026-11-18T11:06:40.123Z breaker dydx_api closed -> open (consecutive_failures)",
        "#43 2026-11-18T11:06:40.123Z notification high NETWORK Error: Try again",
        "#44 2026-11-18T11:06:40.123Z degradation degraded: dydx_api open; trading unavailable",
        "#45 2026-11-18T11:06:40.123Z degradation recovered",
        "#46 2026-11-18T11:06:40.123Z health healthy -> warning",
        "#47 2026-11-18T11:06:40.123Z rate_limit api key 'user_1' refused 3, retry in 0.500s",
    ]


def test_snapshot_line_and_json() -> None:
    health = SystemHealth("warning", 0, 0, 1, (BREAKER,), 9)
    snapshot = Snapshot(9, (BREAKER,), health, DEGRADED)
    assert fmt.event_line(snapshot) == (
        "#9 snapshot health warning; breakers dydx_api open; "
        "degradation dydx_api open; trading unavailable")
    data = json.loads(fmt.event_json(snapshot))
    assert (data["type"], data["sequence"], data["health"]["health"]) == ("snapshot", 9,
                                                                           "warning")
    assert data["breakers"][0]["state"] == "open" and data["breakers"][0]["slow_call_rate"] is None


def test_status_report_tables() -> None:
    health = SystemHealth("warning", 2, 0, 1, (BREAKER,), 9)
    report = fmt.status_report([BREAKER], [], health, DEGRADED)
    assert report.split("\n\n") == [
        "BREAKER   STATE  FAILURES  SUCCESSES  FAILURE RATE  SLOW CALLS  LAST FAILURE"
        "              SINCE\n"
        "dydx_api  open   5         0          50.0%         -           "
        "2026-11-18T11:06:40.123Z  2026-11-18T11:06:40.123Z",
        "LIMIT  ALGORITHM  MAX REQUESTS  WINDOW\n(none)",
        "HEALTH   ERRORS  CRITICAL ERRORS  OPEN CIRCUITS  SEQUENCE\n"
        "warning  2       0                1              9",
        "DEGRADED  OPEN CIRCUITS  FALLBACK AVAILABLE\n"
        "yes       dydx_api       no",
        "FEATURE  STATUS       MESSAGE\n"
        "trading  unavailable  Trading is down",
    ]
    assert fmt.limits_table([Limit("api", 100, 0.5, "token_bucket")])[1].split() == [
        "api", "token_bucket", "100", "0.5s"]


def _subscribers(server: ServerThread, count: int) -> None:
    assert server.running.plane.events.subscribers == count


def test_serve_refuses_a_bad_setting_with_status_2_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[events]\nmax_events = 100\n[errors]\nhistory = 0\n")
    result = rescp("serve", "--config", str(bad), "--listen", "127.0.0.1:0")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "events.max_lag" in result.stderr and "errors.history" in result.stderr
