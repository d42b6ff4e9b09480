"""Helpers for tests of rescp and of code that uses it: a clock you move by hand, and a real
server on a free loopback port."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any, TypeVar

from rescp.config import Config
from rescp.server.app import ExtraServices, RunningServer, new_loop, start

T = TypeVar("T")


class ManualClock:
    """A clock that stands still until told to move, so engine tests never sleep; its wall
    reading can be stepped apart from it, as a real wall clock can."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = 0.0

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def wall_offset(self) -> float:
        return self._wall_offset

    def step_wall(self, seconds: float) -> None:
        """Step the wall clock by `seconds` (either way); `now()` does not move."""
        self._wall_offset += seconds

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds` and return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += seconds
        return self._now


def free_port() -> int:
    """A loopback port nothing listens on (bound once, then released), for a server a test
    must restart on the same port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class ServerThread:
    """A real rescp server on 127.0.0.1 and a free port, on its own event loop in a thread.

    Tests talk to it over loopback with real clients, sync or async, from the main thread.
    """

    def __init__(self, config: Config | None = None, port: int = 0,
                 extra: ExtraServices | None = None, http: bool = False,
                 store: str | None = "memory") -> None:
        """`extra` adds services beside rescp's own (see rescp.server.app.start); `http`
        serves HTTP too, on another free loopback port (`http_url`); `store` replaces the
        config's store (memory unless told otherwise; None keeps the config's)."""
        self._extra = extra
        base = config or Config()
        server = replace(base.server, listen=f"127.0.0.1:{port}",
                         http_listen="127.0.0.1:0" if http else "off")
        self.config = replace(base, server=replace(server, store=store) if store else server)
        self._loop = new_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rescp-server",
                                        daemon=True)
        self._running: RunningServer | None = None

    @property
    def target(self) -> str:
        assert self._running is not None, "not started"
        return f"127.0.0.1:{self._running.port}"

    @property
    def http_url(self) -> str:
        """http://127.0.0.1:PORT of the HTTP listener (started with http=True)."""
        http = self.running.http
        assert http is not None, "started without http=True"
        return f"http://127.0.0.1:{http.port}"

    @property
    def running(self) -> RunningServer:
        assert self._running is not None, "not started"
        return self._running

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run a coroutine on the server's loop (e.g. to inspect the plane) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def start(self) -> ServerThread:
        self._thread.start()
        self._running = self.call(start(self.config, extra=self._extra))
        return self

    def stop(self, grace: float = 0.0) -> None:
        if self._running is not None:
            self.call(self._running.stop(grace), timeout=grace + 10)
            self._running = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
