"""The server's commits leave copying the WAL into the database file to a thread of their own
(server/domain/db.py), so no phone's push waits for the checkpoint's fsyncs: the pushes are
acknowledged with their data in the WAL, and the database file catches up by itself."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.domain import db as domain_db
from server.domain.db import WRITERS_KEPT, connect, write_transaction
from sync.client import SyncClient
from tests.records import record
from tests.sync.live import LiveServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "server").start()
    yield live
    live.stop()


def change_counter(database: Path) -> int:
    """The database file's own change counter (header bytes 24-27): in WAL mode the file's
    first page, and with it this counter, changes only when a checkpoint copies the WAL in."""
    with database.open("rb") as file:
        file.seek(24)
        return int.from_bytes(file.read(4), "big")


def test_pushed_records_reach_the_database_file_without_a_checkpoint_in_the_push(
    server: LiveServer,
) -> None:
    phone = SyncClient(server.base)
    villages = [v["id"] for v in phone.enroll(server.enrollment_code())["villages"]]
    before = change_counter(server.database)
    batches = [[record(villages[i % len(villages)]) for i in range(20)] for _ in range(3)]
    for batch in batches:
        results = phone.push_batch(batch)["results"]
        assert {r["status"] for r in results} == {"applied"}
    # Far fewer pages than SQLite's own threshold (1,000): before, nothing was copied until a
    # later commit crossed it. Now the checkpointer copies them within about a second.
    deadline = time.monotonic() + 30
    while change_counter(server.database) == before:
        assert time.monotonic() < deadline, "the WAL was never copied into the database file"
        time.sleep(0.05)
    with server.db() as db:
        stored = db.execute("SELECT count(*) FROM records").fetchone()[0]
    assert stored == sum(len(batch) for batch in batches)


def open_files(folder: Path) -> list[str]:
    """The files of ``folder`` this process holds open."""
    held = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed since the listing
            continue
        if target.startswith(str(folder)):
            held.append(target)
    return held


def test_a_process_writing_many_databases_keeps_few_files_open(tmp_path: Path) -> None:
    # The tests' processes open a database a test: each kept its writers' queue file, and each
    # checkpointer its connection for an idle minute, until waitress's select() met a
    # descriptor over 1024 and a live server never answered.
    paths = [tmp_path / f"commune{i}.db" for i in range(3 * WRITERS_KEPT)]
    for path in paths + paths[:2]:  # the first two again, after they were let go
        db = connect(path, checkpoints=False)
        with write_transaction(db):
            db.execute("CREATE TABLE IF NOT EXISTS t (x)")
            db.execute("INSERT INTO t VALUES (1)")
        db.close()
    writers = [f for f in open_files(tmp_path) if f.endswith("-writer")]
    assert 0 < len(writers) <= WRITERS_KEPT
    with connect(paths[0]) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    # The checkpointers copy each WAL in and then hold no database file open while they wait.
    deadline = time.monotonic() + 30
    while [f for f in open_files(tmp_path) if not f.endswith("-writer")]:
        assert time.monotonic() < deadline, open_files(tmp_path)
        time.sleep(0.05)


def test_a_wal_read_all_the_time_is_started_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At dusk some request is always reading, so SQLite never found a moment to write the WAL
    # from its start again: it grew by every page written (1.1 GB in 40,000 records). Here each
    # round's writes are still being read as the checkpoint comes (a reader of 50 ms), and the
    # next round is written at once, as the next phone's batch is.
    rounds, rows, page = 12, 100, 4096  # each row a page of its own, or nearly
    monkeypatch.setattr(domain_db, "WAL_RESTART_FRAMES", 50)
    monkeypatch.setattr(domain_db, "RESTART_WAIT_MS", 10_000)
    monkeypatch.setattr(domain_db, "WAL_SIZE_LIMIT", 3 * rows * page)
    path = tmp_path / "gocua.db"
    db = connect(path, checkpoints=False)
    db.execute("CREATE TABLE t (x BLOB)")
    wal = Path(f"{path}-wal")
    assert db.execute("PRAGMA page_size").fetchone()[0] == page
    readers: list[threading.Thread] = []
    written = 0
    for n in range(rounds):
        # The first round is long (a sync after days offline): the file grows past the limit.
        many = rows * (8 if n == 0 else 1)
        with write_transaction(db):
            db.conn.executemany("INSERT INTO t VALUES (?)", [(os.urandom(page - 100),)] * many)
        written += many
        reader = sqlite3.connect(path, check_same_thread=False)
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM t").fetchone()[0] == written

        def read_on(reader: sqlite3.Connection = reader) -> None:
            time.sleep(0.05)  # still reading as the checkpoint starts, done soon after
            reader.rollback()
            reader.close()

        readers.append(threading.Thread(target=read_on))
        readers[-1].start()
        domain_db.checkpoint(str(path))
    for thread in readers:
        thread.join()
    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == written
    # Started over each round, and the file cut back to the limit after the long first round:
    # it holds about a round's pages, not all of them.
    assert wal.stat().st_size <= domain_db.WAL_SIZE_LIMIT
    db.close()


def test_a_reader_slower_than_the_restart_keeps_its_snapshot_and_the_writers_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(domain_db, "WAL_RESTART_FRAMES", 1)
    path = tmp_path / "gocua.db"
    db = connect(path, checkpoints=False)
    db.execute("CREATE TABLE t (x)")
    with write_transaction(db):
        db.execute("INSERT INTO t VALUES (1)")
    export = sqlite3.connect(path)  # an export reading all the while
    export.execute("BEGIN")
    assert export.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    with write_transaction(db):
        db.execute("INSERT INTO t VALUES (2)")
    domain_db.checkpoint(str(path))  # the restart waits RESTART_WAIT_MS, then lets it be
    with write_transaction(db):
        db.execute("INSERT INTO t VALUES (3)")
    assert export.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    export.rollback()
    assert export.execute("SELECT count(*) FROM t").fetchone()[0] == 3
    export.close()
    db.close()
