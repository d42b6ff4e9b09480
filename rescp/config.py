"""The config file (TOML) -> validated settings and start-up resources.

TOML because Python reads it with the standard library (tomllib), so the server needs no YAML
dependency. Keys mirror the proto field names; durations are seconds. Unknown keys and bad
values are reported all at once with their paths, so a typo never silently falls back to a
default. The file only builds the frozen dataclasses the library uses (library config is not
process config).
"""

from __future__ import annotations

import math
import socket
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from rescp.engine.breaker import BreakerConfig
from rescp.engine.health import Feature
from rescp.engine.ratelimit import LimitConfig
from rescp.enums import Algorithm, WindowType
from rescp.errors import NAME_PATTERN, InvalidArgument
from rescp.plane import PlaneSettings

T = TypeVar("T")


class ConfigError(ValueError):
    """The config file is unreadable or invalid; the message lists every problem."""


class StartupError(RuntimeError):
    """The server could not start (a port in use, an unusable database): exit status 1. Here,
    not beside the server, so the `--workers` supervisor can raise it without importing grpc."""


def bounded(default: T, low: float, high: float) -> T:
    """A numeric setting and the closed range the config file may set it to."""
    return field(default=default, metadata={"range": (low, high)})


DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class ServerSettings:
    listen: str = "0.0.0.0:50051"
    http_listen: str = "0.0.0.0:8080"  # HTTP (REST, Connect JSON, metrics, dashboard); "off"
    store: str = "sqlite"  # sqlite (DATA_DIR/rescp.db), sqlite:PATH, memory or redis://…
    data_dir: str = "./rescp-data"
    store_failure_mode: str = "allow"  # what Allow answers while the store is unreachable
    redis_timeout: float = bounded(0.02, 0.001, 10.0)  # seconds a Redis operation may take
    redis_prefix: str = "rescp:"  # of every key the Redis store writes
    grace: float = bounded(5.0, 0.0, 3600.0)  # seconds in-flight RPCs get to finish on SIGTERM
    workers: int = bounded(1, 1, 256)  # processes sharing the ports; over 1 needs REDIS_SCHEMES


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """How breakers come to exist: `Allow` creates an unknown one while fewer than
    `max_breakers` exist, unless `auto_create` is off."""

    max_breakers: int = bounded(10_000, 1, 10_000_000)
    auto_create: bool = True


@dataclass(frozen=True, slots=True)
class ErrorSettings:
    history: int = bounded(1000, 1, 1_000_000)  # error records kept; counts survive eviction
    critical_window: float = bounded(300.0, 0.0, 7 * DAY)  # unacknowledged critical: CRITICAL


@dataclass(frozen=True, slots=True)
class EventSettings:
    max_events: int = bounded(10_000, 1, 10_000_000)
    max_age: float = bounded(3600.0, 1.0, 7 * DAY)
    max_lag: int = bounded(1_000, 1, 10_000_000)  # live lag before a subscriber is cut off


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerSettings = ServerSettings()
    default_breaker: BreakerConfig = BreakerConfig()
    breaker_policy: BreakerPolicy = BreakerPolicy()
    errors: ErrorSettings = ErrorSettings()
    events: EventSettings = EventSettings()
    plane: PlaneSettings = PlaneSettings()
    breakers: dict[str, BreakerConfig] = field(default_factory=dict)
    limits: tuple[LimitConfig, ...] = ()
    features: tuple[Feature, ...] = ()


