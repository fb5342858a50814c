"""The request's database connection: taken from the app's pool on first use, given back when
the request ends."""

from __future__ import annotations

import queue

import sqlite_utils
from flask import Flask, current_app, g

from server.domain.db import connect

# Opening the file costs more than most requests (the WAL index is mapped and the header read
# again: about 2 ms, more than a page of the pull feed); a pool keeps one connection a thread.
POOL_SIZE = 32


def _pool(app: Flask) -> queue.SimpleQueue[sqlite_utils.Database]:
    pool: queue.SimpleQueue[sqlite_utils.Database] | None = app.extensions.get("gocua_db_pool")
    if pool is None:
        pool = app.extensions.setdefault("gocua_db_pool", queue.SimpleQueue())
    return pool


def get_db() -> sqlite_utils.Database:
    """The request's database connection, taken on first use and given back at teardown."""
    if "db" not in g:
        try:
            g.db = _pool(current_app).get_nowait()
        except queue.Empty:
            # The server's commits leave checkpoints to a thread of their own (domain/db.py).
            g.db = connect(current_app.config["DATABASE"], checkpoints=False)
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is None:
        return
    try:
        # A request that failed half-way must not hand its transaction to the next one.
        if db.conn.in_transaction:
            db.conn.rollback()
    except Exception:
        db.close()
        raise
    pool = _pool(current_app)
    if pool.qsize() < POOL_SIZE:
        pool.put(db)
    else:
        db.close()
