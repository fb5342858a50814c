"""Staff sessions: who is logged in, the login-required guard, CSRF tokens and the UI language."""

from __future__ import annotations

import hmac
import secrets
from functools import wraps
from typing import Any

from flask import abort, g, redirect, request, session, url_for
from werkzeug.security import check_password_hash

from schemas.messages import text
from server.db import get_db

STAFF_ROLES = ("admin", "reviewer", "viewer")


def check_login(username: str, password: str) -> dict[str, Any] | None:
    row = get_db().execute(
        "SELECT id, username, display_name, role, commune_id, password_hash FROM users"
        " WHERE username = ? AND active = 1", [username]).fetchone()
    if row is None or not row[5] or row[3] not in STAFF_ROLES:
        return None
    if not check_password_hash(row[5], password):
        return None
    return dict(zip(("id", "username", "display_name", "role", "commune_id"), row[:5],
                    strict=True))


def current_user() -> dict[str, Any] | None:
    if "user" not in g:
        g.user = None
        user_id = session.get("user_id")
        if user_id is not None:
            row = get_db().execute(
                "SELECT id, username, display_name, role, commune_id FROM users"
                " WHERE id = ? AND active = 1", [user_id]).fetchone()
            if row and row[3] in STAFF_ROLES:
                g.user = dict(zip(("id", "username", "display_name", "role", "commune_id"),
                                  row, strict=True))
    return g.user


def login_required(*roles: str) -> Any:
    """Guard a page: anonymous → the login page; a role not listed → 403."""

    def decorator(view: Any) -> Any:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("review.login", next=request.full_path))
            if roles and user["role"] not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, description=text("error.csrf", ui_lang()))


def ui_lang() -> str:
    lang = request.args.get("lang") or session.get("lang") or "vi"
    return lang if lang in ("vi", "en") else "vi"


def t(key: str, **params: Any) -> str:
    """A catalogue text in the page's language (the templates' ``t()``)."""
    return text(key, ui_lang(), **params)
