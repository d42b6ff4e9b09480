"""The Python client's reports and outbox, in one run: `python -m bench.client [--quick]`.

(Its hot path, `guard` against the bare Allow+Record pair, is `make bench`'s, bench/clients.py.)
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

from bench.__main__ import bench_server, machine
from rescp_client import Client
from rescp_client._outbox import Outbox
from rescp_client._report import report_request
from rescp_client._spool import Spool


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
    count, ops = (300, 2_000) if args.quick else (2_000, 20_000)
    print(f"rescp client bench, {time.strftime('%Y-%m-%d %H:%M')}: {machine()}", flush=True)
    with bench_server() as (target, _, _):
        delivered, direct = delivery_vs_report(target, count)
    print(f"outbox delivery vs report():      {delivered / direct:.2f}x  "
          f"({delivered:,.0f} vs {direct:,.0f} reports/s, {count:,} reports)")
    for name, us in in_process(ops).items():
        print(f"{name + ':':34s}{us:8.1f} us")


if __name__ == "__main__":
    main()
