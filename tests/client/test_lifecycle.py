"""A client outlives the event loops and threads that use it: one AsyncClient serves one
`asyncio.run` after another (a module-level client), and a watch closes from any thread."""

from __future__ import annotations

import asyncio
import threading

from rescp.testing import ServerThread
from rescp_client import AsyncClient, BreakerTransition, Client
from tests.client.conftest import RELAXED_ALLOW_TIMEOUT


def test_an_async_client_works_from_one_asyncio_run_after_another(server: ServerThread) -> None:
    client = AsyncClient(server.target, allow_timeout=RELAXED_ALLOW_TIMEOUT)

    async def use() -> int:
        async with client.guard(breaker="dydx_api"):
            pass
        record = await client.report(ConnectionError("refused"))
        watch = client.watch(after_sequence=0)
        await client.transition_breaker("websocket", "forced_open")
        first = await anext(watch)
        await watch.aclose()
        await client.transition_breaker("websocket", "closed")
        assert record.error_id and first.sequence >= 1
        return (await client.get_breaker("dydx_api")).success_count

    assert asyncio.run(use()) == 1
    assert asyncio.run(use()) == 2  # a second loop: a fresh channel, the same client
    asyncio.run(client.close())


def test_a_watch_closes_from_another_thread(server: ServerThread) -> None:
    with Client(server.target) as client:
        start = client.system_health().sequence
        watch = client.watch(types=["breaker_transition"], after_sequence=start)
        seen: list[object] = []
        ended = threading.Event()

        def iterate() -> None:
            seen.extend(watch)  # ends only when the watch closes
            ended.set()

        reader = threading.Thread(target=iterate, daemon=True)
        reader.start()
        client.transition_breaker("websocket", "forced_open")
        while watch.last_sequence in (None, start) and reader.is_alive():
            reader.join(0.01)
        watch.close()  # while the reader is blocked in the stream
        assert ended.wait(5), "the reader's loop did not end"
        assert isinstance(seen[0], BreakerTransition)
        reader.join(5)


def test_an_async_watch_closes_from_another_task(server: ServerThread) -> None:
    async def main() -> bool:
        async with AsyncClient(server.target) as client:
            watch = client.watch()

            async def drain() -> bool:
                async for _ in watch:
                    pass
                return True

            task = asyncio.create_task(drain())
            await asyncio.sleep(0.2)  # the drain is now waiting on the stream
            await watch.aclose()
            return await asyncio.wait_for(task, 5)

    assert asyncio.run(main())


def test_an_async_client_delivers_its_outbox_from_a_later_loop(config, free_port) -> None:
    port = free_port()
    client = AsyncClient(f"127.0.0.1:{port}", timeout=0.5)

    async def report_while_down() -> None:
        assert await client.report(ValueError("queued in the first loop")) is None
        assert not await client.flush(1.5)  # the delivery backs off on this loop meanwhile

    asyncio.run(report_while_down())
    with ServerThread(config, port=port):
        async def deliver() -> list[str]:
            assert await client.flush(15.0)
            return [e.message for e in (await client.error_summary()).recent_errors]

        assert asyncio.run(deliver()) == ["queued in the first loop"]
    asyncio.run(client.close())
