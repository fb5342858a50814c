"""The sync gate's rule (server/web/admission.py): a request that could not get a slot within
the wait is turned away at once, and is told to come back about when the queue has drained."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

from bench import phones
from server.web.admission import (
    AT_ONCE,
    AT_ONCE_SHARED,
    RETRY_AFTER_SECONDS,
    Gate,
    header_seconds,
    shared_loads,
)

ROOT = Path(__file__).resolve().parents[2]
SYNC_JS = ROOT / "pwa" / "js" / "sync.js"
ROOM_CASES = ROOT / "sync" / "batches_at_once_cases.json"


class _Watched:
    """The gate's semaphore, noting every time someone was made to wait on it."""

    def __init__(self, semaphore: threading.BoundedSemaphore) -> None:
        self.semaphore, self.waited = semaphore, 0

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if blocking:
            self.waited += 1
        return self.semaphore.acquire(blocking, timeout)

    def release(self) -> None:
        self.semaphore.release()


def test_a_request_that_would_wait_too_long_is_turned_away_at_once() -> None:
    gate = Gate(slots=1, queue=8, wait=1.0)
    gate._slots = watched = _Watched(gate._slots)
    entered = gate.enter()
    assert entered is not None
    gate._held = 3.0  # each batch has been holding its slot three seconds
    # One more would wait 3 s for the slot, over the 1 s allowed: told at once, not made to wait.
    assert gate.enter() is None
    assert watched.waited == 0
    assert RETRY_AFTER_SECONDS[0] <= gate.retry_after() <= RETRY_AFTER_SECONDS[1]
    gate.leave(entered)


def test_requests_wait_while_the_queue_would_be_served_in_time_and_no_further() -> None:
    gate = Gate(slots=2, queue=3, wait=10.0)
    held = [gate.enter(), gate.enter()]
    assert None not in held
    gate._held = 0.01
    assert gate.expected_wait(0) == 0.005 and gate.expected_wait(3) == 0.02
    # Three may wait (each given a slot as one is left), the fourth is over the queue.
    gate._waiting = 3
    assert gate.enter() is None
    gate._waiting = 0
    for entered in held:
        gate.leave(entered)
    assert gate.enter() is not None


def test_phones_turned_away_come_back_apart_and_before_the_queue_has_drained() -> None:
    gate = Gate(slots=2, queue=16, wait=5.0)
    gate._held, gate._waiting = 1.0, 7  # eight batches ahead, two at a time: 4 s to drain
    waits = [gate.retry_after() for _ in range(200)]
    # Never later than the drain (the server would idle), never all at once, and spread over
    # the time before it: a phone coming back finds work still queued.
    assert all(2.0 <= w <= 4.0 for w in waits)
    assert min(waits) < 2.5 and max(waits) > 3.5
    assert len({round(w, 3) for w in waits}) > 150
    gate._held, gate._waiting = 0.01, 0
    assert gate.retry_after() == RETRY_AFTER_SECONDS[0]  # a moment, not a whole second


def test_retry_after_in_whole_seconds_never_says_less_than_the_wait() -> None:
    assert [header_seconds(w) for w in (0.2, 0.999, 1.0, 1.001, 29.5)] == [1, 1, 1, 2, 30]


def test_a_worker_is_crowded_only_past_the_margin_over_the_least_busy_one() -> None:
    loads = shared_loads(3)
    gates = [Gate(slots=40, queue=8, wait=5.0) for _ in range(3)]
    for me, gate in enumerate(gates):
        gate.join_workers(loads, me)
    alone = Gate(slots=2, queue=8, wait=5.0)  # a process serving alone
    held = [alone.enter(), alone.enter()]
    assert not alone.crowded()  # no one to be busier than
    for entered in held:
        alone.leave(entered)

    def hold(gate: Gate, count: int) -> list[float]:
        taken = [gate.enter() for _ in range(count)]
        assert None not in taken
        return taken  # type: ignore[return-value]

    first = hold(gates[0], 1)
    assert list(loads) == [1, 0, 0] and not gates[0].crowded()  # one phone's batch: no crowd
    first += hold(gates[0], 1)
    assert gates[0].crowded() and not gates[1].crowded()  # two in one worker, none elsewhere
    # At dusk the margin is a third of the least busy worker's count: 24 against 18 is within
    # it, 25 is not.
    second, third = hold(gates[1], 18), hold(gates[2], 20)
    first += hold(gates[0], 22)
    assert list(loads) == [24, 18, 20] and not gates[0].crowded()
    first += hold(gates[0], 1)
    assert gates[0].crowded() and not gates[2].crowded()
    for gate, taken in zip(gates, (first, second, third), strict=True):
        for entered in taken:
            gate.leave(entered)
    assert list(loads) == [0, 0, 0]


def test_a_request_waiting_for_a_slot_counts_among_the_workers_requests_in_hand() -> None:
    loads = shared_loads(2)
    gate = Gate(slots=1, queue=8, wait=30.0)
    gate.join_workers(loads, 1)
    first = gate.enter()
    assert first is not None and list(loads) == [0, 1]
    got: list[float | None] = []
    waiter = threading.Thread(target=lambda: got.append(gate.enter()))
    waiter.start()
    deadline = time.monotonic() + 10
    while loads[1] != 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert loads[1] == 2 and gate.crowded()  # at work and waiting, against none
    gate.leave(first)  # the waiting one takes the slot: one in hand
    waiter.join(10)
    assert got and got[0] is not None and loads[1] == 1
    gate.leave(got[0])
    assert loads[1] == 0


def test_the_server_the_collector_and_the_benches_agree_on_three_batches_at_once() -> None:
    collector = re.search(r"^export const IN_FLIGHT = (\d+);$", SYNC_JS.read_text(), re.M)
    assert collector is not None
    assert AT_ONCE == int(collector.group(1)) == phones.IN_FLIGHT == 3


def test_three_batches_at_once_only_for_a_phone_alone_two_while_a_slot_is_free() -> None:
    gate = Gate(slots=8, queue=64, wait=1.0)
    loads = shared_loads(3)
    gate.join_workers(loads, 0)
    # Sync requests in hand in each of three workers, the asking one among them: the room told.
    cases = [
        ((1, 0, 0), AT_ONCE),  # a phone's first batch, alone
        ((1, 1, 1), AT_ONCE),  # its three batches, one a worker
        ((2, 1, 0), AT_ONCE),
        ((2, 1, 1), AT_ONCE_SHARED),  # a fourth: another phone's
        ((1, 3, 0), AT_ONCE_SHARED),
        ((8, 8, 7), AT_ONCE_SHARED),  # one slot free beside them
        ((8, 8, 8), 1),
        ((12, 9, 8), 1),
    ]
    for counts, room in cases:
        loads[:] = counts
        assert gate.room() == room, counts
    assert (AT_ONCE, AT_ONCE_SHARED) == (3, 2)
    # One process serving alone counts its own requests: three for its first, two beside another.
    alone = Gate(slots=8, queue=64, wait=1.0)
    first = alone.enter()
    assert alone.room() == AT_ONCE
    second = alone.enter()
    assert alone.room() == AT_ONCE_SHARED
    for entered in (first, second):
        alone.leave(entered)


def test_the_benches_read_a_push_answer_s_room_as_the_collector_does() -> None:
    # The same cases as pwa/js/sync.js: lanesAfter (tests/js/sync.test.mjs).
    cases = json.loads(ROOM_CASES.read_text())["cases"]
    assert len(cases) >= 10
    for case in cases:
        assert phones.room_in(case["answer"]) == case["room"], case
