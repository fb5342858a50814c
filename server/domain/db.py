"""The one place that opens the SQLite database file, and the transaction every writer uses."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from schemas.text import fold
from server.domain import answers

T = TypeVar("T")


def protect(data_dir: str | Path) -> None:
    """Personal data is for this service's account alone: the data folder 0700, the database
    and its WAL and shared-memory files 0600 (SQLite gives those the database's own mode).
    Also tightens an installation made before this rule."""
    folder = Path(data_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    for path in folder.glob("gocua.db*"):
        path.chmod(0o600)


def connect(path: str | Path, *, checkpoints: bool = True) -> sqlite_utils.Database:
    """Open the database file with the settings every connection needs, creating its folder
    and, when new, the file itself readable by this account alone. ``checkpoints=False``: the
    connection's commits leave copying the WAL into the database file to the process's
    checkpointer thread (``write_transaction`` tells it), instead of the commit that crosses
    SQLite's threshold doing it, with its fsyncs, while a phone waits for its answer."""
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
    # The writer that starts the WAL over cuts a longer file back to this (``checkpoint``).
    db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
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
    if not checkpoints:
        db.execute("PRAGMA wal_autocheckpoint=0")
        db.gocua_checkpointer = True
    return db


def _sql_fold(value: object) -> str:
    return fold(value) if isinstance(value, str) else ""


def purge_erased(db: sqlite_utils.Database) -> bool:
    """After an erasure has committed: copy the WAL into the database file and truncate it,
    so the old page images holding the erased values do not stay in ``gocua.db-wal`` until
    the next automatic checkpoint. False when a reader's snapshot kept it from completing (a
    later checkpoint then does it)."""
    # SQLite answers "busy" at once while another checkpoint runs: this process's checkpointer
    # is waited for, another process's (a worker's) is asked again for a moment.
    database = getattr(db, "gocua_path", "")
    for _ in range(PURGE_TRIES):
        with _checkpoint_lock(database):
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy == 0:
            return True
        time.sleep(PURGE_PAUSE)
    return False


PURGE_TRIES, PURGE_PAUSE = 20, 0.1


# Writers queue here before they ask SQLite for its write lock. SQLite's own wait (busy_timeout)
# polls, sleeping longer each time: the lock sat free while waiters slept and a newcomer took
# it first, so a push could wait seconds behind later ones. A thread lock wakes the next writer
# of a process at once, and an flock() on a file beside the database (kept open, one per
# process: a fork opens its own) does the same between `gocua serve`'s worker processes and the
# command line, in the order they asked.
_writers: dict[str, _Writer] = {}  # the most recently used last
_writers_guard = threading.Lock()
# A process that opens many databases (the tests do, one each) keeps the newest few files open
# and closes the others' when free: one server has one database, the command line a second.
WRITERS_KEPT = 8


@dataclass
class _Writer:
    pid: int
    lock: threading.Lock
    fd: int
    open: bool = True


def _writer(database: str) -> _Writer:
    with _writers_guard:
        entry = _writers.pop(database, None)
        if entry is None or entry.pid != os.getpid():
            fd = os.open(database + "-writer", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            entry = _Writer(os.getpid(), threading.Lock(), fd)
        _writers[database] = entry
        for name in list(_writers)[:-WRITERS_KEPT]:
            old = _writers[name]
            if old.pid != os.getpid():
                del _writers[name]  # a parent's, before a fork: not this process's to close
            elif old.lock.acquire(blocking=False):  # a writer holding it keeps it open
                try:
                    os.close(old.fd)
                    old.open = False
                finally:
                    old.lock.release()
                del _writers[name]
        return entry


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One IMMEDIATE transaction: takes the write lock up front, so concurrent writers queue
    instead of failing half-way with 'database is locked'; first in line, first served."""
    database = getattr(db, "gocua_path", None)
    if database is None:  # a database this module did not open
        with _transaction(db):
            yield db
        return
    with _first_in_line(database), _transaction(db):
        yield db
    if getattr(db, "gocua_checkpointer", False):
        _checkpoint_soon(database)


@contextmanager
def _first_in_line(database: str) -> Iterator[None]:
    """The head of ``database``'s queue of writers, this process's and the others'."""
    entry = _writer(database)
    entry.lock.acquire()
    while not entry.open:  # closed as the least recently used between the two lines above
        entry.lock.release()
        entry = _writer(database)
        entry.lock.acquire()
    try:
        fcntl.flock(entry.fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(entry.fd, fcntl.LOCK_UN)
    finally:
        entry.lock.release()


# Group commit: the writers of a process that wait for the write lock at the same time share
# one transaction and its COMMIT. Whoever takes the lock next does the work of every writer
# queued by then, each in a savepoint of its own (one that fails is rolled back alone), commits
# once, and only then are they told their results: nothing is answered before its COMMIT. The
# lock changes hands once for the group instead of once a writer, and the WAL's pages that
# several batches touch (the ends of the records' list indexes, the feed's) are written once.
@dataclass
class _Job:
    work: Callable[[sqlite_utils.Database], Any]
    done: bool = False
    result: Any = None
    error: BaseException | None = None


@dataclass
class _Group:
    changed: threading.Condition = field(default_factory=threading.Condition)
    jobs: list[_Job] = field(default_factory=list)
    leading: bool = False  # a writer of this process is doing the queued jobs


_groups: dict[tuple[int, str], _Group] = {}


def write_together(db: sqlite_utils.Database, work: Callable[[sqlite_utils.Database], T]) -> T:
    """``work(connection)`` inside a write transaction that other writers of this process
    waiting at the same moment may share (group commit); returns once that transaction has
    committed, with what ``work`` returned, or raises what it raised (its own writes then
    rolled back, the others' kept). ``work`` must do nothing but write through the connection
    it is given (which may be another request's): it runs on whichever thread commits."""
    database = getattr(db, "gocua_path", None)
    if database is None:  # a database this module did not open
        with write_transaction(db):
            return work(db)
    with _writers_guard:
        group = _groups.setdefault((os.getpid(), database), _Group())
    job = _Job(work)
    with group.changed:
        group.jobs.append(job)
        while group.leading and not job.done:
            group.changed.wait()
        lead = not job.done
        if lead:
            group.leading = True
    if lead:
        _lead(db, group, job)
    if job.error is not None:
        raise job.error
    return job.result  # type: ignore[no-any-return]


def _lead(db: sqlite_utils.Database, group: _Group, own: _Job) -> None:
    jobs: list[_Job] = []
    try:
        # Each writer's savepoint keeps a copy of the pages it changes, to roll back alone.
        # SQLite keeps the first 64 KiB of the copies in memory and writes the rest to a
        # temporary file (a batch of 20 households changes 120-odd pages): two write calls a
        # page, more than the WAL takes. In memory for the group's transaction; the connection
        # then goes back to the pool as it was, whose other queries' temporary tables may be
        # large.
        db.execute("PRAGMA temp_store=MEMORY")
        with write_transaction(db):
            with group.changed:
                jobs, group.jobs = group.jobs, []
            for job in jobs:
                if len(jobs) == 1:  # alone: its failure is the transaction's
                    job.result = job.work(db)
                    continue
                db.conn.execute("SAVEPOINT together")
                try:
                    job.result = job.work(db)
                except Exception as error:  # noqa: BLE001 -- given to its own writer below
                    db.conn.execute("ROLLBACK TO together")
                    job.result, job.error = None, error
                db.conn.execute("RELEASE together")
    except BaseException as error:
        # Nothing of the transaction committed: every writer in it hears why.
        for job in jobs:
            job.result, job.error = None, job.error or error
        if not jobs:  # failed before taking the queue: the others' jobs wait for the next
            with group.changed:
                group.jobs.remove(own)
            raise
    finally:
        try:
            # As connect() leaves it (it does not set temp_store).
            with suppress(sqlite3.Error):
                db.execute("PRAGMA temp_store=DEFAULT")
        finally:
            with group.changed:
                for job in jobs:
                    job.done = True
                group.leading = False
                group.changed.notify_all()


# Checkpoints of the server's connections (``connect(checkpoints=False)``): one thread a process and
# database, woken by commits, copies the WAL into the database file at most once every
# CHECKPOINT_PAUSE seconds with a PASSIVE checkpoint (it never waits for, nor holds up, a writer or
# a reader), and now and then sees the WAL started over (``checkpoint``); after CHECKPOINT_IDLE
# seconds without a commit it ends, and the next commit starts another. An acknowledged push was
# durable at its commit (the WAL); the checkpoint only moves it, so this changes no promise, only
# who waits for the disk.
CHECKPOINT_PAUSE = 1.0
CHECKPOINT_IDLE = 60.0
# The WAL is started over once it holds this many frames (a page each: 16 MiB of 4 KiB pages, a
# third of a second of dusk's writes), and a file grown past WAL_SIZE_LIMIT is cut back to it then
# (``checkpoint``); a restart waits at most RESTART_WAIT_MS for the WAL's readers.
WAL_RESTART_FRAMES = 4096
WAL_SIZE_LIMIT = 64 * 1024 * 1024
RESTART_WAIT_MS = 50
_checkpointers: dict[str, tuple[int, threading.Event]] = {}
_checkpoint_locks: dict[str, threading.Lock] = {}


def _checkpoint_lock(database: str) -> threading.Lock:
    """The lock a process's checkpoints of ``database`` take, its checkpointer's and an
    erasure's (``purge_erased``): SQLite refuses a second checkpoint instead of waiting."""
    with _writers_guard:
        return _checkpoint_locks.setdefault(database, threading.Lock())


def _checkpoint_soon(database: str) -> None:
    with _writers_guard:
        entry = _checkpointers.get(database)
        if entry is None or entry[0] != os.getpid():
            entry = (os.getpid(), threading.Event())
            _checkpointers[database] = entry
            threading.Thread(
                target=_checkpoint_loop, args=(database, entry), daemon=True, name="checkpoints"
            ).start()
    entry[1].set()


def _checkpoint_loop(database: str, entry: tuple[int, threading.Event]) -> None:
    while True:
        if not entry[1].wait(CHECKPOINT_IDLE):
            with _writers_guard:
                if entry[1].is_set():
                    continue  # a commit came as the wait ended
                if _checkpointers.get(database) is entry:
                    del _checkpointers[database]
                return
        entry[1].clear()
        # A connection for each checkpoint, at most one a second: a waiting checkpointer then
        # holds no file open (a process serving many databases, the tests' one, would otherwise
        # keep three descriptors a database for the idle minute). On an error the next commit
        # wakes it again; SQLite keeps the WAL whole meanwhile.
        checkpoint(database)
        time.sleep(CHECKPOINT_PAUSE)


def checkpoint(database: str) -> None:
    """Copy ``database``'s WAL into the file (PASSIVE: waiting for nobody); once the WAL holds
    WAL_RESTART_FRAMES or more, all copied, also see it started over.

    SQLite writes the WAL from its start again only when a writer begins with every frame
    copied and no reader still reading from the WAL. Under a steady load (200 phones at dusk)
    some reader always is, so the file only grew: 1.1 GB, 270,000 frames, in 19 seconds of
    40,000 records, and on for as long as the phones kept coming. Here the queue of writers is
    held for a moment (RESTART_WAIT_MS at most) while the readers of the WAL finish; the next
    writer then starts it over, and cuts the file back to WAL_SIZE_LIMIT (``connect``). A
    reader slower than that (an export) leaves it for the next checkpoint. Holding the queue,
    not only SQLite's lock, keeps the writers waiting in order meanwhile rather than polling in
    SQLite's busy wait (``write_transaction``)."""
    with (
        suppress(sqlite3.Error),
        _checkpoint_lock(database),
        closing(sqlite3.connect(database, timeout=30)) as conn,
    ):
        _, logged, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if logged >= WAL_RESTART_FRAMES and copied == logged:
            conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            with _first_in_line(database):
                conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()


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
