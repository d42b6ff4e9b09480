"""The Python client's own costs, in one run: `python -m bench.client [--quick]`.

- guard vs a bare Allow: a blocking `Client.guard` block (Allow, then its Record in the
  background) against the same AllowRequest sent on a bare grpc channel, one call in flight,
  on the bench server; rounds alternate ABBA so machine drift hits both alike.
- outbox delivery vs report(): reports sent from a spooled outbox (2,000 left by an earlier
  run, delivered by flush) against the same number sent one by one with report().
- in-process: building a report (a small one, and one whose 40 x 2,000-char context must be
  cut to fit), and keeping one in the outbox, in memory and spooled to a file.
Not part of `make bench` (kept apart so the server benchmarks stay as they are); no timed
assertion anywhere.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from bench.__main__ import bench_server, machine
from rescp_client import Client
from rescp_client._outbox import Outbox
from rescp_client._proto import guard_pb2
from rescp_client._report import report_request
from rescp_client._spool import Spool

ALLOW = "/rescp.v1.GuardService/Allow"


def per_second(run: Callable[[], None], seconds: float) -> float:
    """Calls of `run` per second, over about `seconds`."""
    count, started = 0, time.perf_counter()
    while (took := time.perf_counter() - started) < seconds:
        run()
        count += 1
    return count / took


def guard_vs_allow(target: str, seconds: float, rounds: int) -> tuple[float, float]:
    request = guard_pb2.AllowRequest(breaker="dydx_api", limit="api", key="bench")
    with Client(target, allow_timeout=1.0) as client, grpc.insecure_channel(target) as channel:
        allow = channel.unary_unary(
            ALLOW, request_serializer=guard_pb2.AllowRequest.SerializeToString,
            response_deserializer=guard_pb2.AllowResponse.FromString)
        client.put_limit("api", max_requests=10**9, window=60)

        def guarded() -> None:
            with client.guard(breaker="dydx_api", limit="api", key="bench"):
                pass

        def bare() -> None:
            allow(request, timeout=5)

        rates: dict[str, list[float]] = {"guard": [], "bare": []}
        for i in range(rounds):
            order = ("guard", "bare") if i % 4 in (0, 3) else ("bare", "guard")
            for name in order:
                rates[name].append(per_second(guarded if name == "guard" else bare, seconds))
    return sum(rates["guard"]) / rounds, sum(rates["bare"]) / rounds


def delivery_vs_report(target: str, count: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "outbox"
        spool = Spool(path)
        spool.load()
        for i in range(count):
            spool.put(report_request(ValueError(f"queued {i}")).SerializeToString())
        spool.close()
        started = time.perf_counter()
        with Client(target, outbox_path=path, timeout=5.0) as client:
            assert client.flush(120.0), "the outbox did not empty"
        delivered = count / (time.perf_counter() - started)
    with Client(target) as client:
        started = time.perf_counter()
        for i in range(count):
            client.report(ValueError(f"direct {i}"))
        direct = count / (time.perf_counter() - started)
    return delivered, direct


def us_per(run: Callable[[], object], ops: int) -> float:
    started = time.perf_counter()
    for _ in range(ops):
        run()
    return (time.perf_counter() - started) / ops * 1e6


def in_process(ops: int) -> dict[str, float]:
    error = ConnectionError("connection refused")
    big = {f"k{i}": "v" * 2_000 for i in range(40)}
    small = report_request(error)
    with tempfile.TemporaryDirectory() as folder:
        memory, spooled = Outbox(limit=ops + 1), Outbox(limit=ops + 1, path=Path(folder) / "o")
        out = {
            "report, small": us_per(lambda: report_request(error), ops),
            "report, 40 x 2,000 context cut": us_per(lambda: report_request(error, context=big),
                                                     ops // 10),
            "outbox put, memory": us_per(lambda: memory.put(small), ops),
            "outbox put, spooled": us_per(lambda: spooled.put(small), ops),
        }
        spooled.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short rounds (smoke run)")
    args = parser.parse_args()
    logging.getLogger("rescp_client").setLevel(logging.ERROR)  # the cut reports say so, each
    seconds, rounds, count, ops = (0.25, 4, 300, 2_000) if args.quick else (1.0, 8, 2_000, 20_000)
    print(f"rescp client bench, {time.strftime('%Y-%m-%d %H:%M')}: {machine()}", flush=True)
    with bench_server() as (target, _):
        guarded, bare = guard_vs_allow(target, seconds, rounds)
        delivered, direct = delivery_vs_report(target, count)
    print(f"guard vs bare Allow, 1 in flight:  {guarded / bare:.2f}x  "
          f"({guarded:,.0f} vs {bare:,.0f} calls/s)")
    print(f"outbox delivery vs report():      {delivered / direct:.2f}x  "
          f"({delivered:,.0f} vs {direct:,.0f} reports/s, {count:,} reports)")
    for name, us in in_process(ops).items():
        print(f"{name + ':':34s}{us:8.1f} us")


if __name__ == "__main__":
    main()
