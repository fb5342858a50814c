"""Admission of sync work: when phones push and pull more than a server process can do at once,
the request beyond the bound is told so at once (``503`` with ``Retry-After`` and words a
volunteer can act on) instead of waiting a minute in a queue. Nothing of it was read or stored,
so the phone keeps its records and sends the same batch again; a repeated batch is answered
``duplicate``, never stored twice.

Bulk sync is the collector's push and pull and ODK Collect's submission POSTs (one record each,
but a commune's Collect phones send them by the hundred): they share one bound. Each client is
told in its own tongue: the sync API's JSON error, which the collector and the sync client
honour; an OpenRosa message for Collect (registered by its blueprint with ``busy_answer``),
which shows it and keeps the form to send again.

Staff pages never pass through the gate, and sync may hold at most ``9 × slots`` of the
process's threads (``slots`` at work, eight times as many waiting a little for one): the rest
are the reviewers', so a page is never queued behind bulk sync.

A phone's connection, kept alive, stays with the worker process that accepted it, and the
kernel spreads connections over the workers, not work: at 200 phones one worker was left with
the last phones' batches on one core while the others idled, and a phone turned away came back
on its connection to the same full worker. So a worker closes a sync connection once it has
answered, when it has more sync requests in hand than the least busy worker by more than a
margin (``Gate.crowded``; the workers' counts are shared, ``join_workers``), and after every
busy answer: the phone's next connection may land on any worker. A phone sending several batches
at once so has them served by several processes, on both cores, more often than not; it sends
as many as each push's answer tells it the server has room for (``batches_at_once``, ``Gate.room``):
three while the phone's are the only sync requests in hand (one written while the next two are
checked), two while sync slots are free, else one.
"""

from __future__ import annotations

import ctypes
import logging
import math
import multiprocessing
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import sqlite_utils
from flask import Flask, Response, current_app, g, jsonify, request

from server.domain import feeds
from server.domain.db import write_transaction
from server.domain.reports import background
from server.web.errors import error_body

_log = logging.getLogger(__name__)

# The sync routes that do a batch's work; enrolling, the status, blobs and health stay open,
# and so does Collect's HEAD before a submission (it carries nothing).
BULK_ENDPOINTS = frozenset({"api.push", "api.pull", "openrosa.submission"})
# How long a request may wait for a slot before it is turned away: a batch takes well under a
# second at work, so a wait this long means the server is saturated. At 200 phones at once a
# wait of 5 s put a push's p95 at 3.4 s; with 1.5 s it was 1.6 s for the same records/s (the
# phones turned away come back when told, and the queue still holds work meanwhile).
WAIT_SECONDS = 1.5
# Requests that may wait for a slot, per slot: enough that a slot freed finds the next batch
# already read, so the server never idles while phones sleep on a Retry-After.
QUEUE_PER_SLOT = 8
# When to come back: a random moment before the requests waiting now are done (between half
# that time and all of it), so that the phones turned away come back apart and find work still
# queued instead of an idle server (sooner, they would mostly be turned away again: each busy
# answer costs reading the batch); within these bounds (seconds). The body says it to the
# millisecond (``retry_after_ms``); the Retry-After header, whole seconds, rounds it up.
RETRY_AFTER_SECONDS = (0.2, 30.0)
RETRY_AFTER_SPREAD = (0.5, 1.0)
# Threads a process keeps for everything that is not bulk sync (staff pages, enrollment, health).
STAFF_THREADS = 4
# A worker is crowded, and closes a sync connection it has answered, when its sync requests in
# hand (at work and waiting) are more than the least busy worker's by more than
# max(BALANCE_MARGIN, the least busy worker's / BALANCE_SHARE): two batches of one phone in one
# worker while another has none, or a worker holding a third more than another at dusk; never
# a phone alone, and never a worker within a few requests of the others.
BALANCE_MARGIN = 1
BALANCE_SHARE = 3
# Batches a phone may keep at the server at once (the collector sends at most as many:
# pwa/js/sync.js, IN_FLIGHT). With two, one phone's batches are checked on two cores, and a slow
# network's round trip is not waited out between them; with three, one phone alone keeps the
# write lock busy while its next two batches are checked (one phone: 1.13× the records/s of two,
# the same CPU a record). Three from each of many phones only queue more batches in each
# process, whose threads then take turns at the GIL (told to every phone: 10 and 50 phones
# stored a median 0.92× of two, 0.77× to 1.19×): so three only while the requests in hand are
# no more than the worker processes, AT_ONCE_SHARED while a sync slot is free beside them, else
# one (README, Performance).
AT_ONCE = 3
AT_ONCE_SHARED = 2
# The WSGI environ key by which a response asks for its connection to be closed.
CLOSE_CONNECTION = "gocua.close_connection"


# A blueprint's own way of saying "busy, come back in N seconds" (the default: the API's error).
_BUSY_ANSWERS: dict[str, Callable[[int], Response]] = {}


