"""Passwords: stored as scrypt hashes, changed by their owner, reset by an admin."""

from __future__ import annotations

import re

from tests.api.admin_helpers import PASSWORD, audit_rows, logged_in, login, post, staff, user_id

NEW = "mot-mat-khau-moi-dai"


def test_passwords_are_stored_as_scrypt_hashes(app, db):
    stored = db.execute("SELECT password_hash FROM users WHERE username = 'admin'").fetchone()[0]
    assert stored.startswith("scrypt:32768:") and app.config["ADMIN_PASSWORD"] not in stored
    assert login(app.test_client(), "admin", app.config["ADMIN_PASSWORD"]).status_code == 302


def test_a_user_changes_their_password_and_their_other_sessions_end(app, db):
    staff(db, "canbo", "reviewer")
    here, elsewhere = logged_in(app, "canbo"), logged_in(app, "canbo")
    done = post(here, "/account/password", {"current": PASSWORD, "new": NEW, "confirm": NEW})
    assert done.status_code == 200
    assert "Đã đổi mật khẩu" in done.get_data(as_text=True)
    assert here.get("/account/password").status_code == 200  # this session goes on
    ended = elsewhere.get("/account/password")
    assert ended.status_code == 302 and "reason=session" in ended.headers["Location"]
    assert login(app.test_client(), "canbo").status_code == 401
    assert login(app.test_client(), "canbo", NEW).status_code == 302
    assert [r[:2] for r in audit_rows(db, "password_changed")] == [("canbo", "user:canbo")]


def test_a_wrong_current_password_or_a_weak_new_one_is_refused(app, db):
    staff(db, "canbo", "reviewer")
    client = logged_in(app, "canbo")
    cases = [
        ({"current": "sai", "new": NEW, "confirm": NEW}, "Mật khẩu hiện tại không đúng"),
        ({"current": PASSWORD, "new": "ngan", "confirm": "ngan"}, "quá ngắn"),
        ({"current": PASSWORD, "new": NEW, "confirm": NEW + "x"}, "không giống nhau"),
        ({"current": PASSWORD, "new": "canbo", "confirm": "canbo"}, "quá ngắn"),
    ]
    for form, words in cases:
        response = post(client, "/account/password", form)
        assert response.status_code == 422
        assert words in response.get_data(as_text=True)
    assert [r[0] for r in audit_rows(db, "password_change_failed")] == ["canbo"]
    assert login(app.test_client(), "canbo").status_code == 302  # unchanged


def test_an_admin_resets_a_password_the_user_must_change_at_next_login(app, db):
    staff(db, "quantri", "admin")
    staff(db, "canbo", "reviewer")
    before = logged_in(app, "canbo")
    admin = logged_in(app, "quantri")
    shown = post(admin, f"/admin/users/{user_id(db, 'canbo')}/reset-password")
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    temporary = re.search(r'id="new-password">([^<]+)<', shown.get_data(as_text=True)).group(1)
    assert before.get("/account/password").status_code == 302  # the reset ended it
    client = logged_in(app, "canbo", temporary)
    assert client.get("/").headers["Location"].endswith("/account/password")
    assert (
        post(
            client, "/account/password", {"current": temporary, "new": NEW, "confirm": NEW}
        ).status_code
        == 200
    )
    assert client.get("/").status_code == 200
    assert audit_rows(db, "password_reset") == [("quantri", "user:canbo", "", "127.0.0.1")]


def test_an_admin_reset_lifts_a_lock(app, client, db):
    from server.domain.accounts import LOGIN_LIMIT_USER

    staff(db, "quantri", "admin")
    staff(db, "canbo", "reviewer")
    for _ in range(LOGIN_LIMIT_USER):
        login(client, "canbo", "sai")
    assert login(client, "canbo").status_code == 429
    shown = post(logged_in(app, "quantri"), f"/admin/users/{user_id(db, 'canbo')}/reset-password")
    temporary = re.search(r'id="new-password">([^<]+)<', shown.get_data(as_text=True)).group(1)
    assert login(app.test_client(), "canbo", temporary).status_code == 302


def test_an_admin_cannot_reset_or_deactivate_themselves_here(app, db):
    staff(db, "quantri", "admin")
    admin = logged_in(app, "quantri")
    me = user_id(db, "quantri")
    assert post(admin, f"/admin/users/{me}/reset-password").status_code == 422
    assert post(admin, f"/admin/users/{me}/active", {"active": "0"}).status_code == 422
    assert admin.get("/admin/").status_code == 200


def test_a_deactivated_account_is_logged_out_and_cannot_log_in(app, db):
    staff(db, "quantri", "admin")
    staff(db, "canbo", "reviewer")
    session = logged_in(app, "canbo")
    admin = logged_in(app, "quantri")
    response = post(
        admin,
        f"/admin/users/{user_id(db, 'canbo')}/active",
        {"active": "0", "next": "/admin/staff"},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/admin/staff"
    assert session.get("/").status_code == 302
    assert login(app.test_client(), "canbo").status_code == 401
    post(admin, f"/admin/users/{user_id(db, 'canbo')}/active", {"active": "1"})
    assert login(app.test_client(), "canbo").status_code == 302
    assert [
        r[0]
        for r in db.execute("SELECT action FROM audit_log WHERE action LIKE 'user_%' ORDER BY id")
    ] == ["user_deactivated", "user_activated"]


def test_the_command_line_reset_does_what_the_admin_page_does(app, client, db):
    """``gocua user reset-password``: the account's sessions end, a lock on it lifts, the new
    password must be changed at the next login, and the audit log says the CLI did it."""
    from click.testing import CliRunner

    from server.cli.main import main
    from server.domain.accounts import LOGIN_LIMIT_USER

    staff(db, "canbo", "reviewer")
    before = logged_in(app, "canbo")
    for _ in range(LOGIN_LIMIT_USER):
        login(client, "canbo", "sai")
    assert login(client, "canbo").status_code == 429
    done = CliRunner().invoke(
        main, ["user", "reset-password", "canbo"], env={"GOCUA_DATA_DIR": app.config["DATA_DIR"]}
    )
    assert done.exit_code == 0, done.output
    temporary = done.output.split("password:")[1].strip()
    assert before.get("/account/password").status_code == 302  # the reset ended it
    fresh = logged_in(app, "canbo", temporary)  # the lock lifted
    assert fresh.get("/").headers["Location"].endswith("/account/password")
    assert (
        post(
            fresh, "/account/password", {"current": temporary, "new": NEW, "confirm": NEW}
        ).status_code
        == 200
    )
    assert fresh.get("/").status_code == 200
    assert audit_rows(db, "password_reset") == [("cli", "user:canbo", "", "cli")]
