"""`rescp serve` as a real process, for tests that kill it, limit its disk, start a second one
beside it, or run several on one Redis (tests/replicas)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import grpc

from rescp.testing import free_port
from tests.server.conftest import Stubs
from tests.server.test_lifecycle import wait_serving

RESCP = (sys.executable, "-m", "rescp")


def serve_args(store: Path | str, target: str, *extra: str,
               rescp: Sequence[str] = RESCP) -> list[str]:
    """`rescp serve` on `store` (a Path: that SQLite file) at `target`, HTTP off; `extra`
    flags come last, so they override these."""
    store = f"sqlite:{store}" if isinstance(store, Path) else store
    return [*rescp, "serve", "--listen", target, "--http-listen", "off", "--store", store,
            "--log-level", "error", *extra]


class Server:
    """One `rescp serve` on `store` and a free port (or `target`: a restart on the same port);
    `kill()` is SIGKILL, `stop()` SIGTERM. It leads a process group of its own, which ending
    it kills with whatever is left in it (--workers)."""

    def __init__(self, store: Path | str, *extra: str, target: str | None = None,
                 rescp: Sequence[str] = RESCP) -> None:
        self.target = target or f"127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen(serve_args(store, self.target, *extra, rescp=rescp),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
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
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            self.proc.wait(15)
        finally:
            with suppress(ProcessLookupError):  # nothing left in the group
                os.killpg(self.proc.pid, signal.SIGKILL)
            if self.proc.stderr is not None:
                self.proc.stderr.close()

    def stderr(self) -> str:
        """What it wrote to stderr, once it has exited."""
        assert self.proc.stderr is not None and self.proc.poll() is not None
        return self.proc.stderr.read()


def refused(store: Path | str, *extra: str,
            rescp: Sequence[str] = RESCP) -> subprocess.CompletedProcess[str]:
    """`rescp serve` on `store` run to its end: for files and settings it must refuse."""
    return subprocess.run(serve_args(store, f"127.0.0.1:{free_port()}", *extra, rescp=rescp),
                          capture_output=True, text=True, timeout=30, check=False)
