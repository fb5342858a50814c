"""The append-only audit log of staff actions (the table's triggers refuse UPDATE and DELETE)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import sqlite_utils

from server.domain.db import now_iso

# Who is acting from where: the web sets the client's address for each request (after the
# reverse proxy's hops are undone); a command-line task is "cli".
client_address: ContextVar[str] = ContextVar("client_address", default="cli")


def audit(db: sqlite_utils.Database, action: str, *, user_id: int | None, username: str,
          target: str = "", detail: str = "") -> None:
    ip = client_address.get()
    db.execute("INSERT INTO audit_log (at, user_id, username, action, target, detail, ip)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)",
               [now_iso(), user_id, username, action, target, detail, ip])


PAGE_SIZE = 50


def audit_page(db: sqlite_utils.Database, caller: dict[str, Any],
               page: int) -> list[dict[str, Any]]:
    """Newest first. A row belongs to the commune of its user (by id, else by the username
    typed at a failed login); rows of no known user (a mistyped username, a tampered cookie)
    are shown to province admins only."""
    scope = "coalesce(u.commune_id, n.commune_id)"
    if caller["role"] == "province":
        where = (f"({scope} IN (SELECT id FROM communes WHERE province_code = ?)"
                 " OR coalesce(u.province_code, n.province_code) = ?"
                 " OR (u.id IS NULL AND n.id IS NULL))")
        params: list[Any] = [caller["province_code"], caller["province_code"]]
    else:
        where, params = f"{scope} = ?", [caller["commune_id"]]
    return [dict(r) for r in db.execute(
        "SELECT a.id, a.at, a.username, a.action, a.target, a.detail, a.ip FROM audit_log a"
        " LEFT JOIN users u ON u.id = a.user_id"
        " LEFT JOIN users n ON a.user_id IS NULL AND n.username = a.username"
        f" WHERE {where} ORDER BY a.id DESC LIMIT ? OFFSET ?",
        [*params, PAGE_SIZE, (max(page, 1) - 1) * PAGE_SIZE])]
