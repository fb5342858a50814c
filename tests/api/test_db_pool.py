"""The request's connection comes from the app's pool: reused, never handed on mid-transaction."""

from __future__ import annotations

from typing import Any

from server.domain.db import connect
from server.web.db import get_db


def test_a_request_reuses_the_connection_the_last_one_gave_back(app: Any) -> None:
    with app.test_request_context():
        first = get_db()
    with app.test_request_context():
        assert get_db() is first


def test_a_request_left_in_a_transaction_is_rolled_back_before_the_next(app: Any) -> None:
    with app.test_request_context():
        db = get_db()
        db.conn.execute("BEGIN IMMEDIATE")
        db.conn.execute("UPDATE communes SET name = 'left half-way'")
    with app.test_request_context():
        again = get_db()
        assert again is db
        assert not again.conn.in_transaction
        assert (
            again.execute("SELECT count(*) FROM communes WHERE name = 'left half-way'").fetchone()[
                0
            ]
            == 0
        )
    # The write lock was let go: another writer gets it at once.
    other = connect(app.config["DATABASE"])
    try:
        other.conn.execute("PRAGMA busy_timeout=0")
        other.conn.execute("BEGIN IMMEDIATE")
        other.conn.rollback()
    finally:
        other.close()
