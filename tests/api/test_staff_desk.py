"""What commune staff met on the office desktop: the first redirect, the favicon, compressed
stylesheets, the first-login password page, the demo admin's printed password."""

from __future__ import annotations

import gzip
import io
import re
import uuid
from pathlib import Path

from markupsafe import escape

from schemas.form import Form
from schemas.messages import LANGUAGES, text
from server import create_app
from server.domain import register
from server.domain.db import connect, write_transaction
from server.domain.seed import load_default_form, seed_demo
from tests.api.admin_helpers import logged_in, post, staff, token, user_id
from tests.conftest import config
from tests.records import adult, child, household_data, record

NEW = "mot-mat-khau-moi-dai"


def test_an_anonymous_visit_to_the_home_page_goes_to_a_clean_login_address(client):
    assert client.get("/").headers["Location"] in ("/login", "/login?next=/")
    # A page with a query keeps it, and only then carries a "?".
    asked = client.get("/records/abc?lang=en").headers["Location"]
    assert asked == "/login?next=/records/abc?lang%3Den"
    assert client.get("/admin/").headers["Location"] == "/login?next=/admin/"


def test_the_login_goes_back_to_the_page_asked_for_and_never_off_the_site(app, db):
    staff(db, "canbo", "reviewer")
    client = app.test_client()
    target = client.get("/?village=x").headers["Location"]
    page = client.get(target).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    done = client.post(
        target, data={"username": "canbo", "password": "mat-khau-thu-nghiem", "csrf_token": token}
    )
    assert done.headers["Location"] == "/?village=x"
    evil = app.test_client()
    page = evil.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    away = evil.post(
        "/login?next=//evil.example/",
        data={"username": "canbo", "password": "mat-khau-thu-nghiem", "csrf_token": token},
    )
    assert away.headers["Location"] == "/"


def test_the_favicon_is_the_collector_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/png"
    icon = Path(__file__).resolve().parents[2] / "pwa" / "icons" / "icon-192.png"
    assert response.data == icon.read_bytes()
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_the_staff_stylesheet_is_sent_gzipped_when_asked_and_revalidated(client):
    plain = client.get("/static/staff.css")
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert plain.headers["Content-Type"] == "text/css; charset=utf-8"
    packed = client.get("/static/staff.css", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data) / 2
    etag = packed.headers["ETag"]
    again = client.get("/static/staff.css", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert client.get("/static/../__init__.py").status_code == 404
    assert client.get("/static/none.css").status_code == 404


def test_a_new_account_is_told_it_is_new_and_a_reset_one_that_it_was_reset(app, admin, db):
    shown = post(
        admin, "/admin/staff", {"username": "canbo.moi", "display_name": "Cán Bộ", "role": "viewer"}
    )
    first = re.search(r'id="new-password">([^<]+)<', shown.get_data(as_text=True)).group(1)
    new = logged_in(app, "canbo.moi", first)
    page = new.get("/account/password").get_data(as_text=True)
    assert "tài khoản mới" in page and "đặt lại" not in page
    english = new.get("/account/password?lang=en").get_data(as_text=True)
    assert "new account" in english and "reset" not in english

    assert post(new, "/account/password", {"current": first, "new": NEW, "confirm": NEW})
    reset = post(admin, f"/admin/users/{user_id(db, 'canbo.moi')}/reset-password")
    temporary = re.search(r'id="new-password">([^<]+)<', reset.get_data(as_text=True)).group(1)
    again = logged_in(app, "canbo.moi", temporary).get("/account/password?lang=en")
    assert "An admin reset your password" in again.get_data(as_text=True)
    assert "new account" not in again.get_data(as_text=True)


def test_the_demo_admin_must_change_the_printed_password(tmp_path):
    app = create_app(config(tmp_path))
    with connect(app.config["DATABASE"]) as db:
        load_default_form(db)
        printed = seed_demo(db)["password"]
    client = logged_in(app, "admin", printed)
    assert client.get("/").headers["Location"] == "/account/password"
    page = client.get("/account/password").get_data(as_text=True)
    assert "tài khoản mới" in page
    changed = post(client, "/account/password", {"current": printed, "new": NEW, "confirm": NEW})
    assert changed.status_code == 200
    assert client.get("/").status_code == 200


def test_the_audit_page_names_every_action_in_the_chosen_language(app, admin, phone, db):
    village = phone["villages"][0]["id"]
    item = record(village)
    admin.post("/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"])
    admin.get(f"/records/{item['id']}")
    post(admin, f"/records/{item['id']}/review", {"review_state": "approved", "rev": item["rev"]})
    admin.get(f"/households?village={village}&q=Nguyen")
    for lang in LANGUAGES:
        page = admin.get(f"/admin/audit?lang={lang}").get_data(as_text=True)
        rows = re.findall(r'<tr data-action="([a-z_]+)">(.*?)</tr>', page, re.S)
        assert {"login", "view_record", "review"} <= {action for action, _ in rows}
        for action, row in rows:
            cells = re.findall(r"<td>(.*?)</td>", row, re.S)
            label = str(escape(text(f"admin.action_{action}", lang)))
            assert cells[2] == label, (lang, action, cells[2])
            assert action not in cells[2]
        decision = re.search(r'<tr data-action="review">.*?class="muted">([^<]*)<', page, re.S)
        assert decision.group(1) == text("state.approved", lang)


