"""Build, serve and shut down the rescp server.

Shutdown order (SIGTERM/SIGINT): every health status goes NOT_SERVING (pushed to watchers),
event streams end with UNAVAILABLE so subscribers reconnect elsewhere, then the listener stops
taking RPCs and in-flight ones get the grace period to finish (HTTP keeps answering meanwhile,
/healthz with 503), then the HTTP listener closes, then the store.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import uvloop

from rescp.clock import Clock, SystemClock
from rescp.config import REDIS_SCHEMES, Config, ServerSettings, StartupError
from rescp.errors import StoreUnavailable
from rescp.events import EventLog
from rescp.metrics import Metrics
from rescp.plane import ControlPlane
from rescp.server import admin, events, guard, health, reflection
from rescp.server.rpc import GRPC_MAX_REQUEST_BYTES, Service
from rescp.store.base import HealthRules, Store
from rescp.store.memory import MemoryStore
from rescp.store.redis import RedisStore
from rescp.store.sqlite import SqliteStore
from rescp.store.sqlite_schema import DatabaseRefused

if TYPE_CHECKING:
    from rescp.http.server import HttpServer

log = logging.getLogger(__name__)

SERVICES = (guard.SERVICE, admin.SERVICE, events.SERVICE, health.SERVICE)
SEED_RETRY = 0.5
"""Seconds between tries to put the config into a store that was down at start."""


def store_path(server: ServerSettings) -> Path | None:
    """The SQLite file `server.store` names, or None for the memory and Redis stores."""
    if server.store == "memory" or server.store.startswith(REDIS_SCHEMES):
        return None
    if server.store.startswith("sqlite:"):
        return Path(server.store.removeprefix("sqlite:"))
    return Path(server.data_dir) / "rescp.db"


def make_store(config: Config, log: EventLog, clock: Clock) -> Store:
    """The store `[server] store` names, over `log` and `clock`."""
    options: dict[str, Any] = {
        "rules": HealthRules(config.plane.error_rate_threshold),
        "error_history": config.errors.history, "critical_window": config.errors.critical_window,
        "max_breakers": config.breaker_policy.max_breakers,
        "auto_create": config.breaker_policy.auto_create}
    server = config.server
    if server.store.startswith(REDIS_SCHEMES):
        return RedisStore(log, clock, server.store, config.default_breaker,
                          timeout=server.redis_timeout, prefix=server.redis_prefix, **options)
    path = store_path(server)
    if path is None:
        return MemoryStore(log, clock, config.default_breaker, **options)
    return SqliteStore(log, clock, path, config.default_breaker, **options)


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    plane: ControlPlane
    health: health.HealthServicer
    metrics: Metrics
    http: HttpServer | None = None
    seeding: asyncio.Task[None] | None = None  # the config, put once the store answers

    async def stop(self, grace: float) -> None:
        if self.seeding is not None:
            self.seeding.cancel()
        self.health.shut_down()
        self.plane.events.close()
        await self.server.stop(grace)
        if self.http is not None:
            await self.http.stop()
        await self.plane.stop()


ExtraServices = Callable[[ControlPlane], Sequence[grpc.GenericRpcHandler]]


async def start(config: Config, clock: Clock | None = None,
                extra: ExtraServices | None = None) -> RunningServer:
    """Start serving `config` on config.server.listen (port 0 picks a free port).

    `extra` builds more services to serve beside rescp's own on the same server (the
    benchmarks add bare services to compare against on the very same stack).
    """
    log_ = EventLog(max_events=config.events.max_events, max_age=config.events.max_age,
                    max_lag=config.events.max_lag, encode=events.framed)
    clock = clock or SystemClock()
    plane = ControlPlane(make_store(config, log_, clock), clock, config.plane,
                         allow_on_store_failure=config.server.store_failure_mode == "allow")
    try:
        await plane.restore()
    except DatabaseRefused as error:
        await plane.stop()
        raise StartupError(str(error)) from None
    health_servicer = health.HealthServicer(SERVICES[:-1], plane.breaker_state)
    plane.watch_breakers(health_servicer.breaker_changed)
    seeding = None
    try:
        await _seed(plane, config)
    except StoreUnavailable as error:  # a shared store down at start: serve, and seed later
        log.warning("the config's breakers, limits and features wait for the store: %s", error)
        seeding = asyncio.get_running_loop().create_task(_seed_later(plane, config))

    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", GRPC_MAX_REQUEST_BYTES),
        # Off unless --workers share the port on purpose: on, a second server would silently
        # share it (architecture.md, Known pitfalls).
        ("grpc.so_reuseport", int(config.server.workers > 1)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ])
    services = [
        guard.GuardServicer(plane).handler(),
        admin.AdminServicer(plane, config.default_breaker).handler(),
        events.EventServicer(log_).handler(),
        health_servicer.handler(),
    ]
    metrics = Metrics(plane)
    plane.observer = metrics.plane
    ours = [s for s in services if isinstance(s, Service)]
    for service in ours:
        service.instrument(metrics.grpc_observer)
    server.add_generic_rpc_handlers([*services, *(extra(plane) if extra else ())])
    reflection.enable(server, SERVICES)
    try:
        port = server.add_insecure_port(config.server.listen)
    except RuntimeError as error:
        await plane.stop()
        raise StartupError(f"cannot listen on {config.server.listen}: {error}") from None
    try:
        http = _http(config, ours, log_, metrics)
    except StartupError:
        await plane.stop()
        raise
    await server.start()
    await plane.start()
    if http is not None:
        await http.start()
    return RunningServer(server, port, plane, health_servicer, metrics, http, seeding)


async def _seed(plane: ControlPlane, config: Config) -> None:
    """Put the config's breakers, limits and features (idempotent: every start does it)."""
    for name, breaker in config.breakers.items():
        await plane.put_breaker(name, breaker)
    for limit in config.limits:
        await plane.put_limit(limit)
    for feature in config.features:
        await plane.put_feature(feature)


