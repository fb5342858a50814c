"""The pull feed: every change a phone must learn of gets a sequence number in its transaction."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from server.db import now_iso


def record_change(db: sqlite_utils.Database, kind: str, entity_id: str, payload: dict[str, Any],
                  *, commune_id: str | None, village_id: str | None = None,
                  user_id: int | None = None, op: str = "put") -> int:
    """Append one change; must run inside the write transaction that made it, so that a
    reader never sees a sequence number whose change is not committed yet."""
    cursor = db.execute(
        "INSERT INTO changes (commune_id, village_id, user_id, kind, entity_id, op, payload,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [commune_id, village_id, user_id, kind, entity_id, op,
         json.dumps(payload, ensure_ascii=False, separators=(",", ":")), now_iso()],
    )
    return int(cursor.lastrowid or 0)
