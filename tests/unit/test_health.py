"""Health and degradation rules, exactly as the contract says."""

from __future__ import annotations

import pytest

from rescp.engine.health import AffectedFeature, Feature, degradation, health
from rescp.enums import Health
from rescp.errors import InvalidArgument

TRADING = Feature("trading", ("dydx_api",), "Trading is temporarily unavailable", False)
UPDATES = Feature("real_time_updates", ("websocket",), "Real-time updates (polling)", True)
BOTH = Feature("dashboard", ("dydx_api", "websocket"), "Dashboard is stale", True)


def test_nothing_open_is_not_degraded() -> None:
    d = degradation([TRADING, UPDATES], set())
    assert (d.is_degraded, d.open_circuits, d.affected_features, d.fallback_available) == (
        False, (), (), False)


def test_affected_features_sorted_with_status_from_fallback() -> None:
    d = degradation([TRADING, UPDATES, BOTH], {"websocket", "dydx_api"})
    assert d.is_degraded and d.open_circuits == ("dydx_api", "websocket")
    assert d.affected_features == (
        AffectedFeature("dashboard", "degraded", "Dashboard is stale"),
        AffectedFeature("real_time_updates", "degraded", "Real-time updates (polling)"),
        AffectedFeature("trading", "unavailable", "Trading is temporarily unavailable"))
    assert d.fallback_available


def test_open_circuit_without_features_is_still_degraded() -> None:
    d = degradation([TRADING], {"other"})
    assert d.is_degraded and d.affected_features == () and not d.fallback_available


def test_only_unavailable_features_have_no_fallback() -> None:
    assert not degradation([TRADING], {"dydx_api"}).fallback_available


@pytest.mark.parametrize(("open_", "critical", "rate", "store_ok", "expected"), [
    (0, False, 0.0, True, Health.HEALTHY),
    (0, False, 10.0, True, Health.HEALTHY),  # at the threshold is not above it
    (0, False, 10.5, True, Health.WARNING),
    (1, False, 0.0, True, Health.WARNING),
    (1, True, 0.0, True, Health.CRITICAL),
    (0, False, 0.0, False, Health.CRITICAL),
])
def test_health_rules(open_: int, critical: bool, rate: float, store_ok: bool,
                      expected: Health) -> None:
    assert health(open_circuits=open_, recent_critical=critical, errors_per_minute=rate,
                  error_rate_threshold=10.0, store_ok=store_ok) is expected


def test_feature_validation_names_every_bad_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        Feature("bad name", ("ok", "not ok", "ok"))
    assert {v.field for v in caught.value.violations} == {"name", "breakers[1]", "breakers"}
