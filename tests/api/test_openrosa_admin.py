"""The commune admin's "ODK Collect phone": the settings QR code Collect scans, the phone it
makes (scoped and revocable like any phone), and who may make one."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from server.domain.openrosa.service import decode_settings
from tests.api.admin_helpers import audit_rows, decode_svg, post, user_id


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
