"""The one place that opens the SQLite database file, and the transaction every writer uses."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from schemas.text import fold
from server.domain import answers


def protect(data_dir: str | Path) -> None:
    """Personal data is for this service's account alone: the data folder 0700, the database
    and its WAL and shared-memory files 0600 (SQLite gives those the database's own mode).
    Also tightens an installation made before this rule."""
    folder = Path(data_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    for path in folder.glob("gocua.db*"):
        path.chmod(0o600)


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open the database file with the settings every connection needs, creating its folder
    and, when new, the file itself readable by this account alone."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    # check_same_thread=False: waitress may tear a request down on another thread than the one
    # that opened it; each connection is still used by one request at a time.
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    # Rows are read by column name (row["commune_id"], dict(row)); only a one-column result
    # (a count, an id) is read as row[0].
    conn.row_factory = sqlite3.Row
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable across process crashes in WAL mode; only power loss can lose the very
    # last commits, never corrupt the file.
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=30000")
    # Connections live for one request: reading the file through a memory map shares the
    # operating system's page cache between them instead of each warming its own.
    db.execute("PRAGMA mmap_size=268435456")
    # Freed content is zeroed, so an erased person's data does not linger in free pages of the
    # file (Debian's SQLite does it by default, other builds do not; no cost measurable on
    # bench/sync_push.py, which mostly inserts).
    db.execute("PRAGMA secure_delete=ON")
    # fold(text): search without case, tone marks or đ/d (schemas/text.py), as
    # ``fold(column) LIKE ? ESCAPE '\\'`` with schemas.text.like_pattern(query); SQLite's own
    # lower() and LIKE know ASCII only. NULL and numbers fold to ''.
    conn.create_function("fold", 1, _sql_fold, deterministic=True)
    db.gocua_path = str(path.resolve())  # write_transaction's queue of writers
    # answers(data): a record's stored answers as JSON text, for json_extract and json_each
    # (they are kept deflated: server/domain/answers.py).
    conn.create_function("answers", 1, answers.text, deterministic=True)
    return db


def _sql_fold(value: object) -> str:
    return fold(value) if isinstance(value, str) else ""


def purge_erased(db: sqlite_utils.Database) -> bool:
    """After an erasure has committed: copy the WAL into the database file and truncate it,
    so the old page images holding the erased values do not stay in ``gocua.db-wal`` until
    the next automatic checkpoint. False when a reader's snapshot kept it from completing (a
    later checkpoint then does it)."""
    busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0


# Writers queue here before they ask SQLite for its write lock. SQLite's own wait (busy_timeout)
# polls, sleeping longer each time: the lock sat free while waiters slept and a newcomer took
# it first, so a push could wait seconds behind later ones. A thread lock wakes the next writer
# of a process at once, and an flock() on a file beside the database (kept open, one per
# process: a fork opens its own) does the same between `gocua serve`'s worker processes and the
# command line, in the order they asked.
_writers: dict[str, tuple[int, threading.Lock, int]] = {}
_writers_guard = threading.Lock()


def _writer(database: str) -> tuple[threading.Lock, int]:
    with _writers_guard:
        entry = _writers.get(database)
        if entry is None or entry[0] != os.getpid():
            fd = os.open(database + "-writer", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            entry = (os.getpid(), threading.Lock(), fd)
            _writers[database] = entry
        return entry[1], entry[2]


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One IMMEDIATE transaction: takes the write lock up front, so concurrent writers queue
    instead of failing half-way with 'database is locked'; first in line, first served."""
    database = getattr(db, "gocua_path", None)
    if database is None:  # a database this module did not open
        with _transaction(db):
            yield db
        return
    lock, fd = _writer(database)
    with lock:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with _transaction(db):
                yield db
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def _transaction(db: sqlite_utils.Database) -> Iterator[None]:
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


def now_iso() -> str:
    """UTC time as stored everywhere in the database (ISO 8601, seconds, 'Z')."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_data_db(data_dir: Path) -> sqlite_utils.Database:
    """The installation's database in ``data_dir`` for a command-line task, migrated to the
    current schema."""
    from server.domain import migrations

    protect(data_dir)
    db = connect(data_dir / "gocua.db")
    migrations.apply(db)
    return db
