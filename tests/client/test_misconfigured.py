"""Values the wire cannot carry, and names rescp does not know.

Admin methods refuse such values with the client's own InvalidArgumentError before anything is
sent (never protobuf's bare ValueError). In `guard` they are a control-plane problem, not an
outage to hide nor a crash: like a breaker or limit rescp does not know (NOT_FOUND), they follow
on_unavailable ("allow" runs the call unchecked, "deny" raises the typed error), are counted in
`misconfigured_calls` and logged once per guard target."""

from __future__ import annotations

import logging
import math

import pytest

from rescp_client import InvalidArgumentError, NotFoundError
from tests.client.conftest import Api


@pytest.fixture
def nowhere(free_port) -> str:
    """A target nothing listens on: a request sent there could only fail as unavailable."""
    return f"127.0.0.1:{free_port()}"


@pytest.mark.parametrize(("fields", "field"), [
    ({"failure_threshold": -1}, "config.failure_threshold"),
    ({"failure_threshold": 2**33}, "config.failure_threshold"),
    ({"window_size": "ten"}, "config.window_size"),
    ({"recovery_timeout": math.inf}, "config.recovery_timeout"),
    ({"failure_rate_threshold": "half"}, "config.failure_rate_threshold"),
])
def test_put_breaker_refuses_what_the_wire_cannot_carry_before_sending(
        make_api, nowhere, fields, field) -> None:
    api = make_api(nowhere, timeout=30)
    with pytest.raises(InvalidArgumentError) as caught:
        api.run(api.client.put_breaker("b", **fields))
    assert [v.field for v in caught.value.field_violations] == [field]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"max_requests": -1, "window": 1.0}, "limit.max_requests"),
    ({"max_requests": 2**65, "window": 1.0}, "limit.max_requests"),
    ({"max_requests": 1, "window": math.nan}, "limit.window"),
])
def test_put_limit_refuses_what_the_wire_cannot_carry_before_sending(
        make_api, nowhere, kwargs, field) -> None:
    api = make_api(nowhere, timeout=30)
    with pytest.raises(InvalidArgumentError) as caught:
        api.run(api.client.put_limit("l", **kwargs))
    assert caught.value.field_violations[0].field == field
    with pytest.raises(InvalidArgumentError):
        api.run(api.client.notifications(limit=-1))


@pytest.mark.parametrize("cost", [-1, 2**33])
def test_a_bad_cost_in_guard_follows_on_unavailable(make_api, server, cost) -> None:
    allowing = make_api(server.target, on_unavailable="allow")
    ran: list[int] = []
    allowing.guarded(lambda: ran.append(1), limit="api", key="k", cost=cost)
    assert ran == [1] and allowing.client.misconfigured_calls == 1
    denying = make_api(server.target, on_unavailable="deny")
    with pytest.raises(InvalidArgumentError) as caught:
        denying.guarded(lambda: ran.append(2), limit="api", key="k", cost=cost)
    assert ran == [1] and caught.value.field_violations[0].field == "cost"
    assert denying.client.misconfigured_calls == 1


def test_a_bad_cost_fails_open_while_rescp_is_down_too(make_api, nowhere) -> None:
    api = make_api(nowhere, on_unavailable="allow", allow_timeout=0.05)
    ran: list[int] = []
    api.guarded(lambda: ran.append(1), breaker="b", cost=-1)
    assert ran == [1]
    assert api.run(api.client.limiter("api").record_request("k", cost=-5)) is True


def test_an_unknown_limit_in_guard_follows_on_unavailable_and_is_logged_once(
        make_api, server, caplog: pytest.LogCaptureFixture) -> None:
    api: Api = make_api(server.target, on_unavailable="allow")
    ran: list[int] = []
    with caplog.at_level(logging.ERROR, logger="rescp_client"):
        for _ in range(3):
            api.guarded(lambda: ran.append(1), limit="ghost", key="k")
    assert ran == [1, 1, 1] and api.client.misconfigured_calls == 3
    assert len([r for r in caplog.records if "'ghost'" in r.getMessage()]) == 1
    denying = make_api(server.target, on_unavailable="deny")
    with pytest.raises(NotFoundError) as caught:
        denying.guarded(lambda: ran.append(2), limit="ghost", key="k")
    assert caught.value.resource_name == "ghost" and ran == [1, 1, 1]


def test_admin_and_read_methods_still_raise_not_found(api: Api) -> None:
    with pytest.raises(NotFoundError):
        api.run(api.client.limit_status("ghost", "k"))
    with pytest.raises(NotFoundError):
        api.run(api.client.get_breaker("ghost"))
