"""Fixtures for the client tests: a real rescp server per test, and each test run through both
flavours of the client behind one blocking `Api`, so a behaviour is written down once.

The asyncio flavour lives on an event loop in a helper thread (started with asyncio.run) for
the whole test, so one AsyncClient keeps its channel and its background records across calls;
`api.run(x)` awaits `x` there, and passes a plain value through (the blocking flavour). A watch
is read with `api.take(watch, n)`, or followed in the background (a thread, or a task on that
loop) with `api.follow(watch)`.
"""

from __future__ import annotations

import asyncio
import inspect
import queue
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent import futures
from typing import Any, TypeVar

import grpc
import pytest

from rescp.testing import ServerThread
from rescp_client import Admission, AsyncClient, Client
from rescp_client._proto import guard_pb2

T = TypeVar("T")
FLAVOURS = ["sync", "async"]


RELAXED_ALLOW_TIMEOUT = 2.0
"""The allow_timeout of clients in tests about what rescp decides: on a loaded CI machine the
default 50 ms could make a call fail open and the test check nothing. Tests about the timeout
itself set it explicitly."""


def within_budget(measure: Callable[[], list[float]], budget: float, attempts: int = 3) -> None:
    """Pass when one run of `measure` (each a fresh client) keeps every call under `budget`.

    A loaded machine can stall any single run; a client that really waits too long is slow in
    every run, so it still fails."""
    runs = []
    for _ in range(attempts):
        runs.append(measure())
        if max(runs[-1]) < budget:
            return
    raise AssertionError(f"every run had a call over {budget * 1e3:.0f} ms: {runs}")


class LoopThread:
    """An event loop in a helper thread, run by asyncio.run until `stop()`."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self._thread.start()
        self._ready.wait(5)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._ready.set()
        await self._stopping.wait()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return self.submit(coroutine).result(timeout)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> futures.Future[T]:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def stop(self) -> None:
        assert self._loop is not None and self._stopping is not None
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)


async def _awaited(value: Awaitable[T]) -> T:
    return await value


class Api:
    """A Client or an AsyncClient behind one blocking interface."""

    def __init__(self, flavour: str, target: str, **options: Any) -> None:
        self.flavour = flavour
        self._loop = LoopThread() if flavour == "async" else None
        self.client: Any = (Client if flavour == "sync" else AsyncClient)(target, **options)

    def run(self, value: Any) -> Any:
        """The value itself (sync flavour), or what it resolves to on the loop (async)."""
        if self._loop is not None and inspect.isawaitable(value):
            return self._loop.run(_awaited(value))
        return value

    def guarded(self, body: Callable[[], T], **spec: Any) -> T:
        """`body()` inside `guard(**spec)`: `with` or `async with`, by flavour."""
        if self._loop is None:
            with self.client.guard(**spec):
                return body()

        async def in_loop() -> T:
            async with self.client.guard(**spec):
                return body()

        return self._loop.run(in_loop())

    def admit(self, **spec: Any) -> Admission:
        """What entering `guard(**spec)` yields, around an empty block."""
        if self._loop is None:
            with self.client.guard(**spec) as admission:
                return admission

        async def in_loop() -> Admission:
            async with self.client.guard(**spec) as admission:
                return admission

        return self._loop.run(in_loop())

    def timed_guard(self, body: Callable[[], object] = lambda: None,
                    **spec: Any) -> tuple[float, BaseException | None]:
        """Seconds one guarded block took, entry to exit, measured inside the flavour's own
        thread or loop, and what it raised."""
        def timed() -> tuple[float, BaseException | None]:
            started = time.perf_counter()
            try:
                with self.client.guard(**spec):
                    body()
            except Exception as error:
                return time.perf_counter() - started, error
            return time.perf_counter() - started, None

        async def timed_async() -> tuple[float, BaseException | None]:
            started = time.perf_counter()
            try:
                async with self.client.guard(**spec):
                    body()
            except Exception as error:
                return time.perf_counter() - started, error
            return time.perf_counter() - started, None

        return timed() if self._loop is None else self._loop.run(timed_async())

    def take(self, watch: Any, count: int) -> list[Any]:
        """The next `count` items of a watch, waited for in the flavour's own way."""
        if self._loop is None:
            return [next(watch) for _ in range(count)]

        async def taking() -> list[Any]:
            return [await anext(watch) for _ in range(count)]

        return self._loop.run(taking())

    def follow(self, watch: Any) -> Followed:
        """Iterate `watch` to its end in the background: a thread, or a task on the loop."""
        followed = Followed()
        if self._loop is None:
            threading.Thread(target=followed.drain, args=(watch,), daemon=True).start()
        else:
            followed.task = self._loop.submit(followed.drain_async(watch))
        return followed

    def close(self) -> None:
        self.run(self.client.close())
        if self._loop is not None:
            self._loop.stop()


