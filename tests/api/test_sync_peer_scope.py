"""A commune server's peer token brings only what is its own commune's: a form version it
installs reaches that commune alone, and the commune's name and province stay the province's."""

from __future__ import annotations

import io
import json
from typing import Any

from openpyxl import load_workbook

from schemas.form import DEFAULT_FORM, Form
from server.domain.db import write_transaction
from server.domain.devices import issue_peer_token
from server.domain.forms import install_form
from server.domain.reports.exports import latest_form
from tests.api.admin_helpers import second_commune
from tests.api.test_reports_dashboard import login_as
from tests.records import record

FORMULA = '=HYPERLINK("http://example.invalid/","bấm vào đây")'
EVIL = "9999.2"


def other_version(version: str = EVIL) -> dict[str, Any]:
    """The default survey under a newer version, one label a spreadsheet formula."""
    definition = json.loads(DEFAULT_FORM.read_text(encoding="utf-8"))
    definition["settings"]["version"] = version
    for question in definition["survey"]:
        if question.get("name") == "internet":
            question["label::Tiếng Việt (vi)"] = question["label::English (en)"] = FORMULA
    return definition


def peer_token(db: Any, commune_id: str) -> dict[str, str]:
    with write_transaction(db):
        _, token = issue_peer_token(db, commune_id, "một máy chủ xã")
    return {"Authorization": f"Bearer {token}"}


def peer_push(client: Any, headers: dict[str, str], **upstream: Any) -> Any:
    return client.post(
        "/api/v1/sync/push",
        headers=headers,
        json={"items": [], "upstream": {"source": "xa-khac", "checkpoint": 1, **upstream}},
    )


def form_changes(client: Any, headers: dict[str, str]) -> set[str]:
    body = client.get("/api/v1/sync/pull?since=0&limit=1000", headers=headers).get_json()
    return {c["id"] for c in body["changes"] if c["kind"] == "form"}


def test_a_peers_form_version_reaches_only_its_own_commune(client, db, phone):
    second_commune(db)  # 88888, whose server pushes; the demo commune 99999 is the other one
    zeta = peer_token(db, "88888")
    definition = other_version()
    pushed = peer_push(
        client,
        zeta,
        forms=[{"form_id": "ho_gia_dinh_cds", "version": EVIL, "definition": definition}],
    )
    assert pushed.status_code == 200, pushed.get_json()
    evil = f"ho_gia_dinh_cds@{EVIL}"
    assert evil in form_changes(client, zeta)  # its own commune has it
    assert evil not in form_changes(client, phone["headers"])
    assert latest_form(db, "88888", "ho_gia_dinh_cds").version == EVIL

    # Not for the other commune's records: a phone naming it is refused; the newest version
    # the other commune's export picks is still the shared one, its labels no formula.
    village = phone["villages"][0]["id"]
    refused, applied = client.post(
        "/api/v1/sync/push",
        headers=phone["headers"],
        json={"items": [record(village, form_version=EVIL), record(village)]},
    ).get_json()["results"]
    assert refused["status"] == "rejected" and "form_version" in refused["errors"]
    assert applied["status"] == "applied"
    default = Form.load()
    assert latest_form(db, "99999", None).version == default.version
    assert latest_form(db, "99999", "ho_gia_dinh_cds").version == default.version
    login_as(client, db, "admin")
    book = load_workbook(
        io.BytesIO(client.get("/reports/export.xlsx?labels=1").data), read_only=True
    )
    header = next(book["households"].iter_rows(values_only=True))
    assert FORMULA not in header and default.label(default.nodes["internet"], "vi") in header

    # The province installing the same version (the CLI) shares it on purpose.
    with write_transaction(db):
        assert install_form(db, definition)[1] is True
    assert evil in form_changes(client, phone["headers"])


def test_a_peer_cannot_move_or_rename_its_commune(client, db):
    second_commune(db)  # 88888 "Xã Bí Mật Zeta", province 88
    before = db.execute(
        "SELECT name, province_code, province_name FROM communes WHERE id = '88888'"
    ).fetchone()
    moved = {
        "id": "88888",
        "name": "Xã Minh Họa",
        "province_code": "99",
        "province_name": "Tỉnh Minh Họa",
    }
    response = peer_push(client, peer_token(db, "88888"), commune=moved)
    assert response.status_code == 200, response.get_json()
    assert tuple(
        db.execute(
            "SELECT name, province_code, province_name FROM communes WHERE id = '88888'"
        ).fetchone()
    ) == tuple(before)
    # A commune the province has no row for yet is still made by its server's first push.
    fresh = {"id": "77777", "name": "Xã Mới", "province_code": "88", "province_name": "Tỉnh Khác"}
    assert peer_push(client, peer_token(db, "77777"), commune=fresh).status_code == 200
    assert tuple(
        db.execute("SELECT name, province_code FROM communes WHERE id = '77777'").fetchone()
    ) == ("Xã Mới", "88")
