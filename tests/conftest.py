"""Fixtures: a fresh database file per test, the Flask app on it, and enrolled phones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server import create_app
from server.domain.db import connect, write_transaction
from server.domain.devices import create_enrollment_code
from server.domain.seed import DEMO_VOLUNTEER, load_default_form, seed_demo


@pytest.fixture
def app(tmp_path: Path) -> Any:
    app = create_app({"DATA_DIR": str(tmp_path), "DATABASE": str(tmp_path / "gocua.db"),
                      "TESTING": True, "SECRET_KEY": "test-secret"})
    with connect(app.config["DATABASE"]) as db:
        load_default_form(db)
        admin = seed_demo(db)
    app.config["ADMIN_PASSWORD"] = admin["password"] if admin else None
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
