"""The staff site: login, records by village, one record read with the form's labels."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import escape

from schemas.form import Form
from tests.records import household_data, record


def login(client: Any, app: Any, password: str | None = None) -> Any:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(
        "/login",
        data={
            "username": "admin",
            "csrf_token": token,
            "password": password or app.config["ADMIN_PASSWORD"],
        },
    )


def test_pages_need_a_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_password_is_refused_and_audited(client, app, db):
    response = login(client, app, password="wrong")
    assert response.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in response.get_data(as_text=True)
    assert [dict(r) for r in db.execute("SELECT action, username FROM audit_log")] == [
        {"action": "login_failed", "username": "admin"}
    ]


def test_login_without_csrf_token_is_refused(client, app):
    response = client.post(
        "/login", data={"username": "admin", "password": app.config["ADMIN_PASSWORD"]}
    )
    assert response.status_code == 400


def test_records_by_village_and_a_record_with_labels(client, app, phone, db):
    village = phone["villages"][0]
    item = record(village["id"], data=household_data(head_name="Đỗ Thị Lan"))
    client.post("/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"])
    assert login(client, app).status_code == 302
    listing = client.get(f"/?village={village['id']}").get_data(as_text=True)
    assert "Đỗ Thị Lan" in listing
    assert f"/records/{item['id']}" in listing
    page = client.get(f"/records/{item['id']}").get_data(as_text=True)
    form = Form.load()
    assert escape(form.label(form.nodes["head_name"], "vi")) in page
    assert escape(form.choice_label("internet", "fibre", "vi")) in page  # a label, not a code
    assert "Nguyễn Văn Nam" in page  # a member's row in the roster table
    english = client.get(f"/records/{item['id']}?lang=en").get_data(as_text=True)
    assert escape(form.label(form.nodes["head_name"], "en")) in english
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["login", "view_record", "view_record"]


def test_a_record_of_another_commune_is_404(client, app):
    login(client, app)
    assert client.get("/records/00000000-0000-4000-8000-000000000000").status_code == 404
