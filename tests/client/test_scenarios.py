"""The scenario suite (clients/scenarios/*.json) played with the blocking `Client`.

The Go and TypeScript clients play the same files with their own runners; the format and the
rules (a fresh `rescp serve` subprocess per scenario, unknown ops and keys fail loudly) are in
clients/scenarios/README.md. Python's client has no bare Allow/Record: an `allow` step enters a
`guard(...)` by hand and the following `record` leaves it, which is the same pair of RPCs.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rescp.testing import free_port
from rescp_client import (
    Admission,
    BreakerOpenError,
    BreakerTransition,
    CallRefused,
    Client,
    ControlPlaneUnavailable,
    RateLimitedError,
)
from tests.support import eventually

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "clients" / "scenarios"
FILES = sorted(SCENARIOS.glob("*.json"))
TOP_KEYS = {"name", "description", "client", "steps"}
CLIENT_KEYS = {"on_unavailable", "allow_timeout_ms"}
CALL_KEYS = {"breaker", "limit", "key", "cost"}


class BodyFailed(Exception):
    """The application error a `"fail"` body raises."""


class Ignored(Exception):
    """Raised out of a hand-entered guard to record OUTCOME_IGNORED."""


def keys(where: str, given: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(given) - allowed
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}"


class ExitedAtStart(AssertionError):
    """The server exited before it was SERVING: on a free port, most likely because another
    process took the port between the probe and the bind."""


class Server:
    """`rescp serve` as a subprocess on a free port, SERVING before it is handed out (another
    port is tried when the first one was taken)."""

    def __init__(self) -> None:
        for attempt in range(3):
            try:
                self._launch(f"127.0.0.1:{free_port()}")
                return
            except ExitedAtStart:
                if attempt == 2:
                    raise

    def _launch(self, target: str) -> None:
        self.target = target
        binary = os.environ.get("RESCP_BIN", str(ROOT / ".venv" / "bin" / "rescp"))
        self.process = subprocess.Popen(
            [binary, "serve", "--store", "memory", "--listen", self.target,
             "--config", str(SCENARIOS / "server.toml"), "--log-level", "error"])
        try:
            self._wait_serving()
        except BaseException:
            self.stop()
            raise

    def _wait_serving(self) -> None:
        deadline = time.monotonic() + 20
        with grpc.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ExitedAtStart(f"rescp serve exited at start (on {self.target})")
                try:
                    answer = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.05)
        raise AssertionError(f"rescp serve on {self.target} never became SERVING")

    def act(self, action: str) -> None:
        signals = {"hang": signal.SIGSTOP, "resume": signal.SIGCONT, "kill": signal.SIGKILL}
        assert action in signals, f"unknown server action {action!r}"
        self.process.send_signal(signals[action])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait(5)


class Player:
    """Plays one scenario's steps with one client."""

    def __init__(self, server: Server, settings: dict[str, Any]) -> None:
        keys("client", settings, CLIENT_KEYS)
        self.server = server
        self.client = Client(server.target,
                             on_unavailable=settings.get("on_unavailable", "allow"),
                             allow_timeout=settings.get("allow_timeout_ms", 50) / 1000)
        self.held: AbstractContextManager[Admission] | None = None
        self.events: queue.Queue[BreakerTransition] = queue.Queue()

    def play(self, step: dict[str, Any]) -> None:
        op = step.get("op")
        handler, allowed = OPS.get(op, (None, set()))
        assert handler is not None, f"unknown op {op!r}"
        keys(str(op), step, allowed | {"op"})
        handler(self, step)

    def put_breaker(self, step: dict[str, Any]) -> None:
        fields = {name.removesuffix("_s"): value for name, value in step["config"].items()}
        self.client.put_breaker(step["name"], **fields)

    def put_limit(self, step: dict[str, Any]) -> None:
        self.client.put_limit(step["name"], max_requests=step["max_requests"],
                              window=step["window_s"], algorithm=step["algorithm"])

    def put_feature(self, step: dict[str, Any]) -> None:
        self.client.put_feature(step["name"], breakers=step["breakers"],
                                degraded_message=step["degraded_message"],
                                fallback_available=step["fallback_available"])

    def transition(self, step: dict[str, Any]) -> None:
        self.client.transition_breaker(step["name"], step["state"])

    def guard(self, step: dict[str, Any]) -> None:
        expect = step["expect"]
        keys("guard.expect", expect, {"result", "retry_after_min_s", "retry_after_max_s",
                                      "max_ms"})
        ran: list[bool] = []
        raised = BodyFailed("scenario body failed")

        def body() -> None:
            ran.append(True)
            if step["body"] == "fail":
                raise raised

        started = time.perf_counter()
        outcome = guarded(self.client, call(step["call"]), body)
        took_ms = (time.perf_counter() - started) * 1000
        check_result(expect, outcome, bool(ran), raised)
        if "max_ms" in expect:
            assert took_ms <= expect["max_ms"], f"took {took_ms:.0f} ms"

    def allow(self, step: dict[str, Any]) -> None:
        expect = step["expect"]
        keys("allow.expect", expect, {"allowed", "verdict", "breaker_state", "remaining",
                                      "retry_after_min_s", "retry_after_max_s"})
        held = self.client.guard(**call(step["call"]), ignore=(Ignored,))
        try:
            admission = held.__enter__()
        except CallRefused as refused:
            self.held = None
            check_refusal(expect, refused)
            return
        self.held = held
        assert expect["allowed"], "allowed, expected a refusal"
        assert expect.get("verdict", "allowed") == "allowed"
        if "breaker_state" in expect:
            assert admission.breaker_state == expect["breaker_state"]
        if "remaining" in expect:
            assert admission.remaining == expect["remaining"]

    def record(self, step: dict[str, Any]) -> None:
        assert self.held is not None, "record: the last allow was not allowed"
        held, self.held = self.held, None
        error = {"success": None, "failure": BodyFailed("recorded failure"),
                 "ignored": Ignored("recorded as ignored")}[step["outcome"]]
        held.__exit__(type(error) if error else None, error, None)

    def report(self, step: dict[str, Any]) -> None:
        expect, options = step["expect"], step["options"]
        keys("report.error", step["error"], {"type", "message"})
        keys("report.options", options, {"operation", "user_id"})
        keys("report.expect", expect, {"category", "severity", "message_contains",
                                       "message_excludes"})
        kind = type(step["error"]["type"], (Exception,), {})
        record = self.client.report(kind(step["error"]["message"]), **options)
        assert (record.category, record.severity) == (expect["category"], expect["severity"])
        for text in expect.get("message_contains", []):
            assert text in record.message, f"{text!r} not in {record.message!r}"
        for text in expect.get("message_excludes", []):
            assert text not in record.message, f"{text!r} in {record.message!r}"

    def breaker_state(self, step: dict[str, Any]) -> None:
        def check() -> None:
            state = self.client.get_breaker(step["name"]).state
            assert state == step["expect"], f"{step['name']} is {state}"

        eventually(check, within=3.0, every=0.02)

    def watch_start(self, step: dict[str, Any]) -> None:
        watch = self.client.watch(types=step["types"])
        started = threading.Event()

        def follow() -> None:
            try:
                for event in watch:
                    started.set()
                    if isinstance(event, BreakerTransition):
                        self.events.put(event)
            except ControlPlaneUnavailable:
                pass  # the client closed

        threading.Thread(target=follow, daemon=True).start()
        eventually(lambda: assert_known(watch.last_sequence), within=5.0)

    def watch_expect(self, step: dict[str, Any]) -> None:
        want = step["event"]
        keys("watch_expect.event", want, {"type", "breaker", "from", "to"})
        assert want["type"] == "breaker_transition", f"unsupported event {want['type']!r}"
        deadline = time.monotonic() + step["within_ms"] / 1000
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            if (event.breaker, event.from_state, event.to_state) == (
                    want["breaker"], want["from"], want["to"]):
                return
        raise AssertionError(f"no {want} within {step['within_ms']} ms")

    def server_step(self, step: dict[str, Any]) -> None:
        self.server.act(step["action"])

    def sleep(self, step: dict[str, Any]) -> None:
        time.sleep(step["ms"] / 1000)


