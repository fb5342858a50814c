"""The append-only audit log of staff actions (the table's triggers refuse UPDATE and DELETE)."""

from __future__ import annotations

import sqlite_utils
from flask import has_request_context, request

from server.db import now_iso


def audit(db: sqlite_utils.Database, action: str, *, user_id: int | None, username: str,
          target: str = "", detail: str = "") -> None:
    ip = (request.remote_addr or "") if has_request_context() else "cli"
    db.execute("INSERT INTO audit_log (at, user_id, username, action, target, detail, ip)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)",
               [now_iso(), user_id, username, action, target, detail, ip])
