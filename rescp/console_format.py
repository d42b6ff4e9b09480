"""What `rescp status` and `rescp watch` print: pure functions from the client's models to text.

Kept apart from the commands (`rescp.console`) so that every format is unit-tested without a
server. A readable event is one line: `#<sequence> <time> <kind> <essentials>`, times in UTC
ISO 8601 with milliseconds. A JSON line is the model's own fields (`dataclasses.asdict`: times
float epoch seconds, as in the Python client) after its `type`, so a script reads the names
the client has. Tables pad each column to its widest cell, two spaces apart, with no trailing
spaces. This module imports the client (rescp-client); only those commands import it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime

from rescp_client import (
    AffectedFeature,
    Breaker,
    BreakerDeleted,
    BreakerTransition,
    Degradation,
    DegradationChange,
    HealthChange,
    Limit,
    NotificationEvent,
    RateLimitExceeded,
    Snapshot,
    SystemHealth,
    WatchEvent,
)


def iso(when: float | None) -> str:
    """UTC ISO 8601 with milliseconds and a Z; "-" for a time never set."""
    if when is None:
        return "-"
    text = datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


# events


def event_line(event: WatchEvent) -> str:
    """One readable line: sequence, time, kind and the essentials."""
    if isinstance(event, Snapshot):  # a state, not a happening: it has no time of its own
        return f"#{event.sequence} snapshot {_snapshot(event)}"
    return f"#{event.sequence} {iso(event.time)} {_essentials(event)}"


def event_json(event: WatchEvent) -> str:
    """One JSON object: {"type": ..., then the model's fields}."""
    return json.dumps({"type": event.type, **asdict(event)})


Happening = (BreakerTransition | NotificationEvent | DegradationChange | HealthChange
             | RateLimitExceeded | BreakerDeleted)


def _essentials(event: Happening) -> str:
    match event:
        case BreakerTransition():
            why = f" ({event.reason})" if event.reason else ""
            return f"breaker {event.breaker} {event.from_state} -> {event.to_state}{why}"
        case NotificationEvent(notification=note):
            return f"notification {note.severity} {note.title}: {note.message}"
        case DegradationChange():
            degraded = _degraded(event.open_circuits, event.affected_features)
            return f"degradation {f'degraded: {degraded}' if degraded else 'recovered'}"
        case HealthChange():
            return f"health {event.from_health} -> {event.to_health}"
        case RateLimitExceeded():
            return (f"rate_limit {event.limit} key {event.key!r} refused {event.refused}, "
                    f"retry in {event.retry_after:.3f}s")
        case BreakerDeleted():
            return f"breaker {event.breaker} deleted (was {event.last_state or 'unknown'})"


def _degraded(open_circuits: Sequence[str], affected: Sequence[AffectedFeature]) -> str:
    """The open circuits and the features they affect; "" when no circuit is open."""
    if not open_circuits:
        return ""
    features = ", ".join(f"{a.feature} {a.status}" for a in affected) or "no feature affected"
    return f"{', '.join(open_circuits)} open; {features}"


def _snapshot(snapshot: Snapshot) -> str:
    breakers = ", ".join(f"{b.name} {b.state}" for b in snapshot.breakers) or "none"
    degradation = snapshot.degradation
    degraded = _degraded(degradation.open_circuits, degradation.affected_features)
    return f"health {snapshot.health.health}; breakers {breakers}; degradation {degraded or 'none'}"


# status


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned lines: the headers, then each row (or "(none)" when there is none)."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
             .rstrip() for line in [headers, *rows]]
    return lines if rows else [*lines, "(none)"]


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def breakers_table(breakers: Sequence[Breaker]) -> list[str]:
    return table(["BREAKER", "STATE", "FAILURES", "SUCCESSES", "FAILURE RATE", "SLOW CALLS",
                  "LAST FAILURE", "SINCE"],
                 [[b.name, b.state.value, str(b.failure_count), str(b.success_count),
                   _rate(b.failure_rate), _rate(b.slow_call_rate), iso(b.last_failure_time),
                   iso(b.state_since)] for b in breakers])


def limits_table(limits: Sequence[Limit]) -> list[str]:
    return table(["LIMIT", "ALGORITHM", "MAX REQUESTS", "WINDOW"],
                 [[x.name, x.algorithm, str(x.max_requests), f"{x.window:g}s"] for x in limits])


def health_table(health: SystemHealth) -> list[str]:
    return table(["HEALTH", "ERRORS", "CRITICAL ERRORS", "OPEN CIRCUITS", "SEQUENCE"],
                 [[health.health, str(health.total_errors), str(health.critical_errors),
                   str(health.open_circuits), str(health.sequence)]])


def degradation_table(degradation: Degradation) -> list[str]:
    """Whether anything is degraded, then the affected features (when any are)."""
    lines = table(["DEGRADED", "OPEN CIRCUITS", "FALLBACK AVAILABLE"],
                  [["yes" if degradation.is_degraded else "no",
                    ", ".join(degradation.open_circuits) or "-",
                    "yes" if degradation.fallback_available else "no"]])
    if degradation.affected_features:
        lines += ["", *table(["FEATURE", "STATUS", "MESSAGE"],
                             [[a.feature, a.status, a.message]
                              for a in degradation.affected_features])]
    return lines


def status_report(breakers: Sequence[Breaker], limits: Sequence[Limit], health: SystemHealth,
                  degradation: Degradation) -> str:
    """`rescp status`: breakers, limits, health and degradation, a blank line between."""
    sections = [breakers_table(breakers), limits_table(limits), health_table(health),
                degradation_table(degradation)]
    return "\n\n".join("\n".join(lines) for lines in sections)
