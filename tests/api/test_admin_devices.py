"""Phones on the admin's page: last sync, the unsynced count they report, and revocation."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from server.domain.clock import local_time
from tests.api.admin_helpers import (
    audit_rows,
    post,
    second_commune,
    user_id,
)
from tests.records import record


def device_row(admin: Any, device_id: str) -> str:
    page = admin.get("/admin/devices").get_data(as_text=True)
    return re.search(rf'<tr data-device="{device_id}".*?</tr>', page, re.S).group(0)


def test_the_admin_sees_each_phone_with_its_volunteer_last_sync_and_unsynced(
    admin, client, phone, db
):
    row = device_row(admin, phone["device_id"])
    assert "Tình nguyện viên mẫu" in row and "Chưa đồng bộ" in row and "Chưa báo" in row
    client.get("/api/v1/sync/pull", headers=phone["headers"])  # a sync with nothing to push
    assert "Chưa đồng bộ" not in device_row(admin, phone["device_id"])
    client.post(
        "/api/v1/sync/push",
        json={"items": [record(phone["villages"][0]["id"])]},
        headers=phone["headers"],
    )
    report = client.post(
        "/api/v1/device/report",
        json={"unsynced": 7, "app_version": "1.4"},
        headers=phone["headers"],
    )
    assert report.status_code == 200
    assert report.get_json() == {"ok": True, "device_id": phone["device_id"]}
    last_seen = db.execute(
        "SELECT last_seen_at FROM devices WHERE id = ?", [phone["device_id"]]
    ).fetchone()[0]
    row = device_row(admin, phone["device_id"])
    # Shown in the server's zone (Asia/Ho_Chi_Minh by default), not as the stored UTC.
    assert last_seen and local_time(last_seen, ZoneInfo("Asia/Ho_Chi_Minh")) in row
    assert re.search(r'class="unsynced">7 ', row) and "1.4" in row
    assert "7" in admin.get("/admin/").get_data(as_text=True)


def test_a_bad_report_is_refused_field_by_field(client, phone):
    for body, field, code in [
        ({}, "unsynced", "required"),
        ({"unsynced": -1}, "unsynced", "out_of_range"),
        ({"unsynced": "3"}, "unsynced", "wrong_type"),
        ({"unsynced": 1, "app_version": "x" * 41}, "app_version", "bad_length"),
    ]:
        response = client.post("/api/v1/device/report", json=body, headers=phone["headers"])
        assert response.status_code == 422
        error = response.get_json()["errors"][field][0]
        assert error["code"] == code and error["vi"] and error["en"]
    not_json = client.post("/api/v1/device/report", data="{", headers=phone["headers"])
    assert not_json.status_code == 400 and not_json.get_json()["code"] == "bad_json"
    anonymous = client.post("/api/v1/device/report", json={"unsynced": 1})
    assert anonymous.status_code == 401 and anonymous.get_json()["code"] == "no_token"


def test_a_revoked_phone_gets_401_on_its_next_sync_and_knocking_is_audited(
    admin, client, phone, db
):
    assert client.get("/api/v1/sync/status", headers=phone["headers"]).status_code == 200
    revoked = post(admin, f"/admin/devices/{phone['device_id']}/revoke")
    assert revoked.status_code == 303
    assert "Đã thu hồi" in device_row(admin, phone["device_id"])
    for path in ("/api/v1/sync/pull", "/api/v1/sync/status"):
        response = client.get(path, headers=phone["headers"])
        assert response.status_code == 401
        body = response.get_json()
        assert body["code"] == "bad_token" and "sao lưu" in body["message"]["vi"]
    push = client.post("/api/v1/sync/push", json={"items": []}, headers=phone["headers"])
    report = client.post("/api/v1/device/report", json={"unsynced": 3}, headers=phone["headers"])
    assert push.status_code == report.status_code == 401
    assert audit_rows(db, "device_revoked") == [
        ("quantri", f"device:{phone['device_id']}", "user:tnv.demo", "127.0.0.1")
    ]
    # Four refused requests, one entry: a phone retrying must not flood the log.
    assert audit_rows(db, "device_refused") == [
        ("tnv.demo", f"device:{phone['device_id']}", "", "127.0.0.1")
    ]
    again = post(admin, f"/admin/devices/{phone['device_id']}/revoke")
    assert again.status_code == 303 and len(audit_rows(db, "device_revoked")) == 1


def test_a_deactivated_volunteers_phone_is_refused_until_reactivated(admin, client, phone, db):
    volunteer = user_id(db, "tnv.demo")
    post(admin, f"/admin/users/{volunteer}/active", {"active": "0"})
    assert client.get("/api/v1/sync/status", headers=phone["headers"]).status_code == 401
    post(admin, f"/admin/users/{volunteer}/active", {"active": "1"})
    assert client.get("/api/v1/sync/status", headers=phone["headers"]).status_code == 200


def test_a_phone_of_another_commune_cannot_be_seen_or_revoked(admin, client, db):
    other = second_commune(db)
    enrolled = client.post("/api/v1/enroll", json={"code": other["code"]}).get_json()
    assert post(admin, f"/admin/devices/{enrolled['device_id']}/revoke").status_code == 404
    assert post(admin, "/admin/devices/khong-co/revoke").status_code == 404
    assert enrolled["device_id"] not in admin.get("/admin/devices").get_data(as_text=True)
    headers = {"Authorization": f"Bearer {enrolled['token']}"}
    assert client.get("/api/v1/sync/status", headers=headers).status_code == 200
