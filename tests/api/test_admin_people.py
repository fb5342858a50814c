"""Volunteers and their enrollment QR codes, staff accounts, and the printable A4 sheets."""

from __future__ import annotations

import re
from typing import Any

from server.domain.db import write_transaction
from tests.api.admin_helpers import (
    PASSWORD,
    audit_rows,
    decode_png,
    decode_svg,
    logged_in,
    post,
    second_commune,
    staff,
    user_id,
)


def villages(db: Any, commune_id: str = "99999") -> dict[str, str]:
    return dict(db.execute("SELECT name, id FROM villages WHERE commune_id = ?", [commune_id]))


def add_volunteer(admin: Any, db: Any, **fields: Any) -> Any:
    form = {
        "display_name": "Đỗ Thị Lan",
        "union": "phunu",
        "phone": "0912 345 678",
        "villages": [villages(db)["Thôn Bắc Sơn"]],
        **fields,
    }
    return post(admin, "/admin/volunteers", form)


def test_the_admin_adds_a_volunteer_with_union_phone_and_villages(admin, db):
    response = add_volunteer(admin, db)
    assert response.status_code == 303
    row = db.execute(
        "SELECT id, username, role, union_name, phone, commune_id FROM users"
        " WHERE display_name = 'Đỗ Thị Lan'"
    ).fetchone()
    assert {k: row[k] for k in ("username", "role", "union_name", "phone", "commune_id")} == {
        "username": "tnv.dothilan",
        "role": "volunteer",
        "union_name": "Hội Phụ nữ",
        "phone": "0912345678",
        "commune_id": "99999",
    }
    assert response.headers["Location"] == f"/admin/volunteers/{row['id']}"
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Đỗ Thị Lan" in page and "0912345678" in page
    listing = admin.get("/admin/volunteers").get_data(as_text=True)
    assert "Thôn Bắc Sơn" in listing and "Hội Phụ nữ" in listing
    assert [r[1] for r in audit_rows(db, "volunteer_created")] == ["user:tnv.dothilan"]
    assert [r[1] for r in audit_rows(db, "view_person")] == ["user:tnv.dothilan"]
    other = add_volunteer(admin, db, union="other", union_other="Giáo viên")
    assert other.status_code == 303
    assert dict(
        db.execute(
            "SELECT username, union_name FROM users WHERE union_name = 'Giáo viên'"
        ).fetchone()
    ) == {"username": "tnv.dothilan2", "union_name": "Giáo viên"}


def test_a_volunteer_form_with_a_mistake_says_which(admin, db):
    for fields, words in [
        ({"phone": "12345"}, "10 chữ số"),
        ({"display_name": "  "}, "Cần nhập tên"),
        ({"union": "other", "union_other": ""}, "hãy ghi rõ"),
        ({"villages": []}, "ít nhất một thôn"),
    ]:
        response = add_volunteer(admin, db, **fields)
        assert response.status_code == 422
        assert words in response.get_data(as_text=True)
    assert db.execute("SELECT count(*) FROM users WHERE role = 'volunteer'").fetchone()[0] == 1


def test_a_village_of_another_commune_reads_like_one_that_does_not_exist(admin, db):
    other = second_commune(db)
    foreign = add_volunteer(admin, db, villages=[other["village"]["id"]])
    unknown = add_volunteer(admin, db, villages=["khong-co-thon-nay"])
    assert foreign.status_code == unknown.status_code == 422
    strip = lambda r: re.sub(r'name="csrf_token" value="[^"]+"', "", r.get_data(as_text=True))  # noqa: E731
    assert strip(foreign).replace(other["village"]["id"], "X") == strip(unknown).replace(
        "khong-co-thon-nay", "X"
    )
    assert "Cách Ly" not in strip(foreign)


def enroll_page(admin: Any, volunteer_id: int) -> tuple[str, str]:
    """Make a code on the volunteer's page: (the page's URL, its HTML)."""
    made = post(admin, f"/admin/volunteers/{volunteer_id}/enroll")
    assert made.status_code == 303
    page = admin.get(made.headers["Location"])
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    return made.headers["Location"], page.get_data(as_text=True)