def _states(client, query: str = "") -> dict[str, str]:
    """Record id → the state the list shows, for the list filtered by ``query``."""
    page = client.get(f"/?{query}").get_data(as_text=True)
    return dict(
        re.findall(r'<tr data-record="([^"]+)">.*?class="state state-[a-z_]+">([^<]+)<', page, re.S)
    )


def test_a_record_corrected_after_has_issues_reads_corrected_and_has_its_filter(
    app, admin, phone, db
):
    village = phone["villages"][0]["id"]
    home = db.execute("SELECT id FROM households WHERE village_id = ?", [village]).fetchone()[0]
    fixed, waiting, fresh = record(village, home), record(village), record(village)
    for item in (fixed, waiting, fresh):
        admin.post("/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"])
        post(
            admin,
            f"/records/{item['id']}/review",
            {"review_state": "has_issues", "rev": item["rev"], "comment": "Hỏi lại"},
        )
    # fresh: sent again, then marked received by hand: no longer waiting for a second look.
    again = {**fixed, "rev": str(uuid.uuid4()), "base_rev": fixed["rev"]}
    renewed = {**fresh, "rev": str(uuid.uuid4()), "base_rev": fresh["rev"]}
    admin.post("/api/v1/sync/push", json={"items": [again, renewed]}, headers=phone["headers"])
    post(
        admin, f"/records/{fresh['id']}/review", {"review_state": "received", "rev": renewed["rev"]}
    )

    assert _states(admin) == {
        fixed["id"]: "Đã sửa, chờ duyệt lại",
        waiting["id"]: "Cần sửa",
        fresh["id"]: "Đã nhận",
    }
    assert _states(admin, "lang=en")[fixed["id"]] == "Corrected, to re-review"
    assert set(_states(admin, "state=corrected")) == {fixed["id"]}
    assert set(_states(admin, "state=received")) == {fresh["id"]}
    assert set(_states(admin, "state=has_issues")) == {waiting["id"]}
    listing = admin.get("/?state=corrected").get_data(as_text=True)
    assert '<option value="corrected" selected>Đã sửa, chờ duyệt lại</option>' in listing
    assert ">1 phiếu</p>" in listing
    page = admin.get(f"/records/{fixed['id']}?lang=en").get_data(as_text=True)
    assert 'id="review-state">Corrected, to re-review<' in page
    visits = admin.get(f"/households/{home}").get_data(as_text=True)
    assert "<td>Đã sửa, chờ duyệt lại</td>" in visits
    # Approving it ends the second look; what the phones and exports hold stays "received".
    stored = db.execute("SELECT review_state FROM records WHERE id = ?", [fixed["id"]]).fetchone()
    assert stored[0] == "received"
    post(admin, f"/records/{fixed['id']}/review", {"review_state": "approved", "rev": again["rev"]})
    assert _states(admin)[fixed["id"]] == "Đã duyệt"
    assert not _states(admin, "state=corrected")


def test_has_issues_without_a_comment_stays_on_the_record_with_what_was_typed(
    app, admin, phone, db
):
    item = record(phone["villages"][0]["id"])
    admin.post("/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"])
    url = f"/records/{item['id']}/review"
    for lang, words in (("vi", "Cần viết nhận xét"), ("en", "Write a comment")):
        refused = post(
            admin,
            f"{url}?lang={lang}",
            {"review_state": "has_issues", "rev": item["rev"], "comment": "  "},
        )
        assert refused.status_code == 422
        page = refused.get_data(as_text=True)
        assert 'id="review-state"' in page and 'class="review-form"' in page  # the record page
        after = page.split('id="review-comment"')[1]
        assert after.index('id="comment-error"') < after.index("</form>")  # beside the field
        assert words in after.split("</p>")[0]
        assert re.search(r'value="has_issues" checked', page)
    long = "Năm sinh? " * 201
    refused = post(admin, url, {"review_state": "rejected", "rev": item["rev"], "comment": long})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert f">{long}</textarea>" in page and 'value="rejected" checked' in page
    assert "tối đa 2000" in page
    stored = db.execute("SELECT count(*) FROM reviews WHERE record_id = ?", [item["id"]])
    assert stored.fetchone()[0] == 0
    done = post(
        admin, url, {"review_state": "has_issues", "rev": item["rev"], "comment": "Hỏi lại"}
    )
    assert done.status_code == 302


