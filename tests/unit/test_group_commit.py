"""Group commit (server/domain/db.py: write_together): writers of a process that wait for the
write lock at the same moment share one transaction; each is answered only once it has
committed, and one that fails is rolled back alone."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from server.domain.db import connect, write_together, write_transaction
from tests.writers import wait_for_queued_writers

WRITERS = 4


@contextmanager
def _queued_behind_the_lock(
    database: Path,
    work: Callable[[int], Callable[[sqlite_utils.Database], Any]],
    count: int,
    answered: Callable[[int, sqlite_utils.Database], None] = lambda index, conn: None,
) -> Iterator[dict[int, Any]]:
    """Writers 0 … ``count - 1``, each in a thread of its own on a connection of its own,
    ``write_together(work(index))``, all queued for the write lock this holds until the block
    ends. Yields each writer's outcome (what its write returned, or its ValueError), whole once
    the block has ended and every thread with it; ``answered(index, connection)`` runs as each
    is answered, before its connection is closed."""
    outcome: dict[int, Any] = {}

    def writer(index: int) -> None:
        conn = connect(database)
        try:
            outcome[index] = write_together(conn, work(index))
        except ValueError as error:
            outcome[index] = error
        finally:
            answered(index, conn)
            conn.close()

    holder = connect(database)
    threads = [threading.Thread(target=writer, args=(i,), name=f"writer-{i}") for i in range(count)]
    try:
        with write_transaction(holder):
            for thread in threads:
                thread.start()
            wait_for_queued_writers(database, count)
            yield outcome
    finally:
        for thread in threads:
            thread.join(timeout=60)
        holder.close()


def test_writers_waiting_together_share_one_commit_and_one_failure_stays_its_own(
    tmp_path: Path,
) -> None:
    database = tmp_path / "gocua.db"
    with connect(database) as setup, write_transaction(setup):
        setup.execute("CREATE TABLE t (writer INTEGER PRIMARY KEY)")
    answered: list[int] = []
    ran: list[tuple[int, str, int]] = []  # (writer, thread, writers answered meanwhile)
    guard = threading.Lock()

    def work(index: int) -> Any:
        def write(conn: sqlite_utils.Database) -> int:
            conn.execute("INSERT INTO t (writer) VALUES (?)", [index])
            with guard:
                ran.append((index, threading.current_thread().name, len(answered)))
            if index == 2:
                raise ValueError("this batch's own failure")
            return index * 10

        return write

    def note_answered(index: int, _conn: sqlite_utils.Database) -> None:
        with guard:
            answered.append(index)

    # The lock is held elsewhere: every writer queues behind it.
    with _queued_behind_the_lock(database, work, WRITERS, note_answered) as outcome:
        assert not answered

    # One writer did every queued write, in one transaction: nobody was answered before its
    # COMMIT.
    assert sorted(index for index, _, _ in ran) == list(range(WRITERS))
    assert len({name for _, name, _ in ran}) == 1
    assert all(meanwhile == 0 for _, _, meanwhile in ran)
    assert sorted(answered) == list(range(WRITERS))
    assert {i: outcome[i] for i in (0, 1, 3)} == {0: 0, 1: 10, 3: 30}
    assert isinstance(outcome[2], ValueError)
    with connect(database) as check:
        kept = [r[0] for r in check.execute("SELECT writer FROM t ORDER BY writer")]
    assert kept == [0, 1, 3]  # the failed writer's row rolled back, the others' committed


def test_a_writer_alone_fails_as_a_transaction_does(tmp_path: Path) -> None:
    database = tmp_path / "gocua.db"
    with connect(database) as conn:
        with write_transaction(conn):
            conn.execute("CREATE TABLE t (x INTEGER)")

        def fails(c: sqlite_utils.Database) -> None:
            c.execute("INSERT INTO t VALUES (1)")
            raise RuntimeError("no")

        with pytest.raises(RuntimeError):
            write_together(conn, fails)
        assert write_together(conn, lambda c: c.execute("INSERT INTO t VALUES (2)").rowcount) == 1
        assert [r[0] for r in conn.execute("SELECT x FROM t")] == [2]
        assert not conn.conn.in_transaction


def _sqlite_temporary_files() -> list[str]:
    """The temporary files SQLite has open in this process (it unlinks each as it opens it)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


def test_a_group_keeps_its_writers_savepoints_in_memory_and_rolls_a_large_one_back(
    tmp_path: Path,
) -> None:
    # Each writer of a group changes every page of a table of about 400 KiB: its savepoint's
    # copies of them pass the 64 KiB SQLite keeps in memory by default, beyond which it writes
    # them to a temporary file, two write calls a page.
    database = tmp_path / "gocua.db"
    rows = 2000
    with connect(database) as setup, write_transaction(setup):
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, writer INTEGER, pad BLOB)")
        setup.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
            " INSERT INTO t SELECT i, 0, randomblob(200) FROM n",
            [rows],
        )
    files_seen: dict[int, list[str]] = {}

    def work(index: int) -> Any:
        def write(conn: sqlite_utils.Database) -> int:
            changed = conn.execute(
                "UPDATE t SET writer = ?, pad = randomblob(200)", [index + 1]
            ).rowcount
            files_seen[index] = _sqlite_temporary_files()
            if index == 1:
                raise ValueError("this batch's own failure")
            return changed

        return write

    modes_after: list[int] = []  # each writer's connection's temp_store once answered

    def note_mode(_index: int, conn: sqlite_utils.Database) -> None:
        modes_after.append(conn.execute("PRAGMA temp_store").fetchone()[0])

    with _queued_behind_the_lock(database, work, 2, note_mode) as outcome:
        pass

    assert files_seen == {0: [], 1: []}
    assert outcome[0] == rows and isinstance(outcome[1], ValueError)
    # The second writer's changes, to every page of the table, were rolled back from memory;
    # the first writer's stayed.
    with connect(database) as check:
        counts = check.execute("SELECT writer, count(*) FROM t GROUP BY writer").fetchall()
        assert [tuple(row) for row in counts] == [(1, rows)]
    # The connections go back to the pool as they were: temporary storage as built (0).
    assert modes_after == [0, 0]
