"""Counting what the reports have not counted yet, away from the page that noticed it.

A report reads the kept sums as they are (``service``) and, when records wait to be counted or
the indicator files changed, asks for a count here: one thread per database file in this
process works the queue off (``facts.refresh_dirty``) on a connection of its own, in small
write transactions, so that phones pushing meanwhile wait for the write lock a few
milliseconds at a time and no page ever waits for the count.

One process counts at a time: a worker's count waits for another's to end (an ``flock`` on a
file beside the database), then counts what is still queued, mostly nothing. Two counting at
once took the same first records of the queue, worked each of them out both (measured: two
processes, 5,000 queued, 10,000 worked out; three, 14,500) and no sooner, while the phones
at dusk needed the cores. A count of the command line's may still meet one of a server's:
each batch is counted inside one write transaction, only what is still queued.

While phones sync, the count gives way to them (``give_way_while``, which the server's
admission sets): before each batch it waits until no phone is syncing in any worker, but never
longer than ``GIVE_WAY_SECONDS``, so that a server syncing without a pause still counts a batch
every few seconds. At dusk, 200 phones pushing while a reviewer kept the dashboard open, the
count worked records out (about 0.25 ms of CPU each with the sums' upkeep) while phones waited
for a core; it now counts the dusk's records once the phones are done, in about five seconds
for 20,000 (``bench/dusk.py`` says how long after each level), and the dashboard says meanwhile
how many wait. A page never waited for the count, and still does not.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from server.domain.db import connect
from server.domain.reports.facts import refresh_dirty

# A hundred records per write transaction. Their indicators (0.1 ms a household of four) are
# worked out before it (``facts.refresh_dirty``): the transaction holds the write lock for the
# sums' writes alone, about 8 ms, so phones pushing meanwhile hardly wait.
BATCH = 100
# The longest a batch waits for the phones to be done, and how often it looks meanwhile.
GIVE_WAY_SECONDS = 3.0
GIVE_WAY_STEP = 0.05

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_running: dict[str, threading.Thread] = {}
# Whether phones are syncing with this process's server now (None: nothing to give way to).
_busy: Callable[[], bool] | None = None


def give_way_while(busy: Callable[[], bool] | None) -> None:
    """Have this process's counts wait before each batch while ``busy()`` says phones are
    syncing, up to ``GIVE_WAY_SECONDS`` a batch (one server a process; None: never wait, as
    ``gocua`` commands count)."""
    global _busy
    _busy = busy


def _give_way() -> None:
    busy = _busy
    if busy is None:
        return
    deadline = time.monotonic() + GIVE_WAY_SECONDS
    while busy() and time.monotonic() < deadline:
        time.sleep(GIVE_WAY_STEP)


def database_file(db: sqlite_utils.Database) -> str:
    return str(db.execute("PRAGMA database_list").fetchone()["file"])


def count_soon(db: sqlite_utils.Database) -> None:
    """Start counting the queue of ``db``'s file in the background, unless this process does
    already."""
    path = database_file(db)
    if not path:
        return  # an in-memory database: no other connection could see its queue
    with _lock:
        if path in _running:
            return
        worker = threading.Thread(target=_work, args=(path,), name="gocua-report-counts")
        worker.daemon = True  # a count cut off by a shutdown resumes from the queue
        _running[path] = worker
    worker.start()


@contextmanager
def _one_process_at_a_time(path: str) -> Iterator[None]:
    """Held while this process counts ``path``'s queue; waits while another process does."""
    fd = os.open(path + "-counting", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # and with it the lock


def wait(db: sqlite_utils.Database, timeout: float | None = None) -> bool:
    """Wait for this process's count of ``db``'s file, if one runs; False when it still runs
    after ``timeout`` seconds (``gocua`` commands and tests; never a page)."""
    with _lock:
        worker = _running.get(database_file(db))
    if worker is None:
        return True
    worker.join(timeout)
    return not worker.is_alive()


def _work(path: str) -> None:
    try:
        if not Path(path).exists():
            return  # gone (a test's folder): connect() would make it again
        with _one_process_at_a_time(path):
            db = connect(path)
            try:
                refresh_dirty(db, batch=BATCH, before_batch=_give_way)
            finally:
                db.close()
    except Exception:  # the next report asks again; a page must never see this
        _log.exception("counting the reports' records failed")
    finally:
        with _lock:
            _running.pop(path, None)
