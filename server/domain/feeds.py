"""The pull feed: every change a phone must learn of gets a sequence number in its transaction."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from server.domain.db import now_iso


def record_change(
    db: sqlite_utils.Database,
    kind: str,
    entity_id: str,
    payload: dict[str, Any],
    *,
    commune_id: str | None,
    village_id: str | None = None,
    user_id: int | None = None,
    op: str = "put",
) -> int:
    """Append one change; must run inside the write transaction that made it, so that a
    reader never sees a sequence number whose change is not committed yet."""
    cursor = db.execute(
        "INSERT INTO changes (commune_id, village_id, user_id, kind, entity_id, op, payload,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            commune_id,
            village_id,
            user_id,
            kind,
            entity_id,
            op,
            json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            now_iso(),
        ],
    )
    return int(cursor.lastrowid or 0)


def pull(
    db: sqlite_utils.Database, device: dict[str, Any], since: int, limit: int
) -> dict[str, Any]:
    """The changes after ``since`` this device may see, oldest first, one page."""
    villages = device["village_ids"]
    marks = ",".join("?" * len(villages)) or "NULL"
    rows = db.execute(
        "SELECT seq, kind, entity_id, op, payload FROM changes WHERE seq > ?"
        " AND (commune_id IS NULL OR commune_id = ?)"
        f" AND (village_id IS NULL OR village_id IN ({marks}))"
        " AND (user_id IS NULL OR user_id = ?) ORDER BY seq LIMIT ?",
        [since, device["commune_id"], *villages, device["user_id"], limit + 1],
    ).fetchall()
    page = rows[:limit]
    changes = [
        {
            "seq": r["seq"],
            "kind": r["kind"],
            "id": r["entity_id"],
            "op": r["op"],
            "data": json.loads(r["payload"]),
        }
        for r in page
    ]
    return {
        "changes": changes,
        "next_since": page[-1]["seq"] if page else since,
        "has_more": len(rows) > limit,
    }
