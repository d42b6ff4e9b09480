"""The SQLite store: the memory store's engines, with what must survive written through.

One process owns the file (see sqlite_schema: the lock), so the engines in memory are the truth
while it runs and the file is its durable copy; `load` takes it up again after a restart or a
crash. What is written, and when it is waited for:

- a breaker transition: its state row and the event announcing it go in one transaction, and the
  operation that caused it (`Allow`, `Record`, an admin call) returns only once it is committed;
  watchers see an event only once it is committed (the log is `held`);
- a new error record (`Report`) and its counts: answered only once committed; a failed commit
  answers UNAVAILABLE and the record is not kept;
- configs, deletions, acknowledgements: committed before they are answered;
- breaker counts and windows (no transition): snapshotted every SNAPSHOT_INTERVAL and on clean
  shutdown; rate-limit counters: the keys touched since the last housekeeping tick, at every
  tick (at most SNAPSHOT_KEYS per limit), and all of them on clean shutdown. Trial permits and
  the alert throttle are not saved.

A failing commit sets `ok` False (health CRITICAL) until one succeeds again; state writes are
kept and retried by the writer, while `Allow` goes on deciding in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from rescp.clock import Clock
from rescp.engine.breaker import Breaker, BreakerConfig, BreakerSnapshot, Transition
from rescp.engine.errorlog import ErrorRecord, ErrorReport, build_record
from rescp.engine.health import Degradation, Feature
from rescp.engine.ratelimit import KeySnapshot, LimitConfig, Limiter, make_limiter
from rescp.enums import BreakerState, EventType, Health, Severity
from rescp.errors import RescpError, StoreUnavailable
from rescp.events import PAYLOAD_TYPES, Event, EventLog, HealthChange
from rescp.store import codec
from rescp.store.base import (
    AllowItem,
    AllowResult,
    Applied,
    BreakerView,
    HealthRules,
    RecordItem,
    SystemHealth,
)
from rescp.store.memory import MemoryStore
from rescp.store.sqlite_schema import DatabaseRefused, lock, open_database
from rescp.store.writer import Statement, Writer

log = logging.getLogger(__name__)

T = TypeVar("T")

SNAPSHOT_INTERVAL = 1.0
"""Seconds between saves of breaker counts changed without a transition (a crash loses at most
this much of them, never a state)."""

SNAPSHOT_KEYS = 10_000
"""Rate-limit keys saved per limit per housekeeping tick: bounded work on the event loop."""

TOTAL, CRITICAL = "*total", "*critical"  # error_counts rows beside the per-category ones

_UPSERT_COUNT = ("INSERT INTO error_counts VALUES (?, 1) "
                 "ON CONFLICT (key) DO UPDATE SET n = n + 1")
_SET_META = "INSERT OR REPLACE INTO meta VALUES (?, ?)"
_SAVE_KEY = "INSERT OR REPLACE INTO limit_keys VALUES (?, ?, ?, ?)"


@dataclass(frozen=True, slots=True)
class _Saved:
    """Everything read from the file at start."""

    meta: dict[str, str]
    breakers: list[tuple[str, str, str]]
    limits: list[str]
    features: list[str]
    errors: list[str]
    counts: dict[str, int]
    events: list[tuple[int, float, int, str]]
    limit_keys: list[tuple[str, str]]


def _read(conn: sqlite3.Connection, history: int, now: float) -> _Saved:
    def rows(sql: str, *params: Any) -> list[Any]:
        return conn.execute(sql, params).fetchall()
    return _Saved(
        meta=dict(rows("SELECT key, value FROM meta")),
        breakers=rows("SELECT name, config, state FROM breakers ORDER BY name"),
        limits=[r[0] for r in rows("SELECT config FROM limits ORDER BY name")],
        features=[r[0] for r in rows("SELECT config FROM features ORDER BY name")],
        errors=[r[0] for r in reversed(rows(
            "SELECT record FROM errors ORDER BY seq DESC LIMIT ?", history))],
        counts=dict(rows("SELECT key, n FROM error_counts")),
        events=rows("SELECT sequence, time, type, payload FROM events ORDER BY sequence"),
        limit_keys=rows("SELECT limit_name, state FROM limit_keys WHERE idle_from > ? "
                        "ORDER BY idle_from", now),
    )


class SqliteStore(MemoryStore):
    def __init__(self, log: EventLog, clock: Clock, path: Path,
                 default_breaker: BreakerConfig = BreakerConfig(), *,
                 rules: HealthRules = HealthRules(), error_history: int = 1000,
                 critical_window: float = 300.0, max_breakers: int = 10_000,
                 auto_create: bool = True) -> None:
        super().__init__(log, clock, default_breaker, rules=rules, error_history=error_history,
                         critical_window=critical_window, max_breakers=max_breakers,
                         auto_create=auto_create)
        self._path = path
        self._events = log
        self._history = error_history
        self._writer: Writer | None = None
        self._lock: IO[str] | None = None
        self._moved = False  # a transition awaits its commit
        self._counted: set[str] = set()  # breakers whose counts changed since the last snapshot
        self._maintainer: asyncio.Task[None] | None = None
        self._swept_at = 0.0  # rate-limit keys touched since then are not saved yet
        self._encoded: dict[str, str] = {}  # new records' text, until their notification's

    # start and stop

    async def load(self, now: float) -> Applied[None]:
        """Lock, check, migrate and read the file; DatabaseRefused for anything unusable (an
        unwritable directory, a row this version cannot read), never a half-loaded server."""
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = lock(self._path)
            conn = await asyncio.to_thread(open_database, self._path)
            saved = await asyncio.to_thread(_read, conn, self._history, now)
            self._writer = Writer(conn, self._committed)
            self._restore(saved, now)
        except (OSError, sqlite3.Error, ValueError, KeyError, TypeError) as error:
            raise DatabaseRefused(f"cannot use {self._path}: {error}") from error
        self._events.on_append = self._log_event
        self._events.held = True
        self._maintainer = asyncio.create_task(self._maintain())
        degradation = saved.meta.get("degradation")
        health = saved.meta.get("health")
        if health:  # as last announced, so a restart repeats no announcement
            self._effects.health = Health(int(health))
        if degradation:
            self._effects.degradation = codec.loads(Degradation, degradation)
        applied = self._effects.applied(None)
        await self._transitions_committed()
        return applied

    async def close(self) -> None:
        if self._maintainer is not None:
            self._maintainer.cancel()
        if self._writer is not None:
            self._events.on_append = None
            for cb in self._breakers.values():
                self._save(cb)
            for limiter in self._limiters.values():
                self._save_keys(limiter, limiter.snapshot())
            await self._writer.close()
            self._writer = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # what the engines and the memory store's operations report: write it through

    def _transitioned(self, transition: Transition) -> None:
        super()._transitioned(transition)
        if (cb := self._breakers.get(transition.breaker)) is not None:
            self._save(cb)
        self._moved = True

    def _changed(self, cb: Breaker) -> None:
        self._save(cb)

    def _recorded(self, cb: Breaker) -> None:
        self._counted.add(cb.name)

    def _deleted(self, name: str) -> None:
        self._writes().submit([("DELETE FROM breakers WHERE name = ?", (name,))])

    # the guard: decided in memory; only a transition waits for the disk

    async def allow(self, items: Sequence[AllowItem],
                    now: float) -> Applied[list[AllowResult | RescpError]]:
        return await self._moving(await super().allow(items, now))

    async def record(self, items: Sequence[RecordItem],
                     now: float) -> Applied[list[BreakerState | RescpError]]:
        return await self._moving(await super().record(items, now))

    async def add_error(self, report: ErrorReport,
                        now: float) -> Applied[tuple[ErrorRecord, bool]]:
        key = report.idempotency_key
        if key and (first := self._errors.find_key(key)) is not None:
            return self._effects.applied((first, False))
        record = build_record(report, uuid.uuid4().hex, self._clock.wall())
        counts = [TOTAL, record.count_key]
        if record.severity is Severity.CRITICAL:
            counts.append(CRITICAL)
        writer, text = self._writes(), codec.dumps(record)
        writer.submit([("INSERT INTO errors (error_id, record) VALUES (?, ?)",
                        (record.error_id, text)),
                       *((_UPSERT_COUNT, (name,)) for name in counts)], keep=False)
        writer.submit([("DELETE FROM errors WHERE seq <= (SELECT MAX(seq) FROM errors) - ?",
                        (self._history,))], key="evict errors")
        await writer.commit()
        if key and (first := self._errors.find_key(key)) is not None:
            return self._effects.applied((first, False))  # a twin committed meanwhile
        self._encoded[record.error_id] = text  # its notification, appended next, is this text
        self._keep_error(record)
        return self._effects.applied((record, True))

    # admin changes: committed before they are answered

    async def put_breaker(self, name: str, config: BreakerConfig,
                          now: float) -> Applied[BreakerView]:
        return await self._committed_after(await super().put_breaker(name, config, now))

    async def get_breaker(self, name: str, now: float) -> Applied[BreakerView]:
        return await self._moving(await super().get_breaker(name, now))

    async def list_breakers(self, now: float, after: str = "",
                            limit: int | None = None) -> Applied[list[BreakerView]]:
        return await self._moving(await super().list_breakers(now, after, limit))

    async def delete_breaker(self, name: str, now: float) -> Applied[BreakerState]:
        return await self._committed_after(await super().delete_breaker(name, now))

    async def transition_breaker(self, name: str, state: BreakerState,
                                 now: float) -> Applied[BreakerView]:
        return await self._committed_after(await super().transition_breaker(name, state, now))

    async def advance_due(self, now: float) -> Applied[None]:
        return await self._moving(await super().advance_due(now))

    async def system_health(self, now: float) -> Applied[SystemHealth]:
        return await self._moving(await super().system_health(now))

    async def put_limit(self, config: LimitConfig) -> LimitConfig:
        current = self._limiters.get(config.name)
        stored = await super().put_limit(config)
        statements: list[Statement] = [("INSERT OR REPLACE INTO limits VALUES (?, ?)",
                                        (config.name, codec.dumps(config)))]
        if current is None or current.config != config:  # a new limiter starts empty
            statements.append(("DELETE FROM limit_keys WHERE limit_name = ?", (config.name,)))
        await self._commit(statements)
        return stored

    async def delete_limit(self, name: str) -> None:
        await super().delete_limit(name)
        await self._commit([("DELETE FROM limits WHERE name = ?", (name,)),
                            ("DELETE FROM limit_keys WHERE limit_name = ?", (name,))])

    async def sweep_idle(self, now: float, budget: int) -> None:
        """Forget idle keys, in memory and on disk, and save the keys touched since last time."""
        await super().sweep_idle(now, budget)
        since, self._swept_at = self._swept_at, now
        for limiter in self._limiters.values():
            self._save_keys(limiter, limiter.touched_since(since, SNAPSHOT_KEYS))
        self._writes().submit([("DELETE FROM limit_keys WHERE idle_from <= ?", (now,))])

    async def put_feature(self, feature: Feature, now: float) -> Applied[Feature]:
        self._writes().submit([("INSERT OR REPLACE INTO features VALUES (?, ?)",
                                (feature.name, codec.dumps(feature)))])
        return await self._committed_after(await super().put_feature(feature, now))

    async def delete_feature(self, name: str, now: float) -> Applied[None]:
        applied = await super().delete_feature(name, now)
        self._writes().submit([("DELETE FROM features WHERE name = ?", (name,))])
        return await self._committed_after(applied)

    async def acknowledge(self, error_id: str, now: float) -> Applied[ErrorRecord]:
        applied = await super().acknowledge(error_id, now)
        self._writes().submit([("UPDATE errors SET record = ? WHERE error_id = ?",
                                (codec.dumps(applied.result), error_id))])
        return await self._committed_after(applied)

    # helpers

    def _writes(self) -> Writer:
        if self._writer is None:
            raise StoreUnavailable("the sqlite store is not open")
        return self._writer

    async def _commit(self, statements: list[Statement], *, keep: bool = True) -> None:
        writer = self._writes()
        if statements:
            writer.submit(statements, keep=keep)
        await writer.commit()

    async def _committed_after(self, applied: Applied[T]) -> Applied[T]:
        """An admin change: answered once it (and the events it caused) is committed."""
        self._moved = False
        await self._writes().commit()
        return applied

    async def _moving(self, applied: Applied[T]) -> Applied[T]:
        """An operation that commits only what moved a breaker, before it is announced."""
        await self._transitions_committed()
        return applied

    async def _transitions_committed(self) -> None:
        """A transition is committed before it is announced; a failing disk keeps it for retry
        and lets the decision through (Allow keeps working while health says CRITICAL)."""
        if self._moved:
            self._moved = False
            with contextlib.suppress(StoreUnavailable):
                await self._writes().commit()

    def _save(self, cb: Breaker) -> None:
        if self._writer is None:
            return  # restoring at load, or closed
        self._writer.submit([(
            "INSERT OR REPLACE INTO breakers (name, config, state, deadline) VALUES (?, ?, ?, ?)",
            (cb.name, codec.dumps(cb.config), codec.dumps(cb.snapshot()), cb.next_deadline()))],
            key=f"breaker {cb.name}")

    def _save_keys(self, limiter: Limiter, snaps: list[KeySnapshot]) -> None:
        name, writer = limiter.config.name, self._writes()
        for s in snaps:
            writer.submit([(_SAVE_KEY, (name, s.key, codec.dumps(s), limiter.idle_from(s)))],
                          key=f"key {name} {s.key}")

    def _log_event(self, event: Event) -> None:
        writer, payload = self._writes(), event.payload
        text = self._encoded.pop(payload.error_id, None) if isinstance(
            payload, ErrorRecord) else None
        writer.submit([("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?)",
                        (event.sequence, event.time, int(event.type),
                         text or codec.dumps(payload)))],
                      sequence=event.sequence)
        writer.submit([(_SET_META, ("last_sequence", str(event.sequence)))], key="sequence")
        if isinstance(payload, HealthChange):
            writer.submit([(_SET_META, ("health", str(int(payload.to_health))))], key="health")
        elif isinstance(payload, Degradation):
            writer.submit([(_SET_META, ("degradation", codec.dumps(payload)))],
                          key="degradation")

    def _committed(self, ok: bool, sequence: int) -> None:
        """While commits fail, watchers see events at once (they are kept and retried); health
        is judged again when the disk fails or recovers."""
        if ok is not self._effects.store_ok:
            self._effects.store_ok = ok
            self._effects.stale()
        self._events.held = ok
        self._events.publish(sequence if ok else self._events.last_sequence)

    async def _maintain(self) -> None:
        """Snapshot changed counts and drop events the log no longer retains; a failing round
        is logged and the next one runs as usual."""
        while True:
            await asyncio.sleep(SNAPSHOT_INTERVAL)
            try:
                for name in self._counted & self._breakers.keys():
                    self._save(self._breakers[name])
                self._counted.clear()
                self._writes().submit([("DELETE FROM events WHERE sequence < ?",
                                        (self._events.first_sequence,))], key="trim events")
            except Exception:
                log.exception("sqlite snapshot failed; retrying next round")

    def _restore(self, saved: _Saved, now: float) -> None:
        for name, config, state in saved.breakers:
            cb = Breaker(name, codec.loads(BreakerConfig, config), now, self._transitioned)
            cb.restore(codec.loads(BreakerSnapshot, state))
            self._breakers[name] = cb
            self._effects.state(name, cb.state)
            self._effects.deadline(name, cb.next_deadline())
        for text in saved.limits:
            limit = codec.loads(LimitConfig, text)
            self._limiters[limit.name] = make_limiter(limit)
        keys: dict[str, list[KeySnapshot]] = {}
        for name, state in saved.limit_keys:
            keys.setdefault(name, []).append(codec.loads(KeySnapshot, state))
        for name, snaps in keys.items():
            if name in self._limiters:
                self._limiters[name].restore(snaps, now)
        for text in saved.features:
            feature = codec.loads(Feature, text)
            self._features[feature.name] = feature
        counts = {k: n for k, n in saved.counts.items() if k not in (TOTAL, CRITICAL)}
        self._errors.load([codec.loads(ErrorRecord, r) for r in saved.errors],
                          saved.counts.get(TOTAL, 0), saved.counts.get(CRITICAL, 0), counts)
        events = [Event(seq, time, codec.loads(PAYLOAD_TYPES[EventType(kind)], payload),
                        EventType(kind)) for seq, time, kind, payload in saved.events]
        last = max(int(saved.meta.get("last_sequence", "0")), events[-1].sequence if events else 0)
        log_id = saved.meta.get("log_id") or self._events.log_id
        self._events.restore(log_id, last, events)
        self._writes().submit([(_SET_META, ("log_id", log_id))])
