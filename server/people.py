"""Communes, villages, households, users and phones: the plain functions behind CLI and routes.

Writers expect to run inside the caller's write transaction, so that the change feed entry and
the row it describes commit together.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import sqlite_utils
from werkzeug.security import generate_password_hash

from server.changes import record_change
from server.db import now_iso
from server.tokens import expiry, hash_secret, new_device_token, new_enrollment_code, normalise_code

ROLES = ("admin", "reviewer", "viewer", "volunteer")


class EnrollmentRefused(Exception):
    """An enrollment code that is unknown, already used or expired (``reason`` says which)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def add_commune(db: sqlite_utils.Database, code: str, name: str, province_code: str,
                province_name: str) -> dict[str, Any]:
    row = {"id": code, "name": name, "province_code": province_code,
           "province_name": province_name, "created_at": now_iso()}
    db["communes"].insert(row)
    return row


def add_village(db: sqlite_utils.Database, commune_id: str, name: str,
                village_id: str | None = None) -> dict[str, Any]:
    row = {"id": village_id or str(uuid.uuid4()), "commune_id": commune_id, "name": name,
           "active": 1, "created_at": now_iso()}
    db["villages"].insert(row)
    record_change(db, "village", row["id"], {k: row[k] for k in ("id", "name", "active")},
                  commune_id=commune_id, village_id=row["id"])
    return row


def household_payload(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "village_id", "code", "head_name", "address")}


def add_household(db: sqlite_utils.Database, village_id: str, head_name: str, address: str = "",
                  household_id: str | None = None) -> dict[str, Any]:
    village = db["villages"].get(village_id)
    now = now_iso()
    row = {"id": household_id or str(uuid.uuid4()), "commune_id": village["commune_id"],
           "village_id": village_id, "code": _household_code(db), "head_name": head_name,
           "address": address, "created_at": now, "updated_at": now}
    db["households"].insert(row)
    record_change(db, "household", row["id"], household_payload(row),
                  commune_id=row["commune_id"], village_id=village_id)
    return row


def _household_code(db: sqlite_utils.Database) -> str:
    # Short enough to print under a QR label and type on a phone; retried on the rare clash.
    while True:
        code = "H" + "".join(secrets.choice("23456789ABCDEFGHJKMNPQRSTUVWXYZ") for _ in range(6))
        if not db.execute("SELECT 1 FROM households WHERE code = ?", [code]).fetchone():
            return code


def add_user(db: sqlite_utils.Database, username: str, display_name: str, role: str,
             commune_id: str | None, password: str | None = None, union_name: str = "",
             phone: str = "", village_ids: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    row = {"username": username, "display_name": display_name, "role": role,
           "commune_id": commune_id,
           "password_hash": generate_password_hash(password) if password else None,
           "union_name": union_name, "phone": phone, "active": 1, "created_at": now_iso()}
    user_id = db["users"].insert(row).last_pk
    for village_id in village_ids:
        db["user_villages"].insert({"user_id": user_id, "village_id": village_id})
    return {**row, "id": user_id}


def new_password() -> str:
    return secrets.token_urlsafe(12)


def create_enrollment_code(db: sqlite_utils.Database, user_id: int) -> str:
    code = new_enrollment_code()
    db["enrollment_codes"].insert({"code_hash": hash_secret(code), "user_id": user_id,
                                   "created_at": now_iso(), "expires_at": expiry(),
                                   "used_at": None, "device_id": None})
    return code


def redeem_enrollment_code(db: sqlite_utils.Database, code: str) -> tuple[dict[str, Any], str]:
    """Turn a one-time code into a new device; returns (device row, the token to hand over)."""
    row = db.execute("SELECT code_hash, user_id, expires_at, used_at FROM enrollment_codes"
                     " WHERE code_hash = ?", [hash_secret(normalise_code(code))]).fetchone()
    if row is None:
        raise EnrollmentRefused("unknown")
    code_hash, user_id, expires_at, used_at = row
    if used_at:
        raise EnrollmentRefused("used")
    if expires_at <= now_iso():
        raise EnrollmentRefused("expired")
    token = new_device_token()
    device = {"id": str(uuid.uuid4()), "user_id": user_id, "token_hash": hash_secret(token),
              "created_at": now_iso(), "last_seen_at": None, "revoked_at": None}
    db["devices"].insert(device)
    # The WHERE makes a race between two phones with one code end with exactly one winner.
    used = db.execute("UPDATE enrollment_codes SET used_at = ?, device_id = ?"
                      " WHERE code_hash = ? AND used_at IS NULL",
                      [now_iso(), device["id"], code_hash]).rowcount
    if used != 1:
        raise EnrollmentRefused("used")
    return device, token


def device_for_token(db: sqlite_utils.Database, token: str) -> dict[str, Any] | None:
    """The active device and its volunteer for a Bearer token, or None."""
    row = db.execute(
        "SELECT d.id, d.user_id, u.commune_id, u.username, u.display_name"
        " FROM devices d JOIN users u ON u.id = d.user_id"
        " WHERE d.token_hash = ? AND d.revoked_at IS NULL AND u.active = 1",
        [hash_secret(token)]).fetchone()
    if row is None:
        return None
    device = dict(zip(("id", "user_id", "commune_id", "username", "display_name"), row,
                      strict=True))
    device["village_ids"] = user_village_ids(db, device["user_id"])
    return device


def user_village_ids(db: sqlite_utils.Database, user_id: int) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT village_id FROM user_villages WHERE user_id = ? ORDER BY village_id", [user_id])]


def villages_of(db: sqlite_utils.Database, village_ids: list[str]) -> list[dict[str, Any]]:
    if not village_ids:
        return []
    marks = ",".join("?" * len(village_ids))
    return [dict(zip(("id", "name"), r, strict=True)) for r in db.execute(
        f"SELECT id, name FROM villages WHERE id IN ({marks}) ORDER BY name", village_ids)]
