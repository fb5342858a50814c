"""Staff API tokens: what a program (Excel, Power BI, a script) shows to read the OData feed.

A token stands for the staff member who made it, no more: the same commune, the same role (a
viewer's token reads pseudonymised rows), and it stops working with that account. Only its hash
is kept; the token itself is shown once, when it is made.
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlite_utils

from server.domain import accounts
from server.domain.audit import audit
from server.domain.db import now_iso
from server.domain.tokens import hash_secret

PREFIX = "gca_"  # tells a Gõ Cửa API token from a phone's token in a log or a password manager
MAX_NAME = 60
MAX_TOKEN = 100  # what an Authorization header may carry; longer is no token of ours
MAX_ACTIVE = 20  # per staff member: a token per program, not one per request
# Roles that read records of one commune: a province admin reads indicators only.
ROLES = ("admin", "reviewer", "viewer")


def create(db: sqlite_utils.Database, user: dict[str, Any], name: str) -> str | None:
    """A new token for this staff member (in the caller's transaction), audited; returns the
    token, to be shown once, or None when the member already has MAX_ACTIVE."""
    if user["role"] not in ROLES or not user.get("commune_id"):
        raise ValueError("a commune's staff member")
    active = db.execute(
        "SELECT count(*) FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL", [user["id"]]
    ).fetchone()[0]
    if active >= MAX_ACTIVE:
        return None
    token = PREFIX + secrets.token_urlsafe(32)
    cursor = db.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
        [user["id"], name.strip()[:MAX_NAME], hash_secret(token), now_iso()],
    )
    audit(
        db,
        "api_token_created",
        user_id=user["id"],
        username=user["username"],
        target=f"api_token:{cursor.lastrowid}",
        detail=name.strip()[:MAX_NAME],
    )
    return token


def listed(db: sqlite_utils.Database, user_id: int) -> list[dict[str, Any]]:
    """The member's tokens, newest first (revoked ones too, saying when)."""
    return [
        dict(r)
        for r in db.execute(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens"
            " WHERE user_id = ? ORDER BY id DESC",
            [user_id],
        )
    ]


def revoke(db: sqlite_utils.Database, user: dict[str, Any], token_id: int) -> bool:
    """Revoke one of the member's own tokens (in the caller's transaction), audited; False
    when it is not theirs or already revoked."""
    done = db.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
        [now_iso(), token_id, user["id"]],
    ).rowcount
    if done:
        audit(
            db,
            "api_token_revoked",
            user_id=user["id"],
            username=user["username"],
            target=f"api_token:{token_id}",
        )
    return bool(done)


def token_user(db: sqlite_utils.Database, token: str) -> dict[str, Any] | None:
    """The staff member a token stands for, with ``token_id``; None when the token is unknown,
    revoked, or its account is gone, deactivated, must change its password, or no longer of a
    role that reads records."""
    if not token.startswith(PREFIX) or len(token) > MAX_TOKEN:
        return None
    row = db.execute(
        "SELECT id, user_id FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
        [hash_secret(token)],
    ).fetchone()
    if row is None:
        return None
    user = accounts.session_user(db, row["user_id"])
    if user is None or user["role"] not in ROLES or not user.get("commune_id"):
        return None
    if user.get("must_change_password"):
        return None
    return {**user, "token_id": row["id"]}


def mark_used(db: sqlite_utils.Database, token_id: int) -> None:
    """When the token was last used, to the minute (in the caller's transaction): the page lists
    it, so that a forgotten token in use is not revoked by mistake."""
    now = now_iso()
    db.execute(
        "UPDATE api_tokens SET last_used_at = ? WHERE id = ?"
        " AND (last_used_at IS NULL OR substr(last_used_at, 1, 16) != substr(?, 1, 16))",
        [now, token_id, now],
    )
