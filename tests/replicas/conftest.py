"""Several `rescp serve` processes on one redis-server: what they need, and a skip naming what
is missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rescp.config import ServerSettings, server_problems
from tests.redis_server import RedisServer, needs_redis


def redis_store_missing() -> str | None:
    """Why `--store redis://` cannot run yet, or None once it can."""
    problems = server_problems(ServerSettings(store="redis://127.0.0.1:6379/0"))
    if problems:
        return ("the Redis store is not merged yet (branch redis): `rescp serve --store "
                f"redis://...` is refused: {'; '.join(problems)}")
    return None


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A fresh redis-server's URL, for `--store`; the test is skipped without the store."""
    if missing := redis_store_missing():
        pytest.skip(missing)
    needs_redis()
    with RedisServer() as redis:
        yield redis.url
