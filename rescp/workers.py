"""`rescp serve --workers N`: N server processes on one gRPC port and one HTTP port.

The parent only supervises. It checks that the ports are free, reserves them, forks the
workers and waits. It never imports grpc: gRPC's core keeps threads and pollers that do not
survive a fork, so each worker starts grpc, its event loop and its servers itself, after the
fork. Each worker binds both ports with SO_REUSEPORT and the kernel spreads new connections
across the workers (a connection stays with the worker that accepted it).

SIGTERM or SIGINT to the parent goes on to every worker as SIGTERM; each shuts down as a lone
server does (grace period included) and the parent exits 0 once all have exited cleanly. A
worker that exits unasked (a crash, SIGKILL, a failure to start) makes the parent stop the
others and exit 1, rather than restart it: a restart in place would hide a crash loop from the
orchestrator (systemd, Kubernetes) that restarts the whole server, and every worker's state is
in the shared store, so nothing is lost by starting again.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from typing import NoReturn

from rescp.config import Config, StartupError, listen_address

log = logging.getLogger(__name__)

SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
"""Blocked in the parent and taken with sigtimedwait: no handler races a fork or a wait."""
KILL_AFTER = 10.0
"""Seconds past the grace period before a worker that has not stopped is SIGKILLed."""

Worker = Callable[[Config], int]
"""Runs one server to its end in the forked process; returns its exit status."""


def reserve(listen: str, what: str) -> tuple[socket.socket, str]:
    """A socket bound to `listen` with SO_REUSEPORT that never listens, and the address with
    the port it got (port 0 picks one every worker then shares).

    It holds the port for the workers and takes no connections (only listening sockets do).
    A plain bind first checks that no other server has the port: with SO_REUSEPORT alone the
    workers would silently share it with any process of the same user that set it too.
    """
    try:
        family, host, port = listen_address(listen)
    except ValueError as error:
        raise StartupError(f"{what} {error}") from None
    reserved = socket.socket(family, socket.SOCK_STREAM)
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            port = probe.getsockname()[1]
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserved.bind((host, port))
    except OSError as error:
        reserved.close()
        raise StartupError(f"cannot listen on {listen} ({what}): {error.strerror}") from None
    return reserved, f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"


def run(config: Config, worker: Worker) -> int:
    """Serve `config` with config.server.workers processes; the parent's exit status."""
    server = config.server
    reserved: list[socket.socket] = []
    try:
        grpc_socket, listen = reserve(server.listen, "gRPC")
        reserved.append(grpc_socket)
        http_listen = server.http_listen
        if http_listen != "off":
            http_socket, http_listen = reserve(http_listen, "HTTP")
            reserved.append(http_socket)
        config = replace(config, server=replace(server, listen=listen, http_listen=http_listen))
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            return _fork_and_supervise(config, worker, reserved, mask)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    finally:
        for sock in reserved:
            sock.close()


def _fork_and_supervise(config: Config, worker: Worker, reserved: list[socket.socket],
                        mask: set[int | signal.Signals]) -> int:
    pool = _Pool(config.server.grace + KILL_AFTER)
    try:
        for index in range(config.server.workers):
            sys.stdout.flush()
            sys.stderr.flush()  # or the child would write the parent's buffered output again
            pid = os.fork()
            if pid == 0:
                _child(config, worker, reserved, mask)
            pool.workers[pid] = index
    except BaseException:
        pool.stop()
        pool.wait()
        raise
    log.info("%d workers (pids %s) on %s, HTTP on %s", len(pool.workers),
             ", ".join(map(str, pool.workers)), config.server.listen, config.server.http_listen)
    return pool.wait()


def _child(config: Config, worker: Worker, reserved: list[socket.socket],
           mask: set[int | signal.Signals]) -> NoReturn:
    """The forked worker: serve, then leave without running the parent's exit handlers."""
    status = 1
    try:
        for sock in reserved:
            sock.close()
        # Until the server's own handlers are in, Ctrl-C (which a terminal sends to the whole
        # process group) must not kill a starting worker: the parent's SIGTERM stops it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        status = worker(config)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


class _Pool:
    """The forked workers, by pid, and the parent's end of their lives."""

    def __init__(self, kill_after: float) -> None:
        self.workers: dict[int, int] = {}  # pid -> worker index
        self._kill_after = kill_after
        self._stopping = False  # the workers were told to stop
        self._kill_at = float("inf")
        self._failed = False

    def stop(self) -> None:
        if not self._stopping:
            self._stopping = True
            self._kill_at = time.monotonic() + self._kill_after
            self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        for pid in self.workers:  # only reaped pids leave: an exited one is a zombie till then
            os.kill(pid, sig)

    def wait(self) -> int:
        """Until every worker has exited: 0 when they were asked to and exited cleanly."""
        while self.workers:
            if time.monotonic() >= self._kill_at:
                log.error("workers %s did not stop in time; killing them",
                          ", ".join(map(str, self.workers)))
                self._signal(signal.SIGKILL)
                self._failed = True
                self._kill_at = float("inf")
            got = (signal.sigwaitinfo(SIGNALS) if self._kill_at == float("inf")
                   else signal.sigtimedwait(SIGNALS, max(self._kill_at - time.monotonic(), 0)))
            if got is not None and got.si_signo != signal.SIGCHLD:
                log.info("%s, stopping the workers", signal.Signals(got.si_signo).name)
                self.stop()
            self._reap()
        return int(self._failed)

    def _reap(self) -> None:
        while self.workers:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            index = self.workers.pop(pid, None)
            if index is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited {code}"
            if not self._stopping:
                log.error("worker %d (pid %d) %s; stopping the others", index, pid, how)
                self._failed = True
                self.stop()
            elif code not in (0, -signal.SIGTERM):
                log.error("worker %d (pid %d) %s while stopping", index, pid, how)
                self._failed = True
