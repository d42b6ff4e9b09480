"""The event log: sequences, retention, replay-then-live cursors, filters, slow subscribers."""

from __future__ import annotations

import asyncio

import pytest

from rescp.engine.breaker import Transition
from rescp.enums import BreakerState, EventType, Health, Severity
from rescp.errors import SequenceOutOfRange, ShuttingDown, SubscriberTooSlow
from rescp.events import Event, EventFilter, EventLog, HealthChange, RateLimitExceeded
from tests.unit.test_events_support import record


def transition(name: str = "b") -> Transition:
    return Transition(name, BreakerState.CLOSED, BreakerState.OPEN, "consecutive_failures", 0.0)


def test_sequences_start_at_one_and_grow_by_one() -> None:
    log = EventLog()
    assert log.last_sequence == 0
    events = [log.append(transition(), float(i)) for i in range(3)]
    assert [e.sequence for e in events] == [1, 2, 3]
    assert events[0].type is EventType.BREAKER_TRANSITION
    assert log.append(HealthChange(Health.HEALTHY, Health.WARNING), 3.0).type is \
        EventType.HEALTH_CHANGE


def test_retention_by_count_and_age() -> None:
    log = EventLog(max_events=100, max_age=10.0, max_lag=50)
    for i in range(1000):
        log.append(transition(), float(i) / 100)
    assert log.last_sequence == 1000
    assert 100 <= 1000 - log.first_sequence + 1 <= 100 + 64  # trimmed in chunks
    log.trim(now=10.0)  # nothing is older than 10 s: only the count applies
    assert log.first_sequence == 901
    log.trim(now=19.5)  # events before t=9.5 (the 950 first) are older than 10 s
    assert log.first_sequence == 951
    log.trim(now=100.0)
    assert (log.first_sequence, log.last_sequence) == (1001, 1000)  # nothing retained


def test_subscribe_out_of_range() -> None:
    log = EventLog(max_events=100, max_lag=10)
    for _ in range(300):
        log.append(transition(), 0.0)
    log.trim(0.0)
    with pytest.raises(SequenceOutOfRange):
        log.subscribe(5)
    with pytest.raises(SequenceOutOfRange):
        log.subscribe(301)
    log.subscribe(log.first_sequence - 1)  # everything retained: fine
    log.subscribe(300)  # nothing to replay: fine


def test_replay_then_live_without_gap_or_duplicate() -> None:
    async def run() -> list[int]:
        log = EventLog()
        for _ in range(5):
            log.append(transition(), 0.0)
        sub = log.subscribe(2)
        got = [e.sequence for e in await log.next_batch(sub)]
        waiter = asyncio.create_task(log.next_batch(sub))
        await asyncio.sleep(0)
        log.append(transition(), 1.0)
        got += [e.sequence for e in await waiter]
        return got

    assert asyncio.run(run()) == [3, 4, 5, 6]


def test_filters_types_and_notification_severity() -> None:
    async def run() -> list[int]:
        log = EventLog()
        sub = log.subscribe(None, EventFilter(
            frozenset({EventType.NOTIFICATION, EventType.RATE_LIMIT_EXCEEDED}), Severity.HIGH))
        log.append(transition(), 0.0)
        log.append(record(Severity.LOW), 0.0)
        log.append(record(Severity.CRITICAL), 0.0)
        log.append(RateLimitExceeded("api", "k", 1.0, 1), 0.0)
        return [e.sequence for e in await log.next_batch(sub)]

    assert asyncio.run(run()) == [3, 4]


def test_a_subscriber_that_falls_behind_is_cut_off_alone() -> None:
    async def run() -> None:
        log = EventLog(max_events=100, max_lag=10)
        slow, fast = log.subscribe(None), log.subscribe(None)
        for i in range(11):
            log.append(transition(), 0.0)
            if i % 3 == 0:
                await log.next_batch(fast)
        assert slow.failure is not None and fast.failure is None
        with pytest.raises(SubscriberTooSlow):
            await log.next_batch(slow)
        assert [e.sequence for e in await log.next_batch(fast)][-1] == 11

    asyncio.run(run())


def test_close_wakes_waiters_with_shutting_down() -> None:
    async def run() -> None:
        log = EventLog()
        sub = log.subscribe(None)
        waiter = asyncio.create_task(log.next_batch(sub))
        await asyncio.sleep(0)
        log.close()
        with pytest.raises(ShuttingDown):
            await waiter
        with pytest.raises(ShuttingDown):
            log.subscribe(None)

    asyncio.run(run())


def test_a_held_log_shows_subscribers_only_what_was_published() -> None:
    async def scenario() -> list[list[int]]:
        log = EventLog()
        seen: list[Event] = []
        log.on_append = seen.append
        log.held = True
        sub = log.subscribe(0)
        for _ in range(3):
            log.append(transition(), 0.0)
        assert [e.sequence for e in seen] == [1, 2, 3]  # the store hears every append at once
        reads = []
        waiting = asyncio.ensure_future(log.next_batch(sub))
        await asyncio.sleep(0.01)
        assert not waiting.done()  # nothing committed yet
        log.publish(2)
        reads.append([e.sequence for e in await waiting])
        log.publish(3)
        reads.append([e.sequence for e in await log.next_batch(sub)])
        return reads
    assert asyncio.run(scenario()) == [[1, 2], [3]]


def test_a_restored_log_continues_its_sequences_under_its_id() -> None:
    old = EventLog()
    events = [old.append(transition(), 0.0) for _ in range(5)]
    log = EventLog()
    log.restore(old.log_id, 5, events[2:])  # 1 and 2 were trimmed from the saved log
    assert (log.log_id, log.first_sequence, log.last_sequence) == (old.log_id, 3, 5)
    with pytest.raises(SequenceOutOfRange):
        log.subscribe(1)
    assert log.append(transition(), 1.0).sequence == 6
    emptied = EventLog()
    emptied.restore(old.log_id, 5, [])  # every saved event had aged out
    assert (emptied.first_sequence, emptied.append(transition(), 1.0).sequence) == (6, 6)