def busy_answer(
    blueprint: str,
) -> Callable[[Callable[[int], Response]], Callable[[int], Response]]:
    """Register how the gate turns away a request of ``blueprint``: a function of the
    seconds to wait, giving the response (the gate adds ``Retry-After``)."""

    def register(answer: Callable[[int], Response]) -> Callable[[int], Response]:
        _BUSY_ANSWERS[blueprint] = answer
        return answer

    return register


def _busy(wait: float) -> Response:
    """The busy answer for a wait of ``wait`` seconds: the blueprint's own in whole seconds,
    or the API's error with the wait to the millisecond beside the words."""
    seconds = header_seconds(wait)
    answer = _BUSY_ANSWERS.get(request.blueprint or "")
    if answer is not None:
        response = answer(seconds)
    else:
        body = error_body(503, "server_busy", seconds=seconds)
        response = jsonify({**body, "retry_after_ms": round(wait * 1000)})
    response.status_code = 503
    response.headers["Retry-After"] = str(seconds)
    # The phone comes back after its wait on a new connection, to whichever worker takes it.
    request.environ[CLOSE_CONNECTION] = True
    return response


def header_seconds(wait: float) -> int:
    """A wait as Retry-After says it: whole seconds, never less than the wait, at least 1."""
    return max(1, math.ceil(wait))


def threads_for(slots: int) -> int:
    """waitress threads for a process with this many sync slots (0: no bound, as before)."""
    return (1 + QUEUE_PER_SLOT) * slots + STAFF_THREADS if slots > 0 else 8