async def _seed_later(plane: ControlPlane, config: Config) -> None:
    while True:
        await asyncio.sleep(SEED_RETRY)
        try:
            await _seed(plane, config)
        except StoreUnavailable:
            continue
        log.info("the config's breakers, limits and features are in the store")
        return


def _http(config: Config, services: list[Service], log_: EventLog,
          metrics: Metrics) -> HttpServer | None:
    """The HTTP listener, bound (not yet serving), unless --http-listen is off. The HTTP stack
    (FastAPI, uvicorn) is imported only then: it is most of a start-up's import time."""
    if config.server.http_listen == "off":
        return None
    from rescp.http import app as http_app
    from rescp.http.rpcs import Rpcs
    from rescp.http.server import HttpServer, ListenError, bind

    try:
        sock = bind(config.server.http_listen, reuse_port=config.server.workers > 1)
    except ListenError as error:
        raise StartupError(str(error)) from None
    context = http_app.HttpContext(Rpcs(services), log_, metrics)
    return HttpServer(http_app.build(context), sock, config.server.grace)


def new_loop() -> asyncio.AbstractEventLoop:
    """The loop every rescp server runs on: uvloop's (libuv). grpc.aio's own work per RPC, the
    larger part of an Allow's cost, takes ~13% less CPU on it than on asyncio's loop
    (bench/README.md); the tests' in-process servers run on it too."""
    return uvloop.new_event_loop()


def run(config: Config, extra: ExtraServices | None = None) -> None:
    """`serve` on a new loop of `new_loop`'s, to its end."""
    with asyncio.Runner(loop_factory=new_loop) as runner:
        runner.run(serve(config, extra))


async def serve(config: Config, extra: ExtraServices | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    running = await start(config, extra=extra)
    log.info("rescp serving on %s (store %s), HTTP on %s", config.server.listen,
             config.server.store, config.server.http_listen)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("shutting down (grace %.1fs)", config.server.grace)
    await running.stop(config.server.grace)
    log.info("stopped")
