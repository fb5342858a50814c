"""The one place that opens the SQLite database file, and the transaction every writer uses."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open the database file with the settings every connection needs, creating its folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
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
    return db




@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One IMMEDIATE transaction: takes the write lock up front, so concurrent writers queue
    on busy_timeout instead of failing half-way with 'database is locked'."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
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

    db = connect(data_dir / "gocua.db")
    migrations.apply(db)
    return db
