"""The server's commits leave copying the WAL into the database file to a thread of their own
(server/domain/db.py), so no phone's push waits for the checkpoint's fsyncs: the pushes are
acknowledged with their data in the WAL, and the database file catches up by itself."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
