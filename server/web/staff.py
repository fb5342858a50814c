"""Who is logged in to the staff site, the one role guard, CSRF tokens, the page language, and
the one helper that writes the acting staff member's audit entries.

Roles: ``admin`` (one commune), ``reviewer``, ``viewer`` (indicators only), and ``province``: an
``admin`` row with no commune and a ``province_code``, who creates communes and their admins.
The rules (passwords, login limits, who may see whom) are in ``server.domain.accounts``.
"""

from __future__ import annotations

import hmac
import secrets
from functools import wraps
from typing import Any

from flask import (
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
from werkzeug.routing import BuildError

from schemas.messages import text
from server.domain import accounts
from server.domain.audit import audit, client_address
from server.domain.db import write_transaction
from server.web.db import get_db
from server.web.errors import ApiError

PERSONAL_DATA = ("admin", "reviewer")  # the roles that may read households and records


def check_login(username: str, password: str) -> dict[str, Any] | None:
    """The staff user for these credentials, or None. Over the limit of failed logins, the
    request ends here with 429 and the login page saying how long to wait (audited)."""
    db = get_db()
    config = current_app.config
    minutes = accounts.login_wait(
        db,
        username,
        client_address.get(),
        user_limit=config.get("LOGIN_LIMIT_USER", accounts.LOGIN_LIMIT_USER),
        ip_limit=config.get("LOGIN_LIMIT_IP", accounts.LOGIN_LIMIT_IP),
    )
    if minutes:
        with write_transaction(db):
            audit(db, "login_blocked", user_id=None, username=username)
        abort(_locked_page(minutes))
    user = accounts.authenticate(db, username, password)
    if user is not None:
        g.logged_in = user
    return user


def _locked_page(minutes: int) -> Any:
    other = "en" if ui_lang() == "vi" else "vi"
    page = render_template(
        "review/login.html",
        error=t("admin.login_locked", minutes=minutes),
        error_other=text("admin.login_locked", other, minutes=minutes),
        other_lang=other,
    )
    return make_response(page, 429)


def current_user() -> dict[str, Any] | None:
    if "user" not in g:
        g.user = None
        user_id = session.get("user_id")
        if user_id is not None:
            user = accounts.session_user(get_db(), user_id)
            # A password change or reset since this session began ends it.
            if user and session.get("epoch") == user["session_epoch"]:
                g.user = user
            else:
                g.session_ended = True
    return g.user


def me() -> dict[str, Any]:
    """The logged-in staff member of a guarded view."""
    user = current_user()
    assert user is not None  # the guard ran first
    return user


def login_required(*roles: str, api: bool = False) -> Any:
    """The one guard of staff views: anonymous → the login page; a password to change first →
    the password page; a role not listed → 403. ``api``: JSON views answer the same refusals
    as JSON errors (401, 403 ``password_change_required``, 403) instead of redirects."""

    def decorator(view: Any) -> Any:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                if api:
                    raise ApiError(401, "unauthorized")
                return redirect(url_for("site.login", next=this_page(), reason=_anonymous_reason()))
            if user["must_change_password"] and request.endpoint != "site.password":
                if api:
                    raise ApiError(403, "password_change_required")
                return redirect(url_for("site.password"))
            if roles and user["role"] not in roles:
                if api:
                    raise ApiError(403, "forbidden")
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def this_page() -> str:
    """The page asked for, to come back to after logging in: its path, and its query only
    when it has one (``request.full_path`` always ends in ``?``, so ``/`` became ``/?``)."""
    query = request.query_string.decode("latin-1")
    return f"{request.path}?{query}" if query else request.path


def _anonymous_reason() -> str | None:
    if request.environ.get("gocua.bad_session"):
        db = get_db()
        with write_transaction(db):
            audit(db, "session_invalid", user_id=None, username="", target=request.path)
        return "session"
    return "session" if g.get("session_ended") else None


def audited(action: str, target: str = "", detail: str = "") -> None:
    """The one way a staff view writes the audit log for the logged-in staff member: inside
    the view's write transaction when one is open (so the entry commits with the change it
    describes), else in a transaction of its own."""
    db, user = get_db(), me()
    if db.conn.in_transaction:
        audit(
            db, action, user_id=user["id"], username=user["username"], target=target, detail=detail
        )
        return
    with write_transaction(db):
        audit(
            db, action, user_id=user["id"], username=user["username"], target=target, detail=detail
        )


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if sent and hmac.compare_digest(sent, session.get("csrf", "")):
        return
    user = current_user() if session.get("user_id") is not None else None
    typed = request.form.get("username", "").strip()
    # A typed username is logged only when it could be one: never a prefix of an overlong one.
    username = user["username"] if user else (typed if len(typed) <= accounts.MAX_USERNAME else "")
    if username:
        db = get_db()
        with write_transaction(db):
            audit(
                db,
                "csrf_refused",
                user_id=user["id"] if user else None,
                username=username,
                target=request.path,
            )
    g.error_key = "error.csrf"
    abort(400, description=text("error.csrf", ui_lang()))


def change_password(user: dict[str, Any], current: str, new: str, confirm: str) -> str | None:
    """The user's own change: None when done (this session stays, every other one ends),
    else the catalogue key of the problem (a wrong current password is audited)."""
    db = get_db()
    if not accounts.password_matches(db, user["id"], current):
        with write_transaction(db):
            audit(db, "password_change_failed", user_id=user["id"], username=user["username"])
        return "admin.password_wrong"
    problem = accounts.password_problem(user, new, confirm)
    if problem:
        return problem
    with write_transaction(db):
        session["epoch"] = accounts.set_password(db, user["id"], new)
        audit(
            db,
            "password_changed",
            user_id=user["id"],
            username=user["username"],
            target=f"user:{user['username']}",
        )
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


def home_url(user: dict[str, Any] | None) -> str:
    """Where a role starts: the records for the commune office, the indicators for a viewer,
    the communes for a province admin."""
    endpoint = {"viewer": "reports.dashboard", "province": "admin.communes"}.get(
        (user or {}).get("role", ""), "review.records"
    )
    try:
        return url_for(endpoint)
    except BuildError:  # a part of the site this installation does not have
        return url_for("site.password")


def public_base_url() -> str:
    """The address phones open: PUBLIC_URL, else this request's own host."""
    return current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")
