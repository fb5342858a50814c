"""Defects an adversarial review found on the web side, each pinned by the request that showed it:
API errors as JSON, redirects that stay on this site, numbers too big for SQLite, bounded login
fields, logout ending the session, the secret key's length, framing and caching headers, the
enrollment rate limit and the reports API's guard."""

from __future__ import annotations

from typing import Any

import pytest

from server.domain import accounts
from server.domain.db import write_transaction
from tests.api.admin_helpers import PASSWORD, audit_rows, csrf, logged_in, login, post, staff
from tests.conftest import config

# -- 1. every API error is the JSON body, whichever handler Flask picks ----------------------


def _api_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["ok"] is False and body["status"] == status and body["code"] == code
    assert body["message"]["vi"] and body["message"]["en"]
    assert body["message"]["en"] != f"error.{code}"  # the catalogue's words, not the key
    return body


def test_an_unknown_api_path_is_a_json_404(client):
    # Flask hands 404 to the error page registered for it in server/web/site.py.
    body = _api_error(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert body["message"]["en"] == "Not found."
    assert client.get("/no-such-page").mimetype == "text/html"  # people still get a page


def test_a_wrong_method_on_the_api_is_a_json_405_with_allow(client):
    for method in ("DELETE", "TRACE"):
        response = client.open("/api/v1/enroll", method=method)
        _api_error(response, 405, "method_not_allowed")
        assert "POST" in response.headers["Allow"]


def test_an_api_body_over_the_limit_is_a_json_413(app, client):
    # 413 has no page of its own: server/web/errors.py's HTTPException handler answers it.
    too_big = b"{" + b" " * app.config["MAX_CONTENT_LENGTH"] + b"}"
    response = client.post("/api/v1/enroll", data=too_big, content_type="application/json")
    _api_error(response, 413, "too_large")


# -- 2. redirects after a language switch or a login stay on this site ----------------------

EVIL_TARGETS = (
    "/%09/evil.example",
    "/%0d%0a/evil.example",
    "/%0a/evil.example",
    "//evil.example",
    "/\\evil.example",
    "https://evil.example/",
    "/%2509/evil.example",
    "%09/evil.example",
    "/%5C/evil.example",
    "",
)


def test_the_language_switch_never_redirects_off_site(client):
    for target in EVIL_TARGETS:
        response = client.get(f"/lang/en?next={target}")
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/", target


def test_the_language_switch_keeps_a_path_of_this_site(client):
    response = client.get("/lang/en?next=/reports/%3Fapproved%3D1")
    assert response.headers["Location"] == "/reports/?approved=1"


def test_a_login_never_redirects_off_site(app, db):
    staff(db, "canbo", "reviewer")
    for target in EVIL_TARGETS:
        client = app.test_client()
        response = client.post(
            f"/login?next={target}",
            data={"username": "canbo", "password": PASSWORD, "csrf_token": csrf(client)},
        )
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/", target  # the reviewer's own start page


# -- 3. numbers in the address too big for SQLite --------------------------------------------

HUGE = "99999999999999999999999"


def test_huge_numbers_in_staff_addresses_are_404_not_500(app, db, admin):
    reviewer = (staff(db, "canbo", "reviewer"), logged_in(app, "canbo"))[1]
    assert reviewer.get(f"/?volunteer={HUGE}").status_code == 404
    assert reviewer.get("/?volunteer=%C2%B2").status_code == 404  # "²" passes str.isdigit()
    assert admin.get(f"/admin/volunteers/{HUGE}").status_code == 404
    assert admin.get(f"/admin/volunteers/{HUGE}/enroll/ABCD").status_code == 404
    assert post(admin, f"/admin/users/{HUGE}/active", {"active": "0"}).status_code == 404
    assert admin.get(f"/households/import/{HUGE}").status_code == 404


def test_a_volunteer_filter_of_the_commune_still_works_and_another_is_404(app, db):
    staff(db, "canbo", "reviewer")
    reviewer = logged_in(app, "canbo")
    volunteer = db.execute("SELECT id FROM users WHERE username = 'tnv.demo'").fetchone()[0]
    assert reviewer.get(f"/?volunteer={volunteer}").status_code == 200
    assert reviewer.get("/?volunteer=").status_code == 200
    assert reviewer.get("/?volunteer=123456").status_code == 404


def test_a_huge_audit_page_number_is_clamped(admin):
    response = admin.get(f"/admin/audit?page={HUGE}")
    assert response.status_code == 200


# -- 4. login fields are bounded before anything is written ----------------------------------


def test_an_overlong_username_is_refused_and_nothing_of_it_is_stored(app, client, db):
    long_name = "a" * (5 * 1024 * 1024)
    response = login(client, long_name)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "quá dài" in page and "too long" in page
    assert login(client, "b" * 65).status_code == 400
    no_csrf = client.post("/login", data={"username": "b" * 65, "password": "x"})
    assert no_csrf.status_code == 400
    stored = db.execute("SELECT max(length(username)), count(*) FROM audit_log").fetchone()
    assert tuple(stored) == (None, 0)
    assert login(client, "c" * 64).status_code == 401  # the longest allowed is an ordinary try


def test_an_overlong_password_is_refused_before_hashing(app, client, db):
    staff(db, "canbo", "reviewer")
    assert login(client, "canbo", "x" * 1025).status_code == 400
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0
    assert login(client, "canbo", "x" * 1024).status_code == 401


def test_a_new_password_too_long_to_log_in_with_is_refused(app, db):
    staff(db, "canbo", "reviewer")
    client = logged_in(app, "canbo")
    long = "y" * 1025
    response = post(
        client, "/account/password", {"current": PASSWORD, "new": long, "confirm": long}
    )
    assert response.status_code == 422
    assert "Mật khẩu mới quá dài" in response.get_data(as_text=True)
    assert login(app.test_client(), "canbo").status_code == 302  # the old one still works


def test_a_refused_logout_without_csrf_stores_no_overlong_username(client, db):
    # /logout checks CSRF with nobody logged in, so the typed username is all it can log.
    assert client.post("/logout", data={"username": "z" * 100_000}).status_code == 400
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0
    client.post("/logout", data={"username": "z" * 64})
    assert audit_rows(db, "csrf_refused") == [("z" * 64, "/logout", "", "127.0.0.1")]


# -- 5. logging out ends the session on the server -------------------------------------------


def test_a_copied_session_cookie_does_not_work_after_logout(app, db):
    staff(db, "quantri", "admin")
    client = logged_in(app, "quantri")
    copied = client.get_cookie("session").value
    assert post(client, "/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/admin/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert [r[0] for r in audit_rows(db, "logout")] == ["quantri"]
    assert logged_in(app, "quantri").get("/admin/").status_code == 200  # logs in again


# -- 6. the secret key must be long enough to sign sessions ----------------------------------


def test_a_short_secret_key_refuses_to_start(tmp_path):
    from server import create_app

    for key in ("k", "test-secret", "x" * 31):
        with pytest.raises(RuntimeError, match="at least 32 characters"):
            create_app({**config(tmp_path), "SECRET_KEY": key})
    create_app({**config(tmp_path), "SECRET_KEY": "x" * 32})  # the shortest allowed


def test_a_short_secret_key_file_refuses_to_start(tmp_path):
    from server import create_app

    settings = {**config(tmp_path)}
    del settings["SECRET_KEY"]
    (tmp_path / "secret_key").write_text("abc\n")
    with pytest.raises(RuntimeError, match="secret_key"):
        create_app(settings)
    (tmp_path / "secret_key").unlink()
    create_app(settings)  # a missing file is made, 64 hex characters
    assert len((tmp_path / "secret_key").read_text().strip()) == 64


# -- 7. framing and caching of staff pages ----------------------------------------------------


def _assert_staff_headers(response: Any) -> None:
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_staff_pages_may_not_be_framed_or_cached(app, db, admin, client):
    _assert_staff_headers(client.get("/login"))
    _assert_staff_headers(admin.get("/admin/"))
    _assert_staff_headers(admin.get("/admin/volunteers"))
    _assert_staff_headers(admin.get("/reports/api/indicators"))
    _assert_staff_headers(admin.get("/no-such-page"))


def test_the_collectors_files_keep_their_own_caching(client):
    response = client.get("/app/index.html")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"  # the service worker's copies
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# -- 8. enrollment codes: unknown ones audited, guessing limited per address -----------------


def _enroll(client: Any, code: str, address: str = "10.1.1.1") -> Any:
    return client.post("/api/v1/enroll", json={"code": code}, environ_base={"REMOTE_ADDR": address})


def test_an_unknown_enrollment_code_is_audited_without_the_code(client, db):
    assert _enroll(client, "ZZZZ-ZZZZ-ZZZZ").status_code == 400
    rows = audit_rows(db, "enroll_refused")
    assert rows == [("", "", "unknown", "10.1.1.1")]
    assert "ZZZZ" not in repr([tuple(r) for r in db.execute("SELECT * FROM audit_log")])


def test_guessing_enrollment_codes_is_limited_per_address(client, db):
    from server.domain.devices import ENROLL_LIMIT_IP
    from tests.conftest import new_code

    for n in range(ENROLL_LIMIT_IP):
        assert _enroll(client, f"WRONG-{n:04d}").status_code == 400
    blocked = _enroll(client, new_code(db))  # even a right code, from that address
    body = _api_error(blocked, 429, "enroll_locked")
    assert "15" in body["message"]["en"]
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert _enroll(client, new_code(db), address="10.1.1.2").status_code == 200


# -- 9. the reports' JSON API has the one guard, password change included --------------------


def test_the_reports_api_refuses_an_account_that_must_change_its_password(app, db):
    staff(db, "xem", "viewer")
    target = accounts.staff_by_username(db, "xem")
    with write_transaction(db):
        password = accounts.reset_password(db, target, by_user_id=None, by_username="cli")
    client = app.test_client()
    assert login(client, "xem", password).status_code == 302
    for url in ("/reports/api/indicators", "/reports/api/province"):
        _api_error(client.get(url), 403, "password_change_required")
    new = "mat-khau-moi-dai-du"
    assert (
        post(
            client, "/account/password", {"current": password, "new": new, "confirm": new}
        ).status_code
        == 200
    )
    assert client.get("/reports/api/indicators").status_code == 200
    _api_error(client.get("/reports/api/province"), 403, "forbidden")
    _api_error(app.test_client().get("/reports/api/indicators"), 401, "unauthorized")
