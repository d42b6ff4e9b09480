"""`rescp serve` on SQLite as a real process, for tests that kill it, limit its disk or start a
second one beside it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc

from rescp.testing import free_port
from tests.server.conftest import Stubs
from tests.server.test_lifecycle import wait_serving


def serve_args(db: Path, target: str) -> list[str]:
    return [sys.executable, "-m", "rescp", "serve", "--listen", target, "--http-listen", "off",
            "--store", f"sqlite:{db}", "--log-level", "error"]


class Server:
    """One server process on `db` and a free port; `kill()` is SIGKILL, `stop()` SIGTERM."""

    def __init__(self, db: Path) -> None:
        self.target = f"127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen(serve_args(db, self.target), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        try:
            self._wait_listening()
            wait_serving(self.target)
        except BaseException:
            self.kill()
            raise

    def _wait_listening(self, within: float = 30.0) -> None:
        """Poll the port itself: a gRPC channel refused early would back off for seconds."""
        host, port = self.target.split(":")
        deadline = time.monotonic() + within
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited: {self.proc.communicate()[1]}")
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()  # unless a test has killed it already

    @contextmanager
    def stubs(self) -> Iterator[Stubs]:
        with grpc.insecure_channel(self.target) as channel:
            yield Stubs(channel)

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def _end(self, sig: signal.Signals) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(15)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def refused(db: Path) -> subprocess.CompletedProcess[str]:
    """`rescp serve` on `db` run to its end: for files it must refuse."""
    return subprocess.run(serve_args(db, f"127.0.0.1:{free_port()}"), capture_output=True,
                          text=True, timeout=30, check=False)
