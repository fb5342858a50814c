"""A province deployment: one server, several communes, each one's data its own."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from server.cli.main import main
from server.domain.clock import local_time
from tests.api.admin_helpers import (
    PASSWORD,
    audit_rows,
    logged_in,
    login,
    post,
    second_commune,
    staff,
    user_id,
)


@pytest.fixture
def province(app: Any, db: Any) -> Any:
    staff(db, "tinh.99", "admin", commune_id=None, province_code="99")
    return logged_in(app, "tinh.99")


def new_commune(province: Any, **fields: str) -> Any:
    form = {
        "code": "77777",
        "name": "Xã Mới Lập",
        "province_name": "Tỉnh Minh Họa",
        "username": "admin.moilap",
        "display_name": "Quản Trị Mới",
        **fields,
    }
    return post(province, "/admin/communes", form)


def test_a_province_admin_creates_a_commune_and_its_first_admin(app, province, db):
    assert province.get("/admin/").headers["Location"].endswith("/admin/communes")
    created = new_commune(province)
    assert created.status_code == 200
    password = re.search(r'id="new-password">([^<]+)<', created.get_data(as_text=True)).group(1)
    assert dict(
        db.execute("SELECT name, province_code FROM communes WHERE id = '77777'").fetchone()
    ) == {"name": "Xã Mới Lập", "province_code": "99"}
    commune_admin = logged_in(app, "admin.moilap", password)
    assert commune_admin.get("/admin/").headers["Location"].endswith("/account/password")
    listing = province.get("/admin/communes").get_data(as_text=True)
    assert "Xã Mới Lập" in listing and "Xã Minh Họa" in listing
    assert [r[1] for r in audit_rows(db, "commune_created")] == ["commune:77777"]


def test_a_commune_form_with_a_mistake_says_which(province, db):
    for fields, words in [
        ({"code": "1234"}, "đúng 5 chữ số"),
        ({"code": "99999"}, "Đã có xã với mã này"),
        ({"username": "admin"}, "đã có người dùng"),
        ({"name": ""}, "Cần nhập tên"),
    ]:
        response = new_commune(province, **fields)
        assert response.status_code == 422 and words in response.get_data(as_text=True)
    assert db.execute("SELECT count(*) FROM communes").fetchone()[0] == 1


def test_a_province_admin_sees_no_personal_data_and_no_other_province(province, db):
    second_commune(db)  # province 88
    for url in ("/admin/volunteers", "/admin/devices", "/admin/staff", "/", "/admin/print"):
        assert province.get(url).status_code == 403, url
    listing = province.get("/admin/communes").get_data(as_text=True)
    assert "Zeta" not in listing
    zeta_admin = user_id(db, "admin.zeta")
    assert post(province, f"/admin/users/{zeta_admin}/reset-password").status_code == 404
    demo_volunteer = user_id(db, "tnv.demo")  # in the province, but not an admin
    assert post(province, f"/admin/users/{demo_volunteer}/reset-password").status_code == 404


def test_a_province_admin_resets_a_commune_admins_password(app, province, db):
    staff(db, "quantri", "admin")
    shown = post(province, f"/admin/users/{user_id(db, 'quantri')}/reset-password")
    assert shown.status_code == 200
    temporary = re.search(r'id="new-password">([^<]+)<', shown.get_data(as_text=True)).group(1)
    assert login(app.test_client(), "quantri", temporary).status_code == 302


def test_commune_admins_see_only_their_commune_and_the_audit_log_is_split(app, db):
    other = second_commune(db)
    staff(db, "quantri", "admin")
    here = logged_in(app, "quantri")
    there = logged_in(app, "admin.zeta")
    assert "Zeta" not in here.get("/admin/volunteers").get_data(as_text=True)
    assert "tnv.demo" not in there.get("/admin/volunteers").get_data(as_text=True)
    assert there.get(f"/admin/volunteers/{other['volunteer']['id']}").status_code == 200
    assert there.get(f"/admin/volunteers/{user_id(db, 'tnv.demo')}").status_code == 404
    login(app.test_client(), "admin.zeta", "sai")  # a failed login of a known username
    login(app.test_client(), "nguoi-la", "sai")  # and of nobody
    mine = here.get("/admin/audit").get_data(as_text=True)
    theirs = there.get("/admin/audit").get_data(as_text=True)
    assert "admin.zeta" not in mine and "nguoi-la" not in mine and "quantri" in mine
    assert "admin.zeta" in theirs and "quantri" not in theirs


def test_the_audit_log_is_paged_and_no_route_changes_it(app, db):
    staff(db, "quantri", "admin")
    admin = logged_in(app, "quantri")
    for _ in range(60):
        admin.get("/admin/volunteers")  # each view of the list is audited
    first = admin.get("/admin/audit").get_data(as_text=True)
    second = admin.get("/admin/audit?page=2").get_data(as_text=True)
    assert first.count("<tr data-action") == 50 and "?page=2" in first
    assert 0 < second.count("<tr data-action") <= 12
    before = tuple(db.execute("SELECT count(*), max(id) FROM audit_log").fetchone())
    for method in ("post", "put", "delete", "patch"):
        assert getattr(admin, method)("/admin/audit").status_code == 405
    assert tuple(db.execute("SELECT count(*), max(id) FROM audit_log").fetchone()) == before
    with pytest.raises(Exception, match="append-only"):
        db.execute("DELETE FROM audit_log")


def test_the_cli_adds_a_province_admin(app, tmp_path, monkeypatch):
    monkeypatch.setenv("GOCUA_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(
        main, ["user", "add-province-admin", "tinh.01", "--name", "Sở TTTT", "--province", "01"]
    )
    assert result.exit_code == 0, result.output
    password = re.search(r"password: (\S+)", result.output).group(1)
    client = logged_in(app, "tinh.01", password)
    # Its first password was printed on a screen: it is changed before anything else.
    assert client.get("/admin/communes").headers["Location"] == "/account/password"


def first_page(client: Any, username: str, password: str = PASSWORD) -> str:
    """The first page a login leads to (the password page, when one must be chosen)."""
    response = login(client, username, password)
    assert response.status_code == 302
    return client.get(response.location, follow_redirects=True).get_data(as_text=True)


def test_a_province_admins_reset_is_in_the_communes_log_and_told_at_next_login(app, province, db):
    second_commune(db)  # 88888, another province: its admin is told nothing
    staff(db, "quantri", "admin")
    staff(db, "phoquantri", "admin")
    first_page(app.test_client(), "phoquantri")  # a login before the reset
    shown = post(province, f"/admin/users/{user_id(db, 'quantri')}/reset-password")
    temporary = re.search(r'id="new-password">([^<]+)<', shown.get_data(as_text=True)).group(1)
    stored = db.execute("SELECT at FROM audit_log WHERE action = 'password_reset'").fetchone()[0]
    at = local_time(stored, ZoneInfo("Asia/Ho_Chi_Minh"))  # told in the server's zone

    # Whoever logs in with the temporary password is told, on the first page, once.
    holder = app.test_client()
    page = first_page(holder, "quantri", temporary)
    assert f"tinh.99 đã đặt lại mật khẩu của tài khoản quantri lúc {at}" in page
    assert 'id="login-notices"' not in holder.get("/account/password").get_data(as_text=True)

    # So is every other admin of the commune, at their next login, in their language.
    deputy = app.test_client()
    deputy.get("/lang/en")
    page = first_page(deputy, "phoquantri")
    assert f"tinh.99 reset the password of the account quantri at {at}" in page
    assert 'id="login-notices"' not in first_page(app.test_client(), "phoquantri")

    # And the commune's audit log shows the reset (and the logins after it); not another's.
    log = deputy.get("/admin/audit").get_data(as_text=True)
    row = re.search(r'<tr data-action="password_reset">(.*?)</tr>', log, re.S)
    assert row and "tinh.99" in row.group(1) and "user:quantri" in row.group(1)
    zeta = logged_in(app, "admin.zeta").get("/admin/audit").get_data(as_text=True)
    assert "user:quantri" not in zeta and "tinh.99" not in zeta
