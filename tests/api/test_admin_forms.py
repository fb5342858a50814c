"""The admin's Forms pages: upload and check a workbook (the CLI's messages, both languages),
publish it as a version, give it to volunteers or not, archive it; which phones hold which
version and how many records each version has; every bad file answered without a 5xx."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from server.cli.main import main
from server.domain.db import write_transaction
from server.domain.forms import publish_form
from server.web.admin.routes_forms import MAX_UPLOAD_BYTES
from tests.api.admin_helpers import logged_in, post, second_commune, staff
from tests.hostile_files import MB, bomb
from tests.records import VISIT_DATE
from tests.unit.test_xlsform import XLS_CHOICES, XLS_SETTINGS, XLS_SURVEY, xls_workbook
from tests.workbooks import FOLLOWUP_ID, followup_rows, workbook

REFUSED_TYPE = ("background-audio", "ghi_am", "Ghi âm", "Recording", None)


def upload(client: Any, data: bytes, name: str = "tham_lai.xlsx") -> Any:
    return post(client, "/admin/forms/check", {"file": (io.BytesIO(data), name)})


def definition_of(page: str) -> str:
    found = re.search(r'name="definition" value="([^"]*)"', page)
    assert found, page
    return html.unescape(found.group(1))


def publish(client: Any, data: bytes, give: bool = True) -> Any:
    page = upload(client, data).get_data(as_text=True)
    return post(
        client,
        "/admin/forms/publish",
        {"definition": definition_of(page), **({"give": "1"} if give else {})},
    )


def versions(db: Any, form_id: str = FOLLOWUP_ID) -> list[str]:
    return [r[0] for r in db.execute("SELECT version FROM forms WHERE form_id = ?", [form_id])]


def pulled(client: Any, phone: dict[str, Any]) -> list[dict[str, Any]]:
    body = client.get("/api/v1/sync/pull?since=0&limit=1000", headers=phone["headers"]).get_json()
    return body["changes"]


def cli_check(tmp_path: Path, data: bytes, name: str = "tham_lai.xlsx") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    env = {"GOCUA_DATA_DIR": str(tmp_path / "cli-data")}
    done = CliRunner().invoke(main, ["form", "check", str(path)], env=env)
    return done.output


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_check_shows_the_clis_warnings_by_sheet_row_and_feature_and_stores_nothing(
    admin: Any, db: Any, tmp_path: Path
) -> None:
    data = workbook(extra_settings={"style": "theme-grid"})
    response = upload(admin, data)
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200
    said = cli_check(tmp_path, data)
    vi = next(line for line in said.splitlines() if line.startswith("Cảnh báo: "))
    assert (
        vi.removeprefix("Cảnh báo: ")
        == "Trang tính 'settings', dòng 2, setting 'style': " + (vi.split(": ", 2)[2])
    )
    where, what = vi.removeprefix("Cảnh báo: ").split(": ", 1)
    assert where in page and what in page
    assert "Biểu mẫu “Thăm lại hộ” (tham_lai) đạt kiểm tra" in page
    assert versions(db) == []  # checked and previewed, not stored

    admin.get("/lang/en")
    page = text_of(upload(admin, data).get_data(as_text=True))
    en = next(line for line in said.splitlines() if line.startswith("Warning: "))
    where, what = en.removeprefix("Warning: ").split(": ", 1)
    assert where == "Sheet 'settings', row 2, setting 'style'"
    assert where in page and what in page
    assert versions(db) == []


def test_a_refused_workbook_says_sheet_row_and_feature_as_the_cli_does(
    admin: Any, db: Any, tmp_path: Path
) -> None:
    data = workbook([*followup_rows(), REFUSED_TYPE])
    said = cli_check(tmp_path, data).splitlines()
    row = len(followup_rows()) + 1  # the header is row 1
    assert said[0].startswith(f"Error: Trang tính 'survey', dòng {row}")
    response = upload(admin, data)
    assert response.status_code == 422
    page = text_of(response.get_data(as_text=True))
    assert said[0].removeprefix("Error: ") in page
    admin.get("/lang/en")
    page = text_of(upload(admin, data).get_data(as_text=True))
    assert said[1].startswith(f"Sheet 'survey', row {row}") and said[1] in page
    assert 'id="form-publish"' not in page
    assert versions(db) == []


def test_an_xls_workbook_is_checked_too(admin: Any, tmp_path: Path) -> None:
    path = xls_workbook(
        tmp_path / "xls_form.xls",
        {"survey": XLS_SURVEY, "choices": XLS_CHOICES, "settings": XLS_SETTINGS},
    )
    response = upload(admin, path.read_bytes(), "xls_form.xls")
    assert response.status_code == 200
    assert "(xls_form)" in text_of(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"", "empty.xlsx"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx"),
        (b"\xd0\xcf\x11\xe0 not really an ole file", "broken.xls"),
        (b"type,name,label\ntext,a,A\n", "form.csv"),
        (b'{"survey": []}', "form.json"),
        (b"x", "no_suffix"),
        (b"x", "../../etc/passwd.xlsx"),
        (b"x", "con.xlsx" + "x" * 300),
    ],
)
def test_a_bad_file_is_refused_in_both_languages_never_a_5xx(
    admin: Any, db: Any, data: bytes, name: str
) -> None:
    response = upload(admin, data, name)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert 'id="check-refused"' in response.get_data(as_text=True)
    admin.get("/lang/en")
    assert 'id="check-refused"' in upload(admin, data, name).get_data(as_text=True)
    assert db.execute("SELECT count(*) FROM forms").fetchone()[0] == 1  # the default survey


def test_a_zip_bomb_and_an_over_large_upload_are_refused(admin: Any, db: Any) -> None:
    response = upload(admin, bomb(workbook(), 30 * MB))
    assert response.status_code == 422
    assert "MB" in text_of(response.get_data(as_text=True))
    # The workbook with its pictures, sounds and films: more than other requests, still bounded.
    response = upload(admin, b"x" * (MAX_UPLOAD_BYTES + 1))
    assert response.status_code == 413
    assert "Dữ liệu gửi lên quá lớn." in response.get_data(as_text=True)
    response = post(admin, "/admin/forms/check", {})
    assert response.status_code == 422


def test_publishing_stores_a_version_the_communes_phones_pull(
    admin: Any, client: Any, db: Any, phone: dict[str, Any]
) -> None:
    response = publish(admin, workbook())
    assert response.status_code == 303
    [version] = versions(db)
    assert re.fullmatch(r"\d{10}", version)
    assert response.headers["Location"].startswith(
        f"/admin/forms/{FOLLOWUP_ID}?published={version}"
    )
    page = text_of(admin.get(response.headers["Location"]).get_data(as_text=True))
    assert f"Đã phát hành phiên bản {version}" in page
    kinds = {(c["kind"], c["id"]) for c in pulled(client, phone)}
    assert ("form", f"{FOLLOWUP_ID}@{version}") in kinds

    # The same workbook again: no new version. Changed content within the hour: the next one.
    response = publish(admin, workbook())
    assert "same=1" in response.headers["Location"]
    assert versions(db) == [version]
    publish(admin, workbook(followup_rows("Ghi chú khác")))
    assert sorted(versions(db)) == [version, str(int(version) + 1)]
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions.count("form_published") == 2 and "form_republished" in actions
    assert "form_checked" in actions


def test_publishing_checks_the_form_again(admin: Any, db: Any) -> None:
    page = upload(admin, workbook()).get_data(as_text=True)
    tampered = json.loads(definition_of(page))
    tampered["survey"].append(dict(zip(["type", "name", "label"], REFUSED_TYPE[:3], strict=True)))
    response = post(admin, "/admin/forms/publish", {"definition": json.dumps(tampered)})
    assert response.status_code == 422
    assert "background-audio" in text_of(response.get_data(as_text=True))  # what refuses it, named
    for sent in ("{not json", "[]", json.dumps({"settings": 3}), "", "[" * 100_000):
        response = post(admin, "/admin/forms/publish", {"definition": sent})
        assert response.status_code == 422, sent
    assert versions(db) == []


def test_a_named_version_with_other_content_is_refused(admin: Any, db: Any) -> None:
    assert publish(admin, workbook(version="3")).status_code == 303
    response = publish(admin, workbook(followup_rows("Khác"), version="3"))
    assert response.status_code == 409
    assert "3" in text_of(response.get_data(as_text=True))
    assert versions(db) == ["3"]


def test_the_admin_chooses_which_forms_volunteers_get(
    admin: Any, client: Any, db: Any, phone: dict[str, Any]
) -> None:
    publish(admin, workbook(), give=False)
    states = [c for c in pulled(client, phone) if c["kind"] == "form_state"]
    assert [c["data"] for c in states] == [{"form_id": FOLLOWUP_ID, "state": "off"}]
    page = text_of(admin.get("/admin/forms").get_data(as_text=True))
    assert "Không giao cho tình nguyện viên" in page

    for state in ("active", "archived"):
        response = post(admin, f"/admin/forms/{FOLLOWUP_ID}/state", {"state": state})
        assert response.status_code == 303
    states = [c["data"]["state"] for c in pulled(client, phone) if c["kind"] == "form_state"]
    assert states == ["off", "active", "archived"]
    page = admin.get("/admin/forms").get_data(as_text=True)
    archived = page[page.index('id="forms-archived"') :]
    assert f'data-form="{FOLLOWUP_ID}"' in archived
    details = [
        r[0]
        for r in db.execute("SELECT detail FROM audit_log WHERE action = 'form_state' ORDER BY id")
    ]
    assert details == ["active", "archived"]
    # The same state again changes nothing and tells no phone.
    post(admin, f"/admin/forms/{FOLLOWUP_ID}/state", {"state": "archived"})
    assert len([c for c in pulled(client, phone) if c["kind"] == "form_state"]) == 3
    assert post(admin, f"/admin/forms/{FOLLOWUP_ID}/state", {"state": "gone"}).status_code == 422
    assert post(admin, "/admin/forms/nothing_here/state", {"state": "off"}).status_code == 404


def test_only_the_communes_admin_with_the_sessions_token(app: Any, admin: Any, db: Any) -> None:
    staff(db, "duyet", "reviewer")
    reviewer = logged_in(app, "duyet")
    assert reviewer.get("/admin/forms").status_code == 403
    assert upload(reviewer, workbook()).status_code == 403
    assert post(reviewer, f"/admin/forms/{FOLLOWUP_ID}/state", {"state": "off"}).status_code == 403
    assert app.test_client().get("/admin/forms").status_code == 302  # to the login page
    response = admin.post(
        "/admin/forms/check", data={"file": (io.BytesIO(workbook()), "tham_lai.xlsx")}
    )
    assert response.status_code == 400  # no CSRF token
    response = admin.post("/admin/forms/publish", data={"definition": "{}"})
    assert response.status_code == 400
    assert versions(db) == []


def test_another_communes_form_is_neither_seen_nor_pulled(app: Any, admin: Any, db: Any) -> None:
    other = second_commune(db)
    publish(admin, workbook())
    zeta = logged_in(app, "admin.zeta")
    assert FOLLOWUP_ID not in zeta.get("/admin/forms").get_data(as_text=True)
    assert zeta.get(f"/admin/forms/{FOLLOWUP_ID}").status_code == 404
    assert post(zeta, f"/admin/forms/{FOLLOWUP_ID}/state", {"state": "off"}).status_code == 404
    client = app.test_client()
    body = client.post("/api/v1/enroll", json={"code": other["code"]}).get_json()
    headers = {"Authorization": f"Bearer {body['token']}"}
    changes = client.get("/api/v1/sync/pull?since=0&limit=1000", headers=headers).get_json()
    assert not [c for c in changes["changes"] if FOLLOWUP_ID in c["id"]]


def test_which_phones_hold_which_version_and_records_per_version(
    admin: Any, client: Any, db: Any, phone: dict[str, Any]
) -> None:
    publish(admin, workbook(version="1"))
    page = admin.get(f"/admin/forms/{FOLLOWUP_ID}").get_data(as_text=True)
    assert "Chưa báo" in text_of(page)  # the phone has said nothing yet

    def report(forms: list[str]) -> None:
        response = client.post(
            "/api/v1/device/report",
            json={"unsynced": 0, "app_version": "0.2", "forms": forms},
            headers=phone["headers"],
        )
        assert response.status_code == 200, response.get_json()

    report(["ho_gia_dinh_cds@2026.11.1", f"{FOLLOWUP_ID}@1"])
    publish(admin, workbook(followup_rows("Ghi chú mới"), version="2"))
    village = phone["villages"][0]["id"]
    item = {
        "id": "0d4f6a8e-3c1b-4b7e-9f00-000000000001",
        "rev": "0d4f6a8e-3c1b-4b7e-9f00-000000000002",
        "base_rev": None,
        "form_id": FOLLOWUP_ID,
        "form_version": "1",
        "household_id": None,
        "village_id": village,
        "data": {
            "ngay": VISIT_DATE,
            "gap_ho": "co",
            "nguoi_giup": [{"ten": "Lò Thị Mai", "viec": "vneid"}],
        },
        "meta": {"started_at": "2026-11-20T01:00:00Z", "visit_date": VISIT_DATE},
    }
    result = client.post("/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"])
    assert result.get_json()["results"][0]["status"] == "applied", result.get_json()

    page = admin.get(f"/admin/forms/{FOLLOWUP_ID}").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-version="([^"]+)">(.*?)</tr>', page, re.S))
    assert re.search(r'class="records">1<', rows["1"]) and re.search(
        r'class="phones">1<', rows["1"]
    )
    assert re.search(r'class="records">0<', rows["2"]) and re.search(
        r'class="phones">0<', rows["2"]
    )
    held = re.search(rf'<tr data-device="{phone["device_id"]}">(.*?)</tr>', page, re.S).group(1)
    assert "<code>1</code>" in held and "(cũ)" in held

    report(["ho_gia_dinh_cds@2026.11.1", f"{FOLLOWUP_ID}@1", f"{FOLLOWUP_ID}@2"])
    page = admin.get(f"/admin/forms/{FOLLOWUP_ID}").get_data(as_text=True)
    held = re.search(rf'<tr data-device="{phone["device_id"]}">(.*?)</tr>', page, re.S).group(1)
    assert "<code>2</code>" in held and "(cũ)" not in held
    listed = re.search(
        rf'<tr data-form="{FOLLOWUP_ID}">(.*?)</tr>',
        admin.get("/admin/forms").get_data(as_text=True),
        re.S,
    )
    assert "<td>1</td>" in listed.group(1)  # one record


def test_a_report_of_forms_is_bounded(client: Any, phone: dict[str, Any]) -> None:
    for forms in (["x" * 521], ["a@1"] * 201, "a@1", [3]):
        response = client.post(
            "/api/v1/device/report",
            json={"unsynced": 0, "forms": forms},
            headers=phone["headers"],
        )
        assert response.status_code == 422, forms
    # An older collector says nothing of its forms: what it said before stays.
    response = client.post("/api/v1/device/report", json={"unsynced": 0}, headers=phone["headers"])
    assert response.status_code == 200


def test_publish_form_in_the_domain_keeps_a_forms_state_for_its_new_versions(db: Any) -> None:
    from schemas.xlsform import read_xlsform

    def definition(tmp: Path, rows: list[Any]) -> dict[str, Any]:
        path = tmp / "tham_lai.xlsx"
        path.write_bytes(workbook(rows))
        return read_xlsform(path)

    import tempfile

    with tempfile.TemporaryDirectory() as folder, write_transaction(db):
        publish_form(db, definition(Path(folder), followup_rows()), "99999", give=False)
        publish_form(db, definition(Path(folder), followup_rows("Mới")), "99999", give=True)
    state = db.execute("SELECT state FROM form_states WHERE form_id = ?", [FOLLOWUP_ID]).fetchone()
    assert state[0] == "off"


@pytest.mark.parametrize("form_id", ["xã có dấu", "a?b&c=d", "%2F", "a b#c"])
def test_a_form_id_of_any_characters_has_its_page(admin: Any, form_id: str) -> None:
    assert publish(admin, workbook(form_id=form_id, version="1")).status_code == 303
    page = admin.get("/admin/forms").get_data(as_text=True)
    link = re.search(
        rf'<tr data-form="{re.escape(html.escape(form_id))}">.*?href="([^"]+)"', page, re.S
    )
    address = html.unescape(link.group(1))
    assert admin.get(address).status_code == 200
    response = post(admin, f"{address}/state", {"state": "off"})
    assert response.status_code == 303
    assert "Không giao cho tình nguyện viên" in text_of(admin.get(address).get_data(as_text=True))


def test_a_form_id_with_a_slash_is_refused_on_the_forms_page(admin: Any, db: Any) -> None:
    # A '/' splits every address a phone or ODK Collect fetches the form by (test_form_addresses).
    response = upload(admin, workbook(form_id="a/b", version="1"))
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "form_id 'a/b' không thể nằm trong địa chỉ web" in page
    assert db.execute("SELECT count(*) FROM forms WHERE form_id = 'a/b'").fetchone()[0] == 0
