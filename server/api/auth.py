"""Who is calling the sync API: a phone (a device token) or a commune server (a peer token).

Both are Bearer tokens stored only as hashes. A caller is a plain dict the service functions
read: ``kind``, ``id`` (the device, None for a peer), ``user_id``, ``commune_id`` and
``village_ids`` (the villages whose records it may push).
"""

from __future__ import annotations

import uuid
from functools import wraps
from typing import Any

import sqlite_utils
from flask import g, request

from server.db import get_db, now_iso
from server.errors import ApiError
from server.people import device_for_token
from server.tokens import hash_secret, new_device_token


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise ApiError(401, "no_token")
    return header[7:].strip()


def peer_for_token(db: sqlite_utils.Database, token: str) -> dict[str, Any] | None:
    row = db.execute("SELECT id, commune_id, label FROM peers WHERE token_hash = ?"
                     " AND revoked_at IS NULL", [hash_secret(token)]).fetchone()
    if row is None:
        return None
    return {"kind": "peer", "id": None, "peer_id": row[0], "user_id": None,
            "commune_id": row[1], "username": row[2], "display_name": row[2],
            "village_ids": commune_village_ids(db, row[1])}


def commune_village_ids(db: sqlite_utils.Database, commune_id: str) -> set[str]:
    return {r[0] for r in db.execute("SELECT id FROM villages WHERE commune_id = ?",
                                     [commune_id])}


def caller_required(view: Any) -> Any:
    """Bearer token of a phone or of a server peer → ``g.caller``; 401 otherwise."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = bearer_token()
        db = get_db()
        device = device_for_token(db, token)
        if device is not None:
            device["kind"] = "device"
            g.caller = g.device = device
        else:
            peer = peer_for_token(db, token)
            if peer is None:
                raise ApiError(401, "bad_token")
            g.caller = peer
        return view(*args, **kwargs)

    return wrapper


def issue_peer_token(db: sqlite_utils.Database, commune_id: str,
                     label: str = "") -> tuple[str, str]:
    """A token for the server of one commune to push its records here (inside the caller's
    transaction); returns (peer id, token). The token is shown once and stored hashed."""
    token = new_device_token()
    peer_id = str(uuid.uuid4())
    db.execute("INSERT INTO peers (id, commune_id, label, token_hash, created_at)"
               " VALUES (?, ?, ?, ?, ?)", [peer_id, commune_id, label, hash_secret(token),
                                            now_iso()])
    return peer_id, token


def revoke_peer(db: sqlite_utils.Database, peer_id: str) -> bool:
    return db.execute("UPDATE peers SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                      [now_iso(), peer_id]).rowcount == 1
