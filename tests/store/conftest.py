"""The store conformance suite's fixtures: every test runs once per backend, through a real
server on a free loopback port. SQLite gets a fresh file per test, Redis a fresh redis-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from rescp.config import Config
from rescp.testing import ServerThread
from tests.redis_server import RedisServer, patient
from tests.server.conftest import Stubs

BACKENDS = ["memory", "sqlite", "redis"]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The --store value of this run: `memory`, `sqlite:` a file in the test's directory, or
    the URL of a redis-server of its own."""
    backend: str = request.param
    if backend == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        return redis.url
    return f"sqlite:{tmp_path / 'rescp.db'}" if backend == "sqlite" else backend


@pytest.fixture
def server(config: Config, store: str) -> Iterator[ServerThread]:
    with ServerThread(patient(config), store=store) as running:
        yield running


@pytest.fixture
def stubs(server: ServerThread) -> Iterator[Stubs]:
    with grpc.insecure_channel(server.target) as channel:
        yield Stubs(channel)
