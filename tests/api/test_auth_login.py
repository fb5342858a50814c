"""Staff login: limits on failed logins per username and per address, CSRF, tampered cookies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.domain.accounts import LOGIN_LIMIT_IP, LOGIN_LIMIT_USER
from tests.api.admin_helpers import PASSWORD, audit_rows, csrf, logged_in, login, staff, token


def test_wrong_password_n_times_locks_the_username_with_a_bilingual_message(app, client, db):
    staff(db, "canbo", "reviewer")
    for _ in range(LOGIN_LIMIT_USER):
        assert login(client, "canbo", "sai-mat-khau").status_code == 401
    locked = login(client, "canbo")  # the right password, too late
    assert locked.status_code == 429
    page = locked.get_data(as_text=True)
    assert "Đăng nhập sai quá nhiều lần" in page and "Too many failed logins" in page
    assert "15 phút" in page and "15 minutes" in page
    assert len(audit_rows(db, "login_failed")) == LOGIN_LIMIT_USER
    assert [r[0] for r in audit_rows(db, "login_blocked")] == ["canbo"]
    assert client.get("/").status_code == 302  # not logged in


def test_the_lock_is_per_username_and_a_success_starts_the_count_again(app, client, db):
    staff(db, "canbo", "reviewer")
    staff(db, "canbo2", "reviewer")
    for _ in range(LOGIN_LIMIT_USER - 1):
        login(client, "canbo", "sai")
    assert login(client, "canbo").status_code == 302  # one failure short of the lock
    for _ in range(LOGIN_LIMIT_USER - 1):
        login(client, "canbo", "sai")
    assert login(client, "canbo").status_code == 302  # the count began again at the success
    for _ in range(LOGIN_LIMIT_USER):
        login(client, "canbo", "sai")
    assert login(client, "canbo").status_code == 429
    assert login(app.test_client(), "canbo2").status_code == 302  # another name is free


def test_failures_older_than_the_window_do_not_count(app, client, db):
    staff(db, "canbo", "reviewer")
    old = (datetime.now(UTC) - timedelta(minutes=16)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for _ in range(LOGIN_LIMIT_USER):  # the log is append-only: old failures are inserted
        db.execute(
            "INSERT INTO audit_log (at, username, action, ip) VALUES (?, 'canbo',"
            " 'login_failed', '127.0.0.1')",
            [old],
        )
    db.conn.commit()
    assert login(client, "canbo").status_code == 302


def test_one_address_trying_many_usernames_is_locked_out(app, client, db):
    assert LOGIN_LIMIT_IP == 20  # the default; a smaller one here keeps the test quick
    app.config["LOGIN_LIMIT_IP"] = 7
    staff(db, "canbo", "reviewer")
    for n in range(7):
        assert login(client, f"doan{n}", "sai", REMOTE_ADDR="10.0.0.7").status_code == 401
    blocked = login(client, "canbo", REMOTE_ADDR="10.0.0.7")
    assert blocked.status_code == 429
    assert login(app.test_client(), "canbo", REMOTE_ADDR="10.0.0.8").status_code == 302
    assert {r[3] for r in audit_rows(db, "login_failed")} == {"10.0.0.7"}


def test_an_unknown_username_fails_like_a_wrong_password(client, db):
    unknown = login(client, "khong-co-ai")
    assert unknown.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in unknown.get_data(as_text=True)
    assert audit_rows(db, "login_failed") == [("khong-co-ai", "", "", "127.0.0.1")]


def test_a_volunteer_cannot_log_in_to_the_staff_site(client, db):
    assert login(client, "tnv.demo", "").status_code == 401


def test_a_form_without_its_csrf_token_is_refused_and_audited(app, db):
    staff(db, "quantri", "admin")
    client = logged_in(app, "quantri")
    response = client.post(
        "/admin/staff", data={"username": "ke.gian", "display_name": "X", "role": "admin"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Phiên làm việc đã hết hạn" in page and "The page has expired" in page
    assert audit_rows(db, "csrf_refused") == [("quantri", "/admin/staff", "", "127.0.0.1")]
    assert db.execute("SELECT count(*) FROM users WHERE username = 'ke.gian'").fetchone()[0] == 0
    wrong = client.post("/admin/staff", data={"csrf_token": "doan-mo", "username": "ke.gian"})
    assert wrong.status_code == 400


def test_a_login_without_csrf_token_is_refused_and_audited(client, db):
    response = client.post("/login", data={"username": "admin", "password": "x"})
    assert response.status_code == 400
    assert [r[:2] for r in audit_rows(db, "csrf_refused")] == [("admin", "/login")]


def test_a_tampered_session_cookie_logs_nobody_in_and_is_audited(app, db):
    staff(db, "quantri", "admin")
    client = logged_in(app, "quantri")
    cookie = client.get_cookie("session")
    payload, _, signature = cookie.value.rpartition(".")
    client.set_cookie("session", payload + "." + signature[::-1])
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "reason=session" in response.headers["Location"]
    notice = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Phiên đăng nhập không còn hợp lệ" in notice
    assert [r[:2] for r in audit_rows(db, "session_invalid")] == [("", "/admin/")]


def test_a_session_cookie_signed_with_another_key_is_refused(app, db, tmp_path):
    from server import create_app

    other = create_app(
        {
            "DATA_DIR": str(tmp_path / "other"),
            "SECRET_KEY": "another-installation-another-secret-key",
            "DATABASE": app.config["DATABASE"],
            "TESTING": True,
        }
    )
    staff(db, "quantri", "admin")
    forged = logged_in(other, "quantri").get_cookie("session").value
    client = app.test_client()
    client.set_cookie("session", forged)
    assert client.get("/admin/").status_code == 302
    assert len(audit_rows(db, "session_invalid")) == 1


def test_session_cookies_are_http_only_and_same_site_and_secure_when_asked(app, tmp_path):
    from server import create_app

    response = app.test_client().get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = create_app(
        {
            "DATA_DIR": str(tmp_path / "s"),
            "DATABASE": app.config["DATABASE"],
            "SECRET_KEY": "k" * 32,
            "SESSION_COOKIE_SECURE": True,
        }
    )
    assert "Secure" in secure.test_client().get("/login").headers["Set-Cookie"]


def test_logout_ends_the_session(app, db):
    staff(db, "quantri", "admin")
    client = logged_in(app, "quantri")
    assert client.get("/admin/").status_code == 200
    assert client.post("/logout", data={"csrf_token": token(client)}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_behind_a_proxy_the_client_address_is_the_forwarded_one(app, db, tmp_path):
    from server import create_app

    proxied = create_app(
        {
            "DATA_DIR": str(tmp_path / "p"),
            "DATABASE": app.config["DATABASE"],
            "SECRET_KEY": "k" * 32,
            "PROXY_HOPS": 1,
        }
    )
    client = proxied.test_client()
    client.post(
        "/login",
        data={"username": "x", "password": "y", "csrf_token": csrf(client)},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert audit_rows(db, "login_failed")[-1][3] == "203.0.113.9"
    assert PASSWORD  # staff helpers' password stays the module's constant


def test_each_role_lands_on_its_own_start_page(app, db):
    staff(db, "xem", "viewer")
    staff(db, "tinh", "admin", commune_id=None, province_code="99")
    staff(db, "canbo", "reviewer")
    for username, start in (("xem", "/reports/"), ("tinh", "/admin/communes"), ("canbo", "/")):
        assert login(app.test_client(), username).headers["Location"] == start
    asked = app.test_client()
    asked.get("/admin/staff")
    response = asked.post(
        "/login?next=/account/password",
        data={"username": "xem", "password": PASSWORD, "csrf_token": csrf(asked)},
    )
    assert response.headers["Location"] == "/account/password"  # the page asked for wins
    forbidden = logged_in(app, "xem").get("/")
    assert forbidden.status_code == 403 and 'href="/reports/"' in forbidden.get_data(as_text=True)
