"""The append-only audit log of staff actions (the table's triggers refuse UPDATE and DELETE)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import sqlite_utils

from server.domain.db import now_iso

# Who is acting from where: the web sets the client's address for each request (after the
# reverse proxy's hops are undone); a command-line task is "cli".
client_address: ContextVar[str] = ContextVar("client_address", default="cli")


def audit(
    db: sqlite_utils.Database,
    action: str,
    *,
    user_id: int | None,
    username: str,
    target: str = "",
    detail: str = "",
) -> None:
    ip = client_address.get()
    db.execute(
        "INSERT INTO audit_log (at, user_id, username, action, target, detail, ip)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [now_iso(), user_id, username, action, target, detail, ip],
    )


PAGE_SIZE = 50


# The commune a row is about, when its target names one: a user of the commune ("user:NAME")
# or the commune itself ("commune:ID"). A province admin's or the command line's action on a
# commune's account is the commune's business too, and shows in its log.
_ABOUT = "LEFT JOIN users t ON a.target LIKE 'user:%' AND t.username = substr(a.target, 6)"
_ABOUT_COMMUNE = (
    "coalesce(t.commune_id, CASE WHEN a.target LIKE 'commune:%' THEN substr(a.target, 9) END)"
)


def audit_page(
    db: sqlite_utils.Database, caller: dict[str, Any], page: int
) -> list[dict[str, Any]]:
    """Newest first. A row belongs to the commune of its user (by id, else by the username
    typed at a failed login), and also to the commune it is about (its target: one of the
    commune's users, or the commune); rows of no known user (a mistyped username, a tampered
    cookie) are shown to province admins only."""
    scope = "coalesce(u.commune_id, n.commune_id)"
    if caller["role"] == "province":
        where = (
            f"({scope} IN (SELECT id FROM communes WHERE province_code = ?)"
            " OR coalesce(u.province_code, n.province_code) = ?"
            " OR (u.id IS NULL AND n.id IS NULL))"
        )
        params: list[Any] = [caller["province_code"], caller["province_code"]]
    else:
        where, params = f"({scope} = ? OR {_ABOUT_COMMUNE} = ?)", [caller["commune_id"]] * 2
    return [
        dict(r)
        for r in db.execute(
            "SELECT a.id, a.at, a.username, a.action, a.target, a.detail, a.ip FROM audit_log a"
            " LEFT JOIN users u ON u.id = a.user_id"
            " LEFT JOIN users n ON a.user_id IS NULL AND n.username = a.username"
            f" {_ABOUT} WHERE {where} ORDER BY a.id DESC LIMIT ? OFFSET ?",
            [*params, PAGE_SIZE, (max(page, 1) - 1) * PAGE_SIZE],
        )
    ]


NOTICES = 5  # at most this many resets named at login; the audit log has them all


def reset_notices(db: sqlite_utils.Database, user: dict[str, Any]) -> dict[str, Any] | None:
    """What a commune admin is told on logging in (after the login is audited): the passwords
    of the commune's accounts that someone outside the commune -- a province admin, the
    command line -- reset since this admin's previous login (or since the account was made).
    ``{"resets": [{"by", "account", "at"}, …] (newest first, at most NOTICES), "more": n}``,
    or None when there are none. Every admin of the commune is told, not only the one whose
    account it was: whoever logged in with the temporary password saw the first notice."""
    if user["role"] != "admin" or not user.get("commune_id"):
        return None
    logins = db.execute(
        "SELECT id FROM audit_log WHERE user_id = ? AND action = 'login' ORDER BY id DESC LIMIT 2",
        [user["id"]],
    ).fetchall()
    since = logins[1][0] if len(logins) > 1 else 0
    rows = db.execute(
        'SELECT a.username AS "by", substr(a.target, 6) AS account, a.at FROM audit_log a'
        f" LEFT JOIN users u ON u.id = a.user_id {_ABOUT}"
        " WHERE a.action = 'password_reset' AND a.id > ?"
        " AND a.at >= (SELECT created_at FROM users WHERE id = ?)"
        " AND t.commune_id = ? AND u.commune_id IS NOT t.commune_id"
        " ORDER BY a.id DESC",
        [since, user["id"], user["commune_id"]],
    ).fetchall()
    if not rows:
        return None
    resets = [dict(r) for r in rows[:NOTICES]]
    return {"resets": resets, "more": len(rows) - len(resets)}


def password_was_reset(db: sqlite_utils.Database, user: dict[str, Any]) -> bool:
    """Whether the password this account must change came from a reset (an admin's, or the
    command line's) rather than from its creation: a reset since its last own change. The
    password page says which, so that a new account is not told "an admin reset it"."""
    row = db.execute(
        "SELECT a.action FROM audit_log a WHERE a.target = ?"
        " AND a.action IN ('password_reset', 'password_changed')"
        " AND a.at >= (SELECT created_at FROM users WHERE id = ?) ORDER BY a.id DESC LIMIT 1",
        [f"user:{user['username']}", user["id"]],
    ).fetchone()
    return row is not None and row[0] == "password_reset"