def assert_known(sequence: int | None) -> None:
    assert sequence is not None


def call(spec: dict[str, Any]) -> dict[str, Any]:
    keys("call", spec, CALL_KEYS)
    return dict(spec)


def guarded(client: Client, spec: dict[str, Any], body: Callable[[], None]) -> object:
    """What the guarded call gave: None when it returned, else what it raised."""
    try:
        with client.guard(**spec):
            body()
    except Exception as error:
        return error
    return None


def check_result(expect: dict[str, Any], outcome: object, ran: bool,
                 raised: BaseException) -> None:
    result = expect["result"]
    kinds: dict[str, type[BaseException]] = {"breaker_open": BreakerOpenError,
                                             "rate_limited": RateLimitedError,
                                             "unavailable": ControlPlaneUnavailable}
    if result == "ran":
        assert outcome is None and ran, f"expected ran, got {outcome!r}"
    elif result == "failed":
        assert outcome is raised and ran, f"expected the body's error, got {outcome!r}"
    else:
        assert result in kinds, f"unknown result {result!r}"
        assert isinstance(outcome, kinds[result]), f"expected {result}, got {outcome!r}"
        assert not ran, "the body ran"
        if isinstance(outcome, CallRefused):
            check_retry_after(expect, outcome.retry_after)


