"""Fixtures for HTTP tests: a real server serving gRPC and HTTP on free loopback ports, an
HTTP client for it and raw gRPC stubs for the same server (to check that both sides agree)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest

from rescp.config import Config
from rescp.testing import ServerThread
from tests.server.conftest import Stubs


@pytest.fixture
def web_server(config: Config) -> Iterator[ServerThread]:
    with ServerThread(config, http=True) as running:
        yield running


@pytest.fixture
def http(web_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web_server.http_url, timeout=10) as client:
        yield client


@pytest.fixture
def stubs(web_server: ServerThread) -> Iterator[Stubs]:
    with grpc.insecure_channel(web_server.target) as channel:
        yield Stubs(channel)


def rpc(http: httpx.Client, procedure: str, body: dict[str, Any] | None = None) -> Any:
    """A Connect JSON call that must succeed; its JSON answer."""
    response = http.post(f"/rescp.v1.{procedure}", json=body or {})
    assert response.status_code == 200, response.text
    return response.json()
