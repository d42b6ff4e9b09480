"""The TOML config file: the shipped example, defaults, and errors reported all at once."""

from __future__ import annotations

import pytest

from rescp.config import Config, ConfigError, load, parse
from rescp.engine.breaker import BreakerConfig
from rescp.enums import Algorithm, WindowType
from tests.support import EXAMPLE


def test_example_declares_the_seed_breakers_limit_and_features() -> None:
    config = load(EXAMPLE)
    assert config.breakers["dydx_api"].failure_threshold == 5
    assert config.breakers["websocket"].failure_threshold == 3
    orders = config.breakers["orders_db"]
    assert (orders.window_type, orders.window_size, orders.half_open_permits) == (
        WindowType.COUNT, 20, 2)
    assert [(x.name, x.max_requests, x.window, x.algorithm) for x in config.limits] == [
        ("api", 100, 60.0, Algorithm.SLIDING_WINDOW)]
    features = {f.name: f for f in config.features}
    assert features["real_time_updates"].fallback_available
    assert features["trading"].breakers == ("dydx_api",)
    assert config.server.listen == "0.0.0.0:50051" and config.server.store == "sqlite"
    assert config.server.data_dir == "./rescp-data" and config.server.store_failure_mode == "allow"


def test_empty_document_is_all_defaults() -> None:
    assert parse("") == Config()


def test_defaults_apply_to_declared_breakers() -> None:
    config = parse("[defaults.breaker]\nrecovery_timeout = 5\n[breakers.a]\n")
    assert config.default_breaker.recovery_timeout == 5.0
    assert config.breakers["a"] == BreakerConfig(recovery_timeout=5.0)


def test_every_problem_is_reported_with_its_path() -> None:
    text = """
    [server]
    grace = "long"
    [breakers."bad name"]
    [breakers.x]
    failure_rate_threshold = 150
    window_type = "sliding"
    half_open_permits = true
    [limits.l]
    max_requests = 0
    [features.f]
    breakers = [1]
    [typo]
    """
    with pytest.raises(ConfigError) as caught:
        parse(text)
    message = str(caught.value)
    for expected in ("server.grace: expected", 'breakers.bad name: not a valid breaker name',
                     "breakers.x.failure_rate_threshold", "breakers.x.window_type: expected one of",
                     "breakers.x.half_open_permits: expected an integer",
                     "limits.l.max_requests", "limits.l.window", "features.f.breakers",
                     "typo: unknown key"):
        assert expected in message


def test_not_toml_and_missing_file() -> None:
    with pytest.raises(ConfigError, match="config"):
        parse("[unclosed")
    with pytest.raises(ConfigError, match="cannot read"):
        load("/nonexistent/rescp.toml")


def test_the_readme_config_block_is_valid() -> None:
    readme = (EXAMPLE.parents[1] / "README.md").read_text()
    block = readme.split("## The config file", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    config = parse(block)
    assert config.breakers["orders_db"].failure_rate_threshold == 50.0
    assert config.events.max_lag == 1000


@pytest.mark.parametrize(("text", "named"), [
    ("[events]\nmax_events = 100\n", "events.max_lag: must not exceed events.max_events"),
    ("[errors]\nhistory = 0\n", "errors.history: must be 1 to"),
    ("[health]\nhousekeeping_interval = -1\n", "health.housekeeping_interval: must be"),
    ("[server]\ngrace = -5\n", "server.grace: must be"),
    ("[events]\nmax_age = nan\n", "events.max_age: must be"),
    ("[defaults]\nmax_breakers = 0\n", "defaults.max_breakers: must be"),
    ("[defaults]\nauto_create = 1\n", "defaults.auto_create: expected true or false"),
    ("[defaults]\nmax_breakers = 1\n[breakers.a]\n[breakers.b]\n", "defaults.max_breakers (1)"),
])
def test_every_setting_is_validated_and_named(text: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert named in str(caught.value)


def test_breaker_policy_defaults_and_settings() -> None:
    assert (Config().breaker_policy.max_breakers, Config().breaker_policy.auto_create) == (
        10_000, True)
    policy = parse("[defaults]\nmax_breakers = 5\nauto_create = false\n").breaker_policy
    assert (policy.max_breakers, policy.auto_create) == (5, False)