def _upload(client, content: str):
    answer = client.post(
        "/households/import",
        data={"csrf_token": token(client), "file": (io.BytesIO(content.encode()), "ho.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer.headers["Location"]


def test_a_register_file_naming_a_village_by_a_former_name_goes_to_the_village_it_is_now(
    app, admin, db
):
    ids = dict(db.execute("SELECT name, id FROM villages WHERE commune_id = '99999'"))
    with write_transaction(db):
        # Thôn Bắc Sơn is renamed Thôn Bắc, then merged into Thôn Đông, which is renamed.
        register.rename_village(db, "99999", ids["Thôn Bắc Sơn"], "Thôn Bắc")
        register.merge_villages(db, "99999", ids["Thôn Bắc Sơn"], ids["Thôn Đông"])
        register.rename_village(db, "99999", ids["Thôn Đông"], "Thôn Đông Bắc")
    where = _upload(
        admin,
        "thon,chu_ho,dia_chi\n"
        "Thôn Bắc Sơn,Lò Thị Xuân,Bản trên\n"
        "thôn bắc,Lò Văn Hạ,Bản dưới\n"
        "Thôn Đông,Lò Văn Thu,Bản giữa\n"
        "Thôn Tây,Lò Văn Tư,Bản cuối\n"
        "Thôn Không Có,Lò Văn Năm,Bản xa\n",
    )
    page = admin.get(where).get_data(as_text=True)
    lines = dict(re.findall(r'<tr data-line="(\d+)" class="(ok|bad)">', page))
    assert lines == {"2": "ok", "3": "ok", "4": "ok", "5": "ok", "6": "bad"}
    row = page.split('data-line="2"')[1].split("</tr>")[0]
    assert '<td class="long">Thôn Đông Bắc</td>' in row
    assert "“Thôn Bắc Sơn” nay là Thôn Đông Bắc" in row
    assert "nay là" not in page.split('data-line="5"')[1].split("</tr>")[0]
    english = admin.get(f"{where}?lang=en").get_data(as_text=True)
    assert "“Thôn Đông” is now Thôn Đông Bắc" in english
    applied = admin.post(where, data={"csrf_token": token(admin)})
    assert applied.status_code == 302
    added = db.execute(
        "SELECT v.name, count(*) FROM households h JOIN villages v ON v.id = h.village_id"
        " WHERE h.head_name LIKE 'Lò %' GROUP BY v.name ORDER BY v.name"
    ).fetchall()
    assert [tuple(r) for r in added] == [("Thôn Tây", 1), ("Thôn Đông Bắc", 3)]


def test_each_member_is_a_block_of_questions_and_answers_not_a_wide_table(app, admin, phone):
    members = [adult("Nguyễn Thị Hoa", 1980), child("Nguyễn Văn Nam", 2016)]
    item = record(phone["villages"][0]["id"], data=household_data(members=members))
    admin.post("/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"])
    page = admin.get(f"/records/{item['id']}").get_data(as_text=True)
    assert '<table class="repeat">' not in page
    roster = page.split('<div class="repeat" data-name="members">')[1]
    blocks = re.findall(
        r'<article class="instance" data-number="(\d)">(.*?)</article>', roster, re.S
    )
    assert [number for number, _ in blocks] == ["1", "2"]
    form = Form.load()
    for (_, block), member in zip(blocks, members, strict=True):
        heading = re.search(r"<h4>(.*?)</h4>", block).group(1)
        assert heading.endswith(f"· {member['member_name']}")
        pairs = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block))
        year = str(escape(form.label(form.nodes["birth_year"], "vi")))
        assert pairs[year] == str(member["birth_year"])
        sex = str(escape(form.label(form.nodes["sex"], "vi")))
        assert pairs[sex] == str(escape(form.choice_label("sex", member["sex"], "vi")))
    # The child was asked less: its block holds only what was answered.
    assert len(re.findall("<dt>", blocks[1][1])) < len(re.findall("<dt>", blocks[0][1]))


def test_the_language_link_comes_back_to_the_same_page_without_a_stray_question_mark(admin):
    page = admin.get("/").get_data(as_text=True)
    assert 'href="/lang/en?next=/"' in page
    page = admin.get("/admin/staff?x=1").get_data(as_text=True)
    assert 'href="/lang/en?next=/admin/staff?x%3D1"' in page
    assert admin.get("/lang/en?next=/").headers["Location"] == "/"
