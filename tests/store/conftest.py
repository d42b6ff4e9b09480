"""The store conformance suite's fixtures: every test runs once per backend, through a real
server on a free loopback port. SQLite gets a fresh file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from rescp.config import Config
from rescp.testing import ServerThread
from tests.server.conftest import Stubs

BACKENDS = ["memory", "sqlite"]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The --store value of this run: `memory`, or `sqlite:` a file in the test's directory."""
    backend: str = request.param
    return f"sqlite:{tmp_path / 'rescp.db'}" if backend == "sqlite" else backend


@pytest.fixture
def server(config: Config, store: str) -> Iterator[ServerThread]:
    with ServerThread(config, store=store) as running:
        yield running


@pytest.fixture
def stubs(server: ServerThread) -> Iterator[Stubs]:
    with grpc.insecure_channel(server.target) as channel:
        yield Stubs(channel)
