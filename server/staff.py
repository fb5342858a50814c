"""Staff sessions: who is logged in, the login-required guard, login limits, CSRF tokens, password
changes and the UI language.

Roles: ``admin`` (one commune), ``reviewer``, ``viewer`` (indicators only), and ``province``: an
``admin`` row with no commune and a ``province_code``, who creates communes and their admins.
"""

from __future__ import annotations

import hmac
import math
import os
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache, wraps
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BuildError
from werkzeug.security import check_password_hash, generate_password_hash

from schemas.messages import text
from server.audit import audit
from server.db import get_db, write_transaction

STAFF_ROLES = ("admin", "reviewer", "viewer")
PROVINCE = "province"
# Failed logins that lock a username, or an address, for the rest of the window (the app's
# LOGIN_LIMIT_USER and LOGIN_LIMIT_IP settings override the counts).
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_LIMIT_USER = 5
LOGIN_LIMIT_IP = 20
MIN_PASSWORD = 10
_USER_KEYS = ("id", "username", "display_name", "role", "commune_id", "province_code",
              "session_epoch", "must_change_password")
_USER_SQL = f"SELECT {', '.join(_USER_KEYS)}, password_hash FROM users"


def _staff(row: Any) -> dict[str, Any] | None:
    """A users row as the session's user, with its effective role; None for a volunteer."""
    if row is None or row[3] not in STAFF_ROLES:
        return None
    user = dict(zip(_USER_KEYS, row[:len(_USER_KEYS)], strict=True))
    if user["role"] == "admin" and user["commune_id"] is None:
        if not user["province_code"]:
            return None
        user["role"] = PROVINCE
    return user


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def client_ip() -> str:
    return (request.remote_addr or "") if has_request_context() else "cli"


def login_wait(db: Any, username: str, ip: str) -> int:
    """Minutes until this username and this address may try again (0: now)."""
    now = datetime.now(UTC)
    start = _iso(now - LOGIN_WINDOW)
    # A success, or an admin's reset, starts the username's count again (by row id: both can
    # fall in one second); an address's count is never reset by a success, or an attacker
    # could clear it by logging into an account of their own.
    last_ok = max(
        db.execute("SELECT coalesce(max(id), 0) FROM audit_log WHERE username = ?"
                   " AND action = 'login'", [username]).fetchone()[0],
        db.execute("SELECT coalesce(max(id), 0) FROM audit_log WHERE target = ?"
                   " AND action = 'password_reset'", [f"user:{username}"]).fetchone()[0])
    limits = current_app.config
    return max(_wait(db, "username", username, start, last_ok,
                     limits.get("LOGIN_LIMIT_USER", LOGIN_LIMIT_USER), now),
               _wait(db, "ip", ip, start, 0, limits.get("LOGIN_LIMIT_IP", LOGIN_LIMIT_IP), now))


def _wait(db: Any, column: str, value: str, start: str, after_id: int, limit: int,
          now: datetime) -> int:
    rows = db.execute(
        f"SELECT at FROM audit_log WHERE {column} = ? AND action = 'login_failed' AND at > ?"
        " AND id > ? ORDER BY id DESC LIMIT ?", [value, start, after_id, limit]).fetchall()
    if len(rows) < limit:
        return 0
    # The lock lifts when the limit-th latest failure leaves the window.
    seconds = (_parse(rows[-1][0]) + LOGIN_WINDOW - now).total_seconds()
    return max(1, math.ceil(seconds / 60))


def check_login(username: str, password: str) -> dict[str, Any] | None:
    """The staff user for these credentials, or None. Over the limit of failed logins, the
    request ends here with 429 and the login page saying how long to wait (audited)."""
    db = get_db()
    minutes = login_wait(db, username, client_ip())
    if minutes:
        with write_transaction(db):
            audit(db, "login_blocked", user_id=None, username=username)
        abort(_locked_page(minutes))
    row = db.execute(f"{_USER_SQL} WHERE username = ? AND active = 1", [username]).fetchone()
    user = _staff(row)
    if user is None or not row[-1]:
        check_password_hash(_dummy_hash(), password)  # the same time as a real check
        return None
    if not check_password_hash(row[-1], password):
        return None
    g.logged_in = user
    return user


def _locked_page(minutes: int) -> Response:
    other = "en" if ui_lang() == "vi" else "vi"
    page = render_template("review/login.html", error=t("admin.login_locked", minutes=minutes),
                           error_other=text("admin.login_locked", other, minutes=minutes),
                           other_lang=other)
    return make_response(page, 429)


def current_user() -> dict[str, Any] | None:
    if "user" not in g:
        g.user = None
        user_id = session.get("user_id")
        if user_id is not None:
            row = get_db().execute(f"{_USER_SQL} WHERE id = ? AND active = 1",
                                   [user_id]).fetchone()
            user = _staff(row)
            # A password change or reset since this session began ends it.
            if user and session.get("epoch") == user["session_epoch"]:
                g.user = user
            else:
                g.session_ended = True
    return g.user