class _Reader:
    """Reads one TOML table, collecting problems and remembering which keys were used."""

    def __init__(self, data: dict[str, Any], path: str, problems: list[str]) -> None:
        self.data, self.path, self.problems = data, path, problems
        self.used: set[str] = set()

    def get(self, key: str, kind: type[T] | tuple[type, ...], default: T) -> T:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
            self.problems.append(f"{self.path}{key}: expected {_kind_name(kind)}")
            return default
        return value  # type: ignore[return-value]

    def number(self, key: str, default: float) -> float:
        return float(self.get(key, (int, float), default))

    def table(self, key: str) -> _Reader:
        return _Reader(self.get(key, dict, {}), f"{self.path}{key}.", self.problems)

    def choice(self, key: str, enum: Any, default: Any) -> Any:
        text = self.get(key, str, "")
        if not text:
            return default
        try:
            return enum[text.upper()]
        except KeyError:
            options = ", ".join(m.name.lower() for m in enum)
            self.problems.append(f"{self.path}{key}: expected one of {options}")
            return default

    def finish(self) -> None:
        for key in sorted(set(self.data) - self.used):
            self.problems.append(f"{self.path}{key}: unknown key")

    def build(self, make: type[T], **values: Any) -> T | None:
        self.finish()
        try:
            return make(**values)
        except InvalidArgument as error:
            self.problems.extend(f"{self.path}{v.field}: {v.description}"
                                 for v in error.violations)
            return None


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             dict: "a table", list: "a list"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _settings(reader: _Reader, make: type[T]) -> T:
    """Every field of the settings class `make` from its table, each checked against its range."""
    default = make()
    values: dict[str, Any] = {}
    for f in fields(make):  # type: ignore[arg-type]
        fallback = getattr(default, f.name)
        if isinstance(fallback, float):
            value: Any = reader.number(f.name, fallback)
        else:
            value = reader.get(f.name, type(fallback), fallback)
        low, high = f.metadata.get("range", (-math.inf, math.inf))
        if isinstance(value, int | float) and not low <= value <= high:
            reader.problems.append(f"{reader.path}{f.name}: must be {low:g} to {high:g}")
            value = fallback
        values[f.name] = value
    reader.finish()
    return make(**values)


def _breaker(r: _Reader, base: BreakerConfig, name: str | None = None) -> BreakerConfig | None:
    if name is not None and NAME_PATTERN.fullmatch(name) is None:
        r.problems.append(f"{r.path[:-1]}: not a valid breaker name")
    return r.build(
        BreakerConfig,
        failure_threshold=r.get("failure_threshold", int, base.failure_threshold),
        failure_rate_threshold=r.number("failure_rate_threshold", base.failure_rate_threshold),
        slow_call_rate_threshold=r.number("slow_call_rate_threshold",
                                          base.slow_call_rate_threshold),
        slow_call_duration=r.number("slow_call_duration", base.slow_call_duration),
        window_type=r.choice("window_type", WindowType, base.window_type),
        window_size=r.get("window_size", int, base.window_size),
        minimum_calls=r.get("minimum_calls", int, base.minimum_calls),
        recovery_timeout=r.number("recovery_timeout", base.recovery_timeout),
        half_open_permits=r.get("half_open_permits", int, base.half_open_permits),
    )


def _limit(name: str, r: _Reader) -> LimitConfig | None:
    return r.build(LimitConfig, name=name, max_requests=r.get("max_requests", int, 0),
                   window=r.number("window", 0.0),
                   algorithm=r.choice("algorithm", Algorithm, Algorithm.SLIDING_WINDOW),
                   lease=r.get("lease", int, 0))


def _feature(name: str, r: _Reader) -> Feature | None:
    breakers = r.get("breakers", list, [])
    if not all(isinstance(b, str) for b in breakers):
        r.problems.append(f"{r.path}breakers: expected a list of strings")
        breakers = []
    return r.build(Feature, name=name, breakers=tuple(breakers),
                   degraded_message=r.get("degraded_message", str, ""),
                   fallback_available=r.get("fallback_available", bool, False))


