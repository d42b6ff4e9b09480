"""uvicorn serving the HTTP app as a task in rescp's own event loop.

rescp owns the process: its signal handlers decide when to stop, and its shutdown stops this
server after gRPC's grace period (so /healthz can answer 503 meanwhile). uvicorn's own signal
capture is turned off, its lifespan too (the app has no startup of its own). The socket is
bound here, so a port in use is a clear start-up error and port 0 tells the port it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

from rescp.config import listen_address

MAX_HEAD_BYTES = 64 * 1024
"""Request line and headers uvicorn buffers; beyond it h11 refuses the request with 400 (the
app refuses query strings over its own, smaller limit with a JSON error first)."""


class ListenError(RuntimeError):
    """The HTTP listener could not be opened."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """rescp handles the signals; uvicorn must neither take nor re-raise them."""
        yield


def bind(listen: str, reuse_port: bool = False) -> socket.socket:
    """The listening socket; `reuse_port` (SO_REUSEPORT) lets `--workers` processes each bind
    one on the same port, and the kernel spreads connections across them."""
    try:
        family, host, port = listen_address(listen)
    except ValueError:
        raise ListenError(f"--http-listen {listen!r}: HOST:PORT or off expected") from None
    # IPPROTO_TCP spelled out: asyncio turns Nagle off only on sockets whose proto says TCP,
    # and with Nagle on, a response written as headers then body waits 40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as error:
        sock.close()
        raise ListenError(f"cannot listen on {listen} (HTTP): {error.strerror}") from None
    return sock


class HttpServer:
    def __init__(self, app: ASGIApp, sock: socket.socket, grace: float) -> None:
        self.port: int = sock.getsockname()[1]
        self._sock = sock
        self._server = _Server(uvicorn.Config(
            app, lifespan="off", http="h11", log_level="warning", access_log=False,
            timeout_graceful_shutdown=max(int(grace), 1),
            h11_max_incomplete_event_size=MAX_HEAD_BYTES))
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise ListenError("the HTTP server stopped while starting")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._sock.close()
