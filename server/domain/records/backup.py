"""A backup file from a phone that could not sync, brought to the commune office.

The file (``{"format": "gocua-backup", "version": 1, "device_id", "user": {"id", "username"},
"exported_at", "records": [push envelopes]}``) goes through the very push logic phones use
(``server.domain.sync.push``), as the volunteer who made it: the same checks, the same
duplicate and conflict rules, so importing it twice, or after the phone finally synced,
stores nothing twice.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from server.domain.accounts import user_village_ids
from server.domain.errors import Refused
from server.domain.records import push
from sync.protocol import MAX_BATCH_ITEMS

MAX_RECORDS = 5000


def read(raw: bytes) -> dict[str, Any]:
    """The backup's content, or Refused naming what is wrong with the file."""
    try:
        body = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise Refused("review.backup_not_json") from None
    if not isinstance(body, dict) or body.get("format") != "gocua-backup":
        raise Refused("review.backup_not_backup")
    if body.get("version") != 1:
        raise Refused("review.backup_version", version=str(body.get("version"))[:20])
    user, records = body.get("user"), body.get("records")
    if (
        not isinstance(user, dict)
        or not isinstance(user.get("id"), int)
        or isinstance(user.get("id"), bool)
    ):
        raise Refused("review.backup_no_user")
    if not isinstance(records, list):
        raise Refused("review.backup_no_records")
    if len(records) > MAX_RECORDS:
        raise Refused("review.backup_too_many", max=MAX_RECORDS)
    return body


def device_for(
    db: sqlite_utils.Database, commune_id: str, backup: dict[str, Any]
) -> dict[str, Any]:
    """The push 'device' of the volunteer who made the backup: their phone when the server
    knows it (so the phone's status digest counts these records), else none."""
    user = backup["user"]
    row = db.execute(
        "SELECT id, username, display_name FROM users WHERE id = ?"
        " AND commune_id = ? AND role = 'volunteer'",
        [user["id"], commune_id],
    ).fetchone()
    if row is None or (user.get("username") and user["username"] != row["username"]):
        raise Refused("review.backup_unknown_user")
    device_id = backup.get("device_id") if isinstance(backup.get("device_id"), str) else None
    if (
        device_id
        and not db.execute(
            "SELECT 1 FROM devices WHERE id = ? AND user_id = ?", [device_id, row["id"]]
        ).fetchone()
    ):
        device_id = None
    return {
        "id": device_id,
        "user_id": row["id"],
        "commune_id": commune_id,
        "village_ids": user_village_ids(db, row["id"]),
        "username": row["username"],
        "display_name": row["display_name"],
    }


def import_backup(
    db: sqlite_utils.Database, commune_id: str, backup: dict[str, Any], data_dir: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Push every record of the file as its volunteer; returns (device, results in order).
    Each batch of 100 is one transaction, as a phone's push is; ``data_dir`` holds the photos
    (a record naming one the server lacks is rejected, as from the phone)."""
    device = device_for(db, commune_id, backup)
    items = backup["records"]
    results: list[dict[str, Any]] = []
    for start in range(0, len(items), MAX_BATCH_ITEMS):
        body = push.push(db, device, items[start : start + MAX_BATCH_ITEMS], data_dir=data_dir)
        results += body["results"]
    return device, results


def summary(results: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"applied": 0, "duplicate": 0, "conflict": 0, "rejected": 0}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return counts
