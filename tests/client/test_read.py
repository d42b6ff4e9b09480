"""The read side through both flavours: error summary, notifications, acknowledgement, system
health; each a typed model, and each reflecting this client's own earlier records."""

from __future__ import annotations

import pytest

from rescp_client import BreakerState, ErrorRecord, NotFoundError

pytestmark = pytest.mark.usefixtures("server")


def report(api, error: Exception, **kwargs) -> ErrorRecord:
    return api.run(api.client.report(error, **kwargs))


def test_error_summary_counts_by_category_and_severity(api) -> None:
    report(api, ConnectionError("refused"))
    report(api, ConnectionError("reset"))
    report(api, ValueError("bad amount"))
    summary = api.run(api.client.error_summary())
    assert summary.total_errors == 3
    assert summary.error_counts == {"network_high": 2, "validation_low": 1}
    assert [e.message for e in summary.recent_errors] == ["bad amount", "reset", "refused"]
    assert summary.errors_per_minute == 3


def test_notifications_filter_by_severity_and_acknowledgement(api) -> None:
    low = report(api, ValueError("bad amount"))
    high = report(api, ConnectionError("refused"))
    critical = report(api, MemoryError("out of memory"))
    assert critical.severity == "critical"
    default = api.run(api.client.notifications())  # min_severity="high"
    assert [n.id for n in default] == [critical.error_id, high.error_id]
    assert default[1].title == "NETWORK Error" and default[1].severity == "high"
    assert default[1].message == high.message and default[1].time == high.time
    assert default[1].user_message == high.user_message != high.message
    assert default.total == 2
    every = api.run(api.client.notifications(min_severity=None))
    assert [n.id for n in every] == [critical.error_id, high.error_id, low.error_id]
    one = api.run(api.client.notifications(min_severity="low", limit=1))
    assert (len(one), one.total) == (1, 3)  # total counts before the limit

    acknowledged = api.run(api.client.acknowledge(critical.error_id))
    assert acknowledged.acknowledged and acknowledged.error_id == critical.error_id
    assert [n.id for n in api.run(api.client.notifications())] == [high.error_id]
    assert len(api.run(api.client.notifications(include_acknowledged=True))) == 2
    with pytest.raises(NotFoundError):
        api.run(api.client.acknowledge("no-such-error"))


def test_system_health_follows_open_circuits_and_critical_errors(api) -> None:
    healthy = api.run(api.client.system_health())
    assert (healthy.health, healthy.open_circuits, healthy.circuit_breakers) == (
        "healthy", 0, ())
    api.run(api.client.transition_breaker("orders_db", "forced_open"))
    warning = api.run(api.client.system_health())
    assert (warning.health, warning.open_circuits) == ("warning", 1)
    assert [(b.name, b.state) for b in warning.circuit_breakers] == [
        ("orders_db", BreakerState.FORCED_OPEN)]
    critical = report(api, MemoryError("out of memory"))
    assert api.run(api.client.system_health()).health == "critical"
    api.run(api.client.acknowledge(critical.error_id))
    after = api.run(api.client.system_health())
    assert (after.health, after.total_errors, after.critical_errors) == ("warning", 1, 1)
    assert after.sequence > warning.sequence


@pytest.mark.usefixtures("slow_records")
def test_reads_reflect_this_clients_own_records(api) -> None:
    """Records go out in the background, yet a read right after them already counts them."""
    api.run(api.client.put_breaker("mine", failure_threshold=3))
    for _ in range(3):
        with pytest.raises(ConnectionError):
            api.guarded(_refused, breaker="mine")
    assert api.run(api.client.error_summary()).total_errors == 3
    assert api.run(api.client.degradation()).open_circuits == ("mine",)
    assert api.run(api.client.system_health()).open_circuits == 1
    [mine] = [b for b in api.run(api.client.list_breakers()) if b.name == "mine"]
    assert (mine.state, mine.failure_count) == (BreakerState.OPEN, 3)


def _refused() -> None:
    raise ConnectionError("refused")


def test_classify_says_what_report_would_store_and_stores_nothing(api) -> None:
    error = ConnectionError("connection refused, password=hunter2")
    classified = api.run(api.client.classify(error, operation="get_account_info"))
    assert (classified.category, classified.severity) == ("network", "high")
    assert classified.user_message and classified.action.type and classified.fingerprint
    assert classified.message == "connection refused, password=[REDACTED]"
    assert api.run(api.client.error_summary()).total_errors == 0
    record = report(api, error)
    assert (record.category, record.severity, record.user_message, record.action) == (
        classified.category, classified.severity, classified.user_message, classified.action)
