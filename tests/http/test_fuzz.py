"""Bad input over real HTTP: schemathesis fuzzes the OpenAPI document (valid and invalid
requests for every operation, the Connect routes included), and hand-made abuse that a schema
cannot describe. Every answer is JSON and below 500; nothing hangs."""

from __future__ import annotations

import socket

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from rescp.testing import ServerThread

FUZZ_EXAMPLES = 300
"""A small, bounded run for `make test` (a few seconds); raise it locally to fuzz longer."""
STREAMING = "/api/events"  # never ends by itself: tested in test_events_sse.py


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(web_server: ServerThread) -> None:
    url = web_server.http_url
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json").exclude(path=STREAMING)
    strategy = (schema.as_strategy(generation_mode=GenerationMode.POSITIVE)
                | schema.as_strategy(generation_mode=GenerationMode.NEGATIVE))

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, timeout=10)
        assert response.status_code < 500, (case.path, response.text)
        if case.path != "/metrics":
            [content_type] = response.headers["content-type"]
            assert content_type.startswith(("application/json", "application/proto")), (
                case.path, response.text)

    fuzz()


def test_openapi_documents_the_seed_and_every_connect_route(web_server: ServerThread) -> None:
    paths = httpx.get(f"{web_server.http_url}/openapi.json").json()["paths"]
    assert {"/api/errors/summary", "/api/errors/report", "/api/errors/acknowledge/{error_id}",
            "/api/events", "/metrics", "/healthz", "/rescp.v1.GuardService/Allow",
            "/rescp.v1.AdminService/GetSystemHealth"} <= set(paths)
    report = paths["/api/errors/report"]["post"]["requestBody"]["content"]["application/json"]
    assert {"operation", "errorType", "message", "context"} <= set(
        report["schema"]["properties"])
    assert httpx.get(f"{web_server.http_url}/docs").status_code == 200


@pytest.mark.parametrize(("content", "headers", "status"), [
    (b"x" * (1024 * 1024 + 1), {"content-type": "application/json"}, 413),
    (b"{", {"content-type": "application/json"}, 400),
    (b'{"message": "\xff"}', {"content-type": "application/json"}, 400),
    (b"message=x", {"content-type": "application/x-www-form-urlencoded"}, 415),
    (b"[]", {"content-type": "application/json"}, 400),
    (b'{"grpc_code": "x"}', {"content-type": "application/json"}, 400),
])
def test_bad_report_bodies_are_refused(web_server: ServerThread, content: bytes,
                                       headers: dict[str, str], status: int) -> None:
    response = httpx.post(f"{web_server.http_url}/api/errors/report", content=content,
                          headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["status"] == "error"


def test_a_chunked_body_over_the_limit_is_refused(web_server: ServerThread) -> None:
    def chunks() -> object:
        for _ in range(20):
            yield b"x" * 65536

    response = httpx.post(f"{web_server.http_url}/rescp.v1.GuardService/Report",
                          content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "resource_exhausted"


def test_a_very_long_query_string_is_refused(web_server: ServerThread) -> None:
    response = httpx.get(f"{web_server.http_url}/api/errors/notifications?x={'a' * 20000}")
    assert response.status_code == 414
    assert response.json()["error"]["code"] == "INVALID_ARGUMENT"


def test_garbage_on_the_socket_gets_a_4xx_and_the_server_lives(web_server: ServerThread) -> None:
    host, port = web_server.http_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
    assert httpx.get(f"{web_server.http_url}/healthz").status_code == 200
