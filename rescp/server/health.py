"""grpc.health.v1.Health: the whole server, each rescp service, and `breaker/<name>`.

grpcio-health-checking's reference servicer is a dict of statuses that watchers poll: it can
skip a status that changed twice between polls, cannot forget a service, and its graceful
shutdown is one-way. Breakers come and go and every change must reach watchers, so this servicer
uses the same health protos but keeps a bounded queue per watcher, fed as each status changes.
A breaker is SERVING while CLOSED, HALF_OPEN or DISABLED, NOT_SERVING while OPEN or FORCED_OPEN.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeAlias

import grpc
from grpc_health.v1 import health_pb2

from rescp.enums import REFUSING_STATES, BreakerState
from rescp.errors import NotFound, ShuttingDown
from rescp.server.rpc import Context, server_stream, service, unary

SERVICE = "grpc.health.v1.Health"
Status: TypeAlias = int  # a health_pb2.HealthCheckResponse.ServingStatus number
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
WATCH_QUEUE = 64


def breaker_service(name: str) -> str:
    return f"breaker/{name}"


BreakerLookup = Callable[[str], Awaitable[BreakerState | None]]
"""A breaker's state read from the store (None: no such breaker)."""


class HealthServicer:
    def __init__(self, services: Iterable[str], lookup: BreakerLookup | None = None) -> None:
        """`lookup` answers for a breaker this process has not seen yet (one another replica
        created): it is read from the store once, then followed like any other."""
        self._statuses: dict[str, Status] = dict.fromkeys(["", *services], SERVING)
        self._lookup = lookup
        self._watchers: dict[str, set[asyncio.Queue[Status | None]]] = {}
        self._shutting_down = False

    def handler(self) -> grpc.GenericRpcHandler:
        return service(SERVICE, {
            "Check": unary(health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse,
                           self.check),
            "Watch": server_stream(health_pb2.HealthCheckRequest, self.watch),
        })

    def breaker_changed(self, name: str, state: BreakerState | None) -> None:
        """A BreakerStatusSink: mirror one breaker's state."""
        if state is None:
            self._set(breaker_service(name), None)
        else:
            self._set(breaker_service(name), NOT_SERVING if state in REFUSING_STATES else SERVING)

    def shut_down(self) -> None:
        """Every status to NOT_SERVING, pushed to every watcher, then end the watches."""
        for name in self._statuses:
            self._set(name, NOT_SERVING)
        self._shutting_down = True
        for queues in self._watchers.values():
            for queue in queues:
                self._offer(queue, None)

    async def check(self, request: health_pb2.HealthCheckRequest,
                    ) -> health_pb2.HealthCheckResponse:
        status = await self._status(request.service)
        if status is None:
            raise NotFound("service", request.service)
        return health_pb2.HealthCheckResponse(status=status)

    async def watch(self, request: health_pb2.HealthCheckRequest,
                    context: Context) -> AsyncIterator[bytes]:
        name = request.service
        queue: asyncio.Queue[Status | None] = asyncio.Queue(WATCH_QUEUE)
        self._watchers.setdefault(name, set()).add(queue)
        try:
            status: Status | None = await self._status(name) or SERVICE_UNKNOWN
            while status is not None:
                yield health_pb2.HealthCheckResponse(status=status).SerializeToString()
                status = await queue.get()
            raise ShuttingDown("the server is shutting down")
        finally:
            watchers = self._watchers[name]
            watchers.discard(queue)
            if not watchers:
                del self._watchers[name]

    async def _status(self, name: str) -> Status | None:
        status = self._statuses.get(name)
        if status is not None or self._lookup is None or not name.startswith("breaker/"):
            return status
        await self._lookup(name.removeprefix("breaker/"))  # a found breaker's state is set here
        return self._statuses.get(name)

    def _set(self, name: str, status: Status | None) -> None:
        if self._shutting_down:
            return
        previous = self._statuses.get(name)
        if status is None:
            self._statuses.pop(name, None)
        else:
            self._statuses[name] = status
        if previous == status:
            return
        for queue in self._watchers.get(name, ()):
            self._offer(queue, SERVICE_UNKNOWN if status is None else status)

    @staticmethod
    def _offer(queue: asyncio.Queue[Status | None], status: Status | None) -> None:
        """Queue a change; a watcher that is far behind loses its oldest pending change."""
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(status)
