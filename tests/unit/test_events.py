"""The event log: sequences, retention, replay-then-live cursors, filters, slow subscribers."""

from __future__ import annotations

import asyncio

import pytest

from rescp.engine.breaker import Transition
from rescp.engine.health import AffectedFeature, Degradation
from rescp.enums import BreakerState, EventType, Health, Severity
from rescp.errors import SequenceOutOfRange, ShuttingDown, SubscriberTooSlow
from rescp.events import (
    EVENT_FEATURES,
    EVENT_OPEN_CIRCUITS,
    FANOUT_SLICE,
    Event,
    EventFilter,
    EventLog,
    HealthChange,
    RateLimitExceeded,
)
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
            assert slow.failure is None  # an append touches no subscriber: O(1)
            if i % 3 == 0:
                await log.next_batch(fast)
        await asyncio.sleep(0.01)  # a fan-out round
        assert slow.failure is not None and fast.failure is None
        with pytest.raises(SubscriberTooSlow):
            await log.next_batch(slow)
        assert [e.sequence for e in await log.next_batch(fast)][-1] == 11

    asyncio.run(run())


def test_a_resume_may_replay_the_whole_retained_backlog() -> None:
    async def run() -> int:
        log = EventLog(max_events=10_000, max_lag=100, batch_size=256)
        for _ in range(3_000):
            log.append(transition(), 0.0)
        sub = log.subscribe(0)  # 3,000 behind, 30 times max_lag
        got = 0
        while got < 3_050:
            got += len(await log.next_batch(sub))
            if got < 3_000:
                for _ in range(5):  # live events keep arriving during the replay
                    log.append(transition(), 0.0)
                await asyncio.sleep(0)
            elif log.last_sequence < 3_050 + 60:
                log.append(transition(), 0.0)
        return got

    assert asyncio.run(run()) >= 3_050


def test_a_replay_falling_further_behind_than_max_lag_is_cut_off() -> None:
    async def run() -> None:
        log = EventLog(max_events=10_000, max_lag=100)
        for _ in range(1_000):
            log.append(transition(), 0.0)
        sub = log.subscribe(0)
        for _ in range(101):  # 1,000 behind at the start, then 101 more than it read
            log.append(transition(), 0.0)
        with pytest.raises(SubscriberTooSlow):
            await log.next_batch(sub)

    asyncio.run(run())


def test_fan_out_wakes_every_waiting_subscriber_in_slices() -> None:
    async def run() -> list[int]:
        log = EventLog()
        subs = [log.subscribe(None) for _ in range(FANOUT_SLICE * 3 + 5)]
        waiters = [asyncio.create_task(log.next_batch(s)) for s in subs]
        await asyncio.sleep(0)
        log.append(transition(), 0.0)
        log.append(transition(), 0.0)
        batches = await asyncio.wait_for(asyncio.gather(*waiters), 5)
        return [len(b) for b in batches]

    assert set(asyncio.run(run())) == {2}  # both events, in one batch each


def test_degradation_events_list_a_capped_number_of_circuits() -> None:
    names = tuple(f"b{i:05}" for i in range(5_000))
    affected = tuple(AffectedFeature(f"f{i:05}", "degraded", "m") for i in range(500))
    full = Degradation(True, names, affected, True, len(names), len(affected))
    payload = EventLog().append(full, 0.0).payload
    assert isinstance(payload, Degradation)
    assert payload.open_circuits == names[:EVENT_OPEN_CIRCUITS]
    assert payload.affected_features == affected[:EVENT_FEATURES]
    assert (payload.open_count, payload.affected_count) == (5_000, 500)


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


def test_a_woken_subscriber_that_never_comes_back_holds_no_one_up() -> None:
    async def run() -> list[int]:
        log = EventLog()
        stalled, live = log.subscribe(None), log.subscribe(None)
        first = asyncio.create_task(log.next_batch(stalled))  # woken once, then never reads
        got: list[int] = []

        async def follow() -> None:
            while len(got) < 5:
                got.extend(e.sequence for e in await log.next_batch(live))

        follower = asyncio.create_task(follow())
        for _ in range(5):
            await asyncio.sleep(0.01)
            log.append(transition(), 0.0)
        await asyncio.wait_for(follower, 5)
        assert [e.sequence for e in await first] == [1]
        return got

    assert asyncio.run(run()) == [1, 2, 3, 4, 5]


def test_waits_cancelled_by_a_timeout_do_not_pile_up() -> None:
    async def run() -> int:
        log = EventLog()
        sub = log.subscribe(None)
        for _ in range(50):  # an SSE keep-alive: wait_for cancels the wait again and again
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(log.next_batch(sub), 0.001)
        waiting = len(log._waiting)
        log.append(transition(), 0.0)
        assert [e.sequence for e in await asyncio.wait_for(log.next_batch(sub), 5)] == [1]
        return waiting

    assert asyncio.run(run()) == 1
