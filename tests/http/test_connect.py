"""Every unary RPC as Connect JSON over real HTTP: routed from the descriptors, answering
what gRPC answers, with Connect error bodies carrying gRPC's ErrorInfo reason; and a real
Connect client (connect-es on Node) against the same server."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor
from google.rpc import error_details_pb2

from rescp._proto import admin_pb2 as a
from rescp._proto import guard_pb2 as g
from rescp.testing import ServerThread
from tests.http.conftest import rpc
from tests.server.conftest import Stubs, bad_fields, details

CONNECT_ES = Path(__file__).parent / "connect_es"
PROTO = {"content-type": "application/proto"}


def unary_procedures() -> list[str]:
    """Every unary RPC of rescp.v1, and the health Check (rescp serves no Health/List)."""
    found = ["grpc.health.v1.Health/Check"]
    for module in (g, a):
        for service in module.DESCRIPTOR.services_by_name.values():
            found += [f"{service.full_name}/{m.name}" for m in service.methods
                      if not m.server_streaming and not m.client_streaming]
    return found


def connect_details(body: dict[str, Any]) -> dict[str, Any]:
    """A Connect error's details, decoded from their base64 values, by type name."""
    found: dict[str, Any] = {}
    for detail in body["details"]:
        kind = getattr(error_details_pb2, detail["type"].rpartition(".")[2])
        padded = detail["value"] + "=" * (-len(detail["value"]) % 4)
        found[kind.__name__] = kind.FromString(base64.b64decode(padded))
    return found


def test_allow_answers_proto3_json_from_the_same_state_as_grpc(http: httpx.Client,
                                                                stubs: Stubs) -> None:
    first = rpc(http, "GuardService/Allow", {"breaker": "dydx_api", "limit": "api", "key": "k"})
    assert first["allowed"] is True and first["verdict"] == "VERDICT_ALLOWED"
    assert first["breakerState"] == "BREAKER_STATE_CLOSED" and first["remaining"] == "99"
    assert stubs.Allow(g.AllowRequest(limit="api", key="k")).remaining == 98
    snake = rpc(http, "AdminService/GetLimitStatus", {"limit": "api", "key": "k"})
    assert snake["remaining"] == "98" and snake["isRateLimited"] is False


def test_allow_batch_over_connect_answers_per_item_as_grpc_does(http: httpx.Client) -> None:
    answer = rpc(http, "GuardService/AllowBatch", {"items": [
        {"breaker": "dydx_api", "limit": "api", "key": "b"}, {"limit": "nope"}]})
    first, second = answer["items"]
    assert first["response"]["allowed"] is True and first["response"]["remaining"] == "99"
    assert second["error"]["code"] == 5 and second["error"]["reason"] == "LIMIT_NOT_FOUND"


def test_every_unary_rpc_is_routed(http: httpx.Client) -> None:
    procedures = unary_procedures()
    assert len(procedures) > 20
    for procedure in procedures:
        response = http.post(f"/{procedure}", json={})
        body = response.json()
        if response.status_code != 200:  # an empty request may be invalid, but it got there
            assert connect_details(body)["ErrorInfo"].reason != "ROUTE_NOT_FOUND", procedure
            assert response.status_code < 500, (procedure, body)


def test_not_found_carries_grpcs_reason_and_resource(http: httpx.Client, stubs: Stubs) -> None:
    response = http.post("/rescp.v1.AdminService/GetBreaker", json={"name": "nope"})
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found" and "nope" in body["message"]
    found = connect_details(body)
    with pytest.raises(grpc.RpcError) as caught:
        stubs.GetBreaker(a.GetBreakerRequest(name="nope"))
    truth = details(caught.value)
    assert found["ErrorInfo"] == truth["ErrorInfo"]
    assert found["ResourceInfo"] == truth["ResourceInfo"]
    assert body["details"][0]["debug"]["reason"] == "BREAKER_NOT_FOUND"


