"""The client's packaging and public surface, and the generation of its blocking flavour."""

from __future__ import annotations

import importlib.util
import inspect
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

import rescp_client

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"

EXPORTS = [
    "Admission", "AffectedFeature", "AsyncBreakerHandle", "AsyncClient", "AsyncGuard",
    "AsyncLimiter", "AsyncWatch", "Breaker", "BreakerConfig", "BreakerDeleted", "BreakerHandle",
    "BreakerOpenError", "BreakerState", "BreakerStatus", "BreakerTransition", "CallRefused",
    "Classification", "Client", "ControlPlaneUnavailable", "Degradation", "DegradationChange",
    "ErrorRecord", "ErrorSummary", "Feature", "FieldViolation", "Guard", "HealthChange",
    "InvalidArgumentError", "Limit", "LimitStatus", "Limiter", "NotFoundError", "Notification",
    "NotificationEvent", "NotificationList", "RateLimitExceeded", "RateLimitedError",
    "RecoveryAction", "RescpError", "Snapshot", "StatusError", "SystemHealth", "Watch",
    "WatchEvent",
]


def test_public_exports_are_pinned() -> None:
    assert rescp_client.__all__ == EXPORTS
    for name in EXPORTS:
        assert getattr(rescp_client, name) is not None


def test_errors_share_one_base() -> None:
    for name in ("BreakerOpenError", "RateLimitedError", "ControlPlaneUnavailable",
                 "InvalidArgumentError", "NotFoundError", "StatusError", "CallRefused"):
        assert issubclass(getattr(rescp_client, name), rescp_client.RescpError)


def test_both_flavours_have_the_same_methods() -> None:
    sync, aio = rescp_client.Client, rescp_client.AsyncClient
    public = {n for n in dir(sync) if not n.startswith("_")}
    assert public == {n for n in dir(aio) if not n.startswith("_")}
    for name in public - {"dropped_records", "pending_records", "misconfigured_calls",
                          "dropped_reports", "queued_reports", "guard", "breaker", "limiter",
                          "watch"}:
        assert inspect.iscoroutinefunction(getattr(aio, name)), name
        assert not inspect.iscoroutinefunction(getattr(sync, name)), name


def test_watches_iterate_in_their_flavour() -> None:
    for name in ("__aiter__", "__anext__", "aclose", "__aenter__", "__aexit__"):
        assert hasattr(rescp_client.AsyncWatch, name), name
    for name in ("__iter__", "__next__", "close", "__enter__", "__exit__"):
        assert hasattr(rescp_client.Watch, name), name
    assert inspect.iscoroutinefunction(rescp_client.AsyncWatch.__anext__)
    assert not inspect.iscoroutinefunction(rescp_client.Watch.__next__)
    event_types = {cls.type for cls in (
        rescp_client.BreakerTransition, rescp_client.NotificationEvent,
        rescp_client.DegradationChange, rescp_client.HealthChange,
        rescp_client.RateLimitExceeded)}
    assert event_types == {"breaker_transition", "notification", "degradation_change",
                           "health_change", "rate_limit_exceeded"}


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="on_unavailable"):
        rescp_client.Client("127.0.0.1:1", on_unavailable="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="allow_timeout"):
        rescp_client.AsyncClient("127.0.0.1:1", allow_timeout=0)


def test_runtime_dependencies_are_grpc_and_protobuf_only() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "rescp-client"
    assert project["dependencies"] == [
        "grpcio>=1.85.0", "protobuf>=7.35.1,<8", "grpcio-status>=1.85.0"]


def _unasync_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", ROOT / "scripts" / "unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_sync_flavour_is_what_unasync_generates() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "unasync.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_unasync_rewrites_the_async_idioms() -> None:
    source = ("async def get(self) -> Awaitable[Breaker]:\n"
              "    async with AsyncGuard(grpc.aio.Channel):\n"
              "        return await self.call_async()\n")
    assert _unasync_script().unasync(source, set()) == (
        "def get(self) -> Breaker:\n"
        "    with Guard(grpc.Channel):\n"
        "        return self.call()\n")


def test_unasync_check_fails_on_a_stale_sync_file(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    script = _unasync_script()
    target = tmp_path / "_sync"
    shutil.copytree(script.TARGET, target)
    monkeypatch.setattr(script, "TARGET", target)
    monkeypatch.setattr(sys, "argv", ["unasync.py", "--check"])
    assert script.main() == 0
    (target / "client.py").write_text((target / "client.py").read_text() + "# edited\n")
    (target / "leftover.py").write_text("")
    assert script.main() == 1
    assert "client.py" in capsys.readouterr().out
    assert script.stale(script.generate()[0]) == ["client.py", "leftover.py"]
