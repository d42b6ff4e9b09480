"""A real redis-server on a free loopback port, for tests of the Redis store (and of several
replicas sharing one): started by the test, stopped by it, paused and killed on demand.

    with RedisServer() as redis:
        ServerThread(config, store=redis.url)

The `redis_server` fixture gives one per test, skipped (with the reason) when redis-server is
not installed; .ci/run installs it.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from rescp.config import Config
from rescp.testing import free_port

REDIS_SERVER = shutil.which("redis-server")


class RedisServer:
    """One redis-server process; `restart()` brings it back on the same port (with what it
    saved when `persist` is set: an append-only file in its own directory)."""

    def __init__(self, port: int = 0, persist: bool = False,
                 password: str | None = None) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed")
        self.port = port or free_port()
        self.password = password
        self._persist = persist
        self._dir = tempfile.TemporaryDirectory(prefix="rescp-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis://[:password@]127.0.0.1:PORT/0, what --store takes."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def _args(self) -> list[str]:
        assert REDIS_SERVER is not None
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self._dir.name, "--save", "", "--daemonize", "no",
                "--loglevel", "warning", "--logfile", str(Path(self._dir.name) / "redis.log")]
        if self._persist:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]  # outlives a kill -9
        else:
            args += ["--appendonly", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        return args

    def start(self, within: float = 10.0) -> RedisServer:
        self.proc = subprocess.Popen(self._args(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + within
        while not self._answers():
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited: {self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"redis-server did not answer in {within} s")
            time.sleep(0.01)
        return self

    def _answers(self) -> bool:
        """PING answered (a loading server answers -LOADING, which is not yet up)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                if self.password:
                    conn.sendall(f"AUTH {self.password}\r\n".encode())
                    conn.recv(64)
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def log(self) -> str:
        path = Path(self._dir.name) / "redis.log"
        return path.read_text() if path.exists() else ""

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung server)."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None and self.proc.poll() is None, "not running"
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL (after SIGCONT, so a paused server dies too) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> RedisServer:
        """Kill it and start it again on the same port."""
        self.kill()
        return self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def patient(config: Config, timeout: float = 1.0) -> Config:
    """`config` with a Redis timeout that a loaded test machine never reaches: for tests that
    are not about the timeout (the default, 20 ms, is what production wants)."""
    return replace(config, server=replace(config.server, redis_timeout=timeout))


def needs_redis() -> None:
    """Skip the calling test, with the reason, when redis-server is absent."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server for one test."""
    needs_redis()
    with RedisServer() as server:
        yield server