class Followed:
    """What a watch followed in the background yielded, as it comes; then END, or the error."""

    END = object()

    def __init__(self) -> None:
        self.items: queue.Queue[Any] = queue.Queue()
        self.task: futures.Future[None] | None = None

    def drain(self, watch: Any) -> None:
        try:
            for item in watch:
                self.items.put(item)
        except Exception as error:
            self.items.put(error)
        self.items.put(self.END)

    async def drain_async(self, watch: Any) -> None:
        try:
            async for item in watch:
                self.items.put(item)
        except Exception as error:
            self.items.put(error)
        self.items.put(self.END)

    def next(self, within: float = 10.0) -> Any:
        """The next item (an event, an error, or END), waited for up to `within` seconds."""
        return self.items.get(timeout=within)


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_api(flavour: str) -> Iterator[Callable[..., Api]]:
    """Build Apis of this test's flavour against any target; all are closed afterwards."""
    made: list[Api] = []

    def make(target: str, **options: Any) -> Api:
        options.setdefault("allow_timeout", RELAXED_ALLOW_TIMEOUT)
        made.append(Api(flavour, target, **options))
        return made[-1]

    yield make
    for api in made:
        api.close()


@pytest.fixture
def api(make_api: Callable[..., Api], server: ServerThread) -> Api:
    """A client of this test's flavour, connected to this test's server."""
    return make_api(server.target)


@pytest.fixture
def slow_records(server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the server take 5 ms over each Record (and none over an Allow), so an Allow sent
    right after a Record would overtake it if the client let it."""
    plane = server.running.plane
    record = plane.record

    async def slow_record(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.005)
        return await record(*args, **kwargs)

    monkeypatch.setattr(plane, "record", slow_record)


class FakeGuardServer:
    """A GuardService that answers Allow (allowed) and Record after set delays, to play a slow
    control plane; delays end early when the server stops, so no handler outlives a test."""

    def __init__(self, allow_delay: float = 0.0, record_delay: float = 0.0) -> None:
        self.allow_delay, self.record_delay = allow_delay, record_delay
        self.records = 0
        self._stopping = threading.Event()
        self._pool = futures.ThreadPoolExecutor(max_workers=16)
        self._server = grpc.server(self._pool, options=[("grpc.so_reuseport", 0)])
        self._server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
            "rescp.v1.GuardService", {
                "Allow": grpc.unary_unary_rpc_method_handler(
                    self._allow, guard_pb2.AllowRequest.FromString,
                    guard_pb2.AllowResponse.SerializeToString),
                "Record": grpc.unary_unary_rpc_method_handler(
                    self._record, guard_pb2.RecordRequest.FromString,
                    guard_pb2.RecordResponse.SerializeToString)})])
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"
        self._server.start()

    def _allow(self, request: guard_pb2.AllowRequest, _: object) -> guard_pb2.AllowResponse:
        self._stopping.wait(self.allow_delay)
        return guard_pb2.AllowResponse(allowed=True, verdict="VERDICT_ALLOWED", remaining=-1)

    def _record(self, request: guard_pb2.RecordRequest, _: object) -> guard_pb2.RecordResponse:
        self._stopping.wait(self.record_delay)
        self.records += 1
        return guard_pb2.RecordResponse(breaker_state="BREAKER_STATE_CLOSED")

    def stop(self) -> None:
        self._stopping.set()
        self._server.stop(0).wait(5)
        self._pool.shutdown(wait=True)


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeGuardServer]]:
    made: list[FakeGuardServer] = []

    def make(**delays: float) -> FakeGuardServer:
        made.append(FakeGuardServer(**delays))
        return made[-1]

    yield make
    for fake in made:
        fake.stop()


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A TCP port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"127.0.0.1:{listener.getsockname()[1]}"
