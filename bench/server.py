"""The benchmark server: rescp plus bare services on the same grpc.aio server.

Run as a separate process (`python -m bench.server PORT HTTP_PORT [STORE]`, STORE memory by
default) so its CPU time can be read from /proc and so it does not share an interpreter (or a
GIL) with the load generator.

- Echo: a unary method returning its request bytes, nothing decoded: the stack's floor.
- Push: a bare server-streaming push of `count` copies of a payload, one per message.
- Fill: appends `count` synthetic breaker transitions to rescp's event log (as a burst of real
  transitions would) and returns the last sequence, so Watch can be measured without the cost
  of producing events.
"""

from __future__ import annotations

import asyncio
import struct
import sys
import time

import grpc

from rescp.config import parse
from rescp.engine.breaker import Transition
from rescp.enums import BreakerState
from rescp.events import EventLog
from rescp.server.app import serve

BARE_SERVICE = "rescp.bench.Bare"
CONFIG = """
[server]
grace = 0.0
[limits.bench]
max_requests = 1000000
window = 1.0
[breakers.bench]
failure_threshold = 5
[events]
max_events = 1000000
max_lag = 100000
"""


async def _echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


async def _push(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> None:
    count = struct.unpack(">I", request[:4])[0]
    payload = request[4:]
    for _ in range(count):
        await context.write(payload)


def bare_handler(log: EventLog) -> grpc.GenericRpcHandler:
    async def fill(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        count = struct.unpack(">I", request)[0]
        now = time.time()
        for i in range(count):
            opened = i % 2 == 0
            log.append(Transition(
                "bench", BreakerState.CLOSED if opened else BreakerState.OPEN,
                BreakerState.OPEN if opened else BreakerState.CLOSED, "bench", now), now)
        return struct.pack(">Q", log.last_sequence)

    return grpc.method_handlers_generic_handler(BARE_SERVICE, {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Push": grpc.unary_stream_rpc_method_handler(_push),
        "Fill": grpc.unary_unary_rpc_method_handler(fill),
    })


def main() -> None:
    port, http_port = int(sys.argv[1]), int(sys.argv[2])
    store = sys.argv[3] if len(sys.argv) > 3 else "memory"
    config = parse(CONFIG.replace("[server]", f'[server]\nlisten = "127.0.0.1:{port}"\n'
                                  f'http_listen = "127.0.0.1:{http_port}"\nstore = "{store}"'))
    asyncio.run(serve(config, extra=lambda plane: [bare_handler(plane.events)]))


if __name__ == "__main__":
    main()
