"""The server's commits leave copying the WAL into the database file to a thread of their own
(server/domain/db.py), so no phone's push waits for the checkpoint's fsyncs: the pushes are
acknowledged with their data in the WAL, and the database file catches up by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