def test_the_enrollment_qr_holds_the_collector_url_and_enrolls_once(app, admin, client, db):
    app.config["PUBLIC_URL"] = "https://gocua.xa-minh-hoa.gov.vn"
    volunteer = user_id(db, "tnv.demo")
    url, page = enroll_page(admin, volunteer)
    code = url.rsplit("/", 1)[1]
    png = admin.get(url + "/qr.png")
    assert png.mimetype == "image/png"
    content = decode_png(png.data)
    assert content == f"https://gocua.xa-minh-hoa.gov.vn/app/#enroll={code}"
    assert decode_svg(admin.get(url + "/qr.svg").get_data(as_text=True)) == content
    assert f"{code[:5]}-{code[5:]}" in page  # for typing when the camera fails
    enrolled = client.post("/api/v1/enroll", json={"code": content.rsplit("=", 1)[1]})
    assert enrolled.status_code == 200
    assert enrolled.get_json()["user"]["username"] == "tnv.demo"
    used = admin.get(url).get_data(as_text=True)
    assert 'id="enroll-state"' in used and "đã được một điện thoại dùng" in used
    assert admin.get(url + "/qr.png").status_code == 404  # no drawing of a dead code
    again = client.post("/api/v1/enroll", json={"code": code})
    assert again.status_code == 410 and again.get_json()["code"] == "enroll_used"
    assert audit_rows(db, "enrollment_code")[0][:2] == ("quantri", "user:tnv.demo")
    assert audit_rows(db, "enroll_refused") == [("tnv.demo", "user:tnv.demo", "used", "127.0.0.1")]


def test_without_a_public_url_the_qr_points_at_the_address_the_admin_used(app, db):
    staff(db, "quantri", "admin")
    app.config["SERVER_NAME"] = "10.1.2.3:8000"  # the commune PC opened the server's LAN address
    admin = logged_in(app, "quantri")
    url, _ = enroll_page(admin, user_id(db, "tnv.demo"))
    content = decode_png(admin.get(url + "/qr.png").data)
    assert content.startswith("http://10.1.2.3:8000/app/#enroll=")


def test_an_expired_code_is_refused_clearly_and_audited(admin, client, db):
    url, _ = enroll_page(admin, user_id(db, "tnv.demo"))
    with write_transaction(db):
        db.execute("UPDATE enrollment_codes SET expires_at = '2000-01-01T00:00:00Z'")
    response = client.post("/api/v1/enroll", json={"code": url.rsplit("/", 1)[1]})
    assert response.status_code == 410
    assert response.get_json()["message"]["en"].startswith("This enrollment code has expired")
    assert "hết hạn" in admin.get(url).get_data(as_text=True)
    assert [r[2] for r in audit_rows(db, "enroll_refused")] == ["expired"]


def test_a_code_or_a_volunteer_of_another_commune_is_404(admin, db):
    other = second_commune(db)
    zeta = other["volunteer"]["id"]
    for url in (
        f"/admin/volunteers/{zeta}",
        f"/admin/volunteers/{zeta}/enroll/{other['code']}",
        f"/admin/volunteers/{zeta}/enroll/{other['code']}/qr.png",
        f"/admin/volunteers/{user_id(db, 'tnv.demo')}/enroll/{other['code']}",
    ):
        assert admin.get(url).status_code == 404, url
    assert post(admin, f"/admin/volunteers/{zeta}/enroll").status_code == 404
    assert post(admin, f"/admin/users/{zeta}/reset-password").status_code == 404


def test_changing_villages_brings_the_new_ones_to_the_phone_and_takes_the_old_away(
    admin, client, db, phone
):
    def pulled(since: int) -> list[dict[str, Any]]:
        return client.get(f"/api/v1/sync/pull?since={since}", headers=phone["headers"]).get_json()[
            "changes"
        ]

    since = client.get("/api/v1/sync/pull", headers=phone["headers"]).get_json()["next_since"]
    names = villages(db)
    bac_son = names["Thôn Bắc Sơn"]
    with write_transaction(db):
        from server.domain.register import add_household

        add_household(db, bac_son, "Hộ Bắc Sơn Cũ")
    assert pulled(since) == []  # not hers yet
    form = {
        "display_name": "Tình nguyện viên mẫu",
        "union": "doan",
        "phone": "0901234567",
        "villages": [names["Thôn Đông"], bac_son],
    }
    assert post(admin, f"/admin/volunteers/{user_id(db, 'tnv.demo')}", form).status_code == 303
    changes = pulled(since)
    put = {
        (c["kind"], c["data"].get("name") or c["data"].get("head_name"))
        for c in changes
        if c["op"] == "put"
    }
    assert ("village", "Thôn Bắc Sơn") in put and ("household", "Hộ Bắc Sơn Cũ") in put
    gone = [c for c in changes if c["op"] == "delete"]
    assert ("village", names["Thôn Tây"]) in {(c["kind"], c["id"]) for c in gone}
    tay = {
        r[0]
        for r in db.execute("SELECT id FROM households WHERE village_id = ?", [names["Thôn Tây"]])
    }
    assert tay and tay <= {c["id"] for c in gone if c["kind"] == "household"}