class Gate:
    """At most ``slots`` holders at once; up to ``queue`` more wait for one, but only those that
    would get one within ``wait`` seconds: how long a slot is held is measured as it goes, so
    a request that could not be served in time is told so at once, not after waiting."""

    def __init__(self, slots: int, queue: int, wait: float) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._waiting = 0
        self._working = 0  # slots taken
        self._held = 0.0  # seconds a slot is held, a moving average (0: not known yet)
        self.slots, self.queue, self.wait = slots, queue, wait
        # Every worker's sync requests in hand, and this one's place (join_workers).
        self._loads: Any = None
        self._me = 0

    def join_workers(self, loads: Any, me: int) -> None:
        """Share this process's count of sync requests in hand as ``loads[me]``, beside the
        other workers' (``shared_loads``)."""
        with self._lock:
            self._loads, self._me = loads, me
            self._publish()

    def _publish(self) -> None:  # with self._lock held
        if self._loads is not None:
            self._loads[self._me] = self._working + self._waiting

    def room(self) -> int:
        """Batches a phone may keep at the server at once (``batches_at_once`` in a push's
        answer, the asking request one of those in hand): ``AT_ONCE`` while the workers have no
        more sync requests in hand than there are workers (a phone alone), ``AT_ONCE_SHARED``
        while they have a sync slot free beside them, else one."""
        loads = list(self._loads) if self._loads is not None else [self._working + self._waiting]
        in_hand = sum(loads)
        if len(loads) * self.slots - in_hand < 1:
            return 1
        return AT_ONCE if in_hand <= len(loads) else AT_ONCE_SHARED

    def crowded(self) -> bool:
        """Whether this worker has more sync requests in hand than the least busy one by more
        than the margin (always False for a process serving alone)."""
        loads = self._loads
        if loads is None:
            return False
        counts = list(loads)
        least = min(counts)
        return counts[self._me] - least > max(BALANCE_MARGIN, least // BALANCE_SHARE)

    def others(self, counted: bool) -> bool:
        """Whether any worker has sync requests in hand beside the one asking (``counted``:
        itself one of them, holding a slot)."""
        loads = list(self._loads) if self._loads is not None else [self._working + self._waiting]
        return sum(loads) > int(counted)

    def expected_wait(self, ahead: int) -> float:
        """Seconds until a request with ``ahead`` others waiting before it gets a slot."""
        return (ahead + 1) * self._held / self.slots

    def enter(self) -> float | None:
        """The time the slot was taken (give it to ``leave``), or None: turned away."""
        if self._slots.acquire(blocking=False):
            with self._lock:
                self._working += 1
                self._publish()
            return time.monotonic()
        with self._lock:
            if self._waiting >= self.queue or self.expected_wait(self._waiting) > self.wait:
                return None
            self._waiting += 1
            self._publish()
        got = False
        try:
            got = self._slots.acquire(timeout=self.wait)
            return time.monotonic() if got else None
        finally:
            with self._lock:
                self._waiting -= 1
                self._working += int(got)
                self._publish()

    def leave(self, entered: float) -> None:
        held = time.monotonic() - entered
        with self._lock:
            self._held = held if not self._held else 0.8 * self._held + 0.2 * held
            self._working -= 1
            self._publish()
        self._slots.release()

    def retry_after(self) -> float:
        """Seconds to come back: a random moment before the requests now waiting are done, so
        that phones turned away together come back apart while there is still work queued."""
        with self._lock:
            drain = self.expected_wait(self._waiting)
        low, high = RETRY_AFTER_SECONDS
        return max(low, min(high, drain * random.uniform(*RETRY_AFTER_SPREAD)))


def install(app: Flask, slots: int) -> None:
    """Bound the app's sync work to ``slots`` requests at once (0 or less: no bound), and
    sweep the feed after write requests while no phone is syncing."""

    @app.after_request
    def _sweep(response: Response) -> Response:
        if request.method == "POST" and response.status_code < 400 and "db" in g:
            sweep_when_quiet(g.db)
        return response

    if slots <= 0:
        background.give_way_while(None)
        return
    gate = Gate(slots, queue=QUEUE_PER_SLOT * slots, wait=WAIT_SECONDS)
    app.extensions["gocua_admission"] = gate
    # The reports' background count waits while phones sync in any worker (it runs in a
    # thread of whichever worker's page asked for it).
    background.give_way_while(lambda: gate.others(counted=False))

    @app.before_request
    def _admit() -> Response | None:
        if request.endpoint not in BULK_ENDPOINTS or request.method == "HEAD":
            return None
        entered = gate.enter()
        if entered is None:
            return _busy(gate.retry_after())
        g.sync_slot = entered
        return None

    @app.after_request
    def _balance(response: Response) -> Response:
        # Still holding its slot: counted among the requests in hand, as its phone is.
        if "sync_slot" in g and gate.crowded():
            request.environ[CLOSE_CONNECTION] = True
        return response

    @app.teardown_request
    def _release(_error: BaseException | None) -> None:
        entered = g.pop("sync_slot", None)
        if entered is not None:
            gate.leave(entered)

    app.wsgi_app = _ClosingWhenAsked(app.wsgi_app)  # type: ignore[method-assign]


def shared_loads(workers: int) -> Any:
    """The workers' counts of sync requests in hand, in memory shared across the fork (made by
    the parent before it, each worker then ``join_workers``)."""
    return multiprocessing.RawArray(ctypes.c_int, workers)


def batches_at_once() -> int:
    """What a push's answer tells the phone it may keep at the server at once (``Gate.room``;
    ``AT_ONCE_SHARED`` when sync is not bounded: nothing is known of the others)."""
    gate: Gate | None = current_app.extensions.get("gocua_admission")
    return gate.room() if gate is not None else AT_ONCE_SHARED


# Sweeps one request runs at most, each a transaction of SWEEP_MOST: a quiet moment's answer
# waits a second or so at worst, and what is left goes with the next quiet request.
SWEEP_ROUNDS = 10


def sweep_when_quiet(db: sqlite_utils.Database) -> None:
    """Once a write request's work is done: delete the feed's replaced puts
    (``feeds.sweep_replaced``) while no phone is syncing in any worker beside it, so that at
    dusk they wait, out of the write lock's way, until the last phone's batch is written (its
    phone's report after the sync is such a request). A server whose sync is not bounded
    counts no requests: it sweeps after each. A sweep waits its turn for the write lock as any
    write does; an error (a full disk) leaves the puts for the next request, and the answer
    stands."""
    gate: Gate | None = current_app.extensions.get("gocua_admission")
    counted = "sync_slot" in g
    try:
        for _ in range(SWEEP_ROUNDS):
            if gate is not None and gate.others(counted):
                return
            if not feeds.replaced_waiting(db):
                return
            with write_transaction(db):
                taken = feeds.sweep_replaced(db, feeds.SWEEP_MOST)
            if taken < feeds.SWEEP_MOST:
                return
    except sqlite3.Error as error:
        _log.warning("the feed's replaced puts wait for the next sweep: %s", error)


def join_workers(app: Flask, loads: Any, me: int) -> None:
    """In worker ``me`` after the fork: count its sync requests in ``loads[me]``, and close a
    sync connection answered while it is crowded (``Gate.crowded``)."""
    gate: Gate | None = app.extensions.get("gocua_admission")
    if gate is not None:
        gate.join_workers(loads, me)


class _ClosingWhenAsked:
    """Closes the connection after a response whose request set ``CLOSE_CONNECTION``. A WSGI
    application may not send ``Connection`` itself (PEP 3333: hop by hop), so the response goes
    without its length: an HTTP/1.1 server then sends it chunked and closes the connection
    after it (waitress says ``Connection: close``); HTTP/1.0 ends such a body by closing."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            if environ.get(CLOSE_CONNECTION):
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            return start_response(status, headers, *exc_info)

        body = self.app(environ, start)
        return _Unsized(body) if environ.get(CLOSE_CONNECTION) else body


class _Unsized:
    """``body`` with no length for the server to send as Content-Length (no ``__len__``),
    closed with it even if never read."""

    def __init__(self, body: Iterable[bytes]) -> None:
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        close = getattr(self.body, "close", None)
        if close is not None:
            close()
