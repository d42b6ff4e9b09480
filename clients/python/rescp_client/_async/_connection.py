"""One channel to rescp and the calls made on it.

Every grpc error leaves this module as a typed `StatusError` (`errors.from_rpc_error`), so no
caller ever sees a bare `grpc.RpcError`. Multicallables are built once per RPC and reused. Calls
wait for a connection (`wait_for_ready`) up to their deadline by default, so an admin call made
while rescp restarts succeeds once it is back; the hot path asks them to fail fast instead, and
so do streams (a watch paces its own reconnection, see `_watch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from rescp_client._rpc import Req, Resp, Rpc
from rescp_client.errors import RescpError, from_rpc_error

from ._backend import ChannelSlot, Stream, Wakeup


class Connection:
    """The channel, its multicallables, and typed errors."""

    def __init__(self, target: str, options: Sequence[tuple[str, Any]]) -> None:
        self._slot = ChannelSlot(target, options)
        self.closed = False

    def method(self, rpc: Rpc[Req, Resp]) -> grpc.aio.UnaryUnaryMultiCallable[Req, Resp]:
        if self.closed:
            raise RescpError("the client is closed")
        return self._slot.method(rpc)

    async def call(
            self, rpc: Rpc[Req, Resp], request: Req, within: float, *,
            wait_for_ready: bool = True) -> Resp:
        """Make one call with a deadline `within` seconds away."""
        method = self.method(rpc)
        try:
            return await method(request, timeout=within, wait_for_ready=wait_for_ready)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error

    def stream(self, rpc: Rpc[Req, Resp], request: Req) -> Stream[Resp]:
        """Start a server-streaming call; its errors are typed as they are read."""
        if self.closed:
            raise RescpError("the client is closed")
        return self._slot.stream(rpc, request)

    def wakeup(self) -> Wakeup:
        """A pause for a watch, cut short when it or the client closes."""
        return self._slot.wakeup()

    async def close(self) -> None:
        self.closed = True
        await self._slot.close()
