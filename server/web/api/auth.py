"""Who is calling the sync API: a phone (a device token) or a commune server (a peer token).

Both are Bearer tokens stored only as hashes. A caller is a plain dict the service functions
read: ``kind``, ``id`` (the device, None for a peer), ``user_id``, ``commune_id`` and
``village_ids`` (the villages whose records it may push).
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import g, request

from server.domain.devices import device_for_token, peer_for_token, peer_token_revoked
from server.web.db import get_db
from server.web.errors import ApiError


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise ApiError(401, "no_token")
    return header[7:].strip()


def caller_required(view: Any = None, *, touch: bool = True) -> Any:
    """Bearer token of a phone or of a server peer → ``g.caller``; 401 otherwise. ``touch``:
    note the phone's last sync now (a push does it inside its own transaction)."""
    if view is None:
        return lambda inner: caller_required(inner, touch=touch)

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = bearer_token()
        db = get_db()
        device = device_for_token(db, token, touch=touch)
        if device is not None:
            device["kind"] = "device"
            g.caller = g.device = device
        else:
            peer = peer_for_token(db, token)
            if peer is None:
                # A revoked commune server is no phone: its admin needs another remedy.
                raise ApiError(
                    401, "peer_revoked" if peer_token_revoked(db, token) else "bad_token"
                )
            g.caller = peer
        return view(*args, **kwargs)

    return wrapper
