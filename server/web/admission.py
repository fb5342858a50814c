"""Admission of sync work: when phones push and pull more than a server process can do at once,
the request beyond the bound is told so at once (``503`` with ``Retry-After`` and words a
volunteer can act on) instead of waiting a minute in a queue. Nothing of it was read or stored,
so the phone keeps its records and sends the same batch again; a repeated batch is answered
``duplicate``, never stored twice.

Staff pages never pass through the gate, and sync may hold at most ``9 × slots`` of the
process's threads (``slots`` at work, eight times as many waiting a little for one): the rest
are the reviewers', so a page is never queued behind bulk sync.
"""

from __future__ import annotations

import random
import threading

from flask import Flask, Response, g, request

from server.web.errors import error_response

# The sync routes that do a batch's work; enrolling, the status, blobs and health stay open.
BULK_ENDPOINTS = frozenset({"api.push", "api.pull"})
# How long a request may wait for a slot before it is turned away: a batch takes well under a
# second at work, so a wait this long means the server is saturated.
WAIT_SECONDS = 5.0
# Requests that may wait for a slot, per slot: enough that a slot freed finds the next batch
# already read, so the server never idles while phones sleep on a Retry-After.
QUEUE_PER_SLOT = 8
# Retry-After spreads the phones it turns away over a few seconds, so they do not all come back
# in the same instant.
RETRY_AFTER_SECONDS = (1, 4)
# Threads a process keeps for everything that is not bulk sync (staff pages, enrollment, health).
STAFF_THREADS = 4


def threads_for(slots: int) -> int:
    """waitress threads for a process with this many sync slots (0: no bound, as before)."""
    return (1 + QUEUE_PER_SLOT) * slots + STAFF_THREADS if slots > 0 else 8


class Gate:
    """At most ``slots`` holders at once; up to ``queue`` more wait at most ``wait`` seconds."""

    def __init__(self, slots: int, queue: int, wait: float) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._waiting = 0
        self.queue, self.wait = queue, wait

    def enter(self) -> bool:
        if self._slots.acquire(blocking=False):
            return True
        with self._lock:
            if self._waiting >= self.queue:
                return False
            self._waiting += 1
        try:
            return self._slots.acquire(timeout=self.wait)
        finally:
            with self._lock:
                self._waiting -= 1

    def leave(self) -> None:
        self._slots.release()


def install(app: Flask, slots: int) -> None:
    """Bound the app's sync work to ``slots`` requests at once (0 or less: no bound)."""
    if slots <= 0:
        return
    gate = Gate(slots, queue=QUEUE_PER_SLOT * slots, wait=WAIT_SECONDS)
    app.extensions["gocua_admission"] = gate

    @app.before_request
    def _admit() -> Response | None:
        if request.endpoint not in BULK_ENDPOINTS:
            return None
        if not gate.enter():
            seconds = random.randint(*RETRY_AFTER_SECONDS)
            response = error_response(503, "server_busy", seconds=seconds)
            response.headers["Retry-After"] = str(seconds)
            return response
        g.sync_slot = True
        return None

    @app.teardown_request
    def _release(_error: BaseException | None) -> None:
        if g.pop("sync_slot", False):
            gate.leave()
