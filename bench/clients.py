"""A guarded no-op call with each client, against the same server, next to the same pair of
RPCs (Allow, then Record) made with bare stubs: the difference is what the client adds.

Python: the blocking `Client.guard` and a bare `grpc` channel, in this process. Go: the
`clients/go/internal/benchguard` command (`go run`), the Go client and the bare generated
stubs, printing JSON. TypeScript: `clients/node/bench/guard.mjs` (node), the client and the
bare generated grpc-js stubs, printing the same JSON. All alternate bare and guarded rounds
(ABBA) and take the median of single calls (one in flight: latency, not throughput). A guarded
call's Record goes out in the background, but the next Allow on the breaker waits for it (the
client's own order), so a sequence of guarded calls costs the same two round trips as the bare
pair.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.duration_pb2 import Duration

from rescp._proto import enums_pb2, guard_pb2
from rescp_client import Client

GO_CLIENT = Path(__file__).resolve().parents[1] / "clients" / "go"
NODE_CLIENT = Path(__file__).resolve().parents[1] / "clients" / "node"
BREAKER = "bench"


@dataclass(frozen=True)
class Overhead:
    """Median microseconds per call: the bare Allow+Record pair, and a guarded no-op."""

    client: str
    bare_us: float
    guarded_us: float
    calls: int

    @property
    def efficiency(self) -> float:
        """The bare pair's time over the guarded call's: 1.0 means the client adds nothing."""
        return self.bare_us / self.guarded_us


def _rounds(bare: Callable[[], object], guarded: Callable[[], object], rounds: int,
            seconds: float) -> tuple[list[float], list[float]]:
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(2 * rounds):
        order = ((0, bare), (1, guarded)) if i % 2 == 0 else ((1, guarded), (0, bare))
        for slot, fn in order:
            stop = time.perf_counter() + seconds / 2
            while (started := time.perf_counter()) < stop:
                fn()
                times[slot].append(time.perf_counter() - started)
    return times


def python(target: str, rounds: int, seconds: float) -> Overhead:
    with grpc.insecure_channel(target) as channel, Client(target, allow_timeout=2.0) as client:
        allow = channel.unary_unary("/rescp.v1.GuardService/Allow",
                                    request_serializer=guard_pb2.AllowRequest.SerializeToString,
                                    response_deserializer=guard_pb2.AllowResponse.FromString)
        record = channel.unary_unary("/rescp.v1.GuardService/Record",
                                     request_serializer=guard_pb2.RecordRequest.SerializeToString,
                                     response_deserializer=guard_pb2.RecordResponse.FromString)

        def bare() -> None:
            permit = allow(guard_pb2.AllowRequest(breaker=BREAKER)).permit
            record(guard_pb2.RecordRequest(breaker=BREAKER, permit=permit,
                                           outcome=enums_pb2.OUTCOME_SUCCESS,
                                           duration=Duration(nanos=1000)))

        def guarded() -> None:
            with client.guard(breaker=BREAKER):
                pass

        bare_times, guarded_times = _rounds(bare, guarded, rounds, seconds)
    return Overhead("python", statistics.median(bare_times) * 1e6,
                    statistics.median(guarded_times) * 1e6, len(bare_times) + len(guarded_times))


def _measured(client: str, command: list[str], cwd: Path) -> Overhead | str:
    """Run another language's timing command; its JSON figures, or why there are none."""
    if shutil.which(command[0]) is None:
        return f"{command[0]} not found"
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600,
                          check=False)
    if done.returncode != 0:
        return f"{' '.join(command[:2])} failed: {done.stderr.strip()[-300:]}"
    figures = json.loads(done.stdout)
    return Overhead(client, figures["bare_us"], figures["guarded_us"], figures["calls"])


def go(target: str, rounds: int, seconds: float) -> Overhead | str:
    """The Go client's figures, or why there are none."""
    return _measured("go", ["go", "run", "./internal/benchguard", "-target", target, "-breaker",
                            BREAKER, "-rounds", str(rounds), "-round", f"{seconds}s"], GO_CLIENT)


def node(target: str, rounds: int, seconds: float) -> Overhead | str:
    """The TypeScript client's figures (`clients/node/bench/guard.mjs`, the same ABBA rounds
    against the bare generated grpc-js stubs), or why there are none. `make bench` builds it."""
    if not (NODE_CLIENT / "dist" / "esm" / "index.js").exists():
        return "clients/node is not built (make bench builds it)"
    return _measured("node", ["node", "bench/guard.mjs", "--target", target, "--breaker", BREAKER,
                              "--rounds", str(rounds), "--round-s", str(seconds)], NODE_CLIENT)
