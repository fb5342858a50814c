"""The sync gate's rule (server/web/admission.py): a request that could not get a slot within
the wait is turned away at once, and is told to come back about when the queue has drained."""

from __future__ import annotations

import threading

from server.web.admission import RETRY_AFTER_SECONDS, Gate, header_seconds


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
