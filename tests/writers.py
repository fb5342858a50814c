"""The writers of this process waiting for the database's write lock together (group commit,
server/domain/db.py: write_together), for tests that hold the lock and let writers queue."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from server.domain import db as domain_db


def queued_writers(database: Path) -> int:
    """The writes this process has waiting for the write lock together on ``database``."""
    group = domain_db._groups.get((os.getpid(), str(database.resolve())))
    if group is None:
        return 0
    with group.changed:
        return len(group.jobs)


def wait_for_queued_writers(database: Path, count: int) -> None:
    """Return once ``count`` writes wait for the write lock on ``database`` (a minute at most,
    then fail)."""
    pause = threading.Event()
    for _ in range(6000):
        if queued_writers(database) == count:
            return
        pause.wait(0.01)
    assert queued_writers(database) == count
