"""Fixtures: a fresh database file per test, the Flask app on it, and enrolled phones."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server import create_app
from server.domain.db import connect, write_transaction
from server.domain.devices import create_enrollment_code
from server.domain.seed import DEMO_VOLUNTEER, load_default_form, seed_demo


def config(folder: Path) -> dict[str, Any]:
    return {
        "DATA_DIR": str(folder),
        "DATABASE": str(folder / "gocua.db"),
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-of-the-test-suite-only",
    }


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str | None]:
    """A database made as `app` needs it (schema, default form, demo commune), once a session.

    Making it takes about 0.3 s, mostly the admin password's scrypt hash, and most API tests start
    from it: each gets a copy of this file instead, the same tables and rows made the same way.
    Only two things differ from seeding per test: the seeded rows' timestamps are the session's
    start, and every test's demo admin has the same (random) password.
    """
    folder = tmp_path_factory.mktemp("seeded")
    create_app(config(folder))  # its migrations make the schema
    with connect(folder / "gocua.db") as db:
        load_default_form(db)
        admin = seed_demo(db)
        # The demo admin must change the printed password at the first login
        # (test_the_demo_admin_must_change_the_printed_password); the tests that log in as
        # it are about what comes after.
        with write_transaction(db):
            db.execute("UPDATE users SET must_change_password = 0 WHERE username = 'admin'")
    return folder / "gocua.db", admin["password"] if admin else None


@pytest.fixture
def app(tmp_path: Path, seeded_database: tuple[Path, str | None]) -> Any:
    template, admin_password = seeded_database
    # SQLite's backup API, not a file copy: it gives a whole database whatever the WAL holds.
    source, target = sqlite3.connect(template), sqlite3.connect(tmp_path / "gocua.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    app = create_app(config(tmp_path))
    app.config["ADMIN_PASSWORD"] = admin_password
    return app


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def db(app: Any) -> Iterator[Any]:
    database = connect(app.config["DATABASE"])
    yield database
    database.close()


def new_code(db: Any, username: str = DEMO_VOLUNTEER) -> str:
    user_id = db.execute("SELECT id FROM users WHERE username = ?", [username]).fetchone()[0]
    with write_transaction(db):
        return create_enrollment_code(db, user_id)


@pytest.fixture
def phone(client: Any, db: Any) -> dict[str, Any]:
    """An enrolled phone of the demo volunteer: its token, headers and villages."""
    response = client.post("/api/v1/enroll", json={"code": new_code(db)})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    body["headers"] = {"Authorization": f"Bearer {body['token']}"}
    return body
