"""The benchmark server: rescp plus a bare Echo service on the same grpc.aio server.

Run as a separate process (`python -m bench.server PORT`) so its CPU time can be read from
/proc and so it does not share an interpreter (or a GIL) with the load generator.
"""

from __future__ import annotations

import asyncio
import sys

import grpc

from rescp.config import parse
from rescp.server.app import serve

ECHO_SERVICE = "rescp.bench.Echo"
CONFIG = """
[server]
grace = 0.0
[limits.bench]
max_requests = 1000000
window = 1.0
[breakers.bench]
failure_threshold = 5
"""


async def _echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


async def _push(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> None:
    """A bare server-streaming push: `count` copies of a payload, as fast as the stack goes."""
    count = int.from_bytes(request[:4], "big")
    payload = request[4:]
    for _ in range(count):
        await context.write(payload)


def bare_handler() -> grpc.GenericRpcHandler:
    """Echo (a unary method returning its request bytes, nothing decoded: the stack's floor) and
    Push (a bare server-streaming push)."""
    return grpc.method_handlers_generic_handler(ECHO_SERVICE, {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Push": grpc.unary_stream_rpc_method_handler(_push),
    })


def main() -> None:
    port = int(sys.argv[1])
    config = parse(CONFIG.replace("[server]", f'[server]\nlisten = "127.0.0.1:{port}"'))
    asyncio.run(serve(config, extra_handlers=[bare_handler()]))


if __name__ == "__main__":
    main()
