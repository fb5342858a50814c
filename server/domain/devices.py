from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from server.domain.accounts import (
    user_village_ids,
)
from server.domain.audit import audit
from server.domain.db import now_iso, write_transaction
from server.domain.register import (
    commune_village_ids,
    villages_of,
)
from server.domain.tokens import (
    expiry,
    hash_secret,
    new_device_token,
    new_enrollment_code,
    normalise_code,
)
from sync.protocol import (
    PROTOCOL_VERSION,
)


class EnrollmentRefused(Exception):
    """An enrollment code that is unknown, already used or expired (``reason`` says which)."""

    def __init__(self, reason: str, audit: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        # What to write to the audit log once the refused transaction has rolled back.
        self.audit = audit


# Refused enrollment codes (unknown, used or expired) from one address that lock it for the
# rest of the window, counted in the audit log as login_wait counts failed logins. A phone
# retyping a code a few times is far below it; guessing a 10-letter code is far above.
ENROLL_WINDOW = timedelta(minutes=15)


ENROLL_LIMIT_IP = 20


def enroll_wait(db: sqlite_utils.Database, ip: str, limit: int = ENROLL_LIMIT_IP) -> int:
    """Seconds until this address may try an enrollment code again (0: now). Every attempt
    while locked is refused, a right code too, or the lock would not stop a guesser."""
    now = datetime.now(UTC)
    start = (now - ENROLL_WINDOW).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = db.execute(
        "SELECT at FROM audit_log WHERE ip = ? AND action = 'enroll_refused'"
        " AND at > ? ORDER BY id DESC LIMIT ?",
        [ip, start, limit],
    ).fetchall()
    if len(rows) < limit:
        return 0
    # The lock lifts when the limit-th latest refusal leaves the window.
    oldest = datetime.strptime(rows[-1][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return max(1, math.ceil((oldest + ENROLL_WINDOW - now).total_seconds()))


def create_enrollment_code(db: sqlite_utils.Database, user_id: int) -> str:
    code = new_enrollment_code()
    db["enrollment_codes"].insert(
        {
            "code_hash": hash_secret(code),
            "user_id": user_id,
            "created_at": now_iso(),
            "expires_at": expiry(),
            "used_at": None,
            "device_id": None,
        }
    )
    return code


def redeem_enrollment_code(db: sqlite_utils.Database, code: str) -> tuple[dict[str, Any], str]:
    """Turn a one-time code into a new device; returns (device row, the token to hand over).

    The code's row keeps when it was used and by which device; a used or expired code is
    audited after the request (the caller's transaction rolls back on the refusal)."""
    row = db.execute(
        "SELECT c.code_hash, c.user_id, c.expires_at, c.used_at, u.username"
        " FROM enrollment_codes c JOIN users u ON u.id = c.user_id"
        " WHERE c.code_hash = ?",
        [hash_secret(normalise_code(code))],
    ).fetchone()
    if row is None:
        # Audited (the guessing limit counts these rows), never with the code: a mistyped one
        # is one letter away from a real code that may still be unused.
        raise EnrollmentRefused(
            "unknown", audit={"user_id": None, "username": "", "target": "", "detail": "unknown"}
        )
    user_id, username = row["user_id"], row["username"]
    reason = "used" if row["used_at"] else "expired" if row["expires_at"] <= now_iso() else None
    if reason:
        raise EnrollmentRefused(
            reason,
            audit={
                "user_id": user_id,
                "username": username,
                "target": f"user:{username}",
                "detail": reason,
            },
        )
    token = new_device_token()
    device = {
        "id": str(uuid.uuid4()),
        "user_id": user_id,
        "token_hash": hash_secret(token),
        "created_at": now_iso(),
        "last_seen_at": None,
        "revoked_at": None,
    }
    db["devices"].insert(device)
    # The WHERE makes a race between two phones with one code end with exactly one winner.
    used = db.execute(
        "UPDATE enrollment_codes SET used_at = ?, device_id = ?"
        " WHERE code_hash = ? AND used_at IS NULL",
        [now_iso(), device["id"], row["code_hash"]],
    ).rowcount
    if used != 1:
        raise EnrollmentRefused("used")
    return device, token


def device_for_token(
    db: sqlite_utils.Database, token: str, *, touch: bool = True
) -> dict[str, Any] | None:
    """The active device and its volunteer for a Bearer token, or None. ``touch``: note the
    phone's "last sync" now (a push notes it in its own transaction instead, so that a push
    writes the device's row once)."""
    token_hash = hash_secret(token)
    row = db.execute(
        "SELECT d.id, d.user_id, u.commune_id, u.username, u.display_name, d.client,"
        " d.last_seen_at FROM devices d JOIN users u ON u.id = d.user_id"
        " WHERE d.token_hash = ? AND d.revoked_at IS NULL AND u.active = 1",
        [token_hash],
    ).fetchone()
    if row is None:
        _note_refused_device(db, token_hash)
        return None
    device = dict(row)
    last_seen = device.pop("last_seen_at")
    device["village_ids"] = user_village_ids(db, device["user_id"])
    if touch:
        _touch(db, device["id"], last_seen)
    return device


def _touch(db: sqlite_utils.Database, device_id: str, last_seen: str | None) -> None:
    """The admin's "last sync": any request the phone makes counts (a sync with nothing to
    push only pulls). Written at most once a minute per phone, to keep reads cheap."""
    now = datetime.now(UTC)
    stale = (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if last_seen is not None and last_seen >= stale:
        # Noted within the minute: nothing to write, so no write transaction either (it would
        # queue a phone's every request, a Collect HEAD too, behind the writers of the hour).
        return
    sql = (
        "UPDATE devices SET last_seen_at = ? WHERE id = ?"
        " AND (last_seen_at IS NULL OR last_seen_at < ?)"
    )
    params = [now.strftime("%Y-%m-%dT%H:%M:%SZ"), device_id, stale]
    if db.conn.in_transaction:
        db.execute(sql, params)
    else:
        with write_transaction(db):
            db.execute(sql, params)


def _note_refused_device(db: sqlite_utils.Database, token_hash: str) -> None:
    """A revoked phone (or one of a deactivated volunteer) knocking: audited once in ten
    minutes per phone, so a phone retrying does not flood the log."""
    row = db.execute(
        "SELECT d.id, d.user_id, u.username FROM devices d"
        " JOIN users u ON u.id = d.user_id WHERE d.token_hash = ?",
        [token_hash],
    ).fetchone()
    if row is None:
        return
    target = f"device:{row['id']}"
    since = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not db.execute(
        "SELECT 1 FROM audit_log WHERE username = ? AND action = 'device_refused'"
        " AND at > ? AND target = ?",
        [row["username"], since, target],
    ).fetchone():
        with write_transaction(db):
            audit(
                db,
                "device_refused",
                user_id=row["user_id"],
                username=row["username"],
                target=target,
            )


def revoke_device(db: sqlite_utils.Database, device_id: str) -> bool:
    """The phone's next request gets 401 ``bad_token``; False when it was revoked already."""
    return (
        db.execute(
            "UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [now_iso(), device_id],
        ).rowcount
        == 1
    )


def add_collect_device(db: sqlite_utils.Database, user_id: int) -> tuple[str, str]:
    """An ODK Collect phone for a volunteer (inside the caller's transaction); returns
    (device id, token). No enrollment code: the admin's screen shows the token once, inside
    the settings QR code Collect scans, as ODK Central shows an app user's."""
    token = new_device_token()
    device_id = str(uuid.uuid4())
    db["devices"].insert(
        {
            "id": device_id,
            "user_id": user_id,
            "token_hash": hash_secret(token),
            "created_at": now_iso(),
            "last_seen_at": None,
            "revoked_at": None,
            "client": "collect",
        }
    )
    return device_id, token


def record_device_report(
    db: sqlite_utils.Database,
    device_id: str,
    unsynced: int,
    app_version: str,
    forms: list[str] | None = None,
) -> None:
    """What a phone says of itself after a sync; ``forms`` (``form_id@version`` it holds) is
    kept as said, and left as it was when a collector from before it says nothing of it."""
    db.execute(
        "UPDATE devices SET reported_unsynced = ?, reported_at = ?, app_version = ?,"
        " reported_forms = coalesce(?, reported_forms) WHERE id = ?",
        [
            unsynced,
            now_iso(),
            app_version,
            None if forms is None else json.dumps(sorted(set(forms)), ensure_ascii=False),
            device_id,
        ],
    )


def peer_for_token(db: sqlite_utils.Database, token: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT id, commune_id, label FROM peers WHERE token_hash = ? AND revoked_at IS NULL",
        [hash_secret(token)],
    ).fetchone()
    if row is None:
        return None
    return {
        "kind": "peer",
        "id": None,
        "peer_id": row["id"],
        "user_id": None,
        "commune_id": row["commune_id"],
        "username": row["label"],
        "display_name": row["label"],
        "village_ids": commune_village_ids(db, row["commune_id"]),
    }


def peer_token_revoked(db: sqlite_utils.Database, token: str) -> bool:
    """Whether ``token`` is a commune server's the province revoked: that server is told so in
    its own words, not the phone's."""
    row = db.execute(
        "SELECT 1 FROM peers WHERE token_hash = ? AND revoked_at IS NOT NULL", [hash_secret(token)]
    ).fetchone()
    return row is not None


def issue_peer_token(
    db: sqlite_utils.Database, commune_id: str, label: str = ""
) -> tuple[str, str]:
    """A token for the server of one commune to push its records here (inside the caller's
    transaction); returns (peer id, token). The token is shown once and stored hashed."""
    token = new_device_token()
    peer_id = str(uuid.uuid4())
    db.execute(
        "INSERT INTO peers (id, commune_id, label, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        [peer_id, commune_id, label, hash_secret(token), now_iso()],
    )
    return peer_id, token


def revoke_peer(db: sqlite_utils.Database, peer_id: str) -> bool:
    return (
        db.execute(
            "UPDATE peers SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [now_iso(), peer_id],
        ).rowcount
        == 1
    )


def new_code(db: sqlite_utils.Database, user_id: int) -> str:
    return create_enrollment_code(db, user_id)


def code_state(db: sqlite_utils.Database, user_id: int, code: str) -> dict[str, Any] | None:
    """A code of this volunteer: its expiry and whether it is ``valid``, ``used`` or
    ``expired``; None when it is no code of theirs."""
    row = db.execute(
        "SELECT expires_at, used_at FROM enrollment_codes WHERE code_hash = ? AND user_id = ?",
        [hash_secret(normalise_code(code)), user_id],
    ).fetchone()
    if row is None:
        return None
    state = "used" if row["used_at"] else "expired" if row["expires_at"] <= now_iso() else "valid"
    return {**dict(row), "state": state}


def devices(
    db: sqlite_utils.Database, commune_id: str, user_id: int | None = None
) -> list[dict[str, Any]]:
    where, params = "u.commune_id = ?", [commune_id]
    if user_id is not None:
        where += " AND u.id = ?"
        params.append(user_id)
    return [
        dict(r)
        for r in db.execute(
            "SELECT d.id, u.id AS user_id, u.username, u.display_name, d.created_at,"
            " d.last_seen_at, d.revoked_at, d.reported_unsynced, d.reported_at, d.app_version,"
            " d.client"
            " FROM devices d"
            f" JOIN users u ON u.id = d.user_id WHERE {where}"
            " ORDER BY d.revoked_at IS NOT NULL, u.display_name, d.created_at",
            params,
        )
    ]


def device_in_scope(
    db: sqlite_utils.Database, commune_id: str, device_id: str
) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT d.id, u.id AS user_id, u.username FROM devices d JOIN users u"
        " ON u.id = d.user_id WHERE d.id = ? AND u.commune_id = ?",
        [device_id, commune_id],
    ).fetchone()
    return dict(row) if row else None


def enroll(db: sqlite_utils.Database, code: str) -> dict[str, Any]:
    """Redeem a code; raises EnrollmentRefused. The token is shown once, stored only hashed."""
    with write_transaction(db):
        device, token = redeem_enrollment_code(db, code)
        user = db.execute(
            "SELECT id, username, display_name, commune_id FROM users WHERE id = ?",
            [device["user_id"]],
        ).fetchone()
        commune = db.execute(
            "SELECT id, name, province_name FROM communes WHERE id = ?", [user["commune_id"]]
        ).fetchone()
        village_ids = [
            r[0]
            for r in db.execute(
                "SELECT village_id FROM user_villages WHERE user_id = ?", [user["id"]]
            )
        ]
    return {
        "protocol": PROTOCOL_VERSION,
        "device_id": device["id"],
        "token": token,
        "user": {k: user[k] for k in ("id", "username", "display_name")},
        "commune": dict(commune),
        "villages": villages_of(db, village_ids),
    }


def enrollment_url(base: str, code: str) -> str:
    return f"{base}/app/#enroll={code}"


def list_peers(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """(Province) The commune servers that may push here, with their checkpoints."""
    keys = ("id", "commune_id", "label", "last_seen_at", "revoked_at", "checkpoint")
    return [
        dict(zip(keys, row, strict=True))
        for row in db.execute(
            "SELECT p.id, p.commune_id, p.label, p.last_seen_at, p.revoked_at,"
            " coalesce((SELECT max(checkpoint) FROM peer_checkpoints c WHERE c.peer_id = p.id), 0)"
            " FROM peers p ORDER BY p.commune_id, p.created_at"
        )
    ]
