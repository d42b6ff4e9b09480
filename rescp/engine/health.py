"""System health and feature degradation, computed from facts handed in.

Both are pure functions of the current facts (which circuits are open, whether a recent critical
error is unacknowledged, the error rate, whether the store works), so the server recomputes them
after every change and on a timer, and emits an event only when the answer differs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

from rescp.enums import Health
from rescp.errors import Violations

MAX_FEATURE_BREAKERS = 1000
"""Breakers one feature may name; a longer list is refused before its names are read."""
DEGRADED = "degraded"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Feature:
    """A part of the product that degrades while any of its breakers is open."""

    name: str
    breakers: tuple[str, ...] = ()
    degraded_message: str = ""
    fallback_available: bool = False

    def __post_init__(self) -> None:
        v = Violations()
        v.name(self.name, "name")
        count = len(self.breakers)
        v.check(count <= MAX_FEATURE_BREAKERS, "breakers",
                f"at most {MAX_FEATURE_BREAKERS} breakers, not {count}")
        for i, breaker in enumerate(self.breakers[:MAX_FEATURE_BREAKERS]):
            v.name(breaker, f"breakers[{i}]")
            if v.full:
                break
        v.check(len(set(self.breakers)) == len(self.breakers), "breakers", "must not repeat")
        v.check(len(self.degraded_message) <= 1024, "degraded_message", "at most 1024 characters")
        v.raise_if_any()


@dataclass(frozen=True, slots=True)
class AffectedFeature:
    feature: str
    status: str  # DEGRADED or UNAVAILABLE
    message: str


@dataclass(frozen=True, slots=True)
class Degradation:
    is_degraded: bool
    open_circuits: tuple[str, ...]
    affected_features: tuple[AffectedFeature, ...]
    fallback_available: bool
    open_count: int = 0  # open circuits in all (a capped copy lists fewer)
    affected_count: int = 0  # affected features in all

    def capped(self, open_circuits: int, features: int) -> Degradation:
        """The same facts with each list cut to its first entries, the counts still whole: an
        event's size must not grow with the number of open circuits."""
        return replace(self, open_circuits=self.open_circuits[:open_circuits],
                       affected_features=self.affected_features[:features])


def degradation(features: Iterable[Feature], open_circuits: Collection[str]) -> Degradation:
    """Which features are hit by the open circuits, sorted by name.

    A feature is affected while any of its breakers is open: "degraded" when it has a fallback,
    else "unavailable". `fallback_available` says at least one affected feature runs on one.
    """
    affected = tuple(
        AffectedFeature(f.name, DEGRADED if f.fallback_available else UNAVAILABLE,
                        f.degraded_message)
        for f in sorted(features, key=lambda f: f.name)
        if any(b in open_circuits for b in f.breakers)
    )
    return Degradation(
        is_degraded=bool(open_circuits),
        open_circuits=tuple(sorted(open_circuits)),
        affected_features=affected,
        fallback_available=any(a.status == DEGRADED for a in affected),
        open_count=len(open_circuits),
        affected_count=len(affected),
    )


def health(*, open_circuits: int, recent_critical: bool, errors_per_minute: float,
           error_rate_threshold: float, store_ok: bool) -> Health:
    """CRITICAL on a recent unacknowledged critical error or a failing store; WARNING on an open
    circuit or an error rate above its threshold; else HEALTHY."""
    if recent_critical or not store_ok:
        return Health.CRITICAL
    if open_circuits > 0 or errors_per_minute > error_rate_threshold:
        return Health.WARNING
    return Health.HEALTHY