def login_required(*roles: str) -> Any:
    """Guard a page: anonymous → the login page; a role not listed → 403; a password reset by
    an admin → the password page first."""

    def decorator(view: Any) -> Any:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("review.login", next=request.full_path,
                                        reason=_anonymous_reason()))
            if user["must_change_password"] and request.endpoint != "admin.password":
                return redirect(url_for("admin.password"))
            if roles and user["role"] not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _anonymous_reason() -> str | None:
    if request.environ.get("gocua.bad_session"):
        db = get_db()
        with write_transaction(db):
            audit(db, "session_invalid", user_id=None, username="", target=request.path)
        return "session"
    return "session" if g.get("session_ended") else None


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if sent and hmac.compare_digest(sent, session.get("csrf", "")):
        return
    user = current_user() if session.get("user_id") is not None else None
    username = user["username"] if user else request.form.get("username", "")[:64]
    if username:
        db = get_db()
        with write_transaction(db):
            audit(db, "csrf_refused", user_id=user["id"] if user else None, username=username,
                  target=request.path)
    g.error_key = "error.csrf"
    abort(400, description=text("error.csrf", ui_lang()))


def password_problem(user: dict[str, Any], new: str, confirm: str) -> str | None:
    """The catalogue key saying what is wrong with a new password, or None."""
    if len(new) < MIN_PASSWORD:
        return "admin.password_short"
    if new != confirm:
        return "admin.password_mismatch"
    if new.casefold() == user["username"].casefold():
        return "admin.password_is_username"
    return None


def change_password(user: dict[str, Any], current: str, new: str, confirm: str) -> str | None:
    """The user's own change: None when done (this session stays, every other one ends),
    else the catalogue key of the problem (a wrong current password is audited)."""
    from server.people import set_password

    db = get_db()
    row = db.execute("SELECT password_hash FROM users WHERE id = ?", [user["id"]]).fetchone()
    if not row or not row[0] or not check_password_hash(row[0], current):
        with write_transaction(db):
            audit(db, "password_change_failed", user_id=user["id"], username=user["username"])
        return "admin.password_wrong"
    problem = password_problem(user, new, confirm)
    if problem:
        return problem
    with write_transaction(db):
        session["epoch"] = set_password(db, user["id"], new)
        audit(db, "password_changed", user_id=user["id"], username=user["username"],
              target=f"user:{user['username']}")
    g.pop("user", None)
    return None


def defer_audit(action: str, **fields: Any) -> None:
    """An audit entry written after the request, in its own transaction: for refusals raised
    inside a transaction that rolls back (a used enrollment code, a revoked phone)."""
    if has_request_context():
        g.setdefault("deferred_audit", []).append((action, fields))


def ui_lang() -> str:
    lang = request.args.get("lang") or session.get("lang") or "vi"
    return lang if lang in ("vi", "en") else "vi"


def t(key: str, **params: Any) -> str:
    """A catalogue text in the page's language (the templates' ``t()``)."""
    return text(key, ui_lang(), **params)


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, noting a cookie whose signature does not verify (a
    tampered or foreign cookie) so the guard can say so and audit it."""

    def open_session(self, app: Flask, request: Any) -> Any:
        serializer = self.get_signing_serializer(app)
        value = request.cookies.get(self.get_cookie_name(app))
        if serializer is None or not value:
            return super().open_session(app, request)
        try:
            data = serializer.loads(value, max_age=int(
                app.permanent_session_lifetime.total_seconds()))
        except BadSignature:
            request.environ["gocua.bad_session"] = True
            return self.session_class()
        return self.session_class(data)


def home_url(user: dict[str, Any] | None) -> str:
    """Where a role starts: the records for the commune office, the indicators for a viewer,
    the communes for a province admin."""
    endpoint = {"viewer": "reports.dashboard", "province": "admin.communes"}.get(
        (user or {}).get("role", ""), "review.records")
    try:
        return url_for(endpoint)
    except BuildError:  # a part of the site this installation does not have
        return url_for("admin.password")


def _after_request(response: Response) -> Response:
    user = g.pop("logged_in", None)
    if user and session.get("user_id") == user["id"]:
        session["epoch"] = user["session_epoch"]  # the session belongs to this password
        if response.status_code == 302 and response.location == url_for("review.records"):
            response.location = home_url(user)  # no page asked for: the role's own start
    pending = g.pop("deferred_audit", [])
    if pending:
        db = get_db()
        with write_transaction(db):
            for action, fields in pending:
                audit(db, action, **fields)
    return response


def install(app: Flask) -> None:
    """Sessions that notice tampering, the after-request hook, and the reverse proxy's
    client address (GOCUA_PROXY_HOPS proxies in front) for login limits and the audit log."""
    app.session_interface = _Sessions()
    app.after_request(_after_request)
    hops = int(app.config.get("PROXY_HOPS") or os.environ.get("GOCUA_PROXY_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def public_base_url() -> str:
    """The address phones open: PUBLIC_URL, else this request's own host."""
    return current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")