def test_invalid_argument_names_the_fields_grpc_names(http: httpx.Client, stubs: Stubs) -> None:
    request = {"name": "bad name", "config": {"windowSize": 0, "windowType": "WINDOW_TYPE_TIME",
                                              "failureRateThreshold": 150}}
    response = http.post("/rescp.v1.AdminService/PutBreaker", json=request)
    assert response.status_code == 400 and response.json()["code"] == "invalid_argument"
    found = connect_details(response.json())
    with pytest.raises(grpc.RpcError) as caught:
        stubs.PutBreaker(a.PutBreakerRequest(
            name="bad name", config=a.BreakerConfig(window_type=2, failure_rate_threshold=150)))
    assert {v.field for v in found["BadRequest"].field_violations} == bad_fields(caught.value)
    assert found["ErrorInfo"].reason == "INVALID_FIELD"


def test_binary_proto_works_too(http: httpx.Client) -> None:
    body = g.AllowRequest(breaker="websocket").SerializeToString()
    response = http.post("/rescp.v1.GuardService/Allow", content=body, headers=PROTO)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/proto"
    assert g.AllowResponse.FromString(response.content).allowed


@pytest.mark.parametrize(("content", "headers", "status", "code"), [
    (b"{not json", {}, 400, "invalid_argument"),
    (b"\xff\xfe{}", {}, 400, "invalid_argument"),
    (b"[1, 2]", {}, 400, "invalid_argument"),
    (b'{"nosuchfield": 1}', {}, 400, "invalid_argument"),
    (b'{"cost": -1}', {}, 400, "invalid_argument"),
    (b'{"cost": "lots"}', {}, 400, "invalid_argument"),
    (b"{}", {"content-type": "text/plain"}, 415, "invalid_argument"),
    (b"{}", {"content-type": ""}, 415, "invalid_argument"),
    (b"\x0a\xff", PROTO, 400, "invalid_argument"),
    (b"{}", {"connect-timeout-ms": "soon"}, 400, "invalid_argument"),
    (json.dumps({"key": "k" * 70_000}).encode(), {}, 429, "resource_exhausted"),
])
def test_bad_requests_get_connect_errors(http: httpx.Client, content: bytes,
                                         headers: dict[str, str], status: int,
                                         code: str) -> None:
    sent = {"content-type": "application/json", **headers}
    response = http.post("/rescp.v1.GuardService/Allow", content=content, headers=sent)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["message"]
    assert connect_details(body)["ErrorInfo"].domain == "rescp"


def test_a_request_over_64_kib_is_refused_as_grpc_refuses_it(http: httpx.Client) -> None:
    response = http.post("/rescp.v1.GuardService/Report", json={"message": "m" * 70_000})
    assert response.status_code == 429
    assert connect_details(response.json())["ErrorInfo"].reason == "REQUEST_TOO_LARGE"


def descriptor_set(*files: FileDescriptor) -> bytes:
    """The files and everything they import, dependencies first."""
    out = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(file: FileDescriptor) -> None:
        if file.name in seen:
            return
        seen.add(file.name)
        for dependency in file.dependencies:
            add(dependency)
        file.CopyToProto(out.file.add())

    for file in files:
        add(file)
    return out.SerializeToString()


@pytest.mark.skipif(shutil.which("node") is None or not (CONNECT_ES / "node_modules").is_dir(),
                    reason="needs node and `npm ci` in tests/http/connect_es (make test does it)")
def test_a_real_connect_client(web_server: ServerThread, tmp_path: Path) -> None:
    descriptors = tmp_path / "rescp.binpb"
    descriptors.write_bytes(descriptor_set(g.DESCRIPTOR, a.DESCRIPTOR,
                                           error_details_pb2.DESCRIPTOR))
    result = subprocess.run(["node", str(CONNECT_ES / "client.mjs"), web_server.http_url,
                             str(descriptors)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["allowed"] is True and seen["remaining"] == 99
    assert seen["breakers"] == ["dydx_api", "orders_db", "websocket"]
    assert seen["notFound"] == {"code": "NotFound", "reasons": ["BREAKER_NOT_FOUND"]}


def test_unknown_methods_and_verbs_are_connect_errors(http: httpx.Client) -> None:
    unknown = http.post("/rescp.v1.GuardService/Nope", json={})
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    wrong_verb = http.get("/rescp.v1.GuardService/Allow")
    assert wrong_verb.status_code == 405 and wrong_verb.json()["code"] == "unimplemented"
