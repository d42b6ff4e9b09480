"""Shared test settings and fixtures.

Hypothesis runs without deadlines (CI machines are shared and noisy). `config` is the shipped
example, `server` a real server running it on a free loopback port for one test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from rescp.config import Config, load
from rescp.testing import ServerThread, free_port
from tests.support import EXAMPLE, eventually

pytest_plugins = ["tests.redis_server"]  # the redis_server fixture

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("default")


@pytest.fixture
def config() -> Config:
    return load(EXAMPLE)


@pytest.fixture
def server(config: Config) -> Iterator[ServerThread]:
    with ServerThread(config) as running:
        yield running


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    return free_port


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., Any]:
    return eventually
