"""Local decisions: what a guarded call costs in-process, how fast a trip reaches clients, and
what the server pays per guarded call.

- Cost: a guarded no-op (`with client.guard(breaker=...)`) in local mode and in server mode,
  against pybreaker's `CircuitBreaker.call` on the same no-op, in this process, wall time
  (the client's background flushing of outcomes included, as it shares the interpreter),
  in alternating rounds: on this VM one round of either reads anywhere from 1.5 to 3.5 us.
- Trip to refusal: 100 local-mode clients (asyncio, one loop) follow one breaker; an admin
  trips it (FORCED_OPEN, then CLOSED again), and each client's first local refusal is timed
  from the moment the transition was asked for (one poller looks at every client each 1 ms).
- Server CPU: the server process's CPU per guarded call in local mode (outcomes sent in
  batches) against unary mode (an Allow and a Record per call), from /proc.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import timeit
from dataclasses import dataclass

import pybreaker

from bench.rpc import process_cpu
from rescp_client import AsyncClient, BreakerOpenError, Client

BREAKER = "bench"
ROUNDS = 5
"""Rounds of pybreaker then the local guard, each the best of 5 x 20,000 calls; each side's
figure is its best round."""


def _noop() -> None:
    pass


def _guarded(client: Client) -> float:
    """Microseconds per guarded no-op, best of 5."""
    guard = client.guard

    def once() -> None:
        with guard(breaker=BREAKER):
            _noop()

    number = 20_000 if client._hot.local is not None else 300
    return min(timeit.repeat(once, number=number, repeat=5)) / number * 1e6


def _followed(client: Client) -> None:
    for _ in range(200):
        with client.guard(breaker=BREAKER):
            pass
        local = client._hot.local
        if local is not None and local.state.decide(BREAKER) is not None:
            return
        time.sleep(0.01)
    raise RuntimeError("the local client never followed the breaker")


@dataclass
class Costs:
    local_us: float
    server_us: float
    pybreaker_us: float
    local_cpu_us: float
    server_cpu_us: float


def _pybreaker(breaker: pybreaker.CircuitBreaker) -> float:
    """Microseconds per pybreaker-guarded no-op, best of 5."""
    return min(timeit.repeat(lambda: breaker.call(_noop), number=20_000,
                             repeat=5)) / 20_000 * 1e6


def costs(target: str, server_pid: int) -> Costs:
    breaker = pybreaker.CircuitBreaker(fail_max=5)
    with Client(target, decide="local", allow_timeout=1.0) as local, \
            Client(target, allow_timeout=1.0) as remote:
        _followed(local)
        pybreaker_us, local_us = [], []
        for _ in range(ROUNDS):  # alternating: this VM's drift lands on both sides alike
            pybreaker_us.append(_pybreaker(breaker))
            local_us.append(_guarded(local))
        server_us = _guarded(remote)
        local_cpu = _server_cpu(local, server_pid, 50_000)
        server_cpu = _server_cpu(remote, server_pid, 1_000)
    return Costs(min(local_us), server_us, min(pybreaker_us), local_cpu, server_cpu)


def _server_cpu(client: Client, server_pid: int, calls: int) -> float:
    """Server CPU microseconds per guarded call, every outcome delivered."""
    client.list_breakers()  # delivers what is still queued
    before = process_cpu(server_pid)
    for _ in range(calls):
        with client.guard(breaker=BREAKER):
            pass
    client.get_breaker(BREAKER)  # waits for this client's outcomes to be applied
    return (process_cpu(server_pid) - before) / calls * 1e6


async def trip_to_refusal(target: str, clients: int, trips: int) -> list[float]:
    """Seconds from asking for a trip to each local client's first local refusal."""
    fleet = [AsyncClient(target, decide="local", allow_timeout=1.0) for _ in range(clients)]
    admin = AsyncClient(target)
    delays: list[float] = []
    try:
        await asyncio.gather(*(_followed_async(c) for c in fleet))
        for _ in range(trips):
            started = time.perf_counter()
            await admin.transition_breaker(BREAKER, "forced_open")
            delays += await _refusals(fleet, started)
            await admin.transition_breaker(BREAKER, "closed")
            await asyncio.gather(*(_followed_async(c) for c in fleet))
    finally:
        await asyncio.gather(admin.close(), *(c.close() for c in fleet))
    return delays


async def _followed_async(client: AsyncClient) -> None:
    local = client._hot.local
    assert local is not None
    for _ in range(1000):
        try:
            async with client.guard(breaker=BREAKER):
                pass
            if local.state.decide(BREAKER) is not None:
                return
        except BreakerOpenError:
            pass
        await asyncio.sleep(0.01)
    raise RuntimeError("a local client never followed the breaker")


async def _refusals(fleet: list[AsyncClient], started: float) -> list[float]:
    """Seconds from `started` to each client's first local refusal; one poller, every 1 ms,
    looks at every client (100 polling tasks would slow the loop they measure)."""
    states = [c._hot.local.state for c in fleet if c._hot.local is not None]
    refused: dict[int, float] = {}
    while len(refused) < len(states):
        for i, state in enumerate(states):
            if i not in refused:
                try:
                    state.decide(BREAKER)
                except BreakerOpenError:
                    refused[i] = time.perf_counter() - started
        await asyncio.sleep(0.001)
    return list(refused.values())


def percentile_ms(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1e3


def print_ratios(costs: Costs, trips: list[float]) -> None:
    print(f"  {'guarded no-op, local mode vs pybreaker':<38} "
          f"{costs.pybreaker_us / costs.local_us:5.2f}x  [>= 1]  (pybreaker time / ours)")
    print(f"  {'server CPU per call, local vs unary':<38} "
          f"{costs.server_cpu_us / max(costs.local_cpu_us, 1e-9):5.0f}x  [>= 50]")
    print(f"  {'trip -> local refusal p99, 100 clients':<38} "
          f"{percentile_ms(trips, 99):5.1f} ms [<= 100 ms]")


def print_table(costs: Costs, trips: list[float]) -> None:
    print("\nlocal decisions (decide=\"local\", flush_interval 50 ms)")
    print(f"  guarded no-op, us per call: local {costs.local_us:.2f}   pybreaker "
          f"{costs.pybreaker_us:.2f}   server mode {costs.server_us:.0f}")
    print(f"  server CPU us per guarded call: local {costs.local_cpu_us:.1f}   "
          f"unary Allow+Record {costs.server_cpu_us:.0f}")
    print(f"  trip -> local refusal, 100 clients: p50 {percentile_ms(trips, 50):.1f} ms, "
          f"p99 {percentile_ms(trips, 99):.1f} ms over {len(trips)} refusals")
