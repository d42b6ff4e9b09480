"""The benchmark server: rescp plus bare services on the same grpc.aio server.

Run as a separate process (`python -m bench.server PORT HTTP_PORT [STORE]`, STORE memory by
default) so its CPU time can be read from /proc and so it does not share an interpreter (or a
GIL) with the load generator.

- Echo: a unary method returning its request bytes, nothing decoded: the stack's floor.
- Push: the baseline of Watch: a bare server-streaming push of the events the last Fill made,
  already serialized (as Watch left them), framed into messages of 256 like Watch's batches.
- Fill: appends `count` synthetic breaker transitions to rescp's event log (as a burst of real
  transitions would) and returns the last sequence, so Watch can be measured without the cost
  of producing events.
"""

from __future__ import annotations

import struct
import sys
import time

import grpc

from rescp.config import parse
from rescp.engine.breaker import Transition
from rescp.enums import BreakerState
from rescp.events import Event, EventLog
from rescp.server.app import run
from rescp.server.events import framed

BARE_SERVICE = "rescp.bench.Bare"
CONFIG = """
[server]
grace = 0.0
redis_timeout = 0.2  # this machine runs the load, the server and Redis on 2 cores
[limits.bench]
max_requests = 100000
window = 1.0
[breakers.bench]
failure_threshold = 5
[events]
max_events = 1000000
max_lag = 100000
"""


async def _echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


PUSH_BATCH = 256
"""Events per pushed message: what Watch puts in one response when a backlog is waiting."""


def bare_handler(log: EventLog) -> grpc.GenericRpcHandler:
    filled: list[Event] = []

    async def fill(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        count = struct.unpack(">I", request)[0]
        now = time.time()
        filled.clear()
        for i in range(count):
            opened = i % 2 == 0
            filled.append(log.append(Transition(
                "bench", BreakerState.CLOSED if opened else BreakerState.OPEN,
                BreakerState.OPEN if opened else BreakerState.CLOSED, "bench", now), now))
        return struct.pack(">Q", log.last_sequence)

    async def push(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> None:
        wires = [framed(e) for e in filled]  # the frames Watch cached: no encoding here
        for i in range(0, len(wires), PUSH_BATCH):
            await context.write(b"".join(wires[i:i + PUSH_BATCH]))

    return grpc.method_handlers_generic_handler(BARE_SERVICE, {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Push": grpc.unary_stream_rpc_method_handler(push),
        "Fill": grpc.unary_unary_rpc_method_handler(fill),
    })


def main() -> None:
    port, http_port = int(sys.argv[1]), int(sys.argv[2])
    store = sys.argv[3] if len(sys.argv) > 3 else "memory"
    config = parse(CONFIG.replace("[server]", f'[server]\nlisten = "127.0.0.1:{port}"\n'
                                  f'http_listen = "127.0.0.1:{http_port}"\nstore = "{store}"'))
    run(config, extra=lambda plane: [bare_handler(plane.events)])


if __name__ == "__main__":
    main()
