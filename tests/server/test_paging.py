"""Every List RPC pages as AIP-158 has it: a default and a maximum page size, opaque tokens
refused when foreign, and one sequence for every page of a listing of breakers."""

from __future__ import annotations

import grpc
import pytest

from rescp._proto import admin_pb2 as a
from rescp._proto import guard_pb2 as g
from rescp.engine.breaker import BreakerConfig
from rescp.engine.health import Feature
from rescp.engine.ratelimit import LimitConfig
from rescp.server.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from rescp.testing import ServerThread
from tests.server.conftest import Stubs, bad_fields

FORCED_OPEN = 4


def _add_breakers(server: ServerThread, count: int) -> list[str]:
    names = [f"p{i:05}" for i in range(count)]

    async def add() -> None:
        for name in names:
            await server.running.plane.put_breaker(name, BreakerConfig())

    server.call(add(), timeout=60)
    return names


def test_list_breakers_pages_with_one_sequence(server: ServerThread, stubs: Stubs) -> None:
    names = _add_breakers(server, 2_500)
    everything = sorted([*names, "dydx_api", "orders_db", "websocket"])
    first = stubs.ListBreakers(a.ListBreakersRequest())
    assert len(first.breakers) == DEFAULT_PAGE_SIZE and first.next_page_token
    seen = [b.name for b in first.breakers]
    token = first.next_page_token
    while token:
        stubs.TransitionBreaker(a.TransitionBreakerRequest(name="websocket", state=FORCED_OPEN))
        page = stubs.ListBreakers(a.ListBreakersRequest(page_size=5_000, page_token=token))
        assert len(page.breakers) <= MAX_PAGE_SIZE
        assert (page.sequence, page.log_id) == (first.sequence, first.log_id)
        seen += [b.name for b in page.breakers]
        token = page.next_page_token
    assert seen == everything


def test_limits_features_and_notifications_page_too(server: ServerThread, stubs: Stubs) -> None:
    async def add() -> None:
        for i in range(250):
            await server.running.plane.put_limit(LimitConfig(f"l{i:03}", 10, 1.0))
            await server.running.plane.put_feature(Feature(f"f{i:03}", ("websocket",)))

    server.call(add(), timeout=60)
    limits, features, token = [], [], ""
    while True:
        page = stubs.ListLimits(a.ListLimitsRequest(page_size=100, page_token=token))
        limits += [x.name for x in page.limits]
        if not (token := page.next_page_token):
            break
    while True:
        fpage = stubs.ListFeatures(a.ListFeaturesRequest(page_size=100, page_token=token))
        features += [f.name for f in fpage.features]
        if not (token := fpage.next_page_token):
            break
    assert limits == sorted([*(f"l{i:03}" for i in range(250)), "api"])
    exact = stubs.ListLimits(a.ListLimitsRequest(page_size=len(limits)))
    assert len(exact.limits) == len(limits) and not exact.next_page_token
    assert [f for f in features if f.startswith("f")] == [f"f{i:03}" for i in range(250)]
    ids = [stubs.Report(g.ReportRequest(error_type="TimeoutError", message=f"m{i}")).record
           .error_id for i in range(25)]
    pages = []
    while True:
        npage = stubs.ListNotifications(a.ListNotificationsRequest(limit=10, page_token=token))
        assert npage.total == 25
        pages.append([n.id for n in npage.notifications])
        if not (token := npage.next_page_token):
            break
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [i for p in pages for i in p] == ids[::-1]  # newest first, each once


@pytest.mark.parametrize(("method", "request_"), [
    ("ListBreakers", a.ListBreakersRequest(page_size=-1)),
    ("ListBreakers", a.ListBreakersRequest(page_token="not a token")),
    ("ListBreakers", a.ListBreakersRequest(page_token="[" * 2000)),
    ("ListLimits", a.ListLimitsRequest(page_token="WyJicmVha2VycyIsIngiLDAsIiJd")),
    ("ListFeatures", a.ListFeaturesRequest(page_size=-5, page_token="%%%")),
    ("ListNotifications", a.ListNotificationsRequest(page_token="e30=")),
])
def test_bad_page_requests_are_invalid(stubs: Stubs, method: str, request_: object) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stubs, method)(request_)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert bad_fields(caught.value) <= {"page_size", "page_token"}


def test_a_token_of_one_list_is_refused_by_another(server: ServerThread, stubs: Stubs) -> None:
    _add_breakers(server, 150)
    token = stubs.ListBreakers(a.ListBreakersRequest()).next_page_token
    with pytest.raises(grpc.RpcError) as caught:
        stubs.ListLimits(a.ListLimitsRequest(page_token=token))
    assert bad_fields(caught.value) == {"page_token"}


def test_a_token_of_another_log_is_refused(stubs: Stubs, server: ServerThread) -> None:
    _add_breakers(server, 150)
    token = stubs.ListBreakers(a.ListBreakersRequest()).next_page_token
    with ServerThread(server.config) as other, grpc.insecure_channel(other.target) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            Stubs(channel).ListBreakers(a.ListBreakersRequest(page_token=token))
        assert bad_fields(caught.value) == {"page_token"}
        assert "another event log" in caught.value.details()  # type: ignore[attr-defined]
