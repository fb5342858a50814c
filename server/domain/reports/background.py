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
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from server.domain.db import connect
from server.domain.reports.facts import refresh_dirty

# A hundred records per write transaction. Their indicators (0.1 ms a household of four) are
# worked out before it (``facts.refresh_dirty``): the transaction holds the write lock for the
# sums' writes alone, about 8 ms, so phones pushing meanwhile hardly wait.
BATCH = 100

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_running: dict[str, threading.Thread] = {}


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
                refresh_dirty(db, batch=BATCH)
            finally:
                db.close()
    except Exception:  # the next report asks again; a page must never see this
        _log.exception("counting the reports' records failed")
    finally:
        with _lock:
            _running.pop(path, None)
