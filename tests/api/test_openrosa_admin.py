"""The commune admin's "ODK Collect phone": the settings QR code Collect scans, the phone it
makes (scoped and revocable like any phone), and who may make one."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import urlsplit

from server.domain.db import write_transaction
from server.domain.devices import add_collect_device
from server.domain.openrosa.service import decode_settings
from tests.api.admin_helpers import (
    audit_rows,
    decode_svg,
    logged_in,
    post,
    second_commune,
    user_id,
)
from tests.collect_client import CollectClient, Filled
from tests.records import household_data


def collect_page(admin: Any, db: Any) -> tuple[Any, dict[str, Any]]:
    volunteer = user_id(db, "tnv.demo")
    response = post(admin, f"/admin/volunteers/{volunteer}/collect")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    svg = re.search(r'<div class="qr" id="collect-qr">(<svg.*?</svg>)</div>', page, re.S)
    return response, decode_settings(decode_svg(svg.group(1)))


def test_the_admin_makes_a_collect_phone_whose_qr_code_collect_can_use(admin, client, db):
    response, settings = collect_page(admin, db)
    assert response.headers["Cache-Control"] == "no-store"  # the token is on the page
    general = settings["general"]
    assert general["metadata_username"] == "Tình nguyện viên mẫu"
    assert settings["project"]["name"] == "Gõ Cửa · Xã Minh Họa"
    assert settings["admin"] == {"change_server": False}
    server_url = general["server_url"]
    assert server_url in response.get_data(as_text=True)  # to type by hand, too
    path = urlsplit(server_url).path
    listed = client.get(f"{path}/formList")
    assert listed.status_code == 200 and "<formID>ho_gia_dinh_cds</formID>" in listed.text
    device_id = db.execute("SELECT id FROM devices WHERE client = 'collect'").fetchone()[0]
    assert audit_rows(db, "collect_phone_added") == [
        ("quantri", "user:tnv.demo", f"device:{device_id}", "127.0.0.1")
    ]
    volunteer_page = admin.get(f"/admin/volunteers/{user_id(db, 'tnv.demo')}").text
    row = re.search(rf'<tr data-device="{device_id}".*?</tr>', volunteer_page, re.S).group(0)
    assert "ODK Collect" in row

    # Revoked like any phone: Collect is told so in both languages.
    assert post(admin, f"/admin/devices/{device_id}/revoke").status_code == 303
    refused = client.get(f"{path}/formList")
    assert refused.status_code == 403 and "thu hồi" in refused.text and "revoked" in refused.text


def test_each_qr_code_is_a_phone_of_its_own(admin, db):
    first = collect_page(admin, db)[1]["general"]["server_url"]
    second = collect_page(admin, db)[1]["general"]["server_url"]
    assert first != second
    assert db.execute("SELECT count(*) FROM devices WHERE client = 'collect'").fetchone()[0] == 2


def test_a_collector_token_is_no_collect_key(client, phone):
    """The collector's Bearer token was never meant for an address."""
    assert client.get(f"/key/{phone['token']}/formList").status_code == 403


def _collect_token(db: Any) -> str:
    with write_transaction(db):
        return add_collect_device(db, user_id(db, "tnv.demo"))[1]


def _send(client: Any, token: str, data: dict[str, Any]) -> tuple[Any, Filled]:
    xform = client.get(f"/key/{token}/forms/ho_gia_dinh_cds/versions/2026.11.1/form.xml").data
    filled = CollectClient.fill(xform, data)
    response = client.post(
        f"/key/{token}/submission",
        data={"xml_submission_file": (io.BytesIO(filled.xml()), "submission.xml")},
    )
    return response, filled


def test_the_office_attaches_a_submission_that_named_no_household(admin, client, db):
    token = _collect_token(db)
    response, filled = _send(client, token, household_data(head_name="Hoàng Thị Lan"))
    assert response.status_code == 201  # the default survey has no household_code question
    page = admin.get("/collect")
    row = re.search(rf'<tr data-instance="{filled.instance_id}".*?</tr>', page.text, re.S)
    assert "Hoàng Thị Lan" in row.group(0) and 'data-state="unattached"' in row.group(0)
    assert audit_rows(db, "view_collect_waiting")[-1][:2] == ("quantri", "openrosa")

    wrong = post(
        admin,
        "/collect/attach",
        {"instance_id": filled.instance_id, "household_code": "HKHONGCO"},
    )
    assert wrong.status_code == 422
    assert "Không có hộ nào có mã này" in wrong.text and 'value="HKHONGCO"' in wrong.text
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 0

    house = db.execute(
        "SELECT id, code, village_id FROM households ORDER BY code LIMIT 1"
    ).fetchone()
    done = post(
        admin,
        "/collect/attach",
        {"instance_id": filled.instance_id, "household_code": house["code"].lower()},
    )
    record_id = filled.instance_id.removeprefix("uuid:")
    assert done.status_code == 303 and done.location.endswith(f"/records/{record_id}")
    record = db.execute(
        "SELECT household_id, village_id, device_id FROM records WHERE id = ?", [record_id]
    ).fetchone()
    assert (record["household_id"], record["village_id"]) == (house["id"], house["village_id"])
    assert audit_rows(db, "collect_attached") == [
        ("quantri", f"record:{record_id}", f"household:{house['code'].lower()}", "127.0.0.1")
    ]
    assert filled.instance_id not in admin.get("/collect").text
    again = post(
        admin,
        "/collect/attach",
        {"instance_id": filled.instance_id, "household_code": house["code"]},
    )
    assert again.status_code == 404  # a record now: nothing is waiting


def test_a_reviewer_of_another_commune_sees_none_of_them(admin, client, db):
    token = _collect_token(db)
    _, filled = _send(client, token, household_data(head_name="Hoàng Thị Lan"))
    other = second_commune(db)
    zeta = logged_in(admin.application, other["admin"]["username"])
    assert "Hoàng Thị Lan" not in zeta.get("/collect").text
    refused = post(
        zeta,
        "/collect/attach",
        {"instance_id": filled.instance_id, "household_code": other["household"]["code"]},
    )
    assert refused.status_code == 404


def test_a_settings_code_whose_modules_also_look_like_a_bar_code_reads_as_one_qr_code():
    # A reader of every format took part of these codes (a phone's random key in each) for a
    # Codabar too, and the page's test failed now and then: a phone's QR scanner reads QR.
    from server.domain.openrosa.service import settings_payload
    from server.web.admin.qr import svg

    for key in (
        "GBuzSm6A8cVR06AxYpThGJWZhbj11THnCMZCY7Bvqiy",
        "LNuoliMdVwY1pp7M-4Xn3DWzP9WYJof5Hzt4XJUtv2t",
        "ZHY1V2QlMmeahFK0k0Uey4dH8BBZNZ10ANlzK2QwiLP",
    ):
        volunteer = "Tình nguyện viên Demo"
        payload = settings_payload(f"http://localhost/key/{key}", "Gõ Cửa · Xã Demo", volunteer)
        assert decode_svg(svg(payload)) == payload
