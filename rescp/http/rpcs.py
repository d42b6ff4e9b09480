"""The server's unary RPCs as one table, for every HTTP route that runs one.

Built from the gRPC services' own method specs (rescp.server.rpc.Service), so the seed's REST
routes and Connect JSON run exactly the code gRPC runs, with the same validation and errors,
and an RPC added to a servicer is served over HTTP without a route written for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf.message import Message

from rescp.server.rpc import Service, Unary, check_size


class Rpcs:
    def __init__(self, services: Iterable[Service]) -> None:
        self.unary: dict[str, Unary[Any, Any]] = {
            f"{service.full_name}/{name}": spec
            for service in services for name, spec in service.methods.items()
            if isinstance(spec, Unary)}
        """Keyed by procedure, "package.Service/Method" (a Connect path without its slash)."""

    async def call(self, procedure: str, request: Message) -> Any:
        """Run one RPC as gRPC would: the same size cap, the same servicer method."""
        check_size(request.ByteSize())
        return await self.unary[procedure].method(request)