def parse(text: str, source: str = "config") -> Config:
    """Parse and validate a config document; raise ConfigError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: {error}") from None
    problems: list[str] = []
    root = _Reader(data, "", problems)
    defaults = root.table("defaults")
    default_breaker = _breaker(defaults.table("breaker"), BreakerConfig()) or BreakerConfig()
    breaker_policy = _settings(defaults, BreakerPolicy)
    breakers_table, limits_table, features_table = (
        root.table("breakers"), root.table("limits"), root.table("features"))
    config = Config(
        server=_settings(root.table("server"), ServerSettings),
        default_breaker=default_breaker,
        breaker_policy=breaker_policy,
        errors=_settings(root.table("errors"), ErrorSettings),
        events=_settings(root.table("events"), EventSettings),
        plane=_settings(root.table("health"), PlaneSettings),
        breakers={name: b for name in breakers_table.data
                  if (b := _breaker(breakers_table.table(name), default_breaker, name))
                  is not None},
        limits=tuple(limit for name in limits_table.data
                     if (limit := _limit(name, limits_table.table(name))) is not None),
        features=tuple(feature for name in features_table.data
                       if (feature := _feature(name, features_table.table(name))) is not None),
    )
    root.finish()
    problems.extend(f"server.{problem}" for problem in server_problems(config.server))
    if config.events.max_lag > config.events.max_events:
        problems.append(f"events.max_lag: must not exceed events.max_events "
                        f"({config.events.max_events})")
    if len(config.breakers) > breaker_policy.max_breakers:
        problems.append(f"breakers: {len(config.breakers)} declared, more than "
                        f"defaults.max_breakers ({breaker_policy.max_breakers})")
    if problems:
        raise ConfigError(f"{source} is invalid:\n  " + "\n  ".join(problems))
    return config


STORES = "sqlite, sqlite:PATH, memory, redis://[:password@]HOST:PORT/DB or rediss://…"
REDIS_SCHEMES = ("redis://", "rediss://")
"""The one store several processes share: what `workers` over 1 needs."""


def server_problems(server: ServerSettings) -> list[str]:
    """What is wrong with the store settings, as `key: problem` lines."""
    problems = []
    if server.store.startswith(REDIS_SCHEMES):
        problems.extend(redis_problems(server.store))
    elif server.store not in ("sqlite", "memory") and not (
            server.store.startswith("sqlite:") and len(server.store) > len("sqlite:")):
        problems.append(f"store: {server.store!r} is not a store; expected {STORES}")
    if not server.redis_prefix:
        problems.append("redis_prefix: must not be empty (keys of other programs may share the "
                        "database)")
    if server.store_failure_mode not in ("allow", "deny"):
        problems.append("store_failure_mode: expected allow or deny")
    if server.workers > 1 and not server.store.startswith(REDIS_SCHEMES):
        problems.append(f"workers: {server.workers} workers need a shared store (redis:// or "
                        f"rediss://); {server.store!r} would give each worker state of its own")
    if server.http_listen != "off":
        try:
            listen_address(server.http_listen)
        except ValueError:
            problems.append(f"http_listen: {server.http_listen!r}: HTTP needs HOST:PORT or off")
    return problems


def listen_address(listen: str) -> tuple[socket.AddressFamily, str, int]:
    """HOST:PORT ([HOST] for IPv6) as the socket family, host and port to bind;
    ValueError when it is not that."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{listen!r}: HOST:PORT expected")
    return socket.AF_INET6 if ":" in host else socket.AF_INET, host, int(port)


def redis_problems(url: str) -> list[str]:
    """What is wrong with a redis:// or rediss:// URL: a host, a port, a database number."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return ["store: the Redis URL's port must be a number from 0 to 65535"]
    problems = []
    if not parts.hostname:
        problems.append("store: the Redis URL names no host (redis://HOST:PORT/DB)")
    if port == 0:
        problems.append("store: the Redis URL's port must not be 0")
    db = parts.path.lstrip("/")
    if db and not db.isdigit():
        problems.append(f"store: the Redis URL's database must be a number, not {db!r}")
    if parts.query or parts.fragment:
        problems.append("store: the Redis URL takes no query or fragment; use [server] "
                        "redis_timeout and redis_prefix")
    return problems


def load(path: str | Path) -> Config:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    return parse(text, str(path))
