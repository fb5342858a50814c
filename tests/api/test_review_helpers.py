"""Shared steps of the review workspace's tests (no tests here): log in, post a staff form,
push and pull as a phone, add a second volunteer."""

from __future__ import annotations

import re
from typing import Any

from server.domain.accounts import add_user
from server.domain.db import write_transaction
from tests.api.test_staff_site import login
from tests.conftest import new_code

CSRF = "test-csrf-token"


def staff(client: Any, app: Any) -> Any:
    """Log the demo admin in; every later form post carries the session's CSRF token."""
    assert login(client, app).status_code == 302
    with client.session_transaction() as session:
        session["csrf"] = CSRF
    return client


def reviewer(client: Any, db: Any) -> Any:
    """Log in as a reviewer of the demo commune (not an admin)."""
    password = "mat-khau-du-dai-1"
    with write_transaction(db):
        add_user(db, "canbo.duyet", "Cán bộ duyệt", "reviewer", "99999", password=password)
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/login", data={"username": "canbo.duyet", "password": password, "csrf_token": token}
    )
    assert answer.status_code == 302
    with client.session_transaction() as session:
        session["csrf"] = CSRF
    return client


def post(client: Any, path: str, **form: Any) -> Any:
    return client.post(path, data={"csrf_token": CSRF, **form})


def push(client: Any, phone: dict[str, Any], *items: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(
        "/api/v1/sync/push", json={"items": list(items)}, headers=phone["headers"]
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"]


def pull(client: Any, phone: dict[str, Any], since: int = 0) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    while True:
        page = client.get(
            f"/api/v1/sync/pull?since={since}&limit=500", headers=phone["headers"]
        ).get_json()
        changes += page["changes"]
        since = page["next_since"]
        if not page["has_more"]:
            return changes


def last_seq(db: Any) -> int:
    return int(db.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0])


def other_phone(
    client: Any, db: Any, village_ids: list[str], username: str = "tnv.khac"
) -> dict[str, Any]:
    """An enrolled phone of another volunteer of the demo commune."""
    with write_transaction(db):
        add_user(
            db, username, "Tình nguyện viên khác", "volunteer", "99999", village_ids=village_ids
        )
    body = client.post("/api/v1/enroll", json={"code": new_code(db, username)}).get_json()
    body["headers"] = {"Authorization": f"Bearer {body['token']}"}
    return body


def audit_actions(db: Any) -> list[str]:
    return [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


def problem(response: Any) -> str:
    """The refusal shown on the problem page."""
    match = re.search(r'id="problem">([^<]*)<', text_of(response))
    assert match, text_of(response)[:500]
    return match.group(1)
