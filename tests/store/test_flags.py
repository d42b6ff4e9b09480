"""`rescp serve`'s store flags: the default file under --data-dir, bad values refused with exit
status 2, and --store-failure-mode deciding what Allow answers while the store cannot."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from rescp.clock import SystemClock
from rescp.enums import Verdict
from rescp.errors import RescpError, StoreUnavailable
from rescp.events import EventLog
from rescp.plane import ControlPlane
from rescp.store.base import AllowItem, AllowResult, Applied
from rescp.store.memory import MemoryStore
from rescp.testing import free_port
from tests.server.test_lifecycle import wait_serving


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rescp", "serve", "--http-listen", "off", *args],
                          capture_output=True, text=True, timeout=30, check=False)


def test_the_default_store_is_rescp_db_in_the_data_dir(tmp_path: Path) -> None:
    target = f"127.0.0.1:{free_port()}"
    data = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "rescp", "serve", "--listen", target,
                             "--http-listen", "off", "--data-dir", str(data)],
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_serving(target)
        assert (data / "rescp.db").is_file()
        assert (data / "rescp.db.lock").read_text() == str(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr


def test_a_data_dir_that_cannot_be_made_is_a_clear_error_with_status_1(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    result = serve("--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(blocker))
    assert result.returncode == 1 and f"cannot use {blocker}" in result.stderr
    assert "Traceback" not in result.stderr and blocker.read_text() == "not a directory"


@pytest.mark.parametrize(("args", "named"), [
    (["--store", "postgres://x"], "'postgres://x' is not a store"),
    (["--store", "sqlite:"], "is not a store"),
    (["--store-failure-mode", "maybe"], "--store-failure-mode"),
    (["--store", "redis://"], "names no host"),
    (["--store", "redis://h:port/0"], "port must be a number"),
    (["--store", "redis://h:6379/zero"], "database must be a number"),
    (["--store", "rediss://h:6379/0?timeout=1"], "no query"),
])
def test_bad_store_flags_exit_2_naming_the_problem(args: list[str], named: str) -> None:
    result = serve("--listen", "127.0.0.1:0", *args)
    assert result.returncode == 2 and named in result.stderr
    assert "Traceback" not in result.stderr


class UnreachableStore(MemoryStore):
    """A backend whose every Allow fails at the boundary, as an unreachable Redis does."""

    async def allow(self, items: Sequence[AllowItem],
                    now: float) -> Applied[list[AllowResult | RescpError]]:
        raise StoreUnavailable("the store is unreachable")


@pytest.mark.parametrize(("allow", "verdict"), [(True, Verdict.ALLOWED),
                                                (False, Verdict.BREAKER_OPEN)])
def test_allow_follows_the_store_failure_mode(allow: bool, verdict: Verdict) -> None:
    async def scenario() -> AllowResult:
        clock = SystemClock()
        plane = ControlPlane(UnreachableStore(EventLog(), clock), clock,
                             allow_on_store_failure=allow)
        try:
            return await plane.allow("b", "", "", 1)
        finally:
            await plane.stop()
    result = asyncio.run(scenario())
    assert (result.allowed, result.verdict) == (allow, verdict)