def check_refusal(expect: dict[str, Any], refused: CallRefused) -> None:
    verdict = "breaker_open" if isinstance(refused, BreakerOpenError) else "rate_limited"
    assert not expect["allowed"], f"refused ({verdict}), expected allowed"
    assert expect.get("verdict", verdict) == verdict
    if "breaker_state" in expect:
        assert isinstance(refused, BreakerOpenError)
        assert refused.state == expect["breaker_state"]
    check_retry_after(expect, refused.retry_after)


def check_retry_after(expect: dict[str, Any], retry_after: float) -> None:
    low = expect.get("retry_after_min_s", 0.0)
    high = expect.get("retry_after_max_s", float("inf"))
    assert low <= retry_after <= high, f"retry_after {retry_after} not in [{low}, {high}]"


OPS: dict[Any, tuple[Callable[[Player, dict[str, Any]], None], set[str]]] = {
    "put_breaker": (Player.put_breaker, {"name", "config"}),
    "put_limit": (Player.put_limit, {"name", "algorithm", "max_requests", "window_s"}),
    "put_feature": (Player.put_feature, {"name", "breakers", "degraded_message",
                                         "fallback_available"}),
    "transition": (Player.transition, {"name", "state"}),
    "guard": (Player.guard, {"call", "body", "expect"}),
    "allow": (Player.allow, {"call", "expect"}),
    "record": (Player.record, {"breaker", "outcome"}),
    "report": (Player.report, {"error", "options", "expect"}),
    "breaker_state": (Player.breaker_state, {"name", "expect"}),
    "watch_start": (Player.watch_start, {"types"}),
    "watch_expect": (Player.watch_expect, {"within_ms", "event"}),
    "server": (Player.server_step, {"action"}),
    "sleep": (Player.sleep, {"ms"}),
}


@contextmanager
def running() -> Iterator[Server]:
    server = Server()
    try:
        yield server
    finally:
        server.stop()


def test_the_suite_is_there() -> None:
    assert len(FILES) >= 10, f"scenarios missing from {SCENARIOS}"


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario(path: Path) -> None:
    scenario = json.loads(path.read_text())
    keys(path.name, scenario, TOP_KEYS)
    assert scenario["name"] == path.stem, "a scenario's name is its file's name"
    with running() as server:
        player = Player(server, scenario.get("client", {}))
        try:
            for index, step in enumerate(scenario["steps"]):
                try:
                    player.play(step)
                except AssertionError as failure:
                    raise AssertionError(f"{path.name} step {index} ({step}): {failure}") from None
        finally:
            player.client.close()
