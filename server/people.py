"""Communes, villages, households, users and phones: the plain functions behind CLI and routes.

Writers expect to run inside the caller's write transaction, so that the change feed entry and
the row it describes commit together.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils
from werkzeug.security import generate_password_hash

from server.changes import record_change
from server.db import now_iso, write_transaction
from server.staff import defer_audit
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
             phone: str = "", village_ids: list[str] | tuple[str, ...] = (),
             province_code: str | None = None) -> dict[str, Any]:
    """A staff account or a volunteer. ``province_code`` with no commune: a province admin."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if commune_id is None and not (role == "admin" and province_code):
        raise ValueError("only a province admin has no commune")
    row = {"username": username, "display_name": display_name, "role": role,
           "commune_id": commune_id, "province_code": province_code,
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
    """Turn a one-time code into a new device; returns (device row, the token to hand over).

    The code's row keeps when it was used and by which device; a used or expired code is
    audited after the request (the caller's transaction rolls back on the refusal)."""
    row = db.execute("SELECT c.code_hash, c.user_id, c.expires_at, c.used_at, u.username"
                     " FROM enrollment_codes c JOIN users u ON u.id = c.user_id"
                     " WHERE c.code_hash = ?", [hash_secret(normalise_code(code))]).fetchone()
    if row is None:
        raise EnrollmentRefused("unknown")
    code_hash, user_id, expires_at, used_at, username = row
    reason = "used" if used_at else "expired" if expires_at <= now_iso() else None
    if reason:
        defer_audit("enroll_refused", user_id=user_id, username=username,
                    target=f"user:{username}", detail=reason)
        raise EnrollmentRefused(reason)
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
    token_hash = hash_secret(token)
    row = db.execute(
        "SELECT d.id, d.user_id, u.commune_id, u.username, u.display_name"
        " FROM devices d JOIN users u ON u.id = d.user_id"
        " WHERE d.token_hash = ? AND d.revoked_at IS NULL AND u.active = 1",
        [token_hash]).fetchone()
    if row is None:
        _note_refused_device(db, token_hash)
        return None
    device = dict(zip(("id", "user_id", "commune_id", "username", "display_name"), row,
                      strict=True))
    device["village_ids"] = user_village_ids(db, device["user_id"])
    _touch(db, device["id"])
    return device


def _touch(db: sqlite_utils.Database, device_id: str) -> None:
    """The admin's "last sync": any request the phone makes counts (a sync with nothing to
    push only pulls). Written at most once a minute per phone, to keep reads cheap."""
    now = datetime.now(UTC)
    stale = (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sql = ("UPDATE devices SET last_seen_at = ? WHERE id = ?"
           " AND (last_seen_at IS NULL OR last_seen_at < ?)")
    params = [now.strftime("%Y-%m-%dT%H:%M:%SZ"), device_id, stale]
    if db.conn.in_transaction:
        db.execute(sql, params)
    else:
        with write_transaction(db):
            db.execute(sql, params)


def _note_refused_device(db: sqlite_utils.Database, token_hash: str) -> None:
    """A revoked phone (or one of a deactivated volunteer) knocking: audited once in ten
    minutes per phone, so a phone retrying does not flood the log."""
    row = db.execute("SELECT d.id, d.user_id, u.username FROM devices d"
                     " JOIN users u ON u.id = d.user_id WHERE d.token_hash = ?",
                     [token_hash]).fetchone()
    if row is None:
        return
    target = f"device:{row[0]}"
    since = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not db.execute("SELECT 1 FROM audit_log WHERE username = ? AND action = 'device_refused'"
                      " AND at > ? AND target = ?", [row[2], since, target]).fetchone():
        defer_audit("device_refused", user_id=row[1], username=row[2], target=target)


def user_village_ids(db: sqlite_utils.Database, user_id: int) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT village_id FROM user_villages WHERE user_id = ? ORDER BY village_id", [user_id])]


def villages_of(db: sqlite_utils.Database, village_ids: list[str]) -> list[dict[str, Any]]:
    if not village_ids:
        return []
    marks = ",".join("?" * len(village_ids))
    return [dict(zip(("id", "name"), r, strict=True)) for r in db.execute(
        f"SELECT id, name FROM villages WHERE id IN ({marks}) ORDER BY name", village_ids)]


def set_password(db: sqlite_utils.Database, user_id: int, password: str,
                 must_change: bool = False) -> int:
    """A new password; every session of the user made before ends. Returns the new epoch."""
    db.execute("UPDATE users SET password_hash = ?, must_change_password = ?,"
               " session_epoch = session_epoch + 1 WHERE id = ?",
               [generate_password_hash(password), int(must_change), user_id])
    return int(db.execute("SELECT session_epoch FROM users WHERE id = ?",
                          [user_id]).fetchone()[0])


def revoke_device(db: sqlite_utils.Database, device_id: str) -> bool:
    """The phone's next request gets 401 ``bad_token``; False when it was revoked already."""
    return db.execute("UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                      [now_iso(), device_id]).rowcount == 1


def record_device_report(db: sqlite_utils.Database, device_id: str, unsynced: int,
                         app_version: str) -> None:
    db.execute("UPDATE devices SET reported_unsynced = ?, reported_at = ?, app_version = ?"
               " WHERE id = ?", [unsynced, now_iso(), app_version, device_id])


def set_villages(db: sqlite_utils.Database, user_id: int, village_ids: list[str]) -> list[str]:
    """Give a volunteer these villages; returns the newly given ones.

    The pull feed filters by today's villages but only moves forward, so a phone would never
    receive what a newly given village already holds: the village is put again for this
    volunteer alone (the caller sends its households the same way). A village taken away is
    deleted from the phone, with its households: they are no longer this volunteer's to see."""
    old = set(user_village_ids(db, user_id))
    new = set(village_ids)
    db.execute("DELETE FROM user_villages WHERE user_id = ?", [user_id])
    for village_id in sorted(new):
        db["user_villages"].insert({"user_id": user_id, "village_id": village_id})
    for village_id in sorted(new - old):
        village = db["villages"].get(village_id)
        record_change(db, "village", village_id,
                      {k: village[k] for k in ("id", "name", "active")},
                      commune_id=village["commune_id"], village_id=village_id, user_id=user_id)
    for village_id in sorted(old - new):
        commune_id = db["villages"].get(village_id)["commune_id"]
        for (household_id,) in db.execute("SELECT id FROM households WHERE village_id = ?",
                                          [village_id]).fetchall():
            record_change(db, "household", household_id, {"id": household_id},
                          commune_id=commune_id, user_id=user_id, op="delete")
        record_change(db, "village", village_id, {"id": village_id}, commune_id=commune_id,
                      user_id=user_id, op="delete")
    return sorted(new - old)


def volunteer_username(db: sqlite_utils.Database, display_name: str) -> str:
    """``tnv.`` and the name without diacritics (``Đỗ Thị Lan`` → ``tnv.dothilan``), numbered
    when taken: volunteers never type it, but staff read it in lists and the audit log."""
    plain = unicodedata.normalize("NFKD", display_name.replace("đ", "d").replace("Đ", "D"))
    slug = re.sub(r"[^a-z0-9]", "", plain.encode("ascii", "ignore").decode().lower())[:24]
    base = f"tnv.{slug or 'tnv'}"
    name, number = base, 1
    while db.execute("SELECT 1 FROM users WHERE username = ?", [name]).fetchone():
        number += 1
        name = f"{base}{number}"
    return name