def test_the_admin_adds_a_staff_account_shown_once_to_be_changed_at_first_login(app, admin, db):
    response = post(
        admin,
        "/admin/staff",
        {"username": "canbo.moi", "display_name": "Cán Bộ Mới", "role": "viewer"},
    )
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = re.search(r'id="new-password">([^<]+)<', response.get_data(as_text=True)).group(1)
    client = logged_in(app, "canbo.moi", password)
    assert client.get("/admin/").headers["Location"].endswith("/account/password")
    taken = post(
        admin, "/admin/staff", {"username": "canbo.moi", "display_name": "X", "role": "viewer"}
    )
    assert taken.status_code == 422 and "đã có người dùng" in taken.get_data(as_text=True)
    bad = post(admin, "/admin/staff", {"username": "A B", "display_name": "X", "role": "superuser"})
    assert bad.status_code == 422
    assert [r[1:3] for r in audit_rows(db, "user_created")] == [("user:canbo.moi", "viewer")]
    assert PASSWORD not in password


def test_enrollment_cards_for_a_team_each_with_a_working_code(admin, client, db):
    names = villages(db)
    with write_transaction(db):
        from server.domain.accounts import add_user

        add_user(
            db, "tnv.hai", "Người Thứ Hai", "volunteer", "99999", village_ids=[names["Thôn Đông"]]
        )
        add_user(
            db,
            "tnv.bacson",
            "Người Bắc Sơn",
            "volunteer",
            "99999",
            village_ids=[names["Thôn Bắc Sơn"]],
        )
    sheet = post(admin, "/admin/print/cards", {"village": names["Thôn Đông"]})
    assert sheet.status_code == 200 and sheet.headers["Cache-Control"] == "no-store"
    html = sheet.get_data(as_text=True)
    cards = re.findall(
        r'<article class="enroll-card" data-volunteer="([^"]+)">(.*?)</article>', html, re.S
    )
    assert sorted(c[0] for c in cards) == ["tnv.demo", "tnv.hai"]  # the team, not Bắc Sơn
    for username, card in cards:
        url = decode_svg(re.search(r"<svg.*?</svg>", card, re.S).group(0))
        code = url.rsplit("=", 1)[1]
        assert f"{code[:5]}-{code[5:]}" in card
        enrolled = client.post("/api/v1/enroll", json={"code": code}).get_json()
        assert enrolled["user"]["username"] == username


def test_household_labels_for_a_village_carry_each_household_code(admin, db):
    names = villages(db)
    codes = {
        r[0]
        for r in db.execute(
            "SELECT code FROM households WHERE village_id = ?", [names["Thôn Đông"]]
        )
    }
    sheet = admin.get(f"/admin/print/labels?village={names['Thôn Đông']}")
    assert sheet.status_code == 200
    html = sheet.get_data(as_text=True)
    labels = re.findall(
        r'<figure class="label" data-household="([^"]+)">(.*?)</figure>', html, re.S
    )
    assert {code for code, _ in labels} == codes and len(labels) == len(codes)
    for code, label in labels:
        assert decode_svg(re.search(r"<svg.*?</svg>", label, re.S).group(0)) == code
        assert f"<strong>{code}</strong>" in label  # the code in text under the QR
    heads = [r[0] for r in db.execute("SELECT head_name FROM households")]
    assert not any(head in html for head in heads)  # a door label names nobody
    assert "size: A4" in admin.get("/static/staff.css").get_data(as_text=True)
    assert admin.get("/admin/print/labels?village=khong-co").status_code == 404
