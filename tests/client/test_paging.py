"""The client's list methods and watch()'s snapshot read every page of the server's paged
List RPCs, in both flavours."""

from __future__ import annotations

from rescp.engine.breaker import BreakerConfig
from rescp.engine.health import Feature
from rescp.engine.ratelimit import LimitConfig
from rescp.testing import ServerThread
from rescp_client import Snapshot
from tests.client.conftest import Api

MANY = 1_100
"""More than the client's pages (1,000, the server's maximum) hold."""


def _fill(server: ServerThread) -> list[str]:
    names = [f"p{i:05}" for i in range(MANY)]

    async def add() -> None:
        plane = server.running.plane
        for name in names:
            await plane.put_breaker(name, BreakerConfig())
            await plane.put_limit(LimitConfig(name, 10, 1.0))
            await plane.put_feature(Feature(name, (name,)))

    server.call(add(), timeout=60)
    return names


def test_list_methods_read_every_page(api: Api, server: ServerThread) -> None:
    names = set(_fill(server))
    breakers = [b.name for b in api.run(api.client.list_breakers())]
    assert len(breakers) == len(set(breakers)) == MANY + 3 and names <= set(breakers)
    limits = [x.name for x in api.run(api.client.list_limits())]
    assert len(limits) == MANY + 1 and names <= set(limits)
    features = [f.name for f in api.run(api.client.list_features())]
    assert len(features) == len(set(features)) and names <= set(features)


def test_watch_snapshot_reads_every_page(api: Api, server: ServerThread) -> None:
    names = set(_fill(server))
    beyond = server.running.plane.events.last_sequence + 1_000  # OUT_OF_RANGE: a snapshot
    snapshot = api.take(api.client.watch(after_sequence=beyond), 1)[0]
    assert isinstance(snapshot, Snapshot)
    assert len(snapshot.breakers) == MANY + 3 and names <= {b.name for b in snapshot.breakers}
